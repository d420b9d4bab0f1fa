import assert from "node:assert/strict";
import { quietLibraryLogs } from "./library_logs.ts";

/** Replace console.debug and console.warn with recorders while `fn` runs. */
function withRecordedConsole(fn: (printed: string[]) => void): void {
  const { debug, warn } = console;
  const printed: string[] = [];
  console.debug = (first: string) => printed.push(`debug: ${first}`);
  console.warn = (first: string) => printed.push(`warn: ${first}`);
  try {
    fn(printed);
  } finally {
    console.debug = debug;
    console.warn = warn;
  }
}

Deno.test("quietLibraryLogs drops exactly the library's chatter", () => {
  withRecordedConsole((printed) => {
    const release = quietLibraryLogs();
    console.debug("Starting WebSocket: ws://127.0.0.1:8888/api/kernels/abc/channels");
    console.debug("Kernel: idle (0f3c2a4e-9b1d-4c55-8e1a-5d6f7a8b9c0d)");
    console.warn("Connection lost, reconnecting in 1 seconds.");
    console.debug("Kernel: idle, but not the library's words");
    console.warn("a warning of the application");
    console.debug({ "Starting WebSocket: ": "not a string" });
    release();
    assert.deepEqual(printed, [
      "debug: Kernel: idle, but not the library's words",
      "warn: a warning of the application",
      "debug: [object Object]",
    ]);
  });
});

Deno.test("quietLibraryLogs is installed by the first holder and removed by the last", () => {
  withRecordedConsole(() => {
    const { debug, warn } = console;
    const first = quietLibraryLogs();
    assert.notEqual(console.debug, debug, "installed");
    const second = quietLibraryLogs();
    first();
    first(); // twice: still counts once
    assert.notEqual(console.debug, debug, "the second holder still holds it");
    assert.notEqual(console.warn, warn);
    second();
    assert.equal(console.debug, debug, "removed with the last holder");
    assert.equal(console.warn, warn);
  });
});

Deno.test("quietLibraryLogs wrapped by someone else is switched off, not torn out", () => {
  withRecordedConsole((printed) => {
    const release = quietLibraryLogs();
    const ours = console.debug;
    const theirs = (...args: unknown[]) => ours(...args);
    console.debug = theirs;
    release();
    assert.equal(console.debug, theirs, "their wrapper stays");
    console.debug("Starting WebSocket: ws://127.0.0.1:1/");
    assert.deepEqual(printed, ["debug: Starting WebSocket: ws://127.0.0.1:1/"]);
  });
});

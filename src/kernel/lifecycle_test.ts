import assert from "node:assert/strict";
import { libraryStatus, type Lifecycle, Revival, statusOnEntry } from "./lifecycle.ts";

Deno.test("a revival does its first step once, then has nothing pending", () => {
  const revival = new Revival("restart");
  assert.equal(revival.pending, true);
  assert.equal(revival.take(), "restart");
  assert.equal(revival.pending, false);
  assert.equal(revival.take(), undefined);
});

Deno.test("a step asked during a revival makes it go round again; a restart outranks a setup", () => {
  const cases: Array<[first: "setup" | "restart", second: "setup" | "restart", next: string]> = [
    ["setup", "setup", "setup"],
    ["setup", "restart", "restart"],
    ["restart", "setup", "restart"],
    ["restart", "restart", "restart"],
  ];
  for (const [first, second, next] of cases) {
    const revival = new Revival("setup");
    revival.take();
    revival.ask(first);
    revival.ask(second);
    assert.equal(revival.take(), next, `${first} then ${second}`);
    assert.equal(revival.pending, false);
  }
});

Deno.test("a revival's outcome settles as the promise it is given", async () => {
  const succeeded = new Revival("setup");
  succeeded.settle(Promise.resolve());
  await succeeded.done;
  const failed = new Revival("setup");
  failed.settle(Promise.reject(new Error("startup code raised")));
  await assert.rejects(failed.done, /startup code raised/);
});

Deno.test("a failed revival nobody waits for is no unhandled rejection", async () => {
  new Revival("setup").settle(Promise.reject(new Error("nobody waits")));
  // An unhandled rejection would fail this test once the event loop turns.
  await new Promise((resolve) => setTimeout(resolve, 0));
});

Deno.test("each state shows its status on entry", () => {
  const states: Array<[Lifecycle, string]> = [
    [{ kind: "starting", revival: new Revival("setup") }, "starting"],
    [{ kind: "ready" }, "idle"],
    [{ kind: "reviving", revival: new Revival("restart") }, "restarting"],
    [{ kind: "broken" }, "unknown"],
    [{ kind: "closed", error: new Error("shut down") }, "dead"],
  ];
  for (const [state, status] of states) assert.equal(statusOnEntry(state), status, state.kind);
});

Deno.test("the library's statuses map onto the kernel's", () => {
  assert.deepEqual(
    ([
      "idle",
      "busy",
      "starting",
      "unknown",
      "dead",
      "restarting",
      "autorestarting",
      "terminating",
    ] as const)
      .map(libraryStatus),
    ["idle", "busy", "starting", "unknown", "dead", "restarting", "restarting", "unknown"],
  );
});

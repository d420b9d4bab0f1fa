/**
 * `@jupyterlab/services` narrates its kernel connections on the console
 * ("Starting WebSocket: …", "Kernel: idle (…)" with `console.debug`, and
 * "Connection lost, reconnecting…" with `console.warn` on every restart). A
 * browser hides `console.debug` by default; Deno prints it, so every Zest
 * user would see the chatter. This drops exactly those messages, and only
 * while someone holds the filter (a `JupyterServer` does, from its creation
 * until its `stop()`): the rest of the time `console` is left as it was.
 * The kernel layer reports what matters (deaths, restarts) through its own
 * errors and status events.
 *
 * @module
 */

const LIBRARY_CHATTER = [
  /^Starting WebSocket: /,
  /^Kernel: [a-z]+ \([0-9a-f-]+\)$/,
  /^Connection lost, reconnecting in \d+ seconds\.$/,
];

const LEVELS = ["debug", "warn"] as const;

/** How many holders want the filter; it is installed while this is above 0. */
let holders = 0;
let uninstall: (() => void) | undefined;

/**
 * Drop the library's chatter from `console.debug` and `console.warn` until
 * the returned function is called. Holders are counted: the filter is
 * installed by the first and removed when the last one lets go (a second
 * call of the same release function does nothing).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { quietLibraryLogs } from "./library_logs.ts";
 * const printed: unknown[] = [];
 * const original = console.debug;
 * console.debug = (...args: unknown[]) => printed.push(args[0]);
 * const release = quietLibraryLogs();
 * console.debug("Starting WebSocket: ws://127.0.0.1:1/"); // dropped
 * console.debug("anything else"); // printed
 * release();
 * console.debug("Starting WebSocket: ws://127.0.0.1:1/"); // printed: nobody holds the filter
 * assert.deepEqual(printed, ["anything else", "Starting WebSocket: ws://127.0.0.1:1/"]);
 * console.debug = original;
 * ```
 */
export function quietLibraryLogs(): () => void {
  if (holders++ === 0) uninstall = installFilter();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    if (--holders === 0) {
      uninstall?.();
      uninstall = undefined;
    }
  };
}

/**
 * Wrap `console.debug` and `console.warn`; returns what undoes it. A wrapper
 * that someone else wrapped in turn cannot be taken out of their chain: it
 * is switched off instead, and passes everything on.
 */
function installFilter(): () => void {
  let active = true;
  const restores = LEVELS.map((level) => {
    const original = console[level];
    const filtered = (...args: unknown[]) => {
      const [first] = args;
      if (active && typeof first === "string" && LIBRARY_CHATTER.some((p) => p.test(first))) {
        return;
      }
      original.apply(console, args);
    };
    console[level] = filtered;
    return () => {
      if (console[level] === filtered) console[level] = original;
    };
  });
  return () => {
    active = false;
    for (const restore of restores) restore();
  };
}

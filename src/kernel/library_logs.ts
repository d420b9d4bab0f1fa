/**
 * `@jupyterlab/services` narrates its kernel connections on the console
 * ("Starting WebSocket: …", "Kernel: idle (…)" with `console.debug`, and
 * "Connection lost, reconnecting…" with `console.warn` on every restart). A
 * browser hides `console.debug` by default; Deno prints it, so every Zest
 * user would see the chatter. This drops exactly those messages; the kernel
 * layer reports what matters (deaths, restarts) through its own errors and
 * status events.
 */

const LIBRARY_CHATTER = [
  /^Starting WebSocket: /,
  /^Kernel: [a-z]+ \([0-9a-f-]+\)$/,
  /^Connection lost, reconnecting in \d+ seconds\.$/,
];

let installed = false;

/**
 * Install the filter (once per process).
 *
 * @example
 * ```ts
 * import { quietLibraryLogs } from "./library_logs.ts";
 * quietLibraryLogs();
 * console.debug("Starting WebSocket: ws://127.0.0.1:1/"); // dropped
 * console.debug("anything else"); // printed
 * ```
 */
export function quietLibraryLogs(): void {
  if (installed) return;
  installed = true;
  for (const level of ["debug", "warn"] as const) {
    const original = console[level];
    console[level] = (...args: unknown[]) => {
      const [first] = args;
      if (typeof first === "string" && LIBRARY_CHATTER.some((pattern) => pattern.test(first))) {
        return;
      }
      original.apply(console, args);
    };
  }
}

/** Removing terminal colour codes from kernel text (IPython colours tracebacks). */

/**
 * CSI sequences (colours, cursor moves), OSC sequences (titles, links) and
 * the remaining two-byte escapes.
 */
const ANSI_ESCAPE =
  // deno-lint-ignore no-control-regex
  /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/**
 * Remove ANSI escape sequences from `text`.
 *
 * Done even when kernels run with `--InteractiveShell.colors=NoColor`:
 * kernelspecs written by others (and some libraries) still emit colours.
 *
 * @example
 * ```ts
 * import { stripAnsi } from "./ansi.ts";
 * stripAnsi("\x1b[0;31mZeroDivisionError\x1b[0m"); // "ZeroDivisionError"
 * ```
 */
export function stripAnsi(text: string): string {
  return text.replace(ANSI_ESCAPE, "");
}

/**
 * Waiting in tests for what has no event to wait on: poll a condition until
 * it holds. The deadline is generous on purpose — it catches a hung test, it
 * never asserts a timing (the machines are noisy).
 *
 * @module
 */

/**
 * Poll `check` every 20 ms until it gives a value other than `undefined` or
 * `false`, and return that value; fail after `deadlineMs` (default 30 s),
 * naming `what`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { eventually } from "./poll.ts";
 * const startedAt = Date.now();
 * const late = await eventually("10 ms have passed", () => Promise.resolve(Date.now() - startedAt >= 10 && "late"));
 * assert.equal(late, "late");
 * ```
 */
export async function eventually<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  deadlineMs = 30_000,
): Promise<T> {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) {
      throw new Error(`still waiting until ${what} after ${deadlineMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * Poll `condition` until it holds: {@linkcode eventually} for a yes or no.
 *
 * @example
 * ```ts
 * import { until } from "./poll.ts";
 * let done = false;
 * setTimeout(() => done = true, 10);
 * await until(() => done, "the timer fired");
 * ```
 */
export async function until(
  condition: () => boolean | Promise<boolean>,
  what: string,
  deadlineMs = 30_000,
): Promise<void> {
  await eventually(what, condition, deadlineMs);
}

/**
 * Waiting in tests for what has no event to wait on: poll a condition until
 * it holds. The deadline is generous on purpose — it catches a hung test, it
 * never asserts a timing (the machines are noisy).
 *
 * @module
 */

/**
 * Poll `condition` every 20 ms until it holds; fail after `deadlineMs`
 * (default 30 s), naming `what`.
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
  const deadline = performance.now() + deadlineMs;
  while (!(await condition())) {
    if (performance.now() > deadline) {
      throw new Error(`still waiting until ${what} after ${deadlineMs / 1000} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A cancellable pause that never rejects. */

/**
 * Resolve `true` after `ms`, or `false` as soon as `signal` aborts (the
 * timer is then cleared, so nothing is left pending).
 *
 * Never rejects: the callers race it against other outcomes, and an
 * abandoned rejection would be fatal in Deno.
 *
 * @example
 * ```ts
 * import { delay } from "./delay.ts";
 * const done = new AbortController();
 * const elapsed = delay(1_000, done.signal);
 * done.abort();
 * await elapsed; // false
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

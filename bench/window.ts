/**
 * The round-trip measurement the peer benches share, the same loop
 * `bench/tasks.ts` times Zest with: `n` calls, `inFlight` of them
 * outstanding at any moment (each one that settles starts the next), so
 * `inFlight: 1` is the sequential round trip.
 *
 * @module
 */
import { perSecond } from "./common.ts";

/**
 * Calls per second of `n` calls of `call`, with `inFlight` outstanding at
 * any moment (a sliding window; 1 = each awaited before the next).
 *
 * @example
 * ```ts
 * import { windowed } from "./window.ts";
 * const sequential = await windowed(1_000, 1, () => Promise.resolve());
 * const parallel = await windowed(10_000, 100, () => Promise.resolve());
 * ```
 */
export async function windowed(
  n: number,
  inFlight: number,
  call: () => Promise<unknown>,
): Promise<number> {
  let issued = 0;
  const lane = async () => {
    while (issued < n) {
      issued++;
      await call();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(inFlight, n)) }, lane));
  return perSecond(n, performance.now() - t0);
}

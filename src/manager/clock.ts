/**
 * Time as the scheduler sees it: the current time and one-shot timers,
 * behind an interface so tests drive it by hand (no sleeps) and the runtime
 * uses the system's.
 *
 * @module
 */

/**
 * A source of time and one-shot timers.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Clock, ManualClock, systemClock } from "./clock.ts";
 * const inAMinute = (clock: Clock, run: () => void) => clock.setTimer(run, 60_000);
 * const clock = new ManualClock(0);
 * let ran = false;
 * inAMinute(clock, () => ran = true);
 * clock.advance(60_000);
 * assert.equal(ran, true);
 * systemClock.clearTimer(inAMinute(systemClock, () => assert.fail("cleared")));
 * ```
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Call `callback` once, `delayMs` from now; returns what `clearTimer` takes. */
  setTimer(callback: () => void, delayMs: number): unknown;
  /** Cancel a timer `setTimer` returned (a timer that has fired or was cleared: nothing). */
  clearTimer(timer: unknown): void;
}

/**
 * The system clock: `Date.now` and `setTimeout`. Its timers keep the process
 * alive like any `setTimeout`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { systemClock } from "./clock.ts";
 * const fired = Promise.withResolvers<void>();
 * systemClock.setTimer(fired.resolve, 1);
 * await fired.promise;
 * assert.ok(Math.abs(systemClock.now() - Date.now()) < 1_000);
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: () => Date.now(),
  setTimer: (callback: () => void, delayMs: number) => setTimeout(callback, delayMs),
  clearTimer: (timer: unknown) => clearTimeout(timer as number),
});

interface ManualTimer {
  dueAt: number;
  order: number;
  callback: () => void;
}

/**
 * A clock that moves only when told: `advance(ms)` fires, in time order,
 * each timer that falls due on the way, with `now()` at that timer's due
 * time while it runs (timers it sets fire in the same `advance` if they fall
 * due before its end). For deterministic tests of timed logic.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock(1_000);
 * const seen: number[] = [];
 * clock.setTimer(() => seen.push(clock.now()), 50);
 * clock.setTimer(() => seen.push(clock.now()), 20);
 * clock.advance(100);
 * assert.deepEqual(seen, [1_020, 1_050]);
 * assert.equal(clock.now(), 1_100);
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: ManualTimer[] = [];
  #order = 0;

  /** Start at `start` ms since the epoch. */
  constructor(start = 0) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): unknown {
    const timer = { dueAt: this.#now + Math.max(0, delayMs), order: this.#order++, callback };
    this.#timers.push(timer);
    return timer;
  }

  clearTimer(timer: unknown): void {
    const index = this.#timers.indexOf(timer as ManualTimer);
    if (index >= 0) this.#timers.splice(index, 1);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.length;
  }

  /** Move time forward by `ms`, firing the timers that fall due. */
  advance(ms: number): void {
    this.advanceTo(this.#now + ms);
  }

  /** Move time forward to `time` (never back), firing the timers that fall due. */
  advanceTo(time: number): void {
    for (let next = this.#earliest(); next && next.dueAt <= time; next = this.#earliest()) {
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.dueAt);
      next.callback();
    }
    this.#now = Math.max(this.#now, time);
  }

  #earliest(): ManualTimer | undefined {
    let earliest: ManualTimer | undefined;
    for (const timer of this.#timers) {
      if (
        !earliest || timer.dueAt < earliest.dueAt ||
        (timer.dueAt === earliest.dueAt && timer.order < earliest.order)
      ) earliest = timer;
    }
    return earliest;
  }
}

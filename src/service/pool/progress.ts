/**
 * `context.progress` for every handler, in-process or in a worker: the
 * fraction checked, and reports sent at most every 100 ms with the latest
 * value winning, so a loop that reports on every round costs the runtime a
 * message per interval, not one per round.
 *
 * A worker process loads this module (it may read only the pool's folder):
 * it imports nothing but types.
 *
 * @module
 */
import type { TaskProgress } from "../../task/record.ts";

/**
 * At most one progress report per task this often (ms); the latest value wins.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROGRESS_INTERVAL_MS } from "./progress.ts";
 * assert.equal(PROGRESS_INTERVAL_MS, 100);
 * ```
 */
export const PROGRESS_INTERVAL_MS = 100;

/**
 * The progress reports of one task: `report` checks and keeps the latest,
 * sending it once `PROGRESS_INTERVAL_MS` have passed since the last one (at
 * once if they have; else when a timer fires, or at the next `report` of a
 * handler that never yields). `flush` sends what is kept now (before a log
 * line, so the two arrive in the order they were written); `close` sends
 * it and drops every later report (the handler has returned).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ProgressGate } from "./progress.ts";
 * const sent: number[] = [];
 * const gate = new ProgressGate(({ fraction }) => sent.push(fraction));
 * gate.report(0.1); // sent at once: the first
 * gate.report(0.2); // kept back if within 100 ms of the last…
 * gate.report(0.3, "fitting"); // …and then replaced
 * gate.close(); // sends what is kept
 * assert.equal(sent[0], 0.1);
 * assert.equal(sent.at(-1), 0.3); // the latest wins
 * gate.report(0.9); // after close: dropped
 * assert.equal(sent.at(-1), 0.3);
 * assert.throws(() => gate.report(1.5), RangeError);
 * ```
 */
export class ProgressGate {
  readonly #send: (progress: TaskProgress) => void;
  #pending: TaskProgress | undefined;
  #sentAt = -Infinity;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #closed = false;

  /** Reports go to `send`. */
  constructor(send: (progress: TaskProgress) => void) {
    this.#send = send;
  }

  /**
   * Say how far the task is: `fraction` from 0 to 1 (else a `RangeError`),
   * and a message (the task's record keeps its first 1 000 characters).
   */
  report(fraction: number, message?: string): void {
    if (typeof fraction !== "number" || !(fraction >= 0 && fraction <= 1)) {
      throw new RangeError(`progress fraction must be a number from 0 to 1, got ${fraction}`);
    }
    if (this.#closed) return;
    this.#pending = {
      at: Date.now(),
      fraction,
      ...(message === undefined ? {} : { message: String(message) }),
    };
    const wait = this.#sentAt + PROGRESS_INTERVAL_MS - performance.now();
    if (wait <= 0) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), wait);
  }

  /** Send the kept report, if any, now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const progress = this.#pending;
    if (!progress) return;
    this.#pending = undefined;
    this.#sentAt = performance.now();
    this.#send(progress);
  }

  /** Send the kept report, if any; later reports are dropped. */
  close(): void {
    this.flush();
    this.#closed = true;
  }
}

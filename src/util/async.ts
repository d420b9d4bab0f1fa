/**
 * Small async helpers used across the layers, so that no module writes its
 * own timer race or abort-listener bookkeeping: a pause that can be cut
 * short, a listener on an `AbortSignal` that is easy to remove, a promise
 * that gives up when a signal aborts, and a queue that runs jobs one at a
 * time.
 *
 * @module
 */

const NOTHING_TO_REMOVE = () => {};

/**
 * Call `listener` with the signal's reason once `signal` aborts; returns the
 * function that removes it (calling that twice is harmless). With no signal
 * there is nothing to listen to. If `signal` has already aborted, `listener`
 * is called in a microtask (unless removed first), never during this call:
 * callers may set up the state the listener needs after registering it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onAbort } from "./async.ts";
 * const controller = new AbortController();
 * const reasons: unknown[] = [];
 * const stop = onAbort(controller.signal, (reason) => reasons.push(reason));
 * controller.abort("enough");
 * controller.abort("again"); // a signal aborts once
 * assert.deepEqual(reasons, ["enough"]);
 * stop(); // nothing left to remove, still fine
 *
 * // Already aborted: called in a microtask, unless removed first.
 * const late: unknown[] = [];
 * const removed = onAbort(AbortSignal.abort("late"), (reason) => late.push(reason));
 * onAbort(AbortSignal.abort("kept"), (reason) => late.push(reason));
 * removed();
 * assert.deepEqual(late, []);
 * await Promise.resolve();
 * assert.deepEqual(late, ["kept"]);
 * ```
 */
export function onAbort(
  signal: AbortSignal | undefined,
  listener: (reason: unknown) => void,
): () => void {
  if (!signal) return NOTHING_TO_REMOVE;
  if (signal.aborted) {
    let removed = false;
    queueMicrotask(() => {
      if (!removed) listener(signal.reason);
    });
    return () => removed = true;
  }
  const handle = () => listener(signal.reason);
  signal.addEventListener("abort", handle, { once: true });
  return () => signal.removeEventListener("abort", handle);
}

/**
 * Resolve `true` after `ms`, or `false` as soon as `signal` aborts (the
 * timer is then cleared, so nothing is left pending).
 *
 * Never rejects: callers race it against other outcomes, and an abandoned
 * rejection would be fatal in Deno.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { delay } from "./async.ts";
 * assert.equal(await delay(1), true);
 * const done = new AbortController();
 * const elapsed = delay(60_000, done.signal);
 * done.abort();
 * assert.equal(await elapsed, false); // at once: the timer was cleared
 * ```
 */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    let stopListening = NOTHING_TO_REMOVE;
    const timer = setTimeout(() => {
      stopListening();
      resolve(true);
    }, ms);
    stopListening = onAbort(signal, () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/**
 * Resolves once every promise of `pending` (a set others may still add to
 * and remove from: those in it now count) has settled, or after `ms`,
 * whichever comes first; the timer is then cleared. Never rejects.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { untilSettled } from "./async.ts";
 * const writes = new Set([Promise.resolve(), Promise.reject(new Error("lost"))]);
 * await untilSettled(writes, 10_000); // at once: both have settled
 * await untilSettled(new Set([new Promise<void>(() => {})]), 1); // after 1 ms
 * assert.equal(writes.size, 2);
 * ```
 */
export async function untilSettled(pending: Set<Promise<unknown>>, ms: number): Promise<void> {
  if (pending.size === 0) return;
  const settled = new AbortController();
  await Promise.race([Promise.allSettled([...pending]), delay(ms, settled.signal)]);
  settled.abort();
}

/**
 * `promise`, or a rejection with the signal's reason as soon as `signal`
 * aborts, whichever comes first. The work behind `promise` goes on; a
 * rejection of `promise` after the abort is ignored.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { abortable } from "./async.ts";
 * assert.equal(await abortable(Promise.resolve(1), new AbortController().signal), 1);
 * const caller = new AbortController();
 * const waiting = abortable(new Promise(() => {}), caller.signal);
 * caller.abort(new Error("caller gave up"));
 * await assert.rejects(waiting, /caller gave up/);
 * ```
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(signal.reason);
  }
  return new Promise((resolve, reject) => {
    const stopListening = onAbort(signal, reject);
    promise.then(resolve, reject).finally(stopListening);
  });
}

/**
 * A FIFO of async jobs: each starts when the previous one has settled.
 * A job whose `signal` aborts while it waits is dropped and rejects with
 * the signal's reason at once; once started, the job handles its signal.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SerialQueue } from "./async.ts";
 * const queue = new SerialQueue();
 * const order: string[] = [];
 * const slow = queue.run(async () => {
 *   await Promise.resolve();
 *   order.push("slow");
 * });
 * const fast = queue.run(async () => order.push("fast"));
 * await Promise.all([slow, fast]);
 * assert.deepEqual(order, ["slow", "fast"]);
 *
 * const skipped = AbortSignal.abort(new Error("not needed"));
 * await assert.rejects(queue.run(async () => order.push("never"), skipped), /not needed/);
 * assert.deepEqual(order, ["slow", "fast"]);
 * ```
 */
export class SerialQueue {
  /** Settles when the last submitted job has; never rejects. */
  #tail: Promise<void> = Promise.resolve();

  /** Run `job` after every job submitted before it. */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    const dropWhileWaiting = onAbort(signal, reject);
    this.#tail = this.#tail.then(async () => {
      dropWhileWaiting();
      if (signal?.aborted) return; // already rejected while waiting
      try {
        resolve(await job());
      } catch (error) {
        reject(error);
      }
    });
    return promise;
  }
}

/** Running async jobs one at a time, in the order they were submitted. */

/**
 * A FIFO of async jobs: each starts when the previous one has settled.
 * A job whose `signal` aborts while it waits is dropped and rejects with
 * the signal's reason at once; once started, the job handles its signal.
 *
 * @example
 * ```ts
 * import { SerialQueue } from "./serial_queue.ts";
 * const queue = new SerialQueue();
 * const order: number[] = [];
 * await Promise.all([1, 2, 3].map((n) => queue.run(async () => order.push(n))));
 * order; // [1, 2, 3]
 * ```
 */
export class SerialQueue {
  /** Settles when the last submitted job has; never rejects. */
  #tail: Promise<void> = Promise.resolve();

  /** Run `job` after every job submitted before it. */
  run<T>(job: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const { promise, resolve, reject } = Promise.withResolvers<T>();
    if (signal?.aborted) {
      reject(signal.reason);
      return promise;
    }
    const dropWhileWaiting = () => reject(signal!.reason);
    signal?.addEventListener("abort", dropWhileWaiting, { once: true });
    this.#tail = this.#tail.then(async () => {
      signal?.removeEventListener("abort", dropWhileWaiting);
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

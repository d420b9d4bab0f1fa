/**
 * Group commit: the manager saves records as they change and queues what
 * may only happen once they are durable (telling a submitter its task's id,
 * starting a handler, telling a waiter the outcome); once per turn of its
 * loop, the store flushes every change of the turn in one go, then the
 * queued actions run, in order.
 *
 * @module
 */
import type { TaskRecord } from "../task/record.ts";
import type { TaskStore } from "./store.ts";

/**
 * Changes to records, flushed once per turn, and the actions waiting for
 * them. With a store whose `flush()` completes synchronously (memory, the
 * SQLite intent log) the actions run in the same microtask; with one that
 * returns a promise they run when it resolves, batches strictly in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Journal } from "./journal.ts";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * const ran: string[] = [];
 * const journal = new Journal<string>(new MemoryTaskStore(), (action) => ran.push(action));
 * journal.after("tell the submitter");
 * assert.deepEqual(ran, []); // not before the flush at the end of the turn
 * await Promise.resolve();
 * assert.deepEqual(ran, ["tell the submitter"]);
 * ```
 */
export class Journal<A> {
  readonly #store: TaskStore;
  readonly #run: (action: A) => void;
  #pending: A[] = [];
  #scheduled = false;
  /** Inside a turn of the manager's actor: the turn's end flushes, no microtask needed. */
  #inTurn = false;
  /** An action of this turn answers a caller (see `answer`). */
  #answers = false;
  /** Settles when the last batch whose flush returned a promise has run. */
  #tail: Promise<void> | undefined;
  /** `#flush`, bound once: scheduling a flush allocates nothing. */
  readonly #flushSoon = () => this.#flush();
  /** The store failed to flush: it says why; its records may not be on disk. */
  failure: Error | undefined;

  /** Journal to `store`; `run` performs each action once its changes are durable. */
  constructor(store: TaskStore, run: (action: A) => void) {
    this.#store = store;
    this.#run = run;
  }

  /** Record `record`'s current state (it is flushed with this turn's batch). */
  save(record: TaskRecord): void {
    this.#store.put(record);
    this.#schedule();
  }

  /** Remove record `id` from the store. */
  delete(id: string): void {
    this.#store.delete(id);
    this.#schedule();
  }

  /** Perform `action` once this turn's changes are durable. */
  after(action: A): void {
    this.#pending.push(action);
    this.#schedule();
  }

  /**
   * `after`, for an action that answers a caller (a submitter told its
   * task's id): the caller's code runs before anything the turn started —
   * a handler included. A turn with one ends with a microtask, as outside a
   * turn, and the caller's continuation is queued before the actions after.
   */
  answer(action: A): void {
    this.#answers = true;
    this.after(action);
  }

  /**
   * Changes from here to `turnEnded()` are flushed then, in one batch: the
   * task manager's actor calls these around each turn (a batch of its
   * messages), which spares a microtask per turn.
   */
  turnStarted(): void {
    this.#inTurn = true;
  }

  /** Flush what the turn changed, and run the actions waiting for it. */
  turnEnded(): void {
    this.#inTurn = false;
    if (!this.#scheduled) return;
    if (this.#answers) queueMicrotask(this.#flushSoon);
    else this.#flush();
  }

  /** Resolves once every change and action so far has gone through. */
  async settled(): Promise<void> {
    if (this.#scheduled) this.#flush();
    await this.#tail;
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (!this.#inTurn) queueMicrotask(this.#flushSoon);
  }

  #flush(): void {
    if (!this.#scheduled) return;
    this.#scheduled = false;
    this.#answers = false;
    const actions = this.#pending;
    this.#pending = [];
    let flushed: void | Promise<void> = undefined;
    try {
      flushed = this.#store.flush();
    } catch (error) {
      this.#failed(error);
    }
    if (flushed === undefined && this.#tail === undefined) return this.#perform(actions);
    const batch = (this.#tail ?? Promise.resolve())
      .then(() => flushed)
      .catch((error) => this.#failed(error))
      .then(() => this.#perform(actions));
    this.#tail = batch;
    batch.then(() => {
      if (this.#tail === batch) this.#tail = undefined;
    });
  }

  #perform(actions: A[]): void {
    // An index, not an iterator: this runs for every task.
    for (let i = 0; i < actions.length; i++) {
      try {
        this.#run(actions[i]);
      } catch (error) {
        console.error("[zest] the task manager failed after a flush:", error);
      }
    }
  }

  /**
   * A flush that failed leaves the runtime serving (the tasks already
   * accepted run on, in memory); `failure` says why, so new submissions can
   * be refused with it.
   */
  #failed(error: unknown): void {
    this.failure = error instanceof Error ? error : new Error(String(error));
    console.error("[zest] the task store failed to write:", this.failure.message);
  }
}

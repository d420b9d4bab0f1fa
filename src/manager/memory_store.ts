/**
 * The in-memory task store: records in a `Map`, retention by a timer. Nothing
 * survives the process; `store: "memory"` and the in-process default.
 *
 * @module
 */
import { RingQueue } from "../actor/queue.ts";
import { isTerminal, type TaskRecord } from "../task/record.ts";
import { Retention, retentionDelay } from "./retention.ts";
import {
  checkListQuery,
  matches,
  type RetentionOptions,
  type StoreStats,
  type TaskListQuery,
  type TaskPage,
  type TaskStore,
} from "./store.ts";

/**
 * Options of {@linkcode MemoryTaskStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore, type MemoryStoreOptions } from "./memory_store.ts";
 * const options: MemoryStoreOptions = { retention: { ttlMs: 60_000, maxRecords: 1_000 } };
 * const store = new MemoryTaskStore(options);
 * assert.equal((await store.stats()).kind, "memory");
 * await store.close();
 * ```
 */
export interface MemoryStoreOptions {
  /** How long finished records are kept, and how many (default one hour, 10 000). */
  retention?: RetentionOptions;
}

/**
 * A record as held: with the place it was first put in, which paging counts
 * by, and whether retention counts it. A slot of a type's ring whose `Held`
 * is no longer `retained` is stale: the record was deleted, or replaced by an
 * unfinished one (which gets a new `Held`, so a stale slot never comes back).
 */
interface Held {
  record: TaskRecord;
  readonly seq: number;
  retained: boolean;
}

/**
 * The finished records of one task type, in the order they finished: with
 * one time-to-live per type, also the order they expire in.
 */
class Finished {
  readonly held = new RingQueue<Held>();
  /** Records of this ring still retained (stale slots not counted). */
  count = 0;
}

/**
 * A {@linkcode TaskStore} in memory: `put` is a `Map` lookup, `flush` does
 * nothing. Finished records are removed at their expiry by a timer, and
 * beyond `maxRecords` (overall and per type) those due to expire first go.
 * Every step is O(1) per record (O(task types) to find the next expiry), so
 * the store costs a task almost nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * const store = new MemoryTaskStore({ retention: { ttlMs: 60_000 } });
 * assert.deepEqual(await store.open(), []);
 * assert.equal((await store.stats()).records, 0);
 * await store.close();
 * ```
 */
export class MemoryTaskStore implements TaskStore {
  /** Nothing outlives the process. */
  readonly durable = false;
  /** Every record by id, in the order it was first put: the order of submission. */
  readonly #records = new Map<string, Held>();
  #seq = 0;
  readonly #meta = new Map<string, string>();
  readonly #retention: Retention;
  readonly #finishedOfType = new Map<string, Finished>();
  /** How many of `#records` are finished: those retention counts. */
  #retained = 0;
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #timerAt = Infinity;
  #lastRun = -Infinity;

  /** A store with these retention rules (checked here). */
  constructor(options: MemoryStoreOptions = {}) {
    this.#retention = new Retention(options.retention);
  }

  /** Nothing survives a process: always `[]`. */
  open(): Promise<TaskRecord[]> {
    return Promise.resolve([]);
  }

  /** Insert or replace by id. */
  put(record: TaskRecord): void {
    let held = this.#records.get(record.id);
    const finished = isTerminal(record.state);
    if (held === undefined) {
      held = { record, seq: this.#seq++, retained: false };
      this.#records.set(record.id, held);
    } else if (held.retained && !finished) {
      this.#forget(held);
      held = { record, seq: held.seq, retained: false };
      this.#records.set(record.id, held);
    } else held.record = record;
    if (finished && !held.retained) this.#retain(held);
  }

  /** Forget a record. */
  delete(id: string): void {
    const held = this.#records.get(id);
    if (held === undefined) return;
    this.#records.delete(id);
    this.#forget(held);
  }

  /** Nothing to do: memory is as durable as it gets. */
  flush(): void {}

  /** The record with id `id` (the object put). */
  get(id: string): Promise<TaskRecord | undefined> {
    return Promise.resolve(this.#records.get(id)?.record);
  }

  /**
   * Matching records, newest first, a page at a time: the cursor is the place
   * of the last record of the previous page, so the next page starts below it
   * even if that record is gone since.
   */
  // deno-lint-ignore require-await -- async: a bad query rejects the promise instead of throwing
  async list(query?: TaskListQuery): Promise<TaskPage> {
    const checked = checkListQuery({ ...query, cursor: undefined });
    const below = query?.cursor === undefined ? Infinity : cursorSeq(query.cursor);
    const entries = [...this.#records.values()];
    const page: Held[] = [];
    for (let i = entries.length - 1; i >= 0; i--) {
      const held = entries[i];
      if (held.seq >= below || !matches(held.record, checked)) continue;
      if (page.length === checked.limit) {
        return { records: page.map((held) => held.record), next: `m${page.at(-1)!.seq}` };
      }
      page.push(held);
    }
    return { records: page.map((held) => held.record) };
  }

  /** The value kept under `name`. */
  getMeta(name: string): Promise<string | undefined> {
    return Promise.resolve(this.#meta.get(name));
  }

  /** Keep `value` under `name`. */
  putMeta(name: string, value: string): void {
    this.#meta.set(name, value);
  }

  /** How many records are held. */
  stats(): Promise<StoreStats> {
    return Promise.resolve({ kind: "memory", records: this.#records.size });
  }

  /** Stop the retention timer. */
  close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    return Promise.resolve();
  }

  /** A record finished: it joins its type's ring; the caps apply. */
  #retain(held: Held): void {
    const record = held.record;
    held.retained = true;
    this.#retained++;
    let finished = this.#finishedOfType.get(record.type);
    if (!finished) this.#finishedOfType.set(record.type, finished = new Finished());
    finished.held.push(held);
    finished.count++;
    const cap = this.#retention.typeCaps.get(record.type);
    if (cap !== undefined) {
      while (finished.count > cap) this.#removeHead(finished);
    }
    while (this.#retained > this.#retention.maxRecords) {
      const due = this.#dueFirst();
      if (!due) break;
      this.#removeHead(due);
    }
    const at = this.#retention.expiryOf(record, Date.now());
    if (at < this.#timerAt) this.#schedule();
  }

  /** A record leaves the store or is unfinished again: if it was counted, it no longer is. */
  #forget(held: Held): void {
    if (!held.retained) return;
    held.retained = false;
    this.#retained--;
    (this.#finishedOfType.get(held.record.type) as Finished).count--;
  }

  /** The retained record at the head of a ring, its stale slots dropped. */
  #head(finished: Finished): TaskRecord | undefined {
    for (let head = finished.held.peek(); head; head = finished.held.peek()) {
      if (head.retained) return head.record;
      finished.held.shift();
    }
    return undefined;
  }

  #removeHead(finished: Finished): void {
    const head = this.#head(finished);
    if (head) this.delete(head.id);
  }

  /** The ring whose head expires first. */
  #dueFirst(): Finished | undefined {
    let first: Finished | undefined;
    let firstAt = Infinity;
    for (const finished of this.#finishedOfType.values()) {
      const head = this.#head(finished);
      if (!head) continue;
      const at = this.#retention.expiryOf(head, 0);
      if (at < firstAt) {
        first = finished;
        firstAt = at;
      }
    }
    return first;
  }

  #schedule(): void {
    const due = this.#dueFirst();
    const next = due && this.#retention.expiryOf(this.#head(due) as TaskRecord, 0);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next ?? Infinity;
    if (next === undefined) return;
    const timer = this.#timer = setTimeout(
      () => this.#expire(),
      retentionDelay(next, this.#lastRun, Date.now()),
    );
    Deno.unrefTimer(timer);
  }

  #expire(): void {
    const now = this.#lastRun = Date.now();
    for (let due = this.#dueFirst(); due; due = this.#dueFirst()) {
      if (this.#retention.expiryOf(this.#head(due) as TaskRecord, now) > now) break;
      this.#removeHead(due);
    }
    this.#schedule();
  }
}

/** The place a memory store's cursor names; a `RangeError` for anything else. */
function cursorSeq(cursor: string): number {
  if (typeof cursor === "string" && /^m\d{1,15}$/.test(cursor)) return Number(cursor.slice(1));
  throw new RangeError("cursor: not a cursor this store gave (pass back a page's `next`)");
}

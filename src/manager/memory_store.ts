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
 * Which store holds a record object, and which has it among its finished
 * records: marks on the record itself. A property read is what a task's
 * three puts cost; a `WeakSet` of hundreds of thousands of records cost
 * microseconds a lookup here.
 */
const HELD: unique symbol = Symbol("held by a memory store");
const RETAINED: unique symbol = Symbol("finished, in a memory store's retention");

type Marked = TaskRecord & {
  [HELD]?: MemoryTaskStore | undefined;
  [RETAINED]?: MemoryTaskStore | undefined;
};

/**
 * Set a mark on a record. Not enumerable: a copy of the record (`{...record}`)
 * must not carry the marks of the object it was copied from.
 */
function mark(
  record: Marked,
  key: typeof HELD | typeof RETAINED,
  store: MemoryTaskStore | undefined,
) {
  if (Object.hasOwn(record, key)) record[key] = store;
  else Object.defineProperty(record, key, { value: store, writable: true, configurable: true });
}

/** Options of {@linkcode MemoryTaskStore}. */
export interface MemoryStoreOptions {
  retention?: RetentionOptions;
}

/**
 * The finished records of one task type, in the order they finished: with
 * one time-to-live per type, also the order they expire in.
 */
class Finished {
  readonly records = new RingQueue<TaskRecord>();
  /** Records of this ring still held (stale ring slots not counted). */
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
  readonly #records = new Map<string, TaskRecord>();
  readonly #meta = new Map<string, string>();
  readonly #retention: Retention;
  readonly #finishedOfType = new Map<string, Finished>();
  #finished = 0;
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
    const marked = record as Marked;
    if (marked[HELD] !== this) {
      const held = this.#records.get(record.id);
      if (held !== undefined) this.#forget(held as Marked);
      this.#records.set(record.id, record);
      mark(marked, HELD, this);
    }
    if (isTerminal(record.state) && marked[RETAINED] !== this) this.#retain(marked);
  }

  /** Forget a record. */
  delete(id: string): void {
    const held = this.#records.get(id);
    if (held === undefined) return;
    this.#records.delete(id);
    this.#forget(held as Marked);
  }

  /** Nothing to do: memory is as durable as it gets. */
  flush(): void {}

  /** The record with id `id` (the object put). */
  get(id: string): Promise<TaskRecord | undefined> {
    return Promise.resolve(this.#records.get(id));
  }

  /**
   * Matching records, newest first, a page at a time: the cursor is the id
   * of the last record of the previous page.
   */
  // deno-lint-ignore require-await -- async: a bad query rejects the promise instead of throwing
  async list(query?: TaskListQuery): Promise<TaskPage> {
    const checked = checkListQuery({ ...query, cursor: undefined });
    const records = [...this.#records.values()];
    let from = records.length - 1;
    if (query?.cursor !== undefined) {
      const after = cursorId(query.cursor);
      while (from >= 0 && records[from].id !== after) from--;
      from--;
    }
    const page: TaskRecord[] = [];
    for (let i = from; i >= 0; i--) {
      if (!matches(records[i], checked)) continue;
      if (page.length === checked.limit) return { records: page, next: `m${page.at(-1)!.id}` };
      page.push(records[i]);
    }
    return { records: page };
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
  #retain(record: Marked): void {
    mark(record, RETAINED, this);
    let finished = this.#finishedOfType.get(record.type);
    if (!finished) this.#finishedOfType.set(record.type, finished = new Finished());
    finished.records.push(record);
    finished.count++;
    this.#finished++;
    const cap = this.#retention.typeCaps.get(record.type);
    if (cap !== undefined) {
      while (finished.count > cap) this.#removeHead(finished);
    }
    while (this.#finished > this.#retention.maxRecords) {
      const due = this.#dueFirst();
      if (!due) break;
      this.#removeHead(due);
    }
    const at = this.#retention.expiryOf(record, Date.now());
    if (at < this.#timerAt) this.#schedule();
  }

  /** A record leaves the store: if it was finished, it no longer counts. */
  #forget(record: Marked): void {
    record[HELD] = undefined;
    if (record[RETAINED] !== this) return;
    record[RETAINED] = undefined;
    this.#finished--;
    (this.#finishedOfType.get(record.type) as Finished).count--;
  }

  /** The live head of a ring, its stale slots (deleted or replaced records) dropped. */
  #head(finished: Finished): TaskRecord | undefined {
    for (let head = finished.records.peek(); head; head = finished.records.peek()) {
      if ((head as Marked)[RETAINED] === this) return head;
      finished.records.shift();
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

/** The id a memory store's cursor names; a `RangeError` for anything else. */
function cursorId(cursor: string): string {
  if (typeof cursor === "string" && cursor.startsWith("m") && cursor.length <= 201) {
    return cursor.slice(1);
  }
  throw new RangeError("cursor: not a cursor this store gave (pass back a page's `next`)");
}

/**
 * The in-memory task store: records in a `Map`, retention by a timer. Nothing
 * survives the process; `store: "memory"` and the in-process default.
 *
 * @module
 */
import { RingQueue } from "../actor/queue.ts";
import { isTerminal, type TaskRecord } from "../task/record.ts";
import { IdMap } from "../util/id_map.ts";
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
 * by, and the ring of finished records that counts it (none while it runs).
 * A slot of a ring whose `Held` no longer names that ring is stale: the
 * record was deleted, or replaced by an unfinished one (which gets a new
 * `Held`, so a stale slot never comes back).
 */
interface Held {
  record: TaskRecord;
  readonly seq: number;
  ring: Finished | undefined;
}

/**
 * The finished records of one task type, in the order they finished: with
 * one time-to-live per type, also the order they expire in.
 */
class Finished {
  readonly held = new RingQueue<Held>();
  /** Records of this ring still retained (stale slots not counted). */
  count = 0;
  /** At most this many are kept (`retention.perType`), if the type says. */
  constructor(readonly cap: number | undefined) {}
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
  /** Every record by id; `seq` is the order it was first put: the order of submission. */
  readonly #records = new IdMap<Held>();
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
      held = { record, seq: this.#seq++, ring: undefined };
      this.#records.set(held);
    } else if (held.ring && !finished) {
      this.#forget(held);
      held = { record, seq: held.seq, ring: undefined };
      this.#records.set(held);
    } else held.record = record;
    if (finished && !held.ring) this.#retain(held);
  }

  /** Forget a record. */
  delete(id: string): void {
    const held = this.#records.get(id);
    if (held === undefined) return;
    this.#remove(held);
  }

  #remove(held: Held): void {
    this.#records.delete(held.record.id);
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
    // In the order of submission: the map's own order differs where ids share a hash.
    const entries = [...this.#records.values()].sort((a, b) => a.seq - b.seq);
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
    let ring = this.#finishedOfType.get(record.type);
    if (!ring) {
      ring = new Finished(this.#retention.typeCaps.get(record.type));
      this.#finishedOfType.set(record.type, ring);
    }
    held.ring = ring;
    ring.held.push(held);
    ring.count++;
    this.#retained++;
    if (ring.cap !== undefined) {
      while (ring.count > ring.cap) this.#removeHead(ring);
    }
    while (this.#retained > this.#retention.maxRecords) {
      // One ring (one type, or one time-to-live for all): its head is due first.
      const due = this.#finishedOfType.size === 1 ? ring : this.#dueFirst();
      if (!due) break;
      this.#removeHead(due);
    }
    const at = record.expiresAt ?? this.#retention.expiryOf(record, Date.now());
    if (at < this.#timerAt) this.#schedule();
  }

  /** A record leaves the store or is unfinished again: if it was counted, it no longer is. */
  #forget(held: Held): void {
    if (!held.ring) return;
    held.ring.count--;
    held.ring = undefined;
    this.#retained--;
  }

  /** The retained record at the head of a ring, its stale slots dropped. */
  #head(ring: Finished): Held | undefined {
    for (let head = ring.held.peek(); head; head = ring.held.peek()) {
      if (head.ring === ring) return head;
      ring.held.shift();
    }
    return undefined;
  }

  /** Remove the head of a ring: a counted `Held` is the one its record's id maps to. */
  #removeHead(ring: Finished): void {
    const head = this.#head(ring);
    if (head) this.#remove(head);
  }

  /** The ring whose head expires first. */
  #dueFirst(): Finished | undefined {
    let first: Finished | undefined;
    let firstAt = Infinity;
    for (const ring of this.#finishedOfType.values()) {
      const head = this.#head(ring);
      if (!head) continue;
      const at = this.#retention.expiryOf(head.record, 0);
      if (at < firstAt) {
        first = ring;
        firstAt = at;
      }
    }
    return first;
  }

  #schedule(): void {
    const due = this.#dueFirst();
    const next = due && this.#retention.expiryOf((this.#head(due) as Held).record, 0);
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
      if (this.#retention.expiryOf((this.#head(due) as Held).record, now) > now) break;
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

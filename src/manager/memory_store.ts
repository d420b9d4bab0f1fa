/**
 * The in-memory task store: records in a `Map`, retention by a timer. Nothing
 * survives the process; `store: "memory"` and the in-process default.
 */
import { isTerminal, type TaskRecord } from "../task/record.ts";
import { Retention, retentionDelay } from "./retention.ts";
import {
  checkListQuery,
  encodeCursor,
  matches,
  type RetentionOptions,
  type StoreStats,
  type TaskListQuery,
  type TaskPage,
  type TaskStore,
} from "./store.ts";

/** A record held, with its submission order and, once finished, its expiry. */
interface Entry {
  record: TaskRecord;
  readonly seq: number;
  expiresAt: number | undefined;
}

/** Options of {@linkcode MemoryTaskStore}. */
export interface MemoryStoreOptions {
  retention?: RetentionOptions;
}

/**
 * A {@linkcode TaskStore} in memory: `put` is a `Map` set, `flush` does
 * nothing. Finished records are removed at their expiry by a timer, and
 * beyond `maxRecords` (overall and per type) those due to expire first go.
 *
 * @example
 * ```ts
 * import { MemoryTaskStore } from "./memory_store.ts";
 * const store = new MemoryTaskStore({ retention: { ttlMs: 60_000 } });
 * await store.open(); // []
 * (await store.stats()).records; // 0
 * await store.close();
 * ```
 */
export class MemoryTaskStore implements TaskStore {
  /** Nothing outlives the process. */
  readonly durable = false;
  readonly #records = new Map<string, Entry>();
  readonly #meta = new Map<string, string>();
  readonly #retention: Retention;
  #seq = 0;
  readonly #byExpiry = new ExpiryHeap();
  /** Finished records held, overall and of each type that has its own cap. */
  #finished = 0;
  readonly #finishedOfType = new Map<string, { count: number; byExpiry: ExpiryHeap }>();
  #timer: ReturnType<typeof setTimeout> | undefined = undefined;
  #timerAt = Infinity;
  #lastRun = -Infinity;

  /** A store with these retention rules (checked here). */
  constructor(options: MemoryStoreOptions = {}) {
    this.#retention = new Retention(options.retention);
    for (const type of this.#retention.typeCaps.keys()) {
      this.#finishedOfType.set(type, { count: 0, byExpiry: new ExpiryHeap() });
    }
  }

  /** Nothing survives a process: always `[]`. */
  open(): Promise<TaskRecord[]> {
    return Promise.resolve([]);
  }

  /** Insert or replace by id. */
  put(record: TaskRecord): void {
    let entry = this.#records.get(record.id);
    if (entry === undefined) {
      entry = { record, seq: ++this.#seq, expiresAt: undefined };
      this.#records.set(record.id, entry);
    } else entry.record = record;
    if (entry.expiresAt !== undefined || isTerminal(record.state)) this.#retain(entry);
  }

  /** Forget a record. */
  delete(id: string): void {
    const entry = this.#records.get(id);
    if (entry) this.#remove(entry);
  }

  /** Nothing to do: memory is as durable as it gets. */
  flush(): void {}

  /** The record with id `id` (the object put). */
  // deno-lint-ignore require-await -- async like every store's
  async get(id: string): Promise<TaskRecord | undefined> {
    return this.#records.get(id)?.record;
  }

  /** Matching records, newest first, a page at a time. */
  // deno-lint-ignore require-await -- async: a bad query rejects the promise instead of throwing
  async list(query?: TaskListQuery): Promise<TaskPage> {
    const checked = checkListQuery(query);
    const entries = [...this.#records.values()];
    // Entries are in submission order: find the cursor's place by bisection.
    let low = 0;
    let high = entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (entries[middle].seq < checked.before) low = middle + 1;
      else high = middle;
    }
    const records: TaskRecord[] = [];
    let last = 0;
    for (let i = low - 1; i >= 0; i--) {
      const { record, seq } = entries[i];
      if (!matches(record, checked)) continue;
      if (records.length === checked.limit) {
        return { records, next: encodeCursor(last) };
      }
      records.push(record);
      last = seq;
    }
    return { records };
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

  /** A finished record was put: (re)schedule its removal, and apply the caps. */
  #retain(entry: Entry): void {
    const at = this.#retention.expiryOf(entry.record, Date.now());
    if (at === entry.expiresAt) return;
    const typeCap = this.#finishedOfType.get(entry.record.type);
    if (entry.expiresAt === undefined) {
      this.#finished++;
      if (typeCap) typeCap.count++;
    }
    entry.expiresAt = at;
    this.#byExpiry.push(entry);
    if (typeCap) {
      typeCap.byExpiry.push(entry);
      const cap = this.#retention.typeCaps.get(entry.record.type) as number;
      while (typeCap.count > cap) this.#remove(this.#dueFirst(typeCap.byExpiry) as Entry);
    }
    while (this.#finished > this.#retention.maxRecords) {
      this.#remove(this.#dueFirst(this.#byExpiry) as Entry);
    }
    if (at < this.#timerAt) this.#schedule();
  }

  /** The held entry of `heap` due first, dropping stale ones on the way. */
  #dueFirst(heap: ExpiryHeap): Entry | undefined {
    for (let top = heap.peek(); top; top = heap.peek()) {
      if (this.#records.get(top.entry.record.id) === top.entry && top.entry.expiresAt === top.at) {
        return top.entry;
      }
      heap.pop();
    }
    return undefined;
  }

  #remove(entry: Entry): void {
    this.#records.delete(entry.record.id);
    if (entry.expiresAt === undefined) return;
    entry.expiresAt = undefined; // its heap items are stale now
    this.#finished--;
    const typeCap = this.#finishedOfType.get(entry.record.type);
    if (typeCap) typeCap.count--;
  }

  #schedule(): void {
    const next = this.#dueFirst(this.#byExpiry)?.expiresAt;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = next ?? Infinity;
    if (next === undefined) return;
    const delay = retentionDelay(next, this.#lastRun, Date.now());
    const timer = this.#timer = setTimeout(() => this.#expire(), delay);
    Deno.unrefTimer(timer);
  }

  #expire(): void {
    const now = this.#lastRun = Date.now();
    for (
      let entry = this.#dueFirst(this.#byExpiry);
      entry;
      entry = this.#dueFirst(this.#byExpiry)
    ) {
      if ((entry.expiresAt as number) > now) break;
      this.#remove(entry);
    }
    this.#schedule();
  }
}

/** An entry and the expiry it had when pushed (stale once they differ). */
interface ExpiryItem {
  entry: Entry;
  at: number;
}

/** Whether `a` is due before `b`: the earlier expiry, or on a tie the earlier submitted. */
function dueBefore(a: ExpiryItem, b: ExpiryItem): boolean {
  return a.at < b.at || (a.at === b.at && a.entry.seq < b.entry.seq);
}

/** A binary min-heap of entries by expiry, then submission order. */
class ExpiryHeap {
  readonly #items: ExpiryItem[] = [];

  peek(): ExpiryItem | undefined {
    return this.#items[0];
  }

  push(entry: Entry): void {
    const items = this.#items;
    const item = { entry, at: entry.expiresAt as number };
    let i = items.length;
    items.push(item);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!dueBefore(item, items[parent])) break;
      items[i] = items[parent];
      i = parent;
    }
    items[i] = item;
  }

  pop(): void {
    const items = this.#items;
    const last = items.pop() as ExpiryItem;
    if (items.length === 0) return;
    let i = 0;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= items.length) break;
      if (child + 1 < items.length && dueBefore(items[child + 1], items[child])) child++;
      if (!dueBefore(items[child], last)) break;
      items[i] = items[child];
      i = child;
    }
    items[i] = last;
  }
}

/** Where task records live. */
import type { TaskRecord, TaskState } from "../task/record.ts";

/** A filter for listing records. */
export interface TaskQuery {
  service?: string;
  state?: TaskState;
  /** Most recent first; default 100. */
  limit?: number;
}

/**
 * Storage of finished task records: their history, kept as the manager's
 * retention says. The manager is the only writer: it saves a record when its
 * task ends, again after any later change (a late log line), and deletes it
 * when it expires. Tasks still queued or running are held by the manager
 * itself, so a queue of waiting tasks costs no store entries.
 */
export interface TaskStore {
  get(id: string): TaskRecord | undefined;
  save(record: TaskRecord): void;
  delete(id: string): void;
  list(query?: TaskQuery): TaskRecord[];
  readonly size: number;
}

/**
 * The default store: a `Map` in memory, in insertion order.
 *
 * @example
 * ```ts
 * import { MemoryTaskStore } from "./store.ts";
 * const store = new MemoryTaskStore();
 * store.size; // 0
 * ```
 */
export class MemoryTaskStore implements TaskStore {
  #records = new Map<string, TaskRecord>();

  /** Number of records held. */
  get size(): number {
    return this.#records.size;
  }

  /** The record with id `id`. */
  get(id: string): TaskRecord | undefined {
    return this.#records.get(id);
  }

  /** Insert or replace (records are mutated in place, so a replace is free). */
  save(record: TaskRecord): void {
    if (!this.#records.has(record.id)) this.#records.set(record.id, record);
  }

  /** Forget a record. */
  delete(id: string): void {
    this.#records.delete(id);
  }

  /** Matching records, the most recently saved first. */
  list(query: TaskQuery = {}): TaskRecord[] {
    return newestMatching([...this.#records.values()], (record) => record, query);
  }
}

/**
 * Up to `query.limit` (default 100) records of `items` that match `query`,
 * from the last item back.
 *
 * @example
 * ```ts
 * import { newestMatching } from "./store.ts";
 * import type { TaskRecord } from "../task/record.ts";
 * declare const records: TaskRecord[];
 * newestMatching(records, (record) => record, { state: "failed", limit: 10 });
 * ```
 */
export function newestMatching<T>(
  items: readonly T[],
  recordOf: (item: T) => TaskRecord | undefined,
  query: TaskQuery,
): TaskRecord[] {
  const limit = query.limit ?? 100;
  const out: TaskRecord[] = [];
  for (let i = items.length - 1; i >= 0 && out.length < limit; i--) {
    const record = recordOf(items[i]);
    if (record === undefined) continue;
    if (query.service !== undefined && record.service !== query.service) continue;
    if (query.state !== undefined && record.state !== query.state) continue;
    out.push(record);
  }
  return out;
}

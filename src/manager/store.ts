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
 * Storage of task records. The manager is the only writer; it calls `save`
 * after every change of a record.
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

  /** Matching records, newest first. */
  list(query: TaskQuery = {}): TaskRecord[] {
    const limit = query.limit ?? 100;
    const all = [...this.#records.values()];
    const out: TaskRecord[] = [];
    for (let i = all.length - 1; i >= 0 && out.length < limit; i--) {
      const record = all[i];
      if (query.service !== undefined && record.service !== query.service) continue;
      if (query.state !== undefined && record.state !== query.state) continue;
      out.push(record);
    }
    return out;
  }
}

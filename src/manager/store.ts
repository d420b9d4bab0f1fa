/**
 * Where task records live: the interface every store implements (SQLite on
 * disk, or memory), its query and statistics shapes, and the refusal a store
 * that cannot be used gives at open.
 */
import { TASK_STATES, type TaskRecord, type TaskState } from "../task/record.ts";

/**
 * Storage of task records, finished or not. The manager is the only writer:
 * it puts a record when its task is submitted, again after each change, and
 * calls `flush()` once per turn of its loop; the store keeps finished records
 * as its retention says and removes them itself, on time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import type { TaskStore } from "./store.ts";
 * import type { TaskRecord, TaskState } from "../task/record.ts";
 * const record = (id: string, state: TaskState = "queued"): TaskRecord => ({
 *   id,
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: {},
 *   attributes: {},
 *   parallel: false,
 *   state,
 *   attempts: 0,
 *   createdAt: Date.now(),
 *   log: [],
 * });
 * async function submitted(store: TaskStore, record: TaskRecord): Promise<void> {
 *   store.put(record);
 *   await store.flush(); // durable now: the submitter may be told its id
 * }
 * const store: TaskStore = new MemoryTaskStore();
 * await store.open();
 * await submitted(store, record("a"));
 * assert.equal((await store.get("a"))?.state, "queued");
 * await store.close();
 * ```
 */
export interface TaskStore {
  /**
   * Whether records outlive the process: a runtime on a durable store keeps
   * queued tasks for its next start when it stops.
   */
  readonly durable: boolean;
  /**
   * Open (create, migrate); returns the records that were not finished
   * (state waiting, queued or running) when the store was last used, in
   * submission order. Throws {@linkcode StoreOpenError} (a clear message naming the file
   * and the cause) when the store cannot be used.
   */
  open(): Promise<TaskRecord[]>;
  /**
   * Save the record's current state (insert or replace by id). Visible to
   * get/list at once; durable once `flush()` has returned/resolved. The
   * store may keep the object itself until then: put it again after a change.
   */
  put(record: TaskRecord): void;
  /** Remove a record (by id). */
  delete(id: string): void;
  /**
   * Make every put/delete so far durable. Returns void when done
   * synchronously (cheap to call often); a promise when the caller must wait
   * (a disk sync, or back-pressure from a store that fell behind).
   */
  flush(): void | Promise<void>;
  /** The record with this id, its latest put (even before a flush). */
  get(id: string): Promise<TaskRecord | undefined>;
  /**
   * Records matching `query`, newest first (by submission order), a page at
   * a time: pass `next` back as `cursor` for the following page.
   */
  list(query?: TaskListQuery): Promise<TaskPage>;
  /** What the store holds and where. */
  stats(): Promise<StoreStats>;
  /** A small value the runtime keeps beside its records (a schedule's last run). */
  getMeta(name: string): Promise<string | undefined>;
  /** Keep `value` under `name` (durable with the next flush). */
  putMeta(name: string, value: string): void;
  /** Make everything durable, stop timers and workers, release the file. */
  close(): Promise<void>;
}

/**
 * A filter for {@linkcode TaskStore.list}. Every field is optional; bounds are
 * checked by {@linkcode checkListQuery}.
 *
 * @example
 * ```ts
 * import type { TaskListQuery } from "./store.ts";
 * const failedToday: TaskListQuery = {
 *   state: ["failed", "cancelled"],
 *   createdSince: Date.now() - 86_400_000,
 *   limit: 50,
 * };
 * ```
 */
export interface TaskListQuery {
  /** Only tasks sent to this service. */
  service?: string;
  /** Only tasks of this task type. */
  type?: string;
  /** The idempotency key the task was submitted with. */
  key?: string;
  /** One state, or several (any of them). */
  state?: TaskState | readonly TaskState[];
  /** Created at or after this time (ms since the Unix epoch). */
  createdSince?: number;
  /** Created before this time (ms since the Unix epoch). */
  createdUntil?: number;
  /** Page size, 1..1000 (default 100). */
  limit?: number;
  /** The `next` of the previous page. */
  cursor?: string;
}

/**
 * One page of {@linkcode TaskStore.list}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import type { TaskPage } from "./store.ts";
 * import type { TaskRecord, TaskState } from "../task/record.ts";
 * const record = (id: string, state: TaskState = "queued"): TaskRecord => ({
 *   id,
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: {},
 *   attributes: {},
 *   parallel: false,
 *   state,
 *   attempts: 0,
 *   createdAt: Date.now(),
 *   log: [],
 * });
 * const store = new MemoryTaskStore();
 * await store.open();
 * for (const id of ["a", "b", "c"]) store.put(record(id));
 * const ids: string[] = [];
 * for (let cursor: string | undefined; ;) {
 *   const page: TaskPage = await store.list({ service: "lab", limit: 2, cursor });
 *   ids.push(...page.records.map((record) => record.id));
 *   if ((cursor = page.next) === undefined) break;
 * }
 * assert.deepEqual(ids, ["c", "b", "a"]); // newest first
 * await store.close();
 * ```
 */
export interface TaskPage {
  /** At most the query's `limit` records, newest first. */
  records: TaskRecord[];
  /** Opaque; absent on the last page. */
  next?: string;
}

/**
 * What a store holds and where, for `GET /store` and the dashboard.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import type { StoreStats } from "./store.ts";
 * const store = new MemoryTaskStore();
 * const stats: StoreStats = await store.stats();
 * assert.deepEqual(stats, { kind: "memory", records: 0 });
 * ```
 */
export interface StoreStats {
  /** `nats`: a cluster's JetStream KV bucket (`src/store/jetstream_kv.ts`). */
  kind: "sqlite" | "memory" | "nats";
  /** The database file. */
  path?: string;
  /** Bytes on disk: the database, its WAL and the intent logs. */
  bytes?: number;
  /** Records held, finished or not. */
  records: number;
}

/**
 * How long finished records are kept, and how many.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RetentionLimits } from "./store.ts";
 * const month: RetentionLimits = { ttlMs: 30 * 86_400_000, maxRecords: 100_000 };
 * assert.equal(month.ttlMs, 2_592_000_000);
 * ```
 */
export interface RetentionLimits {
  /** A finished record without `expiresAt` is removed this long after it finished. */
  ttlMs?: number;
  /** Most finished records kept; those due to expire first go first. */
  maxRecords?: number;
}

/**
 * Retention of a store: the runtime-wide limits, and limits per task type.
 * A finished record is removed at its `expiresAt` (set by the manager; else
 * `finishedAt + ttlMs` of its type), and when more than `maxRecords` finished
 * records are held overall, or of its type, those due to expire first go.
 * Unfinished records are never removed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import type { RetentionOptions } from "./store.ts";
 * const retention: RetentionOptions = {
 *   ttlMs: 3_600_000,
 *   maxRecords: 10_000,
 *   perType: { Calibrate: { ttlMs: 30 * 86_400_000, maxRecords: 100_000 } },
 * };
 * const store = new MemoryTaskStore({ retention });
 * assert.equal(store.durable, false);
 * await store.close();
 * ```
 */
export interface RetentionOptions {
  /** Default one hour. */
  ttlMs?: number;
  /** Default 10 000. */
  maxRecords?: number;
  /** Limits of the task types that set their own, by type name. */
  perType?: Record<string, RetentionLimits>;
}

/**
 * A store that cannot be used, refused at open: the message names the file
 * and the cause (in use by another runtime, corrupt, not writable, written by
 * a newer Zest).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreOpenError } from "./store.ts";
 * const error = new StoreOpenError(
 *   "/lab/zest.db",
 *   "/lab/zest.db is in use by another Zest runtime (pid 1234)",
 * );
 * assert.equal(error.path, "/lab/zest.db");
 * assert.equal(error.name, "StoreOpenError");
 * ```
 */
export class StoreOpenError extends Error {
  /** Always `"StoreOpenError"`, whatever a bundler does to class names. */
  override name = "StoreOpenError";

  /** `message` is the whole sentence, naming `path`. */
  constructor(readonly path: string, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * A store that failed while in use (its database could not be written); the
 * message says why. Records flushed before it are on disk in the intent log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StoreFailedError } from "./store.ts";
 * const error = new StoreFailedError("/lab/zest.db: database or disk is full");
 * assert.equal(error.name, "StoreFailedError");
 * ```
 */
export class StoreFailedError extends Error {
  /** Always `"StoreFailedError"`, whatever a bundler does to class names. */
  override name = "StoreFailedError";
}

const STATES: ReadonlySet<string> = new Set(TASK_STATES);

/**
 * A list query whose every field was checked, with the defaults filled in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type CheckedListQuery, checkListQuery } from "./store.ts";
 * const checked: CheckedListQuery = checkListQuery({ state: ["failed", "expired"] });
 * assert.deepEqual([...checked.states!], ["failed", "expired"]);
 * ```
 */
export interface CheckedListQuery {
  /** Only tasks sent to this service. */
  service?: string;
  /** Only tasks of this type. */
  type?: string;
  /** Only tasks submitted with this idempotency key. */
  key?: string;
  /** Only tasks in one of these states. */
  states?: ReadonlySet<TaskState>;
  /** Created at or after this time (ms since the Unix epoch). */
  createdSince?: number;
  /** Created before this time (ms since the Unix epoch). */
  createdUntil?: number;
  /** Page size. */
  limit: number;
  /** Only records submitted before this sequence number. */
  before: number;
}

/**
 * Largest page a list query may ask for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkListQuery, MAX_PAGE } from "./store.ts";
 * assert.equal(checkListQuery({ limit: MAX_PAGE }).limit, 1_000);
 * assert.throws(() => checkListQuery({ limit: MAX_PAGE + 1 }), RangeError);
 * ```
 */
export const MAX_PAGE = 1000;

/**
 * Check a list query from outside: throws a `RangeError`/`TypeError` naming
 * the field and the reason.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkListQuery } from "./store.ts";
 * assert.equal(checkListQuery({ state: "failed" }).limit, 100);
 * assert.throws(
 *   () => checkListQuery({ state: "lost" as never }),
 *   /state: 'lost' is not one of waiting, queued/,
 * );
 * ```
 */
export function checkListQuery(query: TaskListQuery = {}): CheckedListQuery {
  const out: CheckedListQuery = { limit: 100, before: Number.MAX_SAFE_INTEGER };
  for (const field of ["service", "type", "key"] as const) {
    const value = query[field];
    if (value === undefined) continue;
    if (typeof value !== "string") throw new TypeError(`${field}: expected a string`);
    out[field] = value;
  }
  if (query.state !== undefined) {
    const states = typeof query.state === "string" ? [query.state] : query.state;
    if (!Array.isArray(states) || states.length === 0) {
      throw new TypeError("state: expected a task state or a non-empty list of them");
    }
    for (const state of states) {
      if (!STATES.has(state)) {
        throw new RangeError(`state: '${state}' is not one of ${[...STATES].join(", ")}`);
      }
    }
    out.states = new Set(states);
  }
  for (const field of ["createdSince", "createdUntil"] as const) {
    const value = query[field];
    if (value === undefined) continue;
    if (!Number.isFinite(value)) {
      throw new RangeError(`${field}: expected milliseconds since the Unix epoch`);
    }
    out[field] = value;
  }
  if (query.limit !== undefined) {
    if (!Number.isInteger(query.limit) || query.limit < 1 || query.limit > MAX_PAGE) {
      throw new RangeError(`limit: expected an integer from 1 to ${MAX_PAGE}, got ${query.limit}`);
    }
    out.limit = query.limit;
  }
  if (query.cursor !== undefined) out.before = decodeCursor(query.cursor);
  return out;
}

/**
 * The `next` cursor of a page whose last record has sequence number `seq`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkListQuery, encodeCursor } from "./store.ts";
 * assert.equal(checkListQuery({ cursor: encodeCursor(42) }).before, 42);
 * assert.throws(() => checkListQuery({ cursor: "forged" }), /not a cursor this store gave/);
 * ```
 */
export function encodeCursor(seq: number): string {
  return `s${seq.toString(36)}`;
}

function decodeCursor(cursor: unknown): number {
  if (typeof cursor === "string" && /^s[0-9a-z]{1,11}$/.test(cursor)) {
    const seq = parseInt(cursor.slice(1), 36);
    if (Number.isSafeInteger(seq)) return seq;
  }
  throw new RangeError("cursor: not a cursor this store gave (pass back a page's `next`)");
}

/**
 * Whether `record` matches the filters of `query` (not its cursor or limit).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkListQuery, matches } from "./store.ts";
 * import type { TaskRecord } from "../task/record.ts";
 * const record: TaskRecord = {
 *   id: "a",
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: {},
 *   attributes: {},
 *   parallel: false,
 *   state: "failed",
 *   attempts: 1,
 *   createdAt: Date.now(),
 *   log: [],
 * };
 * assert.equal(matches(record, checkListQuery({ service: "lab", state: "failed" })), true);
 * assert.equal(matches(record, checkListQuery({ type: "Fit" })), false);
 * ```
 */
export function matches(record: TaskRecord, query: CheckedListQuery): boolean {
  return (query.service === undefined || record.service === query.service) &&
    (query.type === undefined || record.type === query.type) &&
    (query.key === undefined || record.key === query.key) &&
    (query.states === undefined || query.states.has(record.state)) &&
    (query.createdSince === undefined || record.createdAt >= query.createdSince) &&
    (query.createdUntil === undefined || record.createdAt < query.createdUntil);
}

/**
 * The task store of a cluster: records in a NATS JetStream KV bucket, so that
 * every process of the cluster reads every record (`t.<id>`), with small
 * values beside them (`m.<name>`). The bucket keeps one revision per key and
 * forgets a key `ttlMs` after its last write (the bucket's `max_age`; Debian's
 * nats-server 2.9 ignores per-key TTLs, so retention is one figure for the
 * whole bucket, not per task type).
 *
 * Each write is a JetStream publish: `put` keeps the record until `flush`,
 * which publishes every record put since the last flush once (the last state
 * of the turn) and resolves when the server has stored them all. A write that
 * times out (the server is restarting) is retried until it goes through or a
 * newer write of the same key replaces it; the manager waits meanwhile.
 *
 * `open()` returns no records: in a cluster the unfinished work is the
 * stream's, not the store's (see `src/transport/nats/host.ts`).
 *
 * `list` reads the last value of every key of the bucket (one ordered pass,
 * no per-key round trips) and sorts the matches by id (UUIDv7: time order;
 * tasks made in the same millisecond come in no particular order).
 * It costs O(records retained) per page — fine for tens of thousands of
 * records, slow for millions: keep the retention (`ttlMs`) in proportion.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { setImmediate } from "node:timers";
import {
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  jetstreamManager,
  StorageType,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import { JetStreamPublisher } from "./jetstream_publish.ts";
import { untilSettled } from "../util/async.ts";
import { appendLog, isTerminal, type TaskRecord } from "../task/record.ts";
import {
  checkListQuery,
  matches,
  type StoreStats,
  type TaskListQuery,
  type TaskPage,
  type TaskStore,
} from "../manager/store.ts";

/**
 * The bucket of records by default.
 *
 * @example
 * ```ts
 * import { DEFAULT_RECORD_BUCKET } from "./jetstream_kv.ts";
 * DEFAULT_RECORD_BUCKET; // "zest_tasks"
 * ```
 */
export const DEFAULT_RECORD_BUCKET = "zest_tasks";

/** Room left in a message for its headers and the KV subject. */
const HEADROOM_BYTES = 4 * 1024;

/** Longest wait between two tries of a write that timed out. */
const MAX_RETRY_DELAY_MS = 2_000;

/** How long `close()` waits for writes still going through (the server may be away). */
const CLOSE_GRACE_MS = 10_000;

/** Ids that can be a KV key: what UUIDs and the runtime's ids use, and nothing that is a wildcard. */
const ID_SHAPE = /^[A-Za-z0-9_-]{1,200}$/;

/** Records read at once while a page of `list` fills. */
const LIST_READ_BATCH = 64;

/**
 * The keys under `prefix` in KV bucket `bucket`, read from its stream's
 * subjects: no value is read (a removed key is listed until the server drops
 * its mark). A bucket with thousands of keys answers in a few requests.
 *
 * @example
 * ```ts ignore
 * import { bucketKeys } from "./jetstream_kv.ts";
 * const ids = await bucketKeys(jsm, "zest_tasks", "t."); // ["t.0190c1d2-…", …]
 * ```
 */
export async function bucketKeys(
  jsm: JetStreamManager,
  bucket: string,
  prefix: string,
): Promise<string[]> {
  const subjects = `$KV.${bucket}.`;
  const info = await jsm.streams.info(`KV_${bucket}`, {
    subjects_filter: `${subjects}${prefix}>`,
  });
  return Object.keys(info.state.subjects ?? {}).map((subject) => subject.slice(subjects.length));
}

/**
 * The KV key of task `id`'s record; `undefined` for an id no task can have.
 *
 * @example
 * ```ts
 * import { recordKey } from "./jetstream_kv.ts";
 * recordKey("0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d"); // "t.0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d"
 * recordKey("t.>"); // undefined
 * ```
 */
export function recordKey(id: string): string | undefined {
  return typeof id === "string" && ID_SHAPE.test(id) ? `t.${id}` : undefined;
}

/** The KV key of a small value: its name in base64url (any name fits). */
function metaKey(name: string): string {
  const bytes = new TextEncoder().encode(name);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return `m.n${btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replaceAll("=", "")}`;
}

/**
 * Options of {@linkcode JetStreamTaskStore.connect}.
 *
 * @example
 * ```ts
 * import type { JetStreamStoreOptions } from "./jetstream_kv.ts";
 * const options: JetStreamStoreOptions = { ttlMs: 86_400_000, waitForUnfinished: false };
 * ```
 */
export interface JetStreamStoreOptions {
  /** The bucket (default `zest_tasks`). */
  bucket?: string;
  /** How long a record is kept after its last write (default one hour); only when creating the bucket. */
  ttlMs?: number;
  /**
   * Create the bucket if it does not exist (default true). A client passes
   * false: the processes that host services create it with their retention;
   * until one has, reads find nothing.
   */
  create?: boolean;
  /**
   * Whether `flush` waits for records that have not ended (default true).
   * A cluster's host passes false: there the stream, not the record, tells
   * whether a task may have started (see `src/transport/nats/host.ts`), so a
   * `running` record need not be on the server before the handler starts;
   * it is sent first all the same. Ended records, removals and small
   * values are always waited for (but a final record `holdEnd` gave to
   * someone else is theirs to wait for). Such a record is written at the end of
   * the event loop's turn (a `setImmediate`, when the turn's messages go
   * out anyway), unless a later write of the turn replaces it: a task that
   * ends within the turn it started in (a quick handler) is written once,
   * ended, not `running` then ended.
   */
  waitForUnfinished?: boolean;
}

/** A write waiting for its flush or going through: the value (a record, a string, or a removal). */
type Value = TaskRecord | string | null;

/**
 * Whoever answers for the final write of one task (`holdEnd`): the flush
 * that sends it does not wait for it; `sent` gets the write as soon as it
 * is on its way, and the holder waits for it before it acts on the end
 * (see `src/transport/nats/host.ts`). With `copyTo`, the server's answer to
 * the write goes there too (see `JetStreamPublisher`).
 *
 * @example
 * ```ts
 * import type { EndHold } from "./jetstream_kv.ts";
 * const hold: EndHold = {
 *   copyTo: "K3xq9.12",
 *   sent: (record, stored) => void stored.then(() => console.log(record.state, "stored")),
 * };
 * ```
 */
export interface EndHold {
  copyTo?: string;
  /** The final record is sent; `stored` settles once the server has it (or rejects with why not). */
  sent(record: TaskRecord, stored: Promise<void>): void;
}

/**
 * The task an idempotency key names: what `claimKey` keeps, to compare a
 * later request with.
 *
 * @example
 * ```ts
 * import type { KeyHolder } from "./jetstream_kv.ts";
 * const holder: KeyHolder = { id: "0190c1d2-…", service: "lab", type: "Scan", fields: { qubit: 3 } };
 * ```
 */
export interface KeyHolder {
  id: string;
  service: string;
  type: string;
  /** Its validated fields. */
  fields: unknown;
}

/**
 * What a key holds in the bucket, with its revision (for compare-and-set).
 *
 * @example
 * ```ts
 * import type { JetStreamTaskStore, StoredRecord } from "./jetstream_kv.ts";
 * async function stateOf(store: JetStreamTaskStore, id: string) {
 *   const stored: StoredRecord | undefined = await store.read(id);
 *   return stored?.record.state;
 * }
 * ```
 */
export interface StoredRecord {
  record: TaskRecord;
  revision: number;
}

/** Whether `error` may go away by itself (a timeout while the server restarts, no JetStream yet). */
function isTransient(error: unknown): boolean {
  if (error instanceof JetStreamApiError) return error.status === 503;
  const text = `${(error as Error)?.name} ${(error as Error)?.message}`;
  return /timeout|no ?responders|disconnect|reconnect|connection/i.test(text);
}

/** JSON of `value`; `bigint`s (which a result may hold) as decimal strings. */
function json(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    if (!(error instanceof TypeError && /BigInt/i.test(error.message))) throw error;
    return JSON.stringify(value, (_key, v) => typeof v === "bigint" ? v.toString() : v);
  }
}

/**
 * Whether `value` looks like a task record (what the store needs to list
 * and filter it); a value someone else wrote to the bucket may not.
 */
function isRecord(value: unknown): value is TaskRecord {
  const record = value as TaskRecord;
  return value !== null && typeof value === "object" && typeof record.id === "string" &&
    typeof record.service === "string" && typeof record.type === "string" &&
    typeof record.state === "string" && typeof record.createdAt === "number" &&
    Array.isArray(record.log);
}

/**
 * The JSON of `record` in at most `limit` bytes: a record larger than the
 * server's `max_payload` (a kernel's images, a large result) loses what
 * makes it large, and its log says so; the task itself is not affected.
 * `encoded` is `record`'s JSON when the caller has made it already.
 *
 * @example
 * ```ts
 * import { fitRecord } from "./jetstream_kv.ts";
 * import { EMPTY_LOG, type TaskRecord } from "../task/record.ts";
 * const record: TaskRecord = {
 *   id: "0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d", type: "Calibrate", service: "lab", fields: {},
 *   attributes: {}, parallel: false, state: "queued", attempts: 0, createdAt: 1735689600000, log: EMPTY_LOG,
 * };
 * const image = { "image/png": "A".repeat(3_000_000) };
 * record.outcome = {
 *   status: "ok", id: record.id, result: null,
 *   execution: { code: "plot()", executionCount: 1, stdout: "", stderr: "", displays: [{ data: image, metadata: {} }] },
 * };
 * const fitted = JSON.parse(fitRecord(record, 1_044_480));
 * if (fitted.outcome.execution !== undefined) throw new Error("the 3 MB image is left out");
 * ```
 */
export function fitRecord(record: TaskRecord, limit: number, encoded?: string): string {
  let text = encoded ?? json(record);
  if (text.length <= limit / 4 || new TextEncoder().encode(text).length <= limit) return text;
  const cut: TaskRecord = { ...record, log: [...record.log] };
  const note = (what: string) =>
    appendLog(cut, {
      at: Date.now(),
      level: "warn",
      message: `${what}: the record is larger than the NATS server's max_payload (${limit} bytes)`,
    });
  const fits = () => new TextEncoder().encode(text = json(cut)).length <= limit;
  if (cut.outcome && "execution" in cut.outcome && cut.outcome.execution) {
    cut.outcome = { ...cut.outcome, execution: undefined };
    note("the outputs of the run were left out of the stored record");
    if (fits()) return text;
  }
  if (cut.outcome?.status === "ok") {
    cut.outcome = { ...cut.outcome, result: "(left out: too large to store)" };
    note("the result was left out of the stored record");
    if (fits()) return text;
  }
  if (cut.outcome?.status === "error" && cut.outcome.traceback.length > 1_000) {
    cut.outcome = { ...cut.outcome, traceback: cut.outcome.traceback.slice(-1_000) };
    if (fits()) return text;
  }
  cut.fields = "(left out: too large to store)";
  note("the fields were left out of the stored record");
  if (fits()) return text;
  cut.log = cut.log.slice(-20);
  cut.attributes = {};
  fits();
  return text;
}

/**
 * A {@linkcode TaskStore} on a JetStream KV bucket, shared by every process
 * of a cluster.
 *
 * @example
 * ```ts ignore
 * import { connect } from "@nats-io/transport-node";
 * import { JetStreamTaskStore } from "./jetstream_kv.ts";
 * const nc = await connect({ servers: "nats://127.0.0.1:4222" });
 * const store = await JetStreamTaskStore.connect(nc, { ttlMs: 86_400_000 });
 * await store.get("0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d"); // from any process of the cluster
 * await store.close();
 * ```
 */
export class JetStreamTaskStore implements TaskStore {
  /** Records outlive every process (they are on the NATS server's disk). */
  readonly durable = true;
  readonly bucket: string;
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  /** Writes: pipelined publishes to the bucket's subjects (see `jetstream_publish.ts`). */
  readonly #publisher: JetStreamPublisher;
  /** Put since the last flush, by key. */
  #pending = new Map<string, Value>();
  /** Flushed and not yet stored, by key: what `get` answers meanwhile. */
  readonly #inflight = new Map<string, { value: Value; version: number }>();
  /** The latest write issued per key still going through (a retry of an older one is dropped). */
  #version = 0;
  readonly #writes = new Set<Promise<void>>();
  #closing = false;
  readonly #waitForUnfinished: boolean;
  /** Unfinished records flushed in this turn of the event loop, written at its end (see `waitForUnfinished`). */
  #thisTurn = new Map<string, TaskRecord>();
  /** Tasks whose final write someone else waits for (`holdEnd`), by key. */
  readonly #endHolds = new Map<string, EndHold>();
  /** Why such a write failed for good, until the next flush reports it. */
  #heldFailure: unknown = undefined;
  /** For the bucket's stream (`list` reads its subjects), made on first use. */
  #manager: Promise<JetStreamManager> | undefined;
  /** What a read that finds no bucket does: nothing when it may not exist yet (a client's). */
  readonly #noBucket: (error: unknown) => undefined;
  /** Values the bucket holds that are not records: said once each. */
  readonly #warned = new Set<string>();

  private constructor(
    nc: NatsConnection,
    kv: KV,
    bucket: string,
    options: { mayBeMissing?: boolean; waitForUnfinished?: boolean } = {},
  ) {
    const mayBeMissing = options.mayBeMissing ?? false;
    this.#waitForUnfinished = options.waitForUnfinished ?? true;
    this.#nc = nc;
    this.#kv = kv;
    this.bucket = bucket;
    this.#publisher = new JetStreamPublisher(nc);
    // A bound bucket that does not exist answers a direct get with "no responders".
    this.#noBucket = mayBeMissing
      ? (error) =>
        /stream not found|no ?responders/i.test(String(error)) ? undefined : noBucket(error)
      : noBucket;
  }

  /**
   * Open the bucket, creating it (file storage, one revision per key, a TTL
   * of `ttlMs`) if no process of the cluster has yet.
   */
  static async connect(
    nc: NatsConnection,
    options: JetStreamStoreOptions = {},
  ): Promise<JetStreamTaskStore> {
    const bucket = options.bucket ?? DEFAULT_RECORD_BUCKET;
    const ttlMs = options.ttlMs ?? 3_600_000;
    if (options.create === false) {
      return new JetStreamTaskStore(nc, await new Kvm(nc).open(bucket), bucket, {
        mayBeMissing: true,
      });
    }
    const kv = await new Kvm(nc).create(bucket, {
      history: 1,
      ttl: ttlMs,
      storage: StorageType.File,
    });
    const status = await kv.status();
    if (status.ttl !== ttlMs) {
      console.error(
        `[zest] the cluster's record bucket ${bucket} keeps records ${status.ttl} ms ` +
          `(set by the process that created it), not the ${ttlMs} ms configured here`,
      );
    }
    return new JetStreamTaskStore(nc, kv, bucket, {
      waitForUnfinished: options.waitForUnfinished,
    });
  }

  /** How long the bucket keeps a record after its last write, in ms. */
  async ttlMs(): Promise<number> {
    return (await this.#kv.status()).ttl;
  }

  /** None: in a cluster, unfinished tasks wait in the stream, not in the store. */
  open(): Promise<TaskRecord[]> {
    return Promise.resolve([]);
  }

  /** Keep `record` for the next flush. */
  put(record: TaskRecord): void {
    const key = recordKey(record.id);
    if (!key) throw new TypeError(`task id '${String(record.id).slice(0, 40)}' cannot be a key`);
    this.#pending.set(key, record);
  }

  /** Remove record `id` with the next flush. */
  delete(id: string): void {
    const key = recordKey(id);
    if (key) this.#pending.set(key, null);
  }

  /**
   * Publish what was put since the last flush; resolves once the server has
   * stored all of it. Nothing put: nothing to wait for.
   */
  flush(): void | Promise<void> {
    const heldFailure = this.#heldFailure;
    if (heldFailure !== undefined) {
      // A final record held by someone else (`holdEnd`) could not be stored: the store
      // fails as if this flush had written it, so the manager takes no new tasks.
      this.#heldFailure = undefined;
      const written = this.flush();
      return Promise.resolve(written).then(() => Promise.reject(heldFailure));
    }
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    if (!this.#waitForUnfinished) {
      for (const [key, value] of batch) {
        if (value === null || typeof value === "string" || isTerminal(value.state)) {
          this.#thisTurn.delete(key); // Replaced by this write.
        } else {
          batch.delete(key);
          if (this.#thisTurn.size === 0) setImmediate(() => this.#writeThisTurn());
          this.#thisTurn.set(key, value);
        }
      }
    }
    return this.#writeBatch(batch);
  }

  /** Write the unfinished records of the turn that nothing replaced. */
  #writeThisTurn(): void {
    if (this.#thisTurn.size === 0) return;
    const batch = this.#thisTurn;
    this.#thisTurn = new Map();
    this.#writeBatch(batch);
  }

  /** Publish `batch`; a promise when it must be waited for (see `waitForUnfinished`, `holdEnd`). */
  #writeBatch(batch: Map<string, Value>): void | Promise<void> {
    if (batch.size === 0) return;
    const writes: Promise<void>[] = [];
    const limit = this.#valueLimit();
    let wait = this.#waitForUnfinished;
    for (const [key, value] of batch) {
      const ended = value !== null && typeof value !== "string" && isTerminal(value.state);
      const hold = ended ? this.#endHolds.get(key) : undefined;
      if (hold) this.#endHolds.delete(key);
      else if (value === null || typeof value === "string" || ended) wait = true;
      const version = ++this.#version;
      this.#inflight.set(key, { value, version });
      const data = value === null
        ? null
        : typeof value === "string"
        ? value
        : fitRecord(value, limit);
      const write = this.#write(key, data, version, hold?.copyTo).finally(() => {
        if (this.#inflight.get(key)?.version === version) this.#inflight.delete(key);
      });
      if (!hold) {
        writes.push(write);
        continue;
      }
      this.#writes.add(write);
      // Its holder acts on it; the manager hears of it at its next flush (see `flush`).
      write.catch((error) => this.#heldFailure ??= error).finally(() => this.#writes.delete(write));
      callSent(hold, value as TaskRecord, write);
    }
    if (writes.length === 0) return;
    const all = Promise.all(writes).then(() => {});
    this.#writes.add(all);
    all.catch((error) => {
      if (!wait) console.error("[zest] a record write to NATS failed:", (error as Error).message);
    }).finally(() => this.#writes.delete(all));
    return wait ? all : undefined;
  }

  /**
   * Store `record` now and wait until the server has it (whatever
   * `waitForUnfinished` says); `encoded`: its JSON, when the caller has it.
   */
  async persist(record: TaskRecord, encoded?: string): Promise<void> {
    const key = recordKey(record.id);
    if (!key) throw new TypeError(`task id '${String(record.id).slice(0, 40)}' cannot be a key`);
    this.#pending.delete(key); // This write is the latest.
    this.#thisTurn.delete(key);
    const version = ++this.#version;
    this.#inflight.set(key, { value: record, version });
    const data = fitRecord(record, this.#valueLimit(), encoded);
    const write = this.#write(key, data, version).finally(() => {
      if (this.#inflight.get(key)?.version === version) this.#inflight.delete(key);
    });
    this.#writes.add(write);
    write.catch(() => {}).finally(() => this.#writes.delete(write));
    await write;
  }

  /**
   * Say, durably, that task `id` is given back to the cluster without having
   * started (its replica stops): the replica it is delivered to next runs it
   * as a task that never ran (see `wasGivenBack`). Kept as long as records.
   */
  async noteGivenBack(id: string): Promise<void> {
    const key = recordKey(id);
    if (!key) return;
    await this.#publisher.publish(this.#subject(`g.${id}`), "1");
  }

  /**
   * Claim idempotency key `key` for the task `claim` describes, if no task
   * holds it (a create: compare and set on "no value"); else the claim that
   * holds it, with its revision (for `replaceKey`).
   */
  async claimKey(
    key: string,
    claim: KeyHolder,
  ): Promise<{ holder: KeyHolder; revision: number } | undefined> {
    for (let round = 0; round < 5; round++) {
      try {
        await this.#publisher.publish(this.#subject(keyKey(key)), JSON.stringify(claim), {
          expectLastSubjectSequence: 0,
        });
        return undefined;
      } catch (error) {
        if (!isWrongSequence(error)) throw error;
      }
      const entry = await this.#kv.get(keyKey(key));
      if (!entry) continue; // Gone meanwhile: claim again.
      let holder: KeyHolder | undefined;
      try {
        holder = entry.operation === "PUT" ? JSON.parse(entry.string()) as KeyHolder : undefined;
      } catch {
        holder = undefined; // Not a claim: free to take.
      }
      if (holder) return { holder, revision: entry.revision };
      if (await this.replaceKey(key, claim, entry.revision)) return undefined;
    }
    throw new Error(`idempotency key ${JSON.stringify(key)}: contended, try again`);
  }

  /** Give key `key` to `claim` if it is still at `revision` (its task is gone); false if not. */
  async replaceKey(key: string, claim: KeyHolder, revision: number): Promise<boolean> {
    try {
      await this.#publisher.publish(this.#subject(keyKey(key)), JSON.stringify(claim), {
        expectLastSubjectSequence: revision,
      });
      return true;
    } catch (error) {
      if (isWrongSequence(error)) return false;
      throw error;
    }
  }

  /** Free key `key` (its task was refused after all). */
  async releaseKey(key: string): Promise<void> {
    await this.#publisher.publish(this.#subject(keyKey(key)), "", {
      headers: { "KV-Operation": "DEL" },
    });
  }

  /**
   * From now on, the final record of task `id` (the first write of it in an
   * ended state) is `hold`'s to wait for: the flush that sends it does not,
   * and `hold.sent` gets the write (copied to `hold.copyTo`, if set). So a
   * task's handler need not wait for other tasks' final writes before it
   * starts, and a submitter can be told the outcome at once and know from
   * the server itself when the record that holds it is stored (see
   * `src/transport/nats/host.ts`). `undefined` forgets it.
   */
  holdEnd(id: string, hold: EndHold | undefined): void {
    const key = recordKey(id);
    if (!key) return;
    if (hold) this.#endHolds.set(key, hold);
    else this.#endHolds.delete(key);
  }

  /** Whether task `id` was given back without having started (`noteGivenBack`). */
  async wasGivenBack(id: string): Promise<boolean> {
    if (!recordKey(id)) return false;
    const entry = await this.#kv.get(`g.${id}`).catch(this.#noBucket);
    return entry?.operation === "PUT";
  }

  /** The record with this id: the latest put of this process, else the bucket's. */
  async get(id: string): Promise<TaskRecord | undefined> {
    const key = recordKey(id);
    if (!key) return undefined;
    const local = this.#local(key);
    if (local !== undefined) return local === null ? undefined : local as TaskRecord;
    return (await this.read(id))?.record;
  }

  /** The record in the bucket now, with its revision (for `replace`); nothing local. */
  async read(id: string): Promise<StoredRecord | undefined> {
    const key = recordKey(id);
    if (!key) return undefined;
    const entry = await this.#kv.get(key).catch(this.#noBucket);
    if (!entry || entry.operation !== "PUT") return undefined;
    const record = this.#parse(key, entry.string());
    return record && { record, revision: entry.revision };
  }

  /**
   * Wait until task `id` has ended: its final record; `undefined` if there
   * is no such record (or it is removed meanwhile). Follows the key (a KV
   * watch), so any process's write is seen as it lands.
   */
  async ended(id: string, signal?: AbortSignal): Promise<TaskRecord | undefined> {
    signal?.throwIfAborted();
    const key = recordKey(id);
    if (!key) return undefined;
    const watch = await this.#kv.watch({ key });
    const stop = () => watch.stop();
    signal?.addEventListener("abort", stop, { once: true });
    try {
      signal?.throwIfAborted();
      // Read after the watch is set up: a write in between is not missed.
      const first = await this.read(id);
      if (!first) return undefined;
      if (isTerminal(first.record.state)) return first.record;
      for await (const entry of watch) {
        if (entry.operation !== "PUT") return undefined;
        const record = this.#parse(key, entry.string());
        if (record && isTerminal(record.state)) return record;
      }
      signal?.throwIfAborted();
      return undefined;
    } finally {
      signal?.removeEventListener("abort", stop);
      watch.stop();
    }
  }

  /**
   * Store `record` only if its key is still at `revision` (compare and set);
   * false if someone wrote it since.
   */
  async replace(record: TaskRecord, revision: number): Promise<boolean> {
    const key = recordKey(record.id) as string;
    try {
      await this.#publisher.publish(this.#subject(key), fitRecord(record, this.#valueLimit()), {
        expectLastSubjectSequence: revision,
      });
      return true;
    } catch (error) {
      if (isWrongSequence(error)) return false;
      throw error;
    }
  }

  /**
   * Records matching `query`, newest first (by id: UUIDv7 is time-ordered),
   * a page at a time. The ids come from the bucket's stream (its subjects:
   * no record is read for them) and the local writes not stored yet; then
   * records are read newest first, `LIST_READ_BATCH` at a time, until the
   * page is full: a page without a filter reads its own records only.
   */
  async list(query?: TaskListQuery): Promise<TaskPage> {
    const checked = checkListQuery({ ...query, cursor: undefined });
    const before = query?.cursor === undefined ? undefined : cursorId(query.cursor);
    const ids = new Set(await this.#storedIds());
    for (const map of [this.#inflight, this.#thisTurn, this.#pending]) {
      for (const key of map.keys()) if (key.startsWith("t.")) ids.add(key.slice(2));
    }
    const newestFirst = [...ids]
      .filter((id) => before === undefined || id < before)
      .sort((a, b) => a < b ? 1 : a > b ? -1 : 0);
    const page: TaskRecord[] = [];
    for (let at = 0; at < newestFirst.length && page.length <= checked.limit;) {
      const batch = newestFirst.slice(at, at += LIST_READ_BATCH);
      for (const record of await Promise.all(batch.map((id) => this.get(id)))) {
        if (record && matches(record, checked)) page.push(record);
        if (page.length > checked.limit) break;
      }
    }
    const records = page.slice(0, checked.limit);
    return page.length > checked.limit
      ? { records, next: `k${records[records.length - 1].id}` }
      : { records };
  }

  /** The ids of the records in the bucket (and of those removed, until the server drops their marks). */
  async #storedIds(): Promise<string[]> {
    this.#manager ??= jetstreamManager(this.#nc);
    const keys = await bucketKeys(await this.#manager, this.bucket, "t.").catch(this.#noBucket);
    return (keys ?? []).map((key) => key.slice(2));
  }

  /** The bucket, its values and bytes. */
  async stats(): Promise<StoreStats> {
    const status = await this.#kv.status().catch(this.#noBucket);
    return {
      kind: "nats",
      path: `NATS KV bucket ${this.bucket}`,
      bytes: status?.size ?? 0,
      records: status?.values ?? 0,
    };
  }

  /** The value kept under `name`. */
  async getMeta(name: string): Promise<string | undefined> {
    const key = metaKey(name);
    const local = this.#local(key);
    if (local !== undefined) return local === null ? undefined : local as string;
    const entry = await this.#kv.get(key).catch(this.#noBucket);
    return entry?.operation === "PUT" ? entry.string() : undefined;
  }

  /** Keep `value` under `name` with the next flush. */
  putMeta(name: string, value: string): void {
    this.#pending.set(metaKey(name), value);
  }

  /**
   * Write what is pending and wait (up to 10 s, the server may be away) for
   * every write going through. The connection is the caller's to close.
   */
  async close(): Promise<void> {
    await this.flush();
    this.#writeThisTurn();
    this.#closing = true;
    await untilSettled(this.#writes, CLOSE_GRACE_MS);
    if (this.#inflight.size > 0) {
      console.error(`[zest] ${this.#inflight.size} record writes had not reached NATS at close`);
    }
    this.#publisher.close();
  }

  /** The latest local value of `key`: `undefined` if none, `null` if removed. */
  #local(key: string): Value | undefined {
    if (this.#pending.has(key)) return this.#pending.get(key);
    return this.#thisTurn.get(key) ?? this.#inflight.get(key)?.value;
  }

  /** The subject a write of `key` goes to (what `kv.put` publishes to). */
  #subject(key: string): string {
    return `$KV.${this.bucket}.${key}`;
  }

  /** The largest value the server takes (its `max_payload`, less room for headers). */
  #valueLimit(): number {
    const maxPayload = this.#nc.info?.max_payload ?? 1024 * 1024;
    return Math.max(HEADROOM_BYTES, maxPayload - HEADROOM_BYTES);
  }

  /** Write `data` (or remove) under `key`; retried while the failure is transient and nothing newer replaced it. */
  async #write(key: string, data: string | null, version: number, copyTo?: string): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        await (data === null
          ? this.#publisher.publish(this.#subject(key), "", { headers: { "KV-Operation": "DEL" } })
          : this.#publisher.publish(this.#subject(key), data, { copyTo }));
        return;
      } catch (error) {
        const superseded = this.#inflight.get(key)?.version !== version;
        if (superseded) return;
        if (!isTransient(error) || this.#closing || this.#nc.isClosed()) throw error;
        if (attempt === 1) {
          console.error(
            `[zest] a record write to NATS failed (${(error as Error).message}): retrying`,
          );
        }
        const delay = Math.min(MAX_RETRY_DELAY_MS, 100 * 2 ** Math.min(attempt, 10));
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
  }

  /** The record in `text`, or `undefined` (said once per key) if it is not one. */
  #parse(key: string, text: string): TaskRecord | undefined {
    try {
      const value = JSON.parse(text);
      if (isRecord(value)) return value;
    } catch {
      // Said below.
    }
    if (!this.#warned.has(key) && this.#warned.size < 1_000) {
      this.#warned.add(key);
      console.error(`[zest] ${this.bucket} ${key.slice(0, 220)} holds no task record: skipped`);
    }
    return undefined;
  }
}

/** Run `hold.sent`: what it throws is a bug of its own, not a failed write. */
function callSent(hold: EndHold, record: TaskRecord, stored: Promise<void>): void {
  try {
    hold.sent(record, stored);
  } catch (error) {
    console.error("[zest] after sending a final record:", error);
  }
}

/** Whether `error` is a compare and set that found another revision. */
function isWrongSequence(error: unknown): boolean {
  return error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);
}

/** The KV key of idempotency key `key`: its SHA-256 in hex (any text fits). */
function keyKey(key: string): string {
  return `k.${createHash("sha256").update(key).digest("hex")}`;
}

/** `undefined` when `error` says the bucket does not exist (yet); else rethrown. */
function noBucket(error: unknown): undefined {
  if (/stream not found/i.test((error as Error)?.message)) return undefined;
  throw error;
}

/** The id a cursor of this store stands for. */
function cursorId(cursor: unknown): string {
  if (typeof cursor === "string" && /^k[A-Za-z0-9_-]{1,200}$/.test(cursor)) return cursor.slice(1);
  throw new RangeError("cursor: not a cursor this store gave (pass back a page's `next`)");
}

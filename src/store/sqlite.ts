/**
 * The durable task store: SQLite through Deno's built-in `node:sqlite` (no
 * native addon), with an append-only intent log in front of it.
 *
 * ## How a record reaches the disk
 *
 * 1. `put(record)` keeps the record in memory (a `Map` set); `get`/`list`
 *    see it at once.
 * 2. `flush()` writes every record put since the previous flush (each once,
 *    in its latest state) to the intent log `<db>-intent.<n>` as lines, with
 *    one `write` — this is the durability point. One SQLite commit per flush
 *    would cost far more: each commit writes several pages, and checkpoints
 *    stall on `fsync`.
 * 3. A Web Worker owning the only write connection applies the flushed lines
 *    to the database in large transactions (WAL; at least 100 ms apart; a task
 *    submitted and finished within one costs one row write; many rows a
 *    statement), records in the same transaction how far the log is applied,
 *    and acknowledges. Until then reads are served from memory; afterwards
 *    from a read-only connection on the main thread. A second worker copies
 *    the WAL into the database after each transaction (a checkpoint, with its
 *    `fsync`s), so that the writer does not wait for the disk. Should the
 *    worker fall more than `maxUnapplied` records behind, `flush()` returns a
 *    promise that resolves once it has applied its next transaction (memory
 *    stays bounded, and the caller flushes while the worker writes).
 * 4. A log file that passes 16 MiB is closed and a new one started; a closed
 *    one is deleted once all of it is applied. `open()` applies every log line
 *    not applied yet (a torn last line is skipped), then removes the logs.
 * 5. Retention runs in the worker, on a timer set at the next expiry (at most
 *    50 ms late): nothing else needs to happen for expired records to go. The
 *    pages they leave are reused, so under a steady load the file stops
 *    growing; when more than a quarter of it is free (and at least 8 MB), the
 *    free pages are given back (`PRAGMA incremental_vacuum`).
 *
 * ## What survives what (`synchronous`)
 *
 * - `"normal"` (default): a **process crash** (`kill -9`, out of memory, a
 *   panic) loses nothing that was flushed: the log write was in the
 *   operating system's hands when `flush()` returned. A **power cut** or an
 *   operating-system crash can lose what was flushed in the last seconds
 *   (what the kernel had not written back yet); the database itself stays
 *   consistent (SQLite WAL, `synchronous=NORMAL`).
 * - `"full"`: `flush()` also `fdatasync`s the log and returns a promise that
 *   resolves once the bytes are on the disk (one sync covers every flush made
 *   while the previous one ran), and SQLite runs `synchronous=FULL`: a power
 *   cut loses nothing that was flushed. Each sync costs a few milliseconds on
 *   a virtual disk (measured ~4 ms here), shared by the flushes that wait for it.
 *
 * ## Files beside the database
 *
 * `zest.db` (the database, schema in `schema.ts`, 8 KiB pages), `zest.db-wal`
 * (SQLite's write-ahead log: up to 64 MiB, copied into the database and cut
 * back when full) and `zest.db-shm`, `zest.db-intent.<n>` (the intent log,
 * gone after a clean close), `zest.db-lock` (holds an exclusive lock and the
 * pid of the runtime using the store).
 *
 * ## Refusals at open
 *
 * `open()` throws `StoreOpenError`, naming the file and the cause, when
 * another runtime holds the store, the file is not an SQLite database or is
 * corrupt (`PRAGMA quick_check` reads every page at open: ~0.6 s per 190 MB
 * measured here), the directory cannot be written, or the file was written
 * by a newer Zest. An older file is migrated.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { RingQueue } from "../actor/queue.ts";
import { Retention } from "../manager/retention.ts";
import {
  type CheckedListQuery,
  checkListQuery,
  encodeCursor,
  matches,
  type RetentionOptions,
  StoreFailedError,
  StoreOpenError,
  type StoreStats,
  type TaskListQuery,
  type TaskPage,
  type TaskStore,
} from "../manager/store.ts";
import { isTerminal, type TaskRecord } from "../task/record.ts";
import { deleteLine, IntentLogFile, metaLine, putLine } from "./intent_log.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import type { FromWorker, LogPosition, Synchronous, ToWorker } from "./sqlite_writer.ts";

export type { Synchronous } from "./sqlite_writer.ts";

/**
 * An SQLite store as a runtime (`Runtime.start({ store })`) or a config file
 * names it: the file, and what a flushed record survives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SqliteStoreFile } from "./sqlite.ts";
 * const store: SqliteStoreFile = { path: ".zest/zest.db", synchronous: "full" };
 * assert.equal(store.synchronous, "full");
 * ```
 */
export interface SqliteStoreFile {
  /** The database file; its directory is created if missing. */
  path: string;
  /**
   * What a flushed record survives: `"normal"` (the default) a crash or a
   * `kill -9` of the process; `"full"` a power cut too, at a cost per flush
   * (see the module documentation).
   */
  synchronous?: Synchronous;
}

/**
 * Options of {@linkcode SqliteTaskStore}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SqliteStoreOptions } from "./sqlite.ts";
 * const options: SqliteStoreOptions = { path: ".zest/zest.db", retention: { ttlMs: 86_400_000 } };
 * assert.equal(options.maxUnapplied, undefined); // 20 000 by default
 * ```
 */
export interface SqliteStoreOptions extends SqliteStoreFile {
  /** How long finished records are kept, and how many. */
  retention?: RetentionOptions;
  /** A new log file starts past this size. Default 16 MiB. */
  logFileBytes?: number;
  /**
   * When more than this many flushed records wait for the database, `flush()`
   * returns a promise that resolves once the worker has applied its next
   * transaction (back-pressure, bounding memory). Default 20 000: measured here, 50 000
   * held ~100 MB more (RSS ~550 MB against ~450 MB after 300 000 tasks with
   * 1 000 in flight) for no more tasks per second, the worker setting the pace.
   */
  maxUnapplied?: number;
}

/** What the last `open()` found: for the runtime to report. */
export interface StoreRecovery {
  /** Intent log lines applied at open (left by a run that did not close the store). */
  replayedLines: number;
  /** Lines skipped because a crash cut them short. */
  tornLines: number;
  /** The schema version the file was migrated from; undefined if none was needed. */
  migratedFrom: number | undefined;
  /** The records `open()` returned (not ended when the store was last used), by state. */
  unfinished: Record<"waiting" | "queued" | "running", number>;
}

/** A record (or a deletion) the database may not have yet. */
interface Pending {
  readonly id: string;
  /** Undefined: deleted. */
  record: TaskRecord | undefined;
  seq: number;
  /** The flush that logged its latest state; {@linkcode UNFLUSHED} until then. */
  flushNo: number;
  /** A record new to this store, whose first put the database does not have yet. */
  fresh: boolean;
}

const UNFLUSHED = 0;
/** Flushed log text waits this long for more before it goes to the worker. */
const POST_DELAY_MS = 2;
/** ...or until there is this much of it. */
const POST_BYTES = 1 << 20;
/** The outbox's size: what is not posted yet, and a large flush after it. */
const OUTBOX_BYTES = POST_BYTES * 4;

const encoder = new TextEncoder();

interface Row {
  seq: number;
  id: string;
  record: string;
}

/**
 * The SQLite {@linkcode TaskStore}.
 *
 * @example
 * ```ts
 * import { SqliteTaskStore } from "./sqlite.ts";
 * const path = `${Deno.makeTempDirSync()}/zest.db`;
 * const store = new SqliteTaskStore({ path, retention: { ttlMs: 86_400_000 } });
 * const unfinished = await store.open(); // not ended when it was last used
 * console.log(unfinished.length, await store.stats());
 * await store.close();
 * ```
 */
export class SqliteTaskStore implements TaskStore {
  /** Records outlive the process: a stopping runtime keeps its queued tasks here. */
  readonly durable = true;
  readonly path: string;
  /** Set by `open()`. */
  recovery: StoreRecovery | undefined;
  readonly #synchronous: Synchronous;
  readonly #retention: RetentionOptions;
  readonly #logFileBytes: number;
  readonly #maxUnapplied: number;
  #state: "new" | "open" | "closing" | "closed" = "new";
  #lock: Deno.FsFile | undefined;
  #worker: Worker | undefined;
  /** The worker died (an uncaught error): it will answer nothing more. */
  #workerDead = false;
  #reply: PromiseWithResolvers<FromWorker> | undefined;
  #log: IntentLogFile | undefined;
  /** Full log files, deleted once applied... */
  #retiredLogs: IntentLogFile[] = [];
  /** ...which takes until their syncs have ended. */
  readonly #deletingLogs = new Set<Promise<void>>();
  #read: DatabaseSync | undefined;
  readonly #statements = new Map<string, StatementSync>();
  /** Every put/delete the database may not have yet, by id. */
  readonly #pending = new Map<string, Pending>();
  /** Those not flushed yet. */
  #dirty: Pending[] = [];
  /** Meta values put, until the database has them: the flush that logged each (0: not yet). */
  readonly #pendingMeta = new Map<string, { value: string; flushNo: number }>();
  /** Names of those not flushed yet. */
  #dirtyMeta = new Set<string>();
  /** Flushes not applied yet, oldest first. */
  readonly #unapplied = new RingQueue<{ flushNo: number; entries: Pending[] }>();
  #flushNo = 0;
  #appliedFlushNo = 0;
  #appliedWaiters: { flushNo: number; done: PromiseWithResolvers<void> }[] = [];
  /**
   * Log text written but not yet sent to the worker: `#outbox[0, #unsent)`.
   * Reused: allocating it per flush cost more than the encoding.
   */
  #outbox = new Uint8Array(OUTBOX_BYTES);
  #unsent = 0;
  #postTimer: ReturnType<typeof setTimeout> | undefined;
  /** Submission numbers of the records this store has seen. */
  readonly #seqs = new WeakMap<TaskRecord, number>();
  #lastSeq = 0;
  /** Pending entries that are {@linkcode Pending.fresh}. */
  #unappliedNew = 0;
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;

  /** A store on `options.path`; nothing is touched before `open()`. */
  constructor(options: SqliteStoreOptions) {
    if (typeof options.path !== "string" || options.path === "") {
      throw new TypeError("path: expected the path of the database file");
    }
    if (options.synchronous !== undefined && !["normal", "full"].includes(options.synchronous)) {
      throw new RangeError(`synchronous: expected "normal" or "full", got ${options.synchronous}`);
    }
    this.path = options.path.startsWith("/") ? options.path : `${Deno.cwd()}/${options.path}`;
    this.#synchronous = options.synchronous ?? "normal";
    this.#retention = new Retention(options.retention).options;
    this.#logFileBytes = positive("logFileBytes", options.logFileBytes) ?? 16 << 20;
    this.#maxUnapplied = positive("maxUnapplied", options.maxUnapplied) ?? 20_000;
  }

  /**
   * Open the store: lock it, create or migrate the database, apply the intent
   * log left by the previous run. Returns the records that had not ended
   * (waiting, queued or running) when the store was last used, in submission
   * order.
   */
  async open(): Promise<TaskRecord[]> {
    if (this.#state !== "new") throw new Error(`${this.path}: the store was already opened`);
    this.#state = "open";
    try {
      checkDirectory(this.path);
      this.#lock = lockStore(this.path);
      const worker = this.#worker = new Worker(
        new URL("./sqlite_worker.ts", import.meta.url).href,
        { type: "module" },
      );
      worker.onmessage = (event: MessageEvent<FromWorker>) => this.#onWorkerMessage(event.data);
      worker.onerror = (event: ErrorEvent) => {
        event.preventDefault();
        this.#workerDead = true;
        this.#fail(
          new StoreFailedError(`${this.path}: the store's worker failed: ${event.message}`),
        );
      };
      const opened = await this.#ask({
        kind: "open",
        path: this.path,
        synchronous: this.#synchronous,
        retention: this.#retention,
      });
      if (opened.kind !== "opened") {
        throw new StoreOpenError(
          this.path,
          opened.kind === "refused" || opened.kind === "failed" ? opened.message : opened.kind,
        );
      }
      const { lastSeq, replayed, torn, foundVersion } = opened.opened;
      this.#lastSeq = lastSeq;
      this.#log = IntentLogFile.create(this.path, opened.opened.generation);
      if (this.#synchronous === "full") syncDirectory(this.path);
      this.#read = new DatabaseSync(this.path, { readOnly: true, timeout: 5_000 });
      const rows = this.#statement(
        "unfinished",
        "SELECT seq, id, record FROM tasks WHERE finished_at IS NULL ORDER BY seq",
      ).all() as unknown as Row[];
      const unfinished = rows.map((row) => this.#parse(row));
      const counts = { waiting: 0, queued: 0, running: 0 };
      for (const record of unfinished) counts[record.state as keyof typeof counts]++;
      this.recovery = {
        replayedLines: replayed,
        tornLines: torn,
        migratedFrom: foundVersion !== undefined && foundVersion < SCHEMA_VERSION
          ? foundVersion
          : undefined,
        unfinished: counts,
      };
      return unfinished;
    } catch (error) {
      await this.#release();
      this.#state = "closed";
      if (error instanceof StoreOpenError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new StoreOpenError(this.path, `${this.path} cannot be opened: ${message}`, {
        cause: error,
      });
    }
  }

  /** Insert or replace by id: visible at once, durable after the next `flush()`. */
  put(record: TaskRecord): void {
    const entry = this.#pending.get(record.id);
    if (entry === undefined) {
      const created: Pending = { id: record.id, record, seq: 0, flushNo: UNFLUSHED, fresh: false };
      this.#number(created, record);
      this.#pending.set(record.id, created);
      this.#dirty.push(created);
      return;
    }
    if (entry.record === undefined) this.#number(entry, record);
    entry.record = record;
    if (entry.flushNo !== UNFLUSHED) {
      entry.flushNo = UNFLUSHED;
      this.#dirty.push(entry);
    }
  }

  /** Remove a record: gone for reads at once, durable after the next `flush()`. */
  delete(id: string): void {
    let entry = this.#pending.get(id);
    if (entry === undefined) {
      entry = { id, record: undefined, seq: 0, flushNo: UNFLUSHED, fresh: false };
      this.#pending.set(id, entry);
      this.#dirty.push(entry);
    } else if (entry.flushNo !== UNFLUSHED) {
      entry.flushNo = UNFLUSHED;
      this.#dirty.push(entry);
    }
    entry.record = undefined;
    if (entry.fresh) {
      entry.fresh = false;
      this.#unappliedNew--;
    }
  }

  /**
   * Write every put/delete since the previous flush to the intent log, with
   * one write. Returns undefined when that is all (`synchronous: "normal"`);
   * a promise with `"full"` (resolved once the log is on the disk), or when
   * the database has fallen more than `maxUnapplied` records behind
   * (resolved once the worker has applied its next transaction). Throws {@linkcode StoreFailedError} once
   * the store has failed.
   */
  flush(): void | Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#state !== "open") throw new Error(`${this.path}: the store is not open`);
    if (this.#dirty.length > 0 || this.#dirtyMeta.size > 0) this.#writeDirty();
    const synced = this.#synchronous === "full" ? this.#log?.synced() : undefined;
    if (this.#pending.size <= this.#maxUnapplied) return synced;
    // Until the worker's next transaction, not until all is applied: the
    // caller flushes the next batch while the worker applies this one
    // (waiting for all made them take turns: ~1.5× fewer tasks/s here).
    const applied = this.#whenApplied(this.#unapplied.peek()?.flushNo ?? this.#flushNo);
    return synced ? Promise.all([synced, applied]).then(() => {}) : applied;
  }

  /** The record with id `id`: its latest put, even before a flush. */
  // deno-lint-ignore require-await -- async: a failure rejects the promise instead of throwing
  async get(id: string): Promise<TaskRecord | undefined> {
    const entry = this.#pending.get(id);
    if (entry) return entry.record;
    const row = this.#statement("get", "SELECT seq, id, record FROM tasks WHERE id = ?")
      .get(id) as Row | undefined;
    return row && this.#parse(row);
  }

  /** Matching records, newest first (by submission), a page at a time. */
  // deno-lint-ignore require-await -- async: a bad query rejects the promise instead of throwing
  async list(query?: TaskListQuery): Promise<TaskPage> {
    const checked = checkListQuery(query);
    const wanted = checked.limit + 1;
    const newer: Pending[] = [];
    for (const entry of this.#pending.values()) {
      if (entry.record && entry.seq < checked.before && matches(entry.record, checked)) {
        newer.push(entry);
      }
    }
    newer.sort((a, b) => b.seq - a.seq);
    const page: { seq: number; record: TaskRecord }[] = [];
    let nextPending = 0;
    const { sql, params } = listSql(checked);
    const statement = this.#statement(sql, sql);
    let before = checked.before;
    for (let full = true; full && page.length < wanted;) {
      const rows = statement.all(...params, before, wanted) as unknown as Row[];
      full = rows.length === wanted;
      for (const row of rows) {
        while (
          nextPending < newer.length && newer[nextPending].seq > row.seq && page.length < wanted
        ) page.push(newer[nextPending++] as { seq: number; record: TaskRecord });
        if (page.length === wanted) break;
        // A record with a put or delete still pending is listed as that says.
        if (!this.#pending.has(row.id)) page.push({ seq: row.seq, record: this.#parse(row) });
        before = row.seq;
      }
    }
    while (page.length < wanted && nextPending < newer.length) {
      page.push(newer[nextPending++] as { seq: number; record: TaskRecord });
    }
    const records = page.slice(0, checked.limit).map((item) => item.record);
    return page.length === wanted
      ? { records, next: encodeCursor(page[checked.limit - 1].seq) }
      : { records };
  }

  /** The value kept under `name`: its latest `putMeta`, even before a flush. */
  // deno-lint-ignore require-await -- async: a failure rejects the promise instead of throwing
  async getMeta(name: string): Promise<string | undefined> {
    const pending = this.#pendingMeta.get(name);
    if (pending) return pending.value;
    const row = this.#statement("meta", "SELECT value FROM zest_meta WHERE name = ?").get(name);
    return row?.value as string | undefined;
  }

  /** Keep `value` under `name`: visible at once, durable after the next `flush()`. */
  putMeta(name: string, value: string): void {
    if (typeof name !== "string" || typeof value !== "string") {
      throw new TypeError("putMeta: expected a name and a value that are strings");
    }
    this.#pendingMeta.set(name, { value, flushNo: UNFLUSHED });
    this.#dirtyMeta.add(name);
  }

  /** Where the store is, its size on disk, and how many records it holds. */
  // deno-lint-ignore require-await -- async: a failure rejects the promise instead of throwing
  async stats(): Promise<StoreStats> {
    const counted = this.#statement(
      "count",
      "SELECT coalesce(sum(records), 0) AS n FROM zest_counts",
    )
      .get()?.n as number;
    // New records not applied yet, less deletions not applied yet of stored ones.
    let records = counted + this.#unappliedNew;
    const exists = this.#statement("exists", "SELECT 1 FROM tasks WHERE id = ?");
    for (const entry of this.#pending.values()) {
      if (entry.record === undefined && exists.get(entry.id) !== undefined) records--;
    }
    let bytes = fileSize(this.path) + fileSize(`${this.path}-wal`);
    for (const log of [...this.#retiredLogs, this.#log]) bytes += log?.size ?? 0;
    return { kind: "sqlite", path: this.path, bytes, records };
  }

  /**
   * Resolves once the database holds every change flushed so far (reads no
   * longer need memory for them). For tests and benchmarks.
   */
  applied(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    this.#post();
    return this.#whenApplied(this.#flushNo);
  }

  /**
   * Flush, wait until the database has everything, close it, remove the
   * intent logs and release the lock. After a failure the logs are kept:
   * the next `open()` applies them.
   */
  close(): Promise<void> {
    if (this.#state === "open") this.#closing = this.#close();
    return this.#closing ?? Promise.resolve();
  }

  async #close(): Promise<void> {
    this.#state = "closing";
    try {
      if (!this.#failure && (this.#dirty.length > 0 || this.#dirtyMeta.size > 0)) {
        this.#writeDirty();
      }
      await this.applied();
      await this.#log?.synced();
    } catch (error) {
      this.#fail(error instanceof Error ? error : new Error(String(error)));
    }
    await this.#release();
    this.#state = "closed";
  }

  /** Give `entry` the submission number of `record`: its own, or the next one if it is new. */
  #number(entry: Pending, record: TaskRecord): void {
    const seq = this.#seqs.get(record);
    if (seq !== undefined) {
      entry.seq = seq;
      return;
    }
    this.#seqs.set(record, entry.seq = ++this.#lastSeq);
    entry.fresh = true;
    this.#unappliedNew++;
  }

  #parse(row: Row): TaskRecord {
    const record = JSON.parse(row.record) as TaskRecord;
    this.#seqs.set(record, row.seq);
    return record;
  }

  #statement(key: string, sql: string): StatementSync {
    let statement = this.#statements.get(key);
    if (statement === undefined) {
      if (!this.#read) throw new Error(`${this.path}: the store is not open`);
      statement = this.#read.prepare(sql);
      this.#statements.set(key, statement);
    }
    return statement;
  }

  #writeDirty(): void {
    const log = this.#log as IntentLogFile;
    const flushNo = ++this.#flushNo;
    const entries = this.#dirty;
    this.#dirty = [];
    let text = "";
    for (const entry of entries) {
      entry.flushNo = flushNo;
      text += entry.record === undefined ? deleteLine(entry.id) : putLine(entry.seq, entry.record);
    }
    for (const name of this.#dirtyMeta) {
      const meta = this.#pendingMeta.get(name) as { value: string; flushNo: number };
      meta.flushNo = flushNo;
      text += metaLine(name, meta.value);
    }
    this.#dirtyMeta = new Set();
    const bytes = this.#encode(text);
    try {
      if (log.size > 0 && log.size + bytes.length > this.#logFileBytes) this.#rotate();
      (this.#log as IntentLogFile).append(bytes);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw this.#fail(
        new StoreFailedError(`${this.path}: cannot write the intent log: ${message}`, {
          cause: error,
        }),
      );
    }
    this.#unapplied.push({ flushNo, entries });
    this.#unsent += bytes.length;
    if (this.#unsent >= POST_BYTES) this.#post();
    else this.#postTimer ??= setTimeout(() => this.#post(), POST_DELAY_MS);
  }

  /** `text` as UTF-8 at the end of the outbox (grown if it does not fit). */
  #encode(text: string): Uint8Array {
    const start = this.#unsent;
    let { read, written } = encoder.encodeInto(text, this.#outbox.subarray(start));
    if (read < text.length) {
      // Sized for the rest at 3 bytes a UTF-16 unit: it fits now.
      const end = start + written;
      const larger = new Uint8Array(
        Math.max(end + (text.length - read) * 3, this.#outbox.length * 2),
      );
      larger.set(this.#outbox.subarray(0, end));
      this.#outbox = larger;
      written += encoder.encodeInto(text.slice(read), larger.subarray(end)).written;
    }
    return this.#outbox.subarray(start, start + written);
  }

  #rotate(): void {
    const full = this.#log as IntentLogFile;
    this.#log = IntentLogFile.create(this.path, full.generation + 1);
    if (this.#synchronous === "full") syncDirectory(this.path);
    this.#retiredLogs.push(full);
  }

  /** Send the log text written so far to the worker. */
  #post(): void {
    clearTimeout(this.#postTimer);
    this.#postTimer = undefined;
    if (this.#unsent === 0 || !this.#worker || this.#failure) return;
    const text = this.#outbox.slice(0, this.#unsent);
    const log = this.#log as IntentLogFile;
    this.#unsent = 0;
    if (this.#outbox.length > OUTBOX_BYTES) this.#outbox = new Uint8Array(OUTBOX_BYTES);
    this.#tell(
      {
        kind: "apply",
        text,
        flushNo: this.#flushNo,
        position: { generation: log.generation, bytes: log.size },
      },
      [text.buffer],
    );
  }

  #onWorkerMessage(message: FromWorker): void {
    switch (message.kind) {
      case "applied":
        return this.#onApplied(message.flushNo, message.position);
      case "failed":
        this.#fail(
          new StoreFailedError(`${this.path}: cannot write the database: ${message.message}`),
        );
        return;
    }
    const reply = this.#reply;
    this.#reply = undefined;
    reply?.resolve(message);
  }

  #onApplied(flushNo: number, position: LogPosition): void {
    this.#appliedFlushNo = flushNo;
    for (let flush = this.#unapplied.peek(); flush && flush.flushNo <= flushNo;) {
      this.#unapplied.shift();
      for (const entry of flush.entries) {
        if (entry.fresh) {
          entry.fresh = false;
          this.#unappliedNew--;
        }
        if (entry.flushNo === flush.flushNo && this.#pending.get(entry.id) === entry) {
          this.#pending.delete(entry.id);
        }
      }
      flush = this.#unapplied.peek();
    }
    for (const [name, meta] of this.#pendingMeta) {
      if (meta.flushNo !== UNFLUSHED && meta.flushNo <= flushNo) this.#pendingMeta.delete(name);
    }
    while (this.#retiredLogs.length > 0 && this.#retiredLogs[0].generation < position.generation) {
      const log = this.#retiredLogs.shift() as IntentLogFile;
      const deleting = log.close().then(() => Deno.remove(log.path)).catch(() => {})
        .finally(() => this.#deletingLogs.delete(deleting));
      this.#deletingLogs.add(deleting);
    }
    const waiters = this.#appliedWaiters;
    this.#appliedWaiters = [];
    for (const waiter of waiters) {
      if (waiter.flushNo <= flushNo) waiter.done.resolve();
      else this.#appliedWaiters.push(waiter);
    }
  }

  #whenApplied(flushNo: number): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (flushNo <= this.#appliedFlushNo) return Promise.resolve();
    const done = Promise.withResolvers<void>();
    this.#appliedWaiters.push({ flushNo, done });
    return done.promise;
  }

  /** Record the store's failure: flushes throw it, and waiters are told. */
  #fail(error: Error): Error {
    this.#failure ??= error;
    for (const waiter of this.#appliedWaiters) waiter.done.reject(this.#failure);
    this.#appliedWaiters = [];
    if (this.#workerDead) {
      this.#reply?.resolve({ kind: "failed", message: this.#failure.message });
      this.#reply = undefined;
    }
    return this.#failure;
  }

  #tell(message: ToWorker, transfer: Transferable[] = []): void {
    this.#worker?.postMessage(message, transfer);
  }

  #ask(message: ToWorker): Promise<FromWorker> {
    if (this.#workerDead) {
      return Promise.resolve({ kind: "failed", message: (this.#failure as Error).message });
    }
    this.#reply = Promise.withResolvers<FromWorker>();
    this.#tell(message);
    return this.#reply.promise;
  }

  /** Close everything this store holds; remove the logs if all is applied. */
  async #release(): Promise<void> {
    clearTimeout(this.#postTimer);
    this.#postTimer = undefined;
    this.#statements.clear();
    this.#read?.close();
    this.#read = undefined;
    if (this.#worker) {
      await this.#ask({ kind: "close" });
      this.#worker.terminate();
      this.#worker = undefined;
    }
    await Promise.all(this.#deletingLogs);
    const logs = [...this.#retiredLogs, ...(this.#log ? [this.#log] : [])];
    this.#retiredLogs = [];
    this.#log = undefined;
    for (const log of logs) {
      await log.close();
      if (!this.#failure) Deno.removeSync(log.path);
    }
    this.#pending.clear();
    this.#dirty = [];
    this.#pendingMeta.clear();
    this.#dirtyMeta = new Set();
    this.#unappliedNew = 0;
    if (this.#lock) {
      this.#lock.unlockSync();
      this.#lock.close();
      this.#lock = undefined;
    }
  }
}

/** The filters of a list query that are one column each, and their SQL. */
const FILTERS = [
  ["service", "service = ?"],
  ["type", "type = ?"],
  ["key", "key = ?"],
  ["createdSince", "created_at >= ?"],
  ["createdUntil", "created_at < ?"],
] as const;

/** The SQL of a list query's shape, and its parameters (the cursor and limit go last). */
function listSql(query: CheckedListQuery): { sql: string; params: (string | number)[] } {
  const where: string[] = [];
  const params: (string | number)[] = [];
  for (const [field, condition] of FILTERS) {
    const value = query[field];
    if (value === undefined) continue;
    where.push(condition);
    params.push(value);
  }
  if (query.states !== undefined) {
    where.push(`state IN (${[...query.states].map(() => "?").join(", ")})`);
    params.push(...query.states);
    // Only unfinished states: the partial index of unfinished tasks has them all.
    if (![...query.states].some(isTerminal)) where.push("finished_at IS NULL");
  }
  where.push("seq < ?");
  const sql = `SELECT seq, id, record FROM tasks WHERE ${
    where.join(" AND ")
  } ORDER BY seq DESC LIMIT ?`;
  return { sql, params };
}

/** Create the directory of `path` if needed, and check that files can be made in it. */
function checkDirectory(path: string): void {
  const dir = path.slice(0, path.lastIndexOf("/")) || "/";
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    // Deno's sandbox refuses even an existing directory it may not write.
    const what = error instanceof Deno.errors.NotCapable ? "write in" : "create";
    throw new StoreOpenError(
      path,
      `cannot ${what} ${dir}, the directory of ${path}: ${why(error)}`,
      {
        cause: error,
      },
    );
  }
  try {
    Deno.removeSync(Deno.makeTempFileSync({ dir, prefix: ".zest-write-check-" }));
  } catch (error) {
    throw new StoreOpenError(
      path,
      `cannot write in ${dir}, the directory of ${path}: ${why(error)}`,
      { cause: error },
    );
  }
}

function why(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) {
    return "Deno was not given write access to it (--allow-write)";
  }
  return error instanceof Error ? error.message : String(error);
}

/** Take the store's exclusive lock, or say which process holds it. */
function lockStore(path: string): Deno.FsFile {
  const lockPath = `${path}-lock`;
  const file = Deno.openSync(lockPath, { read: true, write: true, create: true });
  if (!file.tryLockSync(true)) {
    file.close();
    const holder = Deno.readTextFileSync(lockPath).trim() || "unknown";
    throw new StoreOpenError(path, `${path} is in use by another Zest runtime (pid ${holder})`);
  }
  file.truncateSync(0);
  file.writeSync(encoder.encode(`${Deno.pid}\n`));
  return file;
}

/** Make a file just created in the directory of `path` survive a power cut. */
function syncDirectory(path: string): void {
  const dir = Deno.openSync(path.slice(0, path.lastIndexOf("/")) || "/", { read: true });
  try {
    dir.syncSync();
  } finally {
    dir.close();
  }
}

function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}

function positive(field: string, value: number | undefined): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value > 0)) {
    throw new RangeError(`${field}: expected a positive whole number, got ${value}`);
  }
  return value;
}

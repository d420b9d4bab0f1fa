/**
 * The write side of the SQLite store: one connection that applies changes
 * read from the intent log in large transactions, replays the log at open,
 * and runs retention. It runs in the store's worker (`sqlite_worker.ts`);
 * nothing here touches the main thread.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { isTerminal } from "../task/record.ts";
import { Retention } from "../manager/retention.ts";
import { type RetentionOptions, StoreOpenError } from "../manager/store.ts";
import {
  type LogChange,
  logGenerations,
  logPath,
  type MetaChange,
  readCheckedLine,
  readLine,
} from "./intent_log.ts";
import { PAGE_SIZE, prepareSchema } from "./schema.ts";

/** How the store syncs: see the module documentation of `sqlite.ts`. */
export type Synchronous = "normal" | "full";

/** A position in the intent log: everything before it is applied. */
export interface LogPosition {
  generation: number;
  bytes: number;
}

/** What opening found. */
export interface WriterOpened {
  /** The generation the next log file takes (every older one is applied and gone). */
  generation: number;
  /** The last submission number given so far. */
  lastSeq: number;
  /** Log lines applied at open, and lines skipped because they were torn. */
  replayed: number;
  torn: number;
  /** The schema version the file had (undefined: created now). */
  foundVersion: number | undefined;
}

const decoder = new TextDecoder();

/**
 * The checkpointer (`sqlite_checkpointer.ts`) copies the WAL into the
 * database after each transaction; should it fall behind, the writer does it
 * once the WAL holds this many pages (64 MiB of 8 KiB pages), and the WAL is
 * cut back to that size. A checkpoint ends with an fsync that stalls the
 * connection running it (milliseconds on a virtual disk): rarer, larger
 * checkpoints took ~1.5× as many rows per second as SQLite's default of
 * 1 000 pages here.
 */
const CHECKPOINT_PAGES = 8000;

/** Records held of one type, and how many of them are finished. */
interface TypeCount {
  records: number;
  finished: number;
}

/** Where a record stood before a change. */
type Before = "absent" | "unfinished" | "finished";

/** The changes of one transaction, each record's and each meta value's last only. */
interface Changes {
  records: Map<string, LogChange>;
  meta: Map<string, string>;
}

function collect(changes: Changes, change: LogChange | MetaChange): void {
  if ("meta" in change) changes.meta.set(change.meta, change.value);
  else changes.records.set(change.id, change);
}

/**
 * The write connection of a store. It keeps in memory the ids of the
 * unfinished records and the counts per type, so that a change needs no
 * read before its write; the counts are saved with each transaction.
 *
 * @example
 * ```ts
 * import { SqliteWriter } from "./sqlite_writer.ts";
 * const { writer, opened } = SqliteWriter.open("/tmp/zest.db", { synchronous: "normal" });
 * writer.apply([], { generation: opened.generation, bytes: 0 }, Date.now());
 * writer.close();
 * ```
 */
export class SqliteWriter {
  readonly #db: DatabaseSync;
  readonly #retention: Retention;
  readonly #statements: ReturnType<typeof prepare>;
  /** The multi-row statements, by kind and size. */
  readonly #multiRow = new Map<string, StatementSync>();
  /** Ids of the records not ended (waiting, queued or running). */
  readonly #unfinished: Set<string>;
  readonly #counts: Map<string, TypeCount>;
  /** Types whose count changed in the current transaction. */
  readonly #changedTypes = new Set<string>();
  #lastSeq: number;

  private constructor(db: DatabaseSync, retention: Retention, lastSeq: number) {
    this.#db = db;
    this.#retention = retention;
    this.#lastSeq = lastSeq;
    this.#statements = prepare(db);
    const unfinished = db.prepare("SELECT id FROM tasks WHERE finished_at IS NULL").all();
    this.#unfinished = new Set(unfinished.map((row) => row.id as string));
    const counts = db.prepare("SELECT type, records, finished FROM zest_counts").all();
    this.#counts = new Map(
      counts.map((row) => [row.type as string, {
        records: row.records as number,
        finished: row.finished as number,
      }]),
    );
  }

  /**
   * Open (create, migrate) the database at `path`, replay the intent log
   * lines it had not applied, and remove the log files. Throws
   * {@linkcode StoreOpenError} when the file cannot be used.
   */
  static open(
    path: string,
    options: { synchronous: Synchronous; retention?: RetentionOptions },
  ): { writer: SqliteWriter; opened: WriterOpened } {
    const retention = new Retention(options.retention);
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { timeout: 5_000 });
      // Reads every page (~0.6 s per 190 MB here): a damaged file is refused now, not mid-run.
      const problem = db.prepare("PRAGMA quick_check(1)").get()?.quick_check;
      if (problem !== "ok") {
        const detail = String(problem).replace(/\*\*\* in database main \*\*\*\s*/, "");
        throw new StoreOpenError(path, `${path} is corrupt (${detail.replaceAll("\n", "; ")})`);
      }
      const { foundVersion } = prepareSchema(db, path, retention.ttlMs);
      db.exec(`
        PRAGMA synchronous = ${options.synchronous === "full" ? "FULL" : "NORMAL"};
        PRAGMA cache_size = -65536;
        PRAGMA wal_autocheckpoint = ${CHECKPOINT_PAGES};
        PRAGMA journal_size_limit = ${CHECKPOINT_PAGES * PAGE_SIZE};`);
      const progress = db.prepare("SELECT * FROM zest_progress").get() as {
        log_generation: number;
        log_applied_bytes: number;
        last_seq: number;
      };
      const writer = new SqliteWriter(db, retention, progress.last_seq);
      const replay = writer.#replay(path, {
        generation: progress.log_generation,
        bytes: progress.log_applied_bytes,
      });
      return { writer, opened: { ...replay, lastSeq: writer.#lastSeq, foundVersion } };
    } catch (error) {
      db?.close();
      throw asOpenError(path, error);
    }
  }

  /**
   * Apply log text (whole lines) in one transaction, recording `position` as
   * applied. Changes to the same record coalesce: only its last is written.
   * A finished record already past its expiry is not written at all.
   */
  apply(chunks: readonly Uint8Array[], position: LogPosition, now: number): void {
    const changes: Changes = { records: new Map(), meta: new Map() };
    for (const chunk of chunks) {
      for (const line of decoder.decode(chunk).split("\n")) {
        if (line === "") continue;
        const change = readLine(line);
        if (change === undefined) throw new Error(`not a log line: ${line.slice(0, 200)}`);
        collect(changes, change);
      }
    }
    this.#transaction(() => this.#write(changes, position, now));
  }

  /** Remove the finished records whose expiry is at or before `now`. */
  expire(now: number): void {
    this.#transaction(() => {
      for (const [type, count] of this.#counts) {
        if (count.finished === 0) continue;
        const gone = Number(this.#statements.expire.run(type, now).changes);
        this.#count(type, -gone, -gone);
      }
    });
  }

  /** The earliest expiry of a finished record held, if any. */
  nextExpiry(): number | undefined {
    let next: number | undefined;
    for (const [type, count] of this.#counts) {
      if (count.finished === 0) continue;
      const at = this.#statements.nextExpiry.get(type)?.at as number | null;
      if (at !== null && !(next !== undefined && next <= at)) next = at;
    }
    return next;
  }

  /**
   * Give free pages back to the file system once more than a quarter of the
   * file is free (and at least 8 MiB), keeping a tenth of it free: under a
   * steady load freed pages are reused instead, and the file keeps its size.
   */
  shrink(): void {
    const free = this.#statements.freePages.get()?.freelist_count as number;
    const pages = this.#statements.pages.get()?.page_count as number;
    if (free * PAGE_SIZE > 8 << 20 && free * 4 > pages) {
      // Stepped to the end (`exec` would free one page): each step frees one.
      this.#db.prepare(`PRAGMA incremental_vacuum(${free - Math.floor(pages / 10)})`).all();
    }
  }

  /** Close the connection (SQLite checkpoints the WAL into the file). */
  close(): void {
    this.#db.close();
  }

  #write(changes: Changes, position: LogPosition, now: number): void {
    const statements = this.#statements;
    const knownUpTo = this.#lastSeq;
    for (const [name, value] of changes.meta) statements.putMeta.run(name, value);
    /** Rows of records stored unfinished, and of records presumed new. */
    const updates: RowValues[] = [];
    const inserts: RowValues[] = [];
    for (const change of changes.records.values()) {
      if (change.seq > this.#lastSeq) this.#lastSeq = change.seq;
      if (change.put === undefined) {
        this.#delete(change.id);
        continue;
      }
      const { columns, record } = change.put;
      let finishedAt: number | null = null;
      let expiresAt: number | null = null;
      if (isTerminal(columns.state)) {
        finishedAt = columns.finishedAt ?? now;
        expiresAt = this.#retention.expiryOf({
          type: columns.type,
          finishedAt,
          expiresAt: columns.expiresAt ?? undefined,
        }, now);
        if (expiresAt <= now) {
          this.#delete(change.id);
          continue;
        }
      }
      const row: RowValues = [
        change.seq,
        change.id,
        columns.service,
        columns.type,
        columns.state,
        columns.createdAt,
        columns.startedAt,
        finishedAt,
        expiresAt,
        record,
        columns.key,
      ];
      // Where the record stood, without a read when it can be known: every
      // unfinished id is in memory, and a seq above all applied before is
      // new (unless a copy of a finished record was put with a seq of its
      // own: `#updateExisting` finds those).
      let before: Before;
      if (this.#unfinished.has(change.id)) {
        before = "unfinished";
        updates.push(row);
      } else if (change.seq > knownUpTo) {
        before = "absent";
        inserts.push(row);
      } else {
        before = this.#stored(change.id);
        statements.upsert.run(...row);
      }
      const finished = finishedAt !== null;
      if (finished) this.#unfinished.delete(change.id);
      else this.#unfinished.add(change.id);
      this.#count(
        columns.type,
        before === "absent" ? 1 : 0,
        (finished ? 1 : 0) - (before === "finished" ? 1 : 0),
      );
    }
    this.#inRows("upsert", updates);
    this.#inRows("insertNew", inserts);
    statements.progress.run(position.generation, position.bytes, this.#lastSeq);
    this.#applyCaps();
  }

  /**
   * Run the `kind` statement over `rows`, many rows a statement: a call per
   * row cost more than SQLite's own work on it (measured here: ~70k rows/s
   * one a call, ~100k/s 25 or more a call, CPU time).
   */
  #inRows(kind: "upsert" | "insertNew", rows: readonly RowValues[]): void {
    for (let start = 0; start < rows.length;) {
      // The largest size that fits: ROWS_PER_STATEMENT, or a power of two below it.
      let size = ROWS_PER_STATEMENT;
      while (size > rows.length - start) size >>= 1;
      const group = rows.slice(start, start + size);
      const { changes } = this.#statement(kind, size).run(...group.flat());
      if (kind === "insertNew" && Number(changes) < size) this.#updateExisting(group);
      start += size;
    }
  }

  /**
   * Of `rows` presumed new, some were not inserted: their id was already
   * stored, finished (a copy of a finished record put with a seq of its own).
   * Update those, and count them as they were.
   */
  #updateExisting(rows: readonly RowValues[]): void {
    for (const row of rows) {
      const stored = this.#statements.stored.get(row[1]);
      if (stored?.seq === row[0]) continue; // inserted now
      // Not stored at all: another constraint (its seq) skipped it, which the upsert raises.
      this.#statements.upsert.run(...row);
      if (stored) this.#count(row[3], -1, stored.finished ? -1 : 0);
    }
  }

  /** The statement `kind` for `size` rows, prepared on first use. */
  #statement(kind: "upsert" | "insertNew", size: number): StatementSync {
    if (kind === "upsert" && size === 1) return this.#statements.upsert;
    const key = `${kind} ${size}`;
    let statement = this.#multiRow.get(key);
    if (statement === undefined) {
      statement = this.#db.prepare(kind === "upsert" ? upsertSql(size) : insertNewSql(size));
      this.#multiRow.set(key, statement);
    }
    return statement;
  }

  #stored(id: string): Before {
    const row = this.#statements.stored.get(id);
    return row === undefined ? "absent" : row.finished ? "finished" : "unfinished";
  }

  #delete(id: string): void {
    for (const row of this.#statements.delete.all(id)) {
      this.#count(row.type as string, -1, row.finished ? -1 : 0);
    }
    this.#unfinished.delete(id);
  }

  #count(type: string, records: number, finished: number): void {
    if (records === 0 && finished === 0) return;
    let count = this.#counts.get(type);
    if (count === undefined) this.#counts.set(type, count = { records: 0, finished: 0 });
    count.records += records;
    count.finished += finished;
    this.#changedTypes.add(type);
  }

  /**
   * Keep at most `maxRecords` finished records, per capped type and overall:
   * those due to expire first go.
   */
  #applyCaps(): void {
    const { typeCaps, maxRecords } = this.#retention;
    for (const [type, cap] of typeCaps) {
      const excess = (this.#counts.get(type)?.finished ?? 0) - cap;
      if (excess <= 0) continue;
      const gone = Number(this.#statements.evictOfType.run(type, excess).changes);
      this.#count(type, -gone, -gone);
    }
    let finished = 0;
    const typesHolding: string[] = [];
    for (const [type, count] of this.#counts) {
      finished += count.finished;
      if (count.finished > 0) typesHolding.push(type);
    }
    const excess = finished - maxRecords;
    if (excess <= 0) return;
    // How many of each type go: with one type, all of them; else the `excess`
    // due first overall, which are among the `excess` due first of each type.
    const going = new Map<string, number>();
    if (typesHolding.length === 1) going.set(typesHolding[0], excess);
    else {
      const candidates: { type: string; at: number }[] = [];
      for (const type of typesHolding) {
        for (const row of this.#statements.dueFirstOfType.all(type, excess)) {
          candidates.push({ type, at: row.at as number });
        }
      }
      candidates.sort((a, b) => a.at - b.at);
      for (const { type } of candidates.slice(0, excess)) {
        going.set(type, (going.get(type) ?? 0) + 1);
      }
    }
    for (const [type, count] of going) {
      const gone = Number(this.#statements.evictOfType.run(type, count).changes);
      this.#count(type, -gone, -gone);
    }
  }

  /** Apply every log line after `applied`, then remove the log files. */
  #replay(dbPath: string, applied: LogPosition): Omit<WriterOpened, "lastSeq" | "foundVersion"> {
    const generations = logGenerations(dbPath);
    const changes: Changes = { records: new Map(), meta: new Map() };
    let replayed = 0;
    let torn = 0;
    for (const generation of generations) {
      if (generation < applied.generation) continue;
      const bytes = Deno.readFileSync(logPath(dbPath, generation));
      const from = generation === applied.generation ? applied.bytes : 0;
      const lines = decoder.decode(bytes.subarray(from)).split("\n");
      // The text after the last `\n` is a line whose end was never written.
      if (lines.pop() !== "") torn++;
      for (const line of lines) {
        const change = readCheckedLine(line);
        if (change === undefined) torn++;
        else {
          collect(changes, change);
          replayed++;
        }
      }
    }
    const generation = Math.max(applied.generation, ...generations) + 1;
    this.#transaction(() => this.#write(changes, { generation, bytes: 0 }, Date.now()));
    for (const old of generations) Deno.removeSync(logPath(dbPath, old));
    return { generation, replayed, torn };
  }

  /** Run `work` in a transaction that also saves the counts it changed. */
  #transaction(work: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      work();
      for (const type of this.#changedTypes) {
        const { records, finished } = this.#counts.get(type) as TypeCount;
        this.#statements.saveCount.run(type, records, finished);
      }
      this.#changedTypes.clear();
      this.#db.exec("COMMIT");
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}

/** The values of a row of `tasks`, in {@linkcode COLUMNS} order. */
type RowValues = [
  seq: number,
  id: string,
  service: string,
  type: string,
  state: string,
  createdAt: number,
  startedAt: number | null,
  finishedAt: number | null,
  expiresAt: number | null,
  record: string,
  key: string | null,
];

const COLUMNS =
  "seq, id, service, type, state, created_at, started_at, finished_at, expires_at, record, key";

/** Most rows one statement writes (11 values each; SQLite takes up to 32 766). */
const ROWS_PER_STATEMENT = 64;

/** `VALUES` for `rows` rows. */
function values(rows: number): string {
  return `VALUES ${Array(rows).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")}`;
}

/** Insert `rows` rows, or update the stored records with their ids (keeping their seqs). */
function upsertSql(rows: number): string {
  return `INSERT INTO tasks (${COLUMNS}) ${values(rows)}
    ON CONFLICT (id) DO UPDATE SET
      state = excluded.state, started_at = excluded.started_at,
      finished_at = excluded.finished_at, expires_at = excluded.expires_at,
      record = excluded.record, key = excluded.key`;
}

/** Insert `rows` rows, skipping those whose id is stored already. */
function insertNewSql(rows: number): string {
  return `INSERT INTO tasks (${COLUMNS}) ${values(rows)} ON CONFLICT DO NOTHING`;
}

function prepare(db: DatabaseSync) {
  return {
    upsert: db.prepare(upsertSql(1)),
    putMeta: db.prepare(`
      INSERT INTO zest_meta (name, value) VALUES (?, ?)
      ON CONFLICT (name) DO UPDATE SET value = excluded.value`),
    stored: db.prepare(
      "SELECT seq, finished_at IS NOT NULL AS finished FROM tasks WHERE id = ?",
    ),
    delete: db.prepare(
      "DELETE FROM tasks WHERE id = ? RETURNING type, finished_at IS NOT NULL AS finished",
    ),
    progress: db.prepare(
      "UPDATE zest_progress SET log_generation = ?, log_applied_bytes = ?, last_seq = ?",
    ),
    saveCount: db.prepare(`
      INSERT INTO zest_counts (type, records, finished) VALUES (?, ?, ?)
      ON CONFLICT (type) DO UPDATE SET records = excluded.records, finished = excluded.finished`),
    expire: db.prepare("DELETE FROM tasks WHERE type = ? AND expires_at <= ?"),
    nextExpiry: db.prepare(
      "SELECT min(expires_at) AS at FROM tasks WHERE type = ? AND expires_at IS NOT NULL",
    ),
    evictOfType: db.prepare(`DELETE FROM tasks WHERE seq IN (
      SELECT seq FROM tasks WHERE type = ? AND expires_at IS NOT NULL ORDER BY expires_at LIMIT ?)`),
    freePages: db.prepare("PRAGMA freelist_count"),
    pages: db.prepare("PRAGMA page_count"),
    dueFirstOfType: db.prepare(`
      SELECT expires_at AS at FROM tasks
      WHERE type = ? AND expires_at IS NOT NULL ORDER BY expires_at LIMIT ?`),
  };
}

/** Say what is wrong with a file SQLite refused, naming it. */
function asOpenError(path: string, error: unknown): StoreOpenError {
  if (error instanceof StoreOpenError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/not a database/i.test(message)) {
    return new StoreOpenError(path, `${path} is not an SQLite database (${message})`, {
      cause: error,
    });
  }
  if (/malformed|corrupt/i.test(message)) {
    return new StoreOpenError(path, `${path} is corrupt (${message})`, { cause: error });
  }
  return new StoreOpenError(path, `${path} cannot be opened: ${message}`, { cause: error });
}

/** A message from the store to its worker. */
export type ToWorker =
  | { kind: "open"; path: string; synchronous: Synchronous; retention?: RetentionOptions }
  | { kind: "apply"; text: Uint8Array; flushNo: number; position: LogPosition }
  | { kind: "close" };

/** A message from the worker to its store. */
export type FromWorker =
  | { kind: "opened"; opened: WriterOpened }
  | { kind: "refused"; message: string }
  | { kind: "applied"; flushNo: number; position: LogPosition }
  | { kind: "failed"; message: string }
  | { kind: "closed" };

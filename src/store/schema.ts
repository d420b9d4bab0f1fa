/**
 * The schema of the SQLite task store, and its migrations.
 *
 * ## Tables (schema version 2)
 *
 * `tasks` — one row per record, finished or not:
 *
 * | column | type | what |
 * | --- | --- | --- |
 * | `seq` | INTEGER PRIMARY KEY | submission order (the row id) |
 * | `id` | TEXT UNIQUE | the task's id |
 * | `service`, `type` | TEXT | where it ran, its task type |
 * | `state` | TEXT | `waiting`, `queued`, `running`; ended: `succeeded`, `failed`, `cancelled`, `expired` |
 * | `created_at`, `started_at` | INTEGER | ms since the Unix epoch |
 * | `finished_at`, `expires_at` | INTEGER | NULL until the task ends; `expires_at` is when retention removes it |
 * | `record` | TEXT | the whole record as JSON (fields, attributes, log, outcome with the code that ran, stdout, displays) |
 * | `key` | TEXT | the idempotency key it was submitted with, or NULL |
 *
 * Indexes: `id`; `(service, seq)` and `(type, seq)` for filtered lists;
 * `(key, seq) WHERE key IS NOT NULL` for lists by key; `(seq) WHERE
 * finished_at IS NULL` for the unfinished tasks an open recovers; `(type,
 * expires_at) WHERE expires_at IS NOT NULL` for retention (per type, then
 * merged). Each index costs every insert: these are the ones the store's
 * queries need. `zest_meta` (name → value) holds what the runtime keeps
 * beside its records (the schedules' last runs). `zest_counts` (type →
 * records, finished) is written by the store with each transaction.
 * `zest_progress` holds how far the intent log has been applied and the last
 * submission number given; `zest_schema` the schema version. The store's
 * process is the only writer.
 *
 * Read it with any SQLite tool, e.g.
 * `sqlite3 .zest/zest.db "SELECT id, state, record->>'$.outcome.ename' FROM tasks ORDER BY seq DESC LIMIT 10"`.
 *
 * ## Migrations
 *
 * 0 → 1: a table keyed by id becomes rows in submission order, with indexed
 * columns, counts and the intent log's progress. 1 → 2: the `key` column
 * (filled from the records) and its index, and `zest_meta`. A new file is
 * made as version 1 and migrated, so every file has the same layout.
 */
import type { DatabaseSync } from "node:sqlite";
import { isTerminal, TASK_STATES } from "../task/record.ts";
import { StoreOpenError } from "../manager/store.ts";

/** The schema this code writes. */
export const SCHEMA_VERSION = 2;

/**
 * Pages of 8 KiB: measured here, rows are written ~1.5× faster than with the
 * default 4 KiB (fewer pages per commit and checkpoint).
 */
export const PAGE_SIZE = 8192;

/** The ended states, as an SQL list. */
const TERMINAL = `(${TASK_STATES.filter(isTerminal).map((state) => `'${state}'`).join(", ")})`;

/**
 * The tables and indexes of schema version 1 (not the version row);
 * migrations add the rest. Also what the fixture of the 1 → 2 migration is
 * made of (`testdata/make_v1.ts`).
 */
export const OBJECTS_V1 = `
CREATE TABLE tasks (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  service TEXT NOT NULL,
  type TEXT NOT NULL,
  state TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  expires_at INTEGER,
  record TEXT NOT NULL
);
CREATE INDEX tasks_service ON tasks (service, seq);
CREATE INDEX tasks_type ON tasks (type, seq);
CREATE INDEX tasks_unfinished ON tasks (seq) WHERE finished_at IS NULL;
CREATE INDEX tasks_type_expiry ON tasks (type, expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE zest_counts (
  type TEXT PRIMARY KEY,
  records INTEGER NOT NULL,
  finished INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE zest_progress (
  log_generation INTEGER NOT NULL,
  log_applied_bytes INTEGER NOT NULL,
  last_seq INTEGER NOT NULL
);
`;

/**
 * Migrations: `MIGRATIONS[v]` turns a version-`v` file into version `v + 1`,
 * inside the caller's transaction. `defaultTtlMs` dates records that carry no
 * `expiresAt`.
 */
const MIGRATIONS: ((db: DatabaseSync, defaultTtlMs: number) => void)[] = [
  // 0 → 1: a table keyed by id becomes rows in submission order, with
  // indexed columns, counts, and the intent log's progress.
  (db, defaultTtlMs) => {
    db.exec(`ALTER TABLE tasks RENAME TO tasks_v0; ${OBJECTS_V1}`);
    db.prepare(`
      INSERT INTO tasks (id, service, type, state, created_at, started_at, finished_at, expires_at, record)
      SELECT id, record->>'$.service', record->>'$.type', state, created_at,
        record->>'$.startedAt', finished_at,
        coalesce(record->>'$.expiresAt', finished_at + :ttl), record
      FROM (
        SELECT *, CASE WHEN state IN ${TERMINAL}
          THEN coalesce(record->>'$.finishedAt', created_at) END AS finished_at
        FROM tasks_v0
      ) ORDER BY created_at, id`).run({ ttl: defaultTtlMs });
    db.exec(`
      DROP TABLE tasks_v0;
      INSERT INTO zest_counts
        SELECT type, count(*), count(expires_at) FROM tasks GROUP BY type;
      INSERT INTO zest_progress SELECT 0, 0, coalesce(max(seq), 0) FROM tasks;`);
  },
  // 1 → 2: the idempotency key as a column, for lists by key; values kept beside the records.
  (db) => {
    db.exec(`
      ALTER TABLE tasks ADD COLUMN key TEXT;
      UPDATE tasks SET key = record->>'$.key' WHERE record->>'$.key' IS NOT NULL;
      CREATE INDEX tasks_key ON tasks (key, seq) WHERE key IS NOT NULL;
      CREATE TABLE zest_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;`);
  },
];

/** What {@linkcode prepareSchema} found. */
export interface SchemaStatus {
  /** The version the file had: undefined for a new file. */
  foundVersion: number | undefined;
}

/**
 * Bring the database open in `db` (the file `path`) to {@linkcode SCHEMA_VERSION}:
 * create it in a new file, migrate an older one (in one transaction), refuse
 * a file that is not a Zest store or was written by a newer Zest
 * ({@linkcode StoreOpenError}). Also sets WAL mode and incremental vacuum.
 *
 * @example
 * ```ts
 * import { DatabaseSync } from "node:sqlite";
 * import { prepareSchema } from "./schema.ts";
 * const db = new DatabaseSync(":memory:");
 * prepareSchema(db, ":memory:", 3_600_000).foundVersion; // undefined: created
 * ```
 */
export function prepareSchema(db: DatabaseSync, path: string, defaultTtlMs: number): SchemaStatus {
  const objects = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get()?.n as number;
  if (objects === 0) {
    // Only a database without tables can change these without a VACUUM.
    db.exec(`PRAGMA page_size = ${PAGE_SIZE}; PRAGMA auto_vacuum = INCREMENTAL;`);
    db.exec("PRAGMA journal_mode = WAL");
    inTransaction(db, () => {
      db.exec(`${OBJECTS_V1}
        INSERT INTO zest_progress VALUES (0, 0, 0);
        CREATE TABLE zest_schema (version INTEGER NOT NULL);
        INSERT INTO zest_schema VALUES (${SCHEMA_VERSION});`);
      for (let version = 1; version < SCHEMA_VERSION; version++) {
        MIGRATIONS[version](db, defaultTtlMs);
      }
    });
    return { foundVersion: undefined };
  }
  const versionTable = db.prepare(
    "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'zest_schema'",
  ).get();
  if (!versionTable) {
    throw new StoreOpenError(
      path,
      `${path} is an SQLite database but not a Zest task store (it has no zest_schema table)`,
    );
  }
  const found = db.prepare("SELECT max(version) AS version FROM zest_schema").get()?.version;
  if (!Number.isSafeInteger(found) || (found as number) < 0) {
    throw new StoreOpenError(path, `${path} is corrupt: its zest_schema version is ${found}`);
  }
  const foundVersion = found as number;
  if (foundVersion > SCHEMA_VERSION) {
    throw new StoreOpenError(
      path,
      `${path} was written by a newer Zest (schema version ${foundVersion}; this one knows up to ${SCHEMA_VERSION}): upgrade Zest, or use another file`,
    );
  }
  if (foundVersion < SCHEMA_VERSION) {
    inTransaction(db, () => {
      for (let version = foundVersion; version < SCHEMA_VERSION; version++) {
        MIGRATIONS[version](db, defaultTtlMs);
      }
      db.exec(`DELETE FROM zest_schema; INSERT INTO zest_schema VALUES (${SCHEMA_VERSION});`);
    });
  }
  if (
    db.prepare("PRAGMA auto_vacuum").get()?.auto_vacuum !== 2 ||
    db.prepare("PRAGMA page_size").get()?.page_size !== PAGE_SIZE
  ) {
    // A file made with other settings (a migrated one): rebuilt once with
    // these, out of WAL mode (where the page size cannot change).
    db.exec(`
      PRAGMA journal_mode = DELETE;
      PRAGMA page_size = ${PAGE_SIZE};
      PRAGMA auto_vacuum = INCREMENTAL;
      VACUUM;`);
  }
  db.exec("PRAGMA journal_mode = WAL");
  return { foundVersion };
}

function inTransaction(db: DatabaseSync, work: () => void): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    work();
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

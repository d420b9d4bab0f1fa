/** Records and temporary stores for the store tests, and the fixture scripts' file. */
import { DatabaseSync } from "node:sqlite";
import type { TaskRecord, TaskState } from "../../task/record.ts";

let made = 0;

/**
 * A queued record; `overrides` sets any field.
 *
 * @example
 * ```ts
 * import { queued } from "./records.ts";
 * queued({ service: "scope" }).state; // "queued"
 * ```
 */
export function queued(overrides: Partial<TaskRecord> = {}): TaskRecord {
  made++;
  return {
    id: crypto.randomUUID(),
    type: "Calibrate",
    service: "lab",
    fields: { n: made },
    attributes: {},
    parallel: false,
    state: "queued",
    attempts: 0,
    createdAt: Date.now(),
    log: [],
    ...overrides,
  };
}

/**
 * End `record` in `state`, to be removed at `expiresAt` (default in an hour).
 *
 * @example
 * ```ts
 * import { finish, queued } from "./records.ts";
 * finish(queued(), "failed").state; // "failed"
 * ```
 */
export function finish(
  record: TaskRecord,
  state: TaskState = "succeeded",
  expiresAt: number = Date.now() + 3_600_000,
): TaskRecord {
  const now = Date.now();
  record.state = state;
  record.attempts = 1;
  record.startedAt ??= now;
  record.finishedAt = now;
  record.expiresAt = expiresAt;
  record.log = [...record.log, { at: now, level: "info", message: "", state }];
  record.outcome = state === "succeeded"
    ? { status: "ok", id: record.id, result: record.fields }
    : { status: "error", id: record.id, ename: "Oops", evalue: "it failed", traceback: "" };
  return record;
}

/**
 * A fresh directory for a store, and its database path inside it.
 *
 * @example
 * ```ts
 * import { tempStore } from "./records.ts";
 * const { dir, path } = tempStore();
 * // ... then Deno.removeSync(dir, { recursive: true })
 * ```
 */
export function tempStore(): { dir: string; path: string } {
  const dir = Deno.makeTempDirSync({ prefix: "zest-store-test-" });
  return { dir, path: `${dir}/zest.db` };
}

/**
 * Run `test` with the database path of a fresh directory, removed afterwards.
 *
 * @example
 * ```ts
 * import { inTempDir } from "./records.ts";
 * await inTempDir(async (path) => console.log(path)); // …/zest-store-test-…/zest.db
 * ```
 */
export async function inTempDir(test: (path: string) => Promise<void>): Promise<void> {
  const { dir, path } = tempStore();
  try {
    await test(path);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * Run `read` on the database at `path`, opened read-only, closed afterwards.
 *
 * @example
 * ```ts
 * import { readDatabase } from "./records.ts";
 * readDatabase("/tmp/zest.db", (db) => db.prepare("SELECT count(*) AS n FROM tasks").get());
 * ```
 */
export function readDatabase<T>(path: string, read: (db: DatabaseSync) => T): T {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

/**
 * A new, empty database at `path` (a file there before is removed): what the
 * fixture scripts (`make_v0.ts`, `make_v1.ts`) write.
 *
 * @example
 * ```ts
 * import { freshDatabase } from "./records.ts";
 * const db = freshDatabase("/tmp/fixture.db");
 * db.close();
 * ```
 */
export function freshDatabase(path: string): DatabaseSync {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return new DatabaseSync(path);
}

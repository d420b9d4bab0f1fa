// The schema: version table, migration of an older file (fixture), and its documented shape.
import assert from "node:assert/strict";
import type { TaskRecord } from "../task/record.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { SqliteTaskStore } from "./sqlite.ts";
import { inTempDir, readDatabase } from "./testdata/records.ts";

const V0 = new URL("./testdata/v0.db", import.meta.url).pathname;
const V1 = new URL("./testdata/v1.db", import.meta.url).pathname;
const TTL = 100 * 365 * 86_400_000;

/**
 * Open a copy of `fixture` at `path`, check that the open migrated it and
 * found `unfinished`, run `use` on the store and what it returned, close it.
 */
async function migrated(
  fixture: string,
  path: string,
  found: { from: number; unfinished: Record<"waiting" | "queued" | "running", number> },
  use: (store: SqliteTaskStore, unfinished: TaskRecord[]) => Promise<void>,
): Promise<void> {
  Deno.copyFileSync(fixture, path);
  const store = new SqliteTaskStore({ path, retention: { ttlMs: TTL } });
  const unfinished = await store.open();
  try {
    assert.deepEqual(store.recovery, {
      replayedLines: 0,
      tornLines: 0,
      migratedFrom: found.from,
      unfinished: found.unfinished,
    });
    await use(store, unfinished);
  } finally {
    await store.close();
  }
}

Deno.test("schema: a version-0 file is migrated, every record kept, in creation order", () =>
  inTempDir(async (path) => {
    const originals = readDatabase(
      V0,
      (db) =>
        db.prepare("SELECT record FROM tasks ORDER BY created_at").all()
          .map((row) => JSON.parse(row.record as string)),
    );
    assert.equal(originals.length, 5);

    await migrated(V0, path, {
      from: 0,
      unfinished: { waiting: 0, queued: 2, running: 1 },
    }, async (store, unfinished) => {
      assert.deepEqual(
        unfinished.map((record) => record.fields),
        [{ n: 3 }, { n: 4 }, { n: 5 }],
        "queued and running, in creation order",
      );
      for (const original of originals) assert.deepEqual(await store.get(original.id), original);
      const listed = (await store.list()).records.map((record) => record.fields);
      assert.deepEqual(listed, [{ n: 5 }, { n: 4 }, { n: 3 }, { n: 2 }, { n: 1 }]);
      assert.deepEqual(
        (await store.list({ service: "scope" })).records.map((record) => record.fields),
        [{ n: 5 }, { n: 2 }],
      );
      assert.equal((await store.stats()).records, 5);
      // Goes on like any store: a new record comes after the migrated ones.
      const next = { ...originals[2], id: crypto.randomUUID(), fields: { n: 6 } };
      store.put(next);
      await store.flush();
      await store.applied();
      assert.deepEqual((await store.list({ limit: 1 })).records[0].fields, { n: 6 });
    });
    readDatabase(path, (db) => {
      assert.equal(db.prepare("SELECT version FROM zest_schema").get()?.version, SCHEMA_VERSION);
      assert.equal(db.prepare("PRAGMA auto_vacuum").get()?.auto_vacuum, 2, "incremental vacuum");
      assert.equal(db.prepare("PRAGMA page_size").get()?.page_size, 8192);
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      const failed = db.prepare("SELECT * FROM tasks WHERE state = 'failed'").get();
      const record = JSON.parse(failed?.record as string);
      assert.equal(failed?.finished_at, record.finishedAt);
      assert.equal(failed?.expires_at, record.finishedAt + TTL, "no expiresAt: dated by the ttl");
      assert.deepEqual(
        db.prepare("SELECT type, records, finished FROM zest_counts ORDER BY type").all()
          .map((row) => ({ ...row })),
        [{ type: "Calibrate", records: 4, finished: 1 }, {
          type: "Measure",
          records: 2,
          finished: 1,
        }],
      );
    });
  }));

Deno.test("schema: a new file has the documented tables and indexes", () =>
  inTempDir(async (path) => {
    const store = new SqliteTaskStore({ path });
    await store.open();
    await store.close();
    readDatabase(path, (db) => {
      const names = db.prepare(
        "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
      ).all().map((row) => `${row.type} ${row.name}`);
      assert.deepEqual(names, [
        "index tasks_key",
        "index tasks_service",
        "index tasks_type",
        "index tasks_type_expiry",
        "index tasks_unfinished",
        "table tasks",
        "table zest_counts",
        "table zest_meta",
        "table zest_progress",
        "table zest_schema",
      ]);
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      const columns = db.prepare("SELECT name FROM pragma_table_info('tasks')").all().map((row) =>
        row.name
      );
      assert.deepEqual(columns, [
        "seq",
        "id",
        "service",
        "type",
        "state",
        "created_at",
        "started_at",
        "finished_at",
        "expires_at",
        "record",
        "key",
      ]);
    });
  }));

Deno.test("schema: a version-1 file is migrated: keys become a column that lists filter on, meta values can be kept", () =>
  inTempDir(async (path) => {
    await migrated(V1, path, {
      from: 1,
      unfinished: { waiting: 1, queued: 1, running: 1 },
    }, async (store, unfinished) => {
      assert.deepEqual(unfinished.map((record) => [record.fields, record.state]), [
        [{ n: 3 }, "running"],
        [{ n: 4 }, "waiting"],
        [{ n: 5 }, "queued"],
      ]);
      const byKey = async (key: string) =>
        (await store.list({ key })).records.map((record) => record.fields);
      assert.deepEqual(await byKey("calibrate-q1"), [{ n: 1 }]);
      assert.deepEqual(await byKey("calibrate-q5"), [{ n: 5 }]);
      assert.deepEqual(await byKey("none"), []);
      assert.deepEqual(
        (await store.list({ state: ["succeeded", "expired"] })).records.map((r) => r.fields),
        [{ n: 2 }, { n: 1 }],
      );
      assert.equal((await store.stats()).records, 5);
      // A new keyed record, and a meta value, on the migrated file.
      const next = { ...unfinished[2], id: crypto.randomUUID(), key: "calibrate-q6" };
      store.put(next);
      store.putMeta("schedules", "{}");
      await store.flush();
      await store.applied();
      assert.deepEqual(await byKey("calibrate-q6"), [{ n: 5 }]);
      assert.equal(await store.getMeta("schedules"), "{}");
    });
    readDatabase(path, (db) => {
      assert.equal(db.prepare("SELECT version FROM zest_schema").get()?.version, SCHEMA_VERSION);
      assert.deepEqual(
        db.prepare("SELECT key FROM tasks WHERE key IS NOT NULL ORDER BY seq").all()
          .map((row) => row.key),
        ["calibrate-q1", "calibrate-q5", "calibrate-q6"],
      );
      const plan = db.prepare(
        "EXPLAIN QUERY PLAN SELECT seq FROM tasks WHERE key = ? AND seq < ? ORDER BY seq DESC",
      ).all("k", 10).map((row) => row.detail).join("; ");
      assert.match(plan, /tasks_key/, "lists by key use the index");
      assert.equal(
        db.prepare("SELECT value FROM zest_meta WHERE name = 'schedules'").get()?.value,
        "{}",
      );
    });
  }));

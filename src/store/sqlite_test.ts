// The SQLite store on real files: reopening, the intent log, refusals, size over time.
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { isTerminal, type TaskRecord } from "../task/record.ts";
import { logGenerations, logPath, metaLine, putLine } from "./intent_log.ts";
import { SCHEMA_VERSION } from "./schema.ts";
import { SqliteTaskStore } from "./sqlite.ts";
import { StoreOpenError } from "../manager/store.ts";
import { finish, queued, readDatabase, tempStore } from "./testdata/records.ts";
import { until } from "../../test/helpers/poll.ts";

const CHILD = new URL("./testdata/store_child.ts", import.meta.url).pathname;

async function withStore(
  test: (store: SqliteTaskStore, path: string) => Promise<void>,
  options: Partial<ConstructorParameters<typeof SqliteTaskStore>[0]> = {},
): Promise<void> {
  const { dir, path } = tempStore();
  const store = new SqliteTaskStore({ path, ...options });
  try {
    await store.open();
    await test(store, path);
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

async function reopened(
  path: string,
): Promise<{ store: SqliteTaskStore; unfinished: TaskRecord[] }> {
  const store = new SqliteTaskStore({ path });
  return { store, unfinished: await store.open() };
}

Deno.test("sqlite store: a reopened store returns the unfinished records in submission order, and keeps the rest", async () => {
  const { dir, path } = tempStore();
  try {
    const store = new SqliteTaskStore({ path });
    assert.equal(store.durable, true);
    assert.deepEqual(await store.open(), []);
    store.putMeta("schedules", '{"nightly":{"runs":3}}');
    const records = Array.from({ length: 30 }, (_, i) => queued({ fields: { i } }));
    for (const [i, record] of records.entries()) {
      if (i % 3 === 0) finish(record, i % 2 ? "failed" : "succeeded");
      if (i % 3 === 1) record.state = i % 2 ? "running" : "waiting";
      store.put(record);
      if (i % 7 === 0) await store.flush();
    }
    await store.flush();
    await store.close();
    assert.deepEqual(logGenerations(path), [], "a clean close leaves no intent log");

    const again = await reopened(path);
    try {
      const unfinished = records.filter((record) => !isTerminal(record.state));
      assert.deepEqual(again.unfinished, unfinished);
      assert.deepEqual(again.store.recovery?.unfinished, { waiting: 5, queued: 10, running: 5 });
      assert.equal(await again.store.getMeta("schedules"), '{"nightly":{"runs":3}}');
      for (const record of records) assert.deepEqual(await again.store.get(record.id), record);
      // Submission order goes on after a restart: a new record lists first.
      const fresh = queued();
      again.store.put(fresh);
      await again.store.flush();
      await again.store.applied();
      assert.deepEqual((await again.store.list({ limit: 2 })).records.map((r) => r.id), [
        fresh.id,
        records[29].id,
      ]);
      // A recovered record put again keeps its place.
      finish(again.unfinished[0]);
      again.store.put(again.unfinished[0]);
      await again.store.flush();
      await again.store.applied();
      const all = (await again.store.list({ limit: 1000 })).records.map((r) => r.id);
      assert.deepEqual(all, [fresh.id, ...records.map((r) => r.id).reverse()]);
    } finally {
      await again.store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite store: a record put several times between flushes is logged and written once, in its latest state", async () => {
  await withStore(async (store, path) => {
    const record = queued();
    store.put(record);
    record.state = "running";
    store.put(record);
    finish(record);
    store.put(record);
    const other = queued();
    store.put(other);
    await store.flush();
    const [generation] = logGenerations(path);
    const lines = Deno.readTextFileSync(logPath(path, generation)).split("\n").filter(Boolean);
    assert.equal(lines.length, 2);
    assert.equal(lines[0], putLine(1, record).trimEnd());
    assert.equal(lines[1], putLine(2, other).trimEnd());
    await store.applied();
    readDatabase(path, (db) => {
      const rows = db.prepare(
        "SELECT id, state, finished_at, expires_at, record FROM tasks ORDER BY seq",
      ).all();
      assert.deepEqual(rows.map((row) => [row.id, row.state]), [[record.id, "succeeded"], [
        other.id,
        "queued",
      ]]);
      assert.equal(rows[0].finished_at, record.finishedAt);
      assert.equal(rows[0].expires_at, record.expiresAt);
      assert.deepEqual(JSON.parse(rows[0].record as string), record);
    });
  });
});

Deno.test("sqlite store: a copy of a stored record put again replaces it and keeps its place", async () => {
  await withStore(async (store) => {
    const first = finish(queued());
    const second = queued();
    store.put(first);
    store.put(second);
    await store.flush();
    await store.applied();
    // Neither object this store was given: a copy, and a record read back.
    store.put({ ...first, attributes: { note: "copied" } });
    const readBack = await store.get(second.id) as TaskRecord;
    assert.notEqual(readBack, second);
    finish(readBack);
    store.put(readBack);
    await store.flush();
    await store.applied();
    assert.equal((await store.stats()).records, 2);
    const { records } = await store.list();
    assert.deepEqual(records.map((r) => r.id), [second.id, first.id]);
    assert.deepEqual(records[1].attributes, { note: "copied" });
    assert.equal(records[0].state, "succeeded");
    assert.equal((await store.list({ state: "queued" })).records.length, 0);
    // Written many rows a statement: a copy among new records.
    const fresh = Array.from({ length: 70 }, () => queued());
    store.put(fresh[0]);
    store.put({ ...first, attributes: { note: "copied again" } });
    for (const record of fresh.slice(1)) store.put(record);
    await store.flush();
    await store.applied();
    assert.equal((await store.stats()).records, 72);
    const all = await store.list({ limit: 100 });
    assert.deepEqual(all.records.map((r) => r.id), [
      ...fresh.map((r) => r.id).reverse(),
      second.id,
      first.id,
    ]);
    assert.deepEqual(all.records[71].attributes, { note: "copied again" });
  });
});

Deno.test("sqlite store: the intent log is replayed at open, and a torn last line is skipped", async () => {
  const { dir, path } = tempStore();
  try {
    const store = new SqliteTaskStore({ path });
    await store.open();
    const kept = queued();
    store.put(kept);
    await store.flush();
    await store.close();
    // What a crash can leave: log lines not applied, the last one cut short.
    const first = queued();
    const finishedThenTorn = queued();
    const third = queued();
    const tornFinish = finish({ ...finishedThenTorn, log: [] });
    const text = putLine(10, first) + putLine(11, finishedThenTorn) + metaLine("m", "kept") +
      putLine(12, third) + putLine(11, tornFinish).slice(0, -30);
    Deno.writeTextFileSync(logPath(path, 99), text);
    const again = await reopened(path);
    try {
      assert.deepEqual(again.unfinished.map((r) => r.id), [
        kept.id,
        first.id,
        finishedThenTorn.id,
        third.id,
      ]);
      assert.equal((await again.store.get(finishedThenTorn.id))?.state, "queued");
      assert.deepEqual(logGenerations(path), [100], "the replayed log is gone; a new one is open");
      assert.deepEqual(again.store.recovery, {
        replayedLines: 4,
        tornLines: 1,
        migratedFrom: undefined,
        unfinished: { waiting: 0, queued: 4, running: 0 },
      });
      assert.equal(await again.store.getMeta("m"), "kept");
    } finally {
      await again.store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite store: log files rotate past their size and go once applied; replay spans them", async () => {
  const { dir, path } = tempStore();
  try {
    const store = new SqliteTaskStore({ path, logFileBytes: 4096 });
    await store.open();
    const records: TaskRecord[] = [];
    let most = 0;
    for (let i = 0; i < 200; i++) {
      const record = queued();
      records.push(record);
      store.put(record);
      await store.flush();
      most = Math.max(most, logGenerations(path).length);
    }
    assert.ok(most > 1, "more than one log file at once");
    await store.applied();
    await until(() => logGenerations(path).length === 1, "the applied log files are deleted");
    await store.close();
    const again = await reopened(path);
    try {
      assert.deepEqual(again.unfinished.map((r) => r.id), records.map((r) => r.id));
    } finally {
      await again.store.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test('sqlite store: synchronous "full" makes flush a promise that resolves once on disk', async () => {
  await withStore(async (store) => {
    const record = queued();
    store.put(record);
    const wait = store.flush();
    assert.ok(wait instanceof Promise);
    await wait;
    assert.equal(store.flush(), undefined, "nothing new: nothing to wait for");
    await store.applied();
    assert.deepEqual(await store.get(record.id), record);
  }, { synchronous: "full" });
});

Deno.test("sqlite store: flush makes the caller wait when the database falls behind", async () => {
  await withStore(async (store) => {
    for (let i = 0; i < 100; i++) store.put(queued());
    const wait = store.flush();
    assert.ok(wait instanceof Promise, "past maxUnapplied: back-pressure");
    await wait;
    assert.equal((await store.stats()).records, 100);
    store.put(queued());
    assert.equal(store.flush(), undefined);
  }, { maxUnapplied: 10 });
});

Deno.test("sqlite store: a second store on the same file is refused, in this process and from another", async () => {
  await withStore(async (_store, path) => {
    const second = new SqliteTaskStore({ path });
    await assert.rejects(
      () => second.open(),
      (error: Error) => {
        assert.ok(error instanceof StoreOpenError);
        assert.equal(error.message, `${path} is in use by another Zest runtime (pid ${Deno.pid})`);
        return true;
      },
    );
  });
  // The other way round: another process holds it.
  const { dir, path } = tempStore();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", CHILD, "hold", path],
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal((await reader.read()).value?.trim(), "open");
    await assert.rejects(
      () => new SqliteTaskStore({ path }).open(),
      new RegExp(`${path} is in use by another Zest runtime \\(pid ${child.pid}\\)`),
    );
    await child.stdin.close();
    await reader.cancel();
    assert.ok((await child.status).success);
    // Released: usable now.
    const store = new SqliteTaskStore({ path });
    await store.open();
    await store.close();
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite store: a file that is not a database, or is damaged, is refused", async () => {
  const { dir, path } = tempStore();
  try {
    Deno.writeTextFileSync(path, "this is a text file, not a database\n".repeat(200));
    await assert.rejects(
      () => new SqliteTaskStore({ path }).open(),
      (error: Error) =>
        error instanceof StoreOpenError && error.path === path &&
        error.message === `${path} is not an SQLite database (file is not a database)`,
    );
    Deno.removeSync(path);

    const store = new SqliteTaskStore({ path });
    await store.open();
    for (let i = 0; i < 2000; i++) store.put(i % 2 ? finish(queued()) : queued());
    await store.flush();
    await store.close();
    // Overwrite a page in the middle of the file with garbage.
    const bytes = Deno.readFileSync(path);
    const page = Math.floor(bytes.length / 4096 / 2);
    for (let i = 0; i < 4096; i++) bytes[page * 4096 + i] = (i * 13) & 0xff;
    Deno.writeFileSync(path, bytes);
    await assert.rejects(
      () => new SqliteTaskStore({ path }).open(),
      (error: Error) =>
        error instanceof StoreOpenError && error.message.startsWith(`${path} is corrupt (`),
    );

    // A database of something else is not taken over.
    Deno.removeSync(path);
    const other = new DatabaseSync(path);
    other.exec("CREATE TABLE invoices (id INTEGER PRIMARY KEY)");
    other.close();
    await assert.rejects(
      () => new SqliteTaskStore({ path }).open(),
      new RegExp(`${path} is an SQLite database but not a Zest task store`),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite store: a file written by a newer schema is refused", async () => {
  const { dir, path } = tempStore();
  try {
    const store = new SqliteTaskStore({ path });
    await store.open();
    await store.close();
    const db = new DatabaseSync(path);
    db.exec("UPDATE zest_schema SET version = 99");
    db.close();
    await assert.rejects(
      () => new SqliteTaskStore({ path }).open(),
      (error: Error) =>
        error instanceof StoreOpenError &&
        error.message.startsWith(
          `${path} was written by a newer Zest (schema version 99; this one knows up to ${SCHEMA_VERSION})`,
        ),
    );
    // The refusal left the file as it was.
    assert.equal(
      readDatabase(path, (db) => db.prepare("SELECT version FROM zest_schema").get()?.version),
      99,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite store: a directory without write permission is refused", async () => {
  const { dir } = tempStore();
  const locked = `${dir}/locked`;
  Deno.mkdirSync(locked);
  const path = `${locked}/zest.db`;
  try {
    if (Deno.uid() !== 0) {
      Deno.chmodSync(locked, 0o555);
      await assert.rejects(
        () => new SqliteTaskStore({ path }).open(),
        new RegExp(`cannot write in ${locked}, the directory of ${path}: permission denied`),
      );
      return;
    }
    // Root may write anywhere: try as an unprivileged user (util-linux setpriv).
    Deno.chmodSync(dir, 0o755);
    Deno.chmodSync(locked, 0o555);
    const denoDir = Deno.makeTempDirSync({ prefix: "zest-deno-dir-" });
    Deno.chownSync(denoDir, 65534, 65534);
    try {
      const output = await new Deno.Command("setpriv", {
        args: [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "--",
          Deno.execPath(),
          "run",
          "--no-config",
          "--no-lock",
          "--allow-all",
          CHILD,
          "try",
          path,
        ],
        env: { DENO_DIR: denoDir, HOME: denoDir },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stdout = new TextDecoder().decode(output.stdout).trim();
      assert.ok(output.success, new TextDecoder().decode(output.stderr));
      assert.deepEqual(JSON.parse(stdout), {
        error: `cannot write in ${locked}, the directory of ${path}: permission denied`,
        name: "StoreOpenError",
      });
    } finally {
      Deno.removeSync(denoDir, { recursive: true });
    }
  } finally {
    Deno.chmodSync(locked, 0o755);
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("sqlite store: the file stops growing under a steady load with a short retention", async () => {
  await withStore(async (store, path) => {
    const sizes: number[] = [];
    let largestWal = 0;
    const checkpointer = new DatabaseSync(path, { timeout: 10_000 });
    try {
      for (let round = 0; round < 12; round++) {
        for (let batch = 0; batch < 5; batch++) {
          const records = Array.from({ length: 1000 }, () => queued());
          for (const record of records) store.put(record);
          await store.flush();
          for (const record of records) store.put(finish(record, "succeeded", Date.now() + 200));
          await store.flush();
        }
        await store.applied();
        // Each round starts once the previous one has expired.
        await until(
          async () => (await store.stats()).records === 0,
          "the round's records expire",
        );
        largestWal = Math.max(largestWal, Deno.statSync(`${path}-wal`).size);
        // What SQLite does once the WAL is full, now: the database file shows the pages in use.
        // (Busy while the store's checkpointer copies: then again.)
        const checkpoint = checkpointer.prepare("PRAGMA wal_checkpoint(FULL)");
        await until(() => checkpoint.get()?.busy === 0, "every WAL page is in the database file");
        sizes.push(Deno.statSync(path).size);
      }
    } finally {
      checkpointer.close();
    }
    console.log(`database file after each round of 5 000 tasks: ${sizes.join(", ")} bytes`);
    // The size is a high-water mark of the pages in use at once, which a slow
    // expiry on a loaded machine raises for a round; without page reuse the
    // file would grow with every round (12× the first by the end).
    const early = Math.max(...sizes.slice(0, 4));
    const late = Math.max(...sizes.slice(4));
    assert.ok(
      late <= early * 2,
      `file grew from ${early} to ${late} bytes: ${sizes.join(", ")}`,
    );
    // The WAL is cut back to 64 MiB after a checkpoint; one transaction takes at most 16 MiB of log.
    assert.ok(largestWal <= 100 << 20, `WAL of ${largestWal} bytes`);
  }, { retention: { ttlMs: 200, maxRecords: Infinity } });
});

Deno.test("sqlite store: once a burst has expired, the file gives its free pages back", async () => {
  await withStore(async (store, path) => {
    const fields = { calibration: "x".repeat(2000) };
    const records = Array.from({ length: 10_000 }, () => finish(queued({ fields })));
    for (const record of records) store.put(record);
    await store.flush();
    await store.applied();
    const checkpointer = new DatabaseSync(path, { timeout: 10_000 });
    const fileSize = () => {
      checkpointer.exec("PRAGMA wal_checkpoint(TRUNCATE)");
      return Deno.statSync(path).size;
    };
    try {
      const full = fileSize();
      assert.ok(full > 20 << 20, `${full} bytes`);
      const expiresAt = Date.now() + 100;
      for (const record of records) store.put({ ...record, expiresAt });
      await store.flush();
      await until(async () => (await store.stats()).records === 0, "the records expire");
      await until(() => fileSize() < full / 4, "the file shrinks");
    } finally {
      checkpointer.close();
    }
  }, { retention: { maxRecords: Infinity } });
});

Deno.test("sqlite store: options are checked", () => {
  assert.throws(
    () => new SqliteTaskStore({ path: "/tmp/x.db", synchronous: "off" as "full" }),
    /synchronous/,
  );
  assert.throws(() => new SqliteTaskStore({ path: "/tmp/x.db", logFileBytes: 0 }), /logFileBytes/);
  assert.throws(() => new SqliteTaskStore({ path: "/tmp/x.db", maxUnapplied: -1 }), /maxUnapplied/);
});

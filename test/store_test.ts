/**
 * The SQLite task store under the whole runtime, in-process:
 * `Runtime.start({ store: { path } })`, a graceful stop that keeps the
 * backlog, history through `client.tasks()` (filters, paging, keys) while
 * records are between memory and the database, retention per task type, a
 * schedule remembered across a restart, and the option checked at the door.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { defineTask, Runtime, Service } from "../src/mod.ts";
import type { TaskRecordSummary } from "../src/mod.ts";
import { SqliteTaskStore } from "../src/store/mod.ts";
import { inTempDir } from "../src/store/testdata/records.ts";

const Work = defineTask("StoreTestWork", {
  schema: z.object({ n: z.number().int(), wait: z.boolean().default(false) }),
  parallel: false,
});
const Capped = defineTask("StoreTestCapped", {
  schema: z.object({ n: z.number().int() }),
  parallel: true,
  retention: { maxRecords: 3 },
});

/** A serial service; `Work { wait: true }` waits until told to stop. */
class Bench extends Service {
  readonly seen: number[] = [];
  constructor() {
    super("bench");
    this.registerHandler(Work, ({ n, wait }, { signal }) => {
      this.seen.push(n);
      if (!wait) return n;
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason))
      );
    });
    this.registerHandler(Capped, ({ n }) => n);
  }
}

async function pages(
  list: (cursor?: string) => Promise<{ records: TaskRecordSummary[]; next?: string }>,
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await list(cursor);
    ids.push(...page.records.map((record) => record.id));
    if (page.next === undefined) return ids;
    cursor = page.next;
  }
}

Deno.test("runtime on an SQLite store: a graceful stop keeps the backlog, the next start runs it in order; history pages through the store", () =>
  inTempDir(async (path) => {
    const first = new Bench();
    let runtime = await Runtime.start({ services: [first], store: { path } });
    assert.ok(runtime.manager.store instanceof SqliteTaskStore);
    assert.equal(runtime.manager.store.durable, true);
    let client = runtime.client();
    const done: string[] = [];
    for (let n = 0; n < 20; n++) {
      const id = (await client.request("bench", Work.create({ n }), { key: `done-${n}` })).taskId;
      done.push(id);
    }
    for (const id of done) await client.outcome(id);
    const holder = (await client.request("bench", Work.create({ n: 100, wait: true }))).taskId;
    const backlog: string[] = [];
    for (let n = 101; n <= 130; n++) {
      backlog.push((await client.request("bench", Work.create({ n }))).taskId);
    }
    // History while some records are only in memory, some in the database.
    const all = [...done, holder, ...backlog].reverse();
    assert.deepEqual(await pages((cursor) => client.tasks({ limit: 7, cursor })), all);
    await runtime.stop();
    assert.deepEqual(first.seen, [...Array.from({ length: 20 }, (_, n) => n), 100]);

    const second = new Bench();
    runtime = await Runtime.start({ services: [second], store: { path } });
    client = runtime.client();
    assert.deepEqual(
      (runtime.manager.store as SqliteTaskStore).recovery?.unfinished,
      { waiting: 0, queued: 30, running: 0 },
    );
    for (const [i, id] of backlog.entries()) {
      assert.deepEqual(await client.outcome(id), { status: "ok", id, result: 101 + i });
    }
    assert.deepEqual(second.seen, Array.from({ length: 30 }, (_, i) => 101 + i));
    const interrupted = await client.outcome(holder);
    assert.equal(interrupted?.status === "error" && interrupted.ename, "InterruptedError");
    // Filters and paging, every record now in the database.
    await (runtime.manager.store as SqliteTaskStore).applied();
    assert.deepEqual(await pages((cursor) => client.tasks({ limit: 9, cursor })), all);
    assert.deepEqual(
      await pages((cursor) => client.tasks({ state: "succeeded", limit: 8, cursor })),
      [...done, ...backlog].reverse(),
    );
    assert.deepEqual((await client.tasks({ key: "done-7" })).records.map((r) => r.id), [done[7]]);
    assert.deepEqual(
      (await client.tasks({ state: "failed", type: Work.name })).records.map((r) => r.id),
      [holder],
    );
    const stats = await client.store();
    assert.equal(stats.kind, "sqlite");
    assert.equal(stats.path, path);
    assert.equal(stats.records, 51);
    assert.ok((stats.bytes ?? 0) > 0);
    await runtime.stop();
  }));

Deno.test("runtime on an SQLite store: a task type's retention caps its records there too", () =>
  inTempDir(async (path) => {
    const runtime = await Runtime.start({ services: [new Bench()], store: { path } });
    const client = runtime.client();
    const ids: string[] = [];
    for (let n = 0; n < 10; n++) {
      const { taskId, outcome } = await client.request("bench", Capped.create({ n }));
      await outcome;
      ids.push(taskId);
    }
    await client.execute("bench", Work.create({ n: 0 }));
    await (runtime.manager.store as SqliteTaskStore).applied();
    const capped = await client.tasks({ type: Capped.name });
    assert.deepEqual(
      capped.records.map((record) => record.id),
      ids.slice(7).reverse(),
      "maxRecords: 3 of its type, those due to expire last",
    );
    assert.equal((await client.tasks({ type: Work.name })).records.length, 1);
    await runtime.stop();
  }));

Deno.test("runtime on an SQLite store: a schedule's runs are remembered across a restart", () =>
  inTempDir(async (path) => {
    const schedules = [{
      name: "tick",
      service: "bench",
      task: Capped.create({ n: 1 }),
      every: "1h",
    }];
    let runtime = await Runtime.start({ services: [new Bench()], store: { path }, schedules });
    const ran = await runtime.client().runSchedule("tick");
    assert.equal(ran.name, "tick");
    let status = (await runtime.client().schedules())[0];
    // Paused once the run has ended: a run that ends after the stop began rewrites the
    // memory without the pause (src/manager/schedules.ts, #remember on "stopped").
    for (const deadline = Date.now() + 20_000; status.running || status.runs < 1;) {
      assert.ok(Date.now() < deadline, "the run did not end");
      await new Promise((resolve) => setTimeout(resolve, 20));
      status = (await runtime.client().schedules())[0];
    }
    await runtime.client().pauseSchedule("tick");
    await runtime.stop();
    runtime = await Runtime.start({ services: [new Bench()], store: { path }, schedules });
    const remembered = (await runtime.client().schedules())[0];
    assert.equal(remembered.state, "paused");
    assert.equal(remembered.lastRunAt, status.lastRunAt);
    await runtime.stop();
  }));

Deno.test("runtime: the store option is checked at the door, naming the field", async () => {
  const services = [new Bench()];
  await assert.rejects(
    () => Runtime.start({ services, store: { path: "" } }),
    /store.path: expected the path of the database file/,
  );
  await assert.rejects(
    () => Runtime.start({ services, store: { path: "x.db", synchronous: "off" as "full" } }),
    /store.synchronous: expected "normal" or "full", got off/,
  );
  await assert.rejects(
    () => Runtime.start({ services, store: { path: "x.db", wal: true } as never }),
    /store: unknown option 'wal'/,
  );
  await assert.rejects(
    () => Runtime.start({ services, store: 42 as never }),
    /store: expected "memory", \{ path, synchronous\? \} or a TaskStore, got 42/,
  );
  // The default in-process: memory.
  const runtime = await Runtime.start({ services });
  assert.deepEqual(await runtime.client().store(), { kind: "memory", records: 0 });
  assert.equal(runtime.manager.store.durable, false);
  await runtime.stop();
});

// The behaviour every TaskStore shares, run against the memory store and the SQLite store.
import assert from "node:assert/strict";
import type { TaskRecord } from "../task/record.ts";
import { MemoryTaskStore } from "../manager/memory_store.ts";
import type { RetentionOptions, TaskListQuery, TaskStore } from "../manager/store.ts";
import { SqliteTaskStore } from "./sqlite.ts";
import { finish, queued, tempStore } from "./testdata/records.ts";
import { until } from "../../test/helpers/poll.ts";

interface Opened {
  store: TaskStore;
  /** Flush, and wait until the store's background work has caught up. */
  settle(): Promise<void>;
  cleanup(): Promise<void>;
}

const kinds: Record<string, (retention?: RetentionOptions) => Promise<Opened>> = {
  memory: async (retention) => {
    const store = new MemoryTaskStore({ retention });
    await store.open();
    return { store, settle: () => Promise.resolve(), cleanup: () => store.close() };
  },
  sqlite: async (retention) => {
    const { dir, path } = tempStore();
    const store = new SqliteTaskStore({ path, retention });
    await store.open();
    return {
      store,
      settle: async () => {
        await store.flush();
        await store.applied();
      },
      cleanup: async () => {
        await store.close();
        Deno.removeSync(dir, { recursive: true });
      },
    };
  },
};

async function listAll(store: TaskStore, query: TaskListQuery): Promise<TaskRecord[]> {
  const out: TaskRecord[] = [];
  for (let cursor: string | undefined, pages = 0;; pages++) {
    assert.ok(pages < 1000, "paging never ends");
    const page = await store.list({ ...query, cursor });
    assert.ok(page.records.length <= (query.limit ?? 100));
    out.push(...page.records);
    if (page.next === undefined) return out;
    assert.equal(page.records.length, query.limit ?? 100, "only the last page is short");
    cursor = page.next;
  }
}

for (const [kind, make] of Object.entries(kinds)) {
  Deno.test(`${kind} store: get sees every put at once, flushed or not, and deletes`, async () => {
    const { store, cleanup } = await make();
    try {
      const record = queued();
      store.put(record);
      assert.equal((await store.get(record.id))?.state, "queued");
      await store.flush();
      record.state = "running";
      store.put(record);
      assert.equal((await store.get(record.id))?.state, "running");
      finish(record);
      store.put(record);
      await store.flush();
      assert.deepEqual(await store.get(record.id), record);
      store.delete(record.id);
      assert.equal(await store.get(record.id), undefined);
      await store.flush();
      assert.equal(await store.get(record.id), undefined);
      assert.equal(await store.get("no-such-id"), undefined);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${kind} store: list filters by service, type, states and creation time, newest first`, async () => {
    const { store, settle, cleanup } = await make();
    try {
      const t0 = Date.UTC(2025, 5, 1);
      const records: TaskRecord[] = [];
      for (let i = 0; i < 40; i++) {
        const record = queued({
          service: i % 3 === 0 ? "scope" : "lab",
          type: i % 2 === 0 ? "Calibrate" : "Measure",
          createdAt: t0 + i * 1000,
          ...(i % 4 === 0 ? { key: `k${i % 8}` } : {}),
        });
        if (i % 4 === 1) finish(record, "succeeded");
        if (i % 5 === 2) finish(record, "failed");
        if (i % 7 === 3) record.state = "running";
        if (i % 11 === 5) record.state = "waiting";
        if (i === 17) finish(record, "expired");
        records.push(record);
        store.put(record);
        // Some in the database, some flushed only, some not flushed: reads merge them.
        if (i === 19) await settle();
        if (i === 29) await store.flush();
      }
      // A change not yet flushed to a record already in the database wins.
      finish(records[0], "cancelled");
      store.put(records[0]);
      const newestFirst = [...records].reverse();
      const cases: TaskListQuery[] = [
        {},
        { service: "scope" },
        { type: "Measure" },
        { state: "queued" },
        { state: ["queued", "running"] },
        { state: ["waiting", "expired"] },
        { state: ["failed", "cancelled"] },
        { createdSince: t0 + 10_000 },
        { createdUntil: t0 + 10_000 },
        { createdSince: t0 + 5_000, createdUntil: t0 + 25_000, service: "lab", type: "Calibrate" },
        { service: "nowhere" },
        { key: "k0" },
        { key: "k4", state: ["queued", "running", "waiting"] },
        { key: "nothing" },
      ];
      for (const query of cases) {
        const expected = newestFirst.filter((record) =>
          (query.service === undefined || record.service === query.service) &&
          (query.type === undefined || record.type === query.type) &&
          (query.key === undefined || record.key === query.key) &&
          (query.state === undefined || [query.state].flat().includes(record.state)) &&
          (query.createdSince === undefined || record.createdAt >= query.createdSince) &&
          (query.createdUntil === undefined || record.createdAt < query.createdUntil)
        ).map((record) => record.id);
        const got = (await store.list(query)).records.map((record) => record.id);
        assert.deepEqual(got, expected, `list(${JSON.stringify(query)})`);
        for (const limit of [1, 3, 7]) {
          const paged = (await listAll(store, { ...query, limit })).map((record) => record.id);
          assert.deepEqual(paged, expected, `paging list(${JSON.stringify(query)}) by ${limit}`);
        }
      }
      assert.deepEqual((await store.list({ limit: 2 })).records.map((r) => r.id), [
        records[39].id,
        records[38].id,
      ]);
      const { records: all } = await store.list({ state: "cancelled" });
      assert.deepEqual(all, [records[0]]);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${kind} store: meta values are kept beside the records, visible at once`, async () => {
    const { store, settle, cleanup } = await make();
    try {
      assert.equal(await store.getMeta("schedules"), undefined);
      store.putMeta("schedules", '{"nightly":{"lastRunAt":1}}');
      store.putMeta("other", "x");
      assert.equal(await store.getMeta("schedules"), '{"nightly":{"lastRunAt":1}}');
      await settle();
      store.putMeta("schedules", '{"nightly":{"lastRunAt":2}}');
      assert.equal(await store.getMeta("schedules"), '{"nightly":{"lastRunAt":2}}');
      await settle();
      assert.equal(await store.getMeta("schedules"), '{"nightly":{"lastRunAt":2}}');
      assert.equal(await store.getMeta("other"), "x");
      assert.equal((await store.stats()).records, 0, "meta values are not records");
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${kind} store: bad list queries are refused, naming the field`, async () => {
    const { store, cleanup } = await make();
    try {
      await assert.rejects(
        async () => await store.list({ limit: 0 }),
        /limit: expected an integer from 1 to 1000/,
      );
      await assert.rejects(async () => await store.list({ limit: 1001 }), /limit/);
      await assert.rejects(async () => await store.list({ limit: 2.5 }), /limit/);
      await assert.rejects(
        async () => await store.list({ state: "done" as "queued" }),
        /state: 'done' is not one of/,
      );
      await assert.rejects(async () => await store.list({ state: [] }), /state/);
      await assert.rejects(async () => await store.list({ cursor: "42" }), /cursor: not a cursor/);
      await assert.rejects(async () => await store.list({ createdSince: NaN }), /createdSince/);
      await assert.rejects(
        async () => await store.list({ service: 3 as unknown as string }),
        /service/,
      );
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${kind} store: retention removes expired records on time, with nothing else happening`, async () => {
    const { store, settle, cleanup } = await make({ ttlMs: 3_600_000 });
    try {
      const soon = finish(queued(), "succeeded", Date.now() + 300);
      const later = finish(queued(), "succeeded", Date.now() + 3_600_000);
      const old = queued({ createdAt: 0 }); // unfinished: never removed
      const noExpiry = finish(queued());
      delete noExpiry.expiresAt; // the store's ttl applies: an hour from now
      for (const record of [soon, later, old, noExpiry]) store.put(record);
      await settle();
      await until(async () => !(await store.get(soon.id)), "the expired record is removed");
      for (const record of [later, old, noExpiry]) assert.ok(await store.get(record.id));
      assert.equal((await store.stats()).records, 3);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${kind} store: at most maxRecords finished records, overall and per type; unfinished stay`, async () => {
    const { store, settle, cleanup } = await make({
      maxRecords: 5,
      perType: { Measure: { maxRecords: 2 } },
    });
    try {
      const now = Date.now();
      const unfinished = [queued(), queued({ type: "Measure" }), queued({ state: "running" })];
      const calibrations = Array.from(
        { length: 6 },
        (_, i) => finish(queued(), "succeeded", now + 3_600_000 + 10 + 2 * i),
      );
      const measures = Array.from(
        { length: 4 },
        (_, i) => finish(queued({ type: "Measure" }), "failed", now + 3_600_000 + 11 + 2 * i),
      );
      for (const record of [...unfinished, ...calibrations, ...measures]) store.put(record);
      await settle();
      const held = async (records: TaskRecord[]) => {
        const out = [];
        for (const record of records) if (await store.get(record.id)) out.push(record);
        return out;
      };
      assert.deepEqual(await held(unfinished), unfinished);
      // Measure keeps its 2 due last; overall 5 finished: those due first go.
      const keptMeasures = await held(measures);
      assert.deepEqual(keptMeasures.map((r) => r.id), measures.slice(2).map((r) => r.id));
      const keptCalibrations = await held(calibrations);
      assert.deepEqual(keptCalibrations.map((r) => r.id), calibrations.slice(3).map((r) => r.id));
      assert.equal((await store.stats()).records, 3 + 5);
      assert.equal((await store.list({ state: ["queued", "running"] })).records.length, 3);
    } finally {
      await cleanup();
    }
  });

  Deno.test(`${kind} store: stats counts the records held`, async () => {
    const { store, settle, cleanup } = await make();
    try {
      const records = [queued(), queued(), finish(queued())];
      for (const record of records) store.put(record);
      assert.equal((await store.stats()).records, 3);
      await settle();
      store.delete(records[0].id);
      const stats = await store.stats();
      assert.equal(stats.kind, kind);
      assert.equal(stats.records, 2);
    } finally {
      await cleanup();
    }
  });
}

Deno.test("retention options are checked, naming the field", () => {
  assert.throws(() => new MemoryTaskStore({ retention: { ttlMs: 0 } }), /retention.ttlMs/);
  assert.throws(
    () => new MemoryTaskStore({ retention: { perType: { A: { maxRecords: -1 } } } }),
    /retention.perType.A.maxRecords/,
  );
  assert.throws(() => new SqliteTaskStore({ path: "" }), /path/);
});

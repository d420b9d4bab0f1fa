// What is the memory store's own (the behaviour every store shares is in src/store/task_store_test.ts):
// records are objects it holds by reference, so a copy put under the same id is a new record; paging
// by the place a record was first put in; retention on time and by count, per type.
import assert from "node:assert/strict";
import { type MemoryStoreOptions, MemoryTaskStore } from "./memory_store.ts";
import type { TaskRecord, TaskState } from "../task/record.ts";
import { until } from "../../test/helpers/poll.ts";

/** A queued record; `overrides` sets any field. */
function queued(overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: crypto.randomUUID(),
    type: "Calibrate",
    service: "lab",
    fields: {},
    attributes: {},
    parallel: false,
    state: "queued",
    attempts: 0,
    createdAt: Date.now(),
    log: [],
    ...overrides,
  };
}

/** End `record` in `state`, to be removed at `expiresAt` (default in an hour). */
function finish(
  record: TaskRecord,
  state: TaskState = "succeeded",
  expiresAt = Date.now() + 3_600_000,
): TaskRecord {
  record.state = state;
  record.finishedAt = Date.now();
  record.expiresAt = expiresAt;
  return record;
}

/** Run `test` on a fresh store with `options`, closed after. */
async function withStore(
  options: MemoryStoreOptions,
  test: (store: MemoryTaskStore) => Promise<void>,
): Promise<void> {
  const store = new MemoryTaskStore(options);
  assert.deepEqual(await store.open(), [], "nothing survives a process");
  try {
    await test(store);
  } finally {
    await store.close();
  }
}

/** The ids the store still holds, of `records`, in their order. */
async function held(store: MemoryTaskStore, records: TaskRecord[]): Promise<string[]> {
  const ids = [];
  for (const record of records) if (await store.get(record.id)) ids.push(record.id);
  return ids;
}

Deno.test("memory store: put keeps the object itself; a change is seen without another put", async () => {
  await withStore({}, async (store) => {
    const record = queued();
    store.put(record);
    assert.equal(await store.get(record.id), record);
    record.state = "running";
    assert.equal((await store.get(record.id))?.state, "running");
    assert.equal(store.durable, false);
    assert.equal(store.flush(), undefined, "a flush is done at once");
  });
});

Deno.test("memory store: a copy ({...record}) put again replaces the original, counted once", async () => {
  await withStore({ retention: { maxRecords: 2 } }, async (store) => {
    const original = queued();
    store.put(original);
    // The manager may put a copy of a record (a worker's, a decoded one): it replaces the original.
    const copy = finish({ ...original });
    store.put(copy);
    assert.equal(await store.get(original.id), copy);
    assert.equal((await store.stats()).records, 1);
    // Finished copies put again and again: still one finished record in the cap of 2...
    for (let i = 0; i < 3; i++) store.put(finish({ ...copy }));
    store.put(copy);
    store.put(copy);
    const other = finish(queued());
    store.put(other);
    // ...so the other finished record does not push it out.
    assert.deepEqual(await held(store, [copy, other]), [copy.id, other.id]);
    assert.equal((await store.stats()).records, 2);
    assert.deepEqual((await store.list()).records, [other, copy]);
    // A copy carries none of the store's marks: it is a record of its own.
    assert.deepEqual(Object.getOwnPropertySymbols({ ...copy }), []);
  });
});

Deno.test("memory store: pages by cursor, newest first, with filters; a foreign cursor is refused", async () => {
  await withStore({}, async (store) => {
    const records = Array.from(
      { length: 7 },
      (_, i) => queued({ service: i % 2 ? "scope" : "lab" }),
    );
    for (const record of records) store.put(record);
    const ids = (list: TaskRecord[]) => list.map((record) => records.indexOf(record));
    const first = await store.list({ limit: 3 });
    assert.deepEqual(ids(first.records), [6, 5, 4]);
    const second = await store.list({ limit: 3, cursor: first.next });
    assert.deepEqual(ids(second.records), [3, 2, 1]);
    const last = await store.list({ limit: 3, cursor: second.next });
    assert.deepEqual(ids(last.records), [0]);
    assert.equal(last.next, undefined);
    // Filtered pages skip what does not match; `next` only when another record matches.
    const lab = await store.list({ service: "lab", limit: 2 });
    assert.deepEqual(ids(lab.records), [6, 4]);
    const labRest = await store.list({ service: "lab", limit: 2, cursor: lab.next });
    assert.deepEqual(ids(labRest.records), [2, 0]);
    assert.equal(labRest.next, undefined);
    // A record that changes state keeps its place: the order is the order of submission.
    store.put(finish(records[0]));
    assert.deepEqual(ids((await store.list()).records), [6, 5, 4, 3, 2, 1, 0]);
    for (const cursor of ["s1", "42", "m" + "x".repeat(201)]) {
      await assert.rejects(store.list({ cursor }), /cursor: not a cursor this store gave/, cursor);
    }
  });
});

Deno.test({
  name: "memory store: a page after one whose last record was removed goes on",
  // The cursor names the last record of the page; that record may be deleted or expire before
  // the next page is asked for, and the listing must not end there.
  fn: async () => {
    await withStore({}, async (store) => {
      const records = Array.from({ length: 6 }, () => queued());
      for (const record of records) store.put(record);
      const first = await store.list({ limit: 2 });
      store.delete(first.records[1].id);
      const second = await store.list({ limit: 2, cursor: first.next });
      assert.deepEqual(second.records, [records[3], records[2]]);
    });
  },
});

Deno.test("memory store: finished records expire after the ttl of their type; unfinished never", async () => {
  await withStore(
    { retention: { ttlMs: 3_600_000, perType: { Blink: { ttlMs: 20 } } } },
    async (store) => {
      const blink = finish(queued({ type: "Blink" }));
      delete blink.expiresAt; // the store's ttl for its type applies: 20 ms after it finished
      const kept = finish(queued());
      delete kept.expiresAt; // an hour
      const waiting = queued({ type: "Blink", createdAt: 0 });
      for (const record of [blink, kept, waiting]) store.put(record);
      await until(async () => !(await store.get(blink.id)), "the Blink record expires");
      assert.deepEqual(await held(store, [kept, waiting]), [kept.id, waiting.id]);
      // A record's own expiresAt wins over its type's ttl (an hour for this type).
      const early = finish(queued({ type: "Own" }), "failed", Date.now() + 20);
      store.put(early);
      await until(
        async () => !(await store.get(early.id)),
        "the record expires at its expiresAt",
      );
      assert.ok(await store.get(kept.id));
    },
  );
});

Deno.test("memory store: caps per type and overall, due first goes; a deleted record frees its place", async () => {
  await withStore(
    { retention: { maxRecords: 3, perType: { Never: { maxRecords: 0 } } } },
    async (store) => {
      // A cap of 0: a finished record of that type goes as soon as it is put.
      const never = queued({ type: "Never" });
      store.put(never);
      assert.ok(await store.get(never.id), "kept while unfinished");
      store.put(finish(never));
      assert.equal(await store.get(never.id), undefined);

      // The manager sets expiresAt from the type's ttl: within a type, in the order they finish.
      const base = Date.now() + 3_600_000;
      const a = [0, 2].map((i) => finish(queued({ type: "A" }), "succeeded", base + i));
      const b = [1].map((i) => finish(queued({ type: "B" }), "succeeded", base + i));
      for (const record of [a[0], b[0], a[1]]) store.put(record);
      // Over the cap of 3 overall: the record due first goes, of whichever type.
      const b3 = finish(queued({ type: "B" }), "succeeded", base + 3);
      store.put(b3);
      assert.deepEqual(await held(store, [...a, ...b, b3]), [a[1].id, b[0].id, b3.id]);
      const a4 = finish(queued({ type: "A" }), "succeeded", base + 4);
      store.put(a4);
      assert.deepEqual(await held(store, [...a, ...b, b3, a4]), [a[1].id, b3.id, a4.id]);
      // A deleted record frees its place: nothing else goes for the next one.
      store.delete(a[1].id);
      store.delete("no-such-id"); // harmless
      const a5 = finish(queued({ type: "A" }), "succeeded", base + 5);
      store.put(a5);
      assert.deepEqual(await held(store, [b3, a4, a5]), [b3.id, a4.id, a5.id]);
      // Unfinished records are not counted, and never removed.
      const running = queued({ state: "running" });
      store.put(running);
      assert.ok(await store.get(running.id));
      assert.equal((await store.stats()).records, 4);
    },
  );
});

Deno.test("memory store: meta values, stats, and close stops the retention timer", async () => {
  const store = new MemoryTaskStore({ retention: { ttlMs: 60_000 } });
  await store.open();
  store.putMeta("schedules", "{}");
  assert.equal(await store.getMeta("schedules"), "{}");
  assert.equal(await store.getMeta("nothing"), undefined);
  store.put(finish(queued()));
  assert.deepEqual(await store.stats(), { kind: "memory", records: 1 });
  // The timer set for that record's expiry is cleared (the test's op sanitizer checks).
  await store.close();
});

/**
 * The cluster's task store (`src/store/jetstream_kv.ts`) against a real
 * `nats-server`: put and flush (one write per record per flush, visible to
 * a second store at once), get of the latest local put before its flush,
 * pages newest first with filters, small values, removal, compare-and-set,
 * waiting for a record to end, records larger than the server's message
 * limit, writes that go through after a server restart, a `running`
 * record a task's end in the same turn replaces (a cluster host's store),
 * and the server's answer to a final write copied to the task's submitter.
 */
import assert from "node:assert/strict";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import "../src/transport/nats/socket_guard.ts";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { fitRecord, JetStreamTaskStore, recordKey } from "../src/store/jetstream_kv.ts";
import { copySubscription } from "../src/store/jetstream_publish.ts";
import { EMPTY_LOG, type TaskRecord } from "../src/task/record.ts";
import { uuidv7 } from "../src/util/uuid.ts";
import { NatsServer } from "./helpers/nats.ts";
import { eventually } from "./helpers/poll.ts";

function record(fields: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: uuidv7(),
    type: "Sum",
    service: "lab",
    fields: { a: 1, b: 2 },
    attributes: {},
    parallel: true,
    state: "queued",
    attempts: 0,
    createdAt: Date.now(),
    log: EMPTY_LOG,
    ...fields,
  };
}

async function withStores(
  run: (
    writer: JetStreamTaskStore,
    reader: JetStreamTaskStore,
    server: NatsServer,
  ) => Promise<void>,
): Promise<void> {
  await using server = await NatsServer.start();
  const connections: NatsConnection[] = [];
  const open = async (create: boolean) => {
    const nc = await connect({
      servers: server.url,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    connections.push(nc);
    return await JetStreamTaskStore.connect(nc, { ttlMs: 60_000, create });
  };
  const writer = await open(true);
  const reader = await open(false);
  try {
    await run(writer, reader, server);
  } finally {
    await writer.close();
    await reader.close();
    for (const nc of connections) await nc.close();
  }
}

Deno.test("jetstream kv store: flushed records are read by another process's store; the latest local put first", async () => {
  await withStores(async (writer, reader) => {
    assert.equal(writer.durable, true);
    assert.deepEqual(await writer.open(), [], "unfinished work is the stream's, not the store's");
    const task = record();
    writer.put(task);
    task.state = "running";
    writer.put(task);
    assert.equal((await writer.get(task.id))?.state, "running", "before the flush");
    assert.equal(await reader.get(task.id), undefined, "not flushed yet");
    await writer.flush();
    assert.equal((await reader.get(task.id))?.state, "running");
    const stored = await reader.read(task.id);
    assert.equal(stored?.revision !== undefined, true);
    // Compare and set: only from the revision read.
    const ended = { ...task, state: "succeeded" as const };
    assert.equal(await reader.replace(ended, stored!.revision), true);
    assert.equal(await reader.replace(ended, stored!.revision), false, "written since");
    assert.equal((await writer.read(task.id))?.record.state, "succeeded");
    writer.delete(task.id);
    await writer.flush();
    assert.equal(await reader.get(task.id), undefined);
    assert.equal(writer.flush(), undefined, "nothing put: nothing to wait for");
    assert.equal(recordKey("t.>"), undefined);
    assert.equal(await reader.get("t.>"), undefined, "an id no task can have");
  });
});

Deno.test("jetstream kv store: pages newest first, filtered, with a cursor; small values", async () => {
  await withStores(async (writer, reader) => {
    // A millisecond apart: ids made in the same millisecond are in no particular order.
    const t0 = Date.now();
    const records = Array.from({ length: 7 }, (_, i) =>
      record({
        id: uuidv7(t0 + i),
        service: i % 2 ? "odd" : "even",
        state: i < 5 ? "succeeded" : "queued",
      }));
    for (const each of records) writer.put(each);
    await writer.flush();
    const ids = records.map((each) => each.id).reverse();
    const first = await reader.list({ limit: 3 });
    assert.deepEqual(first.records.map((each) => each.id), ids.slice(0, 3));
    const second = await reader.list({ limit: 3, cursor: first.next });
    assert.deepEqual(second.records.map((each) => each.id), ids.slice(3, 6));
    const last = await reader.list({ limit: 3, cursor: second.next });
    assert.deepEqual(last.records.map((each) => each.id), ids.slice(6));
    assert.equal(last.next, undefined);
    const even = await reader.list({ service: "even", state: "succeeded" });
    assert.deepEqual(
      even.records.map((each) => each.id),
      records.filter((_each, i) => i % 2 === 0 && i < 5).map((each) => each.id).reverse(),
    );
    await assert.rejects(reader.list({ cursor: "s1" }), /cursor/);
    writer.putMeta("schedule:nightly ☾", "1234");
    await writer.flush();
    assert.equal(await reader.getMeta("schedule:nightly ☾"), "1234");
    assert.equal(await reader.getMeta("unknown"), undefined);
    const stats = await reader.stats();
    assert.equal(stats.kind, "nats");
    assert.equal(stats.records, 8);
  });
});

Deno.test("jetstream kv store: a page reads its own records, not the bucket's; removed records are skipped", async () => {
  await withStores(async (writer, reader, server) => {
    const t0 = Date.now();
    const records = Array.from({ length: 1_000 }, (_, i) => record({ id: uuidv7(t0 + i) }));
    for (const each of records) writer.put(each);
    writer.delete(records[999].id);
    await writer.flush();
    // Every read of a record is a get request on the bucket's stream: count them.
    const spy = await connect({ servers: server.url });
    let reads = 0;
    let consumers = 0;
    spy.subscribe("$JS.API.>", {
      callback: (_error, msg) => {
        if (!msg.subject.includes(`KV_${reader.bucket}`)) return;
        if (/\bGET\b/.test(msg.subject)) reads++;
        if (/\bCONSUMER\.CREATE\b/.test(msg.subject)) consumers++;
      },
    });
    await spy.flush();
    try {
      const page = await reader.list({ limit: 10 });
      assert.deepEqual(
        page.records.map((each) => each.id),
        records.slice(989, 999).map((each) => each.id).reverse(),
        "newest first, the removed one skipped",
      );
      await spy.flush();
      assert.ok(reads >= 10 && reads <= 2 * 64, `${reads} records read for a page of 10`);
      assert.equal(consumers, 0, "no pass over the bucket");
      const next = await reader.list({ limit: 10, cursor: page.next });
      assert.equal(next.records[0].id, records[988].id);
    } finally {
      await spy.close();
    }
  });
});

Deno.test("jetstream kv store: ended() waits for any process's final write", async () => {
  await withStores(async (writer, reader) => {
    const task = record();
    writer.put(task);
    await writer.flush();
    const ended = reader.ended(task.id);
    writer.put({ ...task, state: "running" });
    await writer.flush();
    writer.put({
      ...task,
      state: "failed",
      outcome: { status: "error", id: task.id, ename: "E", evalue: "v", traceback: "" },
    });
    await writer.flush();
    assert.equal((await ended)?.state, "failed");
    assert.equal(await reader.ended(uuidv7()), undefined, "unknown");
    const queued = record();
    writer.put(queued);
    await writer.flush();
    const abort = new AbortController();
    const waiting = reader.ended(queued.id, abort.signal);
    abort.abort(new Error("gave up"));
    await assert.rejects(waiting, /gave up/);
  });
});

Deno.test("jetstream kv store: a record over the server's max_payload is stored without what makes it large", async () => {
  const large = record({
    state: "succeeded",
    outcome: { status: "ok", id: "x", result: "y".repeat(2_000_000) },
    fields: { pad: "z".repeat(10_000) },
  });
  const text = fitRecord(large, 1024 * 1024 - 4096);
  assert.ok(new TextEncoder().encode(text).length <= 1024 * 1024 - 4096);
  const stored = JSON.parse(text);
  assert.equal(stored.outcome.result, "(left out: too large to store)");
  assert.deepEqual(
    stored.fields,
    { pad: "z".repeat(10_000) },
    "kept: it fits once the result is out",
  );
  assert.match(stored.log.at(-1).message, /max_payload/);
  await withStores(async (writer, reader) => {
    writer.put(large);
    await writer.flush();
    assert.equal((await reader.get(large.id))?.outcome?.status, "ok");
  });
});

Deno.test("jetstream kv store: a write made while the server restarts goes through once it is back", async () => {
  await withStores(async (writer, reader, server) => {
    const task = record();
    let flushed: void | Promise<void> = undefined;
    await server.restart({
      whileDown: async () => {
        writer.put(task);
        flushed = writer.flush();
        await Promise.resolve();
      },
    });
    await flushed;
    assert.equal((await reader.get(task.id))?.id, task.id);
  });
});

Deno.test("jetstream kv store: without waiting for unfinished records, a task that ends in the turn it started is written once; one that runs on, at the turn's end", async () => {
  await using server = await NatsServer.start();
  const nc = await connect({ servers: server.url });
  const store = await JetStreamTaskStore.connect(nc, { ttlMs: 60_000, waitForUnfinished: false });
  const kv = await new Kvm(nc).open("zest_tasks");
  const revisions = async (id: string) => {
    const states: string[] = [];
    for await (const entry of await kv.history({ key: `t.${id}` })) {
      states.push(entry.json<TaskRecord>().state);
    }
    return states;
  };
  try {
    // Ends within the turn: the `running` write is replaced before it goes out.
    const quick = record({ state: "running" });
    store.put(quick);
    assert.equal(store.flush(), undefined, "an unfinished record is not waited for");
    store.put({ ...quick, state: "succeeded" });
    await store.flush();
    assert.deepEqual(await revisions(quick.id), ["succeeded"]);

    // Runs on: its `running` record is written at the end of the turn, seen by anyone.
    const slow = record({ state: "running" });
    store.put(slow);
    store.flush();
    assert.equal((await store.get(slow.id))?.state, "running", "this process sees it at once");
    await eventually(
      "the running record is stored",
      async () => (await store.read(slow.id))?.record.state === "running",
    );
    store.put({ ...slow, state: "succeeded" });
    await store.flush();
    assert.deepEqual(await revisions(slow.id), ["succeeded"], "history 1: the last revision");
    // The bucket's sequence: one write of the quick task, then two of this one.
    assert.equal((await store.read(slow.id))?.revision, 3);
  } finally {
    await store.close();
    await nc.close();
  }
});

Deno.test("jetstream kv store: a final write with holdEnd is not waited for by the flush; its holder gets it as it is sent, and the server's answer is copied to a submitter", async () => {
  await withStores(async (writer, _reader, server) => {
    const submitter = await connect({ servers: server.url });
    try {
      const copies: string[] = [];
      const copied = Promise.withResolvers<void>();
      submitter.subscribe(copySubscription("Sub1"), {
        callback: (_error, msg) => {
          copies.push(msg.subject);
          copied.resolve();
        },
      });
      await submitter.flush();
      const task = record({ state: "running" });
      const sent: string[] = [];
      let stored: Promise<void> | undefined;
      writer.holdEnd(task.id, {
        copyTo: "Sub1.7",
        sent: (ended, write) => {
          sent.push(ended.state);
          stored = write;
        },
      });
      writer.put(task);
      await writer.flush();
      assert.deepEqual(sent, [], "not on an unfinished write");
      writer.put({ ...task, state: "failed" });
      assert.equal(writer.flush(), undefined, "the flush leaves the held write to its holder");
      assert.deepEqual(sent, ["failed"], "as soon as the final write is sent");
      await stored;
      assert.equal((await writer.read(task.id))?.record.state, "failed", "stored once it settles");
      await copied.promise;
      assert.equal(copies.length, 1);
      assert.match(copies[0], /^_INBOX\.[A-Za-z0-9]+\.\d+\.Sub1\.7$/);

      // Held only once: a later final write of the same task is the flush's again.
      writer.put({ ...task, state: "cancelled" });
      const flushed = writer.flush();
      assert.ok(flushed instanceof Promise);
      await flushed;
      assert.deepEqual(sent, ["failed"]);
    } finally {
      await submitter.close();
    }
  });
});

Deno.test("jetstream kv store: a held final write the server refuses for good fails the next flush, once", async () => {
  await withStores(async (writer, _reader, server) => {
    const nc = await connect({ servers: server.url });
    try {
      // The server refuses messages over 400 bytes into the bucket from now on.
      const jsm = await jetstreamManager(nc);
      const { config } = await jsm.streams.info(`KV_${writer.bucket}`);
      await jsm.streams.update(config.name, { ...config, max_msg_size: 400 });
      const task = record({ state: "running", fields: {} });
      let stored: Promise<void> | undefined;
      writer.holdEnd(task.id, { sent: (_ended, write) => stored = write });
      writer.put({
        ...task,
        state: "succeeded",
        outcome: { status: "ok", id: task.id, result: "x".repeat(1_000) },
      });
      assert.equal(writer.flush(), undefined, "the flush leaves the held write to its holder");
      await assert.rejects(stored as Promise<void>, /size|maximum/i);
      // The next flush says so (the manager then takes no new tasks), and only that one.
      writer.put(record({ fields: {} }));
      await assert.rejects(Promise.resolve(writer.flush()), /size|maximum/i);
      writer.put(record({ fields: {} }));
      await writer.flush();
    } finally {
      await nc.close();
    }
  });
});

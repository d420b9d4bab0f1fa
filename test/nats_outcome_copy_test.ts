/**
 * The pipelined outcome of cluster mode, against a real `nats-server`: a host
 * sends a task's outcome right behind the write of its final record, and the
 * server's answer to that write (sent once the record is stored) is copied
 * to the submitter. A client settles on the outcome only once that copy has
 * come, so whoever reads the record after the outcome reads the final one.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import { headers } from "@nats-io/transport-node";
import "../src/transport/nats/socket_guard.ts";
import { Client } from "../src/mod.ts";
import { JetStreamTaskStore } from "../src/store/jetstream_kv.ts";
import { JetStreamPublisher } from "../src/store/jetstream_publish.ts";
import { isTerminal, type TaskRecord } from "../src/task/record.ts";
import { STORED_HEADER, subjectsOf } from "../src/transport/nats/subjects.ts";
import { replicaWithClients } from "./helpers/cluster.ts";
import { eventually } from "./helpers/poll.ts";
import { NatsServer } from "./helpers/nats.ts";

Deno.test("nats client: an outcome sent before its record is stored settles once the server's answer to that write is copied to it", async () => {
  await using server = await NatsServer.start();
  // A stand-in host on a plain connection, with the cluster's record bucket.
  const host = await connect({ servers: server.url });
  const hostStore = await JetStreamTaskStore.connect(host, { ttlMs: 60_000 });
  const publisher = new JetStreamPublisher(host);
  const client = await Client.connect(server.url);
  try {
    const submitted = Promise.withResolvers<{ reply: string; copy: string }>();
    host.subscribe(subjectsOf("fake").submit, {
      callback: (_error, msg) => {
        const body = msg.json<{ reply: string; copy: string }>();
        msg.respond(JSON.stringify({ taskId: "t-1" }));
        submitted.resolve(body);
      },
    });
    await host.flush();
    let settled = false;
    const execution = client.execute("fake", { type: "Noop", fields: {} }).finally(() => {
      settled = true;
    });
    const { reply, copy } = await submitted.promise;
    assert.match(copy, /^[A-Za-z0-9]+\.\d+$/, "the submission says where to copy the answer");

    // The outcome, marked as sent before its record is stored; then an event behind it
    // (a publisher's messages reach a subscriber in order): the outcome has been read.
    const marked = headers();
    marked.set(STORED_HEADER, "copy");
    host.publish(reply, JSON.stringify({ status: "ok", id: "t-1", result: 42 }), {
      headers: marked,
    });
    const seen = Promise.withResolvers<void>();
    const stop = client.watch((event) => {
      if (event.kind === "removed" && event.id === "marker") seen.resolve();
    });
    await eventually("the watch is set up", async () => {
      host.publish(subjectsOf("fake").events, JSON.stringify({ kind: "removed", id: "marker" }));
      return await Promise.race([seen.promise.then(() => true), host.flush().then(() => false)]);
    });
    stop();
    assert.equal(settled, false, "not settled before the record is stored");

    // The final record's write, its answer copied to the client: now it settles.
    const record: TaskRecord = {
      id: "t-1",
      type: "Noop",
      service: "fake",
      fields: {},
      attributes: {},
      parallel: true,
      state: "succeeded",
      attempts: 1,
      createdAt: Date.now(),
      log: [],
      outcome: { status: "ok", id: "t-1", result: 42 },
    };
    await publisher.publish("$KV.zest_tasks.t.t-1", JSON.stringify(record), { copyTo: copy });
    assert.equal(await execution, 42);
    assert.equal((await client.status("t-1"))?.state, "succeeded");
  } finally {
    await client.close();
    publisher.close();
    await hostStore.close();
    await host.close();
  }
});

Deno.test("cluster: every outcome a client hears has its final record stored, read at once from another connection", async () => {
  await using server = await NatsServer.start();
  await using cluster = await replicaWithClients(server.url);
  const { client, nc: reader } = cluster;
  const store = await JetStreamTaskStore.connect(reader, { create: false });
  try {
    await eventually("the replica is listed", async () => (await client.services()).length > 0);
    const one = async (label: string) => {
      const request = await client.request("stamp", {
        type: "ParallelStamp",
        fields: { label },
      });
      const outcome = await request.outcome;
      assert.equal(outcome.status, "ok");
      const stored = await store.read(request.taskId);
      assert.ok(
        stored && isTerminal(stored.record.state),
        `task ${label}: read ${stored?.record.state} right after its outcome`,
      );
    };
    // One at a time, then 20 at once.
    for (let i = 0; i < 50; i++) await one(`s${i}`);
    await Promise.all(Array.from({ length: 20 }, (_, i) => one(`p${i}`)));
  } finally {
    await store.close();
  }
});

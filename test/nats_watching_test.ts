/**
 * Cluster mode's events are published only while someone watches (see
 * `WATCHING` in `src/transport/nats/subjects.ts`), and a parallel task's ack
 * may wait for other messages to go with (see `NatsHost`): against a real
 * `nats-server` and a real replica process.
 */
import assert from "node:assert/strict";
import { jetstreamManager } from "@nats-io/jetstream";
import "../src/transport/nats/socket_guard.ts";
import { Client, type TaskEvent } from "../src/mod.ts";
import { EVENT_SUBJECTS, subjectsOf, TASK_STREAM } from "../src/transport/nats/subjects.ts";
import { replicaWithClients, startReplica } from "./helpers/cluster.ts";
import { eventually } from "./helpers/poll.ts";
import { NatsServer } from "./helpers/nats.ts";
import { TEST_TOKEN } from "./helpers/server.ts";

Deno.test("cluster: task events go out only while someone watches; a watcher that submits at once sees every state", async () => {
  await using server = await NatsServer.start();
  await using cluster = await replicaWithClients(server.url);
  // A plain subscriber that never says it watches: it sees what the hosts publish.
  const { client, nc: spy } = cluster;
  const published: TaskEvent[] = [];
  spy.subscribe(EVENT_SUBJECTS, { callback: (_error, msg) => void published.push(msg.json()) });
  await spy.flush();
  const stateEvents = (events: TaskEvent[], id: string) =>
    events.flatMap((event) =>
      event.kind === "task" && event.record.id === id ? [event.record.state] : []
    );
  await eventually("the replica is listed", async () => (await client.services()).length > 0);

  // Nobody watches: the host asked at its start, nobody answered.
  const unwatched = await client.request("stamp", { type: "ParallelStamp", fields: {} });
  assert.equal((await unwatched.outcome).status, "ok");
  await spy.flush(); // What the host published before the outcome has reached the spy.
  assert.deepEqual(stateEvents(published, unwatched.taskId), []);

  // A watcher, and a task submitted right after: every state of it.
  const seen: TaskEvent[] = [];
  const stop = client.watch((event) => seen.push(event));
  try {
    // Each state once: the host that runs a task does not announce it queued a second time.
    const statesOf = async (type: string) => {
      const { taskId, outcome } = await client.request("stamp", { type, fields: {} });
      assert.equal((await outcome).status, "ok");
      await eventually(
        `the end of a ${type} is seen`,
        () => stateEvents(seen, taskId).includes("succeeded"),
      );
      return { taskId, states: stateEvents(seen, taskId) };
    };
    const watched = await statesOf("ParallelStamp");
    assert.deepEqual(watched.states, ["queued", "running", "succeeded"]);
    assert.deepEqual((await statesOf("SerialStamp")).states, ["queued", "running", "succeeded"]);
    assert.ok(
      seen.some((event) => event.kind === "log" && event.id === watched.taskId),
      "its log lines too",
    );
  } finally {
    stop();
  }
});

Deno.test("cluster: once watching() resolves, a task another client submits shows every state, directly on NATS and through a gateway", async () => {
  await using server = await NatsServer.start();
  const [replica, gateway] = await Promise.all([
    startReplica({ config: "test/fixtures/cluster.config.ts", nats: server.url }),
    startReplica({ config: "test/fixtures/gateway.config.ts", nats: server.url, gateway: true }),
  ]);
  const submitter = await Client.connect(server.url);
  const direct = await Client.connect(server.url);
  const viaGateway = await Client.connect(gateway.wsUrl as URL, { token: TEST_TOKEN });
  try {
    await eventually("the replica is listed", async () => (await submitter.services()).length > 0);
    for (const watcher of [direct, viaGateway]) {
      // The first watcher starts with nobody watching: the hosts publish no task events yet.
      const seen: TaskEvent[] = [];
      const stop = watcher.watch((event) => seen.push(event));
      try {
        await watcher.watching();
        const task = await submitter.request("stamp", { type: "ParallelStamp", fields: {} });
        assert.equal((await task.outcome).status, "ok");
        const states = await eventually("its end is seen", () => {
          const states = seen.flatMap((event) =>
            event.kind === "task" && event.record.id === task.taskId ? [event.record.state] : []
          );
          return states.includes("succeeded") && states;
        });
        assert.ok(states.includes("queued"), `the first state too: ${states}`);
      } finally {
        stop();
      }
    }
  } finally {
    await Promise.all([submitter.close(), direct.close(), viaGateway.close()]);
    await Promise.all([replica.stop(), gateway.stop()]);
  }
});

Deno.test("cluster: a parallel task is acknowledged without other traffic to go with", async () => {
  await using server = await NatsServer.start();
  await using cluster = await replicaWithClients(server.url);
  const { client, nc } = cluster;
  await eventually("the replica is listed", async () => (await client.services()).length > 0);
  const outcome = await (await client.request("stamp", { type: "ParallelStamp", fields: {} }))
    .outcome;
  assert.equal(outcome.status, "ok");
  const jsm = await jetstreamManager(nc);
  const consumer = subjectsOf("stamp").consumer("parallel");
  await eventually("the task is acknowledged and gone from the stream", async () => {
    const info = await jsm.consumers.info(TASK_STREAM, consumer);
    return info.num_ack_pending === 0 && info.num_pending === 0 &&
      (await jsm.streams.info(TASK_STREAM)).state.messages === 0;
  });
});

/**
 * The `nats-server` harness (`test/helpers/nats.ts`) with the real client
 * libraries the cluster transport is to use: a JetStream work-queue stream, a
 * durable pull consumer and a KV bucket survive a server restart, the client
 * reconnects by itself, and stopping leaves no process and no folder.
 */
import assert from "node:assert/strict";
// Before any connection: a refused or reset connection must not kill the process
// (see the module).
import "../src/transport/nats/socket_guard.ts";
import { connect, type NatsConnection, type Status } from "@nats-io/transport-node";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { NatsServer } from "./helpers/nats.ts";

const TOKEN = "harness-token-0123456789";

/** Whether a process with this pid runs `nats-server` now. */
async function natsServerRunning(pid: number): Promise<boolean> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).includes("nats-server");
  } catch {
    return false;
  }
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** The next status of `type` from the connection's status stream. */
async function nextStatus(
  statuses: AsyncIterator<Status>,
  type: Status["type"],
): Promise<Status> {
  for (;;) {
    const { value, done } = await statuses.next();
    if (done) throw new Error(`status stream ended before ${type}`);
    if (value.type === type) return value;
  }
}

/** Take `n` messages from a durable consumer, acking each; returns their payloads. */
async function take(nc: NatsConnection, n: number): Promise<string[]> {
  const consumer = await jetstream(nc).consumers.get("TASKS", "svc");
  const messages = await consumer.consume({ max_messages: 10 });
  const seen: string[] = [];
  for await (const message of messages) {
    seen.push(message.string());
    await message.ackAck();
    if (seen.length === n) break;
  }
  await messages.close();
  return seen;
}

Deno.test("nats harness: stream, durable consumer and KV survive a restart; the client reconnects; stop leaves nothing", async () => {
  const server = await NatsServer.start({ token: TOKEN, monitoring: true });
  const firstPid = server.pid;
  let nc: NatsConnection | undefined;
  try {
    nc = await connect({
      servers: server.url,
      token: TOKEN,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 100,
    });
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: "TASKS",
      subjects: ["tasks.>"],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await jsm.consumers.add("TASKS", {
      durable_name: "svc",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 1,
      filter_subject: "tasks.svc",
    });
    const js = jetstream(nc);
    for (const body of ["a", "b", "c"]) await js.publish("tasks.svc", body);
    assert.deepEqual(await take(nc, 3), ["a", "b", "c"]);

    const kv = await new Kvm(nc).create("records", { history: 1, ttl: 60_000 });
    await kv.put("task.1", JSON.stringify({ state: "done" }));

    // A backlog, then a restart with the same store.
    for (const body of ["d", "e"]) await js.publish("tasks.svc", body);
    const statuses = nc.status()[Symbol.asyncIterator]();
    await server.restart({
      whileDown: async () => {
        await nextStatus(statuses, "disconnect");
      },
    });
    await nextStatus(statuses, "reconnect");
    assert.notEqual(server.pid, firstPid);
    assert.equal(await natsServerRunning(firstPid), false);

    const info = await jsm.streams.info("TASKS");
    assert.equal(info.state.messages, 2, "the backlog is still in the stream");
    assert.deepEqual(await take(nc, 2), ["d", "e"]);
    const record = await kv.get("task.1");
    assert.deepEqual(record?.json(), { state: "done" });

    const varz = await (await fetch(`${server.monitorUrl}/varz`)).json();
    assert.equal(varz.port, server.port, "the monitoring port answers for this server");
  } finally {
    await nc?.close();
    await server.stop();
  }
  assert.equal(await natsServerRunning(server.pid), false, "no nats-server process left");
  assert.equal(await exists(server.storeDir), false, "the store folder is removed");
});

Deno.test("nats harness: user and password are required; keepStore keeps the folder", async () => {
  const server = await NatsServer.start({ user: "zest", password: 'pa ss"word' });
  try {
    await assert.rejects(
      connect({ servers: server.url, user: "zest", pass: "wrong", maxReconnectAttempts: 0 }),
      /Authorization Violation/i,
    );
    const nc = await connect({ servers: server.url, user: "zest", pass: 'pa ss"word' });
    await nc.close();
  } finally {
    await server.stop({ keepStore: true });
  }
  assert.equal(await natsServerRunning(server.pid), false);
  assert.equal(await exists(server.storeDir), true, "the store stays for a later server");
  await Deno.remove(new URL("..", `file://${server.storeDir}/`), { recursive: true });
});

Deno.test("nats harness: a missing executable names the apt-get command", async () => {
  await assert.rejects(
    NatsServer.start({ executable: "/nonexistent/nats-server" }),
    /apt-get install -y nats-server/,
  );
});

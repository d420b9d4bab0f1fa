/**
 * The cluster layout sketched in ARCHITECTURE.md, tried with raw NATS before
 * Zest builds on it: two replica processes (`helpers/nats_replica.ts`) share
 * one durable pull consumer with `max_ack_pending: 1` on a work-queue stream.
 * A serial service stays serial across them (FIFO, no overlap); a task that
 * runs longer than `ack_wait` keeps its delivery with `working()`; `kill -9`
 * of the replica running a task redelivers it to the other after `ack_wait`
 * with `info.deliveryCount` 2, and the task queued behind it runs after it.
 */
import assert from "node:assert/strict";
// Before any connection: a refused or reset connection must not kill the process
// (see the module).
import "../src/transport/nats/socket_guard.ts";
import { connect, nanos, type NatsConnection } from "@nats-io/transport-node";
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { NatsServer } from "./helpers/nats.ts";
import type { ReplicaEvent, ReplicaTask } from "./helpers/nats_replica.ts";

const REPLICA = new URL("./helpers/nats_replica.ts", import.meta.url).pathname;
const ACK_WAIT_MS = 2_000;
const HEARTBEAT_MS = 500;

/** A replica process and the promise of its `ready` line. */
function startReplica(url: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", REPLICA, url, "TASKS", "serial", "events", String(HEARTBEAT_MS)],
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const ready = (async () => {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("ready")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("replica exited before it was ready");
      text += value;
    }
    // It prints nothing more.
    await reader.cancel();
  })();
  return { child, ready };
}

/** Collects replica events; `until` resolves once `predicate` holds for what has arrived. */
function watchEvents(nc: NatsConnection) {
  const events: ReplicaEvent[] = [];
  let check = () => {};
  nc.subscribe("events", {
    callback: (_error, message) => {
      events.push(message.json<ReplicaEvent>());
      check();
    },
  });
  return {
    events,
    until(predicate: (events: ReplicaEvent[]) => boolean): Promise<void> {
      const { promise, resolve } = Promise.withResolvers<void>();
      check = () => {
        if (predicate(events)) resolve();
      };
      check();
      return promise;
    },
  };
}

const ended = (id: string) => (events: ReplicaEvent[]) =>
  events.some((event) => event.kind === "end" && event.id === id);

Deno.test("nats layout: a serial service stays serial across two replica processes; kill -9 redelivers", async () => {
  await using server = await NatsServer.start();
  const nc = await connect({ servers: server.url });
  const replicas = [startReplica(server.url), startReplica(server.url)];
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({
      name: "TASKS",
      subjects: ["tasks.>"],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
    });
    await jsm.consumers.add("TASKS", {
      durable_name: "serial",
      filter_subject: "tasks.serial",
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: 1,
      ack_wait: nanos(ACK_WAIT_MS),
      max_deliver: 5,
    });
    const watcher = watchEvents(nc);
    await Promise.all(replicas.map((replica) => replica.ready));
    const js = jetstream(nc);
    const submit = (task: ReplicaTask) => js.publish("tasks.serial", JSON.stringify(task));

    // 12 short tasks, then one that runs past ack_wait on heartbeats alone.
    const ids = Array.from({ length: 12 }, (_, i) => `t${i + 1}`);
    for (const id of ids) await submit({ id, ms: 20 });
    await submit({ id: "long", ms: ACK_WAIT_MS + 1_500 });
    await watcher.until(ended("long"));
    const starts = watcher.events.filter((event) => event.kind === "start");
    assert.deepEqual(starts.map((event) => event.id), [...ids, "long"], "FIFO, each once");
    assert.ok(starts.every((event) => event.deliveryCount === 1), "nothing redelivered");
    // Serial: every start comes right after the previous task's end.
    watcher.events.forEach((event, i) => {
      assert.equal(event.kind, i % 2 === 0 ? "start" : "end", `no overlap at event ${i}`);
      if (event.kind === "end") assert.equal(event.id, watcher.events[i - 1].id);
    });
    const pids = new Set(starts.map((event) => event.pid));
    console.log(`12 + 1 serial tasks ran on ${pids.size} replica(s), in order, without overlap`);

    // kill -9 the replica running "victim": it goes to the other replica with deliveryCount 2.
    const before = watcher.events.length;
    await submit({ id: "victim", ms: 60_000, msWhenRedelivered: 20 });
    await submit({ id: "after", ms: 20 });
    await watcher.until((events) => events.length > before);
    const victimStart = watcher.events[before];
    assert.deepEqual([victimStart.kind, victimStart.id], ["start", "victim"]);
    const victim = replicas.find((replica) => replica.child.pid === victimStart.pid)!;
    victim.child.kill("SIGKILL");
    await victim.child.status;
    const killedAt = Date.now();
    await watcher.until(ended("after"));
    const rest = watcher.events.slice(before + 1).map((event) =>
      `${event.kind} ${event.id} #${event.deliveryCount}`
    );
    assert.deepEqual(rest, ["start victim #2", "end victim #2", "start after #1", "end after #1"]);
    const redelivered = watcher.events[before + 1];
    assert.notEqual(redelivered.pid, victimStart.pid, "the other replica took it");
    console.log(
      `redelivered ${redelivered.at - killedAt} ms after kill -9 ` +
        `(${redelivered.at - victimStart.at} ms after its first start; ack_wait ${ACK_WAIT_MS} ms)`,
    );
  } finally {
    for (const replica of replicas) {
      try {
        replica.child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await replica.child.status;
      await replica.ready.catch(() => {});
    }
    await nc.close();
  }
});

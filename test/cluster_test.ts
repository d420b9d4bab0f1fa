/**
 * Cluster mode with real processes: a real `nats-server` (a free loopback
 * port, its own store) and replicas that are each a real `deno task start
 * --config test/fixtures/cluster.config.ts --nats URL` (ack wait 1.5 s, three
 * deliveries). A serial service stays serial across two and three replicas,
 * in FIFO order; parallel tasks spread over them; `kill -9` of the replica
 * running a task ends it `InterruptedError`, or runs it again elsewhere with
 * `onInterrupt: "requeue"` — one final state either way; a replica that went
 * away leaves the registry; stopping every process with a backlog and
 * starting them again runs the backlog in order; after a `nats-server`
 * restart every process and client serves again by itself.
 */
import assert from "node:assert/strict";
import { Client, ServiceStoppedError } from "../src/mod.ts";
import { isTerminal, type TaskRecord } from "../src/task/record.ts";
import type { ClusterServiceInfo } from "../src/transport/nats/registry.ts";
import type { StampResult } from "./fixtures/cluster.config.ts";
import { type Replica, startReplica, stopAll } from "./helpers/cluster.ts";
import { eventually } from "./helpers/poll.ts";
import { NatsServer } from "./helpers/nats.ts";

const CONFIG = "test/fixtures/cluster.config.ts";
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The replicas of `service` the cluster lists now. */
async function replicasOf(client: Client, service: string): Promise<number> {
  const info = (await client.services()).find((s) => s.name === service) as
    | ClusterServiceInfo
    | undefined;
  return info?.replicas.length ?? 0;
}

/** Start `n` replicas at once. */
function replicas(server: NatsServer, n: number): Promise<Replica[]> {
  return Promise.all(
    Array.from({ length: n }, () => startReplica({ config: CONFIG, nats: server.url })),
  );
}

/** Submit `labels` one after the other (the order of submission), each `type` with `ms`. */
async function submitAll(
  client: Client,
  type: string,
  labels: string[],
  ms: number,
): Promise<Promise<StampResult>[]> {
  const outcomes: Promise<StampResult>[] = [];
  for (const label of labels) {
    const request = await client.request<StampResult>("stamp", { type, fields: { label, ms } });
    outcomes.push(request.outcome.then((outcome) => {
      if (outcome.status !== "ok") throw new Error(`${label}: ${outcome.ename}: ${outcome.evalue}`);
      return outcome.result;
    }));
  }
  return outcomes;
}

/** Serial results: in submission order, each starting after the previous ended. */
function assertSerial(results: StampResult[], labels: string[]): void {
  const byStart = [...results].sort((a, b) => a.startedAt - b.startedAt);
  assert.deepEqual(byStart.map((result) => result.label), labels, "FIFO");
  for (let i = 1; i < byStart.length; i++) {
    assert.ok(
      byStart[i].startedAt >= byStart[i - 1].endedAt,
      `no overlap: ${byStart[i].label} started before ${byStart[i - 1].label} ended`,
    );
  }
}

/**
 * Follows which process starts which attempt of which task (the stamp
 * handler's first log line), from the cluster's events: `runner(id, attempt)`
 * resolves with the pid, whether the event came before or after the call.
 */
function watchStarts(client: Client) {
  const seen = new Map<string, number>();
  const waiting = new Map<string, (pid: number) => void>();
  const stop = client.watch((event) => {
    if (event.kind !== "log") return;
    const match = event.entry.message.match(/^pid (\d+) attempt (\d+)$/);
    if (!match) return;
    const key = `${event.id}#${match[2]}`;
    seen.set(key, Number(match[1]));
    waiting.get(key)?.(Number(match[1]));
  });
  return {
    runner(id: string, attempt = 1): Promise<number> {
      const key = `${id}#${attempt}`;
      const known = seen.get(key);
      if (known !== undefined) return Promise.resolve(known);
      return new Promise((resolve) => waiting.set(key, resolve));
    },
    stop,
  };
}

/** The states a record went through, from its log. */
function statesOf(record: TaskRecord | undefined): string[] {
  return (record?.log ?? []).filter((entry) => entry.state).map((entry) => entry.state as string);
}

Deno.test("cluster: serial stays serial and FIFO across 2 and 3 replicas; parallel tasks spread", async () => {
  await using server = await NatsServer.start();
  const running = await replicas(server, 2);
  const client = await Client.connect(server.url);
  try {
    await eventually("2 replicas listed", async () => (await replicasOf(client, "stamp")) === 2);
    const labels = Array.from({ length: 12 }, (_, i) => `s${i + 1}`);
    assertSerial(await Promise.all(await submitAll(client, "SerialStamp", labels, 30)), labels);

    // Longer than the ack wait (1.5 s): its heartbeats keep it; it is never delivered again.
    const [long] = await Promise.all(await submitAll(client, "SerialStamp", ["long"], 4_000));
    assert.equal(long.label, "long");
    const longRecord = (await client.tasks({ service: "stamp", limit: 1 })).records[0];
    assert.equal(longRecord.attempts, 1);
    assert.deepEqual(statesOf(await client.status(longRecord.id)), ["running", "succeeded"]);

    const parallel = Array.from({ length: 24 }, (_, i) => `p${i + 1}`);
    const spread = await Promise.all(await submitAll(client, "ParallelStamp", parallel, 300));
    const pids = new Set(spread.map((result) => result.pid));
    assert.equal(pids.size, 2, `parallel tasks ran on both replicas: ${[...pids]}`);

    running.push(await startReplica({ config: CONFIG, nats: server.url }));
    await eventually("3 replicas listed", async () => (await replicasOf(client, "stamp")) === 3);
    const more = Array.from({ length: 15 }, (_, i) => `t${i + 1}`);
    const serial = await Promise.all(await submitAll(client, "SerialStamp", more, 30));
    assertSerial(serial, more);
    const wide = await Promise.all(await submitAll(client, "ParallelStamp", parallel, 300));
    const counts = new Map<number, number>();
    for (const result of wide) counts.set(result.pid, (counts.get(result.pid) ?? 0) + 1);
    console.log(
      `serial on ${new Set(serial.map((r) => r.pid)).size} of 3 replicas, in order; ` +
        `24 parallel tasks per replica: ${[...counts.values()].join(", ")}`,
    );
    assert.ok(counts.size >= 2, "parallel tasks spread over the replicas");
  } finally {
    await client.close();
    await stopAll(running);
  }
});

Deno.test("cluster: kill -9 of the replica running a task — InterruptedError, or run again with onInterrupt requeue", async () => {
  await using server = await NatsServer.start();
  const running = await replicas(server, 2);
  const client = await Client.connect(server.url);
  try {
    await eventually("2 replicas listed", async () => (await replicasOf(client, "stamp")) === 2);

    // The default rule: the task ends InterruptedError; the one queued behind it runs.
    const starts = watchStarts(client);
    const hold = await client.request("stamp", { type: "Hold", fields: { ms: 60_000 } });
    const behind = await client.request<StampResult>("stamp", {
      type: "SerialStamp",
      fields: { label: "behind" },
    });
    const pid = await starts.runner(hold.taskId);
    const killed = running.find((replica) => replica.pid === pid);
    assert.ok(killed, `the task runs on a replica (pid ${pid})`);
    await killed.kill();
    const outcome = await hold.outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "InterruptedError");
    const record = await client.status(hold.taskId);
    assert.deepEqual(statesOf(record), ["running", "failed"], "one final state");
    assert.match(record?.log.at(-1)?.message ?? "", /went away while attempt 1 ran/);
    const after = await behind.outcome;
    assert.equal(after.status, "ok");
    assert.notEqual(after.status === "ok" && after.result.pid, pid, "the live replica ran it");
    await eventually(
      "the killed replica leaves the registry",
      async () => (await replicasOf(client, "stamp")) === 1,
    );

    // onInterrupt "requeue": it runs again on the live replica; the record shows both attempts.
    running.push(await startReplica({ config: CONFIG, nats: server.url }));
    await eventually("2 replicas again", async () => (await replicasOf(client, "stamp")) === 2);
    const requeue = await client.request<StampResult>("stamp", {
      type: "HoldRequeue",
      fields: { ms: 60_000, laterMs: 10, label: "again" },
    });
    const first = await starts.runner(requeue.taskId);
    await running.find((replica) => replica.pid === first)?.kill();
    const again = await requeue.outcome;
    assert.equal(again.status, "ok", JSON.stringify(again));
    assert.notEqual(again.status === "ok" && again.result.pid, first);
    const requeued = await client.status(requeue.taskId);
    assert.equal(requeued?.attempts, 2);
    assert.deepEqual(statesOf(requeued), ["running", "queued", "running", "succeeded"]);
    assert.ok(
      requeued?.log.some((entry) =>
        /went away while attempt 1 ran \(delivery 2 of at most 3\)/.test(entry.message)
      ),
      "its log says why it ran again",
    );
    assert.equal(statesOf(requeued).filter((state) => isTerminal(state as never)).length, 1);
    starts.stop();
  } finally {
    await client.close();
    await stopAll(running);
  }
});

Deno.test("cluster: stop every replica with a backlog queued, start them again: the backlog runs in order", async () => {
  await using server = await NatsServer.start();
  let running = await replicas(server, 2);
  const client = await Client.connect(server.url);
  try {
    await eventually("2 replicas listed", async () => (await replicasOf(client, "stamp")) === 2);
    const starts = watchStarts(client);
    const hold = await client.request("stamp", { type: "Hold", fields: { ms: 60_000 } });
    const labels = Array.from({ length: 8 }, (_, i) => `b${i + 1}`);
    const backlog = await submitAll(client, "SerialStamp", labels, 10);
    await starts.runner(hold.taskId);
    starts.stop();
    await stopAll(running);
    const stopped = await hold.outcome;
    assert.equal(stopped.status === "error" && stopped.ename, "InterruptedError");
    const queued = await client.tasks({ service: "stamp", state: "queued" });
    assert.equal(queued.records.length, 8, "the backlog waits in the stream");

    running = await replicas(server, 2);
    assertSerial(await Promise.all(backlog), labels);
  } finally {
    await client.close();
    await stopAll(running);
  }
});

Deno.test("cluster: after a nats-server restart every replica and client serves again by itself", async () => {
  await using server = await NatsServer.start();
  const running = await replicas(server, 2);
  const client = await Client.connect(server.url);
  try {
    await eventually("2 replicas listed", async () => (await replicasOf(client, "stamp")) === 2);
    assert.equal(await client.execute("lab", { type: "Sum", fields: { a: 1, b: 1 } }), "2 V");
    await server.restart();
    const result = await eventually(
      "a task runs after the restart",
      () => client.execute("lab", { type: "Sum", fields: { a: 2, b: 3 } }).catch(() => undefined),
    );
    assert.equal(result, "5 V");
    const labels = ["r1", "r2", "r3"];
    assertSerial(await Promise.all(await submitAll(client, "SerialStamp", labels, 10)), labels);
    await eventually(
      "both replicas listed again",
      async () => (await replicasOf(client, "stamp").catch(() => 0)) === 2,
    );
  } finally {
    await client.close();
    await stopAll(running);
  }
});

Deno.test("cluster: tasks that end while the nats-server is down reach their client after it is back", async () => {
  await using server = await NatsServer.start();
  const running = await Promise.all(
    [1, 2].map(() =>
      startReplica({ config: "test/fixtures/cluster_patient.config.ts", nats: server.url })
    ),
  );
  const client = await Client.connect(server.url);
  try {
    await eventually("2 replicas listed", async () => (await replicasOf(client, "stamp")) === 2);
    const starts = watchStarts(client);
    const requests = [];
    for (let i = 0; i < 4; i++) {
      requests.push(
        await client.request<StampResult>("stamp", {
          type: "ParallelStamp",
          fields: { label: `p${i}`, ms: 2_500 },
        }),
      );
    }
    for (const request of requests) await starts.runner(request.taskId);
    starts.stop();
    // Down for longer than the tasks still run: they end, and their outcomes are sent, meanwhile.
    await server.restart({ signal: "SIGKILL", whileDown: () => pause(5_000) });
    const outcomes = await Promise.all(requests.map((request) => request.outcome));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ["ok", "ok", "ok", "ok"],
      JSON.stringify(outcomes),
    );
    for (const request of requests) {
      assert.equal((await client.status(request.taskId))?.state, "succeeded");
    }
  } finally {
    await client.close();
    await stopAll(running);
  }
});

Deno.test("cluster: a submission its client gave up on is dropped by a host that gets it later", async () => {
  await using server = await NatsServer.start();
  const [replica] = await replicas(server, 1);
  const client = await Client.connect(server.url, { submitTimeoutMs: 1_000 });
  try {
    await eventually(
      "the replica is listed",
      async () => (await replicasOf(client, "stamp")) === 1,
    );
    const before = (await client.tasks({ service: "stamp" })).records.length;
    Deno.kill(replica.pid, "SIGSTOP");
    try {
      await assert.rejects(
        client.request("stamp", { type: "ParallelStamp", fields: { label: "late" } }),
        /no host of service 'stamp' answered within 1000 ms/,
      );
      // Past the client's deadline and the hosts' allowance for clock skew (2 s).
      await pause(3_500);
    } finally {
      Deno.kill(replica.pid, "SIGCONT");
    }
    // The replica serves again; the late submission was not queued.
    const after = await eventually(
      "the replica answers again",
      () =>
        client.execute<StampResult>("stamp", { type: "ParallelStamp", fields: { label: "on" } })
          .catch(() => undefined),
    );
    assert.equal(after.label, "on");
    const queued = (await client.tasks({ service: "stamp" })).records.length;
    assert.equal(queued, before + 1, "only the task after the stop was queued");
  } finally {
    await client.close();
    await stopAll([replica]);
  }
});

Deno.test("cluster: with no replica registered, a service is not called unknown: the cluster may be starting", async () => {
  await using server = await NatsServer.start();
  const running = await replicas(server, 1);
  const client = await Client.connect(server.url);
  try {
    await eventually(
      "the replica is listed",
      async () => (await replicasOf(client, "stamp")) === 1,
    );
    await stopAll(running);
    await eventually("the registry is empty", async () => (await client.services()).length === 0);
    await assert.rejects(
      client.request("stamp", { type: "ParallelStamp", fields: {} }),
      (error) =>
        error instanceof ServiceStoppedError &&
        /no replica of service 'stamp' answers or is registered now \(services: none\)/.test(
          error.message,
        ),
    );
  } finally {
    await client.close();
  }
});

Deno.test("cluster: a task whose every delivery's replica went away ends failed, abandoned", async () => {
  await using server = await NatsServer.start();
  const running = await replicas(server, 2);
  const client = await Client.connect(server.url);
  const starts = watchStarts(client);
  try {
    await eventually("2 replicas listed", async () => (await replicasOf(client, "stamp")) === 2);
    const doomed = await client.request("stamp", {
      type: "HoldRequeue",
      fields: { ms: 60_000, laterMs: 60_000 },
    });
    // max_deliver is 3: kill the replica of each delivery, with a fresh one to take the next.
    for (let attempt = 1; attempt <= 3; attempt++) {
      const pid = await starts.runner(doomed.taskId, attempt);
      running.push(await startReplica({ config: CONFIG, nats: server.url }));
      await running.find((replica) => replica.pid === pid)?.kill();
    }
    const outcome = await doomed.outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "InterruptedError");
    assert.match(
      outcome.status === "error" ? outcome.evalue : "",
      /^abandoned: the task was delivered 3 times \(max_deliver\)/,
    );
    const record = await client.status(doomed.taskId);
    assert.equal(record?.state, "failed");
    assert.equal(record?.attempts, 3);
    assert.equal(statesOf(record).filter((state) => isTerminal(state as never)).length, 1);
    // The stream keeps nothing of it.
    assert.equal((await client.services()).find((s) => s.name === "stamp")?.queued, 0);
  } finally {
    starts.stop();
    await client.close();
    await stopAll(running);
  }
});

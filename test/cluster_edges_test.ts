/**
 * Cluster mode at its edges, with a real `nats-server` and real `deno task
 * start --nats` processes: the per-service queue limit (`QueueFullError`,
 * HTTP 429 through a gateway); payloads published on Zest's subjects by a
 * plain NATS client (garbage, wrong types, unknown types, oversized, on the
 * wrong subject) end as failed records or are dropped with one log line,
 * and never block a queue or crash a process; a client on NATS and a client
 * through a WebSocket gateway see the same records and events; an IPython
 * service in one process serves a client in another.
 */
import assert from "node:assert/strict";
import { connect } from "@nats-io/transport-node";
import "../src/transport/nats/socket_guard.ts";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { Client, QueueFullError, TaskValidationError, UnknownServiceError } from "../src/mod.ts";
import type { TaskEvent } from "../src/manager/types.ts";
import type { ClusterServiceInfo } from "../src/transport/nats/registry.ts";
import { startReplica, stopAll } from "./helpers/cluster.ts";
import { eventually } from "./helpers/poll.ts";
import { NatsServer } from "./helpers/nats.ts";
import { REPO_ROOT, taskArgs, TEST_TOKEN } from "./helpers/server.ts";

/** A record as a foreign publisher might write one. */
function foreignRecord(fields: Record<string, unknown>) {
  return {
    id: crypto.randomUUID(),
    type: "Sleep",
    service: "lab",
    fields: {},
    attributes: {},
    parallel: false,
    state: "queued",
    attempts: 0,
    createdAt: Date.now(),
    log: [],
    ...fields,
  };
}

Deno.test("cluster: past the per-service queue limit a submission is refused (QueueFullError, HTTP 429)", async () => {
  await using server = await NatsServer.start();
  const gateway = await startReplica({
    config: "test/fixtures/cluster_limits.config.ts",
    nats: server.url,
    gateway: true,
  });
  const client = await Client.connect(server.url);
  try {
    const running = await client.request("lab", { type: "Sleep", fields: { ms: 60_000 } });
    const queued = await client.request("lab", { type: "Sleep", fields: { ms: 60_000 } });
    // The queue view: the stream's serial tasks in running order, as their records say now.
    const queue = await eventually("the first task runs", async () => {
      const view = await client.queue("lab");
      return view[0]?.state === "running" ? view : undefined;
    });
    assert.deepEqual(queue.map((task) => [task.id, task.state]), [
      [running.taskId, "running"],
      [queued.taskId, "queued"],
    ]);
    await assert.rejects(client.queue("nowhere"), UnknownServiceError);
    await assert.rejects(
      client.request("lab", { type: "Sleep", fields: { ms: 1 } }),
      (error: Error) =>
        error instanceof QueueFullError &&
        /limit of 2 serial tasks queued or running/.test(error.message),
    );
    const response = await fetch(new URL("/tasks", gateway.url), {
      method: "POST",
      headers: { authorization: `Bearer ${TEST_TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ service: "lab", type: "Sleep", fields: { ms: 1 } }),
    });
    assert.equal(response.status, 429);
    assert.equal(response.headers.get("retry-after"), "1");
    assert.equal((await response.json()).name, "QueueFullError");
    // Parallel tasks have their own limit: the serial queue being full does not refuse them.
    assert.equal(await client.execute("lab", { type: "Sum", fields: { a: 1, b: 2 } }), "3 V");
    assert.equal(await client.cancel(queued.taskId), true);
    assert.equal(await client.cancel(running.taskId), true);
    await running.outcome;
    // Room again, once the replica has acknowledged the running task (a moment after its
    // outcome) and taken the cancelled one from the stream.
    const again = await eventually(
      "room in the queue",
      () =>
        client.request("lab", { type: "Sleep", fields: { ms: 1 } }).catch((error) => {
          if (error instanceof QueueFullError) return undefined;
          throw error;
        }),
    );
    assert.equal((await again.outcome).status, "ok");
  } finally {
    await client.close();
    await stopAll([gateway]);
  }
});

Deno.test("cluster: foreign payloads on Zest's subjects end failed or are dropped with one line; nothing blocks or crashes", async () => {
  await using server = await NatsServer.start({ maxPayload: 4 * 1024 * 1024 });
  const replica = await startReplica({
    config: "test/fixtures/cluster.config.ts",
    nats: server.url,
  });
  const client = await Client.connect(server.url);
  const nc = await connect({ servers: server.url });
  try {
    const js = jetstream(nc);
    const serial = "zest.tasks.lab.serial";
    const unknownType = foreignRecord({ type: "Nope" });
    const badFields = foreignRecord({ fields: { ms: "soon" } });
    const oversized = foreignRecord({ fields: { ms: 1, pad: "x".repeat(1_500_000) } });
    const wrongKind = foreignRecord({ type: "Sum", parallel: true, fields: { a: 1, b: 2 } });
    await js.publish(serial, "not json {");
    await js.publish(serial, JSON.stringify({ id: 5, type: ["Sleep"] }));
    await js.publish(serial, JSON.stringify(foreignRecord({ service: "greeter" })));
    for (const record of [unknownType, badFields, oversized, wrongKind]) {
      await js.publish(serial, JSON.stringify(record));
    }
    // The queue goes on: a real task behind them runs.
    assert.equal(await client.execute("lab", { type: "Sleep", fields: { ms: 1 } }), 1);

    const failed = async (id: string, pattern: RegExp) => {
      const record = await eventually(`record ${id} ended`, () => client.status(id));
      assert.equal(record.state, "failed");
      const outcome = record.outcome;
      assert.ok(outcome?.status === "error");
      assert.match(`${outcome.ename}: ${outcome.evalue}`, pattern);
    };
    await failed(unknownType.id, /^UnknownTaskTypeError: service 'lab' has no task type 'Nope'/);
    await failed(badFields.id, /^TaskValidationError: invalid Sleep: ms: /);
    await failed(oversized.id, /^TaskValidationError: .*over the limit of/);
    await failed(
      wrongKind.id,
      /^TaskValidationError: task type 'Sum' is parallel, but the task came as serial/,
    );
    const dropped = replica.stderr.filter((line) => line.includes("dropped message"));
    assert.equal(dropped.length, 3, dropped.join("\n"));
    assert.match(dropped[0], /on zest\.tasks\.lab\.serial: not JSON$/);
    assert.match(dropped[1], /not a task record: /);
    assert.match(dropped[2], /it names service 'greeter', not 'lab'/);

    // A submission, a cancel and an event that are not: refused or ignored.
    const refused = await nc.request("zest.submit.lab", "{]");
    assert.equal(refused.json<{ name: string }>().name, "TaskValidationError");
    const cancel = await nc.request("zest.cancel.lab", JSON.stringify({ id: "*" }));
    assert.match(cancel.json<{ error: string }>().error, /not a cancel/);
    const events: TaskEvent[] = [];
    const stop = client.watch((event) => events.push(event));
    nc.publish("zest.events.lab", "garbage");
    nc.publish("zest.events.lab", JSON.stringify({ kind: "nonsense" }));
    assert.equal(await client.execute("lab", { type: "Sum", fields: { a: 1, b: 1 } }), "2 V");
    await eventually(
      "the task's events arrive",
      () =>
        Promise.resolve(
          events.some((event) => event.kind === "task" && event.record.state === "succeeded"),
        ),
    );
    assert.ok(
      events.every((event) => event.kind === "task" || event.kind === "log"),
      "only real events",
    );
    stop();

    // Values in the buckets that are not records or replicas: skipped.
    const records = await new Kvm(nc).open("zest_tasks");
    await records.put("t.bogus", "not a record");
    const services = await new Kvm(nc).open("zest_services");
    await services.put("lab.bogus", "{}");
    const page = await client.tasks({ limit: 1000 });
    assert.ok(page.records.length >= 6 && page.records.every((record) => record.id !== "bogus"));
    const lab = (await client.services()).find((service) =>
      service.name === "lab"
    ) as ClusterServiceInfo;
    assert.equal(lab.replicas.length, 1);

    const jsm = await jetstreamManager(nc);
    await eventually(
      "every message left the stream (dropped ones too)",
      async () => (await jsm.streams.info("ZEST_TASKS")).state.messages === 0,
    );
    assert.equal(await replica.stop(), 0, "the replica is alive and stops cleanly");
  } finally {
    await nc.close();
    await client.close();
    await stopAll([replica]);
  }
});

Deno.test("cluster: a client on NATS and a client through a WebSocket gateway see the same records and events", async () => {
  await using server = await NatsServer.start();
  const running = await Promise.all([
    startReplica({ config: "test/fixtures/cluster.config.ts", nats: server.url }),
    startReplica({ config: "test/fixtures/gateway.config.ts", nats: server.url, gateway: true }),
  ]);
  const [, gateway] = running;
  const direct = await Client.connect(server.url);
  const viaGateway = await Client.connect(gateway.wsUrl as URL, { token: TEST_TOKEN });
  try {
    const events: TaskEvent[] = [];
    const stop = viaGateway.watch((event) => events.push(event));
    const fromWs = await viaGateway.request("stamp", {
      type: "SerialStamp",
      fields: { label: "ws" },
    });
    const wsOutcome = await fromWs.outcome;
    assert.equal(wsOutcome.status, "ok");
    assert.deepEqual(await direct.status(fromWs.taskId), await viaGateway.status(fromWs.taskId));
    assert.deepEqual(await direct.outcome(fromWs.taskId), wsOutcome);

    const fromNats = await direct.request("stamp", {
      type: "SerialStamp",
      fields: { label: "nats" },
    });
    await fromNats.outcome;
    const record = await viaGateway.status(fromNats.taskId);
    assert.deepEqual(record, await direct.status(fromNats.taskId));
    assert.equal(record?.state, "succeeded");
    await eventually(
      "the gateway's watcher sees the NATS client's task end",
      () =>
        Promise.resolve(
          events.some((event) =>
            event.kind === "task" && event.record.id === fromNats.taskId &&
            event.record.state === "succeeded"
          ),
        ),
    );
    stop();

    const services = await viaGateway.services() as ClusterServiceInfo[];
    assert.deepEqual(services.map((service) => service.name), ["greeter", "lab", "stamp"]);
    assert.equal(services[2].replicas.length, 1, "the gateway hosts nothing");
    // `zest services` through the gateway: a line per replica, where it runs.
    const cli = await new Deno.Command(Deno.execPath(), {
      args: [...await taskArgs("zest"), "services"],
      cwd: REPO_ROOT,
      env: { ZEST_TOKEN: TEST_TOKEN, ZEST_URL: (gateway.wsUrl as URL).href },
      stdin: "null",
    }).output();
    const table = new TextDecoder().decode(cli.stdout);
    assert.equal(cli.code, 0, new TextDecoder().decode(cli.stderr));
    const stamp = services[2].replicas[0];
    assert.match(
      table,
      new RegExp(
        `^stamp replica ${stamp.replica} on ${stamp.host} \\(pid ${stamp.pid}\\) since \\S+: running, 0 running, 0 queued$`,
        "m",
      ),
    );
    const listed = await viaGateway.tasks({ service: "stamp" });
    assert.deepEqual(listed.records.map((summary) => summary.id), [fromNats.taskId, fromWs.taskId]);
    await assert.rejects(
      viaGateway.request("stamp", { type: "SerialStamp", fields: {} }, { after: [fromWs.taskId] }),
      (error: Error) => error instanceof TaskValidationError && /embedded-only/.test(error.message),
    );
  } finally {
    await viaGateway.close();
    await direct.close();
    await stopAll(running);
  }
});

Deno.test("cluster: an IPython service in one process serves a client in another", async () => {
  await using server = await NatsServer.start();
  // kernel.config.ts has a `server`: serving on a free port keeps it off 8787.
  const kernel = await startReplica({
    config: "test/fixtures/kernel.config.ts",
    nats: server.url,
    gateway: true,
    timeoutMs: 120_000,
  });
  const client = await Client.connect(server.url);
  try {
    const request = await client.request("py", { type: "ShowImage", fields: { times: 2 } });
    const outcome = await request.outcome;
    assert.equal(outcome.status, "ok", JSON.stringify(outcome).slice(0, 500));
    assert.equal(outcome.status === "ok" && outcome.result, 2);
    const record = await client.status(request.taskId);
    assert.deepEqual(record?.outcome, outcome);
    const py = (await client.services()).find((service) =>
      service.name === "py"
    ) as ClusterServiceInfo;
    assert.equal(py.replicas[0].pid, kernel.pid);
    assert.ok(py.replicas[0].kernel, "the replica reports its kernel");
  } finally {
    await client.close();
    await stopAll([kernel]);
  }
});

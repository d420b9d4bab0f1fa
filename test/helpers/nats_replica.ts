/**
 * One replica of a service in the serial-across-replicas layout, as a process
 * of its own: it takes tasks from a shared durable pull consumer one at a
 * time (`consume({ max_messages: 1 })`), "runs" each for the milliseconds
 * the task asks, calling `working()` every `heartbeatMs` so a long task is
 * not redelivered, and acks it. It reports `start` and `end` of every task
 * as JSON on the core subject `<events>` — sent on the same connection as
 * the ack, and before it, so a watcher sees a task's `end` before the next
 * task's `start` whichever replica runs that one.
 *
 * A task is JSON `{ id, ms, msWhenRedelivered? }`: `ms` is how long it runs
 * on its first delivery, `msWhenRedelivered` on later ones (default `ms`).
 *
 * Prints `ready` on stdout once it is consuming.
 *
 * @example
 * ```ts
 * // deno run --allow-all test/helpers/nats_replica.ts nats://127.0.0.1:4222 STREAM CONSUMER EVENTS 500
 * const spawnReplica = (url: string) =>
 *   new Deno.Command(Deno.execPath(), {
 *     args: ["run", "--allow-all", "test/helpers/nats_replica.ts", url, "TASKS", "svc", "events", "500"],
 *     stdout: "piped",
 *   }).spawn();
 * ```
 *
 * @module
 */
import { connect } from "@nats-io/transport-node";
// A reset connection must not kill the process (see the module).
import "../../src/transport/nats/socket_guard.ts";
import { jetstream } from "@nats-io/jetstream";

/** What a replica reports for each task it starts or ends. */
export interface ReplicaEvent {
  kind: "start" | "end";
  id: string;
  /** The replica's process id. */
  pid: number;
  /** `info.deliveryCount` of the delivery: 1 the first time, 2 after one redelivery. */
  deliveryCount: number;
  /** `Date.now()` in the replica. */
  at: number;
}

/** The payload of a task. */
export interface ReplicaTask {
  id: string;
  ms: number;
  msWhenRedelivered?: number;
}

if (import.meta.main) {
  const [url, stream, consumerName, events, heartbeatMs] = Deno.args;
  const nc = await connect({ servers: url, maxReconnectAttempts: -1 });
  const consumer = await jetstream(nc).consumers.get(stream, consumerName);
  const messages = await consumer.consume({ max_messages: 1 });
  const report = (kind: ReplicaEvent["kind"], id: string, deliveryCount: number) => {
    const event: ReplicaEvent = { kind, id, pid: Deno.pid, deliveryCount, at: Date.now() };
    nc.publish(events, JSON.stringify(event));
  };
  console.log("ready");
  for await (const message of messages) {
    const task = message.json<ReplicaTask>();
    const deliveryCount = message.info.deliveryCount;
    report("start", task.id, deliveryCount);
    // Out before the work starts: a watcher may kill this process right now.
    await nc.flush();
    const ms = deliveryCount > 1 ? task.msWhenRedelivered ?? task.ms : task.ms;
    const heartbeat = setInterval(() => message.working(), Number(heartbeatMs));
    await new Promise((resolve) => setTimeout(resolve, ms));
    clearInterval(heartbeat);
    report("end", task.id, deliveryCount);
    message.ack();
    await nc.flush();
  }
}

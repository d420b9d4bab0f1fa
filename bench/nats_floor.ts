/**
 * The raw NATS JetStream floor: what one Deno process gets from a local
 * `nats-server -js` (started by the bench, file storage) with the client
 * libraries the cluster transport is to use, and no Zest in between. These
 * are the ceilings the cluster transport is compared with:
 *
 * - **publish**: JetStream publishes per second, each awaiting its PubAck,
 *   100 in flight (every task costs at least one);
 * - **consume + ack**: a backlog taken through a durable pull consumer and
 *   acked one by one, with `max_ack_pending` 1 (a serial service) and 1,000;
 * - **task round trip**: publish a task to a work-queue stream, a durable
 *   pull consumer in the same process takes it, replies over core NATS and
 *   acks, the caller awaits the reply — sequential, and 100 in flight through
 *   `max_ack_pending` 1 and 1,000: the floor of a cluster `execute`;
 * - **core request/reply**: `nc.request` to a subscriber that responds,
 *   sequential (no JetStream, no storage).
 *
 * Run alone: `deno run --allow-all bench/nats_floor.ts [--rounds N] [--quick]`
 *
 * @module
 */
import { connect, createInbox, headers } from "@nats-io/transport-node";
import {
  AckPolicy,
  type ConsumerMessages,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { NatsServer } from "../test/helpers/nats.ts";
import {
  type BenchOptions,
  formatRate,
  perSecond,
  repeat,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";
import { windowed } from "./window.ts";

const STREAM = "ZEST_FLOOR";
/** The header a task carries its reply subject in. */
const REPLY_HEADER = "Zest-Reply";
const EMPTY = new Uint8Array(0);

/** The `max_ack_pending` settings measured: a serial service, and a parallel one. */
export type AckPending = 1 | 1000;

/** A connection to a JetStream server with the floor's stream, consumers and responders. */
export interface NatsFloor {
  /** JetStream publishes per second (`n`, `inFlight` outstanding, each awaiting its PubAck). */
  publish(n: number, inFlight: number): Promise<number>;
  /** Messages per second taken and acked from a backlog of `n` through a durable pull consumer. */
  consume(n: number, maxAckPending: AckPending): Promise<number>;
  /** Task round trips per second (publish → pull consumer → core reply + ack → caller). */
  taskRoundTrip(n: number, inFlight: number, maxAckPending: AckPending): Promise<number>;
  /** Core NATS request/reply round trips per second. */
  request(n: number, inFlight: number): Promise<number>;
  /** Close the connection, and stop the server if the floor started it. */
  stop(): Promise<void>;
}

/**
 * Connect to `server` (or a `nats-server` the floor starts) and set up the
 * stream (work-queue retention, file storage), one durable pull consumer per
 * measurement, the task responders and the core echo subscriber.
 *
 * @example
 * ```ts
 * import { startNatsFloor } from "./nats_floor.ts";
 * const floor = await startNatsFloor();
 * console.log(await floor.taskRoundTrip(1_000, 1, 1000), "round trips/s");
 * await floor.stop();
 * ```
 */
export async function startNatsFloor(
  options: { server?: NatsServer } = {},
): Promise<NatsFloor> {
  const server = options.server ?? await NatsServer.start();
  const nc = await connect({ servers: server.url });
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await jsm.streams.add({
    name: STREAM,
    subjects: ["floor.>"],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
  const durable = async (name: string, maxAckPending: number) => {
    // A work-queue stream lets each subject have one consumer only.
    await jsm.consumers.add(STREAM, {
      durable_name: name,
      filter_subject: `floor.${name}`,
      ack_policy: AckPolicy.Explicit,
      max_ack_pending: maxAckPending,
    });
    return await js.consumers.get(STREAM, name);
  };
  const backlogs = { 1: await durable("backlog1", 1), 1000: await durable("backlog1000", 1000) };
  const running: ConsumerMessages[] = [];

  // The task responders: reply to the caller, then ack (the result is out
  // before the task leaves the stream: at least once).
  for (const maxAckPending of [1, 1000] as const) {
    const consumer = await durable(`task${maxAckPending}`, maxAckPending);
    running.push(
      await consumer.consume({
        max_messages: maxAckPending,
        callback: (message) => {
          const replyTo = message.headers?.get(REPLY_HEADER);
          if (replyTo) nc.publish(replyTo, EMPTY);
          message.ack();
        },
      }),
    );
  }
  const replies = new Map<string, () => void>();
  const inbox = createInbox();
  nc.subscribe(`${inbox}.*`, {
    callback: (_error, message) => {
      replies.get(message.subject)?.();
      replies.delete(message.subject);
    },
  });
  let calls = 0;
  const callTask = (maxAckPending: AckPending) => async () => {
    const replyTo = `${inbox}.${++calls}`;
    const replied = Promise.withResolvers<void>();
    replies.set(replyTo, replied.resolve);
    const h = headers();
    h.set(REPLY_HEADER, replyTo);
    await js.publish(`floor.task${maxAckPending}`, EMPTY, { headers: h });
    await replied.promise;
  };
  const calls1 = callTask(1);
  const calls1000 = callTask(1000);

  nc.subscribe("floor-echo", {
    callback: (_error, message) => {
      message.respond(EMPTY);
    },
  });

  return {
    async publish(n, inFlight) {
      const rate = await windowed(n, inFlight, () => js.publish("floor.published", EMPTY));
      await jsm.streams.purge(STREAM, { filter: "floor.published" });
      return rate;
    },
    async consume(n, maxAckPending) {
      await windowed(n, 100, () => js.publish(`floor.backlog${maxAckPending}`, EMPTY));
      const t0 = performance.now();
      const messages = await backlogs[maxAckPending].consume({ max_messages: maxAckPending });
      let taken = 0;
      for await (const message of messages) {
        message.ack();
        if (++taken === n) break;
      }
      const rate = perSecond(n, performance.now() - t0);
      await messages.close();
      return rate;
    },
    taskRoundTrip(n, inFlight, maxAckPending) {
      return windowed(n, inFlight, maxAckPending === 1 ? calls1 : calls1000);
    },
    request(n, inFlight) {
      return windowed(n, inFlight, () => nc.request("floor-echo", EMPTY));
    },
    async stop() {
      for (const messages of running) await messages.close();
      await jsm.streams.delete(STREAM);
      await nc.close();
      if (!options.server) await server.stop();
    },
  };
}

/** A round trip time from a rate: `0.19 ms`. */
function formatMs(rate: number): string {
  return `${(1000 / rate).toFixed(2)} ms`;
}

/**
 * The floor's rows. The Zest column is empty: the cluster bench puts its own
 * figures beside these by calling `startNatsFloor`.
 *
 * @example
 * ```ts
 * import { benchNatsFloor } from "./nats_floor.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchNatsFloor({ rounds: 3 }));
 * ```
 */
export async function benchNatsFloor(options: BenchOptions = {}): Promise<Row[]> {
  const scale = resolveOptions(options).quick ? 0.1 : 1;
  const n = (count: number) => Math.round(count * scale);
  const floor = await startNatsFloor();
  const rate = (label: string, round: () => Promise<number>) => repeat(label, options, round);
  try {
    const publish = await rate("js publish, 100 in flight", () => floor.publish(n(20_000), 100));
    const consume1 = await rate("consume + ack, mack 1", () => floor.consume(n(5_000), 1));
    const consume1000 = await rate(
      "consume + ack, mack 1000",
      () => floor.consume(n(50_000), 1000),
    );
    const taskSequential = await rate(
      "task round trip, sequential",
      () => floor.taskRoundTrip(n(2_000), 1, 1000),
    );
    const task100Serial = await rate(
      "task round trip, 100 in flight, mack 1",
      () => floor.taskRoundTrip(n(5_000), 100, 1),
    );
    const task100 = await rate(
      "task round trip, 100 in flight, mack 1000",
      () => floor.taskRoundTrip(n(20_000), 100, 1000),
    );
    const request = await rate("core request/reply, sequential", () => floor.request(n(5_000), 1));
    const row = (name: string, figure: string): Row => ({
      name: `NATS floor: ${name}`,
      zest: "—",
      peer: figure,
    });
    return [
      row("JetStream publish, 100 in flight", formatRate(publish)),
      row(
        "consume + ack a backlog, durable pull consumer",
        `max_ack_pending 1: ${formatRate(consume1)} · 1,000: ${formatRate(consume1000)}`,
      ),
      row(
        "task round trip (publish → pull → reply + ack), sequential",
        `${formatMs(taskSequential)} (${formatRate(taskSequential)})`,
      ),
      row(
        "task round trips/s, 100 in flight",
        `max_ack_pending 1: ${formatRate(task100Serial)} · 1,000: ${formatRate(task100)}`,
      ),
      row("core request/reply, sequential", `${formatMs(request)} (${formatRate(request)})`),
    ];
  } finally {
    await floor.stop();
  }
}

if (import.meta.main) await runStandalone(benchNatsFloor);

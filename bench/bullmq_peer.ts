/**
 * The peer the durable-store and cluster issues compare Zest with: BullMQ
 * (npm `bullmq` + `ioredis`) on a local Debian `redis-server` that the bench
 * starts (loopback, free port, no persistence), running no-op jobs.
 *
 * Two ways of keeping jobs in flight are measured:
 * - **add-and-wait**, what Zest's `client.execute` does: each lane adds one
 *   job and waits for its result through `QueueEvents`
 *   (`job.waitUntilFinished`), with the window loop of `bench/tasks.ts`
 *   (`bench/window.ts`); with one lane it is the sequential round trip;
 * - **addBulk**: batches of `inFlight` jobs added in one call, each batch
 *   waited for by counting the worker's `completed` events: BullMQ at its
 *   best, with no per-job wait.
 *
 * BullMQ from Deno: it gets `ioredis` instances (`maxRetriesPerRequest:
 * null`, one per Queue/Worker/QueueEvents), not connection options, or it
 * fails to load `ioredis`; it does not close instances it was given, so the
 * peer quits them itself, or their reconnect timers keep the process alive.
 *
 * Run alone: `deno run --allow-all bench/bullmq_peer.ts [--rounds N] [--quick]`
 *
 * @module
 */
import { Queue, QueueEvents, Worker } from "bullmq";
import { Redis } from "ioredis";
import { RedisServer } from "../test/helpers/redis.ts";
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

/**
 * Finished jobs kept in Redis. BullMQ keeps every job by default (Redis
 * grows for the whole run); removing a job as soon as it completes (`true`)
 * breaks `waitUntilFinished` when the job finishes before it looks ("Missing
 * key for job"), so the last 10k are kept.
 */
const KEEP_FINISHED = { count: 10_000 };

const JOB_OPTIONS = { removeOnComplete: KEEP_FINISHED, removeOnFail: KEEP_FINISHED };

/** A BullMQ queue with a no-op worker and a QueueEvents listener. */
export interface BullmqPeer {
  /** Add one no-op job and wait until the worker has finished it. */
  addAndWait(): Promise<void>;
  /**
   * Jobs per second of `n` no-op jobs added with `addBulk` in batches of
   * `batch`, each batch waited for (the worker's `completed` events).
   */
  bulk(n: number, batch: number): Promise<number>;
  /** Close the queue, worker, listener and their connections, and the Redis it started. */
  stop(): Promise<void>;
}

/** How to set up the peer. */
export interface BullmqPeerOptions {
  /** The worker's concurrency: as many jobs as will be in flight (default 1). */
  concurrency?: number;
  /** A running Redis to use; by default the peer starts (and stops) its own. */
  redis?: RedisServer;
}

let queues = 0;

/**
 * Start a BullMQ queue with a no-op worker (and a `redis-server` unless one
 * is given).
 *
 * @example
 * ```ts
 * import { startBullmqPeer } from "./bullmq_peer.ts";
 * const peer = await startBullmqPeer({ concurrency: 100 });
 * await peer.addAndWait();
 * console.log(await peer.bulk(10_000, 100), "jobs/s");
 * await peer.stop();
 * ```
 */
export async function startBullmqPeer(options: BullmqPeerOptions = {}): Promise<BullmqPeer> {
  const redis = options.redis ?? await RedisServer.start();
  const connections: Redis[] = [];
  const connection = () => {
    const client = new Redis({ host: redis.host, port: redis.port, maxRetriesPerRequest: null });
    connections.push(client);
    return client;
  };
  const name = `zest-bench-${Deno.pid}-${++queues}`;
  const queue = new Queue(name, { connection: connection() });
  // waitUntilFinished adds a `closing` listener per waiting job.
  queue.setMaxListeners(0);
  const events = new QueueEvents(name, { connection: connection() });
  let completed = 0;
  let waiter: { target: number; resolve: () => void } | undefined;
  const worker = new Worker(name, async () => {}, {
    connection: connection(),
    concurrency: options.concurrency ?? 1,
  });
  worker.on("completed", () => {
    completed++;
    if (waiter && completed >= waiter.target) waiter.resolve();
  });
  await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
  return {
    async addAndWait() {
      const job = await queue.add("noop", {}, JOB_OPTIONS);
      await job.waitUntilFinished(events);
    },
    async bulk(n, batch) {
      const t0 = performance.now();
      for (let added = 0; added < n; added += batch) {
        const size = Math.min(batch, n - added);
        const done = Promise.withResolvers<void>();
        waiter = { target: completed + size, resolve: done.resolve };
        await queue.addBulk(Array.from({ length: size }, () => ({
          name: "noop",
          data: {},
          opts: JOB_OPTIONS,
        })));
        await done.promise;
        waiter = undefined;
      }
      return perSecond(n, performance.now() - t0);
    },
    async stop() {
      await worker.close();
      await events.close();
      await queue.close();
      await Promise.all(connections.map((client) => client.quit()));
      if (!options.redis) await redis.stop();
    },
  };
}

/** What `measureBullmq` returns: medians over the rounds. */
export interface BullmqFigures {
  /** Add-and-wait round trips per second with `inFlight` lanes. */
  addAndWait: number;
  /** Jobs per second through `addBulk` batches of `inFlight` (absent for `inFlight: 1`). */
  bulk?: number;
}

/**
 * Measure BullMQ with `inFlight` no-op jobs outstanding (1: the sequential
 * add-and-wait round trip), on a fresh peer whose worker concurrency is
 * `inFlight`. Each figure is the median of the options' rounds; `jobs` per
 * round (default 500 sequential, 5,000 in flight: under a second each on a
 * quiet 2-core machine, ~10 s on a loaded one).
 *
 * @example
 * ```ts
 * import { measureBullmq } from "./bullmq_peer.ts";
 * const { addAndWait, bulk } = await measureBullmq({ inFlight: 100 }, { rounds: 3 });
 * ```
 */
export async function measureBullmq(
  { inFlight, jobs, redis }: { inFlight: number; jobs?: number; redis?: RedisServer },
  options: BenchOptions = {},
): Promise<BullmqFigures> {
  const { quick } = resolveOptions(options);
  const n = jobs ?? Math.round((inFlight === 1 ? 500 : 5_000) * (quick ? 0.1 : 1));
  const peer = await startBullmqPeer({ concurrency: inFlight, redis });
  try {
    const label = inFlight === 1 ? "sequential" : `${inFlight} in flight`;
    const addAndWait = await repeat(
      `bullmq add-and-wait, ${label} (${n} jobs)`,
      options,
      () => windowed(n, inFlight, peer.addAndWait),
    );
    if (inFlight === 1) return { addAndWait };
    const bulk = await repeat(
      `bullmq addBulk ${inFlight} (${n} jobs)`,
      options,
      () => peer.bulk(n, inFlight),
    );
    return { addAndWait, bulk };
  } finally {
    await peer.stop();
  }
}

/** A round trip time from a rate: `0.78 ms`. */
function formatMs(perSecondRate: number): string {
  return `${(1000 / perSecondRate).toFixed(2)} ms`;
}

/**
 * The BullMQ rows: sequential add-and-wait, and 100 and 1,000 in flight.
 * The Zest column is empty: the groups that measure Zest put these figures
 * beside their own by calling `measureBullmq`.
 *
 * @example
 * ```ts
 * import { benchBullmq } from "./bullmq_peer.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchBullmq({ rounds: 3 }));
 * ```
 */
export async function benchBullmq(options: BenchOptions = {}): Promise<Row[]> {
  const redis = await RedisServer.start();
  try {
    const sequential = await measureBullmq({ inFlight: 1, redis }, options);
    const rows: Row[] = [{
      name: "BullMQ: no-op job, sequential add-and-wait",
      zest: "—",
      peer: `bullmq ${formatMs(sequential.addAndWait)} (${formatRate(sequential.addAndWait)})`,
    }];
    for (const inFlight of [100, 1_000]) {
      const figures = await measureBullmq({ inFlight, redis }, options);
      rows.push({
        name: `BullMQ: no-op jobs/s, ${inFlight.toLocaleString("en")} in flight`,
        zest: "—",
        peer: `bullmq add-and-wait ${formatRate(figures.addAndWait)} · addBulk ${
          formatRate(figures.bulk ?? NaN)
        }`,
      });
    }
    return rows;
  } finally {
    await redis.stop();
  }
}

if (import.meta.main) await runStandalone(benchBullmq);

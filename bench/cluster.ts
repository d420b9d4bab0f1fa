/**
 * Cluster mode's figures, beside BullMQ on Redis in the same run: no-op
 * tasks through a cluster on NATS JetStream (a local `nats-server -js`, file
 * storage, started by the bench) whose replicas are real `deno task start
 * --nats` processes (`bench/cluster.config.ts`), submitted by a client on
 * NATS in the bench's process (`client.execute`: the submission admitted and
 * its record stored by a host, the task in the stream, taken by a replica,
 * its records written, acknowledged only once its final record is stored —
 * at least once, nothing skipped for speed):
 *
 * - throughput with 100 executes in flight, one replica, against BullMQ's
 *   add-and-wait with 100 in flight (concurrency 100) — target ≥ 2×;
 * - the sequential round trip against BullMQ's — target ≤;
 * - throughput with 100 in flight through 1, 2 and 4 replica processes;
 * - the round trip of a kernel `1+1` task through the cluster (a replica
 *   with an IPython service) against the same task embedded.
 *
 * Zest and BullMQ take turns round by round (`compare`), so noise from
 * elsewhere lands on both. Every process shares the machine's cores: more
 * replicas on one machine share the same CPU.
 *
 * Run alone: `deno run --allow-all bench/cluster.ts [--rounds N] [--quick]`
 *
 * @module
 */
import { Client, IPythonService, Runtime } from "../src/mod.ts";
import { type Replica, startReplica } from "../test/helpers/cluster.ts";
import { NatsServer } from "../test/helpers/nats.ts";
import { RedisServer } from "../test/helpers/redis.ts";
import type { ClusterServiceInfo } from "../src/transport/nats/registry.ts";
import { startBullmqPeer } from "./bullmq_peer.ts";
import {
  type BenchOptions,
  compare,
  formatRate,
  progress,
  repeat,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";
import { windowed } from "./window.ts";
import { ClusterNoop } from "./cluster.config.ts";
import { ClusterOnePlusOne } from "./cluster_kernel.config.ts";

const IN_FLIGHT = 100;

/** A round trip time from a rate: `0.78 ms`. */
function formatMs(rate: number): string {
  return `${(1000 / rate).toFixed(2)} ms`;
}

/** Until the cluster lists `n` replicas of `service` (each one pulls tasks from then on). */
async function replicasListed(client: Client, service: string, n: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const info = (await client.services()).find((s) => s.name === service) as
      | ClusterServiceInfo
      | undefined;
    if ((info?.replicas.length ?? 0) === n) return;
    if (Date.now() > deadline) throw new Error(`${n} replicas of ${service} not listed in 60 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Median round trip, in ms, of `n` sequential `1+1` tasks through `client`. */
async function kernelRoundTrip(client: Client, service: string, n: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const result = await client.execute(service, ClusterOnePlusOne.create({}));
    times.push(performance.now() - t0);
    if (result !== 2) throw new Error(`1+1 gave ${result}`);
  }
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

/**
 * The cluster rows.
 *
 * @example
 * ```ts ignore
 * import { benchCluster } from "./cluster.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchCluster({ rounds: 3 }));
 * ```
 */
export async function benchCluster(options: BenchOptions = {}): Promise<Row[]> {
  const { quick } = resolveOptions(options);
  const n = (count: number) => Math.max(10, Math.round(count * (quick ? 0.1 : 1)));
  const server = await NatsServer.start();
  const redis = await RedisServer.start();
  const replicas: Replica[] = [];
  const addReplicas = async (count: number) => {
    for (let i = 0; i < count; i++) {
      replicas.push(await startReplica({ config: "bench/cluster.config.ts", nats: server.url }));
    }
  };
  const client = await Client.connect(server.url);
  const noop = () => client.execute("bench", ClusterNoop.create({}));
  const rows: Row[] = [];
  try {
    await addReplicas(1);
    await replicasListed(client, "bench", 1);

    const bullmq100 = await startBullmqPeer({ concurrency: IN_FLIGHT, redis });
    let throughput: Record<"zest" | "bullmq", number>;
    try {
      throughput = await compare(`no-op tasks, ${IN_FLIGHT} in flight, 1 replica`, options, {
        zest: { run: () => windowed(n(5_000), IN_FLIGHT, noop) },
        bullmq: { run: () => windowed(n(5_000), IN_FLIGHT, bullmq100.addAndWait) },
      });
    } finally {
      await bullmq100.stop();
    }
    const bullmq1 = await startBullmqPeer({ concurrency: 1, redis });
    let sequential: Record<"zest" | "bullmq", number>;
    try {
      sequential = await compare("no-op task, sequential round trip", options, {
        zest: { run: () => windowed(n(1_000), 1, noop) },
        bullmq: { run: () => windowed(n(1_000), 1, bullmq1.addAndWait) },
      }, formatMs);
    } finally {
      await bullmq1.stop();
    }
    rows.push({
      name: `cluster: no-op tasks/s, ${IN_FLIGHT} in flight (1 replica, execute each)`,
      zest: formatRate(throughput.zest),
      peer: `bullmq add-and-wait ${formatRate(throughput.bullmq)} (zest ${
        (throughput.zest / throughput.bullmq).toFixed(1)
      }×)`,
      target: "≥ 2× BullMQ",
      met: throughput.zest >= 2 * throughput.bullmq,
    });
    rows.push({
      name: "cluster: no-op task, sequential round trip",
      zest: formatMs(sequential.zest),
      peer: `bullmq ${formatMs(sequential.bullmq)}`,
      target: "≤ BullMQ",
      met: sequential.zest >= sequential.bullmq,
    });

    const byReplicas: string[] = [`1: ${formatRate(throughput.zest)}`];
    for (const [add, total] of [[1, 2], [2, 4]] as const) {
      await addReplicas(add);
      await replicasListed(client, "bench", total);
      const rate = await repeat(
        `no-op tasks, ${IN_FLIGHT} in flight, ${total} replicas`,
        options,
        () => windowed(n(5_000), IN_FLIGHT, noop),
      );
      byReplicas.push(`${total}: ${formatRate(rate)}`);
    }
    rows.push({
      name: `cluster: no-op tasks/s, ${IN_FLIGHT} in flight, by replica processes`,
      zest: byReplicas.join(" · "),
      peer: "(all on this machine's cores)",
    });
    await Promise.all(replicas.splice(0).map((replica) => replica.stop()));

    rows.push(await kernelRow(server, client, n(200)));
  } finally {
    await client.close();
    await Promise.all(replicas.map((replica) => replica.stop()));
    await redis.stop();
    await server.stop();
  }
  return rows;
}

/** The kernel `1+1` round trip through the cluster, beside the same task embedded. */
async function kernelRow(server: NatsServer, client: Client, n: number): Promise<Row> {
  progress("kernel 1+1: embedded, then through the cluster");
  const runtime = await Runtime.start({ services: [new IPythonService("py")] });
  let embedded: number;
  try {
    const local = runtime.client();
    await kernelRoundTrip(local, "py", 20);
    embedded = await kernelRoundTrip(local, "py", n);
  } finally {
    await runtime.stop();
  }
  const kernel = await startReplica({
    config: "bench/cluster_kernel.config.ts",
    nats: server.url,
    timeoutMs: 120_000,
  });
  let clustered: number;
  try {
    await replicasListed(client, "py", 1);
    await kernelRoundTrip(client, "py", 20);
    clustered = await kernelRoundTrip(client, "py", n);
  } finally {
    await kernel.stop();
  }
  return {
    name: "cluster: kernel `1+1` task round trip (median)",
    zest: `${clustered.toFixed(2)} ms through the cluster`,
    peer: `embedded ${embedded.toFixed(2)} ms (+${(clustered - embedded).toFixed(2)} ms)`,
  };
}

if (import.meta.main) await runStandalone(benchCluster);

/**
 * The registry of replicas: a KV bucket (`zest_services`) in which every
 * process keeps one entry per service it hosts, rewritten every few seconds.
 * The bucket forgets an entry three refresh periods after its last write, so
 * a replica that went away (even `kill -9`) leaves the list within seconds.
 * Reading it, with the consumers' queue depths, gives `services()` for the
 * whole cluster.
 *
 * @module
 */
import { StorageType } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { ServiceInfo } from "../../manager/types.ts";
import { bucketKeys } from "../../store/jetstream_kv.ts";
import { parseReplica, type ReplicaEntry } from "./messages.ts";
import { type Kind, SERVICE_BUCKET, subjectsOf, TASK_STREAM } from "./subjects.ts";

/**
 * A replica as `services()` lists it.
 *
 * @example
 * ```ts
 * import type { ReplicaInfo } from "./registry.ts";
 * const describe = (r: ReplicaInfo) => `${r.host} pid ${r.pid}: ${r.state}, ${r.running} running`;
 * ```
 */
export interface ReplicaInfo {
  /** The replica's id, unique in the cluster. */
  replica: string;
  /** The machine it runs on (its host name). */
  host: string;
  /** Its process id on that machine. */
  pid: number;
  /** When it joined, in ms since the epoch. */
  since: number;
  /** Its service's state as it sees it. */
  state: ServiceInfo["state"];
  /** Its tasks running now. */
  running: number;
  /** Tasks it has taken that wait in its lane (retries, mostly). */
  queued: number;
  /** Its kernel, for an IPython service. */
  kernel?: ServiceInfo["kernel"];
  /** The task it has run too long, if any. */
  stuck?: ServiceInfo["stuck"];
}

/**
 * A service of the cluster: as one replica describes it, with the cluster's
 * queue depths (the stream's, plus what the replicas hold) and every replica.
 *
 * @example
 * ```ts
 * import type { ClusterServiceInfo } from "./registry.ts";
 * const hosts = (service: ClusterServiceInfo) => service.replicas.map((r) => r.host);
 * ```
 */
export interface ClusterServiceInfo extends ServiceInfo {
  /** Every live replica, oldest first. */
  replicas: ReplicaInfo[];
}

/** Three missed refreshes and an entry is gone. */
const MISSED_REFRESHES = 3;

/**
 * Open (or create) the registry bucket: one revision per key, entries gone
 * `MISSED_REFRESHES` refresh periods after their last write.
 *
 * @example
 * ```ts
 * import { openRegistry } from "./registry.ts";
 * import type { NatsConnection } from "@nats-io/transport-node";
 * // entries gone 6 s after their last write
 * const registryOf = (nc: NatsConnection) => openRegistry(nc, 2_000);
 * ```
 */
export async function openRegistry(nc: NatsConnection, refreshMs: number): Promise<KV> {
  const kv = await new Kvm(nc).create(SERVICE_BUCKET, {
    history: 1,
    ttl: refreshMs * MISSED_REFRESHES,
    storage: StorageType.File,
  });
  return kv;
}

/**
 * The key of `replica`'s entry for `service`.
 *
 * @example
 * ```ts
 * import { replicaKey } from "./registry.ts";
 * replicaKey("lab.fridge", "r42-ab12cd34"); // "lab=fridge.r42-ab12cd34"
 * ```
 */
export function replicaKey(service: string, replica: string): string {
  return `${subjectsOf(service).token}.${replica}`;
}

/**
 * Every entry of the registry now; an entry that does not parse, or that
 * expires while it is read, is skipped. The keys come from the stream's
 * subjects and each value from a direct get: plain requests, each with a
 * timeout. (`kv.history()` and `kv.keys()` iterate an ordered push consumer
 * that stalled for minutes when entries expired under it: it never hears
 * the `pending: 0` that ends the pass.)
 *
 * @example
 * ```ts
 * import { openRegistry, readReplicas } from "./registry.ts";
 * import { jetstreamManager } from "@nats-io/jetstream";
 * import type { NatsConnection } from "@nats-io/transport-node";
 * async function where(nc: NatsConnection) {
 *   const entries = await readReplicas(await openRegistry(nc, 2_000), await jetstreamManager(nc));
 *   return entries.map((entry) => `${entry.service.name}@${entry.host}`);
 * }
 * ```
 */
export async function readReplicas(kv: KV, jsm: JetStreamManager): Promise<ReplicaEntry[]> {
  const keys = await bucketKeys(jsm, SERVICE_BUCKET, "");
  const values = await Promise.all(keys.map((key) => kv.get(key)));
  const entries: ReplicaEntry[] = [];
  for (const value of values) {
    const entry = value?.operation === "PUT" ? parseReplica(value.value) : undefined;
    if (entry) entries.push(entry);
  }
  return entries;
}

/** Tasks in the stream for `service` and `kind`: not yet delivered, and delivered but not acknowledged. */
async function depth(jsm: JetStreamManager, service: string, kind: Kind): Promise<number> {
  try {
    const info = await jsm.consumers.info(TASK_STREAM, subjectsOf(service).consumer(kind));
    return info.num_pending + info.num_ack_pending;
  } catch {
    return 0; // No consumer of that kind (yet).
  }
}

/**
 * The services of the cluster from its registry entries: each service as
 * its most recently started replica describes it (its task types), its state
 * (`running` if any replica runs, `stuck` if one is stuck), `queued` the
 * tasks not running (in the stream or in a replica's lane), `running` the
 * sum over replicas, and every replica.
 *
 * @example
 * ```ts ignore
 * import { clusterServices, readReplicas } from "./registry.ts";
 * const services = await clusterServices(jsm, await readReplicas(registry));
 * ```
 */
export async function clusterServices(
  jsm: JetStreamManager,
  entries: readonly ReplicaEntry[],
): Promise<ClusterServiceInfo[]> {
  const byService = new Map<string, ReplicaEntry[]>();
  for (const entry of entries) {
    const list = byService.get(entry.service.name);
    if (list) list.push(entry);
    else byService.set(entry.service.name, [entry]);
  }
  const names = [...byService.keys()].sort();
  return await Promise.all(names.map(async (name) => {
    const replicas = (byService.get(name) as ReplicaEntry[]).sort((a, b) => a.since - b.since);
    const newest = replicas[replicas.length - 1].service;
    const [serial, parallel] = await Promise.all([
      depth(jsm, name, "serial"),
      depth(jsm, name, "parallel"),
    ]);
    const running = replicas.reduce((sum, entry) => sum + entry.service.running, 0);
    const stuck = replicas.find((entry) => entry.service.state === "stuck")?.service.stuck;
    const state: ServiceInfo["state"] = stuck
      ? "stuck"
      : replicas.some((entry) => entry.service.state === "running")
      ? "running"
      : "stopped";
    const info: ClusterServiceInfo = {
      ...newest,
      state,
      // In the stream: not delivered yet, or delivered and not acknowledged (running, or in a lane).
      queued: Math.max(0, serial + parallel - running),
      running,
      replicas: replicas.map((entry) => {
        const replica: ReplicaInfo = {
          replica: entry.replica,
          host: entry.host,
          pid: entry.pid,
          since: entry.since,
          state: entry.service.state,
          running: entry.service.running,
          queued: entry.service.queued,
        };
        if (entry.service.kernel) replica.kernel = entry.service.kernel;
        if (entry.service.stuck) replica.stuck = entry.service.stuck;
        return replica;
      }),
    };
    if (stuck) info.stuck = stuck;
    else delete info.stuck;
    return info;
  }));
}

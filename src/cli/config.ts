/** The config file of `deno task start`: which services to run and where to listen. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type ManagerOptions, managerSettings } from "../manager/options.ts";
import type { ScheduleConfig, ScheduledTask } from "../manager/schedules.ts";
import { Service } from "../service/service.ts";
import { Task } from "../task/define.ts";
import type { SqliteStoreFile } from "../store/mod.ts";
import { checkPoolOptions, type WorkerPoolOptions } from "../service/pool/mod.ts";
import {
  checkClusterOptions,
  type ClusterOptions,
  DEFAULT_SETTINGS,
  type NatsOptions,
} from "../transport/nats/options.ts";

/**
 * Where the server listens; all optional.
 *
 * @example
 * ```ts
 * import type { ServerConfig } from "./config.ts";
 * const server: ServerConfig = { hostname: "127.0.0.1", port: 8787, maxBodyBytes: 1 << 20 };
 * ```
 */
export interface ServerConfig {
  /** Default `127.0.0.1`. Anything else exposes the runtime beyond this machine: mind the token. */
  hostname?: string;
  /** Default 8787; `0` picks a free port. */
  port?: number;
  /** Largest request body or WebSocket message, in bytes (default 1 MiB). */
  maxBodyBytes?: number;
}

/**
 * What a config file's default export gives, directly or from a (possibly
 * async) function — a function builds the services only when the runtime
 * starts, not when the file is imported.
 *
 * @example
 * ```ts
 * import type { ZestConfig } from "./config.ts";
 * import { Service } from "../mod.ts";
 * export default (): ZestConfig => ({ services: [new Service("idle")], server: { port: 8787 } });
 * ```
 */
export interface ZestConfig {
  /** The services to run (a service name appears once). */
  services: Service[];
  /** The HTTP/WebSocket server: port, host, token, limits. */
  server?: ServerConfig;
  /** The task manager's bounds (queue depth, timeouts, retention limits). */
  manager?: Omit<ManagerOptions, "store" | "retentionTtlMs" | "schedules">;
  /** Tasks submitted on a clock; see `RuntimeOptions.schedules`. */
  schedules?: ScheduleConfig[];
  /**
   * Where task records live: an SQLite file, `{ path, synchronous? }` (path
   * relative to the working directory; default `{ path: ".zest/zest.db" }`),
   * or `"memory"` (nothing kept after a stop). See the README's "The task store".
   */
  store?: StoreConfig;
  /**
   * The worker pool of `{ worker: true }` handlers: `size` (1 to 256,
   * default one fewer than the cores), `graceMs` (0 to 600 000, default
   * 2 000), `maxHeapMb` (16 to 65 536, default 1 024).
   */
  workers?: Omit<WorkerPoolOptions, "stderr">;
  /**
   * Join a cluster on NATS JetStream (as `--nats URL` does):
   * `{ nats: { servers, token | user + password | credsFile, tls? }, settings? }`.
   * Credentials may instead come from `ZEST_NATS_TOKEN`, `ZEST_NATS_USER` +
   * `ZEST_NATS_PASSWORD` or `ZEST_NATS_CREDS`. This process then hosts its
   * `services` for the cluster, and serves HTTP only if the config has
   * `server` (or `--port` is given). See the README's "Cluster".
   */
  cluster?: ClusterOptions;
}

/**
 * The `store` of a config file.
 *
 * @example
 * ```ts
 * import type { StoreConfig } from "./config.ts";
 * const store: StoreConfig = { path: "/var/lib/zest/lab.db", synchronous: "full" };
 * ```
 */
export type StoreConfig = "memory" | SqliteStoreFile;

/**
 * Why a config could not be used; the message names the file and the problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConfigError } from "./config.ts";
 * const error = new ConfigError("zest.config.ts: 'services' must be an array of services");
 * assert.equal(`${error}`, "ConfigError: zest.config.ts: 'services' must be an array of services");
 * ```
 */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/**
 * The keys of `T`, from a record the compiler holds complete: a list of
 * known options cannot drift from the type it checks.
 */
function keysOf<T>(keys: { [K in keyof Required<T>]: true }): readonly string[] {
  return Object.keys(keys);
}

const CONFIG_KEYS = keysOf<ZestConfig>({
  services: true,
  server: true,
  manager: true,
  schedules: true,
  store: true,
  workers: true,
  cluster: true,
});
const SERVER_KEYS = keysOf<ServerConfig>({ hostname: true, port: true, maxBodyBytes: true });
const MANAGER_KEYS = keysOf<NonNullable<ZestConfig["manager"]>>({
  mailboxCapacity: true,
  maxQueuedPerService: true,
  abortGraceMs: true,
});
const SCHEDULE_KEYS = keysOf<ScheduleConfig>({
  name: true,
  service: true,
  task: true,
  every: true,
  cron: true,
  timezone: true,
});
const SCHEDULED_TASK_KEYS = keysOf<ScheduledTask>({
  type: true,
  fields: true,
  attributes: true,
  timeoutMs: true,
  priority: true,
  expiresInMs: true,
});
const STORE_KEYS = keysOf<SqliteStoreFile>({ path: true, synchronous: true });
const WORKERS_KEYS = keysOf<NonNullable<ZestConfig["workers"]>>({
  size: true,
  graceMs: true,
  maxHeapMb: true,
});
const CLUSTER_KEYS = keysOf<ClusterOptions>({ nats: true, settings: true });
const NATS_KEYS = keysOf<NatsOptions>({
  servers: true,
  token: true,
  user: true,
  password: true,
  credsFile: true,
  tls: true,
  timeoutMs: true,
});

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * Refuse the first key of `value` not in `known`, named by its path from the
 * config's top (`server.prot`): a misspelt option would otherwise be
 * ignored, and its default used without a word.
 */
function refuseUnknownKeys(
  file: string,
  value: Record<string, unknown>,
  known: readonly string[],
  at: string,
): void {
  const stray = Object.keys(value).find((key) => !known.includes(key));
  if (stray !== undefined) {
    throw new ConfigError(`${file}: unknown option '${at}${stray}' (known: ${known.join(", ")})`);
  }
}

function checkServer(server: unknown, path: string): ServerConfig {
  if (!isObject(server)) {
    throw new ConfigError(`${path}: 'server' must be an object { ${SERVER_KEYS.join(", ")} }`);
  }
  refuseUnknownKeys(path, server, SERVER_KEYS, "server.");
  const { hostname, port, maxBodyBytes } = server;
  if (hostname !== undefined && (typeof hostname !== "string" || hostname === "")) {
    throw new ConfigError(`${path}: server.hostname must be a non-empty string`);
  }
  if (
    port !== undefined &&
    !(Number.isInteger(port) && (port as number) >= 0 && (port as number) < 65536)
  ) {
    throw new ConfigError(`${path}: server.port must be an integer from 0 to 65535, got ${port}`);
  }
  if (
    maxBodyBytes !== undefined && !(Number.isInteger(maxBodyBytes) && (maxBodyBytes as number) > 0)
  ) {
    throw new ConfigError(`${path}: server.maxBodyBytes must be a positive integer`);
  }
  return server as ServerConfig;
}

/** The manager's options, checked here so that a bad one is named with its `manager.` path. */
function checkManager(manager: unknown, path: string): ZestConfig["manager"] {
  if (manager === undefined) return undefined;
  if (!isObject(manager)) {
    throw new ConfigError(`${path}: 'manager' must be an object { ${MANAGER_KEYS.join(", ")} }`);
  }
  refuseUnknownKeys(path, manager, MANAGER_KEYS, "manager.");
  try {
    managerSettings(manager);
  } catch (error) {
    throw new ConfigError(`${path}: manager.${(error as Error).message}`);
  }
  return manager as ZestConfig["manager"];
}

/**
 * The keys of each schedule and of a task given as `{ type, fields, … }`;
 * the values are checked when the runtime starts (a `ScheduleError` names
 * the schedule and the reason).
 */
function checkSchedules(schedules: unknown, path: string): ScheduleConfig[] | undefined {
  if (schedules === undefined) return undefined;
  if (!Array.isArray(schedules)) {
    throw new ConfigError(
      `${path}: 'schedules' must be an array of schedules { name, service, task, every | cron }`,
    );
  }
  schedules.forEach((schedule, index) => {
    if (!isObject(schedule)) return;
    const at = `schedules[${index}].`;
    refuseUnknownKeys(path, schedule, SCHEDULE_KEYS, at);
    const task = schedule.task;
    if (isObject(task) && !(task instanceof Task)) {
      refuseUnknownKeys(path, task, SCHEDULED_TASK_KEYS, `${at}task.`);
    }
  });
  return schedules;
}

function checkCluster(cluster: unknown, path: string): ClusterOptions | undefined {
  if (cluster === undefined) return undefined;
  if (isObject(cluster)) {
    refuseUnknownKeys(path, cluster, CLUSTER_KEYS, "cluster.");
    if (isObject(cluster.nats)) refuseUnknownKeys(path, cluster.nats, NATS_KEYS, "cluster.nats.");
    if (isObject(cluster.settings)) {
      refuseUnknownKeys(path, cluster.settings, Object.keys(DEFAULT_SETTINGS), "cluster.settings.");
    }
  }
  try {
    return checkClusterOptions(cluster as ClusterOptions);
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

function checkWorkers(workers: unknown, path: string): ZestConfig["workers"] {
  if (workers === undefined) return undefined;
  // `stderr` is a pool option, but not one a config file may set.
  if (isObject(workers)) refuseUnknownKeys(path, workers, WORKERS_KEYS, "workers.");
  try {
    checkPoolOptions(workers as WorkerPoolOptions);
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
  return workers as ZestConfig["workers"];
}

function checkStore(store: unknown, path: string): StoreConfig | undefined {
  if (store === undefined || store === "memory") return store;
  if (!isObject(store)) {
    throw new ConfigError(`${path}: 'store' must be "memory" or { path, synchronous? }`);
  }
  refuseUnknownKeys(path, store, STORE_KEYS, "store.");
  const { path: file, synchronous } = store;
  if (typeof file !== "string" || file === "") {
    throw new ConfigError(`${path}: store.path must be the path of the database file`);
  }
  if (synchronous !== undefined && synchronous !== "normal" && synchronous !== "full") {
    throw new ConfigError(`${path}: store.synchronous must be "normal" or "full"`);
  }
  return { ...store, path: file } as SqliteStoreFile;
}

/** The config a module's default export gives: itself, or what the function it is returns. */
async function configOf(exported: unknown, path: string): Promise<unknown> {
  if (typeof exported !== "function") return exported;
  try {
    return await exported();
  } catch (error) {
    // Without the file's name, an error thrown while building services does not say where.
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new ConfigError(`${path}: the config function failed: ${reason}`, { cause: error });
  }
}

/**
 * Import the config file at `path` (relative to the working directory) and
 * check its shape.
 *
 * @example
 * ```ts
 * import { loadConfig } from "./config.ts";
 * const config = await loadConfig("zest.config.ts");
 * config.services.map((service) => service.name); // ["greeter", "calibration"]
 * ```
 */
export async function loadConfig(path: string): Promise<ZestConfig> {
  let module: { default?: unknown };
  try {
    module = await import(pathToFileURL(resolve(path)).href);
  } catch (error) {
    throw new ConfigError(`could not load the config ${path}: ${(error as Error).message}`);
  }
  const config = await configOf(module.default, path);
  if (!isObject(config)) {
    throw new ConfigError(
      `${path} must default-export a config { services, server } or a function returning one`,
    );
  }
  refuseUnknownKeys(path, config, CONFIG_KEYS, "");
  const { services, server, manager, schedules, workers, store, cluster } = config;
  if (!Array.isArray(services) || !services.every((service) => service instanceof Service)) {
    throw new ConfigError(`${path}: 'services' must be an array of services (new MyService(…))`);
  }
  return {
    services,
    // Absent stays absent: a cluster process serves HTTP only where its config asks.
    server: server === undefined ? undefined : checkServer(server, path),
    manager: checkManager(manager, path),
    schedules: checkSchedules(schedules, path),
    workers: checkWorkers(workers, path),
    store: checkStore(store, path),
    cluster: checkCluster(cluster, path),
  };
}

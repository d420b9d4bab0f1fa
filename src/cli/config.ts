/** The config file of `deno task start`: which services to run and where to listen. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ManagerOptions } from "../manager/options.ts";
import type { ScheduleConfig } from "../manager/schedules.ts";
import { Service } from "../service/service.ts";
import type { SqliteStoreFile } from "../store/mod.ts";
import { checkPoolOptions, type WorkerPoolOptions } from "../service/pool/mod.ts";
import { checkClusterOptions, type ClusterOptions } from "../transport/nats/options.ts";

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

function checkServer(server: unknown, path: string): ServerConfig {
  if (server === undefined) return {};
  if (server === null || typeof server !== "object") {
    throw new ConfigError(`${path}: 'server' must be an object { hostname, port, maxBodyBytes }`);
  }
  const { hostname, port, maxBodyBytes } = server as Record<string, unknown>;
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

function checkCluster(cluster: unknown, path: string): ClusterOptions | undefined {
  if (cluster === undefined) return undefined;
  try {
    return checkClusterOptions(cluster as ClusterOptions);
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
}

function checkWorkers(workers: unknown, path: string): ZestConfig["workers"] {
  if (workers === undefined) return undefined;
  if (workers !== null && typeof workers === "object" && "stderr" in workers) {
    throw new ConfigError(
      `${path}: unknown workers option 'stderr' (known: size, graceMs, maxHeapMb)`,
    );
  }
  try {
    checkPoolOptions(workers as WorkerPoolOptions);
  } catch (error) {
    throw new ConfigError(`${path}: ${(error as Error).message}`);
  }
  return workers as ZestConfig["workers"];
}

function checkStore(store: unknown, path: string): StoreConfig | undefined {
  if (store === undefined || store === "memory") return store;
  const shape = `'store' must be "memory" or { path, synchronous? }`;
  if (store === null || typeof store !== "object") throw new ConfigError(`${path}: ${shape}`);
  const { path: file, synchronous, ...unknown } = store as Record<string, unknown>;
  const extra = Object.keys(unknown)[0];
  if (extra !== undefined) {
    throw new ConfigError(`${path}: unknown store option '${extra}' (known: path, synchronous)`);
  }
  if (typeof file !== "string" || file === "") {
    throw new ConfigError(`${path}: store.path must be the path of the database file`);
  }
  if (synchronous !== undefined && synchronous !== "normal" && synchronous !== "full") {
    throw new ConfigError(`${path}: store.synchronous must be "normal" or "full"`);
  }
  return store as StoreConfig;
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
  let config = module.default;
  if (typeof config === "function") config = await config();
  if (config === null || typeof config !== "object") {
    throw new ConfigError(
      `${path} must default-export a config { services, server } or a function returning one`,
    );
  }
  const { services, server, manager, schedules, workers, store, cluster } = config as Record<
    string,
    unknown
  >;
  if (!Array.isArray(services) || !services.every((service) => service instanceof Service)) {
    throw new ConfigError(`${path}: 'services' must be an array of services (new MyService(…))`);
  }
  if (schedules !== undefined && !Array.isArray(schedules)) {
    // Each schedule is checked when the runtime starts: a ScheduleError names it and the reason.
    throw new ConfigError(
      `${path}: 'schedules' must be an array of schedules { name, service, task, every | cron }`,
    );
  }
  return {
    services,
    // Absent stays absent: a cluster process serves HTTP only where its config asks.
    server: server === undefined ? undefined : checkServer(server, path),
    manager: manager as ZestConfig["manager"],
    schedules: schedules as ScheduleConfig[] | undefined,
    workers: checkWorkers(workers, path),
    store: checkStore(store, path),
    cluster: checkCluster(cluster, path),
  };
}

/** The config file of `deno task start`: which services to run and where to listen. */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { ManagerOptions } from "../manager/manager.ts";
import type { ScheduleConfig } from "../manager/schedules.ts";
import { Service } from "../service/service.ts";

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
  services: Service[];
  server?: ServerConfig;
  manager?: Omit<ManagerOptions, "store" | "retentionTtlMs" | "schedules">;
  /** Tasks submitted on a clock; see `RuntimeOptions.schedules`. */
  schedules?: ScheduleConfig[];
}

/**
 * Why a config could not be used; the message names the file and the problem.
 *
 * @example
 * ```ts
 * import { ConfigError } from "./config.ts";
 * throw new ConfigError("zest.config.ts: 'services' must be an array of services");
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
  const { services, server, manager, schedules } = config as Record<string, unknown>;
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
    server: checkServer(server, path),
    manager: manager as ZestConfig["manager"],
    schedules: schedules as ScheduleConfig[] | undefined,
  };
}

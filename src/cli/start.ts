/**
 * `deno task start`: load the config, start the runtime and its server,
 * print where they are, and stop cleanly on Ctrl-C (SIGINT) or SIGTERM.
 *
 * Usage: `deno task start [--config zest.config.ts] [--port N] [--hostname H] [--show-token] [--nats URL] [--store FILE|memory] [-h|--help]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Runtime } from "../runtime.ts";
import { StoreOpenError, type TaskStore } from "../manager/store.ts";
import { SqliteTaskStore } from "../store/mod.ts";
import { DEFAULT_HOSTNAME, DEFAULT_PORT, serve, type ZestServer } from "../api/server.ts";
import { loadConfig, type StoreConfig } from "./config.ts";
import { ensureJupyter } from "./prerequisites.ts";
import { IPythonService } from "../service/ipython.ts";
import { serverToken, TOKEN_FILE } from "./token.ts";
import { clusterLine, clusterOf } from "./cluster_mode.ts";

const USAGE =
  `usage: deno task start [--config FILE] [--port N] [--hostname HOST] [--show-token] [--nats URL]
                       [--store FILE|memory]

  --config FILE    config module (default zest.config.ts)
  --port N         port to listen on, 0 for any free one (default: the config's, else ${DEFAULT_PORT})
  --hostname HOST  interface to bind (default: the config's, else 127.0.0.1)
  --show-token     print the dashboard link with the token in it (default: without)
  --store FILE     keep tasks in this SQLite file, or 'memory' for nothing kept after a stop
                   (default: the config's store, else .zest/zest.db)
  --nats URL       join the cluster at nats://host:port: host the config's services there; serve
                   HTTP only if the config has 'server' or --port is given. Credentials from the
                   config's cluster.nats or ZEST_NATS_TOKEN / ZEST_NATS_USER + ZEST_NATS_PASSWORD /
                   ZEST_NATS_CREDS, never in the URL
  -h, --help       this text

The token is ZEST_TOKEN if set, else ${TOKEN_FILE} (created with mode 0600 on first start).`;

/**
 * A second stop signal this soon after the first is the same Ctrl-C: a
 * terminal sends SIGINT to its whole foreground process group, so under
 * `deno task` the runtime gets it from the terminal and again, forwarded,
 * from `deno task` (measured 0.3–0.5 ms apart). 500 ms leaves a thousandfold
 * margin for a loaded machine and is still shorter than a deliberate second
 * press after reading the "stopping" line.
 */
const SAME_SIGNAL_MS = 500;

/**
 * Command-line options of `start`.
 *
 * @example
 * ```ts
 * import type { StartOptions } from "./start.ts";
 * const options: StartOptions = { config: "zest.config.ts", port: 0, showToken: false, help: false };
 * ```
 */
export interface StartOptions {
  config: string;
  port?: number;
  hostname?: string;
  /** Print the dashboard link with the token (stdout often ends up in logs). */
  showToken: boolean;
  /** Join the cluster at this NATS URL (`--nats`). */
  nats?: string;
  /** `--store`: an SQLite file, or `"memory"`; overrides the config's `store`. */
  store?: string;
  /** `-h`, `--help`: print the usage and exit 0, starting nothing. */
  help: boolean;
}

/**
 * Parse `start`'s arguments; throws a usage error naming the bad one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStartArgs } from "./start.ts";
 * const options = parseStartArgs(["--config", "test/fixtures/basic.config.ts", "--port", "0"]);
 * assert.equal(options.port, 0);
 * assert.equal(parseStartArgs(["-h"]).help, true);
 * ```
 */
export function parseStartArgs(args: string[]): StartOptions {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: "string", default: "zest.config.ts" },
      port: { type: "string" },
      hostname: { type: "string" },
      "show-token": { type: "boolean", default: false },
      nats: { type: "string" },
      store: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
    allowPositionals: false,
  });
  let port: number | undefined;
  if (values.port !== undefined) {
    port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new TypeError(`--port must be an integer from 0 to 65535, got '${values.port}'`);
    }
  }
  return {
    config: values.config,
    port,
    hostname: values.hostname,
    showToken: values["show-token"],
    nats: values.nats,
    store: values.store,
    help: values.help,
  };
}

/**
 * The banner: where the API, the dashboard and the token are. The token
 * itself only with `--show-token`: stdout is what service managers log.
 */
function banner(
  server: ZestServer,
  runtime: Runtime,
  token: string,
  tokenFrom: string,
  showToken: boolean,
  storeLine: string,
): string {
  const dashboard = new URL(server.url);
  // A fragment never reaches the server or its logs; the page's script reads it.
  if (showToken) dashboard.hash = `token=${token}`;
  const dashboardLine = showToken
    ? `zest: dashboard ${dashboard}`
    : `zest: dashboard ${dashboard} (asks for the token; --show-token prints a link with it)`;
  const services = runtime.services.map((service) => service.name).join(", ") || "none";
  const tokenWhere = tokenFrom === "ZEST_TOKEN"
    ? "from the ZEST_TOKEN environment variable"
    : `${Deno.cwd()}/${tokenFrom}`;
  return [
    `zest: listening on ${server.url} (WebSocket ${server.wsUrl})`,
    dashboardLine,
    `zest: token ${tokenWhere}`,
    `zest: services ${services}`,
    storeLine,
    "zest: press Ctrl-C to stop",
  ].join("\n");
}

/** The default task store of `deno task start` (inside `.zest/`, which the task may write). */
const DEFAULT_STORE = { path: ".zest/zest.db" };

/** The store to use: `--store` (a file keeps the config's `synchronous`), the config's, the default. */
function storeOption(flag: string | undefined, configured: StoreConfig | undefined): StoreConfig {
  if (flag === undefined) return configured ?? DEFAULT_STORE;
  if (flag === "memory") return "memory";
  return { ...(typeof configured === "object" ? configured : {}), path: flag };
}

/** A path as the user would write it: relative to the working directory when inside it. */
function shown(path: string): string {
  const cwd = `${Deno.cwd()}/`;
  return path.startsWith(cwd) ? path.slice(cwd.length) : path;
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

/**
 * The warning for intent-log lines the store skipped at open (a crash cut
 * them short, or the disk damaged them): the changes they held are gone,
 * and the operator must hear it rather than find tasks quietly missing.
 */
function tornWarning(tornLines: number): string[] {
  if (tornLines === 0) return [];
  const [lines, their] = tornLines === 1 ? ["line", "its"] : ["lines", "their"];
  return [
    `zest: warning: ${tornLines} intent-log ${lines} could not be read (${their} changes are lost)`,
  ];
}

/**
 * The banner's store line: where records are kept, how many, and what the
 * start took up from the previous run, e.g. `zest: store .zest/zest.db
 * (SQLite, 1.2 MB, 340 records): 12 queued tasks and 1 interrupted task taken up`;
 * then a warning line if the store could not read part of its intent log.
 */
async function storeLine(store: TaskStore): Promise<string> {
  const stats = await store.stats();
  if (!(store instanceof SqliteTaskStore)) {
    return stats.kind === "memory"
      ? "zest: store memory (tasks and their history end with the process)"
      : `zest: store ${stats.kind} (${plural(stats.records, "record")})`;
  }
  const recovery = store.recovery;
  const { waiting = 0, queued = 0, running = 0 } = recovery?.unfinished ?? {};
  const taken = [
    queued > 0 ? plural(queued, "queued task") : "",
    waiting > 0 ? plural(waiting, "waiting task") : "",
    running > 0 ? plural(running, "interrupted task") : "",
  ].filter(Boolean);
  const found = taken.length === 0
    ? "nothing unfinished to take up"
    : `${taken.slice(0, -1).join(", ")}${taken.length > 1 ? " and " : ""}${taken.at(-1)} taken up`;
  const migrated = recovery?.migratedFrom === undefined
    ? ""
    : `; migrated from schema version ${recovery.migratedFrom}`;
  const megabytes = ((stats.bytes ?? 0) / 1e6).toFixed(1);
  return [
    `zest: store ${shown(store.path)} (SQLite, ${megabytes} MB, ${
      plural(stats.records, "record")
    }): ${found}${migrated}`,
    ...tornWarning(recovery?.tornLines ?? 0),
  ].join("\n");
}

/** `host:port` as a URL writes it: an IPv6 address in brackets. */
function hostPort(hostname: string, port: number): string {
  return hostname.includes(":") ? `[${hostname}]:${port}` : `${hostname}:${port}`;
}

/**
 * Stop on the first SIGINT/SIGTERM; another one, at least
 * {@link SAME_SIGNAL_MS} later, forces the exit.
 */
function onStopSignal(stop: () => void): void {
  let firstAt: number | undefined;
  const handler = () => {
    const now = performance.now();
    if (firstAt === undefined) {
      firstAt = now;
      stop();
    } else if (now - firstAt >= SAME_SIGNAL_MS) {
      console.error("zest: forced exit");
      Deno.exit(1);
    }
  };
  Deno.addSignalListener("SIGINT", handler);
  Deno.addSignalListener("SIGTERM", handler);
}

/**
 * Run the server until a stop signal; returns the exit code.
 *
 * @example
 * ```ts
 * import { start } from "./start.ts";
 * // What `deno task start --port 0` runs: serve until Ctrl-C, then exit with its code.
 * const main = async () => Deno.exit(await start(["--port", "0"]));
 * ```
 */
export async function start(args: string[]): Promise<number> {
  let options: StartOptions;
  try {
    options = parseStartArgs(args);
  } catch (error) {
    console.error(`zest: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  // Listen first: a Ctrl-C while kernels start stops the runtime once it is up.
  const stopped = Promise.withResolvers<void>();
  onStopSignal(() => stopped.resolve());
  const config = await loadConfig(options.config);
  if (config.services.some((service) => service instanceof IPythonService)) {
    await ensureJupyter({ log: (line) => console.error(line) });
  }
  const cluster = clusterOf(options.nats, config.cluster);
  // In a cluster, a process serves HTTP, WebSocket and the dashboard only where asked (a gateway).
  const serving = !cluster || config.server !== undefined || options.port !== undefined;
  const { token, from } = serving ? await serverToken() : { token: "", from: "" };
  // Read once: the Jupyter Server and every kernel (any Python code a task
  // runs) inherit this process's environment, and must not see the token.
  Deno.env.delete("ZEST_TOKEN");
  let runtime: Runtime;
  try {
    runtime = await Runtime.start({
      services: config.services,
      manager: config.manager,
      schedules: config.schedules,
      workers: config.workers,
      store: cluster ? undefined : storeOption(options.store, config.store),
      cluster,
    });
  } catch (error) {
    if (!(error instanceof StoreOpenError)) throw error;
    // The message names the file and the cause (in use, corrupt, not writable, newer schema).
    console.error(`zest: cannot open the task store: ${error.message}`);
    return 1;
  }
  let server: ZestServer | undefined;
  const hostname = options.hostname ?? config.server?.hostname ?? DEFAULT_HOSTNAME;
  const port = options.port ?? config.server?.port ?? DEFAULT_PORT;
  try {
    if (serving) {
      server = serve(runtime, {
        token,
        hostname,
        port,
        maxBodyBytes: config.server?.maxBodyBytes,
      });
    }
  } catch (error) {
    await runtime.stop();
    if (error instanceof Deno.errors.AddrInUse) {
      // Deno's message ("Address already in use (os error 98)") names no address.
      throw new Error(
        `${hostPort(hostname, port)} is in use: stop the other server or pass --port`,
      );
    }
    throw error;
  }
  const hosted = runtime.services.map((service) => service.name);
  if (cluster) console.log(clusterLine(cluster, hosted));
  const stored = await storeLine(runtime.manager.store);
  console.log(
    server
      ? banner(server, runtime, token, from, options.showToken, stored)
      : [stored, "zest: press Ctrl-C to stop"].join("\n"),
  );
  await stopped.promise;
  console.log(
    cluster
      ? "zest: stopping: tasks this process has not started go back to the cluster; running ones are told to stop, then end InterruptedError (Ctrl-C again to force)"
      : runtime.manager.store.durable
      ? "zest: stopping: queued tasks stay in the store for the next start; running ones are told to stop, then end InterruptedError (Ctrl-C again to force)"
      : "zest: stopping: queued and running tasks end with ServiceStoppedError (Ctrl-C again to force)",
  );
  // The runtime first: tasks end and their waiters (HTTP or WebSocket) hear
  // it; then the sockets close and the listener stops.
  await runtime.stop();
  await server?.shutdown();
  console.log("zest: stopped");
  return 0;
}

if (import.meta.main) {
  try {
    Deno.exit(await start(Deno.args));
  } catch (error) {
    console.error(`zest: ${(error as Error).message ?? error}`);
    Deno.exit(1);
  }
}

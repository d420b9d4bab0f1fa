/**
 * `deno task start`: load the config, start the runtime and its server,
 * print where they are, and stop cleanly on Ctrl-C (SIGINT) or SIGTERM.
 *
 * Usage: `deno task start [--config zest.config.ts] [--port N] [--hostname H] [--show-token]`
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Runtime } from "../runtime.ts";
import { DEFAULT_PORT, serve, type ZestServer } from "../api/server.ts";
import { loadConfig } from "./config.ts";
import { ensureJupyter } from "./prerequisites.ts";
import { IPythonService } from "../service/ipython.ts";
import { serverToken, TOKEN_FILE } from "./token.ts";

const USAGE = `usage: deno task start [--config FILE] [--port N] [--hostname HOST] [--show-token]

  --config FILE    config module (default zest.config.ts)
  --port N         port to listen on, 0 for any free one (default: the config's, else ${DEFAULT_PORT})
  --hostname HOST  interface to bind (default: the config's, else 127.0.0.1)
  --show-token     print the dashboard link with the token in it (default: without)

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
 * const options: StartOptions = { config: "zest.config.ts", port: 0, showToken: false };
 * ```
 */
export interface StartOptions {
  config: string;
  port?: number;
  hostname?: string;
  /** Print the dashboard link with the token (stdout often ends up in logs). */
  showToken: boolean;
}

/**
 * Parse `start`'s arguments; throws a usage error naming the bad one.
 *
 * @example
 * ```ts
 * import { parseStartArgs } from "./start.ts";
 * parseStartArgs(["--config", "test/fixtures/zest.config.ts", "--port", "0"]);
 * // { config: "test/fixtures/zest.config.ts", port: 0, hostname: undefined, showToken: false }
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
    "zest: press Ctrl-C to stop",
  ].join("\n");
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
 * Deno.exit(await start(["--port", "0"]));
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
  // Listen first: a Ctrl-C while kernels start stops the runtime once it is up.
  const stopped = Promise.withResolvers<void>();
  onStopSignal(() => stopped.resolve());
  const config = await loadConfig(options.config);
  if (config.services.some((service) => service instanceof IPythonService)) {
    await ensureJupyter({ log: (line) => console.error(line) });
  }
  const { token, from } = await serverToken();
  // Read once: the Jupyter Server and every kernel (any Python code a task
  // runs) inherit this process's environment, and must not see the token.
  Deno.env.delete("ZEST_TOKEN");
  const runtime = await Runtime.start({
    services: config.services,
    manager: config.manager,
    schedules: config.schedules,
  });
  let server: ZestServer;
  try {
    server = serve(runtime, {
      token,
      hostname: options.hostname ?? config.server?.hostname,
      port: options.port ?? config.server?.port,
      maxBodyBytes: config.server?.maxBodyBytes,
    });
  } catch (error) {
    await runtime.stop();
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(`${(error as Error).message}: stop the other server or pass --port`);
    }
    throw error;
  }
  console.log(banner(server, runtime, token, from, options.showToken));
  await stopped.promise;
  console.log(
    "zest: stopping: queued and running tasks end with ServiceStoppedError (Ctrl-C again to force)",
  );
  // The runtime first: tasks end and their waiters (HTTP or WebSocket) hear
  // it; then the sockets close and the listener stops.
  await runtime.stop();
  await server.shutdown();
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

/**
 * Start the real server (`src/cli/start.ts`) as a child process, with the
 * exact permission flags of the `start` task in deno.json, so the tests also
 * prove those flags are enough.
 */
import { isRunning, type ProcessRef, relatedProcesses } from "../../src/kernel/processes.ts";

/** The repository root, where deno.json and the tasks live. */
export const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/** A token for tests (any 16+ URL-safe characters). */
export const TEST_TOKEN = "test-token-0123456789abcdefghij";

/** The arguments of a deno.json task after `deno` (e.g. `run --allow-net=… src/cli/start.ts`). */
export async function taskArgs(name: "start" | "zest"): Promise<string[]> {
  const config = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}/deno.json`));
  const command: string = config.tasks[name];
  const [deno, ...args] = command.trim().split(/\s+/);
  if (deno !== "deno") throw new Error(`task ${name} does not start with deno: ${command}`);
  return args;
}

/** Lines of a stream, as they arrive. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) yield buffer;
}

/** A running server process. */
export interface ServerProcess {
  url: URL;
  wsUrl: URL;
  token: string;
  child: Deno.ChildProcess;
  /** Everything printed so far. */
  stdout: string[];
  stderr: string[];
  /** Descendant processes right now (Jupyter Server, kernels). */
  descendants(): Promise<ProcessRef[]>;
  /** Send `signal` and wait for the exit; returns the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
}

/** Options of `startServer`. */
export interface StartServerOptions {
  /** Config path relative to the repo root. */
  config: string;
  /** `ZEST_TOKEN` for the server; `null` to let it use `.zest/token`. */
  token?: string | null;
  /** How long to wait for the "listening" line (default 60 s: kernels start too). */
  timeoutMs?: number;
  /** More arguments for `start` (e.g. `--show-token`). */
  args?: string[];
  /**
   * `--store` (default `"memory"`: tests neither share `.zest/zest.db` nor
   * inherit each other's tasks); `null` leaves it to the config.
   */
  store?: string | null;
}

/**
 * Start `deno task start --config … --port 0` and wait until it listens.
 *
 * @example
 * ```ts
 * import { startServer } from "./server.ts";
 * const server = await startServer({ config: "test/fixtures/basic.config.ts" });
 * await fetch(new URL("/services", server.url), { headers: { authorization: `Bearer ${server.token}` } });
 * await server.stop();
 * ```
 */
export async function startServer(options: StartServerOptions): Promise<ServerProcess> {
  const env: Record<string, string> = {};
  const token = options.token === undefined ? TEST_TOKEN : options.token;
  if (token !== null) env.ZEST_TOKEN = token;
  const args = [
    ...await taskArgs("start"),
    "--config",
    options.config,
    "--port",
    "0",
    ...(options.store === null ? [] : ["--store", options.store ?? "memory"]),
    ...options.args ?? [],
  ];
  const command = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env,
    clearEnv: false,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
  const child = command.spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const listening = Promise.withResolvers<URL>();
  (async () => {
    let url: URL | undefined;
    for await (const line of lines(child.stdout)) {
      stdout.push(line);
      const match = line.match(/^zest: listening on (\S+)/);
      if (match) url = new URL(match[1]);
      // The banner's last line: everything before it has been read.
      if (url && line.startsWith("zest: press Ctrl-C")) listening.resolve(url);
    }
    listening.reject(
      new Error(`server exited before listening:\n${stdout.join("\n")}\n${stderr.join("\n")}`),
    );
  })();
  const stderrDone = (async () => {
    for await (const line of lines(child.stderr)) stderr.push(line);
  })();
  const timer = setTimeout(
    () => listening.reject(new Error(`server did not listen in time:\n${stderr.join("\n")}`)),
    options.timeoutMs ?? 60_000,
  );
  let url: URL;
  try {
    url = await listening.promise;
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const wsUrl = new URL(url);
  wsUrl.protocol = "ws:";
  const serverToken = token ?? (await Deno.readTextFile(`${REPO_ROOT}/.zest/token`)).trim();
  return {
    url,
    wsUrl,
    token: serverToken,
    child,
    stdout,
    stderr,
    descendants: async () =>
      (await relatedProcesses(child.pid)).filter((ref) => ref.pid !== child.pid),
    async stop(signal: Deno.Signal = "SIGINT") {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await stderrDone;
      return status.code;
    },
  };
}

/** The processes of `refs` that still run. */
export async function stillRunning(refs: ProcessRef[]): Promise<ProcessRef[]> {
  const alive = await Promise.all(refs.map((ref) => isRunning(ref)));
  return refs.filter((_, i) => alive[i]);
}

/** `fetch` with the bearer token (or another `authorization`). */
export function api(
  server: ServerProcess,
  path: string,
  init: RequestInit & { token?: string | null } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  const token = init.token === undefined ? server.token : init.token;
  if (token !== null) headers.set("authorization", `Bearer ${token}`);
  return fetch(new URL(path, server.url), { ...init, headers });
}

/** `JupyterServer`: a Jupyter Server this process launches, or one it connects to. */
import { KernelManager, KernelSpecAPI, ServerConnection } from "@jupyterlab/services";
import { delay } from "./delay.ts";
import {
  JupyterServerGoneError,
  JupyterServerNotFoundError,
  JupyterServerStartError,
  KernelNotFoundError,
} from "./errors.ts";
import { JupyterKernel, type KernelStartOptions } from "./jupyter_kernel.ts";
import { killAll, type ProcessRef, relatedProcesses } from "./processes.ts";
import { serverConfigPython } from "./server_config.ts";

/**
 * How to launch a Jupyter Server.
 *
 * @example
 * ```ts
 * import type { LaunchOptions } from "./server.ts";
 * // With the repo root on the path, kernels/<name>/kernel.json is found.
 * const options: LaunchOptions = { jupyterPath: ["/srv/zest"], rootDir: "/srv/zest" };
 * ```
 */
export interface LaunchOptions {
  /**
   * Folders put first on `JUPYTER_PATH`. Jupyter looks for kernelspecs in
   * `<folder>/kernels/<name>/kernel.json`, so pass the folder that holds
   * `kernels/` (the repo root), not `kernels/` itself.
   */
  jupyterPath?: string[];
  /** The server's root folder, where kernels start. Default: the current folder. */
  rootDir?: string;
  /** The `jupyter-server` executable. Default: `/usr/bin/jupyter-server`, then `PATH`. */
  executable?: string;
  /** How long to wait for the server to answer. Default 30 s. */
  startTimeoutMs?: number;
  /** Seconds between the server's checks that a kernel lives. Default 0.5. */
  kernelHeartbeatSeconds?: number;
  /** Extra environment for the server and its kernels. */
  env?: Record<string, string>;
}

/**
 * Where an existing Jupyter Server (or Enterprise Gateway) is.
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "./server.ts";
 * const options: ConnectOptions = { url: "http://lab-pc:8888/", token: "secret" };
 * ```
 */
export interface ConnectOptions {
  url: string;
  token: string;
  /**
   * A running execution fails with `JupyterServerGoneError` once the
   * server has been unreachable this long. Default 30 s.
   */
  unreachableAfterMs?: number;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_HEARTBEAT_SECONDS = 0.5;
/** Time the server gets to shut its kernels down after SIGTERM. */
const STOP_GRACE_MS = 10_000;
/** Launch attempts when the free port we picked was taken meanwhile. */
const PORT_ATTEMPTS = 3;
const STDERR_TAIL_CHARS = 16_000;

/** What a launched server owns on this machine. */
interface OwnedProcess {
  child: Deno.ChildProcess;
  stderr: StderrTail;
  tempDir: string;
  env: Record<string, string>;
  executable: string;
}

/**
 * A Jupyter Server that kernels are started on.
 *
 * `launch` starts one on 127.0.0.1 (free port, random token, tuned
 * configuration; see `server_config.ts`) and `stop` ends it with all its
 * kernels. `connect` uses an existing server; `stop` then only shuts down
 * the kernels started through this object.
 *
 * @example
 * ```ts
 * import { JupyterServer } from "./server.ts";
 * const server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
 * try {
 *   const kernel = await server.startKernel({ name: "calibration" });
 *   console.log((await kernel.execute("calibration_graph.status()")).value);
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export class JupyterServer implements AsyncDisposable {
  /** Base URL, ending with `/`. */
  readonly url: string;
  readonly token: string;
  readonly #settings: ServerConnection.ISettings;
  readonly #manager: KernelManager;
  readonly #process?: OwnedProcess;
  readonly #gone = new AbortController();
  readonly #kernels = new Set<JupyterKernel>();
  readonly #unreachableAfterMs?: number;
  #stopping?: Promise<void>;

  /**
   * Launch `jupyter-server` on loopback and wait until it answers.
   *
   * @throws {JupyterServerNotFoundError} no executable found
   * @throws {JupyterServerStartError} it exited or did not answer in time
   * @example
   * ```ts
   * import { JupyterServer } from "./server.ts";
   * await using server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
   * server.url; // e.g. "http://127.0.0.1:41234/"
   * ```
   */
  static async launch(options: LaunchOptions = {}): Promise<JupyterServer> {
    const executable = await findExecutable(options.executable);
    for (let attempt = 1;; attempt++) {
      try {
        const { url, token, owned } = await launchOnce(executable, options);
        return new JupyterServer(url, token, owned);
      } catch (error) {
        const portTaken = error instanceof JupyterServerStartError &&
          /address already in use/i.test(error.stderr);
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  }

  /**
   * Use an existing server; checks that it answers with this token.
   *
   * @throws {JupyterServerGoneError} unreachable, or the token is refused
   * @example
   * ```ts
   * import { JupyterServer } from "./server.ts";
   * const server = await JupyterServer.connect({ url: "http://127.0.0.1:8888/", token: "t" });
   * ```
   */
  static async connect(options: ConnectOptions): Promise<JupyterServer> {
    const url = options.url.endsWith("/") ? options.url : `${options.url}/`;
    const problem = await statusProblem(url, options.token);
    if (problem) throw new JupyterServerGoneError(url, problem);
    return new JupyterServer(url, options.token, undefined, options.unreachableAfterMs);
  }

  private constructor(
    url: string,
    token: string,
    owned?: OwnedProcess,
    unreachableAfterMs?: number,
  ) {
    this.url = url;
    this.token = token;
    this.#process = owned;
    this.#unreachableAfterMs = unreachableAfterMs;
    this.#settings = ServerConnection.makeSettings({
      baseUrl: url,
      wsUrl: `ws${url.slice("http".length)}`,
      token,
      appendToken: true,
    });
    this.#manager = new KernelManager({ serverSettings: this.#settings });
    // Disposing the manager before its first poll finished rejects `ready`;
    // nobody else waits on it, and an unhandled rejection is fatal in Deno.
    this.#manager.ready.catch(() => {});
    owned?.child.status.then((status) => {
      if (this.#stopping) return;
      this.#gone.abort(new JupyterServerGoneError(url, `process exited with code ${status.code}`));
    });
  }

  /** Process id of a launched server; `undefined` for a connected one. */
  get pid(): number | undefined {
    return this.#process?.child.pid;
  }

  /**
   * The processes a launched server owns: itself and every process it
   * started (kernels and their children), as they run now. Empty for a
   * connected server.
   *
   * @example
   * ```ts
   * import { JupyterServer } from "./server.ts";
   * await using server = await JupyterServer.launch();
   * (await server.processes()).length; // 1: the server, no kernel yet
   * ```
   */
  processes(): Promise<ProcessRef[]> {
    return this.#process ? ownedProcesses(this.#process) : Promise.resolve([]);
  }

  /**
   * Start a kernel and wait until it is ready (bootstrap and startup code
   * done). Kernels started here are shut down by {@link stop}.
   *
   * @throws {KernelNotFoundError} no kernelspec has that name
   * @throws {KernelStartupError} the startup code raised
   * @example
   * ```ts
   * import { JupyterServer } from "./server.ts";
   * await using server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
   * const kernel = await server.startKernel({
   *   name: "calibration",
   *   startupCode: "calibration_graph.reset()",
   * });
   * ```
   */
  async startKernel(options: KernelStartOptions): Promise<JupyterKernel> {
    if (this.#gone.signal.aborted) throw this.#gone.signal.reason;
    await this.#checkKernelSpec(options.name);
    const kernel = await JupyterKernel.start(this.#manager, options, {
      url: this.url,
      gone: this.#gone.signal,
      unreachableAfterMs: this.#unreachableAfterMs,
    });
    this.#kernels.add(kernel);
    kernel.onStatus((status) => {
      if (status === "dead") this.#kernels.delete(kernel);
    });
    return kernel;
  }

  /**
   * Stop: kernels started here are shut down; a launched server process is
   * terminated (SIGTERM, SIGKILL after a grace period) with every process
   * it started. Safe to call more than once.
   *
   * @example
   * ```ts
   * import { JupyterServer } from "./server.ts";
   * const server = await JupyterServer.launch();
   * await server.stop();
   * ```
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  /** Same as {@link stop}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  async #stop(): Promise<void> {
    if (!this.#process) {
      await Promise.allSettled([...this.#kernels].map((kernel) => kernel.shutdown()));
    }
    this.#gone.abort(new JupyterServerGoneError(this.url, "stopped"));
    this.#manager.dispose();
    if (this.#process) await terminate(this.#process);
  }

  async #checkKernelSpec(name: string): Promise<void> {
    const specs = await KernelSpecAPI.getSpecs(this.#settings);
    const available = Object.keys(specs.kernelspecs);
    if (available.includes(name.toLowerCase())) return;
    const searched = this.#process ? await kernelSpecDirs(this.#process) : [];
    throw new KernelNotFoundError(name, searched, available);
  }
}

async function launchOnce(
  executable: string,
  options: LaunchOptions,
): Promise<{ url: string; token: string; owned: OwnedProcess }> {
  const tempDir = await Deno.makeTempDir({ prefix: "zest-jupyter-" });
  const configFile = `${tempDir}/jupyter_server_config.py`;
  await Deno.writeTextFile(
    configFile,
    serverConfigPython({
      kernelHeartbeatSeconds: options.kernelHeartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS,
      parentPid: Deno.pid,
    }),
  );
  const port = freePort();
  const token = randomToken();
  const url = `http://127.0.0.1:${port}/`;
  const jupyterPath = [...(options.jupyterPath ?? []), Deno.env.get("JUPYTER_PATH")]
    .filter((entry) => entry);
  const env: Record<string, string> = {
    // Else every kernel start prints debugpy's frozen-modules warning.
    PYDEVD_DISABLE_FILE_VALIDATION: "1",
    ...options.env,
    JUPYTER_PATH: jupyterPath.join(":"),
    // Connection files and the like stay in our temp folder; the user's own
    // Jupyter configuration does not change how the runtime's server behaves.
    JUPYTER_RUNTIME_DIR: `${tempDir}/runtime`,
    JUPYTER_CONFIG_DIR: `${tempDir}/config`,
  };
  const args = [
    "--ServerApp.ip=127.0.0.1",
    `--ServerApp.port=${port}`,
    "--ServerApp.port_retries=0",
    `--ServerApp.token=${token}`,
    "--no-browser",
    `--ServerApp.root_dir=${options.rootDir ?? Deno.cwd()}`,
    `--config=${configFile}`,
  ];
  // The server refuses to run as root unless told it may (CI runs as root).
  if (Deno.uid() === 0) args.push("--ServerApp.allow_root=True");
  const child = new Deno.Command(executable, {
    args,
    env,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const owned: OwnedProcess = { child, stderr: new StderrTail(child.stderr), tempDir, env, executable };
  try {
    await waitUntilAnswering(url, token, owned, options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  } catch (error) {
    await terminate(owned);
    throw error;
  }
  return { url, token, owned };
}

async function waitUntilAnswering(
  url: string,
  token: string,
  owned: OwnedProcess,
  timeoutMs: number,
): Promise<void> {
  let exited: Deno.CommandStatus | undefined;
  owned.child.status.then((status) => exited = status);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited) {
      throw new JupyterServerStartError(`exited with code ${exited.code}`, owned.stderr.text());
    }
    if (await statusProblem(url, token) === undefined) return;
    await delay(100);
  }
  throw new JupyterServerStartError(`no answer within ${timeoutMs} ms`, owned.stderr.text());
}

/** `undefined` when `/api/status` answers 200 with this token; else what went wrong. */
async function statusProblem(url: string, token: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}api/status`, {
      headers: { Authorization: `token ${token}` },
      signal: AbortSignal.timeout(5_000),
    });
    await response.body?.cancel();
    return response.ok ? undefined : `HTTP ${response.status} from ${url}api/status`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/**
 * SIGTERM lets the server shut its kernels down; SIGKILL follows after a
 * grace period. Then any process it started that still runs (a kernel that
 * ignored its shutdown, or whatever a kernel spawned) is killed.
 */
async function terminate(owned: OwnedProcess): Promise<void> {
  const { child } = owned;
  const before = await ownedProcesses(owned);
  try {
    child.kill("SIGTERM");
  } catch {
    // Already exited.
  }
  const exited = new AbortController();
  const killed = delay(STOP_GRACE_MS, exited.signal).then((graceOver) => {
    if (graceOver) child.kill("SIGKILL");
  });
  await child.status;
  exited.abort();
  await killed;
  await killAll([...before, ...await ownedProcesses(owned)]);
  await owned.stderr.closed();
  await Deno.remove(owned.tempDir, { recursive: true }).catch(() => {});
}

/** The server process and every process it started, even those re-parented since. */
function ownedProcesses(owned: OwnedProcess): Promise<ProcessRef[]> {
  // Each kernel's command line names its connection file, in our runtime folder.
  return relatedProcesses(owned.child.pid, owned.env.JUPYTER_RUNTIME_DIR + "/");
}

/** Keeps the last part of a process's stderr, for error messages. */
class StderrTail {
  #text = "";
  readonly #pump: Promise<void>;
  readonly #stream: ReadableStream<Uint8Array>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.#stream = stream;
    this.#pump = this.#read();
  }

  text(): string {
    return this.#text.trim();
  }

  /**
   * Resolves once the stream ended. Kernels inherit the server's stderr;
   * one that somehow outlived it would hold the pipe open, so give up
   * waiting after a while.
   */
  async closed(): Promise<void> {
    const ended = new AbortController();
    const stuck = await Promise.race([
      this.#pump.then(() => false),
      delay(2_000, ended.signal).then(() => true),
    ]);
    ended.abort();
    if (stuck) await this.#stream.cancel().catch(() => {});
  }

  async #read(): Promise<void> {
    try {
      for await (const chunk of this.#stream.pipeThrough(new TextDecoderStream())) {
        this.#text = (this.#text + chunk).slice(-STDERR_TAIL_CHARS);
      }
    } catch {
      // Cancelled by closed(): what was read is kept.
    }
  }
}

async function findExecutable(explicit?: string): Promise<string> {
  const candidates = explicit ? [explicit] : [
    "/usr/bin/jupyter-server",
    ...(Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir.startsWith("/"))
      .map((dir) => `${dir}/jupyter-server`),
  ];
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return candidate;
    } catch {
      // Not there; try the next.
    }
  }
  throw new JupyterServerNotFoundError(candidates);
}

/** Jupyter's own list of kernelspec folders, asked from the server's Python. */
async function kernelSpecDirs(owned: OwnedProcess): Promise<string[]> {
  const firstLine = (await Deno.readTextFile(owned.executable)).split("\n", 1)[0];
  const python = firstLine.startsWith("#!") ? firstLine.slice(2).trim().split(/\s+/)[0] : "";
  if (!python.startsWith("/")) return [];
  try {
    const { success, stdout } = await new Deno.Command(python, {
      args: [
        "-c",
        "import json; from jupyter_client.kernelspec import KernelSpecManager as M; " +
        "print(json.dumps(M().kernel_dirs))",
      ],
      env: owned.env,
      stdin: "null",
      stderr: "null",
    }).output();
    return success ? JSON.parse(new TextDecoder().decode(stdout)) : [];
  } catch {
    return [];
  }
}

/** A port nobody listens on now: the OS picks it for a listener we close at once. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

/** `JupyterServer`: a Jupyter Server this process launches, or one it connects to. */
import { KernelManager, KernelSpecAPI, ServerConnection } from "@jupyterlab/services";
import { JupyterServerGoneError, KernelNotFoundError } from "./errors.ts";
import { JupyterKernel, type KernelStartOptions } from "./jupyter_kernel.ts";
import { quietLibraryLogs } from "./library_logs.ts";
import type { ProcessRef } from "./processes.ts";
import { type JupyterLaunchOptions, ServerProcess, statusProblem } from "./server_process.ts";
import { KernelWebSocket } from "./websocket.ts";

export type { JupyterLaunchOptions } from "./server_process.ts";

/**
 * Where an existing Jupyter Server (or Enterprise Gateway) is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { JupyterConnectOptions } from "./server.ts";
 * const options: JupyterConnectOptions = { url: "http://lab-pc:8888/", token: "secret" };
 * assert.equal(options.unreachableAfterMs, undefined); // 30 s by default
 * ```
 */
export interface JupyterConnectOptions {
  /** The server's base URL, e.g. `http://lab-pc:8888/`. */
  url: string;
  /** The server's token. */
  token: string;
  /**
   * A running execution fails with `JupyterServerGoneError` once the
   * server has been unreachable this long. Default 30 s.
   */
  unreachableAfterMs?: number;
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
 * import assert from "node:assert/strict";
 * import { JupyterServer } from "./server.ts";
 * // With the repo root on the path, kernels/calibration/kernel.json is found.
 * const server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
 * try {
 *   const kernel = await server.startKernel({ name: "calibration" });
 *   const status = (await kernel.execute("calibration_graph.status()")).value;
 *   assert.equal(typeof status, "object");
 * } finally {
 *   await server.stop();
 * }
 * ```
 */
export class JupyterServer implements AsyncDisposable {
  /** Base URL, ending with `/`. */
  readonly url: string;
  /** The token requests to the server carry. */
  readonly token: string;
  readonly #settings: ServerConnection.ISettings;
  readonly #manager: KernelManager;
  readonly #process?: ServerProcess;
  readonly #gone = new AbortController();
  readonly #kernels = new Set<JupyterKernel>();
  readonly #unreachableAfterMs?: number;
  /** Lets go of the console filter for the library's chatter (see `library_logs.ts`). */
  readonly #releaseLibraryLogs: () => void;
  #stopping?: Promise<void>;

  /**
   * Launch `jupyter-server` on loopback and wait until it answers.
   *
   * @throws {JupyterServerNotFoundError} no executable found
   * @throws {JupyterServerStartError} it exited or did not answer in time
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { JupyterServer } from "./server.ts";
   * await using server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
   * assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
   * ```
   */
  static async launch(options: JupyterLaunchOptions = {}): Promise<JupyterServer> {
    const owned = await ServerProcess.launch(options);
    return new JupyterServer(owned.url, owned.token, owned);
  }

  /**
   * Use an existing server; checks that it answers with this token.
   *
   * @throws {JupyterServerGoneError} unreachable, or the token is refused
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { JupyterServer, JupyterServerGoneError } from "./mod.ts";
   * await using launched = await JupyterServer.launch();
   * const { url, token } = launched;
   * const server = await JupyterServer.connect({ url, token });
   * assert.deepEqual(await server.processes(), [], "not ours: no process of its own");
   * await server.stop(); // shuts down its kernels only: the launched server runs on
   * await assert.rejects(JupyterServer.connect({ url, token: "wrong" }), JupyterServerGoneError);
   * ```
   */
  static async connect(options: JupyterConnectOptions): Promise<JupyterServer> {
    const url = options.url.endsWith("/") ? options.url : `${options.url}/`;
    const problem = await statusProblem(url, options.token);
    if (problem) throw new JupyterServerGoneError(url, problem);
    return new JupyterServer(url, options.token, undefined, options.unreachableAfterMs);
  }

  private constructor(
    url: string,
    token: string,
    owned?: ServerProcess,
    unreachableAfterMs?: number,
  ) {
    this.#releaseLibraryLogs = quietLibraryLogs();
    this.url = url;
    this.token = token;
    this.#process = owned;
    this.#unreachableAfterMs = unreachableAfterMs;
    this.#settings = ServerConnection.makeSettings({
      baseUrl: url,
      wsUrl: `ws${url.slice("http".length)}`,
      token,
      appendToken: true,
      // Reports the messages it drops for their size (see websocket.ts).
      WebSocket: KernelWebSocket as unknown as typeof WebSocket,
    });
    this.#manager = new KernelManager({ serverSettings: this.#settings });
    // Disposing the manager before its first poll finished rejects `ready`;
    // nobody else waits on it, and an unhandled rejection is fatal in Deno.
    this.#manager.ready.catch(() => {});
    owned?.exited.then((status) => {
      if (this.#stopping) return;
      this.#gone.abort(new JupyterServerGoneError(url, `process exited with code ${status.code}`));
    });
  }

  /**
   * Why this server can start and run nothing more — its process exited, or
   * it was stopped — or `undefined` while it can.
   *
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { JupyterServer } from "./server.ts";
   * const server = await JupyterServer.launch();
   * assert.equal(server.gone, undefined);
   * await server.stop();
   * assert.match(String(server.gone), /stopped/);
   * ```
   */
  get gone(): JupyterServerGoneError | undefined {
    return this.#gone.signal.aborted ? this.#gone.signal.reason : undefined;
  }

  /** Process id of a launched server; `undefined` for a connected one. */
  get pid(): number | undefined {
    return this.#process?.pid;
  }

  /**
   * The processes a launched server owns: itself and every process it
   * started (kernels and their children), as they run now. Empty for a
   * connected server.
   *
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { JupyterServer } from "./server.ts";
   * await using server = await JupyterServer.launch();
   * assert.deepEqual((await server.processes()).map(({ pid }) => pid), [server.pid]); // no kernel yet
   * ```
   */
  processes(): Promise<ProcessRef[]> {
    return this.#process?.processes() ?? Promise.resolve([]);
  }

  /**
   * Start a kernel and wait until it is ready (bootstrap and startup code
   * done). Kernels started here are shut down by {@link stop}.
   *
   * @throws {KernelNotFoundError} no kernelspec has that name
   * @throws {KernelLaunchError} the server could not launch the kernel process
   * @throws {KernelStartupCodeError} the startup code raised
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { JupyterServer } from "./server.ts";
   * await using server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
   * const kernel = await server.startKernel({
   *   name: "calibration",
   *   startupCode: "calibration_graph.reset()",
   * });
   * assert.equal(kernel.status, "idle");
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
   * then terminated (SIGTERM, SIGKILL after a grace period) with every
   * process it started. Safe to call more than once.
   *
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { JupyterServer } from "./server.ts";
   * const server = await JupyterServer.launch();
   * const kernel = await server.startKernel({ name: "python3" });
   * await server.stop();
   * assert.equal(kernel.status, "dead");
   * await server.stop(); // again: nothing more to do
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
    // Through REST even on a launched server: a SIGTERM that reaches it
    // while it restarts a dead kernel hangs it until SIGKILL, whereas
    // `shutdown()` waits for the restart to be over.
    await Promise.allSettled([...this.#kernels].map((kernel) => kernel.shutdown()));
    this.#gone.abort(new JupyterServerGoneError(this.url, "stopped"));
    this.#manager.dispose();
    try {
      await this.#process?.terminate();
    } finally {
      this.#releaseLibraryLogs();
    }
  }

  async #checkKernelSpec(name: string): Promise<void> {
    const specs = await KernelSpecAPI.getSpecs(this.#settings);
    const available = Object.keys(specs.kernelspecs);
    if (available.includes(name.toLowerCase())) return;
    const searched = await this.#process?.kernelSpecDirs() ?? [];
    throw new KernelNotFoundError(name, searched, available);
  }
}

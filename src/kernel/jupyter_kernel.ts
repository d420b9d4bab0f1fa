/**
 * `JupyterKernel`: the `Kernel` interface on a Jupyter Server, via
 * `@jupyterlab/services`. This module keeps the kernel's lifecycle (start,
 * revival after a death or restart, shutdown) and its queue; one execution's
 * race is in `execution.ts`, the lifecycle's states in `lifecycle.ts`.
 */
import {
  type Kernel as JupyterKernelApi,
  type KernelManager,
  type KernelMessage,
  ServerConnection,
} from "@jupyterlab/services";
import { durationProblem } from "../task/limits.ts";
import { abortable, delay, onAbort, SerialQueue } from "../util/async.ts";
import { BOOTSTRAP_CODE } from "./bootstrap.ts";
import {
  JupyterServerGoneError,
  KernelClosedError,
  KernelDiedError,
  KernelLaunchError,
  KernelStartupCodeError,
} from "./errors.ts";
import {
  Execution,
  type ExecutionContext,
  kernelInfoAnswered,
  PROBE_INTERVAL_MS,
} from "./execution.ts";
import type { ExecuteOptions, ExecutionReply, Kernel, KernelStatus } from "./kernel.ts";
import {
  libraryStatus,
  type Lifecycle,
  Revival,
  type RevivalStep,
  statusOnEntry,
} from "./lifecycle.ts";
import { onMessageTooLarge } from "./websocket.ts";

/**
 * How a kernel is started and looked after.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KernelStartOptions } from "./jupyter_kernel.ts";
 * const options: KernelStartOptions = {
 *   name: "calibration",
 *   startupCode: "import math",
 *   startupTimeoutMs: 60_000,
 * };
 * assert.equal(options.interruptGraceMs, undefined); // 2 s by default
 * ```
 */
export interface KernelStartOptions {
  /** Kernelspec name, e.g. `"python3"` or `"calibration"`. */
  name: string;
  /**
   * Python run after every start and restart (after the JSON bootstrap),
   * before any execution. If it raises, the start fails with
   * `KernelStartupCodeError`.
   */
  startupCode?: string;
  /** Deadline for the kernel to answer and for each startup step. Default 60 s. */
  startupTimeoutMs?: number;
  /**
   * After a timeout or abort the kernel is interrupted; if it is still busy
   * this long after, it is restarted. Default 2 s.
   */
  interruptGraceMs?: number;
}

/**
 * What a `JupyterKernel` needs from the server that holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KernelHost } from "./jupyter_kernel.ts";
 * const stopped = new AbortController();
 * const host: KernelHost = { url: "http://127.0.0.1:8888/", gone: stopped.signal };
 * assert.equal(host.gone.aborted, false);
 * ```
 */
export interface KernelHost {
  /** The server's base URL, for error messages. */
  url: string;
  /** Aborts, with the reason as its `reason`, when the server goes away or is stopped. */
  gone: AbortSignal;
  /**
   * An execution fails with `JupyterServerGoneError` once the connection to
   * the server has been down this long (the library retries reconnecting
   * forever, so a vanished remote server would otherwise hang it). Default 30 s.
   */
  unreachableAfterMs?: number;
}

const DEFAULT_STARTUP_TIMEOUT_MS = 60_000;
const DEFAULT_INTERRUPT_GRACE_MS = 2_000;
const DEFAULT_UNREACHABLE_AFTER_MS = 30_000;
/** Revivals tried in a row when the kernel dies again while being set up. */
const MAX_REVIVAL_ATTEMPTS = 3;
/**
 * Longest `shutdown()` waits for the server to finish restarting a kernel
 * that died, and retries its refusal, before giving up on a clean stop.
 */
const SHUTDOWN_TIMEOUT_MS = 5_000;
/** Pause between two shutdown requests the server refused. */
const SHUTDOWN_RETRY_MS = 100;

/**
 * Check the durations of `options` (each at most 2³¹−1 ms, as a timer takes):
 * a `RangeError` naming the option, before any kernel is started.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkKernelStartOptions } from "./jupyter_kernel.ts";
 * checkKernelStartOptions({ name: "python3", startupTimeoutMs: 60_000 });
 * assert.throws(
 *   () => checkKernelStartOptions({ name: "python3", startupTimeoutMs: 3e9 }),
 *   /^RangeError: kernel 'python3': startupTimeoutMs must be at most 2147483647 ms/,
 * );
 * ```
 */
export function checkKernelStartOptions(options: KernelStartOptions): void {
  for (const field of ["startupTimeoutMs", "interruptGraceMs"] as const) {
    const value = options[field];
    const problem = value === undefined ? undefined : durationProblem(value);
    if (problem) throw new RangeError(`kernel '${options.name}': ${field} ${problem}`);
  }
}

/**
 * A Python kernel on a Jupyter Server. Create it with
 * `JupyterServer.startKernel`; it implements {@link Kernel}.
 *
 * Executions run one at a time in call order. When the kernel process dies
 * the running execution rejects with `KernelDiedError`; the server restarts
 * the process, and this object waits until it answers, runs the JSON
 * bootstrap and the startup code again, then runs the queued executions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JupyterServer } from "./server.ts";
 * await using server = await JupyterServer.launch();
 * const kernel = await server.startKernel({ name: "python3", startupCode: "import math" });
 * const reply = await kernel.execute("math.sqrt(16)", { timeoutMs: 10_000 });
 * assert.equal(reply.value, 4);
 * ```
 */
export class JupyterKernel implements Kernel {
  readonly id: string;
  readonly name: string;
  readonly #connection: JupyterKernelApi.IKernelConnection;
  readonly #startupCode?: string;
  readonly #startupTimeoutMs: number;
  readonly #context: ExecutionContext;
  readonly #queue = new SerialQueue();
  readonly #listeners = new Set<(status: KernelStatus) => void>();
  #state: Lifecycle;
  /** What callers see: set on entering a state, and in `ready` from the library's reports. */
  #status: KernelStatus = "starting";
  /** The execution in flight: user code, the bootstrap or the startup code. */
  #running?: Execution;
  /** The server is restarting the kernel process (from its death or `restart()`). */
  #serverRestarting = false;
  readonly #stopWatchingMessages: () => void;
  #stopWatchingServer?: () => void;

  /**
   * Start kernel `options.name` through `manager`, wait until it answers,
   * run the bootstrap and startup code. Prefer `JupyterServer.startKernel`,
   * which checks the kernelspec exists and tracks the kernel.
   *
   * @throws {KernelLaunchError} the server could not launch the process
   * @throws {KernelStartupCodeError} the bootstrap or the startup code raised
   * @example
   * ```ts ignore
   * import assert from "node:assert/strict";
   * import { KernelManager, ServerConnection } from "@jupyterlab/services";
   * import { JupyterKernel } from "./jupyter_kernel.ts";
   * import { ServerProcess } from "./server_process.ts";
   * const server = await ServerProcess.launch();
   * const serverSettings = ServerConnection.makeSettings({
   *   baseUrl: server.url,
   *   wsUrl: server.url.replace(/^http/, "ws"),
   *   token: server.token,
   *   appendToken: true,
   * });
   * const manager = new KernelManager({ serverSettings });
   * manager.ready.catch(() => {}); // rejects if disposed before its first poll
   * const host = { url: server.url, gone: new AbortController().signal };
   * const kernel = await JupyterKernel.start(manager, { name: "python3" }, host);
   * assert.equal(kernel.status, "idle");
   * await kernel.shutdown();
   * manager.dispose();
   * await server.terminate();
   * ```
   */
  static async start(
    manager: KernelManager,
    options: KernelStartOptions,
    host: KernelHost,
  ): Promise<JupyterKernel> {
    checkKernelStartOptions(options);
    const connection = await manager.startNew({ name: options.name }, { handleComms: false })
      .catch((error) => {
        throw new KernelLaunchError(options.name, serverErrorDetail(error));
      });
    const kernel = new JupyterKernel(connection, options, host);
    try {
      await kernel.#ready();
    } catch (error) {
      await kernel.shutdown();
      throw error;
    }
    return kernel;
  }

  /** Wire the connection up and begin the first revival (bootstrap, startup code). */
  private constructor(
    connection: JupyterKernelApi.IKernelConnection,
    options: KernelStartOptions,
    host: KernelHost,
  ) {
    this.#connection = connection;
    this.id = connection.id;
    this.name = options.name;
    this.#startupCode = options.startupCode;
    this.#startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
    this.#context = {
      connection,
      kernelName: options.name,
      serverUrl: host.url,
      unreachableAfterMs: host.unreachableAfterMs ?? DEFAULT_UNREACHABLE_AFTER_MS,
      interruptGraceMs: options.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS,
      closedError: () => this.#closedError(),
      restart: () => this.#reviveUnwatched("restart"),
    };
    const firstRevival = new Revival("setup");
    this.#state = { kind: "starting", revival: firstRevival };
    containLibraryRejections(connection);
    this.#stopWatchingMessages = onMessageTooLarge(connection.clientId, () => {
      this.#running?.outputDropped();
    });
    connection.statusChanged.connect((_, status) => {
      if (status === "restarting" || status === "autorestarting") this.#serverRestarting = true;
      this.#onLibraryStatus(status);
    });
    connection.connectionStatusChanged.connect((_, status) => {
      // The server opens a kernel's socket only once the kernel is ready.
      if (status === "connected") this.#serverRestarting = false;
      // The library gave up reconnecting: the server is unreachable.
      if (status === "disconnected") this.#close(new JupyterServerGoneError(host.url));
    });
    // Synchronously when already gone: the revival below must see it.
    if (host.gone.aborted) this.#close(host.gone.reason);
    else this.#stopWatchingServer = onAbort(host.gone, (reason) => this.#close(reason as Error));
    firstRevival.settle(this.#reviveUntilSettled(firstRevival));
  }

  /** The kernel's status; see {@link KernelStatus}. */
  get status(): KernelStatus {
    return this.#status;
  }

  /** Listen to status changes; returns the function that stops listening. */
  onStatus(listener: (status: KernelStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Run `code` after the executions requested before it; see {@link Kernel.execute}. */
  execute(code: string, options: ExecuteOptions = {}): Promise<ExecutionReply> {
    const closed = this.#closedError();
    if (closed) return Promise.reject(closed);
    return this.#queue.run(async () => {
      const closed = this.#closedError();
      if (closed) throw closed;
      await abortable(this.#ready(), options.signal);
      return await this.#run(code, { ...options, silent: false });
    }, options.signal);
  }

  /** Interrupt the running code (through the server's REST API). */
  async interrupt(): Promise<void> {
    const closed = this.#closedError();
    if (closed) throw closed;
    await this.#connection.interrupt();
  }

  /** Restart the kernel process; the running execution rejects with `KernelDiedError`. */
  async restart(): Promise<void> {
    const closed = this.#closedError();
    if (closed) throw closed;
    this.#running?.fail(new KernelDiedError(this.name, "was restarted"));
    await this.#revive("restart");
  }

  /**
   * Shut the kernel down through the server's REST API; running and queued
   * executions reject with `KernelClosedError`. Bounded: gives up after
   * a few seconds if the server keeps refusing (the connection is released
   * all the same).
   */
  async shutdown(): Promise<void> {
    if (this.#closedError()) return;
    this.#close(new KernelClosedError(this.name));
    try {
      await this.#shutdownOnServer();
    } finally {
      this.#connection.dispose();
    }
  }

  /**
   * jupyter-server 1.23 cannot shut down a kernel while it restarts one
   * that died: it answers 500 (`InvalidStateError`), and a SIGTERM then
   * hangs the server until it is killed. So wait until the restart is over
   * (the library's socket is back), and retry a refusal, within
   * `SHUTDOWN_TIMEOUT_MS`. A kernel the server no longer knows is fine.
   */
  async #shutdownOnServer(): Promise<void> {
    const deadline = Date.now() + SHUTDOWN_TIMEOUT_MS;
    for (;;) {
      await this.#restartOver(deadline);
      try {
        await this.#connection.shutdown();
        return;
      } catch (error) {
        const refused = error instanceof ServerConnection.ResponseError &&
          error.response.status >= 500;
        if (!refused || Date.now() + SHUTDOWN_RETRY_MS >= deadline) return;
        await delay(SHUTDOWN_RETRY_MS);
      }
    }
  }

  /** Resolves once the server is not restarting the kernel, or at `deadline`. */
  async #restartOver(deadline: number): Promise<void> {
    if (!this.#serverRestarting) return;
    const over = new AbortController();
    const reconnected = (_: unknown, status: JupyterKernelApi.ConnectionStatus) => {
      if (status === "connected") over.abort();
    };
    this.#connection.connectionStatusChanged.connect(reconnected);
    try {
      await delay(deadline - Date.now(), over.signal);
    } finally {
      this.#connection.connectionStatusChanged.disconnect(reconnected);
    }
  }

  /** Why the kernel runs nothing more, once it is closed. */
  #closedError(): Error | undefined {
    return this.#state.kind === "closed" ? this.#state.error : undefined;
  }

  /** Resolves when the kernel is set up; a broken kernel is restarted first. */
  #ready(): Promise<void> {
    const state = this.#state;
    switch (state.kind) {
      case "ready":
        return Promise.resolve();
      case "starting":
      case "reviving":
        return state.revival.done;
      case "broken":
        return this.#revive("restart");
      case "closed":
        return Promise.reject(state.error);
    }
  }

  /**
   * Bring the kernel to a usable state, `step` first: restart it if asked,
   * wait until it answers, run the bootstrap and startup code. One revival
   * at a time: asked while one runs, the step is added to that one.
   */
  #revive(step: RevivalStep): Promise<void> {
    const state = this.#state;
    switch (state.kind) {
      case "closed":
        return Promise.reject(state.error);
      case "starting":
      case "reviving":
        state.revival.ask(step);
        return state.revival.done;
      case "ready":
      case "broken": {
        // A kernel whose last setup failed half-way must start clean.
        const revival = new Revival(state.kind === "broken" ? "restart" : step);
        this.#enter({ kind: "reviving", revival });
        revival.settle(this.#reviveUntilSettled(revival));
        return revival.done;
      }
    }
  }

  /** {@link revive} when nobody waits: a failure shows in the state and the next execution. */
  #reviveUnwatched(step: RevivalStep): void {
    this.#revive(step).catch(() => {});
  }

  /**
   * Do the revival's steps until none is left: a death during the revival
   * asks for another round (a few at most). On failure the kernel is
   * `broken`; a close ends it with the close's error.
   */
  async #reviveUntilSettled(revival: Revival): Promise<void> {
    for (let attempt = 1; revival.pending; attempt++) {
      const step = revival.take();
      try {
        if (step === "restart") await this.#connection.restart();
        await this.#waitUntilAnswering();
        await this.#runStartupCode();
      } catch (error) {
        const closed = this.#closedError();
        if (closed) throw closed;
        if (!revival.pending || attempt >= MAX_REVIVAL_ATTEMPTS) {
          this.#enter({ kind: "broken" });
          throw error;
        }
      }
    }
    const closed = this.#closedError();
    if (closed) throw closed;
    this.#enter({ kind: "ready" });
  }

  async #waitUntilAnswering(): Promise<void> {
    const deadline = Date.now() + this.#startupTimeoutMs;
    // After a restart the library may lose the busy/idle of its own
    // kernel_info request and stay "unknown": probe until one is answered.
    while (Date.now() < deadline) {
      const closed = this.#closedError();
      if (closed) throw closed;
      if (
        this.#connection.connectionStatus === "connected" &&
        await kernelInfoAnswered(this.#connection, PROBE_INTERVAL_MS)
      ) {
        return;
      }
      await delay(50);
    }
    throw new KernelDiedError(this.name, `did not answer within ${this.#startupTimeoutMs} ms`);
  }

  async #runStartupCode(): Promise<void> {
    for (const code of [BOOTSTRAP_CODE, this.#startupCode]) {
      if (!code) continue;
      const reply = await this.#run(code, { silent: true, timeoutMs: this.#startupTimeoutMs });
      if (reply.status === "error") {
        throw new KernelStartupCodeError(this.name, reply.ename!, reply.evalue!, reply.traceback!);
      }
    }
  }

  /** Run one execution, as the one in flight. */
  async #run(
    code: string,
    options: ExecuteOptions & { silent: boolean },
  ): Promise<ExecutionReply> {
    const execution = new Execution(this.#context, code, options);
    this.#running = execution;
    try {
      return await execution.run();
    } finally {
      if (this.#running === execution) this.#running = undefined;
    }
  }

  #onLibraryStatus(status: KernelMessage.Status): void {
    const state = this.#state;
    if (state.kind === "closed") return;
    if (status === "autorestarting") {
      // The server saw the kernel process die and started a new one.
      this.#running?.fail(new KernelDiedError(this.name, "died"));
      this.#reviveUnwatched("setup");
    } else if (status === "dead") {
      // The server gave up restarting it (or someone shut it down).
      this.#close(new KernelClosedError(this.name, "is dead and could not be restarted"));
    } else if (state.kind === "ready" || state.kind === "broken") {
      this.#setStatus(libraryStatus(status));
    }
  }

  /** Mark the kernel unusable for good: no more executions, status `dead`. */
  #close(error: Error): void {
    if (this.#closedError()) return;
    this.#enter({ kind: "closed", error });
    this.#stopWatchingMessages();
    this.#stopWatchingServer?.();
    this.#running?.fail(error);
    if (error instanceof JupyterServerGoneError) this.#connection.dispose();
  }

  #enter(state: Lifecycle): void {
    this.#state = state;
    this.#setStatus(statusOnEntry(state));
  }

  #setStatus(status: KernelStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const listener of this.#listeners) listener(status);
  }
}

/** The server's own explanation of a failed request: the last line of its traceback. */
function serverErrorDetail(error: unknown): string {
  if (error instanceof ServerConnection.ResponseError) {
    const lastLine = error.traceback.trim().split("\n").at(-1);
    return lastLine || `${error.message} (HTTP ${error.response.status})`;
  }
  return error instanceof Error ? error.message : String(error);
}

/**
 * Two promises the library makes and never handles, which Deno treats as
 * fatal when they reject:
 *
 * - On every (re)connection it sends its own `kernel_info_request` and
 *   chains a `.then` onto it without a rejection handler; a restart cancels
 *   that request. A cancelled `kernel_info` carries no information (the
 *   library itself ignores it when disposed): it resolves as `undefined`.
 * - When the server restarts a dead kernel, it calls `reconnect()` and drops
 *   the promise; disposing the connection meanwhile (a shutdown during the
 *   restart) rejects it with "Kernel connection disconnected", or throws
 *   "Object disposed" if the dispose came first. Whether the connection came
 *   back is seen through `connectionStatusChanged` (here and in the
 *   library's own `restart()`), so the promise only settles.
 */
function containLibraryRejections(connection: JupyterKernelApi.IKernelConnection): void {
  const requestKernelInfo = connection.requestKernelInfo.bind(connection);
  connection.requestKernelInfo = () => requestKernelInfo().catch(() => undefined);
  const reconnect = connection.reconnect.bind(connection);
  connection.reconnect = async () => {
    try {
      await reconnect();
    } catch {
      // Disconnected or disposed: the connection status says so.
    }
  };
}

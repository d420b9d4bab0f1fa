/** `JupyterKernel`: the `Kernel` interface on a Jupyter Server, via `@jupyterlab/services`. */
import {
  type Kernel as JupyterKernelApi,
  type KernelManager,
  type KernelMessage,
  ServerConnection,
} from "@jupyterlab/services";
import { BOOTSTRAP_CODE } from "./bootstrap.ts";
import { delay } from "./delay.ts";
import {
  JupyterServerGoneError,
  KernelClosedError,
  KernelDiedError,
  KernelOutputLostError,
  KernelOutputTooLargeError,
  KernelStartError,
  KernelStartupError,
  KernelTimeoutError,
} from "./errors.ts";
import type { ExecuteOptions, ExecutionReply, Kernel, KernelStatus } from "./kernel.ts";
import { OutputCollector } from "./outputs.ts";
import { SerialQueue } from "./serial_queue.ts";
import { MAX_MESSAGE_BYTES, onMessageTooLarge } from "./websocket.ts";

/**
 * How a kernel is started and looked after.
 *
 * @example
 * ```ts
 * import type { KernelStartOptions } from "./jupyter_kernel.ts";
 * const options: KernelStartOptions = {
 *   name: "calibration",
 *   startupCode: "import math",
 *   startupTimeoutMs: 60_000,
 * };
 * ```
 */
export interface KernelStartOptions {
  /** Kernelspec name, e.g. `"python3"` or `"calibration"`. */
  name: string;
  /**
   * Python run after every start and restart (after the JSON bootstrap),
   * before any execution. If it raises, the start fails with
   * `KernelStartupError`.
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
 * import type { KernelHost } from "./jupyter_kernel.ts";
 * const host: KernelHost = { url: "http://127.0.0.1:8888/", gone: new AbortController().signal };
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
/** How long one `kernel_info` probe waits before another is sent. */
const PROBE_INTERVAL_MS = 1_000;
/** Longest wait between two probes for a reply lost with the connection. */
const MAX_LOST_REPLY_PROBE_MS = 30_000;
/** Revivals tried in a row when the kernel dies again while being set up. */
const MAX_REVIVAL_ATTEMPTS = 3;
/**
 * Longest `shutdown()` waits for the server to finish restarting a kernel
 * that died, and retries its refusal, before giving up on a clean stop.
 */
const SHUTDOWN_TIMEOUT_MS = 5_000;
/** Pause between two shutdown requests the server refused. */
const SHUTDOWN_RETRY_MS = 100;

/** What must happen before the next execution may run. */
type Pending = "none" | "setup" | "restart";

type RunOutcome =
  | { kind: "done"; reply: KernelMessage.IExecuteReplyMsg }
  | { kind: "canceled" }
  | { kind: "timeout" }
  | { kind: "abort" }
  | { kind: "unreachable" }
  | { kind: "lost" }
  | { kind: "failed"; error: Error };

/** One execute request on its way. */
interface Request {
  /** Its outcome as the library reports it: done (reply and idle), or cancelled. */
  done: Promise<RunOutcome>;
  /** Whether `done` has settled. */
  settled(): boolean;
  /** The kernel's `execute_reply`, once it arrived. */
  reply(): KernelMessage.IExecuteReplyMsg | undefined;
  /** Stop waiting for it (the library forgets it). */
  abandon(): void;
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
 * import { JupyterServer } from "./server.ts";
 * await using server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
 * const kernel = await server.startKernel({ name: "python3", startupCode: "import math" });
 * const reply = await kernel.execute("math.sqrt(16)", { timeoutMs: 10_000 });
 * reply.value; // 4
 * ```
 */
export class JupyterKernel implements Kernel {
  readonly id: string;
  readonly name: string;
  readonly #connection: JupyterKernelApi.IKernelConnection;
  readonly #host: KernelHost;
  readonly #startupCode?: string;
  readonly #startupTimeoutMs: number;
  readonly #interruptGraceMs: number;
  readonly #queue = new SerialQueue();
  readonly #listeners = new Set<(status: KernelStatus) => void>();
  #status: KernelStatus = "starting";
  #pending: Pending = "setup";
  #reviving?: Promise<void>;
  /** Fails the execution in flight (user code, bootstrap or startup code). */
  #failRunning?: (error: Error) => void;
  #closedError?: Error;
  /** The socket dropped a message over its size limit during the execution in flight. */
  #outputDropped = false;
  /** The server is restarting the kernel process (from its death or `restart()`). */
  #serverRestarting = false;
  readonly #stopWatchingMessages: () => void;

  /**
   * Start kernel `options.name` through `manager`, wait until it answers,
   * run the bootstrap and startup code. Prefer `JupyterServer.startKernel`,
   * which checks the kernelspec exists and tracks the kernel.
   *
   * @example
   * ```ts
   * import { KernelManager, ServerConnection } from "@jupyterlab/services";
   * import { JupyterKernel } from "./jupyter_kernel.ts";
   * const serverSettings = ServerConnection.makeSettings({
   *   baseUrl: "http://127.0.0.1:8888/", wsUrl: "ws://127.0.0.1:8888/", token: "t", appendToken: true,
   * });
   * const manager = new KernelManager({ serverSettings });
   * const host = { url: serverSettings.baseUrl, gone: new AbortController().signal };
   * const kernel = await JupyterKernel.start(manager, { name: "python3" }, host);
   * ```
   */
  static async start(
    manager: KernelManager,
    options: KernelStartOptions,
    host: KernelHost,
  ): Promise<JupyterKernel> {
    const connection = await manager.startNew({ name: options.name }, { handleComms: false })
      .catch((error) => {
        throw new KernelStartError(options.name, serverErrorDetail(error));
      });
    const kernel = new JupyterKernel(connection, options, host);
    try {
      await kernel.#revive();
    } catch (error) {
      await kernel.shutdown();
      throw error;
    }
    return kernel;
  }

  private constructor(
    connection: JupyterKernelApi.IKernelConnection,
    options: KernelStartOptions,
    host: KernelHost,
  ) {
    this.#connection = connection;
    this.id = connection.id;
    this.name = options.name;
    this.#host = host;
    this.#startupCode = options.startupCode;
    this.#startupTimeoutMs = options.startupTimeoutMs ?? DEFAULT_STARTUP_TIMEOUT_MS;
    this.#interruptGraceMs = options.interruptGraceMs ?? DEFAULT_INTERRUPT_GRACE_MS;
    containLibraryRejections(connection);
    this.#stopWatchingMessages = onMessageTooLarge(connection.clientId, () => {
      this.#outputDropped = true;
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
    if (host.gone.aborted) this.#close(host.gone.reason);
    host.gone.addEventListener("abort", () => this.#close(host.gone.reason), { once: true });
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
    if (this.#closedError) return Promise.reject(this.#closedError);
    return this.#queue.run(async () => {
      if (this.#closedError) throw this.#closedError;
      await abortable(this.#ready(), options.signal);
      return await this.#run(code, { ...options, silent: false });
    }, options.signal);
  }

  /** Interrupt the running code (through the server's REST API). */
  async interrupt(): Promise<void> {
    if (this.#closedError) throw this.#closedError;
    await this.#connection.interrupt();
  }

  /** Restart the kernel process; the running execution rejects with `KernelDiedError`. */
  async restart(): Promise<void> {
    if (this.#closedError) throw this.#closedError;
    this.#pending = "restart";
    this.#failRunning?.(new KernelDiedError(this.name, "was restarted"));
    await this.#revive();
  }

  /**
   * Shut the kernel down through the server's REST API; running and queued
   * executions reject with `KernelClosedError`. Bounded: gives up after
   * a few seconds if the server keeps refusing (the connection is released
   * all the same).
   */
  async shutdown(): Promise<void> {
    if (this.#closedError) return;
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

  /** Resolves when the kernel is set up; starts a revival if one is due. */
  #ready(): Promise<void> {
    return this.#pending === "none" && !this.#reviving ? Promise.resolve() : this.#revive();
  }

  /**
   * Bring the kernel to a usable state: restart it if asked, wait until it
   * answers, run the bootstrap and startup code. One revival at a time; a
   * death during the revival makes it start over (a few times at most).
   */
  #revive(): Promise<void> {
    if (!this.#reviving) {
      const revival = this.#reviveUntilSettled().finally(() => {
        this.#reviving = undefined;
      });
      // Callers that wait get the failure; nobody waiting must not be fatal.
      revival.catch(() => {});
      this.#reviving = revival;
    }
    return this.#reviving;
  }

  async #reviveUntilSettled(): Promise<void> {
    this.#setStatus(this.#status === "starting" ? "starting" : "restarting");
    for (let attempt = 1; this.#pending !== "none"; attempt++) {
      const pending = this.#pending;
      this.#pending = "none";
      try {
        if (pending === "restart") await this.#connection.restart();
        await this.#waitUntilAnswering();
        await this.#runStartupCode();
      } catch (error) {
        if (this.#closedError) throw this.#closedError;
        // A kernel whose setup failed half-way must start clean next time.
        if (this.#pending === "none" || attempt >= MAX_REVIVAL_ATTEMPTS) {
          this.#pending = "restart";
          this.#setStatus("unknown");
          throw error;
        }
      }
    }
    this.#setStatus("idle");
  }

  async #waitUntilAnswering(): Promise<void> {
    const deadline = Date.now() + this.#startupTimeoutMs;
    // After a restart the library may lose the busy/idle of its own
    // kernel_info request and stay "unknown": probe until one is answered.
    while (Date.now() < deadline) {
      if (this.#closedError) throw this.#closedError;
      if (this.#connection.connectionStatus === "connected") {
        const stop = new AbortController();
        const answered = await Promise.race([
          this.#connection.requestKernelInfo().then((reply) => reply !== undefined),
          delay(PROBE_INTERVAL_MS, stop.signal).then(() => false),
        ]);
        stop.abort();
        if (answered) return;
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
        throw new KernelStartupError(this.name, reply.ename!, reply.evalue!, reply.traceback!);
      }
    }
  }

  /** Send one execute request and wait for its outcome. */
  async #run(
    code: string,
    options: ExecuteOptions & { silent: boolean },
  ): Promise<ExecutionReply> {
    options.signal?.throwIfAborted();
    const finished = new AbortController();
    const failed = Promise.withResolvers<RunOutcome>();
    const fail = (error: Error) => failed.resolve({ kind: "failed", error });
    this.#failRunning = fail;
    this.#outputDropped = false;
    try {
      const outputs = new OutputCollector();
      const started = Promise.withResolvers<void>();
      const request = this.#request(code, options.silent, outputs, () => {
        started.resolve();
        options.onStart?.();
      });
      const outcome = await Promise.race([
        request.done,
        failed.promise,
        this.#lostReply(request, finished.signal),
        ...this.#limits(started.promise, options, finished.signal),
      ]);
      return await this.#conclude(outcome, outputs, request, options);
    } finally {
      finished.abort();
      if (this.#failRunning === fail) this.#failRunning = undefined;
    }
  }

  /**
   * Send the execute request; outputs go to `outputs`, `onStart` is called
   * once when the kernel takes the request up. `done` resolves when the
   * kernel is done with it, or the library cancelled it (the kernel
   * restarted).
   */
  #request(
    code: string,
    silent: boolean,
    outputs: OutputCollector,
    onStart: () => void,
  ): Request {
    let hasStarted = false;
    let hasSettled = false;
    let reply: KernelMessage.IExecuteReplyMsg | undefined;
    const start = () => {
      if (hasStarted) return;
      hasStarted = true;
      onStart();
    };
    // allow_stdin: false, or input() waits forever for an answer. stop_on_error:
    // false because it only matters for requests queued behind a failing one,
    // and this object never queues any in the kernel; with true, ipykernel
    // may also abort the request sent right after an error or interrupt (it
    // stops "aborting" asynchronously), failing it for nothing.
    const future = this.#connection.requestExecute(
      { code, silent, store_history: !silent, allow_stdin: false, stop_on_error: false },
      true,
    );
    future.onIOPub = (msg) => {
      if (isStartMessage(msg)) start();
      outputs.add(msg);
    };
    future.onReply = (msg) => {
      reply = msg as KernelMessage.IExecuteReplyMsg;
      start(); // in case the busy status was lost
    };
    const done = future.done.then(
      (msg): RunOutcome => ({ kind: "done", reply: msg as KernelMessage.IExecuteReplyMsg }),
      (): RunOutcome => ({ kind: "canceled" }),
    ).finally(() => hasSettled = true);
    return {
      done,
      settled: () => hasSettled,
      reply: () => reply,
      abandon: () => future.dispose(),
    };
  }

  /** The outcomes that cut an execution short: its time limit, lost server, abort. */
  #limits(
    started: Promise<void>,
    { timeoutMs, signal }: ExecuteOptions,
    finished: AbortSignal,
  ): Promise<RunOutcome>[] {
    const limits = [this.#unreachable(finished)];
    if (timeoutMs !== undefined) {
      // The time limit counts from when the kernel takes the request up.
      limits.push(
        started
          .then(() => delay(timeoutMs, finished))
          .then((elapsed) => (elapsed ? { kind: "timeout" } : new Promise<never>(() => {}))),
      );
    }
    if (signal) {
      limits.push(
        new Promise((resolve) =>
          signal.addEventListener("abort", () => resolve({ kind: "abort" }), {
            once: true,
            signal: finished,
          })
        ),
      );
    }
    return limits;
  }

  /**
   * Turn the first outcome into the reply, or into the error to throw
   * (after handing `onCutShort` what the code produced until then).
   */
  async #conclude(
    outcome: RunOutcome,
    outputs: OutputCollector,
    request: Request,
    options: ExecuteOptions,
  ): Promise<ExecutionReply> {
    const { timeoutMs, signal, onCutShort } = options;
    let error: unknown;
    let partial: ExecutionReply | undefined;
    switch (outcome.kind) {
      case "done": {
        const reply = outputs.finish(outcome.reply.content);
        if (!this.#outputDropped) return reply;
        error = new KernelOutputTooLargeError(this.name, MAX_MESSAGE_BYTES);
        partial = reply;
        break;
      }
      case "canceled": // the library cancels pending requests when the kernel restarts
        error = this.#closedError ?? new KernelDiedError(this.name, "died");
        break;
      case "failed":
        error = outcome.error;
        break;
      case "unreachable": {
        const after = this.#host.unreachableAfterMs ?? DEFAULT_UNREACHABLE_AFTER_MS;
        error = new JupyterServerGoneError(this.#host.url, `no connection for ${after} ms`);
        break;
      }
      case "lost": {
        // Only the reply's idle may be what was lost: the reply says how it went.
        const reply = request.reply();
        request.abandon();
        if (reply) return this.#conclude({ kind: "done", reply }, outputs, request, options);
        error = this.#outputDropped
          ? new KernelOutputTooLargeError(this.name, MAX_MESSAGE_BYTES)
          : new KernelOutputLostError(this.name);
        break;
      }
      case "timeout":
      case "abort": {
        const stopped = await this.#stop(request.done);
        if (stopped.reply) partial = outputs.finish(stopped.reply.content);
        error = outcome.kind === "timeout"
          ? new KernelTimeoutError(timeoutMs!, stopped.recovery)
          : signal!.reason;
        break;
      }
    }
    onCutShort?.(partial ?? outputs.partial());
    throw error;
  }

  /**
   * Resolves once the connection has been down for `unreachableAfterMs`
   * without a break, until `finished` aborts.
   */
  #unreachable(finished: AbortSignal): Promise<RunOutcome> {
    const connection = this.#connection;
    const after = this.#host.unreachableAfterMs ?? DEFAULT_UNREACHABLE_AFTER_MS;
    return new Promise((resolve) => {
      let down: AbortController | undefined;
      const watch = () => {
        const connected = connection.connectionStatus === "connected";
        if (connected) {
          down?.abort();
          down = undefined;
        } else if (!down) {
          down = new AbortController();
          delay(after, AbortSignal.any([down.signal, finished])).then((elapsed) => {
            if (elapsed) resolve({ kind: "unreachable" });
          });
        }
      };
      connection.connectionStatusChanged.connect(watch);
      finished.addEventListener("abort", () => {
        connection.connectionStatusChanged.disconnect(watch);
      }, { once: true });
      watch();
    });
  }

  /**
   * Resolves `lost` when `request` can no longer end by itself: the
   * connection dropped while it ran (the server does not resend all it sent
   * meanwhile, e.g. after `ws` refused an oversized message), came back,
   * and the kernel answered a `kernel_info` request sent after it, while
   * the request's reply or its idle status is still missing. Shell requests
   * are served in order, and iopub messages arrive in order, so that
   * answer (reply and idle) means the kernel is done with the code and
   * whatever of its outputs survived has arrived.
   *
   * The probe is sent again, less and less often, while it goes unanswered:
   * the kernel may still be running the code, or the answer may have been
   * lost in the same turmoil.
   */
  #lostReply(request: Request, finished: AbortSignal): Promise<RunOutcome> {
    const connection = this.#connection;
    return new Promise((resolve) => {
      let dropped = false;
      let probing = false;
      const probe = async () => {
        probing = true;
        for (let wait = PROBE_INTERVAL_MS; !finished.aborted; wait *= 2) {
          const answered = await Promise.race([
            connection.requestKernelInfo().then((info) => info !== undefined),
            delay(Math.min(wait, MAX_LOST_REPLY_PROBE_MS), finished).then(() => false),
          ]);
          if (!answered) continue;
          if (!request.settled() && !finished.aborted) resolve({ kind: "lost" });
          return;
        }
      };
      const watch = (_: unknown, status: JupyterKernelApi.ConnectionStatus) => {
        if (status !== "connected") dropped = true;
        else if (dropped && !probing) void probe();
      };
      connection.connectionStatusChanged.connect(watch);
      finished.addEventListener("abort", () => {
        connection.connectionStatusChanged.disconnect(watch);
      }, { once: true });
    });
  }

  /**
   * Stop code that must not run on: interrupt it, and restart the kernel if
   * it is still running after the grace period (e.g. stuck in C code or
   * catching KeyboardInterrupt). An interrupted execution's reply (its
   * `KeyboardInterrupt`) comes with the recovery.
   */
  async #stop(
    done: Promise<RunOutcome>,
  ): Promise<
    | { recovery: "interrupted"; reply: KernelMessage.IExecuteReplyMsg }
    | { recovery: "restarted"; reply?: undefined }
  > {
    this.#connection.interrupt().catch(() => {
      // Could not interrupt: the grace period runs out and we restart.
    });
    const graceOver = new AbortController();
    const stopped = await Promise.race([
      done.then((outcome) => outcome.kind === "done" ? outcome.reply : undefined),
      delay(this.#interruptGraceMs, graceOver.signal).then(() => undefined),
    ]);
    graceOver.abort();
    if (stopped) return { recovery: "interrupted", reply: stopped };
    this.#pending = "restart";
    void this.#revive();
    return { recovery: "restarted" };
  }

  #onLibraryStatus(status: KernelMessage.Status): void {
    if (this.#closedError) return;
    if (status === "autorestarting") {
      // The server saw the kernel process die and started a new one.
      if (this.#pending === "none") this.#pending = "setup";
      this.#failRunning?.(new KernelDiedError(this.name, "died"));
      void this.#revive();
    } else if (status === "dead") {
      // The server gave up restarting it (or someone shut it down).
      this.#close(new KernelClosedError(this.name, "is dead and could not be restarted"));
    } else if (!this.#reviving) {
      this.#setStatus(toKernelStatus(status));
    }
  }

  /** Mark the kernel unusable for good: no more executions, status `dead`. */
  #close(error: Error): void {
    if (this.#closedError) return;
    this.#closedError = error;
    this.#stopWatchingMessages();
    this.#failRunning?.(error);
    if (error instanceof JupyterServerGoneError) this.#connection.dispose();
    this.#setStatus("dead");
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

/** `promise`, or the signal's reason as soon as `signal` aborts. */
function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function isStartMessage(msg: KernelMessage.IIOPubMessage): boolean {
  return msg.header.msg_type === "execute_input" ||
    (msg.header.msg_type === "status" &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === "busy");
}

function toKernelStatus(status: KernelMessage.Status): KernelStatus {
  switch (status) {
    case "idle":
    case "busy":
    case "starting":
    case "unknown":
    case "dead":
      return status;
    case "restarting":
    case "autorestarting":
      return "restarting";
    case "terminating":
      return "unknown";
  }
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

/**
 * One execution: an execute request on a kernel connection, raced against
 * what can cut it short (its time limit, its caller's signal, a connection
 * that stays down, a reply lost with the connection, the kernel's death),
 * and the reply or error it ends with.
 *
 * @module
 */
import { type Kernel as JupyterKernelApi, KernelMessage } from "@jupyterlab/services";
import type { DisplayOutput } from "../task/outcome.ts";
import type { TaskOutput } from "../task/protocol.ts";
import { delay, onAbort } from "../util/async.ts";
import {
  JupyterServerGoneError,
  KernelDiedError,
  KernelOutputLostError,
  KernelOutputTooLargeError,
  KernelTimeoutError,
} from "./errors.ts";
import type { ExecuteOptions, ExecutionReply } from "./kernel.ts";
import { OutputCollector } from "./outputs.ts";
import { MAX_MESSAGE_BYTES } from "./websocket.ts";

/**
 * How long one `kernel_info` probe waits before another is sent: after a
 * restart the kernel's first busy/idle can be lost, so its state is asked
 * until an answer comes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROBE_INTERVAL_MS } from "./execution.ts";
 * assert.equal(PROBE_INTERVAL_MS, 1_000);
 * ```
 */
export const PROBE_INTERVAL_MS = 1_000;
/** Longest wait between two probes for a reply lost with the connection. */
const MAX_LOST_REPLY_PROBE_MS = 30_000;

/**
 * What an execution needs from the kernel it runs on.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExecutionContext } from "./execution.ts";
 * type Settings = Omit<ExecutionContext, "connection" | "closedError" | "restart">;
 * const settings: Settings = {
 *   kernelName: "python3",
 *   serverUrl: "http://127.0.0.1:8888/",
 *   unreachableAfterMs: 30_000,
 *   interruptGraceMs: 2_000,
 * };
 * assert.equal(settings.kernelName, "python3");
 * ```
 */
export interface ExecutionContext {
  /** The library's connection to the kernel. */
  readonly connection: JupyterKernelApi.IKernelConnection;
  /** The kernelspec name, for error messages. */
  readonly kernelName: string;
  /** The server's base URL, for error messages. */
  readonly serverUrl: string;
  /** The execution fails with `JupyterServerGoneError` once the connection was down this long. */
  readonly unreachableAfterMs: number;
  /** After an interrupt, how long the code may go on before the kernel is restarted. */
  readonly interruptGraceMs: number;
  /** Why the kernel is closed, if it is: a request the library cancelled fails with it. */
  closedError(): Error | undefined;
  /** The interrupt did not stop the code in time: restart the kernel (without waiting). */
  restart(): void;
}

/** What ended the race. */
type Outcome =
  | { kind: "done"; reply: KernelMessage.IExecuteReplyMsg }
  | { kind: "canceled" }
  | { kind: "timeout" }
  | { kind: "abort" }
  | { kind: "unreachable" }
  | { kind: "lost" }
  | { kind: "failed"; error: Error };

/** The execute request on its way. */
interface Request {
  /** Its outcome as the library reports it: done (reply and idle), or cancelled. */
  done: Promise<Outcome>;
  /** Whether `done` has settled. */
  settled(): boolean;
  /** The kernel's `execute_reply`, once it arrived. */
  reply(): KernelMessage.IExecuteReplyMsg | undefined;
  /** Stop waiting for it (the library forgets it). */
  abandon(): void;
}

/**
 * Whether the kernel answers a `kernel_info` request within `waitMs` (or
 * before `signal` aborts). The connection's `requestKernelInfo` must not
 * reject (see `containLibraryRejections` in `jupyter_kernel.ts`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Kernel } from "@jupyterlab/services";
 * import { kernelInfoAnswered } from "./execution.ts";
 * const answering = { requestKernelInfo: () => Promise.resolve({}) };
 * const silent = { requestKernelInfo: () => new Promise(() => {}) };
 * const cancelled = { requestKernelInfo: () => Promise.resolve(undefined) };
 * const asConnection = (stub: object) => stub as Kernel.IKernelConnection;
 * assert.equal(await kernelInfoAnswered(asConnection(answering), 1_000), true);
 * assert.equal(await kernelInfoAnswered(asConnection(silent), 10), false);
 * assert.equal(await kernelInfoAnswered(asConnection(cancelled), 1_000), false);
 * ```
 */
export async function kernelInfoAnswered(
  connection: JupyterKernelApi.IKernelConnection,
  waitMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  const answered = new AbortController();
  try {
    return await Promise.race([
      connection.requestKernelInfo().then((info) => info !== undefined),
      delay(waitMs, signal ? AbortSignal.any([signal, answered.signal]) : answered.signal)
        .then(() => false),
    ]);
  } finally {
    answered.abort();
  }
}

/**
 * One execute request, from sending it to its reply or error. The kernel
 * that runs it keeps it while it runs, to {@link fail} it when the process
 * dies or the kernel closes, and to tell it when the socket dropped one of
 * its outputs ({@link outputDropped}).
 *
 * @example
 * ```ts ignore
 * import assert from "node:assert/strict";
 * import { KernelManager, ServerConnection } from "@jupyterlab/services";
 * import { Execution, type ExecutionContext } from "./execution.ts";
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
 * const connection = await manager.startNew({ name: "python3" });
 * // What a JupyterKernel gives its executions.
 * const context: ExecutionContext = {
 *   connection,
 *   kernelName: "python3",
 *   serverUrl: server.url,
 *   unreachableAfterMs: 30_000,
 *   interruptGraceMs: 2_000,
 *   closedError: () => undefined,
 *   restart: () => void connection.restart().catch(() => {}),
 * };
 * const reply = await new Execution(context, "print('hi')\n6 * 7", { silent: false }).run();
 * assert.equal(reply.stdout, "hi\n");
 * assert.equal(reply.text, "42"); // and no JSON value: JupyterKernel's bootstrap adds it
 * const slow = new Execution(context, "import time\ntime.sleep(60)", { silent: false, timeoutMs: 200 });
 * await assert.rejects(slow.run(), { name: "KernelTimeoutError" });
 * await connection.shutdown();
 * manager.dispose();
 * await server.terminate();
 * ```
 */
export class Execution {
  readonly #context: ExecutionContext;
  readonly #code: string;
  readonly #options: ExecuteOptions & { silent: boolean };
  readonly #failed = Promise.withResolvers<Outcome>();
  #outputDropped = false;

  /** Prepare `code`; a `silent` execution (setup code) is not counted in the history. */
  constructor(
    context: ExecutionContext,
    code: string,
    options: ExecuteOptions & { silent: boolean },
  ) {
    this.#context = context;
    this.#code = code;
    this.#options = options;
  }

  /** End the execution with `error`, whatever the kernel does with the code. */
  fail(error: Error): void {
    this.#failed.resolve({ kind: "failed", error });
  }

  /** The socket dropped a message of this execution for its size. */
  outputDropped(): void {
    this.#outputDropped = true;
  }

  /**
   * Send the request (once) and wait for its outcome: the reply, Python
   * errors included; or the error that cut it short.
   */
  async run(): Promise<ExecutionReply> {
    this.#options.signal?.throwIfAborted();
    const finished = new AbortController();
    try {
      const outputs = new OutputCollector();
      const started = Promise.withResolvers<void>();
      const request = this.#request(outputs, () => {
        started.resolve();
        this.#options.onStart?.();
      });
      const outcome = await Promise.race([
        request.done,
        this.#failed.promise,
        this.#lostReply(request, finished.signal),
        ...this.#limits(started.promise, finished.signal),
      ]);
      return await this.#conclude(outcome, outputs, request);
    } finally {
      finished.abort();
    }
  }

  /**
   * Send the execute request; outputs go to `outputs`, `onStart` is called
   * once when the kernel takes the request up. `done` resolves when the
   * kernel is done with it, or the library cancelled it (the kernel
   * restarted).
   */
  #request(outputs: OutputCollector, onStart: () => void): Request {
    let hasStarted = false;
    let hasSettled = false;
    let reply: KernelMessage.IExecuteReplyMsg | undefined;
    const start = () => {
      if (hasStarted) return;
      hasStarted = true;
      onStart();
    };
    const silent = this.#options.silent;
    // allow_stdin: false, or input() waits forever for an answer. stop_on_error:
    // false because it only matters for requests queued behind a failing one,
    // and the kernel object never queues any in the kernel; with true,
    // ipykernel may also abort the request sent right after an error or
    // interrupt (it stops "aborting" asynchronously), failing it for nothing.
    const future = this.#context.connection.requestExecute(
      {
        code: this.#code,
        silent,
        store_history: !silent,
        allow_stdin: false,
        stop_on_error: false,
      },
      true,
    );
    const onOutput = this.#options.onOutput;
    future.onIOPub = (msg) => {
      if (isStartMessage(msg)) start();
      outputs.add(msg);
      if (onOutput) {
        const live = liveOutput(msg);
        if (live) onOutput(live);
      }
    };
    future.onReply = (msg) => {
      reply = msg as KernelMessage.IExecuteReplyMsg;
      start(); // in case the busy status was lost
    };
    const done = future.done.then(
      (msg): Outcome => ({ kind: "done", reply: msg as KernelMessage.IExecuteReplyMsg }),
      (): Outcome => ({ kind: "canceled" }),
    ).finally(() => hasSettled = true);
    return {
      done,
      settled: () => hasSettled,
      reply: () => reply,
      abandon: () => future.dispose(),
    };
  }

  /** The outcomes that cut an execution short: its time limit, lost server, abort. */
  #limits(started: Promise<void>, finished: AbortSignal): Promise<Outcome>[] {
    const { timeoutMs, signal } = this.#options;
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
        new Promise((resolve) => {
          onAbort(finished, onAbort(signal, () => resolve({ kind: "abort" })));
        }),
      );
    }
    return limits;
  }

  /**
   * Turn the first outcome into the reply, or into the error to throw
   * (after handing `onCutShort` what the code produced until then).
   */
  async #conclude(
    outcome: Outcome,
    outputs: OutputCollector,
    request: Request,
  ): Promise<ExecutionReply> {
    const { kernelName, serverUrl, unreachableAfterMs } = this.#context;
    const { timeoutMs, signal, onCutShort } = this.#options;
    let error: unknown;
    let partial: ExecutionReply | undefined;
    let recovery: "interrupted" | "restarted" | undefined;
    switch (outcome.kind) {
      case "done": {
        const reply = outputs.finish(outcome.reply.content);
        if (!this.#outputDropped) return reply;
        error = new KernelOutputTooLargeError(kernelName, MAX_MESSAGE_BYTES);
        partial = reply;
        break;
      }
      case "canceled": // the library cancels pending requests when the kernel restarts
        error = this.#context.closedError() ?? new KernelDiedError(kernelName, "died");
        break;
      case "failed":
        error = outcome.error;
        break;
      case "unreachable":
        error = new JupyterServerGoneError(serverUrl, `no connection for ${unreachableAfterMs} ms`);
        break;
      case "lost": {
        // Only the reply's idle may be what was lost: the reply says how it went.
        const reply = request.reply();
        request.abandon();
        if (reply) return this.#conclude({ kind: "done", reply }, outputs, request);
        error = this.#outputDropped
          ? new KernelOutputTooLargeError(kernelName, MAX_MESSAGE_BYTES)
          : new KernelOutputLostError(kernelName);
        break;
      }
      case "timeout":
      case "abort": {
        const stopped = await this.#stopCode(request.done);
        if (stopped.reply) partial = outputs.finish(stopped.reply.content);
        recovery = stopped.recovery;
        error = outcome.kind === "timeout"
          ? new KernelTimeoutError(timeoutMs!, stopped.recovery)
          : signal!.reason;
        break;
      }
    }
    onCutShort?.(partial ?? outputs.partial(), recovery);
    throw error;
  }

  /**
   * Resolves once the connection has been down for `unreachableAfterMs`
   * without a break, until `finished` aborts.
   */
  #unreachable(finished: AbortSignal): Promise<Outcome> {
    const { connection, unreachableAfterMs } = this.#context;
    return new Promise((resolve) => {
      let down: AbortController | undefined;
      const watch = () => {
        const connected = connection.connectionStatus === "connected";
        if (connected) {
          down?.abort();
          down = undefined;
        } else if (!down) {
          down = new AbortController();
          delay(unreachableAfterMs, AbortSignal.any([down.signal, finished])).then((elapsed) => {
            if (elapsed) resolve({ kind: "unreachable" });
          });
        }
      };
      connection.connectionStatusChanged.connect(watch);
      onAbort(finished, () => connection.connectionStatusChanged.disconnect(watch));
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
  #lostReply(request: Request, finished: AbortSignal): Promise<Outcome> {
    const { connection } = this.#context;
    return new Promise((resolve) => {
      let dropped = false;
      let probing = false;
      const probe = async () => {
        probing = true;
        for (let wait = PROBE_INTERVAL_MS; !finished.aborted; wait *= 2) {
          const waitMs = Math.min(wait, MAX_LOST_REPLY_PROBE_MS);
          if (!await kernelInfoAnswered(connection, waitMs, finished)) continue;
          if (!request.settled() && !finished.aborted) resolve({ kind: "lost" });
          return;
        }
      };
      const watch = (_: unknown, status: JupyterKernelApi.ConnectionStatus) => {
        if (status !== "connected") dropped = true;
        else if (dropped && !probing) void probe();
      };
      connection.connectionStatusChanged.connect(watch);
      onAbort(finished, () => connection.connectionStatusChanged.disconnect(watch));
    });
  }

  /**
   * Stop code that must not run on: interrupt it, and restart the kernel if
   * it is still running after the grace period (e.g. stuck in C code or
   * catching KeyboardInterrupt). An interrupted execution's reply (its
   * `KeyboardInterrupt`) comes with the recovery.
   */
  async #stopCode(
    done: Promise<Outcome>,
  ): Promise<
    | { recovery: "interrupted"; reply: KernelMessage.IExecuteReplyMsg }
    | { recovery: "restarted"; reply?: undefined }
  > {
    this.#context.connection.interrupt().catch(() => {
      // Could not interrupt: the grace period runs out and we restart.
    });
    const graceOver = new AbortController();
    const stopped = await Promise.race([
      done.then((outcome) => outcome.kind === "done" ? outcome.reply : undefined),
      delay(this.#context.interruptGraceMs, graceOver.signal).then(() => undefined),
    ]);
    graceOver.abort();
    if (stopped) return { recovery: "interrupted", reply: stopped };
    this.#context.restart();
    return { recovery: "restarted" };
  }
}

function isStartMessage(msg: KernelMessage.IIOPubMessage): boolean {
  return msg.header.msg_type === "execute_input" ||
    (msg.header.msg_type === "status" &&
      (msg as KernelMessage.IStatusMsg).content.execution_state === "busy");
}

/** What a watcher of a running execution is shown of `msg`, if anything. */
function liveOutput(msg: KernelMessage.IIOPubMessage): TaskOutput | undefined {
  if (KernelMessage.isStreamMsg(msg)) {
    const { name, text } = msg.content;
    return { kind: "stream", name: name === "stderr" ? "stderr" : "stdout", text };
  }
  if (KernelMessage.isDisplayDataMsg(msg) || KernelMessage.isUpdateDisplayDataMsg(msg)) {
    const { data, metadata } = msg.content;
    return { kind: "display", display: { data, metadata } as DisplayOutput };
  }
  if (KernelMessage.isClearOutputMsg(msg)) return { kind: "clear" };
  return undefined;
}

/**
 * `IPythonService`: a service bound to a Jupyter kernel that runs code-generating task types.
 *
 * @module
 */
import { CodeTaskType, codeTaskTypeList, ExecuteCode, findCodeTaskType } from "../task/code.ts";
import type { TaskType, TaskTypeInfo } from "../task/define.ts";
import {
  type ErrorOutcome,
  type Execution,
  outcomeFromError,
  type TaskOutcome,
} from "../task/outcome.ts";
import type { ServiceDescription, TaskRun } from "../task/protocol.ts";
import { KernelError } from "../kernel/errors.ts";
import type { ExecutionReply, Kernel } from "../kernel/kernel.ts";
import { checkKernelStartOptions } from "../kernel/jupyter_kernel.ts";
import type { JupyterServer } from "../kernel/server.ts";
import { OutputRelay } from "./output_relay.ts";
import {
  report,
  Service,
  type ServiceEnvironment,
  type ServiceOptions,
  taskLogger,
} from "./service.ts";

/**
 * After a failed try to replace a lost Jupyter Server and kernel, tasks fail
 * with its error this long before the next try: a server that cannot start
 * is not launched again for every task of a backlog.
 */
const REPLACE_RETRY_MS = 5_000;

/**
 * Options of an `IPythonService`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IPythonService, type IPythonServiceOptions } from "./ipython.ts";
 * const options: IPythonServiceOptions = {
 *   kernel: "calibration",
 *   startupCode: "calibration_graph.reset()",
 *   taskTimeoutMs: 10 * 60_000,
 * };
 * const service = new IPythonService("calibration", options); // no kernel until the runtime starts it
 * assert.equal(service.kernelName, "calibration");
 * assert.equal(service.describe().kernel?.status, "dead");
 * ```
 */
export interface IPythonServiceOptions extends ServiceOptions {
  /** Kernelspec name: `kernels/<name>/kernel.json` in the repo, or an installed one (default `python3`). */
  kernel?: string;
  /** Python run after every kernel start and restart, before any task. */
  startupCode?: string;
  /** Accept the raw-code task type `ExecuteCode` (off by default: kernels run only generated code). */
  allowRawCode?: boolean;
  /** Deadline for the kernel to start and run its startup code (default 60 s). */
  startupTimeoutMs?: number;
}

/**
 * Timeout of a kernel task whose request and type set none: one hour. Code
 * that never returns (or a kernel that never answers) must not hold the
 * service's queue for ever; `taskTimeoutMs` changes it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_KERNEL_TASK_TIMEOUT_MS, IPythonService } from "./ipython.ts";
 * assert.equal(new IPythonService("lab").taskTimeoutMs, DEFAULT_KERNEL_TASK_TIMEOUT_MS);
 * assert.equal(new IPythonService("lab", { taskTimeoutMs: 5_000 }).taskTimeoutMs, 5_000);
 * ```
 */
export const DEFAULT_KERNEL_TASK_TIMEOUT_MS = 60 * 60 * 1_000;

/**
 * A service that runs the `code` of every code-generating task type
 * (`defineIPythonTask`) on its own Jupyter kernel, one execution at a time,
 * whatever the type's `parallel` flag says. Other task types can still be
 * registered with `registerHandler`.
 *
 * The outcome's `result` is the value of the code's last expression (as JSON
 * when it has a JSON form, else its `text/plain`), and `execution` carries
 * the code that ran, stdout, stderr, rich outputs, the result's whole MIME
 * bundle and the execution count; a task cut short (timeout, cancel, kernel
 * death) keeps what it printed and displayed until then. Tasks time out
 * after `taskTimeoutMs` unless their request or type says otherwise
 * (default {@link DEFAULT_KERNEL_TASK_TIMEOUT_MS}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineIPythonTask, IPythonService, py, Runtime } from "../mod.ts";
 * const MaintainNode = defineIPythonTask("MaintainNode", {
 *   schema: z.object({ nodeId: z.string() }),
 *   code: ({ nodeId }) => py`calibration_graph.nodes[${nodeId}].maintain()`,
 * });
 * // kernels/calibration/kernel.json, found under the repo root.
 * const runtime = await Runtime.start({
 *   services: [new IPythonService("calibration", { kernel: "calibration" })],
 * });
 * try {
 *   const client = runtime.client();
 *   const { outcome } = await client.request("calibration", MaintainNode.create({ nodeId: "q0_rabi" }));
 *   const ended = await outcome;
 *   assert.equal(ended.status, "ok");
 *   assert.equal((ended.result as { state_after: string }).state_after, "good");
 *   assert.match(ended.execution?.code ?? "", /nodes\["q0_rabi"\]/); // what ran, for the record
 * } finally {
 *   await runtime.stop();
 * }
 * ```
 */
export class IPythonService extends Service {
  /** The kernelspec its kernel is started from. */
  readonly kernelName: string;
  readonly #options: IPythonServiceOptions;
  #kernel: Kernel | undefined;
  #unwatch: (() => void) | undefined;
  /** What the runtime gave `start`: the Jupyter Server to ask for again once it is gone. */
  #env: ServiceEnvironment | undefined;
  /** The server `#kernel` runs on. */
  #server: JupyterServer | undefined;
  /** A new server and kernel on the way, after the server was lost. */
  #replacing: Promise<Kernel> | undefined;
  /** The last replacement failed: tasks until `until` fail with its error, not a new try each. */
  #replaceFailure: { error: unknown; until: number } | undefined;

  /** Create the service; its kernel starts when the runtime starts the service. */
  constructor(name: string, options: IPythonServiceOptions = {}) {
    super(name, {
      ...options,
      taskTimeoutMs: options.taskTimeoutMs ?? DEFAULT_KERNEL_TASK_TIMEOUT_MS,
    });
    this.kernelName = options.kernel ?? "python3";
    // Checked here, when the config is read, not when the runtime starts the kernel.
    checkKernelStartOptions({ name: this.kernelName, startupTimeoutMs: options.startupTimeoutMs });
    this.#options = options;
  }

  /** The kernel, once started. */
  get kernel(): Kernel | undefined {
    return this.#kernel;
  }

  /** Start the kernel (and the runtime's Jupyter Server, if this is the first kernel). */
  override async start(env: ServiceEnvironment): Promise<void> {
    this.#env = env;
    await this.#startKernel();
  }

  /** Shut the kernel down through the server's REST API. */
  override async stop(): Promise<void> {
    const kernel = this.#kernel;
    this.#env = undefined;
    this.#kernel = undefined;
    this.#unwatch?.();
    await kernel?.shutdown();
    // A replacement under way shuts its kernel down itself (`#startKernel` sees no env).
    await this.#replacing?.catch(() => {});
  }

  /** Start a kernel on the runtime's Jupyter Server (a new server if the last one is gone). */
  async #startKernel(): Promise<Kernel> {
    const env = this.#env;
    if (!env) throw new Error(`service '${this.name}' is stopped`);
    const server = await env.jupyter();
    const kernel = await server.startKernel({
      name: this.kernelName,
      startupCode: this.#options.startupCode,
      startupTimeoutMs: this.#options.startupTimeoutMs,
    });
    if (this.#env !== env) {
      await kernel.shutdown();
      throw new Error(`service '${this.name}' stopped while its kernel started`);
    }
    this.#unwatch?.();
    this.#server = server;
    this.#kernel = kernel;
    this.#unwatch = kernel.onStatus((status) => {
      env.changed();
      // Its server is gone (killed from outside): a new one, at once, not at the next task.
      if (status === "dead" && this.#kernel === kernel && server.gone) {
        this.#usableKernel().catch(() => {});
      }
    });
    env.changed();
    return kernel;
  }

  /**
   * The kernel to run code on. A kernel that died is restarted by its
   * server; a kernel whose server is gone is replaced, with a new server.
   */
  #usableKernel(): Promise<Kernel> {
    const kernel = this.#kernel;
    if (!kernel) {
      return Promise.reject(new Error(`service '${this.name}' has no kernel: it is not started`));
    }
    const gone = this.#server?.gone;
    if (!gone) return Promise.resolve(kernel);
    const failure = this.#replaceFailure;
    if (failure && Date.now() < failure.until) return Promise.reject(failure.error);
    return this.#replacing ??= this.#replace(gone).finally(() => this.#replacing = undefined);
  }

  async #replace(gone: Error): Promise<Kernel> {
    console.error(`[zest] service '${this.name}': ${gone.message}; starting a new kernel`);
    const lost = this.#kernel;
    try {
      const kernel = await this.#startKernel();
      this.#replaceFailure = undefined;
      return kernel;
    } catch (error) {
      this.#replaceFailure = { error, until: Date.now() + REPLACE_RETRY_MS };
      console.error(`[zest] service '${this.name}': no new kernel:`, (error as Error).message);
      throw error;
    } finally {
      // Releases what the lost kernel's object holds; its process went with the server.
      if (lost && lost !== this.#kernel) await lost.shutdown().catch(() => {});
    }
  }

  /** Registered types first, then every code-generating type (and `ExecuteCode` if allowed). */
  override resolve(typeName: string): TaskType | undefined {
    const registered = super.resolve(typeName);
    if (registered) return registered;
    if (typeName === ExecuteCode.name) return this.#options.allowRawCode ? ExecuteCode : undefined;
    return findCodeTaskType(typeName);
  }

  /** Registered types and every code-generating type known to this process. */
  override taskTypes(): TaskTypeInfo[] {
    const types = [...super.taskTypes(), ...codeTaskTypeList().map((type) => type.describe())];
    if (this.#options.allowRawCode) types.push(ExecuteCode.describe());
    return types;
  }

  /** As `Service.describe`, with the kernel's name and status. */
  override describe(): ServiceDescription {
    const kernel = this.#kernel;
    return {
      kind: "ipython",
      taskTypes: this.taskTypes(),
      kernel: { name: this.kernelName, status: kernel?.status ?? "dead", id: kernel?.id },
    };
  }

  /**
   * Code-generating types run on the kernel; registered handlers run as in any service.
   *
   * @internal the runtime's hook, not part of the public API.
   */
  override handle(run: TaskRun): Promise<void> | void {
    if (run.type instanceof CodeTaskType && !super.resolve(run.type.name)) {
      return this.#runCode(run);
    }
    return super.handle(run);
  }

  async #runCode(run: TaskRun): Promise<void> {
    let started = false;
    const markStarted = () => {
      if (started) return;
      started = true;
      run.replyTo.tell({ kind: "started", id: run.id });
    };
    let code = "";
    let partial: ExecutionReply | undefined;
    let outcome: TaskOutcome;
    // What the code prints and displays reaches watchers while it runs.
    const relay = new OutputRelay(run.id, run.replyTo);
    try {
      code = (run.type as CodeTaskType).generate(run.fields);
      const kernel = await this.#usableKernel();
      const reply = await kernel.execute(code, {
        signal: run.control.signal,
        onStart: markStarted,
        onCutShort: (cut, stopped) => {
          partial = cut;
          // Said where the next tasks' authors look: theirs now run on a fresh kernel.
          if (stopped === "restarted") {
            taskLogger(run).warn(
              "the code did not stop on an interrupt: the kernel was restarted, and its state " +
                "(variables, imports) was lost",
            );
          }
        },
        onOutput: (output) => relay.add(output),
      });
      outcome = replyOutcome(run.id, code, reply);
    } catch (error) {
      outcome = cutShortOutcome(run.id, code, error, partial, run.control.signal.reason);
    } finally {
      relay.close();
    }
    // A task that never reached the kernel (died while queued) still starts before it ends.
    markStarted();
    report(run, outcome);
  }
}

/** What ran and what it produced, as the outcome carries it. */
function executionOf(code: string, reply?: ExecutionReply): Execution {
  if (!reply) return { code, executionCount: null, stdout: "", stderr: "", displays: [] };
  const execution: Execution = {
    code,
    executionCount: reply.executionCount,
    stdout: reply.stdout,
    stderr: reply.stderr,
    displays: reply.displays,
  };
  if (reply.executeResult) execution.executeResult = reply.executeResult;
  return execution;
}

/** Turn a kernel's reply into the task's outcome. */
function replyOutcome(id: string, code: string, reply: ExecutionReply): TaskOutcome {
  const execution = executionOf(code, reply);
  if (reply.status === "ok") {
    return { status: "ok", id, result: reply.value ?? reply.text ?? null, execution };
  }
  const error: ErrorOutcome = {
    status: "error",
    id,
    ename: reply.ename ?? "Error",
    evalue: reply.evalue ?? "",
    traceback: reply.traceback ?? "",
    execution,
  };
  return error;
}

/**
 * The outcome of code that could not run to its end: the error that stopped
 * it (`TimeoutError` from the task's timeout, `KernelDiedError`…), with what
 * the code printed and displayed until then and, when the kernel reported
 * one, the kernel's own traceback (where an interrupt stopped the code).
 * The runtime's own reasons — why the task was stopped (`stopReason`), the
 * kernel layer's errors — get no other traceback: the runtime's JavaScript
 * stack says nothing to whoever wrote the Python.
 */
function cutShortOutcome(
  id: string,
  code: string,
  error: unknown,
  partial: ExecutionReply | undefined,
  stopReason: unknown,
): ErrorOutcome {
  const outcome = outcomeFromError(id, error);
  const ours = error instanceof KernelError || (error !== undefined && error === stopReason);
  if (ours) outcome.traceback = partial?.traceback ?? "";
  else if (partial?.traceback) outcome.traceback = partial.traceback;
  outcome.execution = executionOf(code, partial);
  return outcome;
}

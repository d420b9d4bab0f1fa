/** The `Kernel` interface: what services need from a Python kernel. */
import type { DisplayOutput } from "../task/outcome.ts";
import type { TaskOutput } from "../task/protocol.ts";

/**
 * A kernel's state as callers see it. `restarting` covers the whole
 * recovery after a death or restart, until the bootstrap and startup code
 * ran again; `dead` means the kernel is shut down or could not be revived.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { KernelStatus } from "./kernel.ts";
 * const ready = (status: KernelStatus) => status === "idle";
 * assert.equal(ready("restarting"), false);
 * ```
 */
export type KernelStatus = "starting" | "idle" | "busy" | "restarting" | "dead" | "unknown";

/**
 * A JSON value, as decoded from a kernel's `application/json` output.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { JsonValue } from "./kernel.ts";
 * const value: JsonValue = { qubits: ["q0", "q1"], ok: true };
 * assert.deepEqual(JSON.parse(JSON.stringify(value)), value);
 * ```
 */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * What one execution produced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExecutionReply } from "./kernel.ts";
 * const describe = (r: ExecutionReply) =>
 *   r.status === "ok" ? JSON.stringify(r.value ?? r.text) : `${r.ename}: ${r.evalue}`;
 * const failed: ExecutionReply = {
 *   status: "error",
 *   executionCount: 3,
 *   stdout: "",
 *   stderr: "",
 *   displays: [],
 *   ename: "ZeroDivisionError",
 *   evalue: "division by zero",
 *   traceback: "…",
 * };
 * assert.equal(describe(failed), "ZeroDivisionError: division by zero");
 * ```
 */
export interface ExecutionReply {
  /** `"error"` when the code raised (the reply then has `ename`, `evalue`, `traceback`). */
  status: "ok" | "error";
  /** The kernel's execution counter for this request, when it gave one. */
  executionCount: number | null;
  /**
   * The last expression's value as JSON, when it had a JSON form
   * (`application/json`); `undefined` when there was no value or none JSON-able.
   */
  value?: JsonValue;
  /** The last expression's `text/plain` representation, if any. */
  text?: string;
  /**
   * The last expression's whole `execute_result` bundle (`text/plain`,
   * `image/png`, `text/html`, `application/json`…), when it had a value.
   */
  executeResult?: DisplayOutput;
  /** Everything printed to stdout, in order. */
  stdout: string;
  /** Everything printed to stderr, in order. */
  stderr: string;
  /** The `display()` outputs, in order; an update replaces the display it names. */
  displays: DisplayOutput[];
  /** The Python exception's class name; set when `status` is `"error"`. */
  ename?: string;
  /** The Python exception's message; set when `status` is `"error"`. */
  evalue?: string;
  /** The traceback lines joined by newlines, ANSI escape codes removed. */
  traceback?: string;
}

/**
 * Options of one execution.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ExecuteOptions } from "./kernel.ts";
 * const caller = new AbortController();
 * const options: ExecuteOptions = { timeoutMs: 30_000, signal: caller.signal };
 * assert.equal(options.signal?.aborted, false);
 * ```
 */
export interface ExecuteOptions {
  /** Aborting interrupts the kernel and rejects with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Longest run, counted from when the kernel starts this code (not from
   * the call: queued time does not count). Unlimited when omitted.
   */
  timeoutMs?: number;
  /** Called once, when the kernel starts running this code. */
  onStart?: () => void;
  /**
   * Called once, just before `execute` rejects, when the code was sent to
   * the kernel but could not run to its end or its outputs were lost
   * (timeout, abort, kernel death, an output over the message limit,
   * shutdown), with what it printed and displayed until then. When the kernel
   * reported an error (the `KeyboardInterrupt` an interrupt raises), the
   * partial reply has `status: "error"` and that error's traceback.
   * `stopped` says how the code was stopped when the timeout or the signal
   * stopped it: interrupted, or — code that ignores the interrupt —
   * restarted with the kernel, its state lost.
   */
  onCutShort?: (partial: ExecutionReply, stopped?: "interrupted" | "restarted") => void;
  /**
   * Called with each output as the kernel sends it (text written to stdout
   * or stderr, a display, a clear), so a watcher sees a long run grow;
   * everything is also in the reply at the end.
   */
  onOutput?: (output: TaskOutput) => void;
}

/**
 * A Python kernel that runs one execution at a time, in call order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Kernel } from "./kernel.ts";
 * import { JupyterServer } from "./server.ts";
 * async function answer(kernel: Kernel) {
 *   const reply = await kernel.execute("6 * 7", { timeoutMs: 10_000 });
 *   return reply.value;
 * }
 * await using server = await JupyterServer.launch();
 * assert.equal(await answer(await server.startKernel({ name: "python3" })), 42);
 * ```
 */
export interface Kernel {
  /** Server-side kernel id; stays the same across restarts. */
  readonly id: string;
  /** Kernelspec name. */
  readonly name: string;
  /** The kernel's state now; see {@link KernelStatus}. */
  readonly status: KernelStatus;
  /** Listen to status changes; returns the function that stops listening. */
  onStatus(listener: (status: KernelStatus) => void): () => void;
  /**
   * Run `code` after every execution requested before it. Resolves with the
   * outcome, Python errors included (`status: "error"`); rejects when the
   * code could not run to its end (timeout, abort, kernel death, shutdown)
   * or its outputs were lost (`KernelOutputLostError`).
   */
  execute(code: string, options?: ExecuteOptions): Promise<ExecutionReply>;
  /** Interrupt whatever the kernel runs now (like Ctrl-C). */
  interrupt(): Promise<void>;
  /** Restart the kernel; state is lost, startup code runs again. */
  restart(): Promise<void>;
  /** Stop the kernel for good; pending executions reject. */
  shutdown(): Promise<void>;
}

/**
 * What the task manager sends a service, and what the service reports back.
 * Both sides import this; neither imports the other.
 */
import type { TaskType, TaskTypeInfo } from "./define.ts";
import type { TaskOutcome } from "./outcome.ts";
import type { DisplayOutput } from "./outcome.ts";
import type { TaskLogEntry, TaskProgress } from "./record.ts";

/**
 * What a running task produced so far, reported while it runs (a kernel
 * task's stdout, stderr and displays), so watchers see it grow. `clear` is
 * IPython's `clear_output`: what was shown so far goes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskOutput } from "./protocol.ts";
 * let shown = "";
 * const show = (output: TaskOutput) => {
 *   if (output.kind === "stream") shown += output.text;
 *   else if (output.kind === "clear") shown = "";
 * };
 * show({ kind: "stream", name: "stdout", text: "scan 1\n" });
 * show({ kind: "clear" });
 * show({ kind: "stream", name: "stdout", text: "scan 2\n" });
 * assert.equal(shown, "scan 2\n");
 * ```
 */
export type TaskOutput =
  | { kind: "stream"; name: "stdout" | "stderr"; text: string }
  | { kind: "display"; display: DisplayOutput }
  | { kind: "clear" };

/**
 * A service's report about one task.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskReport } from "./protocol.ts";
 * const ended = (report: TaskReport) => report.kind === "finished";
 * assert.equal(ended({ kind: "started", id: "7d0e…" }), false);
 * ```
 */
export type TaskReport =
  | { kind: "started"; id: string }
  | { kind: "finished"; id: string; outcome: TaskOutcome }
  | { kind: "log"; id: string; entry: TaskLogEntry }
  | { kind: "progress"; id: string; progress: TaskProgress }
  | { kind: "output"; id: string; output: TaskOutput };

/**
 * Where reports go (the manager's actor ref, or a transport's stand-in).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReportSink, TaskReport } from "./protocol.ts";
 * const reports: TaskReport[] = [];
 * const sink: ReportSink = { tell: (report) => reports.push(report) > 0 };
 * sink.tell({ kind: "started", id: "7d0e…" });
 * assert.equal(reports.length, 1);
 * ```
 */
export interface ReportSink {
  /** Deliver `report`; false if it could not be (the receiver is gone). */
  tell(report: TaskReport): boolean;
}

/**
 * Abort control shared by the manager and the running handler. The
 * `AbortController` is made only when a handler reads `signal`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TaskControl } from "./protocol.ts";
 * const control = new TaskControl();
 * control.abort(new Error("cancelled"));
 * control.abort(new Error("timed out")); // the first reason wins
 * assert.equal(control.aborted, true);
 * // The signal, made after the abort, is aborted all the same.
 * assert.equal(control.signal.aborted, true);
 * assert.equal((control.signal.reason as Error).message, "cancelled");
 * ```
 */
export class TaskControl {
  #controller: AbortController | undefined;
  #reason: unknown;
  #aborted = false;

  /** Aborted on timeout, cancel, or service stop. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether the task was told to stop. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Tell the handler to stop; the first reason wins. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * One attempt of a task, as the service receives it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask } from "./define.ts";
 * import { TaskControl, type TaskReport, type TaskRun } from "./protocol.ts";
 * const Ping = defineTask("Ping", { schema: z.object({}), parallel: true });
 * const reports: TaskReport[] = [];
 * const run: TaskRun = {
 *   id: "7d0e…",
 *   type: Ping,
 *   fields: {},
 *   attributes: {},
 *   attempt: 1,
 *   control: new TaskControl(),
 *   replyTo: { tell: (report) => reports.push(report) > 0 },
 * };
 * run.replyTo.tell({ kind: "finished", id: run.id, outcome: { status: "ok", id: run.id, result: "pong" } });
 * assert.equal(reports[0].kind, "finished");
 * ```
 */
export interface TaskRun {
  /** The task's id. */
  readonly id: string;
  /** Its type, which validated `fields`. */
  readonly type: TaskType;
  /** Validated fields. */
  readonly fields: unknown;
  /** The client's free-form metadata. */
  readonly attributes: Record<string, unknown>;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /** Aborts the attempt (timeout, cancel, stop); the handler's `signal`. */
  readonly control: TaskControl;
  /** Where the service reports on this attempt. */
  readonly replyTo: ReportSink;
}

/**
 * What a service tells the manager about itself, for listings (`zest
 * services`, the dashboard). A subclass of `Service` may add to it by
 * overriding `describe()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ServiceDescription } from "./protocol.ts";
 * const description: ServiceDescription = {
 *   kind: "ipython",
 *   taskTypes: [],
 *   kernel: { name: "calibration", status: "idle" },
 * };
 * assert.equal(description.kernel?.status, "idle");
 * ```
 */
export interface ServiceDescription {
  /** `"service"` or `"ipython"`. */
  kind: string;
  /** The task types it handles, with their JSON Schemas. */
  taskTypes: TaskTypeInfo[];
  /** Kernel facts, for IPython services. */
  kernel?: { name: string; status: string; id?: string };
}

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
 * task's stdout, stderr and displays), so watchers see it grow.
 */
export type TaskOutput =
  | { kind: "stream"; name: "stdout" | "stderr"; text: string }
  | { kind: "display"; display: DisplayOutput }
  | { kind: "clear" };

/** A service's report about one task. */
export type TaskReport =
  | { kind: "started"; id: string }
  | { kind: "finished"; id: string; outcome: TaskOutcome }
  | { kind: "log"; id: string; entry: TaskLogEntry }
  | { kind: "progress"; id: string; progress: TaskProgress }
  | { kind: "output"; id: string; output: TaskOutput };

/** Where reports go (the manager's actor ref, or a transport's stand-in). */
export interface ReportSink {
  tell(report: TaskReport): boolean;
}

/**
 * Abort control shared by the manager and the running handler. The
 * `AbortController` is made only when a handler reads `signal`.
 *
 * @example
 * ```ts
 * import { TaskControl } from "./protocol.ts";
 * const control = new TaskControl();
 * control.abort(new Error("cancelled"));
 * control.signal.aborted; // true, even though the signal was made after the abort
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

/** One attempt of a task, as the service receives it. */
export interface TaskRun {
  readonly id: string;
  readonly type: TaskType;
  /** Validated fields. */
  readonly fields: unknown;
  readonly attributes: Record<string, unknown>;
  /** 1 for the first attempt. */
  readonly attempt: number;
  readonly control: TaskControl;
  readonly replyTo: ReportSink;
}

/** What a service tells the manager about itself, for listings (`zest services`, the dashboard). */
export interface ServiceDescription {
  /** `"service"` or `"ipython"`. */
  kind: string;
  taskTypes: TaskTypeInfo[];
  /** Kernel facts, for IPython services. */
  kernel?: { name: string; status: string; id?: string };
}

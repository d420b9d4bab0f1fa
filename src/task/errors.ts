/** Errors of the task layer, and the error names that outcomes carry. */
import type { ErrorOutcome } from "./outcome.ts";

/** One reason a payload was refused: which field, and why. */
export interface FieldIssue {
  /** Dotted path of the field (`"items[2].name"`), or `""` for the payload itself. */
  path: string;
  /** Why the value was refused. */
  message: string;
}

/**
 * Fields that fail a task type's schema. The message names every bad field
 * and the reason.
 *
 * @example
 * ```ts
 * import { TaskValidationError } from "./errors.ts";
 * const error = new TaskValidationError("Greeting", [{ path: "name", message: "expected string" }]);
 * error.message; // "invalid Greeting: name: expected string"
 * ```
 */
export class TaskValidationError extends Error {
  override name = "TaskValidationError";
  /** Create the error for task type `taskType`. */
  constructor(readonly taskType: string, readonly issues: FieldIssue[]) {
    super(
      `invalid ${taskType}: ` +
        issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; "),
    );
  }
}

/**
 * Thrown by `client.execute` when a task ends in an error outcome. Keeps the
 * outcome's `ename`, `evalue` and `traceback` (for a kernel error, the
 * kernel's own).
 *
 * @example
 * ```ts
 * import { TaskExecutionError } from "./errors.ts";
 * const error = new TaskExecutionError({
 *   status: "error", id: "7d0e…", ename: "ZeroDivisionError", evalue: "division by zero", traceback: "",
 * });
 * error.message; // "ZeroDivisionError: division by zero"
 * ```
 */
export class TaskExecutionError extends Error {
  override name = "TaskExecutionError";
  /** The task's id. */
  readonly taskId: string;
  /** Name of the error the task ended with (e.g. `ZeroDivisionError`, `TimeoutError`). */
  readonly ename: string;
  /** Its message. */
  readonly evalue: string;
  /** Its traceback, without ANSI colour codes. */
  readonly traceback: string;

  /** Wrap an error outcome. */
  constructor(readonly outcome: ErrorOutcome) {
    super(`${outcome.ename}: ${outcome.evalue}`);
    this.taskId = outcome.id;
    this.ename = outcome.ename;
    this.evalue = outcome.evalue;
    this.traceback = outcome.traceback;
  }
}

/**
 * The `ename` of outcomes produced by the runtime itself (as opposed to an
 * error thrown by a handler or raised in a kernel).
 *
 * @example
 * ```ts
 * import { RuntimeErrorName } from "./errors.ts";
 * RuntimeErrorName.UnknownService; // "UnknownServiceError"
 * ```
 */
export const RuntimeErrorName = {
  /** The payload failed the task type's schema. */
  Validation: "TaskValidationError",
  /** No service has that name. */
  UnknownService: "UnknownServiceError",
  /** The service has no handler for that task type. */
  UnknownTaskType: "UnknownTaskTypeError",
  /** The service stopped before the task finished. */
  ServiceStopped: "ServiceStoppedError",
  /** The runtime is shutting down and takes no new tasks. */
  RuntimeStopping: "RuntimeStoppingError",
  /** The task ran longer than its timeout. */
  Timeout: "TimeoutError",
  /** The task was cancelled. */
  Cancelled: "CancelledError",
  /** The service's queue is full (backpressure). */
  QueueFull: "QueueFullError",
} as const;

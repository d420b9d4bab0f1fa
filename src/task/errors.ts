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
 * No service has the name a task was sent to: a refusal (HTTP 404), no task
 * made. A recovered task whose service is no longer in the config ends with
 * this `ename`.
 *
 * @example
 * ```ts
 * import { UnknownServiceError } from "./errors.ts";
 * new UnknownServiceError("no service named 'nope' (services: lab)").name; // "UnknownServiceError"
 * ```
 */
export class UnknownServiceError extends Error {
  override name = "UnknownServiceError";
}

/**
 * The service has no handler for the task's type (HTTP 404).
 *
 * @example
 * ```ts
 * import { UnknownTaskTypeError } from "./errors.ts";
 * throw new UnknownTaskTypeError("service 'lab' has no task type 'Nope' (it handles: Sum)");
 * ```
 */
export class UnknownTaskTypeError extends Error {
  override name = "UnknownTaskTypeError";
}

/**
 * Backpressure: a service's queue (or the runtime's mailbox) is full; no task
 * was made. Try again later (HTTP 429).
 *
 * @example
 * ```ts
 * import { QueueFullError } from "./errors.ts";
 * const error = new QueueFullError("service 'lab' has 100000 serial tasks waiting (limit 100000)");
 * error instanceof QueueFullError; // true
 * ```
 */
export class QueueFullError extends Error {
  override name = "QueueFullError";
}

/**
 * The service the task was sent to has stopped (HTTP 503).
 *
 * @example
 * ```ts
 * import { ServiceStoppedError } from "./errors.ts";
 * throw new ServiceStoppedError("service 'lab' is stopped");
 * ```
 */
export class ServiceStoppedError extends Error {
  override name = "ServiceStoppedError";
}

/**
 * The runtime is stopping, or has stopped, and takes no new tasks (HTTP 503).
 *
 * @example
 * ```ts
 * import { RuntimeStoppingError } from "./errors.ts";
 * throw new RuntimeStoppingError("the runtime is stopping: it takes no new tasks");
 * ```
 */
export class RuntimeStoppingError extends Error {
  override name = "RuntimeStoppingError";
}

/**
 * No task has this id (unknown, or past its retention): for `after`,
 * `rerun`, `delete` and `graph` (HTTP 404).
 *
 * @example
 * ```ts
 * import { UnknownTaskError } from "./errors.ts";
 * throw new UnknownTaskError("no task with id '3b0c…' (unknown, or past its retention)");
 * ```
 */
export class UnknownTaskError extends Error {
  override name = "UnknownTaskError";
}

/**
 * The request conflicts with a task that exists (HTTP 409): an idempotency
 * key reused with other fields, or a task deleted while it has not ended.
 *
 * @example
 * ```ts
 * import { TaskConflictError } from "./errors.ts";
 * throw new TaskConflictError("task 3b0c… is running: cancel it first, or wait for it to end");
 * ```
 */
export class TaskConflictError extends Error {
  override name = "TaskConflictError";
}

/** The refusals a client can get instead of a task id, by `name`. */
const REFUSALS = {
  UnknownServiceError,
  UnknownTaskTypeError,
  UnknownTaskError,
  TaskConflictError,
  QueueFullError,
  ServiceStoppedError,
  RuntimeStoppingError,
} as const;

/**
 * Whether `error` is one of the runtime's refusals of a submission: a
 * `TaskValidationError`, `UnknownServiceError`, `UnknownTaskTypeError`,
 * `QueueFullError`, `ServiceStoppedError` or `RuntimeStoppingError`.
 *
 * @example
 * ```ts
 * import { isRefusal, QueueFullError } from "./errors.ts";
 * isRefusal(new QueueFullError("full")); // true
 * isRefusal(new Error("boom")); // false
 * ```
 */
export function isRefusal(error: unknown): error is Error {
  return error instanceof TaskValidationError ||
    Object.values(REFUSALS).some((refusal) => error instanceof refusal);
}

/**
 * The typed refusal named `name` (as a server reports it), or an `Error`
 * with that `name` for any other.
 *
 * @example
 * ```ts
 * import { refusal } from "./errors.ts";
 * refusal("QueueFullError", "service 'lab' is full").name; // "QueueFullError"
 * refusal("TaskValidationError", "invalid Sum: b: expected number", [{ path: "b", message: "expected number" }], "Sum");
 * ```
 */
export function refusal(
  name: string | undefined,
  message: string,
  issues: FieldIssue[] = [],
  taskType = "task",
): Error {
  if (name === "TaskValidationError") {
    const error = new TaskValidationError(taskType, issues);
    error.message = message;
    return error;
  }
  if (name !== undefined && Object.hasOwn(REFUSALS, name)) {
    return new REFUSALS[name as keyof typeof REFUSALS](message);
  }
  // A name this layer has no class for (GraphError, ScheduleError): keep it all the same.
  const error = new Error(message);
  if (name !== undefined && /^[A-Za-z_]\w{0,99}$/.test(name)) error.name = name;
  return error;
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
  /** The handler's result is over the record's limits (too large, too deep, or unreadable). */
  ResultTooLarge: "ResultTooLargeError",
  /** The task was running when its runtime stopped or died (and its type does not requeue). */
  Interrupted: "InterruptedError",
  /** A task it depended on failed, was cancelled or expired. */
  DependencyFailed: "DependencyFailedError",
  /** It was still queued, or waiting for its dependencies, at its deadline. */
  Expired: "ExpiredError",
} as const;

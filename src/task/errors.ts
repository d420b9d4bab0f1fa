/** Errors of the task layer, and the error names that outcomes carry. */
import type { ErrorOutcome } from "./outcome.ts";

/**
 * One reason a payload was refused: which field, and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type FieldIssue, TaskValidationError } from "./errors.ts";
 * const issue: FieldIssue = { path: "items[2].name", message: "expected string" };
 * assert.equal(new TaskValidationError("Order", [issue]).message, "invalid Order: items[2].name: expected string");
 * ```
 */
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
 * import assert from "node:assert/strict";
 * import { TaskValidationError } from "./errors.ts";
 * const error = new TaskValidationError("Greeting", [{ path: "name", message: "expected string" }]);
 * assert.equal(error.message, "invalid Greeting: name: expected string");
 * assert.deepEqual(error.issues.map((issue) => issue.path), ["name"]);
 * ```
 */
export class TaskValidationError extends Error {
  /** Always `"TaskValidationError"`, whatever a bundler does to class names. */
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
 * import assert from "node:assert/strict";
 * import { UnknownServiceError } from "./errors.ts";
 * const error = new UnknownServiceError("no service named 'nope' (services: lab)");
 * assert.equal(error.name, "UnknownServiceError");
 * ```
 */
export class UnknownServiceError extends Error {
  /** Always `"UnknownServiceError"`, whatever a bundler does to class names. */
  override name = "UnknownServiceError";
}

/**
 * The service has no handler for the task's type (HTTP 404).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownTaskTypeError } from "./errors.ts";
 * assert.throws(() => {
 *   throw new UnknownTaskTypeError("service 'lab' has no task type 'Nope' (it handles: Sum)");
 * }, { name: "UnknownTaskTypeError", message: /no task type 'Nope'/ });
 * ```
 */
export class UnknownTaskTypeError extends Error {
  /** Always `"UnknownTaskTypeError"`, whatever a bundler does to class names. */
  override name = "UnknownTaskTypeError";
}

/**
 * Backpressure: a service's queue (or the runtime's mailbox) is full; no task
 * was made. Try again later (HTTP 429).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { QueueFullError } from "./errors.ts";
 * const error = new QueueFullError("service 'lab' has 100000 serial tasks waiting (limit 100000)");
 * assert.ok(error instanceof QueueFullError);
 * assert.equal(error.name, "QueueFullError");
 * ```
 */
export class QueueFullError extends Error {
  /** Always `"QueueFullError"`, whatever a bundler does to class names. */
  override name = "QueueFullError";
}

/**
 * The service the task was sent to has stopped (HTTP 503).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServiceStoppedError } from "./errors.ts";
 * assert.equal(new ServiceStoppedError("service 'lab' is stopped").name, "ServiceStoppedError");
 * ```
 */
export class ServiceStoppedError extends Error {
  /** Always `"ServiceStoppedError"`, whatever a bundler does to class names. */
  override name = "ServiceStoppedError";
}

/**
 * The runtime is stopping, or has stopped, and takes no new tasks (HTTP 503).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RuntimeStoppingError } from "./errors.ts";
 * const error = new RuntimeStoppingError("the runtime is stopping: it takes no new tasks");
 * assert.equal(error.name, "RuntimeStoppingError");
 * ```
 */
export class RuntimeStoppingError extends Error {
  /** Always `"RuntimeStoppingError"`, whatever a bundler does to class names. */
  override name = "RuntimeStoppingError";
}

/**
 * No task has this id (unknown, or past its retention): for `after`,
 * `rerun`, `delete` and `graph` (HTTP 404).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnknownTaskError } from "./errors.ts";
 * const error = new UnknownTaskError("no task with id '3b0c…' (unknown, or past its retention)");
 * assert.equal(error.name, "UnknownTaskError");
 * ```
 */
export class UnknownTaskError extends Error {
  /** Always `"UnknownTaskError"`, whatever a bundler does to class names. */
  override name = "UnknownTaskError";
}

/**
 * The request conflicts with a task that exists (HTTP 409): an idempotency
 * key reused with other fields, or a task deleted while it has not ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TaskConflictError } from "./errors.ts";
 * const error = new TaskConflictError("task 3b0c… is running: cancel it first, or wait for it to end");
 * assert.equal(error.name, "TaskConflictError");
 * ```
 */
export class TaskConflictError extends Error {
  /** Always `"TaskConflictError"`, whatever a bundler does to class names. */
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
 * `UnknownTaskError`, `TaskConflictError`, `QueueFullError`,
 * `ServiceStoppedError` or `RuntimeStoppingError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRefusal, QueueFullError } from "./errors.ts";
 * assert.equal(isRefusal(new QueueFullError("full")), true);
 * assert.equal(isRefusal(new Error("boom")), false);
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
 * import assert from "node:assert/strict";
 * import { QueueFullError, refusal, TaskValidationError } from "./errors.ts";
 * assert.ok(refusal("QueueFullError", "service 'lab' is full") instanceof QueueFullError);
 * const invalid = refusal("TaskValidationError", "invalid Sum: b: expected number", [
 *   { path: "b", message: "expected number" },
 * ], "Sum");
 * assert.ok(invalid instanceof TaskValidationError);
 * assert.equal(invalid.message, "invalid Sum: b: expected number");
 * // A name with no class here keeps its name all the same.
 * assert.equal(refusal("GraphError", "a cycle: a → b → a").name, "GraphError");
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
 * import assert from "node:assert/strict";
 * import { TaskExecutionError } from "./errors.ts";
 * const error = new TaskExecutionError({
 *   status: "error",
 *   id: "7d0e…",
 *   ename: "ZeroDivisionError",
 *   evalue: "division by zero",
 *   traceback: "",
 * });
 * assert.equal(error.message, "ZeroDivisionError: division by zero");
 * assert.equal(error.ename, "ZeroDivisionError");
 * assert.equal(error.taskId, "7d0e…");
 * ```
 */
export class TaskExecutionError extends Error {
  /** Always `"TaskExecutionError"`, whatever a bundler does to class names. */
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
 * import assert from "node:assert/strict";
 * import { RuntimeErrorName } from "./errors.ts";
 * import type { TaskOutcome } from "./outcome.ts";
 * const timedOut = (outcome: TaskOutcome) =>
 *   outcome.status === "error" && outcome.ename === RuntimeErrorName.Timeout;
 * assert.equal(RuntimeErrorName.UnknownService, "UnknownServiceError");
 * assert.equal(
 *   timedOut({ status: "error", id: "1", ename: "TimeoutError", evalue: "", traceback: "" }),
 *   true,
 * );
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

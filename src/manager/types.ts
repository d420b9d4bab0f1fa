/**
 * The manager's contracts: with the services below it (`ServiceEndpoint`),
 * and with whatever carries tasks to it from clients above
 * (`SubmitRequest`, `OutcomeSink`, `TaskEvent`). The transports of
 * `src/transport/` build their port on these.
 *
 * @module
 */
import type { ServiceDescription, TaskOutput, TaskRun } from "../task/protocol.ts";
import type { ScheduleInfo } from "./schedules.ts";
import type { Task, TaskType } from "../task/define.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskLogEntry, TaskProgress, TaskRecordSummary } from "../task/record.ts";

export type { TaskBrief, TaskRecordSummary } from "../task/record.ts";

/**
 * What the manager needs to know of a service.
 *
 * @example
 * ```ts
 * import type { ServiceEndpoint } from "./types.ts";
 * const idle: ServiceEndpoint = {
 *   name: "idle",
 *   ref: { tell: () => true, isAlive: true, name: "service:idle" },
 *   resolve: () => undefined,
 *   describe: () => ({ kind: "service", taskTypes: [] }),
 * };
 * ```
 */
export interface ServiceEndpoint {
  readonly name: string;
  /** Where runs are sent: the service's actor. */
  readonly ref: { tell(run: TaskRun): boolean; readonly isAlive: boolean; readonly name: string };
  /** The type named `typeName` if this service handles it. */
  resolve(typeName: string): TaskType | undefined;
  /** Static and live facts for listings (kernel status, …). */
  describe(): ServiceDescription;
  /**
   * Timeout of this service's tasks when neither the request nor the task
   * type sets one (kernel services set one: a lost reply must not hold the
   * kernel for ever). At most 2³¹−1 ms.
   */
  readonly taskTimeoutMs?: number;
}

/**
 * A serial lane held by a handler that did not return after its task was
 * ended (timeout, cancel): the instrument behind it may still be busy, so
 * the lane stays held until the handler returns or an operator releases it.
 */
export interface StuckTask {
  taskId: string;
  /** Since when (ms since the Unix epoch): the end of the grace period. */
  since: number;
}

/**
 * A service as clients see it.
 *
 * @example
 * ```ts
 * import type { ServiceInfo } from "./types.ts";
 * const busy = (service: ServiceInfo) => service.queued + service.running > 0;
 * ```
 */
export interface ServiceInfo extends ServiceDescription {
  name: string;
  state: "running" | "stopped" | "stuck";
  /** Serial tasks waiting. */
  queued: number;
  /** Tasks running now. */
  running: number;
  /** Set while the serial lane is held by a handler that ignored its end. */
  stuck?: StuckTask;
}

/**
 * A task as a client submits it. Every bound is checked by admission.
 *
 * @example
 * ```ts
 * import type { SubmitRequest } from "./types.ts";
 * const request: SubmitRequest = {
 *   service: "calibration",
 *   type: "MaintainNode",
 *   fields: { nodeId: "q0_rabi" },
 *   priority: 5,
 *   key: "nightly-q0",
 * };
 * ```
 */
export interface SubmitRequest {
  service: string;
  /** Task type name. */
  type: string;
  /** Unvalidated fields, or the fields of `task` when given. */
  fields: unknown;
  attributes?: Record<string, unknown>;
  /** Overrides the type's timeout (above 0, at most 2³¹−1 ms). */
  timeoutMs?: number;
  /** Serial tasks: higher runs first, FIFO within a priority (an integer, −1000 to 1000). */
  priority?: number;
  /**
   * Idempotency key: while the first task submitted with it is retained, the
   * same key with the same fields answers that task's id; with other fields
   * it is refused (`TaskConflictError`).
   */
  key?: string;
  /** Run only once these tasks have ended. */
  after?: readonly string[];
  /** If a task of `after` fails, is cancelled or expires: `"cancel"` this one (default) or `"run"` it. */
  onDependencyFailure?: "cancel" | "run";
  /** Still queued (or waiting) this long after submission: it ends `expired`. */
  expiresInMs?: number;
  /** An already-validated task, in-process only: skips a second validation. */
  task?: Task;
  /** The task whose handler submits this one. */
  parent?: string;
  /** The task this one re-runs. */
  rerunOf?: string;
  /** The schedule that submits it. */
  schedule?: string;
}

/**
 * Where the manager sends a submitted task's id and outcome.
 *
 * @example
 * ```ts
 * import type { OutcomeSink } from "./types.ts";
 * const sink: OutcomeSink = {
 *   accepted: (id) => console.log("queued as", id),
 *   settled: (outcome) => console.log(outcome.status),
 *   refused: (error) => console.error(error.name, error.message),
 * };
 * ```
 */
export interface OutcomeSink {
  /**
   * The task was given an id (called first, once, unless refused), once the
   * task is in the store: with a durable store, on disk.
   */
  accepted?(id: string): void;
  /** The task ended. */
  settled(outcome: TaskOutcome): void;
  /**
   * The task was not accepted, and has no id: a typed error says why
   * (`TaskValidationError`, `UnknownServiceError`, `UnknownTaskTypeError`,
   * `UnknownTaskError`, `TaskConflictError`, `QueueFullError`,
   * `RuntimeStoppingError`, `ServiceStoppedError`); or, for `wait`, the id
   * is unknown.
   */
  refused(error: Error): void;
}

/**
 * A graph of tasks submitted at once, by names of the caller's choosing:
 * `after` names other tasks of the graph (or ids of tasks that exist).
 *
 * @example
 * ```ts
 * import type { GraphRequest } from "./types.ts";
 * const graph: GraphRequest = {
 *   resonator: { service: "calibration", type: "MaintainNode", fields: { nodeId: "q0_res" } },
 *   rabi: { service: "calibration", type: "MaintainNode", fields: { nodeId: "q0_rabi" }, after: ["resonator"] },
 * };
 * ```
 */
export type GraphRequest = Record<string, Omit<SubmitRequest, "task" | "parent" | "schedule">>;

/**
 * A change, for watchers and the dashboard: a task's state (a summary of
 * its record), a line of its log, its progress, output it produced while
 * running, or a service's state.
 *
 * @example
 * ```ts
 * import type { TaskEvent } from "./types.ts";
 * function describe(event: TaskEvent): string {
 *   return event.kind === "task" ? `${event.record.id} ${event.record.state}` : event.kind;
 * }
 * ```
 */
export type TaskEvent =
  | { kind: "task"; record: TaskRecordSummary }
  | { kind: "log"; id: string; entry: TaskLogEntry }
  | { kind: "progress"; id: string; progress: TaskProgress }
  | { kind: "output"; id: string; output: TaskOutput }
  | { kind: "service"; service: ServiceInfo }
  | { kind: "schedule"; schedule: ScheduleInfo }
  | { kind: "removed"; id: string };

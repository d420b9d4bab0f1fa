/** The manager's contracts with services (below) and clients (above). */
import type { ServiceDescription, TaskRun } from "../task/protocol.ts";
import type { Task, TaskType } from "../task/define.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../task/record.ts";

export type { TaskBrief, TaskRecordSummary } from "../task/record.ts";

/** What the manager needs to know of a service. */
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

/** A service as clients see it. */
export interface ServiceInfo extends ServiceDescription {
  name: string;
  state: "running" | "stopped";
  /** Serial tasks waiting. */
  queued: number;
  /** Tasks running now. */
  running: number;
}

/** A task as a client submits it. */
export interface SubmitRequest {
  service: string;
  /** Task type name. */
  type: string;
  /** Unvalidated fields, or the fields of `task` when given. */
  fields: unknown;
  attributes?: Record<string, unknown>;
  /** Overrides the type's timeout (above 0, at most 2³¹−1 ms). */
  timeoutMs?: number;
  /** An already-validated task, in-process only: skips a second validation. */
  task?: Task;
  /**
   * Refuse through `sink.refused` (a typed error, no task id) a request that
   * names an unknown service or task type or fails validation, instead of
   * ending it as a failed task. The server sets it: an HTTP 4xx, a WebSocket
   * error reply.
   */
  refuseInvalid?: boolean;
}

/** Where the manager sends a submitted task's id and outcome. */
export interface OutcomeSink {
  /** The task was given an id (always called first, exactly once, unless refused). */
  accepted?(id: string): void;
  /** The task ended. */
  settled(outcome: TaskOutcome): void;
  /**
   * The task was not accepted, and has no id: a typed error says why
   * (`QueueFullError`, `RuntimeStoppingError`, `ServiceStoppedError`, and
   * with `refuseInvalid` `TaskValidationError`, `UnknownServiceError`,
   * `UnknownTaskTypeError`); or, for `wait`, the id is unknown.
   */
  refused(error: Error): void;
}

/** A change to a task (or to a service: its kernel status), for watchers and the dashboard. */
export type TaskEvent =
  | { kind: "task"; record: TaskRecordSummary }
  | { kind: "log"; id: string; entry: TaskRecord["log"][number] }
  | { kind: "service"; service: ServiceInfo };

/**
 * What a client talks to: the manager in-process, or a server over a socket.
 * The `Client` class adds the convenient API on top.
 */
export interface TaskPort {
  /** Submit a task; the sink gets its id, then its outcome. */
  submit(request: SubmitRequest, sink: OutcomeSink): void;
  /** The record of task `id`, if still retained. */
  get(id: string): Promise<TaskRecord | undefined>;
  /**
   * Summaries (no fields, log or outcome; a `brief` of the outcome): live
   * tasks first, newest first; then finished ones, latest first.
   */
  list(query?: { service?: string; state?: string; limit?: number }): Promise<TaskRecordSummary[]>;
  /** Wait for task `id` to end; `undefined` if no such task is retained. */
  wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined>;
  /** Cancel task `id`; false if it had already ended or is unknown. */
  cancel(id: string): Promise<boolean>;
  /** Services, their task types and queue depths. */
  services(): Promise<ServiceInfo[]>;
  /** Follow task events until the returned function is called. */
  subscribe(listener: (event: TaskEvent) => void): () => void;
  /** Release the port (a connection, for remote ports). */
  close(): Promise<void>;
}

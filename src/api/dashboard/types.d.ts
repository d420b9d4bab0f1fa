/**
 * What the page reads and sends over the server's WebSocket (`zest.v1`), for
 * the type-checker. The server's own definitions are TypeScript modules the
 * browser cannot load (`src/task/record.ts`, `src/task/outcome.ts`,
 * `src/manager/types.ts`, the WebSocket message schema), so the page keeps
 * its own description of the parts it uses; `test/dashboard_test.ts` checks
 * that what the server sends fits it, and that the server reads what the
 * page sends.
 *
 * @module
 */

/** A task's state; the page shows any of them as a pill. */
export type TaskState =
  | "waiting"
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "expired";

/** One line of a task's log: a state change, or a message from its handler. */
export interface TaskLogEntry {
  /** Milliseconds since the Unix epoch. */
  at: number;
  level: "debug" | "info" | "warn" | "error";
  message: string;
  /** Set on state changes. */
  state?: TaskState;
}

/** A one-line preview of an ended task's outcome: its result as JSON, or `ename: evalue`. */
export interface TaskBrief {
  status: "ok" | "error";
  text: string;
}

/** The latest progress a handler reported (`context.progress`). */
export interface TaskProgress {
  /** From 0 to 1. */
  fraction: number;
  message?: string;
  /** Milliseconds since the Unix epoch. */
  at: number;
}

/** A task as lists and events carry it: no fields, log or outcome. */
export interface TaskSummary {
  id: string;
  type: string;
  service: string;
  attributes: Record<string, unknown>;
  parallel: boolean;
  state: TaskState;
  attempts: number;
  /** Milliseconds since the Unix epoch, as every time below. */
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** Serial tasks: higher runs first (default 0). */
  priority?: number;
  /** A task still waiting or queued at this time ends `expired`. */
  deadline?: number;
  /** The idempotency key it was submitted with. */
  key?: string;
  /** The tasks it waits for. */
  after?: readonly string[];
  onDependencyFailure?: "cancel" | "run";
  /** The tasks that wait for it. */
  dependents?: readonly string[];
  /** The task whose handler submitted it. */
  parent?: string;
  /** The task it re-runs. */
  rerunOf?: string;
  /** The schedule that submitted it. */
  schedule?: string;
  /** The latest progress its handler reported. */
  progress?: TaskProgress;
  /** Set once the task has ended. */
  brief?: TaskBrief;
}

/** A task read by id: everything the runtime keeps of it. */
export interface TaskRecord extends Omit<TaskSummary, "brief"> {
  fields: unknown;
  log: readonly TaskLogEntry[];
  outcome?: TaskOutcome;
}

/** A Jupyter mime bundle: a display, or the bundle of a kernel task's result. */
export interface DisplayOutput {
  /** Mime type → content (`image/png` is base64, `text/html` a document). */
  data: Record<string, unknown>;
  /** Per-mime metadata, e.g. `{ "image/png": { width: 200 } }`. */
  metadata: Record<string, unknown>;
}

/** What ran on a kernel, and what it printed. */
export interface Execution {
  code: string;
  executionCount: number | null;
  stdout: string;
  stderr: string;
  displays: DisplayOutput[];
  /** The whole bundle of the last expression's value, when it had one. */
  executeResult?: DisplayOutput;
}

/** An ended task's outcome. */
export type TaskOutcome =
  | { status: "ok"; id: string; result: unknown; execution?: Execution }
  | {
    status: "error";
    id: string;
    ename: string;
    evalue: string;
    /** `""` when there is none. */
    traceback: string;
    execution?: Execution;
  };

/** The part of JSON Schema the submit form understands; anything else is edited as JSON. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  default?: unknown;
  description?: string;
}

/** A task type a service handles. */
export interface TaskTypeInfo {
  name: string;
  parallel: boolean;
  description?: string;
  /** `"code"` for types that run code on a kernel. */
  kind: "task" | "code";
  /** JSON Schema of the fields a client sends. */
  schema: JsonSchema;
}

/** A service, its task types, queue depths and (for IPython services) its kernel. */
export interface ServiceInfo {
  name: string;
  /** `"service"` or `"ipython"`. */
  kind: string;
  /** `stuck`: its serial lane is held by a handler that did not stop (see `stuck`). */
  state: "running" | "stopped" | "stuck";
  /** Serial tasks waiting. */
  queued: number;
  /** Tasks running now. */
  running: number;
  taskTypes: TaskTypeInfo[];
  kernel?: { name: string; status: string };
  /** Set while its serial lane is held by a handler that ignored the end of its task. */
  stuck?: { taskId: string; since: number };
  /** In a NATS cluster: every live replica of the service, oldest first. */
  replicas?: ReplicaInfo[];
}

/** One process serving a service of a NATS cluster. */
export interface ReplicaInfo {
  replica: string;
  host: string;
  pid: number;
  /** When it joined (ms since the Unix epoch). */
  since: number;
  state: "running" | "stopped" | "stuck";
  running: number;
  queued: number;
}

/** Where the records are kept, and how many. */
export interface StoreStats {
  /** `sqlite`, `memory`, `nats` (a cluster's key-value bucket); shown as is if another. */
  kind: string;
  /** The database file. */
  path?: string;
  /** Bytes on disk. */
  bytes?: number;
  /** Records held, ended or not. */
  records: number;
}

/** A schedule: what it submits, on which clock, and how its runs go. */
export interface ScheduleInfo {
  name: string;
  service: string;
  /** The task type it submits. */
  type: string;
  /** A duration as given (`"30m"`), for an `every` schedule. */
  every?: string;
  cron?: string;
  timezone?: string;
  state: "scheduled" | "paused" | "stopped";
  /** A run is going. */
  running: boolean;
  lastRunAt?: number;
  /** None while paused or stopped. */
  nextRunAt?: number;
  runs: number;
  skips: number;
}

/** What can be done to a schedule. */
export type ScheduleAction = "pause" | "resume" | "run";

/** Output of a running task: printed text, a display, or the clearing of what it showed. */
export type TaskOutput =
  | { kind: "stream"; name: "stdout" | "stderr"; text: string }
  | { kind: "display"; display: DisplayOutput }
  | { kind: "clear" };

/** A change pushed to a subscribed connection; kinds the page does not show are ignored. */
export type TaskEvent =
  | { kind: "task"; record: TaskSummary }
  | { kind: "log"; id: string; entry: TaskLogEntry }
  | { kind: "progress"; id: string; progress: TaskProgress }
  | { kind: "output"; id: string; output: TaskOutput }
  | { kind: "service"; service: ServiceInfo }
  | { kind: "schedule"; schedule: ScheduleInfo }
  | { kind: "removed"; id: string };

/** Which tasks a `list` request asks for: newest first, a page at a time. */
export interface TaskListQuery {
  service?: string;
  /** The task type's name. */
  type?: string;
  key?: string;
  /** One state, or any of several. */
  state?: TaskState | TaskState[];
  /** Created at or after this time (ms since the Unix epoch). */
  createdSince?: number;
  /** Created before this time. */
  createdUntil?: number;
  /** 1 to 1 000 (default 100). */
  limit?: number;
  /** The `next` of the page before. */
  cursor?: string;
}

/** A request that has one reply, of the same `type`. */
export type SocketRequest =
  | { type: "services" }
  | { type: "list"; query?: TaskListQuery }
  | { type: "subscribe" }
  | { type: "get"; taskId: string }
  | { type: "cancel"; taskId: string }
  | { type: "delete"; taskId: string }
  | { type: "dot"; taskId: string }
  | { type: "release"; service: string }
  | { type: "queue"; service: string; limit?: number }
  | { type: "store" }
  | { type: "schedules" }
  | { type: "schedule"; name: string; action: ScheduleAction };

/** What each request's reply carries besides its `type` and `ref`. */
export interface Replies {
  services: { services: ServiceInfo[] };
  /** Newest first; `next`, when there are more, is the `cursor` of the next page. */
  list: { records: TaskSummary[]; next?: string };
  subscribe: Record<never, never>;
  get: { record: TaskRecord | null };
  cancel: { cancelled: boolean };
  /** Refused (`TaskConflictError`) while the task has not ended. */
  delete: Record<never, never>;
  /** Graphviz DOT of the tasks around it; `null` for an unknown task. */
  dot: { dot: string | null };
  /** `false` if the service was not stuck. */
  release: { released: boolean };
  /** The serial queue in the order it runs, the task holding the lane first. */
  queue: { records: TaskSummary[] };
  store: { store: StoreStats };
  schedules: { schedules: ScheduleInfo[] };
  /** Its status after the action. */
  schedule: { schedule: ScheduleInfo };
}

/** The reply to `R`. */
export type ReplyTo<R extends SocketRequest> = Replies[R["type"]];

/**
 * A task to submit, the `task` of a `submit` request. Its replies:
 * `{type: "submit", taskId}` once it is queued, then `{type: "outcome", outcome}`.
 */
export interface TaskSubmission {
  service: string;
  /** The task type's name. */
  type: string;
  fields: unknown;
  attributes?: Record<string, unknown>;
  /** Serial tasks: higher runs first (an integer, −1000 to 1000). */
  priority?: number;
  /** Idempotency key: the same key with the same fields answers the first task's id. */
  key?: string;
  /** Ids of tasks to wait for. */
  after?: string[];
  /** Still waiting or queued this long after submission: the task ends `expired`. */
  expiresInMs?: number;
}

/** Correlates a request with its replies: the page numbers its requests. */
export type Ref = number | string;

/** A reply to a `SocketRequest`: its `type` and `ref`, and what that type carries. */
export type ReplyMessage = {
  [T in keyof Replies]: { type: T; ref: Ref } & Replies[T];
}[keyof Replies];

/** A message from the server. */
export type ServerMessage =
  | ReplyMessage
  | { type: "event"; event: TaskEvent }
  | { type: "submit"; ref: Ref; taskId: string }
  | {
    type: "outcome";
    ref: Ref;
    taskId: string;
    /** `null` only for a task the server does not know (a `wait`). */
    outcome: TaskOutcome | null;
  }
  | {
    type: "error";
    /** Absent when the message it answers had no readable `ref`. */
    ref?: Ref;
    error: string;
    /** A refusal's kind: `TaskValidationError`, `QueueFullError`, … */
    name?: string;
  };

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
  state: string;
  /** Serial tasks waiting. */
  queued: number;
  /** Tasks running now. */
  running: number;
  taskTypes: TaskTypeInfo[];
  kernel?: { name: string; status: string };
}

/** A change pushed to a subscribed connection; kinds the page does not show are ignored. */
export type TaskEvent =
  | { kind: "task"; record: TaskSummary }
  | { kind: "log"; id: string; entry: TaskLogEntry }
  | { kind: "service"; service: ServiceInfo };

/** Which tasks a `list` request asks for. */
export interface TaskListQuery {
  service?: string;
  state?: TaskState;
  /** At most 1 000. */
  limit?: number;
}

/** A request that has one reply, of the same `type`. */
export type SocketRequest =
  | { type: "services" }
  | { type: "list"; query?: TaskListQuery }
  | { type: "subscribe" }
  | { type: "get"; taskId: string }
  | { type: "cancel"; taskId: string };

/** What each request's reply carries besides its `type` and `ref`. */
export interface Replies {
  services: { services: ServiceInfo[] };
  /** Live tasks first, newest first; then ended ones, latest first. */
  list: { records: TaskSummary[] };
  subscribe: Record<never, never>;
  get: { record: TaskRecord | null };
  cancel: { cancelled: boolean };
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

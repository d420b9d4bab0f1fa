/** The task record, its state machine, and the summary that lists and events carry. */
import { briefOf } from "./limits.ts";
import type { TaskOutcome } from "./outcome.ts";

/**
 * - `waiting`: accepted, waiting for the tasks it depends on to end
 * - `queued`: accepted, waiting (in a serial queue, or for a retry)
 * - `running`: its handler (or kernel) is working on it
 * - `succeeded` / `failed` / `cancelled` / `expired`: ended, with an outcome
 *   (`expired`: still waiting or queued at its deadline; it never ran)
 */
export type TaskState =
  | "waiting"
  | "queued"
  | "running"
  | "succeeded"
  | "failed"
  | "cancelled"
  | "expired";

/**
 * Every state, in the order a task goes through them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TASK_STATES } from "./record.ts";
 * assert.ok(TASK_STATES.includes("expired"));
 * ```
 */
export const TASK_STATES: readonly TaskState[] = Object.freeze([
  "waiting",
  "queued",
  "running",
  "succeeded",
  "failed",
  "cancelled",
  "expired",
]);

/** The latest progress a handler reported (`context.progress`). */
export interface TaskProgress {
  /** From 0 to 1. */
  fraction: number;
  message?: string;
  /** Milliseconds since the Unix epoch. */
  at: number;
}

/** One line of a task's log: a state change, or a message from its handler. */
export interface TaskLogEntry {
  /** Milliseconds since the Unix epoch. */
  at: number;
  level: "debug" | "info" | "warn" | "error";
  message: string;
  /** Set on state changes. */
  state?: TaskState;
}

/** Everything the runtime knows about one task. */
export interface TaskRecord {
  id: string;
  type: string;
  service: string;
  fields: unknown;
  /** Free-form metadata given by the client, kept as is. */
  attributes: Record<string, unknown>;
  parallel: boolean;
  state: TaskState;
  /** Attempts started so far (retries included). */
  attempts: number;
  /** Timeout from start of each attempt, if any. */
  timeoutMs?: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  /** When the record will be forgotten (set once it is terminal). */
  expiresAt?: number;
  /** Serial tasks: higher runs first, FIFO within a priority (default 0). */
  priority?: number;
  /** A queued or waiting task still not started at this time ends `expired`. */
  deadline?: number;
  /** The idempotency key it was submitted with. */
  key?: string;
  /** The tasks it waits for, and what it does if one of them fails. */
  after?: readonly string[];
  onDependencyFailure?: "cancel" | "run";
  /** The tasks submitted with this one in their `after`. */
  dependents?: readonly string[];
  /** The task whose handler submitted this one (through `context.client`). */
  parent?: string;
  /** The task this one re-runs (`client.rerun`). */
  rerunOf?: string;
  /** The schedule that submitted it. */
  schedule?: string;
  /** The latest progress its handler reported. */
  progress?: TaskProgress;
  /**
   * What happened since the task was queued at `createdAt`: state changes
   * and the handler's messages. Empty (and shared) until the first entry, so
   * a queued task costs no log.
   */
  log: readonly TaskLogEntry[];
  outcome?: TaskOutcome;
}

const NEXT: Record<TaskState, readonly TaskState[]> = {
  waiting: ["queued", "failed", "cancelled", "expired"],
  queued: ["running", "failed", "cancelled", "expired"],
  // running → queued: a retry, or a task requeued after its runtime stopped.
  running: ["succeeded", "failed", "cancelled", "queued"],
  succeeded: [],
  failed: [],
  cancelled: [],
  expired: [],
};

/** The log of every record that has none yet; `appendLog` replaces it on the first entry. */
export const EMPTY_LOG: readonly TaskLogEntry[] = Object.freeze([]);

/**
 * Add `entry` to the log of `record`.
 *
 * @example
 * ```ts
 * import { appendLog, type TaskRecord } from "./record.ts";
 * declare const record: TaskRecord;
 * appendLog(record, { at: Date.now(), level: "info", message: "calibrating" });
 * ```
 */
export function appendLog(record: TaskRecord, entry: TaskLogEntry): void {
  if (record.log === EMPTY_LOG) record.log = [entry];
  else (record.log as TaskLogEntry[]).push(entry);
}

/**
 * Whether a record in `state` has ended.
 *
 * @example
 * ```ts
 * import { isTerminal } from "./record.ts";
 * isTerminal("running"); // false
 * isTerminal("cancelled"); // true
 * ```
 */
export function isTerminal(state: TaskState): boolean {
  return NEXT[state].length === 0;
}

/**
 * Move `record` to `state`, logging the change. Throws on a transition the
 * state machine does not allow (a bug, never user input).
 *
 * @example
 * ```ts
 * import { transition, type TaskRecord } from "./record.ts";
 * declare const record: TaskRecord; // state "queued"
 * transition(record, "running", Date.now());
 * ```
 */
export function transition(record: TaskRecord, state: TaskState, at: number, message = ""): void {
  if (!NEXT[record.state].includes(state)) {
    throw new Error(`task ${record.id}: illegal transition ${record.state} → ${state}`);
  }
  record.state = state;
  appendLog(record, { at, level: state === "failed" ? "error" : "info", message, state });
}

/** A one-line preview of an outcome: a JSON preview of the result, or `ename: evalue`. */
export interface TaskBrief {
  status: "ok" | "error";
  /** At most 200 characters. */
  text: string;
}

/**
 * A record without its fields, log and outcome, as task lists and events
 * carry it: small whatever the task holds. `brief` previews the outcome once
 * the task has ended; the whole record comes by id.
 */
export type TaskRecordSummary = Omit<TaskRecord, "log" | "fields" | "outcome"> & {
  brief?: TaskBrief;
};

/** Briefs already made, by outcome: a list of 1 000 ended tasks encodes each result once. */
const briefs = new WeakMap<TaskOutcome, TaskBrief>();

/**
 * The summary of `record` (a new object; the record is not changed).
 *
 * @example
 * ```ts
 * import { summarize, type TaskRecord } from "./record.ts";
 * declare const record: TaskRecord; // ended with { status: "ok", result: 42 }
 * summarize(record).brief; // { status: "ok", text: "42" }
 * ```
 */
export function summarize(record: TaskRecord): TaskRecordSummary {
  const { log: _log, fields: _fields, outcome, ...summary } = record;
  if (!outcome) return summary;
  let brief = briefs.get(outcome);
  if (!brief) briefs.set(outcome, brief = briefOf(outcome));
  return { ...summary, brief };
}

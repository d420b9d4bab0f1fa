/** The task record, its state machine, and the summary that lists and events carry. */
import { briefOf } from "./limits.ts";
import type { TaskOutcome } from "./outcome.ts";

/**
 * - `waiting`: accepted, waiting for the tasks it depends on to end
 * - `queued`: accepted, waiting (in a serial queue, or for a retry)
 * - `running`: its handler (or kernel) is working on it
 * - `succeeded` / `failed` / `cancelled` / `expired`: ended, with an outcome
 *   (`expired`: still waiting or queued at its deadline; it never ran)
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTerminal, type TaskState } from "./record.ts";
 * const ended: TaskState[] = ["succeeded", "failed", "cancelled", "expired"];
 * assert.ok(ended.every(isTerminal));
 * ```
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
 * assert.deepEqual(TASK_STATES.slice(0, 3), ["waiting", "queued", "running"]);
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

/**
 * The latest progress a handler reported (`context.progress`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskProgress } from "./record.ts";
 * const progress: TaskProgress = { fraction: 0.25, message: "scan 1 of 4", at: Date.now() };
 * assert.equal(`${progress.fraction * 100} %`, "25 %");
 * ```
 */
export interface TaskProgress {
  /** From 0 to 1. */
  fraction: number;
  /** What the handler said with it (at most 1 000 characters kept). */
  message?: string;
  /** Milliseconds since the Unix epoch. */
  at: number;
}

/**
 * One line of a task's log: a state change, or a message from its handler.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskLogEntry } from "./record.ts";
 * const entry: TaskLogEntry = { at: Date.now(), level: "info", message: "", state: "running" };
 * assert.equal(entry.state ? `→ ${entry.state}` : entry.message, "→ running");
 * ```
 */
export interface TaskLogEntry {
  /** Milliseconds since the Unix epoch. */
  at: number;
  /** How much it matters: `"error"` for a change to `failed`, `"info"` for other changes. */
  level: "debug" | "info" | "warn" | "error";
  /** The handler's text, or what caused a state change (may be empty). */
  message: string;
  /** Set on state changes. */
  state?: TaskState;
}

/**
 * Everything the runtime knows about one task.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_LOG, isTerminal, type TaskRecord } from "./record.ts";
 * const record: TaskRecord = {
 *   id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d",
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: { qubit: "q0" },
 *   attributes: {},
 *   parallel: false,
 *   state: "queued",
 *   attempts: 0,
 *   createdAt: Date.now(),
 *   log: EMPTY_LOG,
 * };
 * assert.equal(isTerminal(record.state), false);
 * ```
 */
export interface TaskRecord {
  /** A UUIDv7, given by the manager (time-ordered: show its last 8 digits to shorten it). */
  id: string;
  /** The task type's name. */
  type: string;
  /** The service it was sent to. */
  service: string;
  /** The validated fields, defaults applied. */
  fields: unknown;
  /** Free-form metadata given by the client, kept as is. */
  attributes: Record<string, unknown>;
  /** Whether its type runs in parallel (else in its service's serial lane). */
  parallel: boolean;
  /** Where it is now; see {@linkcode TaskState}. */
  state: TaskState;
  /** Attempts started so far (retries included). */
  attempts: number;
  /** Timeout from start of each attempt, if any. */
  timeoutMs?: number;
  /** When it was submitted (ms since the Unix epoch). */
  createdAt: number;
  /** When its latest attempt started. */
  startedAt?: number;
  /** When it ended. */
  finishedAt?: number;
  /** When the record will be forgotten (set once it is terminal). */
  expiresAt?: number;
  /** Serial tasks: higher runs first, FIFO within a priority (default 0). */
  priority?: number;
  /** A queued or waiting task still not started at this time ends `expired`. */
  deadline?: number;
  /** The idempotency key it was submitted with. */
  key?: string;
  /** The tasks it waits for. */
  after?: readonly string[];
  /** What it does if one of `after` fails, is cancelled or expires (default `"cancel"`). */
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
  /** How it ended; set with a terminal state. */
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

/**
 * The log of every record that has none yet; `appendLog` replaces it on the
 * first entry. Shared and frozen, so a queued task costs no array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_LOG } from "./record.ts";
 * assert.equal(EMPTY_LOG.length, 0);
 * assert.ok(Object.isFrozen(EMPTY_LOG));
 * ```
 */
export const EMPTY_LOG: readonly TaskLogEntry[] = Object.freeze([]);

/**
 * Add `entry` to the log of `record`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { appendLog, EMPTY_LOG, type TaskRecord } from "./record.ts";
 * const record: TaskRecord = {
 *   id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d",
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: { qubit: "q0" },
 *   attributes: {},
 *   parallel: false,
 *   state: "queued",
 *   attempts: 0,
 *   createdAt: Date.now(),
 *   log: EMPTY_LOG,
 * };
 * appendLog(record, { at: Date.now(), level: "info", message: "calibrating" });
 * assert.deepEqual(record.log.map((entry) => entry.message), ["calibrating"]);
 * assert.equal(EMPTY_LOG.length, 0); // the shared empty log was replaced, not changed
 * ```
 */
export function appendLog(record: TaskRecord, entry: TaskLogEntry): void {
  const log = record.log;
  if (log === EMPTY_LOG) record.log = [entry];
  // Most tasks log twice (running, then how they ended): an exact pair,
  // where a push would grow the array to 17 slots.
  else if (log.length === 1) record.log = [log[0], entry];
  else (log as TaskLogEntry[]).push(entry);
}

/**
 * Whether a record in `state` has ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isTerminal } from "./record.ts";
 * assert.equal(isTerminal("running"), false);
 * assert.equal(isTerminal("cancelled"), true);
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
 * import assert from "node:assert/strict";
 * import { EMPTY_LOG, type TaskRecord, transition } from "./record.ts";
 * const record: TaskRecord = {
 *   id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d",
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: { qubit: "q0" },
 *   attributes: {},
 *   parallel: false,
 *   state: "queued",
 *   attempts: 0,
 *   createdAt: Date.now(),
 *   log: EMPTY_LOG,
 * };
 * transition(record, "running", Date.now());
 * assert.equal(record.state, "running");
 * assert.equal(record.log[0].state, "running");
 * assert.throws(() => transition(record, "waiting", Date.now()), /illegal transition running → waiting/);
 * ```
 */
export function transition(record: TaskRecord, state: TaskState, at: number, message = ""): void {
  if (!NEXT[record.state].includes(state)) {
    throw new Error(`task ${record.id}: illegal transition ${record.state} → ${state}`);
  }
  record.state = state;
  appendLog(record, { at, level: state === "failed" ? "error" : "info", message, state });
}

/**
 * A one-line preview of an outcome: a JSON preview of the result, or `ename: evalue`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskBrief } from "./record.ts";
 * const brief: TaskBrief = { status: "error", text: "ZeroDivisionError: division by zero" };
 * assert.match(brief.text, /^ZeroDivisionError/);
 * ```
 */
export interface TaskBrief {
  /** The outcome's status. */
  status: "ok" | "error";
  /** At most 200 characters. */
  text: string;
}

/**
 * A record without its fields, log and outcome, as task lists and events
 * carry it: small whatever the task holds. `brief` previews the outcome once
 * the task has ended; the whole record comes by id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskRecordSummary } from "./record.ts";
 * const line = (task: TaskRecordSummary) => `${task.id.slice(-8)} ${task.type} ${task.state}`;
 * const summary: TaskRecordSummary = {
 *   id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d",
 *   type: "Calibrate",
 *   service: "lab",
 *   attributes: {},
 *   parallel: false,
 *   state: "succeeded",
 *   attempts: 1,
 *   createdAt: 0,
 *   brief: { status: "ok", text: "42" },
 * };
 * assert.equal(line(summary), "7a8b9c0d Calibrate succeeded");
 * ```
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
 * import assert from "node:assert/strict";
 * import { EMPTY_LOG, summarize, type TaskRecord } from "./record.ts";
 * const record: TaskRecord = {
 *   id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d",
 *   type: "Answer",
 *   service: "lab",
 *   fields: { question: "everything" },
 *   attributes: {},
 *   parallel: true,
 *   state: "succeeded",
 *   attempts: 1,
 *   createdAt: 0,
 *   log: EMPTY_LOG,
 *   outcome: { status: "ok", id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d", result: 42 },
 * };
 * const summary = summarize(record);
 * assert.deepEqual(summary.brief, { status: "ok", text: "42" });
 * assert.equal("fields" in summary, false);
 * ```
 */
export function summarize(record: TaskRecord): TaskRecordSummary {
  const { log: _log, fields: _fields, outcome, ...summary } = record;
  if (!outcome) return summary;
  let brief = briefs.get(outcome);
  if (!brief) briefs.set(outcome, brief = briefOf(outcome));
  return { ...summary, brief };
}

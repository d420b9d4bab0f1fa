/**
 * Small pieces the host and the client port share: ending a record that no
 * manager runs (cancelled while queued, expired, interrupted, abandoned), and
 * checking a reply subject taken from a message.
 *
 * @module
 */
import { errorOutcome } from "../../task/outcome.ts";
import { appendLog, type TaskRecord, type TaskState, transition } from "../../task/record.ts";

/**
 * `record` ended now with an error outcome `ename: evalue` in `state`, kept
 * `retentionMs` (a new object: `record` is not changed).
 *
 * @example
 * ```ts
 * import { endRecord } from "./ending.ts";
 * import type { TaskRecord } from "../../task/record.ts";
 * declare const queued: TaskRecord;
 * const cancelled = endRecord(queued, "cancelled", "CancelledError", "the task was cancelled", 3_600_000);
 * cancelled.outcome?.status; // "error"
 * ```
 */
export function endRecord(
  record: TaskRecord,
  state: TaskState,
  ename: string,
  evalue: string,
  retentionMs: number,
): TaskRecord {
  const now = Date.now();
  const ended: TaskRecord = { ...record, log: [...record.log] };
  try {
    transition(ended, state, now, `${ename}: ${evalue}`);
  } catch {
    // A record in a state that cannot go there (sent by someone else): end it all the same.
    ended.state = state;
    appendLog(ended, { at: now, level: "error", message: `${ename}: ${evalue}`, state });
  }
  ended.outcome = errorOutcome(record.id, ename, evalue);
  ended.finishedAt = now;
  ended.expiresAt = now + retentionMs;
  return ended;
}

/**
 * `value` if it can be a reply subject (printable, no spaces, no wildcards, at
 * most 256 characters), else `undefined`.
 *
 * @example
 * ```ts
 * import { validReply } from "./ending.ts";
 * validReply("_INBOX.abc.1"); // "_INBOX.abc.1"
 * validReply("zest.>"); // undefined
 * ```
 */
export function validReply(value: string | undefined | null): string | undefined {
  if (!value || !/^[!-~]{1,256}$/.test(value)) return undefined;
  return value.split(".").some((token) => token === "" || token === "*" || token === ">")
    ? undefined
    : value;
}

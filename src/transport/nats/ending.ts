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
 * import { EMPTY_LOG, type TaskRecord } from "../../task/record.ts";
 * const queued: TaskRecord = {
 *   id: "0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d", type: "Calibrate", service: "lab", fields: {},
 *   attributes: {}, parallel: false, state: "queued", attempts: 0, createdAt: 1735689600000, log: EMPTY_LOG,
 * };
 * const cancelled = endRecord(queued, "cancelled", "CancelledError", "the task was cancelled", 3_600_000);
 * if (cancelled.state !== "cancelled" || cancelled.outcome?.status !== "error") throw new Error("ended");
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

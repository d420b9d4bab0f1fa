// @ts-check
/**
 * How values read as text on the page: ids, times, durations, JSON.
 *
 * @module
 */

/** @import { TaskSummary } from "./types.d.ts" */

/**
 * The last 8 characters of a task id, enough to tell tasks apart on screen:
 * its random end (a UUIDv7 starts with its creation time, which tasks
 * created within a minute share).
 *
 * @example
 * ```js
 * import { shortId } from "./format.js";
 * shortId("0192f6a3-7c1e-7b5d-9a0c-3f5e2d1c4b6a"); // "2d1c4b6a"
 * ```
 *
 * @param {string} id
 * @returns {string}
 */
export function shortId(id) {
  return id.slice(-8);
}

/**
 * The local time of day of `ms` (since the Unix epoch), on a 24-hour clock.
 *
 * @example
 * ```js
 * import { clock } from "./format.js";
 * clock(Date.now()); // "14:03:27"
 * ```
 *
 * @param {number} ms
 * @returns {string}
 */
export function clock(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/**
 * How long a task has run (or ran): `""` before it started.
 *
 * @example
 * ```js
 * import { duration } from "./format.js";
 * duration({ startedAt: 1_000, finishedAt: 3_500 }); // "2.5 s"
 * ```
 *
 * @param {Pick<TaskSummary, "startedAt" | "finishedAt">} task
 * @param {number} [now] when a running task's duration is read
 * @returns {string}
 */
export function duration(task, now = Date.now()) {
  if (!task.startedAt) return "";
  const ms = (task.finishedAt ?? now) - task.startedAt;
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

/**
 * A value as text: a string as is, anything else as indented JSON.
 *
 * @example
 * ```js
 * import { pretty } from "./format.js";
 * pretty({ a: 1 }); // '{\n  "a": 1\n}'
 * ```
 *
 * @param {unknown} value
 * @returns {string}
 */
export function pretty(value) {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

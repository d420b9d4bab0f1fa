// @ts-check
/**
 * How values read as text on the page: ids, times, durations, sizes, JSON;
 * and which task states are ends.
 *
 * @module
 */

/** @import { TaskState, TaskSummary } from "./types.d.ts" */

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

/**
 * A moment as text: its time of day if it is today, else its date and time
 * (local, 24-hour clock).
 *
 * @example
 * ```js
 * import { moment } from "./format.js";
 * moment(Date.now()); // "14:03:27"
 * moment(Date.now() - 86_400_000 * 2); // "2025-03-01 14:03:27"
 * ```
 *
 * @param {number} ms since the Unix epoch
 * @param {number} [now] what "today" is measured from
 * @returns {string}
 */
export function moment(ms, now = Date.now()) {
  const date = new Date(ms);
  if (date.toDateString() === new Date(now).toDateString()) return clock(ms);
  const day = [
    date.getFullYear(),
    String(date.getMonth() + 1).padStart(2, "0"),
    String(date.getDate()).padStart(2, "0"),
  ].join("-");
  return `${day} ${clock(ms)}`;
}

/**
 * A size in bytes as text, in binary units.
 *
 * @example
 * ```js
 * import { bytes } from "./format.js";
 * bytes(512); // "512 B"
 * bytes(3_500_000); // "3.3 MiB"
 * ```
 *
 * @param {number} count
 * @returns {string}
 */
export function bytes(count) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = count;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${count} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Whether a task in `state` has ended (and so has an outcome).
 *
 * @example
 * ```js
 * import { hasEnded } from "./format.js";
 * hasEnded("running"); // false
 * hasEnded("expired"); // true
 * ```
 *
 * @param {TaskState} state
 * @returns {boolean}
 */
export function hasEnded(state) {
  return state === "succeeded" || state === "failed" || state === "cancelled" ||
    state === "expired";
}

/**
 * Dates as people type them: ISO 8601 dates and times, checked against the
 * calendar.
 *
 * @module
 */

/**
 * A date, with an optional time and zone: what `Date.parse` reads the same
 * everywhere (`2026-11-29`, `2026-11-29T08:00:00Z`, `2026-11-29 08:00`).
 * Groups: year, month, day, hour, minute, second.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ISO_TIME } from "./time.ts";
 * assert.ok(ISO_TIME.test("2026-11-29T08:00:00Z"));
 * assert.ok(!ISO_TIME.test("yesterday"));
 * ```
 */
export const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/;

function daysInMonth(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
}

/**
 * Why an {@linkcode ISO_TIME} text names no moment, if it does not:
 * `Date.parse` rolls `2026-11-31` over to December 1 instead of refusing it.
 * `undefined` for a date that exists, and for a text of another shape.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { calendarProblem } from "./time.ts";
 * assert.equal(calendarProblem("2026-11-31"), "2026-11 has 30 days");
 * assert.equal(calendarProblem("2028-02-29T23:59:59Z"), undefined);
 * assert.equal(calendarProblem("2026-11-29T24:00"), "hours go from 00 to 23");
 * ```
 */
export function calendarProblem(text: string): string | undefined {
  const match = ISO_TIME.exec(text);
  if (!match) return undefined;
  const [year, month, day, hour = 0, minute = 0, second = 0] = match.slice(1, 7)
    .map((field) => field === undefined ? undefined : Number(field)) as number[];
  if (month < 1 || month > 12) return `there is no month ${month}`;
  const days = daysInMonth(year, month);
  if (day < 1 || day > days) return `${match[1]}-${match[2]} has ${days} days`;
  if (hour > 23) return "hours go from 00 to 23";
  if (minute > 59 || second > 59) return "minutes and seconds go from 00 to 59";
  return undefined;
}

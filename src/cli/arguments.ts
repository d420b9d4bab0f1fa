/**
 * The values `deno task zest` reads from its command line: JSON objects,
 * whole numbers, durations, times, lists and task states. Each parser names
 * the option and says what it expected; a mistake is a {@linkcode UsageError}
 * (exit code 2).
 *
 * @module
 */
import { TASK_STATES, type TaskState } from "../task/record.ts";
import { calendarProblem, ISO_TIME } from "../util/time.ts";

/**
 * A mistake in the command line: `zest` prints it with a hint and exits 2.
 *
 * @example
 * ```ts
 * import { UsageError } from "./arguments.ts";
 * const error = new UsageError("--limit must be a whole number from 1 to 1000, got 'many'");
 * error.name; // "UsageError"
 * ```
 */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The longest duration a timer can hold: 2³¹−1 ms (about 24.8 days). */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * `text` as a JSON object; `what` names it in the error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseJsonObject } from "./arguments.ts";
 * assert.deepEqual(parseJsonObject('{"nodeId":"q0_rabi"}', "fields"), { nodeId: "q0_rabi" });
 * assert.throws(() => parseJsonObject("[1]", "fields"), /fields must be a JSON object/);
 * ```
 */
export function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} must be JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${what} must be a JSON object, like '{"nodeId":"q0_rabi"}'`);
  }
  return value as Record<string, unknown>;
}

/**
 * `text` as a whole number from `min` to `max` (decimal digits, an optional
 * leading `-`); `what` names it in the error, with its `unit` if given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWholeNumber } from "./arguments.ts";
 * assert.equal(parseWholeNumber("-5", "--priority", -1000, 1000), -5);
 * assert.throws(() => parseWholeNumber("1.5", "--limit", 1, 1000), /--limit must be a whole number from 1 to 1000, got '1.5'/);
 * ```
 */
export function parseWholeNumber(
  text: string,
  what: string,
  min: number,
  max: number,
  unit?: string,
): number {
  const value = /^-?\d{1,16}$/.test(text) ? Number(text) : NaN;
  if (!(value >= min && value <= max)) {
    const of = unit ? ` of ${unit}` : "";
    throw new UsageError(
      `${what} must be a whole number${of} from ${min} to ${max}, got '${text}'`,
    );
  }
  return value;
}

const UNITS = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const;
/** Whole numbers with units, largest first, each at most once (as schedules' `every`). */
const DURATION = /^(?:(\d{1,9})d)?(?:(\d{1,9})h)?(?:(\d{1,9})m)?(?:(\d{1,9})s)?(?:(\d{1,9})ms)?$/;

/**
 * `text` as milliseconds: `30s`, `500ms`, `2m`, `1h30m`, `7d` (whole numbers
 * with the units d, h, m, s, ms, largest first), or a bare whole number of
 * ms; from 1 ms to `max`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./arguments.ts";
 * assert.equal(parseDuration("1h30m", "--expires-in"), 5_400_000);
 * assert.equal(parseDuration("250", "--expires-in"), 250);
 * assert.throws(() => parseDuration("-5s", "--expires-in"), /--expires-in must be a duration like 30s/);
 * ```
 */
export function parseDuration(text: string, what: string, max = MAX_DURATION_MS): number {
  let ms: number;
  if (/^\d{1,16}$/.test(text)) ms = Number(text);
  else {
    const match = text === "" ? null : DURATION.exec(text);
    if (!match) {
      throw new UsageError(
        `${what} must be a duration like 30s, 500ms, 2m, 1h30m or 7d (or a number of ms), ` +
          `got '${text}'`,
      );
    }
    ms = (["d", "h", "m", "s", "ms"] as const)
      .reduce((sum, unit, i) => sum + Number(match[i + 1] ?? 0) * UNITS[unit], 0);
  }
  if (ms < 1 || ms > max) {
    throw new UsageError(`${what} must be from 1 ms to ${max} ms, got '${text}' (${ms} ms)`);
  }
  return ms;
}

/**
 * `text` as a time (ms since the epoch): an ISO date or date and time
 * (`2026-11-29`, `2026-11-29T08:00:00Z`, `2026-11-29 08:00`: without a zone,
 * local time; a date alone is midnight UTC, as `Date.parse` says), or a
 * duration before `now` (`2h`: two hours ago).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseTime } from "./arguments.ts";
 * assert.equal(parseTime("2h", "--since", 10_000_000), 10_000_000 - 7_200_000);
 * assert.equal(parseTime("2026-01-01T00:00:00Z", "--since"), Date.UTC(2026, 0, 1));
 * assert.throws(() => parseTime("yesterday", "--since"), /--since must be a date/);
 * assert.throws(() => parseTime("2026-11-31", "--since"), /--since must be a date that exists, got '2026-11-31': 2026-11 has 30 days/);
 * ```
 */
export function parseTime(text: string, what: string, now = Date.now()): number {
  if (ISO_TIME.test(text)) {
    const problem = calendarProblem(text);
    if (problem) {
      throw new UsageError(`${what} must be a date that exists, got '${text}': ${problem}`);
    }
    const at = Date.parse(text.replace(" ", "T"));
    if (!Number.isNaN(at)) return at;
  } else if (text !== "" && DURATION.test(text)) {
    return now - parseDuration(text, what, Number.MAX_SAFE_INTEGER);
  }
  throw new UsageError(
    `${what} must be a date like 2026-11-29 or 2026-11-29T08:00:00Z, or a time ago like ` +
      `2h or 30m, got '${text}'`,
  );
}

/**
 * `text` as a comma-separated list of non-empty items.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseList } from "./arguments.ts";
 * assert.deepEqual(parseList("a,b", "--after"), ["a", "b"]);
 * assert.throws(() => parseList("a,,b", "--after"), /--after has an empty item/);
 * ```
 */
export function parseList(text: string, what: string): string[] {
  const items = text.split(",").map((item) => item.trim());
  if (items.some((item) => item === "")) {
    throw new UsageError(`${what} has an empty item: give a comma-separated list, got '${text}'`);
  }
  return items;
}

/**
 * `text` as task states, comma-separated.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseStates } from "./arguments.ts";
 * assert.deepEqual(parseStates("failed,expired"), ["failed", "expired"]);
 * assert.throws(() => parseStates("done"), /--state: 'done' is not a task state/);
 * ```
 */
export function parseStates(text: string): TaskState[] {
  return parseList(text, "--state").map((state) => {
    if (!(TASK_STATES as readonly string[]).includes(state)) {
      throw new UsageError(
        `--state: '${state}' is not a task state (states: ${TASK_STATES.join(", ")})`,
      );
    }
    return state as TaskState;
  });
}

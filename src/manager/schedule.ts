/**
 * Schedules: tasks submitted on a clock, `every` a duration or on a `cron`
 * pattern. This module parses and checks them, and runs them through a
 * `Scheduler` that decides when each run starts; submitting the task is the
 * caller's (`run` callback), so nothing here knows the task manager.
 *
 * The rules, in one place:
 * - **The grid.** An `every` schedule runs at the whole multiples of its
 *   period since the Unix epoch (`every: "30m"` at :00 and :30 UTC, `"1d"`
 *   at midnight UTC); a `cron` schedule at the times its pattern names, in its
 *   `timezone` (default: the process's). Each next run is computed from the
 *   grid, never as "the last run + the period", so runs do not drift.
 * - **No overlap.** A run is going from its start until the promise `run`
 *   returned settles. A slot that falls due while the previous run of the
 *   same schedule is still going is skipped (reported to `onSkip`), not
 *   queued: the next run is the next slot.
 * - **Missed slots run once.** Slots that passed while the process was down
 *   (or too busy to fire them on time) are folded into one run: on `start`,
 *   a schedule whose remembered `lastRunAt` is before a slot that has passed
 *   runs once at once (reason `"catch-up"`), however many slots it missed,
 *   then keeps to its grid. A schedule with no memory waits for its first
 *   slot.
 * - **Paused means nothing runs.** A paused schedule (remembered across
 *   restarts through `ScheduleMemory.paused`) fires nothing; `resume`
 *   continues from the next slot and does not catch up. `runNow` runs it
 *   out of turn (still never beside a run that is going) and leaves the grid
 *   as it was.
 *
 * @module
 */
import { Cron } from "croner";
import { MAX_DURATION_MS } from "../task/limits.ts";
import { type Clock, systemClock } from "./clock.ts";

/**
 * The bounds a schedule is checked against: how many a config may have, the
 * longest name, `every`, `cron` and `timezone` texts, and the shortest
 * period (`every` at least 10 ms; at most 2³¹−1 ms, the longest timer).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { SCHEDULE_LIMITS } from "./schedule.ts";
 * assert.equal(SCHEDULE_LIMITS.minEveryMs, 10);
 * assert.equal(SCHEDULE_LIMITS.maxEveryMs, 2 ** 31 - 1);
 * ```
 */
export const SCHEDULE_LIMITS = Object.freeze({
  schedules: 1_000,
  nameChars: 200,
  serviceChars: 200,
  everyChars: 64,
  cronChars: 256,
  timezoneChars: 64,
  minEveryMs: 10,
  maxEveryMs: MAX_DURATION_MS,
});

/**
 * A schedule as a config or `Runtime.start({ schedules })` gives it, the
 * task left to the caller (`T`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSchedule, type ScheduleSpec } from "./schedule.ts";
 * const spec: ScheduleSpec<string> = { name: "hourly", service: "lab", task: "Probe", every: "1h" };
 * assert.equal(parseSchedule(spec).describe(), "every 1h");
 * ```
 */
export type ScheduleSpec<T = unknown> =
  & {
    /** Unique among the schedules: letters, digits, `_ . -`, at most 200 characters. */
    name: string;
    /** The service the task is sent to. */
    service: string;
    /** What to submit; the scheduler passes it to `run` untouched. */
    task: T;
  }
  & (
    | {
      /** A period: `"100ms"`, `"30s"`, `"30m"`, `"2h"`, `"1d"`, `"1h30m"`, or a number of ms. */
      every: string | number;
      cron?: undefined;
      timezone?: undefined;
    }
    | {
      /** A cron pattern of 5 fields (minute first) or 6 (second first), as croner reads it. */
      cron: string;
      /** An IANA time zone such as `"Europe/Paris"`; default: the process's. */
      timezone?: string;
      every?: undefined;
    }
  );

/**
 * A schedule that cannot be used: which one (`'name'`, or `#3` by position
 * when it has no usable name) and why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSchedule, ScheduleError } from "./schedule.ts";
 * assert.throws(
 *   () => parseSchedule({ name: "nightly", service: "lab", task: {}, cron: "0 3 * *" }),
 *   (error) => error instanceof ScheduleError && error.schedule === "nightly",
 * );
 * ```
 */
export class ScheduleError extends Error {
  /** Always `"ScheduleError"`, whatever a bundler does to class names. */
  override name = "ScheduleError";
  /** Create the error for schedule `schedule` (its name, or `#n`). */
  constructor(readonly schedule: string, readonly reason: string) {
    super(`schedule ${/^#\d+$/.test(schedule) ? schedule : `'${schedule}'`}: ${reason}`);
  }
}

const UNITS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };
const DURATION = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const NAME = /^[A-Za-z0-9_][\w.-]*$/;

/**
 * The milliseconds of a duration: whole numbers with units `d`, `h`, `m`,
 * `s`, `ms`, largest first, each at most once (`"1h30m"`, `"100ms"`,
 * `"90m"`), or a whole number of ms. Throws a `TypeError` saying why for
 * anything else, and for a duration outside 10 ms … 2³¹−1 ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseDuration } from "./schedule.ts";
 * assert.equal(parseDuration("1h30m"), 5_400_000);
 * assert.equal(parseDuration("100ms"), 100);
 * assert.equal(parseDuration(250), 250);
 * assert.throws(() => parseDuration("-5m"), /must be a duration like/);
 * assert.throws(() => parseDuration("0s"), /at least 10 ms/);
 * ```
 */
export function parseDuration(value: unknown): number {
  let ms = 0;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new TypeError(`must be a whole number of milliseconds, got ${value}`);
    }
    ms = value;
  } else {
    const match = typeof value === "string" && value.length <= SCHEDULE_LIMITS.everyChars
      ? DURATION.exec(value)
      : null;
    if (!match || value === "") {
      throw new TypeError(
        `must be a duration like "30s", "1h30m" or "100ms" (whole numbers with the units ` +
          `d, h, m, s, ms, largest first) or a number of milliseconds, got ${describeValue(value)}`,
      );
    }
    ["d", "h", "m", "s", "ms"].forEach((unit, i) => {
      if (match[i + 1] !== undefined) ms += Number(match[i + 1]) * UNITS[unit];
    });
  }
  if (ms < SCHEDULE_LIMITS.minEveryMs) {
    throw new TypeError(`must be at least ${SCHEDULE_LIMITS.minEveryMs} ms, got ${ms} ms`);
  }
  if (ms > SCHEDULE_LIMITS.maxEveryMs) {
    throw new TypeError(
      `must be at most ${SCHEDULE_LIMITS.maxEveryMs} ms (about 24.8 days), got ${ms} ms`,
    );
  }
  return ms;
}

/**
 * A checked schedule: its name, service and task, and when it runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSchedule } from "./schedule.ts";
 * const half = parseSchedule({ name: "half", service: "lab", task: "T", every: "30m" });
 * assert.equal(half.nextAfter(Date.UTC(2026, 0, 1, 10, 7)), Date.UTC(2026, 0, 1, 10, 30));
 * const nightly = parseSchedule({
 *   name: "nightly", service: "lab", task: "T", cron: "0 3 * * *", timezone: "UTC",
 * });
 * assert.equal(nightly.nextAfter(Date.UTC(2026, 0, 1, 10)), Date.UTC(2026, 0, 2, 3));
 * assert.equal(nightly.describe(), "cron 0 3 * * * (UTC)");
 * ```
 */
export class Schedule<T = unknown> {
  readonly name: string;
  readonly service: string;
  readonly task: T;
  /** The period in ms, for an `every` schedule. */
  readonly everyMs: number | undefined;
  /** The `every` as given (a number of ms as `"250ms"`). */
  readonly every: string | undefined;
  readonly cron: string | undefined;
  readonly timezone: string | undefined;
  readonly #pattern: Cron | undefined;

  /** Prefer `parseSchedule`, which checks the spec and says what is wrong. */
  constructor(spec: ScheduleSpec<T>, everyMs?: number, pattern?: Cron) {
    this.name = spec.name;
    this.service = spec.service;
    this.task = spec.task;
    this.everyMs = everyMs;
    this.every = everyMs === undefined
      ? undefined
      : typeof spec.every === "number"
      ? `${spec.every}ms`
      : spec.every;
    this.cron = spec.cron;
    this.timezone = spec.timezone;
    this.#pattern = pattern;
  }

  /** The first slot strictly after `time` (ms since the epoch), or `undefined` if none. */
  nextAfter(time: number): number | undefined {
    if (this.everyMs !== undefined) return (Math.floor(time / this.everyMs) + 1) * this.everyMs;
    return this.#pattern?.nextRun(new Date(time))?.getTime();
  }

  /** `"every 30m"` or `"cron 0 3 * * * (Europe/Paris)"`, for logs. */
  describe(): string {
    if (this.every !== undefined) return `every ${this.every}`;
    return `cron ${this.cron}${this.timezone ? ` (${this.timezone})` : ""}`;
  }
}

/**
 * Check one schedule spec (`index` names it in errors when its name is
 * unusable). Throws `ScheduleError` naming it and the reason: a bad name or
 * service, a missing task, both or neither of `every` and `cron`, an `every`
 * that does not parse or is out of bounds, a cron pattern that does not
 * parse or never fires, an unknown time zone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSchedule } from "./schedule.ts";
 * assert.throws(
 *   () => parseSchedule({ name: "fast", service: "lab", task: {}, every: "5ms" }),
 *   /schedule 'fast': every must be at least 10 ms, got 5 ms/,
 * );
 * assert.throws(
 *   () => parseSchedule({ name: "x", service: "lab", task: {}, cron: "0 3 * * *", timezone: "Mars/Base" }),
 *   /unknown time zone "Mars\/Base"/,
 * );
 * ```
 */
export function parseSchedule<T>(spec: ScheduleSpec<T>, index = 0): Schedule<T> {
  const at = `#${index + 1}`;
  if (spec === null || typeof spec !== "object" || Array.isArray(spec)) {
    throw new ScheduleError(at, `expected an object { name, service, task, every | cron }`);
  }
  const { name, service, task, every, cron, timezone } = spec as Record<string, unknown>;
  if (typeof name !== "string" || !NAME.test(name) || name.length > SCHEDULE_LIMITS.nameChars) {
    throw new ScheduleError(
      at,
      `name must be text of letters, digits, _ . - (not starting with . or -), at most ` +
        `${SCHEDULE_LIMITS.nameChars} characters, got ${describeValue(name)}`,
    );
  }
  const fail = (reason: string) => new ScheduleError(name, reason);
  if (
    typeof service !== "string" || service === "" || service.length > SCHEDULE_LIMITS.serviceChars
  ) {
    throw fail(
      `service must be a service name (1 to ${SCHEDULE_LIMITS.serviceChars} characters), ` +
        `got ${describeValue(service)}`,
    );
  }
  if (task === undefined || task === null) throw fail("task is missing");
  if ((every === undefined) === (cron === undefined)) {
    throw fail(
      every === undefined
        ? `needs every (like "30m") or cron (like "0 3 * * *")`
        : "has both every and cron: give one",
    );
  }
  if (every !== undefined) {
    if (timezone !== undefined) throw fail("timezone applies to cron schedules only");
    try {
      return new Schedule(spec, parseDuration(every));
    } catch (error) {
      throw fail(`every ${(error as Error).message}`);
    }
  }
  if (typeof cron !== "string" || cron.length > SCHEDULE_LIMITS.cronChars) {
    throw fail(
      `cron must be a pattern of at most ${SCHEDULE_LIMITS.cronChars} characters, ` +
        `got ${describeValue(cron)}`,
    );
  }
  if (timezone !== undefined) checkTimezone(timezone, fail);
  let pattern: Cron;
  try {
    pattern = new Cron(cron, {
      timezone: timezone as string | undefined,
      mode: "5-or-6-parts",
    });
  } catch (error) {
    throw fail(`cron ${JSON.stringify(cron)} does not parse: ${(error as Error).message}`);
  }
  if (pattern.nextRun() === null) throw fail(`cron ${JSON.stringify(cron)} never fires`);
  return new Schedule(spec, undefined, pattern);
}

function checkTimezone(timezone: unknown, fail: (reason: string) => ScheduleError): void {
  if (typeof timezone !== "string" || timezone.length > SCHEDULE_LIMITS.timezoneChars) {
    throw fail(
      `timezone must be an IANA time zone name such as "Europe/Paris", got ${
        describeValue(timezone)
      }`,
    );
  }
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: timezone });
  } catch {
    throw fail(`unknown time zone ${JSON.stringify(timezone)} (use an IANA name such as "UTC")`);
  }
}

/**
 * Check every schedule of a config: each as `parseSchedule` does, at most
 * 1 000 of them, and no name twice. Throws `ScheduleError` on the first
 * problem, naming the schedule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseSchedules } from "./schedule.ts";
 * const task = { type: "Calibrate", fields: {} };
 * assert.equal(parseSchedules([{ name: "a", service: "lab", task, every: "1h" }]).length, 1);
 * assert.throws(
 *   () =>
 *     parseSchedules([
 *       { name: "a", service: "lab", task, every: "1h" },
 *       { name: "a", service: "lab", task, cron: "0 3 * * *" },
 *     ]),
 *   /schedule 'a': the name is used twice \(#1 and #2\)/,
 * );
 * ```
 */
export function parseSchedules<T>(specs: readonly ScheduleSpec<T>[]): Schedule<T>[] {
  if (!Array.isArray(specs)) {
    throw new ScheduleError("#1", `schedules must be a list, got ${describeValue(specs)}`);
  }
  if (specs.length > SCHEDULE_LIMITS.schedules) {
    throw new ScheduleError(
      `#${SCHEDULE_LIMITS.schedules + 1}`,
      `at most ${SCHEDULE_LIMITS.schedules} schedules, got ${specs.length}`,
    );
  }
  const positions = new Map<string, number>();
  return specs.map((spec, index) => {
    const schedule = parseSchedule<T>(spec, index);
    const first = positions.get(schedule.name);
    if (first !== undefined) {
      throw new ScheduleError(
        schedule.name,
        `the name is used twice (#${first + 1} and #${index + 1})`,
      );
    }
    positions.set(schedule.name, index);
    return schedule;
  });
}

/**
 * One run the scheduler starts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { parseSchedules, type ScheduledRun, Scheduler } from "./schedule.ts";
 * const runs: ScheduledRun[] = [];
 * const scheduler = new Scheduler(
 *   parseSchedules([{ name: "probe", service: "lab", task: "Probe", every: "1m" }]),
 *   { clock: new ManualClock(0), run: (_schedule, run) => void runs.push(run) },
 * );
 * scheduler.start();
 * scheduler.runNow("probe");
 * assert.deepEqual(runs.map((run) => [run.schedule, run.reason]), [["probe", "manual"]]);
 * scheduler.stop();
 * ```
 */
export interface ScheduledRun {
  /** The schedule's name. */
  schedule: string;
  /** The slot it runs for; for `"catch-up"`, the first slot missed; for `"manual"`, the start. */
  dueAt: number;
  /** When the scheduler started it. */
  startedAt: number;
  /** Why it runs: its slot came, it makes up for slots missed while stopped, or `runNow`. */
  reason: "schedule" | "catch-up" | "manual";
}

/**
 * A run not started because the previous run of the same schedule was still going.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { parseSchedules, Scheduler, type ScheduleSkip } from "./schedule.ts";
 * const skips: ScheduleSkip[] = [];
 * const scheduler = new Scheduler(
 *   parseSchedules([{ name: "slow", service: "lab", task: "Probe", every: "1m" }]),
 *   { clock: new ManualClock(0), run: () => new Promise(() => {}), onSkip: (skip) => skips.push(skip) },
 * );
 * scheduler.start();
 * scheduler.runNow("slow");
 * scheduler.runNow("slow"); // the first run is still going
 * assert.deepEqual(skips.map((skip) => skip.reason), ["running"]);
 * scheduler.stop();
 * ```
 */
export interface ScheduleSkip {
  /** The schedule's name. */
  schedule: string;
  /** The slot skipped (for a `runNow`, the time it was asked). */
  dueAt: number;
  /** Why: the previous run was still going. */
  reason: "running";
  /** When the run still going started. */
  runningSince: number;
}

/**
 * A schedule as listings show it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { parseSchedules, Scheduler, type ScheduleStatus } from "./schedule.ts";
 * const scheduler = new Scheduler(
 *   parseSchedules([{ name: "probe", service: "lab", task: "Probe", every: "30s" }]),
 *   { clock: new ManualClock(0), run: () => {} },
 * );
 * scheduler.start();
 * const status: ScheduleStatus | undefined = scheduler.status("probe");
 * assert.equal(status?.state, "scheduled");
 * assert.equal(status?.nextRunAt, 30_000);
 * scheduler.stop();
 * ```
 */
export interface ScheduleStatus {
  /** The schedule's name. */
  name: string;
  /** The service its task is sent to. */
  service: string;
  /** `every` as given, or undefined for a cron schedule. */
  every?: string;
  /** The cron pattern, or undefined for an `every` schedule. */
  cron?: string;
  /** The cron pattern's time zone, if given. */
  timezone?: string;
  /** `stopped` before `start` and after `stop`. */
  state: "scheduled" | "paused" | "stopped";
  /** A run is going (started, its promise not settled yet). */
  running: boolean;
  /** When the last run started (ms since the epoch). */
  lastRunAt?: number;
  /** When the next run is due; none while paused or stopped. */
  nextRunAt?: number;
  /** Runs started since this scheduler started. */
  runs: number;
  /** Slots skipped since this scheduler started (the previous run was still going). */
  skips: number;
}

/**
 * What the scheduler needs remembered across a restart, per schedule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { parseSchedules, Scheduler, type ScheduleMemory } from "./schedule.ts";
 * const remembered: ScheduleMemory = { paused: true };
 * const scheduler = new Scheduler(
 *   parseSchedules([{ name: "probe", service: "lab", task: "Probe", every: "30s" }]),
 *   { clock: new ManualClock(0), run: () => {} },
 * );
 * scheduler.start({ probe: remembered });
 * assert.equal(scheduler.status("probe")?.state, "paused");
 * scheduler.stop();
 * ```
 */
export interface ScheduleMemory {
  /** When its last run started (ms since the Unix epoch). */
  lastRunAt?: number;
  /** Whether it was paused. */
  paused?: boolean;
}

/**
 * What a `Scheduler` is told to do, and whom it tells.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { parseSchedules, Scheduler, type SchedulerOptions } from "./schedule.ts";
 * const submitted: string[] = [];
 * const options: SchedulerOptions<string> = {
 *   clock: new ManualClock(0),
 *   run: (schedule) => void submitted.push(schedule.task),
 * };
 * const scheduler = new Scheduler(
 *   parseSchedules([{ name: "probe", service: "lab", task: "Probe", every: "1s" }]),
 *   options,
 * );
 * scheduler.start();
 * (options.clock as ManualClock).advance(3_000);
 * assert.deepEqual(submitted, ["Probe", "Probe", "Probe"]);
 * scheduler.stop();
 * ```
 */
export interface SchedulerOptions<T> {
  /**
   * Start a run (submit the task). The run is going until the returned
   * promise settles; return nothing for a run that ends at once. A throw or
   * a rejection ends the run and goes to `onError`.
   */
  run(schedule: Schedule<T>, run: ScheduledRun): PromiseLike<unknown> | void;
  /** A slot was skipped: its previous run was still going. */
  onSkip?(skip: ScheduleSkip): void;
  /**
   * A schedule's status changed (a run started or ended, paused, resumed):
   * for live listings, and to remember `lastRunAt` and `paused`.
   */
  onChange?(status: ScheduleStatus): void;
  /** `run` threw or rejected. Default: `console.error`. */
  onError?(schedule: string, error: unknown): void;
  /** Default `systemClock`. */
  clock?: Clock;
}

/** The scheduler's state of one schedule. */
class Slot<T> {
  paused = false;
  runningSince: number | undefined = undefined;
  timer: unknown = undefined;
  nextRunAt: number | undefined = undefined;
  lastRunAt: number | undefined = undefined;
  /** The next fire catches up missed slots. */
  catchUp = false;
  runs = 0;
  skips = 0;
  constructor(readonly schedule: Schedule<T>) {}
}

/**
 * Runs schedules on time: see the module's rules (grid, no overlap, missed
 * slots run once, pause). One timer per active schedule, each at most
 * 2³¹−1 ms ahead (a longer wait is taken in steps).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ManualClock } from "./clock.ts";
 * import { parseSchedules, Scheduler } from "./schedule.ts";
 * const clock = new ManualClock(0);
 * const started: number[] = [];
 * const skipped: number[] = [];
 * let finish = () => {};
 * const scheduler = new Scheduler(
 *   parseSchedules([{ name: "tick", service: "lab", task: "Probe", every: "100ms" }]),
 *   {
 *     clock,
 *     run: (_schedule, run) => {
 *       started.push(run.dueAt);
 *       return new Promise<void>((resolve) => finish = resolve);
 *     },
 *     onSkip: (skip) => skipped.push(skip.dueAt),
 *   },
 * );
 * scheduler.start();
 * clock.advance(250); // runs at 100; at 200 that run is still going
 * assert.deepEqual(started, [100]);
 * assert.deepEqual(skipped, [200]);
 * finish();
 * await Promise.resolve();
 * clock.advance(100);
 * assert.deepEqual(started, [100, 300]);
 * assert.equal(scheduler.status("tick")?.nextRunAt, 400);
 * scheduler.stop();
 * ```
 */
export class Scheduler<T = unknown> {
  readonly #slots = new Map<string, Slot<T>>();
  readonly #options: SchedulerOptions<T>;
  readonly #clock: Clock;
  #state: "new" | "started" | "stopped" = "new";

  /** Schedules from `parseSchedules`; throws `ScheduleError` on a name given twice. */
  constructor(schedules: readonly Schedule<T>[], options: SchedulerOptions<T>) {
    for (const schedule of schedules) {
      if (this.#slots.has(schedule.name)) {
        throw new ScheduleError(schedule.name, "the name is used twice");
      }
      this.#slots.set(schedule.name, new Slot(schedule));
    }
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Arm every schedule, from what was remembered (`lastRunAt`, `paused`, by
   * name; names no longer configured are ignored). A schedule whose
   * remembered last run is before a slot that has passed runs once, at once.
   */
  start(memory: Readonly<Record<string, ScheduleMemory>> = {}): void {
    if (this.#state !== "new") throw new Error("a scheduler starts once");
    this.#state = "started";
    const now = this.#clock.now();
    for (const slot of this.#slots.values()) {
      const remembered = Object.hasOwn(memory, slot.schedule.name)
        ? memory[slot.schedule.name]
        : undefined;
      const lastRunAt = remembered?.lastRunAt;
      if (lastRunAt !== undefined && !Number.isFinite(lastRunAt)) {
        throw new ScheduleError(
          slot.schedule.name,
          `remembered lastRunAt must be a time in ms, got ${describeValue(lastRunAt)}`,
        );
      }
      slot.paused = remembered?.paused === true;
      slot.lastRunAt = lastRunAt;
      if (slot.paused) continue;
      const missed = lastRunAt === undefined ? undefined : slot.schedule.nextAfter(lastRunAt);
      if (missed !== undefined && missed <= now) {
        slot.nextRunAt = missed;
        slot.catchUp = true;
      } else {
        slot.nextRunAt = slot.schedule.nextAfter(Math.max(now, lastRunAt ?? now));
      }
      this.#arm(slot);
    }
  }

  /** Clear every timer. Runs that are going go on; none starts after. */
  stop(): void {
    this.#state = "stopped";
    for (const slot of this.#slots.values()) {
      this.#clock.clearTimer(slot.timer);
      slot.timer = undefined;
      slot.nextRunAt = undefined;
    }
  }

  /** Stop schedule `name` from firing (a run that is going goes on). Throws on an unknown name. */
  pause(name: string): void {
    const slot = this.#slot(name);
    if (slot.paused) return;
    slot.paused = true;
    this.#clock.clearTimer(slot.timer);
    slot.timer = undefined;
    slot.nextRunAt = undefined;
    slot.catchUp = false;
    this.#changed(slot);
  }

  /** Fire schedule `name` again from its next slot (no catch-up). Throws on an unknown name. */
  resume(name: string): void {
    const slot = this.#slot(name);
    if (!slot.paused) return;
    slot.paused = false;
    if (this.#state === "started") {
      slot.nextRunAt = slot.schedule.nextAfter(this.#clock.now());
      this.#arm(slot);
    }
    this.#changed(slot);
  }

  /**
   * Run schedule `name` now, paused or not, leaving its grid as it is.
   * Returns false, and reports the skip, if its previous run is still going.
   * Throws on an unknown name, and before `start` or after `stop`.
   */
  runNow(name: string): boolean {
    const slot = this.#slot(name);
    if (this.#state !== "started") throw new ScheduleError(name, "the scheduler is not running");
    return this.#fire(slot, this.#clock.now(), "manual");
  }

  /** The status of schedule `name`, or undefined if there is none. */
  status(name: string): ScheduleStatus | undefined {
    const slot = this.#slots.get(name);
    return slot && this.#describe(slot);
  }

  /** Every schedule's status, in the order they were given. */
  list(): ScheduleStatus[] {
    return [...this.#slots.values()].map((slot) => this.#describe(slot));
  }

  #slot(name: string): Slot<T> {
    const slot = this.#slots.get(name);
    if (!slot) {
      throw new ScheduleError(String(name).slice(0, SCHEDULE_LIMITS.nameChars), "no such schedule");
    }
    return slot;
  }

  #arm(slot: Slot<T>): void {
    this.#clock.clearTimer(slot.timer);
    slot.timer = undefined;
    if (slot.nextRunAt === undefined) return;
    const delay = Math.min(Math.max(slot.nextRunAt - this.#clock.now(), 0), MAX_DURATION_MS);
    slot.timer = this.#clock.setTimer(() => this.#tick(slot), delay);
  }

  #tick(slot: Slot<T>): void {
    slot.timer = undefined;
    const due = slot.nextRunAt;
    if (due === undefined || slot.paused || this.#state !== "started") return;
    const now = this.#clock.now();
    // Early (a timer may fire a little early) or one step of a wait past the longest timer.
    if (now < due) return this.#arm(slot);
    const reason = slot.catchUp ? "catch-up" : "schedule";
    slot.catchUp = false;
    // From the grid, past any slot that went by while this one was late: those fold into this run.
    slot.nextRunAt = slot.schedule.nextAfter(Math.max(now, due));
    this.#arm(slot);
    if (!this.#fire(slot, due, reason)) this.#changed(slot);
  }

  /** Start a run unless one is going; says whether it started. */
  #fire(slot: Slot<T>, dueAt: number, reason: ScheduledRun["reason"]): boolean {
    const { schedule } = slot;
    if (slot.runningSince !== undefined) {
      slot.skips++;
      this.#options.onSkip?.({
        schedule: schedule.name,
        dueAt,
        reason: "running",
        runningSince: slot.runningSince,
      });
      return false;
    }
    const startedAt = this.#clock.now();
    slot.runningSince = startedAt;
    slot.lastRunAt = startedAt;
    slot.runs++;
    this.#changed(slot);
    const end = () => {
      slot.runningSince = undefined;
      this.#changed(slot);
    };
    const fail = (error: unknown) => {
      end();
      (this.#options.onError ?? reportError)(schedule.name, error);
    };
    try {
      const going = this.#options.run(schedule, {
        schedule: schedule.name,
        dueAt,
        startedAt,
        reason,
      });
      if (going && typeof going.then === "function") going.then(end, fail);
      else end();
    } catch (error) {
      fail(error);
    }
    return true;
  }

  #changed(slot: Slot<T>): void {
    this.#options.onChange?.(this.#describe(slot));
  }

  #describe(slot: Slot<T>): ScheduleStatus {
    const { schedule } = slot;
    const status: ScheduleStatus = {
      name: schedule.name,
      service: schedule.service,
      state: this.#state !== "started" ? "stopped" : slot.paused ? "paused" : "scheduled",
      running: slot.runningSince !== undefined,
      runs: slot.runs,
      skips: slot.skips,
    };
    if (schedule.every !== undefined) status.every = schedule.every;
    if (schedule.cron !== undefined) status.cron = schedule.cron;
    if (schedule.timezone !== undefined) status.timezone = schedule.timezone;
    if (slot.lastRunAt !== undefined) status.lastRunAt = slot.lastRunAt;
    if (slot.nextRunAt !== undefined) status.nextRunAt = slot.nextRunAt;
    return status;
  }
}

function reportError(schedule: string, error: unknown): void {
  console.error(`[zest] schedule '${schedule}': starting its run failed:`, error);
}

function describeValue(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if (typeof value === "number") return String(value);
  return value === null ? "null" : Array.isArray(value) ? "a list" : typeof value;
}

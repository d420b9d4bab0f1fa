import assert from "node:assert/strict";
import { type Clock, ManualClock, systemClock } from "./clock.ts";
import {
  parseDuration,
  parseSchedule,
  parseSchedules,
  Schedule,
  SCHEDULE_LIMITS,
  type ScheduledRun,
  ScheduleError,
  Scheduler,
  type SchedulerOptions,
  type ScheduleSkip,
  type ScheduleSpec,
  type ScheduleStatus,
} from "./schedule.ts";

const MAX_TIMER_MS = 2 ** 31 - 1;

/** A clock whose timers all fire `lateMs` after they are due, as on a busy machine. */
class LateClock implements Clock {
  readonly delays: number[] = [];
  constructor(readonly inner: ManualClock, readonly lateMs: number) {}
  now(): number {
    return this.inner.now();
  }
  setTimer(callback: () => void, delayMs: number): unknown {
    this.delays.push(delayMs);
    return this.inner.setTimer(callback, delayMs + this.lateMs);
  }
  clearTimer(timer: unknown): void {
    this.inner.clearTimer(timer);
  }
}

/**
 * A scheduler on `clock` whose runs are recorded; they end at once when
 * `instant`, or else only when the test `finish`es them.
 */
function harness(
  specs: ScheduleSpec[],
  clock: Clock,
  { instant = false, ...extra }: Partial<SchedulerOptions<unknown>> & { instant?: boolean } = {},
) {
  const runs: ScheduledRun[] = [];
  const skips: ScheduleSkip[] = [];
  const changes: ScheduleStatus[] = [];
  const going = new Map<string, PromiseWithResolvers<void>>();
  const scheduler = new Scheduler(parseSchedules(specs), {
    clock,
    run: (schedule, run) => {
      runs.push(run);
      if (instant) return;
      const gate = Promise.withResolvers<void>();
      going.set(schedule.name, gate);
      return gate.promise;
    },
    onSkip: (skip) => skips.push(skip),
    onChange: (status) => changes.push(status),
    ...extra,
  });
  /** End the run of `name` that is going; resolves once the scheduler has seen it end. */
  const finish = async (name: string) => {
    const gate = going.get(name);
    assert.ok(gate, `no run of ${name} is going`);
    going.delete(name);
    gate.resolve();
    await gate.promise; // the scheduler's own `then` was registered first, so it has run
  };
  return { scheduler, runs, skips, changes, finish };
}

const task = { type: "Calibrate", fields: { qubit: 3 } };

Deno.test("parseDuration reads units largest first, and numbers of ms", () => {
  const cases: [string | number, number][] = [
    ["100ms", 100],
    ["10ms", 10],
    ["30s", 30_000],
    ["30m", 1_800_000],
    ["2h", 7_200_000],
    ["1d", 86_400_000],
    ["1h30m", 5_400_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["90m", 5_400_000],
    ["24d", 2_073_600_000],
    [250, 250],
    [MAX_TIMER_MS, MAX_TIMER_MS],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, String(text));
});

Deno.test("parseDuration refuses what is not a duration in 10 ms … 2^31-1 ms, saying why", () => {
  const cases: [unknown, RegExp][] = [
    ["", /must be a duration like .* got ""/],
    ["abc", /got "abc"/],
    ["1.5h", /whole numbers/],
    ["-5m", /got "-5m"/],
    ["5", /got "5"/],
    ["m", /got "m"/],
    ["1m1h", /largest first/],
    ["1h 30m", /got "1h 30m"/],
    ["30 s", /got "30 s"/],
    ["x".repeat(10_000), /got "x{60}…"/],
    [true, /got boolean/],
    [null, /got null/],
    [{ ms: 5 }, /got object/],
    [["1h"], /got a list/],
    [1.5, /whole number of milliseconds, got 1.5/],
    [Number.NaN, /got NaN/],
    [Infinity, /got Infinity/],
    [0, /at least 10 ms, got 0 ms/],
    [-100, /at least 10 ms, got -100 ms/],
    ["0s", /at least 10 ms, got 0 ms/],
    ["9ms", /at least 10 ms, got 9 ms/],
    ["25d", /at most 2147483647 ms .* got 2160000000 ms/],
    [2 ** 31, /at most 2147483647 ms/],
    ["99999999999999999999d", /at most 2147483647 ms/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => parseDuration(value), message, JSON.stringify(value)?.slice(0, 30));
    assert.throws(() => parseDuration(value), TypeError);
  }
});

Deno.test("parseSchedule refuses bad specs with a ScheduleError naming the schedule and the reason", () => {
  const base = { service: "lab", task };
  // deno-lint-ignore no-explicit-any
  const cases: [any, string, RegExp][] = [
    [null, "#1", /expected an object/],
    [["x"], "#1", /expected an object/],
    [{ ...base, every: "1m" }, "#1", /name must be .* got undefined/],
    [{ ...base, name: "", every: "1m" }, "#1", /name must be .* got ""/],
    [{ ...base, name: "has space", every: "1m" }, "#1", /got "has space"/],
    [{ ...base, name: "-dash", every: "1m" }, "#1", /name must be/],
    [{ ...base, name: "n".repeat(201), every: "1m" }, "#1", /at most 200 characters/],
    [{ name: "a", task, every: "1m" }, "a", /service must be a service name .* got undefined/],
    [{ name: "a", service: "", task, every: "1m" }, "a", /service must be/],
    [{ name: "a", service: "lab", every: "1m" }, "a", /task is missing/],
    [{ ...base, name: "a" }, "a", /needs every \(like "30m"\) or cron/],
    [{ ...base, name: "a", every: "1m", cron: "* * * * *" }, "a", /has both every and cron/],
    [{ ...base, name: "a", every: "1m", timezone: "UTC" }, "a", /timezone applies to cron/],
    [{ ...base, name: "a", every: "soon" }, "a", /every must be a duration like .* got "soon"/],
    [{ ...base, name: "a", every: -5 }, "a", /every must be at least 10 ms, got -5 ms/],
    [{ ...base, name: "a", every: 0 }, "a", /every must be at least 10 ms, got 0 ms/],
    [{ ...base, name: "a", every: "5ms" }, "a", /every must be at least 10 ms/],
    [{ ...base, name: "a", every: "30d" }, "a", /every must be at most 2147483647 ms/],
    [{ ...base, name: "a", cron: 5 }, "a", /cron must be a pattern .* got 5/],
    [{ ...base, name: "a", cron: "0 3 * *" }, "a", /cron "0 3 \* \*" does not parse: .*five, six/],
    [{ ...base, name: "a", cron: "61 * * * *" }, "a", /does not parse: .*minute: 61/],
    [{ ...base, name: "a", cron: "bogus" }, "a", /cron "bogus" does not parse/],
    [{ ...base, name: "a", cron: "0 0 0 1 1 * 2020" }, "a", /does not parse/], // no year field
    [{ ...base, name: "a", cron: "0 0 30 2 *" }, "a", /cron "0 0 30 2 \*" never fires/],
    [
      { ...base, name: "a", cron: "0 3 * * *", timezone: "Mars/Base" },
      "a",
      /unknown time zone "Mars\/Base"/,
    ],
    [
      { ...base, name: "a", cron: "0 3 * * *", timezone: 2 },
      "a",
      /timezone must be an IANA .* got 2/,
    ],
    [{ ...base, name: "a", cron: "x".repeat(300) }, "a", /at most 256 characters/],
  ];
  for (const [spec, schedule, reason] of cases) {
    assert.throws(
      () => parseSchedule(spec),
      (error) => {
        assert.ok(error instanceof ScheduleError, String(error));
        assert.equal(error.schedule, schedule);
        assert.match(error.message, reason);
        assert.ok(error.message.startsWith(`schedule ${schedule === "#1" ? "#1" : `'a'`}: `));
        return true;
      },
      JSON.stringify(spec)?.slice(0, 80),
    );
  }
});

Deno.test("parseSchedules: names unique, a list of at most 1 000, errors by position", () => {
  assert.throws(
    () =>
      parseSchedules([
        { name: "a", service: "lab", task, every: "1h" },
        { name: "b", service: "lab", task, every: "1h" },
        { name: "a", service: "lab", task, cron: "0 3 * * *" },
      ]),
    /schedule 'a': the name is used twice \(#1 and #3\)/,
  );
  assert.throws(
    () =>
      parseSchedules([
        { name: "a", service: "lab", task, every: "1h" },
        // deno-lint-ignore no-explicit-any
        { service: "lab", task, every: "1h" } as any,
      ]),
    /schedule #2: name must be/,
  );
  const many = Array.from(
    { length: SCHEDULE_LIMITS.schedules + 1 },
    (_, i) => ({ name: `s${i}`, service: "lab", task, every: "1h" }),
  );
  assert.throws(() => parseSchedules(many), /at most 1000 schedules, got 1001/);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => parseSchedules({ name: "a" } as any), /schedules must be a list/);
  assert.equal(parseSchedules(many.slice(0, 1_000)).length, 1_000);
});

Deno.test("every runs on the epoch grid; cron in its time zone, 5 or 6 fields", () => {
  const every = parseSchedule({ name: "e", service: "lab", task, every: "30m" });
  assert.ok(every instanceof Schedule);
  assert.equal(every.everyMs, 1_800_000);
  assert.equal(every.describe(), "every 30m");
  const t = Date.UTC(2026, 2, 10, 9, 59, 59, 999);
  assert.equal(every.nextAfter(t), Date.UTC(2026, 2, 10, 10, 0));
  // A slot exactly now is not "after" now: the next one is.
  assert.equal(every.nextAfter(Date.UTC(2026, 2, 10, 10, 0)), Date.UTC(2026, 2, 10, 10, 30));
  assert.equal(parseSchedule({ name: "n", service: "lab", task, every: 250 }).every, "250ms");

  const paris = parseSchedule({
    name: "p",
    service: "lab",
    task,
    cron: "0 3 * * *",
    timezone: "Europe/Paris",
  });
  // 03:00 in Paris is 02:00Z in winter and 01:00Z in summer.
  assert.equal(paris.nextAfter(Date.UTC(2026, 0, 15, 12)), Date.UTC(2026, 0, 16, 2));
  assert.equal(paris.nextAfter(Date.UTC(2026, 6, 15, 12)), Date.UTC(2026, 6, 16, 1));
  const seconds = parseSchedule({ name: "s", service: "lab", task, cron: "*/5 * * * * *" });
  assert.equal(seconds.nextAfter(Date.UTC(2026, 0, 1, 0, 0, 5)), Date.UTC(2026, 0, 1, 0, 0, 10));
  assert.equal(
    seconds.nextAfter(Date.UTC(2026, 0, 1, 0, 0, 4, 500)),
    Date.UTC(2026, 0, 1, 0, 0, 5),
  );
});

Deno.test("runs keep to the grid however late each timer fires (no drift)", () => {
  const start = Date.UTC(2026, 0, 1);
  const clock = new LateClock(new ManualClock(start), 7);
  const { scheduler, runs } = harness(
    [{ name: "tick", service: "lab", task, every: "100ms" }],
    clock,
    { instant: true },
  );
  scheduler.start();
  clock.inner.advance(100_000 + 50);
  assert.equal(runs.length, 1_000);
  runs.forEach((run, i) => {
    assert.equal(run.dueAt, start + (i + 1) * 100);
    assert.equal(
      run.startedAt - run.dueAt,
      7,
      `run ${i} started ${run.startedAt - run.dueAt} ms late`,
    );
    assert.equal(run.reason, "schedule");
  });
  scheduler.stop();
});

Deno.test("a run still going when the next slot is due is not started twice; the skip is reported", async () => {
  const clock = new ManualClock(0);
  const { scheduler, runs, skips, finish } = harness(
    [{ name: "slow", service: "lab", task, every: "100ms" }],
    clock,
  );
  scheduler.start();
  clock.advance(100);
  assert.deepEqual(runs.map((r) => r.dueAt), [100]);
  assert.equal(scheduler.status("slow")?.running, true);
  clock.advance(250); // slots 200, 300 pass while the run is going
  assert.deepEqual(runs.map((r) => r.dueAt), [100]);
  assert.deepEqual(skips, [
    { schedule: "slow", dueAt: 200, reason: "running", runningSince: 100 },
    { schedule: "slow", dueAt: 300, reason: "running", runningSince: 100 },
  ]);
  await finish("slow");
  assert.equal(scheduler.status("slow")?.running, false);
  // The skipped slots are not made up for: the next run is the next slot, 400.
  assert.equal(scheduler.status("slow")?.nextRunAt, 400);
  clock.advance(50);
  assert.deepEqual(runs.map((r) => r.dueAt), [100, 400]);
  assert.deepEqual(
    { runs: scheduler.status("slow")?.runs, skips: scheduler.status("slow")?.skips },
    { runs: 2, skips: 2 },
  );
  scheduler.stop();
});

Deno.test("pause, resume and runNow", async () => {
  const clock = new ManualClock(0);
  const { scheduler, runs, skips, finish, changes } = harness(
    [
      { name: "a", service: "lab", task, every: "1s" },
      { name: "b", service: "lab", task, every: "1s" },
    ],
    clock,
  );
  assert.equal(scheduler.status("a")?.state, "stopped");
  scheduler.start();
  assert.equal(clock.pending, 2);
  scheduler.pause("a");
  assert.equal(clock.pending, 1, "a paused schedule holds no timer");
  assert.deepEqual(
    { state: scheduler.status("a")?.state, next: scheduler.status("a")?.nextRunAt },
    { state: "paused", next: undefined },
  );
  assert.equal(changes.at(-1)?.state, "paused");
  clock.advance(5_500);
  assert.deepEqual(runs.map((r) => `${r.schedule}@${r.dueAt}`), [
    "b@1000",
    // b's first run is still going at 2 000 … 5 000: skipped
  ]);
  assert.equal(skips.length, 4);
  await finish("b");

  // runNow runs a paused schedule, out of turn, and leaves its grid alone.
  assert.equal(scheduler.runNow("a"), true);
  assert.deepEqual(runs.at(-1), {
    schedule: "a",
    dueAt: 5_500,
    startedAt: 5_500,
    reason: "manual",
  });
  assert.equal(scheduler.status("a")?.lastRunAt, 5_500);
  // A second runNow while that run is going is refused and reported.
  assert.equal(scheduler.runNow("a"), false);
  assert.deepEqual(skips.at(-1), {
    schedule: "a",
    dueAt: 5_500,
    reason: "running",
    runningSince: 5_500,
  });
  await finish("a");

  // Resume continues from the next slot: what passed while paused is not caught up.
  clock.advance(200);
  scheduler.resume("a");
  assert.equal(scheduler.status("a")?.nextRunAt, 6_000);
  assert.equal(scheduler.status("a")?.state, "scheduled");
  clock.advance(300);
  assert.deepEqual(runs.filter((r) => r.schedule === "a").map((r) => r.dueAt), [5_500, 6_000]);

  // Pausing twice or resuming a running schedule changes nothing.
  scheduler.resume("a");
  scheduler.pause("b");
  scheduler.pause("b");
  assert.equal(scheduler.status("b")?.state, "paused");

  for (
    const call of [
      () => scheduler.pause("nope"),
      () => scheduler.resume("nope"),
      () => scheduler.runNow("nope"),
    ]
  ) {
    assert.throws(
      call,
      (error) => error instanceof ScheduleError && /'nope': no such schedule/.test(error.message),
    );
  }
  assert.equal(scheduler.status("nope"), undefined);
  scheduler.stop();
  assert.equal(clock.pending, 0);
  assert.throws(() => scheduler.runNow("a"), /not running/);
  assert.throws(() => scheduler.start(), /starts once/);
  assert.deepEqual(scheduler.list().map((s) => s.state), ["stopped", "stopped"]);
});

Deno.test("after a restart a missed run runs once, not once per missed slot, then keeps to the grid", () => {
  const hour = 3_600_000;
  const now = Date.UTC(2026, 0, 10, 12, 20);
  const clock = new ManualClock(now);
  const { scheduler, runs } = harness(
    [
      { name: "missed", service: "lab", task, every: "1h" },
      { name: "recent", service: "lab", task, every: "1h" },
      { name: "paused", service: "lab", task, every: "1h" },
      { name: "fresh", service: "lab", task, every: "1h" },
      { name: "ahead", service: "lab", task, every: "1h" },
      { name: "nightly", service: "lab", task, cron: "0 3 * * *", timezone: "UTC" },
    ],
    clock,
    { instant: true },
  );
  scheduler.start({
    missed: { lastRunAt: now - 30 * hour }, // 30 slots passed since
    recent: { lastRunAt: Date.UTC(2026, 0, 10, 12, 0, 0, 5) }, // ran in this hour's slot
    paused: { lastRunAt: now - 30 * hour, paused: true },
    // fresh: never ran
    ahead: { lastRunAt: Date.UTC(2026, 0, 10, 13, 0, 0, 3) }, // the clock went back since
    nightly: { lastRunAt: Date.UTC(2026, 0, 7, 3) }, // three nights missed
    gone: { lastRunAt: 0 }, // no longer configured: ignored
  });
  clock.advance(0);
  assert.deepEqual(runs, [
    {
      schedule: "missed",
      dueAt: Date.UTC(2026, 0, 9, 7), // the first slot it missed
      startedAt: now,
      reason: "catch-up",
    },
    { schedule: "nightly", dueAt: Date.UTC(2026, 0, 8, 3), startedAt: now, reason: "catch-up" },
  ]);
  const next = Object.fromEntries(scheduler.list().map((s) => [s.name, s.nextRunAt]));
  assert.deepEqual(next, {
    missed: Date.UTC(2026, 0, 10, 13),
    recent: Date.UTC(2026, 0, 10, 13),
    paused: undefined,
    fresh: Date.UTC(2026, 0, 10, 13),
    ahead: Date.UTC(2026, 0, 10, 14), // 13:00 already ran: not twice
    nightly: Date.UTC(2026, 0, 11, 3),
  });
  clock.advanceTo(Date.UTC(2026, 0, 10, 14, 30));
  assert.deepEqual(
    runs.slice(2).map((r) => `${new Date(r.dueAt).toISOString().slice(11, 16)} ${r.schedule}`)
      .sort(),
    [
      "13:00 fresh",
      "13:00 missed",
      "13:00 recent",
      "14:00 ahead",
      "14:00 fresh",
      "14:00 missed",
      "14:00 recent",
    ],
  );
  // A paused schedule stays paused across the restart; resuming it does not catch up either.
  scheduler.resume("paused");
  clock.advance(0);
  assert.equal(runs.filter((r) => r.schedule === "paused").length, 0);
  assert.equal(scheduler.status("paused")?.nextRunAt, Date.UTC(2026, 0, 10, 15));
  scheduler.stop();

  const bad = new Scheduler(parseSchedules([{ name: "x", service: "lab", task, every: "1h" }]), {
    clock,
    run: () => {},
  });
  assert.throws(
    () => bad.start({ x: { lastRunAt: Number.NaN } }),
    /schedule 'x': remembered lastRunAt must be a time in ms, got NaN/,
  );
});

Deno.test("slots that pass while the process is too busy to fire them fold into one run", () => {
  const clock = new LateClock(new ManualClock(0), 350);
  const { scheduler, runs } = harness(
    [{ name: "t", service: "lab", task, every: "100ms" }],
    clock,
    { instant: true },
  );
  scheduler.start();
  clock.inner.advance(1_000);
  // Due at 100, fired at 450 (slots 200…400 fold in); next due 500, fired at 850; next 900.
  assert.deepEqual(runs.map((r) => [r.dueAt, r.startedAt]), [[100, 450], [500, 850]]);
  assert.equal(scheduler.status("t")?.nextRunAt, 900);
  scheduler.stop();
});

Deno.test("a wait longer than the longest timer is taken in steps of at most 2^31-1 ms", () => {
  const start = Date.UTC(2026, 0, 1, 0, 0, 1);
  const clock = new LateClock(new ManualClock(start), 0);
  const { scheduler, runs } = harness(
    [{ name: "yearly", service: "lab", task, cron: "0 0 1 1 *", timezone: "UTC" }],
    clock,
    { instant: true },
  );
  scheduler.start();
  clock.inner.advanceTo(Date.UTC(2027, 0, 1) - 1);
  assert.equal(runs.length, 0);
  clock.inner.advance(1);
  assert.deepEqual(runs.map((r) => r.dueAt), [Date.UTC(2027, 0, 1)]);
  assert.ok(clock.delays.length > 10);
  assert.ok(
    clock.delays.every((delay) => delay >= 0 && delay <= MAX_TIMER_MS),
    String(clock.delays),
  );
  scheduler.stop();
});

Deno.test("a run that throws or rejects ends, is reported, and the schedule goes on", async () => {
  const clock = new ManualClock(0);
  const errors: string[] = [];
  let calls = 0;
  const rejected = Promise.withResolvers<void>();
  const scheduler = new Scheduler(
    parseSchedules([{ name: "flaky", service: "lab", task, every: "1s" }]),
    {
      clock,
      run: () => {
        calls++;
        if (calls === 1) throw new Error("queue full");
        if (calls === 2) return rejected.promise;
      },
      onError: (name, error) => errors.push(`${name}: ${(error as Error).message}`),
    },
  );
  scheduler.start();
  clock.advance(1_000);
  assert.equal(scheduler.status("flaky")?.running, false);
  clock.advance(1_000);
  assert.equal(scheduler.status("flaky")?.running, true);
  rejected.reject(new Error("refused"));
  await rejected.promise.catch(() => {});
  assert.equal(scheduler.status("flaky")?.running, false);
  clock.advance(1_000);
  assert.equal(calls, 3);
  assert.deepEqual(errors, ["flaky: queue full", "flaky: refused"]);
  scheduler.stop();
});

Deno.test("status and onChange carry what listings show and what a store remembers", async () => {
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  const { scheduler, changes, finish } = harness(
    [
      { name: "e", service: "lab", task, every: "1h30m" },
      { name: "c", service: "kernel", task, cron: "0 3 * * *", timezone: "Europe/Paris" },
    ],
    clock,
  );
  scheduler.start();
  assert.deepEqual(scheduler.list(), [
    {
      name: "e",
      service: "lab",
      every: "1h30m",
      state: "scheduled",
      running: false,
      nextRunAt: Date.UTC(2026, 0, 1, 1, 30),
      runs: 0,
      skips: 0,
    },
    {
      name: "c",
      service: "kernel",
      cron: "0 3 * * *",
      timezone: "Europe/Paris",
      state: "scheduled",
      running: false,
      nextRunAt: Date.UTC(2026, 0, 1, 2),
      runs: 0,
      skips: 0,
    },
  ]);
  clock.advanceTo(Date.UTC(2026, 0, 1, 1, 30));
  assert.deepEqual(changes.at(-1), {
    name: "e",
    service: "lab",
    every: "1h30m",
    state: "scheduled",
    running: true,
    lastRunAt: Date.UTC(2026, 0, 1, 1, 30),
    nextRunAt: Date.UTC(2026, 0, 1, 3),
    runs: 1,
    skips: 0,
  });
  await finish("e");
  assert.equal(changes.at(-1)?.running, false);
  scheduler.stop();
});

Deno.test("drift over 100 runs every 100 ms with the real clock (printed, not asserted)", async () => {
  const count = 100;
  const late: number[] = [];
  const done = Promise.withResolvers<void>();
  const wall = () => performance.timeOrigin + performance.now();
  const scheduler = new Scheduler(
    parseSchedules([{ name: "drift", service: "lab", task, every: "100ms" }]),
    {
      clock: systemClock,
      run: (_s, run) => {
        late.push(wall() - run.dueAt);
        if (late.length === count) done.resolve();
      },
    },
  );
  // Beside it, the naive way: each timer set for "now + 100 ms" when the last fired.
  const naive: number[] = [];
  const naiveStart = wall();
  const naiveDone = Promise.withResolvers<void>();
  const step = () => {
    naive.push(wall());
    if (naive.length === count) naiveDone.resolve();
    else setTimeout(step, 100);
  };
  setTimeout(step, 100);
  scheduler.start();
  await Promise.all([done.promise, naiveDone.promise]);
  scheduler.stop();
  const sorted = [...late].sort((a, b) => a - b);
  const mean = late.reduce((a, b) => a + b, 0) / count;
  const fmt = (ms: number) => ms.toFixed(2);
  console.log(
    `schedule drift, ${count} runs every 100 ms (start − due, ms): ` +
      `first ${fmt(late[0])}, last ${fmt(late[count - 1])}, mean ${fmt(mean)}, ` +
      `median ${fmt(sorted[count >> 1])}, p95 ${fmt(sorted[Math.floor(count * 0.95)])}, ` +
      `max ${fmt(sorted[count - 1])}`,
  );
  console.log(
    `naive "now + 100 ms" chain: after ${count} runs it is ` +
      `${fmt(naive[count - 1] - naiveStart - count * 100)} ms behind its grid`,
  );
});

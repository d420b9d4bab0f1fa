/**
 * The runtime's schedules: each submits its task on its clock through the
 * manager (so a scheduled task is a task like any other, with a record that
 * names its schedule), never twice at once, and remembers its last run and
 * whether it is paused in the store, so a restart runs a missed slot once.
 *
 * @module
 */
import { Task } from "../task/define.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import { parseSchedules, type Schedule, Scheduler, type ScheduleStatus } from "./schedule.ts";
import type { TaskStore } from "./store.ts";
import type { OutcomeSink, SubmitRequest } from "./types.ts";

/**
 * What a scheduled run submits, when it is not a `Task` (from
 * `Type.create`): a type and fields, validated when the runtime starts, and
 * the request's options.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScheduleConfig, ScheduledTask } from "./schedules.ts";
 * const task: ScheduledTask = { type: "Calibrate", fields: { qubit: "q0" }, priority: 10 };
 * const nightly: ScheduleConfig = { name: "nightly", service: "lab", task, cron: "0 3 * * *" };
 * assert.equal(nightly.task, task);
 * ```
 */
export interface ScheduledTask {
  /** The task type's name. */
  type: string;
  /** Its fields (default `{}`). */
  fields?: unknown;
  /** Free-form metadata kept on each run's record. */
  attributes?: Record<string, unknown>;
  /** Overrides the type's timeout. */
  timeoutMs?: number;
  /** Serial tasks: higher runs first. */
  priority?: number;
  /** A run still queued this long after its slot ends `expired`. */
  expiresInMs?: number;
}

/**
 * A schedule as a config or `Runtime.start({ schedules })` gives it:
 * `{ name, service, task, every: "30m" }` or `{ name, service, task, cron:
 * "0 3 * * *", timezone? }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { Service } from "../service/service.ts";
 * import { defineTask } from "../task/define.ts";
 * import type { ScheduleConfig } from "./schedules.ts";
 * const MaintainNode = defineTask("MaintainNode", {
 *   schema: z.object({ nodeId: z.string() }),
 *   parallel: false,
 * });
 * const maintained: string[] = [];
 * const calibration = new Service("calibration")
 *   .registerHandler(MaintainNode, ({ nodeId }) => void maintained.push(nodeId));
 * const nightly: ScheduleConfig = {
 *   name: "nightly-q0",
 *   service: "calibration",
 *   task: MaintainNode.create({ nodeId: "q0_rabi" }),
 *   cron: "0 3 * * *",
 *   timezone: "Europe/Paris",
 * };
 * const runtime = await Runtime.start({ services: [calibration], schedules: [nightly] });
 * const client = runtime.client();
 * const ended = Promise.withResolvers<string>();
 * client.watch((event) => {
 *   if (event.kind === "task" && event.record.state === "succeeded") ended.resolve(event.record.id);
 * });
 * await client.runSchedule("nightly-q0"); // now, besides 03:00 Paris time
 * const taskId = await ended.promise;
 * assert.deepEqual(maintained, ["q0_rabi"]);
 * assert.equal((await client.status(taskId))?.schedule, "nightly-q0");
 * await runtime.stop();
 * ```
 */
export type ScheduleConfig =
  & { name: string; service: string; task: Task | ScheduledTask }
  & ({ every: string | number; cron?: undefined; timezone?: undefined } | {
    cron: string;
    timezone?: string;
    every?: undefined;
  });

/**
 * A schedule as listings show it: its state, last and next run, runs and
 * skips (see `ScheduleStatus`), and the task type it submits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ScheduleInfo } from "./schedules.ts";
 * const due = (schedule: ScheduleInfo, now: number) =>
 *   schedule.state === "scheduled" && (schedule.nextRunAt ?? Infinity) <= now;
 * const probe: ScheduleInfo = {
 *   name: "probe",
 *   service: "lab",
 *   type: "Probe",
 *   every: "30s",
 *   state: "scheduled",
 *   running: false,
 *   nextRunAt: 30_000,
 *   runs: 0,
 *   skips: 0,
 * };
 * assert.equal(due(probe, 60_000), true);
 * ```
 */
export type ScheduleInfo = ScheduleStatus & { type: string };

/**
 * What the schedules need of the manager.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import { type ScheduleHost, Schedules } from "./schedules.ts";
 * const submitted: string[] = [];
 * const host: ScheduleHost = {
 *   submit: (request, sink) => {
 *     submitted.push(`${request.schedule}: ${request.type}`);
 *     sink.accepted?.("t1");
 *     sink.settled({ status: "ok", id: "t1", result: null });
 *   },
 *   check: () => {},
 *   skipped: () => {},
 *   changed: () => {},
 *   store: new MemoryTaskStore(),
 * };
 * const schedules = new Schedules(
 *   [{ name: "probe", service: "lab", task: { type: "Probe" }, every: "1h" }],
 *   host,
 * );
 * await schedules.start();
 * schedules.control("probe", "run");
 * assert.deepEqual(submitted, ["probe: Probe"]);
 * schedules.stop();
 * ```
 */
export interface ScheduleHost {
  /** Submit a run's task, as a client would. */
  submit(request: SubmitRequest, sink: OutcomeSink): void;
  /** Check a request as admission would (throws the refusal), at start. */
  check(request: SubmitRequest): void;
  /** A run was skipped while `taskId` (the run still going) ran: say so on its record. */
  skipped(taskId: string, message: string): void;
  /** A schedule's status changed. */
  changed(status: ScheduleInfo): void;
  /** Where each schedule's last run and pause are kept across restarts. */
  readonly store: TaskStore;
}

/** Where the schedules keep what a restart needs. */
const MEMORY = "schedules";

/** The request a schedule's run submits. */
function requestOf(schedule: Schedule<Task | ScheduledTask>): SubmitRequest {
  const { task, service, name } = schedule;
  if (task instanceof Task) {
    return { service, type: task.type, fields: task.fields, task, schedule: name };
  }
  const { type, fields, ...options } = task;
  return { ...options, service, type, fields: fields ?? {}, schedule: name };
}

/**
 * The schedules of one runtime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import { Schedules } from "./schedules.ts";
 * const store = new MemoryTaskStore();
 * const schedules = new Schedules([
 *   { name: "probe", service: "lab", task: { type: "Probe" }, every: "30s" },
 * ], { submit: () => {}, check: () => {}, skipped: () => {}, changed: () => {}, store });
 * await schedules.start();
 * assert.equal(schedules.control("probe", "pause").state, "paused");
 * assert.deepEqual(schedules.list().map((info) => [info.name, info.type]), [["probe", "Probe"]]);
 * schedules.stop();
 * ```
 */
export class Schedules {
  readonly #scheduler: Scheduler<Task | ScheduledTask>;
  readonly #host: ScheduleHost;
  /** The task of each run still going, by schedule name. */
  readonly #running = new Map<string, string>();
  readonly #schedules: Schedule<Task | ScheduledTask>[];
  #stopped = false;

  /** Check every schedule (a `ScheduleError` names the one that is wrong and why). */
  constructor(configs: readonly ScheduleConfig[], host: ScheduleHost) {
    this.#host = host;
    this.#schedules = parseSchedules(configs);
    this.#scheduler = new Scheduler(this.#schedules, {
      run: (schedule) => this.#run(schedule),
      onSkip: (skip) => {
        const taskId = this.#running.get(skip.schedule);
        if (taskId) {
          host.skipped(
            taskId,
            `schedule '${skip.schedule}': the run due at ${
              new Date(skip.dueAt).toISOString()
            } was skipped: this run was still going`,
          );
        }
      },
      onChange: (status) => {
        host.changed(this.#info(status));
        this.#remember();
      },
      onError: (name, error) => {
        console.error(`[zest] schedule '${name}' could not submit its task:`, error);
      },
    });
  }

  /**
   * Check that each schedule's task would be accepted (service, type,
   * fields), then arm the schedules from what the store remembers.
   */
  async start(): Promise<void> {
    for (const schedule of this.#schedules) {
      try {
        this.#host.check(requestOf(schedule));
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        throw new Error(`schedule '${schedule.name}': its task is refused: ${reason}`);
      }
    }
    const remembered = await this.#host.store.getMeta(MEMORY);
    this.#scheduler.start(remembered ? JSON.parse(remembered) : {});
  }

  /**
   * Disarm every schedule; runs going on end as their tasks do. What the
   * store remembers stays as it was (a schedule paused stays paused).
   */
  stop(): void {
    this.#stopped = true;
    this.#scheduler.stop();
  }

  /** Every schedule's status. */
  list(): ScheduleInfo[] {
    return this.#scheduler.list().map((status) => this.#info(status));
  }

  /**
   * Pause, resume or run a schedule now; its status after. Throws
   * `ScheduleError` for an unknown name.
   */
  control(name: string, action: "pause" | "resume" | "run"): ScheduleInfo {
    if (action === "pause") this.#scheduler.pause(name);
    else if (action === "resume") this.#scheduler.resume(name);
    else this.#scheduler.runNow(name);
    return this.#info(this.#scheduler.status(name) as ScheduleStatus);
  }

  #info(status: ScheduleStatus): ScheduleInfo {
    const schedule = this.#schedules.find((each) => each.name === status.name);
    return { ...status, type: schedule ? requestOf(schedule).type : "" };
  }

  /** Submit the schedule's task; the run goes on until the task ends. */
  #run(schedule: Schedule<Task | ScheduledTask>): Promise<TaskOutcome | undefined> {
    const { promise, resolve, reject } = Promise.withResolvers<TaskOutcome | undefined>();
    this.#host.submit(requestOf(schedule), {
      accepted: (id) => this.#running.set(schedule.name, id),
      settled: (outcome) => {
        this.#running.delete(schedule.name);
        resolve(outcome);
      },
      refused: (error) => {
        this.#running.delete(schedule.name);
        reject(error);
      },
    });
    return promise;
  }

  /** Keep each schedule's last run and pause in the store, for the next start. */
  #remember(): void {
    // Stopped, every schedule says "stopped": that is not what to remember.
    if (this.#stopped) return;
    const memory: Record<string, { lastRunAt?: number; paused?: boolean }> = {};
    for (const status of this.#scheduler.list()) {
      memory[status.name] = { lastRunAt: status.lastRunAt, paused: status.state === "paused" };
    }
    this.#host.store.putMeta(MEMORY, JSON.stringify(memory));
  }
}

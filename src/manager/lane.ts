/**
 * The manager's view of each service (its lane: the serial queue, the task
 * holding it, what runs), and of each task it has not finished with.
 *
 * @module
 */
import type { Deadline } from "../actor/mod.ts";
import type { TaskType } from "../task/define.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskControl } from "../task/protocol.ts";
import type { TaskRecord } from "../task/record.ts";
import { type LaneHandle, PriorityLane } from "./priority_lane.ts";
import type { OutcomeSink, ServiceEndpoint, ServiceInfo, StuckTask } from "./types.ts";

/**
 * A task not handed to a handler: waiting for its dependencies, or queued
 * in its service's serial lane. Its record, who submitted it, and what
 * removes it early (its place in the lane, its deadline).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PendingTask } from "./lane.ts";
 * import { EMPTY_LOG, type TaskRecord } from "../task/record.ts";
 * const record: TaskRecord = {
 *   id: "a",
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: {},
 *   attributes: {},
 *   parallel: false,
 *   state: "queued",
 *   attempts: 0,
 *   createdAt: Date.now(),
 *   log: EMPTY_LOG,
 * };
 * const pending = new PendingTask(record, undefined); // recovered: nobody to tell
 * assert.equal(pending.handle, undefined); // until it joins a lane
 * ```
 */
export class PendingTask {
  /** Its place in the serial lane, once it waits there. */
  handle: LaneHandle | undefined = undefined;
  /** Ends it `expired` if it has not started by then. */
  expiry: Deadline | undefined = undefined;

  constructor(
    readonly record: TaskRecord,
    /** Who submitted it (none for a task recovered after a restart). */
    readonly sink: OutcomeSink | undefined,
  ) {}
}

/**
 * A task a handler has been given: a parallel one, or the serial one holding
 * its service (retries included).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { LiveTask, ServiceLane } from "./lane.ts";
 * import { defineTask } from "../task/define.ts";
 * import { TaskControl } from "../task/protocol.ts";
 * import { EMPTY_LOG, type TaskRecord } from "../task/record.ts";
 * const Calibrate = defineTask("Calibrate", { schema: z.object({}), parallel: false });
 * const lane = new ServiceLane({
 *   name: "lab",
 *   ref: { tell: () => true, isAlive: true, name: "service:lab" },
 *   resolve: () => Calibrate,
 *   describe: () => ({ kind: "service", taskTypes: [] }),
 * });
 * const record: TaskRecord = {
 *   id: "a",
 *   type: "Calibrate",
 *   service: "lab",
 *   fields: {},
 *   attributes: {},
 *   parallel: false,
 *   state: "running",
 *   attempts: 1,
 *   createdAt: Date.now(),
 *   log: EMPTY_LOG,
 * };
 * const live = new LiveTask(record, Calibrate, lane, undefined);
 * const busy = () => live.control !== undefined; // a handler works on it now
 * assert.equal(busy(), false);
 * live.control = new TaskControl();
 * assert.equal(busy(), true);
 * ```
 */
export class LiveTask {
  /**
   * The abort control of the attempt whose handler has not reported
   * `finished` yet; undefined while no handler works on the task.
   */
  control: TaskControl | undefined = undefined;
  /** Whether the attempt of `control` was handed to the service (its record was durable). */
  dispatched = false;
  timeout: Deadline | undefined = undefined;
  /** Waiting for a retry; its timer, and whether it fired while the old attempt ran on. */
  retry: { timer: Deadline; due: boolean } | undefined = undefined;
  /**
   * Set when the task was told to stop (timeout, cancel, stop): the outcome
   * it ends with, given the handler's own report (what a kernel printed)
   * if that comes within the grace period; else it ends without it.
   */
  ending: { outcome: TaskOutcome; grace: Deadline } | undefined = undefined;
  /** Its handler's log lines are saved at most this often: the end of the interval (see `TaskFlow.log`). */
  logSave: Deadline | undefined = undefined;
  /** Lines came since the last save, within the interval. */
  logUnsaved = false;

  constructor(
    readonly record: TaskRecord,
    readonly type: TaskType,
    readonly lane: ServiceLane,
    /** Who submitted the task, until told the outcome. */
    public sink: OutcomeSink | undefined,
  ) {}
}

/**
 * One service's routing state: the serial tasks waiting (by priority, FIFO
 * within one), the serial task holding the service, the count of running
 * handlers, and whether a handler that ignored its end holds the lane.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServiceLane } from "./lane.ts";
 * const lane = new ServiceLane({
 *   name: "lab",
 *   ref: { tell: () => true, isAlive: true, name: "service:lab" },
 *   resolve: () => undefined,
 *   describe: () => ({ kind: "service", taskTypes: [] }),
 * });
 * assert.deepEqual(lane.describe(), {
 *   name: "lab",
 *   kind: "service",
 *   taskTypes: [],
 *   state: "running",
 *   queued: 0,
 *   running: 0,
 * });
 * ```
 */
export class ServiceLane {
  stopped = false;
  readonly waiting = new PriorityLane<PendingTask>();
  /** The serial task holding the service, until its handler returns (or it is released). */
  holder: LiveTask | undefined = undefined;
  running = 0;
  stuck: StuckTask | undefined = undefined;

  constructor(readonly endpoint: ServiceEndpoint) {}

  /** The service as clients see it. */
  describe(): ServiceInfo {
    const info: ServiceInfo = {
      name: this.endpoint.name,
      ...this.endpoint.describe(),
      state: this.stopped ? "stopped" : this.stuck ? "stuck" : "running",
      queued: this.waiting.length,
      running: this.running,
    };
    if (this.stuck) info.stuck = this.stuck;
    return info;
  }
}

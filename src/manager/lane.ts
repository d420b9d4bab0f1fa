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
 * import { PendingTask } from "./lane.ts";
 * import type { TaskRecord } from "../task/record.ts";
 * declare const record: TaskRecord;
 * const pending = new PendingTask(record, undefined);
 * pending.handle; // undefined until it joins a lane
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
 * import { LiveTask } from "./lane.ts";
 * declare const live: LiveTask;
 * const busy = live.control !== undefined; // a handler works on it now
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
 * import { ServiceLane } from "./lane.ts";
 * import type { ServiceEndpoint } from "./types.ts";
 * declare const endpoint: ServiceEndpoint;
 * const lane = new ServiceLane(endpoint);
 * lane.describe().queued; // 0
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

/**
 * The manager's contracts: with the services below it (`ServiceEndpoint`),
 * and with whatever carries tasks to it from clients above
 * (`SubmitRequest`, `OutcomeSink`, `TaskEvent`). The transports of
 * `src/transport/` build their port on these.
 *
 * @module
 */
import type { ServiceDescription, TaskOutput, TaskRun } from "../task/protocol.ts";
import type { ScheduleInfo } from "./schedules.ts";
import type { Task, TaskType } from "../task/define.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskLogEntry, TaskProgress, TaskRecordSummary } from "../task/record.ts";

export type { TaskBrief, TaskRecordSummary } from "../task/record.ts";

/**
 * What the manager needs to know of a service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ServiceEndpoint } from "./types.ts";
 * const idle: ServiceEndpoint = {
 *   name: "idle",
 *   ref: { tell: () => true, isAlive: true, name: "service:idle" },
 *   resolve: () => undefined,
 *   describe: () => ({ kind: "service", taskTypes: [] }),
 * };
 * assert.equal(idle.resolve("Anything"), undefined);
 * ```
 */
export interface ServiceEndpoint {
  readonly name: string;
  /** Where runs are sent: the service's actor. */
  readonly ref: { tell(run: TaskRun): boolean; readonly isAlive: boolean; readonly name: string };
  /** The type named `typeName` if this service handles it. */
  resolve(typeName: string): TaskType | undefined;
  /** Static and live facts for listings (kernel status, …). */
  describe(): ServiceDescription;
  /**
   * Timeout of this service's tasks when neither the request nor the task
   * type sets one (kernel services set one: a lost reply must not hold the
   * kernel for ever). At most 2³¹−1 ms.
   */
  readonly taskTimeoutMs?: number;
}

/**
 * A serial lane held by a handler that did not return after its task was
 * ended (timeout, cancel): the instrument behind it may still be busy, so
 * the lane stays held until the handler returns or an operator releases it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StuckTask } from "./types.ts";
 * const stuck: StuckTask = { taskId: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d", since: Date.now() };
 * assert.ok(Date.now() - stuck.since < 60_000);
 * ```
 */
export interface StuckTask {
  /** The task whose handler holds the lane. */
  taskId: string;
  /** Since when (ms since the Unix epoch): the end of the grace period. */
  since: number;
}

/**
 * A service as clients see it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ServiceInfo } from "./types.ts";
 * const busy = (service: ServiceInfo) => service.queued + service.running > 0;
 * const lab: ServiceInfo = {
 *   name: "lab",
 *   kind: "service",
 *   taskTypes: [],
 *   state: "running",
 *   queued: 2,
 *   running: 1,
 * };
 * assert.equal(busy(lab), true);
 * ```
 */
export interface ServiceInfo extends ServiceDescription {
  /** The service's name. */
  name: string;
  /** `stuck`: its serial lane is held by a handler that ignored its end (see `stuck`). */
  state: "running" | "stopped" | "stuck";
  /** Serial tasks waiting. */
  queued: number;
  /** Tasks running now. */
  running: number;
  /** Set while the serial lane is held by a handler that ignored its end. */
  stuck?: StuckTask;
}

/**
 * A task as a client submits it. Every bound is checked by admission.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask } from "../task/define.ts";
 * import { Client } from "../transport/client.ts";
 * import type { TaskPort } from "../transport/port.ts";
 * import type { SubmitRequest } from "./types.ts";
 * const MaintainNode = defineTask("MaintainNode", {
 *   schema: z.object({ nodeId: z.string() }),
 *   parallel: false,
 * });
 * const sent: SubmitRequest[] = [];
 * const port = {
 *   submit(request: SubmitRequest, sink) {
 *     sent.push(request);
 *     sink.accepted?.("7d0e…");
 *   },
 * } as Pick<TaskPort, "submit"> as TaskPort;
 * await new Client(port).request("calibration", MaintainNode.create({ nodeId: "q0_rabi" }), {
 *   priority: 5,
 *   key: "nightly-q0",
 * });
 * assert.deepEqual({ ...sent[0], task: undefined }, {
 *   service: "calibration",
 *   type: "MaintainNode",
 *   fields: { nodeId: "q0_rabi" },
 *   priority: 5,
 *   key: "nightly-q0",
 *   task: undefined,
 * });
 * ```
 */
export interface SubmitRequest {
  /** The service to run it. */
  service: string;
  /** Task type name. */
  type: string;
  /** Unvalidated fields, or the fields of `task` when given. */
  fields: unknown;
  /** Free-form metadata kept on the record (at most 16 KiB of JSON). */
  attributes?: Record<string, unknown>;
  /** Overrides the type's timeout (above 0, at most 2³¹−1 ms). */
  timeoutMs?: number;
  /** Serial tasks: higher runs first, FIFO within a priority (an integer, −1000 to 1000). */
  priority?: number;
  /**
   * Idempotency key: while the first task submitted with it is retained, the
   * same key with the same fields answers that task's id; with other fields
   * it is refused (`TaskConflictError`).
   */
  key?: string;
  /** Run only once these tasks have ended. */
  after?: readonly string[];
  /** If a task of `after` fails, is cancelled or expires: `"cancel"` this one (default) or `"run"` it. */
  onDependencyFailure?: "cancel" | "run";
  /** Still queued (or waiting) this long after submission: it ends `expired`. */
  expiresInMs?: number;
  /** An already-validated task, in-process only: skips a second validation. */
  task?: Task;
  /** The task whose handler submits this one. */
  parent?: string;
  /** The task this one re-runs. */
  rerunOf?: string;
  /** The schedule that submits it. */
  schedule?: string;
}

/**
 * Where the manager sends a submitted task's id and outcome.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../runtime.ts";
 * import { Service } from "../service/service.ts";
 * import type { OutcomeSink } from "./types.ts";
 * const runtime = await Runtime.start({ services: [new Service("idle")] });
 * const refused = Promise.withResolvers<Error>();
 * const sink: OutcomeSink = {
 *   accepted: () => assert.fail("no such task type: no id"),
 *   settled: () => assert.fail("never ran"),
 *   refused: refused.resolve,
 * };
 * runtime.client().port.submit({ service: "idle", type: "Nope", fields: {} }, sink);
 * assert.equal((await refused.promise).name, "UnknownTaskTypeError");
 * await runtime.stop();
 * ```
 */
export interface OutcomeSink {
  /**
   * The task was given an id (called first, once, unless refused), once the
   * task is in the store: with a durable store, on disk.
   */
  accepted?(id: string): void;
  /** The task ended. */
  settled(outcome: TaskOutcome): void;
  /**
   * The task was not accepted, and has no id: a typed error says why
   * (`TaskValidationError`, `UnknownServiceError`, `UnknownTaskTypeError`,
   * `UnknownTaskError`, `TaskConflictError`, `QueueFullError`,
   * `RuntimeStoppingError`, `ServiceStoppedError`); or, for `wait`, the id
   * is unknown.
   */
  refused(error: Error): void;
}

/**
 * A graph of tasks submitted at once, by names of the caller's choosing:
 * `after` names other tasks of the graph (or ids of tasks that exist).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { Service } from "../service/service.ts";
 * import { defineTask } from "../task/define.ts";
 * import type { GraphRequest } from "./types.ts";
 * const MaintainNode = defineTask("MaintainNode", {
 *   schema: z.object({ nodeId: z.string() }),
 *   parallel: false,
 * });
 * const order: string[] = [];
 * const calibration = new Service("calibration")
 *   .registerHandler(MaintainNode, ({ nodeId }) => void order.push(nodeId));
 * const runtime = await Runtime.start({ services: [calibration] });
 * const graph: GraphRequest = {
 *   rabi: {
 *     service: "calibration",
 *     type: "MaintainNode",
 *     fields: { nodeId: "q0_rabi" },
 *     after: ["resonator"],
 *   },
 *   resonator: { service: "calibration", type: "MaintainNode", fields: { nodeId: "q0_res" } },
 * };
 * const ids = await runtime.client().port.submitGraph(graph);
 * await runtime.client().outcome(ids.rabi);
 * assert.deepEqual(order, ["q0_res", "q0_rabi"]);
 * await runtime.stop();
 * ```
 */
export type GraphRequest = Record<string, Omit<SubmitRequest, "task" | "parent" | "schedule">>;

/**
 * A change, for watchers and the dashboard: a task's state (a summary of
 * its record), a line of its log, its progress, output it produced while
 * running, or a service's state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { Service } from "../service/service.ts";
 * import { defineTask } from "../task/define.ts";
 * import type { TaskEvent } from "./types.ts";
 * const Ping = defineTask("Ping", { schema: z.object({}), parallel: true });
 * const runtime = await Runtime.start({
 *   services: [new Service("lab").registerHandler(Ping, () => "pong")],
 * });
 * const client = runtime.client();
 * const states: string[] = [];
 * const stop = client.watch((event: TaskEvent) => {
 *   if (event.kind === "task") states.push(event.record.state);
 * });
 * await client.execute("lab", Ping.create({}));
 * stop();
 * assert.equal(states.at(-1), "succeeded");
 * await runtime.stop();
 * ```
 */
export type TaskEvent =
  | { kind: "task"; record: TaskRecordSummary }
  | { kind: "log"; id: string; entry: TaskLogEntry }
  | { kind: "progress"; id: string; progress: TaskProgress }
  | { kind: "output"; id: string; output: TaskOutput }
  | { kind: "service"; service: ServiceInfo }
  | { kind: "schedule"; schedule: ScheduleInfo }
  | { kind: "removed"; id: string };

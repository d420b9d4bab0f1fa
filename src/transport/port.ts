/**
 * The port: what a `Client` talks to, whatever carries it — the manager in
 * this process, a server over a WebSocket, a cluster over NATS. Each
 * transport implements it once; `Client` builds the convenient API on top.
 *
 * @module
 */
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../task/record.ts";
import type { ScheduleInfo } from "../manager/schedules.ts";
import type { StoreStats, TaskListQuery } from "../manager/store.ts";
import type {
  GraphRequest,
  OutcomeSink,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "../manager/types.ts";

/**
 * One page of task summaries, newest first; `next` goes back as the
 * query's `cursor` for the following page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "../mod.ts";
 * import type { SummaryPage } from "./port.ts";
 * const Ping = defineTask("Ping", { schema: z.object({}), parallel: true });
 * const runtime = await Runtime.start({
 *   services: [new Service("lab").registerHandler(Ping, () => "pong")],
 * });
 * const client = runtime.client();
 * for (let i = 0; i < 3; i++) await client.execute("lab", Ping.create({}));
 * const first: SummaryPage = await client.tasks({ limit: 2 });
 * const second = await client.tasks({ limit: 2, cursor: first.next });
 * assert.deepEqual([first.records.length, second.records.length], [2, 1]);
 * assert.equal(second.next, undefined); // the last page
 * await runtime.stop();
 * ```
 */
export interface SummaryPage {
  /** At most the query's `limit` summaries, newest first. */
  records: TaskRecordSummary[];
  /** Pass it back as the query's `cursor` for the next page; absent on the last one. */
  next?: string;
}

/**
 * What can be done to a schedule.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "../mod.ts";
 * import type { ScheduleAction } from "./port.ts";
 * const Probe = defineTask("Probe", { schema: z.object({}), parallel: true });
 * const runtime = await Runtime.start({
 *   services: [new Service("lab").registerHandler(Probe, () => "ok")],
 *   schedules: [{ name: "probe", service: "lab", task: Probe.create({}), every: "1h" }],
 * });
 * const port = runtime.client().port;
 * const states: string[] = [];
 * for (const action of ["pause", "resume"] satisfies ScheduleAction[]) {
 *   states.push((await port.controlSchedule("probe", action)).state);
 * }
 * assert.deepEqual(states, ["paused", "scheduled"]);
 * await runtime.stop();
 * ```
 */
export type ScheduleAction = "pause" | "resume" | "run";

/**
 * What a client talks to.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import type { TaskPort } from "./port.ts";
 * async function depth(port: TaskPort, service: string): Promise<number> {
 *   const info = (await port.services()).find((s) => s.name === service);
 *   return info ? info.queued : 0;
 * }
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * assert.equal(await depth(runtime.client().port, "lab"), 0);
 * await runtime.stop();
 * ```
 */
export interface TaskPort {
  /** Submit a task; the sink gets its id, then its outcome, or a typed refusal. */
  submit(request: SubmitRequest, sink: OutcomeSink): void;
  /** Submit a graph of tasks by names, all or nothing: the id of each name. */
  submitGraph(graph: GraphRequest): Promise<Record<string, string>>;
  /** The record of task `id`, if still retained. */
  get(id: string): Promise<TaskRecord | undefined>;
  /** Summaries (no fields, log or outcome; a `brief` of the outcome), newest first, a page at a time. */
  list(query?: TaskListQuery): Promise<SummaryPage>;
  /** Wait for task `id` to end; `undefined` if no such task is retained. */
  wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined>;
  /** Cancel task `id`; false if it had already ended or is unknown. */
  cancel(id: string): Promise<boolean>;
  /** Remove the record of an ended task (`UnknownTaskError`, `TaskConflictError` if not ended). */
  delete(id: string): Promise<void>;
  /** The graph of dependencies around task `id`, as Graphviz DOT; `undefined` if unknown. */
  graph(id: string): Promise<string | undefined>;
  /** Services, their task types and queue depths. */
  services(): Promise<ServiceInfo[]>;
  /** A serial service's queue in running order (the task holding it first): summaries. */
  queue(service: string, limit?: number): Promise<TaskRecordSummary[]>;
  /** Free a service's serial lane held by a stuck handler; false if it was not stuck. */
  release(service: string): Promise<boolean>;
  /** Where the records are, their count and size. */
  storeStats(): Promise<StoreStats>;
  /** Every schedule: state, last and next run, runs and skips. */
  schedules(): Promise<ScheduleInfo[]>;
  /** Pause, resume or run a schedule now (`ScheduleError` for an unknown name); its status after. */
  controlSchedule(name: string, action: ScheduleAction): Promise<ScheduleInfo>;
  /** Follow events until the returned function is called. */
  subscribe(listener: (event: TaskEvent) => void): () => void;
  /**
   * Resolves once the events of whatever happens from now on reach the
   * listeners `subscribe` added: at once in-process; once the server has
   * confirmed the subscription over WebSocket; in a cluster, once every host
   * has heard that this port watches (a task submitted after it, from any
   * client, shows all its states).
   */
  subscribed(): Promise<void>;
  /** Release the port (a connection, for remote ports). */
  close(): Promise<void>;
}

/**
 * The port of a handler's `context.client`: `port` itself, but every task
 * submitted through it (alone, or in a graph) names task `parent` as its
 * `parent`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "../actor/mod.ts";
 * import { TaskManager } from "../manager/manager.ts";
 * import { LocalPort } from "./local.ts";
 * import { withParent } from "./port.ts";
 * const system = new ActorSystem();
 * const manager = new TaskManager(system, []);
 * await manager.start();
 * const port = withParent(new LocalPort(manager), "the-handlers-task");
 * assert.deepEqual(await port.services(), []);
 * await manager.close();
 * await system.shutdown();
 * ```
 */
export function withParent(port: TaskPort, parent: string): TaskPort {
  return {
    submit: (request, sink) => port.submit({ ...request, parent }, sink),
    submitGraph: (graph) =>
      port.submitGraph(
        Object.fromEntries(
          Object.entries(graph).map(([name, node]) => [name, { ...node, parent }]),
        ),
      ),
    get: (id) => port.get(id),
    list: (query) => port.list(query),
    wait: (id, signal) => port.wait(id, signal),
    cancel: (id) => port.cancel(id),
    delete: (id) => port.delete(id),
    graph: (id) => port.graph(id),
    services: () => port.services(),
    queue: (service, limit) => port.queue(service, limit),
    release: (service) => port.release(service),
    storeStats: () => port.storeStats(),
    schedules: () => port.schedules(),
    controlSchedule: (name, action) => port.controlSchedule(name, action),
    subscribe: (listener) => port.subscribe(listener),
    subscribed: () => port.subscribed(),
    // The connection is its owner's: nothing to release here.
    close: () => Promise.resolve(),
  };
}

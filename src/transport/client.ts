/**
 * `Client`: request and execute tasks, and everything around them, the same
 * way in-process (`runtime.client()`) and remote (`Client.connect`).
 *
 * @module
 */
import { Task } from "../task/define.ts";
import { TaskExecutionError, UnknownTaskError } from "../task/errors.ts";
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
import type { SummaryPage, TaskPort } from "./port.ts";
import { type WebSocketConnectOptions, WebSocketPort } from "./websocket/port.ts";
import type { NatsConnectOptions } from "./nats/port.ts";

/**
 * A task to send: a `Task` from `Type.create(...)`, or `{ type, fields }` to
 * validate on the runtime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service, TaskValidationError } from "../mod.ts";
 * import type { TaskInput } from "./client.ts";
 * const Greeting = defineTask("Greeting", { schema: z.object({ name: z.string() }), parallel: true });
 * const greeter = new Service("greeter").registerHandler(Greeting, ({ name }) => `Hello ${name}`);
 * const runtime = await Runtime.start({ services: [greeter] });
 * const client = runtime.client();
 * const validated: TaskInput = Greeting.create({ name: "Ada" }); // checked here, not again
 * const named: TaskInput = { type: "Greeting", fields: { name: "Grace" } }; // checked by the runtime
 * assert.equal(await client.execute("greeter", validated), "Hello Ada");
 * assert.equal(await client.execute("greeter", named), "Hello Grace");
 * await assert.rejects(client.execute("greeter", { type: "Greeting", fields: {} }), TaskValidationError);
 * await runtime.stop();
 * ```
 */
export type TaskInput = Task | { type: string; fields?: unknown };

/**
 * Per-request options; every bound is checked by the runtime (see the
 * README's limits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "../mod.ts";
 * import type { RequestOptions } from "./client.ts";
 * const Calibrate = defineTask("Calibrate", { schema: z.object({}), parallel: false });
 * const lab = new Service("lab").registerHandler(Calibrate, () => "done");
 * const runtime = await Runtime.start({ services: [lab] });
 * const client = runtime.client();
 * const urgent: RequestOptions = { priority: 10, expiresInMs: 60_000, attributes: { by: "ada" } };
 * const { taskId, outcome } = await client.request("lab", Calibrate.create({}), urgent);
 * await outcome;
 * const record = await client.status(taskId);
 * assert.deepEqual([record?.priority, record?.attributes], [10, { by: "ada" }]);
 * await runtime.stop();
 * ```
 */
export interface RequestOptions {
  /** Free-form metadata kept on the task record. */
  attributes?: Record<string, unknown>;
  /** Overrides the task type's timeout. */
  timeoutMs?: number;
  /** Serial tasks: higher runs first, FIFO within a priority (−1000 to 1000, default 0). */
  priority?: number;
  /** Idempotency key: the same key and fields answer the first task's id. */
  key?: string;
  /** Run only once these tasks have ended. */
  after?: readonly string[];
  /** If one of `after` fails: `"cancel"` this task (default) or `"run"` it anyway. */
  onDependencyFailure?: "cancel" | "run";
  /** Still queued this long after submission: it ends `expired`, never run. */
  expiresInMs?: number;
}

/**
 * A submitted task: its id now, its outcome later.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "../mod.ts";
 * import type { TaskRequest } from "./client.ts";
 * const Divide = defineTask("Divide", { schema: z.object({ by: z.number() }), parallel: true });
 * const lab = new Service("lab").registerHandler(Divide, ({ by }) => {
 *   if (by === 0) throw new RangeError("division by zero");
 *   return 1 / by;
 * });
 * const runtime = await Runtime.start({ services: [lab] });
 * const request: TaskRequest<number> = await runtime.client().request("lab", Divide.create({ by: 0 }));
 * assert.match(request.taskId, /^[0-9a-f-]{36}$/); // known at once, before the task runs
 * const outcome = await request.outcome; // a failure is an outcome, not a rejection
 * assert.equal(outcome.status === "error" && outcome.ename, "RangeError");
 * await runtime.stop();
 * ```
 */
export interface TaskRequest<R = unknown> {
  /** UUID given by the task manager before the task runs. */
  readonly taskId: string;
  /** Settles with the outcome (never rejects for a task failure: see `status`). */
  readonly outcome: Promise<TaskOutcome<R>>;
}

/**
 * A graph of tasks by names of the caller's choosing: each node is a task
 * and its options; `after` names other nodes of the graph (or ids).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, GraphError, Runtime, Service } from "../mod.ts";
 * import type { TaskGraph } from "./client.ts";
 * const Step = defineTask("Step", { schema: z.object({ name: z.string() }), parallel: true });
 * const order: string[] = [];
 * const lab = new Service("lab").registerHandler(Step, ({ name }) => void order.push(name));
 * const runtime = await Runtime.start({ services: [lab] });
 * const client = runtime.client();
 * const graph: TaskGraph = {
 *   fit: { service: "lab", task: Step.create({ name: "fit" }), after: ["scan"] },
 *   scan: { service: "lab", task: Step.create({ name: "scan" }) },
 * };
 * const ids = await client.submitGraph(graph);
 * await client.outcome(ids.fit);
 * assert.deepEqual(order, ["scan", "fit"]);
 * await assert.rejects(
 *   client.submitGraph({ a: { service: "lab", task: Step.create({ name: "a" }), after: ["a"] } }),
 *   GraphError,
 * );
 * await runtime.stop();
 * ```
 */
export type TaskGraph = Record<
  string,
  Omit<RequestOptions, "key"> & { service: string; task: TaskInput }
>;

function toRequest(service: string, task: TaskInput, options: RequestOptions): SubmitRequest {
  if (typeof service !== "string" || service === "") {
    throw new TypeError("service must be a non-empty string");
  }
  if (task === null || typeof task !== "object" || typeof task.type !== "string") {
    throw new TypeError("task must be a Task (from Type.create) or { type: string, fields }");
  }
  const request: SubmitRequest = {
    ...options,
    service,
    type: task.type,
    fields: task.fields === undefined ? {} : task.fields,
  };
  if (task instanceof Task) request.task = task;
  return request;
}

/**
 * Where one `execute` waits. It keeps only the promise's `resolve` (thousands
 * may wait at once): a failure resolves it with a rejected promise.
 */
class ExecuteSink<R> implements OutcomeSink {
  constructor(readonly resolve: (value: R | Promise<never>) => void) {}
  settled(outcome: TaskOutcome): void {
    if (outcome.status === "ok") this.resolve(outcome.result as R);
    else this.resolve(Promise.reject(new TaskExecutionError(outcome)));
  }
  refused(error: Error): void {
    this.resolve(Promise.reject(error));
  }
}

/**
 * The same API in-process (`runtime.client()`) and remote (`Client.connect`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "../mod.ts";
 * const Echo = defineTask("Echo", { schema: z.object({ text: z.string() }), parallel: true });
 * const service = new Service("echo").registerHandler(Echo, ({ text }) => text);
 * const runtime = await Runtime.start({ services: [service] });
 * const client = runtime.client();
 * const request = await client.request("echo", Echo.create({ text: "hi" }));
 * assert.deepEqual(await request.outcome, { status: "ok", id: request.taskId, result: "hi" });
 * assert.equal(await client.execute("echo", Echo.create({ text: "hi" })), "hi");
 * await runtime.stop();
 * ```
 */
export class Client {
  /** Wrap a port; most code gets a client from `runtime.client()` or `Client.connect`. */
  constructor(readonly port: TaskPort) {}

  /**
   * A client of the runtime served at `url` (`ws://…` or `http://…`, as
   * `deno task start` prints it), or of a whole cluster straight over NATS
   * (`nats://host:4222` or `tls://…`, with the NATS credentials in `options`:
   * `{ token }`, `{ user, password }` or `{ credsFile }`, and `tls`). Same API
   * as in-process. Over WebSocket, if the connection drops, pending calls
   * reject and accepted requests end with a `ConnectionLostError` outcome —
   * the tasks run on, so connect again and fetch them with `outcome(id)`.
   * Over NATS the client reconnects by itself; submissions made while it is
   * disconnected are refused (`RuntimeStoppingError`).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { z } from "zod";
   * import { Client, defineTask, Runtime, serve, Service } from "../mod.ts";
   * const Greeting = defineTask("Greeting", { schema: z.object({ name: z.string() }), parallel: true });
   * const greeter = new Service("greeter").registerHandler(Greeting, ({ name }) => `Hello ${name}`);
   * const runtime = await Runtime.start({ services: [greeter] });
   * const token = crypto.randomUUID();
   * const server = serve(runtime, { token, port: 0 });
   * const client = await Client.connect(server.wsUrl, { token });
   * assert.equal(await client.execute("greeter", { type: "Greeting", fields: { name: "Ada" } }), "Hello Ada");
   * await client.close();
   * await server.shutdown();
   * await runtime.stop();
   * ```
   *
   * A cluster (it needs a NATS server):
   *
   * ```ts ignore
   * import { Client } from "../mod.ts";
   * const cluster = await Client.connect("nats://127.0.0.1:4222", { token: Deno.env.get("ZEST_NATS_TOKEN") });
   * await cluster.execute("greeter", { type: "Greeting", fields: { name: "Ada" } });
   * await cluster.close();
   * ```
   */
  static async connect(
    url: string | URL,
    options: WebSocketConnectOptions | NatsConnectOptions = {},
  ): Promise<Client> {
    const scheme = new URL(url).protocol;
    if (scheme === "nats:" || scheme === "tls:") {
      // Loaded only for a cluster: other clients never load the NATS client.
      const { NatsPort } = await import("./nats/port.ts");
      return new Client(await NatsPort.connect(url, options as NatsConnectOptions));
    }
    return new Client(await WebSocketPort.connect(url, options as WebSocketConnectOptions));
  }

  /**
   * Submit a task: resolves with its id as soon as the manager has it (in
   * the store), before its handler runs. Rejects, with no task made, when
   * the runtime refuses it: `TaskValidationError` (with `issues`),
   * `UnknownServiceError`, `UnknownTaskTypeError`, `UnknownTaskError` (an id
   * of `after`), `TaskConflictError` (a key reused with other fields),
   * `QueueFullError`, `RuntimeStoppingError`, `ServiceStoppedError`.
   */
  request<R = unknown>(
    service: string,
    task: TaskInput,
    options: RequestOptions = {},
  ): Promise<TaskRequest<R>> {
    let submit: SubmitRequest;
    try {
      submit = toRequest(service, task, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const accepted = Promise.withResolvers<TaskRequest<R>>();
    const outcome = Promise.withResolvers<TaskOutcome<R>>();
    this.port.submit(submit, {
      accepted: (taskId) => accepted.resolve({ taskId, outcome: outcome.promise }),
      settled: (result) => outcome.resolve(result as TaskOutcome<R>),
      refused: (error) => accepted.reject(error),
    });
    return accepted.promise;
  }

  /**
   * Submit a task and wait: its result, or a `TaskExecutionError` with
   * `ename`, `evalue`, `traceback`; a refusal rejects as `request` does.
   */
  execute<R = unknown>(service: string, task: TaskInput, options: RequestOptions = {}): Promise<R> {
    let submit: SubmitRequest;
    try {
      submit = toRequest(service, task, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const { promise, resolve } = Promise.withResolvers<R>();
    this.port.submit(submit, new ExecuteSink(resolve));
    return promise;
  }

  /**
   * Submit a graph of tasks at once: all of them, or none (a cycle, a name
   * `after` does not know, a refused task reject the whole graph). Resolves
   * with the id of each name.
   */
  submitGraph(graph: TaskGraph): Promise<Record<string, string>> {
    let request: GraphRequest;
    try {
      request = Object.fromEntries(
        Object.entries(graph).map(([name, { service, task, ...options }]) => {
          const { task: _validated, ...node } = toRequest(service, task, options);
          return [name, node];
        }),
      );
    } catch (error) {
      return Promise.reject(error);
    }
    return this.port.submitGraph(request);
  }

  /** The record of task `id` (state, attempts, timestamps, log, outcome). */
  status(id: string): Promise<TaskRecord | undefined> {
    return this.port.get(id);
  }

  /** Wait for task `id` to end, e.g. after a reconnect; `undefined` if unknown. */
  outcome(id: string, options: { signal?: AbortSignal } = {}): Promise<TaskOutcome | undefined> {
    return this.port.wait(id, options.signal);
  }

  /** Cancel task `id`: a queued task never runs; a running one sees its signal abort. */
  cancel(id: string): Promise<boolean> {
    return this.port.cancel(id);
  }

  /** Remove the record of an ended task; a task that has not ended is refused (`TaskConflictError`). */
  delete(id: string): Promise<void> {
    return this.port.delete(id);
  }

  /**
   * Submit task `id` again: the same service, type, fields and attributes;
   * the new record names it in `rerunOf`. Resolves as `request` does.
   */
  async rerun<R = unknown>(id: string): Promise<TaskRequest<R>> {
    const record = await this.port.get(id);
    if (!record) {
      throw new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`);
    }
    const { promise, resolve, reject } = Promise.withResolvers<TaskRequest<R>>();
    const outcome = Promise.withResolvers<TaskOutcome<R>>();
    this.port.submit({
      service: record.service,
      type: record.type,
      fields: record.fields,
      attributes: record.attributes,
      rerunOf: record.id,
    }, {
      accepted: (taskId) => resolve({ taskId, outcome: outcome.promise }),
      settled: (result) => outcome.resolve(result as TaskOutcome<R>),
      refused: reject,
    });
    return await promise;
  }

  /**
   * Task summaries (no fields, log or outcome; a `brief` of the outcome),
   * newest first, filtered and a page at a time: pass a page's `next` as
   * `cursor` for the next one. `status(id)` gives a whole record.
   */
  tasks(query: TaskListQuery = {}): Promise<SummaryPage> {
    return this.port.list(query);
  }

  /** The graph of dependencies around task `id`, as Graphviz DOT; `undefined` if unknown. */
  graph(id: string): Promise<string | undefined> {
    return this.port.graph(id);
  }

  /** Services, their task types (with JSON Schemas), queue depths, stuck lanes. */
  services(): Promise<ServiceInfo[]> {
    return this.port.services();
  }

  /**
   * The serial queue of `service` in the order its tasks will run (higher
   * priority first, FIFO within one), the task holding it first: at most
   * `limit` summaries (default 100).
   */
  queue(service: string, limit?: number): Promise<TaskRecordSummary[]> {
    return this.port.queue(service, limit);
  }

  /**
   * Free a serial lane that a handler ignoring its end still holds (the
   * service shows `stuck`), so the next task runs. False if it was not stuck.
   */
  release(service: string): Promise<boolean> {
    return this.port.release(service);
  }

  /** Where the runtime keeps its records, their count and size on disk. */
  store(): Promise<StoreStats> {
    return this.port.storeStats();
  }

  /** Every schedule: state, last and next run, runs and skips. */
  schedules(): Promise<ScheduleInfo[]> {
    return this.port.schedules();
  }

  /** Pause schedule `name`: no run starts until it is resumed (a run going on ends as it does). */
  pauseSchedule(name: string): Promise<ScheduleInfo> {
    return this.port.controlSchedule(name, "pause");
  }

  /** Resume a paused schedule, from its next slot (missed slots are not caught up). */
  resumeSchedule(name: string): Promise<ScheduleInfo> {
    return this.port.controlSchedule(name, "resume");
  }

  /** Run schedule `name` now (unless its previous run is still going); its grid is unchanged. */
  runSchedule(name: string): Promise<ScheduleInfo> {
    return this.port.controlSchedule(name, "run");
  }

  /**
   * Follow events until the returned function is called. Await `watching()`
   * after it to be sure of every event of what happens next, whoever makes
   * it happen (another client of a cluster, say).
   */
  watch(listener: (event: TaskEvent) => void): () => void {
    return this.port.subscribe(listener);
  }

  /**
   * Resolves once the events of whatever happens from now on reach the
   * listeners `watch` added: at once in-process, once the server confirmed
   * over WebSocket, once every host heard of it in a cluster.
   */
  watching(): Promise<void> {
    return this.port.subscribed();
  }

  /** Release the connection (no-op in-process). */
  close(): Promise<void> {
    return this.port.close();
  }
}

/** `Client`: request and execute tasks, in-process or against a remote runtime. */
import { Task } from "../task/define.ts";
import { TaskExecutionError } from "../task/errors.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../task/record.ts";
import type {
  OutcomeSink,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
  TaskPort,
} from "../manager/types.ts";
import { type ConnectOptions, RemotePort } from "./remote.ts";

/** A task to send: a `Task` from `Type.create(...)`, or `{ type, fields }` to validate on the runtime. */
export type TaskInput = Task | { type: string; fields?: unknown };

/** Per-request options. */
export interface RequestOptions {
  /** Free-form metadata kept on the task record. */
  attributes?: Record<string, unknown>;
  /** Overrides the task type's timeout. */
  timeoutMs?: number;
}

/** A submitted task: its id now, its outcome later. */
export interface TaskRequest<R = unknown> {
  /** UUID given by the task manager before the task runs. */
  readonly taskId: string;
  /** Settles with the outcome (never rejects for a task failure: see `status`). */
  readonly outcome: Promise<TaskOutcome<R>>;
}

function toRequest(service: string, task: TaskInput, options: RequestOptions): SubmitRequest {
  if (typeof service !== "string" || service === "") {
    throw new TypeError("service must be a non-empty string");
  }
  if (task === null || typeof task !== "object" || typeof task.type !== "string") {
    throw new TypeError("task must be a Task (from Type.create) or { type: string, fields }");
  }
  const attributes = options.attributes;
  if (
    attributes !== undefined &&
    (attributes === null || typeof attributes !== "object" || Array.isArray(attributes))
  ) {
    throw new TypeError("attributes must be a plain object");
  }
  return {
    service,
    type: task.type,
    fields: task.fields ?? {},
    attributes,
    timeoutMs: options.timeoutMs,
    task: task instanceof Task ? task : undefined,
  };
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
 * import { z } from "zod";
 * import { defineTask, Runtime, Service } from "../mod.ts";
 * const Echo = defineTask("Echo", { schema: z.object({ text: z.string() }), parallel: true });
 * const service = new Service("echo").registerHandler(Echo, ({ text }) => text);
 * const runtime = await Runtime.start({ services: [service] });
 * const client = runtime.client();
 * const request = await client.request("echo", Echo.create({ text: "hi" }));
 * request.taskId; // a UUID
 * await request.outcome; // { status: "ok", id: request.taskId, result: "hi" }
 * await client.execute("echo", Echo.create({ text: "hi" })); // "hi"
 * await runtime.stop();
 * ```
 */
export class Client {
  /** Wrap a port; most code gets a client from `runtime.client()` or `Client.connect`. */
  constructor(readonly port: TaskPort) {}

  /**
   * A client of the runtime served at `url` (`ws://…` or `http://…`, as
   * `deno task start` prints it). Same API as in-process; if the connection
   * drops, pending calls reject and accepted requests end with a
   * `ConnectionLostError` outcome — the tasks run on, so connect again and
   * fetch them with `outcome(id)`.
   *
   * @example
   * ```ts
   * import { Client } from "../mod.ts";
   * const client = await Client.connect("ws://127.0.0.1:8787", { token: Deno.env.get("ZEST_TOKEN")! });
   * await client.execute("greeter", { type: "Greeting", fields: { name: "Ada" } }); // "Hello Ada from greeter"
   * await client.close();
   * ```
   */
  static async connect(url: string | URL, options: ConnectOptions): Promise<Client> {
    return new Client(await RemotePort.connect(url, options));
  }

  /**
   * Submit a task: resolves with its id as soon as the manager has it, before
   * its handler runs. Rejects, with no task made, when the runtime refuses it:
   * `QueueFullError`, `RuntimeStoppingError`, `ServiceStoppedError`; from a
   * remote client also `TaskValidationError` (with `issues`),
   * `UnknownServiceError`, `UnknownTaskTypeError` (in-process those end the
   * task with an error outcome of that `ename`).
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

  /** Submit a task and wait: its result, or a `TaskExecutionError` with `ename`, `evalue`, `traceback`. */
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

  /**
   * Task summaries (no fields, log or outcome; a `brief` of the outcome):
   * queued and running ones first, newest first; then finished ones, latest
   * first. `status(id)` gives a whole record.
   */
  tasks(
    query: { service?: string; state?: string; limit?: number } = {},
  ): Promise<TaskRecordSummary[]> {
    return this.port.list(query);
  }

  /** Services, their task types (with JSON Schemas) and queue depths. */
  services(): Promise<ServiceInfo[]> {
    return this.port.services();
  }

  /** Follow task events until the returned function is called. */
  watch(listener: (event: TaskEvent) => void): () => void {
    return this.port.subscribe(listener);
  }

  /** Release the connection (no-op in-process). */
  close(): Promise<void> {
    return this.port.close();
  }
}

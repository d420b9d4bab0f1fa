/**
 * `Service`: an actor with a name that runs one handler per task type.
 *
 * @module
 */
import type { Client } from "../transport/client.ts";
import type { SpawnOptions } from "../actor/mod.ts";
import type { FieldSchema, SchemaOutput, TaskType, TaskTypeInfo } from "../task/define.ts";
import { durationProblem } from "../task/limits.ts";
import { outcomeFromError, type TaskOutcome } from "../task/outcome.ts";
import type { ServiceDescription, TaskRun } from "../task/protocol.ts";
import type { TaskLogEntry } from "../task/record.ts";
import type { JupyterServer } from "../kernel/server.ts";
import { WorkerHandler, type WorkerHandlerOptions, type WorkerPool } from "./pool/mod.ts";
import { ProgressGate } from "./pool/progress.ts";
import { runInPool } from "./pool/run_in_pool.ts";

/**
 * Writes lines to the task's log (shown by `zest status` and the dashboard).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { defineTask } from "../task/define.ts";
 * import { Service } from "./service.ts";
 * const Scan = defineTask("Scan", { schema: z.object({}), parallel: true });
 * const lab = new Service("lab").registerHandler(Scan, (_fields, { log }) => {
 *   log.info("sweeping 4–6 GHz");
 *   log.warn("attenuator at its limit");
 * });
 * const runtime = await Runtime.start({ services: [lab] });
 * const { taskId, outcome } = await runtime.client().request("lab", Scan.create({}));
 * await outcome;
 * const lines = (await runtime.client().status(taskId))!.log
 *   .filter((entry) => !entry.state)
 *   .map((entry) => `${entry.level}: ${entry.message}`);
 * assert.deepEqual(lines, ["info: sweeping 4–6 GHz", "warn: attenuator at its limit"]);
 * await runtime.stop();
 * ```
 */
export interface TaskLogger {
  /** A line for whoever debugs the handler. */
  debug(message: string): void;
  /** What the task is doing. */
  info(message: string): void;
  /** Something the operator should look at; the task goes on. */
  warn(message: string): void;
  /** Something went wrong (the task may still succeed). */
  error(message: string): void;
}

/**
 * What a handler gets besides the fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { defineTask } from "../task/define.ts";
 * import { Service, type TaskContext } from "./service.ts";
 * const Sweep = defineTask("Sweep", { schema: z.object({ points: z.number() }), parallel: true });
 * async function sweep({ points }: { points: number }, context: TaskContext): Promise<number> {
 *   for (let i = 1; i <= points; i++) {
 *     context.signal.throwIfAborted(); // a cancel or a timeout ends the loop
 *     context.progress(i / points, `point ${i} of ${points}`);
 *   }
 *   return context.attempt;
 * }
 * const runtime = await Runtime.start({
 *   services: [new Service("lab").registerHandler(Sweep, sweep)],
 * });
 * const client = runtime.client();
 * assert.equal(await client.execute("lab", Sweep.create({ points: 3 })), 1);
 * await runtime.stop();
 * ```
 */
export interface TaskContext {
  /** The task's id. */
  readonly taskId: string;
  /** 1 for the first attempt, more on retries. */
  readonly attempt: number;
  /** Free-form metadata the client attached. */
  readonly attributes: Record<string, unknown>;
  /** Aborted when the task times out, is cancelled, or the service stops. */
  readonly signal: AbortSignal;
  /** Lines for the task's log. */
  readonly log: TaskLogger;
  /**
   * Say how far the task is: `fraction` from 0 to 1 (else a `RangeError`)
   * and a message (its record keeps the first 1 000 characters). The record
   * keeps the latest; watchers get a `progress` event at most every 100 ms,
   * the latest value winning, and the last one before the task ends.
   */
  progress(fraction: number, message?: string): void;
  /**
   * A client of this runtime, to queue follow-up work: every task submitted
   * through it names this task as its `parent`.
   */
  readonly client: Client;
}

/**
 * `registerHandler(Type, moduleUrl, options)`: run the module's default
 * export in the runtime's worker pool, off its thread (see the README's
 * "CPU-bound handlers").
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { defineTask } from "../task/define.ts";
 * import { Service, type WorkerRegistration } from "./service.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/square.ts`, "export default ({ x }) => x * x;");
 * const Square = defineTask("Square", { schema: z.object({ x: z.number() }), parallel: true });
 * const options: WorkerRegistration = { worker: true, maxHeapMb: 256 };
 * const math = new Service("math").registerHandler(Square, new URL(`file://${dir}/square.ts`), options);
 * const runtime = await Runtime.start({ services: [math], workers: { size: 1 } });
 * assert.equal(await runtime.client().execute("math", Square.create({ x: 7 })), 49);
 * await runtime.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface WorkerRegistration extends WorkerHandlerOptions {
  /** Run the handler in the worker pool. */
  worker: true;
}

/**
 * A task handler: a function or a method, sync or async. Its return value is the result.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { TaskHandler } from "./service.ts";
 * const add: TaskHandler<{ a: number; b: number }, number> = ({ a, b }) => a + b;
 * // A plain function: a unit test may call it with a stand-in for the context it ignores.
 * assert.equal(await add({ a: 1, b: 2 }, {} as never), 3);
 * ```
 */
export type TaskHandler<F, R = unknown> = (fields: F, context: TaskContext) => R | Promise<R>;

/**
 * Options of a service.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Service, type ServiceOptions } from "./service.ts";
 * const options: ServiceOptions = { concurrency: 4, taskTimeoutMs: 60_000 };
 * const scope = new Service("scope", options);
 * assert.equal(scope.taskTimeoutMs, 60_000);
 * assert.throws(() => new Service("scope", { taskTimeoutMs: 0 }), RangeError);
 * ```
 */
export interface ServiceOptions {
  /** Most tasks running at once; more wait in the mailbox (default 1 024). */
  concurrency?: number;
  /** Mailbox capacity (default 100 000); beyond it tasks fail with `QueueFullError`. */
  mailboxCapacity?: number;
  /**
   * Timeout of this service's tasks whose request and task type set none,
   * in ms (above 0, at most 2³¹−1). None by default; `IPythonService`
   * defaults it to one hour.
   */
  taskTimeoutMs?: number;
}

/**
 * What the runtime hands a service when it starts: what a subclass's
 * `start` may use.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime } from "../runtime.ts";
 * import { Service, type ServiceEnvironment } from "./service.ts";
 * class Probe extends Service {
 *   poolSize = 0;
 *   override start(env: ServiceEnvironment): void {
 *     this.poolSize = env.workers.size; // no process starts until a worker task runs
 *   }
 * }
 * const probe = new Probe("probe");
 * const runtime = await Runtime.start({ services: [probe], workers: { size: 3 } });
 * assert.equal(probe.poolSize, 3);
 * await runtime.stop();
 * ```
 */
export interface ServiceEnvironment {
  /** The runtime's Jupyter Server, launched (or connected) on first call and shared. */
  jupyter(): Promise<JupyterServer>;
  /** Say that `describe()` changed (e.g. kernel status), so watchers see it live. */
  changed(): void;
  /** The runtime's worker pool, where worker handlers run. */
  readonly workers: WorkerPool;
  /** A client of the runtime whose submissions name task `parent` as theirs (`context.client`). */
  client(parent: string): Client;
}

class Context implements TaskContext {
  #log: TaskLogger | undefined;
  #progress: ProgressGate | undefined;
  #client: Client | undefined;
  constructor(readonly run: TaskRun, readonly env: ServiceEnvironment | undefined) {}
  get taskId(): string {
    return this.run.id;
  }
  get attempt(): number {
    return this.run.attempt;
  }
  get attributes(): Record<string, unknown> {
    return this.run.attributes;
  }
  get signal(): AbortSignal {
    return this.run.control.signal;
  }
  get log(): TaskLogger {
    // Progress kept back goes first: the log and the progress arrive in the order written.
    return this.#log ??= taskLogger(this.run, () => this.#progress?.flush());
  }
  get client(): Client {
    if (!this.env) {
      throw new Error(`context.client needs the service to run in a Runtime (task ${this.run.id})`);
    }
    return this.#client ??= this.env.client(this.run.id);
  }
  progress(fraction: number, message?: string): void {
    this.#progress ??= new ProgressGate((progress) => {
      this.run.replyTo.tell({ kind: "progress", id: this.run.id, progress });
    });
    this.#progress.report(fraction, message);
  }
  /** The handler has returned: send the progress kept back; later reports are dropped. */
  finish(): void {
    this.#progress?.close();
  }
}

/**
 * The log of task `run`: each line goes to the task manager, which keeps it
 * in the task's record. `beforeWrite` runs first (a handler's context sends
 * the progress it kept back, so both arrive in the order written).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { taskLogger } from "./service.ts";
 * import type { TaskRun } from "../task/protocol.ts";
 * const sent: unknown[] = [];
 * const run = { id: "t1", replyTo: { tell: (m: unknown) => sent.push(m) } } as unknown as TaskRun;
 * taskLogger(run).warn("careful");
 * assert.deepEqual((sent[0] as { entry: { message: string } }).entry.message, "careful");
 * ```
 */
export function taskLogger(run: TaskRun, beforeWrite?: () => void): TaskLogger {
  const write = (level: TaskLogEntry["level"]) => (message: string) => {
    beforeWrite?.();
    run.replyTo.tell({
      kind: "log",
      id: run.id,
      entry: { at: Date.now(), level, message: String(message) },
    });
  };
  return { debug: write("debug"), info: write("info"), warn: write("warn"), error: write("error") };
}

/**
 * Tell the manager that a run ended with `outcome`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { report } from "./service.ts";
 * import { defineTask } from "../task/define.ts";
 * import { TaskControl, type TaskReport, type TaskRun } from "../task/protocol.ts";
 * const reports: TaskReport[] = [];
 * const run: TaskRun = {
 *   id: "t1",
 *   type: defineTask("Answer", { schema: z.object({}), parallel: true }),
 *   fields: {},
 *   attributes: {},
 *   attempt: 1,
 *   control: new TaskControl(),
 *   replyTo: { tell: (sent) => reports.push(sent) > 0 },
 * };
 * report(run, { status: "ok", id: run.id, result: 42 });
 * assert.deepEqual(reports, [{ kind: "finished", id: "t1", outcome: { status: "ok", id: "t1", result: 42 } }]);
 * ```
 */
export function report(run: TaskRun, outcome: TaskOutcome): void {
  run.replyTo.tell({ kind: "finished", id: run.id, outcome });
}

/**
 * A service: subclass it and register a handler per task type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { defineTask } from "../task/define.ts";
 * import { Service } from "./service.ts";
 * const Greeting = defineTask("Greeting", {
 *   schema: z.object({ greeting: z.string().default("Hello"), name: z.string() }),
 *   parallel: true,
 * });
 * class Greeter extends Service {
 *   constructor(name: string) {
 *     super(name);
 *     this.registerHandler(Greeting, this.greet);
 *   }
 *   greet(task: { greeting: string; name: string }): string {
 *     return `${task.greeting} ${task.name} from ${this.name}`; // a method: `this` is the service
 *   }
 * }
 * const greeter = new Greeter("greeter");
 * assert.deepEqual(greeter.taskTypes().map((type) => type.name), ["Greeting"]);
 * assert.throws(() => greeter.registerHandler(Greeting, () => "again"), /already has a handler/);
 * const runtime = await Runtime.start({ services: [greeter] });
 * assert.equal(
 *   await runtime.client().execute("greeter", Greeting.create({ name: "Ada" })),
 *   "Hello Ada from greeter",
 * );
 * await runtime.stop();
 * ```
 */
export class Service {
  /** Unique within a runtime: what clients name. */
  readonly name: string;
  /** As given to the constructor. */
  readonly options: ServiceOptions;
  #handlers = new Map<
    string,
    { type: TaskType; handler: TaskHandler<unknown> } | { type: TaskType; worker: WorkerHandler }
  >();
  #env: ServiceEnvironment | undefined;

  /** Create a service named `name` (unique within a runtime). */
  constructor(name: string, options: ServiceOptions = {}) {
    if (typeof name !== "string" || !/^[A-Za-z0-9_][\w.-]*$/.test(name)) {
      throw new TypeError(
        `service name '${name}' must be letters, digits, _ . - (not starting with . or -)`,
      );
    }
    const timeoutProblem = options.taskTimeoutMs === undefined
      ? undefined
      : durationProblem(options.taskTimeoutMs);
    if (timeoutProblem) {
      throw new RangeError(`service '${name}': taskTimeoutMs ${timeoutProblem}`);
    }
    this.name = name;
    this.options = options;
  }

  /** Timeout of tasks whose request and type set none (`options.taskTimeoutMs`). */
  get taskTimeoutMs(): number | undefined {
    return this.options.taskTimeoutMs;
  }

  /**
   * Handle tasks of `type` with `handler` (called with `this` bound to the
   * service, so a method works as is). One handler per type.
   */
  registerHandler<S extends FieldSchema>(
    type: TaskType<S>,
    handler: TaskHandler<SchemaOutput<S>>,
  ): this;
  /**
   * Handle tasks of `type` in the runtime's worker pool, off its thread: the
   * default export of `module` (a `file:` URL, e.g. `new URL("./fit.ts",
   * import.meta.url)`) is the handler, `(fields, context) => result`; its
   * fields and result cross by structured clone. `options.permissions`
   * widens what its workers may do (by default: read the module's folder,
   * nothing else), `graceMs` and `maxHeapMb` override the pool's.
   */
  registerHandler<S extends FieldSchema>(
    type: TaskType<S>,
    module: URL,
    options: WorkerRegistration,
  ): this;
  registerHandler<S extends FieldSchema>(
    type: TaskType<S>,
    handler: TaskHandler<SchemaOutput<S>> | URL,
    options?: WorkerRegistration,
  ): this {
    if (this.#handlers.has(type.name)) {
      throw new Error(`service '${this.name}' already has a handler for task type '${type.name}'`);
    }
    const where = `handler for '${type.name}' on '${this.name}'`;
    if (options?.worker === true) {
      if (typeof handler === "function") {
        throw new TypeError(
          `${where}: { worker: true } needs the handler's module URL, e.g. ` +
            `new URL("./fit.ts", import.meta.url), not a function (a function cannot move to a worker process)`,
        );
      }
      const { worker: _worker, ...workerOptions } = options;
      this.#handlers.set(type.name, {
        type: type as TaskType,
        worker: new WorkerHandler(handler, workerOptions),
      });
      return this;
    }
    if (handler instanceof URL) {
      throw new TypeError(
        `${where}: a module URL runs in a worker: pass { worker: true } ` +
          `(registerHandler(${type.name}, url, { worker: true }))`,
      );
    }
    if (typeof handler !== "function") {
      throw new TypeError(`${where} must be a function`);
    }
    this.#handlers.set(type.name, {
      type: type as TaskType,
      handler: handler as TaskHandler<unknown>,
    });
    return this;
  }

  /** The task type named `typeName` if this service handles it. */
  resolve(typeName: string): TaskType | undefined {
    return this.#handlers.get(typeName)?.type;
  }

  /** The task types this service handles. */
  taskTypes(): TaskTypeInfo[] {
    return [...this.#handlers.values()].map(({ type }) => type.describe());
  }

  /** What listings show of this service; subclasses add facts (kernel status…). */
  describe(): ServiceDescription {
    return { kind: "service", taskTypes: this.taskTypes() };
  }

  /**
   * How the runtime spawns this service's actor: `concurrency` and
   * `mailboxCapacity` of its options, with their defaults.
   *
   * @internal the runtime's hook, not part of the public API.
   */
  spawnOptions(): SpawnOptions {
    return {
      concurrency: this.options.concurrency ?? 1_024,
      mailbox: { capacity: this.options.mailboxCapacity ?? 100_000, overflow: "reject" },
    };
  }

  /**
   * How the runtime starts this service: it keeps `env` (handlers' worker
   * pool and `context.client` come from it), then calls `start(env)`.
   * Override `start`, not this.
   */
  async startIn(env: ServiceEnvironment): Promise<void> {
    this.#env = env;
    await this.start(env);
  }

  /** Called once before the first task (e.g. to start a kernel). Override as needed. */
  start(_env: ServiceEnvironment): Promise<void> | void {}

  /** Called once after the last task (e.g. to shut a kernel down). Override as needed. */
  stop(): Promise<void> | void {}

  /**
   * Run one task attempt and report to the manager: `started` (unless the
   * handler returns synchronously), then `finished`; `log` and `progress`
   * as the handler writes them. A worker handler runs in the runtime's pool.
   * Handler errors become error outcomes: they never crash the service.
   * Returns a promise only while an async handler runs.
   *
   * @internal the runtime's hook, not part of the public API: register
   * handlers instead.
   */
  handle(run: TaskRun): Promise<void> | void {
    const entry = this.#handlers.get(run.type.name);
    if (entry && "worker" in entry) {
      if (!this.#env) {
        return report(
          run,
          outcomeFromError(
            run.id,
            new Error(`service '${this.name}' runs worker handlers only in a Runtime`),
          ),
        );
      }
      return runInPool(this.#env.workers, entry.worker, run);
    }
    const context = new Context(run, this.#env);
    let result: unknown;
    try {
      if (!entry) throw new Error(`service '${this.name}' has no handler for '${run.type.name}'`);
      result = entry.handler.call(this, run.fields, context);
    } catch (error) {
      context.finish();
      return report(run, outcomeFromError(run.id, error));
    }
    if (result instanceof Promise) {
      // Only an asynchronous handler is worth a "started" report: a synchronous
      // one has finished already, and the manager infers the start.
      run.replyTo.tell({ kind: "started", id: run.id });
      return result.then(
        (value) => {
          context.finish();
          report(run, { status: "ok", id: run.id, result: value });
        },
        (error) => {
          context.finish();
          report(run, outcomeFromError(run.id, error));
        },
      );
    }
    context.finish();
    report(run, { status: "ok", id: run.id, result });
  }
}

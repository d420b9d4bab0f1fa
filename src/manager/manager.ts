/**
 * The task manager: one actor that every task passes through. It gives each
 * task a UUID, keeps its record in the store (on disk before anyone is told
 * the id, or a handler starts), and routes it: a parallel task straight to
 * its service; a serial one through its service's lane (by priority, FIFO
 * within one; one in flight); a task with dependencies once they have
 * ended. It owns timeouts, retries, cancellation, expiry and the events; at
 * start it takes up what the store says was unfinished.
 *
 * This file is the actor and its door: the public methods, and the routing
 * of each message to the part that handles it — `Submissions`
 * (`submission.ts`: admission, keys, dependencies, records), `TaskFlow`
 * (`flow.ts`: lanes, attempts, ends, waiters, stop) and `recover`
 * (`recovery.ts`), over one `ManagerState` (`state.ts`).
 *
 * @module
 */
import type { ActorRef, ActorSystem } from "../actor/mod.ts";
import {
  QueueFullError,
  RuntimeStoppingError,
  TaskValidationError,
  UnknownServiceError,
} from "../task/errors.ts";
import { durationProblem } from "../task/limits.ts";
import { summarize, type TaskRecord, type TaskRecordSummary } from "../task/record.ts";
import { uuidv7 } from "../util/uuid.ts";
import { admit } from "./admission.ts";
import { graphDot, type GraphTask } from "./graph.ts";
import { TaskFlow } from "./flow.ts";
import { Journal } from "./journal.ts";
import type { ListenOptions } from "./events.ts";
import { ServiceLane } from "./lane.ts";
import { MemoryTaskStore } from "./memory_store.ts";
import { type ManagerOptions, managerSettings } from "./options.ts";
import { recover } from "./recovery.ts";
import { type ScheduleInfo, Schedules } from "./schedules.ts";
import { type ManagerMessage, ManagerState } from "./state.ts";
import {
  MAX_PAGE,
  type StoreStats,
  type TaskListQuery,
  type TaskPage,
  type TaskStore,
} from "./store.ts";
import { Submissions } from "./submission.ts";
import type {
  GraphRequest,
  OutcomeSink,
  ServiceEndpoint,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "./types.ts";

const MANAGER_NAME = "$task-manager";

/**
 * The task-manager actor, and the read side of its state.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "../actor/mod.ts";
 * import { UnknownServiceError } from "../task/errors.ts";
 * import { TaskManager } from "./manager.ts";
 * const system = new ActorSystem();
 * const manager = new TaskManager(system, []);
 * await manager.start();
 * const refused = await new Promise<Error>((refused) =>
 *   manager.submit({ service: "nowhere", type: "Greeting", fields: {} }, {
 *     settled: () => {},
 *     refused,
 *   })
 * );
 * assert.ok(refused instanceof UnknownServiceError);
 * await manager.close();
 * await system.shutdown();
 * ```
 */
export class TaskManager {
  readonly ref: ActorRef<ManagerMessage>;
  readonly store: TaskStore;
  readonly #state: ManagerState;
  readonly #flow: TaskFlow;
  readonly #submissions: Submissions;
  readonly #schedules: Schedules;

  /** Spawn the manager actor in `system`, routing to `endpoints`. Throws on a bad option. */
  constructor(
    readonly system: ActorSystem,
    endpoints: ServiceEndpoint[],
    options: ManagerOptions = {},
  ) {
    this.store = options.store ?? new MemoryTaskStore();
    const settings = managerSettings(options);
    const state = this.#state = new ManagerState(system, this.store, settings);
    const flow = this.#flow = new TaskFlow(state);
    this.#submissions = new Submissions(state, flow);
    state.journal = new Journal(this.store, (action) => flow.perform(action));
    this.ref = state.ref = system.spawn<ManagerMessage>(
      MANAGER_NAME,
      () => ({
        receive: (message) => {
          state.journal.turnStarted();
          return this.#receive(message);
        },
        // Once per turn, not per message: the records the turn changed, in one batch.
        turnEnded: () => state.journal.turnEnded(),
      }),
      { mailbox: { capacity: settings.mailboxCapacity, overflow: "reject" } },
    );
    for (const endpoint of endpoints) this.#addService(endpoint);
    this.#schedules = new Schedules(options.schedules ?? [], {
      submit: (request, sink) => this.submit(request, sink),
      check: (request) => admit(request, this.#state.lanes),
      skipped: (id, message) =>
        this.ref.tell({ kind: "log", id, entry: { at: Date.now(), level: "warn", message } }),
      changed: (schedule) => this.#state.events.send({ kind: "schedule", schedule }),
      store: this.store,
    });
  }

  /**
   * Open the store and take up what it says was unfinished: queued tasks
   * queue again in their order; a task that was running ends
   * `InterruptedError`, or is queued again at the head of its lane if its
   * type says `onInterrupt: "requeue"`; a task whose service or type is
   * gone ends failed, saying so. Then tasks are accepted.
   */
  async start(): Promise<void> {
    const unfinished = await this.store.open();
    await recover(this.#state, this.#flow, unfinished);
    this.#state.accepting = true;
    await this.#schedules.start();
  }

  /**
   * Submit a task. The sink gets its id (once its record is in the store),
   * then its outcome; or a typed refusal and no id.
   */
  submit(request: SubmitRequest, sink: OutcomeSink): void {
    if (!this.ref.tell({ kind: "submit", request, sink })) {
      sink.refused(
        this.ref.isAlive
          ? new QueueFullError("runtime overloaded: the task manager's mailbox is full")
          : new RuntimeStoppingError("runtime stopped: the task manager takes no more tasks"),
      );
    }
  }

  /**
   * Submit a graph of tasks named by the caller, all or nothing: resolves
   * with the id of each name, or rejects (nothing queued) naming the
   * problem: a cycle, an unknown name, a task refused by admission.
   */
  submitGraph(graph: GraphRequest): Promise<Record<string, string>> {
    return this.#ask({ kind: "graph", graph }, 60_000);
  }

  /**
   * Admit `request` and make its record, without queueing it: what a
   * cluster's submitting process does before it publishes the task for the
   * replica that runs it. Throws the typed refusal. The record is `queued`,
   * with a new id; nothing is stored.
   */
  prepare(request: SubmitRequest): TaskRecord {
    const admitted = this.#submissions.admit(request);
    if (admitted instanceof Error) throw admitted;
    if (admitted.after) {
      throw new TaskValidationError(admitted.type.name, [{
        path: "after",
        message: "dependencies are not supported across a cluster",
      }]);
    }
    return this.#submissions.recordOf(uuidv7(), request, admitted);
  }

  /**
   * Run a task admitted elsewhere (made by `prepare` in another process, or
   * redelivered after its replica died): it joins its service's lane as it
   * is; the sink hears its outcome once the final record is stored.
   */
  adopt(record: TaskRecord, sink: OutcomeSink): void {
    if (!this.ref.tell({ kind: "adopt", record, sink })) {
      sink.refused(
        new RuntimeStoppingError("runtime stopped: the task manager takes no more tasks"),
      );
    }
  }

  /** Wait for task `id`: the sink gets its outcome now if it ended, or when it ends. */
  wait(id: string, sink: OutcomeSink): void {
    if (!this.ref.tell({ kind: "wait", id, sink })) {
      sink.refused(new RuntimeStoppingError("runtime stopped"));
    }
  }

  /** Stop waiting: `sink` (given to `wait`) will not be called. */
  unwait(id: string, sink: OutcomeSink): void {
    this.ref.tell({ kind: "unwait", id, sink });
  }

  /** Cancel task `id`; resolves false if it was unknown or already ended. */
  cancel(id: string): Promise<boolean> {
    return this.ref.ask<boolean>({ kind: "cancel", id }, { timeoutMs: 10_000 });
  }

  /**
   * Remove the record of a task that has ended; rejects with
   * `UnknownTaskError` if there is none, `TaskConflictError` if it has not ended.
   */
  delete(id: string): Promise<void> {
    return this.#ask({ kind: "delete", id });
  }

  /**
   * Free a serial lane held by a handler that ignored its end (`stuck`), so
   * the next task runs; the record of the task says so. Resolves false if
   * the lane was not stuck; rejects with `UnknownServiceError`.
   */
  release(service: string): Promise<boolean> {
    return this.#ask({ kind: "release", service });
  }

  /**
   * Ask the actor for something it may refuse: the refusal comes back as a
   * value and is thrown here, so a refused request never crashes the actor.
   */
  async #ask<T>(message: ManagerMessage, timeoutMs = 10_000): Promise<T> {
    const answer = await this.ref.ask<Answer<T>>(message, { timeoutMs });
    if ("refusal" in answer) throw answer.refusal;
    return answer.value;
  }

  /** The record of task `id`, live or finished (the manager's own object: copy it to hand out). */
  get(id: string): Promise<TaskRecord | undefined> {
    const live = this.#state.live.get(id);
    return live ? Promise.resolve(live.record) : this.store.get(id);
  }

  /** Records matching `query`, newest first, a page at a time (see `TaskStore.list`). */
  list(query?: TaskListQuery): Promise<TaskPage> {
    return this.store.list(query);
  }

  /** What the store holds and where. */
  storeStats(): Promise<StoreStats> {
    return this.store.stats();
  }

  /**
   * The graph of dependencies around task `id` as Graphviz DOT (its
   * ancestors and descendants, up to `maxNodes`); `undefined` if no such task.
   */
  async graph(id: string, maxNodes?: number): Promise<string | undefined> {
    const tasks = new Map<string, TaskRecord>();
    const root = await this.get(id);
    if (!root) return undefined;
    const bound = Math.min(maxNodes ?? 100, 1_000);
    const pending = [root];
    tasks.set(root.id, root);
    while (pending.length > 0 && tasks.size < bound) {
      const record = pending.shift() as TaskRecord;
      for (const next of [...(record.after ?? []), ...(record.dependents ?? [])]) {
        if (tasks.has(next) || tasks.size >= bound) continue;
        const found = await this.get(next);
        if (found) {
          tasks.set(next, found);
          pending.push(found);
        }
      }
    }
    const view = (record: TaskRecord): GraphTask => ({
      id: record.id,
      type: record.type,
      service: record.service,
      state: record.state,
      after: record.after,
    });
    return graphDot(id, {
      task: (taskId) => {
        const record = tasks.get(taskId);
        return record && view(record);
      },
      dependents: (taskId) => tasks.get(taskId)?.dependents ?? [],
    }, { maxNodes: bound });
  }

  /** Every schedule: its state, last and next run, runs and skips. */
  schedules(): ScheduleInfo[] {
    return this.#schedules.list();
  }

  /**
   * Pause, resume or run schedule `name` now; its status after. Throws
   * `ScheduleError` for an unknown name.
   */
  controlSchedule(name: string, action: "pause" | "resume" | "run"): ScheduleInfo {
    return this.#schedules.control(name, action);
  }

  /** Services as clients see them. */
  services(): ServiceInfo[] {
    return [...this.#state.lanes.values()].map((lane) => lane.describe());
  }

  /**
   * The serial queue of `service` in the order its tasks will run (by
   * priority, FIFO within one): at most `limit` (default 100, at most 1 000)
   * summaries, the task holding the lane first. Throws `UnknownServiceError`.
   */
  queue(service: string, limit = 100): TaskRecordSummary[] {
    const lane = this.#state.lanes.get(service);
    if (!lane) throw new UnknownServiceError(`no service named '${service}'`);
    const bound = Math.max(1, Math.min(Math.trunc(limit) || 100, MAX_PAGE));
    const records = lane.holder ? [lane.holder.record] : [];
    for (const pending of lane.waiting.values(bound - records.length)) records.push(pending.record);
    return records.map(summarize);
  }

  /** Tell watchers that service `name` changed (e.g. its kernel's status). */
  serviceChanged(name: string): void {
    this.ref.tell({ kind: "service-changed", service: name });
  }

  /** Follow task events (see {@linkcode ListenOptions}) until the returned function is called. */
  subscribe(listener: (event: TaskEvent) => void, options?: ListenOptions): () => void {
    return this.#state.events.subscribe(listener, options);
  }

  /**
   * Take no new tasks (`RuntimeStoppingError`). With a durable store, queued
   * and waiting tasks stay in it for the next start; else they end
   * `ServiceStoppedError`. Running handlers see their signal abort and get
   * the abort grace period; then what still runs ends `InterruptedError`
   * (queued again for the next start if its type says `onInterrupt:
   * "requeue"` and the store is durable). Resolves once every record is in
   * the store.
   */
  async close(): Promise<void> {
    this.#schedules.stop();
    const idle = Promise.withResolvers<void>();
    this.#state.idle = idle.resolve;
    await this.ref.ask({ kind: "close" }, { timeoutMs: 10_000 });
    if (this.#state.running() > 0) {
      // Handlers told to stop report within the grace period, or their tasks end without them.
      const graceOver = AbortSignal.timeout(this.#state.settings.abortGraceMs + 1_000);
      await Promise.race([idle.promise, new Promise((resolve) => graceOver.onabort = resolve)]);
    }
    await this.#state.journal.settled();
  }

  /** Handlers running now, over every service. */
  #running(): number {
    let running = 0;
    for (const lane of this.#state.lanes.values()) running += lane.running;
    return running;
  }

  #addService(endpoint: ServiceEndpoint): void {
    if (this.#state.lanes.has(endpoint.name)) {
      throw new Error(`two services are named '${endpoint.name}'`);
    }
    const timeoutProblem = endpoint.taskTimeoutMs === undefined
      ? undefined
      : durationProblem(endpoint.taskTimeoutMs);
    if (timeoutProblem) {
      throw new TypeError(`service '${endpoint.name}': taskTimeoutMs ${timeoutProblem}`);
    }
    this.#state.lanes.set(endpoint.name, new ServiceLane(endpoint));
    this.system.watch(
      endpoint.ref.name,
      () => this.ref.tell({ kind: "service-stopped", service: endpoint.name }),
    );
  }

  #receive(message: ManagerMessage): unknown {
    switch (message.kind) {
      case "submit":
        return this.#submissions.submit(message.request, message.sink);
      case "graph":
        return answered(() => this.#submissions.submitGraph(message.graph));
      case "adopt":
        return this.#submissions.adopt(message.record, message.sink);
      case "started":
        return this.#flow.started(message.id);
      case "finished":
        return this.#flow.finished(message.id, message.outcome);
      case "log":
        return this.#flow.log(message.id, message.entry);
      case "progress":
        return this.#flow.progress(message);
      case "output":
        if (this.#state.events.followed && this.#state.live.has(message.id)) {
          this.#state.events.send({ kind: "output", id: message.id, output: message.output });
        }
        return;
      case "cancel":
        return this.#flow.cancel(message.id);
      case "delete":
        return answered(() => this.#flow.delete(message.id));
      case "release":
        return answered(() => this.#flow.release(message.service));
      case "wait":
        return this.#flow.wait(message.id, message.sink);
      case "unwait": {
        const waiters = this.#state.waiters.get(message.id);
        if (waiters?.delete(message.sink) && waiters.size === 0) {
          this.#state.waiters.delete(message.id);
        }
        return;
      }
      case "timeout":
        return this.#flow.timeout(message.id, message.attempt);
      case "retry":
        return this.#flow.retry(message.id);
      case "grace":
        return this.#flow.graceOver(message.id, message.attempt);
      case "save-log":
        return this.#flow.logSaveDue(message.id);
      case "expire":
        return this.#flow.expire(message.id);
      case "service-stopped":
        return this.#flow.serviceStopped(message.service);
      case "service-changed": {
        const lane = this.#state.lanes.get(message.service);
        if (lane) this.#flow.serviceEvent(lane);
        return;
      }
      case "close":
        return this.#flow.close();
    }
  }
}

/** What the actor answers to a request it may refuse. */
type Answer<T> = { value: T } | { refusal: Error };

/** The answer of `work`: its value, or the error it threw (never a throw: the actor must not crash). */
function answered<T>(work: () => T | Promise<T>): Answer<T> | Promise<Answer<T>> {
  const refusal = (error: unknown) => ({
    refusal: error instanceof Error ? error : new Error(String(error)),
  });
  try {
    const value = work();
    if (value instanceof Promise) return value.then((value) => ({ value }), refusal);
    return { value };
  } catch (error) {
    return refusal(error);
  }
}

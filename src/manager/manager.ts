/**
 * The task manager: one actor that every task passes through. It gives each
 * task a UUID, keeps its record in the store (on disk before anyone is told
 * the id, or a handler starts), and routes it: a parallel task straight to
 * its service; a serial one through its service's lane (by priority, FIFO
 * within one; one in flight); a task with dependencies once they have
 * ended. It owns timeouts, retries, cancellation, expiry and the events; at
 * start it takes up what the store says was unfinished.
 *
 * @module
 */
import type { ActorRef, ActorSystem } from "../actor/mod.ts";
import type { TaskType } from "../task/define.ts";
import {
  QueueFullError,
  RuntimeErrorName,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskConflictError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
} from "../task/errors.ts";
import { cutText, durationProblem, limitOutcome, RECORD_LIMITS } from "../task/limits.ts";
import { errorOutcome, type TaskOutcome } from "../task/outcome.ts";
import { TaskControl, type TaskReport, type TaskRun } from "../task/protocol.ts";
import {
  appendLog,
  EMPTY_LOG,
  isTerminal,
  summarize,
  type TaskLogEntry,
  type TaskRecord,
  type TaskRecordSummary,
  type TaskState,
  transition,
} from "../task/record.ts";
import { uuidv7 } from "../util/uuid.ts";
import { admit, type Admitted } from "./admission.ts";
import { EventHub } from "./events.ts";
import {
  type DependencyStatus,
  DependencyTracker,
  type EndState,
  graphDot,
  GraphError,
  type GraphTask,
  planGraph,
} from "./graph.ts";
import { IdempotencyKeys } from "./idempotency.ts";
import { Journal } from "./journal.ts";
import { LiveTask, PendingTask, ServiceLane } from "./lane.ts";
import { MemoryTaskStore } from "./memory_store.ts";
import { type ScheduleConfig, type ScheduleInfo, Schedules } from "./schedules.ts";
import type { StoreStats, TaskListQuery, TaskPage, TaskStore } from "./store.ts";
import type {
  GraphRequest,
  OutcomeSink,
  ServiceEndpoint,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "./types.ts";

/**
 * Options of the task manager. A `Runtime` passes its own `store`,
 * retention and schedules; the rest comes from `RuntimeOptions.manager`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import type { ManagerOptions } from "./manager.ts";
 * import { Runtime } from "../runtime.ts";
 * import { Service } from "../service/service.ts";
 * import { defineTask } from "../task/define.ts";
 * import { QueueFullError } from "../task/errors.ts";
 * const Hold = defineTask("Hold", { schema: z.object({}), parallel: false });
 * const gate = Promise.withResolvers<void>();
 * const lab = new Service("lab").registerHandler(Hold, () => gate.promise);
 * const manager: ManagerOptions = { maxQueuedPerService: 1, abortGraceMs: 1_000 };
 * const runtime = await Runtime.start({ services: [lab], manager });
 * const client = runtime.client();
 * const running = await client.request("lab", Hold.create({})); // holds the lane
 * const queued = await client.request("lab", Hold.create({})); // the one place in the queue
 * await assert.rejects(client.request("lab", Hold.create({})), QueueFullError);
 * gate.resolve();
 * await Promise.all([running.outcome, queued.outcome]);
 * await runtime.stop();
 * ```
 */
export interface ManagerOptions {
  /** Where records live (default: in memory). */
  store?: TaskStore;
  /** How long a finished record is kept when its type says nothing (default one hour). */
  retentionTtlMs?: number;
  /** Capacity of the manager's mailbox: submissions beyond it are refused. */
  mailboxCapacity?: number;
  /**
   * Most serial tasks waiting per service; more are refused with
   * `QueueFullError` (HTTP 429). Default `DEFAULT_MAX_QUEUED_PER_SERVICE`.
   */
  maxQueuedPerService?: number;
  /**
   * How long a handler told to stop (timeout, cancel, stop) has to report
   * what it did before its task ends without that report; a serial lane
   * whose handler still runs after it shows `stuck`. Default 5 s.
   */
  abortGraceMs?: number;
  /** Tasks submitted on a clock (checked at construction: `ScheduleError` names a bad one). */
  schedules?: readonly ScheduleConfig[];
}

/**
 * Serial tasks that may wait per service by default: 100 000. A queued task
 * costs about 600 bytes, so a full queue holds ~60 MB; and a serial service
 * doing a task a second needs more than a day to work through it — a longer
 * backlog is a runaway client, better refused (429) than kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_QUEUED_PER_SERVICE } from "./manager.ts";
 * assert.equal(DEFAULT_MAX_QUEUED_PER_SERVICE, 100_000);
 * ```
 */
export const DEFAULT_MAX_QUEUED_PER_SERVICE = 100_000;

const DEFAULT_TTL_MS = 3_600_000;
const DEFAULT_ABORT_GRACE_MS = 5_000;

type ManagerMessage =
  | { kind: "submit"; request: SubmitRequest; sink: OutcomeSink }
  | { kind: "graph"; graph: GraphRequest }
  | { kind: "adopt"; record: TaskRecord; sink: OutcomeSink }
  | TaskReport
  | { kind: "cancel"; id: string }
  | { kind: "delete"; id: string }
  | { kind: "release"; service: string }
  | { kind: "wait"; id: string; sink: OutcomeSink }
  | { kind: "unwait"; id: string; sink: OutcomeSink }
  | { kind: "timeout"; id: string; attempt: number }
  | { kind: "retry"; id: string }
  | { kind: "grace"; id: string; attempt: number }
  | { kind: "expire"; id: string }
  | { kind: "service-stopped"; service: string }
  | { kind: "service-changed"; service: string }
  | { kind: "close" };

/** What waits for this turn's records to be durable. */
type Action =
  | { kind: "accept"; sink: OutcomeSink; id: string }
  | { kind: "dispatch"; live: LiveTask; attempt: number }
  | { kind: "settle"; sink: OutcomeSink; outcome: TaskOutcome };

const MANAGER_NAME = "$task-manager";

/** Shared by every record submitted without attributes. */
const NO_ATTRIBUTES: Record<string, unknown> = Object.freeze({});

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
  /** Tasks a handler has been given (until it returns), and tasks not yet handed out. */
  readonly #live = new Map<string, LiveTask | PendingTask>();
  /** Those waiting by id (`wait`) for tasks not yet ended. */
  readonly #waiters = new Map<string, Set<OutcomeSink>>();
  readonly #lanes = new Map<string, ServiceLane>();
  readonly #events = new EventHub();
  readonly #dependencies = new DependencyTracker();
  readonly #keys = new IdempotencyKeys();
  readonly #journal: Journal<Action>;
  readonly #schedules: Schedules;
  #accepting = false;
  #closing = false;
  /** Called when no handler runs any more (while closing). */
  #idle: (() => void) | undefined;
  readonly #ttlMs: number;
  readonly #maxQueued: number;
  readonly #abortGraceMs: number;

  /** Spawn the manager actor in `system`, routing to `endpoints`. Throws on a bad option. */
  constructor(
    readonly system: ActorSystem,
    endpoints: ServiceEndpoint[],
    options: ManagerOptions = {},
  ) {
    this.store = options.store ?? new MemoryTaskStore();
    this.#ttlMs = duration(options.retentionTtlMs, "retentionTtlMs", DEFAULT_TTL_MS);
    this.#maxQueued = count(
      options.maxQueuedPerService,
      "maxQueuedPerService",
      DEFAULT_MAX_QUEUED_PER_SERVICE,
      1,
    );
    this.#abortGraceMs = duration(options.abortGraceMs, "abortGraceMs", DEFAULT_ABORT_GRACE_MS);
    const capacity = count(options.mailboxCapacity, "mailboxCapacity", 1_000_000, 1);
    this.#journal = new Journal(this.store, (action) => this.#perform(action));
    this.ref = system.spawn<ManagerMessage>(
      MANAGER_NAME,
      () => ({ receive: (message) => this.#receive(message) }),
      { mailbox: { capacity, overflow: "reject" } },
    );
    for (const endpoint of endpoints) this.#addService(endpoint);
    this.#schedules = new Schedules(options.schedules ?? [], {
      submit: (request, sink) => this.submit(request, sink),
      check: (request) => admit(request, this.#lanes),
      skipped: (id, message) =>
        this.ref.tell({ kind: "log", id, entry: { at: Date.now(), level: "warn", message } }),
      changed: (schedule) => this.#events.send({ kind: "schedule", schedule }),
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
    await this.#recover(unfinished);
    this.#accepting = true;
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
    const admitted = this.#admit(request);
    if (admitted instanceof Error) throw admitted;
    if (admitted.after) {
      throw new TaskValidationError(admitted.type.name, [{
        path: "after",
        message: "dependencies are not supported across a cluster",
      }]);
    }
    return this.#recordOf(uuidv7(), request, admitted);
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
    const live = this.#live.get(id);
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
    return [...this.#lanes.values()].map((lane) => lane.describe());
  }

  /**
   * The serial queue of `service` in the order its tasks will run (by
   * priority, FIFO within one): at most `limit` (default 100, at most 1 000)
   * summaries, the task holding the lane first. Throws `UnknownServiceError`.
   */
  queue(service: string, limit = 100): TaskRecordSummary[] {
    const lane = this.#lanes.get(service);
    if (!lane) throw new UnknownServiceError(`no service named '${service}'`);
    const bound = Math.max(1, Math.min(Math.trunc(limit) || 100, 1_000));
    const records = lane.holder ? [lane.holder.record] : [];
    for (const pending of lane.waiting.values(bound - records.length)) records.push(pending.record);
    return records.map(summarize);
  }

  /** Tell watchers that service `name` changed (e.g. its kernel's status). */
  serviceChanged(name: string): void {
    this.ref.tell({ kind: "service-changed", service: name });
  }

  /** Follow task events. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    return this.#events.subscribe(listener);
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
    this.#idle = idle.resolve;
    await this.ref.ask({ kind: "close" }, { timeoutMs: 10_000 });
    if (this.#running() > 0) {
      // Handlers told to stop report within the grace period, or their tasks end without them.
      const graceOver = AbortSignal.timeout(this.#abortGraceMs + 1_000);
      await Promise.race([idle.promise, new Promise((resolve) => graceOver.onabort = resolve)]);
    }
    await this.#journal.settled();
  }

  /** Handlers running now, over every service. */
  #running(): number {
    let running = 0;
    for (const lane of this.#lanes.values()) running += lane.running;
    return running;
  }

  #addService(endpoint: ServiceEndpoint): void {
    if (this.#lanes.has(endpoint.name)) {
      throw new Error(`two services are named '${endpoint.name}'`);
    }
    const timeoutProblem = endpoint.taskTimeoutMs === undefined
      ? undefined
      : durationProblem(endpoint.taskTimeoutMs);
    if (timeoutProblem) {
      throw new TypeError(`service '${endpoint.name}': taskTimeoutMs ${timeoutProblem}`);
    }
    this.#lanes.set(endpoint.name, new ServiceLane(endpoint));
    this.system.watch(
      endpoint.ref.name,
      () => this.ref.tell({ kind: "service-stopped", service: endpoint.name }),
    );
  }

  #receive(message: ManagerMessage): unknown {
    switch (message.kind) {
      case "submit":
        return this.#submit(message.request, message.sink);
      case "graph":
        return answered(() => this.#submitGraph(message.graph));
      case "adopt":
        return this.#adopt(message.record, message.sink);
      case "started":
        return this.#started(message.id);
      case "finished":
        return this.#finished(message.id, message.outcome);
      case "log":
        return this.#log(message.id, message.entry);
      case "progress":
        return this.#progress(message);
      case "output":
        if (this.#events.listening && this.#live.has(message.id)) {
          this.#events.send({ kind: "output", id: message.id, output: message.output });
        }
        return;
      case "cancel":
        return this.#cancel(message.id);
      case "delete":
        return answered(() => this.#delete(message.id));
      case "release":
        return answered(() => this.#release(message.service));
      case "wait":
        return this.#wait(message.id, message.sink);
      case "unwait": {
        const waiters = this.#waiters.get(message.id);
        if (waiters?.delete(message.sink) && waiters.size === 0) this.#waiters.delete(message.id);
        return;
      }
      case "timeout":
        return this.#timeout(message.id, message.attempt);
      case "retry":
        return this.#retry(message.id);
      case "grace":
        return this.#graceOver(message.id, message.attempt);
      case "expire":
        return this.#expire(message.id);
      case "service-stopped":
        return this.#serviceStopped(message.service);
      case "service-changed": {
        const lane = this.#lanes.get(message.service);
        if (lane) this.#serviceEvent(lane);
        return;
      }
      case "close":
        return this.#close();
    }
  }

  // --- Submission -----------------------------------------------------------

  /** Why a submission is refused before admission, if it is. */
  #doorClosed(service: string): Error | undefined {
    if (!this.#accepting) {
      return new RuntimeStoppingError("the runtime is stopping: it takes no new tasks");
    }
    if (this.#journal.failure) {
      return new RuntimeStoppingError(
        `the task store failed (${this.#journal.failure.message}): no new tasks are taken`,
      );
    }
    if (this.#lanes.get(service)?.stopped) {
      return new ServiceStoppedError(`service '${service}' is stopped`);
    }
    return undefined;
  }

  /** Admit `request`, or the typed refusal it gets. */
  #admit(request: SubmitRequest): Admitted | Error {
    const closed = this.#doorClosed(request.service);
    if (closed) return closed;
    let admitted: Admitted;
    try {
      admitted = admit(request, this.#lanes);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    const lane = this.#lanes.get(request.service) as ServiceLane;
    if (!admitted.type.parallel && lane.waiting.length >= this.#maxQueued) {
      return new QueueFullError(
        `service '${lane.endpoint.name}' has ${lane.waiting.length} serial tasks waiting (limit ${this.#maxQueued})`,
      );
    }
    return admitted;
  }

  #submit(request: SubmitRequest, sink: OutcomeSink): void | Promise<void> {
    const admitted = this.#admit(request);
    if (admitted instanceof Error) return sink.refused(admitted);
    const { key } = request;
    if (key !== undefined && this.store.durable && this.#keys.idOf(key) === undefined) {
      // A key of a task from before a restart is known only to the store.
      return this.store.list({ key, limit: 1 }).then(({ records: [first] }) => {
        if (first && this.#keys.idOf(key) === undefined) this.#keys.claim(key, first, first.id);
        return this.#submitAdmitted(request, admitted, sink);
      });
    }
    return this.#submitAdmitted(request, admitted, sink);
  }

  #submitAdmitted(
    request: SubmitRequest,
    admitted: Admitted,
    sink: OutcomeSink,
  ): void | Promise<void> {
    const id = uuidv7();
    if (request.key !== undefined) {
      const claim = this.#keys.claim(request.key, { ...request, fields: admitted.fields }, id);
      if (claim.kind === "same") return this.#answerWithFirst(claim.id, request, sink);
      if (claim.kind === "conflict") return sink.refused(new TaskConflictError(claim.message));
    }
    if (admitted.after) return this.#submitAfter(id, request, admitted, sink);
    this.#accept(id, request, admitted, sink, NO_DEPENDENCIES);
  }

  /**
   * A key already names a task: if its record is still there, the submitter
   * gets that task's id and outcome; if it left retention, the key is free.
   */
  async #answerWithFirst(firstId: string, request: SubmitRequest, sink: OutcomeSink) {
    const first = this.#live.get(firstId)?.record ?? await this.store.get(firstId);
    if (!first) {
      this.#keys.forgetTask(firstId);
      return this.#submit(request, sink);
    }
    sink.accepted?.(firstId);
    if (isTerminal(first.state) && first.outcome) return sink.settled(first.outcome);
    this.#addWaiter(firstId, sink);
  }

  /** A task with `after`: the state of each dependency, read from the store if not live. */
  async #submitAfter(
    id: string,
    request: SubmitRequest,
    admitted: Admitted,
    sink: OutcomeSink,
  ): Promise<void> {
    const states = new Map<string, DependencyStatus>();
    const unknown: string[] = [];
    for (const dependency of admitted.after as string[]) {
      const record = this.#live.get(dependency)?.record ?? await this.store.get(dependency);
      if (!record) unknown.push(dependency);
      else states.set(dependency, isTerminal(record.state) ? record.state as EndState : "pending");
    }
    // The door may have closed while the store was read.
    const refusal = unknown.length > 0 ? undefined : this.#doorClosed(request.service);
    if (unknown.length > 0 || refusal) {
      if (request.key !== undefined) this.#keys.forget(request.key);
    }
    if (refusal) return sink.refused(refusal);
    if (unknown.length > 0) {
      return sink.refused(
        new UnknownTaskError(
          `after: no task with id ${
            unknown.slice(0, 5).map((id) => `'${id}'`).join(", ")
          } (unknown, or past its retention)`,
        ),
      );
    }
    this.#accept(id, request, admitted, sink, states);
  }

  /**
   * Make the task's record and route it: ready ones to their lane, those
   * with dependencies pending to wait, those whose dependency already failed
   * to end at once. The submitter hears the id once the record is stored.
   */
  #accept(
    id: string,
    request: SubmitRequest,
    admitted: Admitted,
    sink: OutcomeSink | undefined,
    dependencies: ReadonlyMap<string, DependencyStatus>,
  ): TaskRecord {
    const record = this.#recordOf(id, request, admitted);
    if (admitted.after) this.#linkDependents(record);
    this.#journal.save(record);
    if (sink?.accepted) this.#journal.after({ kind: "accept", sink, id: record.id });
    const pending = new PendingTask(record, sink);
    this.#live.set(record.id, pending);
    if (!admitted.after) {
      this.#events.task(record);
      this.#enqueue(pending, admitted.type);
      return record;
    }
    const decision = this.#dependencies.wait(
      record.id,
      admitted.after,
      record.onDependencyFailure,
      (id) => this.#statusOf(id, dependencies),
    );
    if (decision.kind === "waiting") {
      record.state = "waiting";
      this.#events.task(record);
      this.#armExpiry(pending);
    } else if (decision.kind === "cancel") {
      this.#endPending(
        pending,
        "cancelled",
        RuntimeErrorName.DependencyFailed,
        decision.failure.message,
      );
    } else {
      this.#events.task(record);
      this.#enqueue(pending, admitted.type);
    }
    return record;
  }

  /** The record of an admitted request, `queued`. */
  #recordOf(id: string, request: SubmitRequest, admitted: Admitted): TaskRecord {
    const now = Date.now();
    const record: TaskRecord = {
      id,
      type: admitted.type.name,
      service: request.service,
      fields: admitted.fields,
      attributes: request.attributes ?? NO_ATTRIBUTES,
      parallel: admitted.type.parallel,
      state: "queued",
      attempts: 0,
      createdAt: now,
      log: EMPTY_LOG,
    };
    if (admitted.timeoutMs !== undefined) record.timeoutMs = admitted.timeoutMs;
    if (request.priority) record.priority = request.priority;
    if (admitted.expiresInMs !== undefined) record.deadline = now + admitted.expiresInMs;
    if (request.key !== undefined) record.key = request.key;
    if (request.parent !== undefined) record.parent = request.parent;
    if (request.rerunOf !== undefined) record.rerunOf = request.rerunOf;
    if (request.schedule !== undefined) record.schedule = request.schedule;
    if (admitted.after) {
      record.after = admitted.after;
      record.onDependencyFailure = request.onDependencyFailure ?? "cancel";
    }
    return record;
  }

  /** A task admitted elsewhere joins its lane here (see `adopt`). */
  #adopt(record: TaskRecord, sink: OutcomeSink): void {
    const lane = this.#lanes.get(record.service);
    const type = lane?.endpoint.resolve(record.type);
    if (!this.#accepting) {
      return sink.refused(
        new RuntimeStoppingError("the runtime is stopping: it takes no new tasks"),
      );
    }
    if (record.log !== EMPTY_LOG) record.log = [...record.log];
    const pending = new PendingTask(record, sink);
    this.#live.set(record.id, pending);
    if (!lane || !type) {
      const [ename, evalue] = !lane
        ? [RuntimeErrorName.UnknownService, `no service named '${record.service}' here`]
        : [
          RuntimeErrorName.UnknownTaskType,
          `service '${record.service}' has no task type '${record.type}'`,
        ];
      return this.#endPending(pending, "failed", ename, evalue);
    }
    this.#journal.save(record);
    this.#events.task(record);
    this.#enqueue(pending, type);
  }

  #statusOf(
    id: string,
    known: ReadonlyMap<string, DependencyStatus>,
  ): DependencyStatus | undefined {
    const live = this.#live.get(id);
    if (live) return isTerminal(live.record.state) ? live.record.state as EndState : "pending";
    return known.get(id);
  }

  /** Name `record` in the `dependents` of each task it waits for (for the graph view). */
  #linkDependents(record: TaskRecord): void {
    for (const id of record.after ?? []) {
      const live = this.#live.get(id)?.record;
      if (live) {
        live.dependents = [...(live.dependents ?? []), record.id];
        this.#journal.save(live);
        continue;
      }
      this.store.get(id).then((stored) => {
        if (!stored) return;
        stored.dependents = [...(stored.dependents ?? []), record.id];
        this.#journal.save(stored);
      }).catch(() => {});
    }
  }

  #submitGraph(graph: GraphRequest): Promise<Record<string, string>> | Record<string, string> {
    const names = Object.keys(graph);
    const nodes = Object.fromEntries(
      names.map((name) => {
        const node = graph[name];
        const inGraph = (node.after ?? []).filter((dep) => Object.hasOwn(graph, dep));
        return [name, {
          service: node?.service,
          task: { type: node?.type, fields: node?.fields },
          after: inGraph,
          onDependencyFailure: node?.onDependencyFailure,
        }];
      }),
    );
    const order = planGraph(nodes);
    const admitted = new Map<string, Admitted>();
    for (const name of order) {
      const node = graph[name];
      const result = this.#admit({ ...node, after: undefined });
      if (result instanceof Error) {
        result.message = `graph task '${name}': ${result.message}`;
        throw result;
      }
      admitted.set(name, result);
    }
    const outside = [...new Set(names.flatMap((name) => graph[name].after ?? []))]
      .filter((dep) => !Object.hasOwn(graph, dep));
    const submitAll = (states: Map<string, DependencyStatus>) => {
      const ids: Record<string, string> = {};
      for (const name of order) {
        const node = graph[name];
        const after = (node.after ?? []).map((dep) => Object.hasOwn(ids, dep) ? ids[dep] : dep);
        const entry = admitted.get(name) as Admitted;
        const record = this.#accept(
          uuidv7(),
          { ...node, after, key: undefined },
          { ...entry, after: after.length > 0 ? [...new Set(after)] : undefined },
          undefined,
          states,
        );
        ids[name] = record.id;
      }
      return ids;
    };
    if (outside.length === 0) return submitAll(new Map());
    return (async () => {
      const states = new Map<string, DependencyStatus>();
      const unknown: string[] = [];
      for (const id of outside) {
        const record = this.#live.get(id)?.record ?? await this.store.get(id);
        if (!record) unknown.push(id);
        else states.set(id, isTerminal(record.state) ? record.state as EndState : "pending");
      }
      if (unknown.length > 0) {
        const shown = unknown.slice(0, 5).map((name) => `"${name}"`).join(", ");
        throw new GraphError(
          "unknown",
          unknown,
          `after names ${shown}, neither a task of the graph nor an existing task's id`,
        );
      }
      return submitAll(states);
    })();
  }

  // --- Lanes ----------------------------------------------------------------

  /** A task ready to run: to its handler now (parallel, or a free lane), or into its lane. */
  #enqueue(pending: PendingTask, type: TaskType): void {
    const lane = this.#lanes.get(pending.record.service) as ServiceLane;
    if (type.parallel) return this.#startAttempt(this.#hand(pending, type, lane));
    if (lane.holder || lane.stuck) {
      pending.handle = lane.waiting.push(pending, pending.record.priority ?? 0);
      this.#armExpiry(pending);
      return;
    }
    lane.holder = this.#hand(pending, type, lane);
    this.#startAttempt(lane.holder);
  }

  /** A pending task becomes live: a handler is about to get it. */
  #hand(pending: PendingTask, type: TaskType, lane: ServiceLane): LiveTask {
    pending.expiry?.cancel();
    const live = new LiveTask(pending.record, type, lane, pending.sink);
    this.#live.set(pending.record.id, live);
    return live;
  }

  /**
   * Start an attempt: the record says `running` (so a crash from here on
   * counts as an interruption), and the handler gets the task once that is
   * durable.
   */
  #startAttempt(live: LiveTask): void {
    const { record, lane } = live;
    const now = Date.now();
    record.attempts++;
    record.startedAt ??= now;
    transition(record, "running", now, `attempt ${record.attempts}`);
    live.retry = undefined;
    live.control = new TaskControl();
    live.dispatched = false;
    lane.running++;
    this.#journal.save(record);
    this.#events.task(record);
    this.#journal.after({ kind: "dispatch", live, attempt: record.attempts });
  }

  #dispatch(live: LiveTask, attempt: number): void {
    const { record, lane } = live;
    // Ended (cancel, stop) before its record was durable: nothing to run.
    if (record.attempts !== attempt || !live.control || isTerminal(record.state)) {
      if (live.control && isTerminal(record.state)) this.#handlerReturned(live);
      return;
    }
    const run: TaskRun = {
      id: record.id,
      type: live.type,
      fields: record.fields,
      attributes: record.attributes,
      attempt,
      control: live.control,
      replyTo: this.ref,
    };
    if (lane.endpoint.ref.tell(run)) {
      live.dispatched = true;
      return;
    }
    const alive = lane.endpoint.ref.isAlive;
    const evalue = alive
      ? `service '${lane.endpoint.name}' is overloaded: its mailbox is full`
      : `service '${lane.endpoint.name}' is stopped`;
    this.#finishLive(
      live,
      errorOutcome(
        record.id,
        alive ? RuntimeErrorName.QueueFull : RuntimeErrorName.ServiceStopped,
        evalue,
      ),
      "failed",
    );
    this.#handlerReturned(live);
  }

  #started(id: string): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || live.record.state !== "running" || live.timeout) return;
    const timeoutMs = live.record.timeoutMs;
    if (timeoutMs === undefined) return;
    const attempt = live.record.attempts;
    live.timeout = this.system.deadlines.schedule(
      timeoutMs,
      () => this.ref.tell({ kind: "timeout", id, attempt }),
    );
  }

  #finished(id: string, outcome: TaskOutcome): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || !live.control) return;
    const control = live.control;
    live.timeout?.cancel();
    live.timeout = undefined;
    const { record } = live;
    if (live.ending) {
      // Told to stop: it ends as it was told, with what its handler reports of what it did.
      const { outcome: ending, grace } = live.ending;
      live.ending = undefined;
      grace.cancel();
      const stopped = ending.status === "error" && ending.ename === RuntimeErrorName.Interrupted;
      if (isTerminal(record.state)) {
        // Ended meanwhile (the service stopped): nothing more to record.
      } else if (stopped && outcome.status === "ok") {
        // Told to stop, it finished its work anyway: that is how it ended.
        this.#finishLive(live, limitOutcome(outcome), "succeeded");
      } else if (stopped) this.#interrupted(live, withReport(ending, outcome));
      else {
        const finished = withReport(ending, outcome);
        this.#finishLive(live, finished, stateOf(finished));
      }
    } else if (live.retry) {
      // A timed-out attempt has returned; its retry may start now.
      live.control = undefined;
      live.lane.running--;
      if (live.retry.due) this.#startAttempt(live);
      return;
    } else if (!isTerminal(record.state)) {
      // Bounded once, here: what a record keeps, lists and sends stays readable.
      const limited = limitOutcome(outcome);
      const delay = limited.status === "error" && !control.aborted && this.#accepting
        ? live.type.retryPolicy.next(record.attempts, limited.ename)
        : undefined;
      if (delay !== undefined && limited.status === "error") {
        live.control = undefined;
        live.lane.running--;
        return this.#scheduleRetry(live, `${limited.ename}: ${limited.evalue}`, delay);
      }
      this.#finishLive(live, limited, limited.status === "ok" ? "succeeded" : "failed");
    } else if (outcome.execution) {
      this.#keepLateExecution(record, outcome);
    }
    this.#handlerReturned(live);
  }

  /**
   * A task ended here (timeout, cancel, grace period over) while its handler
   * still ran; the handler's late report says what the code did until then:
   * keep it on the record, read by id.
   */
  #keepLateExecution(record: TaskRecord, late: TaskOutcome): void {
    const ended = record.outcome;
    if (ended?.status !== "error" || ended.execution) return;
    record.outcome = withReport(ended, late);
    this.#journal.save(record);
    this.#events.task(record);
  }

  #scheduleRetry(live: LiveTask, reason: string, delay: number): void {
    const { record } = live;
    // The serial slot stays held: the next serial task waits for the retries.
    transition(
      record,
      "queued",
      Date.now(),
      `attempt ${record.attempts} failed (${reason}); retry in ${delay} ms`,
    );
    this.#journal.save(record);
    this.#events.task(record);
    const timer = this.system.deadlines.schedule(
      delay,
      () => this.ref.tell({ kind: "retry", id: record.id }),
    );
    live.retry = { timer, due: false };
  }

  #retry(id: string): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || !live.retry || isTerminal(live.record.state)) return;
    if (live.control) live.retry.due = true;
    else this.#startAttempt(live);
  }

  #timeout(id: string, attempt: number): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || live.record.state !== "running" || live.ending) return;
    if (live.record.attempts !== attempt) return;
    const evalue = `task exceeded its timeout of ${live.record.timeoutMs} ms`;
    live.control?.abort(new DOMException(evalue, "TimeoutError"));
    const delay = this.#accepting
      ? live.type.retryPolicy.next(attempt, RuntimeErrorName.Timeout)
      : undefined;
    if (delay !== undefined) {
      // The handler was told to stop; the retry starts once it reports back.
      return this.#scheduleRetry(live, evalue, delay);
    }
    this.#endLive(live, errorOutcome(id, RuntimeErrorName.Timeout, evalue));
  }

  /**
   * End a live task as told (timeout, cancel, stop): its handler's signal
   * aborts; the task ends when the handler reports (with that report), or
   * when the grace period is over (without it).
   */
  #endLive(live: LiveTask, outcome: TaskOutcome, reason?: DOMException): void {
    live.retry?.timer.cancel();
    live.retry = undefined;
    if (!live.control || !live.dispatched) {
      // Waiting for a retry, or not handed to its service yet: no handler to wait for.
      if (outcome.status === "error" && outcome.ename === RuntimeErrorName.Interrupted) {
        return this.#interrupted(live, outcome);
      }
      this.#finishLive(live, outcome, stateOf(outcome));
      return this.#handlerReturned(live);
    }
    if (reason) live.control.abort(reason);
    if (live.ending) return;
    const attempt = live.record.attempts;
    live.ending = {
      outcome,
      grace: this.system.deadlines.schedule(
        this.#abortGraceMs,
        () => this.ref.tell({ kind: "grace", id: live.record.id, attempt }),
      ),
    };
  }

  /** The grace period of a task told to stop is over and its handler still runs. */
  #graceOver(id: string, attempt: number): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || !live.ending || live.record.attempts !== attempt) return;
    const { outcome } = live.ending;
    live.ending = undefined;
    const { record, lane } = live;
    appendLog(record, {
      at: Date.now(),
      level: "warn",
      message: `the handler did not return within ${this.#abortGraceMs} ms of being told to stop` +
        (lane.holder === live
          ? `; service '${lane.endpoint.name}' stays held until it returns, or release('${lane.endpoint.name}')`
          : ""),
    });
    if (outcome.status === "error" && outcome.ename === RuntimeErrorName.Interrupted) {
      this.#interrupted(live, outcome);
    } else this.#finishLive(live, outcome, stateOf(outcome));
    if (lane.holder === live) {
      lane.stuck = { taskId: id, since: Date.now() };
      this.#serviceEvent(lane);
    }
  }

  /**
   * The handler of a live task has returned (or will never be waited for):
   * forget the task if it has ended and, for a serial one, hand the service
   * to the next in line.
   */
  #handlerReturned(live: LiveTask): void {
    const { lane } = live;
    if (live.control) {
      live.control = undefined;
      lane.running--;
      if (this.#idle && this.#running() === 0) this.#idle();
    }
    if (!isTerminal(live.record.state) && live.record.state !== "queued") return;
    if (live.retry) return;
    if (this.#live.get(live.record.id) === live && isTerminal(live.record.state)) {
      this.#live.delete(live.record.id);
    }
    if (lane.holder !== live) return;
    lane.holder = undefined;
    if (lane.stuck?.taskId === live.record.id) {
      lane.stuck = undefined;
      this.#serviceEvent(lane);
    }
    this.#next(lane);
  }

  /** Hand a free serial lane to the next task in it. */
  #next(lane: ServiceLane): void {
    if (lane.holder || lane.stuck || lane.stopped || !this.#accepting) return;
    const pending = lane.waiting.shift();
    if (!pending) return;
    pending.handle = undefined;
    const type = lane.endpoint.resolve(pending.record.type) as TaskType;
    lane.holder = this.#hand(pending, type, lane);
    this.#startAttempt(lane.holder);
  }

  #release(service: string): boolean {
    const lane = this.#lanes.get(service);
    if (!lane) throw new UnknownServiceError(`no service named '${service}'`);
    const holder = lane.holder;
    if (!lane.stuck || !holder) return false;
    appendLog(holder.record, {
      at: Date.now(),
      level: "warn",
      message: `service '${service}' was released by an operator while this handler still ran`,
    });
    this.#journal.save(holder.record);
    lane.stuck = undefined;
    lane.holder = undefined;
    // Its late report, if any, changes nothing but the record's execution.
    this.#live.delete(holder.record.id);
    if (holder.control) {
      holder.control = undefined;
      lane.running--;
    }
    this.#serviceEvent(lane);
    this.#next(lane);
    return true;
  }

  // --- Ending tasks ---------------------------------------------------------

  #cancel(id: string): boolean {
    const task = this.#live.get(id);
    if (!task || isTerminal(task.record.state)) return false;
    const evalue = "the task was cancelled";
    if (task instanceof PendingTask) {
      this.#endPending(task, "cancelled", RuntimeErrorName.Cancelled, evalue);
      return true;
    }
    if (task.ending) return true;
    this.#endLive(
      task,
      errorOutcome(id, RuntimeErrorName.Cancelled, evalue),
      new DOMException(evalue, "AbortError"),
    );
    return true;
  }

  #expire(id: string): void {
    const task = this.#live.get(id);
    if (!(task instanceof PendingTask) || isTerminal(task.record.state)) return;
    this.#endPending(
      task,
      "expired",
      RuntimeErrorName.Expired,
      `the task was still ${task.record.state} at its deadline, ${
        new Date(task.record.deadline as number).toISOString()
      }: it never ran`,
    );
  }

  /** End a task that no handler has: it leaves its lane (or stops waiting) and never runs. */
  #endPending(pending: PendingTask, state: TaskState, ename: string, evalue: string): void {
    const { record } = pending;
    pending.expiry?.cancel();
    if (pending.handle !== undefined) {
      this.#lanes.get(record.service)?.waiting.remove(pending.handle);
      pending.handle = undefined;
    }
    this.#live.delete(record.id);
    this.#finish(record, pending.sink, errorOutcome(record.id, ename, evalue), state);
  }

  #armExpiry(pending: PendingTask): void {
    const deadline = pending.record.deadline;
    if (deadline === undefined || pending.expiry) return;
    const id = pending.record.id;
    pending.expiry = this.system.deadlines.schedule(
      Math.max(0, deadline - Date.now()),
      () => this.ref.tell({ kind: "expire", id }),
    );
  }

  /** A task ended because its runtime stopped while it ran: requeued for the next start, or failed. */
  #interrupted(live: LiveTask, outcome: TaskOutcome): void {
    const { record } = live;
    if (live.type.onInterrupt === "requeue" && this.store.durable) {
      transition(
        record,
        "queued",
        Date.now(),
        `the runtime stopped while attempt ${record.attempts} ran: queued again for its next start (onInterrupt: "requeue")`,
      );
      this.#journal.save(record);
      this.#events.task(record);
      // Nobody here will hear its outcome: a client asks for it by id after the restart.
      this.#live.delete(record.id);
      return;
    }
    this.#finishLive(live, outcome, "failed");
  }

  /** End a task: record its outcome, and tell its submitter and whoever waits by id. */
  #finish(
    record: TaskRecord,
    submitter: OutcomeSink | undefined,
    outcome: TaskOutcome,
    state: TaskState,
  ): void {
    const now = Date.now();
    const message = outcome.status === "ok" ? "" : `${outcome.ename}: ${outcome.evalue}`;
    transition(record, state, now, message);
    record.outcome = outcome;
    record.finishedAt = now;
    const type = this.#lanes.get(record.service)?.endpoint.resolve(record.type);
    record.expiresAt = now + (type?.retention?.ttlMs ?? this.#ttlMs);
    this.#journal.save(record);
    this.#events.task(record);
    if (submitter) this.#journal.after({ kind: "settle", sink: submitter, outcome });
    const waiters = this.#waiters.get(record.id);
    if (waiters) {
      this.#waiters.delete(record.id);
      for (const waiter of waiters) this.#journal.after({ kind: "settle", sink: waiter, outcome });
    }
    this.#dependencyEnded(record.id, state as EndState);
  }

  /** `#finish` a task a handler has: its submitter is told once, whatever reports later. */
  #finishLive(live: LiveTask, outcome: TaskOutcome, state: TaskState): void {
    const submitter = live.sink;
    live.sink = undefined;
    live.ending?.grace.cancel();
    live.ending = undefined;
    this.#finish(live.record, submitter, outcome, state);
  }

  /** Task `id` ended: the tasks waiting for it may run now, or end too. */
  #dependencyEnded(id: string, state: EndState): void {
    const { ready, cancelled } = this.#dependencies.ended(id, state);
    for (const readyId of ready) {
      const pending = this.#live.get(readyId);
      if (!(pending instanceof PendingTask)) continue;
      transition(pending.record, "queued", Date.now(), "its dependencies have ended");
      this.#journal.save(pending.record);
      this.#events.task(pending.record);
      const type = this.#lanes.get(pending.record.service)?.endpoint.resolve(pending.record.type);
      if (type) this.#enqueue(pending, type);
    }
    for (const failure of cancelled) {
      const pending = this.#live.get(failure.id);
      if (!(pending instanceof PendingTask)) continue;
      this.#endPending(pending, "cancelled", RuntimeErrorName.DependencyFailed, failure.message);
    }
  }

  // --- Reads, waits, the log ------------------------------------------------

  #wait(id: string, sink: OutcomeSink): void | Promise<void> {
    const task = this.#live.get(id);
    if (task && !isTerminal(task.record.state)) return this.#addWaiter(id, sink);
    if (task?.record.outcome) return sink.settled(task.record.outcome);
    return this.store.get(id).then((record) => {
      if (record?.outcome) sink.settled(record.outcome);
      else if (record && !isTerminal(record.state)) this.#addWaiter(id, sink);
      else {sink.refused(
          new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`),
        );}
    });
  }

  #addWaiter(id: string, sink: OutcomeSink): void {
    const waiters = this.#waiters.get(id);
    if (waiters) waiters.add(sink);
    else this.#waiters.set(id, new Set([sink]));
  }

  async #delete(id: string): Promise<void> {
    const live = this.#live.get(id);
    if (live && !isTerminal(live.record.state)) {
      throw new TaskConflictError(
        `task ${id} is ${live.record.state}: cancel it first, or wait for it to end`,
      );
    }
    const record = live?.record ?? await this.store.get(id);
    if (!record) {
      throw new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`);
    }
    if (!isTerminal(record.state)) {
      throw new TaskConflictError(`task ${id} is ${record.state}: it has not ended`);
    }
    this.#journal.delete(id);
    if (record.key !== undefined) this.#keys.forgetTask(id);
    if (this.#events.listening) this.#events.send({ kind: "removed", id });
  }

  #log(id: string, line: TaskLogEntry): void {
    const record = this.#live.get(id)?.record;
    const { logEntries, logMessageChars } = RECORD_LIMITS;
    if (!record || record.log.length >= logEntries) return;
    const entry: TaskLogEntry = record.log.length === logEntries - 1
      ? {
        at: line.at,
        level: "warn",
        message: `log limit of ${logEntries} lines reached: later lines are dropped`,
      }
      : line.message.length > logMessageChars
      ? { ...line, message: cutText(line.message, logMessageChars) }
      : line;
    appendLog(record, entry);
    if (isTerminal(record.state)) this.#journal.save(record);
    if (this.#events.listening) this.#events.send({ kind: "log", id, entry });
  }

  #progress(report: Extract<TaskReport, { kind: "progress" }>): void {
    const live = this.#live.get(report.id);
    if (!(live instanceof LiveTask) || isTerminal(live.record.state)) return;
    const fraction = report.progress.fraction;
    if (!(fraction >= 0 && fraction <= 1)) return;
    const message = report.progress.message;
    live.record.progress = {
      fraction,
      at: report.progress.at,
      ...(message === undefined ? {} : { message: cutText(String(message), 1_000) }),
    };
    if (this.#events.listening) {
      this.#events.send({ kind: "progress", id: report.id, progress: live.record.progress });
    }
  }

  #serviceEvent(lane: ServiceLane): void {
    if (this.#events.listening) this.#events.send({ kind: "service", service: lane.describe() });
  }

  // --- After the flush ------------------------------------------------------

  #perform(action: Action): void {
    switch (action.kind) {
      case "accept":
        return action.sink.accepted?.(action.id);
      case "dispatch":
        return this.#dispatch(action.live, action.attempt);
      case "settle":
        return action.sink.settled(action.outcome);
    }
  }

  // --- Start, stop ----------------------------------------------------------

  /** Take up the unfinished records of the store (see `start`). */
  async #recover(records: TaskRecord[]): Promise<void> {
    const now = Date.now();
    const requeued: [PendingTask, TaskType][] = [];
    const queued: [PendingTask, TaskType][] = [];
    for (const record of records) {
      if (record.log !== EMPTY_LOG) record.log = [...record.log];
      const pending = new PendingTask(record, undefined);
      this.#live.set(record.id, pending);
      if (record.key !== undefined) this.#keys.claim(record.key, record, record.id);
      const lane = this.#lanes.get(record.service);
      const type = lane?.endpoint.resolve(record.type);
      if (!lane || !type) {
        const problem = !lane
          ? [
            RuntimeErrorName.UnknownService,
            `service '${record.service}' is not in this runtime's config`,
          ]
          : [
            RuntimeErrorName.UnknownTaskType,
            `service '${record.service}' no longer handles '${record.type}'`,
          ];
        appendLog(record, {
          at: now,
          level: "error",
          message: `recovered from the store after a restart, but ${problem[1]}: it cannot run`,
        });
        this.#endPending(
          pending,
          "failed",
          problem[0],
          `${problem[1]}; the task was recovered after a restart`,
        );
        continue;
      }
      if (record.state === "running") {
        const attempt = record.attempts;
        if (type.onInterrupt === "requeue") {
          transition(
            record,
            "queued",
            now,
            `the runtime stopped while attempt ${attempt} ran: queued again (onInterrupt: "requeue")`,
          );
          this.#journal.save(record);
          requeued.push([pending, type]);
        } else {
          this.#endPending(
            pending,
            "failed",
            RuntimeErrorName.Interrupted,
            `the runtime stopped while the task ran (attempt ${attempt}); it was not run again, ` +
              `since its type does not say onInterrupt: "requeue"`,
          );
        }
        continue;
      }
      queued.push([pending, type]);
    }
    // Requeued first: each goes back to the head of its lane, before what was queued behind it.
    for (const [pending, type] of requeued) this.#enqueue(pending, type);
    for (const [pending, type] of queued) {
      const { record } = pending;
      if (record.deadline !== undefined && record.deadline <= now) {
        this.#endPending(
          pending,
          "expired",
          RuntimeErrorName.Expired,
          `the task was still ${record.state} at its deadline, ${
            new Date(record.deadline).toISOString()
          }: it never ran`,
        );
        continue;
      }
      if (record.state === "waiting" && record.after) {
        const ended = new Map<string, DependencyStatus>();
        for (const id of record.after) {
          if (this.#live.has(id)) continue;
          // Gone past its retention: it ended long ago, and its outcome is unknown now.
          const state = (await this.store.get(id))?.state ?? "failed";
          ended.set(id, isTerminal(state) ? state as EndState : "pending");
        }
        const decision = this.#dependencies.wait(
          record.id,
          record.after,
          record.onDependencyFailure,
          (id) => this.#statusOf(id, ended),
        );
        if (decision.kind === "waiting") {
          this.#armExpiry(pending);
          continue;
        }
        if (decision.kind === "cancel") {
          this.#endPending(
            pending,
            "cancelled",
            RuntimeErrorName.DependencyFailed,
            decision.failure.message,
          );
          continue;
        }
        transition(record, "queued", now, "its dependencies had ended when the runtime restarted");
        this.#journal.save(record);
      }
      this.#enqueue(pending, type);
    }
  }

  /** Stop taking tasks; end or keep what is queued; tell running handlers to stop. */
  #close(): void {
    if (!this.#accepting && this.#closing) return;
    this.#accepting = false;
    this.#closing = true;
    const keep = this.store.durable;
    const evalue = "the runtime stopped before the task finished";
    for (const task of [...this.#live.values()]) {
      if (task instanceof PendingTask) {
        task.expiry?.cancel();
        if (keep) continue; // queued for the next start
        this.#endPending(task, "failed", RuntimeErrorName.ServiceStopped, evalue);
        continue;
      }
      if (isTerminal(task.record.state)) continue;
      if (!task.control && keep) {
        // Waiting for its retry: still queued, for the next start.
        task.retry?.timer.cancel();
        this.#live.delete(task.record.id);
        continue;
      }
      const outcome = keep
        ? errorOutcome(
          task.record.id,
          RuntimeErrorName.Interrupted,
          "the runtime stopped while the task ran",
        )
        : errorOutcome(task.record.id, RuntimeErrorName.ServiceStopped, evalue);
      this.#endLive(task, outcome, new DOMException(evalue, "AbortError"));
    }
    for (const lane of this.#lanes.values()) lane.waiting.clear();
  }

  #serviceStopped(service: string): void {
    const lane = this.#lanes.get(service);
    if (!lane || lane.stopped) return;
    lane.stopped = true;
    const evalue = `service '${service}' stopped before the task finished`;
    for (const task of [...this.#live.values()]) {
      if (task.record.service !== service || isTerminal(task.record.state)) continue;
      if (task instanceof PendingTask) {
        if (!this.#accepting && this.store.durable) continue; // kept for the next start
        this.#endPending(task, "failed", RuntimeErrorName.ServiceStopped, evalue);
        continue;
      }
      task.control?.abort(new DOMException(evalue, "AbortError"));
      task.ending?.grace.cancel();
      task.ending = undefined;
      task.retry?.timer.cancel();
      task.retry = undefined;
      this.#finishLive(
        task,
        errorOutcome(task.record.id, RuntimeErrorName.ServiceStopped, evalue),
        "failed",
      );
      this.#live.delete(task.record.id);
    }
    lane.waiting.clear();
    lane.holder = undefined;
    lane.running = 0;
    lane.stuck = undefined;
    this.#serviceEvent(lane);
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

/** No dependency states to consult. */
const NO_DEPENDENCIES: ReadonlyMap<string, DependencyStatus> = new Map();

/** The state a task ends in with `outcome`: an error outcome's `ename` says which. */
function stateOf(outcome: TaskOutcome): TaskState {
  if (outcome.status === "ok") return "succeeded";
  if (outcome.ename === RuntimeErrorName.Cancelled) return "cancelled";
  return "failed";
}

/**
 * `ending` (the outcome a task was told to end with) with what its handler
 * reported of what it did: a kernel's partial output and its
 * `KeyboardInterrupt` traceback.
 */
function withReport(ending: TaskOutcome, report: TaskOutcome): TaskOutcome {
  if (ending.status !== "error" || report.status !== "error" || !report.execution) return ending;
  const limited = limitOutcome(report);
  if (limited.status !== "error") return ending;
  return {
    ...ending,
    traceback: ending.traceback || limited.traceback,
    execution: limited.execution,
  };
}

/** A whole-number option at least `min`, or its default; throws naming it otherwise. */
function count(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be a whole number from ${min}, got ${value}`);
  }
  return value;
}

/** A duration option, or its default; throws naming it otherwise. */
function duration(value: number | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const problem = durationProblem(value);
  if (problem) throw new TypeError(`${name} ${problem}`);
  return value;
}

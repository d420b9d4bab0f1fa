/**
 * The task manager: one actor that every task passes through. It gives each
 * task a UUID and answers at once, routes parallel tasks straight to their
 * service and serial ones through that service's FIFO (one in flight), and
 * owns timeouts, retries, cancellation, retention and task events.
 */
import type { ActorRef, ActorSystem, Deadline } from "../actor/mod.ts";
import { RingQueue } from "../actor/queue.ts";
import { Task, type TaskType } from "../task/define.ts";
import { RuntimeErrorName, type TaskValidationError } from "../task/errors.ts";
import { errorOutcome, type TaskOutcome } from "../task/outcome.ts";
import { TaskControl, type TaskReport, type TaskRun } from "../task/protocol.ts";
import {
  appendLog,
  EMPTY_LOG,
  isTerminal,
  type TaskRecord,
  type TaskState,
  transition,
} from "../task/record.ts";
import { MemoryTaskStore, newestMatching, type TaskQuery, type TaskStore } from "./store.ts";
import type {
  OutcomeSink,
  ServiceEndpoint,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
  TaskRecordSummary,
} from "./types.ts";

/** How long finished records are kept. */
export interface RetentionOptions {
  /** Most finished records kept (default 10 000); the oldest go first. */
  maxRecords?: number;
  /** How long a finished record is kept (default one hour). */
  ttlMs?: number;
}

/** Options of the task manager. */
export interface ManagerOptions {
  store?: TaskStore;
  retention?: RetentionOptions;
  /** Capacity of the manager's mailbox: submissions beyond it are refused. */
  mailboxCapacity?: number;
  /** Most serial tasks waiting per service; more end with `QueueFullError` (default 1 000 000). */
  maxQueuedPerService?: number;
}

type ManagerMessage =
  | { kind: "submit"; request: SubmitRequest; sink: OutcomeSink }
  | TaskReport
  | { kind: "cancel"; id: string }
  | { kind: "wait"; id: string; sink: OutcomeSink }
  | { kind: "unwait"; id: string; sink: OutcomeSink }
  | { kind: "timeout"; id: string; attempt: number }
  | { kind: "retry"; id: string }
  | { kind: "service-stopped"; service: string }
  | { kind: "service-changed"; service: string }
  | { kind: "close" };

/**
 * A task a handler has been given: a parallel one, or the serial one holding
 * its service (retries included). A serial task still waiting in its lane is
 * only its record there, beside its submitter: a long queue costs the least.
 */
class LiveTask {
  /**
   * The abort control of the attempt whose handler has not reported
   * `finished` yet; undefined while no handler works on the task.
   */
  control: TaskControl | undefined = undefined;
  timeout: Deadline | undefined = undefined;
  /** Waiting for a retry; its timer, and whether it fired while the old attempt ran on. */
  retry: { timer: Deadline; due: boolean } | undefined = undefined;

  constructor(
    readonly record: TaskRecord,
    readonly type: TaskType,
    readonly lane: ServiceLane,
    /** Who submitted the task, until told the outcome. */
    public sink: OutcomeSink | undefined,
  ) {}
}

/** A task not yet ended: live, or the record of a serial task waiting in its lane. */
type Unended = LiveTask | TaskRecord;

const recordOf = (task: Unended): TaskRecord => task instanceof LiveTask ? task.record : task;

/** Per-service routing state. */
interface ServiceLane {
  endpoint: ServiceEndpoint;
  stopped: boolean;
  /** Serial tasks waiting, in order (cancelled ones are skipped lazily)... */
  waiting: RingQueue<TaskRecord>;
  /** ...and who submitted each, slot for slot. */
  submitters: RingQueue<OutcomeSink>;
  queued: number;
  /** The serial task holding the service, until its handler finishes. */
  holder: LiveTask | undefined;
  running: number;
}

const MANAGER_NAME = "$task-manager";

/** Shared by every record submitted without attributes. */
const NO_ATTRIBUTES: Record<string, unknown> = Object.freeze({});

/**
 * The task-manager actor and the read side of its state.
 *
 * @example
 * ```ts
 * import { ActorSystem } from "../actor/mod.ts";
 * import { TaskManager } from "./manager.ts";
 * const system = new ActorSystem();
 * const manager = new TaskManager(system, []);
 * manager.submit(
 *   { service: "nowhere", type: "Greeting", fields: {} },
 *   { settled: (outcome) => console.log(outcome), refused: console.error }, // UnknownServiceError
 * );
 * await system.shutdown();
 * ```
 */
export class TaskManager {
  readonly ref: ActorRef<ManagerMessage>;
  readonly store: TaskStore;
  #live = new Map<string, Unended>();
  /** Those waiting by id (`wait`) for tasks not yet ended. */
  #waiters = new Map<string, OutcomeSink[]>();
  #lanes = new Map<string, ServiceLane>();
  #ended = new RingQueue<TaskRecord>();
  #listeners = new Set<(event: TaskEvent) => void>();
  #closed = false;
  readonly #maxRecords: number;
  readonly #ttlMs: number;
  readonly #maxQueued: number;

  /** Spawn the manager actor in `system`, routing to `endpoints`. */
  constructor(
    readonly system: ActorSystem,
    endpoints: ServiceEndpoint[],
    options: ManagerOptions = {},
  ) {
    this.store = options.store ?? new MemoryTaskStore();
    this.#maxRecords = options.retention?.maxRecords ?? 10_000;
    this.#ttlMs = options.retention?.ttlMs ?? 3_600_000;
    this.#maxQueued = options.maxQueuedPerService ?? 1_000_000;
    this.ref = system.spawn<ManagerMessage>(
      MANAGER_NAME,
      () => ({ receive: (message) => this.#receive(message) }),
      { mailbox: { capacity: options.mailboxCapacity ?? 1_000_000, overflow: "reject" } },
    );
    for (const endpoint of endpoints) this.#addService(endpoint);
  }

  /** Submit a task; refused at once if the manager's mailbox is full or it stopped. */
  submit(request: SubmitRequest, sink: OutcomeSink): void {
    if (!this.ref.tell({ kind: "submit", request, sink })) {
      const error = new Error(
        this.ref.isAlive
          ? "runtime overloaded: the task manager's mailbox is full"
          : "runtime stopped: the task manager takes no more tasks",
      );
      sink.refused(error);
    }
  }

  /** Wait for task `id`: the sink gets its outcome now if it ended, or when it ends. */
  wait(id: string, sink: OutcomeSink): void {
    if (!this.ref.tell({ kind: "wait", id, sink })) {
      sink.refused(new Error("runtime stopped"));
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

  /** The record of task `id`, live or finished (the manager's own object: copy it to hand out). */
  get(id: string): TaskRecord | undefined {
    const task = this.#live.get(id);
    return task ? recordOf(task) : this.store.get(id);
  }

  /**
   * Records matching `query`: tasks still queued or running first, newest
   * first; then finished ones, the most recently finished first.
   */
  list(query: TaskQuery = {}): TaskRecord[] {
    // An ended task whose handler has not returned yet is live and stored: list it once.
    const live = newestMatching(
      [...this.#live.values()],
      (task) => isTerminal(recordOf(task).state) ? undefined : recordOf(task),
      query,
    );
    const limit = query.limit ?? 100;
    if (live.length >= limit) return live;
    return live.concat(this.store.list({ ...query, limit: limit - live.length }));
  }

  /** Services as clients see them. */
  services(): ServiceInfo[] {
    return [...this.#lanes.values()].map((lane) => this.#describe(lane));
  }

  /** Tell watchers that service `name` changed (e.g. its kernel's status). */
  serviceChanged(name: string): void {
    this.ref.tell({ kind: "service-changed", service: name });
  }

  #describe(lane: ServiceLane): ServiceInfo {
    return {
      name: lane.endpoint.name,
      ...lane.endpoint.describe(),
      state: lane.stopped ? "stopped" : "running",
      queued: lane.queued,
      running: lane.running,
    };
  }

  /** Follow task events. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Refuse new tasks from now on (`RuntimeStoppingError`) and end every
   * queued or running task with `ServiceStoppedError`, aborting their signals.
   */
  close(): Promise<void> {
    return this.ref.ask({ kind: "close" }, { timeoutMs: 10_000 });
  }

  #addService(endpoint: ServiceEndpoint): void {
    if (this.#lanes.has(endpoint.name)) {
      throw new Error(`two services are named '${endpoint.name}'`);
    }
    this.#lanes.set(endpoint.name, {
      endpoint,
      stopped: false,
      waiting: new RingQueue(),
      submitters: new RingQueue(),
      queued: 0,
      holder: undefined,
      running: 0,
    });
    this.system.watch(
      endpoint.ref.name,
      () => this.ref.tell({ kind: "service-stopped", service: endpoint.name }),
    );
  }

  #receive(message: ManagerMessage): unknown {
    switch (message.kind) {
      case "submit":
        return this.#submit(message.request, message.sink);
      case "started":
        return this.#started(message.id);
      case "finished":
        return this.#finished(message.id, message.outcome);
      case "log":
        return this.#log(message.id, message.entry);
      case "cancel":
        return this.#cancel(message.id);
      case "wait":
        return this.#wait(message.id, message.sink);
      case "unwait": {
        const waiters = this.#waiters.get(message.id);
        const index = waiters?.indexOf(message.sink) ?? -1;
        if (index >= 0) waiters?.splice(index, 1);
        return;
      }
      case "timeout":
        return this.#timeout(message.id, message.attempt);
      case "retry":
        return this.#retry(message.id);
      case "service-stopped":
        return this.#serviceStopped(message.service);
      case "service-changed": {
        const lane = this.#lanes.get(message.service);
        if (lane && this.#listeners.size > 0) {
          this.#send({ kind: "service", service: this.#describe(lane) });
        }
        return;
      }
      case "close":
        this.#closed = true;
        for (const lane of this.#lanes.values()) {
          this.#stopLane(lane, `the runtime stopped before the task finished`);
        }
        return;
    }
  }

  #submit(request: SubmitRequest, sink: OutcomeSink): void {
    const id = crypto.randomUUID();
    const now = Date.now();
    const record: TaskRecord = {
      id,
      type: String(request.type),
      service: String(request.service),
      fields: request.fields,
      attributes: request.attributes ?? NO_ATTRIBUTES,
      parallel: false,
      state: "queued",
      attempts: 0,
      createdAt: now,
      log: EMPTY_LOG,
    };
    sink.accepted?.(id);
    if (this.#closed) {
      return this.#refuse(
        record,
        sink,
        RuntimeErrorName.RuntimeStopping,
        "the runtime is stopping",
      );
    }
    const lane = this.#lanes.get(record.service);
    if (!lane) {
      const known = [...this.#lanes.keys()].join(", ") || "none";
      return this.#refuse(
        record,
        sink,
        RuntimeErrorName.UnknownService,
        `no service named '${record.service}' (services: ${known})`,
      );
    }
    if (lane.stopped) {
      return this.#refuse(
        record,
        sink,
        RuntimeErrorName.ServiceStopped,
        `service '${record.service}' is stopped`,
      );
    }
    const type = lane.endpoint.resolve(record.type);
    if (!type) {
      const known = lane.endpoint.describe().taskTypes.map((t) => t.name).join(", ") || "none";
      return this.#refuse(
        record,
        sink,
        RuntimeErrorName.UnknownTaskType,
        `service '${record.service}' has no handler for task type '${record.type}' (it handles: ${known})`,
      );
    }
    if (Task.definitionOf(request.task) !== type) {
      try {
        record.fields = type.parse(request.fields);
      } catch (error) {
        return this.#refuse(
          record,
          sink,
          RuntimeErrorName.Validation,
          (error as TaskValidationError).message,
        );
      }
    }
    record.parallel = type.parallel;
    const timeoutMs = request.timeoutMs ?? type.timeoutMs;
    if (timeoutMs !== undefined) {
      if (!(timeoutMs > 0)) {
        return this.#refuse(
          record,
          sink,
          RuntimeErrorName.Validation,
          `timeoutMs must be a positive number, got ${timeoutMs}`,
        );
      }
      record.timeoutMs = timeoutMs;
    }
    if (type.parallel) return this.#dispatch(this.#admit(record, type, lane, sink));
    if (lane.queued >= this.#maxQueued) {
      return this.#refuse(
        record,
        sink,
        RuntimeErrorName.QueueFull,
        `service '${lane.endpoint.name}' has ${lane.queued} serial tasks waiting (limit ${this.#maxQueued})`,
      );
    }
    if (lane.holder) {
      lane.waiting.push(record);
      lane.submitters.push(sink);
      lane.queued++;
      this.#live.set(id, record);
      this.#emit(record);
    } else {
      lane.holder = this.#admit(record, type, lane, sink);
      this.#dispatch(lane.holder);
    }
  }

  /** A task a handler is about to get. */
  #admit(record: TaskRecord, type: TaskType, lane: ServiceLane, sink?: OutcomeSink): LiveTask {
    const live = new LiveTask(record, type, lane, sink);
    this.#live.set(record.id, live);
    return live;
  }

  /** End a task that cannot be run, before it reached any queue. */
  #refuse(record: TaskRecord, sink: OutcomeSink, ename: string, evalue: string): void {
    this.#finish(record, sink, errorOutcome(record.id, ename, evalue), "failed");
  }

  #dispatch(live: LiveTask): void {
    const { record, lane } = live;
    record.attempts++;
    live.retry = undefined;
    lane.running++;
    const run: TaskRun = {
      id: record.id,
      type: live.type,
      fields: record.fields,
      attributes: record.attributes,
      attempt: record.attempts,
      control: live.control = new TaskControl(),
      replyTo: this.ref,
    };
    if (!lane.endpoint.ref.tell(run)) {
      live.control = undefined;
      lane.running--;
      const evalue = lane.endpoint.ref.isAlive
        ? `service '${lane.endpoint.name}' is overloaded: its mailbox is full`
        : `service '${lane.endpoint.name}' is stopped`;
      const ename = lane.endpoint.ref.isAlive
        ? RuntimeErrorName.QueueFull
        : RuntimeErrorName.ServiceStopped;
      this.#finishLive(live, errorOutcome(record.id, ename, evalue), "failed");
      this.#release(live);
    }
  }

  #started(id: string): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || live.record.state !== "queued") return;
    this.#markRunning(live);
    const timeoutMs = live.record.timeoutMs;
    if (timeoutMs !== undefined) {
      const attempt = live.record.attempts;
      live.timeout = this.system.deadlines.schedule(
        timeoutMs,
        () => this.ref.tell({ kind: "timeout", id, attempt }),
      );
    }
  }

  #markRunning(live: LiveTask): void {
    const now = Date.now();
    live.record.startedAt ??= now;
    transition(live.record, "running", now, `attempt ${live.record.attempts}`);
    this.#emit(live.record);
  }

  #finished(id: string, outcome: TaskOutcome): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask)) return;
    const control = live.control;
    live.control = undefined;
    live.lane.running--;
    live.timeout?.cancel();
    if (live.retry) {
      // A timed-out attempt has returned; its retry may start now.
      if (live.retry.due) this.#dispatch(live);
      return;
    }
    // A synchronous handler sends no "started": it ran, and has finished.
    if (live.record.state === "queued") this.#markRunning(live);
    if (!isTerminal(live.record.state)) {
      if (outcome.status === "error" && this.#retryable(live, control)) {
        this.#scheduleRetry(live, `${outcome.ename}: ${outcome.evalue}`);
        return;
      }
      this.#finishLive(live, outcome, outcome.status === "ok" ? "succeeded" : "failed");
    }
    this.#release(live);
  }

  /** Whether a failed attempt is tried again: not if it was aborted (cancel, stop, timeout). */
  #retryable(live: LiveTask, attempt: TaskControl | undefined): boolean {
    return live.record.attempts <= live.type.retries && !attempt?.aborted && !live.lane.stopped &&
      !this.#closed;
  }

  #scheduleRetry(live: LiveTask, reason: string): void {
    const { record } = live;
    const delay = live.type.retryDelayMs;
    // The serial slot stays held: the next serial task waits for the retries.
    transition(
      record,
      "queued",
      Date.now(),
      `attempt ${record.attempts} failed (${reason}); retry in ${delay} ms`,
    );
    this.#emit(record);
    const timer = this.system.deadlines.schedule(
      delay,
      () => this.ref.tell({ kind: "retry", id: record.id }),
    );
    live.retry = { timer, due: false };
  }

  #retry(id: string): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || !live.retry) return;
    if (live.control) live.retry.due = true;
    else this.#dispatch(live);
  }

  #timeout(id: string, attempt: number): void {
    const live = this.#live.get(id);
    if (!(live instanceof LiveTask) || live.record.state !== "running") return;
    if (live.record.attempts !== attempt) return;
    const evalue = `task exceeded its timeout of ${live.record.timeoutMs} ms`;
    live.control?.abort(new DOMException(evalue, "TimeoutError"));
    if (live.record.attempts <= live.type.retries) {
      // The handler was told to stop; the retry starts once it reports back.
      this.#scheduleRetry(live, evalue);
      return;
    }
    this.#finishLive(live, errorOutcome(id, RuntimeErrorName.Timeout, evalue), "failed");
  }

  #cancel(id: string): boolean {
    const task = this.#live.get(id);
    if (!task || isTerminal(recordOf(task).state)) return false;
    const evalue = "the task was cancelled";
    const outcome = errorOutcome(id, RuntimeErrorName.Cancelled, evalue);
    if (!(task instanceof LiveTask)) {
      // Waiting in its lane: it ends now, and its slot is skipped when reached.
      const lane = this.#lanes.get(task.service) as ServiceLane;
      const submitter = lane.submitters.at(lane.waiting.indexOf(task));
      lane.queued--;
      this.#live.delete(id);
      this.#finish(task, submitter, outcome, "cancelled");
      return true;
    }
    task.control?.abort(new DOMException(evalue, "AbortError"));
    task.timeout?.cancel();
    task.retry?.timer.cancel();
    task.retry = undefined;
    this.#finishLive(task, outcome, "cancelled");
    if (!task.control) this.#release(task);
    return true;
  }

  #wait(id: string, sink: OutcomeSink): void {
    const task = this.#live.get(id);
    if (task && !isTerminal(recordOf(task).state)) {
      const waiters = this.#waiters.get(id);
      if (waiters) waiters.push(sink);
      else this.#waiters.set(id, [sink]);
      return;
    }
    const outcome = this.store.get(id)?.outcome;
    if (outcome) sink.settled(outcome);
    else {
      sink.refused(new Error(`no task with id '${id}' (unknown, or past its retention)`));
    }
  }

  #log(id: string, entry: TaskRecord["log"][number]): void {
    const record = this.get(id);
    if (!record) return;
    appendLog(record, entry);
    if (isTerminal(record.state)) this.store.save(record);
    if (this.#listeners.size > 0) this.#send({ kind: "log", id, entry });
  }

  #serviceStopped(service: string): void {
    const lane = this.#lanes.get(service);
    if (lane) this.#stopLane(lane, `service '${service}' stopped before the task finished`);
  }

  /** End every task of a stopping service: queued ones never run, running ones are aborted. */
  #stopLane(lane: ServiceLane, evalue: string): void {
    if (lane.stopped) return;
    lane.stopped = true;
    const stopped = (id: string) => errorOutcome(id, RuntimeErrorName.ServiceStopped, evalue);
    for (const task of [...this.#live.values()]) {
      if (!(task instanceof LiveTask) || task.lane !== lane) continue;
      task.control?.abort(new DOMException(evalue, "AbortError"));
      task.timeout?.cancel();
      task.retry?.timer.cancel();
      if (!isTerminal(task.record.state)) this.#finishLive(task, stopped(task.record.id), "failed");
      this.#live.delete(task.record.id);
    }
    for (let record = lane.waiting.shift(); record; record = lane.waiting.shift()) {
      const submitter = lane.submitters.shift();
      if (record.state !== "queued") continue; // cancelled while waiting
      this.#live.delete(record.id);
      this.#finish(record, submitter, stopped(record.id), "failed");
    }
    lane.queued = 0;
    lane.holder = undefined;
    lane.running = 0;
  }

  /** End a task: record its outcome, and tell its submitter and whoever waits by id. */
  #finish(
    record: TaskRecord,
    submitter: OutcomeSink | undefined,
    outcome: TaskOutcome,
    state: TaskState,
  ): void {
    const waiters = this.#waiters.get(record.id);
    this.#waiters.delete(record.id);
    this.#end(record, outcome, state);
    submitter?.settled(outcome);
    for (const waiter of waiters ?? []) waiter.settled(outcome);
  }

  /** `#finish` a task a handler has: its submitter is told once, whatever reports later. */
  #finishLive(live: LiveTask, outcome: TaskOutcome, state: TaskState): void {
    const submitter = live.sink;
    live.sink = undefined;
    this.#finish(live.record, submitter, outcome, state);
  }

  #end(record: TaskRecord, outcome: TaskOutcome, state: TaskState): void {
    const now = Date.now();
    const message = outcome.status === "ok" ? "" : `${outcome.ename}: ${outcome.evalue}`;
    transition(record, state, now, message);
    record.outcome = outcome;
    record.finishedAt = now;
    record.expiresAt = now + this.#ttlMs;
    this.store.save(record);
    this.#ended.push(record);
    this.#evict(now);
    this.#emit(record);
  }

  /**
   * The handler of an ended task has returned: forget the live task and, for
   * a serial one, hand the service to the next in line.
   */
  #release(live: LiveTask): void {
    if (live.control || !isTerminal(live.record.state)) return;
    this.#live.delete(live.record.id);
    const { lane } = live;
    if (lane.holder !== live) return;
    lane.holder = undefined;
    for (let record = lane.waiting.shift(); record; record = lane.waiting.shift()) {
      const submitter = lane.submitters.shift();
      if (record.state !== "queued") continue; // cancelled while waiting
      lane.queued--;
      // Its type was resolved when it was submitted, and a service's handlers stay.
      const type = lane.endpoint.resolve(record.type) as TaskType;
      lane.holder = this.#admit(record, type, lane, submitter);
      this.#dispatch(lane.holder);
      return;
    }
  }

  #evict(now: number): void {
    const finished = this.#ended;
    for (let oldest = finished.peek(); oldest; oldest = finished.peek()) {
      if (finished.length <= this.#maxRecords && (oldest.expiresAt as number) > now) break;
      finished.shift();
      this.store.delete(oldest.id);
    }
  }

  #emit(record: TaskRecord): void {
    if (this.#listeners.size === 0) return;
    const { log: _log, fields: _fields, ...summary } = record;
    this.#send({ kind: "task", record: summary as TaskRecordSummary });
  }

  #send(event: TaskEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error("[zest] task event listener failed:", error);
      }
    }
  }
}

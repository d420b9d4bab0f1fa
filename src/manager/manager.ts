/**
 * The task manager: one actor that every task passes through. It gives each
 * task a UUID and answers at once, routes parallel tasks straight to their
 * service and serial ones through that service's FIFO (one in flight), and
 * owns timeouts, retries, cancellation, retention and task events.
 */
import type { ActorRef, ActorSystem, Deadline } from "../actor/mod.ts";
import { RingQueue } from "../actor/queue.ts";
import type { TaskType } from "../task/define.ts";
import {
  QueueFullError,
  RuntimeErrorName,
  RuntimeStoppingError,
  ServiceStoppedError,
} from "../task/errors.ts";
import {
  cutText,
  durationProblem,
  jsonProblem,
  limitOutcome,
  MAX_DURATION_MS,
  RECORD_LIMITS,
} from "../task/limits.ts";
import { errorOutcome, type TaskOutcome } from "../task/outcome.ts";
import { TaskControl, type TaskReport, type TaskRun } from "../task/protocol.ts";
import {
  appendLog,
  EMPTY_LOG,
  isTerminal,
  summarize,
  type TaskLogEntry,
  type TaskRecord,
  type TaskState,
  transition,
} from "../task/record.ts";
import { admit, type Admitted } from "./admission.ts";
import { MemoryTaskStore, newestMatching, type TaskQuery, type TaskStore } from "./store.ts";
import type {
  OutcomeSink,
  ServiceEndpoint,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "./types.ts";

/** How long finished records are kept. */
export interface RetentionOptions {
  /** Most finished records kept (default 10 000); the oldest go first. */
  maxRecords?: number;
  /** How long a finished record is kept (default one hour); it goes within 0.1 s of that. */
  ttlMs?: number;
}

/** Options of the task manager. */
export interface ManagerOptions {
  store?: TaskStore;
  retention?: RetentionOptions;
  /** Capacity of the manager's mailbox: submissions beyond it are refused. */
  mailboxCapacity?: number;
  /**
   * Most serial tasks waiting per service; more are refused with
   * `QueueFullError` (HTTP 429). Default `DEFAULT_MAX_QUEUED_PER_SERVICE`.
   */
  maxQueuedPerService?: number;
}

/**
 * Serial tasks that may wait per service by default: 100 000. A queued task
 * costs about 600 bytes, so a full queue holds ~60 MB; and a serial service
 * doing a task a second needs more than a day to work through it — a longer
 * backlog is a runaway client, better refused (429) than kept.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_QUEUED_PER_SERVICE } from "./manager.ts";
 * DEFAULT_MAX_QUEUED_PER_SERVICE; // 100000
 * ```
 */
export const DEFAULT_MAX_QUEUED_PER_SERVICE = 100_000;

/** Expired records are swept at most this often (then all that are due go at once). */
const EXPIRY_SWEEP_MS = 100;

type ManagerMessage =
  | { kind: "submit"; request: SubmitRequest; sink: OutcomeSink }
  | TaskReport
  | { kind: "cancel"; id: string }
  | { kind: "wait"; id: string; sink: OutcomeSink }
  | { kind: "unwait"; id: string; sink: OutcomeSink }
  | { kind: "timeout"; id: string; attempt: number }
  | { kind: "retry"; id: string }
  | { kind: "expire" }
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

/** A serial task waiting in its lane: its record, and who submitted it. */
class QueuedTask {
  constructor(readonly record: TaskRecord, readonly sink: OutcomeSink) {}
}

/** A task not yet ended: live, or waiting in its lane. */
type Unended = LiveTask | QueuedTask;

/** Per-service routing state. */
interface ServiceLane {
  endpoint: ServiceEndpoint;
  stopped: boolean;
  /** Serial tasks waiting, in order (cancelled ones are skipped when reached). */
  waiting: RingQueue<QueuedTask>;
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
  #waiters = new Map<string, Set<OutcomeSink>>();
  #lanes = new Map<string, ServiceLane>();
  #ended = new RingQueue<TaskRecord>();
  #listeners = new Set<(event: TaskEvent) => void>();
  #closed = false;
  /** The timer that sweeps expired records, while one is due. */
  #expiry: ReturnType<typeof setTimeout> | undefined;
  readonly #maxRecords: number;
  readonly #ttlMs: number;
  readonly #maxQueued: number;

  /** Spawn the manager actor in `system`, routing to `endpoints`. Throws on a bad option. */
  constructor(
    readonly system: ActorSystem,
    endpoints: ServiceEndpoint[],
    options: ManagerOptions = {},
  ) {
    this.store = options.store ?? new MemoryTaskStore();
    this.#maxRecords = count(options.retention?.maxRecords, "retention.maxRecords", 10_000, 0);
    const ttlMs = options.retention?.ttlMs ?? 3_600_000;
    if (!(typeof ttlMs === "number" && ttlMs > 0 && Number.isFinite(ttlMs))) {
      throw new TypeError(`retention.ttlMs must be a positive finite number of ms, got ${ttlMs}`);
    }
    this.#ttlMs = ttlMs;
    this.#maxQueued = count(
      options.maxQueuedPerService,
      "maxQueuedPerService",
      DEFAULT_MAX_QUEUED_PER_SERVICE,
      1,
    );
    const capacity = count(options.mailboxCapacity, "mailboxCapacity", 1_000_000, 1);
    this.ref = system.spawn<ManagerMessage>(
      MANAGER_NAME,
      () => ({ receive: (message) => this.#receive(message) }),
      { mailbox: { capacity, overflow: "reject" } },
    );
    for (const endpoint of endpoints) this.#addService(endpoint);
  }

  /**
   * Submit a task. The sink gets its id, then its outcome; or a typed
   * refusal and no id (see `OutcomeSink.refused`).
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

  /** The record of task `id`, live or finished (the manager's own object: copy it to hand out). */
  get(id: string): TaskRecord | undefined {
    return this.#live.get(id)?.record ?? this.store.get(id);
  }

  /**
   * Records matching `query`: tasks still queued or running first, newest
   * first; then finished ones, the most recently finished first.
   */
  list(query: TaskQuery = {}): TaskRecord[] {
    // An ended task whose handler has not returned yet is live and stored: list it once.
    const live = newestMatching(
      [...this.#live.values()],
      (task) => isTerminal(task.record.state) ? undefined : task.record,
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
    const timeoutProblem = endpoint.taskTimeoutMs === undefined
      ? undefined
      : durationProblem(endpoint.taskTimeoutMs);
    if (timeoutProblem) {
      throw new TypeError(`service '${endpoint.name}': taskTimeoutMs ${timeoutProblem}`);
    }
    this.#lanes.set(endpoint.name, {
      endpoint,
      stopped: false,
      waiting: new RingQueue(),
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
        if (waiters?.delete(message.sink) && waiters.size === 0) this.#waiters.delete(message.id);
        return;
      }
      case "timeout":
        return this.#timeout(message.id, message.attempt);
      case "retry":
        return this.#retry(message.id);
      case "expire":
        this.#evict(Date.now());
        return this.#sweepLater();
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
        clearTimeout(this.#expiry);
        for (const lane of this.#lanes.values()) {
          this.#stopLane(lane, `the runtime stopped before the task finished`);
        }
        return;
    }
  }

  #submit(request: SubmitRequest, sink: OutcomeSink): void {
    if (this.#closed) {
      return sink.refused(
        new RuntimeStoppingError("the runtime is stopping: it takes no new tasks"),
      );
    }
    const lane = this.#lanes.get(request.service);
    if (lane?.stopped) {
      return sink.refused(new ServiceStoppedError(`service '${request.service}' is stopped`));
    }
    let admitted: Admitted | undefined;
    let problem: Error | undefined;
    try {
      admitted = admit(request, this.#lanes);
    } catch (error) {
      problem = error instanceof Error ? error : new Error(String(error));
    }
    if (admitted && lane && !admitted.type.parallel && lane.queued >= this.#maxQueued) {
      return sink.refused(
        new QueueFullError(
          `service '${lane.endpoint.name}' has ${lane.queued} serial tasks waiting (limit ${this.#maxQueued})`,
        ),
      );
    }
    if (problem && request.refuseInvalid) return sink.refused(problem);
    const id = crypto.randomUUID();
    const record: TaskRecord = {
      id,
      type: shortName(request.type),
      service: shortName(request.service),
      fields: admitted?.fields,
      attributes: admitted || keepable(request.attributes)
        ? request.attributes ?? NO_ATTRIBUTES
        : NO_ATTRIBUTES,
      parallel: admitted?.type.parallel ?? false,
      state: "queued",
      attempts: 0,
      createdAt: Date.now(),
      log: EMPTY_LOG,
    };
    if (admitted?.timeoutMs !== undefined) record.timeoutMs = admitted.timeoutMs;
    sink.accepted?.(id);
    this.#emit(record);
    if (!admitted || !lane) {
      const error = problem as Error;
      const outcome = limitOutcome(errorOutcome(id, error.name, error.message));
      return this.#finish(record, sink, outcome, "failed");
    }
    if (admitted.type.parallel) {
      return this.#dispatchAfter(sink, this.#admit(record, admitted.type, lane, sink));
    }
    if (lane.holder) {
      const queued = new QueuedTask(record, sink);
      lane.waiting.push(queued);
      lane.queued++;
      this.#live.set(id, queued);
    } else {
      lane.holder = this.#admit(record, admitted.type, lane, sink);
      this.#dispatchAfter(sink, lane.holder);
    }
  }

  /**
   * Dispatch `live` once its submitter has seen the id: a caller awaiting
   * `request()` has the id before even a synchronous handler runs (the
   * dispatcher would otherwise run the handler in the same turn). A sink
   * without `accepted` (`execute`) waits for nothing.
   */
  #dispatchAfter(sink: OutcomeSink, live: LiveTask): void {
    if (!sink.accepted) return this.#dispatch(live);
    queueMicrotask(() => {
      // Cancelled or stopped in between: nothing to run.
      if (this.#live.get(live.record.id) === live && live.record.attempts === 0) {
        this.#dispatch(live);
      }
    });
  }

  /** A task a handler is about to get. */
  #admit(record: TaskRecord, type: TaskType, lane: ServiceLane, sink?: OutcomeSink): LiveTask {
    const live = new LiveTask(record, type, lane, sink);
    this.#live.set(record.id, live);
    return live;
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
      // Bounded once, here: what a record keeps, lists and sends stays readable.
      const limited = limitOutcome(outcome);
      // A handler's own failure may be retried; a result over the limits would only be again.
      if (
        outcome.status === "error" && limited.status === "error" && this.#retryable(live, control)
      ) {
        this.#scheduleRetry(live, `${limited.ename}: ${limited.evalue}`);
        return;
      }
      this.#finishLive(live, limited, limited.status === "ok" ? "succeeded" : "failed");
    } else if (outcome.execution) this.#keepLateExecution(live.record, outcome);
    this.#release(live);
  }

  /**
   * A task ended here (timeout, cancel) while its handler still ran; the
   * handler's late report says what the code did until then (what a kernel
   * printed and displayed, its `KeyboardInterrupt` traceback): keep it on
   * the record, read by id. Its submitter already had the outcome.
   */
  #keepLateExecution(record: TaskRecord, late: TaskOutcome): void {
    const ended = record.outcome;
    if (ended?.status !== "error" || ended.execution) return;
    const limited = limitOutcome(late);
    const traceback = ended.traceback ||
      (limited.status === "error" && limited.id === ended.id ? limited.traceback : "");
    record.outcome = { ...ended, traceback, execution: limited.execution };
    this.store.save(record);
    this.#emit(record);
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
    if (!task || isTerminal(task.record.state)) return false;
    const evalue = "the task was cancelled";
    const outcome = errorOutcome(id, RuntimeErrorName.Cancelled, evalue);
    if (task instanceof QueuedTask) {
      // Waiting in its lane: it ends now, and its slot is skipped when reached.
      (this.#lanes.get(task.record.service) as ServiceLane).queued--;
      this.#live.delete(id);
      this.#finish(task.record, task.sink, outcome, "cancelled");
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
    if (task && !isTerminal(task.record.state)) {
      const waiters = this.#waiters.get(id);
      if (waiters) waiters.add(sink);
      else this.#waiters.set(id, new Set([sink]));
      return;
    }
    const outcome = this.store.get(id)?.outcome;
    if (outcome) sink.settled(outcome);
    else {
      sink.refused(new Error(`no task with id '${id}' (unknown, or past its retention)`));
    }
  }

  #log(id: string, line: TaskLogEntry): void {
    const record = this.get(id);
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
    for (let queued = lane.waiting.shift(); queued; queued = lane.waiting.shift()) {
      const { record } = queued;
      if (record.state !== "queued") continue; // cancelled while waiting
      this.#live.delete(record.id);
      this.#finish(record, queued.sink, stopped(record.id), "failed");
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
    if (waiters) { for (const waiter of waiters) waiter.settled(outcome); }
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
    this.#sweepLater();
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
    for (let queued = lane.waiting.shift(); queued; queued = lane.waiting.shift()) {
      const { record } = queued;
      if (record.state !== "queued") continue; // cancelled while waiting
      lane.queued--;
      // Its type was resolved when it was submitted, and a service's handlers stay.
      const type = lane.endpoint.resolve(record.type) as TaskType;
      lane.holder = this.#admit(record, type, lane, queued.sink);
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

  /**
   * Sweep again when the oldest finished record expires: records go on time
   * even when no other task ends. One timer at most, not keeping the process
   * alive by itself.
   */
  #sweepLater(): void {
    const oldest = this.#ended.peek();
    if (this.#expiry !== undefined || this.#closed || !oldest) return;
    const due = (oldest.expiresAt as number) - Date.now();
    this.#expiry = setTimeout(() => {
      this.#expiry = undefined;
      this.ref.tell({ kind: "expire" });
    }, Math.min(Math.max(due, EXPIRY_SWEEP_MS), MAX_DURATION_MS));
    Deno.unrefTimer(this.#expiry);
  }

  #emit(record: TaskRecord): void {
    if (this.#listeners.size === 0) return;
    this.#send({ kind: "task", record: summarize(record) });
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

/** A whole-number option at least `min`, or its default; throws naming it otherwise. */
function count(value: number | undefined, name: string, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new TypeError(`${name} must be a whole number from ${min}, got ${value}`);
  }
  return value;
}

/** A service or type name as a record keeps it: text, at most 200 characters. */
function shortName(name: unknown): string {
  return cutText(String(name), RECORD_LIMITS.nameChars);
}

/** Whether the attributes of a refused task can be kept on its record. */
function keepable(attributes: unknown): boolean {
  return attributes !== null && typeof attributes === "object" && !Array.isArray(attributes) &&
    jsonProblem(attributes, RECORD_LIMITS.attributesChars) === undefined;
}

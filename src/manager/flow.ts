/**
 * The flow of an admitted task: into its service's lane or straight to its
 * handler, its attempts (dispatch once durable, timeout, retry, the grace
 * period of a handler told to stop), its end (outcome, submitter, waiters,
 * dependents), and what a stop or a stopped service does to it.
 *
 * @module
 */
import type { TaskType } from "../task/define.ts";
import {
  RuntimeErrorName,
  TaskConflictError,
  UnknownServiceError,
  UnknownTaskError,
} from "../task/errors.ts";
import { cutText, limitOutcome, RECORD_LIMITS } from "../task/limits.ts";
import { errorOutcome, type TaskOutcome } from "../task/outcome.ts";
import { TaskControl, type TaskReport, type TaskRun } from "../task/protocol.ts";
import {
  appendLog,
  isTerminal,
  type TaskLogEntry,
  type TaskRecord,
  type TaskState,
  transition,
} from "../task/record.ts";
import type { EndState } from "./graph.ts";
import { LiveTask, PendingTask, type ServiceLane } from "./lane.ts";
import type { Action, ManagerState } from "./state.ts";
import type { OutcomeSink } from "./types.ts";

/**
 * What happens to admitted tasks, from their lane to their end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Runtime } from "../runtime.ts";
 * import { Service } from "../service/service.ts";
 * import { defineTask } from "../task/define.ts";
 * // The TaskFlow of a runtime's manager runs each task once, in its lane.
 * const Ping = defineTask("Ping", { schema: z.object({}), parallel: false });
 * const runtime = await Runtime.start({ services: [new Service("lab").registerHandler(Ping, () => "pong")] });
 * assert.equal(await runtime.client().execute("lab", Ping.create({})), "pong");
 * await runtime.stop();
 * ```
 */
export class TaskFlow {
  readonly #state: ManagerState;

  /** The flow of the tasks of `state`. */
  constructor(state: ManagerState) {
    this.#state = state;
  }

  /** A new task, ready: to its handler now (parallel, or a free lane), or into its lane. */
  start(record: TaskRecord, sink: OutcomeSink | undefined, type: TaskType): void {
    this.#route(record, sink, type, undefined);
  }

  /** A task that waited (for its dependencies, or across a restart) is ready: as `start`. */
  enqueue(pending: PendingTask, type: TaskType): void {
    this.#route(pending.record, pending.sink, type, pending);
  }

  /** A new task that runs at once is never a `PendingTask`: one live-map write, not two. */
  #route(
    record: TaskRecord,
    sink: OutcomeSink | undefined,
    type: TaskType,
    waited: PendingTask | undefined,
  ): void {
    const lane = this.#state.lanes.get(record.service) as ServiceLane;
    if (!type.parallel && (lane.holder || lane.stuck)) {
      const pending = waited ?? new PendingTask(record, sink);
      if (!waited) this.#state.live.set(pending);
      pending.handle = lane.waiting.push(pending, record.priority ?? 0);
      this.armExpiry(pending);
      return;
    }
    waited?.expiry?.cancel();
    const live = this.#hand(record, sink, type, lane);
    if (!type.parallel) lane.holder = live;
    this.#startAttempt(live);
  }

  /** A task becomes live: a handler is about to get it. */
  #hand(
    record: TaskRecord,
    sink: OutcomeSink | undefined,
    type: TaskType,
    lane: ServiceLane,
  ): LiveTask {
    const live = new LiveTask(record, type, lane, sink);
    this.#state.live.set(live);
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
    transition(record, "running", now, attemptMessage(record.attempts));
    live.retry = undefined;
    live.control = new TaskControl();
    live.dispatched = false;
    lane.running++;
    this.#state.journal.save(record);
    this.#state.events.task(record);
    this.#state.journal.after({ kind: "dispatch", live, attempt: record.attempts });
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
      replyTo: this.#state.ref,
    };
    if (lane.endpoint.ref.tell(run)) {
      live.dispatched = true;
      return;
    }
    const alive = lane.endpoint.ref.isAlive;
    const evalue = alive
      ? `service '${lane.endpoint.name}' is overloaded: its mailbox is full`
      : `service '${lane.endpoint.name}' is stopped`;
    this.finishLive(
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

  started(id: string): void {
    const live = this.#state.live.get(id);
    if (!(live instanceof LiveTask) || live.record.state !== "running" || live.timeout) return;
    const timeoutMs = live.record.timeoutMs;
    if (timeoutMs === undefined) return;
    const attempt = live.record.attempts;
    live.timeout = this.#state.system.deadlines.schedule(
      timeoutMs,
      () => this.#state.ref.tell({ kind: "timeout", id, attempt }),
    );
  }

  finished(id: string, outcome: TaskOutcome): void {
    const live = this.#state.live.get(id);
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
        this.finishLive(live, limitOutcome(outcome), "succeeded");
      } else if (stopped) this.#interrupted(live, withReport(ending, outcome));
      else {
        const finished = withReport(ending, outcome);
        this.finishLive(live, finished, stateOf(finished));
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
      const delay = limited.status === "error" && !control.aborted && this.#state.accepting
        ? live.type.retryPolicy.next(record.attempts, limited.ename)
        : undefined;
      if (delay !== undefined && limited.status === "error") {
        live.control = undefined;
        live.lane.running--;
        return this.#scheduleRetry(live, `${limited.ename}: ${limited.evalue}`, delay);
      }
      this.finishLive(live, limited, limited.status === "ok" ? "succeeded" : "failed");
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
    this.#state.journal.save(record);
    this.#state.events.task(record);
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
    this.#state.journal.save(record);
    this.#state.events.task(record);
    const timer = this.#state.system.deadlines.schedule(
      delay,
      () => this.#state.ref.tell({ kind: "retry", id: record.id }),
    );
    live.retry = { timer, due: false };
  }

  retry(id: string): void {
    const live = this.#state.live.get(id);
    if (!(live instanceof LiveTask) || !live.retry || isTerminal(live.record.state)) return;
    if (live.control) live.retry.due = true;
    else this.#startAttempt(live);
  }

  timeout(id: string, attempt: number): void {
    const live = this.#state.live.get(id);
    if (!(live instanceof LiveTask) || live.record.state !== "running" || live.ending) return;
    if (live.record.attempts !== attempt) return;
    const evalue = `task exceeded its timeout of ${live.record.timeoutMs} ms`;
    live.control?.abort(new DOMException(evalue, "TimeoutError"));
    const delay = this.#state.accepting
      ? live.type.retryPolicy.next(attempt, RuntimeErrorName.Timeout)
      : undefined;
    if (delay !== undefined) {
      // The handler was told to stop; the retry starts once it reports back.
      return this.#scheduleRetry(live, evalue, delay);
    }
    this.endLive(live, errorOutcome(id, RuntimeErrorName.Timeout, evalue));
  }

  /**
   * End a live task as told (timeout, cancel, stop): its handler's signal
   * aborts; the task ends when the handler reports (with that report), or
   * when the grace period is over (without it).
   */
  endLive(live: LiveTask, outcome: TaskOutcome, reason?: DOMException): void {
    live.retry?.timer.cancel();
    live.retry = undefined;
    if (!live.control || !live.dispatched) {
      // Waiting for a retry, or not handed to its service yet: no handler to wait for.
      if (outcome.status === "error" && outcome.ename === RuntimeErrorName.Interrupted) {
        return this.#interrupted(live, outcome);
      }
      this.finishLive(live, outcome, stateOf(outcome));
      return this.#handlerReturned(live);
    }
    if (reason) live.control.abort(reason);
    if (live.ending) return;
    const attempt = live.record.attempts;
    live.ending = {
      outcome,
      grace: this.#state.system.deadlines.schedule(
        this.#state.settings.abortGraceMs,
        () => this.#state.ref.tell({ kind: "grace", id: live.record.id, attempt }),
      ),
    };
  }

  /** The grace period of a task told to stop is over and its handler still runs. */
  graceOver(id: string, attempt: number): void {
    const live = this.#state.live.get(id);
    if (!(live instanceof LiveTask) || !live.ending || live.record.attempts !== attempt) return;
    const { outcome } = live.ending;
    live.ending = undefined;
    const { record, lane } = live;
    appendLog(record, {
      at: Date.now(),
      level: "warn",
      message:
        `the handler did not return within ${this.#state.settings.abortGraceMs} ms of being told to stop` +
        (lane.holder === live
          ? `; service '${lane.endpoint.name}' stays held until it returns, or release('${lane.endpoint.name}')`
          : ""),
    });
    if (outcome.status === "error" && outcome.ename === RuntimeErrorName.Interrupted) {
      this.#interrupted(live, outcome);
    } else this.finishLive(live, outcome, stateOf(outcome));
    if (lane.holder === live) {
      lane.stuck = { taskId: id, since: Date.now() };
      this.serviceEvent(lane);
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
      if (this.#state.idle && this.#state.running() === 0) this.#state.idle();
    }
    if (!isTerminal(live.record.state) && live.record.state !== "queued") return;
    if (live.retry) return;
    if (this.#state.live.get(live.record.id) === live && isTerminal(live.record.state)) {
      this.#state.live.delete(live.record.id);
    }
    if (lane.holder !== live) return;
    lane.holder = undefined;
    if (lane.stuck?.taskId === live.record.id) {
      lane.stuck = undefined;
      this.serviceEvent(lane);
    }
    this.#next(lane);
  }

  /** Hand a free serial lane to the next task in it. */
  #next(lane: ServiceLane): void {
    if (lane.holder || lane.stuck || lane.stopped || !this.#state.accepting) return;
    const pending = lane.waiting.shift();
    if (!pending) return;
    pending.handle = undefined;
    pending.expiry?.cancel();
    const type = lane.endpoint.resolve(pending.record.type) as TaskType;
    lane.holder = this.#hand(pending.record, pending.sink, type, lane);
    this.#startAttempt(lane.holder);
  }

  release(service: string): boolean {
    const lane = this.#state.lanes.get(service);
    if (!lane) throw new UnknownServiceError(`no service named '${service}'`);
    const holder = lane.holder;
    if (!lane.stuck || !holder) return false;
    appendLog(holder.record, {
      at: Date.now(),
      level: "warn",
      message: `service '${service}' was released by an operator while this handler still ran`,
    });
    this.#state.journal.save(holder.record);
    lane.stuck = undefined;
    lane.holder = undefined;
    // Its late report, if any, changes nothing but the record's execution.
    this.#state.live.delete(holder.record.id);
    if (holder.control) {
      holder.control = undefined;
      lane.running--;
    }
    this.serviceEvent(lane);
    this.#next(lane);
    return true;
  }

  // --- Ending tasks ---------------------------------------------------------

  cancel(id: string): boolean {
    const task = this.#state.live.get(id);
    if (!task || isTerminal(task.record.state)) return false;
    const evalue = "the task was cancelled";
    if (task instanceof PendingTask) {
      this.endPending(task, "cancelled", RuntimeErrorName.Cancelled, evalue);
      return true;
    }
    if (task.ending) return true;
    this.endLive(
      task,
      errorOutcome(id, RuntimeErrorName.Cancelled, evalue),
      new DOMException(evalue, "AbortError"),
    );
    return true;
  }

  expire(id: string): void {
    const task = this.#state.live.get(id);
    if (!(task instanceof PendingTask) || isTerminal(task.record.state)) return;
    this.endPending(
      task,
      "expired",
      RuntimeErrorName.Expired,
      `the task was still ${task.record.state} at its deadline, ${
        new Date(task.record.deadline as number).toISOString()
      }: it never ran`,
    );
  }

  /** End a task that no handler has: it leaves its lane (or stops waiting) and never runs. */
  endPending(pending: PendingTask, state: TaskState, ename: string, evalue: string): void {
    const { record } = pending;
    pending.expiry?.cancel();
    if (pending.handle !== undefined) {
      this.#state.lanes.get(record.service)?.waiting.remove(pending.handle);
      pending.handle = undefined;
    }
    this.#state.live.delete(record.id);
    this.#finish(record, pending.sink, errorOutcome(record.id, ename, evalue), state);
  }

  armExpiry(pending: PendingTask): void {
    const deadline = pending.record.deadline;
    if (deadline === undefined || pending.expiry) return;
    const id = pending.record.id;
    pending.expiry = this.#state.system.deadlines.schedule(
      Math.max(0, deadline - Date.now()),
      () => this.#state.ref.tell({ kind: "expire", id }),
    );
  }

  /** A task ended because its runtime stopped while it ran: requeued for the next start, or failed. */
  #interrupted(live: LiveTask, outcome: TaskOutcome): void {
    const { record } = live;
    if (live.type.onInterrupt === "requeue" && this.#state.store.durable) {
      transition(
        record,
        "queued",
        Date.now(),
        `the runtime stopped while attempt ${record.attempts} ran: queued again for its next start (onInterrupt: "requeue")`,
      );
      this.#state.journal.save(record);
      this.#state.events.task(record);
      // Nobody here will hear its outcome: a client asks for it by id after the restart.
      this.#state.live.delete(record.id);
      return;
    }
    this.finishLive(live, outcome, "failed");
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
    const type = this.#state.lanes.get(record.service)?.endpoint.resolve(record.type);
    record.expiresAt = now + (type?.retention?.ttlMs ?? this.#state.settings.ttlMs);
    this.#state.journal.save(record);
    this.#state.events.task(record);
    if (submitter) this.#state.journal.after({ kind: "settle", sink: submitter, outcome });
    // Most tasks have no waiter, and a map lookup by an id not used as a key yet costs V8 a
    // string-table probe (see `IdMap`).
    const waiters = this.#state.waiters.size === 0 ? undefined : this.#state.waiters.get(record.id);
    if (waiters) {
      this.#state.waiters.delete(record.id);
      for (const waiter of waiters) {
        this.#state.journal.after({ kind: "settle", sink: waiter, outcome });
      }
    }
    this.#dependencyEnded(record.id, state as EndState);
  }

  /** `#finish` a task a handler has: its submitter is told once, whatever reports later. */
  finishLive(live: LiveTask, outcome: TaskOutcome, state: TaskState): void {
    const submitter = live.sink;
    live.sink = undefined;
    live.ending?.grace.cancel();
    live.ending = undefined;
    // The end saves the whole record.
    live.logSave?.cancel();
    live.logSave = undefined;
    this.#finish(live.record, submitter, outcome, state);
  }

  /** Task `id` ended: the tasks waiting for it may run now, or end too. */
  #dependencyEnded(id: string, state: EndState): void {
    const { ready, cancelled } = this.#state.dependencies.ended(id, state);
    // Most tasks release nothing: no iterators over the two empty lists.
    if (ready.length === 0 && cancelled.length === 0) return;
    for (const readyId of ready) {
      const pending = this.#state.live.get(readyId);
      if (!(pending instanceof PendingTask)) continue;
      transition(pending.record, "queued", Date.now(), "its dependencies have ended");
      this.#state.journal.save(pending.record);
      this.#state.events.task(pending.record);
      const type = this.#state.lanes.get(pending.record.service)?.endpoint.resolve(
        pending.record.type,
      );
      if (type) this.enqueue(pending, type);
    }
    for (const failure of cancelled) {
      const pending = this.#state.live.get(failure.id);
      if (!(pending instanceof PendingTask)) continue;
      this.endPending(pending, "cancelled", RuntimeErrorName.DependencyFailed, failure.message);
    }
  }

  // --- Reads, waits, the log ------------------------------------------------

  wait(id: string, sink: OutcomeSink): void | Promise<void> {
    const task = this.#state.live.get(id);
    if (task && !isTerminal(task.record.state)) return this.addWaiter(id, sink);
    if (task?.record.outcome) return sink.settled(task.record.outcome);
    return this.#state.store.get(id).then((record) => {
      if (record?.outcome) sink.settled(record.outcome);
      else if (record && !isTerminal(record.state)) this.addWaiter(id, sink);
      else {sink.refused(
          new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`),
        );}
    });
  }

  addWaiter(id: string, sink: OutcomeSink): void {
    const waiters = this.#state.waiters.get(id);
    if (waiters) waiters.add(sink);
    else this.#state.waiters.set(id, new Set([sink]));
  }

  async delete(id: string): Promise<void> {
    const live = this.#state.live.get(id);
    if (live && !isTerminal(live.record.state)) {
      throw new TaskConflictError(
        `task ${id} is ${live.record.state}: cancel it first, or wait for it to end`,
      );
    }
    const record = live?.record ?? await this.#state.store.get(id);
    if (!record) {
      throw new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`);
    }
    if (!isTerminal(record.state)) {
      throw new TaskConflictError(`task ${id} is ${record.state}: it has not ended`);
    }
    this.#state.journal.delete(id);
    if (record.key !== undefined) this.#state.keys.forgetTask(id);
    if (this.#state.events.followed) this.#state.events.send({ kind: "removed", id });
  }

  log(id: string, line: TaskLogEntry): void {
    const task = this.#state.live.get(id);
    const record = task?.record;
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
    if (task instanceof LiveTask && !isTerminal(record.state)) this.#saveLog(task);
    else this.#state.journal.save(record);
    if (this.#state.events.followed) this.#state.events.send({ kind: "log", id, entry });
  }

  /**
   * A running task's log is saved as its lines come, at most once every
   * `LOG_SAVE_INTERVAL_MS`: a crash loses at most that much of it, and a
   * chatty handler does not rewrite its record for every line.
   */
  #saveLog(live: LiveTask): void {
    if (live.logSave) {
      live.logUnsaved = true;
      return;
    }
    this.#state.journal.save(live.record);
    const id = live.record.id;
    live.logSave = this.#state.system.deadlines.schedule(
      LOG_SAVE_INTERVAL_MS,
      () => this.#state.ref.tell({ kind: "save-log", id }),
    );
  }

  /** The interval of `#saveLog` is over: the lines that came meanwhile are saved. */
  logSaveDue(id: string): void {
    const live = this.#state.live.get(id);
    if (!(live instanceof LiveTask) || !live.logSave) return;
    live.logSave = undefined;
    if (!live.logUnsaved) return;
    live.logUnsaved = false;
    if (!isTerminal(live.record.state)) this.#saveLog(live);
  }

  progress(report: Extract<TaskReport, { kind: "progress" }>): void {
    const live = this.#state.live.get(report.id);
    if (!(live instanceof LiveTask) || isTerminal(live.record.state)) return;
    const fraction = report.progress.fraction;
    if (!(fraction >= 0 && fraction <= 1)) return;
    const message = report.progress.message;
    live.record.progress = {
      fraction,
      at: report.progress.at,
      ...(message === undefined ? {} : { message: cutText(String(message), 1_000) }),
    };
    if (this.#state.events.followed) {
      this.#state.events.send({ kind: "progress", id: report.id, progress: live.record.progress });
    }
  }

  serviceEvent(lane: ServiceLane): void {
    if (this.#state.events.listening) {
      this.#state.events.send({ kind: "service", service: lane.describe() });
    }
  }

  // --- After the flush ------------------------------------------------------

  perform(action: Action): void {
    switch (action.kind) {
      case "accept":
        return action.sink.accepted?.(action.id);
      case "dispatch":
        return this.#dispatch(action.live, action.attempt);
      case "settle":
        return action.sink.settled(action.outcome);
    }
  }

  /** Stop taking tasks; end or keep what is queued; tell running handlers to stop. */
  close(): void {
    if (!this.#state.accepting && this.#state.closing) return;
    this.#state.accepting = false;
    this.#state.closing = true;
    const keep = this.#state.store.durable;
    const evalue = "the runtime stopped before the task finished";
    for (const task of [...this.#state.live.values()]) {
      if (task instanceof PendingTask) {
        task.expiry?.cancel();
        if (keep) continue; // queued for the next start
        this.endPending(task, "failed", RuntimeErrorName.ServiceStopped, evalue);
        continue;
      }
      if (isTerminal(task.record.state)) continue;
      if (!task.control && keep) {
        // Waiting for its retry: still queued, for the next start.
        task.retry?.timer.cancel();
        this.#state.live.delete(task.record.id);
        continue;
      }
      const outcome = keep
        ? errorOutcome(
          task.record.id,
          RuntimeErrorName.Interrupted,
          "the runtime stopped while the task ran",
        )
        : errorOutcome(task.record.id, RuntimeErrorName.ServiceStopped, evalue);
      this.endLive(task, outcome, new DOMException(evalue, "AbortError"));
    }
    for (const lane of this.#state.lanes.values()) lane.waiting.clear();
  }

  serviceStopped(service: string): void {
    const lane = this.#state.lanes.get(service);
    if (!lane || lane.stopped) return;
    lane.stopped = true;
    const evalue = `service '${service}' stopped before the task finished`;
    for (const task of [...this.#state.live.values()]) {
      if (task.record.service !== service || isTerminal(task.record.state)) continue;
      if (task instanceof PendingTask) {
        if (!this.#state.accepting && this.#state.store.durable) continue; // kept for the next start
        this.endPending(task, "failed", RuntimeErrorName.ServiceStopped, evalue);
        continue;
      }
      task.control?.abort(new DOMException(evalue, "AbortError"));
      task.ending?.grace.cancel();
      task.ending = undefined;
      task.retry?.timer.cancel();
      task.retry = undefined;
      this.finishLive(
        task,
        errorOutcome(task.record.id, RuntimeErrorName.ServiceStopped, evalue),
        "failed",
      );
      this.#state.live.delete(task.record.id);
    }
    lane.waiting.clear();
    lane.holder = undefined;
    lane.running = 0;
    lane.stuck = undefined;
    this.serviceEvent(lane);
  }
}

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

/** How often a running task's new log lines are saved at most (see `TaskFlow.log`). */
const LOG_SAVE_INTERVAL_MS = 1_000;

/** "attempt 1", "attempt 2", …: the first few made once, not for every task. */
const ATTEMPT_MESSAGES = Array.from({ length: 16 }, (_, attempt) => `attempt ${attempt}`);

function attemptMessage(attempt: number): string {
  return ATTEMPT_MESSAGES[attempt] ?? `attempt ${attempt}`;
}

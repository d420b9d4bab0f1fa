/**
 * Submission: a task's admission (the door, the fields, the queue limit),
 * its idempotency key, its dependencies, its record, and its way into the
 * task flow; graphs of tasks, all or nothing; tasks admitted elsewhere
 * (adopted by a cluster replica).
 *
 * @module
 */
import {
  QueueFullError,
  RuntimeErrorName,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskConflictError,
  TaskValidationError,
  UnknownTaskError,
} from "../task/errors.ts";
import { EMPTY_LOG, isTerminal, type TaskRecord } from "../task/record.ts";
import { uuidv7 } from "../util/uuid.ts";
import { admit, type Admitted } from "./admission.ts";
import { type DependencyStatus, type EndState, GraphError, planGraph } from "./graph.ts";
import { PendingTask, type ServiceLane } from "./lane.ts";
import type { ManagerState } from "./state.ts";
import type { TaskFlow } from "./flow.ts";
import type { GraphRequest, OutcomeSink, SubmitRequest } from "./types.ts";

/** Shared by every record submitted without attributes. */
const NO_ATTRIBUTES: Record<string, unknown> = Object.freeze({});

/** No dependency states to consult. */
const NO_DEPENDENCIES: ReadonlyMap<string, DependencyStatus> = new Map();

/**
 * The task manager's submissions: each admitted, recorded and handed to the
 * {@linkcode TaskFlow}, or refused with a typed error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "../actor/mod.ts";
 * import { UnknownServiceError } from "../task/errors.ts";
 * import { TaskManager } from "./manager.ts";
 * // TaskManager hands each submission to its Submissions.
 * const system = new ActorSystem();
 * const manager = new TaskManager(system, []);
 * await manager.start();
 * const refused = await new Promise<Error>((refused) =>
 *   manager.submit({ service: "nowhere", type: "Greeting", fields: {} }, { settled: () => {}, refused })
 * );
 * assert.ok(refused instanceof UnknownServiceError);
 * await manager.close();
 * await system.shutdown();
 * ```
 */
export class Submissions {
  readonly #state: ManagerState;
  readonly #flow: TaskFlow;
  /** Ended tasks whose record is being read to name new dependents in it, with those dependents. */
  readonly #unlinked = new Map<string, string[]>();

  /** Submissions into `flow`, over `state`. */
  constructor(state: ManagerState, flow: TaskFlow) {
    this.#state = state;
    this.#flow = flow;
  }

  /** Why a submission is refused before admission, if it is. */
  #doorClosed(service: string): Error | undefined {
    if (!this.#state.accepting) {
      return new RuntimeStoppingError("the runtime is stopping: it takes no new tasks");
    }
    if (this.#state.journal.failure) {
      return new RuntimeStoppingError(
        `the task store failed (${this.#state.journal.failure.message}): no new tasks are taken`,
      );
    }
    if (this.#state.lanes.get(service)?.stopped) {
      return new ServiceStoppedError(`service '${service}' is stopped`);
    }
    return undefined;
  }

  /** Admit `request`, or the typed refusal it gets. */
  admit(request: SubmitRequest): Admitted | Error {
    const closed = this.#doorClosed(request.service);
    if (closed) return closed;
    let admitted: Admitted;
    try {
      admitted = admit(request, this.#state.lanes);
    } catch (error) {
      return error instanceof Error ? error : new Error(String(error));
    }
    const lane = this.#state.lanes.get(request.service) as ServiceLane;
    if (!admitted.type.parallel && lane.waiting.length >= this.#state.settings.maxQueued) {
      return new QueueFullError(
        `service '${lane.endpoint.name}' has ${lane.waiting.length} serial tasks waiting (limit ${this.#state.settings.maxQueued})`,
      );
    }
    return admitted;
  }

  submit(request: SubmitRequest, sink: OutcomeSink): void | Promise<void> {
    const admitted = this.admit(request);
    if (admitted instanceof Error) return sink.refused(admitted);
    const { key } = request;
    if (
      key !== undefined && this.#state.store.durable && this.#state.keys.idOf(key) === undefined
    ) {
      // A key of a task from before a restart is known only to the store.
      return this.#state.store.list({ key, limit: 1 }).then(({ records: [first] }) => {
        if (first && this.#state.keys.idOf(key) === undefined) {
          this.#state.keys.claim(key, first, first.id);
        }
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
    const { key } = request;
    if (key !== undefined) {
      const keyed = { ...request, fields: admitted.fields };
      const claim = this.#state.keys.claim(key, keyed, id);
      if (claim.kind === "same") return this.#answerWithFirst(claim.id, request, sink);
      if (claim.kind === "conflict" && this.#state.live.has(claim.id)) {
        return sink.refused(new TaskConflictError(claim.message));
      }
      if (claim.kind === "conflict") {
        // The first task has ended: its fields, to say what differs, are in the store.
        return this.#state.store.get(claim.id).then(
          (first) => first && this.#state.keys.explain(key, keyed, first.fields),
          () => undefined,
        ).then((message) => sink.refused(new TaskConflictError(message ?? claim.message)));
      }
    }
    if (admitted.after) return this.#submitAfter(id, request, admitted, sink);
    this.#accept(id, request, admitted, sink, NO_DEPENDENCIES);
  }

  /**
   * A key already names a task: if its record is still there, the submitter
   * gets that task's id and outcome; if it left retention, the key is free.
   */
  async #answerWithFirst(firstId: string, request: SubmitRequest, sink: OutcomeSink) {
    const first = this.#state.live.get(firstId)?.record ?? await this.#state.store.get(firstId);
    if (!first) {
      this.#state.keys.forgetTask(firstId);
      return this.submit(request, sink);
    }
    sink.accepted?.(firstId);
    if (isTerminal(first.state) && first.outcome) return sink.settled(first.outcome);
    this.#flow.addWaiter(firstId, sink);
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
      const record = this.#state.live.get(dependency)?.record ??
        await this.#state.store.get(dependency);
      if (!record) unknown.push(dependency);
      else states.set(dependency, isTerminal(record.state) ? record.state as EndState : "pending");
    }
    // The door may have closed while the store was read.
    const refusal = unknown.length > 0 ? undefined : this.#doorClosed(request.service);
    if (unknown.length > 0 || refusal) {
      if (request.key !== undefined) this.#state.keys.forget(request.key);
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
    const record = this.recordOf(id, request, admitted);
    if (admitted.after) this.#linkDependents(record);
    this.#state.journal.save(record);
    if (sink?.accepted) this.#state.journal.answer({ kind: "accept", sink, id: record.id });
    if (!admitted.after) {
      this.#state.events.task(record);
      this.#flow.start(record, sink, admitted.type);
      return record;
    }
    const pending = new PendingTask(record, sink);
    this.#state.live.set(pending);
    const decision = this.#state.dependencies.wait(
      record.id,
      admitted.after,
      record.onDependencyFailure,
      (id) => this.#state.statusOf(id, dependencies),
    );
    if (decision.kind === "waiting") {
      record.state = "waiting";
      this.#state.events.task(record);
      this.#flow.armExpiry(pending);
    } else if (decision.kind === "cancel") {
      this.#flow.endPending(
        pending,
        "cancelled",
        RuntimeErrorName.DependencyFailed,
        decision.failure.message,
      );
    } else {
      this.#state.events.task(record);
      this.#flow.enqueue(pending, admitted.type);
    }
    return record;
  }

  /** The record of an admitted request, `queued`. */
  recordOf(id: string, request: SubmitRequest, admitted: Admitted): TaskRecord {
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
  adopt(record: TaskRecord, sink: OutcomeSink): void {
    const lane = this.#state.lanes.get(record.service);
    const type = lane?.endpoint.resolve(record.type);
    if (!this.#state.accepting) {
      return sink.refused(
        new RuntimeStoppingError("the runtime is stopping: it takes no new tasks"),
      );
    }
    if (record.log !== EMPTY_LOG) record.log = [...record.log];
    const pending = new PendingTask(record, sink);
    this.#state.live.set(pending);
    if (!lane || !type) {
      const [ename, evalue] = !lane
        ? [RuntimeErrorName.UnknownService, `no service named '${record.service}' here`]
        : [
          RuntimeErrorName.UnknownTaskType,
          `service '${record.service}' has no task type '${record.type}'`,
        ];
      return this.#flow.endPending(pending, "failed", ename, evalue);
    }
    this.#state.journal.save(record);
    // A task never run was announced queued where it was admitted; one queued
    // again after an attempt (its runner went away) was not.
    if (record.attempts > 0) this.#state.events.task(record);
    this.#flow.enqueue(pending, type);
  }

  /** Name `record` in the `dependents` of each task it waits for (for the graph view). */
  #linkDependents(record: TaskRecord): void {
    for (const id of record.after ?? []) {
      const live = this.#state.live.get(id)?.record;
      if (live) {
        live.dependents = [...(live.dependents ?? []), record.id];
        this.#state.journal.save(live);
        continue;
      }
      // An ended task's record is read from the store. Its dependents named
      // while that read is under way join it: each read of its own would
      // return its own copy, and the last save would drop the others' ids.
      const joining = this.#unlinked.get(id);
      if (joining) {
        joining.push(record.id);
        continue;
      }
      const dependents = [record.id];
      this.#unlinked.set(id, dependents);
      this.#state.store.get(id).then((stored) => {
        this.#unlinked.delete(id);
        if (!stored) return;
        stored.dependents = [...(stored.dependents ?? []), ...dependents];
        this.#state.journal.save(stored);
      }).catch(() => this.#unlinked.delete(id));
    }
  }

  submitGraph(graph: GraphRequest): Promise<Record<string, string>> | Record<string, string> {
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
      if (node.key !== undefined) {
        // One key for one task: a graph is retried whole, by submitting it again.
        throw new TaskValidationError(`graph task '${name}' (${node.type})`, [
          { path: "key", message: "a graph's tasks take no idempotency key" },
        ]);
      }
      const result = this.admit({ ...node, after: undefined });
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
          { ...node, after },
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
        const record = this.#state.live.get(id)?.record ?? await this.#state.store.get(id);
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
}

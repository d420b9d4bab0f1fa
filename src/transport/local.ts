/**
 * The in-process port: a client talking straight to the manager actor.
 *
 * @module
 */
import type { TaskOutcome } from "../task/outcome.ts";
import { summarize, type TaskRecord, type TaskRecordSummary } from "../task/record.ts";
import type { TaskManager } from "../manager/manager.ts";
import type { ScheduleInfo } from "../manager/schedules.ts";
import type { StoreStats, TaskListQuery } from "../manager/store.ts";
import type {
  GraphRequest,
  OutcomeSink,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "../manager/types.ts";
import { onAbort } from "../util/async.ts";
import type { ScheduleAction, SummaryPage, TaskPort } from "./port.ts";

/**
 * A port onto a manager in the same process.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "../actor/mod.ts";
 * import { TaskManager } from "../manager/manager.ts";
 * import { LocalPort } from "./local.ts";
 * const system = new ActorSystem();
 * const manager = new TaskManager(system, []);
 * await manager.start();
 * const port = new LocalPort(manager);
 * assert.deepEqual(await port.services(), []);
 * await manager.close();
 * await system.shutdown();
 * ```
 */
export class LocalPort implements TaskPort {
  /** Wrap `manager`. */
  constructor(readonly manager: TaskManager) {}

  /** Submit through the manager's mailbox. */
  submit(request: SubmitRequest, sink: OutcomeSink): void {
    this.manager.submit(request, sink);
  }

  /** Submit a graph through the manager's mailbox. */
  submitGraph(graph: GraphRequest): Promise<Record<string, string>> {
    return this.manager.submitGraph(graph);
  }

  /**
   * Read a record: a snapshot of it as it is now (its state and log do not
   * change under the caller). Its fields, attributes and outcome are the
   * runtime's own values, shared, not copied (a copy would cost as much as
   * the record, on every read): read them, do not modify them.
   */
  async get(id: string): Promise<TaskRecord | undefined> {
    const record = await this.manager.get(id);
    return record && { ...record, log: record.log.slice() };
  }

  /** Summaries, newest first, a page at a time. */
  async list(query?: TaskListQuery): Promise<SummaryPage> {
    const page = await this.manager.list(query);
    const summaries: SummaryPage = { records: page.records.map(summarize) };
    if (page.next !== undefined) summaries.next = page.next;
    return summaries;
  }

  /** Wait for the outcome of task `id`; a caller that gives up leaves nothing behind. */
  wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const { promise, resolve, reject } = Promise.withResolvers<TaskOutcome | undefined>();
    const sink: OutcomeSink = {
      settled: (outcome) => {
        stopListening();
        resolve(outcome);
      },
      refused: () => {
        stopListening();
        resolve(undefined);
      },
    };
    const stopListening = onAbort(signal, () => {
      this.manager.unwait(id, sink);
      reject(signal?.reason);
    });
    this.manager.wait(id, sink);
    return promise;
  }

  /** Cancel task `id`. */
  cancel(id: string): Promise<boolean> {
    return this.manager.cancel(id);
  }

  /** Remove the record of an ended task. */
  delete(id: string): Promise<void> {
    return this.manager.delete(id);
  }

  /** The dependency graph around task `id`, as DOT. */
  graph(id: string): Promise<string | undefined> {
    return this.manager.graph(id);
  }

  /** Services, task types, queue depths. */
  services(): Promise<ServiceInfo[]> {
    return Promise.resolve(this.manager.services());
  }

  /** A serial service's queue, in running order. */
  queue(service: string, limit?: number): Promise<TaskRecordSummary[]> {
    try {
      return Promise.resolve(this.manager.queue(service, limit));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Free a stuck serial lane. */
  release(service: string): Promise<boolean> {
    return this.manager.release(service);
  }

  /** The store's path, size and record count. */
  storeStats(): Promise<StoreStats> {
    return this.manager.storeStats();
  }

  /** Every schedule's status. */
  schedules(): Promise<ScheduleInfo[]> {
    return Promise.resolve(this.manager.schedules());
  }

  /** Pause, resume or run a schedule now. */
  controlSchedule(name: string, action: ScheduleAction): Promise<ScheduleInfo> {
    try {
      return Promise.resolve(this.manager.controlSchedule(name, action));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Follow events. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    return this.manager.subscribe(listener);
  }

  /** In-process, a listener hears every event from the moment it is added. */
  subscribed(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release in-process. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** The in-process `TaskPort`: a client talking straight to the manager actor. */
import type { TaskOutcome } from "../task/outcome.ts";
import {
  summarize,
  type TaskRecord,
  type TaskRecordSummary,
  type TaskState,
} from "../task/record.ts";
import type { TaskManager } from "./manager.ts";
import type { OutcomeSink, ServiceInfo, SubmitRequest, TaskEvent, TaskPort } from "./types.ts";

/**
 * A port onto a manager in the same process.
 *
 * @example
 * ```ts
 * import { ActorSystem } from "../actor/mod.ts";
 * import { TaskManager } from "./manager.ts";
 * import { LocalPort } from "./local.ts";
 * const system = new ActorSystem();
 * const port = new LocalPort(new TaskManager(system, []));
 * await port.services(); // []
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

  /**
   * Read a record: a snapshot of it as it is now (its state and log do not
   * change under the caller). Its fields, attributes and outcome are the
   * runtime's own values, shared, not copied (a copy would cost as much as
   * the record, on every read): read them, do not modify them.
   */
  get(id: string): Promise<TaskRecord | undefined> {
    const record = this.manager.get(id);
    return Promise.resolve(record && { ...record, log: record.log.slice() });
  }

  /** Summaries: live tasks first, newest first; then finished ones, latest first. */
  list(
    query: { service?: string; state?: string; limit?: number } = {},
  ): Promise<TaskRecordSummary[]> {
    const records = this.manager.list({
      ...query,
      state: query.state as TaskState | undefined,
    });
    return Promise.resolve(records.map(summarize));
  }

  /** Wait for the outcome of task `id`. */
  wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined> {
    const { promise, resolve, reject } = Promise.withResolvers<TaskOutcome | undefined>();
    if (signal?.aborted) return Promise.reject(signal.reason);
    const sink = {
      settled: (outcome: TaskOutcome) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(outcome);
      },
      refused: () => {
        signal?.removeEventListener("abort", onAbort);
        resolve(undefined);
      },
    };
    // A caller that gives up must not leave its waiter behind in the manager.
    const onAbort = () => {
      this.manager.unwait(id, sink);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    this.manager.wait(id, sink);
    return promise;
  }

  /** Cancel task `id`. */
  cancel(id: string): Promise<boolean> {
    return this.manager.cancel(id);
  }

  /** Services, task types, queue depths. */
  services(): Promise<ServiceInfo[]> {
    return Promise.resolve(this.manager.services());
  }

  /** Follow task events. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    return this.manager.subscribe(listener);
  }

  /** Nothing to release in-process. */
  close(): Promise<void> {
    return Promise.resolve();
  }
}

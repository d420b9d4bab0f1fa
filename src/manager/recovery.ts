/**
 * What the task manager does at start with the tasks its store says were
 * not finished when it last stopped.
 *
 * @module
 */
import type { TaskType } from "../task/define.ts";
import { RuntimeErrorName } from "../task/errors.ts";
import { appendLog, EMPTY_LOG, isTerminal, type TaskRecord, transition } from "../task/record.ts";
import type { DependencyStatus, EndState } from "./graph.ts";
import { PendingTask } from "./lane.ts";
import type { ManagerState } from "./state.ts";
import type { TaskFlow } from "./flow.ts";

/**
 * Take up the unfinished records of the store at start: queued tasks queue
 * again in their order; a task that was running ends `InterruptedError`, or
 * is queued again at the head of its lane if its type says `onInterrupt:
 * "requeue"`; a task whose service or type is gone ends failed, saying so;
 * a task past its deadline expires; one waiting for dependencies waits on,
 * or runs or ends as they did.
 *
 * @example
 * ```ts
 * import { ActorSystem } from "../actor/mod.ts";
 * import { TaskManager } from "./manager.ts";
 * // TaskManager.start() calls recover with what its store says was unfinished.
 * const system = new ActorSystem();
 * const manager = new TaskManager(system, []);
 * await manager.start();
 * await manager.close();
 * await system.shutdown();
 * ```
 */
export async function recover(
  state: ManagerState,
  flow: TaskFlow,
  records: TaskRecord[],
): Promise<void> {
  const now = Date.now();
  const requeued: [PendingTask, TaskType][] = [];
  const queued: [PendingTask, TaskType][] = [];
  for (const record of records) {
    if (record.log !== EMPTY_LOG) record.log = [...record.log];
    const pending = new PendingTask(record, undefined);
    state.live.set(pending);
    if (record.key !== undefined) state.keys.claim(record.key, record, record.id);
    const lane = state.lanes.get(record.service);
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
      flow.endPending(
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
        state.journal.save(record);
        requeued.push([pending, type]);
      } else {
        flow.endPending(
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
  for (const [pending, type] of requeued) flow.enqueue(pending, type);
  for (const [pending, type] of queued) {
    const { record } = pending;
    if (record.deadline !== undefined && record.deadline <= now) {
      flow.endPending(
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
        if (state.live.has(id)) continue;
        // Gone past its retention: it ended long ago, and its outcome is unknown now.
        const last = (await state.store.get(id))?.state ?? "failed";
        ended.set(id, isTerminal(last) ? last as EndState : "pending");
      }
      const decision = state.dependencies.wait(
        record.id,
        record.after,
        record.onDependencyFailure,
        (id) => state.statusOf(id, ended),
      );
      if (decision.kind === "waiting") {
        flow.armExpiry(pending);
        continue;
      }
      if (decision.kind === "cancel") {
        flow.endPending(
          pending,
          "cancelled",
          RuntimeErrorName.DependencyFailed,
          decision.failure.message,
        );
        continue;
      }
      transition(record, "queued", now, "its dependencies had ended when the runtime restarted");
      state.journal.save(record);
    }
    flow.enqueue(pending, type);
  }
}

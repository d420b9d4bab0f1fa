/**
 * What the parts of the task manager share: its tasks, lanes, waiters and
 * the modules that keep them (journal, events, dependencies, keys), and the
 * messages its actor takes. Only the manager's actor changes it.
 *
 * @module
 */
import type { ActorRef, ActorSystem } from "../actor/mod.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskReport } from "../task/protocol.ts";
import { isTerminal, type TaskRecord } from "../task/record.ts";
import { IdMap } from "../util/id_map.ts";
import { EventHub } from "./events.ts";
import { type DependencyStatus, DependencyTracker, type EndState } from "./graph.ts";
import { IdempotencyKeys } from "./idempotency.ts";
import type { Journal } from "./journal.ts";
import type { LiveTask, PendingTask, ServiceLane } from "./lane.ts";
import type { ManagerSettings } from "./options.ts";
import type { TaskStore } from "./store.ts";
import type { GraphRequest, OutcomeSink, SubmitRequest } from "./types.ts";

/**
 * A message to the task manager's actor.
 *
 * @example
 * ```ts
 * import type { ManagerMessage } from "./state.ts";
 * const message: ManagerMessage = { kind: "cancel", id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d" };
 * ```
 */
export type ManagerMessage =
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
  | { kind: "save-log"; id: string }
  | { kind: "expire"; id: string }
  | { kind: "service-stopped"; service: string }
  | { kind: "service-changed"; service: string }
  | { kind: "close" };

/**
 * What waits for this turn's records to be durable.
 *
 * @example
 * ```ts
 * import type { Action } from "./state.ts";
 * const tell: Action = { kind: "accept", id: "0196f1c2-7d0e-7a3b-9c4d-5e6f7a8b9c0d", sink: {
 *   settled: () => {},
 *   refused: () => {},
 * } };
 * ```
 */
export type Action =
  | { kind: "accept"; sink: OutcomeSink; id: string }
  | { kind: "dispatch"; live: LiveTask; attempt: number }
  | { kind: "settle"; sink: OutcomeSink; outcome: TaskOutcome };

/**
 * The task manager's state: made by `TaskManager`, read and changed by its
 * parts (`Submissions`, `TaskFlow`, `recover`) from the actor's turns only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "../actor/mod.ts";
 * import { MemoryTaskStore } from "./memory_store.ts";
 * import { managerSettings } from "./options.ts";
 * import { ManagerState } from "./state.ts";
 * const state = new ManagerState(new ActorSystem(), new MemoryTaskStore(), managerSettings({}));
 * assert.equal(state.running(), 0);
 * assert.equal(state.statusOf("unknown", new Map()), undefined);
 * ```
 */
export class ManagerState {
  /** Tasks a handler has been given (until it returns), and tasks not yet handed out. */
  readonly live = new IdMap<LiveTask | PendingTask>();
  /** Those waiting by id (`wait`) for tasks not yet ended. */
  readonly waiters = new Map<string, Set<OutcomeSink>>();
  /** Each service's lane, by service name. */
  readonly lanes = new Map<string, ServiceLane>();
  readonly events = new EventHub();
  readonly dependencies = new DependencyTracker();
  /** The fields of a live task say what a conflicting request changed; an ended one's are read. */
  readonly keys = new IdempotencyKeys((id) => this.live.get(id)?.record.fields);
  /** The manager's actor (set once it is spawned). */
  ref!: ActorRef<ManagerMessage>;
  /** Group commit of record changes (set once the manager has its parts). */
  journal!: Journal<Action>;
  /** Whether new tasks are taken. */
  accepting = false;
  /** Whether the manager is closing. */
  closing = false;
  /** Called when no handler runs any more (while closing). */
  idle: (() => void) | undefined;

  /** The state of a manager in `system` on `store`, with these settings. */
  constructor(
    readonly system: ActorSystem,
    readonly store: TaskStore,
    readonly settings: ManagerSettings,
  ) {}

  /** Handlers running now, over every service. */
  running(): number {
    let running = 0;
    for (const lane of this.lanes.values()) running += lane.running;
    return running;
  }

  /** Where task `id` stands for a task depending on it: live here, or as `known` says. */
  statusOf(
    id: string,
    known: ReadonlyMap<string, DependencyStatus>,
  ): DependencyStatus | undefined {
    const live = this.live.get(id);
    if (live) return isTerminal(live.record.state) ? live.record.state as EndState : "pending";
    return known.get(id);
  }
}

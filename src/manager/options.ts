/**
 * The task manager's options, their defaults and their checks.
 *
 * @module
 */
import { durationProblem } from "../task/limits.ts";
import type { ScheduleConfig } from "./schedules.ts";
import type { TaskStore } from "./store.ts";

/**
 * Options of the task manager. A `Runtime` passes its own `store`,
 * retention and schedules; the rest comes from `RuntimeOptions.manager`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import type { ManagerOptions } from "./options.ts";
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
 * import { DEFAULT_MAX_QUEUED_PER_SERVICE } from "./options.ts";
 * assert.equal(DEFAULT_MAX_QUEUED_PER_SERVICE, 100_000);
 * ```
 */
export const DEFAULT_MAX_QUEUED_PER_SERVICE = 100_000;

/**
 * The numbers of {@linkcode ManagerOptions}, each checked and defaulted.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { managerSettings } from "./options.ts";
 * assert.equal(managerSettings({ abortGraceMs: 1_000 }).abortGraceMs, 1_000);
 * assert.throws(() => managerSettings({ maxQueuedPerService: 0 }), /maxQueuedPerService/);
 * ```
 */
export interface ManagerSettings {
  /** A finished record's time to live when its type says nothing. */
  readonly ttlMs: number;
  /** Most serial tasks waiting per service. */
  readonly maxQueued: number;
  /** The grace period of a handler told to stop. */
  readonly abortGraceMs: number;
  /** The capacity of the manager's mailbox. */
  readonly mailboxCapacity: number;
}

/**
 * Check and default the numbers of `options`: a `TypeError` names a bad one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_QUEUED_PER_SERVICE, managerSettings } from "./options.ts";
 * assert.equal(managerSettings({}).maxQueued, DEFAULT_MAX_QUEUED_PER_SERVICE);
 * assert.throws(() => managerSettings({ abortGraceMs: -1 }), TypeError);
 * ```
 */
export function managerSettings(options: ManagerOptions): ManagerSettings {
  return {
    ttlMs: duration(options.retentionTtlMs, "retentionTtlMs", 3_600_000),
    maxQueued: count(
      options.maxQueuedPerService,
      "maxQueuedPerService",
      DEFAULT_MAX_QUEUED_PER_SERVICE,
      1,
    ),
    abortGraceMs: duration(options.abortGraceMs, "abortGraceMs", 5_000),
    mailboxCapacity: count(options.mailboxCapacity, "mailboxCapacity", 1_000_000, 1),
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

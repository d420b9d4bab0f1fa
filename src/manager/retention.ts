/**
 * Retention rules of a store, checked once and resolved per task type.
 *
 * @module
 */
import type { TaskRecord } from "../task/record.ts";
import type { RetentionLimits, RetentionOptions } from "./store.ts";

/**
 * A finished record is kept one hour by default...
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_TTL_MS, Retention } from "./retention.ts";
 * assert.equal(new Retention({}).ttlFor("Anything"), DEFAULT_TTL_MS);
 * assert.equal(DEFAULT_TTL_MS, 3_600_000);
 * ```
 */
export const DEFAULT_TTL_MS = 3_600_000;
/**
 * ...and at most this many finished records by default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_RECORDS } from "./retention.ts";
 * assert.equal(DEFAULT_MAX_RECORDS, 10_000);
 * ```
 */
export const DEFAULT_MAX_RECORDS = 10_000;
/**
 * Expired records are removed at most this late: a store's timer sleeps at
 * least this long between runs, so a steady stream of expiries costs at most
 * 20 runs a second.
 */
const RETENTION_TICK_MS = 50;
/** Timers cannot wait longer (about 24.8 days): a later expiry is re-checked then. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/**
 * How long a retention timer set `now` waits for the expiry `next`, when the
 * previous run was at `lastRun`: not before the expiry, not sooner than a
 * tick after the last run, and within what a timer can wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { retentionDelay } from "./retention.ts";
 * assert.equal(retentionDelay(1_000, -Infinity, 0), 1_000);
 * assert.equal(retentionDelay(1_000, 990, 995), 45); // a tick (50 ms) after the last run
 * ```
 */
export function retentionDelay(next: number, lastRun: number, now: number): number {
  return Math.min(Math.max(next - now, lastRun + RETENTION_TICK_MS - now, 0), MAX_TIMER_DELAY_MS);
}

/**
 * Retention options, checked (a `RangeError` names the field), with the
 * limits of each task type resolved.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Retention } from "./retention.ts";
 * const retention = new Retention({ ttlMs: 1000, perType: { Calibrate: { maxRecords: 5 } } });
 * assert.equal(retention.ttlFor("Calibrate"), 1_000); // the runtime's: the type sets none
 * assert.equal(retention.typeCaps.get("Calibrate"), 5);
 * assert.throws(() => new Retention({ ttlMs: -1 }), RangeError);
 * ```
 */
export class Retention {
  readonly ttlMs: number;
  /** Most finished records overall. */
  readonly maxRecords: number;
  /** Most finished records of the types that have their own cap. */
  readonly typeCaps: ReadonlyMap<string, number>;
  readonly #typeTtls: ReadonlyMap<string, number>;

  /** Check `options` (from a config, or cloned into a worker). */
  constructor(readonly options: RetentionOptions = {}) {
    this.ttlMs = checkTtl("retention.ttlMs", options.ttlMs) ?? DEFAULT_TTL_MS;
    this.maxRecords = checkMax("retention.maxRecords", options.maxRecords) ?? DEFAULT_MAX_RECORDS;
    const typeTtls = new Map<string, number>();
    const typeCaps = new Map<string, number>();
    for (const [type, limits] of Object.entries(options.perType ?? {})) {
      const { ttlMs, maxRecords } = limits as RetentionLimits;
      const ttl = checkTtl(`retention.perType.${type}.ttlMs`, ttlMs);
      const cap = checkMax(`retention.perType.${type}.maxRecords`, maxRecords);
      if (ttl !== undefined) typeTtls.set(type, ttl);
      if (cap !== undefined) typeCaps.set(type, cap);
    }
    this.#typeTtls = typeTtls;
    this.typeCaps = typeCaps;
  }

  /** How long a finished record of `type` is kept. */
  ttlFor(type: string): number {
    return this.#typeTtls.get(type) ?? this.ttlMs;
  }

  /**
   * When finished `record` is removed: its `expiresAt`, else `finishedAt`
   * (or `now`) plus the ttl of its type.
   */
  expiryOf(record: Pick<TaskRecord, "type" | "finishedAt" | "expiresAt">, now: number): number {
    return record.expiresAt ?? (record.finishedAt ?? now) + this.ttlFor(record.type);
  }
}

function checkTtl(field: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(typeof value === "number" && value > 0)) {
    throw new RangeError(`${field}: expected a positive number of milliseconds, got ${value}`);
  }
  return value;
}

function checkMax(field: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(value === Infinity || (Number.isInteger(value) && value >= 0))) {
    throw new RangeError(`${field}: expected a whole number ≥ 0 (or Infinity), got ${value}`);
  }
  return value;
}

/**
 * The retry policy of a task type: how many times a failed task is tried
 * again, how long to wait before each retry (exponential backoff with
 * jitter, capped), and which errors are worth a retry.
 *
 * @module
 */
import { MAX_DURATION_MS } from "./limits.ts";

/**
 * A retry policy as a task type declares it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryPolicy, type RetryOptions } from "./retry.ts";
 * const flaky: RetryOptions = {
 *   attempts: 3,
 *   backoff: { initialMs: 500, factor: 2, maxMs: 10_000, jitter: 0.2 },
 *   retryOn: ["TimeoutError"],
 * };
 * assert.equal(parseRetryPolicy(flaky).retries("TimeoutError"), true);
 * ```
 */
export interface RetryOptions {
  /** How many times a failed task is tried again (0: never); it runs at most `attempts + 1` times. */
  attempts: number;
  /** How long to wait before each retry: exponential, capped, optionally spread at random. */
  backoff?: {
    /** Delay before the first retry, in ms (default 1 000; 0 to retry at once). */
    initialMs?: number;
    /** Each retry waits `factor` times longer than the one before (default 2; 1: a fixed delay). */
    factor?: number;
    /** The longest delay, in ms (at least `initialMs`; default 60 000, or `initialMs` if longer). */
    maxMs?: number;
    /**
     * The fraction of each delay drawn at random, from 0 (none, the default)
     * to 1: a delay `d` becomes a delay between `d × (1 − jitter)` and `d`,
     * so retries of many tasks that failed together spread out.
     */
    jitter?: number;
  };
  /** Only errors with these `ename`s are retried (default: any error). */
  retryOn?: readonly string[];
}

/**
 * The bounds of a retry policy: at most 100 retries (each attempt is kept
 * in the record), delays up to 2³¹−1 ms, a factor up to 1 000, up to 100
 * error names of at most 200 characters each.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RETRY_LIMITS } from "./retry.ts";
 * assert.equal(RETRY_LIMITS.attempts, 100);
 * ```
 */
export const RETRY_LIMITS = Object.freeze({
  attempts: 100,
  maxDelayMs: MAX_DURATION_MS,
  factor: 1_000,
  retryOn: 100,
  enameChars: 200,
});

/**
 * A checked retry policy. Make one with `parseRetryPolicy`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryPolicy } from "./retry.ts";
 * const policy = parseRetryPolicy({
 *   attempts: 5,
 *   backoff: { initialMs: 100, factor: 3, maxMs: 2_000 },
 *   retryOn: ["TimeoutError", "ConnectionError"],
 * });
 * assert.deepEqual([1, 2, 3, 4, 5].map((retry) => policy.delayMs(retry)), [100, 300, 900, 2_000, 2_000]);
 * assert.equal(policy.retries("TimeoutError"), true);
 * assert.equal(policy.retries("ZeroDivisionError"), false);
 * assert.deepEqual(policy.next(6, "TimeoutError"), undefined); // five retries made already
 * ```
 */
export class RetryPolicy {
  /** Constructed by `parseRetryPolicy`, which checks every field. */
  constructor(
    readonly attempts: number,
    readonly initialMs: number,
    readonly factor: number,
    readonly maxMs: number,
    readonly jitter: number,
    /** `undefined`: any error is retried. */
    readonly retryOn: ReadonlySet<string> | undefined,
  ) {}

  /**
   * The delay before retry `retry` (1: the first retry, after the first
   * attempt failed), in whole ms: `initialMs × factor^(retry−1)`, at most
   * `maxMs`, less a random part of up to `jitter` of it. `random` returns a
   * number in [0, 1) (default `Math.random`; pass one for tests).
   */
  delayMs(retry: number, random: () => number = Math.random): number {
    if (this.initialMs === 0) return 0;
    const base = Math.min(this.maxMs, this.initialMs * this.factor ** (Math.max(retry, 1) - 1));
    if (this.jitter === 0) return Math.round(base);
    const drawn = random();
    const draw = drawn >= 0 && drawn <= 1 ? drawn : 0;
    return Math.round(base * (1 - this.jitter * draw));
  }

  /** Whether an error named `ename` may be retried (`retryOn`, or any error without it). */
  retries(ename: string): boolean {
    return this.retryOn === undefined || this.retryOn.has(ename);
  }

  /**
   * After attempt `attempt` (1 for the first) failed with `ename`: the delay
   * before the next attempt, or `undefined` when it is not retried (retries
   * used up, or `ename` not in `retryOn`).
   */
  next(attempt: number, ename: string, random?: () => number): number | undefined {
    if (attempt > this.attempts || !this.retries(ename)) return undefined;
    return this.delayMs(attempt, random);
  }
}

/**
 * A problem with a retry policy: the field (`retries.backoff.factor`) and
 * the reason, and the value given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryPolicy, RetryPolicyError } from "./retry.ts";
 * assert.throws(
 *   () => parseRetryPolicy({ attempts: 3, backoff: { initialMs: -1 } }),
 *   (error) => error instanceof RetryPolicyError && error.field === "retries.backoff.initialMs",
 * );
 * ```
 */
export class RetryPolicyError extends TypeError {
  /** Always `"RetryPolicyError"`, whatever a bundler does to class names. */
  override name = "RetryPolicyError";
  /** Create the error for `field`, which `reason` explains. */
  constructor(readonly field: string, reason: string) {
    super(`${field} ${reason}`);
  }
}

/**
 * Check a retry policy (`field` names it in errors, e.g. `"task type
 * 'Calibrate': retries"`): `attempts` a whole number from 0 to 100;
 * `initialMs` and `maxMs` whole ms from 0 to 2³¹−1 with `maxMs ≥
 * initialMs`; `factor` a number from 1 to 1 000; `jitter` from 0 to 1;
 * `retryOn` a list of at most 100 error names. Throws `RetryPolicyError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseRetryPolicy } from "./retry.ts";
 * const policy = parseRetryPolicy({ attempts: 2 });
 * assert.deepEqual([policy.initialMs, policy.factor, policy.maxMs, policy.jitter], [1_000, 2, 60_000, 0]);
 * assert.throws(() => parseRetryPolicy({ attempts: "3" }), /retries.attempts must be a whole number from 0 to 100, got "3"/);
 * ```
 */
export function parseRetryPolicy(options: unknown, field = "retries"): RetryPolicy {
  if (!isObject(options)) {
    throw new RetryPolicyError(
      field,
      `must be an object { attempts, backoff?, retryOn? }, got ${describe(options)}`,
    );
  }
  const { attempts, backoff, retryOn } = options;
  if (
    !Number.isSafeInteger(attempts) || (attempts as number) < 0 ||
    (attempts as number) > RETRY_LIMITS.attempts
  ) {
    throw new RetryPolicyError(
      `${field}.attempts`,
      `must be a whole number from 0 to ${RETRY_LIMITS.attempts}, got ${describe(attempts)}`,
    );
  }
  if (backoff !== undefined && !isObject(backoff)) {
    throw new RetryPolicyError(
      `${field}.backoff`,
      `must be an object { initialMs?, factor?, maxMs?, jitter? }, got ${describe(backoff)}`,
    );
  }
  const at = `${field}.backoff`;
  const initialMs = wholeMs(backoff?.initialMs, 1_000, `${at}.initialMs`);
  const maxMs = wholeMs(backoff?.maxMs, Math.max(60_000, initialMs), `${at}.maxMs`);
  if (maxMs < initialMs) {
    throw new RetryPolicyError(
      `${at}.maxMs`,
      `must be at least initialMs (${initialMs}), got ${maxMs}`,
    );
  }
  const factor = inRange(backoff?.factor, 2, 1, RETRY_LIMITS.factor, `${at}.factor`);
  const jitter = inRange(backoff?.jitter, 0, 0, 1, `${at}.jitter`);
  return new RetryPolicy(
    attempts as number,
    initialMs,
    factor,
    maxMs,
    jitter,
    retryOn === undefined ? undefined : errorNames(retryOn, `${field}.retryOn`),
  );
}

function wholeMs(value: unknown, fallback: number, field: string): number {
  if (value === undefined) return fallback;
  if (
    !Number.isSafeInteger(value) || (value as number) < 0 ||
    (value as number) > RETRY_LIMITS.maxDelayMs
  ) {
    throw new RetryPolicyError(
      field,
      `must be a whole number of ms from 0 to ${RETRY_LIMITS.maxDelayMs}, got ${describe(value)}`,
    );
  }
  return value as number;
}

function inRange(
  value: unknown,
  fallback: number,
  min: number,
  max: number,
  field: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !(value >= min && value <= max)) {
    throw new RetryPolicyError(
      field,
      `must be a number from ${min} to ${max}, got ${describe(value)}`,
    );
  }
  return value;
}

function errorNames(value: unknown, field: string): ReadonlySet<string> {
  if (!Array.isArray(value)) {
    throw new RetryPolicyError(field, `must be a list of error names, got ${describe(value)}`);
  }
  if (value.length > RETRY_LIMITS.retryOn) {
    throw new RetryPolicyError(
      field,
      `may name at most ${RETRY_LIMITS.retryOn} errors, got ${value.length}`,
    );
  }
  value.forEach((name, i) => {
    if (typeof name !== "string" || name === "" || name.length > RETRY_LIMITS.enameChars) {
      throw new RetryPolicyError(
        `${field}[${i}]`,
        `must be an error name (1 to ${RETRY_LIMITS.enameChars} characters), got ${describe(name)}`,
      );
    }
  });
  return new Set(value as string[]);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return value === null ? "null" : Array.isArray(value) ? "a list" : typeof value;
}

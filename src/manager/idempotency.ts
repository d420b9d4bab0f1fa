/**
 * Idempotency keys: a request with a `key` already used answers the first
 * task's id when it asks for the same thing (same service, type and
 * fields), and is refused when it asks for something else. A key is kept as
 * long as its first task's record is: the manager forgets it when that
 * record leaves retention or is deleted.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { RECORD_LIMITS } from "../task/limits.ts";

/**
 * The bounds of a key: 1 to 200 characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IDEMPOTENCY_LIMITS } from "./idempotency.ts";
 * assert.equal(IDEMPOTENCY_LIMITS.keyChars, 200);
 * ```
 */
export const IDEMPOTENCY_LIMITS = Object.freeze({ keyChars: 200 });

/**
 * Why `value` is not an idempotency key (text of 1 to 200 characters), or
 * `undefined` if it is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { keyProblem } from "./idempotency.ts";
 * assert.equal(keyProblem("calibrate-q3-2026-01-10"), undefined);
 * assert.equal(keyProblem(""), 'must be text of 1 to 200 characters, got ""');
 * ```
 */
export function keyProblem(value: unknown): string | undefined {
  if (typeof value === "string" && value !== "" && value.length <= IDEMPOTENCY_LIMITS.keyChars) {
    return undefined;
  }
  return `must be text of 1 to ${IDEMPOTENCY_LIMITS.keyChars} characters, got ${describe(value)}`;
}

/**
 * JSON of `value` with every object's keys in sorted order, so two values
 * equal as JSON give the same text whatever order their keys were written
 * in (arrays keep their order). For validated fields: it throws a
 * `TypeError` on a value nested deeper than 32 levels (the fields' own
 * bound) or that refers to itself, and on a `BigInt`, as `JSON.stringify`
 * does.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { canonicalJson } from "./idempotency.ts";
 * assert.equal(canonicalJson({ b: 1, a: { d: [2, 1], c: null } }), '{"a":{"c":null,"d":[2,1]},"b":1}');
 * assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
 * ```
 */
export function canonicalJson(value: unknown): string {
  // The depth of each object the walk is in: sorted copies defeat JSON.stringify's own cycle check.
  const depths = new WeakMap<object, number>();
  return JSON.stringify(value, function (this: object, _key, item) {
    if (item === null || typeof item !== "object") return item;
    const depth = (depths.get(this) ?? 0) + 1;
    if (depth > RECORD_LIMITS.depth) {
      throw new TypeError(
        `the value is nested deeper than ${RECORD_LIMITS.depth} levels, or refers to itself`,
      );
    }
    if (Array.isArray(item)) {
      depths.set(item, depth);
      return item;
    }
    // No prototype: a "__proto__" key is then a key like any other.
    const sorted: Record<string, unknown> = Object.create(null);
    for (const key of Object.keys(item).sort()) sorted[key] = item[key];
    depths.set(sorted, depth);
    return sorted;
  }) ?? "null";
}

/**
 * What a keyed request asks for.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdempotencyKeys, type KeyedRequest } from "./idempotency.ts";
 * const request: KeyedRequest = { service: "lab", type: "Calibrate", fields: { qubit: 3 } };
 * assert.deepEqual(new IdempotencyKeys(() => undefined).claim("cal-q3", request, "t1"), { kind: "new" });
 * ```
 */
export interface KeyedRequest {
  /** The service it is sent to. */
  service: string;
  /** Its task type's name. */
  type: string;
  /** The validated fields (defaults applied). */
  fields: unknown;
}

/**
 * What `claim` decided.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdempotencyKeys, type KeyClaim } from "./idempotency.ts";
 * const keys = new IdempotencyKeys(() => ({ qubit: 3 }));
 * const request = { service: "lab", type: "Calibrate", fields: { qubit: 3 } };
 * keys.claim("cal-q3", request, "t1");
 * const again: KeyClaim = keys.claim("cal-q3", request, "t2");
 * assert.deepEqual(again, { kind: "same", id: "t1" });
 * ```
 */
export type KeyClaim =
  /** The key was free: it now names the new task. Submit it (or `forget` the key if it is refused). */
  | { kind: "new" }
  /** The same request was made under this key: answer the first task's id, queue nothing. */
  | { kind: "same"; id: string }
  /** The key names a task that asked for something else: refuse (HTTP 409) with `message`. */
  | { kind: "conflict"; id: string; message: string };

interface KeyEntry {
  id: string;
  service: string;
  type: string;
  /** SHA-256 of the canonical JSON of the fields: what is compared, at 44 characters a key. */
  digest: string;
}

/** Differences a conflict message lists at most. */
const SHOWN_DIFFERENCES = 3;

/**
 * The keys in use, each naming the first task submitted with it. `claim`,
 * `forget` and `forgetTask` are O(1) in the number of keys (`claim` hashes
 * the fields once); an entry holds its key, the task id, the service and
 * type names and a 44-character digest of the fields.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdempotencyKeys } from "./idempotency.ts";
 * const fields = new Map<string, unknown>();
 * const keys = new IdempotencyKeys((id) => fields.get(id));
 * const request = { service: "lab", type: "Calibrate", fields: { qubit: 3, shots: 1000 } };
 * assert.deepEqual(keys.claim("cal-q3", request, "task-1"), { kind: "new" });
 * fields.set("task-1", request.fields);
 * const again = { ...request, fields: { shots: 1000, qubit: 3 } };
 * assert.deepEqual(keys.claim("cal-q3", again, "task-2"), { kind: "same", id: "task-1" });
 * const other = keys.claim("cal-q3", { ...request, fields: { qubit: 4, shots: 1000 } }, "task-3");
 * assert.equal(other.kind === "conflict" && other.message,
 *   `key "cal-q3" was first used by task task-1 with other fields: qubit: 3 → 4`);
 * keys.forgetTask("task-1"); // its record left retention
 * assert.deepEqual(keys.claim("cal-q3", { ...request, fields: { qubit: 4 } }, "task-4"), { kind: "new" });
 * ```
 */
export class IdempotencyKeys {
  readonly #byKey = new Map<string, KeyEntry>();
  readonly #keyOf = new Map<string, string>();

  /**
   * `fieldsOf` gives the fields of a task by id (from its record), to say
   * in a conflict which fields differ; without it, or when it gives
   * `undefined`, the message says only that the fields differ.
   */
  constructor(readonly fieldsOf?: (id: string) => unknown) {}

  /** Keys in use. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * Claim `key` (checked with `keyProblem`: a `TypeError` if bad) for task
   * `id` asking for `request`: see `KeyClaim`. Only `new` records anything.
   */
  claim(key: string, request: KeyedRequest, id: string): KeyClaim {
    const problem = keyProblem(key);
    if (problem) throw new TypeError(`key ${problem}`);
    const digest = digestOf(request.fields);
    const first = this.#byKey.get(key);
    if (!first) {
      this.#byKey.set(key, { id, service: request.service, type: request.type, digest });
      this.#keyOf.set(id, key);
      return { kind: "new" };
    }
    if (
      first.service === request.service && first.type === request.type && first.digest === digest
    ) return { kind: "same", id: first.id };
    const message = this.#conflict(key, first, request, this.fieldsOf?.(first.id));
    return { kind: "conflict", id: first.id, message };
  }

  /**
   * The refusal `claim` gave for `request` under `key`, saying which fields
   * differ from `firstFields` (the first task's, read by the caller when
   * `fieldsOf` could not give them); `undefined` if `key` is not in use.
   */
  explain(key: string, request: KeyedRequest, firstFields: unknown): string | undefined {
    const first = this.#byKey.get(key);
    return first && this.#conflict(key, first, request, firstFields);
  }

  /** The id of the task `key` names, if any. */
  idOf(key: string): string | undefined {
    return this.#byKey.get(key)?.id;
  }

  /** Free `key` (its task was refused after all). Says whether it was in use. */
  forget(key: string): boolean {
    const entry = this.#byKey.get(key);
    if (!entry) return false;
    this.#byKey.delete(key);
    this.#keyOf.delete(entry.id);
    return true;
  }

  /** Free the key of task `id` (its record left retention or was deleted), if it had one. */
  forgetTask(id: string): boolean {
    const key = this.#keyOf.get(id);
    return key !== undefined && this.forget(key);
  }

  #conflict(key: string, first: KeyEntry, request: KeyedRequest, firstFields: unknown): string {
    const head = `key ${describe(key)} was first used by task ${first.id}`;
    if (first.service !== request.service || first.type !== request.type) {
      return `${head} for ${first.type} on service '${first.service}', not ${request.type} on ` +
        `service '${request.service}'`;
    }
    const found = firstFields === undefined ? [] : differences(firstFields, request.fields);
    return `${head} with other fields${found.length > 0 ? `: ${found.join("; ")}` : ""}`;
  }
}

function digestOf(fields: unknown): string {
  return createHash("sha256").update(canonicalJson(fields)).digest("base64");
}

/**
 * Where two JSON values differ, as `path: before → after` lines (at most
 * three, then how many more), walking both breadth first without recursion.
 */
function differences(before: unknown, after: unknown): string[] {
  const found: string[] = [];
  let more = 0;
  const pending: [string, unknown, unknown][] = [["", normal(before), normal(after)]];
  for (let next = 0; next < pending.length; next++) {
    const [path, a, b] = pending[next];
    const bothArrays = Array.isArray(a) && Array.isArray(b);
    const bothObjects = isObject(a) && isObject(b);
    if (bothArrays || bothObjects) {
      const keys = bothArrays
        ? Array.from({ length: Math.max(a.length, b.length) }, (_, i) => i)
        : [...new Set([...Object.keys(a as object), ...Object.keys(b as object)])].sort();
      for (const key of keys) {
        const child = typeof key === "number"
          ? `${path}[${key}]`
          : path === ""
          ? key
          : `${path}.${key}`;
        pending.push([
          child,
          (a as Record<string | number, unknown>)[key],
          (b as Record<string | number, unknown>)[key],
        ]);
      }
      continue;
    }
    if (a === b) continue;
    if (found.length < SHOWN_DIFFERENCES) {
      found.push(`${path || "(the fields)"}: ${shown(a)} → ${shown(b)}`);
    } else more++;
  }
  if (more > 0) found.push(`and ${more} more`);
  return found;
}

/** A value as JSON would carry it (`toJSON` applied, `undefined` members gone). */
function normal(value: unknown): unknown {
  const json = JSON.stringify(value);
  return json === undefined ? undefined : JSON.parse(json);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function shown(value: unknown): string {
  if (value === undefined) return "(absent)";
  const json = canonicalJson(value);
  return json.length > 40 ? `${json.slice(0, 39)}…` : json;
}

function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if (typeof value === "number") return String(value);
  return value === null ? "null" : Array.isArray(value) ? "a list" : typeof value;
}

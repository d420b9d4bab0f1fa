/**
 * A map from task ids to what holds each task's record, without making V8
 * internalize every new id.
 *
 * @module
 */

/** What an {@linkcode IdMap} holds: something that carries the record of one task. */
export interface HoldsRecord {
  /** The task's record; its `id` is the key the value is kept under. */
  readonly record: { readonly id: string };
}

/** Values whose ids share a hash: the rare case, kept by id string. */
class Shared<V> {
  constructor(readonly byId: Map<string, V>) {}
}

/**
 * A `Map` from task ids to values that carry the task's record, keyed by a
 * 30-bit hash of the id (a small integer) instead of the id string.
 *
 * Why: V8 internalizes a string the first time it is used as a `Map` key: it
 * looks the string up in its process-wide string table and copies it there.
 * Every task id is new once, and that table is full of the tombstones of ids
 * already collected, so the first use of each id cost 0.4–1 µs, about a tenth
 * of what the whole runtime spends on a task (`docs/speed-notes.md`). An
 * integer key costs nothing to hash ({@linkcode idHash}). Ids that share a
 * hash are kept together in a string-keyed map, so any string works as an
 * id; only the speed of those few depends on the hash.
 *
 * Iteration yields values in the order their hash was first set, which is
 * insertion order unless two ids share a hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IdMap } from "./id_map.ts";
 * const tasks = new IdMap<{ record: { id: string }; done: boolean }>();
 * const task = { record: { id: "0193a0c4-7e55-7d2a-9f3b-1c2d3e4f5a6b" }, done: false };
 * tasks.set(task);
 * assert.equal(tasks.get(task.record.id), task);
 * assert.equal(tasks.size, 1);
 * assert.equal(tasks.delete(task.record.id), true);
 * assert.equal(tasks.get(task.record.id), undefined);
 * ```
 */
export class IdMap<V extends HoldsRecord> {
  readonly #slots = new Map<number, V | Shared<V>>();
  #size = 0;

  /** How many values are kept. */
  get size(): number {
    return this.#size;
  }

  /** The value kept under `id`, if any. */
  get(id: string): V | undefined {
    const slot = this.#slots.get(idHash(id));
    if (slot === undefined) return undefined;
    if (slot instanceof Shared) return slot.byId.get(id);
    return slot.record.id === id ? slot : undefined;
  }

  /** Whether a value is kept under `id`. */
  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  /** Keep `value` under its record's id, replacing what was kept there. */
  set(value: V): void {
    const id = value.record.id;
    const hash = idHash(id);
    const slot = this.#slots.get(hash);
    if (slot === undefined) {
      this.#slots.set(hash, value);
      this.#size++;
    } else if (slot instanceof Shared) {
      if (!slot.byId.has(id)) this.#size++;
      slot.byId.set(id, value);
    } else if (slot.record.id === id) {
      this.#slots.set(hash, value);
    } else {
      this.#slots.set(hash, new Shared(new Map([[slot.record.id, slot], [id, value]])));
      this.#size++;
    }
  }

  /** Remove the value kept under `id`; whether there was one. */
  delete(id: string): boolean {
    const hash = idHash(id);
    const slot = this.#slots.get(hash);
    if (slot === undefined) return false;
    if (slot instanceof Shared) {
      if (!slot.byId.delete(id)) return false;
      if (slot.byId.size === 1) this.#slots.set(hash, slot.byId.values().next().value as V);
    } else if (slot.record.id === id) {
      this.#slots.delete(hash);
    } else return false;
    this.#size--;
    return true;
  }

  /** Every value, in the order of their hash's first `set`. */
  *values(): IterableIterator<V> {
    for (const slot of this.#slots.values()) {
      if (slot instanceof Shared) yield* slot.byId.values();
      else yield slot;
    }
  }
}

/** How many characters of an id its hash reads, from its end. */
const HASHED_TAIL = 12;

/**
 * A 30-bit FNV-1a hash of the id's last 12 characters and its length: a
 * small integer on every V8 build, so the `Map` hashes it inline. A task id
 * (a UUID) ends in 48 random bits; ids that end alike only share a slot.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { idHash } from "./id_map.ts";
 * const hash = idHash("0193a0c4-7e55-7d2a-9f3b-1c2d3e4f5a6b");
 * assert.ok(Number.isInteger(hash) && hash >= 0 && hash < 2 ** 30);
 * ```
 */
export function idHash(id: string): number {
  let hash = Math.imul(0x811c9dc5 ^ id.length, 0x01000193);
  for (let i = Math.max(0, id.length - HASHED_TAIL); i < id.length; i++) {
    hash = Math.imul(hash ^ id.charCodeAt(i), 0x01000193);
  }
  return (hash ^ (hash >>> 30)) & 0x3fffffff;
}

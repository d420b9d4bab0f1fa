/**
 * The queue of a serial lane with priorities: higher priority first, first
 * in first out within a priority, and removal of a queued entry (cancelled,
 * expired) by the handle `push` returned, without a scan.
 *
 * Layout: one ring of entries per priority in use, the entries themselves in
 * its slots (8 bytes each, no wrapper object); a removed entry leaves a
 * tombstone that `shift` skips. A handle is a number that encodes the
 * entry's priority and its sequence number within that priority, so
 * `remove`, `get` and `position` find its slot by arithmetic.
 *
 * @module
 */

/**
 * The priorities a lane takes: whole numbers from −1 000 to 1 000; 0 is the
 * default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PRIORITY_LIMITS } from "./priority_lane.ts";
 * assert.deepEqual([PRIORITY_LIMITS.min, PRIORITY_LIMITS.max], [-1_000, 1_000]);
 * ```
 */
export const PRIORITY_LIMITS = Object.freeze({ min: -1_000, max: 1_000 });

/**
 * A queued entry's handle: give it to `remove`, `get` or `position`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LaneHandle, PriorityLane } from "./priority_lane.ts";
 * const lane = new PriorityLane<string>();
 * const handle: LaneHandle = lane.push("scan");
 * assert.equal(lane.get(handle), "scan");
 * ```
 */
export type LaneHandle = number;

/**
 * Why `value` is not a priority (a whole number from −1 000 to 1 000), or
 * `undefined` if it is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { priorityProblem } from "./priority_lane.ts";
 * assert.equal(priorityProblem(5), undefined);
 * assert.equal(priorityProblem(1.5), "must be a whole number from -1000 to 1000, got 1.5");
 * ```
 */
export function priorityProblem(value: unknown): string | undefined {
  if (
    Number.isInteger(value) && (value as number) >= PRIORITY_LIMITS.min &&
    (value as number) <= PRIORITY_LIMITS.max
  ) return undefined;
  const shown = typeof value === "string"
    ? JSON.stringify(value.slice(0, 40))
    : typeof value === "number"
    ? String(value)
    : value === null
    ? "null"
    : typeof value;
  return `must be a whole number from ${PRIORITY_LIMITS.min} to ${PRIORITY_LIMITS.max}, got ${shown}`;
}

/** Handles keep the priority in their low bits: priority + OFFSET, below SPAN. */
const SPAN = 2_048;
const OFFSET = 1_024;

/** What a removed entry leaves in its slot until `shift` passes it. */
const TOMBSTONE: unique symbol = Symbol("removed");

/** Shared by every ring that holds nothing yet. */
const UNALLOCATED: never[] = [];

/** A ring that grew past this many slots gives its array back once it has nothing live. */
const RELEASE_ABOVE = 65_536;

/** The entries of one priority, in order. */
class Bucket<T> {
  slots: (T | typeof TOMBSTONE | undefined)[] = UNALLOCATED;
  mask = 15;
  head = 0;
  /** Occupied slots, tombstones included. */
  length = 0;
  /** Tombstones among them. */
  removed = 0;
  /** Sequence number of the next entry pushed; the slot at `head` has `nextSeq - length`. */
  nextSeq = 0;
  constructor(readonly priority: number) {}

  /** The slot of entry `seq`, or -1 if it is not in the ring. */
  slotOf(seq: number): number {
    const distance = seq - (this.nextSeq - this.length);
    return distance >= 0 && distance < this.length ? (this.head + distance) & this.mask : -1;
  }

  /** Drop tombstones at the head. */
  skipRemoved(): void {
    while (this.slots[this.head] === TOMBSTONE) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) & this.mask;
      this.length--;
      this.removed--;
    }
  }

  /**
   * Forget every slot (none is live): sequence numbers go on from where they
   * were, so an old handle never names a later entry.
   */
  clear(): void {
    if (this.mask >= RELEASE_ABOVE) {
      this.slots = UNALLOCATED;
      this.mask = 15;
    } else {
      for (let i = 0; i < this.length; i++) this.slots[(this.head + i) & this.mask] = undefined;
    }
    this.head = 0;
    this.length = 0;
    this.removed = 0;
  }

  /** Double the ring (it is full). */
  grow(): void {
    const size = this.mask + 1;
    const next = new Array<T | typeof TOMBSTONE | undefined>(size * 2);
    for (let i = 0; i < this.length; i++) next[i] = this.slots[(this.head + i) & this.mask];
    this.slots = next;
    this.mask = size * 2 - 1;
    this.head = 0;
  }
}

/**
 * A priority queue for a serial lane, generic over its entries (any value
 * but `undefined`). Higher priority first; first in, first out within a
 * priority.
 *
 * Costs: `push`, `shift` and `peek` O(1) for one priority (the common case;
 * O(P) to start or retire one of P priorities in use); `remove` and `get` by
 * handle O(1); `length` and `position` O(P), `position` plus O(distance to
 * the head) when entries ahead of it in its priority were removed. Memory:
 * one slot (8 bytes, up to 16 while a ring is growing) per entry; a removed
 * entry keeps its slot until `shift` reaches it, or until its priority has
 * nothing left.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PriorityLane } from "./priority_lane.ts";
 * const lane = new PriorityLane<string>();
 * lane.push("a");
 * const b = lane.push("b");
 * lane.push("urgent", 10);
 * lane.push("c");
 * assert.equal(lane.position(b), 2);
 * assert.equal(lane.remove(b), "b");
 * assert.equal(lane.length, 3);
 * assert.deepEqual([lane.shift(), lane.shift(), lane.shift(), lane.shift()], ["urgent", "a", "c", undefined]);
 * ```
 */
export class PriorityLane<T> {
  /** Buckets by priority; kept once made, so sequence numbers never restart. */
  readonly #buckets = new Map<number, Bucket<T>>();
  /** Buckets with a live entry, highest priority first. */
  #active: Bucket<T>[] = [];
  /** `#active[0]`, read on every `shift`. */
  #top: Bucket<T> | undefined;
  /** The bucket of the last push: one priority needs no map lookup. */
  #last: Bucket<T> | undefined;

  /** Entries queued (removed ones not counted). */
  get length(): number {
    let live = 0;
    for (const bucket of this.#active) live += bucket.length - bucket.removed;
    return live;
  }

  /**
   * Queue `item` at `priority` (default 0; a whole number from −1 000 to
   * 1 000, else a `RangeError`). Returns its handle.
   */
  push(item: T, priority = 0): LaneHandle {
    let bucket = this.#last;
    if (bucket === undefined || bucket.priority !== priority) bucket = this.#bucketFor(priority);
    // Inlined, as in `shift`: this is the lane's hot path.
    const length = bucket.length;
    if (length > bucket.mask) bucket.grow();
    else if (length === 0) {
      if (bucket.slots === UNALLOCATED) bucket.slots = new Array(bucket.mask + 1);
      this.#activate(bucket);
    }
    bucket.slots[(bucket.head + length) & bucket.mask] = item;
    bucket.length = length + 1;
    return bucket.nextSeq++ * SPAN + (priority + OFFSET);
  }

  /** Take the next entry: the oldest of the highest priority; `undefined` when empty. */
  shift(): T | undefined {
    const bucket = this.#top;
    if (bucket === undefined) return undefined;
    if (bucket.removed !== 0) bucket.skipRemoved();
    const head = bucket.head;
    const item = bucket.slots[head] as T;
    bucket.slots[head] = undefined;
    bucket.head = (head + 1) & bucket.mask;
    if (--bucket.length === bucket.removed) this.#retire(bucket);
    return item;
  }

  /** The entry `shift` would take, left in place. */
  peek(): T | undefined {
    const bucket = this.#top;
    if (bucket === undefined) return undefined;
    if (bucket.removed !== 0) bucket.skipRemoved();
    return bucket.slots[bucket.head] as T;
  }

  /** Remove a queued entry by its handle; returns it, or `undefined` if it is not queued. */
  remove(handle: LaneHandle): T | undefined {
    const bucket = this.#bucketOf(handle);
    const slot = bucket ? bucket.slotOf(Math.floor(handle / SPAN)) : -1;
    if (!bucket || slot < 0 || bucket.slots[slot] === TOMBSTONE) return undefined;
    const item = bucket.slots[slot] as T;
    bucket.slots[slot] = TOMBSTONE;
    if (++bucket.removed === bucket.length) this.#retire(bucket);
    return item;
  }

  /** The entry of `handle` if it is still queued. */
  get(handle: LaneHandle): T | undefined {
    const bucket = this.#bucketOf(handle);
    const slot = bucket ? bucket.slotOf(Math.floor(handle / SPAN)) : -1;
    const item = slot < 0 ? undefined : bucket?.slots[slot];
    return item === TOMBSTONE ? undefined : item;
  }

  /** How many entries `shift` gives before this one (0: next), or -1 if it is not queued. */
  position(handle: LaneHandle): number {
    const bucket = this.#bucketOf(handle);
    const seq = Math.floor(handle / SPAN);
    const slot = bucket ? bucket.slotOf(seq) : -1;
    if (!bucket || slot < 0 || bucket.slots[slot] === TOMBSTONE) return -1;
    let ahead = 0;
    for (const other of this.#active) {
      if (other === bucket) break;
      ahead += other.length - other.removed;
    }
    const distance = seq - (bucket.nextSeq - bucket.length);
    if (bucket.removed === 0) return ahead + distance;
    // Some entries of its priority were removed: count those ahead of it that were not.
    for (let i = 0; i < distance; i++) {
      if (bucket.slots[(bucket.head + i) & bucket.mask] !== TOMBSTONE) ahead++;
    }
    return ahead;
  }

  /**
   * The queued entries in the order `shift` would give them, at most
   * `limit` (for queue views).
   */
  *values(limit = Infinity): IterableIterator<T> {
    let given = 0;
    for (const bucket of this.#active) {
      for (let i = 0; i < bucket.length; i++) {
        if (given >= limit) return;
        const item = bucket.slots[(bucket.head + i) & bucket.mask];
        if (item === TOMBSTONE) continue;
        given++;
        yield item as T;
      }
    }
  }

  /** Remove every entry. */
  clear(): void {
    for (const bucket of this.#active) bucket.clear();
    this.#active = [];
    this.#top = undefined;
  }

  #bucketFor(priority: number): Bucket<T> {
    const problem = priorityProblem(priority);
    if (problem) throw new RangeError(`priority ${problem}`);
    let bucket = this.#buckets.get(priority);
    if (!bucket) this.#buckets.set(priority, bucket = new Bucket(priority));
    return this.#last = bucket;
  }

  /** The bucket a handle names, if it is a handle at all. */
  #bucketOf(handle: LaneHandle): Bucket<T> | undefined {
    if (!Number.isSafeInteger(handle) || handle < 0) return undefined;
    return this.#buckets.get((handle % SPAN) - OFFSET);
  }

  #activate(bucket: Bucket<T>): void {
    const active = this.#active;
    let i = active.length;
    while (i > 0 && active[i - 1].priority < bucket.priority) i--;
    active.splice(i, 0, bucket);
    this.#top = active[0];
  }

  /** A bucket with nothing live leaves the active list, its tombstones dropped. */
  #retire(bucket: Bucket<T>): void {
    bucket.clear();
    this.#active.splice(this.#active.indexOf(bucket), 1);
    this.#top = this.#active[0];
  }
}

// Shared by every queue that has never held an item, so an idle queue allocates nothing.
const UNALLOCATED: never[] = [];

// A queue that grew past this many slots (512 KB) gives its array back when it
// empties, so a burst does not pin its peak memory; then it starts again small.
// Below it, a queue that fills and drains in cycles keeps its array.
const RELEASE_ABOVE = 65_536;
const RESTART_MASK = 1_023;

/**
 * A growable ring buffer: O(1) push and shift without the O(n) cost of
 * `Array.prototype.shift` on long queues.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RingQueue } from "./queue.ts";
 * const queue = new RingQueue<number>();
 * queue.push(1);
 * queue.push(2);
 * assert.equal(queue.shift(), 1);
 * assert.equal(queue.length, 1);
 * assert.deepEqual(queue.drain(), [2]);
 * ```
 */
export class RingQueue<T> {
  #items: (T | undefined)[];
  #mask: number;
  #head = 0;
  #length = 0;

  /** Create a queue; `initialCapacity` is rounded up to a power of two. */
  constructor(initialCapacity = 4) {
    let size = 2;
    while (size < initialCapacity) size <<= 1;
    this.#items = UNALLOCATED;
    this.#mask = size - 1;
  }

  /** Number of queued items. */
  get length(): number {
    return this.#length;
  }

  /** Append an item at the tail. */
  push(item: T): void {
    if (this.#length > this.#mask) this.#grow();
    else if (this.#items === UNALLOCATED) this.#items = new Array(this.#mask + 1);
    this.#items[(this.#head + this.#length) & this.#mask] = item;
    this.#length++;
  }

  /** Remove and return the head, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the item be collected
    this.#head = (this.#head + 1) & this.#mask;
    if (--this.#length === 0 && this.#mask >= RELEASE_ABOVE) {
      this.#items = UNALLOCATED;
      this.#mask = RESTART_MASK;
      this.#head = 0;
    }
    return item;
  }

  /** The head without removing it. */
  peek(): T | undefined {
    return this.#length === 0 ? undefined : this.#items[this.#head];
  }

  /**
   * The item `index` places behind the head, or `undefined`.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RingQueue } from "./queue.ts";
   * const queue = new RingQueue<string>();
   * queue.push("a");
   * queue.push("b");
   * assert.equal(queue.at(1), "b");
   * assert.equal(queue.at(2), undefined);
   * ```
   */
  at(index: number): T | undefined {
    if (!(index >= 0 && index < this.#length)) return undefined;
    return this.#items[(this.#head + index) & this.#mask];
  }

  /**
   * How many places `item` is behind the head, or -1 (a linear scan).
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   * import { RingQueue } from "./queue.ts";
   * const queue = new RingQueue<string>();
   * queue.push("a");
   * queue.push("b");
   * assert.equal(queue.indexOf("b"), 1);
   * assert.equal(queue.indexOf("c"), -1);
   * ```
   */
  indexOf(item: T): number {
    for (let i = 0; i < this.#length; i++) {
      if (this.#items[(this.#head + i) & this.#mask] === item) return i;
    }
    return -1;
  }

  /** Remove every item, returning them in FIFO order. */
  drain(): T[] {
    const out: T[] = [];
    while (this.#length > 0) out.push(this.shift() as T);
    return out;
  }

  #grow(): void {
    const size = this.#mask + 1;
    const next = new Array<T | undefined>(size * 2);
    for (let i = 0; i < this.#length; i++) next[i] = this.#items[(this.#head + i) & this.#mask];
    this.#items = next;
    this.#mask = size * 2 - 1;
    this.#head = 0;
  }
}

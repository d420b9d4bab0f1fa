/**
 * Deadlines for many short-lived operations with one platform timer.
 *
 * A `setTimeout` per ask costs ~3.5 µs here, more than the whole ask. Entries
 * that share a timeout length expire in insertion order, so each length keeps
 * a FIFO lane and only the earliest deadline is armed on a real timer. The
 * timer is left armed when no deadline is pending (it finds nothing and stops),
 * so a stream of sequential asks arms one timer per timeout period, not one
 * per ask. The timer keeps the process alive only while a deadline is
 * pending: an awaited ask must end in its timeout, not in an exit.
 */
import { RingQueue } from "./queue.ts";

/**
 * A scheduled deadline; `cancel()` is idempotent and cheap.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Deadline, Deadlines } from "./deadlines.ts";
 * const deadlines = new Deadlines();
 * const deadline: Deadline = deadlines.schedule(60_000, () => assert.fail("cancelled"));
 * deadline.cancel();
 * deadline.cancel(); // again: harmless
 * deadlines.close();
 * ```
 */
export interface Deadline {
  /** Stop the deadline from firing. */
  cancel(): void;
}

class Entry implements Deadline {
  done = false;
  constructor(
    readonly at: number,
    readonly fire: () => void,
    readonly lane: RingQueue<Entry>,
    readonly owner: Deadlines,
  ) {}
  cancel(): void {
    if (this.done) return;
    this.done = true;
    this.owner.settled();
    // Deadlines mostly end in the order they began: pop finished heads now so
    // a lane holds only what is still pending.
    for (let head = this.lane.peek(); head?.done; head = this.lane.peek()) this.lane.shift();
  }
}

/**
 * A set of deadlines served by a single timer. `close()` releases the timer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Deadlines } from "./deadlines.ts";
 * const deadlines = new Deadlines();
 * const fired = Promise.withResolvers<string>();
 * deadlines.schedule(60_000, () => fired.resolve("late")).cancel(); // never fires
 * deadlines.schedule(1, () => fired.resolve("on time"));
 * assert.equal(await fired.promise, "on time");
 * deadlines.close();
 * ```
 */
export class Deadlines {
  #lanes = new Map<number, RingQueue<Entry>>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedAt = Infinity;
  #pending = 0;

  /** Call `fire` after `ms` milliseconds unless cancelled first. */
  schedule(ms: number, fire: () => void): Deadline {
    let lane = this.#lanes.get(ms);
    if (!lane) this.#lanes.set(ms, lane = new RingQueue());
    const entry = new Entry(performance.now() + ms, fire, lane, this);
    lane.push(entry);
    this.#pending++;
    if (entry.at < this.#armedAt) this.#arm(entry.at);
    else if (this.#pending === 1 && this.#timer !== undefined) Deno.refTimer(this.#timer);
    return entry;
  }

  /** @internal an entry was cancelled. */
  settled(): void {
    if (--this.#pending === 0 && this.#timer !== undefined) Deno.unrefTimer(this.#timer);
  }

  /** Cancel every pending deadline and release the timer. */
  close(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedAt = Infinity;
    this.#pending = 0;
    for (const lane of this.#lanes.values()) for (const entry of lane.drain()) entry.done = true;
    this.#lanes.clear();
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = at;
    const timer = setTimeout(() => this.#expire(), Math.max(0, at - performance.now()));
    if (this.#pending === 0) Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedAt = Infinity;
    const now = performance.now();
    const due: Entry[] = [];
    for (const [ms, lane] of this.#lanes) {
      for (let head = lane.peek(); head && (head.done || head.at <= now); head = lane.peek()) {
        lane.shift();
        if (!head.done) due.push(head);
      }
      if (lane.length === 0) this.#lanes.delete(ms);
    }
    for (const entry of due) {
      entry.done = true;
      this.#pending--;
      entry.fire();
    }
    let next = Infinity;
    for (const lane of this.#lanes.values()) next = Math.min(next, lane.peek()?.at ?? Infinity);
    if (next < this.#armedAt) this.#arm(next);
    else if (this.#pending === 0 && this.#timer !== undefined) Deno.unrefTimer(this.#timer);
  }
}

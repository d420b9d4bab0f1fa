/**
 * A bounded FIFO with two lanes: system messages always go before user
 * messages, and the user lane has a capacity and an explicit overflow policy.
 */
import { RingQueue } from "./queue.ts";

/**
 * What a full mailbox does with one more user message:
 * - `"reject"`: refuse it; the sender learns at once (`tell` returns `false`).
 * - `"drop-oldest"`: accept it and evict the oldest queued message to dead letters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OverflowPolicy } from "./mailbox.ts";
 * import { ActorSystem } from "./system.ts";
 * const overflow: OverflowPolicy = "drop-oldest";
 * const system = new ActorSystem();
 * const evicted: unknown[] = [];
 * system.onDeadLetter((letter) => evicted.push(letter.message));
 * const gate = Promise.withResolvers<void>();
 * const ref = system.spawn<number>("latest", () => () => gate.promise, {
 *   mailbox: { capacity: 1, overflow },
 * });
 * ref.tell(1); // taken at once, held by the gate
 * await Promise.resolve();
 * ref.tell(2);
 * ref.tell(3); // full: 2 is evicted
 * assert.deepEqual(evicted, [2]);
 * gate.resolve();
 * await system.shutdown();
 * ```
 */
export type OverflowPolicy = "reject" | "drop-oldest";

/**
 * Mailbox bounds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Mailbox, type MailboxOptions } from "./mailbox.ts";
 * const options: MailboxOptions = { capacity: 2, overflow: "reject" };
 * assert.equal(new Mailbox(options).capacity, 2);
 * assert.throws(() => new Mailbox({ capacity: 0 }), RangeError);
 * ```
 */
export interface MailboxOptions {
  /** Most user messages held at once (default 100 000). */
  capacity?: number;
  /** What to do when full (default `"reject"`). */
  overflow?: OverflowPolicy;
}

/**
 * The reply side of an ask, which an actor's `receive` gets besides the
 * message (its return value is the reply): its `signal` tells the actor
 * that the asker gave up, so long work can stop.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ReplyTo } from "./mailbox.ts";
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const seen = Promise.withResolvers<unknown>();
 * const patient = system.spawn<string>("patient", () => (_message, reply?: ReplyTo) => {
 *   const signal = reply!.signal;
 *   const stop = () => seen.resolve(signal.reason);
 *   if (signal.aborted) stop();
 *   else signal.addEventListener("abort", stop, { once: true });
 *   return seen.promise;
 * });
 * const asker = new AbortController();
 * const asked = patient.ask("wait", { timeoutMs: 60_000, signal: asker.signal });
 * asker.abort(new Error("no longer needed"));
 * await assert.rejects(asked, /no longer needed/);
 * assert.match(String(await seen.promise), /no longer needed/); // the actor knew
 * await system.shutdown();
 * ```
 */
export interface ReplyTo {
  /** Settle the ask with a value. */
  resolve(value: unknown): void;
  /** Settle the ask with an error. */
  reject(error: unknown): void;
  /** Aborted when the asker gives up (timeout or its own signal). */
  readonly signal: AbortSignal;
}

/**
 * An asked message: the message and its reply channel in one object, so the
 * mailbox stores one slot per message whether it was told or asked.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Asked } from "./mailbox.ts";
 * class Recorded<M> extends Asked<M> {
 *   replies: unknown[] = [];
 *   resolve(value: unknown) {
 *     this.replies.push(value);
 *   }
 *   reject(error: unknown) {
 *     this.replies.push(error);
 *   }
 *   get signal() {
 *     return new AbortController().signal;
 *   }
 * }
 * const asked = new Recorded("hi");
 * asked.resolve("hello");
 * assert.equal(asked.message, "hi");
 * assert.deepEqual(asked.replies, ["hello"]);
 * ```
 */
export abstract class Asked<M> implements ReplyTo {
  /** Wrap `message`. */
  constructor(readonly message: M) {}
  /** Settle the ask with a value. */
  abstract resolve(value: unknown): void;
  /** Settle the ask with an error. */
  abstract reject(error: unknown): void;
  /** Aborted when the asker gives up. */
  abstract readonly signal: AbortSignal;
}

/**
 * Default user-lane capacity.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAILBOX_CAPACITY, Mailbox } from "./mailbox.ts";
 * assert.equal(new Mailbox().capacity, DEFAULT_MAILBOX_CAPACITY);
 * assert.equal(DEFAULT_MAILBOX_CAPACITY, 100_000);
 * ```
 */
export const DEFAULT_MAILBOX_CAPACITY = 100_000;

/**
 * The two-lane mailbox. A user slot holds a told message, or an `Asked`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Mailbox } from "./mailbox.ts";
 * const box = new Mailbox<string, "stop">({ capacity: 2 });
 * box.post("a");
 * box.post("b");
 * box.postSystem("stop");
 * assert.equal(box.isFull, true);
 * assert.equal(box.takeSystem(), "stop"); // system messages go first
 * assert.equal(box.takeUser(), "a");
 * ```
 */
export class Mailbox<M, S> {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  #user = new RingQueue<M | Asked<M>>();
  #system: RingQueue<S> | undefined;

  /** Create a mailbox with the given bounds. */
  constructor(options: MailboxOptions = {}) {
    this.capacity = options.capacity ?? DEFAULT_MAILBOX_CAPACITY;
    this.overflow = options.overflow ?? "reject";
    if (!(this.capacity >= 1)) {
      throw new RangeError(`mailbox capacity must be at least 1, got ${this.capacity}`);
    }
  }

  /** Number of user messages waiting. */
  get depth(): number {
    return this.#user.length;
  }

  /** Whether the user lane is at capacity. */
  get isFull(): boolean {
    return this.#user.length >= this.capacity;
  }

  /** Whether any message, system or user, is waiting. */
  get isEmpty(): boolean {
    return this.#user.length === 0 && !this.hasSystem;
  }

  /** Whether a system message is waiting. */
  get hasSystem(): boolean {
    return this.#system !== undefined && this.#system.length > 0;
  }

  /** Queue a user message; the caller checks `isFull` first. */
  post(item: M | Asked<M>): void {
    this.#user.push(item);
  }

  /** Queue a system message; system messages are never bounded. */
  postSystem(message: S): void {
    (this.#system ??= new RingQueue()).push(message);
  }

  /** Take the next system message, if any. */
  takeSystem(): S | undefined {
    return this.#system?.shift();
  }

  /** Take the next user slot; check `depth` first, since a message may be `undefined`. */
  takeUser(): M | Asked<M> {
    return this.#user.shift() as M | Asked<M>;
  }
}

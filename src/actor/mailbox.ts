/**
 * A bounded FIFO with two lanes: system messages always go before user
 * messages, and the user lane has a capacity and an explicit overflow policy.
 */
import { RingQueue } from "./queue.ts";

/**
 * What a full mailbox does with one more user message:
 * - `"reject"`: refuse it; the sender learns at once (`tell` returns `false`).
 * - `"drop-oldest"`: accept it and evict the oldest queued message to dead letters.
 */
export type OverflowPolicy = "reject" | "drop-oldest";

/** Mailbox bounds. */
export interface MailboxOptions {
  /** Most user messages held at once (default 100 000). */
  capacity?: number;
  /** What to do when full (default `"reject"`). */
  overflow?: OverflowPolicy;
}

/** The reply side of an ask. */
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
 * import { Asked } from "./mailbox.ts";
 * class Printed<M> extends Asked<M> {
 *   resolve(value: unknown) { console.log("reply", value); }
 *   reject(error: unknown) { console.error(error); }
 *   get signal() { return new AbortController().signal; }
 * }
 * new Printed("hi").message; // "hi"
 * ```
 */
export abstract class Asked<M> implements ReplyTo {
  /** Wrap `message`. */
  constructor(readonly message: M) {}
  abstract resolve(value: unknown): void;
  abstract reject(error: unknown): void;
  abstract readonly signal: AbortSignal;
}

/**
 * Default user-lane capacity.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAILBOX_CAPACITY, Mailbox } from "./mailbox.ts";
 * new Mailbox().capacity === DEFAULT_MAILBOX_CAPACITY; // true
 * ```
 */
export const DEFAULT_MAILBOX_CAPACITY = 100_000;

/**
 * The two-lane mailbox. A user slot holds a told message, or an `Asked`.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * const box = new Mailbox<string, "stop">({ capacity: 2 });
 * box.post("a");
 * box.post("b");
 * box.isFull; // true
 * box.takeUser(); // "a"
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

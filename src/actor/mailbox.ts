/**
 * A bounded FIFO with two lanes: system messages always go before user
 * messages, and the user lane applies an explicit overflow policy.
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

/** A queued user message and, if it was asked, where its reply goes. */
export interface Envelope<M> {
  message: M;
  reply: ReplyTo | undefined;
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

/** Default user-lane capacity. */
export const DEFAULT_MAILBOX_CAPACITY = 100_000;

/**
 * The two-lane mailbox.
 *
 * @example
 * ```ts
 * import { Mailbox } from "./mailbox.ts";
 * const box = new Mailbox<string, "stop">({ capacity: 2, overflow: "drop-oldest" });
 * box.post("a", undefined);
 * box.post("b", undefined);
 * box.post("c", undefined); // evicts "a"
 * box.depth; // 2
 * ```
 */
export class Mailbox<M, S> {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  // Messages and reply slots interleaved, so a tell allocates no envelope.
  #user = new RingQueue<M | ReplyTo | undefined>(8);
  #system = new RingQueue<S>(2);

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
    return this.#user.length >> 1;
  }

  /** Whether any message, system or user, is waiting. */
  get isEmpty(): boolean {
    return this.#user.length === 0 && this.#system.length === 0;
  }

  /**
   * Queue a user message. Returns `true` if accepted; with `"drop-oldest"`
   * the evicted envelope is handed to `onEvict`.
   */
  post(message: M, reply: ReplyTo | undefined, onEvict?: (evicted: Envelope<M>) => void): boolean {
    if (this.depth >= this.capacity) {
      if (this.overflow === "reject") return false;
      const evicted = this.takeUser() as Envelope<M>;
      onEvict?.(evicted);
    }
    this.#user.push(message);
    this.#user.push(reply);
    return true;
  }

  /** Queue a system message; system messages are never bounded. */
  postSystem(message: S): void {
    this.#system.push(message);
  }

  /** Take the next system message, if any. */
  takeSystem(): S | undefined {
    return this.#system.shift();
  }

  /** Whether a system message is waiting. */
  get hasSystem(): boolean {
    return this.#system.length > 0;
  }

  /** Take the next user message, if any. */
  takeUser(): Envelope<M> | undefined {
    if (this.#user.length === 0) return undefined;
    const message = this.#user.shift() as M;
    const reply = this.#user.shift() as ReplyTo | undefined;
    return { message, reply };
  }

  /** Take the next user message into `out` without allocating; false when empty. */
  takeUserInto(out: Envelope<M>): boolean {
    if (this.#user.length === 0) return false;
    out.message = this.#user.shift() as M;
    out.reply = this.#user.shift() as ReplyTo | undefined;
    return true;
  }
}

/** Handles to actors, and the ask pattern. */
import { onAbort } from "../util/async.ts";
import type { Cell } from "./cell.ts";
import { Asked } from "./mailbox.ts";
import type { Deadline, Deadlines } from "./deadlines.ts";
import { ActorStoppedError, AskTimeoutError, MailboxFullError } from "./errors.ts";

/**
 * Options of an ask: the timeout is mandatory, so no ask can hang forever.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AskTimeoutError } from "./errors.ts";
 * import type { AskOptions } from "./ref.ts";
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const late = Promise.withResolvers<string>();
 * const slow = system.spawn<string>("slow", () => () => late.promise);
 * const options: AskOptions = { timeoutMs: 1 };
 * await assert.rejects(slow.ask("anyone?", options), AskTimeoutError);
 * late.resolve("too late"); // the reply finds nobody waiting
 * await system.shutdown();
 * ```
 */
export interface AskOptions {
  /** Milliseconds to wait for the reply. */
  timeoutMs: number;
  /** Abandon the ask early; the receiver sees its `reply.signal` abort. */
  signal?: AbortSignal;
}

/**
 * A pending ask: the message and the reply channel handed to the receiver.
 * Its `signal` is created only when the receiver reads it, so plain asks
 * stay cheap.
 */
class PendingAsk<M, R> extends Asked<M> {
  #resolve: (value: R) => void;
  #reject: (error: unknown) => void;
  #controller: AbortController | undefined;
  #abortReason: unknown;
  #settled = false;
  #deadline: Deadline | undefined;
  #unlisten: (() => void) | undefined;

  constructor(message: M, resolve: (value: R) => void, reject: (error: unknown) => void) {
    super(message);
    this.#resolve = resolve;
    this.#reject = reject;
  }

  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#abortReason !== undefined) this.#controller.abort(this.#abortReason);
    }
    return this.#controller.signal;
  }

  watch(deadline: Deadline, signal: AbortSignal | undefined): void {
    this.#deadline = deadline;
    if (signal) this.#unlisten = onAbort(signal, (reason) => this.giveUp(reason));
  }

  resolve(value: unknown): void {
    if (this.#finish()) this.#resolve(value as R);
  }

  reject(error: unknown): void {
    if (this.#finish()) this.#reject(error);
  }

  /** The asker stopped waiting: reject, and tell the receiver through the signal. */
  giveUp(reason: unknown): void {
    if (!this.#finish()) return;
    this.#abortReason = reason;
    this.#controller?.abort(reason);
    this.#reject(reason);
  }

  #finish(): boolean {
    if (this.#settled) return false;
    this.#settled = true;
    this.#deadline?.cancel();
    this.#unlisten?.();
    return true;
  }
}

/**
 * A handle to an actor: send it messages with `tell`, or `ask` for a reply.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorStoppedError } from "./errors.ts";
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const echo = system.spawn<string>("echo", () => ({ receive: (text) => text }));
 * assert.equal(echo.tell("fire and forget"), true); // accepted
 * assert.equal(await echo.ask("hello", { timeoutMs: 10_000 }), "hello");
 * await system.stop(echo);
 * assert.equal(echo.tell("anyone?"), false); // refused: stopped
 * await assert.rejects(echo.ask("anyone?", { timeoutMs: 10_000 }), ActorStoppedError);
 * await system.shutdown();
 * ```
 */
export class ActorRef<M> {
  /** @internal refs are made by `ActorSystem.spawn`. */
  constructor(readonly cell: Cell<M>, readonly deadlines: Deadlines) {}

  /** The actor's unique name. */
  get name(): string {
    return this.cell.name;
  }

  /** Whether the actor still accepts messages. */
  get isAlive(): boolean {
    return this.cell.isAlive;
  }

  /** User messages waiting in the mailbox. */
  get depth(): number {
    return this.cell.mailbox.depth;
  }

  /** Send without waiting. `false` means refused: the actor stopped or its mailbox is full. */
  tell(message: M): boolean {
    return this.cell.post(message);
  }

  /**
   * Send and wait for the reply. Rejects with `AskTimeoutError` after
   * `timeoutMs`, with the signal's reason if `signal` aborts, and at once with
   * `ActorStoppedError` or `MailboxFullError` if the message is refused.
   */
  ask<R = unknown>(message: M, options: AskOptions): Promise<R> {
    const { promise, resolve, reject } = Promise.withResolvers<R>();
    const pending = new PendingAsk<M, R>(message, resolve, reject);
    if (options.signal?.aborted) {
      pending.giveUp(options.signal.reason);
      return promise;
    }
    if (!this.cell.post(pending)) {
      pending.reject(
        this.cell.isAlive
          ? new MailboxFullError(this.name, this.cell.mailbox.capacity)
          : new ActorStoppedError(this.name),
      );
      return promise;
    }
    const { timeoutMs } = options;
    const deadline = this.deadlines.schedule(
      timeoutMs,
      () => pending.giveUp(new AskTimeoutError(this.name, timeoutMs)),
    );
    pending.watch(deadline, options.signal);
    return promise;
  }
}

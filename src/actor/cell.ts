/**
 * The actor cell: one actor's mailbox, its scheduling and its lifecycle.
 *
 * Modelled on Proto.Actor's mailbox: system messages before user messages,
 * a cell scheduled at most once at a time, at most `throughput` messages per
 * turn, and a dispatcher that yields to the event loop every
 * `DISPATCH_BUDGET` messages so timers and I/O are never starved, even by
 * actors that keep messaging each other.
 */
import { setImmediate } from "node:timers";
import { Asked, Mailbox, type MailboxOptions, type ReplyTo } from "./mailbox.ts";
import { ActorStoppedError } from "./errors.ts";
import { RingQueue } from "./queue.ts";
import type { ActorRef } from "./ref.ts";

/**
 * The behaviour of an actor.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Actor } from "./cell.ts";
 * import { ActorSystem } from "./system.ts";
 * const events: string[] = [];
 * const greeter: Actor<string> = {
 *   started: () => void events.push("started"),
 *   receive: (name) => `hello ${name}`,
 *   stopped: () => void events.push("stopped"),
 * };
 * const system = new ActorSystem();
 * const ref = system.spawn("greeter", () => greeter);
 * assert.equal(await ref.ask("Ada", { timeoutMs: 10_000 }), "hello Ada");
 * await system.shutdown();
 * assert.deepEqual(events, ["started", "stopped"]);
 * ```
 */
export interface Actor<M> {
  /**
   * Handle one message. For an asked message, the return value (or the value
   * of the returned promise) is the reply, and a throw rejects the ask. A
   * returned promise keeps the message "in flight" for concurrency purposes.
   * A throw or a rejection is a crash, handled by supervision.
   */
  receive(message: M, reply: ReplyTo | undefined): unknown;
  /**
   * Runs at the end of each turn that handled user messages: work that is
   * cheaper once per batch of messages than once per message (the task
   * manager commits the records the turn changed). A throw is a crash.
   */
  turnEnded?(): void;
  /** Runs before the first message of each incarnation. */
  started?(): void | Promise<void>;
  /** Runs when the actor stops or before it is replaced by a restart. */
  stopped?(): void | Promise<void>;
}

/**
 * A behaviour given as a plain function: an actor with only `receive`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Receive } from "./cell.ts";
 * import { ActorSystem } from "./system.ts";
 * const double: Receive<number> = (n) => n * 2;
 * const system = new ActorSystem();
 * assert.equal(await system.spawn("double", () => double).ask(21, { timeoutMs: 10_000 }), 42);
 * await system.shutdown();
 * ```
 */
export type Receive<M> = (message: M, reply: ReplyTo | undefined) => unknown;

/**
 * What `spawn` accepts: a factory of actors, called again on each restart,
 * so state kept in its closure starts fresh after a crash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ActorFactory } from "./cell.ts";
 * import { ActorSystem } from "./system.ts";
 * const counter: ActorFactory<"inc"> = () => {
 *   let count = 0;
 *   return () => ++count;
 * };
 * const system = new ActorSystem();
 * const ref = system.spawn("counter", counter);
 * await ref.ask("inc", { timeoutMs: 10_000 });
 * assert.equal(await ref.ask("inc", { timeoutMs: 10_000 }), 2);
 * await system.shutdown();
 * ```
 */
export type ActorFactory<M> = (self: ActorRef<M>) => Actor<M> | Receive<M>;

/**
 * Restart policy for crashing actors.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SupervisionOptions } from "./cell.ts";
 * // Give up on an actor that crashes twice within a second.
 * const strict: SupervisionOptions = { maxRestarts: 1, withinMs: 1_000, backoffMs: 10 };
 * assert.equal(strict.maxBackoffMs, undefined); // 5 s by default
 * ```
 */
export interface SupervisionOptions {
  /** Restarts allowed within `withinMs` before the actor is stopped (default 3). */
  maxRestarts?: number;
  /** Window over which restarts are counted (default 60 000 ms). */
  withinMs?: number;
  /** First restart delay; doubles on each further crash (default 50 ms). */
  backoffMs?: number;
  /** Cap on the restart delay (default 5 000 ms). */
  maxBackoffMs?: number;
}

/**
 * How an actor is run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { SpawnOptions } from "./cell.ts";
 * import { ActorSystem } from "./system.ts";
 * const options: SpawnOptions = { concurrency: 4, mailbox: { capacity: 1, overflow: "reject" } };
 * const system = new ActorSystem();
 * const gate = Promise.withResolvers<void>();
 * const ref = system.spawn<string>("busy", () => () => gate.promise, options);
 * assert.equal(ref.tell("a"), true); // taken at once: one of four in flight
 * gate.resolve();
 * await system.shutdown();
 * ```
 */
export interface SpawnOptions {
  /** Mailbox bounds and overflow policy. */
  mailbox?: MailboxOptions;
  /** Messages handled at once when `receive` returns promises (default 1). */
  concurrency?: number;
  /** Messages handled in one turn before other actors get theirs (default 300). */
  throughput?: number;
  /** Restart policy. */
  supervision?: SupervisionOptions;
  /** How long a stop waits for in-flight messages (default 10 000 ms). */
  stopGraceMs?: number;
}

/**
 * Why an actor stopped: `undefined` for a normal stop, else the fatal error.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { StopReason } from "./cell.ts";
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const ref = system.spawn("idle", () => () => {});
 * const stopped = Promise.withResolvers<StopReason>();
 * system.watch(ref, stopped.resolve);
 * await system.stop(ref);
 * assert.equal(await stopped.promise, undefined); // a normal stop
 * await system.shutdown();
 * ```
 */
export type StopReason = Error | undefined;

/**
 * Callbacks the cell needs from its system.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CellHost } from "./cell.ts";
 * const letters: string[] = [];
 * const host: CellHost = {
 *   deadLetter: (actor, _message, reason) => void letters.push(`${actor}: ${reason}`),
 *   logCrash: () => {},
 *   terminated: () => {},
 * };
 * host.deadLetter("svc", "hello", "stopped");
 * assert.deepEqual(letters, ["svc: stopped"]);
 * ```
 */
export interface CellHost {
  /** A message for `actor` could not be delivered, for `reason`. */
  deadLetter(actor: string, message: unknown, reason: string): void;
  /** `actor` crashed with `error`; `action` says what supervision does about it. */
  logCrash(actor: string, error: unknown, action: string): void;
  /** The cell stopped for good (`reason`: the fatal error, if any). */
  terminated(cell: Cell<unknown>, reason: StopReason): void;
}

type SystemMessage = { kind: "stop"; reason: StopReason };

type State = "starting" | "running" | "suspended" | "stopping" | "stopped";

/** Shared by every actor spawned without options: a spawn should allocate only what it must. */
const NO_OPTIONS: SpawnOptions = Object.freeze({});

const DEFAULT_SUPERVISION: Required<SupervisionOptions> = {
  maxRestarts: 3,
  withinMs: 60_000,
  backoffMs: 50,
  maxBackoffMs: 5_000,
};

/** Messages handled across all actors before the dispatcher yields a macrotask. */
const DISPATCH_BUDGET = 5_000;

/**
 * The dispatcher: cells with work wait here in FIFO order and take turns in
 * one microtask. One shared queue means no per-cell closure, and a global
 * budget means no chain of messages can starve the event loop.
 */
const ready = new RingQueue<Cell<unknown>>(64);
let dispatching = false;

function dispatch(): void {
  let handled = 0;
  for (let cell = ready.shift(); cell; cell = ready.shift()) {
    handled += cell.turn();
    if (handled >= DISPATCH_BUDGET && ready.length > 0) {
      // setTimeout(0) is clamped to milliseconds here; setImmediate is not.
      setImmediate(dispatch);
      return;
    }
  }
  dispatching = false;
}

function enqueue(cell: Cell<unknown>): void {
  ready.push(cell);
  if (!dispatching) {
    dispatching = true;
    queueMicrotask(dispatch);
  }
}

/**
 * One actor's runtime state. Created by `ActorSystem.spawn`; user code holds
 * an `ActorRef` instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const ref = system.spawn<number>("next", () => ({ receive: (n) => n + 1 }));
 * assert.equal(await ref.ask(1, { timeoutMs: 10_000 }), 2);
 * assert.equal(ref.cell.isAlive, true);
 * await system.shutdown();
 * assert.equal(ref.cell.isAlive, false);
 * ```
 */
export class Cell<M> {
  readonly mailbox: Mailbox<M, SystemMessage>;
  #state: State = "starting";
  #scheduled = false;
  #inFlight = 0;
  #incarnation = 0;
  #actor: Actor<M> | undefined;
  // Created on first use: most actors never crash and are stopped once.
  #crashes: number[] | undefined;
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #stopWaiters: Array<() => void> | undefined;
  #idleWaiter: (() => void) | undefined;
  readonly #options: SpawnOptions;
  #ref: ActorRef<M> | undefined;

  constructor(
    readonly name: string,
    readonly factory: ActorFactory<M>,
    readonly host: CellHost,
    options: SpawnOptions = NO_OPTIONS,
  ) {
    this.mailbox = new Mailbox(options.mailbox);
    this.#options = options;
    const concurrency = options.concurrency ?? 1;
    if (!(concurrency >= 1)) {
      throw new RangeError(`concurrency must be at least 1, got ${concurrency}`);
    }
  }

  /** Build the first incarnation; `ref` is what the factory receives as `self`. */
  start(ref: ActorRef<M>): void {
    this.#ref = ref;
    this.#incarnate();
  }

  /** Whether the actor accepts messages. */
  get isAlive(): boolean {
    return this.#state !== "stopped" && this.#state !== "stopping";
  }

  /** Queue a user message (told, or an `Asked`); false when refused (stopped or full). */
  post(item: M | Asked<M>): boolean {
    if (!this.isAlive) {
      this.host.deadLetter(this.name, item instanceof Asked ? item.message : item, "stopped");
      return false;
    }
    const mailbox = this.mailbox;
    if (mailbox.isFull) {
      if (mailbox.overflow === "reject") return false;
      const evicted = mailbox.takeUser();
      if (evicted instanceof Asked) {
        evicted.reject(new Error(`message to '${this.name}' evicted: mailbox full`));
      }
      this.host.deadLetter(
        this.name,
        evicted instanceof Asked ? evicted.message : evicted,
        "evicted",
      );
    }
    mailbox.post(item);
    if (!this.#scheduled) this.#schedule();
    return true;
  }

  /** Ask the actor to stop; resolves once it has. */
  stop(reason?: StopReason): Promise<void> {
    if (this.#state === "stopped") return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    const waiters = this.#stopWaiters ??= [];
    waiters.push(resolve);
    if (waiters.length === 1) {
      this.mailbox.postSystem({ kind: "stop", reason });
      if (!this.#scheduled) this.#schedule();
    }
    return promise;
  }

  #schedule(): void {
    this.#scheduled = true;
    enqueue(this as unknown as Cell<unknown>);
  }

  /**
   * @internal One turn, called by the dispatcher: system messages, then up to
   * `throughput` user messages. Returns how many messages it handled.
   */
  turn(): number {
    const mailbox = this.mailbox;
    let handled = 0;
    for (let sys = mailbox.takeSystem(); sys; sys = mailbox.takeSystem()) {
      handled++;
      if (sys.kind === "stop" && this.isAlive) this.#stop(sys.reason);
    }
    const concurrency = this.#options.concurrency ?? 1;
    const throughput = this.#options.throughput ?? 300;
    let invoked = false;
    while (
      this.#state === "running" && this.#inFlight < concurrency && handled < throughput &&
      mailbox.depth > 0 && !mailbox.hasSystem
    ) {
      handled++;
      invoked = true;
      const item = mailbox.takeUser();
      if (item instanceof Asked) this.#invoke(item.message, item);
      else this.#invoke(item, undefined);
    }
    if (invoked) this.#endTurn();
    const more = mailbox.hasSystem ||
      (this.#state === "running" && this.#inFlight < concurrency && mailbox.depth > 0);
    if (more) enqueue(this as unknown as Cell<unknown>);
    else this.#scheduled = false;
    return handled;
  }

  #endTurn(): void {
    const actor = this.#actor;
    if (!actor?.turnEnded) return;
    try {
      actor.turnEnded();
    } catch (error) {
      this.#crash(error, this.#incarnation);
    }
  }

  #invoke(message: M, reply: ReplyTo | undefined): void {
    let result: unknown;
    try {
      // Only a running cell invokes, and a running cell has an actor.
      result = (this.#actor as Actor<M>).receive(message, reply);
    } catch (error) {
      reply?.reject(error);
      this.#crash(error, this.#incarnation);
      return;
    }
    if (result instanceof Promise) {
      this.#inFlight++;
      const incarnation = this.#incarnation;
      result.then(
        (value) => {
          reply?.resolve(value);
          this.#settled();
        },
        (error) => {
          reply?.reject(error);
          this.#settled();
          this.#crash(error, incarnation);
        },
      );
    } else {
      reply?.resolve(result);
    }
  }

  #settled(): void {
    this.#inFlight--;
    if (this.#inFlight === 0 && this.#idleWaiter) this.#idleWaiter();
    if (!this.#scheduled && this.#state === "running" && this.mailbox.depth > 0) this.#schedule();
  }

  #incarnate(): void {
    this.#incarnation++;
    const incarnation = this.#incarnation;
    this.#state = "starting";
    let started: void | Promise<void>;
    try {
      this.#actor = undefined;
      const made = this.factory(this.#ref as ActorRef<M>);
      this.#actor = typeof made === "function" ? { receive: made } : made;
      started = this.#actor.started?.();
    } catch (error) {
      this.#crash(error, incarnation);
      return;
    }
    const run = () => {
      if (this.#incarnation !== incarnation || this.#state !== "starting") return;
      this.#state = "running";
      if (!this.#scheduled && !this.mailbox.isEmpty) this.#schedule();
    };
    if (started instanceof Promise) started.then(run, (error) => this.#crash(error, incarnation));
    else run();
  }

  #crash(error: unknown, incarnation: number): void {
    // A late failure from a replaced incarnation says nothing about this one.
    if (incarnation !== this.#incarnation || !this.isAlive) return;
    const now = performance.now();
    const { maxRestarts, withinMs, backoffMs, maxBackoffMs } = {
      ...DEFAULT_SUPERVISION,
      ...this.#options.supervision,
    };
    const crashes = this.#crashes = (this.#crashes ?? []).filter((at) => now - at < withinMs);
    crashes.push(now);
    this.#state = "suspended";
    const oldStopped = this.#callStopped(this.#actor);
    if (crashes.length > maxRestarts) {
      this.host.logCrash(
        this.name,
        error,
        `stopping: ${maxRestarts} restarts within ${withinMs} ms`,
      );
      this.stop(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const delay = Math.min(backoffMs * 2 ** (crashes.length - 1), maxBackoffMs);
    this.host.logCrash(this.name, error, `restarting in ${delay} ms`);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = undefined;
      oldStopped.then(() => {
        if (this.#state === "suspended") this.#incarnate();
      });
    }, delay);
  }

  async #callStopped(actor: Actor<M> | undefined): Promise<void> {
    try {
      await actor?.stopped?.();
    } catch (error) {
      this.host.logCrash(this.name, error, "error in stopped()");
    }
  }

  async #stop(reason: StopReason): Promise<void> {
    const wasSuspended = this.#state === "suspended";
    this.#state = "stopping";
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    if (this.#inFlight > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#idleWaiter = resolve;
      const grace = setTimeout(resolve, this.#options.stopGraceMs ?? 10_000);
      await promise;
      clearTimeout(grace);
      this.#idleWaiter = undefined;
    }
    // A crashed (suspended) incarnation has had its stopped() called already.
    if (!wasSuspended) await this.#callStopped(this.#actor);
    this.#state = "stopped";
    const mailbox = this.mailbox;
    while (mailbox.depth > 0) {
      const item = mailbox.takeUser();
      if (item instanceof Asked) item.reject(new ActorStoppedError(this.name));
      this.host.deadLetter(this.name, item instanceof Asked ? item.message : item, "stopped");
    }
    this.host.terminated(this as unknown as Cell<unknown>, reason);
    for (const resolve of this.#stopWaiters?.splice(0) ?? []) resolve();
  }
}

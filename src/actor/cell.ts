/**
 * The actor cell: one actor's mailbox, its scheduling and its lifecycle.
 *
 * Modelled on Proto.Actor's mailbox: system messages before user messages,
 * a cell scheduled at most once at a time, and a macrotask yield every
 * `throughput` messages so timers and I/O are never starved.
 */
import { setImmediate } from "node:timers";
import { type Envelope, Mailbox, type MailboxOptions, type ReplyTo } from "./mailbox.ts";
import { ActorStoppedError } from "./errors.ts";

/** The behaviour of an actor. */
export interface Actor<M> {
  /**
   * Handle one message. For an asked message, the return value (or the value
   * of the returned promise) is the reply, and a throw rejects the ask. A
   * returned promise keeps the message "in flight" for concurrency purposes.
   * A throw or a rejection is a crash, handled by supervision.
   */
  receive(message: M, reply: ReplyTo | undefined): unknown;
  /** Runs before the first message of each incarnation. */
  started?(): void | Promise<void>;
  /** Runs when the actor stops or before it is replaced by a restart. */
  stopped?(): void | Promise<void>;
}

/** Restart policy for crashing actors. */
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

/** How an actor is run. */
export interface SpawnOptions {
  /** Mailbox bounds and overflow policy. */
  mailbox?: MailboxOptions;
  /** Messages handled at once when `receive` returns promises (default 1). */
  concurrency?: number;
  /** Messages handled before yielding to the event loop (default 300). */
  throughput?: number;
  /** Restart policy. */
  supervision?: SupervisionOptions;
  /** How long a stop waits for in-flight messages (default 10 000 ms). */
  stopGraceMs?: number;
}

/** Why an actor stopped: `undefined` for a normal stop, else the fatal error. */
export type StopReason = Error | undefined;

/** Callbacks the cell needs from its system. */
export interface CellHost {
  deadLetter(actor: string, message: unknown, reason: string): void;
  logCrash(actor: string, error: unknown, action: string): void;
  terminated(cell: Cell<unknown>, reason: StopReason): void;
}

type SystemMessage = { kind: "stop"; reason: StopReason };

type State = "starting" | "running" | "suspended" | "stopping" | "stopped";

const DEFAULT_SUPERVISION: Required<SupervisionOptions> = {
  maxRestarts: 3,
  withinMs: 60_000,
  backoffMs: 50,
  maxBackoffMs: 5_000,
};

/**
 * One actor's runtime state. Created by `ActorSystem.spawn`; user code holds
 * an `ActorRef` instead.
 *
 * @example
 * ```ts
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const ref = system.spawn<number>("counter", () => ({ receive: (n) => n + 1 }));
 * await ref.ask(1, { timeoutMs: 100 }); // 2
 * await system.shutdown();
 * ```
 */
export class Cell<M> {
  readonly mailbox: Mailbox<M, SystemMessage>;
  #state: State = "starting";
  #scheduled = false;
  #inFlight = 0;
  #incarnation = 0;
  #actor: Actor<M> | undefined;
  #crashes: number[] = [];
  #restartTimer: ReturnType<typeof setTimeout> | undefined;
  #stopWaiters: Array<() => void> = [];
  #idleWaiter: (() => void) | undefined;
  readonly #concurrency: number;
  readonly #throughput: number;
  readonly #supervision: Required<SupervisionOptions>;
  readonly #stopGraceMs: number;
  // Reused by the drain loop so a message costs no envelope allocation.
  readonly #envelope: Envelope<M> = { message: undefined as M, reply: undefined };

  constructor(
    readonly name: string,
    readonly factory: () => Actor<M>,
    readonly host: CellHost,
    options: SpawnOptions = {},
  ) {
    this.mailbox = new Mailbox(options.mailbox);
    this.#concurrency = options.concurrency ?? 1;
    this.#throughput = options.throughput ?? 300;
    this.#supervision = { ...DEFAULT_SUPERVISION, ...options.supervision };
    this.#stopGraceMs = options.stopGraceMs ?? 10_000;
    if (!(this.#concurrency >= 1)) {
      throw new RangeError(`concurrency must be at least 1, got ${this.#concurrency}`);
    }
  }

  /** Build the first incarnation; called once, after the cell's ref exists. */
  start(): void {
    this.#incarnate();
  }

  /** Whether the actor accepts messages. */
  get isAlive(): boolean {
    return this.#state !== "stopped" && this.#state !== "stopping";
  }

  /** Messages currently being handled. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Queue a user message; false when refused (stopped or full). */
  post(message: M, reply: ReplyTo | undefined): boolean {
    if (!this.isAlive) {
      this.host.deadLetter(this.name, message, "stopped");
      return false;
    }
    if (!this.mailbox.post(message, reply, this.#evict)) return false;
    if (!this.#scheduled) this.#schedule();
    return true;
  }

  /** Ask the actor to stop; resolves once it has. */
  stop(reason?: StopReason): Promise<void> {
    if (this.#state === "stopped") return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#stopWaiters.push(resolve);
    if (this.#stopWaiters.length === 1) {
      this.mailbox.postSystem({ kind: "stop", reason });
      if (!this.#scheduled) this.#schedule();
    }
    return promise;
  }

  #evict = (evicted: Envelope<M>): void => {
    evicted.reply?.reject(new Error(`message to '${this.name}' evicted: mailbox full`));
    this.host.deadLetter(this.name, evicted.message, "evicted");
  };

  #schedule(): void {
    this.#scheduled = true;
    queueMicrotask(this.#drain);
  }

  #drain = (): void => {
    for (let sys = this.mailbox.takeSystem(); sys; sys = this.mailbox.takeSystem()) {
      this.#handleSystem(sys);
    }
    if (this.#state !== "running") {
      this.#scheduled = false;
      return;
    }
    const envelope = this.#envelope;
    let handled = 0;
    while (
      this.#inFlight < this.#concurrency && handled < this.#throughput &&
      !this.mailbox.hasSystem && this.mailbox.takeUserInto(envelope)
    ) {
      handled++;
      const { message, reply } = envelope;
      envelope.message = undefined as M;
      envelope.reply = undefined;
      this.#invoke(message, reply);
      if (this.#state !== "running") break;
    }
    if (this.mailbox.hasSystem) {
      queueMicrotask(this.#drain);
    } else if (
      this.#state === "running" && this.#inFlight < this.#concurrency && !this.mailbox.isEmpty
    ) {
      // A full batch yields a macrotask; setTimeout(0) is clamped to ms here.
      setImmediate(this.#drain);
    } else {
      this.#scheduled = false;
    }
  };

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
    if (!this.#scheduled && this.#state === "running" && !this.mailbox.isEmpty) this.#schedule();
  }

  #incarnate(): void {
    this.#incarnation++;
    const incarnation = this.#incarnation;
    this.#state = "starting";
    let started: void | Promise<void>;
    try {
      this.#actor = undefined;
      this.#actor = this.factory();
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
    const { maxRestarts, withinMs, backoffMs, maxBackoffMs } = this.#supervision;
    this.#crashes = this.#crashes.filter((at) => now - at < withinMs);
    this.#crashes.push(now);
    this.#state = "suspended";
    const oldStopped = this.#callStopped(this.#actor);
    if (this.#crashes.length > maxRestarts) {
      this.host.logCrash(
        this.name,
        error,
        `stopping: ${maxRestarts} restarts within ${withinMs} ms`,
      );
      this.stop(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    const delay = Math.min(backoffMs * 2 ** (this.#crashes.length - 1), maxBackoffMs);
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

  #handleSystem(message: SystemMessage): void {
    if (message.kind === "stop" && this.isAlive) this.#stop(message.reason);
  }

  async #stop(reason: StopReason): Promise<void> {
    const wasSuspended = this.#state === "suspended";
    this.#state = "stopping";
    if (this.#restartTimer !== undefined) clearTimeout(this.#restartTimer);
    if (this.#inFlight > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#idleWaiter = resolve;
      const grace = setTimeout(resolve, this.#stopGraceMs);
      await promise;
      clearTimeout(grace);
      this.#idleWaiter = undefined;
    }
    // A crashed (suspended) incarnation has had its stopped() called already.
    if (!wasSuspended) await this.#callStopped(this.#actor);
    this.#state = "stopped";
    for (let env = this.mailbox.takeUser(); env; env = this.mailbox.takeUser()) {
      env.reply?.reject(new ActorStoppedError(this.name));
      this.host.deadLetter(this.name, env.message, "stopped");
    }
    this.host.terminated(this as unknown as Cell<unknown>, reason);
    for (const resolve of this.#stopWaiters.splice(0)) resolve();
  }
}

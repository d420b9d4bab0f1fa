/** The actor system: spawning, lookup, stopping, watching and dead letters. */
import {
  type ActorFactory,
  Cell,
  type CellHost,
  type SpawnOptions,
  type StopReason,
} from "./cell.ts";
import { Deadlines } from "./deadlines.ts";
import { ActorRef } from "./ref.ts";

/**
 * A message nobody received.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, type DeadLetter } from "./system.ts";
 * const system = new ActorSystem();
 * const letters: DeadLetter[] = [];
 * system.onDeadLetter((letter) => letters.push(letter));
 * const ref = system.spawn<string>("gone", () => () => {});
 * await system.stop(ref);
 * ref.tell("too late");
 * assert.deepEqual(letters, [{ actor: "gone", message: "too late", reason: "stopped" }]);
 * await system.shutdown();
 * ```
 */
export interface DeadLetter {
  /** The intended recipient. */
  actor: string;
  /** The message itself. */
  message: unknown;
  /** Why it was not delivered: `"stopped"`, `"evicted"` or `"unknown"`. */
  reason: string;
}

/**
 * Where the system reports crashes (defaults to `console.error`): the
 * actor's name, what it threw, and what supervision does about it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem, type CrashLogger } from "./system.ts";
 * const crashes: string[] = [];
 * const logCrash: CrashLogger = (actor, error) => void crashes.push(`${actor}: ${(error as Error).message}`);
 * const system = new ActorSystem({ logCrash });
 * const ref = system.spawn<string>("fragile", () => () => {
 *   throw new Error("boom");
 * }, { supervision: { maxRestarts: 0 } });
 * await assert.rejects(ref.ask("hit", { timeoutMs: 10_000 }), /boom/);
 * assert.deepEqual(crashes, ["fragile: boom"]);
 * await system.shutdown();
 * ```
 */
export type CrashLogger = (actor: string, error: unknown, action: string) => void;

const defaultCrashLogger: CrashLogger = (actor, error, action) => {
  console.error(`[zest] actor '${actor}' crashed (${action}):`, error);
};

/**
 * Owns actors. Names are unique within a system.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorSystem } from "./system.ts";
 * const system = new ActorSystem();
 * const counter = system.spawn<"inc" | "get">("counter", () => {
 *   let count = 0;
 *   return { receive: (msg) => (msg === "inc" ? void count++ : count) };
 * });
 * counter.tell("inc");
 * assert.equal(await counter.ask("get", { timeoutMs: 10_000 }), 1); // messages keep their order
 * assert.equal(system.lookup("counter")?.name, "counter");
 * assert.throws(() => system.spawn("counter", () => () => {}), /already exists/);
 * await system.shutdown();
 * ```
 */
export class ActorSystem {
  #cells = new Map<string, Cell<unknown>>();
  #watchers = new Map<string, Set<(reason: StopReason) => void>>();
  #deadLetterListeners = new Set<(letter: DeadLetter) => void>();
  #deadLetterCount = 0;
  #anonymous = 0;
  readonly #deadlines = new Deadlines();
  readonly #logCrash: CrashLogger;
  readonly #host: CellHost;

  /** Create a system; `logCrash` receives every actor crash. */
  constructor(options: { logCrash?: CrashLogger } = {}) {
    this.#logCrash = options.logCrash ?? defaultCrashLogger;
    this.#host = {
      deadLetter: (actor, message, reason) => this.#deadLetter({ actor, message, reason }),
      logCrash: (actor, error, action) => this.#logCrash(actor, error, action),
      terminated: (cell, reason) => this.#terminated(cell, reason),
    };
  }

  /** Messages that could not be delivered so far. */
  get deadLetterCount(): number {
    return this.#deadLetterCount;
  }

  /** The shared deadline lanes, for timeouts that should not each cost a timer. */
  get deadlines(): Deadlines {
    return this.#deadlines;
  }

  /**
   * Start an actor. `factory` builds its behaviour and is called again on each
   * restart after a crash, so state kept in its closure starts fresh.
   * `name` must be unique; pass `undefined` for a generated one.
   */
  spawn<M>(
    name: string | undefined,
    factory: ActorFactory<M>,
    options?: SpawnOptions,
  ): ActorRef<M> {
    const actorName = name ?? `$${++this.#anonymous}`;
    if (this.#cells.has(actorName)) throw new Error(`an actor named '${actorName}' already exists`);
    const cell = new Cell<M>(actorName, factory, this.#host, options);
    const ref = new ActorRef(cell, this.#deadlines);
    this.#cells.set(actorName, cell as unknown as Cell<unknown>);
    cell.start(ref);
    return ref;
  }

  /** The live actor named `name`, if any. */
  lookup<M>(name: string): ActorRef<M> | undefined {
    const cell = this.#cells.get(name) as Cell<M> | undefined;
    return cell && new ActorRef(cell, this.#deadlines);
  }

  /** Stop an actor after its in-flight messages; queued ones become dead letters. */
  stop(ref: { readonly name: string } | string): Promise<void> {
    const cell = this.#cells.get(typeof ref === "string" ? ref : ref.name);
    return cell ? cell.stop() : Promise.resolve();
  }

  /** Call `onStop` once when `ref` stops (with the fatal error, if it crashed for good). */
  watch(ref: { readonly name: string } | string, onStop: (reason: StopReason) => void): () => void {
    const name = typeof ref === "string" ? ref : ref.name;
    if (!this.#cells.has(name)) {
      queueMicrotask(() => onStop(undefined));
      return () => {};
    }
    let set = this.#watchers.get(name);
    if (!set) this.#watchers.set(name, set = new Set());
    set.add(onStop);
    return () => set.delete(onStop);
  }

  /** Be told of every dead letter. */
  onDeadLetter(listener: (letter: DeadLetter) => void): () => void {
    this.#deadLetterListeners.add(listener);
    return () => this.#deadLetterListeners.delete(listener);
  }

  /** Stop every actor, most recently spawned first. */
  async shutdown(): Promise<void> {
    for (const name of [...this.#cells.keys()].reverse()) await this.#cells.get(name)?.stop();
    this.#deadlines.close();
  }

  #deadLetter(letter: DeadLetter): void {
    this.#deadLetterCount++;
    for (const listener of this.#deadLetterListeners) listener(letter);
  }

  #terminated(cell: Cell<unknown>, reason: StopReason): void {
    if (this.#cells.get(cell.name) === cell) this.#cells.delete(cell.name);
    const set = this.#watchers.get(cell.name);
    this.#watchers.delete(cell.name);
    for (const onStop of set ?? []) onStop(reason);
  }
}

/**
 * Task events: who listens, and what they are sent. A listener that throws
 * is reported and skipped; it never stops the manager or other listeners.
 *
 * @module
 */
import { summarize, type TaskRecord } from "../task/record.ts";
import type { TaskEvent } from "./types.ts";

/**
 * What a listener follows. By default every event; with `following`, the
 * events of tasks (`task`, `log`, `progress`, `output`, `removed`) only while
 * it says true, and services' and schedules' changes always.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ListenOptions } from "./events.ts";
 * let watched = false;
 * const options: ListenOptions = { following: () => watched };
 * assert.equal(options.following?.(), false);
 * ```
 */
export interface ListenOptions {
  /**
   * Whether the listener wants task events now: asked before each one is
   * made, so nothing is summarised for a listener that would drop it (a
   * cluster host publishes them only while someone watches).
   */
  following?: () => boolean;
}

interface Listener {
  readonly send: (event: TaskEvent) => void;
  readonly following: (() => boolean) | undefined;
}

/**
 * The listeners of one manager, and the events it sends them. When nobody
 * follows task events, sending them costs nothing: callers ask `followed`
 * first (and `listening` for services' changes), so no summary is made for
 * no one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventHub } from "./events.ts";
 * const hub = new EventHub();
 * const seen: string[] = [];
 * const stop = hub.subscribe((event) => seen.push(event.kind));
 * hub.send({ kind: "removed", id: "t1" });
 * stop();
 * hub.send({ kind: "removed", id: "t2" });
 * assert.deepEqual(seen, ["removed"]);
 * ```
 */
export class EventHub {
  readonly #listeners = new Set<Listener>();
  /** Listeners that follow every event: while there is one, `listening` needs no questions. */
  #unconditional = 0;

  /** Whether anyone listens: to services' and schedules' changes at least. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** Whether anyone follows task events now. */
  get followed(): boolean {
    if (this.#unconditional > 0) return true;
    for (const listener of this.#listeners) if (listener.following?.()) return true;
    return false;
  }

  /** Follow events (see {@linkcode ListenOptions}) until the returned function is called. */
  subscribe(send: (event: TaskEvent) => void, options: ListenOptions = {}): () => void {
    const listener: Listener = { send, following: options.following };
    this.#listeners.add(listener);
    if (!listener.following) this.#unconditional++;
    return () => {
      if (this.#listeners.delete(listener) && !listener.following) this.#unconditional--;
    };
  }

  /** Tell those following task events that `record` changed (its summary: no fields, log or outcome). */
  task(record: TaskRecord): void {
    if (this.#listeners.size > 0 && this.followed) {
      this.send({ kind: "task", record: summarize(record) });
    }
  }

  /** Send `event` to every listener that follows it. */
  send(event: TaskEvent): void {
    const ofTask = event.kind !== "service" && event.kind !== "schedule";
    for (const listener of this.#listeners) {
      if (ofTask && listener.following && !listener.following()) continue;
      try {
        listener.send(event);
      } catch (error) {
        console.error("[zest] a task event listener failed:", error);
      }
    }
  }
}

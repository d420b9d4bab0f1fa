/**
 * Task events: who listens, and what they are sent. A listener that throws
 * is reported and skipped; it never stops the manager or other listeners.
 *
 * @module
 */
import { summarize, type TaskRecord } from "../task/record.ts";
import type { TaskEvent } from "./types.ts";

/**
 * The listeners of one manager, and the events it sends them. When nobody
 * listens, sending costs nothing: callers ask `listening` first, so no
 * summary is made for no one.
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
  readonly #listeners = new Set<(event: TaskEvent) => void>();

  /** Whether anyone listens. */
  get listening(): boolean {
    return this.#listeners.size > 0;
  }

  /** Follow events until the returned function is called. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Tell every listener that `record` changed (its summary: no fields, log or outcome). */
  task(record: TaskRecord): void {
    if (this.#listeners.size > 0) this.send({ kind: "task", record: summarize(record) });
  }

  /** Send `event` to every listener. */
  send(event: TaskEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error("[zest] a task event listener failed:", error);
      }
    }
  }
}

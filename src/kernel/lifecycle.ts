/**
 * The life of a kernel as `JupyterKernel` drives it: one explicit state at a
 * time, and the revival that brings a kernel (back) to a usable state.
 *
 * @module
 */
import type { KernelMessage } from "@jupyterlab/services";
import type { KernelStatus } from "./kernel.ts";

/**
 * What a revival does: `setup` a process the server has just started (wait
 * until it answers, run the bootstrap and the startup code), or `restart`
 * the process first and then set it up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { RevivalStep } from "./lifecycle.ts";
 * const afterDeath: RevivalStep = "setup"; // the server restarted it already
 * assert.equal(afterDeath, "setup");
 * ```
 */
export type RevivalStep = "setup" | "restart";

/**
 * The state of a kernel:
 *
 * - `starting`: its first revival runs (the process was just started);
 * - `ready`: set up; executions run;
 * - `reviving`: being set up again after the process died, a `restart()`,
 *   or a timeout the interrupt did not stop;
 * - `broken`: the last revival failed; whatever comes next (an execution, a
 *   restart, a death) restarts the process first;
 * - `closed`: shut down, or dead for good; `error` is what every call
 *   now fails with.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Lifecycle, Revival, statusOnEntry } from "./lifecycle.ts";
 * const states: Lifecycle[] = [
 *   { kind: "starting", revival: new Revival("setup") },
 *   { kind: "ready" },
 *   { kind: "closed", error: new Error("shut down") },
 * ];
 * assert.deepEqual(states.map(statusOnEntry), ["starting", "idle", "dead"]);
 * ```
 */
export type Lifecycle =
  | { kind: "starting"; revival: Revival }
  | { kind: "ready" }
  | { kind: "reviving"; revival: Revival }
  | { kind: "broken" }
  | { kind: "closed"; error: Error };

/**
 * One revival: the step it does next, and its outcome. A step asked for
 * while it runs (the process died again, someone asked for a restart) makes
 * it go round once more; a restart outranks a setup.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Revival } from "./lifecycle.ts";
 * const revival = new Revival("setup");
 * assert.equal(revival.take(), "setup");
 * assert.equal(revival.take(), undefined); // nothing more to do
 * revival.ask("restart");
 * revival.ask("setup"); // a restart sets the process up anyway
 * assert.equal(revival.take(), "restart");
 * revival.settle(Promise.resolve());
 * await revival.done;
 * ```
 */
export class Revival {
  #next: RevivalStep | undefined;
  readonly #outcome = Promise.withResolvers<void>();

  /** A revival whose first step is `first`. */
  constructor(first: RevivalStep) {
    this.#next = first;
    // Callers that wait get the failure; nobody waiting must not be fatal.
    this.#outcome.promise.catch(() => {});
  }

  /** Resolves once the kernel is set up; rejects with why it could not be. */
  get done(): Promise<void> {
    return this.#outcome.promise;
  }

  /** Whether a step is waiting to be taken. */
  get pending(): boolean {
    return this.#next !== undefined;
  }

  /** Ask for `step` to be done (again). */
  ask(step: RevivalStep): void {
    if (this.#next !== "restart") this.#next = step;
  }

  /** The step to do now, if any; it is no longer pending. */
  take(): RevivalStep | undefined {
    const step = this.#next;
    this.#next = undefined;
    return step;
  }

  /** Settle {@link done} as `outcome` does. */
  settle(outcome: Promise<void>): void {
    outcome.then(this.#outcome.resolve, this.#outcome.reject);
  }
}

/**
 * The status a kernel shows as it enters `state`. In `ready` (and `broken`)
 * the library's status reports then update it (`idle`, `busy`…).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusOnEntry } from "./lifecycle.ts";
 * assert.equal(statusOnEntry({ kind: "broken" }), "unknown");
 * ```
 */
export function statusOnEntry(state: Lifecycle): KernelStatus {
  switch (state.kind) {
    case "starting":
      return "starting";
    case "ready":
      return "idle";
    case "reviving":
      return "restarting";
    case "broken":
      return "unknown";
    case "closed":
      return "dead";
  }
}

/**
 * A status as `@jupyterlab/services` reports it, as callers see it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { libraryStatus } from "./lifecycle.ts";
 * assert.equal(libraryStatus("autorestarting"), "restarting");
 * assert.equal(libraryStatus("terminating"), "unknown");
 * ```
 */
export function libraryStatus(status: KernelMessage.Status): KernelStatus {
  switch (status) {
    case "idle":
    case "busy":
    case "starting":
    case "unknown":
    case "dead":
      return status;
    case "restarting":
    case "autorestarting":
      return "restarting";
    case "terminating":
      return "unknown";
  }
}

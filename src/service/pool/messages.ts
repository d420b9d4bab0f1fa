/**
 * What the runtime and a worker process say to each other, each message one
 * frame (`frames.ts`) holding one encoded value (`codec.ts`).
 *
 * The process runs one task at a time; `seq` numbers its runs so a late
 * message about an earlier run is never taken for the current one.
 *
 * @module
 */
import type { ErrorShape } from "./codec.ts";

/**
 * Log levels, as in a task's log.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { LogLevel } from "./messages.ts";
 * const levels: LogLevel[] = ["debug", "info", "warn", "error"];
 * assert.equal(levels.indexOf("warn"), 2);
 * ```
 */
export type LogLevel = "debug" | "info" | "warn" | "error";

/**
 * Runtime → worker.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, encode } from "./codec.ts";
 * import type { ToWorker } from "./messages.ts";
 * const run: ToWorker = { kind: "run", seq: 1, taskId: "t1", attempt: 1, attributes: {}, fields: { x: 2 } };
 * assert.deepEqual(decode(encode(run)), run);
 * ```
 */
export type ToWorker =
  /** Run the handler on these fields. */
  | {
    kind: "run";
    seq: number;
    taskId: string;
    attempt: number;
    attributes: Record<string, unknown>;
    fields: unknown;
  }
  /** The task's signal fired: abort the handler's signal with this reason. */
  | { kind: "abort"; seq: number; reason: ErrorShape };

/**
 * Worker → runtime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { FromWorker } from "./messages.ts";
 * const describe = (message: FromWorker) =>
 *   message.kind === "result" ? `task ${message.seq}: ${message.value}` : message.kind;
 * assert.equal(describe({ kind: "result", seq: 1, value: 42 }), "task 1: 42");
 * ```
 */
export type FromWorker =
  /** The handler module loaded and has a default export function. */
  | { kind: "ready" }
  | { kind: "load-failed"; error: ErrorShape }
  | { kind: "log"; seq: number; at: number; level: LogLevel; message: string }
  | { kind: "progress"; seq: number; at: number; fraction: number; message?: string }
  | { kind: "result"; seq: number; value: unknown }
  | { kind: "error"; seq: number; error: ErrorShape }
  /**
   * The process is about to end: an uncaught error, or the handler called
   * `Deno.exit`. `message` says which (`uncaught Error: boom`).
   */
  | { kind: "fatal"; message: string; stack: string };

/**
 * Worker thread → its process's main thread, inside the worker process:
 * "end the process with `code`" (its last frame, if any, is written).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ToSupervisor } from "./messages.ts";
 * const exit: ToSupervisor = { kind: "exit", code: 3 }; // the handler called Deno.exit(3)
 * assert.equal(exit.code, 3);
 * ```
 */
export interface ToSupervisor {
  /** The only message: end the process. */
  kind: "exit";
  /** The exit code. */
  code: number;
}

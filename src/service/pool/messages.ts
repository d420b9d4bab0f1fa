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

/** Log levels, as in a task's log. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Runtime → worker. */
export type ToWorker =
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

/** Worker → runtime. */
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
 */
export interface ToSupervisor {
  kind: "exit";
  code: number;
}

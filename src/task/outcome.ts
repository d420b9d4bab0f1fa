/** The outcome of a task: its stable wire shape and helpers to build it. */

/** A rich output (a Jupyter `display_data` or `execute_result` mime bundle). */
export interface DisplayOutput {
  /** Mime type → content (`image/png` is base64, JSON types are values). */
  data: Record<string, unknown>;
  /** Per-mime metadata, e.g. image sizes. */
  metadata: Record<string, unknown>;
}

/** What ran on a kernel, and what it printed: provenance for kernel tasks. */
export interface Execution {
  /** The exact code that ran. */
  code: string;
  /** The kernel's execution counter for it. */
  executionCount: number | null;
  /** Everything written to stdout. */
  stdout: string;
  /** Everything written to stderr. */
  stderr: string;
  /** Rich outputs, in order. */
  displays: DisplayOutput[];
  /**
   * The last expression's whole `execute_result` bundle (`text/plain`,
   * `image/png`, `image/svg+xml`, `text/html`, `application/json`…), when it
   * had a value: `result` keeps only its JSON or text form.
   */
  executeResult?: DisplayOutput;
}

/** A task that succeeded. */
export interface OkOutcome<R = unknown> {
  status: "ok";
  id: string;
  result: R;
  /** Present for tasks that ran code on a kernel. */
  execution?: Execution;
}

/** A task that failed, timed out, was cancelled, or was refused. */
export interface ErrorOutcome {
  status: "error";
  id: string;
  /** The error's name, e.g. `ZeroDivisionError`, `TaskValidationError`. */
  ename: string;
  /** The error's message. */
  evalue: string;
  /** The traceback (no ANSI codes); `""` when there is none. */
  traceback: string;
  /** Present for tasks that ran code on a kernel. */
  execution?: Execution;
}

/**
 * `{ status: "ok", id, result }` or `{ status: "error", id, ename, evalue, traceback }`.
 *
 * @example
 * ```ts
 * import type { TaskOutcome } from "./outcome.ts";
 * function describe(outcome: TaskOutcome): string {
 *   return outcome.status === "ok" ? `done: ${outcome.result}` : `${outcome.ename}: ${outcome.evalue}`;
 * }
 * ```
 */
export type TaskOutcome<R = unknown> = OkOutcome<R> | ErrorOutcome;

/**
 * Build an error outcome.
 *
 * @example
 * ```ts
 * import { errorOutcome } from "./outcome.ts";
 * errorOutcome("id-1", "TimeoutError", "task exceeded 50 ms");
 * ```
 */
export function errorOutcome(
  id: string,
  ename: string,
  evalue: string,
  traceback = "",
): ErrorOutcome {
  return { status: "error", id, ename, evalue, traceback };
}

/**
 * Build an error outcome from anything thrown: its `name`, `message`, `stack`.
 *
 * @example
 * ```ts
 * import { outcomeFromError } from "./outcome.ts";
 * outcomeFromError("id-1", new RangeError("too big")).ename; // "RangeError"
 * ```
 */
export function outcomeFromError(id: string, error: unknown): ErrorOutcome {
  if (error instanceof Error) {
    return errorOutcome(id, error.name, error.message, error.stack ?? "");
  }
  return errorOutcome(
    id,
    "Error",
    typeof error === "string" ? error : JSON.stringify(error) ?? String(error),
  );
}

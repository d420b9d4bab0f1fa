/** The outcome of a task: its stable wire shape and helpers to build it. */

/**
 * One rich output: a Jupyter `display_data` (or its later
 * `update_display_data`), or the last expression's `execute_result`. `data`
 * maps a MIME type to its content: a string (base64 for binary types such as
 * `image/png`) or, for JSON types, a JSON value.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { DisplayOutput } from "./outcome.ts";
 * const png = (output: DisplayOutput) => output.data["image/png"] as string | undefined;
 * const figure: DisplayOutput = {
 *   data: { "image/png": "iVBORw0KGgo…", "text/plain": "<Figure size 640x480>" },
 *   metadata: { "image/png": { width: 640, height: 480 } },
 * };
 * assert.equal(png(figure), "iVBORw0KGgo…");
 * ```
 */
export interface DisplayOutput {
  /** MIME type → content. */
  data: Record<string, unknown>;
  /** MIME type → its metadata (e.g. an image's `width`). */
  metadata: Record<string, unknown>;
}

/**
 * What ran on a kernel, and what it printed: provenance for kernel tasks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { Execution } from "./outcome.ts";
 * const execution: Execution = {
 *   code: "print('hi'); 6 * 7",
 *   executionCount: 1,
 *   stdout: "hi\n",
 *   stderr: "",
 *   displays: [],
 * };
 * assert.equal(execution.stdout.trim(), "hi");
 * ```
 */
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

/**
 * A task that succeeded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { OkOutcome } from "./outcome.ts";
 * const outcome: OkOutcome<number> = { status: "ok", id: "7d0e…", result: 42 };
 * assert.equal(outcome.result + 1, 43);
 * ```
 */
export interface OkOutcome<R = unknown> {
  /** Always `"ok"`: tells it from an {@linkcode ErrorOutcome}. */
  status: "ok";
  /** The task's id. */
  id: string;
  /** What the handler returned (or the kernel's last expression, as JSON). */
  result: R;
  /** Present for tasks that ran code on a kernel. */
  execution?: Execution;
}

/**
 * A task that failed, timed out, was cancelled, or was refused.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ErrorOutcome } from "./outcome.ts";
 * const outcome: ErrorOutcome = {
 *   status: "error",
 *   id: "7d0e…",
 *   ename: "ZeroDivisionError",
 *   evalue: "division by zero",
 *   traceback: "",
 * };
 * assert.equal(`${outcome.ename}: ${outcome.evalue}`, "ZeroDivisionError: division by zero");
 * ```
 */
export interface ErrorOutcome {
  /** Always `"error"`: tells it from an {@linkcode OkOutcome}. */
  status: "error";
  /** The task's id. */
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
 * import assert from "node:assert/strict";
 * import type { TaskOutcome } from "./outcome.ts";
 * function describe(outcome: TaskOutcome): string {
 *   return outcome.status === "ok" ? `done: ${outcome.result}` : `${outcome.ename}: ${outcome.evalue}`;
 * }
 * assert.equal(describe({ status: "ok", id: "1", result: 42 }), "done: 42");
 * ```
 */
export type TaskOutcome<R = unknown> = OkOutcome<R> | ErrorOutcome;

/**
 * Build an error outcome.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorOutcome } from "./outcome.ts";
 * assert.deepEqual(errorOutcome("id-1", "TimeoutError", "task exceeded 50 ms"), {
 *   status: "error",
 *   id: "id-1",
 *   ename: "TimeoutError",
 *   evalue: "task exceeded 50 ms",
 *   traceback: "",
 * });
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
 * import assert from "node:assert/strict";
 * import { outcomeFromError } from "./outcome.ts";
 * const outcome = outcomeFromError("id-1", new RangeError("too big"));
 * assert.equal(outcome.ename, "RangeError");
 * assert.equal(outcome.evalue, "too big");
 * assert.equal(outcomeFromError("id-2", "plain text").evalue, "plain text");
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

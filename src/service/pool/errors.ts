/** The errors a worker pool ends tasks with, besides the handler's own and the abort reason. */

/**
 * The worker process running a task ended before the task did: it crashed
 * (an uncaught error, `Deno.exit`), ran out of memory, was killed from
 * outside, or broke the protocol. The pool replaces it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerCrashedError } from "./errors.ts";
 * const error = new WorkerCrashedError(
 *   "worker for fit.ts (pid 4242) exited with code 3 while running task 7d0e…: the handler called Deno.exit(3)",
 * );
 * assert.equal(error.name, "WorkerCrashedError");
 * ```
 */
export class WorkerCrashedError extends Error {
  /** Always `"WorkerCrashedError"`, whatever a bundler does to class names. */
  override name = "WorkerCrashedError";
}

/**
 * The handler module could not be loaded: it failed to import (a syntax
 * error, a missing file, an import it may not read, a throw at top level)
 * or has no default export function. Every task of that handler fails with
 * it until a later load succeeds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HandlerLoadError } from "./errors.ts";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/empty.ts`, "export const nothing = 1;"); // no default export
 * {
 *   await using pool = new WorkerPool({ size: 1 });
 *   const empty = new WorkerHandler(new URL(`file://${dir}/empty.ts`));
 *   await assert.rejects(pool.run(empty, { fields: {}, taskId: "t1" }), HandlerLoadError);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class HandlerLoadError extends Error {
  /** Always `"HandlerLoadError"`, whatever a bundler does to class names. */
  override name = "HandlerLoadError";
}

/**
 * The pool was closed: a task waiting for a worker, or running on one, ends with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerPoolClosedError } from "./errors.ts";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * const pool = new WorkerPool({ size: 1 });
 * await pool.close();
 * const fit = new WorkerHandler("file:///srv/lab/fit.ts");
 * await assert.rejects(pool.run(fit, { fields: {}, taskId: "t1" }), WorkerPoolClosedError);
 * ```
 */
export class WorkerPoolClosedError extends Error {
  /** Always `"WorkerPoolClosedError"`, whatever a bundler does to class names. */
  override name = "WorkerPoolClosedError";
}

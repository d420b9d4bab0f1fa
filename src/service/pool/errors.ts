/** The errors a worker pool ends tasks with, besides the handler's own and the abort reason. */

/**
 * The worker process running a task ended before the task did: it crashed
 * (an uncaught error, `Deno.exit`), ran out of memory, was killed from
 * outside, or broke the protocol. The pool replaces it.
 *
 * @example
 * ```ts
 * import { WorkerCrashedError } from "./errors.ts";
 * const error = new WorkerCrashedError(
 *   "worker for fit.ts (pid 4242) exited with code 3 while running task 7d0e…: the handler called Deno.exit(3)",
 * );
 * error.name; // "WorkerCrashedError"
 * ```
 */
export class WorkerCrashedError extends Error {
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
 * import { HandlerLoadError } from "./errors.ts";
 * const error = new HandlerLoadError(
 *   "handler module fit.ts failed to load: SyntaxError: Unexpected token",
 * );
 * error.name; // "HandlerLoadError"
 * ```
 */
export class HandlerLoadError extends Error {
  override name = "HandlerLoadError";
}

/**
 * The pool was closed: a task waiting for a worker, or running on one, ends with it.
 *
 * @example
 * ```ts
 * import { WorkerPoolClosedError } from "./errors.ts";
 * new WorkerPoolClosedError("the worker pool closed while task 7d0e… was running").name;
 * // "WorkerPoolClosedError"
 * ```
 */
export class WorkerPoolClosedError extends Error {
  override name = "WorkerPoolClosedError";
}

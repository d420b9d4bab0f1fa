/**
 * Worker pools: handler modules that run in worker processes, off the
 * runtime's thread, killable when stuck.
 *
 * A worker is a Deno process: a Web Worker (`worker.ts`) runs the handler
 * and talks to the runtime over the process's stdin and stdout; the main
 * thread (`supervisor.ts`) stays free to end the process when the runtime
 * goes away. The process is what can be killed: a Web Worker that spins
 * cannot be stopped in Deno 2.9. See `pool.ts` for scheduling,
 * `worker_process.ts` for one process, `codec.ts` and `frames.ts` for how
 * values travel, `handler.ts` for permissions.
 *
 * @example
 * ```ts
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * await using pool = new WorkerPool();
 * const fit = new WorkerHandler(new URL("./fit.ts", import.meta.url), {
 *   permissions: { read: ["/data/scans"] },
 * });
 * const result = await pool.run(fit, { fields: { scan: "2024-05-01" }, taskId: crypto.randomUUID() });
 * ```
 *
 * @module
 */
export { HandlerLoadError, WorkerCrashedError, WorkerPoolClosedError } from "./errors.ts";
export {
  type WorkerContext,
  WorkerHandler,
  type WorkerHandlerFunction,
  type WorkerHandlerOptions,
  type WorkerPermissions,
} from "./handler.ts";
export { checkPoolOptions, type WorkerInfo, WorkerPool, type WorkerPoolOptions } from "./pool.ts";
export { runInPool } from "./run_in_pool.ts";
export type { StderrListener, TaskProgress, WorkerTask } from "./worker_process.ts";

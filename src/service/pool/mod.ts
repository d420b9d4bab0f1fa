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
 * import assert from "node:assert/strict";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * // A handler module: its default export is the handler.
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(
 *   `${dir}/mean.ts`,
 *   "export default ({ samples }) => samples.reduce((a, b) => a + b, 0) / samples.length;",
 * );
 * const mean = new WorkerHandler(new URL(`file://${dir}/mean.ts`));
 * {
 *   await using pool = new WorkerPool({ size: 1 });
 *   const samples = new Float64Array([1, 2, 3, 6]); // crosses whole, not as JSON
 *   assert.equal(await pool.run(mean, { fields: { samples }, taskId: "t1" }), 3);
 * } // the pool is closed: its process is gone
 * await Deno.remove(dir, { recursive: true });
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

/**
 * The glue between a `Service` and a `WorkerPool`: one task attempt (`TaskRun`)
 * run on a worker, reported to the manager as `Service.handle` reports an
 * in-process one.
 *
 * @module
 */
import { outcomeFromError, type TaskOutcome } from "../../task/outcome.ts";
import type { TaskRun } from "../../task/protocol.ts";
import type { WorkerHandler } from "./handler.ts";
import type { WorkerPool } from "./pool.ts";

/**
 * Run `run` on a worker of `handler` and report it: `started` once the
 * handler is called, `log` for each log line, `progress`, then `finished`
 * with the outcome. Timeouts, cancels and service stops reach the handler
 * through `run.control`; a handler that ignores them is killed after the
 * pool's grace period, and the attempt finishes with the abort reason only
 * once its process is gone, so the serial lane is free for real.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { runInPool, WorkerHandler, WorkerPool } from "./mod.ts";
 * import { defineTask } from "../../task/define.ts";
 * import { TaskControl, type TaskReport } from "../../task/protocol.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/double.ts`, "export default ({ x }) => 2 * x;");
 * const Double = defineTask("Double", { schema: z.object({ x: z.number() }), parallel: true });
 * const reports: TaskReport[] = [];
 * {
 *   await using pool = new WorkerPool({ size: 1 });
 *   await runInPool(pool, new WorkerHandler(new URL(`file://${dir}/double.ts`)), {
 *     id: "t1",
 *     type: Double,
 *     fields: { x: 21 },
 *     attributes: {},
 *     attempt: 1,
 *     control: new TaskControl(),
 *     replyTo: { tell: (report) => reports.push(report) > 0 },
 *   });
 * }
 * assert.deepEqual(reports.map((report) => report.kind), ["started", "finished"]);
 * assert.deepEqual(reports.at(-1), {
 *   kind: "finished",
 *   id: "t1",
 *   outcome: { status: "ok", id: "t1", result: 42 },
 * });
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export function runInPool(pool: WorkerPool, handler: WorkerHandler, run: TaskRun): Promise<void> {
  const sink = run.replyTo;
  const finished = (outcome: TaskOutcome) => {
    sink.tell({ kind: "finished", id: run.id, outcome });
  };
  return pool.run(handler, {
    fields: run.fields,
    taskId: run.id,
    attempt: run.attempt,
    attributes: run.attributes,
    signal: run.control.signal,
    onStart: () => sink.tell({ kind: "started", id: run.id }),
    onLog: (entry) => sink.tell({ kind: "log", id: run.id, entry }),
    onProgress: (progress) => sink.tell({ kind: "progress", id: run.id, progress }),
  }).then(
    (result) => finished({ status: "ok", id: run.id, result }),
    (error) => finished(outcomeFromError(run.id, error)),
  );
}

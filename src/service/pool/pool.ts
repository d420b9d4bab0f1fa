/**
 * `WorkerPool`: handler modules run in worker processes, off the runtime's thread.
 *
 * @module
 */
import { HandlerLoadError, WorkerPoolClosedError } from "./errors.ts";
import {
  checkGraceMs,
  checkHeapMb,
  DENO_EXECUTABLE,
  type LoadNeeds,
  loadNeeds,
  WorkerHandler,
} from "./handler.ts";
import { type StderrListener, WorkerProcess, type WorkerTask } from "./worker_process.ts";

/**
 * How a pool runs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerPool, type WorkerPoolOptions } from "./pool.ts";
 * const lines: string[] = [];
 * const options: WorkerPoolOptions = {
 *   size: 2,
 *   graceMs: 500,
 *   maxHeapMb: 256,
 *   stderr: (line, worker) => lines.push(`${worker.module}: ${line}`),
 * };
 * await using pool = new WorkerPool(options);
 * assert.deepEqual([pool.size, pool.graceMs, pool.maxHeapMb], [2, 500, 256]);
 * ```
 */
export interface WorkerPoolOptions {
  /** Most worker processes at once, 1 to 256 (default: one fewer than the cores, at least 1). */
  size?: number;
  /**
   * How long a handler may take to return once its signal fired, in ms, 0 to
   * 600 000 (default 2 000). Then its process is killed and replaced. A
   * handler may set its own.
   */
  graceMs?: number;
  /** The heap limit of each worker process, in MB (default 1 024); a handler may set its own. */
  maxHeapMb?: number;
  /** Where the workers' stderr lines go (default: the runtime's stderr, prefixed with the worker). */
  stderr?: StderrListener;
}

/**
 * A worker process, as `workers()` lists it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * import type { WorkerInfo } from "./pool.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/noop.ts`, "export default () => null;");
 * {
 *   await using pool = new WorkerPool({ size: 1 });
 *   await pool.run(new WorkerHandler(new URL(`file://${dir}/noop.ts`)), { fields: {}, taskId: "t1" });
 *   const [worker]: WorkerInfo[] = pool.workers();
 *   assert.deepEqual([worker.module, worker.state], ["noop.ts", "idle"]); // warm for the next task
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface WorkerInfo {
  /** The process id. */
  pid: number;
  /** The handler module's file name. */
  module: string;
  /** `loading` its module, `idle`, `busy` with a task, or `ended`. */
  state: "loading" | "idle" | "busy" | "ended";
  /** The task it runs, if any. */
  taskId?: string;
}

/** The first wait after a module failed to load, and the longest (it doubles in between). */
const LOAD_RETRY_MS = { first: 1_000, max: 60_000 };

interface Pending {
  handler: WorkerHandler;
  task: WorkerTask;
  result: PromiseWithResolvers<unknown>;
  onAbort(): void;
}

interface Slot {
  process: WorkerProcess;
  /** Whether a task holds it (while its module loads, too). */
  busy: boolean;
}

interface LoadFailure {
  error: HandlerLoadError;
  delayMs: number;
  retryAt: number;
}

function defaultStderr(line: string, worker: { pid: number; module: string }): void {
  console.error(`[worker ${worker.module} ${worker.pid}] ${line}`);
}

/** The options a pool is sized and limited by (its `stderr` aside). */
const POOL_OPTIONS = ["size", "graceMs", "maxHeapMb"] as const;

/**
 * `options` checked, with their defaults: throws a `RangeError` naming the
 * bad one (`workers.size must be …`), or a `TypeError` for an unknown one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkPoolOptions } from "./pool.ts";
 * assert.deepEqual(checkPoolOptions({ size: 2 }), { size: 2, graceMs: 2_000, maxHeapMb: 1_024 });
 * assert.throws(
 *   () => checkPoolOptions({ size: 0 }),
 *   new RangeError("workers.size must be a whole number from 1 to 256, got 0"),
 * );
 * assert.throws(() => checkPoolOptions({ sise: 2 } as never), /unknown workers option 'sise'/);
 * ```
 */
export function checkPoolOptions(
  options: WorkerPoolOptions,
): Required<Omit<WorkerPoolOptions, "stderr">> {
  if (options === null || typeof options !== "object" || Array.isArray(options)) {
    throw new TypeError(`workers must be an object { ${POOL_OPTIONS.join(", ")} }, got ${options}`);
  }
  for (const name of Object.keys(options)) {
    if (name !== "stderr" && !(POOL_OPTIONS as readonly string[]).includes(name)) {
      throw new TypeError(`unknown workers option '${name}' (known: ${POOL_OPTIONS.join(", ")})`);
    }
  }
  const size = options.size ?? Math.max(1, navigator.hardwareConcurrency - 1);
  if (!Number.isInteger(size) || size < 1 || size > 256) {
    throw new RangeError(`workers.size must be a whole number from 1 to 256, got ${options.size}`);
  }
  return {
    size,
    graceMs: checkGraceMs(options.graceMs ?? 2_000, "workers.graceMs"),
    maxHeapMb: checkHeapMb(options.maxHeapMb ?? 1_024, "workers.maxHeapMb"),
  };
}

/**
 * A pool of worker processes that run handler modules: a process runs one
 * task at a time and stays warm for the next task of its handler. Processes
 * start when a task needs one. When all are busy, tasks wait in order; when
 * one is free but runs another handler, it is replaced.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(
 *   `${dir}/fit.ts`,
 *   `export default ({ samples }, context) => {
 *     context.progress(0.5, "half way");
 *     return samples.length;
 *   };`,
 * );
 * const fit = new WorkerHandler(new URL(`file://${dir}/fit.ts`));
 * {
 *   await using pool = new WorkerPool({ size: 2 });
 *   const progress: string[] = [];
 *   const result = await pool.run(fit, {
 *     fields: { samples: new Float64Array(1_000) },
 *     taskId: crypto.randomUUID(),
 *     signal: AbortSignal.timeout(60_000),
 *     onProgress: ({ fraction, message }) => progress.push(`${fraction * 100} % ${message}`),
 *   });
 *   assert.equal(result, 1_000);
 *   assert.deepEqual(progress, ["50 % half way"]);
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WorkerPool {
  /** Most worker processes at once. */
  readonly size: number;
  /** How long a handler may take to return once its signal fired, unless it sets its own. */
  readonly graceMs: number;
  /** The heap limit of each worker process, in MB, unless its handler sets its own. */
  readonly maxHeapMb: number;
  readonly #stderr: StderrListener;
  readonly #slots = new Set<Slot>();
  #queue: Pending[] = [];
  readonly #failures = new Map<string, LoadFailure>();
  /** What loading each handler needs, by key: found once, again after a failed load. */
  readonly #needs = new Map<string, { found?: LoadNeeds }>();
  #closing: Promise<void> | undefined;

  /** A pool with `options` (see `checkPoolOptions`), which throws naming a bad one. Starts no process yet. */
  constructor(options: WorkerPoolOptions = {}) {
    const checked = checkPoolOptions(options);
    this.size = checked.size;
    this.graceMs = checked.graceMs;
    this.maxHeapMb = checked.maxHeapMb;
    this.#stderr = options.stderr ?? defaultStderr;
  }

  /**
   * Run `task` on a worker of `handler`: its result, or its error. It ends
   * with the signal's reason when aborted before it started, or when the
   * handler did not return within its grace period (the handler's, else the pool's) (its process is then
   * killed and gone before this settles); with `HandlerLoadError` when the
   * module does not load; with `WorkerCrashedError` when its process ends
   * under it; with `WorkerPoolClosedError` when the pool closes.
   */
  run(handler: WorkerHandler, task: WorkerTask): Promise<unknown> {
    if (!(handler instanceof WorkerHandler)) {
      return Promise.reject(new TypeError(`pool.run needs a WorkerHandler, got ${handler}`));
    }
    if (this.#closing) {
      return Promise.reject(
        new WorkerPoolClosedError(`the worker pool is closed: task ${task.taskId} cannot run`),
      );
    }
    const { signal } = task;
    if (signal?.aborted) return Promise.reject(signal.reason);
    const pending: Pending = {
      handler,
      task,
      result: Promise.withResolvers(),
      onAbort: () => {
        const index = this.#queue.indexOf(pending);
        if (index < 0) return;
        this.#queue.splice(index, 1);
        pending.result.reject(signal!.reason);
      },
    };
    signal?.addEventListener("abort", pending.onAbort, { once: true });
    this.#queue.push(pending);
    this.#dispatch();
    return pending.result.promise;
  }

  /** The worker processes, for listings and tests. */
  workers(): WorkerInfo[] {
    return [...this.#slots].map(({ process }) => ({
      pid: process.pid,
      module: process.handler.name,
      state: process.state,
      ...(process.taskId === undefined ? {} : { taskId: process.taskId }),
    }));
  }

  /**
   * End every worker process (SIGKILL) and wait until they are gone. Tasks
   * waiting or running end with `WorkerPoolClosedError`; later `run`s are refused.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** `close()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    for (const pending of this.#queue.splice(0)) {
      pending.task.signal?.removeEventListener("abort", pending.onAbort);
      pending.result.reject(
        new WorkerPoolClosedError(
          `the worker pool closed before task ${pending.task.taskId} started`,
        ),
      );
    }
    await Promise.all([...this.#slots].map(({ process }) =>
      process.kill(
        new WorkerPoolClosedError(
          `the worker pool closed while task ${process.taskId} was running`,
        ),
      )
    ));
  }

  /** Hand waiting tasks, oldest first, to workers that can take them. */
  #dispatch(): void {
    while (this.#queue.length > 0 && !this.#closing) {
      const pending = this.#queue[0];
      const failure = this.#failures.get(pending.handler.key);
      if (failure && performance.now() < failure.retryAt) {
        this.#queue.shift();
        pending.task.signal?.removeEventListener("abort", pending.onAbort);
        pending.result.reject(failure.error);
        continue;
      }
      const needs = this.#needsOf(pending.handler);
      if (!needs) return; // dispatched again once found
      let slot: Slot | undefined;
      try {
        slot = this.#slotFor(pending.handler, needs);
      } catch (error) {
        this.#queue.shift();
        pending.task.signal?.removeEventListener("abort", pending.onAbort);
        pending.result.reject(cannotStart(pending.handler, error));
        continue;
      }
      if (!slot) return;
      this.#queue.shift();
      pending.task.signal?.removeEventListener("abort", pending.onAbort);
      this.#execute(slot, pending);
    }
  }

  /** A free worker of `handler`: a warm one, a new one, or one that replaces a free worker of another. */
  #slotFor(handler: WorkerHandler, needs: LoadNeeds): Slot | undefined {
    for (const slot of this.#slots) {
      if (slot.process.state === "ended") this.#slots.delete(slot); // exited between tasks
    }
    const free = [...this.#slots].filter((slot) => !slot.busy);
    const warm = free.find((slot) => slot.process.handler.key === handler.key);
    if (warm) return warm;
    if (this.#slots.size >= this.size) {
      if (free.length === 0) return undefined;
      this.#slots.delete(free[0]);
      free[0].process.kill();
    }
    const slot: Slot = {
      process: WorkerProcess.start(handler, {
        needs,
        heapMb: this.maxHeapMb,
        onStderr: this.#stderr,
      }),
      busy: false,
    };
    this.#slots.add(slot);
    slot.process.exited.then(() => this.#slots.delete(slot));
    return slot;
  }

  /** What loading `handler` needs, or `undefined` while it is being found. */
  #needsOf(handler: WorkerHandler): LoadNeeds | undefined {
    let entry = this.#needs.get(handler.key);
    if (!entry) {
      const found: { found?: LoadNeeds } = {};
      this.#needs.set(handler.key, entry = found);
      loadNeeds(handler).then((needs) => {
        found.found = needs;
        this.#dispatch();
      });
    }
    return entry.found;
  }

  async #execute(slot: Slot, pending: Pending): Promise<void> {
    slot.busy = true;
    const { handler } = pending;
    try {
      const graceMs = handler.graceMs ?? this.graceMs;
      pending.result.resolve(await slot.process.run(pending.task, graceMs));
    } catch (error) {
      if (error instanceof HandlerLoadError) this.#loadFailed(handler, error);
      pending.result.reject(error);
    }
    if (slot.process.state === "idle") this.#failures.delete(handler.key);
    else if (slot.process.state === "ended") this.#slots.delete(slot);
    slot.busy = false;
    this.#dispatch();
  }

  /**
   * Tasks of `handler` fail at once with `error` for a while, the while
   * doubling each time; the next try looks at the module afresh (it may have changed).
   */
  #loadFailed(handler: WorkerHandler, error: HandlerLoadError): void {
    this.#needs.delete(handler.key);
    const previous = this.#failures.get(handler.key);
    const delayMs = previous
      ? Math.min(previous.delayMs * 2, LOAD_RETRY_MS.max)
      : LOAD_RETRY_MS.first;
    this.#failures.set(handler.key, { error, delayMs, retryAt: performance.now() + delayMs });
  }
}

function cannotStart(handler: WorkerHandler, error: unknown): Error {
  const why = error instanceof Error ? error.message : String(error);
  const hint = error instanceof Deno.errors.NotCapable
    ? ` (the runtime needs --allow-run=${DENO_EXECUTABLE})`
    : "";
  return new Error(`cannot start a worker process for ${handler.name}: ${why}${hint}`);
}

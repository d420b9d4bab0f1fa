/**
 * The runtime's side of one worker process: start it, run one task at a
 * time on it, abort, kill, and say clearly why it ended.
 *
 * @module
 */
import type { TaskLogEntry, TaskProgress } from "../../task/record.ts";
import { decode, encode, errorFromShape, errorShape } from "./codec.ts";
import { HandlerLoadError, WorkerCrashedError } from "./errors.ts";
import { checkFrameSize, FrameReader, writeFrame } from "./frames.ts";
import { DENO_EXECUTABLE, type LoadNeeds, type WorkerHandler } from "./handler.ts";
import type { FromWorker, ToWorker } from "./messages.ts";

export type { TaskProgress };

/**
 * One task as a worker runs it: the handler's fields and context, and where its reports go.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * import type { WorkerTask } from "./worker_process.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.ts`, "export default ({ name }, context) => { context.log.info('hi'); return `hello ${name}`; };");
 * const lines: string[] = [];
 * const task: WorkerTask = {
 *   fields: { name: "Ada" },
 *   taskId: "t1",
 *   attributes: { by: "docs" },
 *   onLog: (entry) => lines.push(`${entry.level}: ${entry.message}`),
 * };
 * {
 *   await using pool = new WorkerPool({ size: 1 });
 *   assert.equal(await pool.run(new WorkerHandler(new URL(`file://${dir}/hello.ts`)), task), "hello Ada");
 * }
 * assert.deepEqual(lines, ["info: hi"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface WorkerTask {
  /** The handler's fields; they cross by structured clone. */
  fields: unknown;
  /** The task's id (`context.taskId`). */
  taskId: string;
  /** 1 for the first attempt (default). */
  attempt?: number;
  /** The client's metadata (`context.attributes`). */
  attributes?: Record<string, unknown>;
  /** When it fires, the handler's signal fires; a handler that has not returned a grace period later is killed. */
  signal?: AbortSignal;
  /** The module has loaded and the task is on its way to the handler. */
  onStart?(): void;
  /** A line of the task's log (`context.log`, or the console while the task runs). */
  onLog?(entry: TaskLogEntry): void;
  /** `context.progress(fraction, message)`, at most every 100 ms (the latest value wins). */
  onProgress?(progress: TaskProgress): void;
}

/**
 * Where a worker's own stderr lines go (the pool's `stderr` option), with
 * the process they came from.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler, WorkerPool } from "./mod.ts";
 * import type { StderrListener } from "./worker_process.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/loud.ts`, "console.error('loaded'); export default () => null;");
 * const heard = Promise.withResolvers<string>();
 * const stderr: StderrListener = (line, worker) => heard.resolve(`${worker.module}: ${line}`);
 * {
 *   await using pool = new WorkerPool({ size: 1, stderr });
 *   await pool.run(new WorkerHandler(new URL(`file://${dir}/loud.ts`)), { fields: {}, taskId: "t1" });
 *   assert.equal(await heard.promise, "loud.ts: [error] loaded"); // the console, outside a task
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export type StderrListener = (line: string, worker: { pid: number; module: string }) => void;

/** How much of a worker's stderr is kept to explain its end. */
const STDERR_TAIL_CHARS = 4_000;
/** How long output may still arrive after the process exited (a child of it may hold the pipe). */
const DRAIN_MS = 1_000;

interface Current {
  seq: number;
  task: WorkerTask;
  outcome: PromiseWithResolvers<unknown>;
  /** Whether the handler was called. */
  started: boolean;
}

/**
 * One worker process running one handler module.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadNeeds, WorkerHandler } from "./handler.ts";
 * import { WorkerProcess } from "./worker_process.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/fit.ts`, "export default ({ points }) => points / 2;");
 * const handler = new WorkerHandler(new URL(`file://${dir}/fit.ts`));
 * const needs = await loadNeeds(handler);
 * const worker = WorkerProcess.start(handler, { needs, heapMb: 1024, onStderr: console.error });
 * assert.equal(await worker.run({ fields: { points: 100 }, taskId: "t-1" }, 2_000), 50);
 * assert.equal(worker.state, "idle");
 * await worker.kill();
 * assert.equal(worker.state, "ended");
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class WorkerProcess {
  readonly pid: number;
  readonly handler: WorkerHandler;
  /** Settles once the handler module loaded (or failed to: `HandlerLoadError`). */
  readonly ready: Promise<void>;
  /** Resolves once the process has exited and its output has been read. */
  readonly exited: Promise<void>;
  readonly #heapMb: number;
  readonly #onStderr: StderrListener;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  readonly #loading = Promise.withResolvers<void>();
  #loaded = false;
  #seq = 0;
  #current: Current | undefined;
  #stderr = "";
  #fatal: Extract<FromWorker, { kind: "fatal" }> | undefined;
  #brokenStream: Error | undefined;
  /** What the running task ends with when this process was killed on purpose. */
  #killedWith: Error | undefined;
  #killed = false;
  #status: Deno.CommandStatus | undefined;

  /**
   * Start a process for `handler` (it loads the module at once). Throws if
   * the process cannot be started, e.g. the runtime may not run `deno`.
   */
  static start(
    handler: WorkerHandler,
    options: {
      /** What loading the module needs (`loadNeeds`). */
      needs: LoadNeeds;
      /** The heap limit in MB, unless the handler sets its own. */
      heapMb: number;
      onStderr: StderrListener;
    },
  ): WorkerProcess {
    return new WorkerProcess(handler, options.needs, options.heapMb, options.onStderr);
  }

  private constructor(
    handler: WorkerHandler,
    needs: LoadNeeds,
    heapMb: number,
    onStderr: StderrListener,
  ) {
    this.handler = handler;
    this.#heapMb = handler.maxHeapMb ?? heapMb;
    this.#onStderr = onStderr;
    this.#child = new Deno.Command(DENO_EXECUTABLE, {
      args: handler.denoArgs(needs, heapMb),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
      // A session of its own: the terminal's Ctrl-C is the runtime's to
      // handle (it closes the pool), and a kill can reach the whole group.
      detached: true,
    }).spawn();
    this.pid = this.#child.pid;
    this.#stdin = this.#child.stdin.getWriter();
    this.ready = this.#loading.promise;
    this.ready.catch(() => {}); // also reported through the task that waits for it
    this.exited = this.#watch();
  }

  /** `loading`, `idle`, `busy` (a task), or `ended` (exited, or being killed). */
  get state(): "loading" | "idle" | "busy" | "ended" {
    if (this.#killed || this.#status) return "ended";
    if (this.#current) return "busy";
    return this.#loaded ? "idle" : "loading";
  }

  /** The id of the task it runs, if any. */
  get taskId(): string | undefined {
    return this.#current?.task.taskId;
  }

  /**
   * Run `task`: wait for the module, call the handler, return its result or
   * throw its error. When `task.signal` fires, the handler's signal fires;
   * if it has not returned `graceMs` later, the process is killed and this
   * throws the signal's reason once the process is gone.
   */
  async run(task: WorkerTask, graceMs: number): Promise<unknown> {
    if (this.#current || this.state === "ended") {
      throw new Error(`worker ${this.pid} cannot take a task: it is ${this.state}`);
    }
    const current: Current = {
      seq: ++this.#seq,
      task,
      outcome: Promise.withResolvers(),
      started: false,
    };
    this.#current = current;
    const { signal } = task;
    let killTimer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => {
      const reason = signal!.reason;
      if (current.started) {
        this.#send({ kind: "abort", seq: current.seq, reason: errorShape(reason) });
      }
      killTimer = setTimeout(() => {
        const { name } = errorShape(reason);
        task.onLog?.({
          at: Date.now(),
          level: "warn",
          message: `${this.handler.name} did not stop within ${graceMs} ms of its ${name}: ` +
            `killing its worker process (pid ${this.pid})`,
        });
        this.kill(reason);
      }, graceMs);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      if (signal?.aborted) onAbort();
      await Promise.race([this.ready, current.outcome.promise]);
      signal?.throwIfAborted();
      this.#send({
        kind: "run",
        seq: current.seq,
        taskId: task.taskId,
        attempt: task.attempt ?? 1,
        attributes: task.attributes ?? {},
        fields: task.fields,
      }, `the fields of task ${task.taskId}`);
      current.started = true;
      task.onStart?.();
      return await current.outcome.promise;
    } finally {
      clearTimeout(killTimer);
      signal?.removeEventListener("abort", onAbort);
      this.#current = undefined;
    }
  }

  /**
   * SIGKILL the process and its process group (what its handler started),
   * and wait until it is gone. A running task ends with `reason`, or with a
   * `WorkerCrashedError` when none is given.
   */
  kill(reason?: unknown): Promise<void> {
    if (!this.#killed && !this.#status) {
      this.#killed = true;
      this.#killedWith = reason as Error | undefined;
      this.#killGroup();
    }
    return this.exited;
  }

  #killGroup(): void {
    try {
      Deno.kill(-this.pid, "SIGKILL");
      return;
    } catch (error) {
      try {
        this.#child.kill("SIGKILL");
      } catch {
        // Exited just now.
      }
      // Deno.kill needs an unscoped --allow-run, which a runtime started with
      // narrow permissions lacks. Only a handler that may run programs can
      // have started more of the group: a deno that may (`deno eval` runs
      // with every permission) ends them.
      if (error instanceof Deno.errors.NotCapable && this.handler.permissions.run !== false) {
        killGroupWithDeno(this.pid);
      }
    }
  }

  /** Send `message`; `what` names its payload in the error when it cannot be sent. */
  #send(message: ToWorker, what = "a message"): void {
    let encoded;
    try {
      encoded = encode(message);
      checkFrameSize(encoded, what);
    } catch (error) {
      const { name, message: why, stack } = errorShape(error);
      throw Object.assign(new Error(`${what} cannot be sent to a worker: ${why}`), { name, stack });
    }
    // A failed write means the process is gone; its exit ends the task.
    writeFrame(this.#stdin, encoded).catch(() => {});
  }

  async #watch(): Promise<void> {
    const frames = this.#readFrames();
    const stderr = this.#readStderr();
    const status = await this.#child.status;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([
      Promise.all([frames, stderr]).then(() => true),
      new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), DRAIN_MS)),
    ]);
    clearTimeout(timer);
    if (!drained) {
      await this.#child.stdout.cancel().catch(() => {});
      await this.#child.stderr.cancel().catch(() => {});
    }
    this.#status = status;
    this.#ended(status);
    await this.#stdin.close().catch(() => {});
  }

  async #readFrames(): Promise<void> {
    const frames = new FrameReader(this.#child.stdout);
    for (;;) {
      let message: FromWorker;
      try {
        const frame = await frames.read();
        if (!frame) return;
        message = decode(frame) as FromWorker;
      } catch (error) {
        if (this.#status || this.#killed) return;
        this.#brokenStream = error as Error;
        this.kill();
        return;
      }
      try {
        this.#receive(message);
      } catch (error) {
        reportError(error); // a bug in a task's callbacks, not the worker's
      }
    }
  }

  async #readStderr(): Promise<void> {
    const onStderr = this.#onStderr;
    let partial = "";
    const worker = { pid: this.pid, module: this.handler.name };
    try {
      for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr = (this.#stderr + chunk).slice(-STDERR_TAIL_CHARS);
        const lines = (partial + chunk).split("\n");
        partial = lines.pop()!;
        for (const line of lines) onStderr(line, worker);
      }
    } catch {
      // Cancelled after the exit: what was read is kept.
    }
    if (partial) onStderr(partial, worker);
  }

  #receive(message: FromWorker): void {
    switch (message.kind) {
      case "ready":
        this.#loaded = true;
        this.#loading.resolve();
        return;
      case "load-failed": {
        const { name, message: why, stack } = message.error;
        const error = new HandlerLoadError(
          `handler module ${this.handler.name} failed to load: ${name}: ${why}`,
        );
        error.stack = `${error.name}: ${error.message}\n${stack}`;
        this.#loading.reject(error);
        this.kill(error);
        return;
      }
      case "fatal":
        this.#fatal = message;
        return;
    }
    const current = this.#current;
    if (!current || message.seq !== current.seq) return; // about an earlier run
    const { task, outcome } = current;
    switch (message.kind) {
      case "log":
        task.onLog?.({ at: message.at, level: message.level, message: message.message });
        return;
      case "progress":
        task.onProgress?.({
          at: message.at,
          fraction: message.fraction,
          ...(message.message === undefined ? {} : { message: message.message }),
        });
        return;
      case "result":
        outcome.resolve(message.value);
        return;
      case "error":
        outcome.reject(errorFromShape(message.error));
        return;
    }
  }

  /** The process is gone: end whatever waited on it, saying why. */
  #ended(status: Deno.CommandStatus): void {
    const how = status.signal
      ? `was killed by ${status.signal}`
      : `exited with code ${status.code}`;
    const why = this.#why();
    if (!this.#loaded) {
      const error = this.#killedWith ?? new HandlerLoadError(
        `handler module ${this.handler.name} failed to load: its worker process ` +
          `(pid ${this.pid}) ${how}${why.message}`,
      );
      if (why.stack) error.stack = `${error.name}: ${error.message}\n${why.stack}`;
      this.#loading.reject(error);
      this.#current?.outcome.reject(error);
      return;
    }
    const current = this.#current;
    if (!current) {
      if (!this.#killed) {
        const worker = { pid: this.pid, module: this.handler.name };
        this.#onStderr(`the worker process ${how} between tasks${why.message}`, worker);
      }
      return;
    }
    if (this.#killedWith) {
      current.outcome.reject(this.#killedWith);
      return;
    }
    const error = new WorkerCrashedError(
      `worker for ${this.handler.name} (pid ${this.pid}) ${how} while running task ` +
        `${current.task.taskId}${why.message}`,
    );
    if (why.stack) error.stack = `${error.name}: ${error.message}\n${why.stack}`;
    current.outcome.reject(error);
  }

  /** What explains the exit: its last words, running out of memory, stray output, or its stderr. */
  #why(): { message: string; stack: string } {
    if (this.#fatal) return { message: `: ${this.#fatal.message}`, stack: this.#fatal.stack };
    if (/out of memory/i.test(this.#stderr)) {
      return {
        message: `: it ran out of memory (its heap limit is ${this.#heapMb} MB)`,
        stack: this.#stderr,
      };
    }
    if (this.#brokenStream) return { message: `: ${this.#brokenStream.message}`, stack: "" };
    const tail = this.#stderr.trim();
    return tail
      ? { message: `: ${tail.split("\n").at(-1)}`, stack: tail }
      : { message: "", stack: "" };
  }
}

/**
 * SIGKILL process group `pgid` from a deno process of its own. Its leader
 * has just been killed; the group lives on while what it started does.
 */
async function killGroupWithDeno(pgid: number): Promise<void> {
  try {
    await new Deno.Command(DENO_EXECUTABLE, {
      args: ["eval", "--no-config", `try { Deno.kill(-${pgid}, "SIGKILL"); } catch { /* gone */ }`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      env: { DENO_NO_UPDATE_CHECK: "1" },
    }).output();
  } catch {
    // This runtime may not run deno: then it started no worker either.
  }
}

/**
 * The worker pool with real worker processes: handlers off the runtime's
 * thread, killed when they ignore their signal, crashes contained,
 * permissions narrowed, nothing left behind.
 */
import assert from "node:assert/strict";
import { defineTask } from "../src/mod.ts";
import {
  HandlerLoadError,
  runInPool,
  WorkerCrashedError,
  WorkerHandler,
  type WorkerHandlerOptions,
  WorkerPool,
  WorkerPoolClosedError,
  type WorkerPoolOptions,
} from "../src/service/pool/mod.ts";
import { TaskControl, type TaskReport, type TaskRun } from "../src/task/protocol.ts";
import { z } from "zod";
import { cpuTicks, percentile, treeTicks } from "./helpers/cpu.ts";
import { until } from "./helpers/poll.ts";

function fixture(name: string, options?: WorkerHandlerOptions): WorkerHandler {
  return new WorkerHandler(new URL(`./fixtures/workers/${name}.ts`, import.meta.url), options);
}

/** A pool whose workers' stderr is kept, not printed. */
function quietPool(options: WorkerPoolOptions = {}): WorkerPool & { stderr: string[] } {
  const stderr: string[] = [];
  return Object.assign(new WorkerPool({ stderr: (line) => stderr.push(line), ...options }), {
    stderr,
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

Deno.test("a CPU-bound handler runs off the runtime's thread: its timers keep firing", async () => {
  await using pool = quietPool({ size: 1 });
  const busy = fixture("busy");
  await pool.run(busy, { fields: { ms: 0 }, taskId: "warm-up" }); // the start is not measured
  const lateness: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(now - last - 10);
    last = now;
  }, 10);
  const progress: number[] = [];
  const started = performance.now();
  const result = await pool.run(busy, {
    fields: { ms: 1_000 },
    taskId: "busy",
    onProgress: ({ fraction }) => progress.push(fraction),
  }) as { rounds: number; pid: number };
  const elapsed = performance.now() - started;
  clearInterval(timer);
  assert.notEqual(result.pid, Deno.pid);
  assert.ok(result.rounds > 0);
  assert.ok(lateness.length > 0, "the main thread's timer fired while the handler computed");
  assert.ok(progress.length >= 2, `progress arrived from a synchronous loop: ${progress}`);
  console.log(
    `1 s busy loop in a worker (${elapsed.toFixed(0)} ms): main-thread 10 ms timer fired ` +
      `${lateness.length} times, lateness p50 ${percentile(lateness, 0.5).toFixed(1)} ms, ` +
      `p99 ${percentile(lateness, 0.99).toFixed(1)} ms, max ${
        Math.max(...lateness).toFixed(1)
      } ms; ` +
      `${progress.length} progress reports`,
  );
});

Deno.test("a worker handler gets its fields by structured clone and the context of an in-process one", async () => {
  await using pool = quietPool({ size: 1 });
  const result = await pool.run(fixture("echo"), {
    fields: { name: "Ada", nested: { when: new Date(5), tags: new Set(["a"]), n: 10n } },
    taskId: "task-1",
    attempt: 2,
    attributes: { user: "ada" },
  });
  assert.deepEqual(result, {
    greeting: "hello Ada",
    rest: { nested: { when: new Date(5), tags: new Set(["a"]), n: 10n } },
    taskId: "task-1",
    attempt: 2,
    attributes: { user: "ada" },
    pid: (result as { pid: number }).pid,
  });
  assert.notEqual((result as { pid: number }).pid, Deno.pid);
});

Deno.test("log lines and progress reports arrive in the order the handler wrote them", async () => {
  await using pool = quietPool({ size: 1 });
  const events: unknown[] = [];
  const result = await pool.run(fixture("chatty"), {
    fields: {},
    taskId: "chatty",
    onStart: () => events.push("start"),
    onLog: ({ level, message }) => events.push(`${level}: ${message}`),
    onProgress: ({ fraction, message }) => events.push(`progress ${fraction} ${message ?? ""}`),
  });
  assert.equal(result, "done");
  assert.deepEqual(events, [
    "start",
    "info: first",
    "progress 0.25 a quarter",
    "info: second { n: 2 }",
    "progress 0.5 half",
    "warn: third",
    "error: fourth",
    "debug: fifth",
    "progress 1 ",
  ]);
});

/** Start a spinning task on a fresh one-worker pool and wait until it burns CPU. */
async function spinning(pool: WorkerPool, signal: AbortSignal) {
  const started = Promise.withResolvers<void>();
  const log: string[] = [];
  const outcome = pool.run(fixture("spin"), {
    fields: {},
    taskId: "spinner",
    signal,
    onStart: () => started.resolve(),
    onLog: ({ message }) => log.push(message),
  });
  outcome.catch(() => {});
  await started.promise;
  const { pid } = pool.workers().find(({ taskId }) => taskId === "spinner")!;
  const before = cpuTicks(pid)!;
  await until(() => (cpuTicks(pid) ?? Infinity) > before + 5, "the spinning worker burns CPU");
  return { outcome, pid, log };
}

Deno.test("timeout: a worker that ignores its signal is killed after the grace period, the CPU given back, and the next task runs", async () => {
  await using pool = quietPool({ size: 1, graceMs: 300 });
  const controller = new AbortController();
  const { outcome, pid, log } = await spinning(pool, controller.signal);
  const poolTree = () => treeTicks([pid, ...pool.workers().map((worker) => worker.pid)]);
  const treeBefore = poolTree();
  await sleep(500);
  const spinningTicks = poolTree() - treeBefore;

  const reason = new DOMException("task exceeded its timeout of 100 ms", "TimeoutError");
  controller.abort(reason);
  await assert.rejects(outcome, (error) => error === reason);
  assert.equal(cpuTicks(pid), undefined, "the worker process is gone when the task ends");
  assert.deepEqual(pool.workers(), []);
  assert.match(
    log.at(-1)!,
    /spin\.ts did not stop within 300 ms of its TimeoutError: killing its worker process \(pid \d+\)/,
  );

  const treeAfter = poolTree();
  await sleep(500);
  const afterTicks = poolTree() - treeAfter;
  console.log(
    `process tree CPU over 500 ms: ${spinningTicks} ticks spinning, ${afterTicks} after the kill`,
  );
  assert.equal(afterTicks, 0, "the pool's process tree uses no CPU once the spinner is killed");

  const next = await pool.run(fixture("echo"), { fields: { name: "next" }, taskId: "next" });
  assert.notEqual((next as { pid: number }).pid, pid, "a new worker replaced the killed one");
});

Deno.test("cancel: a spinning worker is killed; a handler that honours its signal keeps its worker", async () => {
  await using pool = quietPool({ size: 1, graceMs: 200 });
  const cancelled = () => new DOMException("the task was cancelled", "AbortError");

  const spin = new AbortController();
  const { outcome, pid } = await spinning(pool, spin.signal);
  const reason = cancelled();
  spin.abort(reason);
  await assert.rejects(outcome, (error) => error === reason);
  assert.equal(cpuTicks(pid), undefined);

  const polite = new AbortController();
  const started = Promise.withResolvers<void>();
  const waiting = pool.run(fixture("honours"), {
    fields: {},
    taskId: "polite",
    signal: polite.signal,
    onStart: () => started.resolve(),
  });
  await started.promise;
  const [worker] = pool.workers();
  polite.abort(cancelled());
  await assert.rejects(waiting, { name: "AbortError", message: "the task was cancelled" });
  assert.deepEqual(pool.workers(), [{ pid: worker.pid, module: "honours.ts", state: "idle" }]);
});

Deno.test("a task aborted before it reaches a worker never runs", async () => {
  await using pool = quietPool({ size: 1 });
  const reason = new DOMException("the task was cancelled", "AbortError");
  await assert.rejects(
    pool.run(fixture("noop"), { fields: {}, taskId: "t", signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  // Queued behind a busy worker, then cancelled.
  const busy = pool.run(fixture("busy"), { fields: { ms: 300 }, taskId: "busy" });
  const controller = new AbortController();
  let ran = false;
  const queued = pool.run(fixture("noop"), {
    fields: {},
    taskId: "queued",
    signal: controller.signal,
    onStart: () => ran = true,
  });
  controller.abort(reason);
  await assert.rejects(queued, (error) => error === reason);
  await busy;
  assert.equal(ran, false);
});

Deno.test("a module that fails to load fails every task with its load error, without a crash loop, until it loads", async () => {
  await using pool = quietPool({ size: 2 });
  await assert.rejects(pool.run(fixture("load_throws"), { fields: {}, taskId: "a" }), {
    name: "HandlerLoadError",
    message: /handler module load_throws\.ts failed to load: Error: calibration table missing/,
  });
  const again = pool.run(fixture("load_throws"), { fields: {}, taskId: "b" });
  assert.deepEqual(pool.workers(), [], "no process is started while the failure is fresh");
  await assert.rejects(again, HandlerLoadError);

  await assert.rejects(pool.run(fixture("no_default"), { fields: {}, taskId: "c" }), {
    name: "HandlerLoadError",
    message: /no_default\.ts must have a default export that is the handler function/,
  });

  const folder = await Deno.makeTempDir({ prefix: "zest-worker-" });
  try {
    const module = `${folder}/fit.ts`;
    await Deno.writeTextFile(module, "export default function fit( {\n  return 1;\n}\n");
    const fit = new WorkerHandler(new URL(`file://${module}`));
    await assert.rejects(pool.run(fit, { fields: {}, taskId: "d" }), {
      name: "HandlerLoadError",
      message: /fit\.ts failed to load: .*SyntaxError/,
    });
    await Deno.writeTextFile(module, "export default () => 'fixed';\n");
    let result: unknown;
    await until(async () => {
      result = await pool.run(fit, { fields: {}, taskId: "e" }).catch(() => undefined);
      return result !== undefined;
    }, "the fixed module loads after the back-off");
    assert.equal(result, "fixed");
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a handler that throws fails its task with the error's name, message and stack; its worker stays", async () => {
  await using pool = quietPool({ size: 1 });
  await assert.rejects(
    pool.run(fixture("throws"), { fields: { why: "flat line" }, taskId: "t" }),
    (error: Error) => {
      assert.equal(error.name, "FitError");
      assert.equal(error.message, "no convergence: flat line");
      assert.match(error.stack!, /throws\.ts:\d+/);
      return true;
    },
  );
  const [worker] = pool.workers();
  await assert.rejects(pool.run(fixture("throws"), { fields: { why: "again" }, taskId: "t2" }));
  assert.equal(pool.workers()[0].pid, worker.pid);
});

Deno.test("a worker that crashes fails only its task, clearly; the pool replaces it", async () => {
  await using pool = quietPool({ size: 1 });
  await assert.rejects(pool.run(fixture("exits"), { fields: { code: 3 }, taskId: "crash-1" }), {
    name: "WorkerCrashedError",
    message:
      /worker for exits\.ts \(pid \d+\) exited with code 3 while running task crash-1: the handler called Deno\.exit\(3\)/,
  });
  await assert.rejects(pool.run(fixture("timer_throws"), { fields: {}, taskId: "crash-2" }), {
    name: "WorkerCrashedError",
    message: /exited with code 1 while running task crash-2: uncaught TypeError: boom in a timer/,
  });
  await assert.rejects(pool.run(fixture("stdout"), { fields: {}, taskId: "crash-3" }), {
    name: "WorkerCrashedError",
    message: /while running task crash-3: not a worker frame \(stray output on stdout\?/,
  });
  const result = await pool.run(fixture("echo"), { fields: { name: "after" }, taskId: "ok" });
  assert.equal((result as { greeting: string }).greeting, "hello after");
});

Deno.test("a worker that dies between tasks is said on stderr and replaced", async () => {
  await using pool = quietPool({ size: 1 });
  assert.equal(await pool.run(fixture("late_throw"), { fields: {}, taskId: "t" }), "returned");
  await until(() => pool.workers().length === 0, "the worker has died");
  assert.ok(
    pool.stderr.some((line) =>
      /exited with code 1 between tasks: uncaught RangeError: late failure/.test(line)
    ),
    pool.stderr.join("\n"),
  );
  assert.equal(await pool.run(fixture("late_throw"), { fields: {}, taskId: "t2" }), "returned");
});

Deno.test("a worker that runs out of memory fails only its task; the pool keeps serving", async () => {
  await using pool = quietPool({ size: 1 });
  await assert.rejects(
    pool.run(fixture("oom", { maxHeapMb: 64 }), { fields: {}, taskId: "hog" }),
    (error: Error) => {
      assert.ok(error instanceof WorkerCrashedError);
      assert.match(
        error.message,
        /worker for oom\.ts \(pid \d+\) was killed by SIG\w+ while running task hog: it ran out of memory \(its heap limit is 64 MB\)/,
      );
      return true;
    },
  );
  assert.ok(pool.stderr.some((line) => /out of memory/.test(line)));
  assert.equal(await pool.run(fixture("noop"), { fields: {}, taskId: "next" }), null);
});

Deno.test("fields or a result that structured clone refuses fail the task with DataCloneError", async () => {
  await using pool = quietPool({ size: 1 });
  await assert.rejects(
    pool.run(fixture("noop"), { fields: { callback: () => 1 }, taskId: "f" }),
    { name: "DataCloneError", message: /the fields of task f cannot be sent to a worker/ },
  );
  await assert.rejects(pool.run(fixture("returns_function"), { fields: {}, taskId: "r" }), {
    name: "DataCloneError",
    message: /the result of returns_function\.ts cannot be sent back: .*could not be cloned/,
  });
});

Deno.test("a 10M-element Float64Array goes to a worker and back whole, beside other cloneable values", async () => {
  await using pool = quietPool({ size: 1 });
  const arrays = fixture("arrays");
  await pool.run(arrays, { fields: { data: new Float64Array(1) }, taskId: "warm-up" });
  const n = 10_000_000;
  const data = new Float64Array(n);
  for (let i = 0; i < n; i++) data[i] = i * 0.5;
  const started = performance.now();
  const result = await pool.run(arrays, { fields: { data }, taskId: "big" }) as {
    sum: number;
    doubled: Float64Array;
    type: string;
    head: Uint8Array;
    tail: Uint8Array;
    raw: ArrayBuffer;
    when: Date;
    big: bigint;
    map: Map<string, number[]>;
  };
  const elapsed = performance.now() - started;
  assert.equal(result.type, "Float64Array");
  assert.equal(result.sum, 0.5 * (n * (n - 1)) / 2);
  assert.ok(result.doubled instanceof Float64Array);
  assert.equal(result.doubled.length, n);
  for (let i = 0; i < n; i++) {
    if (result.doubled[i] !== i) assert.fail(`doubled[${i}] is ${result.doubled[i]}, not ${i}`);
  }
  assert.equal(result.head.buffer, result.tail.buffer, "views that shared a buffer still do");
  assert.deepEqual([result.head.byteOffset, result.tail.byteOffset], [0, 8]);
  assert.deepEqual(new Uint8Array(result.raw), new Uint8Array([1, 2, 3]));
  assert.deepEqual(result.when, new Date(0));
  assert.equal(result.big, 2n ** 70n);
  assert.deepEqual(result.map, new Map([["k", [1, 2]]]));
  console.log(`80 MB Float64Array to a worker and back: ${elapsed.toFixed(0)} ms`);
});

Deno.test("a bare 10M-byte ArrayBuffer goes to a worker and back whole, one buffer with a view on it", async () => {
  await using pool = quietPool({ size: 1 });
  const echo = fixture("echo");
  const raw = new ArrayBuffer(10_000_000);
  const bytes = new Uint8Array(raw);
  for (let i = 0; i < bytes.length; i++) bytes[i] = i % 251;
  const shared = new ArrayBuffer(16);
  new Uint8Array(shared).set([1, 2, 3, 4]);
  const fields = { name: "buffers", raw, bare: shared, view: new Uint8Array(shared, 2, 4) };
  const result = await pool.run(echo, { fields, taskId: "bare" }) as {
    rest: { raw: ArrayBuffer; bare: ArrayBuffer; view: Uint8Array };
  };
  const back = result.rest;
  assert.ok(back.raw instanceof ArrayBuffer);
  assert.equal(back.raw.byteLength, 10_000_000);
  const arrived = new Uint8Array(back.raw);
  for (let i = 0; i < arrived.length; i++) {
    if (arrived[i] !== i % 251) assert.fail(`raw[${i}] is ${arrived[i]}, not ${i % 251}`);
  }
  assert.equal(back.view.buffer, back.bare, "a bare buffer and a view on it arrive as one buffer");
  assert.deepEqual([back.view.byteOffset, back.view.length], [2, 4]);
  assert.deepEqual([...back.view], [3, 4, 0, 0]);
});

Deno.test("concurrent tasks spread over the pool's workers, never more than its size", async () => {
  await using pool = quietPool({ size: 2 });
  let most = 0;
  const runs = Array.from({ length: 4 }, (_, i) =>
    pool.run(fixture("busy"), {
      fields: { ms: 300 },
      taskId: `busy-${i}`,
      onStart: () => most = Math.max(most, pool.workers().length),
    }) as Promise<{ pid: number }>);
  const pids = new Set((await Promise.all(runs)).map(({ pid }) => pid));
  assert.equal(pids.size, 2);
  assert.ok(most <= 2);

  // A free worker of another handler makes way.
  const echo = await pool.run(fixture("echo"), { fields: { name: "x" }, taskId: "echo" });
  assert.ok(!pids.has((echo as { pid: number }).pid));
  assert.equal(pool.workers().length, 2);
  assert.deepEqual(pool.workers().map(({ module }) => module).sort(), ["busy.ts", "echo.ts"]);
});

Deno.test("workers get narrow permissions by default, widened per handler", async () => {
  await using pool = quietPool({ size: 1 });
  await using server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("hi"),
  );
  const folder = await Deno.makeTempDir({ prefix: "zest-worker-" });
  try {
    const fields = { url: `http://127.0.0.1:${server.addr.port}/`, path: "/etc/passwd" };
    const narrow = await pool.run(fixture("probe"), { fields, taskId: "narrow" });
    assert.deepEqual(narrow, {
      net: "NotCapable",
      run: "NotCapable",
      read: "NotCapable",
      write: "NotCapable",
      env: "NotCapable",
    });

    const wide = fixture("probe", {
      permissions: {
        net: [`127.0.0.1:${server.addr.port}`],
        run: true,
        read: [`${folder}`],
        write: [`${folder}`],
        env: ["HOME"],
      },
    });
    await Deno.writeTextFile(`${folder}/scan.txt`, "data");
    const widened = await pool.run(wide, {
      fields: { ...fields, path: `${folder}/scan.txt` },
      taskId: "wide",
    });
    assert.deepEqual(widened, { net: "ok", run: "ok", read: "ok", write: "ok", env: "ok" });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("a worker may read the local modules its handler imports from outside its folder, and no more", async () => {
  await using pool = quietPool({ size: 1 });
  const folder = await Deno.makeTempDir({ prefix: "zest-worker-" });
  try {
    await Deno.mkdir(`${folder}/handlers`);
    await Deno.writeTextFile(`${folder}/lib.ts`, "export const offset = 41;\n");
    await Deno.writeTextFile(`${folder}/secret.txt`, "not for workers");
    await Deno.writeTextFile(
      `${folder}/handlers/fit.ts`,
      `import { offset } from "../lib.ts";\n` +
        `export default async () => ({ value: offset + 1, secret: ` +
        `await Deno.readTextFile(${
          JSON.stringify(`${folder}/secret.txt`)
        }).catch((e) => e.name) });\n`,
    );
    const fit = new WorkerHandler(new URL(`file://${folder}/handlers/fit.ts`));
    assert.deepEqual(await pool.run(fit, { fields: {}, taskId: "t" }), {
      value: 42,
      secret: "NotCapable",
    });
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("bad handler and pool options are refused with a clear error", () => {
  assert.throws(() => new WorkerHandler("fit.ts"), {
    name: "TypeError",
    message: /a worker handler module must be a file: URL.*got 'fit\.ts'/,
  });
  assert.throws(() => fixture("noop", { permissions: { network: true } as never }), {
    message: "unknown worker permission 'network' (known: read, write, net, env, run, sys, ffi)",
  });
  assert.throws(() => fixture("noop", { permissions: { read: ["/a,b"] } }), {
    message: /permissions\.read\[0\] must be a non-empty string without a comma/,
  });
  assert.throws(() => fixture("noop", { maxHeapMb: 1 }), { name: "RangeError" });
  assert.throws(() => new WorkerPool({ size: 0 }), {
    message: "workers.size must be a whole number from 1 to 256, got 0",
  });
  assert.throws(() => new WorkerPool({ graceMs: -1 }), {
    name: "RangeError",
    message: "workers.graceMs must be a whole number of ms from 0 to 600000, got -1",
  });
  assert.throws(() => new WorkerPool({ sizes: 2 } as never), {
    name: "TypeError",
    message: "unknown workers option 'sizes' (known: size, graceMs, maxHeapMb)",
  });
  assert.throws(() => fixture("noop", { graceMs: 1.5 }), { name: "RangeError" });
});

Deno.test("close() ends every worker: running tasks fail clearly and no process is left", async () => {
  const pool = quietPool({ size: 2 });
  await pool.run(fixture("echo"), { fields: { name: "idle" }, taskId: "idle" });
  const controller = new AbortController();
  const { outcome } = await spinning(pool, controller.signal);
  const pids = pool.workers().map(({ pid }) => pid);
  assert.equal(pids.length, 2);
  await pool.close();
  await assert.rejects(outcome, {
    name: "WorkerPoolClosedError",
    message: "the worker pool closed while task spinner was running",
  });
  for (const pid of pids) assert.equal(cpuTicks(pid), undefined, `worker ${pid} is gone`);
  await assert.rejects(
    pool.run(fixture("noop"), { fields: {}, taskId: "late" }),
    WorkerPoolClosedError,
  );
});

Deno.test("a runtime killed with SIGKILL leaves no worker behind, even a spinning one", async () => {
  const host = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./fixtures/workers/host.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  let worker: number | undefined;
  try {
    const lines = host.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) break;
      text += value;
    }
    await lines.cancel();
    worker = JSON.parse(text).worker as number;
    await until(() => (cpuTicks(worker!) ?? 0) > 5, "the worker spins");
    host.kill("SIGKILL");
    await host.status;
    await until(() => cpuTicks(worker!) === undefined, `worker ${worker} exits after its runtime`);
  } finally {
    try {
      host.kill("SIGKILL");
    } catch {
      // already gone
    }
    await host.status;
    if (worker !== undefined && cpuTicks(worker) !== undefined) Deno.kill(worker, "SIGKILL");
  }
});

Deno.test("runInPool reports a worker task to the manager as Service.handle reports one", async () => {
  await using pool = quietPool({ size: 1, graceMs: 200 });
  const Fit = defineTask("Fit", { schema: z.object({}), parallel: true });
  const taskRun = (id: string, reports: unknown[]): TaskRun => ({
    id,
    type: Fit,
    fields: {},
    attributes: {},
    attempt: 1,
    control: new TaskControl(),
    replyTo: {
      tell(report: TaskReport) {
        reports.push(report);
        return true;
      },
    },
  });

  const reports: Record<string, unknown>[] = [];
  await runInPool(pool, fixture("chatty"), taskRun("t-1", reports));
  assert.deepEqual(reports.map((report) => report.kind), [
    "started",
    "log",
    "progress",
    "log",
    "progress",
    "log",
    "log",
    "log",
    "progress",
    "finished",
  ]);
  assert.deepEqual(reports.at(-1), {
    kind: "finished",
    id: "t-1",
    outcome: { status: "ok", id: "t-1", result: "done" },
  });
  assert.deepEqual(reports[2], {
    kind: "progress",
    id: "t-1",
    progress: {
      at: (reports[2].progress as { at: number }).at,
      fraction: 0.25,
      message: "a quarter",
    },
  });

  const stuck: Record<string, unknown>[] = [];
  const run = taskRun("t-2", stuck);
  const done = runInPool(pool, fixture("spin"), run);
  await until(() => stuck.length > 0, "the spinning task started");
  run.control.abort(new DOMException("task exceeded its timeout of 50 ms", "TimeoutError"));
  await done;
  const finished = stuck.at(-1) as { outcome: { ename: string; evalue: string } };
  assert.equal(finished.outcome.ename, "TimeoutError");
  assert.equal(finished.outcome.evalue, "task exceeded its timeout of 50 ms");
  assert.deepEqual(pool.workers(), []);
});

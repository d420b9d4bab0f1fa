/**
 * Handlers through the runtime: `registerHandler(Type, url, { worker: true })`
 * in the runtime's worker pool (off its thread, killed when they ignore their
 * signal, failures contained), `context.progress` and `context.client` for
 * every handler, and plain handlers that ignore their signal: `stuck`, then
 * released.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  Client,
  defineTask,
  Runtime,
  type RuntimeOptions,
  serve,
  Service,
  type TaskEvent,
  type TaskInput,
  UnknownServiceError,
} from "../src/mod.ts";
import { cpuTicks, percentile } from "./helpers/cpu.ts";
import { until } from "./helpers/poll.ts";

const TOKEN = "worker-handlers-test-token-0123456789";

const fixture = (name: string) => new URL(`./fixtures/workers/${name}.ts`, import.meta.url);

const Busy = defineTask("Busy", { schema: z.object({ ms: z.number() }), parallel: true });
const Spin = defineTask("Spin", { schema: z.object({}), parallel: false, timeoutMs: 300 });
const Next = defineTask("Next", { schema: z.object({}), parallel: false });
const Ping = defineTask("Ping", { schema: z.object({}), parallel: true });

/** A runtime whose workers' stderr is kept, not printed; stopped by `await using`. */
async function startRuntime(options: RuntimeOptions) {
  const stderr: string[] = [];
  const runtime = await Runtime.start({
    ...options,
    workers: { stderr: (line) => stderr.push(line), ...options.workers },
  });
  return Object.assign(runtime, { stderr, [Symbol.asyncDispose]: () => runtime.stop() });
}

/** The pid of the worker spinning on task `taskId`, once its handler said so (`spin.ts`). */
async function spinningWorker(runtime: Runtime, taskId: string): Promise<number> {
  let pid: number | undefined;
  await until(async () => {
    pid = runtime.workerPool.workers().find((worker) => worker.taskId === taskId)?.pid;
    const log = (await runtime.client().status(taskId))?.log ?? [];
    return pid !== undefined && log.some(({ message }) => message === "spinning");
  }, `task ${taskId} spins on a worker`);
  return pid!;
}

Deno.test("a worker handler computes off the runtime's thread: in-process tasks and WebSocket requests are answered meanwhile", async () => {
  const service = new Service("lab")
    .registerHandler(Busy, fixture("busy"), { worker: true })
    .registerHandler(Ping, () => "pong");
  await using runtime = await startRuntime({ services: [service], workers: { size: 1 } });
  const server = serve(runtime, { token: TOKEN, port: 0 });
  const remote = await Client.connect(server.wsUrl, { token: TOKEN });
  try {
    const client = runtime.client();
    await client.execute("lab", Busy.create({ ms: 0 })); // the worker's start is not measured
    const busy = await client.request("lab", Busy.create({ ms: 1_000 }));
    let done = false;
    busy.outcome.then(() => done = true);
    const local: number[] = [];
    const overSocket: number[] = [];
    while (!done) {
      let started = performance.now();
      assert.equal(await client.execute("lab", Ping.create({})), "pong");
      local.push(performance.now() - started);
      started = performance.now();
      assert.equal(await remote.execute("lab", Ping.create({})), "pong");
      overSocket.push(performance.now() - started);
    }
    const outcome = await busy.outcome;
    assert.ok(outcome.status === "ok");
    assert.notEqual((outcome.result as { pid: number }).pid, Deno.pid, "it ran in another process");
    assert.ok(local.length > 1, "in-process tasks were answered while the worker computed");
    const figures = (rounds: number[]) =>
      `p50 ${percentile(rounds, 0.5).toFixed(2)} ms, p99 ${percentile(rounds, 0.99).toFixed(2)} ms`;
    console.log(
      `during a 1 s worker task: ${local.length} in-process round trips (${figures(local)}), ` +
        `${overSocket.length} over WebSocket (${figures(overSocket)})`,
    );
  } finally {
    await remote.close();
    await server.shutdown();
  }
});

Deno.test("timeout: a worker that ignores its signal is killed after its grace period, its serial lane is free for real and its CPU given back", async () => {
  const service = new Service("lab")
    // Its own grace period, shorter than the pool's default of 2 s.
    .registerHandler(Spin, fixture("spin"), { worker: true, graceMs: 300 })
    .registerHandler(Next, () => "next ran");
  await using runtime = await startRuntime({ services: [service], workers: { size: 1 } });
  const client = runtime.client();
  const spin = await client.request("lab", Spin.create({}));
  const next = client.execute("lab", Next.create({}));
  const pid = await spinningWorker(runtime, spin.taskId);

  const outcome = await spin.outcome;
  assert.equal(outcome.status === "error" && outcome.ename, "TimeoutError");
  assert.equal(await next, "next ran", "the serial lane was freed once the worker was killed");
  assert.equal(cpuTicks(pid), undefined, "the worker process is gone");
  assert.deepEqual(runtime.workerPool.workers(), []);
  const record = await client.status(spin.taskId);
  assert.equal(record?.state, "failed");
  assert.ok(
    record?.log.some(({ message }) =>
      /spin\.ts did not stop within 300 ms of its TimeoutError: killing its worker process/.test(
        message,
      )
    ),
    "the kill is in the task's log",
  );
  const [lab] = await client.services();
  assert.equal(lab.state, "running");
  assert.equal(lab.running, 0);
});

Deno.test("cancel: a spinning worker task ends CancelledError once its process is killed; the lane runs the next task", async () => {
  const service = new Service("lab")
    .registerHandler(Spin, fixture("spin"), { worker: true })
    .registerHandler(Next, () => "next ran");
  await using runtime = await startRuntime({
    services: [service],
    workers: { size: 1, graceMs: 200 },
  });
  const client = runtime.client();
  const spin = await client.request("lab", Spin.create({}), { timeoutMs: 600_000 });
  const next = client.execute("lab", Next.create({}));
  const pid = await spinningWorker(runtime, spin.taskId);
  assert.equal(await client.cancel(spin.taskId), true);
  const outcome = await spin.outcome;
  assert.equal(outcome.status === "error" && outcome.ename, "CancelledError");
  assert.equal(await next, "next ran");
  assert.equal(cpuTicks(pid), undefined);
});

Deno.test("a worker that fails to load, throws or runs out of memory fails only its task; the service keeps serving", async () => {
  const LoadThrows = defineTask("LoadThrows", { schema: z.object({}), parallel: true });
  const Throws = defineTask("Throws", { schema: z.object({ why: z.string() }), parallel: true });
  const Hog = defineTask("Hog", { schema: z.object({}), parallel: true });
  const Echo = defineTask("Echo", { schema: z.object({ name: z.string() }), parallel: true });
  const service = new Service("lab")
    .registerHandler(LoadThrows, fixture("load_throws"), { worker: true })
    .registerHandler(Throws, fixture("throws"), { worker: true })
    .registerHandler(Hog, fixture("oom"), { worker: true, maxHeapMb: 64 })
    .registerHandler(Echo, fixture("echo"), { worker: true });
  await using runtime = await startRuntime({ services: [service], workers: { size: 1 } });
  const client = runtime.client();
  const outcomeOf = async (task: TaskInput) => await (await client.request("lab", task)).outcome;

  const loadFailed = await outcomeOf(LoadThrows.create({}));
  assert.equal(loadFailed.status === "error" && loadFailed.ename, "HandlerLoadError");
  assert.match(
    loadFailed.status === "error" ? loadFailed.evalue : "",
    /load_throws\.ts failed to load: Error: calibration table missing/,
  );
  const threw = await outcomeOf(Throws.create({ why: "flat line" }));
  assert.deepEqual(
    threw.status === "error" && [threw.ename, threw.evalue],
    ["FitError", "no convergence: flat line"],
  );
  const hog = await outcomeOf(Hog.create({}));
  assert.equal(hog.status === "error" && hog.ename, "WorkerCrashedError");
  assert.match(
    hog.status === "error" ? hog.evalue : "",
    /ran out of memory \(its heap limit is 64 MB\)/,
  );
  const echo = await client.execute("lab", Echo.create({ name: "after" }));
  assert.equal((echo as { greeting: string }).greeting, "hello after");
});

Deno.test("registering a worker handler: a module URL needs { worker: true }, { worker: true } needs a module URL, bad options are refused at once", () => {
  const service = new Service("lab");
  assert.throws(() => service.registerHandler(Busy, fixture("busy") as never), {
    name: "TypeError",
    message: /handler for 'Busy' on 'lab': a module URL runs in a worker: pass \{ worker: true \}/,
  });
  assert.throws(() => service.registerHandler(Busy, (() => 1) as never, { worker: true }), {
    name: "TypeError",
    message: /\{ worker: true \} needs the handler's module URL/,
  });
  assert.throws(
    () => service.registerHandler(Busy, new URL("https://example.com/fit.ts"), { worker: true }),
    { name: "TypeError", message: /a worker handler module must be a file: URL/ },
  );
  assert.throws(
    () =>
      service.registerHandler(Busy, fixture("busy"), {
        worker: true,
        permissions: { network: true } as never,
      }),
    { message: /unknown worker permission 'network'/ },
  );
  assert.throws(
    () => service.registerHandler(Busy, fixture("busy"), { worker: true, graceMs: -1 }),
    { name: "RangeError", message: /graceMs must be a whole number of ms from 0 to 600000/ },
  );
  assert.deepEqual(service.taskTypes(), [], "nothing was registered");
  service.registerHandler(Busy, fixture("busy"), { worker: true });
  assert.deepEqual(service.taskTypes().map(({ name }) => name), ["Busy"]);
});

Deno.test("the runtime checks its workers options at start, and its stop ends every worker process", async () => {
  await assert.rejects(
    Runtime.start({ services: [new Service("lab")], workers: { size: 0 } }),
    { name: "RangeError", message: "workers.size must be a whole number from 1 to 256, got 0" },
  );
  const service = new Service("lab").registerHandler(Busy, fixture("busy"), { worker: true });
  const runtime = await startRuntime({ services: [service], workers: { size: 2 } });
  const client = runtime.client();
  await Promise.all([1, 2].map(() => client.execute("lab", Busy.create({ ms: 50 }))));
  const pids = runtime.workerPool.workers().map(({ pid }) => pid);
  assert.equal(pids.length, 2);
  await runtime.stop();
  for (const pid of pids) assert.equal(cpuTicks(pid), undefined, `worker ${pid} is gone`);
});

/** Events of task `id` of `kind`, as they come. */
function eventsOf<K extends TaskEvent["kind"]>(client: Client, kind: K) {
  const events: Extract<TaskEvent, { kind: K }>[] = [];
  const stop = client.watch((event) => {
    if (event.kind === kind) events.push(event as Extract<TaskEvent, { kind: K }>);
  });
  return { events, stop };
}

Deno.test("progress from an in-process handler: the record keeps the latest, watchers hear it at most every 100 ms, the last one always", async () => {
  const Fit = defineTask("Fit", { schema: z.object({}), parallel: true });
  const Bad = defineTask("Bad", { schema: z.object({ fraction: z.string() }), parallel: true });
  const gate = Promise.withResolvers<void>();
  const service = new Service("lab")
    .registerHandler(Fit, async (_fields, context) => {
      for (let i = 1; i <= 1_000; i++) context.progress(i / 1_000 / 2, `round ${i}`);
      await gate.promise;
      context.log.info("fitted");
      context.progress(1, "x".repeat(5_000));
      return "done";
    })
    .registerHandler(Bad, ({ fraction }, context) => context.progress(Number(fraction)));
  await using runtime = await startRuntime({ services: [service] });
  const client = runtime.client();
  const { events, stop } = eventsOf(client, "progress");
  try {
    const fit = await client.request("lab", Fit.create({}));
    await until(
      async () => (await client.status(fit.taskId))?.progress?.fraction === 0.5,
      "the latest of the loop's reports is on the record",
    );
    const record = await client.status(fit.taskId);
    assert.equal(record?.progress?.message, "round 1000");
    const whileWaiting = events.filter(({ id }) => id === fit.taskId);
    assert.ok(whileWaiting.length < 10, `1 000 reports made ${whileWaiting.length} events`);
    assert.equal(whileWaiting.at(-1)?.progress.fraction, 0.5, "the latest value won");

    gate.resolve();
    assert.equal((await fit.outcome).status, "ok");
    const ended = await client.status(fit.taskId);
    assert.equal(ended?.progress?.fraction, 1, "the last report before the end is kept");
    const message = ended?.progress?.message ?? "";
    assert.ok(message.length <= 1_000, `a long message is cut: ${message.length} characters`);
    assert.match(message, /characters cut/);
    assert.equal(events.filter(({ id }) => id === fit.taskId).at(-1)?.progress.fraction, 1);

    for (const fraction of ["1.5", "-0.1", "NaN"]) {
      const bad = await (await client.request("lab", Bad.create({ fraction }))).outcome;
      assert.deepEqual(
        bad.status === "error" && [bad.ename, bad.evalue],
        ["RangeError", `progress fraction must be a number from 0 to 1, got ${fraction}`],
      );
    }
  } finally {
    stop();
  }
});

Deno.test("progress from a worker handler takes the same path: the record and the events", async () => {
  const Steps = defineTask("Steps", { schema: z.object({ steps: z.number() }), parallel: true });
  const service = new Service("lab").registerHandler(Steps, fixture("progress"), { worker: true });
  await using runtime = await startRuntime({ services: [service] });
  const client = runtime.client();
  const { events, stop } = eventsOf(client, "progress");
  try {
    const steps = await client.request("lab", Steps.create({ steps: 3 }));
    assert.equal((await steps.outcome).status, "ok");
    await until(() => events.length === 3, "three progress events");
    assert.deepEqual(
      events.map(({ id, progress }) => [id, progress.fraction, progress.message]),
      [1, 2, 3].map((step) => [steps.taskId, step / 3, `step ${step} of 3`]),
    );
    const record = await client.status(steps.taskId);
    assert.deepEqual(
      [record?.progress?.fraction, record?.progress?.message],
      [1, "step 3 of 3"],
    );
  } finally {
    stop();
  }
});

Deno.test("context.client: tasks a handler submits (alone, executed, in a graph) name its task as their parent", async () => {
  const Parent = defineTask("Parent", { schema: z.object({}), parallel: true });
  const Child = defineTask("Child", { schema: z.object({ n: z.number() }), parallel: true });
  const service = new Service("lab")
    .registerHandler(Parent, async (_fields, { client }) => {
      const first = await client.request("lab", Child.create({ n: 1 }));
      const second = await client.request("lab", { type: "Child", fields: { n: 2 } });
      const doubled = await client.execute("lab", Child.create({ n: 21 }));
      const graph = await client.submitGraph({
        a: { service: "lab", task: Child.create({ n: 3 }) },
        b: { service: "lab", task: Child.create({ n: 4 }), after: ["a"] },
      });
      return { ids: [first.taskId, second.taskId, graph.a, graph.b], doubled };
    })
    .registerHandler(Child, ({ n }) => n * 2);
  await using runtime = await startRuntime({ services: [service] });
  const client = runtime.client();
  const parent = await client.request("lab", Parent.create({}));
  const outcome = await parent.outcome;
  assert.equal(outcome.status, "ok");
  const { ids, doubled } = (outcome.status === "ok" ? outcome.result : {}) as {
    ids: string[];
    doubled: number;
  };
  assert.equal(doubled, 42);
  assert.equal(ids.length, 4);
  for (const id of ids) {
    assert.equal((await client.outcome(id))?.status, "ok");
    assert.equal((await client.status(id))?.parent, parent.taskId, `task ${id} names its parent`);
  }
  const children = (await client.tasks({ type: "Child" })).records;
  assert.equal(children.length, 5);
  assert.ok(children.every((child) => child.parent === parent.taskId));
  assert.equal((await client.status(parent.taskId))?.parent, undefined);
});

const Hang = defineTask("Hang", { schema: z.object({}), parallel: false, timeoutMs: 100 });
const Quick = defineTask("Quick", { schema: z.object({}), parallel: false });

/** A service whose `Hang` handler ignores its signal until `returns` is resolved. */
function hangingService(returns: Promise<void>) {
  return new Service("plain")
    .registerHandler(Hang, async () => {
      await returns;
      return "returned at last";
    })
    .registerHandler(Quick, () => "quick");
}

Deno.test("a plain handler that ignores its signal: its service shows stuck (task, since), an event says so, and release frees the lane (logged)", async () => {
  const returns = Promise.withResolvers<void>();
  await using runtime = await startRuntime({
    services: [hangingService(returns.promise)],
    manager: { abortGraceMs: 200 },
  });
  const client = runtime.client();
  const { events, stop } = eventsOf(client, "service");
  try {
    const hang = await client.request("plain", Hang.create({}));
    const quick = await client.request("plain", Quick.create({}));
    const outcome = await hang.outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "TimeoutError");

    await until(async () => (await client.services())[0].state === "stuck", "the lane is stuck");
    const [plain] = await client.services();
    assert.equal(plain.stuck?.taskId, hang.taskId);
    assert.equal(typeof plain.stuck?.since, "number");
    assert.equal(plain.queued, 1);
    assert.equal((await client.status(quick.taskId))?.state, "queued", "the lane stays held");
    await until(
      () => events.some(({ service }) => service.state === "stuck"),
      "a service event says stuck",
    );
    assert.deepEqual(
      events.find(({ service }) => service.state === "stuck")?.service.stuck,
      plain.stuck,
    );
    const record = await client.status(hang.taskId);
    assert.ok(
      record?.log.some(({ message }) =>
        /did not return within 200 ms.*service 'plain' stays held until it returns, or release\('plain'\)/
          .test(message)
      ),
      JSON.stringify(record?.log),
    );

    assert.equal(await client.release("plain"), true);
    assert.equal((await quick.outcome).status, "ok", "the next task runs once released");
    const [released] = await client.services();
    assert.equal(released.state, "running");
    assert.equal(released.stuck, undefined);
    assert.ok(
      (await client.status(hang.taskId))?.log.some(({ message }) =>
        message === "service 'plain' was released by an operator while this handler still ran"
      ),
      "the release is logged on the stuck task's record",
    );
    await until(() => events.at(-1)?.service.state === "running", "a service event says running");
    assert.equal(await client.release("plain"), false, "a lane not stuck is not released");
    await assert.rejects(client.release("nowhere"), UnknownServiceError);

    returns.resolve(); // its late return changes nothing
    assert.equal(await client.execute("plain", Quick.create({})), "quick");
    assert.equal((await client.status(hang.taskId))?.state, "failed");
  } finally {
    stop();
    returns.resolve();
  }
});

Deno.test("a stuck lane frees itself when its handler returns at last", async () => {
  const returns = Promise.withResolvers<void>();
  await using runtime = await startRuntime({
    services: [hangingService(returns.promise)],
    manager: { abortGraceMs: 200 },
  });
  const client = runtime.client();
  const hang = await client.request("plain", Hang.create({}));
  const quick = await client.request("plain", Quick.create({}));
  await until(async () => (await client.services())[0].state === "stuck", "the lane is stuck");
  returns.resolve();
  assert.equal((await quick.outcome).status, "ok");
  const [plain] = await client.services();
  assert.equal(plain.state, "running");
  assert.equal((await client.status(hang.taskId))?.state, "failed");
});

import assert from "node:assert/strict";
import { z } from "zod";
import {
  defineTask,
  MemoryTaskStore,
  QueueFullError,
  Runtime,
  RuntimeStoppingError,
  Service,
  type TaskEvent,
  TaskExecutionError,
  type TaskOutcome,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskTypeError,
} from "../src/mod.ts";
import { DEFAULT_MAX_QUEUED_PER_SERVICE } from "../src/manager/options.ts";
import { report } from "../src/service/service.ts";
import type { TaskRun } from "../src/task/protocol.ts";
import type { TaskRecord } from "../src/task/record.ts";
import { until } from "./helpers/poll.ts";

const Greeting = defineTask("Greeting", {
  schema: z.object({ greeting: z.string().default("Hello"), name: z.string().min(1) }),
  parallel: true,
});
const SerialStep = defineTask("SerialStep", {
  schema: z.object({ label: z.string(), ms: z.number().int().min(0).default(0) }),
  parallel: false,
});
const ParallelStep = defineTask("ParallelStep", {
  schema: z.object({ label: z.string(), ms: z.number().int().min(0).default(0) }),
  parallel: true,
});
const Fail = defineTask("Fail", {
  schema: z.object({ how: z.enum(["throw", "reject", "type"]) }),
  parallel: true,
});
const Block = defineTask("Block", { schema: z.object({ key: z.string() }), parallel: false });
const ParallelBlock = defineTask("ParallelBlock", {
  schema: z.object({ key: z.string() }),
  parallel: true,
});
const Flaky = defineTask("Flaky", {
  schema: z.object({ failures: z.number().int() }),
  parallel: true,
  retries: 2,
  retryDelayMs: 5,
});
const Sleepy = defineTask("Sleepy", { schema: z.object({}), parallel: true, timeoutMs: 50 });

/**
 * A handler's simulated work, or the interval of a poll: never a
 * synchronisation point (tests wait on gates, events, or poll to a deadline).
 */
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `promise`, or a failure naming `what` once `ms` have passed: a deadline
 * that only a hung test reaches, never a timed assertion.
 */
async function within<T>(promise: Promise<T>, what: string, ms = 30_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting for ${what} after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** A held task: resolved once its handler has started; opened by the test. */
interface Held {
  started: PromiseWithResolvers<void>;
  gate: PromiseWithResolvers<void>;
}

/** A service whose handlers record what ran when, and can be held open. */
class LabService extends Service {
  readonly events: string[] = [];
  active = 0;
  maxActive = 0;
  flakyCalls = 0;
  readonly #held = new Map<string, Held>();
  readonly #awaited: { event: string; seen: () => void }[] = [];

  constructor(name = "lab") {
    super(name);
    this.registerHandler(Greeting, this.greet);
    this.registerHandler(SerialStep, (task) => this.step(task));
    this.registerHandler(ParallelStep, (task) => this.step(task));
    this.registerHandler(Fail, ({ how }) => {
      if (how === "throw") throw new RangeError("thrown on purpose");
      if (how === "reject") return Promise.reject(new Error("rejected on purpose"));
      return (null as unknown as { x: number }).x; // a genuine TypeError
    });
    const block = async ({ key }: { key: string }, context: { signal: AbortSignal }) => {
      const held = this.#heldAs(key);
      this.#record(`start ${key}`);
      held.started.resolve();
      context.signal.addEventListener("abort", () => held.gate.resolve());
      await held.gate.promise;
      this.#record(`end ${key}`);
      return key;
    };
    this.registerHandler(Block, block);
    this.registerHandler(ParallelBlock, block);
    this.registerHandler(Flaky, ({ failures }, context) => {
      this.flakyCalls++;
      if (context.attempt <= failures) throw new Error(`attempt ${context.attempt} failed`);
      return context.attempt;
    });
    this.registerHandler(Sleepy, async (_fields, context) => {
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      this.#record(`sleepy aborted: ${context.signal.reason?.name}`);
      return "late";
    });
  }

  greet(task: { greeting: string; name: string }): string {
    return `${task.greeting} ${task.name} from ${this.name}`;
  }

  async step(task: { label: string; ms: number }): Promise<string> {
    this.#record(`start ${task.label}`);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    await pause(task.ms);
    this.active--;
    this.#record(`end ${task.label}`);
    return task.label;
  }

  /** Once the held task `key` has started: the gate that lets it end. */
  async waitForGate(key: string): Promise<PromiseWithResolvers<void>> {
    const held = this.#heldAs(key);
    await within(held.started.promise, `the held task '${key}' to start`);
    return held.gate;
  }

  /** Resolves once `event` has happened (at once if it has). */
  seen(event: string): Promise<void> {
    if (this.events.includes(event)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#awaited.push({ event, seen: resolve });
    return within(promise, `'${event}'`);
  }

  #heldAs(key: string): Held {
    let held = this.#held.get(key);
    if (!held) {
      held = { started: Promise.withResolvers(), gate: Promise.withResolvers() };
      this.#held.set(key, held);
    }
    return held;
  }

  #record(event: string): void {
    this.events.push(event);
    for (const awaited of this.#awaited) if (awaited.event === event) awaited.seen();
  }
}

async function withRuntime(fn: (runtime: Runtime, lab: LabService) => Promise<void>) {
  const lab = new LabService();
  const runtime = await Runtime.start({ services: [lab] });
  try {
    await fn(runtime, lab);
  } finally {
    await runtime.stop();
  }
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

Deno.test("request gives a UUID at once and the outcome later; execute returns the value", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    const request = await client.request("lab", Greeting.create({ name: "Extension Developer" }));
    assert.match(request.taskId, UUID);
    assert.deepEqual(await request.outcome, {
      status: "ok",
      id: request.taskId,
      result: "Hello Extension Developer from lab",
    });
    assert.equal(
      await client.execute("lab", Greeting.create({ name: "Ada" })),
      "Hello Ada from lab",
    );
  });
});

Deno.test("the task id is known before the task runs", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const request = await client.request("lab", Block.create({ key: "early" }));
    assert.match(request.taskId, UUID);
    const record = await client.status(request.taskId);
    assert.ok(record && ["queued", "running"].includes(record.state));
    (await lab.waitForGate("early")).resolve();
    assert.equal((await request.outcome).status, "ok");
  });
});

Deno.test("attributes are kept on the task record, with timestamps and a log", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    const request = await client.request("lab", Greeting.create({ name: "Ada" }), {
      attributes: { user: "ada", priority: 3 },
    });
    await request.outcome;
    const record = await client.status(request.taskId);
    assert.ok(record);
    assert.deepEqual(record.attributes, { user: "ada", priority: 3 });
    assert.equal(record.state, "succeeded");
    assert.equal(record.service, "lab");
    assert.equal(record.type, "Greeting");
    assert.equal(record.attempts, 1);
    assert.ok(record.createdAt <= (record.startedAt ?? 0));
    assert.ok((record.startedAt ?? 0) <= (record.finishedAt ?? 0));
    // The log holds what happened after the task was queued at createdAt.
    assert.deepEqual(record.log.map((entry) => entry.state), ["running", "succeeded"]);
    assert.ok(record.createdAt <= record.log[0].at);
    assert.deepEqual(record.outcome, await request.outcome);
  });
});

Deno.test("a waiting serial task: its status, a wait by id, a cancel, and the list", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const holder = await client.request("lab", Block.create({ key: "hold" }));
    const waiting = await Promise.all(
      ["w1", "w2", "w3"].map((label) => client.request("lab", SerialStep.create({ label }))),
    );
    await lab.waitForGate("hold");
    const status = await client.status(waiting[1].taskId);
    assert.equal(status?.state, "queued");
    assert.deepEqual(status?.log, []);
    // Waiters by id on queued tasks: one is told of the cancel, one of the result.
    const cancelledByWait = client.outcome(waiting[1].taskId);
    const okByWait = client.outcome(waiting[2].taskId);
    assert.equal(await client.cancel(waiting[1].taskId), true);
    const cancelled = await cancelledByWait;
    assert.equal(cancelled?.status === "error" && cancelled.ename, "CancelledError");
    assert.deepEqual(await waiting[1].outcome, cancelled);
    // The list is newest first; the cancelled task is in it once, with its new state.
    const listed = (await client.tasks({ service: "lab" })).records;
    assert.deepEqual(listed.slice(0, 4).map((r) => r.id), [
      waiting[2].taskId,
      waiting[1].taskId,
      waiting[0].taskId,
      holder.taskId,
    ]);
    assert.equal(listed[1].state, "cancelled");
    assert.equal(listed.filter((r) => r.id === waiting[1].taskId).length, 1);
    (await lab.waitForGate("hold")).resolve();
    assert.equal((await okByWait)?.status, "ok");
    assert.equal((await waiting[0].outcome).status, "ok");
    assert.deepEqual(lab.events.filter((e) => e.startsWith("start w")), ["start w1", "start w3"]);
  });
});

Deno.test("a serial task holds the next one; parallel tasks overtake it", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const holding = await client.request("lab", Block.create({ key: "serial-1" }));
    const next = await client.request("lab", SerialStep.create({ label: "serial-2" }));
    const fast = await client.request("lab", ParallelStep.create({ label: "parallel" }));
    const gate = await lab.waitForGate("serial-1");
    // While serial-1 holds the service, the parallel task runs to its end; serial-2 waits.
    assert.equal((await fast.outcome).status, "ok");
    assert.equal((await client.status(next.taskId))?.state, "queued");
    gate.resolve();
    await Promise.all([holding.outcome, next.outcome]);
    assert.deepEqual(lab.events, [
      "start serial-1",
      "start parallel",
      "end parallel",
      "end serial-1",
      "start serial-2",
      "end serial-2",
    ]);
  });
});

Deno.test("serial tasks run one at a time in FIFO order, whatever their outcome", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const requests = [];
    for (let i = 0; i < 10; i++) {
      requests.push(await client.request("lab", SerialStep.create({ label: `s${i}`, ms: i % 3 })));
      if (i === 4) requests.push(await client.request("lab", Block.create({ key: "mid" })));
    }
    (await lab.waitForGate("mid")).reject(new Error("mid failed"));
    await Promise.all(requests.map((r) => r.outcome));
    const starts = lab.events.filter((e) => e.startsWith("start")).map((e) => e.slice(6));
    assert.deepEqual(starts, ["s0", "s1", "s2", "s3", "s4", "mid", "s5", "s6", "s7", "s8", "s9"]);
    assert.equal(lab.maxActive, 1);
    assert.equal((await requests[5].outcome).status, "error");
  });
});

Deno.test("N parallel tasks run at the same time", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const keys = Array.from({ length: 20 }, (_, i) => `p${i}`);
    const requests = await Promise.all(
      keys.map((key) => client.request("lab", ParallelBlock.create({ key }))),
    );
    // Every handler has started and none can end before its gate opens: all 20 run at once.
    const gates = await Promise.all(keys.map((key) => lab.waitForGate(key)));
    assert.ok(!lab.events.some((event) => event.startsWith("end ")), lab.events.join(", "));
    assert.equal((await client.services())[0].running, keys.length);
    for (const gate of gates) gate.resolve();
    const outcomes = await Promise.all(requests.map((request) => request.outcome));
    assert.deepEqual(outcomes.map((outcome) => outcome.status === "ok" && outcome.result), keys);
  });
});

Deno.test("a thrown error, a rejected promise and a TypeError become error outcomes", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    const thrown = await (await client.request("lab", Fail.create({ how: "throw" }))).outcome;
    assert.equal(thrown.status, "error");
    assert.equal(thrown.status === "error" && thrown.ename, "RangeError");
    assert.equal(thrown.status === "error" && thrown.evalue, "thrown on purpose");
    assert.match(thrown.status === "error" ? thrown.traceback : "", /manager_test\.ts/);
    const rejected = await (await client.request("lab", Fail.create({ how: "reject" }))).outcome;
    assert.equal(rejected.status === "error" && rejected.evalue, "rejected on purpose");
    await assert.rejects(
      client.execute("lab", Fail.create({ how: "type" })),
      (error: unknown) => error instanceof TaskExecutionError && error.ename === "TypeError",
    );
    // and the service keeps serving
    assert.equal(
      await client.execute("lab", Greeting.create({ name: "still here" })),
      "Hello still here from lab",
    );
  });
});

Deno.test("create() validates, applies defaults, and names every bad field", () => {
  assert.deepEqual(Greeting.create({ name: "Ada" }).fields, { greeting: "Hello", name: "Ada" });
  assert.throws(
    () => Greeting.create({ name: "", greeting: 5 as unknown as string }),
    (error: unknown) => {
      assert.ok(error instanceof TaskValidationError);
      assert.deepEqual(error.issues.map((i) => i.path).sort(), ["greeting", "name"]);
      assert.match(error.message, /^invalid Greeting: /);
      assert.match(error.message, /greeting: .*expected string/i);
      return true;
    },
  );
});

Deno.test("raw fields are validated at the door: a TaskValidationError, no task, nothing run", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const refused = await client.request("lab", {
      type: "SerialStep",
      fields: { label: 3, ms: -1 },
    }).then(() => undefined, (error) => error);
    assert.ok(refused instanceof TaskValidationError, `got ${refused}`);
    assert.match(refused.message, /label: .*expected string/i);
    assert.match(refused.message, /ms: /);
    assert.deepEqual(refused.issues.map((issue: { path: string }) => issue.path), ["label", "ms"]);
    assert.deepEqual((await client.tasks()).records, [], "no task was made");
    assert.deepEqual(lab.events, []);
    // valid raw fields get defaults applied
    assert.equal(
      await client.execute("lab", { type: "SerialStep", fields: { label: "ok" } }),
      "ok",
    );
  });
});

Deno.test("a schema whose refine throws is a refusal, not a crash or a hang", async () => {
  const Touchy = defineTask("Touchy", {
    schema: z.object({
      x: z.number().refine(() => {
        throw new Error("refine blew up");
      }),
    }),
    parallel: true,
  });
  const service = new Service("touchy").registerHandler(Touchy, () => "ran");
  const runtime = await Runtime.start({ services: [service] });
  try {
    const client = runtime.client();
    assert.throws(
      () => Touchy.create({ x: 1 }),
      /invalid Touchy: schema check threw: refine blew up/,
    );
    await assert.rejects(
      client.request("touchy", { type: "Touchy", fields: { x: 1 } }),
      (error) => error instanceof TaskValidationError && /refine blew up/.test(error.message),
    );
    // and the manager keeps serving
    await assert.rejects(
      client.execute("touchy", { type: "Touchy", fields: {} }),
      TaskValidationError,
    );
  } finally {
    await runtime.stop();
  }
});

Deno.test("unknown service and unknown task type: clear refusals naming them", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    await assert.rejects(
      client.request("nope", Greeting.create({ name: "x" })),
      (error) =>
        error instanceof UnknownServiceError &&
        /no service named 'nope' \(services: lab\)/.test(error.message),
    );
    await assert.rejects(
      client.execute("lab", { type: "Mystery", fields: {} }),
      (error) => error instanceof UnknownTaskTypeError && /'Mystery'.*Greeting/.test(error.message),
    );
  });
});

Deno.test("bad arguments to the client are refused clearly", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    await assert.rejects(client.request("", Greeting.create({ name: "x" })), /service must be/);
    await assert.rejects(client.execute("lab", "Greeting" as never), /task must be/);
    await assert.rejects(
      client.request("lab", Greeting.create({ name: "x" }), { attributes: [] as never }),
      (error) =>
        error instanceof TaskValidationError &&
        /attributes: must be a plain object/.test(error.message),
    );
  });
});

Deno.test("stopping the runtime ends running and queued tasks with a clear error", async () => {
  const lab = new LabService();
  const runtime = await Runtime.start({ services: [lab] });
  const client = runtime.client();
  const running = await client.request("lab", Block.create({ key: "held" }));
  const queued = await Promise.all(
    [1, 2, 3].map((i) => client.request("lab", SerialStep.create({ label: `q${i}` }))),
  );
  await lab.waitForGate("held");
  await runtime.stop();
  for (const request of [running, ...queued]) {
    const outcome = await request.outcome;
    assert.equal(outcome.status, "error");
    assert.equal(
      outcome.status === "error" && outcome.ename,
      "ServiceStoppedError",
      JSON.stringify(outcome),
    );
  }
  assert.ok(!lab.events.some((e) => e.startsWith("start q")), "queued tasks never ran");
  const late = await client.request("lab", Greeting.create({ name: "late" })).catch((e) => e);
  assert.ok(late instanceof RuntimeStoppingError, String(late));
  assert.match(String(late), /runtime stopped/);
});

Deno.test("cancel: a queued task never runs, a running one sees its signal abort", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const first = await client.request("lab", Block.create({ key: "first" }));
    const second = await client.request("lab", SerialStep.create({ label: "second" }));
    const third = await client.request("lab", SerialStep.create({ label: "third" }));
    await lab.waitForGate("first");
    assert.equal(await client.cancel(second.taskId), true);
    assert.equal(await client.cancel(first.taskId), true);
    assert.equal(
      (await first.outcome).status === "error" && (await first.outcome as { ename: string }).ename,
      "CancelledError",
    );
    assert.equal((await second.outcome as { ename: string }).ename, "CancelledError");
    assert.equal(await third.outcome.then((o) => o.status), "ok");
    assert.ok(!lab.events.includes("start second"));
    assert.equal((await client.status(second.taskId))?.state, "cancelled");
    assert.equal(await client.cancel(second.taskId), false, "already ended");
    assert.equal(await client.cancel("no-such-id"), false);
  });
});

Deno.test("timeout: the task ends with TimeoutError and the handler's signal aborts", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const outcome = await (await client.request("lab", Sleepy.create({}))).outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "TimeoutError");
    assert.match(outcome.status === "error" ? outcome.evalue : "", /timeout of 50 ms/);
    await lab.seen("sleepy aborted: TimeoutError");
    assert.deepEqual(lab.events, ["sleepy aborted: TimeoutError"]);
    // a per-request timeout overrides the type's
    const quick = await (await client.request("lab", Block.create({ key: "t" }), { timeoutMs: 20 }))
      .outcome;
    assert.equal(quick.status === "error" && quick.ename, "TimeoutError");
  });
});

Deno.test("retries: a failing task is attempted again, up to its limit", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    assert.equal(await client.execute("lab", Flaky.create({ failures: 2 })), 3);
    const request = await client.request("lab", Flaky.create({ failures: 5 }));
    const outcome = await request.outcome;
    assert.equal(outcome.status === "error" && outcome.evalue, "attempt 3 failed");
    const record = await client.status(request.taskId);
    assert.equal(record?.attempts, 3);
    assert.equal(lab.flakyCalls, 6);
    assert.ok(record?.log.some((entry) => /retry in 5 ms/.test(entry.message)));
  });
});

Deno.test("outcome by id: wait for a running task, or read a finished one", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const request = await client.request("lab", Block.create({ key: "later" }));
    const waiting = client.outcome(request.taskId);
    (await lab.waitForGate("later")).resolve();
    assert.deepEqual(await waiting, await request.outcome);
    assert.deepEqual(await client.outcome(request.taskId), await request.outcome);
    assert.equal(await client.outcome("unknown-id"), undefined);
  });
});

Deno.test("handlers log to the task record; events follow every state change", async () => {
  const Logged = defineTask("Logged", { schema: z.object({}), parallel: true });
  const service = new Service("logger").registerHandler(Logged, (_f, context) => {
    context.log.info("step one");
    context.log.warn("careful");
    return context.taskId;
  });
  const runtime = await Runtime.start({ services: [service] });
  try {
    const client = runtime.client();
    const events: TaskEvent[] = [];
    const ended = Promise.withResolvers<void>();
    const stop = client.watch((event) => {
      events.push(event);
      if (event.kind === "task" && event.record.state === "succeeded") ended.resolve();
    });
    const request = await client.request("logger", Logged.create({}));
    assert.equal(
      (await request.outcome).status === "ok" &&
        (await request.outcome as { result: string }).result,
      request.taskId,
    );
    await within(ended.promise, "the succeeded event");
    stop();
    const record = await client.status(request.taskId);
    assert.deepEqual(
      record?.log.filter((e) => !e.state).map((e) => `${e.level}: ${e.message}`),
      ["info: step one", "warn: careful"],
    );
    const states = events.flatMap((e) =>
      e.kind === "task" && e.record.id === request.taskId ? [e.record.state] : []
    );
    // Every task's first event is `queued`, parallel ones too.
    assert.deepEqual(states, ["queued", "running", "succeeded"]);
    assert.equal(events.filter((e) => e.kind === "log").length, 2);
  } finally {
    await runtime.stop();
  }
});

Deno.test("services list their task types with JSON Schemas and queue depths", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const held = await client.request("lab", Block.create({ key: "hold" }));
    await client.request("lab", SerialStep.create({ label: "waiting" }));
    await lab.waitForGate("hold");
    const [info] = await client.services();
    assert.equal(info.name, "lab");
    assert.equal(info.state, "running");
    assert.equal(info.queued, 1);
    assert.equal(info.running, 1);
    const greeting = info.taskTypes.find((t) => t.name === "Greeting");
    assert.equal(greeting?.parallel, true);
    assert.deepEqual((greeting?.schema as { required: string[] }).required, ["name"]);
    assert.equal(
      (greeting?.schema as { properties: Record<string, { default?: string }> }).properties.greeting
        .default,
      "Hello",
    );
    (await lab.waitForGate("hold")).resolve();
    await held.outcome;
  });
});

Deno.test("registering a handler twice, or two services with one name, is an error", async () => {
  const service = new Service("twice").registerHandler(Greeting, () => "a");
  assert.throws(
    () => service.registerHandler(Greeting, () => "b"),
    /already has a handler for task type 'Greeting'/,
  );
  assert.throws(() => new Service("bad name!"), /service name 'bad name!'/);
  await assert.rejects(
    Runtime.start({ services: [new Service("same"), new Service("same")] }),
    /two services are named 'same'/,
  );
});

Deno.test("a service that fails to start fails Runtime.start, and the others are stopped", async () => {
  const stopped: string[] = [];
  class Good extends Service {
    override stop() {
      stopped.push(this.name);
    }
  }
  class Bad extends Service {
    override start(): Promise<void> {
      return Promise.reject(new Error("instrument not connected"));
    }
  }
  await assert.rejects(
    Runtime.start({ services: [new Good("good"), new Bad("bad")] }),
    /instrument not connected/,
  );
  assert.deepEqual(stopped, ["good"]);
});

Deno.test("retention: finished records beyond the limit are forgotten, oldest first", async () => {
  const lab = new LabService();
  const runtime = await Runtime.start({
    services: [lab],
    retention: { maxRecords: 5 },
  });
  try {
    const client = runtime.client();
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const request = await client.request("lab", Greeting.create({ name: `n${i}` }));
      await request.outcome;
      ids.push(request.taskId);
    }
    assert.equal(await client.status(ids[0]), undefined);
    assert.equal(await client.status(ids[2]), undefined);
    assert.equal((await client.status(ids[3]))?.state, "succeeded");
    assert.equal((await client.tasks()).records.length, 5);
  } finally {
    await runtime.stop();
  }
});

Deno.test("backpressure: a full serial queue refuses more with QueueFullError, and no task", async () => {
  assert.equal(DEFAULT_MAX_QUEUED_PER_SERVICE, 100_000);
  const lab = new LabService();
  const runtime = await Runtime.start({ services: [lab], manager: { maxQueuedPerService: 2 } });
  try {
    const client = runtime.client();
    const held = await client.request("lab", Block.create({ key: "bp" }));
    await client.request("lab", SerialStep.create({ label: "a" }));
    await client.request("lab", SerialStep.create({ label: "b" }));
    const before = (await client.tasks()).records.length;
    await assert.rejects(
      client.request("lab", SerialStep.create({ label: "c" })),
      (error: unknown) => {
        assert.ok(error instanceof QueueFullError, String(error));
        assert.match(error.message, /service 'lab' has 2 serial tasks waiting \(limit 2\)/);
        return true;
      },
    );
    await assert.rejects(client.execute("lab", SerialStep.create({ label: "d" })), QueueFullError);
    assert.equal((await client.tasks()).records.length, before, "a refused request makes no task");
    // Parallel tasks do not queue in the lane: still accepted.
    assert.equal(await client.execute("lab", Greeting.create({ name: "x" })), "Hello x from lab");
    (await lab.waitForGate("bp")).resolve();
    await held.outcome;
  } finally {
    await runtime.stop();
  }
});

/** `outcome` as an error outcome (fails the test if it is not one). */
function errorOf(outcome: TaskOutcome) {
  assert.equal(outcome.status, "error", JSON.stringify(outcome).slice(0, 300));
  return outcome as Extract<TaskOutcome, { status: "error" }>;
}

/** `[[[…]]]`, `levels` deep. */
const nested = (levels: number): unknown => JSON.parse("[".repeat(levels) + "]".repeat(levels));

Deno.test("request() resolves with the id before even a synchronous handler runs", async () => {
  const seen: string[] = [];
  const Now = defineTask("Now", { schema: z.object({}), parallel: true });
  const NowSerial = defineTask("NowSerial", { schema: z.object({}), parallel: false });
  const service = new Service("quick")
    .registerHandler(Now, (_fields, { taskId }) => seen.push(`handler ${taskId}`))
    .registerHandler(NowSerial, (_fields, { taskId }) => seen.push(`handler ${taskId}`));
  const runtime = await Runtime.start({ services: [service] });
  try {
    const client = runtime.client();
    for (const task of [Now.create({}), NowSerial.create({})]) {
      seen.length = 0;
      const request = await client.request("quick", task);
      seen.push(`id ${request.taskId}`);
      await request.outcome;
      assert.deepEqual(seen, [`id ${request.taskId}`, `handler ${request.taskId}`]);
    }
  } finally {
    await runtime.stop();
  }
});

Deno.test("expired records are removed on time, even when no other task ends", async () => {
  const lab = new LabService();
  const runtime = await Runtime.start({ services: [lab], retention: { ttlMs: 50 } });
  try {
    const client = runtime.client();
    const request = await client.request("lab", Greeting.create({ name: "brief" }));
    await request.outcome;
    assert.ok(await client.status(request.taskId), "kept until it expires");
    // Nothing else happens: the record must still go.
    await until(
      async () => await client.status(request.taskId) === undefined,
      "the record expires",
    );
    assert.equal(await client.outcome(request.taskId), undefined);
  } finally {
    await runtime.stop();
  }
});

Deno.test("durations: timeouts over 2³¹−1 ms, zero, negative or not finite are refused", async () => {
  for (const timeoutMs of [3_000_000_000, 0, -1, NaN, Infinity]) {
    assert.throws(
      () => defineTask("Slow", { schema: z.object({}), parallel: true, timeoutMs }),
      /task type 'Slow': timeoutMs must be/,
    );
  }
  assert.throws(
    () => defineTask("Slow", { schema: z.object({}), parallel: true, retryDelayMs: 2 ** 31 }),
    /retryDelayMs must be at most 2147483647 ms/,
  );
  assert.throws(
    () => defineTask("Slow", { schema: z.object({}), parallel: true, retries: -1 }),
    /task type 'Slow': retries.attempts must be a whole number from 0 to 100, got -1/,
  );
  await assert.rejects(
    Runtime.start({ services: [new LabService()], retention: { ttlMs: -5 } }),
    /retention\.ttlMs: expected a positive number of milliseconds, got -5/,
  );
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    for (const timeoutMs of [3_000_000_000, 0, -5, NaN, Infinity]) {
      await assert.rejects(
        client.request("lab", Block.create({ key: "t" }), { timeoutMs }),
        (error) =>
          error instanceof TaskValidationError &&
          /^invalid Block: timeoutMs: must be/.test(error.message),
      );
    }
    assert.deepEqual(lab.events, [], "nothing ran");
    // The longest allowed timeout works (and does not fire).
    const request = await client.request("lab", Block.create({ key: "long" }), {
      timeoutMs: 2 ** 31 - 1,
    });
    (await lab.waitForGate("long")).resolve();
    assert.equal((await request.outcome).status, "ok");
  });
});

Deno.test("nesting: deep fields and attributes are refused; every record stays readable", async () => {
  const Anything = defineTask("Anything", { schema: z.object({ x: z.any() }), parallel: true });
  const Deep = defineTask("Deep", { schema: z.object({}), parallel: true });
  const Cyclic = defineTask("Cyclic", { schema: z.object({}), parallel: true });
  const service = new Service("free")
    .registerHandler(Anything, ({ x }) => x)
    .registerHandler(Deep, () => nested(5_000))
    .registerHandler(Cyclic, () => {
      const loop: Record<string, unknown> = {};
      loop.self = loop;
      return loop;
    });
  const runtime = await Runtime.start({ services: [service] });
  try {
    const client = runtime.client();
    const ids: string[] = [];
    const refusals = [
      client.request("free", { type: "Anything", fields: { x: nested(5_000) } }),
      client.request("free", Anything.create({ x: nested(40) })),
      client.request("free", Anything.create({ x: 1 }), {
        attributes: { deep: nested(5_000) },
      }),
    ];
    for (const refused of refusals) {
      await assert.rejects(
        refused,
        (error) =>
          error instanceof TaskValidationError &&
          /nested deeper than the limit of 32 levels/.test(error.message),
      );
    }
    // 31 levels inside the fields object: 32 in all, at the limit.
    assert.deepEqual(
      await client.execute("free", Anything.create({ x: nested(31) })),
      nested(31),
    );
    for (const type of ["Deep", "Cyclic"]) {
      const request = await client.request("free", { type, fields: {} });
      const outcome = errorOf(await request.outcome);
      assert.equal(outcome.ename, "ResultTooLargeError");
      assert.match(outcome.evalue, /the result is nested deeper than the limit of 32 levels/);
      ids.push(request.taskId);
    }
    for (const id of ids) assert.equal((await client.status(id))?.state, "failed");
    assert.ok((await client.tasks()).records.length >= ids.length);
    JSON.stringify((await client.tasks({ limit: 1000 })).records);
  } finally {
    await runtime.stop();
  }
});

Deno.test("size: names, attributes, fields, results and logs are bounded per record", async () => {
  const Big = defineTask("Big", {
    schema: z.object({ kind: z.enum(["text", "object", "error", "log"]) }),
    parallel: true,
  });
  const Anything = defineTask("Anything", { schema: z.object({ x: z.any() }), parallel: true });
  const huge = "x".repeat(5_000_000);
  const service = new Service("big")
    .registerHandler(Anything, () => "ok")
    .registerHandler(Big, ({ kind }, context) => {
      if (kind === "text") return `start${huge}end`;
      if (kind === "object") return { data: huge };
      if (kind === "error") throw new RangeError(`bad${huge}`);
      for (let i = 0; i < 1_500; i++) context.log.info(i === 0 ? huge : `line ${i}`);
      return "logged";
    });
  const runtime = await Runtime.start({ services: [service] });
  try {
    const client = runtime.client();
    // A name over 200 characters is refused, and the refusal quotes only its start.
    const longName = "s".repeat(1 << 20);
    const named = await client.request(longName, { type: "Anything", fields: {} })
      .then(() => undefined, (error) => error);
    assert.ok(named instanceof TaskValidationError);
    assert.match(named.message, /service: 'sss.*' is 1048576 characters, over the limit of 200/);
    assert.ok(named.message.length < 500);
    // Attributes over 16 KiB, fields over 1 MiB: refused.
    await assert.rejects(
      client.request("big", Anything.create({ x: 1 }), {
        attributes: { note: "a".repeat(20_000) },
      }),
      /attributes: over the limit of 16,384 characters of JSON/,
    );
    await assert.rejects(
      client.request("big", { type: "Anything", fields: { x: huge } }),
      /the fields are over the limit of 1,048,576 characters/,
    );

    // A long text result keeps its head and tail, and says how much was cut.
    const text = await client.execute<string>("big", Big.create({ kind: "text" }));
    assert.ok(text.length <= 1024 * 1024, `${text.length}`);
    assert.ok(text.startsWith("startxxx") && text.endsWith("xxxend"));
    assert.match(text, /\n… \[[\d,]+ characters cut\] …\n/);
    // A result object over the limit is an error, not a record nobody can read.
    const object = errorOf(
      await (await client.request("big", Big.create({ kind: "object" }))).outcome,
    );
    assert.equal(object.ename, "ResultTooLargeError");
    assert.match(object.evalue, /over the limit of 1,048,576 characters of JSON/);
    const error = errorOf(
      await (await client.request("big", Big.create({ kind: "error" }))).outcome,
    );
    assert.ok(error.evalue.length <= 8 * 1024 && error.evalue.startsWith("badxxx"));
    assert.ok(error.traceback.length <= 64 * 1024);
    // A log keeps at most 1 000 lines, each at most 8 KiB.
    const logged = await client.request("big", Big.create({ kind: "log" }));
    await logged.outcome;
    // The outcome is told once the record is saved: its log is whole by then.
    const log = (await client.status(logged.taskId))?.log ?? [];
    assert.ok(log.length <= 1_003, `${log.length}`);
    assert.ok(log.every((entry) => entry.message.length <= 8 * 1024));
    assert.ok(log.some((entry) => /log limit of 1000 lines reached/.test(entry.message)));
  } finally {
    await runtime.stop();
  }
});

Deno.test("lists and events carry summaries: no fields, log or outcome, a brief", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    const events: TaskEvent[] = [];
    const unwatch = client.watch((event) => events.push(event));
    const ok = await client.request("lab", Greeting.create({ name: "Ada" }));
    const failed = await client.request("lab", Fail.create({ how: "throw" }));
    await Promise.all([ok.outcome, failed.outcome]);
    unwatch();
    const listed = (await client.tasks()).records;
    for (
      const record of [
        ...listed,
        ...events.flatMap((e) => e.kind === "task" ? [e.record] : []),
      ]
    ) {
      assert.ok(!("outcome" in record) && !("fields" in record) && !("log" in record));
    }
    const byId = new Map(listed.map((record) => [record.id, record]));
    assert.deepEqual(byId.get(ok.taskId)?.brief, { status: "ok", text: '"Hello Ada from lab"' });
    assert.deepEqual(byId.get(failed.taskId)?.brief, {
      status: "error",
      text: "RangeError: thrown on purpose",
    });
    // The whole record, by id.
    assert.deepEqual((await client.status(ok.taskId))?.outcome, await ok.outcome);
  });
});

Deno.test("waits given up and queued tasks cancelled: each one alone, the rest untouched", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const held = await client.request("lab", Block.create({ key: "hold" }));
    await lab.waitForGate("hold");
    const controllers = Array.from({ length: 20_000 }, () => new AbortController());
    const abandoned = controllers.map((controller) =>
      client.outcome(held.taskId, { signal: controller.signal }).catch(() => "gave up")
    );
    const kept = client.outcome(held.taskId);
    for (const controller of controllers) controller.abort();
    assert.ok((await Promise.all(abandoned)).every((result) => result === "gave up"));
    const queued = await Promise.all(
      Array.from(
        { length: 5_000 },
        (_, i) => client.request("lab", SerialStep.create({ label: `${i}` })),
      ),
    );
    // Newest first: the worst order for a queue searched from its head.
    for (const request of queued.toReversed()) {
      assert.equal(await client.cancel(request.taskId), true);
    }
    (await lab.waitForGate("hold")).resolve();
    assert.equal((await kept)?.status, "ok");
    assert.equal((await runtime.client().services())[0].queued, 0);
    assert.ok(!lab.events.some((event) => event.startsWith("start ") && event !== "start hold"));
  });
});

Deno.test("a task ended by its timeout keeps what its handler reports after (what the code printed)", async () => {
  const Chatty = defineTask("Chatty", { schema: z.object({}), parallel: false, timeoutMs: 30 });
  class Late extends Service {
    constructor() {
      super("late");
      this.registerHandler(Chatty, () => "unused");
    }
    override handle(run: TaskRun): Promise<void> {
      run.replyTo.tell({ kind: "started", id: run.id });
      // Like a kernel: told to stop, it reports what ran until then.
      return new Promise((resolve) =>
        run.control.signal.addEventListener("abort", () => {
          report(run, {
            status: "error",
            id: run.id,
            ename: "TimeoutError",
            evalue: "task exceeded its timeout of 30 ms",
            traceback: "KeyboardInterrupt",
            execution: {
              code: "work()",
              executionCount: 3,
              stdout: "working\n",
              stderr: "",
              displays: [],
            },
          });
          resolve();
        })
      );
    }
  }
  const runtime = await Runtime.start({ services: [new Late()] });
  try {
    const client = runtime.client();
    const request = await client.request("late", Chatty.create({}));
    assert.equal(errorOf(await request.outcome).ename, "TimeoutError");
    // The report comes after the timeout's outcome, within the grace period.
    let record = await client.status(request.taskId);
    await until(async () => {
      record = await client.status(request.taskId);
      return record?.outcome?.execution !== undefined;
    }, "the late report is in the record");
    const outcome = errorOf(record?.outcome as TaskOutcome);
    assert.equal(outcome.evalue, "task exceeded its timeout of 30 ms");
    assert.equal(outcome.traceback, "KeyboardInterrupt");
    assert.equal(outcome.execution?.stdout, "working\n");
  } finally {
    await runtime.stop();
  }
});

Deno.test("a running task's log lines are saved as they come, at most once a second, not only at its end", async () => {
  /** A memory store that keeps a copy of each record as it was put: what a file would hold. */
  class CopyingStore extends MemoryTaskStore {
    readonly saved = new Map<string, TaskRecord>();
    override put(record: TaskRecord): void {
      this.saved.set(record.id, structuredClone(record));
      super.put(record);
    }
  }
  const store = new CopyingStore();
  const Chatty = defineTask("Chatty", { schema: z.object({}), parallel: true });
  const release = Promise.withResolvers<void>();
  const lab = new Service("chatty").registerHandler(Chatty, async (_fields, context) => {
    context.log.info("first");
    context.log.info("second");
    await release.promise;
    context.log.info("last");
  });
  const runtime = await Runtime.start({ services: [lab], store });
  try {
    const task = await runtime.client().request("chatty", Chatty.create({}));
    const messages = () =>
      store.saved.get(task.taskId)?.log.filter((entry) => !entry.state).map((e) => e.message) ?? [];
    // The first line at once; the second within the interval after it.
    await until(() => messages().includes("first"), "the first line is saved");
    assert.equal(store.saved.get(task.taskId)?.state, "running");
    await until(() => messages().includes("second"), "the second line is saved");
    assert.equal(store.saved.get(task.taskId)?.state, "running");
    release.resolve();
    await task.outcome;
    assert.deepEqual(messages(), ["first", "second", "last"]);
  } finally {
    await runtime.stop();
  }
});

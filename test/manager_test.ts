import assert from "node:assert/strict";
import { z } from "zod";
import {
  defineTask,
  Runtime,
  Service,
  type TaskEvent,
  TaskExecutionError,
  TaskValidationError,
} from "../src/mod.ts";

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
const Flaky = defineTask("Flaky", {
  schema: z.object({ failures: z.number().int() }),
  parallel: true,
  retries: 2,
  retryDelayMs: 5,
});
const Sleepy = defineTask("Sleepy", { schema: z.object({}), parallel: true, timeoutMs: 50 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A service whose handlers record what ran when, and can be held open. */
class LabService extends Service {
  events: string[] = [];
  active = 0;
  maxActive = 0;
  gates = new Map<string, PromiseWithResolvers<void>>();
  flakyCalls = 0;

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
    this.registerHandler(Block, async ({ key }, context) => {
      this.events.push(`start ${key}`);
      const gate = Promise.withResolvers<void>();
      this.gates.set(key, gate);
      context.signal.addEventListener("abort", () => gate.resolve());
      await gate.promise;
      this.events.push(`end ${key}`);
      return key;
    });
    this.registerHandler(Flaky, ({ failures }, context) => {
      this.flakyCalls++;
      if (context.attempt <= failures) throw new Error(`attempt ${context.attempt} failed`);
      return context.attempt;
    });
    this.registerHandler(Sleepy, async (_fields, context) => {
      await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
      this.events.push(`sleepy aborted: ${context.signal.reason?.name}`);
      return "late";
    });
  }

  greet(task: { greeting: string; name: string }): string {
    return `${task.greeting} ${task.name} from ${this.name}`;
  }

  async step(task: { label: string; ms: number }): Promise<string> {
    this.events.push(`start ${task.label}`);
    this.maxActive = Math.max(this.maxActive, ++this.active);
    await sleep(task.ms);
    this.active--;
    this.events.push(`end ${task.label}`);
    return task.label;
  }

  async waitForGate(key: string): Promise<PromiseWithResolvers<void>> {
    while (!this.gates.has(key)) await sleep(1);
    return this.gates.get(key) as PromiseWithResolvers<void>;
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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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
    // Live tasks come first in the list, newest first.
    const listed = (await client.tasks({ service: "lab" })).map((r) => r.id);
    assert.deepEqual(listed.slice(0, 3), [waiting[2].taskId, waiting[0].taskId, holder.taskId]);
    assert.ok(listed.indexOf(waiting[1].taskId) > 2, "the cancelled task is listed once, after");
    assert.equal(listed.filter((id) => id === waiting[1].taskId).length, 1);
    (await lab.waitForGate("hold")).resolve();
    assert.equal((await okByWait)?.status, "ok");
    assert.equal((await waiting[0].outcome).status, "ok");
    assert.deepEqual(lab.events.filter((e) => e.startsWith("start w")), ["start w1", "start w3"]);
  });
});

Deno.test("a slow serial task holds the next one; parallel tasks overtake it", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const slow = await client.request("lab", SerialStep.create({ label: "serial-1", ms: 80 }));
    const next = await client.request("lab", SerialStep.create({ label: "serial-2" }));
    const fast = await client.request("lab", ParallelStep.create({ label: "parallel" }));
    await Promise.all([slow.outcome, next.outcome, fast.outcome]);
    const order = lab.events;
    assert.ok(order.indexOf("end parallel") < order.indexOf("end serial-1"), order.join(", "));
    assert.ok(order.indexOf("end serial-1") < order.indexOf("start serial-2"), order.join(", "));
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
    const n = 20;
    const results = await Promise.all(
      Array.from(
        { length: n },
        (_, i) => client.execute("lab", ParallelStep.create({ label: `p${i}`, ms: 50 })),
      ),
    );
    assert.equal(results.length, n);
    assert.equal(lab.maxActive, n);
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

Deno.test("raw fields are validated by the manager: an immediate error outcome, nothing run", async () => {
  await withRuntime(async (runtime, lab) => {
    const client = runtime.client();
    const request = await client.request("lab", {
      type: "SerialStep",
      fields: { label: 3, ms: -1 },
    });
    const outcome = await request.outcome;
    assert.equal(outcome.status, "error");
    if (outcome.status !== "error") return;
    assert.equal(outcome.ename, "TaskValidationError");
    assert.match(outcome.evalue, /label: .*expected string/i);
    assert.match(outcome.evalue, /ms: /);
    assert.equal((await client.status(request.taskId))?.state, "failed");
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
    const outcome = await (await client.request("touchy", { type: "Touchy", fields: { x: 1 } }))
      .outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "TaskValidationError");
    assert.match(outcome.status === "error" ? outcome.evalue : "", /refine blew up/);
    // and the manager keeps serving
    const again = await (await client.request("touchy", { type: "Touchy", fields: {} })).outcome;
    assert.equal(again.status === "error" && again.ename, "TaskValidationError");
  } finally {
    await runtime.stop();
  }
});

Deno.test("unknown service and unknown task type: clear error outcomes naming them", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    const noService = await (await client.request("nope", Greeting.create({ name: "x" }))).outcome;
    assert.equal(noService.status === "error" && noService.ename, "UnknownServiceError");
    assert.match(
      noService.status === "error" ? noService.evalue : "",
      /no service named 'nope' \(services: lab\)/,
    );
    const noType = await (await client.request("lab", { type: "Mystery", fields: {} })).outcome;
    assert.equal(noType.status === "error" && noType.ename, "UnknownTaskTypeError");
    assert.match(noType.status === "error" ? noType.evalue : "", /'Mystery'.*Greeting/);
  });
});

Deno.test("bad arguments to the client throw a clear TypeError", async () => {
  await withRuntime(async (runtime) => {
    const client = runtime.client();
    await assert.rejects(client.request("", Greeting.create({ name: "x" })), /service must be/);
    await assert.rejects(client.execute("lab", "Greeting" as never), /task must be/);
    await assert.rejects(
      client.request("lab", Greeting.create({ name: "x" }), { attributes: [] as never }),
      /attributes must be a plain object/,
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
    while (!lab.events.length) await sleep(1);
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
    const stop = client.watch((event) => events.push(event));
    const request = await client.request("logger", Logged.create({}));
    assert.equal(
      (await request.outcome).status === "ok" &&
        (await request.outcome as { result: string }).result,
      request.taskId,
    );
    await sleep(5);
    stop();
    const record = await client.status(request.taskId);
    assert.deepEqual(
      record?.log.filter((e) => !e.state).map((e) => `${e.level}: ${e.message}`),
      ["info: step one", "warn: careful"],
    );
    const states = events.flatMap((e) =>
      e.kind === "task" && e.record.id === request.taskId ? [e.record.state] : []
    );
    assert.deepEqual(states, ["running", "succeeded"]);
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
    lab.gates.get("hold")?.resolve();
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
    manager: { retention: { maxRecords: 5 } },
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
    assert.equal((await client.tasks()).length, 5);
  } finally {
    await runtime.stop();
  }
});

Deno.test("backpressure: a full serial queue refuses more with QueueFullError", async () => {
  const lab = new LabService();
  const runtime = await Runtime.start({ services: [lab], manager: { maxQueuedPerService: 2 } });
  try {
    const client = runtime.client();
    const held = await client.request("lab", Block.create({ key: "bp" }));
    await client.request("lab", SerialStep.create({ label: "a" }));
    await client.request("lab", SerialStep.create({ label: "b" }));
    const refused = await (await client.request("lab", SerialStep.create({ label: "c" }))).outcome;
    assert.equal(refused.status === "error" && refused.ename, "QueueFullError");
    (await lab.waitForGate("bp")).resolve();
    await held.outcome;
  } finally {
    await runtime.stop();
  }
});

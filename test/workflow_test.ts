/**
 * Workflows through the in-process runtime: dependencies (chains, fan-out
 * and fan-in across services, failure passed on), graphs submitted by
 * names, expiry, priorities, idempotency keys, delete and re-run, backoff,
 * schedules — each with its bad inputs.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  defineTask,
  Runtime,
  type RuntimeOptions,
  Service,
  TaskConflictError,
  type TaskEvent,
  type TaskGraph,
  type TaskOutcome,
  TaskValidationError,
  UnknownTaskError,
} from "../src/mod.ts";
import { until } from "./helpers/poll.ts";

/** A gate a test opens by key; a handler waits on it. */
class Gates {
  #gates = new Map<string, PromiseWithResolvers<void>>();
  get(key: string): PromiseWithResolvers<void> {
    let gate = this.#gates.get(key);
    if (!gate) this.#gates.set(key, gate = Promise.withResolvers<void>());
    return gate;
  }
  open(key: string): void {
    this.get(key).resolve();
  }
}

const Step = defineTask("WfStep", {
  schema: z.object({
    label: z.string(),
    fail: z.boolean().default(false),
    gate: z.string().optional(),
  }),
  parallel: true,
});
const SerialStep = defineTask("WfSerial", {
  schema: z.object({ label: z.string(), gate: z.string().optional() }),
  parallel: false,
});
const Flaky = defineTask("WfFlaky", {
  schema: z.object({ failures: z.number().int() }),
  parallel: true,
  retries: {
    attempts: 3,
    backoff: { initialMs: 5, factor: 2, maxMs: 40 },
    retryOn: ["FlakyError"],
  },
});
const Expiring = defineTask("WfExpiring", {
  schema: z.object({ label: z.string() }),
  parallel: false,
  expiresInMs: 60_000,
});
const ExpiresSoon = defineTask("WfExpiresSoon", {
  schema: z.object({ label: z.string() }),
  parallel: false,
  expiresInMs: 50,
});

class FlakyError extends Error {
  override name = "FlakyError";
}

/** A service that records what ran, in order. */
class Lab extends Service {
  readonly ran: string[] = [];
  readonly attempts = new Map<number, number>();
  constructor(name: string, readonly gates: Gates) {
    super(name);
    this.registerHandler(Step, async ({ label, fail, gate }) => {
      if (gate) await gates.get(gate).promise;
      this.ran.push(label);
      if (fail) throw new RangeError(`${label} failed on purpose`);
      return label;
    });
    this.registerHandler(SerialStep, async ({ label, gate }) => {
      if (gate) await gates.get(gate).promise;
      this.ran.push(label);
      return label;
    });
    this.registerHandler(Flaky, ({ failures }, { attempt }) => {
      if (attempt <= failures) throw new FlakyError(`attempt ${attempt} failed`);
      return attempt;
    });
    this.registerHandler(Expiring, ({ label }) => {
      this.ran.push(label);
      return label;
    });
    this.registerHandler(ExpiresSoon, ({ label }) => {
      this.ran.push(label);
      return label;
    });
  }
}

async function withLabs(
  body: (runtime: Runtime, labs: { a: Lab; b: Lab }, gates: Gates) => Promise<void>,
  store?: RuntimeOptions["store"],
): Promise<void> {
  const gates = new Gates();
  const a = new Lab("a", gates);
  const b = new Lab("b", gates);
  const runtime = await Runtime.start({ services: [a, b], store });
  try {
    await body(runtime, { a, b }, gates);
  } finally {
    await runtime.stop();
  }
}

function errorOf(outcome: TaskOutcome) {
  assert.equal(outcome.status, "error", JSON.stringify(outcome));
  return outcome as Extract<TaskOutcome, { status: "error" }>;
}

Deno.test("dependencies: a chain runs in order; a failure cancels what follows, naming it", async () => {
  await withLabs(async (runtime, { a }, gates) => {
    const client = runtime.client();
    const first = await client.request("a", Step.create({ label: "1", gate: "g1" }));
    const second = await client.request("a", Step.create({ label: "2" }), {
      after: [first.taskId],
    });
    const third = await client.request("a", Step.create({ label: "3", fail: true }), {
      after: [second.taskId],
    });
    const fourth = await client.request("a", Step.create({ label: "4" }), {
      after: [third.taskId],
    });
    const fifth = await client.request("a", Step.create({ label: "5" }), {
      after: [fourth.taskId],
    });
    assert.equal((await client.status(second.taskId))?.state, "waiting");
    assert.deepEqual(a.ran, []);
    // Open the gate: 1, 2, 3 run; 3 fails; 4 and 5 are cancelled naming the root cause.
    gates.open("g1");
    assert.equal((await second.outcome).status, "ok");
    assert.equal(errorOf(await third.outcome).ename, "RangeError");
    const cancelled = errorOf(await fourth.outcome);
    assert.equal(cancelled.ename, "DependencyFailedError");
    assert.match(cancelled.evalue, new RegExp(`dependency ${third.taskId} failed`));
    const downstream = errorOf(await fifth.outcome);
    assert.match(downstream.evalue, new RegExp(`upstream task ${third.taskId} failed`));
    assert.equal((await client.status(fifth.taskId))?.state, "cancelled");
    assert.deepEqual(a.ran, ["1", "2", "3"]);
    const record = await client.status(second.taskId);
    assert.deepEqual(record?.after, [first.taskId]);
    assert.deepEqual((await client.status(first.taskId))?.dependents, [second.taskId]);
  });
});

Deno.test("dependencies: fan-out and fan-in across two services; 'run' runs anyway", async () => {
  await withLabs(async (runtime, { a, b }) => {
    const client = runtime.client();
    const ids = await client.submitGraph({
      scan: { service: "a", task: Step.create({ label: "scan" }) },
      fitA: { service: "a", task: Step.create({ label: "fitA" }), after: ["scan"] },
      fitB: { service: "b", task: Step.create({ label: "fitB", fail: true }), after: ["scan"] },
      report: { service: "b", task: Step.create({ label: "report" }), after: ["fitA", "fitB"] },
      cleanup: {
        service: "a",
        task: Step.create({ label: "cleanup" }),
        after: ["fitA", "fitB"],
        onDependencyFailure: "run",
      },
    });
    assert.deepEqual(Object.keys(ids).sort(), ["cleanup", "fitA", "fitB", "report", "scan"]);
    const report = errorOf((await client.outcome(ids.report)) as TaskOutcome);
    assert.equal(report.ename, "DependencyFailedError");
    assert.equal((await client.outcome(ids.cleanup))?.status, "ok");
    assert.deepEqual(a.ran.sort(), ["cleanup", "fitA", "scan"]);
    assert.deepEqual(b.ran, ["fitB"]);
    // The graph around a task: its ancestors and its descendants.
    const dot = await client.graph(ids.scan);
    assert.ok(dot?.startsWith("digraph"));
    for (const id of Object.values(ids)) assert.ok(dot?.includes(id), `the graph shows ${id}`);
    const around = await client.graph(ids.fitA);
    assert.ok(around?.includes(ids.scan) && around.includes(ids.report));
    assert.ok(!around?.includes(ids.fitB), "a sibling is neither ancestor nor descendant");
    assert.equal(await client.graph("no-such-task"), undefined);
  });
});

Deno.test("dependencies and graphs: bad input is refused, nothing queued", async () => {
  await withLabs(async (runtime, { a }) => {
    const client = runtime.client();
    await assert.rejects(
      client.request("a", Step.create({ label: "x" }), { after: ["no-such-task"] }),
      (error) => error instanceof UnknownTaskError && /no-such-task/.test(error.message),
    );
    await assert.rejects(
      client.request("a", Step.create({ label: "x" }), { after: "nope" as never }),
      TaskValidationError,
    );
    await assert.rejects(
      client.submitGraph({
        x: { service: "a", task: Step.create({ label: "x" }), after: ["y"] },
        y: { service: "a", task: Step.create({ label: "y" }), after: ["x"] },
      }),
      /a cycle: "x" waits for "y" waits for "x"|a cycle: "y" waits for "x" waits for "y"/,
    );
    await assert.rejects(
      client.submitGraph({
        x: { service: "a", task: Step.create({ label: "x" }) },
        y: { service: "a", task: { type: "WfStep", fields: { label: 3 } }, after: ["x"] },
      }),
      (error) => error instanceof TaskValidationError && /graph task 'y'/.test(error.message),
    );
    assert.deepEqual((await client.tasks()).records, [], "nothing was queued");
    assert.deepEqual(a.ran, []);
  });
});

Deno.test("expiry: a task still queued at its deadline ends expired and never runs", async () => {
  await withLabs(async (runtime, { a }, gates) => {
    const client = runtime.client();
    const holder = await client.request("a", SerialStep.create({ label: "hold", gate: "hold" }));
    const soon = await client.request("a", SerialStep.create({ label: "soon" }), {
      expiresInMs: 50,
    });
    const later = await client.request("a", Expiring.create({ label: "later" }));
    const expired = errorOf(await soon.outcome);
    assert.equal(expired.ename, "ExpiredError");
    assert.equal((await client.status(soon.taskId))?.state, "expired");
    gates.open("hold");
    assert.equal((await holder.outcome).status, "ok");
    assert.equal(
      (await later.outcome).status,
      "ok",
      "the type's own expiry (60 s) was not reached",
    );
    assert.deepEqual(a.ran, ["hold", "later"]);
    await assert.rejects(
      client.request("a", SerialStep.create({ label: "x" }), { expiresInMs: -1 }),
      /expiresInMs: must be/,
    );
  });
});

Deno.test("expiry by task type: queued behind a held serial lane, it ends expired at its type's deadline; a bad expiresInMs is refused", async () => {
  await withLabs(async (runtime, { a }, gates) => {
    const client = runtime.client();
    const holder = await client.request("a", SerialStep.create({ label: "hold", gate: "hold" }));
    await until(
      async () => (await client.status(holder.taskId))?.state === "running",
      "the holder has the lane",
    );
    const soon = await client.request("a", ExpiresSoon.create({ label: "soon" }));
    const queued = await client.status(soon.taskId);
    assert.equal(queued?.deadline, (queued?.createdAt ?? NaN) + 50, "the type's expiresInMs");
    const expired = errorOf(await soon.outcome);
    assert.equal(expired.ename, "ExpiredError");
    assert.match(expired.evalue, /^the task was still queued at its deadline, .*: it never ran$/);
    const record = await client.status(soon.taskId);
    assert.equal(record?.state, "expired");
    assert.equal(record?.attempts, 0);
    assert.deepEqual((await client.queue("a")).map((task) => task.id), [holder.taskId]);
    gates.open("hold");
    assert.equal((await holder.outcome).status, "ok");
    assert.deepEqual(a.ran, ["hold"], "the expired task never ran");
  });
  for (const [bad, got] of [[-1, "-1"], [0, "0"], [3e9, "3000000000"], [NaN, "NaN"]] as const) {
    assert.throws(
      () => defineTask("WfBadExpiry", { schema: z.object({}), parallel: false, expiresInMs: bad }),
      (error) =>
        error instanceof TypeError &&
        error.message.startsWith("task type 'WfBadExpiry': expiresInMs must be") &&
        error.message.includes(got),
      `expiresInMs ${got} is refused`,
    );
  }
  assert.throws(
    () =>
      defineTask("WfBadExpiry", {
        schema: z.object({}),
        parallel: false,
        expiresInMs: "50" as unknown as number,
      }),
    /task type 'WfBadExpiry': expiresInMs must be a finite number of milliseconds above 0 up to 2147483647 ms, got "50"/,
  );
});

Deno.test("priorities: higher first, FIFO within a priority; bad ones refused", async () => {
  await withLabs(async (runtime, { a }, gates) => {
    const client = runtime.client();
    const holder = await client.request("a", SerialStep.create({ label: "hold", gate: "hold" }));
    const requests = [];
    for (
      const [label, priority] of [["low1", 0], ["high1", 5], ["low2", 0], ["high2", 5], [
        "top",
        9,
      ]] as const
    ) {
      requests.push(await client.request("a", SerialStep.create({ label }), { priority }));
    }
    // The queue view: the task holding the lane, then the rest in the order they will run.
    const queue = await client.queue("a");
    assert.deepEqual(queue.map((task) => [task.state, task.priority ?? 0]), [
      ["running", 0],
      ["queued", 9],
      ["queued", 5],
      ["queued", 5],
      ["queued", 0],
      ["queued", 0],
    ]);
    assert.deepEqual(
      queue.slice(1).map((task) => task.id),
      [requests[4], requests[1], requests[3], requests[0], requests[2]].map((r) => r.taskId),
    );
    await assert.rejects(client.queue("nope"), /no service named 'nope'/);
    gates.open("hold");
    await Promise.all([holder, ...requests].map((request) => request.outcome));
    assert.deepEqual(a.ran, ["hold", "top", "high1", "high2", "low1", "low2"]);
    for (const priority of [1.5, 5000, "3"]) {
      await assert.rejects(
        client.request("a", SerialStep.create({ label: "x" }), { priority: priority as number }),
        /priority: must be a whole number from -1000 to 1000/,
      );
    }
  });
});

Deno.test("idempotency keys: the same key and fields give the first id; other fields are refused", async () => {
  await withLabs(async (runtime, { a }) => {
    const client = runtime.client();
    const first = await client.request("a", Step.create({ label: "k" }), { key: "nightly" });
    const again = await client.request("a", Step.create({ label: "k" }), { key: "nightly" });
    assert.equal(again.taskId, first.taskId);
    assert.deepEqual(await again.outcome, await first.outcome);
    // The first has ended: its fields are read from the store to say what differs.
    await assert.rejects(
      client.request("a", Step.create({ label: "other" }), { key: "nightly" }),
      (error) =>
        error instanceof TaskConflictError &&
        error.message.endsWith(
          `used by task ${first.taskId} with other fields: label: "k" → "other"`,
        ),
    );
    assert.deepEqual(a.ran, ["k"]);
    await client.delete(first.taskId);
    const fresh = await client.request("a", Step.create({ label: "k" }), { key: "nightly" });
    assert.notEqual(fresh.taskId, first.taskId, "a deleted record frees its key");
  });
});

Deno.test("a graph's task with an idempotency key is refused, naming the task and the key", async () => {
  await withLabs(async (runtime, { a }) => {
    const client = runtime.client();
    const graph = {
      scan: { service: "a", task: Step.create({ label: "scan" }) },
      fit: { service: "a", task: Step.create({ label: "fit" }), after: ["scan"], key: "fit-1" },
    };
    await assert.rejects(
      client.submitGraph(graph as TaskGraph),
      (error) =>
        error instanceof TaskValidationError &&
        error.message ===
          "invalid graph task 'fit' (WfStep): key: a graph's tasks take no idempotency key",
    );
    assert.deepEqual(a.ran, [], "nothing of the graph was submitted");
  });
});

Deno.test("idempotency keys: a conflict with a task still running says which fields differ", async () => {
  await withLabs(async (runtime, _labs, gates) => {
    const client = runtime.client();
    const first = await client.request("a", Step.create({ label: "k", gate: "g" }), { key: "run" });
    await assert.rejects(
      client.request("a", Step.create({ label: "k", gate: "h" }), { key: "run" }),
      (error) =>
        error instanceof TaskConflictError &&
        error.message.endsWith('other fields: gate: "g" → "h"'),
    );
    gates.open("g");
    await first.outcome;
  });
});

Deno.test("delete and re-run: ended records go; live ones are refused; re-runs name the original", async () => {
  await withLabs(async (runtime, { a }, gates) => {
    const client = runtime.client();
    const events: TaskEvent[] = [];
    const unwatch = client.watch((event) => events.push(event));
    const done = await client.request("a", Step.create({ label: "once" }), {
      attributes: { by: "ada" },
    });
    await done.outcome;
    const rerun = await client.rerun(done.taskId);
    assert.equal((await rerun.outcome).status, "ok");
    const record = await client.status(rerun.taskId);
    assert.equal(record?.rerunOf, done.taskId);
    assert.deepEqual(record?.attributes, { by: "ada" });
    assert.deepEqual(a.ran, ["once", "once"]);
    await client.delete(done.taskId);
    assert.equal(await client.status(done.taskId), undefined);
    assert.ok(events.some((event) => event.kind === "removed" && event.id === done.taskId));
    await assert.rejects(client.delete(done.taskId), UnknownTaskError);
    await assert.rejects(client.rerun("no-such-task"), UnknownTaskError);
    const running = await client.request("a", Step.create({ label: "live", gate: "live" }));
    await assert.rejects(client.delete(running.taskId), TaskConflictError);
    gates.open("live");
    await running.outcome;
    unwatch();
  });
});

Deno.test("backoff: each attempt's error and delay are in the record; retryOn limits retries", async () => {
  await withLabs(async (runtime) => {
    const client = runtime.client();
    const request = await client.request("a", Flaky.create({ failures: 2 }));
    assert.deepEqual(await request.outcome, { status: "ok", id: request.taskId, result: 3 });
    const record = await client.status(request.taskId);
    assert.equal(record?.attempts, 3);
    const retries = record?.log.filter((entry) => /retry in/.test(entry.message)) ?? [];
    assert.deepEqual(retries.map((entry) => entry.message), [
      "attempt 1 failed (FlakyError: attempt 1 failed); retry in 5 ms",
      "attempt 2 failed (FlakyError: attempt 2 failed); retry in 10 ms",
    ]);
    const exhausted = errorOf(
      await (await client.request("a", Flaky.create({ failures: 9 }))).outcome,
    );
    assert.equal(exhausted.ename, "FlakyError");
    assert.throws(
      () =>
        defineTask("WfBad", {
          schema: z.object({}),
          parallel: true,
          retries: { attempts: 2, backoff: { factor: 0 } },
        }),
      /retries.backoff.factor must be a number from 1 to 1000, got 0/,
    );
  });
});

Deno.test("schedules: every 100 ms with a slow run: no overlap, skips logged on the run", async () => {
  const gates = new Gates();
  const lab = new Lab("a", gates);
  let running = 0;
  let overlapped = false;
  const Tick = defineTask("WfTick", { schema: z.object({}), parallel: true });
  lab.registerHandler(Tick, async () => {
    running++;
    if (running > 1) overlapped = true;
    // The first run is held until two slots have been skipped for it.
    if (lab.ran.length === 0) await gates.get("slow").promise;
    lab.ran.push("tick");
    running--;
  });
  const runtime = await Runtime.start({
    services: [lab],
    schedules: [{ name: "tick", service: "a", task: Tick.create({}), every: "100ms" }],
  });
  try {
    const client = runtime.client();
    const status = async () => (await client.schedules())[0];
    await until(async () => (await status()).skips >= 2, "two slots are skipped");
    assert.equal((await status()).runs, 1, "no run starts while the first is going");
    gates.open("slow");
    await until(async () => (await status()).runs >= 4, "three more runs");
    assert.equal((await status()).name, "tick");
    assert.equal(overlapped, false);
    const scheduled = (await client.tasks({ service: "a", limit: 1000 })).records;
    assert.ok(scheduled.every((record) => record.schedule === "tick"));
    const slow = scheduled.at(-1)!;
    const log = (await client.status(slow.id))?.log ?? [];
    assert.ok(log.some((entry) => /was skipped: this run was still going/.test(entry.message)));
    // Pause: no run starts; run now: one does; resume: the grid goes on.
    const paused = await client.pauseSchedule("tick");
    assert.equal(paused.state, "paused");
    const before = (await client.schedules())[0].runs;
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await client.schedules())[0].runs, before);
    await client.runSchedule("tick");
    assert.equal((await client.schedules())[0].runs, before + 1);
    assert.equal((await client.resumeSchedule("tick")).state, "scheduled");
    await assert.rejects(client.pauseSchedule("nope"), /schedule 'nope'/);
  } finally {
    await runtime.stop();
  }
});

Deno.test("schedules: a bad schedule refuses the start, naming it and the reason", async () => {
  const Tick = defineTask("WfTick2", { schema: z.object({ n: z.number() }), parallel: true });
  const lab = new Service("a").registerHandler(Tick, () => 1);
  for (
    const [schedule, reason] of [
      [
        { name: "x", service: "a", task: Tick.create({ n: 1 }), every: "soon" },
        /schedule 'x': .*every/,
      ],
      [{ name: "y", service: "a", task: Tick.create({ n: 1 }), cron: "not cron" }, /schedule 'y'/],
      [
        { name: "z", service: "nope", task: Tick.create({ n: 1 }), every: "1s" },
        /schedule 'z': its task is refused: no service named 'nope'/,
      ],
      [
        { name: "w", service: "a", task: { type: "WfTick2", fields: { n: "1" } }, every: "1s" },
        /schedule 'w': its task is refused: invalid WfTick2: n:/,
      ],
    ] as const
  ) {
    await assert.rejects(
      Runtime.start({ services: [lab], schedules: [schedule as never] }),
      reason,
    );
  }
});

Deno.test("refused deletes and graphs never crash the manager: it keeps serving", async () => {
  await withLabs(async (runtime, { a }) => {
    const client = runtime.client();
    for (let i = 0; i < 6; i++) {
      await assert.rejects(client.delete(`no-such-task-${i}`), UnknownTaskError);
      await assert.rejects(
        client.submitGraph({
          x: { service: "a", task: Step.create({ label: "x" }), after: ["x"] },
        }),
        /graph: /,
      );
    }
    assert.equal(await client.execute("a", Step.create({ label: "still here" })), "still here");
    assert.deepEqual(a.ran, ["still here"]);
  });
});

Deno.test("many tasks named after one ended task in one go are all its dependents (a store that reads copies)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await withLabs(async (runtime) => {
      const client = runtime.client();
      const root = await client.request("a", Step.create({ label: "root" }));
      await root.outcome;
      // Once in the database, each read of the root is a copy of its own.
      const store = runtime.manager.store;
      await until(
        async () => (await store.get(root.taskId)) !== (await store.get(root.taskId)),
        "the root is read from the database",
      );
      const graph = Object.fromEntries(
        Array.from({ length: 50 }, (_, i) => [`n${i}`, {
          service: "a",
          task: Step.create({ label: `n${i}` }),
          after: [root.taskId],
        }]),
      );
      const ids = await client.submitGraph(graph);
      const one = await client.request("a", Step.create({ label: "alone" }), {
        after: [root.taskId],
      });
      await one.outcome;
      await until(
        async () => (await client.status(root.taskId))?.dependents?.length === 51,
        "the root names its 51 dependents",
      );
      assert.deepEqual(
        new Set((await client.status(root.taskId))?.dependents),
        new Set([...Object.values(ids), one.taskId]),
      );
    }, { path: `${dir}/tasks.db` });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a task that depends on an ended one is named in its dependents, and in its graph", async () => {
  await withLabs(async (runtime) => {
    const client = runtime.client();
    const first = await client.request("a", Step.create({ label: "first" }));
    await first.outcome;
    const second = await client.request("a", Step.create({ label: "second" }), {
      after: [first.taskId],
    });
    await second.outcome;
    assert.deepEqual((await client.status(first.taskId))?.dependents, [second.taskId]);
    assert.ok((await client.graph(first.taskId))?.includes(second.taskId));
  });
});

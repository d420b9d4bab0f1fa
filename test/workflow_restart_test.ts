/**
 * Workflows across a real restart on an SQLite store (issue 14): an
 * idempotency key answers the first task after the restart; a schedule's
 * slots missed while the runtime was stopped are run once, not once each; a
 * task waiting for a dependency still queued waits on and runs after it; a
 * queued task whose deadline passed while stopped ends expired.
 * Each test stops one `Runtime` and starts another on the same file.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { defineTask, Runtime, Service, TaskConflictError } from "../src/mod.ts";
import { inTempDir } from "../src/store/testdata/records.ts";
import { eventually, until } from "./helpers/poll.ts";

const Label = defineTask("WrLabel", {
  schema: z.object({ label: z.string() }),
  parallel: true,
});
const Tick = defineTask("WrTick", { schema: z.object({}), parallel: true });
/** Serial: holds its service's lane until told to stop. */
const Hold = defineTask("WrHold", { schema: z.object({}), parallel: false });
const SerialLabel = defineTask("WrSerialLabel", {
  schema: z.object({ label: z.string() }),
  parallel: false,
});

/** A service that records what ran. */
class Lab extends Service {
  readonly ran: string[] = [];
  constructor() {
    super("lab");
    this.registerHandler(Label, ({ label }) => {
      this.ran.push(label);
      return `done ${label}`;
    });
    this.registerHandler(Tick, () => void this.ran.push("tick"));
    this.registerHandler(
      Hold,
      (_, { signal }) =>
        new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve())),
    );
    this.registerHandler(SerialLabel, ({ label }) => {
      this.ran.push(label);
      return `done ${label}`;
    });
  }
}

Deno.test("idempotency keys survive a restart on an SQLite store: same fields, the first id and outcome; other fields, TaskConflictError", () =>
  inTempDir(async (path) => {
    let lab = new Lab();
    let runtime = await Runtime.start({ services: [lab], store: { path } });
    const first = await runtime.client().request("lab", Label.create({ label: "k" }), {
      key: "k1",
    });
    const outcome = await first.outcome;
    assert.deepEqual(outcome, { status: "ok", id: first.taskId, result: "done k" });
    await runtime.stop();

    // The same request first: the key is known only to the store.
    lab = new Lab();
    runtime = await Runtime.start({ services: [lab], store: { path } });
    try {
      const client = runtime.client();
      const again = await client.request("lab", Label.create({ label: "k" }), { key: "k1" });
      assert.equal(again.taskId, first.taskId);
      assert.deepEqual(await again.outcome, outcome);
      await assert.rejects(
        client.request("lab", Label.create({ label: "other" }), { key: "k1" }),
        (error) => error instanceof TaskConflictError && /other fields/.test(error.message),
      );
      assert.deepEqual(lab.ran, [], "nothing ran again");
      assert.deepEqual((await client.tasks({ key: "k1" })).records.map((r) => r.id), [
        first.taskId,
      ]);
    } finally {
      await runtime.stop();
    }

    // Other fields first: the conflict is found through the store too.
    lab = new Lab();
    runtime = await Runtime.start({ services: [lab], store: { path } });
    try {
      const client = runtime.client();
      await assert.rejects(
        client.request("lab", Label.create({ label: "other" }), { key: "k1" }),
        (error) => error instanceof TaskConflictError && /other fields/.test(error.message),
      );
      const again = await client.request("lab", Label.create({ label: "k" }), { key: "k1" });
      assert.equal(again.taskId, first.taskId);
      assert.deepEqual(await client.outcome(first.taskId), outcome);
      assert.deepEqual(lab.ran, []);
    } finally {
      await runtime.stop();
    }
  }));

Deno.test("schedules on an SQLite store: slots missed while stopped are run once at the restart, then the grid goes on", () =>
  inTempDir(async (path) => {
    const period = 200;
    const schedules = [{ name: "tick", service: "lab", task: Tick.create({}), every: "200ms" }];
    let runtime = await Runtime.start({ services: [new Lab()], store: { path }, schedules });
    let client = runtime.client();
    await until(async () => {
      const status = (await client.schedules())[0];
      return status.runs >= 1 && !status.running;
    }, "a run has ended");
    await runtime.stop();
    const stoppedAt = Date.now();
    // Five slots or more go by while nothing runs.
    await until(() => Date.now() >= stoppedAt + 5 * period, "five slots have passed");

    const restartedAt = Date.now();
    const lab = new Lab();
    runtime = await Runtime.start({ services: [lab], store: { path }, schedules });
    try {
      client = runtime.client();
      // At once: the last run is remembered and a missed slot is due (or has run already).
      const atStart = (await client.schedules())[0];
      assert.ok(atStart.lastRunAt !== undefined, "the last run is remembered");
      assert.ok(
        atStart.runs >= 1 || (atStart.nextRunAt ?? Infinity) <= Date.now(),
        `a missed slot is run at once: ${JSON.stringify(atStart)}`,
      );
      await until(async () => (await client.schedules())[0].runs >= 3, "two runs after it");
      // Stop the clock to count: no run starts once paused; wait for the one going to end.
      await client.pauseSchedule("tick");
      const status = await eventually("the last run has ended", async () => {
        const status = (await client.schedules())[0];
        return !status.running && status.state === "paused" && status;
      });
      const runs = (await client.tasks({ limit: 1000 })).records
        .filter((record) => record.schedule === "tick" && record.createdAt >= restartedAt)
        .sort((a, b) => a.createdAt - b.createdAt);
      assert.equal(runs.length, status.runs, "one task per run");
      assert.ok(runs.every((record) => record.state === "succeeded"));
      assert.equal(lab.ran.length, status.runs);
      // Never two runs in one slot of the grid: the missed slots were folded into one run.
      const slots = runs.map((record) => Math.floor(record.createdAt / period));
      for (let i = 1; i < slots.length; i++) {
        assert.ok(
          slots[i] > slots[i - 1],
          `runs ${i - 1} and ${i} share a slot: ${runs.map((r) => r.createdAt).join(", ")}`,
        );
      }
    } finally {
      await runtime.stop();
    }
  }));

Deno.test("dependencies and deadlines across a restart on an SQLite store: a waiting task waits on for its queued dependency, then runs; a task past its deadline ends expired", () =>
  inTempDir(async (path) => {
    let lab = new Lab();
    let runtime = await Runtime.start({ services: [lab], store: { path } });
    let client = runtime.client();
    // The lane is held, so what follows stays queued (and kept at the stop).
    const holder = await client.request("lab", Hold.create({}));
    await until(async () => (await client.status(holder.taskId))?.state === "running", "held");
    const dependency = await client.request("lab", SerialLabel.create({ label: "dependency" }));
    const dependent = await client.request("lab", Label.create({ label: "dependent" }), {
      after: [dependency.taskId],
    });
    const expiring = await client.request("lab", SerialLabel.create({ label: "late" }), {
      expiresInMs: 300,
    });
    assert.equal((await client.status(dependent.taskId))?.state, "waiting");
    await runtime.stop();
    const stoppedAt = Date.now();
    await until(() => Date.now() >= stoppedAt + 400, "the deadline has passed");

    lab = new Lab();
    runtime = await Runtime.start({ services: [lab], store: { path } });
    try {
      client = runtime.client();
      const expired = await client.outcome(expiring.taskId);
      assert.equal(expired?.status === "error" && expired.ename, "ExpiredError");
      assert.deepEqual(await client.outcome(dependency.taskId), {
        status: "ok",
        id: dependency.taskId,
        result: "done dependency",
      });
      assert.deepEqual(await client.outcome(dependent.taskId), {
        status: "ok",
        id: dependent.taskId,
        result: "done dependent",
      });
      assert.deepEqual(lab.ran, ["dependency", "dependent"], "in order; the late one never ran");
      const log = (await client.status(dependent.taskId))?.log ?? [];
      assert.deepEqual(log.map((entry) => entry.state).filter(Boolean), [
        "queued",
        "running",
        "succeeded",
      ]);
    } finally {
      await runtime.stop();
    }
  }));

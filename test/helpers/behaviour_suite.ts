/**
 * One set of behaviour tests for every way of running Zest: the same
 * assertions against an embedded runtime (`test/behaviour_embedded_test.ts`)
 * and a cluster (`test/behaviour_cluster_test.ts`), so the manager's
 * semantics do not fork. The services are those of
 * `test/fixtures/behaviour.config.ts`; the suite gets a client from the
 * factory it is given.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  type Client,
  TaskConflictError,
  TaskExecutionError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
  UnknownTaskTypeError,
} from "../../src/mod.ts";
import type { TaskEvent } from "../../src/manager/types.ts";
import { eventually } from "./poll.ts";

/** A client of the runtime under test, and how to stop what the factory started. */
export interface SuiteTarget {
  client: Client;
  stop(): Promise<void>;
}

/** The `ename` of an error outcome (`undefined` for ok). */
function enameOf(outcome: { status: string; ename?: string }): string | undefined {
  return outcome.status === "error" ? outcome.ename : undefined;
}

/**
 * Register the suite's tests under `name`, each step on a client from
 * `start` (one target for all of them, stopped at the end).
 *
 * @example
 * ```ts ignore
 * import { behaviourSuite } from "./helpers/behaviour_suite.ts";
 * behaviourSuite("embedded", async () => ({ client: runtime.client(), stop: () => runtime.stop() }));
 * ```
 */
export function behaviourSuite(name: string, start: () => Promise<SuiteTarget>): void {
  Deno.test(`behaviour (${name})`, async (t) => {
    const target = await start();
    const { client } = target;
    try {
      await t.step("submit and execute: the id first, then the outcome", async () => {
        assert.equal(await client.execute("lab", { type: "Sum", fields: { a: 1, b: 2 } }), "3 V");
        const request = await client.request("lab", {
          type: "Sum",
          fields: { a: 2, b: 2, unit: "Hz" },
        });
        assert.match(request.taskId, /^[0-9a-f-]{36}$/);
        assert.deepEqual(await request.outcome, {
          status: "ok",
          id: request.taskId,
          result: "4 Hz",
        });
      });

      await t.step("refusals: typed, with no task made", async () => {
        const invalid = await client.execute("lab", { type: "Sum", fields: { a: "1" } }).then(
          () => undefined,
          (error) => error,
        );
        assert.ok(invalid instanceof TaskValidationError, String(invalid));
        assert.deepEqual(invalid.issues.map((issue: { path: string }) => issue.path).sort(), [
          "a",
          "b",
        ]);
        await assert.rejects(
          client.request("nowhere", { type: "Sum", fields: {} }),
          UnknownServiceError,
        );
        await assert.rejects(
          client.request("lab", { type: "Nope", fields: {} }),
          UnknownTaskTypeError,
        );
        await assert.rejects(
          client.request("lab", { type: "Sum", fields: { a: 1, b: 1 } }, { priority: 1.5 }),
          (error: Error) => error instanceof TaskValidationError && /priority/.test(error.message),
        );
      });

      await t.step(
        "a failing handler: TaskExecutionError with the error's name and message",
        async () => {
          const error = await client.execute("lab", { type: "Fail", fields: { message: "boom" } })
            .then(() => undefined, (error) => error);
          assert.ok(error instanceof TaskExecutionError, String(error));
          assert.equal(error.ename, "RangeError");
          assert.equal(error.evalue, "boom");
        },
      );

      await t.step("timeouts: the task ends TimeoutError", async () => {
        const request = await client.request("lab", { type: "Sleep", fields: { ms: 30_000 } }, {
          timeoutMs: 100,
        });
        const outcome = await request.outcome;
        assert.equal(enameOf(outcome), "TimeoutError");
      });

      await t.step("retries: a task that fails twice succeeds on its third attempt", async () => {
        const request = await client.request("flaky", { type: "Flaky", fields: {} });
        assert.deepEqual(await request.outcome, { status: "ok", id: request.taskId, result: 3 });
        const record = await client.status(request.taskId);
        assert.equal(record?.attempts, 3);
        assert.equal(record?.state, "succeeded");
      });

      await t.step("cancel: a queued task never runs, a running one is told to stop", async () => {
        const running = await client.request("lab", { type: "Sleep", fields: { ms: 60_000 } });
        await eventually(
          "the first task runs",
          async () => (await client.status(running.taskId))?.state === "running",
        );
        const queued = await client.request("lab", { type: "Sleep", fields: { ms: 60_000 } });
        assert.equal((await client.status(queued.taskId))?.state, "queued");
        assert.equal(await client.cancel(queued.taskId), true);
        assert.equal(enameOf(await queued.outcome), "CancelledError");
        assert.equal(await client.cancel(running.taskId), true);
        assert.equal(enameOf(await running.outcome), "CancelledError");
        assert.equal(await client.cancel(running.taskId), false, "already ended");
        const record = await client.status(queued.taskId);
        assert.equal(record?.state, "cancelled");
        assert.equal(record?.attempts, 0, "it never ran");
      });

      await t.step(
        "records: state, attempts, log, outcome; listed and waited for by id",
        async () => {
          const request = await client.request("lab", { type: "Sum", fields: { a: 5, b: 5 } }, {
            attributes: { by: "suite" },
          });
          const outcome = await request.outcome;
          const record = await client.status(request.taskId);
          assert.ok(record);
          assert.equal(record.state, "succeeded");
          assert.equal(record.service, "lab");
          assert.equal(record.type, "Sum");
          assert.deepEqual(record.fields, { a: 5, b: 5, unit: "V" });
          assert.deepEqual(record.attributes, { by: "suite" });
          assert.equal(record.attempts, 1);
          assert.deepEqual(record.outcome, outcome);
          assert.deepEqual(
            record.log.filter((entry) => entry.state).map((entry) => entry.state),
            ["running", "succeeded"],
          );
          assert.deepEqual(await client.outcome(request.taskId), outcome);
          const page = await client.tasks({ service: "lab", state: "succeeded", limit: 1000 });
          const listed = page.records.find((summary) => summary.id === request.taskId);
          assert.ok(listed, "listed");
          assert.equal(listed.brief?.text, '"10 V"');
          assert.equal(await client.status("00000000-0000-7000-8000-000000000000"), undefined);
          assert.equal(await client.outcome("00000000-0000-7000-8000-000000000000"), undefined);
        },
      );

      await t.step("events: a watcher sees the task's states", async () => {
        const states = new Map<string, string[]>();
        const stop = client.watch((event: TaskEvent) => {
          if (event.kind !== "task") return;
          const seen = states.get(event.record.id) ?? [];
          seen.push(event.record.state);
          states.set(event.record.id, seen);
        });
        try {
          // The watcher may need a moment to be heard (a subscription on a server).
          const id = await eventually("a watched task's events arrive", async () => {
            const request = await client.request("lab", { type: "Sum", fields: { a: 1, b: 1 } });
            await request.outcome;
            return states.has(request.taskId) ? request.taskId : undefined;
          });
          await eventually(
            "its end arrives",
            () => Promise.resolve(states.get(id)?.includes("succeeded")),
          );
          assert.ok(states.get(id)?.includes("running"), String(states.get(id)));
        } finally {
          stop();
        }
      });

      await t.step("delete, re-run, graph, release: as embedded", async () => {
        const first = await client.request("lab", { type: "Sum", fields: { a: 2, b: 2 } });
        await first.outcome;
        const again = await client.rerun(first.taskId);
        assert.deepEqual(await again.outcome, { status: "ok", id: again.taskId, result: "4 V" });
        assert.equal((await client.status(again.taskId))?.rerunOf, first.taskId);
        assert.match((await client.graph(first.taskId)) ?? "", new RegExp(first.taskId.slice(-8)));
        await client.delete(first.taskId);
        assert.equal(await client.status(first.taskId), undefined);
        await assert.rejects(client.delete(first.taskId), UnknownTaskError);
        const running = await client.request("lab", { type: "Sleep", fields: { ms: 60_000 } });
        await eventually(
          "it runs",
          async () => (await client.status(running.taskId))?.state === "running",
        );
        await assert.rejects(client.delete(running.taskId), TaskConflictError);
        assert.deepEqual((await client.queue("lab")).map((task) => task.id), [running.taskId]);
        assert.equal(await client.release("lab"), false, "not stuck");
        await assert.rejects(client.release("nowhere"), UnknownServiceError);
        await client.cancel(running.taskId);
        await running.outcome;
      });

      await t.step(
        "idempotency keys: the same request answers the first task; another is refused",
        async () => {
          const key = `suite-${crypto.randomUUID()}`;
          const first = await client.request("lab", { type: "Sum", fields: { a: 1, b: 2 } }, {
            key,
          });
          const outcome = await first.outcome;
          const same = await client.request("lab", { type: "Sum", fields: { b: 2, a: 1 } }, {
            key,
          });
          assert.equal(same.taskId, first.taskId);
          assert.deepEqual(await same.outcome, outcome);
          await assert.rejects(
            client.request("lab", { type: "Sum", fields: { a: 1, b: 3 } }, { key }),
            (error: Error) =>
              error instanceof TaskConflictError && /with other fields/.test(error.message),
          );
          await client.delete(first.taskId);
          const fresh = await client.request("lab", { type: "Sum", fields: { a: 1, b: 3 } }, {
            key,
          });
          assert.notEqual(fresh.taskId, first.taskId, "the key is free once its task is gone");
          assert.equal((await fresh.outcome).status, "ok");
        },
      );

      await t.step("services: names, task types, state", async () => {
        const services = await client.services();
        const lab = services.find((service) => service.name === "lab");
        assert.ok(lab);
        assert.equal(lab.state, "running");
        assert.deepEqual(lab.taskTypes.map((type) => type.name).sort(), ["Fail", "Sleep", "Sum"]);
      });
    } finally {
      await target.stop();
    }
  });
}

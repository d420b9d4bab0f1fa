// The task record's state machine, its log, and the summary lists and events carry.
import assert from "node:assert/strict";
import {
  appendLog,
  EMPTY_LOG,
  isTerminal,
  summarize,
  TASK_STATES,
  type TaskRecord,
  type TaskState,
  transition,
} from "./record.ts";

function record(state: TaskState = "queued", overrides: Partial<TaskRecord> = {}): TaskRecord {
  return {
    id: "t1",
    type: "Sum",
    service: "lab",
    fields: { a: 1, b: 2 },
    attributes: { notebook: "n1" },
    parallel: true,
    state,
    attempts: 0,
    createdAt: 1_000,
    log: EMPTY_LOG,
    ...overrides,
  };
}

/** Every move the state machine allows, and no other. */
const ALLOWED: Record<TaskState, TaskState[]> = {
  waiting: ["queued", "failed", "cancelled", "expired"],
  queued: ["running", "failed", "cancelled", "expired"],
  running: ["succeeded", "failed", "cancelled", "queued"],
  succeeded: [],
  failed: [],
  cancelled: [],
  expired: [],
};

Deno.test("TASK_STATES: every state once, in the order a task goes through them, frozen", () => {
  assert.deepEqual(TASK_STATES, [
    "waiting",
    "queued",
    "running",
    "succeeded",
    "failed",
    "cancelled",
    "expired",
  ]);
  assert.ok(Object.isFrozen(TASK_STATES));
});

Deno.test("isTerminal: the four ends, and only them", () => {
  assert.deepEqual(TASK_STATES.filter(isTerminal), ["succeeded", "failed", "cancelled", "expired"]);
});

Deno.test("transition: every allowed move is made and logged; every other one throws", () => {
  for (const from of TASK_STATES) {
    for (const to of TASK_STATES) {
      const moving = record(from);
      if (ALLOWED[from].includes(to)) {
        transition(moving, to, 5_000, "why");
        assert.equal(moving.state, to);
        assert.deepEqual(moving.log, [{
          at: 5_000,
          level: to === "failed" ? "error" : "info",
          message: "why",
          state: to,
        }]);
      } else {
        assert.throws(
          () => transition(moving, to, 5_000),
          new RegExp(`^Error: task t1: illegal transition ${from} → ${to}$`),
          `${from} → ${to}`,
        );
        assert.equal(moving.state, from, "a refused move changes nothing");
        assert.equal(moving.log, EMPTY_LOG);
      }
    }
  }
});

Deno.test("transition: a task's life, retry included, in its log", () => {
  const life = record("waiting");
  transition(life, "queued", 1);
  transition(life, "running", 2);
  transition(life, "queued", 3, "attempt 1 failed; retry in 5 ms");
  transition(life, "running", 4);
  transition(life, "succeeded", 5);
  assert.deepEqual(life.log.map((entry) => [entry.at, entry.state, entry.message]), [
    [1, "queued", ""],
    [2, "running", ""],
    [3, "queued", "attempt 1 failed; retry in 5 ms"],
    [4, "running", ""],
    [5, "succeeded", ""],
  ]);
});

Deno.test("appendLog: the shared empty log is replaced on the first entry, never changed", () => {
  const first = record();
  const second = record();
  assert.equal(first.log, EMPTY_LOG);
  assert.ok(Object.isFrozen(EMPTY_LOG));
  appendLog(first, { at: 1, level: "info", message: "one" });
  appendLog(first, { at: 2, level: "warn", message: "two" });
  assert.deepEqual(first.log.map((entry) => entry.message), ["one", "two"]);
  assert.equal(EMPTY_LOG.length, 0);
  assert.equal(second.log, EMPTY_LOG, "other records still share it");
});

Deno.test("summarize: no fields, log or outcome; a brief once ended; the record unchanged", () => {
  const queued = record("queued", { key: "k", priority: 2 });
  const summary = summarize(queued);
  assert.deepEqual(summary, {
    id: "t1",
    type: "Sum",
    service: "lab",
    attributes: { notebook: "n1" },
    parallel: true,
    state: "queued",
    attempts: 0,
    createdAt: 1_000,
    key: "k",
    priority: 2,
  });
  assert.notEqual(summary, queued);

  const outcome = { status: "ok" as const, id: "t1", result: { volts: 3 } };
  const ended = record("succeeded", { outcome, log: [{ at: 2, level: "info", message: "" }] });
  const endedSummary = summarize(ended);
  assert.deepEqual(endedSummary.brief, { status: "ok", text: '{"volts":3}' });
  assert.ok(!("outcome" in endedSummary) && !("fields" in endedSummary));
  assert.ok(!("log" in endedSummary));
  assert.equal(ended.outcome, outcome);
  assert.equal(ended.log.length, 1);
  // One outcome is briefed once: the same brief object for the same outcome.
  assert.equal(summarize(ended).brief, endedSummary.brief);
  const failed = record("failed", {
    outcome: { status: "error", id: "t1", ename: "RangeError", evalue: "too big", traceback: "" },
  });
  assert.deepEqual(summarize(failed).brief, { status: "error", text: "RangeError: too big" });
});

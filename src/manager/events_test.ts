// Task events: listeners come and go, get summaries, and one that throws harms no other.
import assert from "node:assert/strict";
import { EventHub } from "./events.ts";
import type { TaskEvent } from "./types.ts";
import type { TaskRecord } from "../task/record.ts";

const record: TaskRecord = {
  id: "t1",
  type: "Sum",
  service: "lab",
  fields: { a: 1, b: 2 },
  attributes: {},
  parallel: true,
  state: "succeeded",
  attempts: 1,
  createdAt: 1_000,
  log: [{ at: 1_001, level: "info", message: "", state: "succeeded" }],
  outcome: { status: "ok", id: "t1", result: 3 },
};

Deno.test("event hub: listening while someone listens; each listener until it stops", () => {
  const hub = new EventHub();
  assert.equal(hub.listening, false);
  const first: TaskEvent[] = [];
  const second: TaskEvent[] = [];
  const stopFirst = hub.subscribe((event) => first.push(event));
  const stopSecond = hub.subscribe((event) => second.push(event));
  assert.equal(hub.listening, true);
  hub.send({ kind: "removed", id: "a" });
  stopFirst();
  stopFirst(); // twice is harmless
  hub.send({ kind: "removed", id: "b" });
  assert.equal(hub.listening, true);
  stopSecond();
  assert.equal(hub.listening, false);
  hub.send({ kind: "removed", id: "c" });
  assert.deepEqual(first, [{ kind: "removed", id: "a" }]);
  assert.deepEqual(second, [{ kind: "removed", id: "a" }, { kind: "removed", id: "b" }]);
});

Deno.test("event hub: a task event carries the record's summary, not its fields, log or outcome", () => {
  const hub = new EventHub();
  const seen: TaskEvent[] = [];
  hub.subscribe((event) => seen.push(event));
  hub.task(record);
  assert.equal(seen.length, 1);
  const [event] = seen;
  assert.equal(event.kind, "task");
  if (event.kind !== "task") return;
  assert.equal(event.record.id, "t1");
  assert.equal(event.record.state, "succeeded");
  assert.deepEqual(event.record.brief, { status: "ok", text: "3" });
  assert.ok(!("fields" in event.record) && !("log" in event.record));
  assert.ok(!("outcome" in event.record));
  // Nobody listening: nothing is sent, and no summary is made.
  const quiet = new EventHub();
  quiet.task({
    ...record,
    get outcome(): never {
      throw new Error("summarized for no one");
    },
  });
});

Deno.test("event hub: a listener that throws is reported and skipped; the others still hear", () => {
  const errors: unknown[][] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args);
  try {
    const hub = new EventHub();
    const heard: string[] = [];
    hub.subscribe(() => {
      throw new Error("listener bug");
    });
    hub.subscribe((event) => heard.push(event.kind));
    hub.send({ kind: "removed", id: "t1" });
    hub.task(record);
    assert.deepEqual(heard, ["removed", "task"]);
    assert.equal(errors.length, 2);
    assert.match(String(errors[0][0]), /a task event listener failed/);
  } finally {
    console.error = original;
  }
});

Deno.test("event hub: a listener that follows task events only while it says so still hears services", () => {
  const hub = new EventHub();
  let watched = false;
  const heard: string[] = [];
  const stop = hub.subscribe((event) => heard.push(event.kind), { following: () => watched });
  assert.equal(hub.listening, true);
  assert.equal(hub.followed, false);
  // Not followed: no summary is made for it, and no task event reaches it.
  hub.task({
    ...record,
    get outcome(): never {
      throw new Error("summarized for no one");
    },
  });
  hub.send({ kind: "removed", id: "t1" });
  hub.send({ kind: "log", id: "t1", entry: { at: 1, level: "info", message: "hi" } });
  const service = { kind: "service", service: { name: "lab" } } as unknown as TaskEvent;
  hub.send(service);
  assert.deepEqual(heard, ["service"]);
  watched = true;
  assert.equal(hub.followed, true);
  hub.task(record);
  hub.send({ kind: "removed", id: "t1" });
  assert.deepEqual(heard, ["service", "task", "removed"]);
  // An unconditional listener makes task events followed whatever the other says.
  watched = false;
  const all: string[] = [];
  const stopAll = hub.subscribe((event) => all.push(event.kind));
  assert.equal(hub.followed, true);
  hub.task(record);
  assert.deepEqual(all, ["task"]);
  assert.deepEqual(heard, ["service", "task", "removed"]);
  stopAll();
  assert.equal(hub.followed, false);
  stop();
  assert.equal(hub.listening, false);
});

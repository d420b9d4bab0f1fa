// The manager's view of a service and of a pending task.
import assert from "node:assert/strict";
import { LiveTask, PendingTask, ServiceLane } from "./lane.ts";
import type { OutcomeSink, ServiceEndpoint } from "./types.ts";
import type { TaskRecord } from "../task/record.ts";
import type { TaskType } from "../task/define.ts";

function endpoint(name = "lab"): ServiceEndpoint {
  return {
    name,
    ref: { tell: () => true, isAlive: true, name: `service:${name}` },
    resolve: () => undefined,
    describe: () => ({
      kind: "ipython",
      taskTypes: [],
      kernel: { name: "python3", status: "idle" },
    }),
  };
}

function record(id: string): TaskRecord {
  return {
    id,
    type: "Step",
    service: "lab",
    fields: {},
    attributes: {},
    parallel: false,
    state: "queued",
    attempts: 0,
    createdAt: 0,
    log: [],
  };
}

const sink: OutcomeSink = { accepted: () => {}, settled: () => {}, refused: () => {} };

Deno.test("pending task: its record and submitter; no lane place or deadline until given one", () => {
  const pending = new PendingTask(record("t1"), sink);
  assert.equal(pending.record.id, "t1");
  assert.equal(pending.sink, sink);
  assert.equal(pending.handle, undefined);
  assert.equal(pending.expiry, undefined);
  // Recovered after a restart: nobody to tell.
  assert.equal(new PendingTask(record("t2"), undefined).sink, undefined);
});

Deno.test("service lane: describe says running, queued and running counts, with the endpoint's facts", () => {
  const lane = new ServiceLane(endpoint());
  assert.deepEqual(lane.describe(), {
    name: "lab",
    kind: "ipython",
    taskTypes: [],
    kernel: { name: "python3", status: "idle" },
    state: "running",
    queued: 0,
    running: 0,
  });
  const handles = ["t1", "t2", "t3"].map((id) =>
    lane.waiting.push(new PendingTask(record(id), sink))
  );
  lane.running = 1;
  lane.holder = new LiveTask(record("t0"), {} as TaskType, lane, sink);
  assert.equal(lane.describe().queued, 3);
  assert.equal(lane.describe().running, 1);
  lane.waiting.remove(handles[1]);
  assert.equal(lane.describe().queued, 2);
});

Deno.test("service lane: stuck while a handler holds it past its end; stopped wins over stuck", () => {
  const lane = new ServiceLane(endpoint());
  lane.stuck = { taskId: "t0", since: 1_234 };
  const stuck = lane.describe();
  assert.equal(stuck.state, "stuck");
  assert.deepEqual(stuck.stuck, { taskId: "t0", since: 1_234 });
  lane.stopped = true;
  assert.equal(lane.describe().state, "stopped");
  assert.deepEqual(lane.describe().stuck, { taskId: "t0", since: 1_234 });
  lane.stuck = undefined;
  lane.stopped = false;
  const freed = lane.describe();
  assert.equal(freed.state, "running");
  assert.ok(!("stuck" in freed), "no stuck field once released");
});

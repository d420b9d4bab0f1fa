import assert from "node:assert/strict";
import {
  type LaneHandle,
  PRIORITY_LIMITS,
  PriorityLane,
  priorityProblem,
} from "./priority_lane.ts";

Deno.test("higher priority first, first in first out within a priority", () => {
  const lane = new PriorityLane<string>();
  assert.equal(lane.shift(), undefined);
  assert.equal(lane.peek(), undefined);
  lane.push("n1");
  lane.push("low1", -5);
  lane.push("n2", 0);
  lane.push("high1", 7);
  lane.push("top", PRIORITY_LIMITS.max);
  lane.push("high2", 7);
  lane.push("bottom", PRIORITY_LIMITS.min);
  lane.push("low2", -5);
  assert.equal(lane.length, 8);
  assert.deepEqual([...lane.values()], [
    "top",
    "high1",
    "high2",
    "n1",
    "n2",
    "low1",
    "low2",
    "bottom",
  ]);
  assert.deepEqual([...lane.values(3)], ["top", "high1", "high2"]);
  assert.equal(lane.peek(), "top");
  const order: string[] = [];
  for (let item = lane.shift(); item !== undefined; item = lane.shift()) {
    order.push(item);
    if (item === "high1") lane.push("high3", 7); // joins its priority at the back
  }
  assert.deepEqual(order, ["top", "high1", "high2", "high3", "n1", "n2", "low1", "low2", "bottom"]);
  assert.equal(lane.length, 0);
});

Deno.test("priorities are whole numbers from -1000 to 1000", () => {
  const lane = new PriorityLane<number>();
  for (const bad of [1.5, Number.NaN, Infinity, 1_001, -1_001, "1", null, 2 ** 53]) {
    // deno-lint-ignore no-explicit-any
    assert.throws(() => lane.push(1, bad as any), RangeError, String(bad));
    assert.match(priorityProblem(bad) ?? "", /^must be a whole number from -1000 to 1000, got /);
  }
  assert.equal(priorityProblem("high"), 'must be a whole number from -1000 to 1000, got "high"');
  assert.equal(
    priorityProblem(undefined),
    "must be a whole number from -1000 to 1000, got undefined",
  );
  assert.equal(lane.length, 0, "a refused push queues nothing");
  for (const good of [0, -0, 1, -1_000, 1_000]) assert.equal(priorityProblem(good), undefined);
});

Deno.test("remove, get and position by handle; a handle never names a later entry", () => {
  const lane = new PriorityLane<string>();
  const a = lane.push("a");
  const b = lane.push("b");
  const c = lane.push("c");
  const u = lane.push("u", 3);
  assert.deepEqual([a, b, c, u].map((h) => lane.position(h)), [1, 2, 3, 0]);
  assert.equal(lane.get(b), "b");
  assert.equal(lane.remove(b), "b");
  assert.equal(lane.remove(b), undefined, "removed twice");
  assert.equal(lane.get(b), undefined);
  assert.equal(lane.position(b), -1);
  assert.equal(lane.position(c), 2, "removed entries ahead are not counted");
  assert.equal(lane.length, 3);
  assert.equal(lane.shift(), "u");
  assert.equal(lane.get(u), undefined, "shifted");
  assert.equal(lane.remove(a), "a");
  assert.equal(lane.peek(), "c");
  assert.equal(lane.position(c), 0);
  assert.equal(lane.shift(), "c");
  assert.equal(lane.shift(), undefined);
  // The priority emptied; new entries there get new handles, and old handles stay dead.
  const d = lane.push("d");
  assert.ok(![a, b, c].includes(d));
  for (const old of [a, b, c, u]) {
    assert.equal(lane.get(old), undefined);
    assert.equal(lane.remove(old), undefined);
  }
  assert.equal(lane.get(d), "d");
  for (const junk of [-1, 1.5, Number.NaN, 2 ** 60, 5 * 2_048 + 1_024 + 999]) {
    assert.equal(lane.get(junk), undefined);
    assert.equal(lane.remove(junk), undefined);
    assert.equal(lane.position(junk), -1);
  }
  assert.equal(lane.length, 1);
});

Deno.test("a priority whose entries were all removed leaves the lane", () => {
  const lane = new PriorityLane<number>();
  const urgent = [lane.push(1, 9), lane.push(2, 9)];
  lane.push(3);
  for (const handle of urgent) lane.remove(handle);
  assert.equal(lane.peek(), 3);
  assert.deepEqual([...lane.values()], [3]);
  assert.equal(lane.shift(), 3);
  assert.equal(lane.length, 0);
});

Deno.test("matches a simple model over 20 000 random operations", () => {
  let seed = 42;
  const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const lane = new PriorityLane<number>();
  /** The model: entries in push order, with their priority and whether still queued. */
  const model: { item: number; priority: number; handle: LaneHandle; queued: boolean }[] = [];
  const queuedInOrder = () =>
    model.filter((e) => e.queued).sort((x, y) => y.priority - x.priority || x.item - y.item);
  let next = 0;
  for (let step = 0; step < 20_000; step++) {
    const roll = random();
    if (roll < 0.45) {
      const priority = [0, 0, 0, 0, 1, -1, 5][Math.floor(random() * 7)];
      const item = next++;
      model.push({ item, priority, handle: lane.push(item, priority), queued: true });
    } else if (roll < 0.75) {
      const expected = queuedInOrder()[0];
      assert.equal(lane.peek(), expected?.item);
      assert.equal(lane.shift(), expected?.item);
      if (expected) expected.queued = false;
    } else if (roll < 0.95 && model.length > 0) {
      const entry = model[Math.floor(random() * model.length)];
      assert.equal(lane.remove(entry.handle), entry.queued ? entry.item : undefined);
      entry.queued = false;
    } else if (model.length > 0) {
      const entry = model[Math.floor(random() * model.length)];
      const order = queuedInOrder();
      assert.equal(lane.position(entry.handle), order.indexOf(entry));
      assert.equal(lane.get(entry.handle), entry.queued ? entry.item : undefined);
    }
    assert.equal(lane.length, model.filter((e) => e.queued).length);
  }
  assert.deepEqual([...lane.values()], queuedInOrder().map((e) => e.item));
});

Deno.test("a queue of 100k: memory per entry and push/shift speed beside a RingQueue (printed)", async () => {
  const lane = new URL("./priority_lane.ts", import.meta.url).href;
  const ring = new URL("../actor/queue.ts", import.meta.url).href;
  // Measured in a process of its own, where a full GC can be forced between readings.
  const script = `
    import { PriorityLane } from "${lane}";
    import { RingQueue } from "${ring}";
    const N = 100_000;
    const item = { id: "shared" };
    const settled = () => { gc(); gc(); return Deno.memoryUsage().heapUsed; };
    const perEntry = (fill) => {
      const before = settled();
      const kept = fill();
      const bytes = (settled() - before) / N;
      return [bytes, kept];
    };
    const out = {};
    [out.ring] = perEntry(() => { const q = new RingQueue(); for (let i = 0; i < N; i++) q.push(item); return q; });
    [out.lane] = perEntry(() => { const q = new PriorityLane(); for (let i = 0; i < N; i++) q.push(item); return q; });
    [out.lanePriorities] = perEntry(() => {
      const q = new PriorityLane();
      for (let i = 0; i < N; i++) q.push(item, i % 3 - 1);
      return q;
    });
    [out.laneHandles] = perEntry(() => {
      const q = new PriorityLane();
      const handles = [];
      for (let i = 0; i < N; i++) handles.push(q.push(item));
      return [q, handles];
    });
    let removed;
    [out.laneHalfRemoved, removed] = perEntry(() => {
      const q = new PriorityLane();
      const handles = [];
      for (let i = 0; i < N; i++) handles.push(q.push(item));
      for (let i = 0; i < N; i += 2) q.remove(handles[i]);
      return q;
    });
    // Speed: one function per queue (each call site sees one class), rounds interleaved, the
    // fastest round of each kept: the machine is shared and noisy.
    const M = 1_000_000;
    const runs = {
      ringFill() { const q = new RingQueue(); for (let i = 0; i < M; i++) q.push(item); while (q.shift() !== undefined); },
      laneFill() { const q = new PriorityLane(); for (let i = 0; i < M; i++) q.push(item); while (q.shift() !== undefined); },
      ringSteady() { const q = new RingQueue(); for (let i = 0; i < 100; i++) q.push(item); for (let i = 0; i < M; i++) { q.push(item); q.shift(); } },
      laneSteady() { const q = new PriorityLane(); for (let i = 0; i < 100; i++) q.push(item); for (let i = 0; i < M; i++) { q.push(item); q.shift(); } },
    };
    for (let round = 0; round < 15; round++) {
      for (const [name, run] of Object.entries(runs)) {
        const start = performance.now();
        run();
        out[name] = Math.min(out[name] ?? Infinity, performance.now() - start);
      }
    }
    console.log(JSON.stringify(out));
  `;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  const figures = JSON.parse(new TextDecoder().decode(stdout));
  const bytes = (n: number) => `${n.toFixed(1)} B`;
  console.log(
    `heap per queued entry (100k entries, the entry itself shared): RingQueue ${
      bytes(figures.ring)
    }, ` +
      `PriorityLane ${bytes(figures.lane)} (3 priorities ${bytes(figures.lanePriorities)}; ` +
      `with the handles kept in an array ${bytes(figures.laneHandles)}; ` +
      `half of them removed, not yet reached ${bytes(figures.laneHalfRemoved)})`,
  );
  console.log(
    `1M push then 1M shift, fastest of 15: RingQueue ${figures.ringFill.toFixed(1)} ms, ` +
      `PriorityLane ${figures.laneFill.toFixed(1)} ms; 1M push+shift at depth 100: RingQueue ` +
      `${figures.ringSteady.toFixed(1)} ms, PriorityLane ${figures.laneSteady.toFixed(1)} ms`,
  );
});

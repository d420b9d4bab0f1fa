import assert from "node:assert/strict";
import { instance } from "@viz-js/viz";
import {
  DependencyFailedError,
  type DependencyStatus,
  DependencyTracker,
  GRAPH_LIMITS,
  graphDot,
  GraphError,
  type GraphNodeSpec,
  type GraphSource,
  type GraphTask,
  planGraph,
} from "./graph.ts";

const t = { service: "lab", task: { type: "Step", fields: {} } };

function graphError(problem: GraphError["problem"], message: RegExp, names?: string[]) {
  return (error: unknown) => {
    assert.ok(error instanceof GraphError, String(error));
    assert.equal(error.problem, problem);
    assert.match(error.message, message);
    if (names) assert.deepEqual(error.names, names);
    return true;
  };
}

Deno.test("planGraph orders a graph: each task after what it waits for, ties in the given order", () => {
  assert.deepEqual(
    planGraph({
      d: { ...t, after: ["b", "c"] },
      b: { ...t, after: ["a"] },
      c: { ...t, after: ["a"] },
      a: t,
      e: t,
    }),
    ["a", "e", "b", "c", "d"],
  );
  assert.deepEqual(planGraph({}), []);
  assert.deepEqual(planGraph({ x: { ...t, after: ["y", "y"] }, y: t }), ["y", "x"]);
});

Deno.test("planGraph refuses unknown names, self-dependency and cycles, naming them", () => {
  assert.throws(
    () => planGraph({ a: { ...t, after: ["nope"] }, b: { ...t, after: ["a", "gone"] } }),
    graphError(
      "unknown",
      /^graph: "a" waits for "nope", "b" waits for "gone", which are not in the graph$/,
      ["nope", "gone"],
    ),
  );
  const many: Record<string, GraphNodeSpec> = {};
  for (let i = 0; i < 8; i++) many[`n${i}`] = { ...t, after: [`missing${i}`] };
  assert.throws(
    () => planGraph(many),
    graphError("unknown", /"n4" waits for "missing4" and 3 more,/),
  );
  assert.throws(
    () => planGraph({ a: t, b: { ...t, after: ["a", "b"] } }),
    graphError("self", /^graph: "b" waits for itself$/, ["b"]),
  );
  assert.throws(
    () => planGraph({ a: { ...t, after: ["b"] }, b: { ...t, after: ["a"] } }),
    graphError("cycle", /^graph: a cycle: "a" waits for "b" waits for "a"$/, ["a", "b", "a"]),
  );
  // A cycle deep in a graph, behind tasks that are fine and beside ones waiting on it.
  const graph: Record<string, GraphNodeSpec> = {
    start: t,
    p: { ...t, after: ["start", "r"] },
    q: { ...t, after: ["p"] },
    r: { ...t, after: ["q"] },
    downstream: { ...t, after: ["r"] },
    other: { ...t, after: ["start"] },
  };
  assert.throws(() => planGraph(graph), (error) => {
    assert.ok(error instanceof GraphError && error.problem === "cycle");
    const cycle = error.names;
    assert.equal(cycle[0], cycle[cycle.length - 1]);
    assert.deepEqual([...cycle.slice(1)].sort(), ["p", "q", "r"]);
    for (let i = 0; i + 1 < cycle.length; i++) {
      assert.ok(
        graph[cycle[i]].after?.includes(cycle[i + 1]),
        `${cycle[i]} waits for ${cycle[i + 1]}`,
      );
    }
    return true;
  });
  // A long cycle is found without recursion.
  const ring: Record<string, GraphNodeSpec> = {};
  for (let i = 0; i < 10_000; i++) ring[`s${i}`] = { ...t, after: [`s${(i + 1) % 10_000}`] };
  assert.throws(
    () => planGraph(ring),
    (error) => error instanceof GraphError && error.names.length === 10_001,
  );
});

Deno.test("planGraph refuses malformed graphs, naming the task and the field", () => {
  // deno-lint-ignore no-explicit-any
  const cases: [any, RegExp][] = [
    [null, /expected an object of named tasks, got null/],
    [[t], /got a list/],
    [{ a: "x" }, /task "a" must be an object \{ service, task, after\? \}, got "x"/],
    [{ a: { task: {} } }, /task "a": service must be a service name, got undefined/],
    [{ a: { service: "lab" } }, /task "a": task is missing/],
    [{ a: { ...t, after: "b" } }, /task "a": after must be a list of task ids, got "b"/],
    [{ a: { ...t, after: [1] } }, /task "a": after\[0\] must be a task id/],
    [{ a: { ...t, after: [""] } }, /after\[0\] must be a task id \(1 to 200 characters\), got ""/],
    [
      { a: { ...t, onDependencyFailure: "skip" } },
      /task "a": onDependencyFailure must be "cancel" or "run"/,
    ],
    [{ ["n".repeat(201)]: t }, /task name "n{60}…" is longer than 200 characters/],
  ];
  for (const [graph, message] of cases) {
    assert.throws(
      () => planGraph(graph),
      graphError("invalid", message),
      JSON.stringify(graph)?.slice(0, 60),
    );
  }
  const huge: Record<string, GraphNodeSpec> = {};
  for (let i = 0; i <= GRAPH_LIMITS.graphTasks; i++) huge[`h${i}`] = t;
  assert.throws(
    () => planGraph(huge),
    graphError("invalid", /at most 10000 tasks in one graph, got 10001/),
  );
  const tooManyAfter = Array.from({ length: GRAPH_LIMITS.after + 1 }, (_, i) => `d${i}`);
  assert.throws(
    () => planGraph({ a: { ...t, after: tooManyAfter } }),
    /after may name at most 10000 tasks, got 10001/,
  );
});

Deno.test("planGraph of a 10k chain and a 10k fan-out/fan-in (time printed)", () => {
  const chain: Record<string, GraphNodeSpec> = {};
  for (let i = 9_999; i >= 0; i--) chain[`c${i}`] = i === 0 ? t : { ...t, after: [`c${i - 1}`] };
  let start = performance.now();
  const order = planGraph(chain);
  const chainMs = performance.now() - start;
  assert.deepEqual(order.slice(0, 3), ["c0", "c1", "c2"]);
  assert.equal(order.length, 10_000);
  const fan: Record<string, GraphNodeSpec> = { root: t };
  const leaves: string[] = [];
  for (let i = 0; i < 9_998; i++) {
    fan[`leaf${i}`] = { ...t, after: ["root"] };
    leaves.push(`leaf${i}`);
  }
  fan.sink = { ...t, after: leaves };
  start = performance.now();
  const fanOrder = planGraph(fan);
  const fanMs = performance.now() - start;
  assert.equal(fanOrder[0], "root");
  assert.equal(fanOrder.at(-1), "sink");
  console.log(
    `planGraph: 10k chain ${chainMs.toFixed(1)} ms, 10k fan-out/fan-in ${fanMs.toFixed(1)} ms`,
  );
});

/** A tracker with a table of states that `statusOf` reads, as the manager's records would. */
function trackerWith(states: Record<string, DependencyStatus>) {
  const tracker = new DependencyTracker();
  const statusOf = (id: string) => Object.hasOwn(states, id) ? states[id] : undefined;
  return { tracker, statusOf, states };
}

Deno.test("a chain and a fan-out/fan-in run in order as their dependencies succeed", () => {
  const { tracker, statusOf } = trackerWith({
    a: "pending",
    b: "pending",
    c: "pending",
    x: "pending",
  });
  assert.deepEqual(tracker.wait("b", ["a"], undefined, statusOf), { kind: "waiting", pending: 1 });
  assert.deepEqual(tracker.wait("c", ["b"], "cancel", statusOf), { kind: "waiting", pending: 1 });
  assert.deepEqual(tracker.wait("join", ["a", "x", "c", "a"], "cancel", statusOf), {
    kind: "waiting",
    pending: 3,
  });
  assert.equal(tracker.size, 3);
  assert.deepEqual(tracker.ended("a", "succeeded"), { ready: ["b"], cancelled: [] });
  assert.deepEqual(tracker.ended("b", "succeeded"), { ready: ["c"], cancelled: [] });
  assert.deepEqual(tracker.ended("x", "succeeded"), { ready: [], cancelled: [] });
  assert.equal(tracker.isWaiting("join"), true);
  assert.deepEqual(tracker.ended("c", "succeeded"), { ready: ["join"], cancelled: [] });
  assert.equal(tracker.size, 0);
  // Told again, or of a task nobody waits for: nothing.
  assert.deepEqual(tracker.ended("c", "succeeded"), { ready: [], cancelled: [] });
  assert.deepEqual(tracker.ended("never-seen", "failed"), { ready: [], cancelled: [] });
});

Deno.test("a failure cancels the tasks downstream, naming the dependency and where it began", () => {
  const { tracker, statusOf } = trackerWith({
    a: "pending",
    b: "pending",
    c: "pending",
    side: "pending",
    anyway: "pending",
  });
  tracker.wait("b", ["a"], "cancel", statusOf);
  tracker.wait("c", ["b"], "cancel", statusOf);
  tracker.wait("d", ["c", "side"], "cancel", statusOf);
  tracker.wait("anyway", ["b"], "run", statusOf);
  tracker.wait("after-anyway", ["anyway"], "cancel", statusOf);
  const released = tracker.ended("a", "failed");
  assert.deepEqual(released.ready, ["anyway"]);
  assert.deepEqual(
    released.cancelled.map((f) => [f.id, f.dependency, f.dependencyState, f.root, f.rootState]),
    [
      ["b", "a", "failed", "a", "failed"],
      ["c", "b", "cancelled", "a", "failed"],
      ["d", "c", "cancelled", "a", "failed"],
    ],
  );
  assert.equal(released.cancelled[0].message, "dependency a failed");
  assert.equal(
    released.cancelled[2].message,
    "dependency c was cancelled because upstream task a failed",
  );
  const error = new DependencyFailedError(released.cancelled[2]);
  assert.equal(error.name, "DependencyFailedError");
  assert.deepEqual([error.dependency, error.root], ["c", "a"]);
  // `d` was cancelled at once, though `side` has not ended; `side` ending releases nothing.
  assert.deepEqual(tracker.ended("side", "succeeded"), { ready: [], cancelled: [] });
  // The manager tells the tracker of the tasks it cancelled: already settled, nothing more.
  for (const failure of released.cancelled) {
    assert.deepEqual(tracker.ended(failure.id, "cancelled"), { ready: [], cancelled: [] });
  }
  // "run" ran; what waits on it follows its own outcome.
  assert.deepEqual(tracker.ended("anyway", "succeeded"), {
    ready: ["after-anyway"],
    cancelled: [],
  });
  assert.equal(tracker.size, 0);
});

Deno.test("cancelled and expired dependencies fail their dependents; a waiting task that ends stops waiting", () => {
  const { tracker, statusOf } = trackerWith({ a: "pending", b: "pending", w: "pending" });
  tracker.wait("w", ["a", "b"], "cancel", statusOf);
  tracker.wait("after-w", ["w"], "cancel", statusOf);
  tracker.wait("after-w-anyway", ["w"], "run", statusOf);
  tracker.wait("e", ["b"], "cancel", statusOf);
  // The user cancels `w` while it waits: it stops waiting, and its dependents learn of it.
  const released = tracker.ended("w", "cancelled");
  assert.deepEqual(released.ready, ["after-w-anyway"]);
  assert.deepEqual(released.cancelled.map((f) => f.message), ["dependency w was cancelled"]);
  assert.equal(tracker.isWaiting("w"), false);
  // `a` ending does not make the cancelled `w` ready.
  assert.deepEqual(tracker.ended("a", "succeeded"), { ready: [], cancelled: [] });
  assert.deepEqual(
    tracker.ended("b", "expired").cancelled.map((f) => [f.id, f.message]),
    [["e", "dependency b expired"]],
  );
  assert.equal(tracker.size, 0);
});

Deno.test("wait decides at once for dependencies already ended, and reports unknown ids recording nothing", () => {
  const { tracker, statusOf } = trackerWith({
    ok: "succeeded",
    bad: "failed",
    stopped: "cancelled",
    old: "expired",
    live: "pending",
  });
  assert.deepEqual(tracker.wait("t1", ["ok"], "cancel", statusOf), { kind: "ready" });
  assert.deepEqual(tracker.wait("t2", [], "cancel", statusOf), { kind: "ready" });
  const cancel = tracker.wait("t3", ["ok", "live", "stopped", "bad"], "cancel", statusOf);
  assert.equal(cancel.kind, "cancel");
  assert.equal(
    cancel.kind === "cancel" && cancel.failure.message,
    "dependency stopped was cancelled",
  );
  assert.deepEqual(tracker.wait("t4", ["bad", "old"], "run", statusOf), { kind: "ready" });
  assert.deepEqual(tracker.wait("t5", ["bad", "live"], "run", statusOf), {
    kind: "waiting",
    pending: 1,
  });
  assert.deepEqual(tracker.wait("t6", ["live", "ghost", "ok", "phantom"], "cancel", statusOf), {
    kind: "unknown",
    ids: ["ghost", "phantom"],
  });
  assert.equal(tracker.size, 1, "only t5 waits");
  assert.throws(() => tracker.wait("t5", ["live"], "cancel", statusOf), /already waiting/);
  assert.throws(
    () => tracker.wait("me", ["me"], "cancel", () => "pending"),
    /cannot wait for itself/,
  );
  assert.throws(
    () => tracker.wait("x", "live", "cancel", statusOf),
    /after must be a list of task ids, got "live"/,
  );
  assert.throws(
    () => tracker.wait("x", [null], "cancel", statusOf),
    /after\[0\] must be a task id/,
  );
  assert.throws(
    () => tracker.wait("x", ["live"], "ignore", statusOf),
    /onDependencyFailure must be "cancel" or "run"/,
  );
  assert.deepEqual(tracker.ended("live", "succeeded"), { ready: ["t5"], cancelled: [] });
});

Deno.test("tracker: 10k chain and 10k fan-out/fan-in, failure cascades (time printed)", () => {
  const figures: string[] = [];
  const time = (label: string, work: () => void) => {
    const start = performance.now();
    work();
    figures.push(`${label} ${(performance.now() - start).toFixed(1)} ms`);
  };
  // A chain: each link ends in turn.
  let tracker = new DependencyTracker();
  const pending = () => "pending" as const;
  time("chain of 10k: wait", () => {
    for (let i = 1; i < 10_000; i++) tracker.wait(`c${i}`, [`c${i - 1}`], "cancel", pending);
  });
  time("chain of 10k: run through", () => {
    for (let i = 0; i < 9_999; i++) {
      const released = tracker.ended(`c${i}`, "succeeded");
      assert.equal(released.ready[0], `c${i + 1}`);
    }
  });
  assert.equal(tracker.size, 0);
  // The same chain whose first link fails: one call cancels the 9 999 others.
  tracker = new DependencyTracker();
  for (let i = 1; i < 10_000; i++) tracker.wait(`c${i}`, [`c${i - 1}`], "cancel", pending);
  let cascade: string[] = [];
  time("chain of 10k: first fails, all cancelled", () => {
    cascade = tracker.ended("c0", "failed").cancelled.map((f) => f.id);
  });
  assert.equal(cascade.length, 9_999);
  assert.equal(tracker.size, 0);
  // Fan-out from a root to 10k, fanning in to one sink.
  tracker = new DependencyTracker();
  const leaves = Array.from({ length: 10_000 }, (_, i) => `leaf${i}`);
  time("fan-out/fan-in of 10k: wait", () => {
    for (const leaf of leaves) tracker.wait(leaf, ["root"], "cancel", pending);
    tracker.wait("sink", leaves, "cancel", pending);
  });
  time("fan-out/fan-in of 10k: run through", () => {
    assert.equal(tracker.ended("root", "succeeded").ready.length, 10_000);
    for (let i = 0; i < leaves.length - 1; i++) tracker.ended(leaves[i], "succeeded");
    assert.deepEqual(tracker.ended(leaves.at(-1) as string, "succeeded").ready, ["sink"]);
  });
  console.log(`dependency tracker: ${figures.join("; ")}`);
});

/** An in-memory graph source, with the reverse edges kept in insertion order. */
function sourceOf(tasks: GraphTask[]): GraphSource & { tasks: Map<string, GraphTask> } {
  const byId = new Map(tasks.map((task) => [task.id, task]));
  const dependents = new Map<string, string[]>();
  for (const task of tasks) {
    for (const dep of task.after ?? []) {
      if (!dependents.has(dep)) dependents.set(dep, []);
      dependents.get(dep)?.push(task.id);
    }
  }
  return { tasks: byId, task: (id) => byId.get(id), dependents: (id) => dependents.get(id) ?? [] };
}

const node = (id: string, state: string, after?: string[]): GraphTask => ({
  id,
  type: "Step",
  service: "lab",
  state,
  ...(after ? { after } : {}),
});

Deno.test("graphDot: ancestors and descendants of a task, labelled, coloured, edges dependency → dependent", () => {
  const source = sourceOf([
    node("aaaaaaaa-1", "succeeded"),
    node("bbbbbbbb-2", "running", ["aaaaaaaa-1"]),
    node("cccccccc-3", "queued", ["bbbbbbbb-2", "gone-0000-x"]),
    node("sibling-4", "failed", ["aaaaaaaa-1"]),
  ]);
  assert.equal(
    graphDot("bbbbbbbb-2", source),
    `digraph tasks {
  graph [rankdir=LR, fontname="Helvetica", fontsize=10];
  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fillcolor="#ffffff"];
  edge [color="#6b7280", arrowsize=0.7];
  "bbbbbbbb-2" [id="task-bbbbbbbb-2", class="task state-running", label="Step\\nlab\\nrunning bbbbbb-2", fillcolor="#bfdbfe", penwidth=2.5];
  "aaaaaaaa-1" [id="task-aaaaaaaa-1", class="task state-succeeded", label="Step\\nlab\\nsucceeded aaaaaa-1", fillcolor="#bbf7d0"];
  "cccccccc-3" [id="task-cccccccc-3", class="task state-queued", label="Step\\nlab\\nqueued cccccc-3", fillcolor="#e5e7eb"];
  "aaaaaaaa-1" -> "bbbbbbbb-2";
  "bbbbbbbb-2" -> "cccccccc-3";
}
`,
  );
  // From the other end: the dependency no longer known is drawn, not followed; the sibling of
  // an ancestor is neither an ancestor nor a descendant.
  const dot = graphDot("cccccccc-3", source) as string;
  assert.match(
    dot,
    /"gone-0000-x" \[id="task-gone-0000-x", class="task gone", label="e-0000-x\\n\(record gone\)", style="rounded,dashed"\];/,
  );
  assert.match(dot, /"gone-0000-x" -> "cccccccc-3";/);
  assert.doesNotMatch(dot, /sibling/);
  assert.equal(graphDot("unknown", source), undefined);
  assert.throws(
    () => graphDot("aaaaaaaa-1", source, { maxNodes: 0 }),
    /maxNodes must be a whole number from 1 to 1000, got 0/,
  );
  assert.throws(() => graphDot("aaaaaaaa-1", source, { maxNodes: 1_001 }), /got 1001/);
});

Deno.test("graphDot is the same for the same graph, whatever order it was built in", () => {
  const tasks = [
    node("root", "succeeded"),
    ...Array.from(
      { length: 30 },
      (_, i) => node(`mid-${String(i).padStart(2, "0")}`, "running", ["root"]),
    ),
    node(
      "sink",
      "queued",
      Array.from({ length: 30 }, (_, i) => `mid-${String(i).padStart(2, "0")}`),
    ),
  ];
  const shuffled = [...tasks].reverse().map((task) => ({
    ...task,
    after: task.after && [...task.after].reverse(),
  }));
  for (const center of ["root", "mid-07", "sink"]) {
    assert.equal(graphDot(center, sourceOf(tasks)), graphDot(center, sourceOf(shuffled)), center);
  }
});

Deno.test("graphDot stops at maxNodes, nearest first, and says so", () => {
  const tasks = [node("center", "running")];
  for (let i = 0; i < 500; i++) {
    tasks.push(node(`down-${String(i).padStart(3, "0")}`, "queued", ["center"]));
  }
  for (let i = 0; i < 5; i++) tasks.push(node(`up-${i}`, "succeeded"));
  tasks[0].after = ["up-0", "up-1", "up-2", "up-3", "up-4"];
  const dot = graphDot("center", sourceOf(tasks), { maxNodes: 50 }) as string;
  const nodes = dot.split("\n").filter((line) => /^ {2}"[^"]+" \[/.test(line));
  assert.equal(nodes.length, 50);
  // Ancestors come first (dependencies before dependents at the same distance), then the first 44.
  assert.ok(nodes.some((line) => line.startsWith(`  "up-4"`)));
  assert.ok(nodes.some((line) => line.startsWith(`  "down-043"`)));
  assert.ok(!nodes.some((line) => line.startsWith(`  "down-044"`)));
  assert.match(dot, /label="showing 50 tasks, the most this view shows; dashed: more beyond"/);
  assert.match(dot, /"center" \[[^\n]*style="rounded,filled,dashed"/);
  assert.equal(
    (graphDot("center", sourceOf(tasks)) as string).split("\n").filter((l) => / -> /.test(l))
      .length,
    99,
  );
  assert.equal(dot.split("\n").filter((line) => / -> /.test(line)).length, 49);
});

/** The text lines of an SVG's nodes, entities decoded. */
function svgTexts(svg: string): string[] {
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => decodeXml(m[1]));
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, entity: string) => {
    const named: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };
    if (entity in named) return named[entity];
    return String.fromCodePoint(
      entity[1] === "x" ? parseInt(entity.slice(2), 16) : parseInt(entity.slice(1), 10),
    );
  });
}

Deno.test("Graphviz (WebAssembly, @viz-js/viz) renders the DOT to SVG and shows user text as it is", async () => {
  const loadStart = performance.now();
  const viz = await instance();
  const loadMs = performance.now() - loadStart;
  const hostile = [
    'Fit"quoted"',
    "back\\slash\\N\\G\\l",
    "<b>bold</b> & &amp; &lt; &#65;",
    "multi\nline",
    "tab\there",
    "ünïcødé 量子 🧪",
    "end\\",
    "}; digraph evil { x",
  ];
  const tasks: GraphTask[] = hostile.map((text, i) => ({
    id: `${text}#${i}`,
    type: text,
    service: `svc ${text}`,
    state: i === 0 ? "running" : "succeeded",
    ...(i > 0 ? { after: [`${hostile[i - 1]}#${i - 1}`] } : {}),
  }));
  const source = sourceOf(tasks);
  const dot = graphDot(tasks[3].id, source) as string;
  const firstStart = performance.now();
  const result = viz.render(dot, { format: "svg" });
  const firstMs = performance.now() - firstStart;
  assert.equal(result.status, "success", JSON.stringify(result.errors));
  assert.deepEqual(result.errors.filter((e) => e.level === "error"), []);
  const svg = result.output as string;
  const ids = [...svg.matchAll(/<g id="([^"]*)" class="node task state&#45;[a-z]+">/g)]
    .map((m) => decodeXml(m[1]));
  assert.deepEqual(ids.sort(), tasks.map((task) => `task-${encodeURIComponent(task.id)}`).sort());
  assert.equal(svg.match(/class="edge"/g)?.length, hostile.length - 1);
  // Graphviz draws a run of spaces with no-break spaces.
  const texts = svgTexts(svg).join("\n").replaceAll("\u00a0", " ");
  for (const [i, text] of hostile.entries()) {
    const shown = text.replace("\t", " ");
    const shortId = tasks[i].id.slice(-8).replace("\t", " ").toWellFormed();
    const expected = `${shown}\nsvc ${shown}\n${tasks[i].state} ${shortId}`;
    // Graphviz draws the label line by line, so join them back before comparing.
    assert.ok(
      texts.includes(expected),
      `label ${JSON.stringify(expected)} not in ${JSON.stringify(texts)}`,
    );
  }
  // A 100-node view of a fan-out, the size the dashboard draws by default.
  const fan = [node("hub", "running")];
  for (let i = 0; i < 150; i++) {
    fan.push(node(`leaf-${i}`, i % 3 ? "queued" : "succeeded", ["hub"]));
  }
  const bigDot = graphDot("hub", sourceOf(fan)) as string;
  const renderStart = performance.now();
  const big = viz.render(bigDot, { format: "svg" });
  const renderMs = performance.now() - renderStart;
  assert.equal(big.status, "success");
  const bundle = await Deno.readFile(
    new URL("../../node_modules/@viz-js/viz/dist/viz.js", import.meta.url),
  );
  const gzipped = await new Response(
    new Blob([bundle]).stream().pipeThrough(new CompressionStream("gzip")),
  ).arrayBuffer();
  console.log(
    `@viz-js/viz (Graphviz ${viz.graphvizVersion}): dist/viz.js ${
      (bundle.length / 1024).toFixed(0)
    } KiB ` +
      `(${(gzipped.byteLength / 1024).toFixed(0)} KiB gzipped), WASM inline; load ${
        loadMs.toFixed(0)
      } ms; ` +
      `first render (${hostile.length} nodes) ${firstMs.toFixed(1)} ms; ` +
      `render of 100 nodes ${renderMs.toFixed(1)} ms (${
        (big.output?.length ?? 0) / 1024 | 0
      } KiB of SVG)`,
  );
});

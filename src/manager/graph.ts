/**
 * Task dependencies: a graph submitted by names is checked and ordered
 * (`planGraph`); tasks waiting on other tasks are tracked until they may run
 * or must be cancelled (`DependencyTracker`); and the graph around a task is
 * written as Graphviz DOT (`graphDot`). Plain data in, decisions out: the
 * task manager submits, cancels and runs.
 *
 * @module
 */

/**
 * The bounds of dependencies: tasks in one submitted graph, names in it,
 * dependencies of one task (a fan-in of 10 000 is fine), the longest task id,
 * and the nodes a DOT view shows (default and most).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GRAPH_LIMITS } from "./graph.ts";
 * assert.equal(GRAPH_LIMITS.dotNodes, 100);
 * ```
 */
export const GRAPH_LIMITS = Object.freeze({
  graphTasks: 10_000,
  nameChars: 200,
  after: 10_000,
  idChars: 200,
  dotNodes: 100,
  maxDotNodes: 1_000,
});

/**
 * What a task waiting on a dependency that did not succeed does: end `cancelled`, or run anyway.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type OnDependencyFailure, parseOnDependencyFailure } from "./graph.ts";
 * const cleanup: OnDependencyFailure = parseOnDependencyFailure("run");
 * assert.equal(cleanup, "run");
 * ```
 */
export type OnDependencyFailure = "cancel" | "run";

/**
 * How a task ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { EndState } from "./graph.ts";
 * const failed = (state: EndState) => state !== "succeeded";
 * assert.equal(failed("expired"), true);
 * ```
 */
export type EndState = "succeeded" | "failed" | "cancelled" | "expired";

/**
 * One task of a graph submitted by names.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type GraphNodeSpec, planGraph } from "./graph.ts";
 * const fit: GraphNodeSpec = { service: "lab", task: { type: "Fit" }, after: ["scan"] };
 * const scan: GraphNodeSpec = { service: "lab", task: { type: "Scan" } };
 * assert.deepEqual(planGraph({ fit, scan }), ["scan", "fit"]);
 * ```
 */
export interface GraphNodeSpec {
  /** The service to run it. */
  service: string;
  /** The task (`{ type, fields }`), checked when the graph is submitted. */
  task: unknown;
  /** Names, in the same graph, of the tasks this one waits for. */
  after?: readonly string[];
  /** What it does if one of `after` does not succeed (default `"cancel"`). */
  onDependencyFailure?: OnDependencyFailure;
}

/**
 * A graph that cannot be submitted, and why: `invalid` (a node or field is
 * malformed), `unknown` (a name in `after` is not in the graph), `self` (a
 * task waits for itself), `cycle` (`names` is the cycle, its first name
 * again at the end: each waits for the next).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { GraphError, planGraph } from "./graph.ts";
 * const t = { service: "lab", task: {} };
 * assert.throws(
 *   () => planGraph({ a: { ...t, after: ["b"] }, b: { ...t, after: ["a"] } }),
 *   (error) => error instanceof GraphError && error.problem === "cycle" &&
 *     error.names.join(" ") === "a b a",
 * );
 * ```
 */
export class GraphError extends Error {
  /** Always `"GraphError"`, whatever a bundler does to class names. */
  override name = "GraphError";
  /** Create the error; `names` are the graph's names concerned. */
  constructor(
    readonly problem: "invalid" | "unknown" | "self" | "cycle",
    readonly names: readonly string[],
    message: string,
  ) {
    super(`graph: ${message}`);
  }
}

/**
 * The dependency lists of a task, checked at the door: a list of at most
 * 10 000 non-empty texts of at most 200 characters, duplicates dropped.
 * `field` names it in errors. Throws a `TypeError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseAfter } from "./graph.ts";
 * assert.deepEqual(parseAfter(["a", "b", "a"]), ["a", "b"]);
 * assert.throws(() => parseAfter(["a", 7]), /after\[1\] must be/);
 * ```
 */
export function parseAfter(value: unknown, field = "after"): string[] {
  if (!Array.isArray(value)) {
    throw new TypeError(`${field} must be a list of task ids, got ${describe(value)}`);
  }
  if (value.length > GRAPH_LIMITS.after) {
    throw new TypeError(
      `${field} may name at most ${GRAPH_LIMITS.after} tasks, got ${value.length}`,
    );
  }
  value.forEach((item, i) => {
    if (typeof item !== "string" || item === "" || item.length > GRAPH_LIMITS.idChars) {
      throw new TypeError(
        `${field}[${i}] must be a task id (1 to ${GRAPH_LIMITS.idChars} characters), got ${
          describe(item)
        }`,
      );
    }
  });
  return [...new Set(value as string[])];
}

/**
 * `onDependencyFailure` checked: `"cancel"` (the default) or `"run"`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseOnDependencyFailure } from "./graph.ts";
 * assert.equal(parseOnDependencyFailure(undefined), "cancel");
 * assert.throws(() => parseOnDependencyFailure("ignore"), /"cancel" or "run", got "ignore"/);
 * ```
 */
export function parseOnDependencyFailure(
  value: unknown,
  field = "onDependencyFailure",
): OnDependencyFailure {
  if (value === undefined) return "cancel";
  if (value === "cancel" || value === "run") return value;
  throw new TypeError(`${field} must be "cancel" or "run", got ${describe(value)}`);
}

/**
 * Check a graph submitted by names and give an order to submit it in: each
 * task after every task it waits for (ties in the order the graph lists
 * them). Throws `GraphError` naming the problem: a malformed node, a name in
 * `after` not in the graph, a task waiting for itself, a cycle (with its
 * path), more than 10 000 tasks.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { planGraph } from "./graph.ts";
 * const t = { service: "lab", task: { type: "Step", fields: {} } };
 * const order = planGraph({
 *   report: { ...t, after: ["fit", "plot"] },
 *   fit: { ...t, after: ["scan"] },
 *   plot: { ...t, after: ["scan"] },
 *   scan: t,
 * });
 * assert.deepEqual(order, ["scan", "fit", "plot", "report"]);
 * assert.throws(() => planGraph({ a: { ...t, after: ["nope"] } }), /"a" waits for "nope", which is not in the graph/);
 * ```
 */
export function planGraph(graph: Readonly<Record<string, GraphNodeSpec>>): string[] {
  if (graph === null || typeof graph !== "object" || Array.isArray(graph)) {
    throw new GraphError(
      "invalid",
      [],
      `expected an object of named tasks, got ${describe(graph)}`,
    );
  }
  const names = Object.keys(graph);
  if (names.length > GRAPH_LIMITS.graphTasks) {
    throw new GraphError(
      "invalid",
      [],
      `at most ${GRAPH_LIMITS.graphTasks} tasks in one graph, got ${names.length}`,
    );
  }
  const index = new Map(names.map((name, i) => [name, i]));
  const deps: number[][] = [];
  const dependents: number[][] = names.map(() => []);
  const unknown: [string, string][] = [];
  names.forEach((name, i) => {
    const node = graph[name] as unknown as Record<string, unknown>;
    const where = `task ${named(name)}`;
    if (name.length > GRAPH_LIMITS.nameChars) {
      throw new GraphError(
        "invalid",
        [name],
        `task name ${named(name)} is longer than ${GRAPH_LIMITS.nameChars} characters`,
      );
    }
    if (node === null || typeof node !== "object" || Array.isArray(node)) {
      throw new GraphError(
        "invalid",
        [name],
        `${where} must be an object { service, task, after? }, got ${describe(node)}`,
      );
    }
    if (typeof node.service !== "string" || node.service === "") {
      throw new GraphError(
        "invalid",
        [name],
        `${where}: service must be a service name, got ${describe(node.service)}`,
      );
    }
    if (node.task === undefined || node.task === null) {
      throw new GraphError("invalid", [name], `${where}: task is missing`);
    }
    let after: string[];
    try {
      after = node.after === undefined ? [] : parseAfter(node.after, "after");
      parseOnDependencyFailure(node.onDependencyFailure);
    } catch (error) {
      throw new GraphError("invalid", [name], `${where}: ${(error as Error).message}`);
    }
    deps.push(after.map((dep) => {
      if (dep === name) {
        throw new GraphError("self", [name], `${named(name)} waits for itself`);
      }
      const j = index.get(dep);
      if (j === undefined) {
        unknown.push([name, dep]);
        return -1;
      }
      dependents[j].push(i);
      return j;
    }));
  });
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 5).map(([name, dep]) =>
      `${named(name)} waits for ${named(dep)}`
    );
    const more = unknown.length > 5 ? ` and ${unknown.length - 5} more` : "";
    throw new GraphError(
      "unknown",
      [...new Set(unknown.map(([, dep]) => dep))],
      `${shown.join(", ")}${more}, which ${unknown.length > 1 ? "are" : "is"} not in the graph`,
    );
  }
  // Kahn's algorithm: a task is ready once each of its dependencies is placed.
  const waitingOn = deps.map((list) => list.length);
  const order: number[] = [];
  names.forEach((_, i) => {
    if (waitingOn[i] === 0) order.push(i);
  });
  for (let k = 0; k < order.length; k++) {
    for (const dependent of dependents[order[k]]) {
      if (--waitingOn[dependent] === 0) order.push(dependent);
    }
  }
  if (order.length < names.length) {
    const cycle = findCycle(deps, waitingOn).map((i) => names[i]);
    throw new GraphError(
      "cycle",
      cycle,
      `a cycle: ${cycle.map(quote).join(" waits for ")}`,
    );
  }
  return order.map((i) => names[i]);
}

/**
 * A cycle among the tasks Kahn's algorithm could not place (each of them
 * waits for at least one other unplaced task, so walking those edges must
 * come back on itself): the path, its first task again at the end.
 */
function findCycle(deps: number[][], waitingOn: number[]): number[] {
  const start = waitingOn.findIndex((n) => n > 0);
  const seenAt = new Map<number, number>();
  const path: number[] = [];
  for (let node = start; !seenAt.has(node);) {
    seenAt.set(node, path.length);
    path.push(node);
    node = deps[node].find((dep) => waitingOn[dep] > 0) as number;
    if (seenAt.has(node)) path.push(node);
  }
  return path.slice(seenAt.get(path[path.length - 1]));
}

/**
 * What the tracker needs to know of a dependency when a task starts waiting
 * on it: not ended yet (`pending`), or how it ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DependencyStatus, DependencyTracker } from "./graph.ts";
 * const status = (id: string): DependencyStatus | undefined => (id === "scan" ? "succeeded" : undefined);
 * assert.deepEqual(new DependencyTracker().wait("fit", ["scan"], "cancel", status), { kind: "ready" });
 * ```
 */
export type DependencyStatus = "pending" | EndState;

/**
 * A waiting task that must end `cancelled`, and which dependency is to blame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type DependencyFailure, DependencyTracker } from "./graph.ts";
 * const tracker = new DependencyTracker();
 * tracker.wait("fit", ["scan"], "cancel", () => "pending");
 * const [failure]: DependencyFailure[] = tracker.ended("scan", "failed").cancelled;
 * assert.equal(failure.message, "dependency scan failed");
 * ```
 */
export interface DependencyFailure {
  /** The task to cancel. */
  id: string;
  /** The dependency of that task that did not succeed. */
  dependency: string;
  /** How `dependency` ended. */
  dependencyState: Exclude<EndState, "succeeded">;
  /** Where the failure began: `dependency` itself, or a task upstream of it. */
  root: string;
  /** How `root` ended. */
  rootState: Exclude<EndState, "succeeded">;
  /** The `evalue` of the task's `DependencyFailedError`. */
  message: string;
}

/**
 * The error a task cancelled by its dependencies ends with (its outcome's
 * `ename`): the message names the dependency that did not succeed, and where
 * the failure began when that was further upstream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DependencyFailedError } from "./graph.ts";
 * const error = new DependencyFailedError({
 *   id: "c", dependency: "b", dependencyState: "cancelled", root: "a", rootState: "failed",
 *   message: "dependency b was cancelled because upstream task a failed",
 * });
 * assert.equal(error.name, "DependencyFailedError");
 * assert.equal(error.dependency, "b");
 * ```
 */
export class DependencyFailedError extends Error {
  /** Always `"DependencyFailedError"`, whatever a bundler does to class names. */
  override name = "DependencyFailedError";
  /** The dependency that did not succeed. */
  readonly dependency: string;
  /** Where the failure began. */
  readonly root: string;
  /** Create the error from the tracker's decision. */
  constructor(failure: DependencyFailure) {
    super(failure.message);
    this.dependency = failure.dependency;
    this.root = failure.root;
  }
}

/**
 * What `DependencyTracker.wait` decided.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DependencyTracker, type WaitDecision } from "./graph.ts";
 * const decision: WaitDecision = new DependencyTracker().wait("fit", ["scan"], "cancel", () => "failed");
 * assert.equal(decision.kind, "cancel");
 * ```
 */
export type WaitDecision =
  /** Run it now: every dependency has ended (and succeeded, unless it runs anyway). */
  | { kind: "ready" }
  /** Queued behind `pending` dependencies; `ended` will say when it is ready. */
  | { kind: "waiting"; pending: number }
  /** End it `cancelled` now: a dependency already failed. */
  | { kind: "cancel"; failure: DependencyFailure }
  /** Refuse the request: these dependencies are not known (nothing was recorded). */
  | { kind: "unknown"; ids: string[] };

/**
 * What a task ending releases.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DependencyTracker, type Released } from "./graph.ts";
 * const tracker = new DependencyTracker();
 * tracker.wait("fit", ["scan"], "cancel", () => "pending");
 * const released: Released = tracker.ended("scan", "succeeded");
 * assert.deepEqual(released, { ready: ["fit"], cancelled: [] });
 * ```
 */
export interface Released {
  /** Waiting tasks whose dependencies have all ended: run them. */
  ready: string[];
  /** Waiting tasks to end `cancelled` with `DependencyFailedError`, downstream ones included. */
  cancelled: DependencyFailure[];
}

const NOTHING_RELEASED: Released = Object.freeze({
  ready: Object.freeze([]) as unknown as string[],
  cancelled: Object.freeze([]) as unknown as DependencyFailure[],
});

const RUN_ANYWAY = 1;

/**
 * The tasks waiting on other tasks, by id. `wait` records a task's
 * dependencies; `ended` is told each task that ends and answers which
 * waiting tasks are now ready and which must be cancelled (transitively:
 * a cancelled task's own dependents are settled in the same call). Work per
 * call is O(number of dependencies) for `wait` and O(dependents released)
 * for `ended`: nothing scans all waiting tasks. A waiting task costs one map
 * entry, plus one per dependency not yet ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DependencyTracker } from "./graph.ts";
 * const tracker = new DependencyTracker();
 * const status = (id: string) => (id === "a" || id === "b" ? "pending" as const : undefined);
 * assert.deepEqual(tracker.wait("c", ["a", "b"], "cancel", status), { kind: "waiting", pending: 2 });
 * assert.deepEqual(tracker.wait("d", ["c"], "cancel", (id) => (id === "c" ? "pending" : undefined)), {
 *   kind: "waiting",
 *   pending: 1,
 * });
 * assert.deepEqual(tracker.ended("a", "succeeded"), { ready: [], cancelled: [] });
 * const released = tracker.ended("b", "failed");
 * assert.deepEqual(released.cancelled.map((f) => [f.id, f.dependency, f.root]), [
 *   ["c", "b", "b"],
 *   ["d", "c", "b"],
 * ]);
 * assert.deepEqual(tracker.wait("e", ["zzz"], "cancel", () => undefined), { kind: "unknown", ids: ["zzz"] });
 * ```
 */
export class DependencyTracker {
  /** Waiting task → (dependencies not ended yet × 2) + 1 if it runs anyway. */
  readonly #waiting = new Map<string, number>();
  /** Dependency → the tasks waiting on it (one id, or a list). */
  readonly #dependents = new Map<string, string | string[]>();

  /** Tasks waiting. */
  get size(): number {
    return this.#waiting.size;
  }

  /** Whether task `id` is waiting on dependencies. */
  isWaiting(id: string): boolean {
    return this.#waiting.has(id);
  }

  /**
   * Task `id` (new: not already waiting) waits for `after` (checked with
   * `parseAfter`; throws `TypeError` on a malformed list or a task waiting
   * for itself). `statusOf` tells each dependency's state, `undefined` for
   * an id that is not known (or past its retention). Records nothing unless
   * the decision is `waiting`.
   */
  wait(
    id: string,
    after: unknown,
    onFailure: unknown,
    statusOf: (id: string) => DependencyStatus | undefined,
  ): WaitDecision {
    const dependencies = parseAfter(after);
    const policy = parseOnDependencyFailure(onFailure);
    if (this.#waiting.has(id)) throw new Error(`task ${id} is already waiting`);
    const unknown: string[] = [];
    const pending: string[] = [];
    let failed: DependencyFailure | undefined;
    for (const dependency of dependencies) {
      if (dependency === id) throw new TypeError(`after: task ${id} cannot wait for itself`);
      const status = statusOf(dependency);
      if (status === undefined) unknown.push(dependency);
      else if (status === "pending") pending.push(dependency);
      else if (status !== "succeeded" && policy === "cancel" && !failed) {
        failed = failure(id, dependency, status, dependency, status);
      }
    }
    if (unknown.length > 0) return { kind: "unknown", ids: unknown };
    if (failed) return { kind: "cancel", failure: failed };
    if (pending.length === 0) return { kind: "ready" };
    this.#waiting.set(id, pending.length * 2 + (policy === "run" ? RUN_ANYWAY : 0));
    for (const dependency of pending) {
      const waiting = this.#dependents.get(dependency);
      if (waiting === undefined) this.#dependents.set(dependency, id);
      else if (typeof waiting === "string") this.#dependents.set(dependency, [waiting, id]);
      else waiting.push(id);
    }
    return { kind: "waiting", pending: pending.length };
  }

  /**
   * Task `id` ended in `state` (any task: most have no dependents, and then
   * this costs nothing while no task waits, else a map lookup or two). A
   * waiting task that ends (cancelled or expired while waiting) stops
   * waiting. Tasks this call reports cancelled are settled here: telling
   * `ended` of them again does nothing.
   */
  ended(id: string, state: EndState): Released {
    if (this.#waiting.size === 0 && this.#dependents.size === 0) return NOTHING_RELEASED;
    this.#waiting.delete(id);
    if (!this.#dependents.has(id)) return NOTHING_RELEASED;
    const ready: string[] = [];
    const cancelled: DependencyFailure[] = [];
    type Ending = { id: string; state: EndState; root: string; rootState: EndState };
    const endings: Ending[] = [{ id, state, root: id, rootState: state }];
    for (let k = 0; k < endings.length; k++) {
      const ending = endings[k];
      const waiting = this.#dependents.get(ending.id);
      this.#dependents.delete(ending.id);
      if (waiting === undefined) continue;
      for (const dependent of typeof waiting === "string" ? [waiting] : waiting) {
        const code = this.#waiting.get(dependent);
        if (code === undefined) continue; // it ended while waiting
        if (ending.state === "succeeded" || (code & RUN_ANYWAY) !== 0) {
          if (code - 2 < 2) {
            this.#waiting.delete(dependent);
            ready.push(dependent);
          } else this.#waiting.set(dependent, code - 2);
          continue;
        }
        this.#waiting.delete(dependent);
        cancelled.push(
          failure(
            dependent,
            ending.id,
            ending.state,
            ending.root,
            ending.rootState as DependencyFailure["rootState"],
          ),
        );
        endings.push({
          id: dependent,
          state: "cancelled",
          root: ending.root,
          rootState: ending.rootState,
        });
      }
    }
    return { ready, cancelled };
  }
}

const ENDED_AS: Record<Exclude<EndState, "succeeded">, string> = {
  failed: "failed",
  cancelled: "was cancelled",
  expired: "expired",
};

function failure(
  id: string,
  dependency: string,
  dependencyState: Exclude<EndState, "succeeded">,
  root: string,
  rootState: Exclude<EndState, "succeeded">,
): DependencyFailure {
  const message = root === dependency
    ? `dependency ${dependency} ${ENDED_AS[dependencyState]}`
    : `dependency ${dependency} was cancelled because upstream task ${root} ${ENDED_AS[rootState]}`;
  return { id, dependency, dependencyState, root, rootState, message };
}

/**
 * A task as the DOT view draws it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphDot, type GraphTask } from "./graph.ts";
 * const scan: GraphTask = { id: "s1", type: "Scan", service: "lab", state: "queued" };
 * const dot = graphDot("s1", { task: (id) => (id === "s1" ? scan : undefined), dependents: () => [] });
 * assert.match(dot ?? "", /class="task state-queued"/);
 * ```
 */
export interface GraphTask {
  /** The task's id. */
  id: string;
  /** Its task type's name. */
  type: string;
  /** The service it was sent to. */
  service: string;
  /** Its state (`queued`, `running`, `succeeded`, …): the node's colour and CSS class. */
  state: string;
  /** The ids of the tasks it waits for. */
  after?: readonly string[];
}

/**
 * Where the DOT view reads tasks and the reverse edges.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphDot, type GraphSource } from "./graph.ts";
 * const source: GraphSource = { task: () => undefined, dependents: () => [] };
 * assert.equal(graphDot("unknown", source), undefined);
 * ```
 */
export interface GraphSource {
  /** The task with this id, or `undefined` if it is not known (any more). */
  task(id: string): GraphTask | undefined;
  /** The ids of the tasks that wait for `id` (in any order). */
  dependents(id: string): Iterable<string>;
}

/**
 * Fill colour of a node, by state; white for any other state. The dashboard
 * can use the same colours for its own state badges.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { STATE_COLOURS } from "./graph.ts";
 * assert.equal(STATE_COLOURS.failed, "#fecaca");
 * ```
 */
export const STATE_COLOURS: Readonly<Record<string, string>> = Object.freeze({
  queued: "#e5e7eb",
  waiting: "#fef9c3",
  running: "#bfdbfe",
  succeeded: "#bbf7d0",
  failed: "#fecaca",
  cancelled: "#e9d5ff",
  expired: "#fed7aa",
});

/** A font Graphviz has metrics for without font files (in WebAssembly too), so labels fit. */
const FONT = "Helvetica";
const LABEL_PART_CHARS = 40;

/**
 * The task graph around task `id` as Graphviz DOT, or `undefined` if
 * `source` does not know `id`. It shows the task, its ancestors (what it
 * waits for, transitively) and its descendants (what waits for it,
 * transitively), breadth first from the task, both directions at each
 * distance, neighbours in id order, and at most `maxNodes` tasks (default
 * 100, at most 1 000): when the bound cuts the view, the tasks with more
 * beyond are drawn dashed and the graph's label says so. A dependency no
 * longer known is drawn as a dashed "record gone" node and not followed.
 *
 * Each node is labelled with its type, service, state and the first 8
 * characters of its id; filled by state (`STATE_COLOURS`); its SVG element
 * gets `id="task-<encodeURIComponent(id)>"` and `class="task state-<state>"`
 * (the dashboard finds a clicked task, and can recolour one, by them: a
 * UUID is its own encoding); the task itself is
 * drawn with a thicker border. Edges point from a dependency to the task
 * that waits for it. Every user text is escaped (quotes, backslashes,
 * newlines, `&` entities) and the output is the same for the same graph.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphDot, type GraphTask } from "./graph.ts";
 * const tasks = new Map<string, GraphTask>([
 *   ["a1", { id: "a1", type: "Scan", service: "lab", state: "succeeded" }],
 *   ["b2", { id: "b2", type: "Fit", service: "lab", state: "running", after: ["a1"] }],
 * ]);
 * const dot = graphDot("b2", {
 *   task: (id) => tasks.get(id),
 *   dependents: (id) => (id === "a1" ? ["b2"] : []),
 * }) as string;
 * assert.match(dot, /^digraph tasks \{/);
 * assert.match(dot, /"a1" -> "b2";/);
 * assert.match(dot, /"b2" \[id="task-b2", class="task state-running", label="Fit\\nlab\\nrunning b2"/);
 * ```
 */
export function graphDot(
  id: string,
  source: GraphSource,
  options: { maxNodes?: number } = {},
): string | undefined {
  const maxNodes = options.maxNodes ?? GRAPH_LIMITS.dotNodes;
  if (!Number.isSafeInteger(maxNodes) || maxNodes < 1 || maxNodes > GRAPH_LIMITS.maxDotNodes) {
    throw new TypeError(
      `maxNodes must be a whole number from 1 to ${GRAPH_LIMITS.maxDotNodes}, got ${maxNodes}`,
    );
  }
  const center = source.task(id);
  if (!center) return undefined;
  type Direction = "both" | "up" | "down";
  /** Shown tasks in the order found; `undefined`: a dependency no longer known. */
  const shown = new Map<string, GraphTask | undefined>([[id, center]]);
  const frontier: [string, Direction][] = [[id, "both"]];
  const cut = new Set<string>();
  for (let k = 0; k < frontier.length; k++) {
    const [at, direction] = frontier[k];
    const task = shown.get(at);
    if (!task) continue;
    const next: [string, Direction][] = [];
    if (direction !== "down") {
      for (const dep of [...(task.after ?? [])].sort()) next.push([dep, "up"]);
    }
    if (direction !== "up") {
      for (const dependent of [...source.dependents(at)].sort()) next.push([dependent, "down"]);
    }
    for (const [neighbour, way] of next) {
      if (shown.has(neighbour)) continue;
      if (shown.size >= maxNodes) {
        cut.add(at);
        continue;
      }
      shown.set(neighbour, source.task(neighbour));
      frontier.push([neighbour, way]);
    }
  }
  const lines = [
    "digraph tasks {",
    `  graph [rankdir=LR, fontname="${FONT}", fontsize=10${
      cut.size > 0
        ? `, labelloc=b, label=${
          quote(`showing ${shown.size} tasks, the most this view shows; dashed: more beyond`)
        }`
        : ""
    }];`,
    `  node [shape=box, style="rounded,filled", fontname="${FONT}", fontsize=10, fillcolor="#ffffff"];`,
    `  edge [color="#6b7280", arrowsize=0.7];`,
  ];
  for (const [taskId, task] of shown) {
    const name = quote(taskId);
    const element = quote(`task-${encodeURIComponent(taskId)}`);
    if (!task) {
      lines.push(
        `  ${name} [id=${element}, class="task gone", label=${
          quote(`${taskId.slice(-8)}\n(record gone)`)
        }, style="rounded,dashed"];`,
      );
      continue;
    }
    const state = /^[a-z]{1,20}$/.test(task.state) ? task.state : "unknown";
    const label = `${short(task.type)}\n${short(task.service)}\n${state} ${taskId.slice(-8)}`;
    const attributes = [
      `id=${element}`,
      `class="task state-${state}"`,
      `label=${quote(label)}`,
      `fillcolor="${STATE_COLOURS[state] ?? "#ffffff"}"`,
    ];
    if (cut.has(taskId)) attributes.push(`style="rounded,filled,dashed"`);
    if (taskId === id) attributes.push("penwidth=2.5");
    lines.push(`  ${name} [${attributes.join(", ")}];`);
  }
  for (const [taskId, task] of shown) {
    for (const dep of [...new Set(task?.after ?? [])].sort()) {
      if (shown.has(dep)) lines.push(`  ${quote(dep)} -> ${quote(taskId)};`);
    }
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/** Cut a name for a label: the first 40 characters and an ellipsis. */
function short(text: string): string {
  const chars = [...String(text)];
  return chars.length > LABEL_PART_CHARS
    ? `${chars.slice(0, LABEL_PART_CHARS - 1).join("")}…`
    : text;
}

const DOT_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "&": "&amp;",
  "\n": "\\n",
};

/**
 * `text` as a DOT quoted string that Graphviz shows as it is: `\` and `"`
 * escaped (a `\` would otherwise start an escape such as `\N`), `&` as
 * `&amp;` (Graphviz reads entities in labels), line breaks as `\n`, other
 * control characters as spaces, lone surrogates replaced.
 */
function quote(text: string): string {
  const escaped = text.toWellFormed().replace(/\r\n?/g, "\n").replace(
    // deno-lint-ignore no-control-regex -- control characters are what it replaces
    /[\\"&\n\u0000-\u001f\u007f]/g,
    (char) => DOT_ESCAPES[char] ?? " ",
  );
  return `"${escaped}"`;
}

/** A name as error messages quote it (JSON, cut to 60 characters). */
function named(name: string): string {
  return JSON.stringify(name.length > 60 ? `${name.slice(0, 60)}…` : name);
}

function describe(value: unknown): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  }
  if (typeof value === "number") return String(value);
  return value === null ? "null" : Array.isArray(value) ? "a list" : typeof value;
}

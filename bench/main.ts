/**
 * The benchmark suite: `deno task bench [group…] [--rounds N] [--warmup N] [--quick]`.
 *
 * Groups: `actors`, `tasks`, `memory`, `remote`, `kernel`, `python`,
 * `workers`, `peers`, `store`, `workflows`, `cluster`. With no group named,
 * all run. Prints one table, each Zest figure beside a peer measured in the same
 * run; progress and per-round figures go to stderr.
 *
 * @example
 * ```ts
 * import { runBench } from "./main.ts";
 * const rows = await runBench(["actors"], { rounds: 3 });
 * ```
 *
 * @module
 */
import { benchActors } from "./actors.ts";
import {
  type BenchOptions,
  parseBenchArgs,
  printTable,
  progress,
  resolveOptions,
  type Row,
  unjudgedIfQuick,
} from "./common.ts";
import { benchMemory } from "./memory.ts";
import { benchTasks } from "./tasks.ts";

type Bench = (options: BenchOptions) => Promise<Row[]>;

/**
 * The groups in the order they run; optional ones resolve to `undefined` when absent.
 *
 * @example
 * ```ts
 * import { GROUPS } from "./main.ts";
 * Object.keys(GROUPS); // ["actors", "tasks", "memory", "remote", "kernel", "python", "workers", "peers", "store", "workflows", "cluster"]
 * ```
 */
export const GROUPS: Record<string, () => Promise<Bench>> = {
  actors: () => Promise.resolve(benchActors),
  tasks: () => Promise.resolve(benchTasks),
  memory: () => Promise.resolve(benchMemory),
  // The others load only when run: they start servers, kernels or peers of their own.
  remote: () => import("./remote.ts").then((module) => module.benchRemote),
  kernel: () => import("./kernel.ts").then((module) => () => module.benchKernel()),
  python: () => import("./python_client.ts").then((module) => module.benchPythonClient),
  workers: () => import("./workers.ts").then((module) => module.benchWorkers),
  // BullMQ on Redis and the raw NATS JetStream floor.
  peers: () => import("./peers.ts").then((module) => module.benchPeers),
  store: () => import("./store.ts").then((module) => module.benchStore),
  workflows: () => import("./workflows.ts").then((module) => module.benchWorkflows),
  cluster: () => import("./cluster.ts").then((module) => module.benchCluster),
};

/**
 * Run the named groups (all when `names` is empty) and return their rows. A
 * group that fails contributes one row saying so, and the others still run.
 *
 * @example
 * ```ts
 * import { runBench } from "./main.ts";
 * import { printTable } from "./common.ts";
 * printTable(await runBench(["actors", "tasks"], { rounds: 3 }));
 * ```
 */
export async function runBench(names: string[], options: BenchOptions = {}): Promise<Row[]> {
  for (const name of names) {
    if (!(name in GROUPS)) {
      throw new Error(`unknown bench group '${name}' (groups: ${Object.keys(GROUPS).join(", ")})`);
    }
  }
  const selected = names.length > 0 ? names : Object.keys(GROUPS);
  const rows: Row[] = [];
  for (const name of selected) {
    const started = performance.now();
    try {
      const bench = await GROUPS[name]();
      progress(`${name}:`);
      rows.push(...await bench(options));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      progress(`${name}: failed: ${error instanceof Error ? error.stack : message}`);
      rows.push({ name: `${name}: failed`, zest: message.split("\n")[0], peer: "" });
    }
    progress(`${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
  return rows;
}

if (import.meta.main) {
  const { options, rest } = parseBenchArgs(Deno.args);
  const { rounds, warmup, quick } = resolveOptions(options);
  progress(
    `zest bench — deno ${Deno.version.deno}, v8 ${Deno.version.v8}, ` +
      `${navigator.hardwareConcurrency} cores; median of ${rounds} rounds after ${warmup} ` +
      `warm-up${quick ? " (quick: smaller workloads, a smoke test)" : ""}`,
  );
  const started = performance.now();
  const rows = unjudgedIfQuick(await runBench(rest, options), options);
  console.log();
  printTable(rows);
  console.log(
    `\npeers: nact = npm:nact@7.6.2 in the same process; floor = the same work with no ` +
      `actor runtime (plain arrays, promises, function calls). ` +
      `Total ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  );
}

/**
 * The benchmark suite: `deno task bench [group…] [--rounds N] [--warmup N] [--quick]`.
 *
 * Groups: `actors`, `tasks`, `memory`, and — when their files exist, since
 * they are written separately — `remote` (`bench/remote.ts`, `benchRemote()`)
 * and `kernel` (`bench/kernel.ts`, `benchKernel()`). With no group named, all
 * run. Prints one table, each Zest figure beside a peer measured in the same
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
 * A group that lives in a file of its own and is run only if that file
 * exists. `takesOptions`: whether its function accepts `BenchOptions`
 * (`benchRemote` does; `benchKernel(n)` takes a count, so it gets nothing).
 */
async function optional(
  file: string,
  exportName: string,
  takesOptions: boolean,
): Promise<Bench | undefined> {
  const url = new URL(file, import.meta.url);
  try {
    await Deno.stat(url);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  const module = await import(url.href);
  const bench = module[exportName];
  if (typeof bench !== "function") throw new Error(`${file} does not export ${exportName}()`);
  return (options) => takesOptions ? (bench as Bench)(options) : (bench as () => Promise<Row[]>)();
}

/**
 * The groups in the order they run; optional ones resolve to `undefined` when absent.
 *
 * @example
 * ```ts
 * import { GROUPS } from "./main.ts";
 * Object.keys(GROUPS); // ["actors", "tasks", "memory", "remote", "kernel", "python", "workers", "peers"]
 * ```
 */
export const GROUPS: Record<string, () => Promise<Bench | undefined>> = {
  actors: () => Promise.resolve(benchActors),
  tasks: () => Promise.resolve(benchTasks),
  memory: () => Promise.resolve(benchMemory),
  // Written separately; run when present.
  remote: () => optional("./remote.ts", "benchRemote", true),
  kernel: () => optional("./kernel.ts", "benchKernel", false),
  python: () => optional("./python_client.ts", "benchPythonClient", true),
  workers: () => optional("./workers.ts", "benchWorkers", true),
  // BullMQ on Redis and the raw NATS JetStream floor; loaded only when run.
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
    let bench: Bench | undefined;
    try {
      bench = await GROUPS[name]();
      if (!bench) {
        progress(`${name}: skipped (bench/${name}.ts not present)`);
        continue;
      }
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

/**
 * Worker-pool benchmarks: what running a handler in a worker process costs
 * and what it buys, each beside the same work run inline (in-process).
 *
 * - per-task overhead: sequential no-op tasks through the runtime, on a
 *   worker vs inline (and `pool.run` alone, without the runtime);
 * - a 10M-element `Float64Array` result from a worker (`pool.run`: the
 *   runtime bounds a task's result to 1 MiB of JSON): transferred as it is
 *   (its buffer beside the serializer's bytes) vs copied (`v8.serialize` in
 *   the worker, `v8.deserialize` here: the copies structured clone without
 *   transfer makes) vs as JSON text parsed back;
 * - the main loop's responsiveness while 4 CPU-heavy tasks run: round trips
 *   of an in-process no-op task (and a 10 ms timer's lateness), with the
 *   heavy tasks on workers vs inline.
 *
 * Worker tasks are registered as users do: `registerHandler(Type, url,
 * { worker: true })`, on the runtime's pool.
 *
 * Run alone: `deno run --allow-all bench/workers.ts [--rounds N] [--quick]`
 *
 * @module
 */
import { deserialize } from "node:v8";
import { z } from "zod";
import { type Client, defineTask, Runtime, Service } from "../src/mod.ts";
import { WorkerHandler } from "../src/service/pool/mod.ts";
import {
  type BenchOptions,
  compare,
  median,
  progress,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";

const fixture = (name: string) => new URL(`../test/fixtures/workers/${name}.ts`, import.meta.url);

const NoopWorker = defineTask("BenchNoopWorker", { schema: z.object({}), parallel: true });
const NoopInline = defineTask("BenchNoopInline", { schema: z.object({}), parallel: true });
const BusyWorker = defineTask("BenchBusyWorker", {
  schema: z.object({ ms: z.number() }),
  parallel: true,
});
const BusyInline = defineTask("BenchBusyInline", {
  schema: z.object({ ms: z.number() }),
  parallel: true,
});

/** The same busy loop as `test/fixtures/workers/busy.ts`, run inline. */
function busyInline({ ms }: { ms: number }): number {
  const started = performance.now();
  let x = 0;
  while (performance.now() - started < ms) {
    for (let i = 0; i < 10_000; i++) x += Math.sqrt(i + x);
  }
  return x;
}

/** Each load inline and on a worker. */
function benchService(): Service {
  return new Service("bench-workers")
    .registerHandler(NoopInline, () => null)
    .registerHandler(BusyInline, busyInline)
    .registerHandler(NoopWorker, fixture("noop"), { worker: true })
    .registerHandler(BusyWorker, fixture("busy"), { worker: true });
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Mean milliseconds per call of `n` sequential calls. */
async function msPerCall(n: number, call: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < n; i++) await call();
  return (performance.now() - started) / n;
}

/** Round trips of a no-op in-process task, and a 10 ms timer's lateness, while `load` runs. */
async function responsiveness(client: Client, load: () => Promise<unknown>) {
  const rounds: number[] = [];
  const lateness: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    lateness.push(now - last - 10);
    last = now;
  }, 10);
  let done = false;
  const loaded = load().finally(() => done = true);
  while (!done) {
    const started = performance.now();
    await client.execute("bench-workers", NoopInline.create({}));
    rounds.push(performance.now() - started);
    // An in-process execute settles without a macrotask: let timers and I/O in.
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  await loaded;
  clearInterval(timer);
  return {
    p50: percentile(rounds, 0.5),
    p99: percentile(rounds, 0.99),
    lateMax: Math.max(0, ...lateness),
    count: rounds.length,
  };
}

const ms = (value: number) => `${value < 1 ? value.toFixed(3) : value.toFixed(1)} ms`;

/**
 * Measure the worker pool against inline handlers. Returns table rows;
 * nothing is printed but progress on stderr.
 *
 * @example
 * ```ts
 * import { benchWorkers } from "./workers.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchWorkers({ rounds: 3 }));
 * ```
 */
export async function benchWorkers(options: BenchOptions = {}): Promise<Row[]> {
  const opts = resolveOptions(options);
  // The pool's default size: one fewer than the cores.
  const runtime = await Runtime.start({ services: [benchService()] });
  const pool = runtime.workerPool;
  const client = runtime.client();
  const execute = (task: Parameters<Client["execute"]>[1]) => client.execute("bench-workers", task);
  const rows: Row[] = [];
  try {
    // Each comparison starts its handler's worker first: a free worker of
    // another handler makes way for it, and a start is not what is measured.
    await execute(NoopWorker.create({}));
    const n = opts.quick ? 100 : 1_000;
    const noopHandler = new WorkerHandler(fixture("noop"));
    const noop = await compare(`no-op task, ${n} sequential (ms per task)`, opts, {
      worker: { run: () => msPerCall(n, () => execute(NoopWorker.create({}))) },
      inline: { run: () => msPerCall(n, () => execute(NoopInline.create({}))) },
      pool: {
        run: () => msPerCall(n, () => pool.run(noopHandler, { fields: {}, taskId: "bench" })),
      },
    }, ms);
    rows.push({
      name: "no-op task round trip, sequential (worker vs inline)",
      zest: `worker ${ms(noop.worker)}`,
      peer: `inline ${ms(noop.inline)} · pool.run alone ${ms(noop.pool)}`,
    });

    // Straight from the pool: the manager may bound what a result holds.
    const elements = opts.quick ? 1_000_000 : 10_000_000;
    const makeArray = new WorkerHandler(fixture("make_array"));
    const arrayResult = async (as: "typed" | "copied" | "json") => {
      const started = performance.now();
      const result = await pool.run(makeArray, { fields: { n: elements, as }, taskId: "bench" });
      const values = as === "json"
        ? Float64Array.from(JSON.parse(result as string))
        : as === "copied"
        ? deserialize(result as Uint8Array) as Float64Array
        : result as Float64Array;
      if (values.length !== elements || values[elements - 1] !== (elements - 1) * 0.5) {
        throw new Error(`the ${as} array did not arrive whole`);
      }
      return performance.now() - started;
    };
    await arrayResult("typed");
    const array = await compare(`${elements}-element Float64Array result (ms)`, opts, {
      transferred: { run: () => arrayResult("typed") },
      copied: { run: () => arrayResult("copied") },
      json: { run: () => arrayResult("json") },
    }, ms);
    rows.push({
      name: `${(elements / 1e6).toFixed(0)}M-element Float64Array result from a worker`,
      zest: `transferred ${ms(array.transferred)}`,
      peer: `copied ${ms(array.copied)} · as JSON ${ms(array.json)}`,
    });

    const busyMs = opts.quick ? 100 : 500;
    await Promise.all(
      Array.from({ length: pool.size }, () => execute(BusyWorker.create({ ms: 0 }))),
    );
    const heavy = (type: typeof BusyWorker) => () =>
      Promise.all(Array.from({ length: 4 }, () => execute(type.create({ ms: busyMs }))));
    type Figure = Awaited<ReturnType<typeof responsiveness>>;
    const figures = { worker: [] as Figure[], inline: [] as Figure[] };
    for (let round = 0; round < opts.rounds; round++) {
      figures.worker.push(await responsiveness(client, heavy(BusyWorker)));
      figures.inline.push(await responsiveness(client, heavy(BusyInline)));
      const [w, i] = [figures.worker.at(-1)!, figures.inline.at(-1)!];
      progress(
        `  responsiveness round ${round + 1}: worker p50 ${ms(w.p50)} p99 ${ms(w.p99)} ` +
          `(${w.count} asks, timer late ≤ ${ms(w.lateMax)}); inline p50 ${ms(i.p50)} ` +
          `p99 ${ms(i.p99)} (${i.count} asks, timer late ≤ ${ms(i.lateMax)})`,
      );
    }
    const mid = (side: "worker" | "inline", key: "p50" | "p99" | "lateMax") =>
      ms(median(figures[side].map((figure) => figure[key])));
    rows.push({
      name: `in-process task round trip while 4 × ${busyMs} ms CPU tasks run, ` +
        `pool of ${pool.size} (p50 / p99)`,
      zest: `on workers ${mid("worker", "p50")} / ${mid("worker", "p99")}`,
      peer: `inline ${mid("inline", "p50")} / ${mid("inline", "p99")}`,
    }, {
      name: `10 ms timer, worst lateness while 4 × ${busyMs} ms CPU tasks run`,
      zest: `on workers ${mid("worker", "lateMax")}`,
      peer: `inline ${mid("inline", "lateMax")}`,
    });
  } finally {
    await runtime.stop(); // the pool with it
  }
  return rows;
}

if (import.meta.main) await runStandalone(benchWorkers);

/**
 * Memory benchmarks: resident set size (RSS) added by 100 000 queued serial
 * tasks, and by 100 000 spawned actors — Zest beside nact.
 *
 * Each figure is taken in fresh subprocesses started with
 * `--v8-flags=--expose-gc`, so figures do not share a heap. A child builds a
 * baseline (runtime started, everything warmed, V8's memory-reducing GC run so
 * the baseline is as small as it gets), reads `Deno.memoryUsage()`, builds the
 * load, reads again once memory has settled, and prints the deltas as one JSON
 * line. The parent reports the median of several children.
 *
 * Two readings of the loaded process, each in its own children:
 * - `settled` (judged): no forced GC. V8's own memory reducer runs about 30 s
 *   after a GC that grew the heap, once the process allocates little (here: a
 *   service holding its queue), and gives back the young generation a burst
 *   grew. The child waits until V8 has shrunk it, then for the reducer's
 *   second GC. This is what `ps` shows for a runtime holding the load.
 * - `full`: right after forced full GCs. The burst of long-lived objects grows
 *   V8's young generation to ~60 MB, which a full GC keeps committed and
 *   resident, though empty, until the memory reducer runs.
 *
 * A settled child takes ~45 s, so the figures' settled children run side by
 * side, one round at a time; `--quick` skips them.
 *
 * Run alone: `deno run --allow-all bench/memory.ts [--rounds N] [--quick]`
 *
 * @module
 */
import v8 from "node:v8";
import nact from "nact";
import { z } from "zod";
import { ActorSystem } from "../src/actor/mod.ts";
import { defineTask, Runtime, Service } from "../src/mod.ts";
import {
  type BenchOptions,
  formatBytes,
  median,
  progress,
  resolveOptions,
  type Row,
  runStandalone,
  tick,
} from "./common.ts";
import { startNactPipeline } from "./nact_peer.ts";

/** Items per figure: queued tasks or spawned actors. */
export const COUNT = 100_000;

/** What a child reports: bytes the load added, read as its `Reading` says. */
export interface MemoryDelta {
  rss: number;
  heapUsed: number;
}

/** A figure: medians of its settled children (none with `--quick`) and of its full-GC ones. */
export interface MemoryFigure {
  settled?: MemoryDelta;
  full: MemoryDelta;
}

const FIGURES = {
  "zest-serial": zestSerialTasks,
  "nact-serial": nactSerialQueries,
  "zest-actors": zestActors,
  "nact-actors": nactActors,
} as const;

type Figure = keyof typeof FIGURES;

// ---------------------------------------------------------------- children

/** How a child reads the loaded process: see the module documentation. */
type Reading = "settled" | "full";

const gc = (globalThis as { gc?: (options?: Record<string, string>) => void }).gc;
let reading: Reading = "settled";

/** Give V8's memory reducer this long to start after the load (it waits ~30 s). */
const REDUCER_TIMEOUT_MS = 90_000;
/** The memory reducer's second GC comes 8 s after its first (`--memory-reducer-delay-ms`). */
const REDUCER_SECOND_GC_MS = 10_000;

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function youngGenerationBytes(): number {
  return v8.getHeapSpaceStatistics().find((space) => space.space_name === "new_space")
    ?.space_size ?? 0;
}

/** Memory with as little garbage as V8 can leave: its memory-reducing GC, three times. */
async function baseline(): Promise<Deno.MemoryUsage> {
  for (let i = 0; i < 3; i++) {
    gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
    await tick();
  }
  return Deno.memoryUsage();
}

/** Memory of the loaded process, read as `reading` says. */
async function loaded(youngBefore: number): Promise<Deno.MemoryUsage> {
  if (reading === "full") {
    for (let i = 0; i < 3; i++) {
      gc?.();
      await tick();
    }
    return Deno.memoryUsage();
  }
  // The load grew the young generation far past this; V8 shrinking it back
  // is the sign that its memory reducer has run.
  const shrunk = Math.max(4 * youngBefore, 2e6);
  const deadline = performance.now() + REDUCER_TIMEOUT_MS;
  while (youngGenerationBytes() > shrunk) {
    if (performance.now() > deadline) {
      throw new Error(`V8's memory reducer did not run within ${REDUCER_TIMEOUT_MS / 1000} s`);
    }
    await delay(500);
  }
  await delay(REDUCER_SECOND_GC_MS);
  return Deno.memoryUsage();
}

/** Build the load with `build`, then return what it added to memory. */
async function measureLoad(build: () => Promise<void> | void): Promise<MemoryDelta> {
  const before = await baseline();
  const youngBefore = youngGenerationBytes();
  await build();
  return delta(before, await loaded(youngBefore));
}

function delta(before: Deno.MemoryUsage, after: Deno.MemoryUsage): MemoryDelta {
  return { rss: after.rss - before.rss, heapUsed: after.heapUsed - before.heapUsed };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = performance.now() + 120_000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick();
  }
}

/**
 * `n` serial tasks submitted with `client.execute` to a service whose handler
 * blocks on a promise until measured; each task has its own fields object.
 */
async function zestSerialTasks(n: number): Promise<MemoryDelta> {
  const Hold = defineTask("BenchHold", { schema: z.object({ i: z.number() }), parallel: false });
  const gate = Promise.withResolvers<void>();
  let holding = false;
  const service = new Service("held").registerHandler(
    Hold,
    ({ i }) => holding ? gate.promise.then(() => i) : i,
  );
  const runtime = await Runtime.start({ services: [service] });
  const client = runtime.client();
  for (let i = 0; i < 1_000; i++) await client.execute("held", Hold.create({ i })); // warm up
  holding = true;
  const queued = () => runtime.manager.services()[0].queued;

  const pending: Promise<unknown>[] = [];
  const added = await measureLoad(async () => {
    for (let i = 0; i < n; i++) pending.push(client.execute("held", Hold.create({ i })));
    await until(() => queued() === n - 1, `${n - 1} queued tasks`); // one holds the service
  });

  holding = false;
  gate.resolve();
  await Promise.all(pending);
  await runtime.stop();
  return added;
}

/**
 * The nact peer: `n` serial queries through the manager → service pipeline,
 * held the same way. Their replies are not awaited: nact names a query's
 * reply slot with a 32-bit random id, so among 100 000 outstanding queries
 * about one pair collides (n²/2³³ ≈ 1.2) and one query is never answered.
 * The child exits once it has printed its figure.
 */
async function nactSerialQueries(n: number): Promise<MemoryDelta> {
  const gate = Promise.withResolvers<void>();
  let holding = false;
  const pipeline = startNactPipeline((fields) => {
    const { i } = fields as { i: number };
    return holding ? gate.promise.then(() => i) : i;
  }, 600_000);
  for (let i = 0; i < 1_000; i++) await pipeline.execute({ i }, true); // warm up
  holding = true;

  const pending: Promise<unknown>[] = [];
  const added = await measureLoad(async () => {
    for (let i = 0; i < n; i++) pending.push(pipeline.execute({ i }, true).catch(() => {}));
    await until(() => pipeline.queued === n - 1, `${n - 1} queued queries`);
  });

  holding = false;
  gate.resolve();
  await until(() => pipeline.queued === 0, "the queue to drain");
  pipeline.stop();
  return added;
}

/** `n` idle Zest actors, each with a counter in its closure, default options. */
async function zestActors(n: number): Promise<MemoryDelta> {
  const system = new ActorSystem();
  const behaviour = () => {
    let count = 0;
    return { receive: () => ++count };
  };
  for (let i = 0; i < 1_000; i++) system.spawn(`warm-${i}`, behaviour); // warm up
  const refs: ReturnType<typeof system.spawn>[] = [];
  const added = await measureLoad(() => {
    for (let i = 0; i < n; i++) refs.push(system.spawn(`actor-${i}`, behaviour));
  });
  const answer = await refs[n - 1].ask(0, { timeoutMs: 10_000 });
  if (answer !== 1) throw new Error(`actor answered ${answer}`);
  await system.shutdown();
  return added;
}

/** `n` idle nact actors with a counter as state. */
async function nactActors(n: number): Promise<MemoryDelta> {
  const system = nact.start();
  type Message = { sender: nact.Ref<number> };
  const behaviour = (count: number = 0, message: Message) => {
    nact.dispatch(message.sender, count + 1);
    return count + 1;
  };
  for (let i = 0; i < 1_000; i++) nact.spawn(system, behaviour, `warm-${i}`); // warm up
  const refs: nact.Ref<Message>[] = [];
  const added = await measureLoad(() => {
    for (let i = 0; i < n; i++) refs.push(nact.spawn(system, behaviour, `actor-${i}`));
  });
  const answer = await nact.query(
    refs[n - 1],
    (sender: nact.Ref<number>): Message => ({ sender }),
    10_000,
  );
  if (answer !== 1) throw new Error(`actor answered ${answer}`);
  nact.stop(system);
  return added;
}

// ---------------------------------------------------------------- parent

/** A child that takes longer is killed and its figure reported as failed. */
const CHILD_TIMEOUT_MS: Record<Reading, number> = { settled: 150_000, full: 60_000 };

/** Run one figure in a fresh Deno with `--expose-gc`; resolves with its deltas. */
async function inChild(figure: Figure, n: number, reading: Reading): Promise<MemoryDelta> {
  const timeout = CHILD_TIMEOUT_MS[reading];
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--v8-flags=--expose-gc",
      "--config",
      new URL("../deno.json", import.meta.url).pathname,
      new URL(import.meta.url).pathname,
      "--child",
      figure,
      String(n),
      reading,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(timeout),
  });
  const { code, signal, stdout, stderr } = await command.output();
  if (code !== 0) {
    const why = signal ? `was killed (${signal}) after ${timeout} ms` : `exited ${code}`;
    const err = new TextDecoder().decode(stderr).trim().split("\n").slice(0, 3).join(" / ");
    throw new Error(`memory child '${figure}' (${reading}) ${why}: ${err}`);
  }
  const out = new TextDecoder().decode(stdout).trim();
  return JSON.parse(out.split("\n").at(-1) as string) as MemoryDelta;
}

/** One figure's children so far, or why one failed. */
interface Runs {
  settled: MemoryDelta[];
  full: MemoryDelta[];
  error?: Error;
}

/** Run a child for `runs`, recording its delta or its failure. */
async function record(runs: Runs, figure: Figure, n: number, reading: Reading): Promise<void> {
  if (runs.error) return;
  try {
    runs[reading].push(await inChild(figure, n, reading));
  } catch (error) {
    progress(`  ${figure}: failed: ${error}`);
    runs.error = error instanceof Error ? error : new Error(String(error));
  }
}

/** Medians of a figure's children: `undefined` for a reading that has none. */
function summarize(figure: Figure, n: number, runs: Runs): MemoryFigure {
  const list = (deltas: MemoryDelta[]) => deltas.map((r) => formatBytes(r.rss)).join("  ");
  progress(
    `  ${figure} (${n}): settled ${list(runs.settled) || "-"}; right after full GCs ${
      list(runs.full)
    }`,
  );
  const medianOf = (deltas: MemoryDelta[]): MemoryDelta | undefined =>
    deltas.length === 0 ? undefined : {
      rss: median(deltas.map((r) => r.rss)),
      heapUsed: median(deltas.map((r) => r.heapUsed)),
    };
  return { settled: medianOf(runs.settled), full: medianOf(runs.full) as MemoryDelta };
}

/**
 * Measure the RSS of 100k queued serial tasks and 100k spawned actors, Zest
 * beside nact, each in fresh subprocesses. Returns table rows.
 *
 * @example
 * ```ts
 * import { benchMemory } from "./memory.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchMemory({ rounds: 3 }));
 * ```
 */
export async function benchMemory(options: BenchOptions = {}): Promise<Row[]> {
  const opts = resolveOptions(options);
  const n = opts.quick ? COUNT / 10 : COUNT;
  // Each child is a fresh process, so no warm-up rounds; fewer rounds than
  // the rate figures, as a child takes a second or more.
  const rounds = Math.max(1, Math.min(opts.rounds, 3));
  const limit = 100e6 * (n / COUNT);
  const label = n.toLocaleString("en");
  const figures = Object.keys(FIGURES) as Figure[];
  const runs = Object.fromEntries(
    figures.map((figure) => [figure, { settled: [], full: [] } as Runs]),
  ) as Record<Figure, Runs>;

  for (let round = 0; round < rounds; round++) {
    for (const figure of figures) await record(runs[figure], figure, n, "full");
  }
  if (!opts.quick) {
    // Settled children mostly wait for V8's memory reducer, so they share the machine well.
    progress(`  settled children: ~45 s per round, ${rounds} rounds`);
    for (let round = 0; round < rounds; round++) {
      await Promise.all(figures.map((figure) => record(runs[figure], figure, n, "settled")));
    }
  }
  const results = Object.fromEntries(
    figures.map((figure) => {
      const figureRuns = runs[figure];
      return [figure, figureRuns.error ?? summarize(figure, n, figureRuns)];
    }),
  ) as Record<Figure, MemoryFigure | Error>;

  const show = (m: MemoryFigure | Error) => {
    if (m instanceof Error) return `failed: ${m.message}`;
    const settled = m.settled
      ? `${formatBytes(m.settled.rss)} (heap ${formatBytes(m.settled.heapUsed)})`
      : "not measured with --quick";
    return `${settled}; ${formatBytes(m.full.rss)} right after a full GC`;
  };
  const met = (m: MemoryFigure | Error) =>
    m instanceof Error || !m.settled ? false : m.settled.rss < limit;
  return [
    {
      name: `RSS added by ${label} queued serial tasks (handler held), settled`,
      zest: show(results["zest-serial"]),
      peer: `nact manager+service, ${label} queued queries: ${show(results["nact-serial"])}`,
      target: `< ${formatBytes(limit)}`,
      met: met(results["zest-serial"]),
    },
    {
      name: `RSS added by ${label} spawned idle actors, settled`,
      zest: show(results["zest-actors"]),
      peer: `nact ${show(results["nact-actors"])}`,
      target: `< ${formatBytes(limit)}`,
      met: met(results["zest-actors"]),
    },
  ];
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    const figure = Deno.args[1] as Figure;
    if (!(figure in FIGURES)) throw new Error(`unknown figure '${figure}'`);
    if (!gc) console.error("warning: run with --v8-flags=--expose-gc for figures after GC");
    reading = (Deno.args[3] ?? "settled") as Reading;
    const result = await FIGURES[figure](Number(Deno.args[2] ?? COUNT));
    console.log(JSON.stringify(result));
    Deno.exit(0); // leftover timers (nact's query timeouts) must not keep the child alive
  } else {
    await runStandalone(benchMemory);
  }
}

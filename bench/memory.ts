/**
 * Memory benchmarks: resident set size (RSS) added by 100 000 queued serial
 * tasks, and by 100 000 spawned actors — Zest beside nact.
 *
 * Each figure is taken in a fresh subprocess started with
 * `--v8-flags=--expose-gc`, so figures do not share a heap: the child builds
 * a baseline (runtime started, everything warmed), collects garbage, reads
 * `Deno.memoryUsage()`, builds the load, collects garbage again, reads again,
 * and prints the deltas as one JSON line. The parent runs each child several
 * times and reports the median.
 *
 * Two kinds of collection, each in its own children: a full GC (the figure
 * the target is judged on), and V8's memory-reducing GC (what it runs under
 * memory pressure). A burst of long-lived objects makes V8 grow its young
 * generation to its maximum (~40 MB here), which a full GC keeps committed and
 * resident, empty; the memory-reducing GC gives it back, so its figure is what
 * the load itself holds.
 *
 * Run alone: `deno run --allow-all bench/memory.ts [--rounds N] [--quick]`
 *
 * @module
 */
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

/** What a child reports: bytes added by the load, after garbage collection. */
export interface MemoryDelta {
  rss: number;
  heapUsed: number;
}

/** A figure: medians after full GCs, and the RSS after memory-reducing GCs. */
export interface MemoryFigure extends MemoryDelta {
  rssReduced: number;
}

const FIGURES = {
  "zest-serial": zestSerialTasks,
  "nact-serial": nactSerialQueries,
  "zest-actors": zestActors,
  "nact-actors": nactActors,
} as const;

type Figure = keyof typeof FIGURES;

// ---------------------------------------------------------------- children

/** `full`: a major GC; `reducing`: V8's memory-reducing GC, as under memory pressure. */
type Collection = "full" | "reducing";

const gc = (globalThis as { gc?: (options?: Record<string, string>) => void }).gc;
let collection: Collection = "full";

async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    if (collection === "full") gc?.();
    else gc?.({ type: "major", execution: "sync", flavor: "last-resort" });
    await tick();
  }
}

async function snapshot(): Promise<Deno.MemoryUsage> {
  await settle();
  return Deno.memoryUsage();
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

  const before = await snapshot();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) pending.push(client.execute("held", Hold.create({ i })));
  await until(() => queued() === n - 1, `${n - 1} queued tasks`); // one holds the service
  const after = await snapshot();

  holding = false;
  gate.resolve();
  await Promise.all(pending);
  await runtime.stop();
  return delta(before, after);
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

  const before = await snapshot();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) pending.push(pipeline.execute({ i }, true).catch(() => {}));
  await until(() => pipeline.queued === n - 1, `${n - 1} queued queries`);
  const after = await snapshot();

  holding = false;
  gate.resolve();
  await until(() => pipeline.queued === 0, "the queue to drain");
  pipeline.stop();
  return delta(before, after);
}

/** `n` idle Zest actors, each with a counter in its closure, default options. */
async function zestActors(n: number): Promise<MemoryDelta> {
  const system = new ActorSystem();
  const behaviour = () => {
    let count = 0;
    return { receive: () => ++count };
  };
  for (let i = 0; i < 1_000; i++) system.spawn(`warm-${i}`, behaviour); // warm up
  const refs = [];
  const before = await snapshot();
  for (let i = 0; i < n; i++) refs.push(system.spawn(`actor-${i}`, behaviour));
  const after = await snapshot();
  const answer = await refs[n - 1].ask(0, { timeoutMs: 10_000 });
  if (answer !== 1) throw new Error(`actor answered ${answer}`);
  await system.shutdown();
  return delta(before, after);
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
  const refs = [];
  const before = await snapshot();
  for (let i = 0; i < n; i++) refs.push(nact.spawn(system, behaviour, `actor-${i}`));
  const after = await snapshot();
  const answer = await nact.query(
    refs[n - 1],
    (sender: nact.Ref<number>): Message => ({ sender }),
    10_000,
  );
  if (answer !== 1) throw new Error(`actor answered ${answer}`);
  nact.stop(system);
  return delta(before, after);
}

// ---------------------------------------------------------------- parent

/** A child that takes longer is killed and its figure reported as failed. */
const CHILD_TIMEOUT_MS = 60_000;

/** Run one figure in a fresh Deno with `--expose-gc`; resolves with its deltas. */
async function inChild(figure: Figure, n: number, kind: Collection): Promise<MemoryDelta> {
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
      kind,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(CHILD_TIMEOUT_MS),
  });
  const { code, signal, stdout, stderr } = await command.output();
  if (code !== 0) {
    const why = signal ? `was killed (${signal}) after ${CHILD_TIMEOUT_MS} ms` : `exited ${code}`;
    const err = new TextDecoder().decode(stderr).trim().split("\n").slice(0, 3).join(" / ");
    throw new Error(`memory child '${figure}' ${why}: ${err}`);
  }
  const out = new TextDecoder().decode(stdout).trim();
  return JSON.parse(out.split("\n").at(-1) as string) as MemoryDelta;
}

/** Median deltas of `rounds` children measuring `figure` after each kind of collection. */
async function measure(figure: Figure, n: number, rounds: number): Promise<MemoryFigure> {
  const runs: MemoryDelta[] = [];
  const reduced: MemoryDelta[] = [];
  for (let i = 0; i < rounds; i++) {
    runs.push(await inChild(figure, n, "full"));
    reduced.push(await inChild(figure, n, "reducing"));
  }
  const result = {
    rss: median(runs.map((r) => r.rss)),
    heapUsed: median(runs.map((r) => r.heapUsed)),
    rssReduced: median(reduced.map((r) => r.rss)),
  };
  const list = (deltas: MemoryDelta[]) => deltas.map((r) => formatBytes(r.rss)).join("  ");
  progress(
    `  ${figure} (${n}): rss ${list(runs)}  → median ${formatBytes(result.rss)} (heap ${
      formatBytes(result.heapUsed)
    }); after memory-reducing GCs ${list(reduced)}`,
  );
  return result;
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
  // A figure that fails is reported in its cell; the others still run.
  const attempt = async (figure: Figure): Promise<MemoryFigure | Error> => {
    try {
      return await measure(figure, n, rounds);
    } catch (error) {
      progress(`  ${figure}: failed: ${error}`);
      return error instanceof Error ? error : new Error(String(error));
    }
  };
  const show = (m: MemoryFigure | Error) =>
    m instanceof Error
      ? `failed: ${m.message}`
      : `${formatBytes(m.rss)} (heap ${formatBytes(m.heapUsed)}; ${
        formatBytes(m.rssReduced)
      } after a memory-reducing GC)`;
  const met = (m: MemoryFigure | Error) => m instanceof Error ? false : m.rss < limit;

  const zestSerial = await attempt("zest-serial");
  const nactSerial = await attempt("nact-serial");
  const zestActorsDelta = await attempt("zest-actors");
  const nactActorsDelta = await attempt("nact-actors");
  return [
    {
      name: `RSS added by ${label} queued serial tasks (handler held)`,
      zest: show(zestSerial),
      peer: `nact manager+service, ${label} queued queries: ${show(nactSerial)}`,
      target: `< ${formatBytes(limit)}`,
      met: met(zestSerial),
    },
    {
      name: `RSS added by ${label} spawned idle actors`,
      zest: show(zestActorsDelta),
      peer: `nact ${show(nactActorsDelta)}`,
      target: `< ${formatBytes(limit)}`,
      met: met(zestActorsDelta),
    },
  ];
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    const figure = Deno.args[1] as Figure;
    if (!(figure in FIGURES)) throw new Error(`unknown figure '${figure}'`);
    if (!gc) console.error("warning: run with --v8-flags=--expose-gc for figures after GC");
    collection = (Deno.args[3] ?? "full") as Collection;
    const result = await FIGURES[figure](Number(Deno.args[2] ?? COUNT));
    console.log(JSON.stringify(result));
    Deno.exit(0); // leftover timers (nact's query timeouts) must not keep the child alive
  } else {
    await runStandalone(benchMemory);
  }
}

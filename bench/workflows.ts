/**
 * Workflows: a chain of dependent tasks and a fan-out/fan-in, each beside
 * the same number of independent tasks (what the dependencies cost), and the
 * drift of a schedule run every 100 ms.
 *
 * Run: `deno task bench workflows` (or `deno run -A bench/workflows.ts`).
 *
 * @module
 */
import { z } from "zod";
import { defineTask, Runtime, Service } from "../src/mod.ts";
import {
  type BenchOptions,
  compare,
  formatRate,
  median,
  perSecond,
  progress,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";

const Step = defineTask("BenchStep", { schema: z.object({}), parallel: true });

/** A runtime with one no-op parallel service, and how many records it keeps. */
async function startLab(
  maxRecords: number,
  schedules?: Parameters<typeof Runtime.start>[0]["schedules"],
) {
  const service = new Service("lab").registerHandler(Step, () => 0);
  const ticks: number[] = [];
  if (schedules) {
    const Tick = defineTask("BenchTick", { schema: z.object({}), parallel: true });
    service.registerHandler(Tick, () => void ticks.push(Date.now()));
  }
  const runtime = await Runtime.start({
    services: [service],
    retention: { maxRecords },
    manager: { maxQueuedPerService: 1_000_000 },
    schedules,
  });
  return { runtime, ticks };
}

/** `n` tasks, each waiting for the one before: submitted at once, then waited for. */
async function chain(n: number): Promise<number> {
  const { runtime } = await startLab(n * 2);
  try {
    const client = runtime.client();
    const task = Step.create({});
    const t0 = performance.now();
    let previous: string | undefined;
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < n; i++) {
      const request = await client.request("lab", task, previous ? { after: [previous] } : {});
      previous = request.taskId;
      last = request.outcome;
    }
    await last;
    return perSecond(n, performance.now() - t0);
  } finally {
    await runtime.stop();
  }
}

/** One task, `n` tasks after it, and one after all of them. */
async function fan(n: number): Promise<number> {
  const { runtime } = await startLab(n * 2);
  try {
    const client = runtime.client();
    const task = Step.create({});
    const t0 = performance.now();
    const root = await client.request("lab", task);
    const middle = [];
    for (let i = 0; i < n; i++) {
      middle.push((await client.request("lab", task, { after: [root.taskId] })).taskId);
    }
    const join = await client.request("lab", task, { after: middle });
    await join.outcome;
    return perSecond(n + 2, performance.now() - t0);
  } finally {
    await runtime.stop();
  }
}

/** `n` independent tasks, submitted the same way (one `request` after the other). */
async function independent(n: number): Promise<number> {
  const { runtime } = await startLab(n * 2);
  try {
    const client = runtime.client();
    const task = Step.create({});
    const t0 = performance.now();
    const outcomes = [];
    for (let i = 0; i < n; i++) outcomes.push((await client.request("lab", task)).outcome);
    await Promise.all(outcomes);
    return perSecond(n, performance.now() - t0);
  } finally {
    await runtime.stop();
  }
}

/** How late each of `runs` runs of a 100 ms schedule started, against its slot (ms). */
async function drift(runs: number): Promise<number[]> {
  const { runtime, ticks } = await startLab(runs * 2, [
    { name: "tick", service: "lab", task: { type: "BenchTick" }, every: "100ms" },
  ]);
  try {
    while (ticks.length < runs) await new Promise((resolve) => setTimeout(resolve, 100));
    // An `every` schedule runs on multiples of its period since the epoch.
    return ticks.slice(0, runs).map((at) => at - Math.floor(at / 100) * 100);
  } finally {
    await runtime.stop();
  }
}

/**
 * The workflow figures.
 *
 * @example
 * ```ts ignore
 * import { benchWorkflows } from "./workflows.ts";
 * const rows = await benchWorkflows({ quick: true });
 * ```
 */
export async function benchWorkflows(options: BenchOptions = {}): Promise<Row[]> {
  const { quick } = resolveOptions(options);
  const n = quick ? 1_000 : 10_000;
  progress(`workflows: chains and fans of ${n} tasks, and a schedule's drift`);
  const rates = await compare(`${n} tasks`, options, {
    chain: { run: () => chain(n) },
    fan: { run: () => fan(n) },
    independent: { run: () => independent(n) },
  });
  const runs = quick ? 20 : 100;
  const lateness = await drift(runs);
  const sorted = [...lateness].sort((a, b) => a - b);
  const p95 = sorted[Math.floor(sorted.length * 0.95)];
  progress(
    `  schedule drift: median ${median(lateness)} ms, p95 ${p95} ms, max ${sorted.at(-1)} ms`,
  );
  const firstHalf = median(lateness.slice(0, runs / 2));
  const secondHalf = median(lateness.slice(runs / 2));
  return [
    {
      name: `a chain of ${n} dependent tasks (each after the one before)`,
      zest: formatRate(rates.chain),
      peer: `${n} independent tasks ${formatRate(rates.independent)}`,
    },
    {
      name: `a fan-out/fan-in of ${n} (one, ${n} after it, one after them all)`,
      zest: formatRate(rates.fan),
      peer: `${n} independent tasks ${formatRate(rates.independent)}`,
    },
    {
      name: `a schedule every 100 ms, ${runs} runs: start after the slot`,
      zest: `median ${median(lateness)} ms, p95 ${p95} ms, max ${sorted.at(-1)} ms`,
      peer: `first half ${firstHalf} ms, second half ${secondHalf} ms (no build-up)`,
    },
  ];
}

if (import.meta.main) await runStandalone(benchWorkflows);

/**
 * Shared pieces of the benchmark suite: the row shape every group returns,
 * repeated measurement with a median, number formatting and the table.
 *
 * Machines here have 2 cores and are noisy, so every figure is the median of
 * several rounds taken after warm-up rounds that are thrown away, and the
 * contenders of one comparison (Zest, its peer, the floor) take turns round
 * by round, so a burst of noise from elsewhere does not land on one of them
 * only. No garbage collection is forced between rounds: tried with
 * `--expose-gc`, it halved Zest's figures (tells/s with back-pressure 16–28M
 * → 7–8M, asks 1.3–2M → 0.7–1.3M), as each round then starts from a cold heap.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * One line of the results table: a Zest figure beside a peer measured in the
 * same run. `bench/remote.ts` and `bench/kernel.ts` return the same shape.
 */
export interface Row {
  /** What was measured. */
  name: string;
  /** Zest's figure, formatted. */
  zest: string | number;
  /** The peer's figure(s), formatted and labelled (e.g. `nact 250k/s`). */
  peer: string | number;
  /** The goal, e.g. `≥ 10M/s`. */
  target?: string;
  /** Whether Zest met the target, when that can be judged. */
  met?: boolean;
}

/** How hard to measure. */
export interface BenchOptions {
  /** Measured rounds per figure; the median is reported (default 5). */
  rounds?: number;
  /** Rounds run first and discarded (default 1). */
  warmup?: number;
  /** Smaller workloads and fewer rounds: a smoke test, not a measurement. */
  quick?: boolean;
}

/**
 * `options` with defaults applied (`quick` means 2 rounds, no warm-up).
 *
 * @example
 * ```ts
 * import { resolveOptions } from "./common.ts";
 * resolveOptions({}); // { quick: false, rounds: 5, warmup: 1 }
 * ```
 */
export function resolveOptions(options: BenchOptions = {}): Required<BenchOptions> {
  const quick = options.quick ?? false;
  return {
    quick,
    rounds: Math.max(1, options.rounds ?? (quick ? 2 : 5)),
    warmup: Math.max(0, options.warmup ?? (quick ? 0 : 1)),
  };
}

/**
 * Read `--rounds N`, `--warmup N` and `--quick` from command-line arguments;
 * other arguments are returned as `rest`.
 *
 * @example
 * ```ts
 * import { parseBenchArgs } from "./common.ts";
 * parseBenchArgs(["tasks", "--rounds", "3"]); // { options: { rounds: 3 }, rest: ["tasks"] }
 * ```
 */
export function parseBenchArgs(args: string[]): { options: BenchOptions; rest: string[] } {
  const options: BenchOptions = {};
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const [flag, inline] = args[i].split("=", 2);
    const value = () => Number(inline ?? args[++i]);
    if (flag === "--quick") options.quick = true;
    else if (flag === "--rounds") options.rounds = value();
    else if (flag === "--warmup") options.warmup = value();
    else rest.push(args[i]);
  }
  for (const key of ["rounds", "warmup"] as const) {
    const n = options[key];
    if (n !== undefined && !(Number.isInteger(n) && n >= 0)) {
      throw new RangeError(`--${key} needs a whole number, got ${n}`);
    }
  }
  return { options, rest };
}

/**
 * The median of `values` (the mean of the middle two for an even count).
 *
 * @example
 * ```ts
 * import { median } from "./common.ts";
 * median([3, 1, 2]); // 2
 * ```
 */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * Resolve on a later macrotask, after pending microtasks and I/O callbacks.
 *
 * @example
 * ```ts
 * import { tick } from "./common.ts";
 * await tick();
 * ```
 */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Run `round` `warmup` times (discarded), then `rounds` times, and return the
 * median of what it returned. Each round is logged to stderr so noise shows.
 * To set figures side by side, prefer `compare`, which interleaves them.
 *
 * @example
 * ```ts
 * import { perSecond, repeat } from "./common.ts";
 * const rate = await repeat("spin", { rounds: 3, warmup: 1 }, () => {
 *   const t0 = performance.now();
 *   for (let i = 0; i < 1e6; i++);
 *   return perSecond(1e6, performance.now() - t0);
 * });
 * ```
 */
export async function repeat(
  label: string,
  options: BenchOptions,
  round: () => number | Promise<number>,
  format: (value: number) => string = formatRate,
): Promise<number> {
  const { rounds, warmup } = resolveOptions(options);
  for (let i = 0; i < warmup; i++) await round();
  const values: number[] = [];
  for (let i = 0; i < rounds; i++) {
    values.push(await round());
    await tick(); // let the round's leftovers (timers, settlements) run outside the next one
  }
  const mid = median(values);
  progress(`  ${label}: ${values.map(format).join("  ")}  → median ${format(mid)}`);
  return mid;
}

/** One side of a comparison: a round returns its figure (e.g. operations per second). */
export interface Contender {
  /** Runs one round and returns its figure. */
  run: () => number | Promise<number>;
  /** Extra warm-up rounds for this contender, beyond the options' (default 0). */
  extraWarmup?: number;
}

/**
 * Measure several contenders: warm each up, then run `rounds` rounds in which
 * each contender runs once, in turn. Returns each contender's median, keyed
 * like `contenders`. Every round's figure is logged to stderr, so noise shows.
 *
 * @example
 * ```ts
 * import { compare, perSecond } from "./common.ts";
 * const spin = (n: number) => () => {
 *   const t0 = performance.now();
 *   for (let i = 0; i < n; i++);
 *   return perSecond(n, performance.now() - t0);
 * };
 * const { small, large } = await compare("spin", { rounds: 3 }, {
 *   small: { run: spin(1e5) },
 *   large: { run: spin(1e6) },
 * });
 * ```
 */
export async function compare<K extends string>(
  label: string,
  options: BenchOptions,
  contenders: Record<K, Contender>,
  format: (value: number) => string = formatRate,
): Promise<Record<K, number>> {
  const { rounds, warmup } = resolveOptions(options);
  const names = Object.keys(contenders) as K[];
  for (const name of names) {
    const { run, extraWarmup = 0 } = contenders[name];
    for (let i = 0; i < warmup + extraWarmup; i++) await run();
  }
  const values = Object.fromEntries(names.map((name) => [name, [] as number[]])) as Record<
    K,
    number[]
  >;
  for (let i = 0; i < rounds; i++) {
    for (const name of names) {
      values[name].push(await contenders[name].run());
      await tick(); // let the round's leftovers (timers, settlements) run outside the next one
    }
  }
  const medians = {} as Record<K, number>;
  for (const name of names) {
    medians[name] = median(values[name]);
    progress(
      `  ${label}, ${name}: ${values[name].map(format).join("  ")}  → median ${
        format(medians[name])
      }`,
    );
  }
  return medians;
}

/**
 * Operations per second of `ops` operations that took `ms` milliseconds.
 *
 * @example
 * ```ts
 * import { perSecond } from "./common.ts";
 * perSecond(1_000, 2); // 500000
 * ```
 */
export function perSecond(ops: number, ms: number): number {
  return ops / (ms / 1000);
}

/**
 * A rate with SI suffix: `12.3M/s`, `456k/s`, `78/s`.
 *
 * @example
 * ```ts
 * import { formatRate } from "./common.ts";
 * formatRate(1_234_567); // "1.23M/s"
 * ```
 */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value >= 1e6) return `${(value / 1e6).toFixed(value >= 1e7 ? 1 : 2)}M/s`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(value >= 1e5 ? 0 : 1)}k/s`;
  return `${value.toFixed(0)}/s`;
}

/**
 * Bytes as megabytes (10^6), one decimal.
 *
 * @example
 * ```ts
 * import { formatBytes } from "./common.ts";
 * formatBytes(12_345_678); // "12.3 MB"
 * ```
 */
export function formatBytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

/**
 * A progress line on stderr, so stdout keeps only the table.
 *
 * @example
 * ```ts
 * import { progress } from "./common.ts";
 * progress("tasks: 3.2 s");
 * ```
 */
export function progress(line: string): void {
  console.error(line);
}

/**
 * Render `rows` as a Markdown table (name | zest | peer | target), with ✓ or
 * ✗ after the target when the row says whether it was met.
 *
 * @example
 * ```ts
 * import { formatTable } from "./common.ts";
 * formatTable([{ name: "asks/s", zest: "1.2M/s", peer: "nact 90k/s" }]);
 * ```
 */
export function formatTable(rows: readonly Row[]): string {
  const header = ["name", "zest", "peer", "target"];
  const cells = rows.map((row) => [
    row.name,
    String(row.zest),
    String(row.peer),
    row.target === undefined
      ? ""
      : row.met === undefined
      ? row.target
      : `${row.target} ${row.met ? "✓" : "✗"}`,
  ]);
  const widths = header.map((title, i) =>
    Math.max(title.length, ...cells.map((line) => [...line[i]].length))
  );
  const line = (values: string[]) =>
    `| ${values.map((v, i) => v + " ".repeat(widths[i] - [...v].length)).join(" | ")} |`;
  return [
    line(header),
    `|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`,
    ...cells.map(line),
  ].join("\n");
}

/**
 * Print `rows` as a table on stdout.
 *
 * @example
 * ```ts
 * import { printTable } from "./common.ts";
 * printTable([{ name: "tells/s", zest: "12M/s", peer: "nact 250k/s", target: "≥ 10M/s", met: true }]);
 * ```
 */
export function printTable(rows: readonly Row[]): void {
  console.log(formatTable(rows));
}

/**
 * For a group run on its own: parse the command line, run `bench`, print its table.
 *
 * @example
 * ```ts
 * import { runStandalone } from "./common.ts";
 * import { benchActors } from "./actors.ts";
 * if (import.meta.main) await runStandalone(benchActors);
 * ```
 */
export async function runStandalone(
  bench: (options: BenchOptions) => Promise<Row[]>,
): Promise<void> {
  const { options } = parseBenchArgs(Deno.args);
  printTable(unjudgedIfQuick(await bench(options), options));
}

/**
 * A quick run is a smoke test: drop the ✓/✗ verdicts, which would judge
 * figures from workloads too small to mean anything.
 *
 * @example
 * ```ts
 * import { unjudgedIfQuick } from "./common.ts";
 * unjudgedIfQuick([{ name: "x", zest: 1, peer: 2, met: false }], { quick: true })[0].met; // undefined
 * ```
 */
export function unjudgedIfQuick(rows: Row[], options: BenchOptions): Row[] {
  return options.quick ? rows.map(({ met: _met, ...row }) => row) : rows;
}

/**
 * Task benchmarks: round trips through the task manager to a service with a
 * no-op handler, for a parallel and a serial task type — sequential
 * `client.execute` per second, and throughput with 1 000 executes in flight
 * (a sliding window: each one that settles starts the next).
 *
 * Peers, measured in the same run: the same request/reply through a manager
 * actor and a service actor on nact (`bench/nact_peer.ts`), and a plain
 * promise-returning function call (the floor). With 1 000 in flight, also
 * the bare floor of a task — only what every task must do: validate its
 * fields with its zod schema, get a `crypto.randomUUID()`, settle a promise —
 * and Zest's throughput as a ratio of it (issue 11's target: at least 0.5).
 *
 * Run alone: `deno run --allow-all bench/tasks.ts [--rounds N] [--quick]`
 *
 * @module
 */
import { z } from "zod";
import { type Client, defineTask, Runtime, Service, type Task } from "../src/mod.ts";
import {
  type BenchOptions,
  compare,
  formatRate,
  perSecond,
  progress,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";
import { type NactPipeline, startNactPipeline } from "./nact_peer.ts";

/** nact queries that timed out, over the whole group. */
const lostQueries = { count: 0 };

/** Executes kept in flight by the windowed measurement. */
export const WINDOW = 1_000;

/** Timeout of the peer's queries: a lost one stalls its round this long. */
const NACT_QUERY_TIMEOUT_MS = 5_000;

const Noop = defineTask("BenchNoop", { schema: z.object({}), parallel: true });
const NoopSerial = defineTask("BenchNoopSerial", { schema: z.object({}), parallel: false });

const noop = (): number => 0;

/** Time `n` calls of `call`, each awaited before the next. */
async function sequential(n: number, call: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await call();
  return perSecond(n, performance.now() - t0);
}

/** Time `n` calls of `call` with `window` of them outstanding at any moment. */
async function windowed(n: number, window: number, call: () => Promise<unknown>): Promise<number> {
  let issued = 0;
  const lane = async () => {
    while (issued < n) {
      issued++;
      await call();
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(window, n) }, lane));
  return perSecond(n, performance.now() - t0);
}

/**
 * The bare floor of one task: only what every task must do — validate its
 * fields with the task type's zod schema, make an id, settle a promise with
 * the result. No actor, no record, no lane.
 */
function bareTask(fields: unknown): Promise<unknown> {
  const checked = Noop.schema.safeParse(fields);
  if (!checked.success) return Promise.reject(checked.error);
  const id = crypto.randomUUID();
  return Promise.resolve().then(() => ({ id, result: noop() }));
}

/** The floor: a promise-returning function call, serial ones chained on a tail promise. */
function floorExecutor(): (serial: boolean) => Promise<unknown> {
  let tail: Promise<unknown> = Promise.resolve();
  return (serial) => {
    if (!serial) return Promise.resolve().then(noop);
    tail = tail.then(noop);
    return tail;
  };
}

interface Figures {
  sequential: Record<"zest" | "nact" | "floor", number>;
  windowed: Record<"zest" | "nact" | "floor" | "bare", number>;
}

async function measureMode(
  serial: boolean,
  client: Client,
  nactPipeline: NactPipeline,
  options: Required<BenchOptions>,
): Promise<Figures> {
  const scale = options.quick ? 0.1 : 1;
  const seqN = Math.round(30_000 * scale);
  const winN = Math.round(100_000 * scale);
  const nactSeqN = Math.round(5_000 * scale);
  const nactWinN = Math.round(20_000 * scale);
  const task: Task = serial ? NoopSerial.create({}) : Noop.create({});
  const type = serial ? "serial" : "parallel";
  const zest = () => client.execute("bench", task);
  // nact names a query's reply slot with a random 32-bit id: with 1 000
  // queries outstanding, a collision (a query never answered, timing out)
  // is rare but possible. Count it rather than abort the run; the round it
  // stalls is an outlier the median drops.
  const viaNact = () =>
    nactPipeline.execute({}, serial).catch(() => {
      lostQueries.count++;
    });
  const floor = floorExecutor();
  const viaFloor = () => floor(serial);
  const viaBare = () => bareTask(task.fields);
  // Zest's first rounds pay for JIT compilation: one more warm-up round.
  const extraWarmup = options.quick ? 0 : 1;
  return {
    sequential: await compare(
      `${type} sequential (zest/floor ${seqN}, nact ${nactSeqN})`,
      options,
      {
        zest: { run: () => sequential(seqN, zest), extraWarmup },
        nact: { run: () => sequential(nactSeqN, viaNact) },
        floor: { run: () => sequential(seqN, viaFloor) },
      },
    ),
    windowed: await compare(
      `${type} ${WINDOW} in flight (zest/floor ${winN}, nact ${nactWinN})`,
      options,
      {
        zest: { run: () => windowed(winN, WINDOW, zest), extraWarmup },
        nact: { run: () => windowed(nactWinN, WINDOW, viaNact) },
        floor: { run: () => windowed(winN, WINDOW, viaFloor) },
        bare: { run: () => windowed(winN, WINDOW, viaBare) },
      },
    ),
  };
}

/** Smallest share of the bare floor Zest's parallel figure with 1 000 in flight should reach. */
export const BARE_FLOOR_TARGET = 0.5;

/**
 * Zest with 1 000 in flight as a ratio of the bare floor measured in the
 * same rounds; judged (issue 11) for the parallel type only: a serial task
 * also waits for the one before it, which the floor does not.
 */
function bareFloorRow(
  type: string,
  windowedFigures: { zest: number; bare: number },
  judged: boolean,
): Row {
  const ratio = windowedFigures.zest / windowedFigures.bare;
  return {
    name: `${type} no-op, ${WINDOW.toLocaleString("en")} in flight, zest ÷ bare task floor`,
    zest: ratio.toFixed(2),
    peer: `bare floor ${formatRate(windowedFigures.bare)} (zod + randomUUID + promise)`,
    ...(judged ? { target: `≥ ${BARE_FLOOR_TARGET}`, met: ratio >= BARE_FLOOR_TARGET } : {}),
  };
}

/**
 * Measure task round trips through the manager for Zest, nact and the floor.
 * Returns table rows; nothing is printed but progress on stderr.
 *
 * @example
 * ```ts
 * import { benchTasks } from "./tasks.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchTasks({ rounds: 3 }));
 * ```
 */
export async function benchTasks(options: BenchOptions = {}): Promise<Row[]> {
  const opts = resolveOptions(options);
  const service = new Service("bench")
    .registerHandler(Noop, noop)
    .registerHandler(NoopSerial, noop);
  const runtime = await Runtime.start({ services: [service] });
  const client = runtime.client();
  const nactPipeline = startNactPipeline(noop, NACT_QUERY_TIMEOUT_MS);
  lostQueries.count = 0;
  const rows: Row[] = [];
  try {
    for (const serial of [false, true]) {
      const figures = await measureMode(serial, client, nactPipeline, opts);
      const type = serial ? "serial" : "parallel";
      const peer = (f: { nact: number; floor: number }) =>
        `nact ${formatRate(f.nact)} · fn floor ${formatRate(f.floor)}`;
      rows.push(
        {
          name: `tasks/s, ${type} no-op, sequential execute (await each)`,
          zest: formatRate(figures.sequential.zest),
          peer: peer(figures.sequential),
          target: "≥ 100k/s",
          met: figures.sequential.zest >= 100e3,
        },
        {
          name: `tasks/s, ${type} no-op, ${WINDOW.toLocaleString("en")} in flight`,
          zest: formatRate(figures.windowed.zest),
          peer: peer(figures.windowed),
          target: "≥ 200k/s",
          met: figures.windowed.zest >= 200e3,
        },
        bareFloorRow(type, figures.windowed, !serial),
      );
    }
    if (lostQueries.count > 0) {
      progress(`  nact: ${lostQueries.count} queries timed out (reply-slot id collision)`);
    }
  } finally {
    nactPipeline.stop();
    await runtime.stop();
  }
  return rows;
}

if (import.meta.main) await runStandalone(benchTasks);

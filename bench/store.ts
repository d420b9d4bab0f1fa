/**
 * Durable-store benchmarks (issue 12): what keeping every task in the SQLite
 * store (`src/store/`) costs, through the whole runtime (`client.execute` of
 * a no-op parallel task type), beside the in-memory store and beside BullMQ
 * on Redis (`bench/bullmq_peer.ts`), all measured in the same run.
 *
 * - `benchStore` (the `store` group of `deno task bench`): tasks/s with
 *   1,000 executes in flight and sequential `execute`, SQLite store
 *   (`synchronous: "normal"`) and memory store, rounds interleaved; for
 *   SQLite also the pace until the database holds every record (the worker
 *   applying the intent log, which back-pressure holds a longer run to).
 *   Then the store alone, without the manager: `put` + `flush` of a task's
 *   two states, one task per flush and 1,000 per flush. Then SQLite alone:
 *   the rate at which it takes the store's rows, the floor under the store
 *   (many rows a statement, as the store writes them, and one a statement).
 * - `benchStoreLong` (explicit, not in `deno task bench`): 1M tasks, 1,000
 *   in flight, with a 1 s retention; RSS, the file sizes and the records
 *   held along the way and at the end, each store in a fresh process.
 *
 * Run: `deno task bench store [--rounds N] [--quick]`;
 * `deno run --allow-all bench/store.ts [--rounds N] [--quick]`;
 * `deno run --allow-all bench/store.ts long [--tasks 1000000]`.
 *
 * @module
 */
import { z } from "zod";
import { defineTask, Runtime, Service } from "../src/mod.ts";
import { MemoryTaskStore } from "../src/manager/memory_store.ts";
import type { TaskStore } from "../src/manager/store.ts";
import { SqliteTaskStore } from "../src/store/mod.ts";
import type { TaskRecord } from "../src/task/record.ts";
import { prepareSchema } from "../src/store/schema.ts";
import { uuidv7 } from "../src/util/uuid.ts";
import { DatabaseSync } from "node:sqlite";
import { measureBullmq } from "./bullmq_peer.ts";
import {
  type BenchOptions,
  compare,
  formatBytes,
  formatRate,
  perSecond,
  printTable,
  progress,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";
import { windowed } from "./window.ts";

const Noop = defineTask("StoreBenchNoop", { schema: z.object({}), parallel: true });

/** Executes in flight for the throughput figures. */
const IN_FLIGHT = 1_000;

/** A runtime with one no-op service on `store`, and where its file is. */
async function startRuntime(
  store: "memory" | "sqlite",
  retention?: { ttlMs?: number; maxRecords?: number },
): Promise<{ runtime: Runtime; dir: string; stop(): Promise<void> }> {
  const dir = Deno.makeTempDirSync({ prefix: "zest-store-bench-" });
  const service = new Service("bench").registerHandler(Noop, () => 0);
  const runtime = await Runtime.start({
    services: [service],
    store: store === "memory" ? "memory" : { path: `${dir}/zest.db` },
    retention,
  });
  return {
    runtime,
    dir,
    async stop() {
      await runtime.stop();
      Deno.removeSync(dir, { recursive: true });
    },
  };
}

/** Resolves once the store's database has every record flushed so far (SQLite). */
async function applied(store: TaskStore): Promise<void> {
  if (store instanceof SqliteTaskStore) await store.applied();
}

/** Through the runtime: SQLite beside memory, sequential and with 1,000 in flight. */
async function throughRuntime(options: Required<BenchOptions>) {
  const scale = options.quick ? 0.1 : 1;
  const sequentialN = Math.round(20_000 * scale);
  const windowN = Math.round(100_000 * scale);
  const memory = await startRuntime("memory");
  const sqlite = await startRuntime("sqlite");
  const task = Noop.create({});
  /** The SQLite pace until the database had each round's records: the sustained one. */
  const untilApplied: number[] = [];
  const round = (runtime: Runtime, n: number, inFlight: number, track = false) => async () => {
    const client = runtime.client();
    const t0 = performance.now();
    const rate = await windowed(n, inFlight, () => client.execute("bench", task));
    await applied(runtime.manager.store);
    if (track) untilApplied.push(perSecond(n, performance.now() - t0));
    return rate;
  };
  try {
    const sequential = await compare(`sequential execute (${sequentialN})`, options, {
      sqlite: { run: round(sqlite.runtime, sequentialN, 1), extraWarmup: 1 },
      memory: { run: round(memory.runtime, sequentialN, 1), extraWarmup: 1 },
    });
    untilApplied.length = 0;
    const inFlight = await compare(`${IN_FLIGHT} in flight (${windowN})`, options, {
      sqlite: { run: round(sqlite.runtime, windowN, IN_FLIGHT, true), extraWarmup: 1 },
      memory: { run: round(memory.runtime, windowN, IN_FLIGHT), extraWarmup: 1 },
    });
    // Warm-up rounds tracked too: keep the measured ones.
    const measured = untilApplied.slice(-options.rounds);
    progress(
      `  ${IN_FLIGHT} in flight, sqlite until in the database: ${
        measured.map(formatRate).join("  ")
      }`,
    );
    return {
      sequential,
      inFlight,
      inFlightApplied: median(measured),
      records: (await sqlite.runtime.client().store()).records,
      files: fileSizes(sqlite.dir),
    };
  } finally {
    await sqlite.stop();
    await memory.stop();
  }
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** A queued record of the store-alone figures, and its finished state. */
function queuedRecord(i: number): TaskRecord {
  return {
    id: uuidv7(),
    type: "Noop",
    service: "bench",
    fields: { qubit: i % 20 },
    attributes: {},
    parallel: true,
    state: "queued",
    attempts: 0,
    createdAt: Date.now(),
    log: [],
  };
}

function finish(record: TaskRecord): void {
  const now = Date.now();
  record.attempts = 1;
  record.startedAt = now;
  record.state = "succeeded";
  record.log = [
    { at: now, level: "info", message: "attempt 1", state: "running" },
    { at: now, level: "info", message: "", state: "succeeded" },
  ];
  record.outcome = { status: "ok", id: record.id, result: null };
  record.finishedAt = now;
  record.expiresAt = now + 3_600_000;
}

/**
 * The store alone: per task, put it queued and flush, then put it finished
 * and flush (`perFlush` tasks per flush). Returns the pace of the calls and
 * the pace until the database had them all.
 */
async function storeAlone(
  kind: "memory" | "sqlite",
  perFlush: number,
  tasks: number,
): Promise<{ calls: number; applied: number }> {
  const dir = Deno.makeTempDirSync({ prefix: "zest-store-bench-" });
  const retention = { maxRecords: Infinity };
  const store = kind === "memory"
    ? new MemoryTaskStore({ retention })
    : new SqliteTaskStore({ path: `${dir}/zest.db`, retention });
  await store.open();
  try {
    const t0 = performance.now();
    for (let i = 0; i < tasks; i += perFlush) {
      const batch = Array.from({ length: perFlush }, (_, j) => queuedRecord(i + j));
      for (const record of batch) store.put(record);
      await store.flush();
      for (const record of batch) {
        finish(record);
        store.put(record);
      }
      await store.flush();
    }
    const calls = perSecond(tasks, performance.now() - t0);
    await applied(store);
    return { calls, applied: perSecond(tasks, performance.now() - t0) };
  } finally {
    await store.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

/** The columns of `tasks` the store writes, in its order. */
const COLUMNS =
  "seq, id, service, type, state, created_at, started_at, finished_at, expires_at, record, key";

/**
 * The floor under the SQLite store: plain `INSERT`s of finished records
 * (as `finish` makes them) into a file made as the store makes it (its
 * schema, 8 KiB pages, WAL; `synchronous=NORMAL`), `perTransaction` per
 * transaction; no intent log, no worker, no manager. `rowsPerStatement`: 1,
 * one `run()` per row; more, multi-row `VALUES` as the store's writer does
 * (a call per row costs more than SQLite's own work on it). With `indexes:
 * false`, the table alone.
 */
function sqliteFloor(
  rows: number,
  { indexes, rowsPerStatement }: { indexes: boolean; rowsPerStatement: number },
  perTransaction = 2_000,
): number {
  const dir = Deno.makeTempDirSync({ prefix: "zest-store-bench-" });
  const db = new DatabaseSync(`${dir}/floor.db`);
  try {
    prepareSchema(db, `${dir}/floor.db`, 3_600_000);
    db.exec("PRAGMA synchronous=NORMAL;");
    if (!indexes) {
      for (
        const { name } of db.prepare(
          "SELECT name FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL",
        ).all()
      ) {
        db.exec(`DROP INDEX ${name}`);
      }
    }
    const statement = (n: number) =>
      db.prepare(
        `INSERT INTO tasks (${COLUMNS}) VALUES ${
          Array(n).fill("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)").join(", ")
        }`,
      );
    const many = statement(rowsPerStatement);
    const one = statement(1);
    const records = Array.from({ length: rows }, (_, i) => {
      const record = queuedRecord(i);
      finish(record);
      return record;
    });
    const values = records.map((r, i) => [
      i + 1,
      r.id,
      r.service,
      r.type,
      r.state,
      r.createdAt,
      r.startedAt ?? null,
      r.finishedAt ?? null,
      r.expiresAt ?? null,
      JSON.stringify(r),
      null,
    ]);
    const t0 = performance.now();
    for (let i = 0; i < rows; i += perTransaction) {
      const end = Math.min(i + perTransaction, rows);
      db.exec("BEGIN");
      let j = i;
      for (; j + rowsPerStatement <= end; j += rowsPerStatement) {
        many.run(...values.slice(j, j + rowsPerStatement).flat());
      }
      for (; j < end; j++) one.run(...values[j]);
      db.exec("COMMIT");
    }
    return perSecond(rows, performance.now() - t0);
  } finally {
    db.close();
    Deno.removeSync(dir, { recursive: true });
  }
}

/**
 * The `store` group: SQLite beside memory and BullMQ, through the runtime,
 * then the store alone, then SQLite alone (the floor).
 *
 * @example
 * ```ts
 * import { benchStore } from "./store.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchStore({ quick: true }));
 * ```
 */
export async function benchStore(options: BenchOptions = {}): Promise<Row[]> {
  const opts = resolveOptions(options);
  const runtime = await throughRuntime(opts);
  const bullSequential = await measureBullmq({ inFlight: 1 }, opts);
  const bullInFlight = await measureBullmq({ inFlight: IN_FLIGHT }, opts);
  // 10 000 tasks: below the SQLite store's back-pressure point (20 000 records
  // not yet in the database), so "put + flush" is the calling thread's own cost.
  const aloneTasks = opts.quick ? 2_000 : 10_000;
  const alone: Record<string, { calls: number; applied: number }> = {};
  for (
    const [kind, perFlush] of [["sqlite", 1], ["memory", 1], ["sqlite", 1000], [
      "memory",
      1000,
    ]] as const
  ) {
    const calls: number[] = [];
    const applieds: number[] = [];
    for (let round = 0; round < opts.rounds; round++) {
      const figures = await storeAlone(kind, perFlush, aloneTasks);
      calls.push(figures.calls);
      applieds.push(figures.applied);
    }
    alone[`${kind} ${perFlush}`] = { calls: median(calls), applied: median(applieds) };
    progress(
      `  store alone, ${kind}, ${perFlush}/flush: ${calls.map(formatRate).join("  ")}` +
        (kind === "sqlite"
          ? ` (until in the database: ${applieds.map(formatRate).join("  ")})`
          : ""),
    );
  }
  const floorRows = opts.quick ? 10_000 : 100_000;
  const floorKinds = {
    multiRow: { indexes: true, rowsPerStatement: 64 },
    perRow: { indexes: true, rowsPerStatement: 1 },
    table: { indexes: false, rowsPerStatement: 64 },
  };
  const floor: Record<keyof typeof floorKinds, number[]> = { multiRow: [], perRow: [], table: [] };
  for (let round = 0; round < opts.rounds; round++) {
    for (const [kind, how] of Object.entries(floorKinds)) {
      floor[kind as keyof typeof floorKinds].push(sqliteFloor(floorRows, how));
    }
  }
  progress(
    `  SQLite floor, ${floorRows} rows: 64 rows a statement ${
      floor.multiRow.map(formatRate).join("  ")
    }; one a statement ${floor.perRow.map(formatRate).join("  ")}; table only (64 a statement) ${
      floor.table.map(formatRate).join("  ")
    }`,
  );
  const ms = (rate: number) => `${(1000 / rate).toFixed(3)} ms`;
  return [
    {
      name: `store: tasks/s, ${IN_FLIGHT.toLocaleString("en")} in flight (execute), SQLite store`,
      zest: `${formatRate(runtime.inFlight.sqlite)} (${
        formatRate(runtime.inFlightApplied)
      } until in the database)`,
      peer: `memory store ${formatRate(runtime.inFlight.memory)} · bullmq add-and-wait ${
        formatRate(bullInFlight.addAndWait)
      } · addBulk ${formatRate(bullInFlight.bulk ?? NaN)}`,
      target: "≥ 100k/s",
      met: runtime.inFlight.sqlite >= 100e3,
    },
    {
      name: "store: sequential execute/s, SQLite store",
      zest: `${formatRate(runtime.sequential.sqlite)} (${ms(runtime.sequential.sqlite)})`,
      peer: `memory store ${formatRate(runtime.sequential.memory)} · bullmq ${
        formatRate(bullSequential.addAndWait)
      } (${ms(bullSequential.addAndWait)})`,
      target: "≥ 20k/s",
      met: runtime.sequential.sqlite >= 20e3,
    },
    {
      name: "store alone: put+flush of queued and finished, 1 task per flush",
      zest: `SQLite ${formatRate(alone["sqlite 1"].calls)} (${
        formatRate(alone["sqlite 1"].applied)
      } until in the database)`,
      peer: `memory ${formatRate(alone["memory 1"].calls)}`,
    },
    {
      name: "store alone: put+flush of queued and finished, 1,000 tasks per flush",
      zest: `SQLite ${formatRate(alone["sqlite 1000"].calls)} (${
        formatRate(alone["sqlite 1000"].applied)
      } until in the database)`,
      peer: `memory ${formatRate(alone["memory 1000"].calls)}`,
    },
    {
      name:
        "SQLite alone: rows/s INSERTed into the store's schema (finished records, 2,000 a commit, 64 a statement)",
      zest: formatRate(median(floor.multiRow)),
      peer: `one row a statement ${
        formatRate(median(floor.perRow))
      } · the table without its secondary indexes ${formatRate(median(floor.table))}`,
    },
    {
      name: "store: SQLite files after the runtime rounds (default retention: 10,000 records)",
      zest: `db ${formatBytes(runtime.files.db)} + WAL ${formatBytes(runtime.files.wal)} + logs ${
        formatBytes(runtime.files.logs)
      }, ${runtime.records} records`,
      peer: "",
    },
  ];
}

/** One sample of the long run (printed by the child as a JSON line). */
interface Sample {
  tasks: number;
  seconds: number;
  rss: number;
  heap: number;
  records: number;
  /** SQLite only: the database, its WAL, the intent logs. */
  db?: number;
  wal?: number;
  logs?: number;
}

function fileSizes(dir: string): { db: number; wal: number; logs: number } {
  const sizes = { db: 0, wal: 0, logs: 0 };
  for (const entry of Deno.readDirSync(dir)) {
    const size = Deno.statSync(`${dir}/${entry.name}`).size;
    if (entry.name === "zest.db") sizes.db += size;
    else if (entry.name === "zest.db-wal") sizes.wal += size;
    else if (entry.name.includes("-intent.")) sizes.logs += size;
  }
  return sizes;
}

/** The child of the long run: `tasks` executes, 1,000 in flight, samples every 100k. */
async function longChild(kind: "memory" | "sqlite", tasks: number): Promise<void> {
  const { runtime, dir, stop } = await startRuntime(kind, { ttlMs: 1_000, maxRecords: Infinity });
  const client = runtime.client();
  const task = Noop.create({});
  const t0 = performance.now();
  const sample = async (done: number) => {
    const memory = Deno.memoryUsage();
    const line: Sample = {
      tasks: done,
      seconds: (performance.now() - t0) / 1000,
      rss: memory.rss,
      heap: memory.heapUsed,
      records: (await client.store()).records,
      ...(kind === "sqlite" ? fileSizes(dir) : {}),
    };
    console.log(JSON.stringify(line));
  };
  // In steps of 10 000, each followed by a turn of the event loop: in-process
  // executes resolve in microtasks only, and a server's I/O would give timers
  // (the memory store's retention, the SQLite store's posts) their turns.
  const step = 10_000;
  for (let done = 0; done < tasks;) {
    const n = Math.min(step, tasks - done);
    await windowed(n, IN_FLIGHT, () => client.execute("bench", task));
    await new Promise((resolve) => setTimeout(resolve, 0));
    done += n;
    if (done % 100_000 === 0 || done === tasks) await sample(done);
  }
  await applied(runtime.manager.store);
  // One retention period later: what a steady state holds.
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  await sample(tasks);
  await stop();
}

/**
 * The long run: `tasks` (default 1M) tasks with a 1 s retention, SQLite and
 * memory each in a fresh process; RSS and file size along the way.
 *
 * @example
 * ```ts
 * import { benchStoreLong } from "./store.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchStoreLong({ tasks: 100_000 }));
 * ```
 */
export async function benchStoreLong(
  { tasks = 1_000_000 }: { tasks?: number } = {},
): Promise<Row[]> {
  const results: Record<string, Sample[]> = {};
  for (const kind of ["sqlite", "memory"] as const) {
    progress(`store long run, ${kind}: ${tasks} tasks, ${IN_FLIGHT} in flight, retention 1 s`);
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        new URL(import.meta.url).pathname,
        "long-child",
        kind,
        `${tasks}`,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const samples: Sample[] = [];
    let rest = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + text).split("\n");
      rest = lines.pop() as string;
      for (const line of lines) {
        const sample = JSON.parse(line) as Sample;
        samples.push(sample);
        progress(
          `  ${sample.tasks} tasks, ${sample.seconds.toFixed(1)} s: RSS ${
            formatBytes(sample.rss)
          }, ` +
            `heap ${formatBytes(sample.heap)}, ${sample.records} records` +
            (kind === "sqlite"
              ? `, db ${formatBytes(sample.db ?? 0)} + WAL ${formatBytes(sample.wal ?? 0)} + logs ${
                formatBytes(sample.logs ?? 0)
              }`
              : ""),
        );
      }
    }
    if (!(await child.status).success) throw new Error(`the ${kind} long run failed`);
    results[kind] = samples;
  }
  const end = (kind: string) => results[kind][results[kind].length - 2];
  const settled = (kind: string) => results[kind][results[kind].length - 1];
  const sqlite = end("sqlite");
  const largestDb = Math.max(...results.sqlite.map((sample) => sample.db ?? 0));
  return [
    {
      name: `store: ${
        tasks.toLocaleString("en")
      } tasks, retention 1 s, ${IN_FLIGHT} in flight: tasks/s`,
      zest: `SQLite ${formatRate(perSecond(tasks, sqlite.seconds * 1000))}`,
      peer: `memory ${formatRate(perSecond(tasks, end("memory").seconds * 1000))}`,
    },
    {
      name: `store: RSS after ${tasks.toLocaleString("en")} tasks (1 s retention)`,
      zest: `SQLite ${formatBytes(sqlite.rss)} (heap ${formatBytes(sqlite.heap)})`,
      peer: `memory ${formatBytes(end("memory").rss)} (heap ${formatBytes(end("memory").heap)})`,
    },
    {
      name: `store: SQLite file after ${tasks.toLocaleString("en")} tasks (1 s retention)`,
      zest: `db ${formatBytes(sqlite.db ?? 0)} + WAL ${formatBytes(sqlite.wal ?? 0)} + logs ${
        formatBytes(sqlite.logs ?? 0)
      }; largest db ${formatBytes(largestDb)}; ${settled("sqlite").records} records 1.5 s later`,
      peer: "",
    },
  ];
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  if (mode === "long-child") {
    await longChild(rest[0] as "memory" | "sqlite", Number(rest[1]));
  } else if (mode === "long") {
    const at = rest.indexOf("--tasks");
    printTable(await benchStoreLong({ tasks: at >= 0 ? Number(rest[at + 1]) : undefined }));
  } else {
    await runStandalone(benchStore);
  }
}

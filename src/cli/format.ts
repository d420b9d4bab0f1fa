/** How `zest` shows outcomes, records, services, task lists, schedules and events to a person. */
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskProgress, TaskRecord } from "../task/record.ts";
import type { ScheduleInfo } from "../manager/schedules.ts";
import type { StoreStats } from "../manager/store.ts";
import type { ServiceInfo, TaskEvent, TaskRecordSummary } from "../manager/types.ts";
import type { ClusterServiceInfo } from "../transport/nats/registry.ts";

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);
/** A date and time to the second, UTC: `2026-11-29 18:34:20`. */
const dateTime = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace("T", " ");

/**
 * A task id as people read it: its last 8 hex digits. Ids are UUIDv7, whose
 * first digits are a timestamp shared by every task of the same minute.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { shortId } from "./format.ts";
 * assert.equal(shortId("01a22898-0844-7b09-887c-207dde3de3be"), "de3de3be");
 * ```
 */
export function shortId(id: string): string {
  return id.slice(-8);
}

/**
 * A task's progress as people read it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { progressText } from "./format.ts";
 * assert.equal(progressText({ fraction: 0.4, message: "calibrating", at: 0 }), "40% calibrating");
 * ```
 */
export function progressText({ fraction, message }: TaskProgress): string {
  return `${Math.round(fraction * 100)}%${message ? ` ${message}` : ""}`;
}

/**
 * How long a task ran (or has been running), e.g. `12 ms`, `3.4 s`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatDuration } from "./format.ts";
 * assert.equal(formatDuration({ startedAt: 1_000, finishedAt: 4_400 }), "3.4 s");
 * ```
 */
export function formatDuration(
  record: { startedAt?: number; finishedAt?: number },
  now = Date.now(),
): string {
  if (record.startedAt === undefined) return "";
  const ms = (record.finishedAt ?? now) - record.startedAt;
  return ms < 1_000 ? `${ms} ms` : `${(ms / 1_000).toFixed(1)} s`;
}

function value(result: unknown): string {
  return typeof result === "string" ? result : JSON.stringify(result, null, 2);
}

/** MIME types a terminal shows as they are: the result's value already says them. */
const TEXT_FORMS = new Set(["text/plain", "application/json"]);

/**
 * An outcome: the result (or error and traceback), then what a kernel
 * printed, and which rich forms its result and displays have (images,
 * HTML…: shown by the dashboard).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatOutcome } from "./format.ts";
 * assert.equal(formatOutcome({ status: "ok", id: "7d0e", result: "Hello Ada" }), "Hello Ada");
 * ```
 */
export function formatOutcome(outcome: TaskOutcome): string {
  const parts: string[] = [];
  const execution = outcome.execution;
  if (outcome.status === "ok") {
    // A kernel task that only printed or plotted has a null result: not worth a line.
    const quiet = outcome.result === null && (execution?.stdout || execution?.displays.length);
    if (!quiet) parts.push(value(outcome.result));
  } else {
    parts.push(`${outcome.ename}: ${outcome.evalue}`);
    if (outcome.traceback) parts.push(outcome.traceback);
  }
  const richResult = Object.keys(execution?.executeResult?.data ?? {})
    .filter((type) => !TEXT_FORMS.has(type));
  if (richResult.length) {
    parts.push(`(result also as ${richResult.join(", ")}; see the dashboard)`);
  }
  if (execution?.stdout) parts.push(`--- stdout ---\n${execution.stdout.trimEnd()}`);
  if (execution?.stderr) parts.push(`--- stderr ---\n${execution.stderr.trimEnd()}`);
  if (execution?.displays.length) {
    const types = execution.displays.map((d) => Object.keys(d.data)[0] ?? "?").join(", ");
    parts.push(`(${execution.displays.length} rich output(s): ${types}; see the dashboard)`);
  }
  return parts.join("\n");
}

/**
 * A task record: facts, log, then the outcome if it ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatRecord } from "./format.ts";
 * import type { TaskRecord } from "../task/record.ts";
 * const record: TaskRecord = {
 *   id: "01a22898-0844-7b09-887c-207dde3de3be",
 *   type: "Sum",
 *   service: "lab",
 *   fields: { a: 1, b: 2 },
 *   attributes: {},
 *   parallel: true,
 *   state: "succeeded",
 *   attempts: 1,
 *   createdAt: Date.UTC(2026, 0, 1),
 *   startedAt: Date.UTC(2026, 0, 1),
 *   finishedAt: Date.UTC(2026, 0, 1) + 2,
 *   log: [],
 *   outcome: { status: "ok", id: "01a22898-0844-7b09-887c-207dde3de3be", result: 3 },
 * };
 * const text = formatRecord(record);
 * assert.match(text, /^task +01a22898-0844-7b09-887c-207dde3de3be$/m);
 * assert.match(text, /^type +Sum on lab \(parallel\)$/m);
 * assert.match(text, /^state +succeeded \(attempts: 1\)$/m);
 * assert.match(text, /^fields +\{"a":1,"b":2\}$/m);
 * ```
 */
export function formatRecord(record: TaskRecord): string {
  const facts: [string, string][] = [
    ["task", record.id],
    ["type", `${record.type} on ${record.service} (${record.parallel ? "parallel" : "serial"})`],
    ["state", `${record.state} (attempts: ${record.attempts})`],
    ["created", new Date(record.createdAt).toISOString()],
  ];
  const duration = formatDuration(record);
  if (duration) facts.push(["duration", duration]);
  if (record.progress) facts.push(["progress", progressText(record.progress)]);
  if (record.priority) facts.push(["priority", String(record.priority)]);
  if (record.key !== undefined) facts.push(["key", record.key]);
  if (record.after?.length) {
    const onFailure = record.onDependencyFailure === "run" ? "runs" : "is cancelled";
    facts.push(["after", `${record.after.join(", ")} (if one fails, this ${onFailure})`]);
  }
  if (record.dependents?.length) facts.push(["dependents", record.dependents.join(", ")]);
  if (record.deadline !== undefined) {
    facts.push(["deadline", `${new Date(record.deadline).toISOString()} (expires if not started)`]);
  }
  if (record.parent !== undefined) facts.push(["parent", record.parent]);
  if (record.rerunOf !== undefined) facts.push(["rerun of", record.rerunOf]);
  if (record.schedule !== undefined) facts.push(["schedule", record.schedule]);
  if (Object.keys(record.attributes).length) {
    facts.push(["attributes", JSON.stringify(record.attributes)]);
  }
  facts.push(["fields", JSON.stringify(record.fields)]);
  const lines = facts.map(([key, text]) => `${key.padEnd(10)} ${text}`);
  lines.push("log:");
  for (const entry of record.log) {
    const what = [entry.state, entry.message].filter(Boolean).join(": ");
    lines.push(`  ${time(entry.at)} ${entry.level.padEnd(5)} ${what}`);
  }
  if (record.outcome) lines.push("outcome:", formatOutcome(record.outcome));
  return lines.join("\n");
}

/**
 * Rows padded into columns.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { table } from "./format.ts";
 * assert.equal(table([["A", "BB"], ["ccc", "d"]]), "A    BB\nccc  d");
 * ```
 */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/**
 * Services as a table: state, kernel, queue depths, task types; then, for a
 * NATS cluster, a line per replica (where it runs, since when, what it runs);
 * then a line for each `stuck` service: the task whose handler holds it,
 * since when, and how to free it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatServices } from "./format.ts";
 * import type { ServiceInfo } from "../manager/types.ts";
 * const services: ServiceInfo[] = [{
 *   name: "lab",
 *   kind: "service",
 *   taskTypes: [{ name: "Sum", parallel: true, kind: "task", schema: {} }],
 *   state: "running",
 *   queued: 0,
 *   running: 1,
 * }];
 * assert.equal(
 *   formatServices(services),
 *   "SERVICE  KIND     STATE    KERNEL  QUEUED  RUNNING  TASK TYPES\n" +
 *     "lab      service  running  -       0       1        Sum",
 * );
 * ```
 */
export function formatServices(services: (ServiceInfo | ClusterServiceInfo)[]): string {
  if (services.length === 0) return "no services";
  const replicas = services.flatMap((service) =>
    "replicas" in service
      ? service.replicas.map((r) =>
        `${service.name} replica ${r.replica} on ${r.host} (pid ${r.pid}) since ` +
        `${new Date(r.since).toISOString()}: ${r.state}, ${r.running} running, ${r.queued} queued`
      )
      : []
  );
  const stuck = services.flatMap(({ name, stuck }) =>
    stuck
      ? [
        `${name} is stuck since ${new Date(stuck.since).toISOString()}: the handler of task ` +
        `${stuck.taskId} did not return after it was told to stop; ` +
        `'deno task zest release ${name}' frees its lane`,
      ]
      : []
  );
  const rows = table([
    ["SERVICE", "KIND", "STATE", "KERNEL", "QUEUED", "RUNNING", "TASK TYPES"],
    ...services.map((s) => [
      s.name,
      s.kind,
      s.state,
      s.kernel ? `${s.kernel.name} (${s.kernel.status})` : "-",
      String(s.queued),
      String(s.running),
      s.taskTypes.map((t) => t.name).join(", ") || "-",
    ]),
  ]);
  return [rows, ...replicas, ...stuck].join("\n");
}

/** An ended task's one-line preview (a JSON preview of the result, or `ename: evalue`), for a row. */
function summary(record: TaskRecordSummary): string {
  const text = record.brief?.text ?? "";
  if (record.brief?.status === "error") return text;
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

/**
 * One line per task event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatEvent } from "./format.ts";
 * import type { TaskEvent } from "../manager/types.ts";
 * const event: TaskEvent = {
 *   kind: "log",
 *   id: "01a22898-0844-7b09-887c-207dde3de3be",
 *   entry: { at: Date.now(), level: "info", message: "sweeping" },
 * };
 * assert.match(formatEvent(event) ?? "", /^\d\d:\d\d:\d\d\.\d{3}  log +01a22898-\S+  sweeping$/);
 * ```
 */
export function formatEvent(event: TaskEvent, now = Date.now()): string {
  if (event.kind === "log") {
    return `${time(event.entry.at)}  ${"log".padEnd(9)}  ${event.id}  ${event.entry.message}`;
  }
  if (event.kind === "service") {
    const { name, state, kernel } = event.service;
    return `${time(now)}  ${"service".padEnd(9)}  ${name} ${state}` +
      (kernel ? `, kernel ${kernel.name} ${kernel.status}` : "");
  }
  if (event.kind === "progress") {
    return `${time(now)}  ${"progress".padEnd(9)}  ${event.id}  ` +
      progressText(event.progress);
  }
  if (event.kind === "output") {
    const { output } = event;
    const text = output.kind === "stream"
      ? `${output.name === "stderr" ? "stderr: " : ""}${output.text.trimEnd()}`
      : output.kind === "display"
      ? `(a display: ${Object.keys(output.display.data).join(", ")})`
      : "(output cleared)";
    const head = `${time(now)}  ${"output".padEnd(9)}  ${event.id}  `;
    // Printed lines stay under the first, so the columns of the next events stay readable.
    return head + text.replaceAll("\n", `\n${" ".repeat(head.length)}`);
  }
  if (event.kind === "removed") return `${time(now)}  ${"removed".padEnd(9)}  ${event.id}`;
  if (event.kind === "schedule") {
    const { name, service, state, running, nextRunAt } = event.schedule;
    return `${time(now)}  ${"schedule".padEnd(9)}  ${name} on ${service} ${state}` +
      (running ? ", running" : "") + (nextRunAt ? `, next run ${dateTime(nextRunAt)}` : "");
  }
  const record = event.record;
  return [
    time(now),
    record.state.padEnd(9),
    record.id,
    `${record.type} on ${record.service}`,
    formatDuration(record, now),
    summary(record),
  ].filter(Boolean).join("  ");
}

/**
 * Task summaries as a table, newest first: full ids (what other commands
 * take), state, creation time (UTC), duration, type, service, and a preview
 * of the result or error (or the progress of a running task).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatTasks } from "./format.ts";
 * const text = formatTasks([{
 *   id: "01a22898-0844-7b09-887c-207dde3de3be",
 *   type: "Sum",
 *   service: "lab",
 *   attributes: {},
 *   parallel: true,
 *   state: "succeeded",
 *   attempts: 1,
 *   createdAt: 0,
 *   startedAt: 0,
 *   finishedAt: 2,
 *   brief: { status: "ok", text: '"3 V"' },
 * }]);
 * assert.equal(
 *   text.split("\n")[1],
 *   '01a22898-0844-7b09-887c-207dde3de3be  succeeded  1970-01-01 00:00:00  2 ms      Sum   lab      "3 V"',
 * );
 * ```
 */
export function formatTasks(records: readonly TaskRecordSummary[], now = Date.now()): string {
  if (records.length === 0) return "no tasks";
  return table([
    ["ID", "STATE", "CREATED (UTC)", "DURATION", "TYPE", "SERVICE", "RESULT"],
    ...records.map((record) => [
      record.id,
      record.state,
      dateTime(record.createdAt),
      formatDuration(record, now) || "-",
      record.type,
      record.service,
      record.brief
        ? summary(record)
        : record.progress
        ? progressText(record.progress)
        : record.after?.length && record.state === "waiting"
        ? `waits for ${record.after.map(shortId).join(", ")}`
        : "",
    ]),
  ]);
}

/**
 * A serial queue in running order: position (0 holds the lane), priority,
 * full id, state, type, and how long it has waited.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatQueue } from "./format.ts";
 * const text = formatQueue([{
 *   id: "01a22898-0844-7b09-887c-207dde3de3be", type: "Calibrate", service: "lab", attributes: {},
 *   parallel: false, state: "queued", attempts: 0, createdAt: 0, priority: 5,
 * }], 2_000);
 * assert.match(text, /^1 +5 +01a22898-0844-7b09-887c-207dde3de3be +queued +Calibrate +2\.0 s$/m);
 * ```
 */
export function formatQueue(records: readonly TaskRecordSummary[], now = Date.now()): string {
  if (records.length === 0) return "nothing queued";
  const position = records[0].state === "queued" ? 1 : 0;
  return table([
    ["#", "PRIORITY", "ID", "STATE", "TYPE", "WAITING"],
    ...records.map((record, i) => [
      String(position + i),
      String(record.priority ?? 0),
      record.id,
      record.state,
      record.type,
      formatDuration({ startedAt: record.createdAt, finishedAt: record.startedAt }, now),
    ]),
  ]);
}

/**
 * A size for people: `512 B`, `4.0 KiB`, `1.2 MiB`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatBytes } from "./format.ts";
 * assert.equal(formatBytes(1_258_291), "1.2 MiB");
 * ```
 */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let unit = 0;
  let value = bytes;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * Where the server keeps its records: kind, path, size, count.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatStore } from "./format.ts";
 * assert.equal(formatStore({ kind: "memory", records: 3 }), "store    memory\nrecords  3");
 * ```
 */
export function formatStore(stats: StoreStats): string {
  const facts: [string, string][] = [["store", stats.kind]];
  if (stats.path !== undefined) facts.push(["path", stats.path]);
  if (stats.bytes !== undefined) facts.push(["size", `${formatBytes(stats.bytes)} on disk`]);
  facts.push(["records", String(stats.records)]);
  return facts.map(([key, text]) => `${key.padEnd(8)} ${text}`).join("\n");
}

/** When a schedule runs: `every 30m`, `cron 0 3 * * * (Europe/Paris)`. */
function scheduleWhen(schedule: ScheduleInfo): string {
  if (schedule.every !== undefined) return `every ${schedule.every}`;
  return `cron ${schedule.cron}${schedule.timezone ? ` (${schedule.timezone})` : ""}`;
}

/**
 * Schedules as a table: the service each submits to and when, its state,
 * its last and next run (UTC), and how many runs it started and slots it
 * skipped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { formatSchedules } from "./format.ts";
 * const text = formatSchedules([{
 *   name: "nightly",
 *   service: "calibration",
 *   type: "MaintainNode",
 *   cron: "0 3 * * *",
 *   timezone: "UTC",
 *   state: "scheduled",
 *   running: false,
 *   nextRunAt: Date.UTC(2026, 10, 30, 3),
 *   runs: 0,
 *   skips: 0,
 * }]);
 * assert.match(text, /^nightly +calibration +cron 0 3 \* \* \* \(UTC\) +scheduled +- +2026-11-30 03:00:00 +0 +0$/m);
 * ```
 */
export function formatSchedules(schedules: readonly ScheduleInfo[]): string {
  if (schedules.length === 0) return "no schedules";
  return table([
    [
      "NAME",
      "SERVICE",
      "WHEN",
      "STATE",
      "LAST RUN (UTC)",
      "NEXT RUN (UTC)",
      "RUNS",
      "SKIPS",
    ],
    ...schedules.map((s) => [
      s.name,
      s.service,
      scheduleWhen(s),
      s.running ? `${s.state}, running` : s.state,
      s.lastRunAt === undefined ? "-" : dateTime(s.lastRunAt),
      s.nextRunAt === undefined ? "-" : dateTime(s.nextRunAt),
      String(s.runs),
      String(s.skips),
    ]),
  ]);
}

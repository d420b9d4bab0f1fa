/** How `zest` shows outcomes, records, services and events to a person. */
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskRecord } from "../task/record.ts";
import type { ServiceInfo, TaskEvent, TaskRecordSummary } from "../manager/types.ts";

const time = (ms: number) => new Date(ms).toISOString().slice(11, 23);

/**
 * How long a task ran (or has been running), e.g. `12 ms`, `3.4 s`.
 *
 * @example
 * ```ts
 * import { formatDuration } from "./format.ts";
 * formatDuration({ startedAt: 1_000, finishedAt: 4_400 }); // "3.4 s"
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
 * import { formatOutcome } from "./format.ts";
 * formatOutcome({ status: "ok", id: "7d0e", result: "Hello Ada" }); // "Hello Ada"
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
 * import { formatRecord } from "./format.ts";
 * import type { TaskRecord } from "../task/record.ts";
 * declare const record: TaskRecord;
 * console.log(formatRecord(record));
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
 * import { table } from "./format.ts";
 * table([["A", "BB"], ["ccc", "d"]]); // "A    BB\nccc  d"
 * ```
 */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  return rows.map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd())
    .join("\n");
}

/**
 * Services as a table: state, kernel, queue depths, task types.
 *
 * @example
 * ```ts
 * import { formatServices } from "./format.ts";
 * import type { ServiceInfo } from "../manager/types.ts";
 * declare const services: ServiceInfo[];
 * console.log(formatServices(services));
 * ```
 */
export function formatServices(services: ServiceInfo[]): string {
  if (services.length === 0) return "no services";
  return table([
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
 * import { formatEvent } from "./format.ts";
 * import type { TaskEvent } from "../manager/types.ts";
 * declare const event: TaskEvent;
 * console.log(formatEvent(event));
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
    const { fraction, message } = event.progress;
    return `${time(event.progress.at)}  ${"progress".padEnd(9)}  ${event.id}  ` +
      `${Math.round(fraction * 100)}%${message ? ` ${message}` : ""}`;
  }
  if (event.kind === "output") {
    const { output } = event;
    const text = output.kind === "stream"
      ? output.text.trimEnd()
      : output.kind === "display"
      ? `(a display: ${Object.keys(output.display.data).join(", ")})`
      : "(output cleared)";
    return `${time(now)}  ${"output".padEnd(9)}  ${event.id}  ${text}`;
  }
  if (event.kind === "removed") return `${time(now)}  ${"removed".padEnd(9)}  ${event.id}`;
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

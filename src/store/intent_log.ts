/**
 * The intent log: the durability point of the SQLite store. Each `flush()`
 * appends the changes made since the previous one as lines, with one write;
 * a worker applies them to the database later, and `open()` replays the lines
 * it had not applied when the process stopped.
 *
 * Files: `<db>-intent.<generation>` beside the database (`zest.db-intent.7`);
 * a new generation starts when a file passes its size limit, and at each open.
 * Lines (UTF-8, `\n`-terminated):
 *
 * - `[seq,"id","service","type","state",createdAt,startedAt,finishedAt,expiresAt,"key"]`,
 *   a tab, then the record as JSON — insert or replace the record `id`,
 *   submitted as number `seq` (a record keeps the seq of its first put). The
 *   head carries the database's indexed columns (numbers, strings or `null`),
 *   so the worker need not parse the record; JSON never holds a raw tab or
 *   newline. (Schema version 1 wrote heads without the key; they still read.)
 * - `["id"]` — delete the record `id`.
 * - `{"meta":"name","value":"text"}` — keep `text` under `name` (`putMeta`).
 *
 * A line cut short by a crash or a power cut does not parse, and is skipped.
 */
import type { TaskRecord, TaskState } from "../task/record.ts";

/** The indexed columns of a put, as its line's head carries them. */
export interface LogColumns {
  service: string;
  type: string;
  state: TaskState;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  expiresAt: number | null;
  /** The idempotency key. */
  key: string | null;
}

/** One change to a record read from the log: a put (with its record as JSON text) or a delete. */
export interface LogChange {
  id: string;
  /** Submission number; 0 for a delete. */
  seq: number;
  /** Undefined for a delete. */
  put: { columns: LogColumns; record: string } | undefined;
}

/** A value kept beside the records, read from the log. */
export interface MetaChange {
  meta: string;
  value: string;
}

const time = (value: number | undefined): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null;

/**
 * The line that puts `record`, submitted as number `seq`.
 *
 * @example
 * ```ts
 * import { putLine } from "./intent_log.ts";
 * import { EMPTY_LOG, type TaskRecord } from "../task/record.ts";
 * const record: TaskRecord = {
 *   id: "0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d", type: "Calibrate", service: "lab", fields: {},
 *   attributes: {}, parallel: false, state: "queued", attempts: 0, createdAt: 1735689600000, log: EMPTY_LOG,
 * };
 * const line = putLine(7, record);
 * if (!line.startsWith('[7,"0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d","lab","Calibrate","queued",1735689600000,null,null,null,null]\t{')) {
 *   throw new Error("the columns, a tab, then the record");
 * }
 * ```
 */
export function putLine(seq: number, record: TaskRecord): string {
  return `[${seq},${JSON.stringify(record.id)},${JSON.stringify(record.service)},${
    JSON.stringify(record.type)
  },"${record.state}",${time(record.createdAt) ?? 0},${time(record.startedAt)},${
    time(record.finishedAt)
  },${time(record.expiresAt)},${
    typeof record.key === "string" ? JSON.stringify(record.key) : "null"
  }]\t${JSON.stringify(record)}\n`;
}

/**
 * The line that keeps `value` under `name`.
 *
 * @example
 * ```ts
 * import { metaLine } from "./intent_log.ts";
 * metaLine("schedules", "{}"); // '{"meta":"schedules","value":"{}"}\n'
 * ```
 */
export function metaLine(name: string, value: string): string {
  return `${JSON.stringify({ meta: name, value })}\n`;
}

/**
 * The line that deletes record `id`.
 *
 * @example
 * ```ts
 * import { deleteLine } from "./intent_log.ts";
 * deleteLine("a1"); // '["a1"]\n'
 * ```
 */
export function deleteLine(id: string): string {
  return `[${JSON.stringify(id)}]\n`;
}

type Head = [
  number,
  string,
  string,
  string,
  TaskState,
  number,
  number | null,
  number | null,
  number | null,
  (string | null)?,
];

/**
 * Read one line (without its `\n`) that this process wrote: only its head is
 * parsed, the record is left as text (the database stores it as it is).
 * Returns undefined for a line that is not a change.
 *
 * @example
 * ```ts
 * import { readLine } from "./intent_log.ts";
 * readLine('["a1"]'); // { id: "a1", seq: 0, put: undefined }
 * ```
 */
export function readLine(line: string): LogChange | MetaChange | undefined {
  const tab = line.indexOf("\t");
  if (tab < 0) return readCheckedLine(line);
  let head: Head;
  try {
    head = JSON.parse(line.slice(0, tab));
  } catch {
    return undefined;
  }
  return change(head, line.slice(tab + 1));
}

/**
 * Read one line of a log file found on disk, checking all of it: undefined
 * when the line does not parse or has not the shape of a change (a line torn
 * by a crash).
 *
 * @example
 * ```ts
 * import { readCheckedLine } from "./intent_log.ts";
 * readCheckedLine('[7,"a1","lab","Calibrate","queued",0,null,null,null]\t{"id":"a1"'); // undefined: torn
 * ```
 */
export function readCheckedLine(line: string): LogChange | MetaChange | undefined {
  const tab = line.indexOf("\t");
  let head: unknown;
  let record: unknown;
  try {
    head = JSON.parse(tab < 0 ? line : line.slice(0, tab));
    if (tab >= 0) record = JSON.parse(line.slice(tab + 1));
  } catch {
    return undefined;
  }
  if (!Array.isArray(head)) {
    const { meta, value } = (head ?? {}) as Partial<MetaChange>;
    return tab < 0 && typeof meta === "string" && typeof value === "string"
      ? { meta, value }
      : undefined;
  }
  if (tab < 0) {
    return head.length === 1 && typeof head[0] === "string"
      ? { id: head[0], seq: 0, put: undefined }
      : undefined;
  }
  const times = head.slice(5, 9);
  const key = head[9] ?? null;
  if (
    (head.length !== 9 && head.length !== 10) || !Number.isSafeInteger(head[0]) || head[0] <= 0 ||
    head.slice(1, 5).some((value) => typeof value !== "string") ||
    times.some((value, i) => !(typeof value === "number" || (i > 0 && value === null))) ||
    !(key === null || typeof key === "string") ||
    typeof record !== "object" || record === null || (record as TaskRecord).id !== head[1]
  ) return undefined;
  return change(head as Head, line.slice(tab + 1));
}

function change(head: Head, record: string): LogChange {
  const [seq, id, service, type, state, createdAt, startedAt, finishedAt, expiresAt, key] = head;
  return {
    id,
    seq,
    put: {
      columns: {
        service,
        type,
        state,
        createdAt,
        startedAt,
        finishedAt,
        expiresAt,
        key: key ?? null,
      },
      record,
    },
  };
}

/**
 * The path of the log file of `generation` for database `dbPath`.
 *
 * @example
 * ```ts
 * import { logPath } from "./intent_log.ts";
 * logPath("/lab/.zest/zest.db", 3); // "/lab/.zest/zest.db-intent.3"
 * ```
 */
export function logPath(dbPath: string, generation: number): string {
  return `${dbPath}-intent.${generation}`;
}

/**
 * The generations of the log files of `dbPath` on disk, oldest first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { IntentLogFile, logGenerations } from "./intent_log.ts";
 * const db = `${Deno.makeTempDirSync()}/zest.db`;
 * await IntentLogFile.create(db, 4).close();
 * await IntentLogFile.create(db, 3).close();
 * assert.deepEqual(logGenerations(db), [3, 4]);
 * ```
 */
export function logGenerations(dbPath: string): number[] {
  const slash = dbPath.lastIndexOf("/");
  const dir = slash < 0 ? "." : dbPath.slice(0, slash) || "/";
  const prefix = `${dbPath.slice(slash + 1)}-intent.`;
  const generations: number[] = [];
  for (const entry of Deno.readDirSync(dir)) {
    if (!entry.isFile || !entry.name.startsWith(prefix)) continue;
    const generation = Number(entry.name.slice(prefix.length));
    if (Number.isSafeInteger(generation) && generation >= 0) generations.push(generation);
  }
  return generations.sort((a, b) => a - b);
}

/**
 * One log file being written. `append` writes with one system call (a
 * process crash loses nothing appended); `synced()` is a group commit: one
 * `fdatasync` covers every append made before it starts.
 *
 * @example
 * ```ts
 * import { IntentLogFile } from "./intent_log.ts";
 * const dir = Deno.makeTempDirSync();
 * const log = IntentLogFile.create(`${dir}/zest.db`, 1);
 * log.append(new TextEncoder().encode('["gone"]\n'));
 * await log.synced(); // on the disk, even across a power cut
 * if (log.size !== 9) throw new Error("one line of 9 bytes");
 * await log.close();
 * ```
 */
export class IntentLogFile {
  /** Bytes appended. */
  size = 0;
  #file: Deno.FsFile;
  #syncing: Promise<void> | undefined = undefined;
  #nextSync: Promise<void> | undefined = undefined;
  #unsynced = false;

  private constructor(readonly path: string, readonly generation: number, file: Deno.FsFile) {
    this.#file = file;
  }

  /** Create the log file of `generation` (it must not exist). */
  static create(dbPath: string, generation: number): IntentLogFile {
    const path = logPath(dbPath, generation);
    return new IntentLogFile(
      path,
      generation,
      Deno.openSync(path, { write: true, createNew: true }),
    );
  }

  /** Write `bytes` at the end (all of them: a short write is continued). */
  append(bytes: Uint8Array): void {
    for (let done = 0; done < bytes.length;) {
      done += this.#file.writeSync(done === 0 ? bytes : bytes.subarray(done));
    }
    this.size += bytes.length;
    this.#unsynced = true;
  }

  /** Resolves once every byte appended so far is on the disk; undefined if it already is. */
  synced(): Promise<void> | undefined {
    if (this.#unsynced) {
      this.#unsynced = false;
      this.#nextSync ??= (this.#syncing ?? Promise.resolve()).catch(() => {}).then(() => {
        this.#nextSync = undefined;
        const syncing = this.#file.syncData().finally(() => {
          if (this.#syncing === syncing) this.#syncing = undefined;
        });
        return this.#syncing = syncing;
      });
    }
    return this.#nextSync ?? this.#syncing;
  }

  /** Close the file once the syncs under way have ended. */
  async close(): Promise<void> {
    await (this.#nextSync ?? this.#syncing)?.catch(() => {});
    this.#file.close();
  }
}

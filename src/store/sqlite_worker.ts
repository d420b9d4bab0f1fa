/**
 * The worker of the SQLite store: it owns the write connection
 * ({@linkcode SqliteWriter}), applies what the store flushed in large
 * transactions (everything that arrived while it was busy goes in the next
 * one, coalesced by id), acknowledges each, and runs retention on a timer.
 * It starts the checkpointer (`sqlite_checkpointer.ts`) and tells it of each
 * commit.
 */
import { retentionDelay } from "../manager/retention.ts";
import { StoreOpenError } from "../manager/store.ts";
import { type FromWorker, SqliteWriter, type ToWorker } from "./sqlite_writer.ts";
import type { FromCheckpointer, ToCheckpointer } from "./sqlite_checkpointer.ts";

/** Most log bytes one transaction takes: a long backlog is applied in steps. */
const MAX_TRANSACTION_BYTES = 16 << 20;
/**
 * Transactions start at least this far apart: what arrives meanwhile joins
 * the next one, so a task submitted and finished within it costs one row
 * write. Measured here with 1,000 tasks in flight (each lives ~20–30 ms):
 * 10 ms wrote most tasks twice, and the database kept up with ~15–20k
 * tasks/s; 100 ms, ~30–40k/s; 250 ms, no better. Nothing waits for it: the
 * intent log is the durability point, and reads see the records in memory.
 */
const APPLY_INTERVAL_MS = 100;

type ApplyMessage = Extract<ToWorker, { kind: "apply" }>;

let writer: SqliteWriter | undefined;
let checkpointer: Worker | undefined;
let checkpointerClosed: PromiseWithResolvers<void> | undefined;
let failed = false;
const queue: ApplyMessage[] = [];
let draining = false;
let lastApply = -Infinity;
let expiryTimer: ReturnType<typeof setTimeout> | undefined;
let expiryAt = Infinity;
let lastExpiry = -Infinity;

/** This worker's global scope, typed for what it uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
  postMessage(message: FromWorker): void;
}
const scope = globalThis as unknown as WorkerScope;

const reply = (message: FromWorker) => scope.postMessage(message);

scope.onmessage = async (event: MessageEvent<ToWorker>) => {
  const message = event.data;
  switch (message.kind) {
    case "open":
      try {
        const { writer: opened, opened: found } = SqliteWriter.open(message.path, message);
        writer = opened;
        startCheckpointer({ kind: "open", path: message.path, synchronous: message.synchronous });
        reply({ kind: "opened", opened: found });
        scheduleExpiry();
      } catch (error) {
        const text = error instanceof StoreOpenError
          ? error.message
          : `${message.path} cannot be opened: ${error instanceof Error ? error.message : error}`;
        reply({ kind: "refused", message: text });
      }
      return;
    case "apply":
      queue.push(message);
      scheduleDrain();
      return;
    case "close":
      while (queue.length > 0 && !failed) applyQueued();
      clearTimeout(expiryTimer);
      // The writer's connection closes last: SQLite then copies the WAL in and removes it.
      await closeCheckpointer();
      writer?.close();
      writer = undefined;
      reply({ kind: "closed" });
      return;
  }
};

/** Start the checkpointer on the database just opened; its failure is the store's. */
function startCheckpointer(open: ToCheckpointer): void {
  checkpointer = new Worker(new URL("./sqlite_checkpointer.ts", import.meta.url).href, {
    type: "module",
  });
  checkpointer.onmessage = (event: MessageEvent<FromCheckpointer>) => {
    if (event.data.kind === "closed") checkpointerClosed?.resolve();
    else fail(new Error(event.data.message));
  };
  checkpointer.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    // It will answer nothing more.
    checkpointer?.terminate();
    checkpointer = undefined;
    checkpointerClosed?.resolve();
    fail(new Error(`checkpointer: ${event.message}`));
  };
  checkpointer.postMessage(open);
}

/** Tell the checkpointer of a commit. */
function committed(): void {
  checkpointer?.postMessage({ kind: "committed" } satisfies ToCheckpointer);
}

/** Close the checkpointer's connection, then end it. */
async function closeCheckpointer(): Promise<void> {
  if (!checkpointer) return;
  checkpointerClosed = Promise.withResolvers();
  checkpointer.postMessage({ kind: "close" } satisfies ToCheckpointer);
  await checkpointerClosed.promise;
  checkpointer?.terminate();
  checkpointer = undefined;
}

function scheduleDrain(): void {
  if (draining) return;
  draining = true;
  setTimeout(drain, Math.max(lastApply + APPLY_INTERVAL_MS - Date.now(), 0));
}

function drain(): void {
  draining = false;
  if (queue.length === 0 || failed) return;
  lastApply = Date.now();
  applyQueued();
  if (queue.length > 0) scheduleDrain();
}

/** Apply the queued flushes (up to a transaction's worth) in one transaction. */
function applyQueued(): void {
  let bytes = 0;
  let taken = 0;
  while (taken < queue.length && (taken === 0 || bytes < MAX_TRANSACTION_BYTES)) {
    bytes += queue[taken++].text.length;
  }
  const batch = queue.splice(0, taken);
  const last = batch[batch.length - 1];
  const texts = batch.map((message) => message.text);
  if (!attempt(() => writer?.apply(texts, last.position, Date.now()))) return;
  committed();
  reply({ kind: "applied", flushNo: last.flushNo, position: last.position });
  // The caps may have freed pages.
  if (attempt(() => writer?.shrink())) scheduleExpiry();
}

/** Run `work`; if it throws, the store has failed. */
function attempt(work: () => void): boolean {
  try {
    work();
    return true;
  } catch (error) {
    fail(error);
    return false;
  }
}

/** Run retention at the earliest expiry held, at most once per tick. */
function scheduleExpiry(): void {
  const next = writer?.nextExpiry();
  if (next === undefined || (expiryTimer !== undefined && next >= expiryAt)) return;
  clearTimeout(expiryTimer);
  expiryAt = next;
  expiryTimer = setTimeout(expire, retentionDelay(next, lastExpiry, Date.now()));
}

function expire(): void {
  expiryTimer = undefined;
  expiryAt = Infinity;
  if (failed) return;
  const now = lastExpiry = Date.now();
  if (!attempt(() => writer?.expire(now))) return;
  committed();
  if (attempt(() => writer?.shrink())) scheduleExpiry();
}

function fail(error: unknown): void {
  failed = true;
  queue.length = 0;
  clearTimeout(expiryTimer);
  reply({ kind: "failed", message: error instanceof Error ? error.message : String(error) });
}

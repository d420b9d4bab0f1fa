/**
 * The checkpointer of the SQLite store: a connection of its own, in a worker
 * of its own (started by the writer's worker, `sqlite_worker.ts`), that copies
 * the WAL into the database after the writer's commits
 * (`PRAGMA wal_checkpoint(PASSIVE)`: it never blocks the writer). A
 * checkpoint ends with `fsync`s; done by the writer, they stalled it: with
 * the copies here, the writer took ~25% more rows per second (measured here).
 * Once a checkpoint has copied all of the WAL, the writer's next commit
 * starts the WAL over, so it stays small; should this fall behind, the
 * writer's own automatic checkpoint still bounds it.
 *
 * Its connection syncs as the writer's does (`synchronous`): what a
 * checkpoint copies is on the disk before the WAL is started over.
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { Synchronous } from "./sqlite_writer.ts";

/** A message from the writer's worker to the checkpointer. */
export type ToCheckpointer =
  | { kind: "open"; path: string; synchronous: Synchronous }
  | { kind: "committed" }
  | { kind: "close" };

/** A message from the checkpointer to the writer's worker. */
export type FromCheckpointer = { kind: "failed"; message: string } | { kind: "closed" };

/** This worker's global scope, typed for what it uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<ToCheckpointer>) => void) | null;
  postMessage(message: FromCheckpointer): void;
}
const scope = globalThis as unknown as WorkerScope;

let db: DatabaseSync | undefined;
let checkpoint: StatementSync | undefined;
/** A checkpoint is due: commits that arrive meanwhile are covered by it. */
let due = false;

scope.onmessage = (event: MessageEvent<ToCheckpointer>) => {
  const message = event.data;
  switch (message.kind) {
    case "open":
      attempt(() => {
        db = new DatabaseSync(message.path, { timeout: 5_000 });
        db.exec(`PRAGMA synchronous = ${message.synchronous === "full" ? "FULL" : "NORMAL"}`);
        checkpoint = db.prepare("PRAGMA wal_checkpoint(PASSIVE)");
      });
      return;
    case "committed":
      if (due) return;
      due = true;
      // After the messages already queued: one checkpoint covers their commits.
      setTimeout(() => {
        due = false;
        attempt(() => checkpoint?.get());
      }, 0);
      return;
    case "close":
      attempt(() => db?.close());
      db = checkpoint = undefined;
      scope.postMessage({ kind: "closed" });
      return;
  }
};

function attempt(work: () => void): void {
  try {
    work();
  } catch (error) {
    try {
      db?.close();
    } catch {
      // Failed already: the message below says why.
    }
    db = checkpoint = undefined;
    scope.postMessage({
      kind: "failed",
      message: `checkpoint: ${error instanceof Error ? error.message : String(error)}`,
    });
  }
}

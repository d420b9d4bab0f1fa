// Group commit: one flush per turn, actions after it in order, promise flushes in order, failures.
import assert from "node:assert/strict";
import { Journal } from "./journal.ts";
import type { TaskStore } from "./store.ts";
import type { TaskRecord } from "../task/record.ts";

/**
 * A store that writes what is done to it into `log`; each flush returns
 * what `nextFlush` gives (nothing: done at once).
 */
class RecordingStore {
  readonly log: string[] = [];
  nextFlush: () => void | Promise<void> = () => {};
  put(record: TaskRecord) {
    this.log.push(`put ${record.id}`);
  }
  delete(id: string) {
    this.log.push(`delete ${id}`);
  }
  flush(): void | Promise<void> {
    this.log.push("flush");
    return this.nextFlush();
  }
}

function journalOn(store: RecordingStore): Journal<string> {
  return new Journal<string>(
    store as unknown as TaskStore,
    (action) => store.log.push(`run ${action}`),
  );
}

const record = (id: string) => ({ id }) as TaskRecord;

/**
 * Let every queued microtask (and those they queue) run: what the test holds
 * back (an unresolved flush) cannot have happened by then, however long it takes.
 */
const drain = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

/** Run `body` with console.error captured (the journal reports failures there). */
async function capturingErrors(body: (errors: string[]) => Promise<void>): Promise<void> {
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.map(String).join(" "));
  try {
    await body(errors);
  } finally {
    console.error = original;
  }
}

Deno.test("journal: one flush per turn, then the turn's actions, in the order given", async () => {
  const store = new RecordingStore();
  const journal = journalOn(store);
  journal.save(record("t1"));
  journal.after("tell t1's submitter");
  journal.save(record("t2"));
  journal.delete("t0");
  journal.after("start t1");
  journal.after("tell t2's submitter");
  // Changes reach the store at once (reads see them); nothing is run before the flush.
  assert.deepEqual(store.log, ["put t1", "put t2", "delete t0"]);
  await Promise.resolve();
  assert.deepEqual(store.log, [
    "put t1",
    "put t2",
    "delete t0",
    "flush",
    "run tell t1's submitter",
    "run start t1",
    "run tell t2's submitter",
  ]);
  // The next turn has its own flush.
  journal.after("later");
  await Promise.resolve();
  assert.deepEqual(store.log.slice(-2), ["flush", "run later"]);
});

Deno.test("journal: with a flush that returns a promise, actions wait for it", async () => {
  const store = new RecordingStore();
  const journal = journalOn(store);
  const disk = Promise.withResolvers<void>();
  store.nextFlush = () => disk.promise;
  journal.save(record("t1"));
  journal.after("a");
  await drain();
  assert.deepEqual(store.log, ["put t1", "flush"], "not run before the flush resolves");
  disk.resolve();
  await journal.settled();
  assert.deepEqual(store.log, ["put t1", "flush", "run a"]);
});

Deno.test("journal: batches run strictly in order, a quick flush waiting for a slow one", async () => {
  const store = new RecordingStore();
  const journal = journalOn(store);
  const slow = Promise.withResolvers<void>();
  store.nextFlush = () => slow.promise;
  journal.after("first");
  await Promise.resolve();
  // The next turn's flush is done at once, but its batch comes after the first.
  store.nextFlush = () => {};
  journal.after("second");
  await Promise.resolve();
  journal.after("third");
  await drain();
  assert.deepEqual(store.log, ["flush", "flush", "flush"]);
  slow.resolve();
  await journal.settled();
  assert.deepEqual(store.log.slice(3), ["run first", "run second", "run third"]);
  // Once the slow batch is through, a synchronous flush runs its actions at once again.
  journal.after("fourth");
  await Promise.resolve();
  assert.deepEqual(store.log.slice(-2), ["flush", "run fourth"]);
});

Deno.test("journal: settled() flushes what is pending now and waits for every batch", async () => {
  const store = new RecordingStore();
  const journal = journalOn(store);
  await journal.settled(); // nothing pending: resolves
  journal.save(record("t1"));
  journal.after("a");
  const settled = journal.settled();
  assert.deepEqual(store.log, ["put t1", "flush", "run a"], "flushed without waiting the turn");
  await settled;
  // The microtask scheduled for that turn finds nothing left to do.
  await Promise.resolve();
  assert.equal(store.log.filter((line) => line === "flush").length, 1);
});

Deno.test("journal: a flush that throws is reported, kept in failure, and the actions still run", async () => {
  await capturingErrors(async (errors) => {
    const store = new RecordingStore();
    const journal = journalOn(store);
    store.nextFlush = () => {
      throw new Error("disk full");
    };
    journal.after("a");
    await Promise.resolve();
    assert.equal(journal.failure?.message, "disk full");
    assert.deepEqual(store.log, ["flush", "run a"]);
    assert.match(errors.join("\n"), /the task store failed to write: disk full/);
  });
});

Deno.test("journal: a flush that rejects is reported too, and the batches after it still run", async () => {
  await capturingErrors(async (errors) => {
    const store = new RecordingStore();
    const journal = journalOn(store);
    const write = Promise.withResolvers<void>();
    store.nextFlush = () => write.promise;
    journal.after("a");
    await Promise.resolve();
    store.nextFlush = () => {};
    journal.after("b");
    write.reject("not an Error");
    await journal.settled();
    assert.equal(journal.failure?.message, "not an Error");
    assert.deepEqual(store.log, ["flush", "flush", "run a", "run b"]);
    assert.equal(errors.length, 1);
  });
});

Deno.test("journal: an action that throws is reported; the ones after it run", async () => {
  await capturingErrors(async (errors) => {
    const store = new RecordingStore();
    const journal = new Journal<string>(store as unknown as TaskStore, (action) => {
      if (action === "bad") throw new Error("handler bug");
      store.log.push(`run ${action}`);
    });
    journal.after("a");
    journal.after("bad");
    journal.after("c");
    await Promise.resolve();
    assert.deepEqual(store.log, ["flush", "run a", "run c"]);
    assert.match(errors.join("\n"), /failed after a flush: Error: handler bug/);
    assert.equal(journal.failure, undefined, "a failing action is not a failing store");
  });
});

/** A journal on a recording store, inside a turn that has saved record t1. */
function turnThatSavedT1(): { store: RecordingStore; journal: ReturnType<typeof journalOn> } {
  const store = new RecordingStore();
  const journal = journalOn(store);
  journal.turnStarted();
  journal.save(record("t1"));
  return { store, journal };
}

Deno.test("journal: inside a turn, the turn's end flushes and runs the actions, with no microtask", async () => {
  const { store, journal } = turnThatSavedT1();
  journal.after("start t1");
  await drain();
  // Nothing was scheduled: the turn is not over.
  assert.deepEqual(store.log, ["put t1"]);
  journal.turnEnded();
  assert.deepEqual(store.log, ["put t1", "flush", "run start t1"]);
  // Outside a turn (a continuation of async work), a microtask flushes as before.
  journal.after("later");
  assert.deepEqual(store.log.slice(-1), ["run start t1"]);
  await Promise.resolve();
  assert.deepEqual(store.log.slice(-2), ["flush", "run later"]);
  // A turn that changed nothing flushes nothing.
  journal.turnStarted();
  journal.turnEnded();
  assert.deepEqual(store.log.slice(-1), ["run later"]);
});

Deno.test("journal: a turn that answers a caller is flushed in a microtask, not at its end", async () => {
  const { store, journal } = turnThatSavedT1();
  journal.answer("tell the submitter its id");
  journal.after("start t1");
  journal.turnEnded();
  // Not at the turn's end: what runs after the answer (a handler) must wait for the caller's
  // code (pinned end to end in test/manager_test.ts, "request() resolves with the id…").
  assert.deepEqual(store.log, ["put t1"]);
  await Promise.resolve();
  assert.deepEqual(store.log, ["put t1", "flush", "run tell the submitter its id", "run start t1"]);
  // The next turn without an answer flushes at its end again.
  journal.turnStarted();
  journal.after("later");
  journal.turnEnded();
  assert.deepEqual(store.log.slice(-2), ["flush", "run later"]);
});

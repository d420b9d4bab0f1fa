/**
 * A process using a SQLite store, for the tests that need a real second
 * process. `deno run --allow-all store_child.ts MODE PATH`:
 *
 * - `hold`: open the store, print `open`, keep it until stdin closes;
 * - `try`: open the store, print `{"opened":true}` or `{"error":"<message>"}`;
 * - `churn`: open the store, then forever: step `i` puts record `task-i`
 *   queued and, when `i - 3` is even, finishes record `task-(i-3)`; flushes;
 *   prints `i` once the flush returned. Killed by the test.
 */
import { SqliteTaskStore } from "../sqlite.ts";
import type { TaskRecord } from "../../task/record.ts";

const [mode, path] = Deno.args;

/** The id of the record put at step `step` of `churn`. */
export const churnId = (step: number) => `task-${String(step).padStart(9, "0")}`;

if (import.meta.main) {
  const store = new SqliteTaskStore({
    path,
    // Small log files, so that a crash leaves several for the next open to replay.
    logFileBytes: 64 * 1024,
    retention: { ttlMs: 3_600_000, maxRecords: Infinity },
  });
  if (mode === "try") {
    try {
      await store.open();
      console.log(JSON.stringify({ opened: true }));
      await store.close();
    } catch (error) {
      console.log(JSON.stringify({ error: (error as Error).message, name: (error as Error).name }));
    }
  } else if (mode === "hold") {
    await store.open();
    console.log("open");
    for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
    await store.close();
  } else if (mode === "churn") {
    await store.open();
    const records = new Map<number, TaskRecord>();
    const encoder = new TextEncoder();
    for (let step = 1;; step++) {
      const record: TaskRecord = {
        id: churnId(step),
        type: "Churn",
        service: "lab",
        fields: { step },
        attributes: {},
        parallel: true,
        state: "queued",
        attempts: 0,
        createdAt: Date.now(),
        log: [],
      };
      records.set(step, record);
      store.put(record);
      const done = records.get(step - 3);
      records.delete(step - 3);
      if (done && (step - 3) % 2 === 0) {
        Object.assign(done, {
          state: "succeeded",
          attempts: 1,
          finishedAt: Date.now(),
          expiresAt: Date.now() + 3_600_000,
          outcome: { status: "ok", id: done.id, result: step - 3 },
        });
        store.put(done);
      }
      const wait = store.flush();
      if (wait) await wait;
      Deno.stdout.writeSync(encoder.encode(`${step}\n`));
      // Let the worker's acknowledgements in now and then.
      if (step % 50 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }
}

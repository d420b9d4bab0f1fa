// kill -9 of a real process writing to a SQLite store: nothing flushed is lost.
import assert from "node:assert/strict";
import { SqliteTaskStore } from "./sqlite.ts";
import { logGenerations } from "./intent_log.ts";
import { churnId } from "./testdata/store_child.ts";
import { tempStore } from "./testdata/records.ts";

const CHILD = new URL("./testdata/store_child.ts", import.meta.url).pathname;

/** Whether the record of `step` is finished once `last` steps were flushed (see store_child.ts). */
const finishedAfter = (step: number, last: number) => step <= last - 3 && step % 2 === 0;

Deno.test("sqlite store: after kill -9, open() returns exactly the unfinished records flushed, and get() finds every flushed record", async () => {
  for (const killAfter of [2_000, 5_000, 20_000]) {
    const { dir, path } = tempStore();
    try {
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", CHILD, "churn", path],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      // The last step the child said it flushed.
      let printed = 0;
      let rest = "";
      let killed = false;
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
        const lines = (rest + text).split("\n");
        rest = lines.pop() as string;
        if (lines.length > 0) printed = Number(lines[lines.length - 1]);
        if (!killed && printed >= killAfter) {
          // At a random point of the child's loop: mid-flush, mid-transaction, between.
          setTimeout(() => child.kill("SIGKILL"), Math.random() * 20);
          killed = true;
        }
      }
      const status = await child.status;
      assert.equal(status.signal, "SIGKILL");
      const logs = logGenerations(path).length;

      // The child's retention: nothing is removed.
      const store = new SqliteTaskStore({ path, retention: { maxRecords: Infinity } });
      const unfinished = await store.open();
      try {
        // The store holds every step up to some `last`: the one printed, or one flushed after it.
        let last = printed;
        while (await store.get(churnId(last + 1))) last++;
        assert.ok(last - printed <= 1, `flushed ${last} steps, printed ${printed}`);
        for (let step = 1; step <= last; step++) {
          const record = await store.get(churnId(step));
          assert.ok(record, `step ${step} of ${last} was flushed and is lost`);
          assert.equal(
            record.state,
            finishedAfter(step, last) ? "succeeded" : "queued",
            `step ${step}`,
          );
        }
        const expected = [];
        for (let step = 1; step <= last; step++) {
          if (!finishedAfter(step, last)) expected.push(churnId(step));
        }
        assert.deepEqual(unfinished.map((record) => record.id), expected);
        const { records } = await store.stats();
        assert.equal(records, last);
        console.log(
          `killed after ${printed} flushes (${logs} log files left): ${last} records found, ` +
            `${unfinished.length} unfinished returned in order`,
        );
      } finally {
        await store.close();
      }
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  }
});

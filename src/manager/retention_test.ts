import assert from "node:assert/strict";
import type { TaskRecord } from "../task/record.ts";
import { DEFAULT_MAX_RECORDS, DEFAULT_TTL_MS, Retention, retentionDelay } from "./retention.ts";

const finished = (type: string): Pick<TaskRecord, "type" | "finishedAt" | "expiresAt"> => ({
  type,
  finishedAt: 1_000,
  expiresAt: 5_000,
});

Deno.test("retention: limits per type fall back to the runtime-wide ones", () => {
  const retention = new Retention({
    ttlMs: 1000,
    perType: { A: { ttlMs: 50 }, B: { maxRecords: 3 } },
  });
  assert.equal(retention.ttlFor("A"), 50);
  assert.equal(retention.ttlFor("B"), 1000);
  assert.equal(retention.maxRecords, DEFAULT_MAX_RECORDS);
  assert.deepEqual([...retention.typeCaps], [["B", 3]]);
  assert.equal(new Retention().ttlMs, DEFAULT_TTL_MS);
  const record = finished("A");
  assert.equal(retention.expiryOf(record, 0), 5_000, "the manager's expiresAt wins");
  delete record.expiresAt;
  assert.equal(retention.expiryOf(record, 0), 1_050);
});

Deno.test("retention: options are checked, naming the field", () => {
  assert.throws(() => new Retention({ ttlMs: 0 }), /retention.ttlMs/);
  assert.throws(
    () => new Retention({ perType: { A: { maxRecords: -1 } } }),
    /retention.perType.A.maxRecords/,
  );
});

Deno.test("retention: a timer waits for the expiry, a tick after the last run, and never overflows", () => {
  assert.equal(retentionDelay(1_000, -Infinity, 0), 1_000);
  assert.equal(retentionDelay(1_000, 990, 995), 45);
  assert.equal(retentionDelay(0, -Infinity, 10), 0);
  // 30 days: past what a timer can wait (it would fire at once, over and over).
  assert.equal(retentionDelay(30 * 86_400_000, -Infinity, 0), 2 ** 31 - 1);
});

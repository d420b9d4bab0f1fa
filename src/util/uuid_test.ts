import assert from "node:assert/strict";
import { uuidv7 } from "./uuid.ts";

Deno.test("uuidv7: RFC 9562 version 7, time first, ordered by time, unique", () => {
  const shape = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
  const at = Date.UTC(2025, 4, 6, 7, 8, 9, 123);
  const id = uuidv7(at);
  assert.match(id, shape);
  assert.equal(parseInt(id.slice(0, 8) + id.slice(9, 13), 16), at);
  const ids = Array.from({ length: 5_000 }, (_, i) => uuidv7(at + i));
  for (const made of ids) assert.match(made, shape);
  assert.deepEqual([...ids].sort(), ids, "later ids sort after earlier ones");
  assert.equal(new Set(Array.from({ length: 100_000 }, () => uuidv7())).size, 100_000);
});

Deno.test("uuidv7: ids of one millisecond still sort in the order they were made", () => {
  const at = Date.UTC(2030, 0, 1);
  const ids = Array.from({ length: 10_000 }, () => uuidv7(at));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i - 1] < ids[i], `${ids[i - 1]} < ${ids[i]}`);
  // 10 000 ids do not fit a millisecond's counter: they borrowed the next milliseconds.
  assert.equal(parseInt(ids[0].slice(0, 8) + ids[0].slice(9, 13), 16), at);
  assert.ok(parseInt(ids.at(-1)!.slice(0, 8) + ids.at(-1)!.slice(9, 13), 16) > at);
  // A clock that goes back does not break the order.
  assert.ok(uuidv7(at - 1_000) > ids.at(-1)!);
});

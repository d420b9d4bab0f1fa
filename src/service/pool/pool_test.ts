import assert from "node:assert/strict";
import { checkPoolOptions } from "./pool.ts";

Deno.test("worker pool: the default size is one fewer than the cores, at least one", () => {
  assert.equal(checkPoolOptions({}).size, Math.max(1, navigator.hardwareConcurrency - 1));
  assert.equal(checkPoolOptions({ size: 3 }).size, 3);
});

import assert from "node:assert/strict";
import { randomToken } from "./random.ts";

Deno.test("randomToken gives base64url without padding, of the byte count asked", () => {
  for (const [bytes, chars] of [[1, 2], [2, 3], [3, 4], [24, 32], [32, 43], [48, 64]]) {
    const token = randomToken(bytes);
    assert.match(token, /^[A-Za-z0-9_-]+$/, token);
    assert.equal(token.length, chars, `${bytes} bytes`);
  }
  assert.equal(randomToken().length, 43, "32 bytes by default");
});

Deno.test("randomToken does not repeat itself", () => {
  const tokens = new Set(Array.from({ length: 10_000 }, () => randomToken()));
  assert.equal(tokens.size, 10_000);
});

Deno.test("randomToken refuses a byte count that is not a whole number from 1 to 65536", () => {
  for (const bytes of [0, -1, 1.5, Number.NaN, 65_537]) {
    assert.throws(() => randomToken(bytes), RangeError, String(bytes));
  }
});

/**
 * Random secrets.
 *
 * @module
 */

/**
 * A new random token: `bytes` bytes (default 32) from the system's CSPRNG,
 * base64url without padding, so it fits in a URL, an HTTP header, a
 * WebSocket subprotocol and a quoted Python string as it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { randomToken } from "./random.ts";
 * const token = randomToken();
 * assert.match(token, /^[A-Za-z0-9_-]{43}$/); // 32 bytes
 * assert.notEqual(randomToken(), token);
 * assert.equal(randomToken(3).length, 4);
 * ```
 */
export function randomToken(bytes = 32): string {
  if (!(Number.isInteger(bytes) && bytes >= 1 && bytes <= 65_536)) {
    throw new RangeError(`bytes must be an integer from 1 to 65536, got ${bytes}`);
  }
  return crypto.getRandomValues(new Uint8Array(bytes)).toBase64({
    alphabet: "base64url",
    omitPadding: true,
  });
}

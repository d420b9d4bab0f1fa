/**
 * Time-ordered UUIDs (RFC 9562 version 7).
 *
 * @module
 */

/**
 * A version-7 UUID: 48 bits of Unix milliseconds, then 74 random bits (the
 * system's CSPRNG, through `crypto.randomUUID`). Ids made later sort after
 * earlier ones (same text form as `crypto.randomUUID()`), so a database
 * index of them grows at its end instead of at random places; ids made in
 * the same millisecond are in a random order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uuidv7 } from "./uuid.ts";
 * const id = uuidv7(Date.UTC(2026, 10, 29));
 * assert.match(id, /^01a22499-f800-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
 * ```
 */
export function uuidv7(now: number = Date.now()): string {
  // A v4 UUID already has the random bits and the variant in place: its
  // first 13 characters become the time, and its version digit a 7.
  const random = crypto.randomUUID();
  const time = now.toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8)}-7${random.slice(15)}`;
}

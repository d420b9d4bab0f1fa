/**
 * Time-ordered UUIDs (RFC 9562 version 7).
 *
 * @module
 */

/** The time part of the ids of the current millisecond, and their counter. */
let lastMs = -1;
let prefix = "";
let counter = 0;

/**
 * A version-7 UUID: 48 bits of Unix milliseconds, a 12-bit counter, then 62
 * random bits (the system's CSPRNG, through `crypto.randomUUID`). Ids made
 * later sort after earlier ones, also within a millisecond (RFC 9562's
 * "fixed bit-length dedicated counter": it starts at a random value each
 * millisecond, and a millisecond that runs out of it borrows the next), so
 * a database index of them grows at its end, and the order of ids is the
 * order tasks were made. Same text form as `crypto.randomUUID()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { uuidv7 } from "./uuid.ts";
 * const first = uuidv7();
 * const second = uuidv7();
 * assert.match(first, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
 * assert.ok(first < second);
 * ```
 */
export function uuidv7(now: number = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    // Half the range, so a burst in one millisecond has room to count up.
    counter = Math.floor(Math.random() * 0x800);
    prefix = prefixOf(now);
  } else if (++counter > 0xfff) {
    // 4 096 ids in one millisecond: go on in the next one.
    lastMs++;
    counter = 0;
    prefix = prefixOf(lastMs);
  }
  // A v4 UUID has the random bits and the variant in place: its last 21 characters.
  return `${prefix}${(0x1000 + counter).toString(16).slice(1)}${crypto.randomUUID().slice(18)}`;
}

/** `tttttttt-tttt-7` for the millisecond `ms`. */
function prefixOf(ms: number): string {
  const time = ms.toString(16).padStart(12, "0");
  return `${time.slice(0, 8)}-${time.slice(8)}-7`;
}

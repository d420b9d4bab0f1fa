/**
 * Time-ordered UUIDs (RFC 9562 version 7).
 *
 * @module
 */

/** Character codes of the hexadecimal digits. */
const HEX = Array.from("0123456789abcdef", (digit) => digit.charCodeAt(0));

/**
 * The id being made, as character codes: `String.fromCharCode` turns it into
 * one flat string. An id put together from pieces (a template literal of
 * slices) is a tree of strings that every later hash, compare and
 * `JSON.stringify` walks: ids are map keys all through the runtime.
 */
const codes: number[] = Array.from("00000000-0000-7000-8000-000000000000", (c) => c.charCodeAt(0));

/** Random bytes, fetched from the CSPRNG in batches: 8 per id. */
const random = new Uint8Array(4_096);
let randomAt = random.length;

/** The millisecond of the last id, and its counter. */
let lastMs = -1;
let counter = 0;

/**
 * A version-7 UUID: 48 bits of Unix milliseconds, a 12-bit counter, then 62
 * random bits (the system's CSPRNG, `crypto.getRandomValues`). Ids made
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
    writeTime(now);
  } else if (++counter > 0xfff) {
    // 4 096 ids in one millisecond: go on in the next one.
    lastMs++;
    counter = 0;
    writeTime(lastMs);
  }
  // "-7ccc": the version, then the counter.
  codes[15] = HEX[counter >> 8];
  codes[16] = HEX[(counter >> 4) & 15];
  codes[17] = HEX[counter & 15];
  if (randomAt + 8 > random.length) {
    crypto.getRandomValues(random);
    randomAt = 0;
  }
  const at = randomAt;
  randomAt += 8;
  // "-vrrr-": the variant (binary 10) and 2 random bits, then 12 random bits.
  codes[19] = HEX[8 | (random[at] & 3)];
  codes[20] = HEX[random[at] >> 4];
  codes[21] = HEX[random[at + 1] >> 4];
  codes[22] = HEX[random[at + 1] & 15];
  // The last 48 random bits.
  for (let i = 0; i < 6; i++) {
    const byte = random[at + 2 + i];
    codes[24 + 2 * i] = HEX[byte >> 4];
    codes[25 + 2 * i] = HEX[byte & 15];
  }
  return String.fromCharCode.apply(null, codes);
}

/** `tttttttt-tttt` for the millisecond `ms`: the first 13 characters (the dash stays). */
function writeTime(ms: number): void {
  for (let i = 12, rest = ms; i >= 0; i--) {
    if (i === 8) continue;
    codes[i] = HEX[rest % 16];
    rest = Math.floor(rest / 16);
  }
}

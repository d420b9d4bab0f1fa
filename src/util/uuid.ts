/** Time-ordered UUIDs (RFC 9562 version 7). */

const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));
/** Random bytes are drawn in blocks: one `getRandomValues` call per 512 ids. */
const POOL_IDS = 512;
const pool = new Uint8Array(POOL_IDS * 10);
let poolIndex = POOL_IDS * 10;

/**
 * A version-7 UUID: 48 bits of Unix milliseconds, then 74 random bits. Ids
 * made later sort after earlier ones (same text form as
 * `crypto.randomUUID()`), so a database index of them grows at its end
 * instead of at random places; ids made in the same millisecond are in a
 * random order.
 *
 * @example
 * ```ts
 * import { uuidv7 } from "./uuid.ts";
 * uuidv7(); // e.g. "0192f6a3-7c1e-7b5d-9a0c-3f5e2d1c4b6a"
 * ```
 */
export function uuidv7(now: number = Date.now()): string {
  if (poolIndex === pool.length) {
    crypto.getRandomValues(pool);
    poolIndex = 0;
  }
  const r = poolIndex;
  poolIndex += 10;
  const high = Math.floor(now / 0x1000000); // the top 24 bits of the 48-bit time
  const low = now % 0x1000000;
  return HEX[(high >>> 16) & 0xff] + HEX[(high >>> 8) & 0xff] + HEX[high & 0xff] +
    HEX[(low >>> 16) & 0xff] + "-" + HEX[(low >>> 8) & 0xff] + HEX[low & 0xff] + "-" +
    HEX[0x70 | (pool[r] & 0x0f)] + HEX[pool[r + 1]] + "-" +
    HEX[0x80 | (pool[r + 2] & 0x3f)] + HEX[pool[r + 3]] + "-" +
    HEX[pool[r + 4]] + HEX[pool[r + 5]] + HEX[pool[r + 6]] + HEX[pool[r + 7]] +
    HEX[pool[r + 8]] + HEX[pool[r + 9]];
}

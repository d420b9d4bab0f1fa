/**
 * Encoded values as frames on a byte stream (a worker process's stdin and stdout).
 *
 * A frame, little-endian:
 *
 * | bytes          | what                                               |
 * | -------------- | -------------------------------------------------- |
 * | 4              | magic `ZWP1`: a stray write to stdout shows at once |
 * | 4              | head length (u32)                                  |
 * | 4              | buffer count (u32)                                 |
 * | 8 × count      | each buffer's length (f64)                         |
 * | head length    | the head                                           |
 * | Σ lengths      | the buffers, one after the other                   |
 *
 * Buffers are written from where they lie and read straight into an
 * `ArrayBuffer` of their own (a BYOB reader), so a large typed array is not
 * copied on either side beyond what the pipe itself does.
 *
 * @module
 */
import type { Encoded } from "./codec.ts";

const MAGIC = 0x3150575a; // "ZWP1" read as a little-endian u32
const FIXED_BYTES = 12;

/**
 * The largest frame, head and buffers together: 2 GiB. A larger result fails
 * its task with a `RangeError` naming the size; a header announcing more is
 * taken for a broken stream.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_FRAME_BYTES } from "./frames.ts";
 * assert.equal(MAX_FRAME_BYTES, 2_147_483_648);
 * ```
 */
export const MAX_FRAME_BYTES = 2 ** 31;
/**
 * The most buffers in one frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFrameSize, MAX_FRAME_BUFFERS } from "./frames.ts";
 * const buffers = Array.from({ length: MAX_FRAME_BUFFERS + 1 }, () => new ArrayBuffer(0));
 * assert.throws(() => checkFrameSize({ head: new Uint8Array(8), buffers }, "the result"), RangeError);
 * ```
 */
export const MAX_FRAME_BUFFERS = 65_536;

/**
 * The byte stream broke its framing: stray output, or a truncated frame.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { FrameError, FrameReader } from "./frames.ts";
 * const stray = new TextEncoder().encode("hello from a stray console.log\n");
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     controller.enqueue(stray);
 *     controller.close();
 *   },
 * });
 * await assert.rejects(new FrameReader(stream).read(), FrameError);
 * ```
 */
export class FrameError extends Error {
  /** Always `"FrameError"`, whatever a bundler does to class names. */
  override name = "FrameError";
}

/**
 * Check that `encoded` fits in a frame; throws a `RangeError` naming the size.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkFrameSize } from "./frames.ts";
 * checkFrameSize({ head: new Uint8Array(8), buffers: [] }, "the result"); // fits: no throw
 * const huge = { head: new Uint8Array(8), buffers: [{ byteLength: 2 ** 32 } as ArrayBuffer] };
 * assert.throws(() => checkFrameSize(huge, "the result"), /^RangeError: the result is 4294967304 bytes/);
 * ```
 */
export function checkFrameSize(encoded: Encoded, what: string): void {
  const bytes = encoded.buffers.reduce((sum, b) => sum + b.byteLength, encoded.head.byteLength);
  if (bytes > MAX_FRAME_BYTES || encoded.buffers.length > MAX_FRAME_BUFFERS) {
    throw new RangeError(
      `${what} is ${bytes} bytes in ${encoded.buffers.length} buffers, over a worker message's ` +
        `limit of ${MAX_FRAME_BYTES} bytes and ${MAX_FRAME_BUFFERS} buffers`,
    );
  }
}

function preamble({ head, buffers }: Encoded): Uint8Array {
  const bytes = new Uint8Array(FIXED_BYTES + 8 * buffers.length + head.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, MAGIC, true);
  view.setUint32(4, head.byteLength, true);
  view.setUint32(8, buffers.length, true);
  buffers.forEach((buffer, i) => view.setFloat64(FIXED_BYTES + 8 * i, buffer.byteLength, true));
  bytes.set(head, FIXED_BYTES + 8 * buffers.length);
  return bytes;
}

/**
 * Queue one frame on `writer`. Its parts are queued synchronously, so frames
 * written one after another never interleave; the promise settles once all
 * are written.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encode } from "./codec.ts";
 * import { writeFrame } from "./frames.ts";
 * const written: Uint8Array[] = [];
 * const writer = new WritableStream<Uint8Array>({ write: (chunk) => void written.push(chunk) })
 *   .getWriter();
 * await writeFrame(writer, encode(new Float64Array([1, 2])));
 * assert.equal(written.length, 2); // the preamble and head, then the array's buffer as it lies
 * assert.equal(written[1].byteLength, 16);
 * ```
 */
export function writeFrame(
  writer: WritableStreamDefaultWriter<Uint8Array>,
  encoded: Encoded,
): Promise<void> {
  const writes = [writer.write(preamble(encoded))];
  for (const buffer of encoded.buffers) {
    if (buffer.byteLength > 0) writes.push(writer.write(new Uint8Array(buffer)));
  }
  return Promise.all(writes).then(() => {});
}

/**
 * Write one frame to `file` before returning: a handler that computes
 * without yielding still gets its progress and log lines out as it goes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encode } from "./codec.ts";
 * import { writeFrameSync } from "./frames.ts";
 * let bytes = 0;
 * writeFrameSync({ writeSync: (chunk) => (bytes += chunk.byteLength, chunk.byteLength) }, encode(null));
 * assert.ok(bytes > 12); // magic, head length, buffer count, then the head
 * ```
 */
export function writeFrameSync(file: { writeSync(bytes: Uint8Array): number }, encoded: Encoded) {
  for (const part of [preamble(encoded), ...encoded.buffers.map((b) => new Uint8Array(b))]) {
    for (let written = 0; written < part.byteLength;) {
      written += file.writeSync(part.subarray(written));
    }
  }
}

/** Reads below this size go through a staging buffer; larger parts are read in place. */
const STAGE_BYTES = 64 * 1024;

/**
 * Reads frames from a byte stream, one at a time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, encode } from "./codec.ts";
 * import { FrameReader, writeFrameSync } from "./frames.ts";
 * const chunks: Uint8Array[] = [];
 * const pipe = { writeSync: (chunk: Uint8Array) => chunks.push(chunk.slice()) && chunk.byteLength };
 * writeFrameSync(pipe, encode({ kind: "ready" }));
 * writeFrameSync(pipe, encode(new Float64Array([1, 2])));
 * const stream = new ReadableStream({
 *   type: "bytes",
 *   start(controller) {
 *     for (const chunk of chunks) controller.enqueue(chunk);
 *     controller.close();
 *   },
 * });
 * const frames = new FrameReader(stream);
 * const values: unknown[] = [];
 * for (let frame = await frames.read(); frame; frame = await frames.read()) values.push(decode(frame));
 * assert.deepEqual(values, [{ kind: "ready" }, new Float64Array([1, 2])]);
 * ```
 */
export class FrameReader {
  readonly #reader: ReadableStreamBYOBReader;
  /** Where small reads land: many small frames cost one read, not three each. */
  #stage = new ArrayBuffer(STAGE_BYTES);
  /** Bytes read into the stage and not consumed yet. */
  #staged = new Uint8Array(0);

  /** Read from `stream`, a byte stream (a process's stdio is one). */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.getReader({ mode: "byob" });
  }

  /**
   * The next frame, or `null` when the stream ended between frames. Throws a
   * `FrameError` when it ended inside one or the bytes are not a frame.
   */
  async read(): Promise<Encoded | null> {
    const fixed = await this.#fill(new ArrayBuffer(FIXED_BYTES), true);
    if (!fixed) return null;
    const view = new DataView(fixed);
    if (view.getUint32(0, true) !== MAGIC) {
      const text = new TextDecoder().decode(fixed).replace(/[^\x20-\x7e]/g, "?");
      throw new FrameError(`not a worker frame (stray output on stdout? it starts '${text}')`);
    }
    const headBytes = view.getUint32(4, true);
    const count = view.getUint32(8, true);
    if (count > MAX_FRAME_BUFFERS) throw new FrameError(`a frame announces ${count} buffers`);
    const lengths = new DataView(await this.#fill(new ArrayBuffer(8 * count)));
    const sizes = Array.from({ length: count }, (_, i) => lengths.getFloat64(8 * i, true));
    const total = sizes.reduce((sum, size) => sum + size, headBytes);
    if (
      !sizes.every((size) => Number.isSafeInteger(size) && size >= 0) || total > MAX_FRAME_BYTES
    ) {
      throw new FrameError(`a frame announces buffers of ${sizes.join(", ")} bytes`);
    }
    const head = new Uint8Array(await this.#fill(new ArrayBuffer(headBytes)));
    const buffers: ArrayBuffer[] = [];
    for (const size of sizes) buffers.push(await this.#fill(new ArrayBuffer(size)));
    return { head, buffers };
  }

  /** Stop reading; a pending `read()` ends. */
  cancel(): Promise<void> {
    return this.#reader.cancel();
  }

  /** `buffer`, filled from the stream; `undefined` if it ended before the first byte and `atStart`. */
  async #fill(buffer: ArrayBuffer, atStart: true): Promise<ArrayBuffer | undefined>;
  async #fill(buffer: ArrayBuffer): Promise<ArrayBuffer>;
  async #fill(buffer: ArrayBuffer, atStart = false): Promise<ArrayBuffer | undefined> {
    const size = buffer.byteLength;
    let filled = this.#unstage(buffer, 0);
    while (filled < size) {
      const inPlace = size - filled >= STAGE_BYTES;
      const { value, done } = await this.#reader.read(
        inPlace ? new Uint8Array(buffer, filled) : new Uint8Array(this.#stage),
      );
      if (done || !value) {
        if (atStart && filled === 0) return undefined;
        throw new FrameError("the stream ended inside a frame");
      }
      // A BYOB read hands the memory back in a new ArrayBuffer.
      if (inPlace) {
        buffer = value.buffer as ArrayBuffer;
        filled += value.byteLength;
      } else {
        this.#stage = value.buffer as ArrayBuffer;
        this.#staged = value;
        filled = this.#unstage(buffer, filled);
      }
    }
    return buffer;
  }

  /** Move staged bytes into `buffer` from `offset`; returns the new offset. */
  #unstage(buffer: ArrayBuffer, offset: number): number {
    const count = Math.min(this.#staged.byteLength, buffer.byteLength - offset);
    new Uint8Array(buffer, offset, count).set(this.#staged.subarray(0, count));
    this.#staged = this.#staged.subarray(count);
    return offset + count;
  }
}

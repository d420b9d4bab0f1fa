import assert from "node:assert/strict";
import { decode, encode } from "./codec.ts";

/** Through the codec, as a frame does: the head's bytes copied, the buffers handed on as they are. */
function roundTrip(value: unknown): { decoded: unknown; buffers: ArrayBuffer[] } {
  const { head, buffers } = encode(value);
  return { decoded: decode({ head: head.slice(), buffers }), buffers };
}

Deno.test("a bare ArrayBuffer travels beside the head, at the top level and nested anywhere", () => {
  const top = new ArrayBuffer(1_000_000);
  new Uint8Array(top)[999_999] = 7;
  const encoded = encode(top);
  assert.deepEqual(encoded.buffers, [top]);
  assert.ok(encoded.head.byteLength < 100, `head of ${encoded.head.byteLength} bytes`);
  const back = decode(encoded) as ArrayBuffer;
  assert.equal(back, top); // the very buffer that was sent beside
  assert.equal(new Uint8Array(back)[999_999], 7);

  const [a, b, c, d, e] = [1, 2, 3, 4, 5].map((n) => new Uint8Array([n]).buffer);
  const value = {
    object: { deeper: { a } },
    array: [0, b],
    map: new Map<unknown, unknown>([[c, "key"], ["value", d]]),
    set: new Set([e]),
  };
  const { decoded, buffers } = roundTrip(value);
  assert.equal(buffers.length, 5);
  for (const buffer of [a, b, c, d, e]) assert.ok(buffers.includes(buffer));
  assert.deepEqual(decoded, value);
});

Deno.test("a buffer sent bare and behind views arrives as one buffer, in either order", () => {
  const shared = new ArrayBuffer(16);
  for (
    const value of [
      { bare: shared, view: new Uint8Array(shared, 8), data: new DataView(shared) },
      { view: new Uint8Array(shared, 8), data: new DataView(shared), bare: shared },
    ]
  ) {
    const { decoded, buffers } = roundTrip(value);
    assert.equal(buffers.length, 1);
    const { bare, view, data } = decoded as typeof value;
    assert.equal(view.buffer, bare);
    assert.equal(data.buffer, bare);
    assert.equal(view.byteOffset, 8);
  }
});

Deno.test("the same bare buffer twice, and in a cycle, is one buffer", () => {
  const raw = new ArrayBuffer(8);
  const value: Record<string, unknown> = { one: raw, two: [raw] };
  value.self = value;
  const { decoded, buffers } = roundTrip(value);
  assert.equal(buffers.length, 1);
  const back = decoded as { one: ArrayBuffer; two: ArrayBuffer[]; self: unknown };
  assert.equal(back.one, back.two[0]);
  assert.equal(back.self, back);
});

Deno.test("what cannot travel as it is still goes as structured clone sends it", () => {
  // A SharedArrayBuffer behind a view: its bytes are copied beside the head.
  const sab = new SharedArrayBuffer(4);
  const view = new Uint8Array(sab);
  view[0] = 9;
  const shared = encode(view);
  assert.ok(!(shared.buffers[0] instanceof SharedArrayBuffer));
  assert.equal((decode(shared) as Uint8Array)[0], 9);
  // A bare one cannot cross a process at all.
  assert.throws(() => encode({ sab }), { name: "DataCloneError" });
  // A resizable ArrayBuffer goes through the serializer, and arrives resizable.
  const resizable = new ArrayBuffer(8, { maxByteLength: 64 });
  const sent = encode({ resizable });
  assert.equal(sent.buffers.length, 0);
  assert.equal((decode(sent) as { resizable: ArrayBuffer }).resizable.maxByteLength, 64);
  // A detached buffer is refused, as before.
  const detached = new ArrayBuffer(8);
  structuredClone(detached, { transfer: [detached] });
  assert.throws(() => encode([detached]), { name: "DataCloneError" });
});

Deno.test("the walk runs no getter and no proxy trap, and copes with a sparse array 2^32 - 1 long", () => {
  let getterRuns = 0;
  const buffer = new ArrayBuffer(4);
  const withGetter = {
    get lazy() {
      getterRuns++;
      return buffer;
    },
  };
  const { decoded, buffers } = roundTrip(withGetter);
  assert.equal(getterRuns, 1); // the serializer's own read
  assert.equal(buffers.length, 0); // a buffer only a getter gives is copied
  assert.equal((decoded as { lazy: ArrayBuffer }).lazy.byteLength, 4);

  let traps = 0;
  const proxy = new Proxy({}, { ownKeys: () => (traps++, []) });
  assert.throws(() => encode({ proxy }), { name: "DataCloneError" });
  assert.equal(traps, 0);

  const sparse: unknown[] = [];
  sparse[2 ** 32 - 2] = buffer;
  const sent = roundTrip(sparse);
  assert.deepEqual(sent.buffers, [buffer]);
  assert.equal((sent.decoded as unknown[])[2 ** 32 - 2], buffer);
});

Deno.test("an error's cause that is a bare buffer travels beside the head", () => {
  const cause = new ArrayBuffer(4);
  const { decoded, buffers } = roundTrip(new Error("failed", { cause }));
  assert.deepEqual(buffers, [cause]);
  assert.equal((decoded as Error).cause, cause);
});

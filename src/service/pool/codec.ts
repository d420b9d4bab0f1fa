/**
 * Values between the runtime and a worker process, by structured clone rules.
 *
 * A value is written with V8's own serializer (`node:v8`): what structured
 * clone keeps, this keeps (objects, arrays, `Map`, `Set`, `Date`, `RegExp`,
 * `BigInt`, errors, cycles); a function throws `DataCloneError`. Typed arrays,
 * `DataView`s and bare `ArrayBuffer`s do not go through the serializer's
 * buffer: each distinct `ArrayBuffer`, bare or behind a view, travels beside
 * it, whole and untouched, so a 10M element `Float64Array` is never copied
 * into a byte string or a JSON array, and on arrival it is a view on a buffer
 * of its own. Views that shared a buffer, and a buffer sent beside a view on
 * it, still share one. What cannot travel as it is gets copied as structured
 * clone copies it: a `SharedArrayBuffer` behind a view (its bytes), and a
 * resizable `ArrayBuffer` not behind a view (through the serializer, so it
 * arrives resizable).
 *
 * Errors are sent as plain `{ name, message, stack }` (`ErrorShape`): V8's
 * serializer turns a `DOMException` or an error with a custom name into a
 * plain `Error`, and the name is what outcomes carry.
 *
 * @module
 */
import { types } from "node:util";
import { Deserializer, Serializer } from "node:v8";

/**
 * A value written for the other side: the serializer's bytes, and the buffers beside them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type Encoded, encode } from "./codec.ts";
 * const encoded: Encoded = encode({ trace: new Float64Array(4) });
 * assert.equal(encoded.buffers[0].byteLength, 32); // the array's own buffer, not in `head`
 * ```
 */
export interface Encoded {
  /** What V8's serializer wrote; views in it refer to `buffers` by index. */
  head: Uint8Array;
  /** The distinct buffers in the value: bare, or behind its typed arrays and `DataView`s. */
  buffers: ArrayBuffer[];
}

/** The constructors a view is rebuilt with; their index is what travels. */
const VIEWS = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float16Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
] as const;

function viewKind(view: ArrayBufferView): number {
  // A Node `Buffer` is a `Uint8Array`, as structured clone makes it.
  const kind = VIEWS.findIndex((type) => view instanceof type);
  if (kind < 0) throw new DOMException(`${view} could not be cloned.`, "DataCloneError");
  return kind;
}

/**
 * The bare `ArrayBuffer`s in `value` that can travel beside the serializer's
 * bytes (`Serializer.transferArrayBuffer` needs them before writing). It
 * follows what V8's serializer writes: own enumerable properties, array
 * elements, `Map` and `Set` entries, an error's `cause`. An object's getters
 * are not run twice (its properties are read by descriptor): a buffer only a
 * getter returns is copied by the serializer, as is any buffer this misses.
 */
function bareBuffers(value: unknown): Set<ArrayBuffer> {
  const found = new Set<ArrayBuffer>();
  const seen = new Set<object>();
  const pending: object[] = [];
  const visit = (next: unknown) => {
    if (typeof next === "object" && next !== null && !seen.has(next)) {
      seen.add(next);
      pending.push(next);
    }
  };
  visit(value);
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next instanceof ArrayBuffer) {
      // Detached: the serializer's DataCloneError; resizable: kept so by the serializer.
      if (!next.detached && !next.resizable) found.add(next);
    } else if (Array.isArray(next) && next.length <= 2 ** 24) {
      // By index: Object.keys on 10M numbers takes 5x the serializer's own pass.
      for (let i = 0; i < next.length; i++) visit(next[i]);
    } else if (next instanceof Map) {
      for (const [key, entry] of next) {
        visit(key);
        visit(entry);
      }
    } else if (next instanceof Set) {
      for (const entry of next) visit(entry);
    } else if (next instanceof Error) {
      visit(dataProperty(next, "cause"));
    } else if (
      !ArrayBuffer.isView(next) && !(next instanceof Date) && !(next instanceof RegExp) &&
      !types.isProxy(next) // the serializer refuses a Proxy: its traps are not run for nothing
    ) {
      // Objects, and arrays longer than 2^24 (sparse ones may be 2^32 - 1 long): by their keys.
      for (const key of Object.keys(next)) visit(dataProperty(next, key));
    }
  }
  return found;
}

function dataProperty(object: object, key: string): unknown {
  return Object.getOwnPropertyDescriptor(object, key)?.value;
}

class ViewSerializer extends Serializer {
  readonly buffers: ArrayBuffer[] = [];
  readonly #index = new Map<ArrayBufferLike, number>();

  constructor(value: unknown) {
    super();
    // Typed in @types/node as internal, but it is how a Serializer hands views to _writeHostObject.
    (this as unknown as { _setTreatArrayBufferViewsAsHostObjects(on: boolean): void })
      ._setTreatArrayBufferViewsAsHostObjects(true);
    // The same index as views on the buffer use: the two arrive as one buffer.
    for (const buffer of bareBuffers(value)) {
      this.transferArrayBuffer(this.#indexOf(buffer), buffer);
    }
  }

  #indexOf(buffer: ArrayBufferLike): number {
    let index = this.#index.get(buffer);
    if (index === undefined) {
      // A SharedArrayBuffer cannot cross a process: its bytes are copied.
      const own = buffer instanceof ArrayBuffer ? buffer : new Uint8Array(buffer).slice().buffer;
      index = this.buffers.push(own) - 1;
      this.#index.set(buffer, index);
    }
    return index;
  }

  _writeHostObject(view: ArrayBufferView): void {
    const kind = viewKind(view);
    const index = this.#indexOf(view.buffer);
    const length = view instanceof DataView ? view.byteLength : (view as Float64Array).length;
    this.writeUint32(kind);
    this.writeUint32(index);
    this.writeDouble(view.byteOffset);
    this.writeDouble(length);
  }
}

class ViewDeserializer extends Deserializer {
  constructor(head: Uint8Array, readonly buffers: readonly ArrayBuffer[]) {
    super(head);
    // Bare buffers were sent by their index; ids the head never names are not read.
    buffers.forEach((buffer, index) => this.transferArrayBuffer(index, buffer));
  }

  _readHostObject(): ArrayBufferView {
    const kind = this.readUint32();
    const index = this.readUint32();
    const byteOffset = this.readDouble();
    const length = this.readDouble();
    const View = VIEWS[kind] as new (
      buffer: ArrayBuffer,
      byteOffset: number,
      length: number,
    ) => ArrayBufferView;
    const buffer = this.buffers[index];
    if (!View || !buffer) {
      throw new TypeError(`malformed worker message: bad view ${kind}/${index}`);
    }
    return new View(buffer, byteOffset, length);
  }
}

/**
 * Write `value` for the other side. Throws `DataCloneError` for what
 * structured clone refuses (functions, symbols, WeakMaps…).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, encode } from "./codec.ts";
 * const encoded = encode({ samples: new Float64Array([1, 2, 3]), at: new Date(0) });
 * assert.equal(encoded.buffers.length, 1); // the Float64Array's buffer, beside the head
 * assert.deepEqual(decode(encoded), { samples: new Float64Array([1, 2, 3]), at: new Date(0) });
 * const raw = new ArrayBuffer(1_000);
 * assert.equal(encode({ raw }).buffers[0], raw); // a bare ArrayBuffer travels beside it too
 * assert.throws(() => encode({ callback: () => {} }), { name: "DataCloneError" });
 * ```
 */
export function encode(value: unknown): Encoded {
  const serializer = new ViewSerializer(value);
  serializer.writeHeader();
  try {
    serializer.writeValue(value);
  } catch (error) {
    // node:v8 throws a plain Error; structured clone's name for it is DataCloneError.
    throw new DOMException((error as Error).message, "DataCloneError");
  }
  return { head: serializer.releaseBuffer(), buffers: serializer.buffers };
}

/**
 * Read a value written by `encode`. Its views are views on `encoded.buffers`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decode, encode } from "./codec.ts";
 * assert.deepEqual(decode(encode(new Map([["a", 1n]]))), new Map([["a", 1n]]));
 * ```
 */
export function decode(encoded: Encoded): unknown {
  const deserializer = new ViewDeserializer(encoded.head, encoded.buffers);
  deserializer.readHeader();
  return deserializer.readValue();
}

/**
 * An error as it crosses to the other side.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorFromShape, type ErrorShape } from "./codec.ts";
 * const shape: ErrorShape = { name: "FitError", message: "no convergence", stack: "" };
 * assert.equal(errorFromShape(shape).message, "no convergence");
 * ```
 */
export interface ErrorShape {
  /** The error's `name`, e.g. `"RangeError"`: what an outcome's `ename` becomes. */
  name: string;
  /** The error's message. */
  message: string;
  /** The stack as the side that threw it wrote it; `""` when there is none. */
  stack: string;
}

/**
 * The name, message and stack of anything thrown.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorShape } from "./codec.ts";
 * assert.equal(errorShape(new RangeError("too big")).name, "RangeError");
 * assert.deepEqual(errorShape("plain string"), { name: "Error", message: "plain string", stack: "" });
 * ```
 */
export function errorShape(error: unknown): ErrorShape {
  if (error instanceof Error || error instanceof DOMException) {
    return { name: error.name, message: error.message, stack: error.stack ?? "" };
  }
  let message: string;
  try {
    message = typeof error === "string" ? error : JSON.stringify(error) ?? String(error);
  } catch {
    message = String(error);
  }
  return { name: "Error", message, stack: "" };
}

/**
 * An `Error` with the shape's name, message and stack.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorFromShape } from "./codec.ts";
 * const error = errorFromShape({ name: "FitError", message: "no convergence", stack: "" });
 * assert.ok(error instanceof Error);
 * assert.equal(error.name, "FitError");
 * ```
 */
export function errorFromShape(shape: ErrorShape): Error {
  const error = new Error(shape.message);
  error.name = shape.name;
  error.stack = shape.stack || `${shape.name}: ${shape.message}`;
  return error;
}

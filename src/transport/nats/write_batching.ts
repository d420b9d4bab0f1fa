/**
 * One socket write per turn of the event loop for each NATS connection.
 *
 * `@nats-io/nats-core` 3.4 hands its transport a frame at the end of every
 * microtask checkpoint that published something, and the transport writes
 * each one to the socket at once. A replica's work for one task goes out in
 * several such checkpoints (a promise chain each: the record write, the
 * event, the outcome, the ack), so it made 2–3 writes per task with 100 in
 * flight and 4 per task one at a time; on loopback a write costs ~30–45 µs
 * of CPU here (the kernel delivers it to the server in the writer's time),
 * a quarter of a replica's CPU. Writes also wake the server once each.
 *
 * This module patches `NodeTransport` when it loads: `send` keeps the frame
 * and writes every frame kept in this turn in one `socket.write`, after the
 * turn's I/O callbacks, their microtasks and the immediates they queued (a
 * `setImmediate` queued from a `setImmediate`, ~10 µs later; the record
 * store writes a `running` record from a `setImmediate` unless the task
 * ended in the same turn, and it must go out with the turn's events), or
 * at once past 64 KiB. Order is kept: every write of the
 * transport (its internal `_send`, e.g. the last one before a close) first
 * writes what is kept. Nothing else changes: a frame is still written on
 * the connection it was sent on, as before, and a connection that drops
 * loses what it had not written, as before (nats.js resends nothing).
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { NodeTransport } from "@nats-io/transport-node/lib/node_transport.js";

/** Marks the prototype already patched (the module may load twice in tests). */
const BATCHED = Symbol.for("zest.nats.writeBatching");
/** A transport's frames kept for the next write. */
const KEPT = Symbol("zest.nats.keptFrames");
/** Write at once past this many bytes kept. */
const MAX_KEPT_BYTES = 64 * 1024;

/** The parts of the transport the patch touches. */
interface Batching {
  [KEPT]?: { frames: Uint8Array[]; bytes: number };
  _send(frame: Uint8Array): Promise<void>;
  send(frame: Uint8Array): void;
}

/**
 * Patch `NodeTransport` (once); returns whether this call patched it (false
 * when already done).
 *
 * @example
 * ```ts
 * import { installWriteBatching } from "./write_batching.ts";
 * installWriteBatching(); // false: importing the module already installed it
 * ```
 */
export function installWriteBatching(): boolean {
  const prototype = NodeTransport.prototype as unknown as Batching & Record<PropertyKey, unknown>;
  if (prototype[BATCHED]) return false;
  const send = prototype.send;
  const write = prototype._send;
  /** Write what `transport` keeps, as one frame (through the original `send`). */
  const writeKept = (transport: Batching) => {
    const kept = transport[KEPT];
    if (!kept || kept.frames.length === 0) return;
    transport[KEPT] = undefined;
    send.call(transport, concat(kept.frames, kept.bytes));
  };
  prototype.send = function (this: Batching, frame: Uint8Array) {
    let kept = this[KEPT];
    if (!kept) {
      kept = this[KEPT] = { frames: [], bytes: 0 };
      // Two immediates: what the turn deferred with its own `setImmediate` goes in this write too.
      setImmediate(() =>
        setImmediate(() => {
          if (this[KEPT] === kept) writeKept(this);
        })
      );
    }
    kept.frames.push(frame);
    kept.bytes += frame.length;
    if (kept.bytes >= MAX_KEPT_BYTES) writeKept(this);
  };
  prototype._send = function (this: Batching, frame: Uint8Array) {
    writeKept(this);
    return write.call(this, frame);
  };
  prototype[BATCHED] = true;
  return true;
}

/** `frames` as one array of `bytes` bytes (the one frame itself if there is only one). */
function concat(frames: Uint8Array[], bytes: number): Uint8Array {
  if (frames.length === 1) return frames[0];
  const joined = new Uint8Array(bytes);
  let offset = 0;
  for (const frame of frames) {
    joined.set(frame, offset);
    offset += frame.length;
  }
  return joined;
}

installWriteBatching();

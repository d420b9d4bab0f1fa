/**
 * A guard against a fatal quirk of `@nats-io/transport-node` 3.4 under Deno:
 * when a connection ends, its transport (`NodeTransport._closed` and
 * `discard`) calls `socket.removeAllListeners()` and then `destroy()`. Deno's
 * `node:net` may still report a read that failed in the meantime (`read
 * ECONNRESET`, e.g. when the server answers a bad password with an error and
 * closes at once) as an `'error'` event on that socket; with no listener left,
 * Node's EventEmitter throws it, and an uncaught error ends the Deno process.
 * `test/nats_harness_test.ts` died of it about one run in four.
 *
 * The guard patches the transport when this module loads: every socket the
 * transport sets up for a connection gets a `removeAllListeners` that, once it
 * has removed every listener (or every `'error'` listener), adds back one that
 * ignores the error. The transport has already taken what it needed from the
 * connection by then (the close is under way), so nothing is lost. Every
 * module of Zest that connects to NATS imports it.
 *
 * @module
 */
import { NodeTransport } from "@nats-io/transport-node/lib/node_transport.js";

/** Marks a transport prototype already patched (the module may load twice in tests). */
const GUARDED = Symbol.for("zest.nats.socketGuard");

/** The late error of a socket being closed: nothing to do, the transport handles the close. */
function ignoreLateError(): void {}

/** The parts of a `node:net` socket the guard touches. */
interface GuardedSocket {
  on(event: "error", listener: () => void): unknown;
  removeAllListeners(event?: string | symbol): unknown;
}

/** Give `socket` a `removeAllListeners` that leaves an `'error'` listener behind. */
function guardSocket(socket: GuardedSocket | undefined): void {
  if (!socket) return;
  const removeAll = socket.removeAllListeners;
  socket.removeAllListeners = function (this: GuardedSocket, ...args: [string?]) {
    const result = removeAll.apply(this, args);
    if (args.length === 0 || args[0] === undefined || args[0] === "error") {
      this.on("error", ignoreLateError);
    }
    return result;
  };
}

/**
 * Patch `NodeTransport` (once): `setupHandlers`, which the transport calls
 * when a connection is established, guards the connection's socket. Returns
 * whether this call patched it (false when already done).
 *
 * @example
 * ```ts
 * import { installSocketGuard } from "./socket_guard.ts";
 * installSocketGuard(); // false: importing the module already installed it
 * ```
 */
export function installSocketGuard(): boolean {
  const prototype = NodeTransport.prototype as unknown as Record<PropertyKey, unknown> & {
    setupHandlers(this: { socket?: GuardedSocket }): void;
  };
  if (prototype[GUARDED]) return false;
  const setupHandlers = prototype.setupHandlers;
  prototype.setupHandlers = function (this: { socket?: GuardedSocket }) {
    setupHandlers.call(this);
    guardSocket(this.socket);
  };
  prototype[GUARDED] = true;
  return true;
}

installSocketGuard();

/**
 * The guard of `src/transport/nats/socket_guard.ts`: a socket's late
 * `'error'` (Deno's `read ECONNRESET`), emitted after nats.js's transport
 * removed every listener while closing, no longer throws — it killed the
 * process (test/nats_harness_test.ts died of it about one run in four, at a
 * refused password).
 */
import assert from "node:assert/strict";
import { Socket } from "node:net";
import { connect } from "@nats-io/transport-node";
import { NodeTransport } from "@nats-io/transport-node/lib/node_transport.js";
import { installSocketGuard } from "../src/transport/nats/socket_guard.ts";
import { NatsServer } from "./helpers/nats.ts";

Deno.test("nats socket guard: an error after the transport removed every listener is not thrown", () => {
  assert.equal(installSocketGuard(), false, "importing the module installed it");
  const transport = new NodeTransport() as unknown as { socket: Socket; setupHandlers(): void };
  transport.socket = new Socket();
  transport.setupHandlers();
  // What `_closed` and `discard` do, then what Deno's node:net may still do.
  transport.socket.removeAllListeners();
  const reset = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" });
  assert.doesNotThrow(() => transport.socket.emit("error", reset));
  // Without the guard, a socket with no 'error' listener throws it (and the process dies).
  const bare = new Socket();
  assert.throws(() => bare.emit("error", reset), /ECONNRESET/);
  transport.socket.destroy();
  bare.destroy();
});

Deno.test("nats socket guard: 100 connections refused for their password leave the process alive", async () => {
  await using server = await NatsServer.start({ user: "zest", password: "right-password" });
  for (let i = 0; i < 100; i++) {
    await assert.rejects(
      connect({ servers: server.url, user: "zest", pass: "wrong", maxReconnectAttempts: 0 }),
      /Authorization Violation/i,
    );
  }
});

/**
 * The server side of one WebSocket connection: JSON requests with a `ref`,
 * replies and pushed outcomes and events. A bad message gets an `error`
 * reply and the connection stays open; only auth failures close it.
 */
import type { TaskPort } from "../manager/types.ts";
import { tokensEqual } from "./auth.ts";
import {
  type ClientMessage,
  parseClientMessage,
  type Ref,
  type ServerMessage,
  toJson,
  WireError,
} from "./wire.ts";

/**
 * How one connection is served.
 *
 * @example
 * ```ts
 * import type { SocketOptions } from "./socket.ts";
 * import type { TaskPort } from "../manager/types.ts";
 * declare const port: TaskPort;
 * const options: SocketOptions = { port, token: "…", authenticated: false, maxMessageBytes: 1 << 20 };
 * ```
 */
export interface SocketOptions {
  port: TaskPort;
  /** The expected token, for a first-message `auth`. */
  token: string;
  /** Whether the upgrade request already presented the right token. */
  authenticated: boolean;
  /** Longest text message accepted, in bytes. */
  maxMessageBytes: number;
}

/** How long a connection without a token on its upgrade has to send `{type: "auth"}`. */
const AUTH_TIMEOUT_MS = 10_000;

/** Close codes: 1008 policy violation (auth), 1013 try again later (too slow a reader). */
const POLICY = 1008;
const TRY_LATER = 1013;

/** A reader that lets this much pile up unsent is dropped rather than slowing everyone. */
const MAX_BUFFERED_BYTES = 64 * 1024 * 1024;

const encoder = new TextEncoder();

/**
 * Serve `socket` until it closes.
 *
 * @example
 * ```ts
 * import { serveSocket } from "./socket.ts";
 * import type { TaskPort } from "../manager/types.ts";
 * declare const port: TaskPort;
 * Deno.serve((request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "zest.v1" });
 *   serveSocket(socket, { port, token: "…", authenticated: true, maxMessageBytes: 1 << 20 });
 *   return response;
 * });
 * ```
 */
export function serveSocket(socket: WebSocket, options: SocketOptions): void {
  const { port } = options;
  let authenticated = options.authenticated;
  let unsubscribe: (() => void) | undefined;
  // Aborted when the socket closes: waits of a gone client must not linger in the manager.
  const connection = new AbortController();
  const authTimer = authenticated ? undefined : setTimeout(
    () => socket.close(POLICY, "unauthorized: no auth message in time"),
    AUTH_TIMEOUT_MS,
  );

  const send = (message: ServerMessage) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      socket.close(TRY_LATER, "reading too slowly: too many unsent messages");
      return;
    }
    let text: string;
    try {
      text = toJson(message);
    } catch (error) {
      const ref = "ref" in message ? message.ref : undefined;
      text = toJson({ type: "error", ref, error: `could not encode the reply: ${error}` });
    }
    socket.send(text);
  };

  const fail = (error: unknown, ref?: Ref) => {
    send({ type: "error", ref, error: error instanceof Error ? error.message : String(error) });
  };

  const handle = async (message: ClientMessage): Promise<void> => {
    switch (message.type) {
      case "auth":
        return send({ type: "auth", ok: true }); // already authenticated: harmless
      case "submit": {
        const { ref, service, task, attributes, timeoutMs } = message;
        port.submit(
          { service, type: task.type, fields: task.fields ?? {}, attributes, timeoutMs },
          {
            accepted: (taskId) => send({ type: "submit", ref, taskId }),
            settled: (outcome) => send({ type: "outcome", ref, taskId: outcome.id, outcome }),
            refused: (error) => fail(error, ref),
          },
        );
        return;
      }
      case "get":
        return send({
          type: "get",
          ref: message.ref,
          record: (await port.get(message.taskId)) ?? null,
        });
      case "wait": {
        const outcome = await port.wait(message.taskId, connection.signal);
        return send({
          type: "outcome",
          ref: message.ref,
          taskId: message.taskId,
          outcome: outcome ?? null,
        });
      }
      case "cancel":
        return send({
          type: "cancel",
          ref: message.ref,
          cancelled: await port.cancel(message.taskId),
        });
      case "list": {
        const { type: _type, ref, ...query } = message;
        return send({ type: "list", ref, records: await port.list(query) });
      }
      case "services":
        return send({ type: "services", ref: message.ref, services: await port.services() });
      case "subscribe":
        unsubscribe ??= port.subscribe((event) => send({ type: "event", event }));
        return send({ type: "subscribe", ref: message.ref });
      case "unsubscribe":
        unsubscribe?.();
        unsubscribe = undefined;
        return send({ type: "unsubscribe", ref: message.ref });
    }
  };

  socket.addEventListener("message", (event) => {
    if (typeof event.data !== "string") {
      return fail(new WireError("binary messages are not supported: send JSON text"));
    }
    const text = event.data;
    // Characters never outnumber bytes, so only a long message needs counting.
    if (text.length * 3 > options.maxMessageBytes) {
      const bytes = encoder.encode(text).byteLength;
      if (bytes > options.maxMessageBytes) {
        return fail(
          new WireError(
            `message of ${bytes} bytes exceeds the limit of ${options.maxMessageBytes}`,
          ),
        );
      }
    }
    let message: ClientMessage;
    try {
      message = parseClientMessage(text);
    } catch (error) {
      if (!authenticated) return socket.close(POLICY, "unauthorized");
      return fail(error, (error as WireError).ref);
    }
    if (!authenticated) {
      if (message.type !== "auth" || !tokensEqual(message.token, options.token)) {
        return socket.close(POLICY, "unauthorized");
      }
      authenticated = true;
      clearTimeout(authTimer);
      return send({ type: "auth", ok: true });
    }
    handle(message).catch((error) => fail(error, "ref" in message ? message.ref : undefined));
  });

  socket.addEventListener("close", () => {
    connection.abort(new Error("the client disconnected"));
    clearTimeout(authTimer);
    unsubscribe?.();
    unsubscribe = undefined;
  });
}

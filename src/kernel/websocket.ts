/**
 * The WebSocket class that kernel connections use: `ws` (which
 * `@jupyterlab/services` would load by itself) with its message size limit
 * made explicit, and a report of every message it drops for being over it.
 *
 * `ws` does not hand an oversized message on: it closes the connection, the
 * library reconnects, and some of what the kernel sent in between is gone
 * (the execution's reply or its idle status among it, so the library's
 * `future.done` never settles). The report lets the kernel layer fail that
 * execution with the cause named, once the kernel is done with it.
 */
import WebSocket from "ws";

/** The part of `ws`'s client used here (the package ships no types). */
interface WsClient {
  on(event: "error", listener: (error: { code?: string }) => void): unknown;
}
const WsClient = WebSocket as new (
  url: string | URL,
  protocols?: string | string[],
  options?: { maxPayload?: number },
) => WsClient;

/**
 * The largest message taken from the Jupyter Server: `ws`'s own default
 * (100 MiB), kept on purpose. A message is held whole in memory, and a text
 * output of a few hundred MiB could not even be decoded into a string.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_MESSAGE_BYTES } from "./websocket.ts";
 * assert.equal(MAX_MESSAGE_BYTES, 104_857_600);
 * ```
 */
export const MAX_MESSAGE_BYTES = 100 * 2 ** 20;

/** `ws`'s code for an incoming message over `maxPayload`. */
const MESSAGE_TOO_LARGE = "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH";

/** Kernel session id → who to tell when a message for that session was dropped. */
const tooLargeListeners = new Map<string, () => void>();

/**
 * Call `listener` whenever the socket of kernel session `sessionId` (a
 * connection's `clientId`) drops a message over {@link MAX_MESSAGE_BYTES}.
 * Returns the function that stops listening.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { onMessageTooLarge } from "./websocket.ts";
 * let dropped = 0;
 * const stop = onMessageTooLarge("session-id", () => dropped++);
 * stop(); // the socket of "session-id" reports to nobody now
 * assert.equal(dropped, 0);
 * ```
 */
export function onMessageTooLarge(sessionId: string, listener: () => void): () => void {
  tooLargeListeners.set(sessionId, listener);
  return () => {
    if (tooLargeListeners.get(sessionId) === listener) tooLargeListeners.delete(sessionId);
  };
}

/**
 * Give this class as `WebSocket` to `ServerConnection.makeSettings`. The
 * library opens kernel channels as `…/channels?session_id=<clientId>`; the
 * session id routes the report.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerConnection } from "@jupyterlab/services";
 * import { KernelWebSocket } from "./websocket.ts";
 * const settings = ServerConnection.makeSettings({
 *   baseUrl: "http://127.0.0.1:8888/",
 *   wsUrl: "ws://127.0.0.1:8888/",
 *   token: "t",
 *   appendToken: true,
 *   WebSocket: KernelWebSocket as unknown as typeof globalThis.WebSocket,
 * });
 * assert.equal(settings.WebSocket, KernelWebSocket);
 * ```
 */
export class KernelWebSocket extends WsClient {
  /** Open `url` like `ws` does, with the explicit message limit. */
  constructor(url: string | URL, protocols?: string | string[]) {
    super(url, protocols, { maxPayload: MAX_MESSAGE_BYTES });
    const sessionId = new URL(url).searchParams.get("session_id");
    this.on("error", (error: { code?: string }) => {
      if (error.code === MESSAGE_TOO_LARGE && sessionId) tooLargeListeners.get(sessionId)?.();
    });
  }
}

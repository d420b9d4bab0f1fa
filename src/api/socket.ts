/**
 * The server side of one WebSocket connection: JSON requests with a `ref`,
 * replies and pushed outcomes and events. A bad message gets an `error`
 * reply and the connection stays open; a connection that has not
 * authenticated is closed at its first message that is not a valid `auth`,
 * and so is one that sends a wrong token later.
 */
import type { TaskPort } from "../transport/port.ts";
import {
  type ClientMessage,
  parseClientMessage,
  type Ref,
  type ServerMessage,
  WireError,
} from "../transport/websocket/protocol.ts";
import { errorBody, graphRequest, submitRequest, toJson } from "../transport/wire.ts";
import { tokensEqual } from "./auth.ts";
import { SendBudget } from "./send_budget.ts";

/**
 * How one connection is served.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import type { SocketOptions } from "./socket.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const options: SocketOptions = {
 *   port: runtime.client().port,
 *   token: "k3Rf9-Qx_2mZp7LwYb4Tn8Vc",
 *   authenticated: false, // the first message must then be { type: "auth", token }
 *   maxMessageBytes: 1 << 20,
 * };
 * assert.equal(options.authenticated, false);
 * await runtime.stop();
 * ```
 */
export interface SocketOptions {
  /** What the connection's requests go to. */
  port: TaskPort;
  /** The expected token, for a first-message `auth`. */
  token: string;
  /** Whether the upgrade request already presented the right token. */
  authenticated: boolean;
  /** Longest text message accepted, in bytes. */
  maxMessageBytes: number;
  /**
   * Called once when a connection that was not authenticated on its upgrade
   * stops waiting to: it authenticated, sent something else, or ran out of
   * time. (Not when its socket closes: the caller sees that itself.)
   */
  onAuthSettled?: () => void;
  /** How long such a connection has to authenticate, in ms. Default `AUTH_TIMEOUT_MS`. */
  authTimeoutMs?: number;
  /** Unsent bytes, shared by the server's connections. Default: a budget of this one's own. */
  budget?: SendBudget;
}

/**
 * Most `wait` requests one connection may have pending at once; more get an
 * error reply. Waits are cheap, but not free: a client must not pile up
 * millions.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_WAITS_PER_CONNECTION } from "./socket.ts";
 * assert.equal(MAX_WAITS_PER_CONNECTION, 10_000);
 * ```
 */
export const MAX_WAITS_PER_CONNECTION = 10_000;

const TOO_MANY_WAITS =
  `too many waits on this connection: at most ${MAX_WAITS_PER_CONNECTION} at once`;

/**
 * How long a connection without a token on its upgrade has to send
 * `{type: "auth"}`, in ms.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AUTH_TIMEOUT_MS } from "./socket.ts";
 * assert.equal(AUTH_TIMEOUT_MS, 10_000);
 * ```
 */
export const AUTH_TIMEOUT_MS = 10_000;

/** An `auth` message is short (a token is at most 512 characters): anything longer is not one. */
const MAX_AUTH_MESSAGE_CHARS = 1_024;

/** Close codes: 1008 policy violation (auth), 1013 try again later (too slow a reader). */
const POLICY = 1008;
const TRY_LATER = 1013;

const encoder = new TextEncoder();

/**
 * Serve `socket` until it closes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import { serveSocket } from "./socket.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const port = runtime.client().port;
 * const token = "k3Rf9-Qx_2mZp7LwYb4Tn8Vc";
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
 *   const { socket, response } = Deno.upgradeWebSocket(request, { protocol: "zest.v1" });
 *   serveSocket(socket, { port, token, authenticated: false, maxMessageBytes: 1 << 20 });
 *   return response;
 * });
 * const socket = new WebSocket(`ws://127.0.0.1:${server.addr.port}/`, "zest.v1");
 * const replies: { type: string }[] = [];
 * const done = Promise.withResolvers<void>();
 * socket.onopen = () => {
 *   socket.send(JSON.stringify({ type: "auth", token }));
 *   socket.send(JSON.stringify({ type: "services", ref: 1 }));
 * };
 * socket.onmessage = (event) => {
 *   replies.push(JSON.parse(event.data));
 *   if (replies.length === 2) socket.close();
 * };
 * socket.onclose = () => done.resolve();
 * await done.promise;
 * assert.deepEqual(replies.map((reply) => reply.type), ["auth", "services"]);
 * await server.shutdown();
 * await runtime.stop();
 * ```
 */
export function serveSocket(socket: WebSocket, options: SocketOptions): void {
  const { port } = options;
  let authenticated = options.authenticated;
  let unsubscribe: (() => void) | undefined;
  // This connection's pending waits, each with its own abort: when the
  // socket closes they are all given up, one by one, at O(1) each.
  const waits = new Map<number, AbortController>();
  let nextWait = 0;
  const budget = options.budget ?? new SendBudget();

  /**
   * Give up on a connection that has not authenticated. Its waiting place is
   * freed now: the close event comes only once the peer answers the close
   * frame, which a hostile one never does.
   */
  const refuse = (reason: string) => {
    clearTimeout(authTimer);
    options.onAuthSettled?.();
    socket.close(POLICY, reason);
  };
  const authTimer = authenticated ? undefined : setTimeout(
    () => refuse("unauthorized: no auth message in time"),
    options.authTimeoutMs ?? AUTH_TIMEOUT_MS,
  );

  const send = (message: ServerMessage) => {
    if (socket.readyState !== WebSocket.OPEN) return;
    const refusal = budget.refusal(socket);
    if (refusal !== undefined) return socket.close(TRY_LATER, refusal);
    let text: string;
    try {
      text = toJson(message);
    } catch (error) {
      const ref = "ref" in message ? message.ref : undefined;
      text = toJson({ type: "error", ref, error: `could not encode the reply: ${error}` });
    }
    socket.send(text);
    budget.sent(socket);
  };

  const fail = (error: unknown, ref?: Ref) => send({ type: "error", ref, ...errorBody(error) });

  const wait = async (ref: Ref, taskId: string): Promise<void> => {
    // A flood of waits is answered cheaply: no Error (and its stack) per refusal.
    if (waits.size >= MAX_WAITS_PER_CONNECTION) {
      return send({ type: "error", ref, error: TOO_MANY_WAITS });
    }
    const key = nextWait++;
    const controller = new AbortController();
    waits.set(key, controller);
    try {
      const outcome = await port.wait(taskId, controller.signal);
      send({ type: "outcome", ref, taskId, outcome: outcome ?? null });
    } finally {
      waits.delete(key);
    }
  };

  const handle = async (message: ClientMessage): Promise<void> => {
    switch (message.type) {
      case "auth":
        // Authenticated already: the right token again is harmless, a wrong one is not.
        if (!tokensEqual(message.token, options.token)) return socket.close(POLICY, "unauthorized");
        return send({ type: "auth", ok: true });
      case "submit": {
        const { ref } = message;
        port.submit(submitRequest(message.task), {
          accepted: (taskId) => send({ type: "submit", ref, taskId }),
          settled: (outcome) => send({ type: "outcome", ref, taskId: outcome.id, outcome }),
          refused: (error) => fail(error, ref),
        });
        return;
      }
      case "graph":
        return send({
          type: "graph",
          ref: message.ref,
          ids: await port.submitGraph(graphRequest(message.tasks)),
        });
      case "get":
        return send({
          type: "get",
          ref: message.ref,
          record: (await port.get(message.taskId)) ?? null,
        });
      case "wait":
        return await wait(message.ref, message.taskId);
      case "cancel":
        return send({
          type: "cancel",
          ref: message.ref,
          cancelled: await port.cancel(message.taskId),
        });
      case "delete":
        await port.delete(message.taskId);
        return send({ type: "delete", ref: message.ref });
      case "dot":
        return send({
          type: "dot",
          ref: message.ref,
          dot: (await port.graph(message.taskId)) ?? null,
        });
      case "list":
        return send({ type: "list", ref: message.ref, ...await port.list(message.query) });
      case "services":
        return send({ type: "services", ref: message.ref, services: await port.services() });
      case "queue":
        return send({
          type: "queue",
          ref: message.ref,
          records: await port.queue(message.service, message.limit),
        });
      case "release":
        return send({
          type: "release",
          ref: message.ref,
          released: await port.release(message.service),
        });
      case "store":
        return send({ type: "store", ref: message.ref, store: await port.storeStats() });
      case "schedules":
        return send({ type: "schedules", ref: message.ref, schedules: await port.schedules() });
      case "schedule":
        return send({
          type: "schedule",
          ref: message.ref,
          schedule: await port.controlSchedule(message.name, message.action),
        });
      case "subscribe":
        unsubscribe ??= port.subscribe((event) => send({ type: "event", event }));
        // Confirmed once events of what happens next reach it, whoever makes it happen.
        await port.subscribed();
        return send({ type: "subscribe", ref: message.ref });
      case "unsubscribe":
        unsubscribe?.();
        unsubscribe = undefined;
        return send({ type: "unsubscribe", ref: message.ref });
    }
  };

  /** The first message of a connection not authenticated on its upgrade: a valid `auth`, or the end. */
  const authenticate = (data: unknown): void => {
    let message: ClientMessage | undefined;
    if (typeof data === "string" && data.length <= MAX_AUTH_MESSAGE_CHARS) {
      try {
        message = parseClientMessage(data);
      } catch {
        // Not an auth message: closed below.
      }
    }
    if (message?.type !== "auth" || !tokensEqual(message.token, options.token)) {
      return refuse("unauthorized");
    }
    authenticated = true;
    clearTimeout(authTimer);
    options.onAuthSettled?.();
    send({ type: "auth", ok: true });
  };

  socket.addEventListener("message", (event) => {
    if (!authenticated) return authenticate(event.data);
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
      return fail(error, (error as WireError).ref);
    }
    handle(message).catch((error) => fail(error, "ref" in message ? message.ref : undefined));
  });

  socket.addEventListener("close", () => {
    clearTimeout(authTimer);
    budget.release(socket);
    const gone = new Error("the client disconnected");
    for (const controller of waits.values()) controller.abort(gone);
    waits.clear();
    unsubscribe?.();
    unsubscribe = undefined;
  });
}

/**
 * `serve`: the runtime as a server. One `Deno.serve` listener carries the
 * HTTP API, the WebSocket API (on `/`) and the dashboard page, all behind
 * one token.
 *
 * @module
 */
import { durationProblem } from "../task/limits.ts";
import type { Client } from "../transport/client.ts";
import { isValidToken, PROTOCOL } from "../transport/websocket/protocol.ts";
import { isUpgrade, offeredProtocols, presentedToken, tokensEqual } from "./auth.ts";
import { dashboardAsset } from "./assets.ts";
import { errorResponse, handleApi, HttpError, json } from "./http.ts";
import { SendBudget } from "./send_budget.ts";
import { AUTH_TIMEOUT_MS, serveSocket } from "./socket.ts";

/**
 * Largest HTTP body or WebSocket message accepted by default: 1 MiB.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_MAX_BODY_BYTES } from "./server.ts";
 * assert.equal(DEFAULT_MAX_BODY_BYTES, 1_048_576);
 * ```
 */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * Port used when none is given.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_PORT } from "./server.ts";
 * assert.equal(DEFAULT_PORT, 8787);
 * ```
 */
export const DEFAULT_PORT = 8787;

/**
 * Interface listened on when none is given: loopback only.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DEFAULT_HOSTNAME } from "./server.ts";
 * assert.equal(DEFAULT_HOSTNAME, "127.0.0.1");
 * ```
 */
export const DEFAULT_HOSTNAME = "127.0.0.1";

/**
 * Most WebSocket connections that may be open at once without having
 * authenticated yet (no token on the upgrade, no `auth` message yet); more
 * are refused with 503. Each may make the server hold one message of up to
 * 64 MiB (Deno's frame limit) before it is closed, so this bounds that memory.
 * Clients that put the token on the upgrade (the `Client`, the dashboard)
 * never count, and a connection stops counting once it authenticates, sends
 * anything else, or its time (`AUTH_TIMEOUT_MS`) is up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_UNAUTHENTICATED_SOCKETS } from "./server.ts";
 * assert.equal(MAX_UNAUTHENTICATED_SOCKETS, 2);
 * ```
 */
export const MAX_UNAUTHENTICATED_SOCKETS = 2;

/**
 * What the server serves: a `Runtime` fits as is; anything with a client does too.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import { type ServerBackend, serve } from "./server.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * // A gateway in front of another server would hand out clients of that one.
 * const backend: ServerBackend = { client: () => runtime.client() };
 * const token = "k3Rf9-Qx_2mZp7LwYb4Tn8Vc";
 * const server = serve(backend, { token, port: 0 });
 * const response = await fetch(new URL("/services", server.url), {
 *   headers: { authorization: `Bearer ${token}` },
 * });
 * assert.equal(response.status, 200);
 * await response.body?.cancel();
 * await server.shutdown();
 * await runtime.stop();
 * ```
 */
export interface ServerBackend {
  /** A client whose port serves the requests. */
  client(): Client;
}

/**
 * Options of `serve`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import { type ServeOptions, serve } from "./server.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const options: ServeOptions = { token: "k3Rf9-Qx_2mZp7LwYb4Tn8Vc", port: 0, maxBodyBytes: 64 };
 * const server = serve(runtime, options);
 * const response = await fetch(new URL("/tasks", server.url), {
 *   method: "POST",
 *   headers: { authorization: `Bearer ${options.token}` },
 *   body: JSON.stringify({ service: "lab", type: "Scan", fields: { notes: "x".repeat(100) } }),
 * });
 * assert.equal(response.status, 413); // over maxBodyBytes
 * await response.body?.cancel();
 * assert.throws(() => serve(runtime, { token: "short" }), /token must be 16 to 512 characters/);
 * await server.shutdown();
 * await runtime.stop();
 * ```
 */
export interface ServeOptions {
  /** Every request must present it (see `presentedToken`). At least 16 URL-safe characters. */
  token: string;
  /** Interface to bind; loopback unless you mean otherwise. Default `127.0.0.1`. */
  hostname?: string;
  /** Port; `0` picks a free one. Default 8787. */
  port?: number;
  /** Largest request body or WebSocket message, in bytes. Default 1 MiB. */
  maxBodyBytes?: number;
  /**
   * How long a WebSocket without the token on its upgrade has to send
   * `{type: "auth"}`, in ms (1 to 2³¹−1). Default `AUTH_TIMEOUT_MS`, 10 s.
   */
  authTimeoutMs?: number;
  /**
   * Most bytes WebSocket connections may hold unsent, each and all together
   * (defaults `MAX_UNSENT_BYTES_PER_CONNECTION`, 16 MiB, and
   * `MAX_UNSENT_BYTES`, 256 MiB): see `SendBudget`.
   */
  maxUnsentBytes?: { perConnection?: number; total?: number };
}

/**
 * Where `serve` listens, and how to stop it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import { serve, type ZestServer } from "./server.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const server: ZestServer = serve(runtime, { token: "k3Rf9-Qx_2mZp7LwYb4Tn8Vc", port: 0 });
 * assert.equal(server.url.protocol, "http:");
 * assert.equal(server.wsUrl.href, server.url.href.replace("http:", "ws:"));
 * await server.shutdown();
 * await runtime.stop();
 * ```
 */
export interface ZestServer {
  /** `http://host:port/` — the HTTP API and the dashboard page. */
  readonly url: URL;
  /** `ws://host:port/` — for `Client.connect`. */
  readonly wsUrl: URL;
  /** Close every WebSocket (1001), end long waits, stop listening. */
  shutdown(): Promise<void>;
}

function unauthorized(): Response {
  return json(401, { error: "unauthorized" }, { "www-authenticate": 'Bearer realm="zest"' });
}

function forbidden(message: string): Response {
  return json(403, { error: `forbidden: ${message}` });
}

const LOOPBACK_NAMES = new Set(["127.0.0.1", "localhost", "[::1]"]);

/** Whether binding `hostname` listens on loopback only. */
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

/**
 * Whether a `Host` header names this loopback server (`127.0.0.1`,
 * `localhost` or `[::1]`, with its port): a page whose name was rebound to
 * 127.0.0.1 (DNS rebinding) sends its own name, and is refused.
 */
function isLoopbackHost(host: string, port: number): boolean {
  const match = host.toLowerCase().match(/^(\[[^\]]*\]|[^:]+)(?::(\d+))?$/);
  if (!match || !LOOPBACK_NAMES.has(match[1])) return false;
  return Number(match[2] ?? 80) === port;
}

/**
 * Whether a WebSocket upgrade may proceed: no `Origin` (not a browser), or
 * the server's own origin (the dashboard). A page on any other origin must
 * not reach the API from a visitor's browser.
 */
function isOwnOrigin(origin: string | null, host: string | null): boolean {
  if (origin === null) return true;
  return host !== null && (origin === `http://${host}` || origin === `https://${host}`);
}

/** A header value as it may appear in an error message. */
const quoted = (value: string) => JSON.stringify(value.slice(0, 100));

/** `authTimeoutMs`, checked as every duration option is (`durationProblem`). */
function checkAuthTimeout(ms: number): number {
  const problem = durationProblem(ms);
  if (problem) throw new RangeError(`authTimeoutMs: ${problem}`);
  return ms;
}

/**
 * Deno's `idleTimeout` (seconds) for a WebSocket that must still
 * authenticate: Deno pings it after half of this and drops the connection
 * (really: it closes the TCP stream) if no pong comes in the other half. So
 * a peer that says nothing at all is gone within half the auth timeout.
 * Only Deno can drop it: once `close()` has sent a close frame, the
 * connection ends when the peer answers, which a silent one never does, and
 * Deno stops pinging a closing socket. The auth timeout's `close()` is for
 * peers that answer pings but never authenticate.
 */
function unauthenticatedIdleSeconds(authTimeoutMs: number): number {
  return authTimeoutMs / 2 / 1_000;
}

/** A hostname as it goes in a URL a person can open. */
function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "127.0.0.1";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/**
 * Serve `backend` over HTTP and WebSocket until `shutdown()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, Service } from "../mod.ts";
 * import { serve } from "./server.ts";
 * const runtime = await Runtime.start({ services: [new Service("idle")] });
 * const server = serve(runtime, { token: "a-long-enough-secret-token", port: 0 });
 * const response = await fetch(new URL("/services", server.url), {
 *   headers: { authorization: "Bearer a-long-enough-secret-token" },
 * });
 * const [idle] = await response.json();
 * assert.equal(idle.name, "idle");
 * const anonymous = await fetch(new URL("/services", server.url));
 * assert.equal(anonymous.status, 401);
 * await anonymous.body?.cancel();
 * await server.shutdown();
 * await runtime.stop();
 * ```
 */
export function serve(backend: ServerBackend, options: ServeOptions): ZestServer {
  const { token } = options;
  if (!isValidToken(token)) {
    throw new TypeError("token must be 16 to 512 characters from A-Z a-z 0-9 and !#$%&'*+.^_`|~-");
  }
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const authTimeoutMs = checkAuthTimeout(options.authTimeoutMs ?? AUTH_TIMEOUT_MS);
  const budget = new SendBudget(options.maxUnsentBytes);
  const port = backend.client().port;
  const sockets = new Set<WebSocket>();
  let unauthenticated = 0;
  const closing = new AbortController();
  const hostname = options.hostname ?? DEFAULT_HOSTNAME;
  const loopback = isLoopback(hostname);

  const upgrade = (request: Request, authenticated: boolean): Response => {
    const origin = request.headers.get("origin");
    if (!isOwnOrigin(origin, request.headers.get("host"))) {
      return forbidden(
        `WebSocket from origin ${quoted(origin ?? "")}: only this server's own pages`,
      );
    }
    if (!authenticated && unauthenticated >= MAX_UNAUTHENTICATED_SOCKETS) {
      return json(503, {
        error:
          `too many connections waiting to authenticate (at most ${MAX_UNAUTHENTICATED_SOCKETS}): ` +
          `retry, or put the token on the upgrade (subprotocol token.<token>)`,
      }, { "retry-after": "1" });
    }
    const protocols = offeredProtocols(request);
    // A browser fails the connection unless the server picks one of the offered protocols.
    if (protocols.length > 0 && !protocols.includes(PROTOCOL)) {
      return errorResponse(new HttpError(400, `offer the WebSocket subprotocol '${PROTOCOL}'`));
    }
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(request, {
        ...protocols.length > 0 ? { protocol: PROTOCOL } : {},
        ...authenticated ? {} : { idleTimeout: unauthenticatedIdleSeconds(authTimeoutMs) },
      });
    } catch (error) {
      return errorResponse(
        new HttpError(400, `bad WebSocket upgrade: ${(error as Error).message}`),
      );
    }
    const { socket, response } = upgraded;
    sockets.add(socket);
    let waitingForAuth = !authenticated;
    if (waitingForAuth) unauthenticated++;
    const stopWaiting = () => {
      if (waitingForAuth) unauthenticated--;
      waitingForAuth = false;
    };
    socket.addEventListener("close", () => {
      sockets.delete(socket);
      stopWaiting();
    });
    serveSocket(socket, {
      port,
      token,
      authenticated,
      maxMessageBytes: maxBodyBytes,
      onAuthSettled: stopWaiting,
      authTimeoutMs,
      budget,
    });
    return response;
  };

  const handler = (request: Request): Response | Promise<Response> => {
    const host = request.headers.get("host");
    if (loopback && host !== null && !isLoopbackHost(host, server.addr.port)) {
      return forbidden(
        `Host ${quoted(host)} is not this server: on loopback it answers only ` +
          `127.0.0.1, localhost or [::1] with its port`,
      );
    }
    const url = new URL(request.url);
    const upgrading = isUpgrade(request);
    if (!upgrading && (request.method === "GET" || request.method === "HEAD")) {
      const asset = dashboardAsset(url.pathname, request.method);
      if (asset) return asset;
    }
    const presented = presentedToken(request);
    if (upgrading && url.pathname === "/") {
      // No token on the upgrade: the first message must be `{type: "auth", token}`.
      if (presented === undefined) return upgrade(request, false);
      return tokensEqual(presented, token) ? upgrade(request, true) : unauthorized();
    }
    if (!tokensEqual(presented, token)) return unauthorized();
    return handleApi(port, request, { maxBodyBytes, signal: closing.signal });
  };

  const server = Deno.serve({
    hostname,
    port: options.port ?? DEFAULT_PORT,
    onListen: () => {},
    onError: (error) => {
      console.error("[zest] request failed:", error);
      return json(500, { error: `internal error: ${(error as Error)?.message ?? error}` });
    },
  }, handler);

  const host = urlHost(server.addr.hostname);
  const url = new URL(`http://${host}:${server.addr.port}/`);
  const wsUrl = new URL(`ws://${host}:${server.addr.port}/`);
  let stopping: Promise<void> | undefined;
  return {
    url,
    wsUrl,
    shutdown: () =>
      stopping ??= (async () => {
        closing.abort(new DOMException("the server is shutting down", "AbortError"));
        for (const socket of sockets) socket.close(1001, "server shutting down");
        await server.shutdown();
      })(),
  };
}

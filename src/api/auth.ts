/**
 * Token auth for the server: where a request carries the token, and a
 * comparison that takes the same time whatever the guess. (What a token
 * looks like, and the subprotocols that carry it, are the WebSocket
 * protocol's: `src/transport/websocket/protocol.ts`.)
 *
 * @module
 */
import { TOKEN_PROTOCOL_PREFIX } from "../transport/websocket/protocol.ts";

const encoder = new TextEncoder();

/**
 * Compare a presented token with the expected one in time that depends only
 * on the expected token's length, so that timing tells an attacker nothing
 * about how much of a guess was right.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { tokensEqual } from "./auth.ts";
 * assert.equal(tokensEqual("guess", "k3Rf9-Qx_2mZp7LwYb4Tn8Vc"), false);
 * assert.equal(tokensEqual(undefined, "k3Rf9-Qx_2mZp7LwYb4Tn8Vc"), false);
 * assert.equal(tokensEqual("k3Rf9-Qx_2mZp7LwYb4Tn8Vc", "k3Rf9-Qx_2mZp7LwYb4Tn8Vc"), true);
 * ```
 */
export function tokensEqual(given: string | undefined, expected: string): boolean {
  const a = encoder.encode(given ?? "");
  const b = encoder.encode(expected);
  let difference = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) difference |= b[i] ^ (a[i] ?? 0);
  return given !== undefined && difference === 0;
}

/**
 * The subprotocols a WebSocket upgrade request offers, in order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { offeredProtocols } from "./auth.ts";
 * const request = new Request("http://x/", { headers: { "sec-websocket-protocol": "zest.v1, token.abc" } });
 * assert.deepEqual(offeredProtocols(request), ["zest.v1", "token.abc"]);
 * ```
 */
export function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol") ?? "";
  return header.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * Whether `request` asks to become a WebSocket: a `GET` with `Upgrade:
 * websocket` (RFC 6455 allows no other method, and a `POST` carrying the
 * header is an API call like any other).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isUpgrade } from "./auth.ts";
 * const headers = { upgrade: "websocket" };
 * assert.equal(isUpgrade(new Request("http://x/", { headers })), true);
 * assert.equal(isUpgrade(new Request("http://x/", { method: "POST", headers })), false);
 * assert.equal(isUpgrade(new Request("http://x/")), false);
 * ```
 */
export function isUpgrade(request: Request): boolean {
  return request.method === "GET" && request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or for a
 * WebSocket upgrade (only: the README promises no more) a `token.<token>`
 * subprotocol. Never the query string, which ends up in logs and browser
 * history.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { presentedToken } from "./auth.ts";
 * assert.equal(presentedToken(new Request("http://x/", { headers: { authorization: "Bearer abc" } })), "abc");
 * assert.equal(presentedToken(new Request("http://x/")), undefined);
 * const protocols = { "sec-websocket-protocol": "zest.v1, token.abc" };
 * assert.equal(presentedToken(new Request("http://x/", { headers: { ...protocols, upgrade: "websocket" } })), "abc");
 * assert.equal(presentedToken(new Request("http://x/", { headers: protocols })), undefined);
 * ```
 */
export function presentedToken(request: Request): string | undefined {
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  if (bearer) return bearer[1];
  if (!isUpgrade(request)) return undefined;
  const carrier = offeredProtocols(request).find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  return carrier?.slice(TOKEN_PROTOCOL_PREFIX.length);
}

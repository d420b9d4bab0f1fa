/**
 * Token auth for the server: where a request carries the token, and a
 * comparison that takes the same time whatever the guess.
 */

/**
 * The WebSocket subprotocol of this API; the server echoes it back.
 *
 * @example
 * ```ts
 * import { PROTOCOL } from "./auth.ts";
 * new WebSocket("ws://127.0.0.1:8787", [PROTOCOL, "token.<token>"]);
 * ```
 */
export const PROTOCOL = "zest.v1";

/**
 * Prefix of the subprotocol that carries the token: `token.<token>`.
 *
 * @example
 * ```ts
 * import { PROTOCOL, TOKEN_PROTOCOL_PREFIX } from "./auth.ts";
 * const protocols = [PROTOCOL, TOKEN_PROTOCOL_PREFIX + Deno.env.get("ZEST_TOKEN")];
 * ```
 */
export const TOKEN_PROTOCOL_PREFIX = "token.";

/**
 * Characters a token may use: RFC 7230 `tchar`s, so that it fits in a
 * `Sec-WebSocket-Protocol` value, and at least 16 of them.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{16,512}$/;

const encoder = new TextEncoder();

/**
 * Whether `token` can be used as a token (length and characters).
 *
 * @example
 * ```ts
 * import { isValidToken } from "./auth.ts";
 * isValidToken("short"); // false
 * isValidToken("k3Rf9-Qx_2mZp7LwYb4Tn8Vc"); // true
 * ```
 */
export function isValidToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/**
 * A new random token: 32 bytes from the system's CSPRNG, base64url.
 *
 * @example
 * ```ts
 * import { generateToken, isValidToken } from "./auth.ts";
 * isValidToken(generateToken()); // true
 * ```
 */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_")
    .replace(/=+$/, "");
}

/**
 * Compare a presented token with the expected one in time that depends only
 * on the expected token's length, so that timing tells an attacker nothing
 * about how much of a guess was right.
 *
 * @example
 * ```ts
 * import { tokensEqual } from "./auth.ts";
 * tokensEqual("guess", "k3Rf9-Qx_2mZp7LwYb4Tn8Vc"); // false
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
 * import { offeredProtocols } from "./auth.ts";
 * const request = new Request("http://x/", { headers: { "sec-websocket-protocol": "zest.v1, token.abc" } });
 * offeredProtocols(request); // ["zest.v1", "token.abc"]
 * ```
 */
export function offeredProtocols(request: Request): string[] {
  const header = request.headers.get("sec-websocket-protocol") ?? "";
  return header.split(",").map((p) => p.trim()).filter((p) => p !== "");
}

/**
 * The token a request presents: `Authorization: Bearer <token>`, or for a
 * WebSocket upgrade a `token.<token>` subprotocol. Never the query string,
 * which ends up in logs and browser history.
 *
 * @example
 * ```ts
 * import { presentedToken } from "./auth.ts";
 * presentedToken(new Request("http://x/", { headers: { authorization: "Bearer abc" } })); // "abc"
 * ```
 */
export function presentedToken(request: Request): string | undefined {
  const authorization = request.headers.get("authorization");
  const bearer = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
  if (bearer) return bearer[1];
  const carrier = offeredProtocols(request).find((p) => p.startsWith(TOKEN_PROTOCOL_PREFIX));
  return carrier?.slice(TOKEN_PROTOCOL_PREFIX.length);
}

/**
 * The server in-process, against a hostile client: bad query parameters,
 * tokens where they do not belong, clients that leave mid-body, WebSockets
 * that never authenticate or never read. In-process so that each test may
 * shorten a limit (`authTimeoutMs`, `maxUnsentBytes`) and watch the log.
 */
import assert from "node:assert/strict";
import { defineTask, Runtime, Service } from "../mod.ts";
import { z } from "zod";
import { serve, type ServeOptions, type ZestServer } from "./server.ts";

const TOKEN = "server-test-token-0123456789";

const Hold = defineTask("Hold", { schema: z.object({}), parallel: false });
const Echo = defineTask("Echo", { schema: z.object({}), parallel: true });

/** A `lab` service: `Echo` answers at once; `Hold` runs until cancelled. */
class Lab extends Service {
  constructor() {
    super("lab");
    this.registerHandler(Echo, () => "ok");
    this.registerHandler(
      Hold,
      (_, { signal }) =>
        new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
    );
  }
}

interface Setup {
  runtime: Runtime;
  server: ZestServer;
  /** What the server wrote with `console.error` during the test. */
  errors: string[];
}

/** Run `test` with a runtime (`store`) served with `options`, and `console.error` captured. */
async function withServer(
  test: (setup: Setup) => Promise<void>,
  options: Partial<ServeOptions> = {},
  store: "memory" | { path: string } = "memory",
): Promise<void> {
  const runtime = await Runtime.start({ services: [new Lab()], store });
  const server = serve(runtime, { token: TOKEN, port: 0, ...options });
  const errors: string[] = [];
  const original = console.error;
  console.error = (...args: unknown[]) => errors.push(args.map(String).join(" "));
  try {
    await test({ runtime, server, errors });
  } finally {
    console.error = original;
    await server.shutdown();
    await runtime.stop();
  }
}

/** `fetch` with the bearer token. */
function api(server: ZestServer, path: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("authorization", `Bearer ${TOKEN}`);
  return fetch(new URL(path, server.url), { ...init, headers });
}

/** `response` is a 400 whose error matches `pattern`. */
async function badRequest(response: Response, pattern: RegExp): Promise<void> {
  const body = await response.json();
  assert.equal(response.status, 400, JSON.stringify(body));
  assert.match(body.error, pattern);
}

const encoder = new TextEncoder();

/** A raw TCP connection to `server`, with `head` (request line and headers) sent. */
async function rawConnect(server: ZestServer, head: string[]): Promise<Deno.TcpConn> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(server.url.port) });
  await connection.write(encoder.encode(`${head.join("\r\n")}\r\n\r\n`));
  return connection;
}

/** The head of a WebSocket upgrade of `server`, `method` (GET) and `extra` headers. */
function upgradeHead(server: ZestServer, extra: string[] = [], method = "GET"): string[] {
  return [
    `${method} / HTTP/1.1`,
    `Host: 127.0.0.1:${server.url.port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...extra,
  ];
}

/** The status line of the response to `head`. */
async function rawStatus(server: ZestServer, head: string[]): Promise<string> {
  const connection = await rawConnect(server, head);
  try {
    const buffer = new Uint8Array(4_096);
    const read = await connection.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, read ?? 0)).split("\r\n")[0];
  } finally {
    connection.close();
  }
}

/** A masked client text frame (RFC 6455 §5.3), as a client must send. */
function clientFrame(text: string): Uint8Array {
  const payload = encoder.encode(text);
  assert.ok(payload.length < 126, "short frames only");
  const mask = [1, 2, 3, 4];
  const frame = new Uint8Array(6 + payload.length);
  frame.set([0x81, 0x80 | payload.length, ...mask]);
  payload.forEach((byte, i) => frame[6 + i] = byte ^ mask[i % 4]);
  return frame;
}

/**
 * A WebSocket peer on raw TCP that never sends a close frame: it reads
 * what comes (the 101, frames), answers pings when `pong` says so, and
 * resolves `ended` with everything read once the server drops the
 * connection.
 */
async function rawPeer(server: ZestServer, head: string[], { pong = false } = {}) {
  const connection = await rawConnect(server, head);
  const chunks: Uint8Array[] = [];
  const ended = (async () => {
    const buffer = new Uint8Array(65_536);
    for (;;) {
      const read = await connection.read(buffer).catch(() => null);
      if (read === null) return concat(chunks);
      const chunk = buffer.slice(0, read);
      chunks.push(chunk);
      // A ping from the server: 0x89 and an empty payload (Deno's), answered with a masked pong.
      if (pong && chunk.includes(0x89)) {
        await connection.write(new Uint8Array([0x8a, 0x80, 0, 0, 0, 0])).catch(() => {});
      }
    }
  })();
  return { connection, ended, received: () => concat(chunks) };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const all = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A browser-like WebSocket that authenticates with a first message; its `auth` reply. */
async function authenticateByMessage(server: ZestServer): Promise<unknown> {
  const socket = new WebSocket(server.wsUrl, "zest.v1");
  try {
    const reply = new Promise<unknown>((resolve, reject) => {
      socket.onmessage = (event) => resolve(JSON.parse(event.data));
      socket.onclose = (event) => reject(new Error(`closed ${event.code} ${event.reason}`));
      socket.onerror = () => reject(new Error("the upgrade failed"));
    });
    socket.onopen = () => socket.send(JSON.stringify({ type: "auth", token: TOKEN }));
    return await reply;
  } finally {
    const closed = new Promise((resolve) => socket.addEventListener("close", resolve));
    socket.close();
    await closed;
  }
}

for (const store of ["memory", "sqlite"] as const) {
  Deno.test(`GET /tasks: a cursor the ${store} store never gave is a 400 naming cursor, not a 500`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      await withServer(
        async ({ server, errors }) => {
          const forged = ["garbage", "-1", "%00", "1e3", "s".repeat(64), "sZZ", "k-"];
          for (const cursor of forged) {
            await badRequest(
              await api(server, `/tasks?cursor=${cursor}`),
              /^bad query: cursor: not a cursor this store gave/,
            );
          }
          assert.deepEqual(errors, [], "nothing logged for a client's mistake");
        },
        {},
        store === "memory" ? "memory" : { path: `${dir}/zest.db` },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("GET /tasks: a cursor from a page still leads to the next page", async () => {
  await withServer(async ({ runtime, server }) => {
    const client = runtime.client();
    for (let i = 0; i < 3; i++) await client.execute("lab", Echo.create({}));
    const first = await (await api(server, "/tasks?limit=2")).json();
    assert.equal(first.records.length, 2);
    const second = await (await api(server, `/tasks?limit=2&cursor=${first.next}`)).json();
    assert.equal(second.records.length, 1);
  });
});

Deno.test("GET /services/:name/queue: a bad limit is a 400 naming limit", async () => {
  await withServer(async ({ server }) => {
    for (const limit of ["abc", "-5", "0", "1001", "2.5", "", "1e3"]) {
      await badRequest(
        await api(server, `/services/lab/queue?limit=${limit}`),
        new RegExp(`^bad query: limit: expected a whole number from 1 to 1000, got '${limit}'$`),
      );
    }
    const ok = await api(server, "/services/lab/queue?limit=5");
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), []);
  });
});

Deno.test("the token subprotocol counts on a WebSocket upgrade only, not on plain HTTP", async () => {
  await withServer(async ({ server }) => {
    const plain = await fetch(new URL("/services", server.url), {
      headers: { "sec-websocket-protocol": `zest.v1, token.${TOKEN}` },
    });
    assert.equal(plain.status, 401);
    await plain.body?.cancel();
    const upgrade = upgradeHead(server, [`Sec-WebSocket-Protocol: zest.v1, token.${TOKEN}`]);
    assert.match(await rawStatus(server, upgrade), /^HTTP\/1\.1 101/);
  });
});

Deno.test("only a GET upgrades to a WebSocket", async () => {
  await withServer(async ({ server }) => {
    const protocols = `Sec-WebSocket-Protocol: zest.v1, token.${TOKEN}`;
    for (const method of ["POST", "PUT", "DELETE"]) {
      const head = upgradeHead(server, [protocols], method);
      const status = await rawStatus(server, head);
      assert.match(status, /^HTTP\/1\.1 401/, `${method}: ${status}`);
      const bearer = [...head, `Authorization: Bearer ${TOKEN}`];
      assert.match(await rawStatus(server, bearer), /^HTTP\/1\.1 404/, method);
    }
  });
});

Deno.test("a client that leaves mid-body is not logged as a server failure", async () => {
  await withServer(async ({ server, errors }) => {
    const heads = [
      ["Content-Length: 1000"],
      ["Transfer-Encoding: chunked"],
    ];
    for (const framing of heads) {
      const connection = await rawConnect(server, [
        "POST /tasks HTTP/1.1",
        `Host: 127.0.0.1:${server.url.port}`,
        `Authorization: Bearer ${TOKEN}`,
        ...framing,
      ]);
      await connection.write(
        encoder.encode(framing[0].startsWith("Content") ? '{"ser' : '5\r\n{"ser\r\n'),
      );
      connection.close();
    }
    // The server notices at once; give it a moment to have logged, if it logs.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal((await api(server, "/services")).status, 200, "still serving");
    assert.deepEqual(errors, []);
  });
});

Deno.test("silent connections waiting to authenticate are dropped, and free their places", async () => {
  const authTimeoutMs = 1_000;
  await withServer(async ({ server }) => {
    // Two peers that upgrade without a token and then say nothing, not even a pong.
    const silent = [
      await rawPeer(server, upgradeHead(server)),
      await rawPeer(server, upgradeHead(server)),
    ];
    assert.match(
      await rawStatus(server, upgradeHead(server)),
      /^HTTP\/1\.1 503/,
      "both places taken",
    );
    // The server really drops them (the TCP stream ends), they never answered a thing.
    for (const peer of silent) {
      const bytes = await within(authTimeoutMs * 3, "the silent peer's drop", peer.ended);
      assert.match(new TextDecoder().decode(bytes), /^HTTP\/1\.1 101/);
      peer.connection.close();
    }
    // Their places are free: a client that authenticates by message gets in.
    assert.deepEqual(await authenticateByMessage(server), { type: "auth", ok: true });
  }, { authTimeoutMs });
});

Deno.test("a peer that answers pings but never authenticates frees its place at the timeout", async () => {
  const authTimeoutMs = 1_000;
  await withServer(async ({ server }) => {
    const peers = [
      await rawPeer(server, upgradeHead(server), { pong: true }),
      await rawPeer(server, upgradeHead(server), { pong: true }),
    ];
    assert.match(await rawStatus(server, upgradeHead(server)), /^HTTP\/1\.1 503/);
    // It answers pings, so Deno keeps it; at the auth timeout the server sends a close frame
    // (1008) that the peer ignores. The connection may linger, the place may not.
    await new Promise((resolve) => setTimeout(resolve, authTimeoutMs + 200));
    for (const peer of peers) {
      const bytes = peer.received();
      const close = bytes.lastIndexOf(0x88);
      assert.ok(close > 0, "a close frame was sent");
      assert.equal((bytes[close + 2] << 8) | bytes[close + 3], 1008);
    }
    assert.deepEqual(await authenticateByMessage(server), { type: "auth", ok: true });
    for (const peer of peers) {
      peer.connection.close();
      await peer.ended;
    }
  }, { authTimeoutMs });
});

/** The close frame among a server's (unmasked) frames: its code and reason. */
function closeFrame(bytes: Uint8Array): { code: number; reason: string } | undefined {
  let at = new TextDecoder().decode(bytes.subarray(0, 4_096)).indexOf("\r\n\r\n") + 4;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  while (at + 2 <= bytes.length) {
    const opcode = bytes[at] & 0x0f;
    let length = bytes[at + 1] & 0x7f;
    at += 2;
    if (length === 126) [length, at] = [view.getUint16(at), at + 2];
    else if (length === 127) [length, at] = [Number(view.getBigUint64(at)), at + 8];
    if (opcode === 0x8) {
      const reason = new TextDecoder().decode(bytes.subarray(at + 2, at + length));
      return { code: view.getUint16(at), reason };
    }
    at += length;
  }
  return undefined;
}

Deno.test("subscribers that never read are closed (1013) once the server holds too much unsent", async () => {
  const total = 256 * 1024;
  await withServer(async ({ runtime, server }) => {
    const protocols = `Sec-WebSocket-Protocol: zest.v1, token.${TOKEN}`;
    const subscribe = clientFrame(JSON.stringify({ type: "subscribe", ref: 1 }));
    // Each subscribes right behind its upgrade, then reads nothing until the flood is over.
    const stalled: Deno.TcpConn[] = [];
    for (let i = 0; i < 4; i++) {
      const connection = await rawConnect(server, upgradeHead(server, [protocols]));
      await connection.write(subscribe);
      stalled.push(connection);
    }
    const client = runtime.client();
    await client.watching(); // (the runtime's events flow from here on)
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Events of ~16 KiB each (a task's summary carries its attributes): ~20 MiB per
    // subscriber, more than the kernel's socket buffers hold.
    const attributes = { notes: "x".repeat(15_000) };
    for (let i = 0; i < 400; i++) {
      await client.execute("lab", Echo.create({}), { attributes });
    }
    // A client that reads is still served meanwhile.
    assert.deepEqual(await authenticateByMessage(server), { type: "auth", ok: true });
    const reasons = [];
    for (const connection of stalled) {
      const peer = { chunks: [] as Uint8Array[] };
      const buffer = new Uint8Array(1 << 20);
      let found;
      while (!found) {
        const read = await within(10_000, "the close frame", connection.read(buffer));
        if (read === null) break;
        peer.chunks.push(buffer.slice(0, read));
        found = closeFrame(concat(peer.chunks));
      }
      connection.close();
      assert.ok(found, "closed by the server");
      assert.equal(found.code, 1013);
      reasons.push(found.reason);
    }
    // The server-wide bound acted, not only each connection's (1 MiB here).
    assert.ok(
      reasons.some((reason) => /the server holds too much unsent data/.test(reason)),
      reasons.join("; "),
    );
  }, { maxUnsentBytes: { perConnection: 1024 * 1024, total } });
});

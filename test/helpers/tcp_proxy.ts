/**
 * A TCP proxy on loopback that can lose a network connection the way a real
 * network does: `cut()` drops the client side of every open connection while
 * the far side stays open and whatever it sends is swallowed, and the proxy
 * then refuses new connections for a while. The server goes on writing into a
 * connection nobody reads; what it wrote is lost, not buffered for a replay.
 * New connections made meanwhile wait, as over a network that is down.
 *
 * @module
 */

/** A running proxy: `url`'s host and port lead to the target. */
export interface TcpProxy {
  /** The port clients connect to. */
  readonly port: number;
  /**
   * Drop the client side of every open connection, swallow what the target
   * sends on them from now on, and hold new connections (unanswered) for
   * `downMs` before they go through.
   */
  cut(downMs: number): void;
  /** Close the listener and every connection. */
  close(): Promise<void>;
}

/**
 * Start a proxy from a free loopback port to `targetPort` on 127.0.0.1.
 *
 * @example
 * ```ts
 * import { startTcpProxy } from "./tcp_proxy.ts";
 * const proxy = startTcpProxy(8888);
 * console.log(`http://127.0.0.1:${proxy.port}/`);
 * await proxy.close();
 * ```
 */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Pair>();
  let downUntil = 0;
  const served = (async () => {
    for await (const client of listener) {
      const pair = new Pair(client, targetPort, downUntil - performance.now());
      open.add(pair);
      pair.done.finally(() => open.delete(pair));
    }
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    cut(downMs) {
      downUntil = performance.now() + downMs;
      for (const pair of open) pair.cut();
    },
    async close() {
      listener.close();
      await served;
      for (const pair of open) pair.close();
      await Promise.all([...open].map((pair) => pair.done));
    },
  };
}

/** One client connection and its connection to the target. */
class Pair {
  readonly done: Promise<void>;
  #upstream: Deno.TcpConn | undefined;
  #swallow = false;

  /** Connect `client` to the target, after `waitMs` if that is above 0. */
  constructor(readonly client: Deno.TcpConn, targetPort: number, waitMs: number) {
    this.done = this.#run(targetPort, waitMs);
  }

  async #run(targetPort: number, waitMs: number): Promise<void> {
    try {
      if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
      const upstream = this.#upstream = await Deno.connect({
        hostname: "127.0.0.1",
        port: targetPort,
      });
      await Promise.all([
        this.#pump(this.client, upstream, () => false),
        this.#pump(upstream, this.client, () => this.#swallow),
      ]);
    } catch {
      // Either side went away: the other goes too (below).
    } finally {
      this.close();
    }
  }

  /** Copy `from` to `to` until `from` ends; what arrives while `swallowed()` is dropped. */
  async #pump(from: Deno.TcpConn, to: Deno.TcpConn, swallowed: () => boolean): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await from.read(buffer).catch(() => null);
      if (n === null) return;
      if (swallowed()) continue;
      let written = 0;
      while (written < n) {
        written += await to.write(buffer.subarray(written, n)).catch(() => n);
      }
    }
  }

  /** The client loses its connection; the target's side stays open, unread by anyone. */
  cut(): void {
    this.#swallow = true;
    closeQuietly(this.client);
  }

  close(): void {
    closeQuietly(this.client);
    if (this.#upstream) closeQuietly(this.#upstream);
  }
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

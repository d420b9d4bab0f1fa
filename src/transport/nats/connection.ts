/**
 * Connecting to NATS the way every Zest process and client does: the
 * options (servers, credentials, TLS) checked at the door, credentials from
 * the config or the environment (never the command line), reconnecting for
 * ever with a short ping interval, and the connection's state followed so
 * that submissions can be refused while it is down (nats.js drops what is
 * published while disconnected).
 *
 * @module
 */
import "./socket_guard.ts";
import "./write_batching.ts";
import { checkNatsOptions, type NatsOptions, serverList } from "./options.ts";
import {
  connect,
  credsAuthenticator,
  type NatsConnection,
  type Status,
} from "@nats-io/transport-node";

/** Between reconnect attempts (nats.js waits 2 s by default, also before the first retry). */
const RECONNECT_WAIT_MS = 250;
/** A ping this often, two unanswered: a half-open connection is noticed within ~30 s, not minutes. */
const PING_INTERVAL_MS = 10_000;
const MAX_PINGS_OUT = 2;

/** The host:port Deno's `--allow-net` must grant for `server`. */
function netHost(server: string): { hostname: string; port: number } {
  const url = new URL(server);
  return { hostname: url.hostname.replace(/^\[|\]$/g, ""), port: Number(url.port || 4222) };
}

/**
 * Connect (once: the first connection must succeed), then reconnect for
 * ever. Throws an error that names the server and the cause: no
 * `--allow-net` for it, refused, credentials refused, TLS.
 *
 * @example
 * ```ts ignore
 * import { connectNats } from "./connection.ts";
 * const nc = await connectNats({ servers: "nats://127.0.0.1:4222" }, "zest client");
 * await nc.close();
 * ```
 */
export async function connectNats(options: NatsOptions, name: string): Promise<NatsConnection> {
  checkNatsOptions(options);
  const servers = serverList(options);
  for (const server of servers) {
    const { hostname, port } = netHost(server);
    const permission = await Deno.permissions.query({ name: "net", host: `${hostname}:${port}` });
    if (permission.state !== "granted") {
      throw new Error(
        `no network permission for the NATS server ${hostname}:${port}: ` +
          `run Deno with --allow-net=${hostname}:${port} (besides what it has)`,
      );
    }
  }
  const tlsWanted = options.tls !== undefined || servers.some((s) => s.startsWith("tls:"));
  const tls = options.tls === true || options.tls === undefined ? {} : { ...options.tls };
  try {
    return await connect({
      servers,
      name,
      token: options.token,
      user: options.user,
      pass: options.password,
      authenticator: options.credsFile
        ? credsAuthenticator(await Deno.readFile(options.credsFile))
        : undefined,
      tls: tlsWanted ? tls : undefined,
      timeout: options.timeoutMs ?? 5_000,
      maxReconnectAttempts: -1,
      reconnectTimeWait: RECONNECT_WAIT_MS,
      pingInterval: PING_INTERVAL_MS,
      maxPingOut: MAX_PINGS_OUT,
    });
  } catch (error) {
    const cause = (error as Error)?.message ?? String(error);
    const why = /authorization|authentication/i.test(cause) ? "it refused the credentials" : cause;
    throw new Error(`could not connect to the NATS server ${servers.join(", ")}: ${why}`, {
      cause: error,
    });
  }
}

/**
 * Follows a connection's state: `connected` is false from a disconnect to
 * the next reconnect (what is published meanwhile is lost), and listeners
 * hear each reconnect.
 *
 * @example
 * ```ts ignore
 * import { ConnectionState, connectNats } from "./connection.ts";
 * const nc = await connectNats({ servers: "nats://127.0.0.1:4222" }, "zest");
 * const state = new ConnectionState(nc);
 * state.onReconnect(() => console.log("back"));
 * ```
 */
export class ConnectionState {
  #connected = true;
  #since = Date.now();
  readonly #listeners = new Set<() => void>();

  /** Follow `nc` until it closes. */
  constructor(readonly nc: NatsConnection) {
    this.#follow(nc.status());
  }

  async #follow(statuses: AsyncIterable<Status>): Promise<void> {
    for await (const status of statuses) {
      if (status.type === "disconnect") this.#connected = false;
      if (status.type === "reconnect") {
        this.#connected = true;
        this.#since = Date.now();
        for (const listener of this.#listeners) {
          try {
            listener();
          } catch (error) {
            console.error("[zest] a NATS reconnect listener failed:", error);
          }
        }
      }
    }
    this.#connected = false;
  }

  /** Whether the connection is up now. */
  get connected(): boolean {
    return this.#connected && !this.nc.isClosed();
  }

  /** When the connection last came up (ms since the Unix epoch). */
  get since(): number {
    return this.#since;
  }

  /** Call `listener` after every reconnect; returns a function that stops it. */
  onReconnect(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

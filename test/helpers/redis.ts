/**
 * A real `redis-server` for the BullMQ peer (and any test that needs one):
 * Debian's executable on 127.0.0.1 and a free port, no persistence (no RDB
 * snapshots, no AOF), its own temporary working folder, optionally with a
 * password. Stopped with SIGTERM, then SIGKILL after a grace.
 *
 * The settings go in a config file (mode 0600), so a password is never on
 * the command line.
 *
 * @module
 */
import { Daemon, DEFAULT_GRACE_MS, findExecutable, freePort, probe } from "./daemon.ts";

/**
 * Where Debian's `redis-server` is (`/usr/bin/redis-server`), else the first
 * on `PATH`; `explicit` if given.
 *
 * @throws {ExecutableNotFoundError} naming `apt-get install -y redis-server`
 * @example
 * ```ts
 * import { findRedisServer } from "./redis.ts";
 * await findRedisServer(); // "/usr/bin/redis-server"
 * ```
 */
export function findRedisServer(explicit?: string): Promise<string> {
  return findExecutable("redis-server", "redis-server", explicit);
}

/** How to run the server. */
export interface RedisServerOptions {
  /** Clients must `AUTH` with this password (`requirepass`). */
  password?: string;
  /** Path of `redis-server` (default: found as `findRedisServer` does). */
  executable?: string;
  /** How long to wait for it to answer (default 10 s). */
  startTimeoutMs?: number;
}

/** Tries at a fresh port when the one picked was taken before the server bound it. */
const PORT_ATTEMPTS = 3;

/**
 * A running `redis-server` on loopback, without persistence.
 *
 * @example
 * ```ts
 * import { Redis } from "ioredis";
 * import { RedisServer } from "./redis.ts";
 *
 * await using server = await RedisServer.start();
 * const redis = new Redis({ host: server.host, port: server.port });
 * await redis.ping(); // "PONG"
 * redis.disconnect();
 * ```
 */
export class RedisServer {
  /** Always `127.0.0.1`. */
  readonly host = "127.0.0.1";
  /** The port it listens on. */
  readonly port: number;
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly #root: string;
  readonly #daemon: Daemon;

  private constructor(port: number, root: string, daemon: Daemon) {
    this.port = port;
    this.url = `redis://127.0.0.1:${port}`;
    this.#root = root;
    this.#daemon = daemon;
  }

  /**
   * Start the server and wait until it answers `PING`.
   *
   * @throws {ExecutableNotFoundError} `redis-server` is not installed
   * @throws {Error} it exited or did not answer in time (the message has its output)
   * @example
   * ```ts
   * import { RedisServer } from "./redis.ts";
   * const server = await RedisServer.start({ password: "s3cret" });
   * await server.stop();
   * ```
   */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    const executable = await findRedisServer(options.executable);
    for (let attempt = 1;; attempt++) {
      const root = await Deno.makeTempDir({ prefix: "zest-redis-" });
      const port = freePort();
      const configFile = `${root}/redis.conf`;
      await Deno.writeTextFile(configFile, redisConfig({ port, root, ...options }), {
        mode: 0o600,
      });
      const daemon = Daemon.spawn(executable, [configFile], root);
      const server = new RedisServer(port, root, daemon);
      try {
        // Without AUTH a protected server answers `-NOAUTH`: that is an answer too.
        await daemon.waitUntil(
          async () => /^(\+PONG|-NOAUTH)/.test((await probe(port, "PING\r\n")) ?? ""),
          options.startTimeoutMs ?? 10_000,
        );
        return server;
      } catch (error) {
        await server.stop();
        const portTaken = /address already in use/i.test(String(error));
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  }

  /** The server's process id. */
  get pid(): number {
    return this.#daemon.pid;
  }

  /** The server's last lines of log, for a failing test's message. */
  output(): string {
    return this.#daemon.output();
  }

  /**
   * Stop the server: SIGTERM, SIGKILL after `graceMs`; its folder is
   * removed. Resolves once the process has exited.
   *
   * @example
   * ```ts
   * import { RedisServer } from "./redis.ts";
   * const server = await RedisServer.start();
   * await server.stop();
   * ```
   */
  async stop({ graceMs = DEFAULT_GRACE_MS }: { graceMs?: number } = {}): Promise<void> {
    await this.#daemon.stop({ graceMs });
    await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }

  /** `await using`: stop and remove the folder. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** redis.conf: quoted values take the escapes JSON gives them for `"` and `\`. */
function redisConfig(options: RedisServerOptions & { port: number; root: string }): string {
  const lines = [
    "bind 127.0.0.1",
    `port ${options.port}`,
    `dir ${JSON.stringify(options.root)}`,
    // No persistence: an empty `save` turns RDB snapshots off.
    'save ""',
    "appendonly no",
    "daemonize no",
    "loglevel warning",
    // Answer quickly after SIGTERM: no final snapshot to write.
    "shutdown-on-sigterm nosave",
  ];
  if (options.password !== undefined) lines.push(`requirepass ${JSON.stringify(options.password)}`);
  return lines.join("\n") + "\n";
}

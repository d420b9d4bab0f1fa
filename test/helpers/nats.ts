/**
 * A real `nats-server` with JetStream for tests and benches: Debian's
 * executable, on 127.0.0.1 and a free port, with its own store directory,
 * optionally with a token or a user and password, and a monitoring port.
 * It can be restarted on the same port with the same store (a "nats-server
 * restart" test) and is stopped with SIGTERM, then SIGKILL after a grace.
 *
 * The settings go in a config file (mode 0600) in the server's temporary
 * folder, so a token or password is never on the command line (`ps` shows
 * argv to every user). The file is the equivalent of
 * `nats-server -js -sd DIR -a 127.0.0.1 -p PORT [--auth T | --user U --pass P] [-m MPORT]`.
 *
 * @module
 */
import { Daemon, DEFAULT_GRACE_MS, findExecutable, freePort, probe } from "./daemon.ts";

/**
 * Where Debian's `nats-server` is (`/usr/sbin/nats-server`), else the first
 * on `PATH`; `explicit` if given.
 *
 * @throws {ExecutableNotFoundError} naming `apt-get install -y nats-server`
 * @example
 * ```ts
 * import { findNatsServer } from "./nats.ts";
 * await findNatsServer(); // "/usr/sbin/nats-server"
 * ```
 */
export function findNatsServer(explicit?: string): Promise<string> {
  return findExecutable("nats-server", "nats-server", explicit);
}

/** How to run the server. */
export interface NatsServerOptions {
  /** Clients must present this token (`{ token }` in the client's options). */
  token?: string;
  /** Clients must present this user and `password` (not together with `token`). */
  user?: string;
  /** The password of `user`. */
  password?: string;
  /** Also serve the monitoring endpoints (`/varz`, `/jsz`, `/healthz`) on a free loopback port. */
  monitoring?: boolean;
  /** The largest message the server accepts, in bytes (the server's default: 1 MiB). */
  maxPayload?: number;
  /** Path of `nats-server` (default: found as `findNatsServer` does). */
  executable?: string;
  /** How long to wait for it to answer (default 10 s). */
  startTimeoutMs?: number;
}

/** Tries at a fresh port when the one picked was taken before the server bound it. */
const PORT_ATTEMPTS = 3;

/**
 * A running `nats-server -js` on loopback.
 *
 * @example
 * ```ts
 * import { connect } from "@nats-io/transport-node";
 * import { NatsServer } from "./nats.ts";
 *
 * await using server = await NatsServer.start({ token: "s3cret" });
 * const nc = await connect({ servers: server.url, token: "s3cret" });
 * await server.restart(); // same port, same store; the client reconnects by itself
 * await nc.close();
 * ```
 */
export class NatsServer {
  /** The client port. */
  readonly port: number;
  /** `nats://127.0.0.1:PORT`, for `connect({ servers })`. */
  readonly url: string;
  /** The JetStream store directory (`-sd`): streams, consumers and KV buckets live here. */
  readonly storeDir: string;
  /** `http://127.0.0.1:MPORT` of the monitoring endpoints, when asked for. */
  readonly monitorUrl?: string;
  readonly #root: string;
  readonly #executable: string;
  readonly #args: string[];
  readonly #startTimeoutMs: number;
  #daemon: Daemon;
  #stopped = false;

  private constructor(
    fields: {
      port: number;
      monitorPort?: number;
      root: string;
      executable: string;
      args: string[];
      startTimeoutMs: number;
      daemon: Daemon;
    },
  ) {
    this.port = fields.port;
    this.url = `nats://127.0.0.1:${fields.port}`;
    this.monitorUrl = fields.monitorPort ? `http://127.0.0.1:${fields.monitorPort}` : undefined;
    this.#root = fields.root;
    this.storeDir = `${fields.root}/store`;
    this.#executable = fields.executable;
    this.#args = fields.args;
    this.#startTimeoutMs = fields.startTimeoutMs;
    this.#daemon = fields.daemon;
  }

  /**
   * Start the server and wait until it answers with JetStream on.
   *
   * @throws {ExecutableNotFoundError} `nats-server` is not installed
   * @throws {TypeError} `token` together with `user`, or `user` without `password`
   * @throws {Error} it exited or did not answer in time (the message has its output)
   * @example
   * ```ts
   * import { NatsServer } from "./nats.ts";
   * const server = await NatsServer.start({ monitoring: true });
   * console.log(server.url, server.monitorUrl);
   * await server.stop();
   * ```
   */
  static async start(options: NatsServerOptions = {}): Promise<NatsServer> {
    if (options.token !== undefined && options.user !== undefined) {
      throw new TypeError("NatsServer: give either token or user + password, not both");
    }
    if ((options.user === undefined) !== (options.password === undefined)) {
      throw new TypeError("NatsServer: user and password go together");
    }
    const executable = await findNatsServer(options.executable);
    const startTimeoutMs = options.startTimeoutMs ?? 10_000;
    for (let attempt = 1;; attempt++) {
      const root = await Deno.makeTempDir({ prefix: "zest-nats-" });
      const port = freePort();
      const monitorPort = options.monitoring ? freePort() : undefined;
      const configFile = `${root}/nats.conf`;
      await Deno.writeTextFile(configFile, natsConfig({ ...options, root, port, monitorPort }), {
        mode: 0o600,
      });
      const args = ["-c", configFile];
      const daemon = Daemon.spawn(executable, args, root);
      const server = new NatsServer({
        port,
        monitorPort,
        root,
        executable,
        args,
        startTimeoutMs,
        daemon,
      });
      try {
        await server.#waitUntilAnswering();
        return server;
      } catch (error) {
        await server.stop();
        const portTaken = /address already in use/i.test(String(error));
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  }

  /** The server's process id (a new one after `restart`). */
  get pid(): number {
    return this.#daemon.pid;
  }

  /** The server's last lines of log, for a failing test's message. */
  output(): string {
    return this.#daemon.output();
  }

  async #waitUntilAnswering(): Promise<void> {
    // The client port opens only after JetStream has started and restored
    // its streams, so an INFO that says `"jetstream":true` means ready.
    await this.#daemon.waitUntil(
      async () => /"jetstream":\s*true/.test((await probe(this.port)) ?? ""),
      this.#startTimeoutMs,
    );
  }

  /**
   * Stop the server (SIGTERM, or `signal`) and start it again on the same
   * port with the same store directory. `whileDown` runs in between, e.g. to
   * see a client notice the disconnect. It resolves when the server
   * answers; a client reconnects up to its `reconnectTimeWait` later, and
   * what it sends before its `reconnect` status is dropped (nats.js clears
   * its outbound buffer on reconnect), so wait for that status first.
   *
   * @throws {Error} it did not come back (the message has its output)
   * @example
   * ```ts
   * import { NatsServer } from "./nats.ts";
   * await using server = await NatsServer.start();
   * await server.restart({ signal: "SIGKILL" }); // a crash, then the same store again
   * ```
   */
  async restart(
    options: { signal?: Deno.Signal; whileDown?: () => Promise<void> } = {},
  ): Promise<void> {
    if (this.#stopped) throw new Error("NatsServer: restart after stop");
    await this.#daemon.stop({ signal: options.signal });
    await options.whileDown?.();
    this.#daemon = Daemon.spawn(this.#executable, this.#args, this.#root);
    await this.#waitUntilAnswering();
  }

  /**
   * Stop the server: SIGTERM (or `signal`), SIGKILL after `graceMs`. Its
   * temporary folder (config and store) is removed unless `keepStore`.
   * Resolves once the process has exited. Stopping twice does nothing more.
   *
   * @example
   * ```ts
   * import { NatsServer } from "./nats.ts";
   * const server = await NatsServer.start();
   * await server.stop({ keepStore: true });
   * console.log(`the streams are still in ${server.storeDir}`);
   * ```
   */
  async stop(
    { signal, graceMs = DEFAULT_GRACE_MS, keepStore = false }: {
      signal?: Deno.Signal;
      graceMs?: number;
      keepStore?: boolean;
    } = {},
  ): Promise<void> {
    this.#stopped = true;
    await this.#daemon.stop({ signal, graceMs });
    if (!keepStore) await Deno.remove(this.#root, { recursive: true }).catch(() => {});
  }

  /** `await using`: stop and remove the folder. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

/** The config file: nats-server's format takes JSON strings and numbers as they are. */
function natsConfig(
  options: NatsServerOptions & { root: string; port: number; monitorPort?: number },
): string {
  const lines = [
    `listen: ${JSON.stringify(`127.0.0.1:${options.port}`)}`,
    `jetstream: { store_dir: ${JSON.stringify(`${options.root}/store`)} }`,
  ];
  if (options.monitorPort) {
    lines.push(`http: ${JSON.stringify(`127.0.0.1:${options.monitorPort}`)}`);
  }
  if (options.maxPayload !== undefined) lines.push(`max_payload: ${options.maxPayload}`);
  if (options.token !== undefined) {
    lines.push(`authorization: { token: ${JSON.stringify(options.token)} }`);
  } else if (options.user !== undefined) {
    lines.push(
      `authorization: { user: ${JSON.stringify(options.user)}, password: ${
        JSON.stringify(options.password)
      } }`,
    );
  }
  return lines.join("\n") + "\n";
}

/**
 * What the server harnesses (`nats.ts`, `redis.ts`) share: finding a Debian
 * executable, picking a free loopback port, running a server process whose
 * output is kept for error messages, probing its port until it answers, and
 * stopping it (SIGTERM, then SIGKILL after a grace).
 *
 * Nothing here imports an npm package, so `test/setup.ts` can use the lookup
 * before anything is installed.
 *
 * @module
 */

/**
 * A server executable that is not installed; the message names the apt-get
 * command that installs it.
 *
 * @example
 * ```ts
 * import { ExecutableNotFoundError, findExecutable } from "./daemon.ts";
 * try {
 *   await findExecutable("nats-server", "nats-server");
 * } catch (error) {
 *   if (error instanceof ExecutableNotFoundError) console.error(error.message);
 * }
 * ```
 */
export class ExecutableNotFoundError extends Error {
  /** The paths that were tried. */
  readonly candidates: string[];

  constructor(name: string, debianPackage: string, candidates: string[]) {
    super(
      `${name} not found (looked at ${candidates.join(", ")}); ` +
        `install it: apt-get install -y ${debianPackage}`,
    );
    this.name = "ExecutableNotFoundError";
    this.candidates = candidates;
  }
}

/**
 * Where `name` is: `explicit` if given, else Debian's `/usr/sbin` and
 * `/usr/bin` (a user's `PATH` often lacks `/usr/sbin`, where Debian puts
 * `nats-server`), then every absolute directory on `PATH`.
 *
 * @throws {ExecutableNotFoundError} naming `apt-get install -y <debianPackage>`
 * @example
 * ```ts
 * import { findExecutable } from "./daemon.ts";
 * await findExecutable("redis-server", "redis-server"); // "/usr/bin/redis-server"
 * ```
 */
export async function findExecutable(
  name: string,
  debianPackage: string,
  explicit?: string,
): Promise<string> {
  const path = (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir.startsWith("/"));
  const candidates = explicit
    ? [explicit]
    : [...new Set(["/usr/sbin", "/usr/bin", ...path])].map((dir) => `${dir}/${name}`);
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return candidate;
    } catch {
      // Not there; try the next.
    }
  }
  throw new ExecutableNotFoundError(name, debianPackage, candidates);
}

/**
 * A loopback port nobody listens on now: the OS picks it for a listener that
 * is closed at once. Another process may take it before the server binds it,
 * so a harness that sees "address in use" retries with a new one.
 *
 * @example
 * ```ts
 * import { freePort } from "./daemon.ts";
 * const port = freePort();
 * ```
 */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Connect to `127.0.0.1:port`, send `greeting` if given, and return the
 * first text the server sends back; `undefined` when nothing listens there
 * yet or the connection ends without a word.
 *
 * @example
 * ```ts
 * import { probe } from "./daemon.ts";
 * const reply = await probe(6379, "PING\r\n"); // "+PONG\r\n" from a Redis server
 * ```
 */
export async function probe(port: number, greeting?: string): Promise<string | undefined> {
  let connection: Deno.TcpConn;
  try {
    connection = await Deno.connect({ hostname: "127.0.0.1", port });
  } catch {
    return undefined;
  }
  try {
    if (greeting) await connection.write(new TextEncoder().encode(greeting));
    const buffer = new Uint8Array(4096);
    const read = await connection.read(buffer);
    return read === null ? undefined : new TextDecoder().decode(buffer.subarray(0, read));
  } catch {
    return undefined;
  } finally {
    connection.close();
  }
}

/** Lines of output kept per server, for error messages. */
const OUTPUT_LINES = 200;

/** How long a server gets to exit after SIGTERM before SIGKILL. */
export const DEFAULT_GRACE_MS = 5_000;

/**
 * A running server process. Its stdout and stderr are read all the time (a
 * full pipe would block it), and their last lines are kept.
 *
 * @example
 * ```ts
 * import { Daemon } from "./daemon.ts";
 * const daemon = Daemon.spawn("/usr/bin/redis-server", ["--port", "0"]);
 * await daemon.stop();
 * ```
 */
export class Daemon {
  readonly #child: Deno.ChildProcess;
  readonly #lines: string[] = [];
  readonly #drained: Promise<unknown>;
  /** Settles when the process has exited (and been reaped). */
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(child: Deno.ChildProcess) {
    this.#child = child;
    this.status = child.status;
    this.#drained = Promise.all([this.#keep(child.stdout), this.#keep(child.stderr)]);
  }

  /**
   * Start `executable` with `args`, with no standard input.
   *
   * @example
   * ```ts
   * import { Daemon } from "./daemon.ts";
   * const daemon = Daemon.spawn("/usr/sbin/nats-server", ["-a", "127.0.0.1", "-p", "4333"]);
   * ```
   */
  static spawn(executable: string, args: string[], cwd?: string): Daemon {
    const child = new Deno.Command(executable, {
      args,
      cwd,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new Daemon(child);
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The last lines it printed (stdout and stderr interleaved as they came). */
  output(): string {
    return this.#lines.join("\n");
  }

  async #keep(stream: ReadableStream<Uint8Array>): Promise<void> {
    let partial = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      const parts = (partial + chunk).split("\n");
      partial = parts.pop() ?? "";
      this.#lines.push(...parts);
      if (this.#lines.length > OUTPUT_LINES) {
        this.#lines.splice(0, this.#lines.length - OUTPUT_LINES);
      }
    }
    if (partial) this.#lines.push(partial);
  }

  /**
   * Poll `answers` (every 25 ms) until it returns true. Rejects, with the
   * server's output, when the process exits first or `timeoutMs` passes.
   *
   * @example
   * ```ts
   * import { Daemon, probe } from "./daemon.ts";
   * const daemon = Daemon.spawn("/usr/bin/redis-server", ["--port", "6390"]);
   * await daemon.waitUntil(async () => (await probe(6390, "PING\r\n"))?.startsWith("+PONG") ?? false, 10_000);
   * ```
   */
  async waitUntil(answers: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = AbortSignal.timeout(timeoutMs);
    let exited = false;
    this.status.then(() => exited = true);
    while (!(await answers())) {
      if (exited) {
        await this.#drained;
        throw new Error(`the server exited before it answered:\n${this.output()}`);
      }
      if (deadline.aborted) {
        throw new Error(`the server did not answer within ${timeoutMs} ms:\n${this.output()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /**
   * Send `signal` (SIGTERM by default); after `graceMs` without an exit, send
   * SIGKILL. Resolves once the process has exited and its output is read.
   *
   * @example
   * ```ts
   * import { Daemon } from "./daemon.ts";
   * const daemon = Daemon.spawn("/usr/bin/redis-server", ["--port", "6391"]);
   * await daemon.stop({ signal: "SIGKILL" }); // a crash
   * ```
   */
  async stop(
    { signal = "SIGTERM", graceMs = DEFAULT_GRACE_MS }: {
      signal?: Deno.Signal;
      graceMs?: number;
    } = {},
  ): Promise<Deno.CommandStatus> {
    const send = (sig: Deno.Signal) => {
      try {
        this.#child.kill(sig);
      } catch {
        // Already exited.
      }
    };
    send(signal);
    const timer = setTimeout(() => send("SIGKILL"), graceMs);
    try {
      return await this.status;
    } finally {
      clearTimeout(timer);
      await this.#drained;
    }
  }
}

/**
 * Processes of a cluster for tests and benches: each a real `deno task start
 * --config FILE --nats URL` (the exact flags of deno.json's `start` task, so
 * the tests also prove those permissions are enough), started and waited for
 * until it serves, and stopped with SIGTERM or killed with SIGKILL.
 *
 * @module
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Client } from "../../src/mod.ts";
import { REPO_ROOT, taskArgs, TEST_TOKEN } from "./server.ts";

/** A running cluster process. */
export interface Replica {
  /** The runtime's process id (`deno run`, started directly: no `deno task` in between). */
  readonly pid: number;
  readonly child: Deno.ChildProcess;
  /** Where it serves HTTP and WebSocket, if it is a gateway. */
  readonly url?: URL;
  readonly wsUrl?: URL;
  /** Every line printed so far. */
  readonly stdout: string[];
  readonly stderr: string[];
  /** SIGTERM (or `signal`) and wait: the exit code. */
  stop(signal?: Deno.Signal): Promise<number>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

/** Options of `startReplica`. */
export interface ReplicaOptions {
  /** Config path relative to the repo root. */
  config: string;
  /** The NATS server's URL (`--nats`). */
  nats: string;
  /** Serve HTTP and WebSocket on a free port too (a gateway). */
  gateway?: boolean;
  /** More environment (ZEST_NATS_TOKEN, …). */
  env?: Record<string, string>;
  /** More arguments. */
  args?: string[];
  /** How long to wait for it to serve (default 60 s). */
  timeoutMs?: number;
}

/** Lines of a stream, as they arrive. */
async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  let buffer = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    buffer += chunk;
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) yield buffer;
}

/**
 * Start a cluster process and wait until it says it serves.
 *
 * @example
 * ```ts ignore
 * import { startReplica } from "./cluster.ts";
 * const replica = await startReplica({ config: "test/fixtures/cluster.config.ts", nats: server.url });
 * await replica.stop();
 * ```
 */
export async function startReplica(options: ReplicaOptions): Promise<Replica> {
  const args = [
    ...await taskArgs("start"),
    "--config",
    options.config,
    "--nats",
    options.nats,
    ...(options.gateway ? ["--port", "0"] : []),
    ...options.args ?? [],
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: TEST_TOKEN, ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout: string[] = [];
  const stderr: string[] = [];
  const ready = Promise.withResolvers<URL | undefined>();
  (async () => {
    let url: URL | undefined;
    for await (const line of lines(child.stdout)) {
      stdout.push(line);
      const match = line.match(/^zest: listening on (\S+)/);
      if (match) url = new URL(match[1]);
      if (line.startsWith("zest: press Ctrl-C")) ready.resolve(url);
    }
    ready.reject(new Error(`replica exited before serving:\n${[...stdout, ...stderr].join("\n")}`));
  })();
  (async () => {
    for await (const line of lines(child.stderr)) stderr.push(line);
  })();
  const timer = setTimeout(
    () => ready.reject(new Error(`replica did not serve in time:\n${stderr.join("\n")}`)),
    options.timeoutMs ?? 60_000,
  );
  let url: URL | undefined;
  try {
    url = await ready.promise;
  } catch (error) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await child.status;
    throw error;
  } finally {
    clearTimeout(timer);
  }
  const wsUrl = url && new URL(url.href.replace(/^http/, "ws"));
  const send = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
  };
  return {
    pid: child.pid,
    child,
    url,
    wsUrl,
    stdout,
    stderr,
    async stop(signal = "SIGTERM") {
      send(signal);
      const timer = setTimeout(() => send("SIGKILL"), 30_000);
      try {
        return (await child.status).code;
      } finally {
        clearTimeout(timer);
      }
    },
    async kill() {
      send("SIGKILL");
      await child.status;
    },
  };
}

/**
 * Stop every replica of `list` (SIGTERM, waiting); one that does not stop is killed.
 *
 * @example
 * ```ts
 * import { type Replica, stopAll } from "./cluster.ts";
 * const done = (replicas: Replica[]) => stopAll(replicas);
 * ```
 */
export async function stopAll(list: Replica[]): Promise<void> {
  await Promise.all(list.map((replica) => replica.stop().catch(() => replica.kill())));
}

/** What `replicaWithClients` starts; disposing it closes the connections, then stops the replica. */
export interface ReplicaWithClients extends AsyncDisposable {
  readonly replica: Replica;
  /** A Zest client of the cluster, straight on NATS. */
  readonly client: Client;
  /** A plain NATS connection, to publish or look at what Zest does. */
  readonly nc: NatsConnection;
}

/**
 * A replica of `test/fixtures/cluster.config.ts` on the NATS server at
 * `nats`, with a Zest client and a plain NATS connection.
 *
 * @example
 * ```ts ignore
 * import { replicaWithClients } from "./cluster.ts";
 * await using cluster = await replicaWithClients(server.url);
 * await cluster.client.services();
 * ```
 */
export async function replicaWithClients(nats: string): Promise<ReplicaWithClients> {
  const replica = await startReplica({ config: "test/fixtures/cluster.config.ts", nats });
  const client = await Client.connect(nats);
  const nc = await connect({ servers: nats });
  return {
    replica,
    client,
    nc,
    async [Symbol.asyncDispose]() {
      await nc.close();
      await client.close();
      await replica.stop();
    },
  };
}

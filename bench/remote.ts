/**
 * Remote `execute` round trips per second — over the WebSocket (one at a
 * time, and 100 in flight) and over HTTP (`POST /tasks` then
 * `GET /tasks/:id/outcome?wait=…`) — beside the in-process figure from the
 * same run. The server runs in a child process (this file with `--serve`),
 * so client and server do not share an event loop, as in real use.
 *
 * Run alone: `deno run -A bench/remote.ts [--rounds N] [--warmup N] [--quick]`
 *
 * @example
 * ```ts
 * import { benchRemote } from "./remote.ts";
 * const rows = await benchRemote({ rounds: 3 });
 * ```
 *
 * @module
 */
import { Client, Runtime } from "../src/mod.ts";
import { randomToken } from "../src/util/random.ts";
import { serve } from "../src/api/server.ts";
import { GreetingService } from "../examples/greeting.ts";
import {
  type BenchOptions,
  formatRate,
  perSecond,
  repeat,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";

/**
 * The task every remote bench runs: a greeting on the bench server's
 * `greeter` service.
 *
 * @example
 * ```ts
 * import { GREETING_TASK } from "./remote.ts";
 * const payload = { service: "greeter", ...GREETING_TASK };
 * ```
 */
export const GREETING_TASK = { type: "Greeting", fields: { name: "Ada" } };

/**
 * Round trips per second of `once`, with `inFlight` callers each running it
 * back to back for about `ms` milliseconds (1: sequential).
 *
 * @example
 * ```ts
 * import { throughput } from "./remote.ts";
 * const rate = await throughput(() => Promise.resolve(), 1, 100);
 * ```
 */
export async function throughput(
  once: () => Promise<unknown>,
  inFlight: number,
  ms: number,
): Promise<number> {
  let done = 0;
  const start = performance.now();
  const deadline = start + ms;
  await Promise.all(Array.from({ length: inFlight }, async () => {
    while (performance.now() < deadline) {
      await once();
      done++;
    }
  }));
  return perSecond(done, performance.now() - start);
}

/**
 * `POST /tasks`, then the outcome with a long poll, with `fetch`: one HTTP
 * round trip of {@link GREETING_TASK}.
 *
 * @example
 * ```ts
 * import { httpExecute, startBenchServer } from "./remote.ts";
 * const server = await startBenchServer("a-token");
 * await httpExecute(server.url, "a-token")();
 * await server.stop();
 * ```
 */
export function httpExecute(base: URL, token: string): () => Promise<unknown> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const body = JSON.stringify({ service: "greeter", ...GREETING_TASK });
  return async () => {
    const submitted = await fetch(new URL("/tasks", base), { method: "POST", headers, body });
    const { taskId } = await submitted.json();
    const outcome = await fetch(new URL(`/tasks/${taskId}/outcome?wait=30s`, base), { headers });
    if (outcome.status !== 200) throw new Error(`outcome: HTTP ${outcome.status}`);
    return await outcome.json();
  };
}

/**
 * Start this file as the bench server (`bench/remote.ts --serve`: the
 * greeting service behind `serve`, in a child process) and read its URL.
 *
 * @example
 * ```ts
 * import { startBenchServer } from "./remote.ts";
 * const server = await startBenchServer("a-token");
 * console.log(server.url.href);
 * await server.stop();
 * ```
 */
export async function startBenchServer(
  token: string,
): Promise<{ url: URL; stop(): Promise<void> }> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--serve"],
    env: { ZEST_TOKEN: token },
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the bench server exited before listening");
    text += value;
  }
  await reader.cancel();
  const url = new URL(text.trim());
  return {
    url,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

/**
 * The remote group: WebSocket sequential and 100 in flight, HTTP sequential
 * and 100 in flight; each beside in-process `execute` with the same load.
 */
export async function benchRemote(options: BenchOptions = {}): Promise<Row[]> {
  const { quick } = resolveOptions(options);
  const ms = quick ? 300 : 1_000;
  const token = randomToken();
  const server = await startBenchServer(token);
  const runtime = await Runtime.start({ services: [new GreetingService("greeter")] });
  const local = runtime.client();
  const remote = await Client.connect(server.url, { token });
  try {
    const inProcess = (n: number) => () =>
      throughput(() => local.execute("greeter", GREETING_TASK), n, ms);
    const overSocket = (n: number) => () =>
      throughput(() => remote.execute("greeter", GREETING_TASK), n, ms);
    const overHttp = (n: number) => () => throughput(httpExecute(server.url, token), n, ms);
    const rows: Row[] = [];
    for (
      const [label, n] of [["sequential", 1], ["100 in flight", 100]] as const
    ) {
      const local = await repeat(`in-process execute, ${label}`, options, inProcess(n));
      const ws = await repeat(`WebSocket execute, ${label}`, options, overSocket(n));
      const http = await repeat(`HTTP execute, ${label}`, options, overHttp(n));
      const peer = `in-process ${formatRate(local)}`;
      rows.push(
        { name: `remote execute, WebSocket, ${label}`, zest: formatRate(ws), peer },
        { name: `remote execute, HTTP POST+GET, ${label}`, zest: formatRate(http), peer },
      );
    }
    return rows;
  } finally {
    await remote.close();
    await runtime.stop();
    await server.stop();
  }
}

/** Server mode: the greeting service behind `serve`, until SIGTERM. */
async function serveForBench(): Promise<void> {
  const runtime = await Runtime.start({ services: [new GreetingService("greeter")] });
  const server = serve(runtime, { token: Deno.env.get("ZEST_TOKEN")!, port: 0 });
  console.log(server.url.href);
  await new Promise<void>((resolve) => Deno.addSignalListener("SIGTERM", resolve));
  await runtime.stop();
  await server.shutdown();
  Deno.exit(0);
}

if (import.meta.main) {
  if (Deno.args.includes("--serve")) await serveForBench();
  else await runStandalone(benchRemote);
}

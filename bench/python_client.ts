/**
 * Sequential `execute` round trips per second from Python over HTTP —
 * `zest_client.Client` and `AsyncClient` (`clients/python`) — beside raw HTTP
 * from Python (`urllib`, as a script would write it by hand), the TypeScript
 * remote client (WebSocket) and TypeScript `fetch` (POST + long-poll GET),
 * all against one server process (`bench/remote.ts --serve`). The Python side
 * is `bench/python_client.py`, one process for the whole run, driven round by
 * round so that every contender takes its turn in each round.
 *
 * Run alone: `deno run -A bench/python_client.ts [--rounds N] [--warmup N] [--quick]`
 *
 * @example
 * ```ts
 * import { benchPythonClient } from "./python_client.ts";
 * const rows = await benchPythonClient({ rounds: 3 });
 * ```
 *
 * @module
 */
import { Client } from "../src/mod.ts";
import { randomToken } from "../src/util/random.ts";
import {
  type BenchOptions,
  compare,
  formatRate,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";
import { GREETING_TASK, httpExecute, startBenchServer, throughput } from "./remote.ts";

const PYTHON = "/usr/bin/python3";

/** `bench/python_client.py`, answering one round per command. */
function startPython(url: URL, token: string) {
  const child = new Deno.Command(PYTHON, {
    args: [new URL("./python_client.py", import.meta.url).pathname],
    env: { ZEST_URL: url.href, ZEST_TOKEN: token, PYTHONDONTWRITEBYTECODE: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const writer = child.stdin.getWriter();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const encoder = new TextEncoder();
  return {
    /** Round trips per second of Python contender `name`, run for `ms`. */
    async round(name: string, ms: number): Promise<number> {
      await writer.write(encoder.encode(JSON.stringify({ contender: name, ms }) + "\n"));
      while (!buffer.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`bench/python_client.py exited during '${name}'`);
        buffer += value;
      }
      const newline = buffer.indexOf("\n");
      const reply = JSON.parse(buffer.slice(0, newline));
      buffer = buffer.slice(newline + 1);
      return reply.rate;
    },
    async stop() {
      await writer.close();
      await lines.cancel();
      await child.status;
    },
  };
}

/**
 * The Python client group: `Client` and `AsyncClient` sequential `execute`
 * over HTTP, each beside raw `urllib`, the TypeScript remote client and
 * TypeScript `fetch`, measured in the same rounds.
 *
 * @example
 * ```ts
 * import { benchPythonClient } from "./python_client.ts";
 * import { printTable } from "./common.ts";
 * printTable(await benchPythonClient({ quick: true }));
 * ```
 */
export async function benchPythonClient(options: BenchOptions = {}): Promise<Row[]> {
  const { quick } = resolveOptions(options);
  const ms = quick ? 300 : 1_000;
  const token = randomToken();
  const server = await startBenchServer(token);
  const python = startPython(server.url, token);
  const remote = await Client.connect(server.url, { token });
  try {
    const rates = await compare("sequential execute", options, {
      pythonClient: { run: () => python.round("client", ms) },
      pythonAsync: { run: () => python.round("async", ms) },
      pythonUrllib: { run: () => python.round("urllib", ms) },
      tsWebSocket: { run: () => throughput(() => remote.execute("greeter", GREETING_TASK), 1, ms) },
      tsFetch: { run: () => throughput(httpExecute(server.url, token), 1, ms) },
    });
    const peer = `raw urllib ${formatRate(rates.pythonUrllib)} · TS remote client (WebSocket) ${
      formatRate(rates.tsWebSocket)
    } · TS fetch ${formatRate(rates.tsFetch)}`;
    return [
      {
        name: "Python Client.execute over HTTP, sequential",
        zest: formatRate(rates.pythonClient),
        peer,
      },
      {
        name: "Python AsyncClient.execute over HTTP, sequential",
        zest: formatRate(rates.pythonAsync),
        peer,
      },
    ];
  } finally {
    await remote.close();
    await python.stop();
    await server.stop();
  }
}

if (import.meta.main) await runStandalone(benchPythonClient);

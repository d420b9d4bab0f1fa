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
  perSecond,
  resolveOptions,
  type Row,
  runStandalone,
} from "./common.ts";

const PYTHON = "/usr/bin/python3";
const TASK = { type: "Greeting", fields: { name: "Ada" } };

/** Start the remote bench's server (`bench/remote.ts --serve`) and read its URL. */
async function startServerProcess(token: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./remote.ts", import.meta.url).pathname, "--serve"],
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
  return {
    url: new URL(text.trim()),
    async stop() {
      child.kill("SIGTERM");
      await child.status;
    },
  };
}

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

/** Sequential round trips per second of `once` for about `ms`. */
async function sequential(once: () => Promise<unknown>, ms: number): Promise<number> {
  let done = 0;
  const start = performance.now();
  while (performance.now() - start < ms) {
    await once();
    done++;
  }
  return perSecond(done, performance.now() - start);
}

/** `POST /tasks`, then the outcome with a long poll, with `fetch`. */
function fetchExecute(base: URL, token: string): () => Promise<unknown> {
  const headers = { authorization: `Bearer ${token}`, "content-type": "application/json" };
  const body = JSON.stringify({ service: "greeter", ...TASK });
  return async () => {
    const submitted = await fetch(new URL("/tasks", base), { method: "POST", headers, body });
    const { taskId } = await submitted.json();
    const outcome = await fetch(new URL(`/tasks/${taskId}/outcome?wait=30s`, base), { headers });
    if (outcome.status !== 200) throw new Error(`outcome: HTTP ${outcome.status}`);
    return await outcome.json();
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
  const server = await startServerProcess(token);
  const python = startPython(server.url, token);
  const remote = await Client.connect(server.url, { token });
  try {
    const rates = await compare("sequential execute", options, {
      pythonClient: { run: () => python.round("client", ms) },
      pythonAsync: { run: () => python.round("async", ms) },
      pythonUrllib: { run: () => python.round("urllib", ms) },
      tsWebSocket: { run: () => sequential(() => remote.execute("greeter", TASK), ms) },
      tsFetch: { run: () => sequential(fetchExecute(server.url, token), ms) },
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

/**
 * Kernel figures: round trip of an IPython task whose code is `1+1` through
 * `client.execute`, beside jupyter_client over ZMQ doing the same in the same
 * run (bench/kernel_direct.py); the same `1+1` through the kernel layer alone
 * (`kernel.execute`, no runtime); kernel start, restart, restart after death,
 * and the time from `Runtime.start()` to the first result.
 *
 * Run alone: `deno run -A bench/kernel.ts`
 */
import { z } from "zod";
import { defineIPythonTask, IPythonService, Runtime } from "../src/mod.ts";
import { JupyterServer } from "../src/kernel/server.ts";

/** One line of the bench table. */
export interface Row {
  name: string;
  zest: string;
  peer: string;
  target?: string;
}

const OnePlusOne = defineIPythonTask("BenchOnePlusOne", {
  schema: z.object({}),
  code: () => "1+1",
});
const Die = defineIPythonTask("BenchDie", {
  schema: z.object({}),
  code: () => "import os\nos._exit(1)",
});

interface DirectFigures {
  roundtrip_ms_median: number;
  roundtrip_ms_p90: number;
  start_ms: number;
  restart_ms: number;
}

/** Run a Python peer script of this folder; its last stdout line is JSON. */
async function python<T>(script: string, args: string[]): Promise<T> {
  const output = await new Deno.Command("/usr/bin/python3", {
    args: [new URL(script, import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(`${script} failed: ${new TextDecoder().decode(output.stderr)}`);
  }
  const lines = new TextDecoder().decode(output.stdout).trim().split("\n");
  return JSON.parse(lines[lines.length - 1]);
}

/** jupyter_client over ZMQ, straight to its own kernel. */
const direct = (n: number) => python<DirectFigures>("./kernel_direct.py", ["--n", String(n)]);

/** A Python websocket client through the same Jupyter Server and kernel as Zest. */
const throughServer = (server: { url: string; token: string }, kernelId: string, n: number) =>
  python<{ roundtrip_ms_median: number }>("./kernel_server_ws.py", [
    server.url,
    server.token,
    kernelId,
    String(n),
  ]);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

/**
 * Measure, and return table rows.
 *
 * @example
 * ```ts
 * import { benchKernel } from "./kernel.ts";
 * for (const row of await benchKernel()) console.log(row.name, row.zest, row.peer);
 * ```
 */
export async function benchKernel(n = 300, rounds = 3): Promise<Row[]> {
  const startedAt = performance.now();
  const service = new IPythonService("bench", { kernel: "python3" });
  const runtime = await Runtime.start({ services: [service] });
  const client = runtime.client();
  await client.execute("bench", OnePlusOne.create({}));
  const firstResult = performance.now() - startedAt;
  const times: number[] = [];
  const peers: DirectFigures[] = [];
  const serverHops: number[] = [];
  let restartAfterDeath: number;
  try {
    for (let i = 0; i < 20; i++) await client.execute("bench", OnePlusOne.create({})); // warm-up
    // Zest and its peer take turns, so a noisy spell hits both alike.
    for (let round = 0; round < rounds; round++) {
      peers.push(await direct(Math.ceil(n / rounds)));
      const server = runtime.jupyterServer as JupyterServer;
      const hop = await throughServer(server, service.kernel?.id ?? "", Math.ceil(n / rounds));
      serverHops.push(hop.roundtrip_ms_median);
      for (let i = 0; i < n / rounds; i++) {
        const t0 = performance.now();
        await client.execute("bench", OnePlusOne.create({}));
        times.push(performance.now() - t0);
      }
    }
    await client.execute("bench", Die.create({})).catch(() => {});
    const t0 = performance.now();
    await client.execute("bench", OnePlusOne.create({}));
    restartAfterDeath = performance.now() - t0;
  } finally {
    await runtime.stop();
  }
  const middle = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const peer: DirectFigures = {
    roundtrip_ms_median: middle(peers.map((p) => p.roundtrip_ms_median)),
    roundtrip_ms_p90: middle(peers.map((p) => p.roundtrip_ms_p90)),
    start_ms: middle(peers.map((p) => p.start_ms)),
    restart_ms: middle(peers.map((p) => p.restart_ms)),
  };
  times.sort((a, b) => a - b);

  // The kernel layer alone, on a server that is already up: kernel start,
  // `1+1` round trips without the runtime's hops, restart.
  const server = await JupyterServer.launch();
  let kernelStart: number;
  let restart: number;
  const layerTimes: number[] = [];
  try {
    const t0 = performance.now();
    const kernel = await server.startKernel({ name: "python3" });
    kernelStart = performance.now() - t0;
    for (let i = 0; i < 20; i++) await kernel.execute("1+1"); // warm-up
    for (let i = 0; i < n / rounds; i++) {
      const begin = performance.now();
      await kernel.execute("1+1");
      layerTimes.push(performance.now() - begin);
    }
    const t1 = performance.now();
    await kernel.restart();
    restart = performance.now() - t1;
  } finally {
    await server.stop();
  }

  const median = quantile(times, 0.5);
  layerTimes.sort((a, b) => a - b);
  return [
    {
      name: "IPython task `1+1` round trip (median)",
      zest: ms(median),
      peer: `${ms(peer.roundtrip_ms_median)} jupyter_client/ZMQ · ${
        ms(middle(serverHops))
      } Python through the same jupyter-server`,
      target: `≤ 1.2× direct (${(median / peer.roundtrip_ms_median).toFixed(2)}×)`,
    },
    {
      name: "IPython task `1+1` round trip (p90)",
      zest: ms(quantile(times, 0.9)),
      peer: `${ms(peer.roundtrip_ms_p90)} jupyter_client/ZMQ`,
    },
    {
      name: '`kernel.execute("1+1")`, kernel layer alone (median / p90)',
      zest: `${ms(quantile(layerTimes, 0.5))} / ${ms(quantile(layerTimes, 0.9))}`,
      peer: "— (the task rows add the runtime's hops)",
    },
    { name: "kernel start", zest: ms(kernelStart), peer: `${ms(peer.start_ms)} jupyter_client` },
    { name: "kernel restart", zest: ms(restart), peer: `${ms(peer.restart_ms)} jupyter_client` },
    {
      name: "restart after death, to next result",
      zest: ms(restartAfterDeath),
      peer: "—",
    },
    { name: "Runtime.start() to first result", zest: ms(firstResult), peer: "—" },
  ];
}

if (import.meta.main) {
  console.table(await benchKernel());
}

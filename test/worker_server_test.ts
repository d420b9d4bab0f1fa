/**
 * The real `deno task start` with worker handlers: its permissions are
 * enough to start pool workers and to kill a stuck worker's whole process
 * group; a stuck in-process handler shows in `GET /services` and `zest
 * services`, and `POST /services/:name/release` and `zest release` free it.
 */
import assert from "node:assert/strict";
import { Client } from "../src/mod.ts";
import { isRunning, relatedProcesses } from "../src/kernel/processes.ts";
import { REPO_ROOT, taskArgs } from "./helpers/server.ts";
import { cpuTicks } from "./helpers/cpu.ts";
import { until } from "./helpers/poll.ts";

const CONFIG = "test/fixtures/workers/zest.config.ts";
const TOKEN = "worker-server-test-token-0123456789";

/** `deno task start` itself (not its command line), on a free port, once it listens. */
async function startTask() {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "start", "--config", CONFIG, "--port", "0", "--store", "memory"],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: TOKEN, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr: string[] = [];
  const stderrDone = (async () => {
    for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
      stderr.push(chunk);
    }
  })();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stdout = "";
  let url: URL | undefined;
  while (!url) {
    const { value, done } = await reader.read();
    if (done) {
      await stderrDone;
      throw new Error(`deno task start ended before listening:\n${stdout}\n${stderr.join("")}`);
    }
    stdout += value;
    const match = stdout.match(/zest: listening on (\S+)/);
    if (match && stdout.includes("zest: press Ctrl-C")) url = new URL(match[1]);
  }
  const drained = (async () => {
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      stdout += read.value;
    }
  })();
  const wsUrl = new URL(url);
  wsUrl.protocol = "ws:";
  return {
    url,
    wsUrl,
    child,
    stderr,
    api: (path: string, init: RequestInit = {}) =>
      fetch(new URL(path, url), {
        ...init,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      }),
    async stop(): Promise<number> {
      try {
        child.kill("SIGINT");
      } catch {
        // Already exited.
      }
      const { code } = await child.status;
      await Promise.all([drained, stderrDone]);
      return code;
    },
  };
}

/** `deno task zest args…` with the task's own flags, against `url`. */
async function zest(wsUrl: URL, ...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("zest"), ...args],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: TOKEN, ZEST_URL: wsUrl.href },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("deno task start runs worker handlers with its own permissions, and kills a stuck worker's whole process group", async () => {
  const server = await startTask();
  const client = await Client.connect(server.wsUrl, { token: TOKEN });
  try {
    const fit = await client.execute("lab", { type: "Fit", fields: { ms: 200 } }) as {
      rounds: number;
      pid: number;
    };
    assert.ok(fit.rounds > 0, "the worker computed");
    const processes = await relatedProcesses(server.child.pid);
    assert.ok(
      processes.some(({ pid }) => pid === fit.pid),
      "the worker is a process the runtime started",
    );

    const spawns = await client.request("lab", { type: "Spawns", fields: {} });
    let started: number | undefined;
    await until(async () => {
      const log = (await client.status(spawns.taskId))?.log ?? [];
      const line = log.find(({ message }) => message.startsWith("started process "));
      started = line && Number(line.message.slice("started process ".length));
      return started !== undefined;
    }, "the handler has started its own process");
    assert.ok(cpuTicks(started!) !== undefined, "the handler's own process runs");
    const outcome = await spawns.outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "TimeoutError");
    await until(
      () => cpuTicks(started!) === undefined,
      `process ${started}, which the killed handler started, is gone`,
      10_000,
    );
    assert.equal(await client.execute("lab", { type: "Quick", fields: {} }), "quick");
  } finally {
    await client.close();
    const code = await server.stop();
    assert.equal(code, 0, server.stderr.join(""));
  }
  assert.doesNotMatch(server.stderr.join(""), /NotCapable|cannot start a worker/);
});

Deno.test("a stuck in-process handler over HTTP and the CLI: GET /services and zest services show it, POST /services/:name/release and zest release free it", async () => {
  const server = await startTask();
  const stuckOn = async (taskId: string) => {
    await until(async () => {
      const services = await (await server.api("/services")).json();
      return services.find(({ name }: { name: string }) => name === "plain")?.stuck?.taskId ===
        taskId;
    }, `service plain is stuck on ${taskId}`);
  };
  const submit = async (type: string) => {
    const response = await server.api("/tasks", {
      method: "POST",
      body: JSON.stringify({ service: "plain", type, fields: {} }),
    });
    assert.equal(response.status, 202);
    return (await response.json()).taskId as string;
  };
  try {
    const hang = await submit("Hang");
    const quick = await submit("Quick");
    await stuckOn(hang);
    const services = await (await server.api("/services")).json();
    const plain = services.find(({ name }: { name: string }) => name === "plain");
    assert.equal(plain.state, "stuck");
    assert.equal(typeof plain.stuck.since, "number");
    assert.equal(plain.queued, 1);

    const listed = await zest(server.wsUrl, "services");
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^plain\s+service\s+stuck\s/m);
    assert.ok(
      listed.stdout.includes(
        `plain is stuck since ${new Date(plain.stuck.since).toISOString()}: the handler of task ` +
          `${hang} did not return after it was told to stop; 'deno task zest release plain' frees its lane`,
      ),
      listed.stdout,
    );

    const released = await server.api("/services/plain/release", { method: "POST" });
    assert.equal(released.status, 200);
    assert.deepEqual(await released.json(), { released: true });
    const outcome = await (await server.api(`/tasks/${quick}/outcome?wait=30s`)).json();
    assert.equal(outcome.status, "ok", "the queued task ran once the lane was released");
    const record = await (await server.api(`/tasks/${hang}`)).json();
    assert.ok(
      record.log.some(({ message }: { message: string }) =>
        message === "service 'plain' was released by an operator while this handler still ran"
      ),
      JSON.stringify(record.log),
    );
    const again = await server.api("/services/plain/release", { method: "POST" });
    assert.deepEqual(await again.json(), { released: false });
    const unknown = await server.api("/services/nowhere/release", { method: "POST" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();

    const notStuck = await zest(server.wsUrl, "release", "plain");
    assert.equal(notStuck.code, 1);
    assert.match(notStuck.stderr, /service plain is not stuck: nothing to release/);
    const second = await submit("Hang");
    await stuckOn(second);
    const byCli = await zest(server.wsUrl, "release", "plain");
    assert.equal(byCli.code, 0, byCli.stderr);
    assert.equal(byCli.stdout.trim(), "released plain: its next serial task runs");
    const usage = await zest(server.wsUrl, "release");
    assert.equal(usage.code, 2);
  } finally {
    const code = await server.stop();
    assert.equal(code, 0, server.stderr.join(""));
  }
  assert.doesNotMatch(server.stderr.join(""), /crashed/, "the manager never crashed");
});

Deno.test("nothing of deno task start's workers outlives it", async () => {
  const server = await startTask();
  const client = await Client.connect(server.wsUrl, { token: TOKEN });
  let processes;
  try {
    await client.execute("lab", { type: "Fit", fields: { ms: 10 } });
    processes = await relatedProcesses(server.child.pid);
  } finally {
    await client.close();
    assert.equal(await server.stop(), 0);
  }
  const alive = (await Promise.all(processes.map((ref) => isRunning(ref)))).filter(Boolean);
  assert.equal(alive.length, 0, "every process of the run has ended");
});

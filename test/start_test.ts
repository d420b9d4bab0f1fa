/**
 * `deno task start` with its own permissions: the token stays out of the
 * banner and out of every Python process's environment, and nothing of a
 * run is left behind — not a kernel's child that started a session of its
 * own and ignores signals, not the run's temporary folder — after a stop,
 * after `kill -9` of the runtime, or after `kill -9` of the runtime and its
 * Jupyter Server together (then the next start cleans up). Also what it
 * says: its usage for --help, the address of a port in use, and a warning
 * for intent-log lines its store could not read.
 */
import assert from "node:assert/strict";
import { Client } from "../src/mod.ts";
import { isRunning, type ProcessRef, relatedProcesses } from "../src/kernel/processes.ts";
import { SqliteTaskStore } from "../src/store/mod.ts";
import { logPath } from "../src/store/intent_log.ts";
import {
  REPO_ROOT,
  type ServerProcess,
  startServer,
  stillRunning,
  taskArgs,
  TEST_TOKEN,
} from "./helpers/server.ts";
import { until } from "./helpers/poll.ts";

const RAW_KERNEL = "test/fixtures/raw_kernel.config.ts";

/** Python run by a kernel's child: a session of its own, deaf to every signal it can ignore. */
const STUBBORN_CHILD = [
  "import os, signal, time",
  "os.setsid()",
  "for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):",
  "    signal.signal(number, signal.SIG_IGN)",
  "print('ready', flush=True)",
  "time.sleep(600)",
].join("\n");

/** Kernel code that starts the stubborn child, waits until it is ready, and returns its pid. */
const START_STUBBORN_CHILD = `import subprocess, sys
child = subprocess.Popen([sys.executable, "-c", ${JSON.stringify(STUBBORN_CHILD)}],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
child.stdout.readline()
child.pid`;

/** A process's start time, to tell it from a later one with the same pid. */
async function processRef(pid: number): Promise<ProcessRef> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  return { pid, startTime: Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]) };
}

/** The runtime's Jupyter Server: its process and its run folder (from its `--config=`). */
async function jupyterOf(server: ServerProcess): Promise<{ ref: ProcessRef; runFolder: string }> {
  for (const ref of await server.descendants()) {
    const cmdline = await Deno.readTextFile(`/proc/${ref.pid}/cmdline`).catch(() => "");
    const match = cmdline.match(/--config=([^\0]+)\/jupyter_server_config\.py/);
    if (match) return { ref, runFolder: match[1] };
  }
  throw new Error("no Jupyter Server among the runtime's processes");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

/** A runtime with a kernel whose child is stubborn; everything the test must see end. */
async function runtimeWithStubbornChild() {
  const server = await startServer({ config: RAW_KERNEL });
  const client = await Client.connect(server.wsUrl, { token: server.token });
  try {
    const pid = await client.execute("py", {
      type: "ExecuteCode",
      fields: { code: START_STUBBORN_CHILD },
    }) as number;
    const child = await processRef(pid);
    const jupyter = await jupyterOf(server);
    const processes = await relatedProcesses(
      jupyter.ref.pid,
      `ZEST_JUPYTER_RUN=${jupyter.runFolder}`,
    );
    assert.ok(processes.length >= 3, "the Jupyter Server, a kernel and its child run");
    assert.ok(processes.some((ref) => ref.pid === pid), "the child carries the run's marker");
    return { server, child, jupyter, processes };
  } finally {
    await client.close();
  }
}

Deno.test("start: the banner leaves the token out unless --show-token", async () => {
  const quiet = await startServer({ config: "test/fixtures/basic.config.ts" });
  try {
    const banner = quiet.stdout.join("\n");
    assert.ok(!banner.includes(TEST_TOKEN), banner);
    assert.match(
      banner,
      new RegExp(`^zest: dashboard ${quiet.url.href} \\(asks for the token`, "m"),
    );
    assert.match(banner, /^zest: token from the ZEST_TOKEN environment variable$/m);
  } finally {
    assert.equal(await quiet.stop(), 0);
  }
  const shown = await startServer({
    config: "test/fixtures/basic.config.ts",
    args: ["--show-token"],
  });
  try {
    assert.match(
      shown.stdout.join("\n"),
      new RegExp(`^zest: dashboard ${shown.url.href}#token=${TEST_TOKEN}$`, "m"),
    );
  } finally {
    assert.equal(await shown.stop(), 0);
  }
});

Deno.test("start: ZEST_TOKEN is in neither the Jupyter Server's environment nor a kernel's", async () => {
  const server = await startServer({ config: RAW_KERNEL, token: TEST_TOKEN });
  const client = await Client.connect(server.wsUrl, { token: server.token });
  try {
    const code = `import os
# The kernel's parent is the Jupyter Server; /proc shows the environment it started with.
with open(f"/proc/{os.getppid()}/environ", "rb") as file:
    server_environment = file.read()
["ZEST_TOKEN" in os.environ, b"ZEST_TOKEN=" in server_environment,
 ${JSON.stringify(TEST_TOKEN)}.encode() in server_environment]`;
    const seen = await client.execute("py", { type: "ExecuteCode", fields: { code } });
    assert.deepEqual(seen, [false, false, false]);
  } finally {
    await client.close();
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("start: a stop ends a kernel's stubborn child and removes the run folder", async () => {
  const { server, child, jupyter, processes } = await runtimeWithStubbornChild();
  assert.equal(await server.stop("SIGINT"), 0);
  assert.deepEqual(await stillRunning(processes), [], "no process of the run is left");
  assert.equal(await isRunning(child), false);
  assert.equal(await exists(jupyter.runFolder), false, `${jupyter.runFolder} is removed`);
});

Deno.test("start: after kill -9 of its Jupyter Server, the runtime's stop ends the run", async () => {
  const { server, child, jupyter, processes } = await runtimeWithStubbornChild();
  Deno.kill(jupyter.ref.pid, "SIGKILL");
  assert.equal(await server.stop("SIGINT"), 0);
  assert.deepEqual(await stillRunning(processes), [], "no process of the run is left");
  assert.equal(await isRunning(child), false);
  assert.equal(await exists(jupyter.runFolder), false, `${jupyter.runFolder} is removed`);
});

Deno.test("start: after kill -9 of the runtime, its Jupyter Server ends the whole run", async () => {
  const { server, child, jupyter, processes } = await runtimeWithStubbornChild();
  const killedAt = performance.now();
  server.child.kill("SIGKILL");
  await server.stop();
  await until(
    async () => (await stillRunning(processes)).length === 0,
    "the Jupyter Server notices, stops, and kills what is left",
  );
  console.log(
    `kill -9 of the runtime to the whole run ended: ${Math.round(performance.now() - killedAt)} ms`,
  );
  assert.equal(await isRunning(child), false);
  await until(async () => !(await exists(jupyter.runFolder)), "the run folder is removed");
});

Deno.test("start: after kill -9 of the runtime and its Jupyter Server, the next start cleans up", async () => {
  const { server, child, jupyter, processes } = await runtimeWithStubbornChild();
  Deno.kill(jupyter.ref.pid, "SIGKILL");
  server.child.kill("SIGKILL");
  await server.stop();
  assert.ok(await isRunning(child), "nothing ended the stubborn child");
  assert.ok(await exists(jupyter.runFolder), "nothing removed the run folder");
  // A folder younger than a minute may be a run being launched right now: age it.
  const hourAgo = new Date(Date.now() - 3_600_000);
  await Deno.utime(jupyter.runFolder, hourAgo, hourAgo);

  const next = await startServer({ config: RAW_KERNEL });
  try {
    await until(
      async () => (await stillRunning(processes)).length === 0,
      "the next start kills the leftovers",
    );
    assert.equal(await isRunning(child), false);
    await until(async () => !(await exists(jupyter.runFolder)), "the old folder is removed");
    assert.equal((await next.descendants()).length >= 2, true, "the new run is untouched");
  } finally {
    assert.equal(await next.stop(), 0);
  }
});

/** Run `deno task start args…` to its end (for runs that stop before serving). */
async function startRun(...args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("start"), ...args],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: TEST_TOKEN },
    stdin: "null",
    signal: AbortSignal.timeout(60_000),
  }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

Deno.test("start: -h and --help print the usage and exit 0, starting nothing", async () => {
  for (const flag of ["--help", "-h"]) {
    const run = await startRun(flag);
    assert.equal(run.code, 0, `${flag}: ${run.stderr}`);
    assert.match(run.stdout, /^usage: deno task start \[--config FILE\]/, flag);
    assert.match(run.stdout, /^ {2}-h, --help +this text$/m, flag);
    assert.doesNotMatch(run.stderr, /Unknown option/, flag);
  }
});

Deno.test("start: a port in use is refused naming the address", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { port } = taken.addr as Deno.NetAddr;
    const run = await startRun(
      "--config",
      "test/fixtures/basic.config.ts",
      "--store",
      "memory",
      "--port",
      `${port}`,
    );
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      run.stderr,
      new RegExp(
        `^zest: 127\\.0\\.0\\.1:${port} is in use: stop the other server or pass --port$`,
        "m",
      ),
    );
  } finally {
    taken.close();
  }
});

Deno.test("start: the banner warns of intent-log lines the store could not read", async () => {
  // Inside .zest/: the only folder the start task may write.
  const dir = `.zest/start-test-${crypto.randomUUID()}`;
  const path = `${dir}/zest.db`;
  try {
    const store = new SqliteTaskStore({ path: `${REPO_ROOT}/${path}` });
    await store.open();
    await store.close();
    // What a crash (or a damaged disk) can leave: lines that are not changes.
    await Deno.writeTextFile(
      logPath(`${REPO_ROOT}/${path}`, 99),
      '[7,"a1","lab","Sleep","queued",0,null,null,null]\t{"id":"a1"\n{"torn\n',
    );
    const damaged = await startServer({ config: "test/fixtures/basic.config.ts", store: path });
    try {
      const banner = damaged.stdout.join("\n");
      assert.match(
        banner,
        /^zest: warning: 2 intent-log lines could not be read \(their changes are lost\)$/m,
      );
    } finally {
      assert.equal(await damaged.stop(), 0);
    }
    // The damaged log was replayed and is gone: the next start has nothing to warn of.
    const clean = await startServer({ config: "test/fixtures/basic.config.ts", store: path });
    try {
      assert.doesNotMatch(clean.stdout.join("\n"), /warning/);
      assert.match(clean.stdout.join("\n"), new RegExp(`^zest: store ${path} \\(SQLite`, "m"));
    } finally {
      assert.equal(await clean.stop(), 0);
    }
  } finally {
    await Deno.remove(`${REPO_ROOT}/${dir}`, { recursive: true });
  }
});

/**
 * The Python client (`clients/python/zest_client.py`) and the classes of
 * `zest codegen python`, run with Debian's `/usr/bin/python3` against the real
 * server. Each step runs one scenario of `clients/python/tests/scenarios.py`,
 * which raises when the client misbehaves and prints `ok NAME` at the end.
 */
import assert from "node:assert/strict";
import { REPO_ROOT, type ServerProcess, startServer, taskArgs } from "./helpers/server.ts";
import { loadConfig } from "../src/cli/config.ts";
import { generatePython } from "../src/cli/codegen.ts";
import { until } from "./helpers/poll.ts";

const PYTHON = "/usr/bin/python3";
const SCENARIOS = `${REPO_ROOT}/clients/python/tests/scenarios.py`;
const CONFIG = "test/fixtures/python_client.config.ts";
/** No scenario may take longer than this; past it the Python process is killed. */
const SCENARIO_DEADLINE_MS = 90_000;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

interface ScenarioOptions {
  /** Extra environment; `ZEST_TOKEN: undefined` leaves the token out. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** A clean environment for Python: the server's URL and token, no bytecode in the tree. */
function pythonEnv(server: ServerProcess, extra: ScenarioOptions["env"] = {}) {
  const env: Record<string, string | undefined> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    PYTHONDONTWRITEBYTECODE: "1",
    ZEST_URL: server.url.href,
    ZEST_TOKEN: server.token,
    ...extra,
  };
  return Object.fromEntries(
    Object.entries(env).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

function spawnScenario(
  server: ServerProcess,
  name: string,
  options: ScenarioOptions = {},
): Deno.ChildProcess {
  return new Deno.Command(PYTHON, {
    args: [SCENARIOS, name],
    cwd: options.cwd ?? REPO_ROOT,
    env: pythonEnv(server, options.env),
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(SCENARIO_DEADLINE_MS),
  }).spawn();
}

const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Run scenario `name` to its end. */
async function scenario(
  server: ServerProcess,
  name: string,
  options: ScenarioOptions = {},
): Promise<Run> {
  const { code, stdout, stderr } = await spawnScenario(server, name, options).output();
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

function assertPassed(run: Run, name: string): void {
  assert.equal(run.code, 0, `scenario ${name} failed:\n${run.stdout}\n${run.stderr}`);
  assert.match(run.stdout, new RegExp(`^ok ${name}$`, "m"));
}

/**
 * Run scenario `name` until it prints a line matching `gate`; then `act`,
 * then read it to its end.
 */
async function scenarioAcross(
  server: ServerProcess,
  name: string,
  gate: RegExp,
  act: () => Promise<void>,
  options: ScenarioOptions = {},
): Promise<Run> {
  const child = spawnScenario(server, name, options);
  const stderr = new Response(child.stderr).text();
  let stdout = "";
  let acted = false;
  for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
    stdout += chunk;
    if (!acted && gate.test(stdout)) {
      acted = true;
      await act();
    }
  }
  const { code } = await child.status;
  assert.ok(acted, `scenario ${name} never printed ${gate}:\n${stdout}\n${await stderr}`);
  return { code, stdout, stderr: await stderr };
}

Deno.test("python client against the server: calls, errors, events, tokens", async (t) => {
  const server = await startServer({ config: CONFIG });
  const scratch = await Deno.makeTempDir({ prefix: "zest-python-" });
  try {
    for (
      const name of [
        "sync_client",
        "refusals",
        "argument_checks",
        "async_client",
        "inside_running_loop",
        "watch",
        "wrong_token",
        "display",
      ]
    ) {
      await t.step(name, async () => assertPassed(await scenario(server, name), name));
    }

    await t.step("the token from .zest/token in a parent directory", async () => {
      await Deno.mkdir(`${scratch}/project/.zest`, { recursive: true, mode: 0o700 });
      await Deno.writeTextFile(`${scratch}/project/.zest/token`, `${server.token}\n`, {
        mode: 0o600,
      });
      await Deno.mkdir(`${scratch}/project/notebooks/deep`, { recursive: true });
      const options = { cwd: `${scratch}/project/notebooks/deep`, env: { ZEST_TOKEN: undefined } };
      assertPassed(await scenario(server, "token_file", options), "token_file");
      await Deno.mkdir(`${scratch}/elsewhere`);
      const nowhere = { cwd: `${scratch}/elsewhere`, env: { ZEST_TOKEN: undefined } };
      assertPassed(await scenario(server, "no_token", nowhere), "no_token");
    });

    await t.step("classes generated for the default config's task types", async () => {
      // The default config as the server would list it, without starting its kernel.
      const config = await loadConfig(`${REPO_ROOT}/zest.config.ts`);
      const services = config.services.map((service) => ({
        name: service.name,
        ...service.describe(),
      }));
      await Deno.writeTextFile(`${scratch}/lab_tasks.py`, generatePython(services));
      const run = await scenario(server, "generated_classes", { env: { ZEST_TASKS_DIR: scratch } });
      assertPassed(run, "generated_classes");
    });

    await t.step("deno task zest codegen python writes the server's classes", async () => {
      const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
        args: [...await taskArgs("zest"), "codegen", "python"],
        cwd: REPO_ROOT,
        env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href },
        stdin: "null",
      }).output();
      assert.equal(code, 0, decode(stderr));
      await Deno.writeFile(`${scratch}/served_tasks.py`, stdout);
      const run = await scenario(server, "served_classes", { env: { ZEST_TASKS_DIR: scratch } });
      assertPassed(run, "served_classes");

      const zest = async (...args: string[]) => {
        const run = await new Deno.Command(Deno.execPath(), {
          args: [...await taskArgs("zest"), ...args],
          cwd: REPO_ROOT,
          env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href },
          stdin: "null",
        }).output();
        return { code: run.code, stdout: decode(run.stdout), stderr: decode(run.stderr) };
      };
      const lab = await zest("codegen", "python", "--service", "lab");
      assert.equal(lab.code, 0, lab.stderr);
      assert.match(lab.stdout, /^class Sum\(ZestTask\):$/m);
      assert.doesNotMatch(lab.stdout, /^class Greeting/m);
      const nope = await zest("codegen", "python", "--service", "nope");
      assert.equal(nope.code, 1);
      assert.match(nope.stderr, /no service named 'nope'/);
      const usage = await zest("codegen", "cobol");
      assert.equal(usage.code, 2);
      assert.match(usage.stderr, /codegen needs a language: python, got 'cobol'/);
    });
  } finally {
    await server.stop();
    await Deno.remove(scratch, { recursive: true });
  }
});

/** The workflow calls, each on a server of its own (`test/fixtures/workflow.config.ts`). */
for (
  const name of [
    "dependencies",
    "request_options",
    "history",
    "stuck_lane",
    "schedules",
    "watch_progress",
    "async_workflow",
  ]
) {
  Deno.test(`python client: ${name}`, async () => {
    const server = await startServer({ config: "test/fixtures/workflow.config.ts" });
    try {
      assertPassed(await scenario(server, name), name);
    } finally {
      await server.stop();
    }
  });
}

for (const name of ["server_gone_sync", "server_gone_async"]) {
  Deno.test(`python client: ${name}: the server is killed mid-wait`, async () => {
    const server = await startServer({ config: CONFIG });
    try {
      const run = await scenarioAcross(server, name, /^waiting \S+$/m, async () => {
        await server.stop("SIGKILL");
      });
      assertPassed(run, name);
    } finally {
      await server.stop("SIGKILL");
    }
  });
}

for (const name of ["watch_server_gone_sync", "watch_server_gone_async"]) {
  Deno.test(`python client: ${name}: the server is killed while watch() waits`, async () => {
    const server = await startServer({ config: CONFIG });
    try {
      const run = await scenarioAcross(server, name, /^watching$/m, async () => {
        await server.stop("SIGKILL");
      });
      assertPassed(run, name);
    } finally {
      await server.stop("SIGKILL");
    }
  });
}

Deno.test("python client: the server stops cleanly mid-wait", async () => {
  const server = await startServer({ config: CONFIG });
  const gate = `.zest/python-client-gate-${crypto.randomUUID()}`;
  try {
    // The stop is held (the HTTP server still answers) until the scenario has its
    // answer: its wait may still sit unread in the server's socket when SIGINT comes.
    await Deno.mkdir(`${REPO_ROOT}/.zest`, { recursive: true, mode: 0o700 });
    const env = { ZEST_GATE_FILE: gate };
    assertPassed(await scenario(server, "arm_stop_gate", { env }), "arm_stop_gate");
    const run = await scenarioAcross(
      server,
      "server_stops_mid_wait",
      /^waiting \S+$/m,
      () => {
        server.child.kill("SIGINT");
        return Promise.resolve();
      },
    );
    assertPassed(run, "server_stops_mid_wait");
    await Deno.writeTextFile(`${REPO_ROOT}/${gate}`, "");
    assert.equal((await server.child.status).code, 0);
  } finally {
    await Deno.remove(`${REPO_ROOT}/${gate}`).catch(() => {});
    await server.stop("SIGKILL");
  }
});

Deno.test("python client: tasks sent while the server stops are refused clearly", async () => {
  const server = await startServer({ config: CONFIG });
  const gate = `.zest/python-client-gate-${crypto.randomUUID()}`;
  try {
    await Deno.mkdir(`${REPO_ROOT}/.zest`, { recursive: true, mode: 0o700 });
    const env = { ZEST_GATE_FILE: gate };
    assertPassed(await scenario(server, "arm_stop_gate", { env }), "arm_stop_gate");
    server.child.kill("SIGINT");
    await until(() => server.stdout.some((line) => line.startsWith("zest: stopping")), "stopping");
    assertPassed(await scenario(server, "refused_while_stopping"), "refused_while_stopping");
    await Deno.writeTextFile(`${REPO_ROOT}/${gate}`, "");
    assert.equal((await server.child.status).code, 0);
  } finally {
    await Deno.remove(`${REPO_ROOT}/${gate}`).catch(() => {});
    await server.stop("SIGKILL");
  }
});

Deno.test("python client: a kernel task's displays, shown with one call", async () => {
  const server = await startServer({ config: "test/fixtures/kernel.config.ts" });
  try {
    assertPassed(await scenario(server, "kernel_display"), "kernel_display");
  } finally {
    await server.stop();
  }
});

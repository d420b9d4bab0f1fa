/**
 * `deno task zest` against the real server, run with the task's own
 * permission flags: submit, status, services, watch, cancel, --json, errors,
 * the token from a file or standard input, and server data shown with its
 * control characters escaped.
 */
import assert from "node:assert/strict";
import { REPO_ROOT, type ServerProcess, startServer, taskArgs } from "./helpers/server.ts";
import { loadConfig } from "../src/cli/config.ts";
import { IPythonService } from "../src/mod.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run `zest`: its environment (over the server's defaults) and standard input. */
interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
}

/** Run `zest args…` to its end, with `options`. */
async function zestWith(
  server: ServerProcess,
  options: RunOptions,
  ...args: string[]
): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("zest"), ...args],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href, ...options.env },
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code, stdout: decode(stdout), stderr: decode(stderr) };
}

/** Run `zest args…` to its end. */
function zest(server: ServerProcess, ...args: string[]): Promise<Run> {
  return zestWith(server, {}, ...args);
}

/** Escape codes a hostile client may put in a task: set the window title, clear the screen, reverse text. */
const HOSTILE = "\x1b]0;owned\x07\x1b[2J\u202eAda\x9b31m";
/** How the CLI shows it. */
const HOSTILE_SHOWN = "\\x1b]0;owned\\x07\\x1b[2J\\u{202e}Ada\\x9b31m";
/** How the CLI shows its tail inside a JSON value (where JSON escaped the C0 controls already). */
const HOSTILE_TAIL_SHOWN = "\\u{202e}Ada\\x9b31m";
/** Any byte or character a terminal acts on, but newline and tab. */
// deno-lint-ignore no-control-regex
const RAW_CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202e]/;

Deno.test("zest CLI", async (t) => {
  const server = await startServer({ config: "test/fixtures/basic.config.ts" });
  try {
    await t.step("services: a table, or JSON with the schemas", async () => {
      const table = await zest(server, "services");
      assert.equal(table.code, 0, table.stderr);
      assert.match(
        table.stdout,
        /^SERVICE\s+KIND\s+STATE\s+KERNEL\s+QUEUED\s+RUNNING\s+TASK TYPES$/m,
      );
      assert.match(table.stdout, /^lab\s+service\s+running\s+-\s+0\s+0\s+Sleep, Sum, Fail$/m);
      const json = await zest(server, "services", "--json");
      const services = JSON.parse(json.stdout);
      assert.deepEqual(services.map((s: { name: string }) => s.name), ["greeter", "lab"]);
      assert.equal(services[1].taskTypes[1].schema.properties.unit.enum.length, 2);
    });

    await t.step("submit --wait prints the outcome; without --wait, the id", async () => {
      const waited = await zest(
        server,
        "submit",
        "greeter",
        "Greeting",
        '{"name":"Ada"}',
        "--wait",
      );
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(waited.stdout, "Hello Ada from greeter\n");
      assert.equal(waited.stderr, "", "no spinner when stderr is not a terminal");

      const json = await zest(server, "submit", "lab", "Sum", '{"a":1,"b":2}', "--wait", "--json");
      const outcome = JSON.parse(json.stdout);
      assert.deepEqual(outcome, { status: "ok", id: outcome.id, result: "3 V" });

      const submitted = await zest(
        server,
        "submit",
        "lab",
        "Sleep",
        '{"ms":200}',
        "--attributes",
        '{"by":"cli"}',
      );
      assert.equal(submitted.code, 0, submitted.stderr);
      const id = submitted.stdout.trim();
      assert.match(id, /^[0-9a-f-]{36}$/);

      const status = await zest(server, "status", id, "--wait");
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`^task\\s+${id}$`, "m"));
      assert.match(status.stdout, /^type\s+Sleep on lab \(serial\)$/m);
      assert.match(status.stdout, /^state\s+succeeded \(attempts: 1\)$/m);
      assert.match(status.stdout, /^attributes\s+\{"by":"cli"\}$/m);
      assert.match(status.stdout, /^outcome:\n200$/m);
      const record = JSON.parse((await zest(server, "status", id, "--json")).stdout);
      assert.equal(record.outcome.result, 200);
    });

    await t.step("a failed task exits 1 with its error on stderr", async () => {
      const failed = await zest(server, "submit", "lab", "Fail", '{"message":"no lock"}', "--wait");
      assert.equal(failed.code, 1);
      assert.equal(failed.stdout, "");
      assert.match(failed.stderr, /^RangeError: no lock$/m);
      const invalid = await zest(server, "submit", "lab", "Sum", '{"a":1}', "--wait");
      assert.equal(invalid.code, 1);
      assert.match(invalid.stderr, /invalid Sum: b: /);
      const unknown = await zest(server, "submit", "nope", "Sum", "--wait");
      assert.match(unknown.stderr, /no service named 'nope'/);
    });

    await t.step("cancel: a running task, then one already ended", async () => {
      const id = (await zest(server, "submit", "lab", "Sleep", '{"ms":10000}')).stdout.trim();
      const cancelled = await zest(server, "cancel", id);
      assert.equal(cancelled.code, 0, cancelled.stderr);
      assert.equal(cancelled.stdout, `cancelled ${id}\n`);
      const again = await zest(server, "cancel", id, "--json");
      assert.equal(again.code, 1);
      assert.deepEqual(JSON.parse(again.stdout), { taskId: id, cancelled: false });
      const unknown = await zest(server, "status", "no-such-id");
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /no task with id 'no-such-id'/);
    });

    await t.step("watch --json: one event per line, live", async () => {
      const watcher = new Deno.Command(Deno.execPath(), {
        args: [...await taskArgs("zest"), "watch", "--json", "--service", "lab"],
        cwd: REPO_ROOT,
        env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = watcher.stdout.pipeThrough(new TextDecoderStream()).getReader();
      // The watcher is subscribed once the server has it; submit until its events flow.
      let text = "";
      const seen = (async () => {
        while (!/"state":"succeeded"/.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
      })();
      const submits: Promise<Run>[] = [];
      const submitter = setInterval(
        () => submits.push(zest(server, "submit", "lab", "Sum", '{"a":1,"b":1}')),
        300,
      );
      await seen;
      clearInterval(submitter);
      await Promise.all(submits);
      watcher.kill("SIGINT");
      assert.equal((await watcher.status).code, 0);
      await reader.cancel();
      await watcher.stderr.cancel();
      const events = text.trim().split("\n").map((line) => JSON.parse(line));
      assert.ok(events.every((event) => event.kind === "task" && event.record.service === "lab"));
      assert.ok(events.some((event) => event.record.state === "succeeded"));
    });

    await t.step("human output shows control characters escaped; --json keeps them", async () => {
      const fields = JSON.stringify({ name: HOSTILE });
      const waited = await zest(server, "submit", "greeter", "Greeting", fields, "--wait");
      assert.equal(waited.code, 0, waited.stderr);
      assert.equal(waited.stdout, `Hello ${HOSTILE_SHOWN} from greeter\n`);
      const json = await zest(server, "submit", "greeter", "Greeting", fields, "--wait", "--json");
      assert.equal(JSON.parse(json.stdout).result, `Hello ${HOSTILE} from greeter`);

      const unknown = await zest(server, "submit", "lab", HOSTILE, "--wait");
      assert.equal(unknown.code, 1);
      assert.ok(unknown.stderr.includes(HOSTILE_SHOWN), unknown.stderr);
      assert.doesNotMatch(unknown.stderr, RAW_CONTROL);

      // Several lines, and a tab, stay as they are.
      const failed = await zest(
        server,
        "submit",
        "lab",
        "Fail",
        JSON.stringify({ message: `one\n\ttwo ${HOSTILE}` }),
        "--wait",
      );
      assert.equal(failed.code, 1);
      assert.ok(failed.stderr.includes(`RangeError: one\n\ttwo ${HOSTILE_SHOWN}`), failed.stderr);

      const id = (await zest(
        server,
        "submit",
        "lab",
        "Sum",
        '{"a":1,"b":2}',
        "--attributes",
        JSON.stringify({ note: HOSTILE }),
      )).stdout.trim();
      const status = await zest(server, "status", id, "--wait");
      assert.equal(status.code, 0, status.stderr);
      assert.ok(status.stdout.includes(HOSTILE_TAIL_SHOWN), status.stdout);
      assert.doesNotMatch(status.stdout, RAW_CONTROL);
    });

    await t.step("watch shows control characters escaped", async () => {
      const watcher = new Deno.Command(Deno.execPath(), {
        args: [...await taskArgs("zest"), "watch", "--service", "greeter"],
        cwd: REPO_ROOT,
        env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const reader = watcher.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const seen = (async () => {
        while (!/succeeded .*Greeting on greeter .*Hello/.test(text)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
      })();
      // Subscribed once the server has it: submit until its events flow.
      const submits: Promise<Run>[] = [];
      const fields = JSON.stringify({ name: HOSTILE });
      const submitter = setInterval(
        () => submits.push(zest(server, "submit", "greeter", "Greeting", fields)),
        300,
      );
      await seen;
      clearInterval(submitter);
      await Promise.all(submits);
      watcher.kill("SIGINT");
      assert.equal((await watcher.status).code, 0);
      await reader.cancel();
      await watcher.stderr.cancel();
      assert.ok(text.includes(HOSTILE_TAIL_SHOWN), text);
      assert.doesNotMatch(text, RAW_CONTROL);
    });

    await t.step(
      "--token-file: the token from a file in .zest/, or from standard input",
      async () => {
        // A wrong ZEST_TOKEN: the flag must win over it.
        const env = { ZEST_TOKEN: "wrong-token-0123456789abcdef" };
        const piped = await zestWith(
          server,
          { env, stdin: `${server.token}\n` },
          "services",
          "--token-file",
          "-",
        );
        assert.equal(piped.code, 0, piped.stderr);
        assert.match(piped.stdout, /^greeter\s/m);

        await Deno.mkdir(`${REPO_ROOT}/.zest`, { recursive: true, mode: 0o700 });
        const file = `.zest/cli-test-token-${crypto.randomUUID()}`;
        await Deno.writeTextFile(`${REPO_ROOT}/${file}`, server.token, { mode: 0o600 });
        try {
          const fromFile = await zestWith(server, { env }, "services", "--token-file", file);
          assert.equal(fromFile.code, 0, fromFile.stderr);
        } finally {
          await Deno.remove(`${REPO_ROOT}/${file}`);
        }

        const outside = await zestWith(
          server,
          { env },
          "services",
          "--token-file",
          "/etc/hostname",
        );
        assert.equal(outside.code, 2);
        assert.match(outside.stderr, /may read only \.zest\/; .*--token-file - < \/etc\/hostname/);
        const empty = await zestWith(server, { env, stdin: "" }, "services", "--token-file", "-");
        assert.equal(empty.code, 2);
        assert.match(empty.stderr, /the token in --token-file standard input is not usable/);
        const both = await zest(server, "services", "--token", server.token, "--token-file", "-");
        assert.equal(both.code, 2);
        assert.match(both.stderr, /--token or --token-file, not both/);
      },
    );

    await t.step("a malformed --timeout, --url or --token is a usage error", async () => {
      for (const timeout of ["1e400", "0", "-5", "1.5", "2147483648", "soon"]) {
        const run = await zest(
          server,
          "submit",
          "lab",
          "Sum",
          '{"a":1,"b":2}',
          `--timeout=${timeout}`,
        );
        assert.equal(run.code, 2, `--timeout ${timeout}: ${run.stderr}`);
        assert.match(run.stderr, /--timeout must be a whole number of ms from 1 to 2147483647/);
      }
      const urls: [string, RegExp][] = [
        ["not a url", /--url must be a URL like ws:\/\/127\.0\.0\.1:8787/],
        ["ftp://127.0.0.1/", /--url must be a ws: wss: http: https: URL/],
        ["ws://me:secret@127.0.0.1:8787/", /--url must not hold credentials/],
        ["ws://127.0.0.1:8787/#x", /--url must not have a #fragment/],
      ];
      for (const [url, message] of urls) {
        const run = await zest(server, "services", "--url", url);
        assert.equal(run.code, 2, `--url ${url}: ${run.stderr}`);
        assert.match(run.stderr, message);
      }
      const fromEnv = await zestWith(server, { env: { ZEST_URL: "localhost:8787" } }, "services");
      assert.equal(fromEnv.code, 2, fromEnv.stderr);
      assert.match(fromEnv.stderr, /ZEST_URL must be a ws: wss: http: https: URL/);
      for (const token of ["short", "has space 0123456789abcdef", "x".repeat(513)]) {
        const run = await zest(server, "services", "--token", token);
        assert.equal(run.code, 2, run.stderr);
        assert.match(run.stderr, /the token in --token is not usable/);
      }
    });

    await t.step("usage and connection errors are clear", async () => {
      const noCommand = await zest(server);
      assert.equal(noCommand.code, 2);
      assert.match(noCommand.stderr, /^usage: deno task zest <command>/);
      const unknown = await zest(server, "launch");
      assert.equal(unknown.code, 2);
      assert.match(unknown.stderr, /unknown command 'launch'/);
      const badJson = await zest(server, "submit", "lab", "Sum", "{a:1}");
      assert.equal(badJson.code, 2);
      assert.match(badJson.stderr, /fields must be JSON/);
      const missing = await zest(server, "submit", "lab");
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /submit needs <service> <type>/);
      const badFlag = await zest(server, "services", "--colour");
      assert.equal(badFlag.code, 2);
      assert.match(badFlag.stderr, /Unknown option '--colour'/);
      const wrongToken = await zest(server, "services", "--token", "wrong-token-0123456789abcdef");
      assert.equal(wrongToken.code, 1);
      assert.match(wrongToken.stderr, /unauthorized: the server at .* refused the token/);
      const help = await zest(server, "--help");
      assert.equal(help.code, 0);
      assert.match(help.stdout, /submit <service> <type> \[fields\]/);
    });
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

Deno.test("the default zest.config.ts: greeter, and calibration on kernels/calibration", async () => {
  const config = await loadConfig(`${REPO_ROOT}/zest.config.ts`);
  assert.deepEqual(config.services.map((service) => service.name), ["greeter", "calibration"]);
  const calibration = config.services[1];
  assert.ok(calibration instanceof IPythonService);
  assert.equal(calibration.kernelName, "calibration");
  for (const type of ["MaintainNode", "CalibrationStatus", "AdvanceTime", "PlotCalibration"]) {
    assert.ok(calibration.resolve(type), `calibration handles ${type}`);
  }
  assert.ok(config.services[0].resolve("Greeting"));
  assert.equal(config.server?.port, 8787);
});

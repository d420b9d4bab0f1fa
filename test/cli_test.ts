/**
 * `deno task zest` against the real server, run with the task's own
 * permission flags. Each test starts its own server (or none, for mistakes
 * the command line catches before connecting), so one failure does not
 * carry into the next: submit and its options, status, tasks and its pages,
 * cancel, delete, rerun, graph, services, store, schedules, watch (with
 * progress and output), --json, refusals, usage errors, the token from a
 * file or standard input, and server data shown with its control characters
 * escaped.
 */
import assert from "node:assert/strict";
import { api, REPO_ROOT, type ServerProcess, startServer, taskArgs } from "./helpers/server.ts";
import { eventually } from "./helpers/poll.ts";
import { loadConfig } from "../src/cli/config.ts";
import { IPythonService } from "../src/mod.ts";

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Where `zest` connects: a server, or (for usage errors) nowhere that answers. */
type Target = Pick<ServerProcess, "token" | "wsUrl">;

/** No server listens here: a command that connects fails, one with a usage error never tries. */
const NOWHERE: Target = {
  token: "test-token-0123456789abcdefghij",
  wsUrl: new URL("ws://127.0.0.1:9/"),
};

/** How to run `zest`: its environment (over the server's defaults) and standard input. */
interface RunOptions {
  env?: Record<string, string>;
  stdin?: string;
}

/** Run `zest args…` to its end, with `options`. */
async function zestWith(target: Target, options: RunOptions, ...args: string[]): Promise<Run> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("zest"), ...args],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: target.token, ZEST_URL: target.wsUrl.href, ...options.env },
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
function zest(target: Target, ...args: string[]): Promise<Run> {
  return zestWith(target, {}, ...args);
}

/** `zest args…`, which must succeed: its stdout, trimmed. */
async function zestOk(target: Target, ...args: string[]): Promise<string> {
  const run = await zest(target, ...args);
  assert.equal(run.code, 0, `zest ${args.join(" ")}: ${run.stderr}`);
  return run.stdout.trim();
}

/** Run `test` with a server of `config`, stopped (cleanly) after. */
async function withServer(
  config: string,
  test: (server: ServerProcess) => Promise<void>,
): Promise<void> {
  const server = await startServer({ config });
  try {
    await test(server);
  } finally {
    assert.equal(await server.stop(), 0);
  }
}

/** Every test's server: greeter, lab, reporter, hang and two schedules, its store in memory. */
const WORKFLOW = "test/fixtures/workflow.config.ts";

/** `deno task zest ARGS` against `server`, running, its output piped. */
async function spawnZest(server: ServerProcess, args: string[]): Promise<Deno.ChildProcess> {
  return new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("zest"), ...args],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/**
 * Run `zest watch args…` until its output matches `enough`, calling `poke`
 * every 300 ms meanwhile (the watcher is subscribed only once the server has
 * it: poke until events flow); then Ctrl-C it. Its output.
 */
async function watchUntil(
  server: ServerProcess,
  args: string[],
  enough: (text: string) => boolean,
  poke: () => Promise<unknown>,
): Promise<string> {
  const watcher = await spawnZest(server, ["watch", ...args]);
  const reader = watcher.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(watcher.stderr).text();
  let text = "";
  const seen = (async () => {
    while (!enough(text)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
  })();
  const pokes: Promise<unknown>[] = [];
  const poker = setInterval(() => pokes.push(poke()), 300);
  try {
    await seen;
  } finally {
    clearInterval(poker);
    await Promise.all(pokes);
    watcher.kill("SIGINT");
  }
  assert.equal((await watcher.status).code, 0);
  await reader.cancel();
  const errors = await stderr;
  assert.doesNotMatch(errors, /closed/, "Ctrl-C ends a watch quietly");
  assert.ok(enough(text), `the watch ended early:\n${text}\n${errors}`);
  return text;
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
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

Deno.test("zest services: a table, or JSON with the schemas", async () => {
  await withServer(WORKFLOW, async (server) => {
    const table = await zest(server, "services");
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /^SERVICE\s+KIND\s+STATE\s+KERNEL\s+QUEUED\s+RUNNING\s/m);
    assert.match(table.stdout, /^lab\s+service\s+running\s+-\s+0\s+0\s.*Sleep, Sum, Fail$/m);
    const services = JSON.parse(await zestOk(server, "services", "--json"));
    assert.deepEqual(
      services.map((s: { name: string }) => s.name),
      ["greeter", "lab", "reporter", "hang"],
    );
    assert.equal(services[1].taskTypes[1].schema.properties.unit.enum.length, 2);
  });
});

Deno.test("zest submit: --wait prints the outcome; without it, the id; status the record", async () => {
  await withServer(WORKFLOW, async (server) => {
    const waited = await zest(server, "submit", "greeter", "Greeting", '{"name":"Ada"}', "--wait");
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, "Hello Ada from greeter\n");
    assert.equal(waited.stderr, "", "no spinner when stderr is not a terminal");

    const json = await zestOk(server, "submit", "lab", "Sum", '{"a":1,"b":2}', "--wait", "--json");
    const outcome = JSON.parse(json);
    assert.deepEqual(outcome, { status: "ok", id: outcome.id, result: "3 V" });

    const id = await zestOk(
      server,
      "submit",
      "lab",
      "Sleep",
      '{"ms":200}',
      "--attributes",
      '{"by":"cli"}',
    );
    assert.match(id, UUID);
    const status = await zest(server, "status", id, "--wait");
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^task\\s+${id}$`, "m"));
    assert.match(status.stdout, /^type\s+Sleep on lab \(serial\)$/m);
    assert.match(status.stdout, /^state\s+succeeded \(attempts: 1\)$/m);
    assert.match(status.stdout, /^attributes\s+\{"by":"cli"\}$/m);
    assert.match(status.stdout, /^outcome:\n200$/m);
    const record = JSON.parse(await zestOk(server, "status", id, "--json"));
    assert.equal(record.outcome.result, 200);
  });
});

Deno.test("zest submit --wait: a server that dies mid-wait is a zest: line with the shell's way back", async () => {
  const server = await startServer({ config: WORKFLOW });
  try {
    const child = await spawnZest(server, ["submit", "lab", "Sleep", '{"ms":60000}', "--wait"]);
    const id = await eventually("the Sleep task runs", async () => {
      const page = await (await api(server, "/tasks?type=Sleep&state=running")).json();
      return page.records[0]?.id as string | undefined;
    });
    await server.stop("SIGKILL");
    const { code, stderr } = await child.output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1, text);
    assert.match(
      text,
      new RegExp(
        `^zest: ConnectionLostError: .+ before task ${id} ended; it may still be running: ` +
          `deno task zest status ${id} --wait$`,
        "m",
      ),
    );
    assert.doesNotMatch(text, /client\.outcome/);
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("zest: a failed task exits 1 with its error; a refusal with Name: message", async () => {
  await withServer(WORKFLOW, async (server) => {
    const failed = await zest(server, "submit", "lab", "Fail", '{"message":"no lock"}', "--wait");
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, "");
    assert.match(failed.stderr, /^RangeError: no lock$/m);
    const invalid = await zest(server, "submit", "lab", "Sum", '{"a":1}', "--wait");
    assert.equal(invalid.code, 1);
    assert.match(invalid.stderr, /^zest: TaskValidationError: invalid Sum: b: /m);
    const unknown = await zest(server, "submit", "nope", "Sum", "--wait");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^zest: UnknownServiceError: no service named 'nope'/m);
    const noTask = await zest(server, "status", "no-such-id");
    assert.equal(noTask.code, 1);
    assert.match(noTask.stderr, /^zest: UnknownTaskError: no task with id 'no-such-id'/m);
  });
});

Deno.test("zest submit without --wait: invalid fields print the validation error, exit 1, no id", async () => {
  await withServer(WORKFLOW, async (server) => {
    const invalid = await zest(server, "submit", "lab", "Sum", '{"a":1}');
    assert.equal(invalid.code, 1);
    assert.equal(invalid.stdout, "");
    assert.match(invalid.stderr, /^zest: TaskValidationError: invalid Sum: b: /m);
  });
});

Deno.test("zest cancel: a running task, then one already ended", async () => {
  await withServer(WORKFLOW, async (server) => {
    const id = await zestOk(server, "submit", "lab", "Sleep", '{"ms":10000}');
    const cancelled = await zest(server, "cancel", id);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, `cancelled ${id}\n`);
    const again = await zest(server, "cancel", id, "--json");
    assert.equal(again.code, 1);
    assert.deepEqual(JSON.parse(again.stdout), { taskId: id, cancelled: false });
    const unknown = await zest(server, "cancel", "no-such-id");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /UnknownTaskError: no task with id 'no-such-id'/);
  });
});

Deno.test("zest queue: a serial queue in running order, the task holding it first", async () => {
  await withServer(WORKFLOW, async (server) => {
    const holding = await zestOk(server, "submit", "lab", "Sleep", '{"ms":10000}');
    const low = await zestOk(server, "submit", "lab", "Sleep", '{"ms":1}');
    const high = await zestOk(server, "submit", "lab", "Sleep", '{"ms":1}', "--priority", "7");
    const table = await zest(server, "queue", "lab");
    assert.equal(table.code, 0, table.stderr);
    const ids = table.stdout.split("\n").slice(1).filter(Boolean).map((line) =>
      line.split(/ +/)[2]
    );
    assert.deepEqual(ids, [holding, high, low]);
    assert.match(table.stdout, new RegExp(`^1 +7 +${high} +queued +Sleep`, "m"));
    const json = JSON.parse((await zest(server, "queue", "lab", "--json")).stdout);
    assert.deepEqual(json.map((task: { id: string }) => task.id), [holding, high, low]);
    const unknown = await zest(server, "queue", "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /UnknownServiceError: no service named 'nope'/);
    await zest(server, "cancel", holding);
  });
});

Deno.test("zest submit: priority, key, dependencies and expiry", async () => {
  await withServer(WORKFLOW, async (server) => {
    const key = `cli-${crypto.randomUUID()}`;
    const keyed = await zestOk(
      server,
      "submit",
      "lab",
      "Sum",
      '{"a":2,"b":2}',
      "--key",
      key,
      "--priority=-5",
      "--expires-in",
      "1h",
    );
    assert.equal(
      await zestOk(server, "submit", "lab", "Sum", '{"a":2,"b":2}', "--key", key),
      keyed,
    );
    const conflict = await zest(server, "submit", "lab", "Sum", '{"a":2,"b":3}', "--key", key);
    assert.equal(conflict.code, 1);
    assert.match(conflict.stderr, /^zest: TaskConflictError: key .* with other fields/m);
    const record = JSON.parse(await zestOk(server, "status", keyed, "--json"));
    assert.equal(record.priority, -5);
    assert.equal(record.key, key);
    const expiresIn = record.deadline - record.createdAt;
    assert.ok(Math.abs(expiresIn - 3_600_000) < 1_000, `deadline ${expiresIn} ms after creation`);
    const shown = await zestOk(server, "status", keyed, "--wait");
    assert.match(shown, /^priority\s+-5$/m);
    assert.match(shown, new RegExp(`^key\\s+${key}$`, "m"));
    assert.match(shown, /^deadline\s+\S+ \(expires if not started\)$/m);

    const failing = await zestOk(server, "submit", "lab", "Fail");
    const cancelled = await zest(
      server,
      "submit",
      "lab",
      "Sum",
      '{"a":1,"b":1}',
      "--after",
      failing,
      "--wait",
    );
    assert.equal(cancelled.code, 1);
    assert.match(cancelled.stderr, new RegExp(`^DependencyFailedError: .*${failing}`, "m"));
    const runs = await zest(
      server,
      "submit",
      "lab",
      "Sum",
      '{"a":1,"b":1}',
      "--after",
      `${failing},${keyed}`,
      "--on-dependency-failure",
      "run",
      "--wait",
    );
    assert.equal(runs.code, 0, runs.stderr);
    assert.equal(runs.stdout, "2 V\n");
    const unknown = await zest(server, "submit", "lab", "Sum", '{"a":1,"b":1}', "--after", "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^zest: UnknownTaskError: .*'nope'/m);

    // A serial task still queued at its deadline ends expired, and never runs.
    const blocker = await zestOk(server, "submit", "lab", "Sleep", '{"ms":30000}');
    const expired = await zest(
      server,
      "submit",
      "lab",
      "Sleep",
      '{"ms":1}',
      "--expires-in",
      "50ms",
      "--wait",
    );
    assert.equal(expired.code, 1);
    assert.match(expired.stderr, /^ExpiredError: /m);
    await zestOk(server, "cancel", blocker);
    const range = await zest(server, "submit", "lab", "Sum", '{"a":1,"b":1}', "--priority", "5000");
    assert.equal(range.code, 2);
    assert.match(range.stderr, /--priority must be a whole number from -1000 to 1000, got '5000'/);
  });
});

Deno.test("zest submit: each bad option is a usage error naming it", async () => {
  const submit = ["submit", "lab", "Sum", '{"a":1,"b":1}'];
  const cases: [string[], RegExp][] = [
    [["--priority", "1.5"], /--priority must be a whole number from -1000 to 1000, got '1.5'/],
    [["--priority", "high"], /--priority must be a whole number/],
    [["--key", ""], /--key must not be empty/],
    [["--after", "a,,b"], /--after has an empty item/],
    [
      ["--after", "a", "--on-dependency-failure", "maybe"],
      /--on-dependency-failure must be cancel or run, got 'maybe'/,
    ],
    [["--on-dependency-failure", "run"], /--on-dependency-failure needs --after/],
    [["--expires-in", "soon"], /--expires-in must be a duration like 30s/],
    [["--expires-in=-5s"], /--expires-in must be a duration like 30s/],
    [["--expires-in", "-5s"], /Option '--expires-in' argument is ambiguous/],
    [["--expires-in", "0s"], /--expires-in must be from 1 ms to 2147483647 ms, got '0s'/],
    [["--expires-in", "30d"], /--expires-in must be from 1 ms to 2147483647 ms/],
    [["--attributes", "[1]"], /--attributes must be a JSON object/],
    [["--cursor", "x"], /submit does not take --cursor/],
  ];
  for (const [options, message] of cases) {
    const run = await zest(NOWHERE, ...submit, ...options);
    assert.equal(run.code, 2, `${options.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, options.join(" "));
    assert.match(run.stderr, /\(deno task zest --help for usage\)/);
  }
});

Deno.test("zest tasks: a table, filters, pages and --json", async () => {
  await withServer(WORKFLOW, async (server) => {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      ids.push(
        JSON.parse(
          await zestOk(server, "submit", "lab", "Sum", `{"a":${i},"b":0}`, "--wait", "--json"),
        ).id,
      );
    }
    const failed = JSON.parse(
      (await zest(server, "submit", "lab", "Fail", "--wait", "--json")).stdout,
    );
    const newest = [failed.id, ...ids.toReversed()];

    const table = await zest(server, "tasks", "--service", "lab");
    assert.equal(table.code, 0, table.stderr);
    const lines = table.stdout.trimEnd().split("\n");
    assert.match(lines[0], /^ID\s+STATE\s+CREATED \(UTC\)\s+DURATION\s+TYPE\s+SERVICE\s+RESULT$/);
    assert.deepEqual(lines.slice(1, 7).map((line) => line.split(/\s+/)[0]), newest);
    assert.match(
      lines[1],
      /^\S+\s+failed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d+ ms\s+Fail\s+lab\s+RangeError: it broke$/,
    );
    assert.match(lines[2], /^\S+\s+succeeded\s.*\s+Sum\s+lab\s+"4 V"$/);

    const page = await zest(server, "tasks", "--service", "lab", "--limit", "2");
    assert.equal(page.code, 0, page.stderr);
    assert.deepEqual(
      page.stdout.trimEnd().split("\n").slice(1).map((line) => line.split(/\s+/)[0]),
      newest.slice(0, 2),
    );
    const cursor = page.stderr.match(/^zest: more tasks: add --cursor (\S+) \(or --all/m)?.[1];
    assert.ok(cursor, page.stderr);
    const next = JSON.parse(
      await zestOk(
        server,
        "tasks",
        "--service",
        "lab",
        "--limit",
        "2",
        "--cursor",
        cursor,
        "--json",
      ),
    );
    assert.deepEqual(next.records.map((r: { id: string }) => r.id), newest.slice(2, 4));
    assert.equal(typeof next.next, "string");

    const all = await zestOk(
      server,
      "tasks",
      "--service",
      "lab",
      "--limit",
      "2",
      "--all",
      "--json",
    );
    const records = all.split("\n").map((line) => JSON.parse(line));
    assert.deepEqual(records.slice(0, 6).map((r) => r.id), newest, "one task per line, every page");
    const allTable = await zest(server, "tasks", "--service", "lab", "--limit", "2", "--all");
    assert.equal(allTable.stderr, "", "no more pages to tell of");
    assert.equal(allTable.stdout.trimEnd().split("\n").length, records.length + 1);

    const failures = JSON.parse(
      await zestOk(server, "tasks", "--state", "failed,expired", "--since", "10m", "--json"),
    );
    assert.deepEqual(failures.records.map((r: { id: string }) => r.id), [failed.id]);
    // Repeated, --state adds up as the comma form does (it used to keep only the last).
    const repeated = JSON.parse(
      await zestOk(
        server,
        "tasks",
        "--service",
        "lab",
        "--state",
        "failed",
        "--state",
        "succeeded",
        "--json",
      ),
    );
    assert.deepEqual(repeated.records.map((r: { id: string }) => r.id).slice(0, 6), newest);
    const byType = JSON.parse(await zestOk(server, "tasks", "--type", "Fail", "--json"));
    assert.deepEqual(byType.records.map((r: { id: string }) => r.id), [failed.id]);
    const old = await zestOk(server, "tasks", "--until", "2000-01-01");
    assert.equal(old, "no tasks");
    const window = JSON.parse(
      await zestOk(
        server,
        "tasks",
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        "2100-01-01",
        "--json",
      ),
    );
    assert.ok(window.records.length >= 6);
  });
});

Deno.test("zest tasks: each bad filter is a usage error naming it", async () => {
  const cases: [string[], RegExp][] = [
    [["--state", "done"], /--state: 'done' is not a task state \(states: waiting, queued, running/],
    [["--state", "failed,"], /--state has an empty item/],
    [["--since", "yesterday"], /--since must be a date like 2026-11-29 .* or a time ago like 2h/],
    [["--until", "2026-13-45"], /--until must be a date/],
    [
      ["--since", "2026-11-31"],
      /--since must be a date that exists, got '2026-11-31': 2026-11 has 30/,
    ],
    [["--until", "2026-02-30"], /--until must be a date that exists, got '2026-02-30'/],
    [["--since", "1h", "--until", "2h"], /--since \(1h\) must be before --until \(2h\)/],
    [["--limit", "0"], /--limit must be a whole number from 1 to 1000, got '0'/],
    [["--limit", "1001"], /--limit must be a whole number from 1 to 1000/],
    [["--service", ""], /--service must not be empty/],
    [["--service", "a", "--service", "b"], /--service is given twice: give it once/],
    [["--limit", "5", "--limit=6"], /--limit is given twice: give it once/],
    [["--wait"], /tasks does not take --wait/],
    [["extra"], /tasks takes no argument, got 'extra'/],
  ];
  for (const [options, message] of cases) {
    const run = await zest(NOWHERE, "tasks", ...options);
    assert.equal(run.code, 2, `${options.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, options.join(" "));
  }
});

Deno.test("zest delete and rerun: an ended task; refusals for live and unknown ones", async () => {
  await withServer(WORKFLOW, async (server) => {
    const failed = JSON.parse(
      (await zest(server, "submit", "lab", "Fail", '{"message":"again"}', "--wait", "--json"))
        .stdout,
    );
    const rerun = await zest(server, "rerun", failed.id, "--wait");
    assert.equal(rerun.code, 1);
    assert.match(rerun.stderr, /^RangeError: again$/m);
    const copy = await zestOk(server, "rerun", failed.id);
    assert.match(copy, UUID);
    assert.notEqual(copy, failed.id);
    await zest(server, "status", copy, "--wait");
    const record = JSON.parse((await zest(server, "status", copy, "--json")).stdout);
    assert.equal(record.rerunOf, failed.id);
    assert.deepEqual(record.fields, { message: "again" });
    const shown = await zest(server, "status", copy);
    assert.equal(shown.code, 1, "the copy failed as the task it re-runs did");
    assert.match(shown.stdout, new RegExp(`^rerun of\\s+${failed.id}$`, "m"));

    assert.equal(await zestOk(server, "delete", failed.id), `deleted ${failed.id}`);
    const gone = await zest(server, "status", failed.id);
    assert.equal(gone.code, 1);
    const again = await zest(server, "delete", failed.id);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^zest: UnknownTaskError: no task with id/m);
    const unknownRerun = await zest(server, "rerun", "no-such-id");
    assert.equal(unknownRerun.code, 1);
    assert.match(unknownRerun.stderr, /^zest: UnknownTaskError: no task with id 'no-such-id'/m);

    const live = await zestOk(server, "submit", "lab", "Sleep", '{"ms":30000}');
    const busy = await zest(server, "delete", live);
    assert.equal(busy.code, 1);
    assert.match(
      busy.stderr,
      new RegExp(`^zest: TaskConflictError: task ${live} is (queued|running)`, "m"),
    );
    await zestOk(server, "cancel", live);
    await zest(server, "status", live, "--wait");
    assert.deepEqual(JSON.parse(await zestOk(server, "delete", live, "--json")), {
      taskId: live,
      deleted: true,
    });
    for (
      const args of [["delete"], ["delete", "a", "b"], ["rerun"], ["rerun", "--wait", "a", "b"]]
    ) {
      const run = await zest(NOWHERE, ...args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, /(needs <id>|takes one <id>)/);
    }
  });
});

Deno.test("zest delete: refusals leave the server taking tasks", async () => {
  // A refused delete must not take the task manager down (it restarts only so many times).
  await withServer(WORKFLOW, async (server) => {
    for (let i = 0; i < 4; i++) {
      const refused = await zest(server, "delete", `no-such-id-${i}`);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /UnknownTaskError/);
    }
    const after = await zest(server, "submit", "lab", "Sum", '{"a":1,"b":1}', "--wait");
    assert.equal(after.code, 0, after.stderr);
    assert.equal(after.stdout, "2 V\n");
  });
});

Deno.test("zest graph: the DOT around a task, as it is; --json {dot}", async () => {
  await withServer(WORKFLOW, async (server) => {
    const first = await zestOk(server, "submit", "lab", "Sum", '{"a":1,"b":1}');
    const second = await zestOk(server, "submit", "lab", "Sum", '{"a":1,"b":2}', "--after", first);
    await zestOk(server, "status", second, "--wait");
    const dot = await zest(server, "graph", second);
    assert.equal(dot.code, 0, dot.stderr);
    assert.match(dot.stdout, /^digraph tasks \{$/m);
    assert.ok(dot.stdout.includes(`"${first}" -> "${second}";`), dot.stdout);
    assert.ok(
      dot.stdout.includes(`succeeded ${second.slice(-8)}`),
      "labels show the last 8 digits",
    );
    assert.match(
      dot.stdout,
      /label="Sum\\nlab\\nsucceeded/,
      "DOT escapes stay as Graphviz reads them",
    );
    const json = JSON.parse(await zestOk(server, "graph", second, "--json"));
    assert.equal(json.dot, dot.stdout);
    const unknown = await zest(server, "graph", "no-such-id");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^zest: UnknownTaskError: no task with id 'no-such-id'/m);
  });
});

Deno.test("zest store: kind, records (and path and size for a file)", async () => {
  await withServer(WORKFLOW, async (server) => {
    await zestOk(server, "submit", "lab", "Sum", '{"a":1,"b":1}', "--wait");
    const stats = JSON.parse(await zestOk(server, "store", "--json"));
    assert.ok(stats.kind === "memory" || stats.kind === "sqlite", stats.kind);
    assert.ok(stats.records >= 1);
    const shown = await zestOk(server, "store");
    assert.match(shown, new RegExp(`^store\\s+${stats.kind}$`, "m"));
    assert.match(shown, new RegExp(`^records\\s+${stats.records}$`, "m"));
    if (stats.path) assert.match(shown, /^size\s+[\d.]+ (B|KiB|MiB|GiB) on disk$/m);
  });
});

Deno.test("zest schedules and schedule pause|resume|run", async () => {
  await withServer(WORKFLOW, async (server) => {
    const table = await zestOk(server, "schedules");
    assert.match(
      table,
      /^NAME\s+SERVICE\s+WHEN\s+STATE\s+LAST RUN \(UTC\)\s+NEXT RUN \(UTC\)\s+RUNS\s+SKIPS$/m,
    );
    assert.match(
      table,
      /^daily\s+lab\s+every 1d\s+scheduled\s+-\s+\d{4}-\d\d-\d\d 00:00:00\s+\d+\s+0$/m,
    );
    assert.match(
      table,
      /^yearly\s+greeter\s+cron 0 0 1 1 \* \(UTC\)\s+scheduled\s+-\s+\d{4}-01-01 00:00:00\s+0\s+0$/m,
    );

    const paused = JSON.parse(await zestOk(server, "schedule", "pause", "yearly", "--json"));
    assert.equal(paused.state, "paused");
    assert.equal(paused.nextRunAt, undefined);
    assert.match(
      await zestOk(server, "schedules"),
      /^yearly\s+greeter\s+cron .*\s+paused\s+-\s+-\s+0\s+0$/m,
    );
    assert.match(
      await zestOk(server, "schedule", "resume", "yearly"),
      /^yearly\s+.*\s+scheduled\s/m,
    );

    const before = JSON.parse(await zestOk(server, "schedules", "--json"))
      .find((s: { name: string }) => s.name === "daily").runs;
    const ran = JSON.parse(await zestOk(server, "schedule", "run", "daily", "--json"));
    assert.ok(ran.runs >= before + 1, JSON.stringify(ran));
    const scheduled = JSON.parse(await zestOk(server, "tasks", "--service", "lab", "--json"));
    assert.ok(scheduled.records.some((r: { schedule?: string }) => r.schedule === "daily"));

    const unknown = await zest(server, "schedule", "pause", "nope");
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^zest: .*schedule 'nope'/m);
    const cases: [string[], RegExp][] = [
      [["schedule"], /schedule needs an action: pause, resume or run$/m],
      [["schedule", "stop", "daily"], /schedule needs an action: pause, resume or run, got 'stop'/],
      [["schedule", "run"], /schedule run needs <name>/],
      [["schedule", "run", "a", "b"], /schedule run takes one <name>, got also 'b'/],
      [["schedules", "daily"], /schedules takes no argument, got 'daily'/],
    ];
    for (const [args, message] of cases) {
      const run = await zest(NOWHERE, ...args);
      assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message);
    }
  });
});

Deno.test("zest watch --service: a service the server does not have is refused, not waited on", async () => {
  await withServer(WORKFLOW, async (server) => {
    // Killed after 20 s if it waits: it must answer at once.
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [...await taskArgs("zest"), "watch", "--service", "nope"],
      cwd: REPO_ROOT,
      env: { ZEST_TOKEN: server.token, ZEST_URL: server.wsUrl.href },
      stdin: "null",
      signal: AbortSignal.timeout(20_000),
    }).output();
    const text = new TextDecoder().decode(stderr);
    assert.equal(code, 1, text);
    assert.match(text, /^zest: no service named 'nope'$/m);
    assert.doesNotMatch(text, /watching events/);
  });
});

Deno.test("zest watch: progress and output while a task runs; --service filters", async () => {
  await withServer(WORKFLOW, async (server) => {
    const text = await watchUntil(
      server,
      ["--service", "reporter"],
      (text) => /succeeded\s+\S+\s+Report on reporter/.test(text),
      () =>
        Promise.all([
          zest(server, "submit", "lab", "Sum", '{"a":1,"b":1}'),
          zest(server, "submit", "reporter", "Report", '{"steps":3}'),
        ]),
    );
    const id = text.match(/succeeded\s+(\S+)\s+Report on reporter/)?.[1] as string;
    const lines = text.split("\n").filter((line) => line.includes(id));
    assert.ok(lines.some((line) => / progress\s+\S+\s+33% step 1$/.test(line)), text);
    assert.ok(lines.some((line) => / progress\s+\S+\s+100% step 3$/.test(line)), text);
    assert.ok(lines.some((line) => / output\s+\S+\s+line 2$/.test(line)), text);
    assert.doesNotMatch(text, /Sum on lab/, "other services' tasks are filtered out");
    assert.doesNotMatch(text, /^\S+\s+service\s+lab /m);
  });
});

Deno.test("zest watch --json: one event per line, live", async () => {
  await withServer(WORKFLOW, async (server) => {
    const text = await watchUntil(
      server,
      ["--json", "--service", "reporter"],
      (text) => /"state":"succeeded"/.test(text),
      () => zest(server, "submit", "reporter", "Report", '{"steps":2}'),
    );
    const events = text.trim().split("\n").map((line) => JSON.parse(line));
    const kinds = new Set(events.map((event) => event.kind));
    for (const kind of ["task", "progress", "output"]) assert.ok(kinds.has(kind), kind);
    assert.ok(
      events.filter((e) => e.kind === "task").every((e) => e.record.service === "reporter"),
    );
    assert.ok(events.some((e) => e.kind === "output" && e.output.text === "line 2\n"));
  });
});

Deno.test("zest: human output shows control characters escaped; --json keeps them", async () => {
  await withServer(WORKFLOW, async (server) => {
    const fields = JSON.stringify({ name: HOSTILE });
    const waited = await zest(server, "submit", "greeter", "Greeting", fields, "--wait");
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, `Hello ${HOSTILE_SHOWN} from greeter\n`);
    const json = await zestOk(server, "submit", "greeter", "Greeting", fields, "--wait", "--json");
    assert.equal(JSON.parse(json).result, `Hello ${HOSTILE} from greeter`);

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

    const id = await zestOk(
      server,
      "submit",
      "lab",
      "Sum",
      '{"a":1,"b":2}',
      "--attributes",
      JSON.stringify({ note: HOSTILE }),
      "--key",
      HOSTILE,
    );
    const status = await zest(server, "status", id, "--wait");
    assert.equal(status.code, 0, status.stderr);
    assert.ok(status.stdout.includes(HOSTILE_TAIL_SHOWN), status.stdout);
    assert.ok(status.stdout.includes(`key        ${HOSTILE_SHOWN}`), status.stdout);
    assert.doesNotMatch(status.stdout, RAW_CONTROL);
    const tasks = await zestOk(server, "tasks");
    assert.ok(tasks.includes(HOSTILE_TAIL_SHOWN), tasks);
    assert.doesNotMatch(tasks, RAW_CONTROL);
  });
});

Deno.test("zest watch shows control characters escaped", async () => {
  await withServer(WORKFLOW, async (server) => {
    const fields = JSON.stringify({ name: HOSTILE });
    const text = await watchUntil(
      server,
      ["--service", "greeter"],
      (text) => /succeeded .*Greeting on greeter .*Hello/.test(text),
      () => zest(server, "submit", "greeter", "Greeting", fields),
    );
    assert.ok(text.includes(HOSTILE_TAIL_SHOWN), text);
    assert.doesNotMatch(text, RAW_CONTROL);
  });
});

Deno.test("zest --token-file: the token from a file in .zest/, or from standard input", async () => {
  await withServer(WORKFLOW, async (server) => {
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

    const outside = await zestWith(server, { env }, "services", "--token-file", "/etc/hostname");
    assert.equal(outside.code, 2);
    assert.match(outside.stderr, /may read only \.zest\/; .*--token-file - < \/etc\/hostname/);
    const empty = await zestWith(server, { env, stdin: "" }, "services", "--token-file", "-");
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /the token in --token-file standard input is not usable/);
    const both = await zest(server, "services", "--token", server.token, "--token-file", "-");
    assert.equal(both.code, 2);
    assert.match(both.stderr, /--token or --token-file, not both/);
  });
});

Deno.test("zest: a malformed --timeout, --url or --token is a usage error", async () => {
  for (const timeout of ["1e400", "0", "-5", "1.5", "2147483648", "soon"]) {
    const run = await zest(
      NOWHERE,
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
    const run = await zest(NOWHERE, "services", "--url", url);
    assert.equal(run.code, 2, `--url ${url}: ${run.stderr}`);
    assert.match(run.stderr, message);
  }
  const fromEnv = await zestWith(NOWHERE, { env: { ZEST_URL: "localhost:8787" } }, "services");
  assert.equal(fromEnv.code, 2, fromEnv.stderr);
  assert.match(fromEnv.stderr, /ZEST_URL must be a ws: wss: http: https: URL/);
  for (const token of ["short", "has space 0123456789abcdef", "x".repeat(513)]) {
    const run = await zest(NOWHERE, "services", "--token", token);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /the token in --token is not usable/);
  }
});

Deno.test("zest: usage errors name the argument; an option a command does not take is one", async () => {
  const cases: [string[], RegExp][] = [
    [["launch"], /unknown command 'launch'/],
    [["submit", "lab", "Sum", "{a:1}"], /fields must be JSON/],
    [["submit", "lab"], /submit needs <service> <type>/],
    [["submit", "lab", "Sum", "{}", "extra"], /unexpected argument 'extra'/],
    [["services", "--colour"], /Unknown option '--colour'/],
    [["services", "--wait"], /services does not take --wait/],
    [["status", "a", "--priority", "1"], /status does not take --priority/],
    [["watch", "--all"], /watch does not take --all/],
    [["status"], /status needs <id>/],
    [["status", "a", "b"], /status takes one <id>, got also 'b'/],
    [["graph"], /graph needs <id>/],
    [["store", "x"], /store takes no argument, got 'x'/],
    [["codegen", "cobol"], /codegen needs a language: python, got 'cobol'/],
  ];
  for (const [args, message] of cases) {
    const run = await zest(NOWHERE, ...args);
    assert.equal(run.code, 2, `${args.join(" ")}: ${run.stderr}`);
    assert.match(run.stderr, message, args.join(" "));
  }
  const noCommand = await zest(NOWHERE);
  assert.equal(noCommand.code, 2);
  assert.match(noCommand.stderr, /^usage: deno task zest <command>/);
  const help = await zest(NOWHERE, "--help");
  assert.equal(help.code, 0);
  for (
    const command of [
      "submit <service>",
      "tasks",
      "delete <id>",
      "rerun <id>",
      "graph <id>",
      "store",
      "schedules",
      "schedule pause|resume|run <name>",
    ]
  ) {
    assert.ok(help.stdout.includes(`  ${command}`), command);
  }
  const unreachable = await zest(NOWHERE, "services");
  assert.equal(unreachable.code, 1);
  assert.match(unreachable.stderr, /^zest: could not connect to ws:\/\/127\.0\.0\.1:9\//m);
});

Deno.test("zest: a wrong token is refused plainly", async () => {
  await withServer(WORKFLOW, async (server) => {
    const wrongToken = await zest(server, "services", "--token", "wrong-token-0123456789abcdef");
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /unauthorized: the server at .* refused the token/);
  });
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

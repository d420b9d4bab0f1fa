/**
 * Nothing lost across a restart (issue 12), with real `deno task start`
 * processes and real files: `kill -9` and Ctrl-C (SIGINT) with a backlog,
 * acknowledgements that mean "on disk", outcomes fetched by id after a
 * reconnect, a service gone from the config, retention on time, a file that
 * stops growing, the four refusals at start and the migration of an older
 * file. Each test has its own directory under `.zest/` (which the start task
 * may write) with a config for `test/fixtures/restart.ts`.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { Client, type TaskOutcome, type TaskRecordSummary } from "../src/mod.ts";
import { isTerminal } from "../src/task/record.ts";
import { SqliteTaskStore } from "../src/store/mod.ts";
import { api, REPO_ROOT, type ServerProcess, startServer, taskArgs } from "./helpers/server.ts";
import { until } from "./helpers/poll.ts";

const V1_FIXTURE = `${REPO_ROOT}/src/store/testdata/v1.db`;

/** A line of `ran.log`: a handler started. */
interface Ran {
  id: string;
  what: string;
  n: number;
  attempt: number;
}

/** One test's directory under `.zest/`, its config and its files. */
class TestDir {
  /** Relative to the repository root, as the config sees it. */
  readonly dir = `.zest/restart-test-${crypto.randomUUID().slice(-12)}`;
  readonly abs = `${REPO_ROOT}/${this.dir}`;
  readonly db = `${this.abs}/zest.db`;
  readonly config = `${this.dir}/zest.config.ts`;

  constructor(options: { extra?: boolean; store?: unknown } = {}) {
    Deno.mkdirSync(this.abs, { recursive: true });
    this.writeConfig(options);
  }

  /** (Re)write the config: `extra` runs service `extra` too; `store` replaces the default. */
  writeConfig(options: { extra?: boolean; store?: unknown } = {}): void {
    Deno.writeTextFileSync(
      `${this.abs}/zest.config.ts`,
      `import { restartConfig } from "../../test/fixtures/restart.ts";\n` +
        `export default () => restartConfig(${JSON.stringify({ dir: this.dir, ...options })});\n`,
    );
  }

  /** What the handlers saw, in the order they started. */
  ran(): Ran[] {
    let text = "";
    try {
      text = Deno.readTextFileSync(`${this.abs}/ran.log`);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    return text.split("\n").filter(Boolean).map((line) => {
      const [id, what, n, attempt] = line.split(" ");
      return { id, what, n: Number(n), attempt: Number(attempt) };
    });
  }

  /** `deno task start` on this directory's config; stopped (killed) by `inTestDir` at the end. */
  async start(): Promise<ServerProcess> {
    const server = await startServer({ config: this.config, store: null });
    this.#servers.push(server);
    return server;
  }

  readonly #servers: ServerProcess[] = [];

  async cleanup(): Promise<void> {
    for (const server of this.#servers) await server.stop("SIGKILL");
    Deno.chmodSync(this.abs, 0o755);
    Deno.removeSync(this.abs, { recursive: true });
  }
}

/** Run `test` in a fresh test directory; its servers are killed and it is removed afterwards. */
async function inTestDir(
  options: { extra?: boolean },
  test: (dir: TestDir) => Promise<void>,
): Promise<void> {
  const dir = new TestDir(options);
  try {
    await test(dir);
  } finally {
    await dir.cleanup();
  }
}

/** The banner's store line. */
function storeLine(server: ServerProcess): string {
  return server.stdout.find((line) => line.startsWith("zest: store ")) ?? "(no store line)";
}

/** Every summary `client.tasks(query)` pages through, `limit` at a time. */
async function listAll(
  client: Client,
  query: Parameters<Client["tasks"]>[0],
): Promise<TaskRecordSummary[]> {
  const all: TaskRecordSummary[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await client.tasks({ ...query, cursor });
    all.push(...page.records);
    if (page.next === undefined) return all;
    cursor = page.next;
  }
}

/**
 * Run `deno task start` with `config` and check that it refuses the store:
 * exit code 1, one line on stderr that starts with the refusal and `cause`
 * (the file and the reason), nothing served.
 */
async function assertRefused(config: string, cause: string): Promise<void> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("start"), "--config", config, "--port", "0"],
    cwd: REPO_ROOT,
    env: { ZEST_TOKEN: "test-token-0123456789abcdefghij" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // A start that does not refuse would listen for ever: killed, and the test fails.
    signal: AbortSignal.timeout(60_000),
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  const stderr = new TextDecoder().decode(output.stderr).trim();
  assert.doesNotMatch(stdout, /listening on/, "the refused runtime must not serve");
  assert.equal(output.code, 1, stderr);
  assert.equal(stderr.split("\n").length, 1, stderr);
  assert.ok(stderr.startsWith(`zest: cannot open the task store: ${cause}`), stderr);
}

function errorName(outcome: TaskOutcome | undefined): string | undefined {
  return outcome?.status === "error" ? outcome.ename : undefined;
}

Deno.test("restart: kill -9 with 200 serial tasks queued and parallel ones running; after a restart every task ends exactly once, in FIFO order, and the running ones end InterruptedError (or run again: onInterrupt requeue)", () =>
  inTestDir({}, async (test) => {
    let server = await test.start();
    let client = await Client.connect(server.wsUrl, { token: server.token });
    const steps: string[] = [];
    steps.push(
      (await client.request("line", { type: "Step", fields: { n: 0, hold: true } })).taskId,
    );
    for (let n = 1; n <= 200; n++) {
      steps.push((await client.request("line", { type: "Step", fields: { n } })).taskId);
    }
    const holds: string[] = [];
    for (let n = 1; n <= 5; n++) {
      holds.push((await client.request("line", { type: "Hold", fields: { n } })).taskId);
    }
    const again = (await client.request("line", { type: "Again", fields: { n: 0 } })).taskId;
    const echoes: string[] = [];
    for (let i = 0; i < 10; i++) {
      const request = await client.request("line", { type: "Echo", fields: { text: `e${i}` } });
      assert.equal((await request.outcome).status, "ok");
      echoes.push(request.taskId);
    }
    await until(() => test.ran().length === 7, "the serial holder, the holds and Again run");
    await client.close();
    assert.equal(await server.stop("SIGKILL"), 137);

    server = await test.start();
    assert.match(storeLine(server), /: 200 queued tasks and 7 interrupted tasks taken up$/);
    assert.ok(storeLine(server).startsWith(`zest: store ${test.dir}/zest.db (SQLite, `));
    // A client that reconnects asks for outcomes by id.
    client = await Client.connect(server.wsUrl, { token: server.token });
    const ids = [...steps, ...holds, again, ...echoes];
    const outcomes = new Map<string, TaskOutcome | undefined>();
    await Promise.all(ids.map(async (id) => outcomes.set(id, await client.outcome(id))));

    assert.equal(errorName(outcomes.get(steps[0])), "InterruptedError");
    for (let n = 1; n <= 200; n++) {
      assert.deepEqual(outcomes.get(steps[n]), { status: "ok", id: steps[n], result: n });
    }
    for (const id of holds) assert.equal(errorName(outcomes.get(id)), "InterruptedError");
    const interrupted = outcomes.get(holds[0]);
    assert.match(
      interrupted?.status === "error" ? interrupted.evalue : "",
      /the runtime stopped while the task ran \(attempt 1\); it was not run again/,
    );
    assert.deepEqual(outcomes.get(again), { status: "ok", id: again, result: 0 });
    const againRecord = await client.status(again);
    assert.equal(againRecord?.attempts, 2);
    assert.deepEqual(
      againRecord?.log.filter((entry) => entry.state === "running").map((entry) => entry.message),
      ["attempt 1", "attempt 2"],
      "its record shows both attempts",
    );
    assert.ok(againRecord?.log.some((entry) => /queued again/.test(entry.message)));
    // Records from before the crash are all there: result and log.
    for (const [i, id] of echoes.entries()) {
      const record = await client.status(id);
      assert.deepEqual(record?.outcome, { status: "ok", id, result: `e${i}` });
      assert.ok(record?.log.some((entry) => entry.message === `echo e${i}`));
    }

    // Each task ran once (Again twice: attempts 1 and 2), the serial ones in FIFO order.
    const ran = test.ran();
    const runs = new Map<string, number[]>();
    for (const { id, attempt } of ran) runs.set(id, [...runs.get(id) ?? [], attempt]);
    for (const id of [...steps, ...holds, again]) {
      assert.deepEqual(runs.get(id), id === again ? [1, 2] : [1], id);
    }
    assert.deepEqual(
      ran.filter((line) => line.what === "Step").map((line) => line.n),
      Array.from({ length: 201 }, (_, n) => n),
    );

    // The history lists each task once, ended, newest first; filters and paging work through the store.
    const listed = await listAll(client, { service: "line", limit: 37 });
    assert.deepEqual(listed.map((record) => record.id), [...ids].reverse());
    assert.ok(listed.every((record) => isTerminal(record.state)));
    const failed = await listAll(client, { state: "failed", limit: 4 });
    assert.deepEqual(failed.map((record) => record.id), [...holds].reverse().concat(steps[0]));
    const response = await api(server, "/tasks?type=Step&state=succeeded&limit=150");
    const page = await response.json();
    assert.deepEqual(
      page.records.map((record: TaskRecordSummary) => record.id),
      steps.slice(51).reverse(),
    );
    const rest = await (await api(server, `/tasks?type=Step&state=succeeded&cursor=${page.next}`))
      .json();
    assert.deepEqual(
      rest.records.map((record: TaskRecordSummary) => record.id),
      steps.slice(1, 51).reverse(),
    );
    assert.equal(rest.next, undefined);
    // And over HTTP, the outcome of a task from before the crash.
    const waited = await api(server, `/tasks/${steps[200]}/outcome?wait=30s`);
    assert.deepEqual(await waited.json(), { status: "ok", id: steps[200], result: 200 });

    const stats = await (await api(server, "/store")).json();
    assert.equal(stats.kind, "sqlite");
    assert.equal(stats.path, test.db);
    assert.equal(stats.records, ids.length);
    assert.ok(stats.bytes > 0);
    await client.close();
    assert.equal(await server.stop("SIGINT"), 0);
  }));

Deno.test("restart: a 202 means on disk: tasks acknowledged just before a kill -9 are there after the restart", () =>
  inTestDir({}, async (test) => {
    let server = await test.start();
    const post = (n: number, hold = false) =>
      api(server, "/tasks", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ service: "line", type: "Step", fields: { n, hold } }),
      });
    assert.equal((await post(0, true)).status, 202);
    const acknowledged: string[] = [];
    let killed = false;
    await Promise.all(Array.from({ length: 300 }, async (_, i) => {
      try {
        const response = await post(i + 1);
        if (response.status !== 202) return void await response.body?.cancel();
        const { taskId } = await response.json();
        acknowledged.push(taskId);
        // Killed the moment the 100th acknowledgement arrives, submissions still in flight.
        if (acknowledged.length === 100 && !killed) {
          killed = true;
          server.child.kill("SIGKILL");
        }
      } catch {
        // Cut off by the kill.
      }
    }));
    assert.ok(killed);
    await server.stop("SIGKILL");

    server = await test.start();
    for (const id of acknowledged) {
      const response = await api(server, `/tasks/${id}`);
      assert.equal(response.status, 200, `acknowledged task ${id} lost`);
      await response.body?.cancel();
    }
    const stats = await (await api(server, "/store")).json();
    assert.ok(stats.records >= acknowledged.length + 1);
  }));

Deno.test("restart: Ctrl-C keeps the backlog for the next start, which runs it in order; a task whose service left the config ends UnknownServiceError with a log line", () =>
  inTestDir({ extra: true }, async (test) => {
    let server = await test.start();
    let client = await Client.connect(server.wsUrl, { token: server.token });
    const submit = async (service: string, type: string, fields: Record<string, unknown>) =>
      (await client.request(service, { type, fields })).taskId;
    const holder = await submit("line", "Step", { n: 0, hold: true });
    const backlog: string[] = [];
    for (let n = 1; n <= 50; n++) backlog.push(await submit("line", "Step", { n }));
    const again = await submit("line", "Again", { n: 1 });
    const extraHolder = await submit("extra", "Step", { n: 0, hold: true });
    const extraQueued = [
      await submit("extra", "Step", { n: 1 }),
      await submit("extra", "Step", { n: 2 }),
    ];
    await until(() => test.ran().length === 3, "the holders and Again run");
    await client.close();
    assert.equal(await server.stop("SIGINT"), 0);
    assert.ok(server.stdout.some((line) => /queued tasks stay in the store/.test(line)));

    test.writeConfig({ extra: false });
    server = await test.start();
    // 50 queued, Again queued again at the stop, 2 of the service that left.
    assert.match(storeLine(server), /: 53 queued tasks taken up$/);
    client = await Client.connect(server.wsUrl, { token: server.token });
    const outcome = (id: string) => client.outcome(id);
    for (const [i, id] of backlog.entries()) {
      assert.deepEqual(await outcome(id), { status: "ok", id, result: i + 1 });
    }
    assert.deepEqual(await outcome(again), { status: "ok", id: again, result: 1 });
    assert.equal((await client.status(again))?.attempts, 2);
    for (const id of [holder, extraHolder]) {
      const ended = await outcome(id);
      assert.equal(errorName(ended), "InterruptedError");
      assert.equal(
        ended?.status === "error" && ended.evalue,
        "the runtime stopped while the task ran",
      );
    }
    for (const id of extraQueued) {
      assert.equal(errorName(await outcome(id)), "UnknownServiceError");
      const record = await client.status(id);
      assert.ok(
        record?.log.some((entry) =>
          entry.message ===
            "recovered from the store after a restart, but service 'extra' is not in this runtime's config: it cannot run"
        ),
        JSON.stringify(record?.log),
      );
    }
    assert.deepEqual(
      test.ran().filter((line) => line.what === "Step").map((line) => line.n),
      [0, 0, ...Array.from({ length: 50 }, (_, n) => n + 1)],
    );
    await client.close();
  }));

Deno.test("restart: retention removes a record on time with nothing else happening, and the file stops growing under a steady load", () =>
  inTestDir({}, async (test) => {
    const server = await test.start();
    const client = await Client.connect(server.wsUrl, { token: server.token });
    const { taskId, outcome } = await client.request("line", { type: "Brief", fields: {} });
    await outcome;
    const record = await client.status(taskId);
    assert.equal((record?.expiresAt ?? 0) - (record?.finishedAt ?? 0), 1_000, "Brief's own ttl");
    await until(async () => {
      const response = await api(server, `/tasks/${taskId}`);
      await response.body?.cancel();
      return response.status === 404;
    }, "the record leaves retention");

    // Rounds of 3 000 tasks kept 1 s: once a round has expired, the pages it used are free.
    const checkpointer = new DatabaseSync(test.db, { timeout: 10_000 });
    const sizes: number[] = [];
    try {
      for (let round = 0; round < 8; round++) {
        let issued = 0;
        await Promise.all(Array.from({ length: 100 }, async () => {
          while (issued++ < 3_000) await client.execute("line", { type: "Brief", fields: {} });
        }));
        await until(async () => (await client.store()).records === 0, "the round expires");
        checkpointer.exec("PRAGMA wal_checkpoint(PASSIVE)");
        sizes.push(Deno.statSync(test.db).size);
      }
    } finally {
      checkpointer.close();
    }
    const stats = await client.store();
    console.log(
      `database file after each round of 3 000 tasks: ${sizes.join(", ")} bytes; ` +
        `GET /store: ${stats.bytes} bytes with the WAL and the intent log`,
    );
    // Without page reuse every round would add as much as the first took.
    const early = Math.max(...sizes.slice(0, 3));
    assert.ok(Math.max(...sizes.slice(3)) <= early * 2, `grew: ${sizes.join(", ")}`);
    await client.close();
  }));

Deno.test("restart: a store that cannot be used is refused at start, naming the file and the cause", () =>
  inTestDir({}, async (test) => {
    // 1. A second runtime on the same file.
    const first = await test.start();
    await assertRefused(
      test.config,
      `${test.db} is in use by another Zest runtime (pid ${first.child.pid})`,
    );
    assert.equal(await first.stop("SIGINT"), 0);

    // 2. A damaged file.
    const store = new SqliteTaskStore({ path: test.db });
    await store.open();
    await store.close();
    const bytes = Deno.readFileSync(test.db);
    bytes.fill(0x5a, 8192, 8192 * 2); // the second page: the tasks table's root
    Deno.writeFileSync(test.db, bytes);
    await assertRefused(test.config, `${test.db} is corrupt (`);

    // 3. A file written by a newer Zest.
    Deno.removeSync(test.db);
    const fresh = new SqliteTaskStore({ path: test.db });
    await fresh.open();
    await fresh.close();
    const db = new DatabaseSync(test.db);
    db.exec("UPDATE zest_schema SET version = 99");
    db.close();
    await assertRefused(
      test.config,
      `${test.db} was written by a newer Zest (schema version 99; this one knows up to 2)`,
    );

    // 4. A directory it may not write: outside what `deno task start` may write...
    const outside = Deno.makeTempDirSync({ dir: "/var/tmp", prefix: "zest-refusal-" });
    try {
      test.writeConfig({ store: { path: `${outside}/zest.db` } });
      await assertRefused(
        test.config,
        `cannot write in ${outside}, the directory of ${outside}/zest.db: Deno was not given write access to it (--allow-write)`,
      );
    } finally {
      Deno.removeSync(outside, { recursive: true });
    }
    // ...and, where file permissions bind (not as root), one whose mode forbids it.
    if (Deno.uid() !== 0) {
      const locked = `${test.abs}/locked`;
      Deno.mkdirSync(locked, { mode: 0o555 });
      Deno.chmodSync(locked, 0o555);
      test.writeConfig({ store: { path: `${test.dir}/locked/zest.db` } });
      await assertRefused(
        test.config,
        `cannot write in ${locked}, the directory of ${locked}/zest.db: permission denied`,
      );
      Deno.chmodSync(locked, 0o755);
    }
  }));

Deno.test("restart: a file of an older schema is migrated at start and its tasks taken up", () =>
  inTestDir({}, async (test) => {
    Deno.copyFileSync(V1_FIXTURE, test.db);
    const server = await test.start();
    assert.match(
      storeLine(server),
      /\(SQLite, [\d.]+ MB, 5 records\): 1 queued task, 1 waiting task and 1 interrupted task taken up; migrated from schema version 1$/,
    );
    // The fixture's service `lab` is not in this config: what was unfinished ends saying so.
    const client = await Client.connect(server.wsUrl, { token: server.token });
    const listed = await listAll(client, { key: "calibrate-q5" });
    assert.equal(listed.length, 1);
    assert.equal(errorName(await client.outcome(listed[0].id)), "UnknownServiceError");
    const all = await listAll(client, { limit: 2 });
    assert.equal(all.length, 5);
    assert.ok(all.every((record) => isTerminal(record.state)));
    await client.close();
  }));

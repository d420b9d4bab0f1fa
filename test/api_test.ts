/**
 * End to end against the real server process (`deno task start` flags):
 * remote client, HTTP API, auth, bad input, disconnects, clean shutdown.
 * Each test starts its own server, so one failure does not carry into the
 * next; tasks that must still be running when a test looks are held behind
 * a serial `Sleep` the test cancels, never raced against a clock.
 */
import assert from "node:assert/strict";
import {
  Client,
  TaskExecutionError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskTypeError,
} from "../src/mod.ts";
import { CONNECTION_LOST } from "../src/transport/websocket/port.ts";
import { MAX_UNAUTHENTICATED_SOCKETS } from "../src/api/server.ts";
import { MAX_WAITS_PER_CONNECTION } from "../src/api/socket.ts";
import {
  api,
  REPO_ROOT,
  type ServerProcess,
  startServer,
  stillRunning,
  TEST_TOKEN,
} from "./helpers/server.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A raw WebSocket (not the client), and its messages as they come. */
async function rawSocket(server: ServerProcess, protocols?: string[]) {
  const socket = new WebSocket(server.wsUrl, protocols);
  const queue: unknown[] = [];
  const waiters: ((message: unknown) => void)[] = [];
  socket.onmessage = (event) => {
    const message = JSON.parse(event.data);
    const waiter = waiters.shift();
    if (waiter) waiter(message);
    else queue.push(message);
  };
  const closed = new Promise<CloseEvent>((resolve) => socket.onclose = resolve);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  return {
    socket,
    closed,
    // deno-lint-ignore no-explicit-any -- protocol frames, read field by field in assertions
    next: (): Promise<any> =>
      queue.length
        ? Promise.resolve(queue.shift())
        : new Promise((resolve) => waiters.push(resolve)),
    send: (message: unknown) =>
      socket.send(typeof message === "string" ? message : JSON.stringify(message)),
    /** What comes first: a message, or the close (with its code). */
    // deno-lint-ignore no-explicit-any -- protocol frames, read field by field in assertions
    first: (): Promise<{ message?: any; closed?: number }> =>
      Promise.race([
        (queue.length
          ? Promise.resolve(queue.shift())
          : new Promise((resolve) => waiters.push(resolve)))
          .then((message) => ({ message })),
        closed.then((event) => ({ closed: event.code })),
      ]),
    async close() {
      socket.close();
      await closed;
    },
  };
}

/**
 * Send `head` (request line and headers) over a plain TCP connection and
 * return the status line: unlike `fetch`, it sends the `Host` we say.
 */
async function rawStatus(server: ServerProcess, head: string[]): Promise<string> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port: Number(server.url.port) });
  try {
    await connection.write(new TextEncoder().encode(`${head.join("\r\n")}\r\n\r\n`));
    const buffer = new Uint8Array(4_096);
    const read = await connection.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, read ?? 0)).split("\r\n")[0];
  } finally {
    connection.close();
  }
}

/** The head of a WebSocket upgrade to `/`. */
function upgradeHead(host: string, extra: string[] = []): string[] {
  return [
    "GET / HTTP/1.1",
    `Host: ${host}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    ...extra,
  ];
}

/** The `TaskExecutionError` that `execution` rejects with. */
async function failure(execution: Promise<unknown>): Promise<TaskExecutionError> {
  const error = await execution.then(() => undefined, (e) => e);
  assert.ok(error instanceof TaskExecutionError, `expected a TaskExecutionError, got ${error}`);
  return error;
}

// deno-lint-ignore no-explicit-any -- response bodies, read field by field in assertions
async function json(response: Response): Promise<any> {
  return await response.json();
}

/** Run `test` with a server of the basic config (or `config`), stopped cleanly after. */
async function withServer(
  test: (server: ServerProcess) => Promise<void>,
  config = "test/fixtures/basic.config.ts",
): Promise<void> {
  const server = await startServer({ config });
  try {
    await test(server);
  } finally {
    assert.equal(await server.stop(), 0);
  }
}

/** Run `test` with a remote client of `server`, closed after. */
async function withClient(
  server: ServerProcess,
  test: (client: Client) => Promise<void>,
): Promise<void> {
  const client = await Client.connect(server.wsUrl, { token: server.token });
  try {
    await test(client);
  } finally {
    await client.close();
  }
}

/** `POST /tasks` with `body`; its `{ taskId }`. */
async function submit(server: ServerProcess, body: unknown): Promise<{ taskId: string }> {
  const response = await api(server, "/tasks", { method: "POST", body: JSON.stringify(body) });
  assert.equal(response.status, 202);
  return await response.json();
}

/**
 * Submit a task that holds `lab`'s serial lane until the test cancels it
 * (`Sleep` is serial; 60 s is its longest): what comes after it waits,
 * deterministically, for as long as the test needs.
 */
function holdLab(server: ServerProcess): Promise<{ taskId: string }> {
  return submit(server, { service: "lab", type: "Sleep", fields: { ms: 60_000 } });
}

/** `POST /tasks/:id/cancel`, which must cancel it. */
async function cancel(server: ServerProcess, taskId: string): Promise<void> {
  const response = await api(server, `/tasks/${taskId}/cancel`, { method: "POST" });
  assert.deepEqual(await response.json(), { cancelled: true });
}

/** Poll task `taskId` until it is in `state`, failing after a generous deadline. */
async function untilState(server: ServerProcess, taskId: string, state: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const record = await json(await api(server, `/tasks/${taskId}`));
    if (record.state === state) return;
    if (Date.now() > deadline) throw new Error(`task ${taskId} is ${record.state}, not ${state}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test("server: the banner says where the API, dashboard and token are", async () => {
  await withServer((server) => {
    const banner = server.stdout.join("\n");
    assert.match(banner, /listening on http:\/\/127\.0\.0\.1:\d+\//);
    // The link without the token: stdout is what service managers log.
    assert.ok(banner.includes(`dashboard ${server.url}`));
    assert.ok(!banner.includes(TEST_TOKEN));
    assert.match(banner, /token from the ZEST_TOKEN environment variable/);
    return Promise.resolve();
  });
});

Deno.test("remote client: request and execute, same shapes as in-process", async () => {
  await withServer((server) =>
    withClient(server, async (client) => {
      const request = await client.request("greeter", {
        type: "Greeting",
        fields: { name: "Ada" },
      });
      assert.match(request.taskId, UUID);
      assert.deepEqual(await request.outcome, {
        status: "ok",
        id: request.taskId,
        result: "Hello Ada from greeter",
      });
      assert.equal(await client.execute("lab", { type: "Sum", fields: { a: 2, b: 3 } }), "5 V");
      const failed = await failure(client.execute("lab", { type: "Fail", fields: {} }));
      assert.equal(failed.ename, "RangeError");
      assert.equal(failed.evalue, "it broke");

      const record = await client.status(request.taskId);
      assert.equal(record?.state, "succeeded");
      assert.deepEqual(record?.fields, { greeting: "Hello", name: "Ada" });
      assert.deepEqual(await client.outcome(request.taskId), await request.outcome);
      assert.equal(await client.status("no-such-task"), undefined);
      assert.equal(await client.outcome("no-such-task"), undefined);
    })
  );
});

Deno.test("remote client: refusals at the door are typed errors, and no task", async () => {
  await withServer((server) =>
    withClient(server, async (client) => {
      // Refused at the door, like HTTP's 422 and 404: no task id, a typed error.
      await assert.rejects(
        client.request("lab", { type: "Sum", fields: { a: "x" } }),
        (error: unknown) => {
          assert.ok(error instanceof TaskValidationError, String(error));
          assert.match(error.message, /^invalid Sum: a: .*expected number/);
          assert.deepEqual(error.issues.map((issue) => issue.path), ["a", "b"]);
          return true;
        },
      );
      await assert.rejects(
        client.execute("lab", { type: "Sum", fields: { a: "x" } }),
        TaskValidationError,
      );
      await assert.rejects(
        client.execute("nope", { type: "Sum" }),
        (error: unknown) =>
          error instanceof UnknownServiceError &&
          /no service named 'nope' \(services: greeter, lab\)/.test(error.message),
      );
      await assert.rejects(client.request("lab", { type: "Nope" }), UnknownTaskTypeError);
      assert.deepEqual((await client.tasks()).records, [], "no task was made");
    })
  );
});

Deno.test("remote client: services with their schemas; task lists carry summaries", async () => {
  await withServer((server) =>
    withClient(server, async (client) => {
      const services = await client.services();
      assert.deepEqual(services.map((s) => s.name), ["greeter", "lab"]);
      const sum = services[1].taskTypes.find((type) => type.name === "Sum");
      assert.deepEqual(sum?.schema.required, ["a", "b"]);
      for (let i = 0; i < 3; i++) {
        await client.execute("lab", { type: "Sum", fields: { a: i, b: 1 } });
      }
      const greeting = await client.request("greeter", {
        type: "Greeting",
        fields: { name: "Ada" },
      });
      await greeting.outcome;
      assert.equal((await client.tasks({ service: "lab", limit: 2 })).records.length, 2);
      // Lists carry summaries: no fields, log or outcome; a brief of the outcome.
      const [summary] = (await client.tasks({ service: "greeter", limit: 1 })).records;
      assert.equal(summary.id, greeting.taskId);
      assert.ok(!("outcome" in summary) && !("fields" in summary) && !("log" in summary));
      assert.deepEqual(summary.brief, { status: "ok", text: '"Hello Ada from greeter"' });
    })
  );
});

Deno.test("remote client: 100 in flight, events, cancel", async () => {
  await withServer((server) =>
    withClient(server, async (client) => {
      const events: string[] = [];
      let withOutcome = 0;
      const unwatch = client.watch((event) => {
        if (event.kind !== "task") return;
        events.push(`${event.record.id}:${event.record.state}`);
        if ("outcome" in event.record) withOutcome++;
      });
      const results = await Promise.all(
        Array.from(
          { length: 100 },
          (_, i) => client.execute("lab", { type: "Sum", fields: { a: i, b: 1 } }),
        ),
      );
      assert.deepEqual(results, Array.from({ length: 100 }, (_, i) => `${i + 1} V`));
      const slow = await client.request("lab", { type: "Sleep", fields: { ms: 60_000 } });
      assert.equal(await client.cancel(slow.taskId), true);
      const outcome = await slow.outcome;
      assert.equal(outcome.status === "error" && outcome.ename, "CancelledError");
      assert.equal(await client.cancel(slow.taskId), false);
      unwatch();
      assert.ok(events.includes(`${slow.taskId}:cancelled`), "a cancelled event arrived");
      assert.equal(withOutcome, 0, "events carry no outcome: fetch it by id");
      // Every task is announced queued first, parallel ones too.
      const queued = events.filter((event) => event.endsWith(":queued")).length;
      assert.ok(queued >= 101, `${queued} queued events`);
    })
  );
});

Deno.test("HTTP: submit, record, outcome, list, services", async () => {
  await withServer(async (server) => {
    const submitted = await api(server, "/tasks", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        service: "greeter",
        type: "Greeting",
        fields: { name: "Grace" },
        attributes: { notebook: "n1" },
      }),
    });
    assert.equal(submitted.status, 202);
    const { taskId } = await json(submitted);
    assert.match(taskId, UUID);
    assert.equal(submitted.headers.get("location"), `/tasks/${taskId}`);

    const outcome = await api(server, `/tasks/${taskId}/outcome?wait=30s`);
    assert.equal(outcome.status, 200);
    assert.deepEqual(await json(outcome), {
      status: "ok",
      id: taskId,
      result: "Hello Grace from greeter",
    });
    const record = await json(await api(server, `/tasks/${taskId}`));
    assert.equal(record.state, "succeeded");
    assert.deepEqual(record.attributes, { notebook: "n1" });
    assert.deepEqual(record.log.map((entry: { state?: string }) => entry.state), [
      "running",
      "succeeded",
    ]);

    const { records: list } = await json(await api(server, "/tasks?service=greeter&limit=1"));
    assert.equal(list.length, 1);
    assert.equal(list[0].id, taskId);
    assert.equal(list[0].outcome, undefined, "lists carry no outcome: GET it by id");
    assert.deepEqual(list[0].brief, { status: "ok", text: '"Hello Grace from greeter"' });

    const services = await json(await api(server, "/services"));
    const greeting = services[0].taskTypes[0];
    assert.equal(greeting.name, "Greeting");
    assert.deepEqual(greeting.schema.properties.name, { type: "string" });
  });
});

Deno.test("HTTP: a wait that runs out answers 202 with the state; a cancel ends the task", async () => {
  await withServer(async (server) => {
    const { taskId } = await holdLab(server);
    await untilState(server, taskId, "running");
    const pending = await api(server, `/tasks/${taskId}/outcome?wait=100ms`);
    assert.equal(pending.status, 202);
    assert.deepEqual(await json(pending), { id: taskId, state: "running" });
    await cancel(server, taskId);
    const cancelled = await json(await api(server, `/tasks/${taskId}/outcome?wait=30s`));
    assert.equal(cancelled.ename, "CancelledError");
  });
});

Deno.test("auth: HTTP without the right bearer token is 401 and nothing else", async () => {
  await withServer(async (server) => {
    const expectUnauthorized = async (response: Response) => {
      assert.equal(response.status, 401);
      assert.deepEqual(await response.json(), { error: "unauthorized" });
    };
    await expectUnauthorized(await api(server, "/services", { token: null }));
    await expectUnauthorized(
      await api(server, "/services", { token: "wrong-token-0123456789abcdef" }),
    );
    // The token in a query string is not accepted (it would end up in logs).
    await expectUnauthorized(
      await api(server, `/services?token=${server.token}`, { token: null }),
    );
    // Routes are not revealed without the token.
    await expectUnauthorized(await api(server, "/no/such/route", { token: null }));
    await expectUnauthorized(
      await api(server, "/tasks", { method: "POST", body: "{}", token: null }),
    );
    await expectUnauthorized(
      await api(server, "/services", {
        token: null,
        headers: { authorization: "Basic Zm9vOmJhcg==" },
      }),
    );
  });
});

Deno.test("auth: a WebSocket needs the token on the upgrade or as its first message", async () => {
  await withServer(async (server) => {
    await assert.rejects(
      Client.connect(server.wsUrl, { token: "wrong-token-0123456789abcdef" }),
      /unauthorized/,
    );
    // First-message auth: a wrong token closes the socket with 1008.
    const wrong = await rawSocket(server);
    wrong.send({ type: "auth", token: "wrong-token-0123456789abcdef" });
    assert.equal((await wrong.closed).code, 1008);
    // Anything but auth first closes it too.
    const early = await rawSocket(server);
    early.send({ type: "services", ref: 1 });
    assert.equal((await early.closed).code, 1008);
    // The right token works, with the subprotocol echoed.
    const right = await rawSocket(server, ["zest.v1"]);
    assert.equal(right.socket.protocol, "zest.v1");
    right.send({ type: "auth", token: server.token });
    assert.deepEqual(await right.next(), { type: "auth", ok: true });
    right.send({ type: "services", ref: "r1" });
    const reply = await right.next();
    assert.equal(reply.ref, "r1");
    assert.equal(reply.services.length, 2);
    await right.close();
  });
});

Deno.test("the dashboard shell needs no token and holds no secret", async () => {
  await withServer(async (server) => {
    const page = await api(server, "/", { token: null });
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(!html.includes(server.token));
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'none'/);
  });
});

Deno.test("re-auth: the right token again is fine, a wrong one closes", async () => {
  await withServer(async (server) => {
    const ws = await rawSocket(server, ["zest.v1", `token.${server.token}`]);
    ws.send({ type: "auth", token: server.token });
    assert.deepEqual(await ws.next(), { type: "auth", ok: true });
    ws.send({ type: "auth", token: "wrong-token-0123456789abcdef" });
    ws.send({ type: "services", ref: 1 });
    assert.deepEqual(await ws.first(), { closed: 1008 }, "closed, and nothing answered");
  });
});

Deno.test("before auth: a binary or oversized first message closes at once", async () => {
  await withServer(async (server) => {
    const binary = await rawSocket(server);
    binary.socket.send(new Uint8Array(1_000_000));
    assert.deepEqual(await binary.first(), { closed: 1008 }, "closed, not answered");
    const oversized = await rawSocket(server);
    oversized.send({ type: "auth", token: "x".repeat(5_000) });
    assert.deepEqual(await oversized.first(), { closed: 1008 });
    const big = await rawSocket(server);
    big.send("x".repeat(1_000_000));
    assert.deepEqual(await big.first(), { closed: 1008 });
  });
});

Deno.test("unauthenticated sockets are capped; authenticated ones are not", async () => {
  await withServer(async (server) => {
    const waiting = [];
    for (let i = 0; i < MAX_UNAUTHENTICATED_SOCKETS; i++) waiting.push(await rawSocket(server));
    await assert.rejects(rawSocket(server), "one more waiting to authenticate is refused");
    const status = await rawStatus(server, upgradeHead(`127.0.0.1:${server.url.port}`));
    assert.match(status, /^HTTP\/1\.1 503/);
    // With the token on the upgrade, a connection never waits.
    await withClient(server, async (client) => {
      assert.equal((await client.services()).length, 2);
    });
    // One authenticates: its place is free again.
    waiting[0].send({ type: "auth", token: server.token });
    assert.deepEqual(await waiting[0].next(), { type: "auth", ok: true });
    const next = await rawSocket(server);
    await Promise.all([...waiting, next].map((ws) => ws.close()));
  });
});

Deno.test("a foreign Origin or Host is refused (CSRF, DNS rebinding)", async () => {
  await withServer(async (server) => {
    const port = server.url.port;
    const bearer = `Authorization: Bearer ${server.token}`;
    const get = (host: string) =>
      rawStatus(server, ["GET /services HTTP/1.1", `Host: ${host}`, bearer]);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
      assert.match(await get(host), /^HTTP\/1\.1 200/, host);
    }
    for (
      const host of [`evil.example:${port}`, "127.0.0.1:1", `attacker.127.0.0.1.nip.io:${port}`]
    ) {
      assert.match(await get(host), /^HTTP\/1\.1 403/, host);
    }
    const own = `127.0.0.1:${port}`;
    const protocols = `Sec-WebSocket-Protocol: zest.v1, token.${server.token}`;
    assert.match(
      await rawStatus(server, upgradeHead(`evil.example:${port}`, [protocols])),
      /^HTTP\/1\.1 403/,
    );
    assert.match(
      await rawStatus(server, upgradeHead(own, [protocols, "Origin: http://evil.example"])),
      /^HTTP\/1\.1 403/,
    );
    assert.match(
      await rawStatus(server, upgradeHead(own, [protocols, "Origin: null"])),
      /^HTTP\/1\.1 403/,
    );
    // The dashboard's own origin, and no Origin at all (not a browser), may connect.
    assert.match(
      await rawStatus(server, upgradeHead(own, [protocols, `Origin: http://${own}`])),
      /^HTTP\/1\.1 101/,
    );
    assert.match(await rawStatus(server, upgradeHead(own, [protocols])), /^HTTP\/1\.1 101/);
    // A browser's WebSocket from another page: refused before any message.
    const foreign = new WebSocket(server.wsUrl, {
      protocols: ["zest.v1", `token.${server.token}`],
      headers: { origin: "http://evil.example" },
    } as unknown as string[]);
    const failed = await new Promise<boolean>((resolve) => {
      foreign.onopen = () => resolve(false);
      foreign.onerror = () => resolve(true);
    });
    assert.ok(failed, "the upgrade from a foreign origin failed");
  });
});

Deno.test("waits per connection are capped; the rest get an error", async () => {
  await withServer(async (server) => {
    const { taskId } = await holdLab(server);
    const ws = await rawSocket(server, ["zest.v1", `token.${server.token}`]);
    const extra = 50;
    for (let i = 0; i < MAX_WAITS_PER_CONNECTION + extra; i++) {
      ws.send({ type: "wait", ref: i, taskId });
    }
    ws.send({ type: "services", ref: "after" });
    const errors: string[] = [];
    for (let reply = await ws.next(); reply.ref !== "after"; reply = await ws.next()) {
      if (reply.type === "error") errors.push(reply.error);
    }
    assert.equal(errors.length, extra);
    assert.match(errors[0], /too many waits on this connection: at most 10000 at once/);
    // The task ends: each accepted wait hears it.
    await cancel(server, taskId);
    for (let i = 0; i < MAX_WAITS_PER_CONNECTION; i++) {
      const reply = await ws.next();
      assert.equal(reply.outcome?.ename, "CancelledError");
    }
    await ws.close();
  });
});

/** `POST /tasks` with a raw `body`. */
function post(server: ServerProcess, body: BodyInit): Promise<Response> {
  return api(server, "/tasks", { method: "POST", body });
}

/** `response` has `status` and a JSON error matching `pattern`; its body. */
// deno-lint-ignore no-explicit-any -- response bodies, read field by field in assertions
async function refusedWith(response: Response, status: number, pattern: RegExp): Promise<any> {
  assert.equal(response.status, status);
  const body = await response.json();
  assert.match(body.error, pattern);
  return body;
}

Deno.test("HTTP bad bodies: 400 or 413, naming the problem", async () => {
  await withServer(async (server) => {
    await refusedWith(await post(server, "{not json"), 400, /malformed JSON body/);
    await refusedWith(await post(server, ""), 400, /body is empty/);
    await refusedWith(await post(server, "[1,2]"), 400, /must be a JSON object/);
    await refusedWith(
      await post(server, JSON.stringify({ service: "lab" })),
      400,
      /bad task: type/,
    );
    await refusedWith(
      await post(server, JSON.stringify({ service: "lab", type: "Sum", feilds: {} })),
      400,
      /Unrecognized key.*feilds/,
    );
    // The fixture's limit is 64 KiB.
    await refusedWith(
      await post(
        server,
        JSON.stringify({ service: "lab", type: "Sum", fields: { pad: "x".repeat(70_000) } }),
      ),
      413,
      /exceeds the limit of 65536 bytes/,
    );
    // A chunked body without a length is cut off too.
    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(8_192).fill(32));
        controller.close();
      },
    });
    await refusedWith(await post(server, chunked), 413, /exceeds the limit/);
    // Nothing unreadable got in: the lists still answer, and hold no task.
    const list = await api(server, "/tasks?limit=1000");
    assert.deepEqual((await json(list)).records, []);
  });
});

Deno.test("HTTP unknowns: 404 naming what is unknown; 405 with Allow", async () => {
  await withServer(async (server) => {
    const unknownService = await refusedWith(
      await post(server, JSON.stringify({ service: "nope", type: "Sum" })),
      404,
      /no service named 'nope' \(services: greeter, lab\)/,
    );
    assert.equal(unknownService.name, "UnknownServiceError");
    await refusedWith(
      await post(server, JSON.stringify({ service: "lab", type: "Nope" })),
      404,
      /service 'lab' has no task type 'Nope'/,
    );
    await refusedWith(await api(server, "/nowhere"), 404, /no route GET \/nowhere/);
    await refusedWith(await api(server, "/tasks/nope"), 404, /no task with id 'nope'/);
    await refusedWith(await api(server, "/tasks/nope/outcome"), 404, /no task with id 'nope'/);
    await refusedWith(
      await api(server, "/tasks/nope/cancel", { method: "POST" }),
      404,
      /no task/,
    );
    const wrongMethod = await api(server, "/services", { method: "DELETE" });
    assert.equal(wrongMethod.headers.get("allow"), "GET");
    await refusedWith(wrongMethod, 405, /DELETE is not allowed on \/services/);
    for (const [path, allow] of [["/services", "GET"], ["/tasks", "GET, POST"]]) {
      const head = await api(server, path, { method: "HEAD" });
      assert.equal(head.status, 405, `HEAD ${path}`);
      assert.equal(head.headers.get("allow"), allow);
      await head.body?.cancel();
    }
  });
});

Deno.test("HTTP bounds at the door: fields, nesting, names, durations are 422, naming the problem", async () => {
  await withServer(async (server) => {
    const invalid = await refusedWith(
      await post(
        server,
        JSON.stringify({ service: "lab", type: "Sum", fields: { a: 1, b: "2" } }),
      ),
      422,
      /invalid Sum: b: .*expected number/,
    );
    assert.deepEqual(invalid.issues.map((issue: { path: string }) => issue.path), ["b"]);
    const deep = JSON.parse("[".repeat(5_000) + "]".repeat(5_000));
    const tooDeep = await refusedWith(
      await post(
        server,
        JSON.stringify({
          service: "lab",
          type: "Sum",
          fields: { a: 1, b: 1 },
          attributes: { deep },
        }),
      ),
      422,
      /invalid Sum: attributes: nested deeper than the limit of 32 levels/,
    );
    assert.equal(tooDeep.name, "TaskValidationError");
    assert.deepEqual(tooDeep.issues.map((issue: { path: string }) => issue.path), ["attributes"]);
    await refusedWith(
      await post(
        server,
        JSON.stringify({ service: "lab", type: "Sum", fields: { a: 1, b: 1, deep } }),
      ),
      422,
      /the fields are nested deeper than the limit of 32 levels/,
    );
    await refusedWith(
      await post(server, JSON.stringify({ service: "s".repeat(300), type: "Sum" })),
      422,
      /service: 's+…' is 300 characters, over the limit of 200/,
    );
    await refusedWith(
      await post(
        server,
        JSON.stringify({ service: "lab", type: "Sum", fields: { a: 1, b: 1 }, timeoutMs: 3e9 }),
      ),
      422,
      /timeoutMs: must be at most 2147483647 ms/,
    );
    // Nothing refused got in: the lists still answer, and hold no task.
    const list = await api(server, "/tasks?limit=1000");
    assert.deepEqual((await json(list)).records, []);
  });
});

Deno.test("HTTP bad queries and waits: 400 naming the parameter", async () => {
  await withServer(async (server) => {
    const { taskId } = await submit(server, {
      service: "lab",
      type: "Sum",
      fields: { a: 1, b: 1 },
    });
    await refusedWith(
      await api(server, `/tasks/${taskId}/outcome?wait=soon`),
      400,
      /wait must look like/,
    );
    await refusedWith(await api(server, "/tasks?state=sleeping"), 400, /bad query: state/);
    await refusedWith(await api(server, "/tasks?limit=0"), 400, /bad query: limit/);
  });
});

Deno.test("WebSocket garbage: an error naming it, and the connection stays", async () => {
  await withServer(async (server) => {
    const ws = await rawSocket(server, ["zest.v1", `token.${server.token}`]);
    const expectError = async (message: unknown, pattern: RegExp, ref?: unknown) => {
      ws.send(message);
      const reply = await ws.next();
      assert.equal(reply.type, "error");
      assert.match(reply.error, pattern);
      assert.equal(reply.ref, ref);
    };
    await expectError("this is not json", /malformed JSON/);
    await expectError("[1]", /must be a JSON object/);
    await expectError({ ref: 1 }, /unknown message type undefined/, 1);
    await expectError({ type: "explode", ref: 2 }, /unknown message type "explode"/, 2);
    await expectError({ type: "get", ref: 3 }, /bad 'get' message: taskId/, 3);
    await expectError({ type: "services" }, /bad 'services' message: ref/);
    await expectError(
      { type: "submit", ref: 4, service: "lab", task: { type: "Sum" }, extra: true },
      /Unrecognized key.*extra/,
      4,
    );
    await expectError(
      { type: "list", ref: 5, query: { limit: -1 } },
      /bad 'list' message: query.limit/,
      5,
    );
    // A submission that fails validation is refused at the door: no task id.
    ws.send({
      type: "submit",
      ref: 8,
      service: "lab",
      task: { type: "Sum", fields: { a: "x" } },
    });
    const refused = await ws.next();
    assert.deepEqual(Object.keys(refused).sort(), ["error", "issues", "name", "ref", "type"]);
    assert.equal(refused.type, "error");
    assert.equal(refused.ref, 8);
    assert.equal(refused.name, "TaskValidationError");
    assert.match(refused.error, /^invalid Sum: a: /);
    assert.deepEqual(refused.issues.map((issue: { path: string }) => issue.path), ["a", "b"]);
    ws.send({ type: "submit", ref: 9, service: "lab", task: { type: "Nope" } });
    assert.equal((await ws.next()).name, "UnknownTaskTypeError");
    ws.socket.send(new Uint8Array([1, 2, 3]));
    assert.match((await ws.next()).error, /binary messages are not supported/);
    await expectError(
      { type: "services", ref: 6, pad: "x".repeat(70_000) },
      /exceeds the limit of 65536/,
    );
    // Still serving this connection, and the others.
    ws.send({
      type: "submit",
      ref: 7,
      service: "lab",
      task: { type: "Sum", fields: { a: 1, b: 2 } },
    });
    const accepted = await ws.next();
    assert.equal(accepted.type, "submit");
    assert.equal(accepted.ref, 7);
    const outcome = await ws.next();
    assert.deepEqual(outcome, {
      type: "outcome",
      ref: 7,
      taskId: accepted.taskId,
      outcome: { status: "ok", id: accepted.taskId, result: "3 V" },
    });
    await ws.close();
    assert.equal((await api(server, "/services")).status, 200);
  });
});

Deno.test("a client that leaves mid-task loses nothing: the task runs on, its outcome kept", async () => {
  await withServer(async (server) => {
    // The leaving client's task waits behind a holder: it cannot end before the client leaves.
    const holder = await holdLab(server);
    const first = await Client.connect(server.wsUrl, { token: server.token });
    const request = await first.request("lab", { type: "Sleep", fields: { ms: 1 } });
    const waiting = first.outcome(request.taskId);
    await first.close();
    // The dropped connection ends what was pending, with a clear error.
    const lost = await request.outcome;
    assert.equal(lost.status === "error" && lost.ename, CONNECTION_LOST);
    assert.match(lost.status === "error" ? lost.evalue : "", /client\.outcome/);
    await assert.rejects(waiting, /connection to .* closed/);
    await assert.rejects(first.services(), /closed|not open/);

    await withClient(server, async (second) => {
      assert.equal((await second.status(request.taskId))?.state, "queued", "still there");
      assert.equal(await second.cancel(holder.taskId), true);
      assert.deepEqual(await second.outcome(request.taskId), {
        status: "ok",
        id: request.taskId,
        result: 1,
      });
      assert.equal((await second.status(request.taskId))?.state, "succeeded");
    });
  });
});

Deno.test("a long poll given up by its caller loses nothing", async () => {
  await withServer(async (server) => {
    const holder = await holdLab(server);
    const { taskId } = await submit(server, { service: "lab", type: "Sleep", fields: { ms: 1 } });
    const abort = new AbortController();
    const poll = api(server, `/tasks/${taskId}/outcome?wait=30s`, { signal: abort.signal });
    // One more round trip, so that the poll is (very likely) waiting on the server when it is
    // given up. Either way it cannot have been answered: its task waits behind the holder.
    assert.equal((await api(server, "/services")).status, 200);
    abort.abort();
    await assert.rejects(poll);
    await cancel(server, holder.taskId);
    const later = await api(server, `/tasks/${taskId}/outcome?wait=30s`);
    assert.deepEqual(await later.json(), { status: "ok", id: taskId, result: 1 });
  });
});

Deno.test("server: Ctrl-C ends queued tasks clearly, stops kernels, exits 0", async () => {
  const server = await startServer({ config: "test/fixtures/kernel.config.ts" });
  const client = await Client.connect(server.wsUrl, { token: server.token });
  const running = await client.request("lab", { type: "Sleep", fields: { ms: 30_000 } });
  const queued = await client.request("lab", { type: "Sleep", fields: { ms: 10 } });
  const children = await server.descendants();
  assert.ok(children.length >= 2, "a Jupyter Server and a kernel run");
  assert.equal(await server.stop("SIGINT"), 0);
  for (const request of [running, queued]) {
    const outcome = await request.outcome;
    assert.equal(outcome.status === "error" && outcome.ename, "ServiceStoppedError");
    assert.match(
      outcome.status === "error" ? outcome.evalue : "",
      /stopped before the task finished/,
    );
  }
  assert.match(server.stdout.join("\n"), /zest: stopped/);
  assert.deepEqual(await stillRunning(children), [], "no child process is left");
  await client.close();
});

Deno.test("server: SIGTERM stops it too; the token file is made private", async () => {
  const server = await startServer({ config: "test/fixtures/basic.config.ts", token: null });
  try {
    const path = `${REPO_ROOT}/.zest/token`;
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${REPO_ROOT}/.zest`)).mode! & 0o077, 0);
    assert.equal(server.token, (await Deno.readTextFile(path)).trim());
    assert.match(server.stdout.join("\n"), /token \/.*\/\.zest\/token/);
    assert.equal((await api(server, "/services")).status, 200);
  } finally {
    assert.equal(await server.stop("SIGTERM"), 0);
  }
});

Deno.test("server: a full serial queue answers 429 QueueFullError, and makes no task", async () => {
  const server = await startServer({ config: "test/fixtures/limits.config.ts" });
  try {
    const post = () =>
      api(server, "/tasks", {
        method: "POST",
        body: JSON.stringify({ service: "lab", type: "Sleep", fields: { ms: 30_000 } }),
      });
    // One runs, two wait (the fixture's limit), the next is refused.
    for (let i = 0; i < 3; i++) assert.equal((await post()).status, 202);
    const refused = await post();
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("retry-after"), "1");
    const body = await refused.json();
    assert.equal(body.name, "QueueFullError");
    assert.match(body.error, /service 'lab' has 2 serial tasks waiting \(limit 2\)/);
    assert.equal(
      (await json(await api(server, "/tasks"))).records.length,
      3,
      "no task for the refusal",
    );
    const client = await Client.connect(server.wsUrl, { token: server.token });
    try {
      await assert.rejects(
        client.request("lab", { type: "Sleep", fields: { ms: 1 } }),
        (error: unknown) => (error as Error).name === "QueueFullError",
      );
    } finally {
      await client.close();
    }
  } finally {
    assert.equal(await server.stop(), 0);
  }
});

import assert from "node:assert/strict";
import { ConfigError, loadConfig } from "./config.ts";

/** Load a config file whose default export is `body`, from a fresh directory. */
async function loadWith(body: string) {
  const dir = await Deno.makeTempDir({ prefix: "zest-config-" });
  const path = `${dir}/zest.config.ts`;
  await Deno.writeTextFile(path, `export default ${body};\n`);
  try {
    return { path, config: await loadConfig(path) };
  } catch (error) {
    return { path, error: error as Error };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("config: bad workers options are a ConfigError naming the file and the option", async () => {
  const cases: [string, RegExp][] = [
    [
      "{ services: [], workers: { size: 0 } }",
      /workers\.size must be a whole number from 1 to 256/,
    ],
    ["{ services: [], workers: { size: 1.5 } }", /workers\.size must be a whole number/],
    ["{ services: [], workers: { graceMs: 3e9 } }", /workers\.graceMs/],
    [
      "{ services: [], workers: { colour: 1 } }",
      /unknown option 'workers\.colour' \(known: size, graceMs, maxHeapMb\)$/,
    ],
    ["{ services: [], workers: { stderr: true } }", /unknown option 'workers\.stderr'/],
  ];
  for (const [body, reason] of cases) {
    const { path, error } = await loadWith(body);
    assert.ok(error instanceof ConfigError, `${body}: ${error}`);
    assert.ok(error.message.startsWith(`${path}: `), error.message);
    assert.match(error.message, reason);
  }
  const { config } = await loadWith("{ services: [], workers: { size: 2, graceMs: 500 } }");
  assert.deepEqual(config?.workers, { size: 2, graceMs: 500 });
});

/** Assert that loading a config of `body` fails with a ConfigError naming the file and `reason`. */
async function assertRefused(body: string, reason: RegExp): Promise<void> {
  const { path, error } = await loadWith(body);
  assert.ok(error instanceof ConfigError, `${body}: ${error}`);
  assert.ok(error.message.startsWith(`${path}: `), error.message);
  assert.match(error.message, reason, body);
}

Deno.test("config: an unknown key at any level is a ConfigError naming its path and the known keys", async () => {
  const schedule = `{ name: "s", service: "lab", task: { type: "T" }, every: "1m"`;
  const cases: [string, RegExp][] = [
    [
      `{ services: [], stroe: "memory" }`,
      /unknown option 'stroe' \(known: services, server, manager, schedules, store, workers, cluster\)$/,
    ],
    [
      "{ services: [], server: { prot: 1234 } }",
      /unknown option 'server\.prot' \(known: hostname, port, maxBodyBytes\)$/,
    ],
    [
      "{ services: [], manager: { bogus: 1 } }",
      /unknown option 'manager\.bogus' \(known: mailboxCapacity, maxQueuedPerService, abortGraceMs\)$/,
    ],
    [
      `{ services: [], schedules: [${schedule} }, ${schedule}, evrey: 3 }] }`,
      /unknown option 'schedules\[1\]\.evrey' \(known: name, service, task, every, cron, timezone\)$/,
    ],
    [
      `{ services: [], schedules: [{ name: "s", service: "lab", task: { type: "T", priorty: 1 }, every: "1m" }] }`,
      /unknown option 'schedules\[0\]\.task\.priorty' \(known: type, fields, attributes, timeoutMs/,
    ],
    [
      `{ services: [], store: { path: "x.db", wal: true } }`,
      /unknown option 'store\.wal' \(known: path, synchronous\)$/,
    ],
    [
      `{ services: [], cluster: { nats: { servers: "nats://127.0.0.1:4222" }, nodes: 3 } }`,
      /unknown option 'cluster\.nodes' \(known: nats, settings\)$/,
    ],
    [
      `{ services: [], cluster: { nats: { servers: "nats://127.0.0.1:4222", tokn: "t" } } }`,
      /unknown option 'cluster\.nats\.tokn' \(known: servers, token, user, password, credsFile/,
    ],
    [
      `{ services: [], cluster: { nats: { servers: "nats://127.0.0.1:4222" }, settings: { ackWait: 1 } } }`,
      /unknown option 'cluster\.settings\.ackWait' \(known: ackWaitMs, /,
    ],
  ];
  for (const [body, reason] of cases) await assertRefused(body, reason);
  // The same from a config function: its result is checked as a config object is.
  await assertRefused(`() => ({ services: [], stroe: "memory" })`, /unknown option 'stroe'/);
});

Deno.test("config: known keys at every level load as given", async () => {
  const body = `{
    services: [],
    server: { hostname: "127.0.0.1", port: 0, maxBodyBytes: 1024 },
    manager: { mailboxCapacity: 10, maxQueuedPerService: 5, abortGraceMs: 100 },
    schedules: [{ name: "s", service: "lab", task: { type: "T", priority: 1 }, cron: "0 3 * * *", timezone: "UTC" }],
    store: { path: "x.db", synchronous: "full" },
  }`;
  const { config, error } = await loadWith(body);
  assert.equal(error, undefined);
  assert.deepEqual(config?.manager, {
    mailboxCapacity: 10,
    maxQueuedPerService: 5,
    abortGraceMs: 100,
  });
  assert.deepEqual(config?.store, { path: "x.db", synchronous: "full" });
  assert.equal(config?.schedules?.[0].name, "s");
});

Deno.test("config: a bad manager option is named with its manager. path", async () => {
  await assertRefused(
    "{ services: [], manager: { maxQueuedPerService: -5 } }",
    /: manager\.maxQueuedPerService must be a whole number from 1, got -5$/,
  );
  await assertRefused(
    "{ services: [], manager: { abortGraceMs: -1 } }",
    /: manager\.abortGraceMs /,
  );
  await assertRefused("{ services: [], manager: 3 }", /'manager' must be an object/);
});

Deno.test("config: a config function that throws is a ConfigError naming the file", async () => {
  await assertRefused(
    `() => { throw new RangeError("no instrument on /dev/ttyUSB0"); }`,
    /: the config function failed: RangeError: no instrument on \/dev\/ttyUSB0$/,
  );
  await assertRefused(
    `async () => { throw new Error("lab database unreachable"); }`,
    /: the config function failed: Error: lab database unreachable$/,
  );
});

/**
 * `deno task start --nats URL` with the start task's own permissions:
 * credentials come from the environment (or the config), never the command
 * line, and never reach the banner; a URL carrying credentials, a server
 * that refuses them, or a host outside `--allow-net` each stop the start
 * with a message that says what to do; a cluster process serves HTTP only
 * where asked.
 */
import assert from "node:assert/strict";
import { Client } from "../src/mod.ts";
import { clusterLine, clusterOf } from "../src/cli/cluster_mode.ts";
import { startReplica } from "./helpers/cluster.ts";
import { NatsServer } from "./helpers/nats.ts";
import { REPO_ROOT, taskArgs } from "./helpers/server.ts";

const NATS_TOKEN = "nats-cluster-token-0123456789";

/** Run `deno task start` with `args` to its end: exit code and output. */
async function startFails(args: string[], env: Record<string, string> = {}) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...await taskArgs("start"), "--config", "test/fixtures/cluster.config.ts", ...args],
    cwd: REPO_ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout) + new TextDecoder().decode(output.stderr);
  return { code: output.code, text };
}

Deno.test("cluster cli: the token comes from ZEST_NATS_TOKEN, never shown; without it the server refuses", async () => {
  await using server = await NatsServer.start({ token: NATS_TOKEN });
  const replica = await startReplica({
    config: "test/fixtures/cluster.config.ts",
    nats: server.url,
    env: { ZEST_NATS_TOKEN: NATS_TOKEN },
  });
  try {
    const banner = replica.stdout.join("\n");
    assert.match(
      banner,
      new RegExp(`^zest: cluster ${server.url} \\(hosting greeter, lab, stamp here\\)$`, "m"),
    );
    assert.doesNotMatch(banner, /listening/, "no server: the config has none and no --port");
    assert.ok(!banner.includes(NATS_TOKEN));
    const client = await Client.connect(server.url, { token: NATS_TOKEN });
    assert.equal(await client.execute("lab", { type: "Sum", fields: { a: 1, b: 1 } }), "2 V");
    await client.close();
    await assert.rejects(
      Client.connect(server.url, { token: "wrong-token-0123456789" }),
      /refused the credentials/,
    );
  } finally {
    await replica.stop();
  }
  const refused = await startFails(["--nats", server.url]);
  assert.equal(refused.code, 1);
  assert.match(refused.text, /could not connect to the NATS server .*: it refused the credentials/);
});

Deno.test("cluster cli: credentials in the URL, or a host outside --allow-net, are refused with what to do", async () => {
  const inUrl = await startFails(["--nats", "nats://zest:s3cret-pass@127.0.0.1:4222"]);
  assert.equal(inUrl.code, 1);
  assert.match(inUrl.text, /put no credentials in the URL/);
  assert.ok(!inUrl.text.includes("s3cret-pass"), "the password is not repeated");
  const elsewhere = await startFails(["--nats", "nats://10.255.255.1:4222"]);
  assert.equal(elsewhere.code, 1);
  assert.match(
    elsewhere.text,
    /no network permission for the NATS server 10\.255\.255\.1:4222: run Deno with --allow-net=10\.255\.255\.1:4222/,
  );
});

Deno.test("cluster cli: --nats overrides the config's servers; credentials from the config win over the environment", () => {
  const env = (name: string) => ({ ZEST_NATS_TOKEN: "from-env" } as Record<string, string>)[name];
  assert.deepEqual(clusterOf("nats://127.0.0.1:5222", undefined, env), {
    nats: { servers: "nats://127.0.0.1:5222", token: "from-env" },
  });
  assert.deepEqual(
    clusterOf(
      "nats://127.0.0.1:5222",
      {
        nats: { servers: "nats://other:4222", user: "u", password: "p" },
        settings: { maxDeliver: 3 },
      },
      env,
    ),
    {
      nats: { servers: "nats://127.0.0.1:5222", user: "u", password: "p" },
      settings: { maxDeliver: 3 },
    },
  );
  assert.equal(clusterOf(undefined, undefined, env), undefined, "no cluster: embedded");
  assert.throws(
    () => clusterOf("http://127.0.0.1:4222", undefined, env),
    /--nats: .*not a NATS scheme/,
  );
  assert.throws(
    () =>
      clusterOf(undefined, { nats: { servers: "nats://h:4222" }, settings: { ackWaitMs: 1 } }, env),
    /the config's cluster: cluster settings: ackWaitMs must be a whole number from 500/,
  );
  assert.equal(
    clusterLine({ nats: { servers: ["nats://a:4222", "nats://b:4222"] } }, []),
    "zest: cluster nats://a:4222, nats://b:4222 (a gateway: hosting no service here)",
  );
});

/**
 * The `redis-server` harness (`test/helpers/redis.ts`): it answers on
 * loopback without persistence, a password is enforced, and stopping leaves
 * no process and no folder.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { probe } from "./helpers/daemon.ts";
import { RedisServer } from "./helpers/redis.ts";

async function redisServerRunning(pid: number): Promise<boolean> {
  try {
    return (await Deno.readTextFile(`/proc/${pid}/cmdline`)).includes("redis-server");
  } catch {
    return false;
  }
}

Deno.test("redis harness: loopback, no persistence, password enforced; stop leaves nothing", async () => {
  const password = 'pa ss"wo\\rd';
  const server = await RedisServer.start({ password });
  let workDir = "";
  try {
    assert.match((await probe(server.port, "GET x\r\n")) ?? "", /^-NOAUTH/);

    const redis = new Redis({ host: server.host, port: server.port, password, lazyConnect: true });
    await redis.connect();
    assert.equal(await redis.ping(), "PONG");
    assert.deepEqual(await redis.config("GET", "save"), ["save", ""]);
    assert.deepEqual(await redis.config("GET", "appendonly"), ["appendonly", "no"]);
    assert.deepEqual(await redis.config("GET", "bind"), ["bind", "127.0.0.1"]);
    workDir = (await redis.config("GET", "dir") as string[])[1];
    await redis.quit();
  } finally {
    await server.stop();
  }
  assert.equal(await redisServerRunning(server.pid), false, "no redis-server process left");
  assert.equal(await Deno.stat(workDir).then(() => true, () => false), false, "folder removed");
});

Deno.test("redis harness: a missing executable names the apt-get command", async () => {
  await assert.rejects(
    RedisServer.start({ executable: "/nonexistent/redis-server" }),
    /apt-get install -y redis-server/,
  );
});

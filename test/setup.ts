/**
 * Run by `deno task test` before the tests: the Debian packages they need
 * (Jupyter Server and ipykernel for the kernel tests, Chromium for the
 * dashboard test, nats-server and redis-server for the NATS and Redis tests,
 * python3-websockets for the Python client's live events)
 * are installed with apt-get when running as root, or named in a clear error
 * with the exact command.
 */
import { ensureJupyter, ensurePackages } from "../src/cli/prerequisites.ts";
import { findNatsServer } from "./helpers/nats.ts";
import { findRedisServer } from "./helpers/redis.ts";

const log = (line: string) => console.error(line);
const chromiumReady = () => Deno.stat("/usr/bin/chromium").then(() => true, () => false);
const found = (find: () => Promise<string>) => () => find().then(() => true, () => false);
try {
  await ensureJupyter({ log });
  await ensurePackages("the dashboard test", ["chromium"], chromiumReady, { log });
  await ensurePackages("the NATS tests", ["nats-server"], found(findNatsServer), { log });
  await ensurePackages("the Redis tests", ["redis-server"], found(findRedisServer), { log });
  const websocketsReady = () =>
    new Deno.Command("/usr/bin/python3", { args: ["-c", "import websockets"], stderr: "null" })
      .output().then((result) => result.success, () => false);
  await ensurePackages("the Python client's tests", ["python3-websockets"], websocketsReady, {
    log,
  });
} catch (error) {
  console.error(`zest: ${(error as Error).message}`);
  Deno.exit(1);
}

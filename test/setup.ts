/**
 * Run by `deno task test` before the tests: the Debian packages they need
 * (Jupyter Server and ipykernel for the kernel tests, Chromium for the
 * dashboard test) are installed with apt-get when running as root, or named
 * in a clear error with the exact command.
 */
import { ensureJupyter, ensurePackages } from "../src/cli/prerequisites.ts";

const log = (line: string) => console.error(line);
const chromiumReady = () => Deno.stat("/usr/bin/chromium").then(() => true, () => false);
try {
  await ensureJupyter({ log });
  await ensurePackages("the dashboard test", ["chromium"], chromiumReady, { log });
} catch (error) {
  console.error(`zest: ${(error as Error).message}`);
  Deno.exit(1);
}

/** `deno task start` installs Jupyter when it can, and names the command when it cannot. */
import assert from "node:assert/strict";
import { ensureJupyter, JUPYTER_PACKAGES } from "../src/cli/prerequisites.ts";

/** A folder with a fake apt-get that logs its arguments and, on install, "installs" jupyter-server. */
async function fakeSystem(aptExitCode = 0) {
  const dir = await Deno.makeTempDir({ prefix: "zest-prereq-" });
  const jupyterServer = `${dir}/jupyter-server`;
  const aptGet = `${dir}/apt-get`;
  await Deno.writeTextFile(
    aptGet,
    `#!/bin/sh\necho "$@" >> ${dir}/apt.log\n` +
      `[ "$1" = install ] && [ ${aptExitCode} = 0 ] && touch ${jupyterServer} && chmod +x ${jupyterServer}\nexit ${aptExitCode}\n`,
  );
  await Deno.chmod(aptGet, 0o755);
  const calls = async () =>
    (await Deno.readTextFile(`${dir}/apt.log`).catch(() => "")).trim().split("\n").filter(Boolean);
  // The real Debian python3, which has ipykernel and jupyter_server.
  const paths = { jupyterServer, python: "/usr/bin/python3", aptGet };
  return { dir, paths, calls, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

Deno.test("installed: nothing to do", async () => {
  await using system = await fakeSystem();
  await Deno.writeTextFile(system.paths.jupyterServer, "", { mode: 0o755 });
  const lines: string[] = [];
  await ensureJupyter({ log: (line) => lines.push(line), paths: system.paths, isRoot: true });
  assert.deepEqual(lines, []);
  assert.deepEqual(await system.calls(), []);
});

Deno.test("missing, as root with apt-get: installs, saying so", async () => {
  await using system = await fakeSystem();
  const lines: string[] = [];
  await ensureJupyter({ log: (line) => lines.push(line), paths: system.paths, isRoot: true });
  assert.match(
    lines.join("\n"),
    /installing jupyter-server, python3-ipykernel.*for IPython services/,
  );
  assert.deepEqual(await system.calls(), [
    "update -qq",
    `install -y -qq ${JUPYTER_PACKAGES.join(" ")}`,
  ]);
});

Deno.test("missing, not root: a clear error naming the sudo command", async () => {
  await using system = await fakeSystem();
  await assert.rejects(
    ensureJupyter({ log: () => {}, paths: system.paths, isRoot: false }),
    new RegExp(`run: sudo apt-get install -y ${JUPYTER_PACKAGES.join(" ")}$`),
  );
  assert.deepEqual(await system.calls(), []);
});

Deno.test("missing, root but no apt-get: the error names the command", async () => {
  await using system = await fakeSystem();
  const paths = { ...system.paths, aptGet: `${system.dir}/no-apt-get` };
  await assert.rejects(
    ensureJupyter({ log: () => {}, paths, isRoot: true }),
    /IPython services needs jupyter-server, .*not installed; run: apt-get install -y jupyter-server/,
  );
});

Deno.test("an install that fails says so and names the command", async () => {
  await using system = await fakeSystem(100);
  await assert.rejects(
    ensureJupyter({ log: () => {}, paths: system.paths, isRoot: true }),
    /installing jupyter-server, .* failed; run it by hand and retry: apt-get install -y/,
  );
});

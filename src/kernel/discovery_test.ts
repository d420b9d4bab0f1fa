import assert from "node:assert/strict";
import { findJupyterServer, jupyterPython, kernelSpecDirs } from "./discovery.ts";
import { JupyterServerNotFoundError } from "./errors.ts";

/** A temporary folder, removed after `fn`. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "zest-discovery-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("findJupyterServer takes an explicit executable file, and only that", async () => {
  await inTempDir(async (dir) => {
    const executable = `${dir}/jupyter-server`;
    await Deno.writeTextFile(executable, "#!/bin/sh\n", { mode: 0o755 });
    assert.equal(await findJupyterServer(executable), executable);
    await Deno.chmod(executable, 0o644);
    await assert.rejects(findJupyterServer(executable), (error: Error) => {
      assert.ok(error instanceof JupyterServerNotFoundError);
      assert.deepEqual(error.searched, [executable]);
      return true;
    });
    await assert.rejects(
      findJupyterServer(dir),
      JupyterServerNotFoundError,
      "a folder is no executable",
    );
  });
});

Deno.test("findJupyterServer without a path looks at Debian's, then PATH", async () => {
  const found = await findJupyterServer();
  assert.match(found, /\/jupyter-server$/);
  assert.ok((await Deno.stat(found)).isFile);
});

Deno.test("jupyterPython reads the interpreter from the #! line", async () => {
  await inTempDir(async (dir) => {
    const script = `${dir}/jupyter-server`;
    const cases: Array<[string, string | undefined]> = [
      ["#!/usr/bin/python3\nimport sys\n", "/usr/bin/python3"],
      ["#! /opt/venv/bin/python -I\n", "/opt/venv/bin/python"],
      ["#!python3\n", undefined],
      ["import sys\n", undefined],
      ["", undefined],
    ];
    for (const [text, python] of cases) {
      await Deno.writeTextFile(script, text);
      assert.equal(await jupyterPython(script), python, JSON.stringify(text));
    }
  });
});

Deno.test("kernelSpecDirs asks the server's Python, with JUPYTER_PATH first", async () => {
  const dirs = await kernelSpecDirs(await findJupyterServer(), { JUPYTER_PATH: "/srv/zest" });
  assert.equal(dirs[0], "/srv/zest/kernels");
  assert.ok(dirs.includes("/usr/share/jupyter/kernels"), dirs.join(", "));
});

Deno.test("kernelSpecDirs is empty when the executable names no usable Python", async () => {
  await inTempDir(async (dir) => {
    const script = `${dir}/jupyter-server`;
    await Deno.writeTextFile(script, "#!/nonexistent/python3\n");
    assert.deepEqual(await kernelSpecDirs(script, {}), []);
    await Deno.writeTextFile(script, "#!/bin/false\n");
    assert.deepEqual(await kernelSpecDirs(script, {}), []);
  });
});

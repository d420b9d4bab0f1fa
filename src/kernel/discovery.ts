/**
 * Finding Jupyter on this machine: the `jupyter-server` executable, the
 * Python that runs it, and the folders where that Python's Jupyter looks for
 * kernelspecs. Needs nothing but the file system and that Python, so the CLI
 * can check prerequisites without loading the rest of the kernel layer.
 *
 * @module
 */
import { JupyterServerNotFoundError } from "./errors.ts";

/**
 * The `jupyter-server` executable: `explicit`, else Debian's, else the first
 * on `PATH` (absolute entries only). A candidate must be an executable file.
 *
 * @throws {JupyterServerNotFoundError} none found; the message names the apt command
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findJupyterServer } from "./discovery.ts";
 * import { JupyterServerNotFoundError } from "./errors.ts";
 * assert.match(await findJupyterServer(), /\/jupyter-server$/); // "/usr/bin/jupyter-server" on Debian
 * await assert.rejects(findJupyterServer("/nonexistent/jupyter-server"), JupyterServerNotFoundError);
 * ```
 */
export async function findJupyterServer(explicit?: string): Promise<string> {
  const candidates = explicit ? [explicit] : [
    "/usr/bin/jupyter-server",
    ...(Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir.startsWith("/"))
      .map((dir) => `${dir}/jupyter-server`),
  ];
  for (const candidate of candidates) {
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && (info.mode ?? 0o111) & 0o111) return candidate;
    } catch {
      // Not there; try the next.
    }
  }
  throw new JupyterServerNotFoundError(candidates);
}

/**
 * The Python interpreter that runs `executable` (from its `#!` line), if it
 * names one by absolute path.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jupyterPython } from "./discovery.ts";
 * const script = await Deno.makeTempFile();
 * await Deno.writeTextFile(script, "#!/usr/bin/python3 -I\nprint('hi')\n");
 * assert.equal(await jupyterPython(script), "/usr/bin/python3");
 * await Deno.writeTextFile(script, "#!/usr/bin/env python3\n");
 * assert.equal(await jupyterPython(script), "/usr/bin/env"); // what the line names, as it is
 * await Deno.writeTextFile(script, "echo no interpreter\n");
 * assert.equal(await jupyterPython(script), undefined);
 * await Deno.remove(script);
 * ```
 */
export async function jupyterPython(executable: string): Promise<string | undefined> {
  const firstLine = (await Deno.readTextFile(executable)).split("\n", 1)[0];
  const python = firstLine.startsWith("#!") ? firstLine.slice(2).trim().split(/\s+/)[0] : "";
  return python.startsWith("/") ? python : undefined;
}

/**
 * Jupyter's own list of kernelspec folders, asked from the Python that runs
 * `executable`, with `env` as the server's environment (`JUPYTER_PATH`
 * among it). Empty when that cannot be known.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { findJupyterServer, kernelSpecDirs } from "./discovery.ts";
 * const dirs = await kernelSpecDirs(await findJupyterServer(), { JUPYTER_PATH: "/srv/zest" });
 * assert.equal(dirs[0], "/srv/zest/kernels"); // JUPYTER_PATH comes first
 * ```
 */
export async function kernelSpecDirs(
  executable: string,
  env: Record<string, string>,
): Promise<string[]> {
  const python = await jupyterPython(executable);
  if (!python) return [];
  try {
    const { success, stdout } = await new Deno.Command(python, {
      args: [
        "-c",
        "import json; from jupyter_client.kernelspec import KernelSpecManager as M; " +
        "print(json.dumps(M().kernel_dirs))",
      ],
      env,
      stdin: "null",
      stderr: "null",
    }).output();
    return success ? JSON.parse(new TextDecoder().decode(stdout)) : [];
  } catch {
    return [];
  }
}

/**
 * What `deno task start` needs from Debian before IPython services can run:
 * Jupyter Server and ipykernel (and matplotlib, for the calibration plot).
 * As root with apt-get it installs them itself, saying so; otherwise it
 * names the exact command, so a fresh machine needs nothing done by hand.
 */

/** The Debian packages behind kernels. */
export const JUPYTER_PACKAGES = ["jupyter-server", "python3-ipykernel", "python3-matplotlib"];

/** Where to look; overridable so the logic can be tested without touching the system. */
export interface PrerequisitePaths {
  jupyterServer: string;
  python: string;
  aptGet: string;
}

const DEBIAN: PrerequisitePaths = {
  jupyterServer: "/usr/bin/jupyter-server",
  python: "/usr/bin/python3",
  aptGet: "/usr/bin/apt-get",
};

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function succeeds(command: string, args: string[], quiet = true): Promise<boolean> {
  try {
    const { success } = await new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: quiet ? "null" : "inherit",
      stderr: quiet ? "null" : "inherit",
      env: { DEBIAN_FRONTEND: "noninteractive" },
    }).output();
    return success;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function jupyterReady(paths: PrerequisitePaths): Promise<boolean> {
  return await exists(paths.jupyterServer) &&
    await succeeds(paths.python, ["-c", "import ipykernel, jupyter_server"]);
}

/**
 * Make sure Jupyter Server and ipykernel are installed: install them with
 * apt-get when running as root, else throw an error naming the command.
 * `log` hears what is being done.
 *
 * @example
 * ```ts
 * import { ensureJupyter } from "./prerequisites.ts";
 * await ensureJupyter({ log: (line) => console.error(line) });
 * ```
 */
export async function ensureJupyter(
  options: { log: (line: string) => void; paths?: PrerequisitePaths; isRoot?: boolean },
): Promise<void> {
  const paths = options.paths ?? DEBIAN;
  if (await jupyterReady(paths)) return;
  const command = `apt-get install -y ${JUPYTER_PACKAGES.join(" ")}`;
  const isRoot = options.isRoot ?? Deno.uid() === 0;
  if (!isRoot || !(await exists(paths.aptGet))) {
    throw new Error(
      `IPython services need Jupyter Server and ipykernel, which are not installed; run: ${
        isRoot ? "" : "sudo "
      }${command}`,
    );
  }
  options.log(`zest: installing ${JUPYTER_PACKAGES.join(", ")} with apt-get (first start only)`);
  const installed = await succeeds(paths.aptGet, ["update", "-qq"], false) &&
    await succeeds(paths.aptGet, ["install", "-y", "-qq", ...JUPYTER_PACKAGES], false);
  if (!installed || !(await jupyterReady(paths))) {
    throw new Error(`installing Jupyter failed; run it by hand and retry: ${command}`);
  }
}

/**
 * What `deno task start` needs from Debian before IPython services can run:
 * Jupyter Server and ipykernel (and matplotlib, for the calibration plot).
 * As root with apt-get it installs them itself, saying so; otherwise it
 * names the exact command, so a fresh machine needs nothing done by hand.
 */
// Only the lookup, not the whole kernel layer: this runs before anything needs @jupyterlab/services.
import { findJupyterServer, jupyterPython } from "../kernel/discovery.ts";
import { JupyterServerNotFoundError } from "../kernel/errors.ts";

/**
 * The Debian packages behind kernels.
 *
 * @example
 * ```ts
 * import { JUPYTER_PACKAGES } from "./prerequisites.ts";
 * console.log(`apt-get install -y ${JUPYTER_PACKAGES.join(" ")}`);
 * ```
 */
export const JUPYTER_PACKAGES = ["jupyter-server", "python3-ipykernel", "python3-matplotlib"];

/**
 * Where to look. By default Jupyter Server is found as the kernel layer finds
 * it (Debian's, else on `PATH`), with the Python its `#!` line names; the
 * fields override that so the logic can be tested without touching the system.
 */
export interface PrerequisitePaths {
  jupyterServer?: string;
  python?: string;
  aptGet: string;
}

const DEBIAN: PrerequisitePaths = { aptGet: "/usr/bin/apt-get" };

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
  let server: string;
  try {
    server = await findJupyterServer(paths.jupyterServer);
  } catch (error) {
    if (error instanceof JupyterServerNotFoundError) return false;
    throw error;
  }
  const python = paths.python ?? await jupyterPython(server) ?? "/usr/bin/python3";
  return await succeeds(python, ["-c", "import ipykernel, jupyter_server"]);
}

/** How to install missing Debian packages, and how to tell them from a broken install. */
export interface EnsureOptions {
  /** Hears what is being done. */
  log: (line: string) => void;
  paths?: PrerequisitePaths;
  isRoot?: boolean;
}

/**
 * Make sure `packages` are installed (`ready` says whether they are): install
 * them with apt-get when running as root, else throw an error naming the
 * exact command. `purpose` says what needs them, for the messages.
 *
 * @example
 * ```ts
 * import { ensurePackages } from "./prerequisites.ts";
 * const chromium = async () => await Deno.stat("/usr/bin/chromium").then(() => true, () => false);
 * await ensurePackages("the dashboard test", ["chromium"], chromium, { log: console.error });
 * ```
 */
export async function ensurePackages(
  purpose: string,
  packages: string[],
  ready: () => Promise<boolean>,
  options: EnsureOptions,
): Promise<void> {
  if (await ready()) return;
  const aptGet = (options.paths ?? DEBIAN).aptGet;
  const command = `apt-get install -y ${packages.join(" ")}`;
  const isRoot = options.isRoot ?? Deno.uid() === 0;
  if (!isRoot || !(await exists(aptGet))) {
    throw new Error(
      `${purpose} needs ${packages.join(", ")}, not installed; run: ${
        isRoot ? "" : "sudo "
      }${command}`,
    );
  }
  options.log(`zest: installing ${packages.join(", ")} with apt-get, for ${purpose} (once)`);
  const installed = await succeeds(aptGet, ["update", "-qq"], false) &&
    await succeeds(aptGet, ["install", "-y", "-qq", ...packages], false);
  if (!installed || !(await ready())) {
    throw new Error(
      `installing ${packages.join(", ")} failed; run it by hand and retry: ${command}`,
    );
  }
}

/**
 * Make sure Jupyter Server and ipykernel are installed, as `ensurePackages` does.
 *
 * @example
 * ```ts
 * import { ensureJupyter } from "./prerequisites.ts";
 * await ensureJupyter({ log: (line) => console.error(line) });
 * ```
 */
export function ensureJupyter(options: EnsureOptions): Promise<void> {
  const paths = options.paths ?? DEBIAN;
  return ensurePackages("IPython services", JUPYTER_PACKAGES, () => jupyterReady(paths), options);
}

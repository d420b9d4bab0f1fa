/** Launching, watching and ending a `jupyter-server` process on this machine. */
import { delay } from "../util/async.ts";
import { randomToken } from "../util/random.ts";
import { findJupyterServer, jupyterPython, kernelSpecDirs } from "./discovery.ts";
import { JupyterServerStartError } from "./errors.ts";
import { type ProcessRef, relatedProcesses } from "./processes.ts";
import {
  RUN_CLEANUP_PYTHON,
  RUN_FOLDER_PREFIX,
  RUN_MARKER,
  serverConfigPython,
} from "./server_config.ts";
import { StderrTail } from "./stderr_tail.ts";

/**
 * How to launch a Jupyter Server.
 *
 * @example
 * ```ts
 * import type { JupyterLaunchOptions } from "./server.ts";
 * // With the repo root on the path, kernels/<name>/kernel.json is found.
 * const options: JupyterLaunchOptions = { jupyterPath: ["/srv/zest"], rootDir: "/srv/zest" };
 * ```
 */
export interface JupyterLaunchOptions {
  /**
   * Folders put first on `JUPYTER_PATH`. Jupyter looks for kernelspecs in
   * `<folder>/kernels/<name>/kernel.json`, so pass the folder that holds
   * `kernels/` (the repo root), not `kernels/` itself.
   */
  jupyterPath?: string[];
  /** The server's root folder, where kernels start. Default: the current folder. */
  rootDir?: string;
  /** The `jupyter-server` executable. Default: `/usr/bin/jupyter-server`, then `PATH`. */
  executable?: string;
  /** How long to wait for the server to answer. Default 30 s. */
  startTimeoutMs?: number;
  /** Seconds between the server's checks that a kernel lives. Default 0.5. */
  kernelHeartbeatSeconds?: number;
  /** Extra environment for the server and its kernels. */
  env?: Record<string, string>;
}

const DEFAULT_START_TIMEOUT_MS = 30_000;
const DEFAULT_HEARTBEAT_SECONDS = 0.5;
/** Time the server gets to shut its kernels down after SIGTERM. */
const STOP_GRACE_MS = 10_000;
/** Launch attempts when the free port we picked was taken meanwhile. */
const PORT_ATTEMPTS = 3;

/**
 * A `jupyter-server` process this process started, on 127.0.0.1 with a free
 * port, a random token and the configuration of `server_config.ts`, in a
 * private temporary folder (its config, connection files) removed at the end.
 *
 * The server runs in a session of its own, so a terminal's Ctrl-C (SIGINT to
 * the whole foreground process group) reaches only the runtime, which then
 * stops it in order. Every process of the run carries `ZEST_JUPYTER_RUN=<the
 * folder>` in its environment: when the server exits (stopped, or orphaned
 * by a runtime that was killed) its config kills whatever still carries it
 * and removes the folder; the next launch does the same for an earlier run
 * that was killed too abruptly to do it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ServerProcess, statusProblem } from "./server_process.ts";
 * const server = await ServerProcess.launch({ jupyterPath: [Deno.cwd()] });
 * assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
 * assert.equal(await statusProblem(server.url, server.token), undefined);
 * await server.terminate();
 * assert.notEqual(await statusProblem(server.url, server.token), undefined, "gone");
 * ```
 */
export class ServerProcess {
  /** Base URL on 127.0.0.1, ending with `/`. */
  readonly url: string;
  /** The random token the server requires (kept off its command line). */
  readonly token: string;
  readonly #child: Deno.ChildProcess;
  readonly #stderr: StderrTail;
  readonly #tempDir: string;
  readonly #env: Record<string, string>;
  readonly #executable: string;

  /**
   * Launch `jupyter-server` and wait until it answers.
   *
   * @throws {JupyterServerNotFoundError} no executable found
   * @throws {JupyterServerStartError} it exited or did not answer in time
   * @example
   * ```ts ignore
   * import { ServerProcess } from "./server_process.ts";
   * const server = await ServerProcess.launch();
   * await server.terminate();
   * ```
   */
  static async launch(options: JupyterLaunchOptions = {}): Promise<ServerProcess> {
    const executable = await findJupyterServer(options.executable);
    for (let attempt = 1;; attempt++) {
      const server = await ServerProcess.#spawn(executable, options);
      try {
        await server.#waitUntilAnswering(options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
        return server;
      } catch (error) {
        await server.terminate();
        const portTaken = error instanceof JupyterServerStartError &&
          /port \d+ is already in use/.test(error.stderr);
        if (!portTaken || attempt >= PORT_ATTEMPTS) throw error;
      }
    }
  }

  static async #spawn(executable: string, options: JupyterLaunchOptions): Promise<ServerProcess> {
    const tempDir = await Deno.makeTempDir({ prefix: RUN_FOLDER_PREFIX });
    const token = randomToken();
    // The temp folder is private to this user (mode 0700), and the file too.
    const configFile = `${tempDir}/jupyter_server_config.py`;
    await Deno.writeTextFile(
      configFile,
      serverConfigPython({
        kernelHeartbeatSeconds: options.kernelHeartbeatSeconds ?? DEFAULT_HEARTBEAT_SECONDS,
        parentPid: Deno.pid,
        token,
        runFolder: tempDir,
      }),
      { mode: 0o600 },
    );
    const port = freePort();
    const url = `http://127.0.0.1:${port}/`;
    const jupyterPath = [...(options.jupyterPath ?? []), Deno.env.get("JUPYTER_PATH")]
      .filter((entry) => entry);
    const env: Record<string, string> = {
      // Else every kernel start prints debugpy's frozen-modules warning.
      PYDEVD_DISABLE_FILE_VALIDATION: "1",
      ...options.env,
      JUPYTER_PATH: jupyterPath.join(":"),
      // Connection files and the like stay in our temp folder; the user's own
      // Jupyter configuration does not change how the runtime's server behaves.
      JUPYTER_RUNTIME_DIR: `${tempDir}/runtime`,
      JUPYTER_CONFIG_DIR: `${tempDir}/config`,
      [RUN_MARKER]: tempDir,
    };
    const args = [
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      "--no-browser",
      `--ServerApp.root_dir=${options.rootDir ?? Deno.cwd()}`,
      `--config=${configFile}`,
    ];
    // The server refuses to run as root unless told it may (CI runs as root).
    if (Deno.uid() === 0) args.push("--ServerApp.allow_root=True");
    const child = new Deno.Command(executable, {
      args,
      env,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      // A session of its own: a terminal's Ctrl-C must not stop it (with
      // stdin not a terminal, jupyter-server takes SIGINT as "exit now",
      // without shutting its kernels down) while the runtime stops in order.
      detached: true,
    }).spawn();
    return new ServerProcess(executable, url, token, child, tempDir, env);
  }

  private constructor(
    executable: string,
    url: string,
    token: string,
    child: Deno.ChildProcess,
    tempDir: string,
    env: Record<string, string>,
  ) {
    this.#executable = executable;
    this.url = url;
    this.token = token;
    this.#child = child;
    this.#stderr = new StderrTail(child.stderr);
    this.#tempDir = tempDir;
    this.#env = env;
  }

  /** The server's process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves when the process has exited, for whatever reason. */
  get exited(): Promise<Deno.CommandStatus> {
    return this.#child.status;
  }

  /**
   * The server process and every process of its run, even those re-parented
   * since or in sessions of their own. Needs `--allow-all` (else empty).
   */
  processes(): Promise<ProcessRef[]> {
    return relatedProcesses(this.#child.pid, `${RUN_MARKER}=${this.#tempDir}`);
  }

  /** Jupyter's own list of kernelspec folders, asked from the server's Python. */
  kernelSpecDirs(): Promise<string[]> {
    return kernelSpecDirs(this.#executable, this.#env);
  }

  /**
   * End the server: SIGTERM lets it shut its kernels down, then kill every
   * other process of its run (a kernel that ignored its shutdown, whatever a
   * kernel started) and remove its folder. If it is still running after a
   * grace period, SIGKILL; when a signal ended it (that one, or anyone's),
   * its exit hook never ran, and this process does that sweep instead.
   */
  async terminate(): Promise<void> {
    const child = this.#child;
    try {
      child.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    const exited = new AbortController();
    const killed = delay(STOP_GRACE_MS, exited.signal).then((graceOver) => {
      try {
        if (graceOver) child.kill("SIGKILL");
      } catch {
        // Exited just now.
      }
    });
    const status = await child.status;
    exited.abort();
    await killed;
    if (status.signal !== null) await this.#sweep();
    await this.#stderr.closed();
    await Deno.remove(this.#tempDir, { recursive: true }).catch(() => {});
  }

  /** Kill the run's leftover processes with the server's own Python. */
  async #sweep(): Promise<void> {
    const python = await jupyterPython(this.#executable);
    if (!python) return;
    const code = `${RUN_CLEANUP_PYTHON}\nimport sys\n_zest_sweep(sys.argv[1])\n`;
    await new Deno.Command(python, {
      args: ["-c", code, this.#tempDir],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
  }

  async #waitUntilAnswering(timeoutMs: number): Promise<void> {
    let exited: Deno.CommandStatus | undefined;
    this.#child.status.then((status) => exited = status);
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (exited) {
        throw new JupyterServerStartError(`exited with code ${exited.code}`, this.#stderr.text());
      }
      if (await statusProblem(this.url, this.token) === undefined) return;
      await delay(100);
    }
    throw new JupyterServerStartError(`no answer within ${timeoutMs} ms`, this.#stderr.text());
  }
}

/**
 * `undefined` when `/api/status` answers 200 with this token; else what went wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { statusProblem } from "./server_process.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const { port } = listener.addr;
 * listener.close(); // nobody listens there now
 * assert.equal(typeof await statusProblem(`http://127.0.0.1:${port}/`, "t"), "string");
 * ```
 */
export async function statusProblem(url: string, token: string): Promise<string | undefined> {
  try {
    const response = await fetch(`${url}api/status`, {
      headers: { Authorization: `token ${token}` },
      signal: AbortSignal.timeout(5_000),
    });
    await response.body?.cancel();
    return response.ok ? undefined : `HTTP ${response.status} from ${url}api/status`;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** A port nobody listens on now: the OS picks it for a listener we close at once. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

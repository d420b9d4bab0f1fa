/** The `jupyter_server_config.py` that a launched Jupyter Server runs with. */

/**
 * The environment variable that marks every process of one Jupyter Server
 * run: the server starts with `ZEST_JUPYTER_RUN=<run folder>`, its kernels
 * inherit it, and so does whatever they start, even in a session of its
 * own. A process with the marker belongs to that run; the run's end kills it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RUN_MARKER } from "./server_config.ts";
 * const env = { [RUN_MARKER]: "/tmp/zest-jupyter-abc" };
 * assert.deepEqual(env, { ZEST_JUPYTER_RUN: "/tmp/zest-jupyter-abc" });
 * ```
 */
export const RUN_MARKER = "ZEST_JUPYTER_RUN";

/**
 * The name prefix of run folders in the system's temporary directory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { basename } from "node:path";
 * import { RUN_FOLDER_PREFIX } from "./server_config.ts";
 * const runFolder = await Deno.makeTempDir({ prefix: RUN_FOLDER_PREFIX });
 * assert.ok(basename(runFolder).startsWith("zest-jupyter-"));
 * await Deno.remove(runFolder);
 * ```
 */
export const RUN_FOLDER_PREFIX = "zest-jupyter-";

/**
 * Settings baked into the generated configuration.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ServerConfigOptions, serverConfigPython } from "./server_config.ts";
 * const options: ServerConfigOptions = {
 *   kernelHeartbeatSeconds: 0.5,
 *   parentPid: Deno.pid,
 *   token: crypto.randomUUID(),
 *   runFolder: "/tmp/zest-jupyter-abc",
 * };
 * assert.match(serverConfigPython(options), /c\.KernelRestarter\.time_to_dead = 0\.5/);
 * ```
 */
export interface ServerConfigOptions {
  /** How often the server checks that a kernel process lives (`time_to_dead`). */
  kernelHeartbeatSeconds: number;
  /** The server stops itself when this process (its parent) goes away. */
  parentPid: number;
  /** The server's token: here rather than on the command line, which `ps` shows to all. */
  token: string;
  /**
   * The run's private folder (named `zest-jupyter-…`, holding this config):
   * the value of {@link RUN_MARKER} in the server's environment.
   */
  runFolder: string;
}

/**
 * Python functions that end a run: `_zest_sweep(run_folder)` SIGKILLs every
 * process carrying the run's marker, and their descendants (SIGKILL: a
 * kernel's child may ignore every other signal), until none is left;
 * `_zest_clean_stale_runs(run_folder)` does that, and removes the folder, for
 * each earlier run in the same temporary directory whose Jupyter Server no
 * longer runs. They read `/proc`, which Deno's sandbox lets only
 * `--allow-all` read: Python, outside the sandbox, can.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RUN_CLEANUP_PYTHON } from "./server_config.ts";
 * const sweep = `${RUN_CLEANUP_PYTHON}\nimport sys\n_zest_sweep(sys.argv[1])\n`;
 * const { success } = await new Deno.Command("/usr/bin/python3", {
 *   args: ["-c", sweep, "/tmp/zest-jupyter-abc"], // nothing carries that marker: nothing to kill
 * }).output();
 * assert.equal(success, true);
 * ```
 */
export const RUN_CLEANUP_PYTHON = `import os
import shutil
import signal
import stat
import time

_ZEST_RUN_MARKER = ${JSON.stringify(RUN_MARKER)}
_ZEST_RUN_PREFIX = ${JSON.stringify(RUN_FOLDER_PREFIX)}
# A folder younger than this may belong to a server being launched right now.
_ZEST_STALE_AFTER_SECONDS = 60


def _zest_processes():
    """(pid, ppid, arguments, environment) of the live processes this user may read."""
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found  # No /proc: not Linux.
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                fields = file.read().rsplit(b")", 1)[1].split()
            if fields[0] in (b"Z", b"X"):
                continue
            with open(f"/proc/{name}/cmdline", "rb") as file:
                arguments = file.read().split(b"\\0")
            with open(f"/proc/{name}/environ", "rb") as file:
                environment = b"\\0" + file.read()
        except (OSError, IndexError):
            continue
        found.append((int(name), int(fields[1]), arguments, environment))
    return found


def _zest_sweep(run_folder):
    """SIGKILL the processes marked with run_folder and their descendants, but this one."""
    entry = f"\\0{_ZEST_RUN_MARKER}={run_folder}\\0".encode()
    for _ in range(20):
        processes = _zest_processes()
        children = {}
        for pid, ppid, _, _ in processes:
            children.setdefault(ppid, []).append(pid)
        pending = [pid for pid, _, _, environment in processes if entry in environment]
        doomed = set()
        while pending:
            pid = pending.pop()
            if pid not in doomed:
                doomed.add(pid)
                pending.extend(children.get(pid, ()))
        doomed.discard(os.getpid())
        if not doomed:
            return
        for pid in doomed:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        # Again: one may have forked before it died.
        time.sleep(0.05)


def _zest_clean_stale_runs(run_folder):
    """End the leftovers of earlier runs whose Jupyter Server is gone, and remove their folders."""
    parent = os.path.dirname(run_folder)
    live = {
        argument
        for _, _, arguments, _ in _zest_processes()
        for argument in arguments
        if argument.startswith(b"--config=")
    }
    now = time.time()
    for name in os.listdir(parent):
        folder = os.path.join(parent, name)
        if not name.startswith(_ZEST_RUN_PREFIX) or folder == run_folder:
            continue
        try:
            info = os.lstat(folder)
        except OSError:
            continue
        if (
            not stat.S_ISDIR(info.st_mode)
            or info.st_uid != os.getuid()
            or now - info.st_mtime < _ZEST_STALE_AFTER_SECONDS
            or f"--config={folder}/jupyter_server_config.py".encode() in live
        ):
            continue
        _zest_sweep(folder)
        shutil.rmtree(folder, ignore_errors=True)
`;

/**
 * Python source of a `jupyter_server_config.py` tuned for a program driving
 * kernels (tested with jupyter-server 1.23). Write it where only this user
 * can read it: it holds the token.
 *
 * - TCP_NODELAY on kernel websockets: tornado never sets it, and Nagle's
 *   algorithm then adds ~40 ms to each small message (a `1+1` round trip
 *   goes from ~45 ms to ~5 ms).
 * - No iopub rate limit: above it the server silently drops outputs.
 * - A short `KernelRestarter.time_to_dead`, so a dead kernel is noticed
 *   (and restarted) within about a second instead of three.
 * - A watchdog thread that sends the server SIGTERM when its parent
 *   process disappears, so a crashed runtime leaves no server or kernels.
 * - At exit, after the server shut its kernels down: every process still
 *   carrying the run's marker is killed and the run folder removed; at
 *   start, the same for earlier runs that were killed before they could.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { serverConfigPython } from "./server_config.ts";
 * const runFolder = await Deno.makeTempDir({ prefix: "zest-jupyter-" });
 * await Deno.writeTextFile(
 *   `${runFolder}/jupyter_server_config.py`,
 *   serverConfigPython({ kernelHeartbeatSeconds: 0.5, parentPid: Deno.pid, token: "secret", runFolder }),
 *   { mode: 0o600 },
 * );
 * assert.throws(
 *   () => serverConfigPython({ kernelHeartbeatSeconds: 0, parentPid: 1, token: "t", runFolder }),
 *   RangeError,
 * );
 * await Deno.remove(runFolder, { recursive: true });
 * ```
 */
export function serverConfigPython(options: ServerConfigOptions): string {
  const heartbeat = Number(options.kernelHeartbeatSeconds);
  const parentPid = Math.trunc(options.parentPid);
  if (!(heartbeat > 0)) throw new RangeError("kernelHeartbeatSeconds must be positive");
  return `# Generated by Zest for one Jupyter Server run; see src/kernel/server_config.ts.
import atexit
import threading

import jupyter_server.services.kernels.handlers as _handlers

${RUN_CLEANUP_PYTHON}

_open = _handlers.ZMQChannelsHandler.open


def _open_without_nagle(self, *args, **kwargs):
    self.set_nodelay(True)
    return _open(self, *args, **kwargs)


_handlers.ZMQChannelsHandler.open = _open_without_nagle

c.ServerApp.token = ${JSON.stringify(options.token)}
c.ServerApp.limit_rate = False
c.KernelRestarter.time_to_dead = ${heartbeat}


def _stop_when_orphaned(parent_pid):
    while os.getppid() == parent_pid:
        time.sleep(1.0)
    os.kill(os.getpid(), signal.SIGTERM)


threading.Thread(
    target=_stop_when_orphaned, args=(${parentPid},), name="zest-parent-watchdog", daemon=True
).start()

_ZEST_RUN_FOLDER = ${JSON.stringify(options.runFolder)}


def _zest_end_run():
    _zest_sweep(_ZEST_RUN_FOLDER)
    shutil.rmtree(_ZEST_RUN_FOLDER, ignore_errors=True)


try:
    _zest_clean_stale_runs(_ZEST_RUN_FOLDER)
except OSError:
    pass  # Cleaning up after others must never keep this server from starting.
atexit.register(_zest_end_run)
`;
}

/**
 * Observing the processes of a Jupyter Server run, from `/proc`.
 *
 * Deno's sandbox lets only `--allow-all` read `/proc/<pid>`: under narrower
 * permissions (`deno task start`) these functions find nothing. Ending a
 * run's processes is therefore not done here but by the server's own Python
 * (`server_config.ts`), which can read `/proc` whatever Deno may.
 *
 * @module
 */

/**
 * A process, identified safely: a pid alone may be reused by an unrelated
 * process once the first one exited; pid plus start time may not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ProcessRef } from "./processes.ts";
 * const ref: ProcessRef = { pid: 1234, startTime: 98765 };
 * assert.equal(ref.pid, 1234);
 * ```
 */
export interface ProcessRef {
  /** The process id. */
  pid: number;
  /** Clock ticks after boot at which the process started (`/proc/<pid>/stat` field 22). */
  startTime: number;
}

interface ProcessInfo extends ProcessRef {
  ppid: number;
  /** The environment the process started with, `\0`-separated, with a leading `\0`. */
  environment: string;
}

/**
 * Process `rootPid`, its descendants, and every process whose environment
 * holds `marker` (an entry `NAME=value`), with their descendants. Empty
 * where there is no `/proc` or no permission to read it.
 *
 * Kernels run in sessions of their own (so Ctrl-C does not reach them), a
 * process whose parent died is re-parented away from it, and a kernel's
 * child may start a session of its own; but all inherit the run's marker
 * (`RUN_MARKER` in `server_config.ts`): `marker` finds them all the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { relatedProcesses } from "./processes.ts";
 * const child = new Deno.Command("/bin/sleep", { args: ["60"] }).spawn();
 * const refs = await relatedProcesses(Deno.pid, "ZEST_JUPYTER_RUN=/tmp/zest-jupyter-abc");
 * assert.ok(refs.some(({ pid }) => pid === child.pid), "a child is related"); // with --allow-all
 * child.kill();
 * await child.status;
 * ```
 */
export async function relatedProcesses(rootPid: number, marker = ""): Promise<ProcessRef[]> {
  const processes = await listProcesses();
  const children = new Map<number, ProcessInfo[]>();
  for (const info of processes) {
    children.set(info.ppid, [...(children.get(info.ppid) ?? []), info]);
  }
  const entry = `\0${marker}\0`;
  const found = new Map<number, ProcessInfo>();
  const pending = processes.filter((info) =>
    info.pid === rootPid || (marker !== "" && info.environment.includes(entry))
  );
  while (pending.length > 0) {
    const info = pending.pop()!;
    if (found.has(info.pid)) continue;
    found.set(info.pid, info);
    pending.push(...(children.get(info.pid) ?? []));
  }
  return [...found.values()].map(({ pid, startTime }) => ({ pid, startTime }));
}

/**
 * Whether the process still runs (it exists, is the same process, and is
 * not a zombie waiting for its parent to collect its exit status).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isRunning, relatedProcesses } from "./processes.ts";
 * const [self] = await relatedProcesses(Deno.pid); // with --allow-all
 * assert.equal(await isRunning(self), true);
 * assert.equal(await isRunning({ ...self, startTime: self.startTime + 1 }), false, "pid reused");
 * ```
 */
export async function isRunning(ref: ProcessRef): Promise<boolean> {
  const info = await readProcess(ref.pid);
  return info !== undefined && info.startTime === ref.startTime;
}

async function listProcesses(): Promise<ProcessInfo[]> {
  const processes: ProcessInfo[] = [];
  try {
    for await (const entry of Deno.readDir("/proc")) {
      const pid = Number(entry.name);
      if (!Number.isInteger(pid)) continue;
      const info = await readProcess(pid);
      if (info) processes.push(info);
    }
  } catch (error) {
    // No /proc (not Linux), or not --allow-all: nothing can be found.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return [];
    }
    throw error;
  }
  return processes;
}

/** `undefined` when the process is gone, a zombie, or not readable. */
async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  let stat: string;
  try {
    stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  // `pid (comm) state ppid …`: comm may hold spaces and ")", so split after the last ")".
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const state = fields[0];
  if (state === "Z" || state === "X") return undefined;
  let environment = "";
  try {
    environment = "\0" + await Deno.readTextFile(`/proc/${pid}/environ`);
  } catch {
    // Another user's process: it cannot carry our marker.
  }
  return { pid, ppid: Number(fields[1]), startTime: Number(fields[19]), environment };
}

/** Finding and ending the processes a Jupyter Server started, from `/proc`. */

/**
 * A process, identified safely: a pid alone may be reused by an unrelated
 * process once the first one exited; pid plus start time may not.
 *
 * @example
 * ```ts
 * import type { ProcessRef } from "./processes.ts";
 * const ref: ProcessRef = { pid: 1234, startTime: 98765 };
 * ```
 */
export interface ProcessRef {
  pid: number;
  /** Clock ticks after boot at which the process started (`/proc/<pid>/stat` field 22). */
  startTime: number;
}

interface ProcessInfo extends ProcessRef {
  ppid: number;
  cmdline: string;
}

/**
 * Process `rootPid`, its descendants, and every process whose command line
 * contains `marker` (with their descendants). Empty where there is no `/proc`
 * or no permission to read it (Deno requires `--allow-all` for `/proc/<pid>`).
 *
 * Kernels run in process groups of their own (so Ctrl-C does not reach
 * them), and one whose server died is re-parented away from it; but each
 * one's command line names its connection file, inside the server's runtime
 * folder: `marker` finds them all the same.
 *
 * @example
 * ```ts
 * import { relatedProcesses } from "./processes.ts";
 * const refs = await relatedProcesses(Deno.pid, "/tmp/zest-jupyter-abc/runtime/");
 * ```
 */
export async function relatedProcesses(rootPid: number, marker: string): Promise<ProcessRef[]> {
  const processes = await listProcesses();
  const children = new Map<number, ProcessInfo[]>();
  for (const info of processes) {
    children.set(info.ppid, [...(children.get(info.ppid) ?? []), info]);
  }
  const found = new Map<number, ProcessInfo>();
  const pending = processes.filter((info) =>
    info.pid === rootPid || (marker !== "" && info.cmdline.includes(marker))
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
 * import { isRunning, relatedProcesses } from "./processes.ts";
 * const [self] = await relatedProcesses(Deno.pid, "");
 * await isRunning(self); // true
 * ```
 */
export async function isRunning(ref: ProcessRef): Promise<boolean> {
  const info = await readProcess(ref.pid);
  return info !== undefined && info.startTime === ref.startTime;
}

/**
 * SIGKILL each process that still runs. Needs `--allow-run` without a
 * program list (Deno's rule for `Deno.kill`); without it nothing is killed.
 *
 * @example
 * ```ts
 * import { killAll, relatedProcesses } from "./processes.ts";
 * await killAll(await relatedProcesses(12345, "/tmp/zest-jupyter-abc/runtime/"));
 * ```
 */
export async function killAll(refs: readonly ProcessRef[]): Promise<void> {
  for (const ref of refs) {
    if (!(await isRunning(ref))) continue;
    try {
      Deno.kill(ref.pid, "SIGKILL");
    } catch {
      // Exited between the check and the kill, or no permission to kill.
    }
  }
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
    // No /proc (not Linux), or no permission: Deno lets only --allow-all
    // read /proc/<pid>. Nothing can be found; the server's own shutdown of
    // its kernels has to do.
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotCapable) {
      return [];
    }
    throw error;
  }
  return processes;
}

/** `undefined` when the process is gone, a zombie, or not readable. */
async function readProcess(pid: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    // `pid (comm) state ppid …`: comm may hold spaces and ")", so split after the last ")".
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const state = fields[0];
    if (state === "Z" || state === "X") return undefined;
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`);
    return {
      pid,
      ppid: Number(fields[1]),
      startTime: Number(fields[19]),
      cmdline: cmdline.replaceAll("\0", " "),
    };
  } catch {
    return undefined;
  }
}

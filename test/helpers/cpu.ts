/**
 * What the worker tests watch of a process: its CPU time (from `/proc`), and
 * percentiles of what they measure.
 */

/**
 * CPU time (user + system, in clock ticks) of a process, or `undefined` once
 * it is gone (or a zombie).
 *
 * @example
 * ```ts
 * import { cpuTicks } from "./cpu.ts";
 * cpuTicks(Deno.pid); // e.g. 42
 * ```
 */
export function cpuTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  } catch {
    return undefined;
  }
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z" || fields[0] === "X") return undefined;
  return Number(fields[11]) + Number(fields[12]);
}

/**
 * CPU ticks of processes `roots` and all their descendants. (Not this whole
 * process's tree: `deno test --parallel` runs other test files beside ours.)
 *
 * @example
 * ```ts
 * import { treeTicks } from "./cpu.ts";
 * treeTicks([Deno.pid]);
 * ```
 */
export function treeTicks(roots: number[]): number {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // gone meanwhile
    }
  }
  let total = 0;
  const pending = [...roots];
  for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
    total += cpuTicks(pid) ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

/**
 * The value at fraction `p` (0 to 1) of `values` sorted.
 *
 * @example
 * ```ts
 * import { percentile } from "./cpu.ts";
 * percentile([3, 1, 2], 0.5); // 2
 * ```
 */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

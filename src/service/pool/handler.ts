/**
 * A handler module to run in worker processes, with the permissions and heap
 * its processes get: checked once, when the handler is registered.
 *
 * @module
 */
import { basename, dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import type { TaskContext } from "../service.ts";

/**
 * What a worker handler gets besides the fields: an in-process handler's
 * context (`taskId`, `attempt`, `attributes`, `signal`, `log`, `progress`)
 * but `client` — a worker returns its result, the service queues follow-ups.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WorkerContext } from "./handler.ts";
 * async function scan(points: number, context: WorkerContext): Promise<number> {
 *   for (let i = 1; i <= points; i++) {
 *     if (context.signal.aborted) throw context.signal.reason;
 *     context.progress(i / points);
 *   }
 *   context.log.info(`${points} points`);
 *   return points;
 * }
 * const lines: string[] = [];
 * const log = { debug() {}, info: (line: string) => lines.push(line), warn() {}, error() {} };
 * const context: WorkerContext = {
 *   taskId: "t1",
 *   attempt: 1,
 *   attributes: {},
 *   signal: new AbortController().signal,
 *   log,
 *   progress: () => {},
 * };
 * assert.equal(await scan(3, context), 3);
 * assert.deepEqual(lines, ["3 points"]);
 * ```
 */
export type WorkerContext = Omit<TaskContext, "client">;

/**
 * The default export of a handler module: the handler, sync or async. Its
 * fields and result cross to and from the worker by structured clone.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { WorkerContext, WorkerHandlerFunction } from "./handler.ts";
 * // The default export of fit.ts:
 * const fit: WorkerHandlerFunction<{ samples: Float64Array }, number> = (
 *   { samples },
 *   context: WorkerContext,
 * ) => {
 *   let sum = 0;
 *   for (let i = 0; i < samples.length; i++) {
 *     sum += samples[i];
 *     if (i % 1_000_000 === 0) context.progress(i / samples.length);
 *   }
 *   return sum / samples.length;
 * };
 * const progress: number[] = [];
 * const context = {
 *   taskId: "t1",
 *   attempt: 1,
 *   attributes: {},
 *   signal: new AbortController().signal,
 *   log: { debug() {}, info() {}, warn() {}, error() {} },
 *   progress: (fraction: number) => void progress.push(fraction),
 * };
 * assert.equal(await fit({ samples: new Float64Array([1, 2, 3]) }, context), 2);
 * assert.deepEqual(progress, [0]);
 * ```
 */
export type WorkerHandlerFunction<F = never, R = unknown> = (
  fields: F,
  context: WorkerContext,
) => R | Promise<R>;

/**
 * What a worker process may do besides loading its handler. Each entry is
 * `true` (all), a list (those paths, hosts or names only), or `false`/absent
 * (nothing). `read` adds to what a worker may always read: the handler
 * module's folder tree and the pool's own folder.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler, type WorkerPermissions } from "./handler.ts";
 * const permissions: WorkerPermissions = { read: ["/data/scans"], net: ["127.0.0.1:8888"] };
 * const fit = new WorkerHandler("file:///srv/lab/fit.ts", { permissions });
 * assert.deepEqual(fit.permissions.net, ["127.0.0.1:8888"]);
 * assert.equal(fit.permissions.write, false);
 * assert.throws(() => new WorkerHandler("file:///srv/lab/fit.ts", { permissions: { disk: true } as never }), /unknown worker permission 'disk'/);
 * ```
 */
export interface WorkerPermissions {
  /** Files and folders it may read, besides its module's folder and the pool's. */
  read?: boolean | string[];
  /** Files and folders it may write. */
  write?: boolean | string[];
  /** Hosts (`host:port`) it may reach. */
  net?: boolean | string[];
  /** Environment variables it may read. */
  env?: boolean | string[];
  /** Programs it may run. */
  run?: boolean | string[];
  /** System information it may read (`hostname`, `osRelease`, …). */
  sys?: boolean | string[];
  /** Native libraries it may load. */
  ffi?: boolean | string[];
}

/**
 * How a handler's workers run.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler, type WorkerHandlerOptions } from "./handler.ts";
 * const options: WorkerHandlerOptions = { maxHeapMb: 4_096, graceMs: 10_000 };
 * const fit = new WorkerHandler("file:///srv/lab/fit.ts", options);
 * assert.deepEqual([fit.maxHeapMb, fit.graceMs], [4_096, 10_000]);
 * ```
 */
export interface WorkerHandlerOptions {
  /** Widen what its workers may do; by default: read the module's folder tree, nothing else. */
  permissions?: WorkerPermissions;
  /**
   * V8's old-space limit per worker process, in MB (`--max-old-space-size`),
   * 16 to 65 536. A handler that needs more ends its task with
   * `WorkerCrashedError` ("ran out of memory"). Default: the pool's.
   */
  maxHeapMb?: number;
  /**
   * How long its handler may take to return once its signal fired, in ms,
   * 0 to 600 000; then its worker process is killed. Default: the pool's.
   */
  graceMs?: number;
}

/**
 * The longest grace period, in ms: 10 minutes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGraceMs, MAX_GRACE_MS } from "./handler.ts";
 * assert.equal(checkGraceMs(MAX_GRACE_MS, "graceMs"), 600_000);
 * assert.throws(() => checkGraceMs(MAX_GRACE_MS + 1, "graceMs"), RangeError);
 * ```
 */
export const MAX_GRACE_MS = 600_000;

/**
 * The deno that runs worker processes (and `deno info`): this very
 * executable. On Linux it is reached as `/proc/self/exe`, a path that is the
 * same whatever the install, so a runtime with narrow permissions needs only
 * `--allow-run=/proc/self/exe` (the `start` task has it); elsewhere it is
 * `Deno.execPath()`. Whoever may run it may run anything (a deno can be
 * given every permission): it is trusted as the runtime itself is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { DENO_EXECUTABLE } from "./handler.ts";
 * const { stdout } = await new Deno.Command(DENO_EXECUTABLE, { args: ["--version"] }).output();
 * assert.match(new TextDecoder().decode(stdout), /^deno \d/);
 * ```
 */
export const DENO_EXECUTABLE = Deno.build.os === "linux" ? "/proc/self/exe" : Deno.execPath();

/**
 * Check a grace period in ms; throws a `RangeError` naming `what`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkGraceMs } from "./handler.ts";
 * assert.equal(checkGraceMs(2_000, "graceMs"), 2_000);
 * assert.throws(
 *   () => checkGraceMs(-1, "workers.graceMs"),
 *   /^RangeError: workers.graceMs must be a whole number of ms from 0 to 600000, got -1$/,
 * );
 * ```
 */
export function checkGraceMs(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > MAX_GRACE_MS) {
    throw new RangeError(
      `${what} must be a whole number of ms from 0 to ${MAX_GRACE_MS}, got ${value}`,
    );
  }
  return value as number;
}

const PERMISSIONS = ["read", "write", "net", "env", "run", "sys", "ffi"] as const;
/** The folder of the pool's own modules, which a worker process loads. */
function poolDir(): string {
  if (!import.meta.url.startsWith("file:")) {
    throw new Error(`worker pools need Zest as local files; it was loaded from ${import.meta.url}`);
  }
  return dirname(fileURLToPath(import.meta.url));
}

/**
 * Check a heap limit in MB; throws a `RangeError` naming `what`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { checkHeapMb } from "./handler.ts";
 * assert.equal(checkHeapMb(512, "maxHeapMb"), 512);
 * assert.throws(() => checkHeapMb(8, "maxHeapMb"), /from 16 to 65536, got 8/);
 * ```
 */
export function checkHeapMb(value: unknown, what: string): number {
  if (!Number.isInteger(value) || (value as number) < 16 || (value as number) > 65_536) {
    throw new RangeError(`${what} must be a whole number of MB from 16 to 65536, got ${value}`);
  }
  return value as number;
}

function checkPermissions(permissions: unknown): Required<WorkerPermissions> {
  if (typeof permissions !== "object" || permissions === null || Array.isArray(permissions)) {
    throw new TypeError(`worker permissions must be an object, got ${permissions}`);
  }
  const checked = Object.fromEntries(PERMISSIONS.map((name) => [name, false])) as Record<
    string,
    boolean | string[]
  >;
  for (const [name, value] of Object.entries(permissions)) {
    if (!(PERMISSIONS as readonly string[]).includes(name)) {
      throw new TypeError(
        `unknown worker permission '${name}' (known: ${PERMISSIONS.join(", ")})`,
      );
    }
    if (value === undefined || typeof value === "boolean") {
      checked[name] = value ?? false;
      continue;
    }
    if (!Array.isArray(value)) {
      throw new TypeError(`permissions.${name} must be true, false or a list, got ${value}`);
    }
    value.forEach((entry, i) => {
      // Deno's flags take comma-separated lists.
      if (typeof entry !== "string" || entry === "" || entry.includes(",")) {
        throw new TypeError(
          `permissions.${name}[${i}] must be a non-empty string without a comma, got ${entry}`,
        );
      }
    });
    checked[name] = [...value];
  }
  return checked as Required<WorkerPermissions>;
}

/**
 * What loading a handler module needs besides its folder: its config, and
 * local files it imports from elsewhere.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type LoadNeeds, loadNeeds, WorkerHandler } from "./handler.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/noop.ts`, "export default () => null;");
 * const needs: LoadNeeds = await loadNeeds(new WorkerHandler(new URL(`file://${dir}/noop.ts`)));
 * assert.deepEqual(needs, { config: undefined, reads: [] }); // no deno.json, nothing from elsewhere
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface LoadNeeds {
  /** The nearest `deno.json(c)` above the module: its import map. */
  config: string | undefined;
  /** Local modules it imports from outside its folder. */
  reads: string[];
}

/**
 * A handler module for worker processes: its URL, permissions and heap limit.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { WorkerHandler } from "./handler.ts";
 * const fit = new WorkerHandler(new URL("./fit.ts", import.meta.url), {
 *   permissions: { read: ["/data/scans"] },
 *   maxHeapMb: 2048,
 * });
 * assert.equal(fit.name, "fit.ts");
 * assert.equal(new WorkerHandler(fit.module).key === fit.key, false); // other limits: other workers
 * assert.throws(() => new WorkerHandler("https://example.com/fit.ts"), /must be a file: URL/);
 * ```
 */
export class WorkerHandler {
  /** The module; its default export is the handler. */
  readonly module: URL;
  /** The module's file name, for messages. */
  readonly name: string;
  /** What its workers may do, every entry set (`false`: nothing). */
  readonly permissions: Readonly<Required<WorkerPermissions>>;
  /** Its heap limit in MB, if it sets its own (else the pool's). */
  readonly maxHeapMb: number | undefined;
  /** Its grace period, if it sets its own (else the pool's). */
  readonly graceMs: number | undefined;
  /** Handlers with equal keys share their worker processes. */
  readonly key: string;

  /** Check `module` (a `file:` URL) and `options`; throws a clear error if they are wrong. */
  constructor(module: URL | string, options: WorkerHandlerOptions = {}) {
    let url: URL | undefined;
    try {
      url = new URL(module);
    } catch {
      // Not a URL: said below.
    }
    if (url?.protocol !== "file:") {
      throw new TypeError(
        `a worker handler module must be a file: URL, e.g. new URL("./fit.ts", import.meta.url); ` +
          `got '${module}'`,
      );
    }
    this.module = url;
    this.name = basename(fileURLToPath(url));
    this.permissions = Object.freeze(checkPermissions(options.permissions ?? {}));
    this.maxHeapMb = options.maxHeapMb === undefined
      ? undefined
      : checkHeapMb(options.maxHeapMb, "maxHeapMb");
    this.graceMs = options.graceMs === undefined
      ? undefined
      : checkGraceMs(options.graceMs, "graceMs");
    this.key = JSON.stringify([url.href, this.permissions, this.maxHeapMb]);
  }

  /**
   * The `deno` arguments that start a worker process for this handler, given
   * what loading it needs (`loadNeeds`), with `defaultHeapMb` unless the
   * handler sets its own.
   *
   * @internal the pool's, not part of the public API.
   */
  denoArgs(needs: LoadNeeds, defaultHeapMb: number): string[] {
    const folder = dirname(fileURLToPath(this.module));
    const pool = poolDir();
    const flags = PERMISSIONS.flatMap((name) => {
      const value = this.permissions[name];
      if (name === "read" && value !== true) {
        return [`--allow-read=${[folder, pool, ...needs.reads, ...(value || [])].join(",")}`];
      }
      if (value === true) return [`--allow-${name}`];
      return value && value.length > 0 ? [`--allow-${name}=${value.join(",")}`] : [];
    });
    return [
      "run",
      "--no-prompt",
      ...flags,
      `--v8-flags=--max-old-space-size=${this.maxHeapMb ?? defaultHeapMb}`,
      needs.config ? `--config=${needs.config}` : "--no-config",
      join(pool, "supervisor.ts"),
      this.module.href,
    ];
  }
}

/**
 * What loading `handler`'s module needs: the nearest `deno.json` (its import
 * map) and the local files it imports (code, not `import type`) from outside
 * its folder, which its workers may then read. Asks `deno info` (~0.2–1 s).
 * Never rejects: what cannot be found is left out, and the module's load
 * then says why.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { loadNeeds, WorkerHandler } from "./handler.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/fit.ts`, "export default () => 1;");
 * const fit = new WorkerHandler(new URL(`file://${dir}/fit.ts`));
 * const args = fit.denoArgs(await loadNeeds(fit), 1024);
 * assert.deepEqual(args.slice(0, 2), ["run", "--no-prompt"]);
 * assert.ok(args.some((arg) => arg.startsWith(`--allow-read=${dir},`)));
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function loadNeeds({ module }: WorkerHandler): Promise<LoadNeeds> {
  const folder = dirname(fileURLToPath(module));
  const config = nearestConfig(folder);
  const covered = [folder, poolDir()].map((dir) => dir + sep);
  try {
    const { success, stdout } = await new Deno.Command(DENO_EXECUTABLE, {
      args: ["info", "--json", config ? `--config=${config}` : "--no-config", module.href],
      stdin: "null",
      stderr: "null",
      env: { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    }).output();
    if (!success) return { config, reads: [] };
    const graph = JSON.parse(new TextDecoder().decode(stdout)) as {
      modules: { specifier: string; dependencies?: { code?: { specifier: string } }[] }[];
    };
    // What runs: follow code imports only (an `import type` loads nothing).
    const modules = new Map(graph.modules.map((entry) => [entry.specifier, entry]));
    const loaded = new Set([module.href]);
    for (const specifier of loaded) {
      for (const { code } of modules.get(specifier)?.dependencies ?? []) {
        if (code) loaded.add(code.specifier);
      }
    }
    const reads = [...loaded]
      .filter((specifier) => specifier.startsWith("file:"))
      .map((specifier) => fileURLToPath(specifier))
      // Deno's flags take comma-separated lists.
      .filter((path) => !path.includes(",") && !covered.some((dir) => path.startsWith(dir)));
    return { config, reads };
  } catch {
    return { config, reads: [] }; // e.g. the runtime may not run deno: starting the worker says so
  }
}

/**
 * The `deno.json` or `deno.jsonc` nearest above `folder`: the handler's own
 * project, whose import map it is written against (not necessarily the
 * runtime's). `undefined` if none can be found or read.
 */
function nearestConfig(folder: string): string | undefined {
  for (let dir = folder;; dir = dirname(dir)) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      const path = join(dir, name);
      try {
        if (Deno.statSync(path).isFile) return path;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) return undefined; // not ours to read
      }
    }
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * The kernel layer: a `Kernel` interface and its implementation on a
 * Jupyter Server (launched on loopback, or reached by URL and token).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JupyterServer } from "./mod.ts";
 * await using server = await JupyterServer.launch({ jupyterPath: [Deno.cwd()] });
 * const kernel = await server.startKernel({ name: "calibration" });
 * const reply = await kernel.execute('calibration_graph.nodes["q0_rabi"].maintain()');
 * assert.equal(reply.status, "ok");
 * assert.equal((reply.value as { state_after: string }).state_after, "good");
 * ```
 *
 * @module
 */
export { BOOTSTRAP_CODE } from "./bootstrap.ts";
export * from "./errors.ts";
export { JupyterKernel, type KernelHost, type KernelStartOptions } from "./jupyter_kernel.ts";
export type { ExecuteOptions, ExecutionReply, JsonValue, Kernel, KernelStatus } from "./kernel.ts";
export type { ProcessRef } from "./processes.ts";
export { type JupyterConnectOptions, type JupyterLaunchOptions, JupyterServer } from "./server.ts";

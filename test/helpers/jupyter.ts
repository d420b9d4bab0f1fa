/** Shared pieces of the tests that run real Jupyter kernels. */
import { JupyterServer } from "../../src/kernel/mod.ts";

/**
 * The repository root: `kernels/<name>/kernel.json` lives under it.
 *
 * @example
 * ```ts
 * import { REPO_ROOT } from "./jupyter.ts";
 * const calibration = `${REPO_ROOT}/kernels/calibration/kernel.json`;
 * ```
 */
export const REPO_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

/**
 * A 1×1 PNG (one red pixel), base64-encoded, for display tests: the PNG
 * signature, an IHDR chunk (1×1, 8-bit RGB), one zlib-compressed IDAT row
 * and IEND, each with its CRC.
 *
 * @example
 * ```ts
 * import { py } from "../../src/task/py.ts";
 * import { TINY_PNG_BASE64 } from "./jupyter.ts";
 * const code = py`display({"image/png": ${TINY_PNG_BASE64}}, raw=True)`;
 * ```
 */
export const TINY_PNG_BASE64 =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC";

/**
 * A launched server plus the temporary folder it runs in.
 *
 * @example
 * ```ts
 * import { launchTestServer, type TestServer } from "./jupyter.ts";
 * const test: TestServer = await launchTestServer();
 * await test.stop();
 * ```
 */
export interface TestServer {
  server: JupyterServer;
  /** The server's root folder (the kernels' working folder), removed by `stop()`. */
  rootDir: string;
  /** Stop the server and remove its folder. */
  stop(): Promise<void>;
}

/**
 * Launch a Jupyter Server on loopback whose kernelspecs include the repo's
 * `kernels/`, with a throw-away root folder (the kernels' working folder).
 *
 * @example
 * ```ts
 * import { launchTestServer } from "./jupyter.ts";
 * const { server, stop } = await launchTestServer();
 * try {
 *   const kernel = await server.startKernel({ name: "calibration" });
 * } finally {
 *   await stop();
 * }
 * ```
 */
export async function launchTestServer(): Promise<TestServer> {
  const rootDir = await Deno.makeTempDir({ prefix: "zest-kernel-test-" });
  const server = await JupyterServer.launch({ jupyterPath: [REPO_ROOT], rootDir });
  return {
    server,
    rootDir,
    async stop() {
      await server.stop();
      await Deno.remove(rootDir, { recursive: true });
    },
  };
}

/**
 * One test server for the tests of a file, where launching one per test is
 * too slow: the first test that asks launches it, and {@link stop} (the
 * file's last test that uses it) stops it. Tests that use it outlive no
 * resource of their own but share the server's, so they run with Deno's
 * resource and op sanitizers off. A server left running when a filter
 * skipped the last test stops itself when the test process exits (its
 * parent watchdog, `server_config.ts`): at the test process's `unload` it is
 * sent SIGTERM and its folder is removed.
 *
 * @example
 * ```ts
 * import { SharedTestServer } from "./jupyter.ts";
 * const shared = new SharedTestServer();
 * Deno.test({
 *   name: "a kernel on the shared server",
 *   sanitizeResources: false,
 *   sanitizeOps: false,
 *   fn: async () => {
 *     const server = await shared.server();
 *     const kernel = await server.startKernel({ name: "python3" });
 *     await kernel.shutdown();
 *   },
 * });
 * Deno.test("the shared server stops", () => shared.stop());
 * ```
 */
export class SharedTestServer {
  #launched?: Promise<TestServer>;
  #running?: TestServer;
  /** A filter skipped the test that stops it: end it as the test process exits. */
  readonly #stopAtExit = () => {
    const running = this.#running;
    if (!running) return;
    try {
      Deno.kill(running.server.pid!, "SIGTERM");
    } catch {
      // Already gone.
    }
    Deno.removeSync(running.rootDir, { recursive: true });
  };

  /** The server, launched on first use. */
  async server(): Promise<JupyterServer> {
    this.#launched ??= launchTestServer().then((launched) => {
      this.#running = launched;
      globalThis.addEventListener("unload", this.#stopAtExit);
      return launched;
    });
    return (await this.#launched).server;
  }

  /** Stop the server if it was launched; a later {@link server} launches a new one. */
  async stop(): Promise<void> {
    const launched = this.#launched;
    this.#launched = undefined;
    if (!launched) return;
    const running = await launched;
    this.#running = undefined;
    globalThis.removeEventListener("unload", this.#stopAtExit);
    await running.stop();
  }
}

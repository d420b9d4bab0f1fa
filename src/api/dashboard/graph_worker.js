// @ts-check
/**
 * A module worker that lays out Graphviz DOT as SVG text with Viz.js
 * (Graphviz compiled to WebAssembly, served at `/dashboard/viz.js`). It runs
 * apart from the page for two reasons: a large graph is laid out without
 * freezing the page, and only this worker's Content-Security-Policy allows
 * compiling WebAssembly (`'wasm-unsafe-eval'`); the page's does not.
 *
 * Messages in: `{ ref, dot }`; out: `{ ref, svg }` or `{ ref, error }`.
 *
 * @module
 */

/**
 * The part of Viz.js this worker uses.
 *
 * @typedef {{ renderString(dot: string, options: { format: "svg" }): string }} Viz
 */

/** Not a literal: type-checking does not follow it (the file is not in this folder). */
const VIZ_MODULE = "./viz.js";

/** Loaded once, with the first graph. */
/** @type {Promise<Viz> | undefined} */
let viz;

addEventListener("message", async (event) => {
  const { ref, dot } = /** @type {MessageEvent<{ ref: number, dot: string }>} */ (event).data;
  try {
    viz ??= import(VIZ_MODULE).then((module) => module.instance());
    postMessage({ ref, svg: (await viz).renderString(dot, { format: "svg" }) });
  } catch (error) {
    postMessage({ ref, error: error instanceof Error ? error.message : String(error) });
  }
});

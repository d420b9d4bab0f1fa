/**
 * The dashboard's files (`src/api/dashboard/`), imported as text so they
 * ship inside the module graph: no build step, and no read permission needed
 * to serve them. The page is at `/`, its style and modules under
 * `/dashboard/`, where the modules import each other by relative URL.
 *
 * Graphviz for the dependency graph is Viz.js (npm `@viz-js/viz`, pinned in
 * deno.json): its package's main file, `dist/viz.js`, is one self-contained
 * ES module with the WebAssembly inside (1.1 MiB), imported as text like the
 * rest and served at `/dashboard/viz.js`.
 */
import page from "./dashboard/index.html" with { type: "text" };
import style from "./dashboard/style.css" with { type: "text" };
import connection from "./dashboard/connection.js" with { type: "text" };
import dom from "./dashboard/dom.js" with { type: "text" };
import format from "./dashboard/format.js" with { type: "text" };
import main from "./dashboard/main.js" with { type: "text" };
import outputs from "./dashboard/outputs.js" with { type: "text" };
import schemaForm from "./dashboard/schema_form.js" with { type: "text" };
import services from "./dashboard/services.js" with { type: "text" };
import submitForm from "./dashboard/submit_form.js" with { type: "text" };
import taskDetail from "./dashboard/task_detail.js" with { type: "text" };
import taskTable from "./dashboard/task_table.js" with { type: "text" };
import liveOutput from "./dashboard/live_output.js" with { type: "text" };
import history from "./dashboard/history.js" with { type: "text" };
import graphView from "./dashboard/graph_view.js" with { type: "text" };
import graphWorker from "./dashboard/graph_worker.js" with { type: "text" };
import schedules from "./dashboard/schedules.js" with { type: "text" };
import store from "./dashboard/store.js" with { type: "text" };
import viz from "@viz-js/viz" with { type: "text" };

/**
 * The page holds no secret (the token stays in the URL fragment, read by its
 * script), so it is served without auth. The policy keeps it to its own
 * script and style, images from `data:` URLs (kernel outputs), and its own
 * WebSocket; nothing may frame it, and it frames nothing from anywhere
 * (`frame-src` falls back to `default-src 'none'`).
 *
 * HTML outputs of kernels are shown in `<iframe sandbox srcdoc>` frames:
 * a `srcdoc` document is not fetched, so `frame-src` does not stop it, and
 * it inherits this policy: no inline script or style (a DataFrame's
 * `<style>` is dropped), no fetch, images only as the page may have them.
 * The empty `sandbox` blocks its scripts on its own too (both checked in
 * Chromium; test/dashboard_test.ts pins the sandbox).
 *
 * The page may not compile WebAssembly: that takes `'wasm-unsafe-eval'`,
 * which only `WORKER_POLICY` grants.
 */
const POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/**
 * The policy of the Graphviz worker (`graph_worker.js`): a dedicated
 * worker runs under the policy of its own script's response, not the
 * page's. It loads Viz.js from here and compiles its WebAssembly
 * (`'wasm-unsafe-eval'`: compiling only, no `eval` of text); nothing else
 * (no fetch, no import from elsewhere). Checked in Chromium: without it the
 * worker's `WebAssembly.instantiate` is refused, and the page's own compile
 * stays refused with it.
 */
const WORKER_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
].join("; ");

const HTML = "text/html; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JAVASCRIPT = "text/javascript; charset=utf-8";

/** Each file by the path it is served at (`test/dashboard_test.ts` checks that none is missing). */
const files = new Map<string, { body: string; type: string; policy?: string }>([
  ["/", { body: page, type: HTML }],
  ["/dashboard/style.css", { body: style, type: CSS }],
  ["/dashboard/main.js", { body: main, type: JAVASCRIPT }],
  ["/dashboard/connection.js", { body: connection, type: JAVASCRIPT }],
  ["/dashboard/dom.js", { body: dom, type: JAVASCRIPT }],
  ["/dashboard/format.js", { body: format, type: JAVASCRIPT }],
  ["/dashboard/outputs.js", { body: outputs, type: JAVASCRIPT }],
  ["/dashboard/schema_form.js", { body: schemaForm, type: JAVASCRIPT }],
  ["/dashboard/services.js", { body: services, type: JAVASCRIPT }],
  ["/dashboard/submit_form.js", { body: submitForm, type: JAVASCRIPT }],
  ["/dashboard/task_detail.js", { body: taskDetail, type: JAVASCRIPT }],
  ["/dashboard/task_table.js", { body: taskTable, type: JAVASCRIPT }],
  ["/dashboard/live_output.js", { body: liveOutput, type: JAVASCRIPT }],
  ["/dashboard/history.js", { body: history, type: JAVASCRIPT }],
  ["/dashboard/graph_view.js", { body: graphView, type: JAVASCRIPT }],
  ["/dashboard/graph_worker.js", { body: graphWorker, type: JAVASCRIPT, policy: WORKER_POLICY }],
  ["/dashboard/schedules.js", { body: schedules, type: JAVASCRIPT }],
  ["/dashboard/store.js", { body: store, type: JAVASCRIPT }],
  ["/dashboard/viz.js", { body: viz, type: JAVASCRIPT }],
]);

/**
 * The response for a dashboard file at `pathname`, or `undefined` if it is
 * not one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { dashboardAsset } from "./assets.ts";
 * assert.equal(dashboardAsset("/")?.headers.get("content-type"), "text/html; charset=utf-8");
 * const script = dashboardAsset("/dashboard/main.js", "HEAD");
 * assert.equal(script?.headers.get("content-type"), "text/javascript; charset=utf-8");
 * assert.equal(script?.body, null);
 * assert.equal(dashboardAsset("/tasks"), undefined);
 * assert.match(dashboardAsset("/dashboard/viz.js")?.headers.get("content-type") ?? "", /javascript/);
 * ```
 */
export function dashboardAsset(pathname: string, method = "GET"): Response | undefined {
  const file = files.get(pathname);
  if (!file) return undefined;
  return new Response(method === "HEAD" ? null : file.body, {
    headers: {
      "content-type": file.type,
      "content-security-policy": file.policy ?? POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    },
  });
}

/**
 * The dashboard's files (`src/api/dashboard/`), imported as text so they
 * ship inside the module graph: no build step, and no read permission needed
 * to serve them. The page is at `/`, its style and modules under
 * `/dashboard/`, where the modules import each other by relative URL.
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

const HTML = "text/html; charset=utf-8";
const CSS = "text/css; charset=utf-8";
const JAVASCRIPT = "text/javascript; charset=utf-8";

/** Each file by the path it is served at (`test/dashboard_test.ts` checks that none is missing). */
const files = new Map<string, { body: string; type: string }>([
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
 * ```
 */
export function dashboardAsset(pathname: string, method = "GET"): Response | undefined {
  const file = files.get(pathname);
  if (!file) return undefined;
  return new Response(method === "HEAD" ? null : file.body, {
    headers: {
      "content-type": file.type,
      "content-security-policy": POLICY,
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer",
      "cache-control": "no-cache",
    },
  });
}

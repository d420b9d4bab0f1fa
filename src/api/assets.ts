/**
 * The dashboard's files, imported as text so they ship inside the module
 * graph: no build step, and no read permission needed to serve them.
 */
import html from "./dashboard.html" with { type: "text" };
import script from "./dashboard.js" with { type: "text" };
import style from "./dashboard.css" with { type: "text" };

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

const files: Record<string, { body: string; type: string }> = {
  "/": { body: html, type: "text/html; charset=utf-8" },
  "/dashboard.js": { body: script, type: "text/javascript; charset=utf-8" },
  "/dashboard.css": { body: style, type: "text/css; charset=utf-8" },
};

/**
 * The response for a dashboard file at `pathname`, or `undefined` if it is
 * not one.
 *
 * @example
 * ```ts
 * import { dashboardAsset } from "./assets.ts";
 * dashboardAsset("/")?.headers.get("content-type"); // "text/html; charset=utf-8"
 * dashboardAsset("/tasks"); // undefined
 * ```
 */
export function dashboardAsset(pathname: string, method = "GET"): Response | undefined {
  const file = files[pathname];
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

// @ts-check
/**
 * A kernel's rich outputs (Jupyter mime bundles) on the page: images as
 * images, HTML rendered in a sandboxed frame, else the plain text.
 *
 * @module
 */

import { el } from "./dom.js";
import { pretty } from "./format.js";

/** @import { DisplayOutput, TaskOutcome } from "./types.d.ts" */

/** Image types a browser shows from base64, richest first. */
const BASE64_IMAGES = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/**
 * A display (or a result's bundle) in its richest form: an image, HTML, else
 * its text; `undefined` if it has none of them.
 *
 * @example
 * ```js
 * import { outputView } from "./outputs.js";
 * outputView({ data: { "text/plain": "42" }, metadata: {} }); // <pre>42</pre>
 * ```
 *
 * @param {DisplayOutput} output
 * @returns {HTMLElement | undefined}
 */
export function outputView(output) {
  const image = imageView(output);
  if (image) return image;
  const { "text/html": html, "text/plain": text } = output.data;
  if (typeof html === "string") return htmlFrame(html);
  if (typeof text === "string") return el("pre", {}, text);
  return undefined;
}

/**
 * A successful outcome's result: as an image or HTML when the kernel gave
 * one, else its value.
 *
 * @example
 * ```js
 * import { resultView } from "./outputs.js";
 * resultView({ status: "ok", id: "3b0c", result: { a: 1 } }); // <pre class="result">{ "a": 1 }</pre>
 * ```
 *
 * @param {Extract<TaskOutcome, { status: "ok" }>} outcome
 * @returns {HTMLElement}
 */
export function resultView(outcome) {
  const bundle = outcome.execution?.executeResult;
  const rich = bundle && (imageView(bundle) ?? htmlFrameOf(bundle));
  return rich
    ? el("div", { className: "outputs" }, rich)
    : el("pre", { className: "result" }, pretty(outcome.result));
}

/**
 * An `<img>` for a bundle's image, at the size the kernel asked for
 * (IPython's `Image(width=…)`). An SVG shown through `<img>` runs no script.
 *
 * @param {DisplayOutput} output
 * @returns {HTMLImageElement | undefined}
 */
function imageView(output) {
  const type = BASE64_IMAGES.find((type) => typeof output.data[type] === "string");
  const svg = output.data["image/svg+xml"];
  const source = type
    ? `data:${type};base64,${String(output.data[type]).replace(/\s/g, "")}`
    : typeof svg === "string"
    ? `data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`
    : undefined;
  if (!source) return undefined;
  const image = el("img", { src: source, alt: "kernel output" });
  const size = output.metadata[type ?? "image/svg+xml"];
  if (typeof size === "object" && size !== null) {
    const { width, height } = /** @type {{ width?: unknown, height?: unknown }} */ (size);
    if (typeof width === "number" && width > 0) image.width = width;
    if (typeof height === "number" && height > 0) image.height = height;
  }
  return image;
}

/**
 * @param {DisplayOutput} output
 * @returns {HTMLIFrameElement | undefined}
 */
function htmlFrameOf(output) {
  const html = output.data["text/html"];
  return typeof html === "string" ? htmlFrame(html) : undefined;
}

/**
 * HTML from a kernel (a pandas DataFrame, IPython's `HTML(…)`) rendered in a
 * frame with an empty `sandbox`: an opaque origin, no script, form, popup or
 * navigation of this page. The frame's document also keeps this page's
 * Content-Security-Policy, so it loads nothing from elsewhere either.
 *
 * @param {string} html
 * @returns {HTMLIFrameElement}
 */
function htmlFrame(html) {
  const frame = document.createElement("iframe");
  frame.setAttribute("sandbox", ""); // before the document is set: every restriction applies
  frame.className = "html-output";
  frame.title = "HTML output";
  // The sandbox hides the document's real height: estimate it from its rows and lines.
  const lines = (html.match(/<(tr|br|p|li|div|h[1-6])[\s>/]/gi) ?? []).length + 1;
  frame.height = String(Math.min(384, Math.max(48, lines * 26 + 16)));
  frame.srcdoc = html;
  return frame;
}

// @ts-check
/**
 * Building the page's elements. Everything from the server goes in as text
 * (`append` of a string, `textContent`), never as HTML.
 *
 * @module
 */

/**
 * What `el` appends: a node, or a string as text. `false`, `null` and
 * `undefined` are skipped, so a child can be written `condition && el(…)`.
 *
 * @typedef {Node | string | false | null | undefined} Child
 */

/**
 * An element's properties as `el` sets them (`className`, `value`,
 * `onclick`, …), with `dataset` merged into the element's own.
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @typedef {Partial<Omit<HTMLElementTagNameMap[K], "dataset">> & {
 *   dataset?: Record<string, string>,
 * }} Properties
 */

/**
 * A new `tag` element with `properties` (those `undefined` are left unset)
 * and `children`, arrays of them flattened.
 *
 * @example
 * ```js
 * import { el } from "./dom.js";
 * const row = el("tr", { className: "selected", dataset: { id: "3b0c" } }, el("td", {}, "Sum"));
 * row.dataset.id; // "3b0c"
 * ```
 *
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Properties<K>} [properties]
 * @param {(Child | Child[])[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, properties = {}, ...children) {
  const node = document.createElement(tag);
  const { dataset, ...rest } = properties;
  for (const [key, value] of Object.entries(rest)) {
    if (value !== undefined) Reflect.set(node, key, value);
  }
  if (dataset) Object.assign(node.dataset, dataset);
  return fill(node, ...children);
}

/**
 * Replace the children of `parent` with `children`, arrays of them
 * flattened; returns `parent`.
 *
 * @example
 * ```js
 * import { el, fill } from "./dom.js";
 * const busy = true;
 * fill(document.body, el("h1", {}, "Zest"), busy && "working…");
 * ```
 *
 * @template {ParentNode} P
 * @param {P} parent
 * @param {(Child | Child[])[]} children
 * @returns {P}
 */
export function fill(parent, ...children) {
  parent.replaceChildren(
    ...children.flat().filter((child) => child !== false && child !== null && child !== undefined),
  );
  return parent;
}

/**
 * The element of `root` matching `selector`, which must be a `type`: the page
 * and the modules agree on its shape, or the page stops with a clear error.
 *
 * @example
 * ```js
 * import { find } from "./dom.js";
 * const body = find(document, "#tasks", HTMLTableSectionElement);
 * body.rows.length;
 * ```
 *
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @param {{ new (): T, name: string }} type
 * @returns {T}
 */
export function find(root, selector, type) {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) {
    throw new Error(`the page has no ${type.name} at ${selector}`);
  }
  return element;
}

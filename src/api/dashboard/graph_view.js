// @ts-check
/**
 * The dependency graph of a task, drawn in the page: the server gives it as
 * Graphviz DOT (`dot`), Graphviz itself (Viz.js, in `graph_worker.js`) lays
 * it out as SVG. Each node is a task, coloured by its state through its
 * class (`task state-<state>`), so a task event recolours it without a new
 * layout; a task that starts waiting on one on show brings a new layout.
 * Clicking a node (or Enter on it) opens its task.
 *
 * @module
 */

import { el, fill } from "./dom.js";
import { shortId } from "./format.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { TaskSummary } from "./types.d.ts"
 */

/** New dependents come in bursts (a graph submitted at once): lay out again at most this often. */
const RELAYOUT_DELAY_MS = 250;

/** What SVG node ids start with: `task-<encodeURIComponent(id)>` (see `graphDot` on the server). */
const NODE_PREFIX = "task-";

/**
 * The panel `#graph`, hidden while no graph is on show.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { GraphView } from "./graph_view.js";
 * declare const connection: Connection;
 * const graph = new GraphView(find(document, "#graph", HTMLElement), connection, {
 *   chosen: (id) => console.log("open task", id),
 * });
 * await graph.open("0192f6a3-7c1e-7b5d-9a0c-3f5e2d1c4b6a");
 * ```
 */
export class GraphView {
  #panel;
  #connection;
  #chosen;
  #renderer = new GraphvizWorker();
  /** The task the graph is drawn around. */
  /** @type {string | undefined} */
  #centre;
  /** The task whose node is marked (the one the detail shows). */
  /** @type {string | undefined} */
  #marked;
  #canvas = el("div", { className: "graph-canvas" });
  #status = el("p", { className: "muted", role: "status" });
  #source = el("pre", { className: "dot" });
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #relayoutTimer;
  /** Bumped by each layout: an older one that finishes late is dropped. */
  #generation = 0;

  /**
   * @param {HTMLElement} panel
   * @param {Connection} connection where the graph is read
   * @param {{ chosen: (id: string) => void }} handlers `chosen`: a node was clicked
   */
  constructor(panel, connection, handlers) {
    this.#panel = panel;
    this.#connection = connection;
    this.#chosen = handlers.chosen;
    this.#canvas.addEventListener("click", (event) => this.#choose(event.target));
    this.#canvas.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.#choose(event.target);
    });
  }

  /**
   * Show the graph around task `id`.
   *
   * @param {string} id
   */
  async open(id) {
    this.#centre = id;
    this.#panel.hidden = false;
    fill(
      this.#panel,
      el(
        "header",
        {},
        el("h2", {}, `Dependencies of ${shortId(id)}`),
        el("span", { className: "spacer" }),
        el("button", {
          type: "button",
          className: "quiet",
          onclick: () => this.#layout(),
        }, "Refresh"),
        el("button", { type: "button", className: "quiet", onclick: () => this.close() }, "Close"),
      ),
      this.#status,
      this.#canvas,
      el("details", {}, el("summary", {}, "DOT source"), this.#source),
    );
    this.#canvas.replaceChildren();
    this.#panel.scrollIntoView({ block: "nearest" });
    await this.#layout();
  }

  /** Hide the graph. */
  close() {
    this.#centre = undefined;
    this.#generation++;
    this.#panel.hidden = true;
    this.#canvas.replaceChildren();
  }

  /**
   * Mark the node of task `id` (the one on show elsewhere); none if `undefined`.
   *
   * @param {string | undefined} id
   */
  mark(id) {
    this.#marked = id;
    for (const node of this.#canvas.querySelectorAll("g.task.marked")) {
      node.classList.remove("marked");
    }
    if (id) this.#node(id)?.classList.add("marked");
  }

  /**
   * A task changed (an event's summary): recolour its node; lay out again if
   * it is new and waits for a task on show.
   *
   * @param {TaskSummary} summary
   */
  taskChanged(summary) {
    if (!this.#centre) return;
    const node = this.#node(summary.id);
    if (node) return recolour(node, summary.state);
    if (summary.after?.some((id) => this.#node(id))) {
      this.#relayoutTimer ??= setTimeout(() => {
        this.#relayoutTimer = undefined;
        this.#layout();
      }, RELAYOUT_DELAY_MS);
    }
  }

  /** Read the DOT of the graph on show and lay it out. */
  async #layout() {
    const id = this.#centre;
    if (!id) return;
    const generation = ++this.#generation;
    this.#status.textContent = "drawing…";
    try {
      const { dot } = await this.#connection.request({ type: "dot", taskId: id });
      if (generation !== this.#generation) return;
      if (dot === null) {
        this.#status.textContent = `no task ${shortId(id)}: unknown, or past its retention`;
        this.#canvas.replaceChildren();
        return;
      }
      this.#source.textContent = dot;
      const svg = parseSvg(await this.#renderer.render(dot));
      if (generation !== this.#generation) return;
      for (const node of svg.querySelectorAll("g.task:not(.gone)")) {
        node.setAttribute("tabindex", "0");
        node.setAttribute("role", "button");
      }
      this.#canvas.replaceChildren(svg);
      this.mark(this.#marked);
      const count = svg.querySelectorAll("g.task").length;
      this.#status.textContent = `${count} task${count === 1 ? "" : "s"}; click one to open it`;
    } catch (error) {
      if (generation !== this.#generation) return;
      this.#status.textContent = `could not draw the graph: ${
        /** @type {Error} */ (error).message
      }`;
    }
  }

  /**
   * The SVG node of task `id`, if it is on show.
   *
   * @param {string} id
   * @returns {Element | null}
   */
  #node(id) {
    return this.#canvas.querySelector(`#${CSS.escape(NODE_PREFIX + encodeURIComponent(id))}`);
  }

  /** @param {EventTarget | null} target */
  #choose(target) {
    const node = target instanceof Element ? target.closest("g.task") : null;
    if (!node || node.classList.contains("gone") || !node.id.startsWith(NODE_PREFIX)) return;
    this.#chosen(decodeURIComponent(node.id.slice(NODE_PREFIX.length)));
  }
}

/**
 * Show `node` in `state`: its class (and so its colour), and the state in
 * its label (the label's line that starts with the old state).
 *
 * @param {Element} node
 * @param {string} state
 */
function recolour(node, state) {
  const old = [...node.classList].find((name) => name.startsWith("state-"));
  if (old === `state-${state}`) return;
  if (old) node.classList.replace(old, `state-${state}`);
  else node.classList.add(`state-${state}`);
  const oldState = old?.slice("state-".length);
  for (const text of node.querySelectorAll("text")) {
    const line = text.textContent ?? "";
    if (oldState && line.startsWith(`${oldState} `)) {
      text.textContent = state + line.slice(oldState.length);
    }
  }
}

/**
 * The SVG document Graphviz wrote, as an element of this page. The text is
 * Graphviz's own output for the server's DOT, in which every user text is
 * escaped; it is parsed as XML (its scripts, were there any, never run: the
 * page's policy allows no inline script either).
 *
 * @param {string} text
 * @returns {SVGSVGElement}
 */
function parseSvg(text) {
  const root = new DOMParser().parseFromString(text, "image/svg+xml").documentElement;
  const svg = document.importNode(root, true);
  if (!(svg instanceof SVGSVGElement)) throw new Error("Graphviz gave no SVG");
  return svg;
}

/** Viz.js in a module worker: DOT in, SVG text out; made with the first graph. */
class GraphvizWorker {
  /** @type {Worker | undefined} */
  #worker;
  #nextRef = 1;
  /** @type {Map<number, { resolve: (svg: string) => void, reject: (error: Error) => void }>} */
  #pending = new Map();

  /**
   * The SVG of `dot`; rejects with Graphviz's error.
   *
   * @param {string} dot
   * @returns {Promise<string>}
   */
  render(dot) {
    const { promise, resolve, reject } = /** @type {PromiseWithResolvers<string>} */ (
      Promise.withResolvers()
    );
    const ref = this.#nextRef++;
    this.#pending.set(ref, { resolve, reject });
    this.#start().postMessage({ ref, dot });
    return promise;
  }

  #start() {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL("./graph_worker.js", import.meta.url), { type: "module" });
    worker.addEventListener("message", (event) => {
      const { ref, svg, error } = event.data;
      const pending = this.#pending.get(ref);
      this.#pending.delete(ref);
      if (typeof svg === "string") pending?.resolve(svg);
      else pending?.reject(new Error(String(error)));
    });
    // A worker that cannot load (or dies) fails what it was asked; the next graph starts another.
    worker.addEventListener("error", (event) => {
      event.preventDefault();
      worker.terminate();
      this.#worker = undefined;
      const failure = new Error(event.message || "the Graphviz worker could not start");
      for (const { reject } of this.#pending.values()) reject(failure);
      this.#pending.clear();
    });
    this.#worker = worker;
    return worker;
  }
}

// @ts-check
/**
 * The store panel: where the runtime keeps its records (memory, or a SQLite
 * file and its size on disk) and how many it holds, read again as tasks
 * come and go and every few seconds.
 *
 * @module
 */

import { el, fill } from "./dom.js";
import { bytes } from "./format.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { StoreStats } from "./types.d.ts"
 */

/** How each kind of store reads on the page. */
/** @type {Record<string, string>} */
const KINDS = {
  sqlite: "SQLite",
  memory: "memory (lost on restart)",
  nats: "NATS JetStream key-value",
};

/** Task events come in bursts: read the store at most this often because of them. */
const REFRESH_DELAY_MS = 1_000;

/**
 * The facts of the store, drawn into an element.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { StorePanel } from "./store.js";
 * declare const connection: Connection;
 * const panel = new StorePanel(find(document, "#store", HTMLElement), connection);
 * await panel.refresh();
 * ```
 */
export class StorePanel {
  #element;
  #connection;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #refreshTimer;

  /**
   * @param {HTMLElement} element
   * @param {Connection} connection where the store's facts are read
   */
  constructor(element, connection) {
    this.#element = element;
    this.#connection = connection;
  }

  /** Read the store's facts and show them; when not connected, keep the last ones. */
  async refresh() {
    try {
      this.show((await this.#connection.request({ type: "store" })).store);
    } catch {
      // Not connected: the page reads everything again when it connects.
    }
  }

  /** Read the store again shortly; calls in the meantime share that one read. */
  refreshSoon() {
    this.#refreshTimer ??= setTimeout(() => {
      this.#refreshTimer = undefined;
      this.refresh();
    }, REFRESH_DELAY_MS);
  }

  /**
   * Show `store`.
   *
   * @param {StoreStats} store
   */
  show(store) {
    this.#element.dataset.kind = store.kind;
    fill(
      this.#element,
      fact("kind", KINDS[store.kind] ?? store.kind),
      store.path !== undefined && fact("path", el("code", {}, store.path)),
      store.bytes !== undefined && fact("size", bytes(store.bytes)),
      fact("records", store.records.toLocaleString("en")),
    );
  }
}

/**
 * @param {string} name
 * @param {Node | string} value
 * @returns {HTMLElement[]}
 */
function fact(name, value) {
  return [el("dt", {}, name), el("dd", { dataset: { stat: name } }, value)];
}

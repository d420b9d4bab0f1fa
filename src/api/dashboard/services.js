// @ts-check
/**
 * The services panel: each service with its state, its kernel's status and
 * its queue depths, kept fresh as tasks come and go.
 *
 * @module
 */

import { el } from "./dom.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { ServiceInfo } from "./types.d.ts"
 */

/** Queue depths change with every task event: read them again at most this often. */
const REFRESH_DELAY_MS = 100;

/**
 * The list of services, drawn into a `<ul>`.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { ServicesPanel } from "./services.js";
 * declare const connection: Connection;
 * const panel = new ServicesPanel(find(document, "#services", HTMLUListElement), connection, {
 *   changed: (services) => console.log(services.length, "services"),
 * });
 * panel.refreshSoon();
 * ```
 */
export class ServicesPanel {
  #list;
  #connection;
  #changed;
  /** @type {ServiceInfo[]} */
  #services = [];
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #refreshTimer;

  /**
   * @param {HTMLUListElement} list
   * @param {Connection} connection where services are read from
   * @param {{ changed: (services: readonly ServiceInfo[]) => void }} handlers
   */
  constructor(list, connection, handlers) {
    this.#list = list;
    this.#connection = connection;
    this.#changed = handlers.changed;
  }

  /**
   * Show `services`, as a `services` reply lists them.
   *
   * @param {ServiceInfo[]} services
   */
  showAll(services) {
    this.#services = services;
    this.#list.replaceChildren(...services.map(serviceItem));
    this.#changed(services);
  }

  /**
   * Show the change of one service (a `service` event: its kernel's status).
   *
   * @param {ServiceInfo} service
   */
  update(service) {
    this.showAll(this.#services.map((known) => known.name === service.name ? service : known));
  }

  /** Read the services again shortly; calls in the meantime share that one read. */
  refreshSoon() {
    this.#refreshTimer ??= setTimeout(async () => {
      this.#refreshTimer = undefined;
      try {
        this.showAll((await this.#connection.request({ type: "services" })).services);
      } catch {
        // Not connected: the connection reloads everything when it opens again.
      }
    }, REFRESH_DELAY_MS);
  }
}

/**
 * @param {ServiceInfo} service
 * @returns {HTMLLIElement}
 */
function serviceItem(service) {
  return el(
    "li",
    { className: "service", dataset: { service: service.name } },
    el(
      "div",
      { className: "service-head" },
      el("strong", {}, service.name),
      el("span", { className: "badge" }, service.kind),
      el("span", { className: `state state-${service.state}` }, service.state),
    ),
    service.kernel &&
      el(
        "div",
        { className: "kernel" },
        el("span", { className: `dot kernel-${service.kernel.status}` }),
        `kernel ${service.kernel.name}: `,
        el("span", { className: "kernel-status" }, service.kernel.status),
      ),
    el(
      "div",
      { className: "depths" },
      el("span", {}, el("b", { className: "queued" }, String(service.queued)), " queued"),
      el("span", {}, el("b", { className: "running" }, String(service.running)), " running"),
    ),
    el(
      "div",
      { className: "types muted" },
      service.taskTypes.map((type) => type.name).join(", ") || "no task types",
    ),
  );
}

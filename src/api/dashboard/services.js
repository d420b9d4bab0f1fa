// @ts-check
/**
 * The services panel: each service with its state, its kernel's status and
 * its queue depths, kept fresh as tasks come and go. A service whose serial
 * lane is held by a handler that did not stop shows `stuck` (which task,
 * since when) and a Release button. "Queue" shows a serial service's queue
 * in the order it will run: priority, then arrival.
 *
 * @module
 */

import { el } from "./dom.js";
import { moment, shortId } from "./format.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { ReplicaInfo, ServiceInfo } from "./types.d.ts"
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
 *   chosen: (taskId) => console.log("show task", taskId),
 * });
 * panel.refreshSoon();
 * ```
 */
export class ServicesPanel {
  #list;
  #connection;
  #handlers;
  /** @type {ServiceInfo[]} */
  #services = [];
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #refreshTimer;
  /** Services whose queue is shown: it stays shown, and up to date, as the panel redraws. */
  #queuesShown = new Set();

  /**
   * @param {HTMLUListElement} list
   * @param {Connection} connection where services are read from
   * @param {{
   *   changed: (services: readonly ServiceInfo[]) => void,
   *   chosen: (taskId: string) => void,
   * }} handlers `changed`: the services were read again; `chosen`: the task a
   *   stuck service is held by was clicked
   */
  constructor(list, connection, handlers) {
    this.#list = list;
    this.#connection = connection;
    this.#handlers = handlers;
  }

  /**
   * Show `services`, as a `services` reply lists them.
   *
   * @param {ServiceInfo[]} services
   */
  showAll(services) {
    this.#services = services;
    this.#list.replaceChildren(...services.map((service) => this.#item(service)));
    this.#handlers.changed(services);
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

  /**
   * Free the serial lane of `service` from its stuck handler; what it did
   * arrives as the service's event.
   *
   * @param {string} service
   * @param {HTMLElement} note where a failure is shown
   */
  async #release(service, note) {
    try {
      const { released } = await this.#connection.request({ type: "release", service });
      if (!released) note.textContent = "not stuck any more";
    } catch (error) {
      note.textContent = /** @type {Error} */ (error).message;
    }
    this.refreshSoon();
  }

  /**
   * Show `service`'s serial queue under its entry, in running order (the
   * task holding the lane first), or hide it if shown.
   *
   * @param {string} service
   * @param {HTMLElement} box
   */
  #toggleQueue(service, box) {
    if (this.#queuesShown.delete(service)) return box.replaceChildren();
    this.#queuesShown.add(service);
    return this.#showQueue(service, box);
  }

  /**
   * @param {string} service
   * @param {HTMLElement} box
   */
  async #showQueue(service, box) {
    try {
      const { records } = await this.#connection.request({ type: "queue", service, limit: 50 });
      box.replaceChildren(
        records.length === 0 ? el("p", { className: "muted" }, "nothing queued") : el(
          "ol",
          { className: "queue" },
          ...records.map((task) =>
            el(
              "li",
              { dataset: { id: task.id, state: task.state } },
              el("button", {
                type: "button",
                className: "link",
                title: task.id,
                onclick: () => this.#handlers.chosen(task.id),
              }, shortId(task.id)),
              ` ${task.type} · ${task.state} · priority ${task.priority ?? 0}`,
            )
          ),
        ),
      );
    } catch (error) {
      box.replaceChildren(el("p", { className: "error" }, /** @type {Error} */ (error).message));
    }
  }

  /**
   * @param {ServiceInfo} service
   * @returns {HTMLLIElement}
   */
  #item(service) {
    const item = serviceItem(service);
    const queue = el("div", { className: "queue-view" });
    item.append(
      el("button", {
        type: "button",
        className: "link show-queue",
        onclick: () => this.#toggleQueue(service.name, queue),
      }, "Queue"),
      queue,
    );
    if (this.#queuesShown.has(service.name)) this.#showQueue(service.name, queue);
    const { stuck } = service;
    if (stuck) {
      const note = el("span", { className: "message error" });
      item.append(
        el(
          "div",
          { className: "stuck", role: "alert" },
          el(
            "p",
            {},
            "Held since ",
            moment(stuck.since),
            " by the handler of task ",
            el("button", {
              type: "button",
              className: "link",
              title: stuck.taskId,
              dataset: { id: stuck.taskId },
              onclick: () => this.#handlers.chosen(stuck.taskId),
            }, shortId(stuck.taskId)),
            ", which ended but did not return: the next serial task waits. Release the lane " +
              "once the instrument is free.",
          ),
          el("button", {
            type: "button",
            className: "danger release",
            onclick: () => this.#release(service.name, note),
          }, "Release"),
          note,
        ),
      );
    }
    return item;
  }
}

/**
 * @param {ServiceInfo} service
 * @returns {HTMLLIElement}
 */
function serviceItem(service) {
  return el(
    "li",
    { className: "service", dataset: { service: service.name, state: service.state } },
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
    service.replicas && replicaList(service.replicas),
  );
}

/**
 * A cluster service's replicas: where each runs, since when, what it runs.
 *
 * @param {ReplicaInfo[]} replicas
 * @returns {HTMLElement}
 */
function replicaList(replicas) {
  return el(
    "details",
    { className: "replicas" },
    el("summary", {}, `${replicas.length} ${replicas.length === 1 ? "replica" : "replicas"}`),
    el(
      "ul",
      {},
      ...replicas.map((replica) =>
        el(
          "li",
          { dataset: { replica: replica.replica, state: replica.state } },
          el("span", { className: `state state-${replica.state}` }, replica.state),
          ` ${replica.host} · pid ${replica.pid} · ${replica.running} running · since `,
          moment(replica.since),
        )
      ),
    ),
  );
}

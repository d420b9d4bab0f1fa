// @ts-check
/**
 * The task history: every task the store holds, newest first, filtered by
 * service, type, states and creation time, a page at a time (`list` with the
 * `next` cursor: the Older button). Rows on show follow their tasks' events.
 *
 * @module
 */

import { el, find } from "./dom.js";
import { clock } from "./format.js";
import { renderTaskRow, taskRow } from "./task_table.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { ServiceInfo, TaskListQuery, TaskState, TaskSummary } from "./types.d.ts"
 */

/**
 * The form `#history-filter`, the table body `#history`, the Older button
 * and a status line.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { TaskHistory } from "./history.js";
 * declare const connection: Connection;
 * const history = new TaskHistory({
 *   form: find(document, "#history-filter", HTMLFormElement),
 *   body: find(document, "#history", HTMLTableSectionElement),
 *   older: find(document, "#history-older", HTMLButtonElement),
 *   status: find(document, "#history-status", HTMLElement),
 * }, connection, { chosen: (id) => console.log("show", id) });
 * await history.search();
 * ```
 */
export class TaskHistory {
  #form;
  #body;
  #older;
  #status;
  #connection;
  #chosen;
  /** @type {Map<string, { task: TaskSummary, row: HTMLTableRowElement }>} */
  #rows = new Map();
  /** The query of the rows on show, and the cursor of the page after them. */
  /** @type {{ query: TaskListQuery, next?: string } | undefined} */
  #paging;
  /** Bumped by each search: a page that comes back after a newer search is dropped. */
  #generation = 0;

  /**
   * @param {{
   *   form: HTMLFormElement,
   *   body: HTMLTableSectionElement,
   *   older: HTMLButtonElement,
   *   status: HTMLElement,
   * }} parts
   * @param {Connection} connection where pages are read
   * @param {{ chosen: (id: string) => void }} handlers `chosen`: a row was clicked
   */
  constructor(parts, connection, handlers) {
    this.#form = parts.form;
    this.#body = parts.body;
    this.#older = parts.older;
    this.#status = parts.status;
    this.#connection = connection;
    this.#chosen = handlers.chosen;
    this.#form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.search();
    });
    this.#older.addEventListener("click", () => this.#more());
  }

  /**
   * Offer `services` in the service filter; the choice made stays.
   *
   * @param {readonly ServiceInfo[]} services
   */
  showServices(services) {
    const select = find(this.#form, '[name="service"]', HTMLSelectElement);
    const names = ["", ...services.map((service) => service.name)];
    if (names.join() === [...select.options].map((option) => option.value).join()) return;
    const previous = select.value;
    select.replaceChildren(
      ...names.map((name) => el("option", { value: name }, name || "any service")),
    );
    select.value = names.includes(previous) ? previous : "";
    const types = find(this.#form, "datalist", HTMLDataListElement);
    const typeNames = new Set(services.flatMap((service) => service.taskTypes.map((t) => t.name)));
    types.replaceChildren(...[...typeNames].sort().map((name) => el("option", { value: name })));
  }

  /**
   * The summary the history holds of task `id`, if it has a row.
   *
   * @param {string} id
   * @returns {TaskSummary | undefined}
   */
  summaryOf(id) {
    return this.#rows.get(id)?.task;
  }

  /** The first page of what the filter asks for, in place of the rows on show. */
  async search() {
    let query;
    try {
      query = this.#query();
    } catch (error) {
      this.#status.textContent = /** @type {Error} */ (error).message;
      return;
    }
    const generation = ++this.#generation;
    this.#paging = undefined;
    this.#status.textContent = "searching…";
    await this.#load(query, generation, true);
  }

  /**
   * A task changed (an event's summary): update its row, if it has one.
   *
   * @param {TaskSummary} summary
   */
  taskChanged(summary) {
    const entry = this.#rows.get(summary.id);
    if (!entry) return;
    entry.task = summary;
    renderTaskRow(entry.row, summary, false);
  }

  /**
   * The record of task `id` was deleted: take its row away.
   *
   * @param {string} id
   */
  removed(id) {
    this.#rows.get(id)?.row.remove();
    this.#rows.delete(id);
  }

  /** The page after the rows on show. */
  async #more() {
    const paging = this.#paging;
    if (!paging?.next) return;
    this.#older.disabled = true;
    await this.#load({ ...paging.query, cursor: paging.next }, this.#generation, false);
  }

  /**
   * @param {TaskListQuery} query
   * @param {number} generation
   * @param {boolean} first whether the page replaces the rows (else it follows them)
   */
  async #load(query, generation, first) {
    try {
      const page = await this.#connection.request({ type: "list", query });
      if (generation !== this.#generation) return;
      if (first) {
        this.#rows.clear();
        this.#body.replaceChildren();
      }
      for (const task of page.records) {
        if (this.#rows.has(task.id)) continue;
        const row = taskRow(task.id, this.#chosen);
        renderTaskRow(row, task, false);
        this.#rows.set(task.id, { task, row });
        this.#body.append(row);
      }
      const { cursor: _cursor, ...base } = query;
      this.#paging = { query: base, next: page.next };
      // A search is a snapshot: tasks created since are in the live table, or the next search.
      const shown = `${this.#rows.size} task${this.#rows.size === 1 ? "" : "s"}`;
      const asOf = `as of ${clock(Date.now())}`;
      this.#status.textContent = page.next
        ? `${shown}, ${asOf}; more with Older`
        : `${shown}: all that match, ${asOf}`;
      this.#older.hidden = !page.next;
    } catch (error) {
      if (generation === this.#generation) {
        this.#status.textContent = /** @type {Error} */ (error).message;
      }
    } finally {
      this.#older.disabled = false;
    }
  }

  /**
   * The query the filter asks for; throws naming a field the server would refuse.
   *
   * @returns {TaskListQuery}
   */
  #query() {
    const data = new FormData(this.#form);
    const text = (/** @type {string} */ name) => String(data.get(name) ?? "").trim();
    /** @type {TaskListQuery} */
    const query = { limit: Number(text("limit")) || undefined };
    if (text("service")) query.service = text("service");
    if (text("type")) query.type = text("type");
    const states = /** @type {TaskState[]} */ (data.getAll("state").map(String));
    if (states.length === 1) query.state = states[0];
    else if (states.length > 1) query.state = states;
    const since = time(text("since"), "since");
    if (since !== undefined) query.createdSince = since;
    const until = time(text("until"), "until");
    if (until !== undefined) query.createdUntil = until;
    return query;
  }
}

/**
 * A `datetime-local` input's value in ms since the Unix epoch (the browser's
 * time zone); `undefined` when empty.
 *
 * @param {string} value
 * @param {string} field
 * @returns {number | undefined}
 */
function time(value, field) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  if (Number.isNaN(ms)) throw new Error(`${field}: not a date and time: ${value}`);
  return ms;
}

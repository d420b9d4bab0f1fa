// @ts-check
/**
 * The live task table: one row per task, newest first, updated in place as
 * events come in. Rows show summaries (what lists and events carry); the
 * detail view reads a task in full.
 *
 * @module
 */

import { el } from "./dom.js";
import { duration, moment, shortId } from "./format.js";

/** @import { TaskBrief, TaskSummary } from "./types.d.ts" */

/**
 * Rows the table keeps; the oldest go beyond it. Also how many tasks the
 * page lists when it (re)connects.
 *
 * @example
 * ```js
 * import { MAX_ROWS } from "./task_table.js";
 * MAX_ROWS; // 500
 * ```
 */
export const MAX_ROWS = 500;

/** Longest outcome preview in a row, in characters. */
const BRIEF_CHARS = 80;

/**
 * The table body `#tasks`, with the note shown while it is empty and the
 * count of tasks in the page's header.
 *
 * @example
 * ```js
 * import { find } from "./dom.js";
 * import { TaskTable } from "./task_table.js";
 * const table = new TaskTable({
 *   body: find(document, "#tasks", HTMLTableSectionElement),
 *   emptyNote: find(document, "#no-tasks", HTMLElement),
 *   count: find(document, "#counts", HTMLElement),
 * }, { chosen: (id) => table.highlight(id) });
 * ```
 */
export class TaskTable {
  #body;
  #emptyNote;
  #count;
  #chosen;
  /** @type {Map<string, { task: TaskSummary, row: HTMLTableRowElement }>} */
  #rows = new Map();
  /** @type {string | undefined} */
  #highlighted;

  /**
   * @param {{ body: HTMLTableSectionElement, emptyNote: HTMLElement, count: HTMLElement }} parts
   * @param {{ chosen: (id: string) => void }} handlers `chosen`: a row was clicked (or
   *   Enter pressed on it)
   */
  constructor(parts, handlers) {
    this.#body = parts.body;
    this.#emptyNote = parts.emptyNote;
    this.#count = parts.count;
    this.#chosen = handlers.chosen;
  }

  /**
   * The summary the table holds of task `id`, if it has a row.
   *
   * @param {string} id
   * @returns {TaskSummary | undefined}
   */
  summaryOf(id) {
    return this.#rows.get(id)?.task;
  }

  /**
   * Show `task`: update its row, or add one in order of creation.
   *
   * @param {TaskSummary} task
   */
  upsert(task) {
    let entry = this.#rows.get(task.id);
    if (entry) entry.task = task;
    else {
      entry = { task, row: taskRow(task.id, this.#chosen) };
      this.#rows.set(task.id, entry);
      this.#insert(entry);
    }
    renderTaskRow(entry.row, task, task.id === this.#highlighted);
    this.#counted();
  }

  /**
   * Take the row of task `id` away (its record was deleted).
   *
   * @param {string} id
   */
  remove(id) {
    this.#rows.get(id)?.row.remove();
    this.#rows.delete(id);
    this.#counted();
  }

  #counted() {
    this.#emptyNote.hidden = this.#rows.size > 0;
    this.#count.textContent = `${this.#rows.size} task${this.#rows.size === 1 ? "" : "s"}`;
  }

  /**
   * Mark the row of task `id` as the one on show (none if `undefined`).
   *
   * @param {string | undefined} id
   */
  highlight(id) {
    if (this.#highlighted) this.#rows.get(this.#highlighted)?.row.classList.remove("selected");
    this.#highlighted = id;
    if (id) this.#rows.get(id)?.row.classList.add("selected");
  }

  /** Bring the durations of running tasks up to now. */
  tickDurations() {
    for (const { task, row } of this.#rows.values()) {
      if (task.state === "running") row.querySelector(".duration")?.replaceChildren(duration(task));
    }
  }

  /**
   * Put a new row before the first row of a task created earlier; drop the
   * oldest rows beyond `MAX_ROWS`.
   *
   * @param {{ task: TaskSummary, row: HTMLTableRowElement }} entry
   */
  #insert({ task, row }) {
    const older = [...this.#body.rows].find((other) =>
      (this.#rows.get(String(other.dataset.id))?.task.createdAt ?? 0) < task.createdAt
    );
    this.#body.insertBefore(row, older ?? null);
    while (this.#body.rows.length > MAX_ROWS) {
      const oldest = this.#body.rows[this.#body.rows.length - 1];
      this.#rows.delete(String(oldest.dataset.id));
      oldest.remove();
    }
  }
}

/**
 * An empty row for task `id` (`renderTaskRow` fills it) that calls `chosen`
 * when clicked, or on Enter.
 *
 * @example
 * ```js
 * import { taskRow } from "./task_table.js";
 * const row = taskRow("0192f6a3-7c1e-7b5d-9a0c-3f5e2d1c4b6a", (id) => console.log(id));
 * row.dataset.id; // "0192f6a3-7c1e-7b5d-9a0c-3f5e2d1c4b6a"
 * ```
 *
 * @param {string} id
 * @param {(id: string) => void} chosen
 * @returns {HTMLTableRowElement}
 */
export function taskRow(id, chosen) {
  return el("tr", {
    tabIndex: 0,
    dataset: { id },
    onclick: () => chosen(id),
    onkeydown: (event) => event.key === "Enter" && chosen(id),
  });
}

/**
 * Fill `row` with the cells of `task`: created, type and short id, service,
 * state, duration, and the brief of its outcome.
 *
 * @example
 * ```ts
 * import { renderTaskRow, taskRow } from "./task_table.js";
 * import type { TaskSummary } from "./types.d.ts";
 * declare const task: TaskSummary;
 * renderTaskRow(taskRow(task.id, () => {}), task, false);
 * ```
 *
 * @param {HTMLTableRowElement} row
 * @param {TaskSummary} task
 * @param {boolean} highlighted
 */
export function renderTaskRow(row, task, highlighted) {
  row.classList.toggle("selected", highlighted);
  row.dataset.state = task.state;
  row.replaceChildren(
    el("td", { className: "muted" }, moment(task.createdAt)),
    el(
      "td",
      {},
      el("span", { className: "type" }, task.type),
      " ",
      el("code", { className: "muted" }, shortId(task.id)),
    ),
    el("td", {}, task.service),
    el("td", {}, el("span", { className: `state state-${task.state}` }, task.state)),
    el("td", { className: "num duration" }, duration(task)),
    el("td", { className: `outcome ${task.brief?.status ?? ""}` }, briefText(task.brief)),
  );
}

/**
 * A row's preview of an ended task: the server's brief of its outcome. Lists
 * and events carry no outcome; the detail view reads the whole record.
 *
 * @param {TaskBrief | undefined} brief
 * @returns {string}
 */
function briefText(brief) {
  if (!brief) return "";
  // A kernel task that only printed or plotted has a null result: not worth showing.
  const text = brief.status === "ok" && brief.text === "null" ? "" : brief.text;
  return text.length > BRIEF_CHARS ? text.slice(0, BRIEF_CHARS - 1) + "…" : text;
}

// @ts-check
/**
 * The detail view of one task: its facts, fields, attributes, result or
 * error, rich outputs, stdout and stderr, the code that ran and its log;
 * read in full by id, and read again as it changes.
 *
 * @module
 */

import { el, fill } from "./dom.js";
import { clock, duration, pretty } from "./format.js";
import { outputView, resultView } from "./outputs.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { Child } from "./dom.js"
 * @import { TaskLogEntry, TaskRecord, TaskSummary } from "./types.d.ts"
 */

/**
 * A task on show: its summary, and once read by id its fields, log and
 * outcome (events carry none of them).
 *
 * @typedef {TaskSummary & Partial<Pick<TaskRecord, "fields" | "log" | "outcome">>} ShownTask
 */

/**
 * The panel `#detail`, hidden while no task is on show.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { TaskDetail } from "./task_detail.js";
 * declare const connection: Connection;
 * const detail = new TaskDetail(find(document, "#detail", HTMLElement), connection, {
 *   closed: () => console.log("closed"),
 * });
 * await detail.open("3b0c5e1a-6f1d-4b8e-9c51-7d0f3c2a9e44");
 * ```
 */
export class TaskDetail {
  #panel;
  #connection;
  #closed;
  /** @type {string | undefined} */
  #id;
  /** @type {ShownTask | undefined} */
  #task;

  /**
   * @param {HTMLElement} panel
   * @param {Connection} connection where the task is read and cancelled
   * @param {{ closed: () => void }} handlers `closed`: its Close button was pressed
   */
  constructor(panel, connection, handlers) {
    this.#panel = panel;
    this.#connection = connection;
    this.#closed = handlers.closed;
  }

  /**
   * Show task `id`: at once what `summary` says of it, then all of it.
   *
   * @param {string} id
   * @param {TaskSummary} [summary]
   */
  async open(id, summary) {
    this.#id = id;
    this.#task = summary;
    this.#render();
    await this.reload();
  }

  /** Read the task on show in full again (fields, log, outcome), e.g. once it ended. */
  async reload() {
    const id = this.#id;
    if (!id) return;
    try {
      const { record } = await this.#connection.request({ type: "get", taskId: id });
      if (record && id === this.#id) {
        this.#task = { ...this.#task, ...record };
        this.#render();
      }
    } catch {
      // Not connected: the page reloads the task on show when it connects again.
    }
  }

  /**
   * A task changed (an event's summary): if it is the one on show, show the
   * change and read it again.
   *
   * @param {TaskSummary} summary
   */
  taskChanged(summary) {
    if (summary.id !== this.#id) return;
    this.#task = { ...this.#task, ...summary };
    this.#render();
    this.reload();
  }

  /**
   * A line was added to task `id`'s log.
   *
   * @param {string} id
   * @param {TaskLogEntry} entry
   */
  logAdded(id, entry) {
    if (id !== this.#id || !this.#task?.log) return;
    this.#task = { ...this.#task, log: [...this.#task.log, entry] };
    this.#render();
  }

  /** Bring the duration of a running task up to now. */
  tickDuration() {
    if (this.#task?.state !== "running") return;
    this.#panel.querySelector(".duration")?.replaceChildren(duration(this.#task));
  }

  #close() {
    this.#id = undefined;
    this.#task = undefined;
    this.#render();
    this.#closed();
  }

  #render() {
    const task = this.#task;
    this.#panel.hidden = !task;
    if (!task) return;
    const { outcome } = task;
    const execution = outcome?.execution;
    const outputs = (execution?.displays ?? []).flatMap((display) => outputView(display) ?? []);
    fill(
      this.#panel,
      el(
        "header",
        {},
        el("h2", {}, `${task.type} on ${task.service}`),
        el("span", { className: `state state-${task.state}` }, task.state),
        el("span", { className: "spacer" }),
        el("button", { type: "button", className: "quiet", onclick: () => this.#close() }, "Close"),
      ),
      facts(task),
      (task.state === "queued" || task.state === "running") &&
        el("button", {
          type: "button",
          className: "danger",
          // What a cancel did arrives as the task's event; a lost connection reloads all.
          onclick: () =>
            this.#connection.request({ type: "cancel", taskId: task.id }).catch(() => {}),
        }, "Cancel task"),
      task.fields !== undefined && section("Fields", el("pre", {}, pretty(task.fields))),
      Object.keys(task.attributes).length > 0 &&
        section("Attributes", el("pre", {}, pretty(task.attributes))),
      // A kernel task that only printed or plotted has a null result: its outputs say it all.
      outcome?.status === "ok" && (outcome.result !== null || !execution) &&
        section("Result", resultView(outcome)),
      outcome?.status === "error" &&
        section(
          "Error",
          el("p", { className: "error-line" }, `${outcome.ename}: ${outcome.evalue}`),
          outcome.traceback && el("pre", { className: "traceback" }, outcome.traceback),
        ),
      outputs.length > 0 && section("Outputs", el("div", { className: "outputs" }, outputs)),
      execution?.stdout &&
        section("stdout", el("pre", { className: "stdout" }, execution.stdout)),
      execution?.stderr &&
        section("stderr", el("pre", { className: "stderr" }, execution.stderr)),
      execution?.code &&
        el(
          "details",
          {},
          el(
            "summary",
            {},
            `Code that ran${execution.executionCount ? ` [${execution.executionCount}]` : ""}`,
          ),
          el("pre", {}, execution.code),
        ),
      task.log && section("Log", logTable(task.log)),
    );
  }
}

/**
 * @param {ShownTask} task
 * @returns {HTMLDListElement}
 */
function facts(task) {
  return el(
    "dl",
    { className: "facts" },
    el("dt", {}, "id"),
    el("dd", {}, el("code", {}, task.id)),
    el("dt", {}, "created"),
    el("dd", {}, new Date(task.createdAt).toLocaleString()),
    el("dt", {}, "duration"),
    el("dd", { className: "duration" }, duration(task) || "—"),
    el("dt", {}, "attempts"),
    el("dd", {}, String(task.attempts)),
    el("dt", {}, "mode"),
    el("dd", {}, task.parallel ? "parallel" : "serial"),
  );
}

/**
 * @param {readonly TaskLogEntry[]} log
 * @returns {HTMLTableElement}
 */
function logTable(log) {
  return el(
    "table",
    { className: "log" },
    el(
      "tbody",
      {},
      log.map((entry) =>
        el(
          "tr",
          { className: `level-${entry.level}` },
          el("td", { className: "muted" }, clock(entry.at)),
          el("td", {}, entry.state ?? entry.level),
          el("td", {}, entry.message),
        )
      ),
    ),
  );
}

/**
 * @param {string} title
 * @param {Child[]} content
 * @returns {HTMLElement}
 */
function section(title, ...content) {
  return el("section", {}, el("h3", {}, title), ...content);
}

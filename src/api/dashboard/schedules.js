// @ts-check
/**
 * The schedules panel: each schedule with its clock (`every` or `cron`),
 * state, last and next run, runs and skips, and buttons to pause, resume
 * or run it now; kept live by `schedule` events.
 *
 * @module
 */

import { el, fill } from "./dom.js";
import { moment } from "./format.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { ScheduleAction, ScheduleInfo } from "./types.d.ts"
 */

/**
 * The list of schedules, drawn into a `<ul>`, with a note shown while there
 * are none.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { SchedulesPanel } from "./schedules.js";
 * declare const connection: Connection;
 * const panel = new SchedulesPanel({
 *   list: find(document, "#schedules", HTMLUListElement),
 *   note: find(document, "#schedules-note", HTMLElement),
 * }, connection);
 * await panel.refresh();
 * ```
 */
export class SchedulesPanel {
  #list;
  #note;
  #connection;
  /** @type {Map<string, ScheduleInfo>} */
  #schedules = new Map();

  /**
   * @param {{ list: HTMLUListElement, note: HTMLElement }} parts
   * @param {Connection} connection where schedules are read and controlled
   */
  constructor(parts, connection) {
    this.#list = parts.list;
    this.#note = parts.note;
    this.#connection = connection;
  }

  /** Read every schedule and show them (a server without schedules says so). */
  async refresh() {
    try {
      const { schedules } = await this.#connection.request({ type: "schedules" });
      this.#schedules = new Map(schedules.map((schedule) => [schedule.name, schedule]));
      this.#render();
    } catch (error) {
      this.#note.hidden = false;
      this.#note.textContent = `Schedules could not be read: ${
        /** @type {Error} */ (error).message
      }`;
    }
  }

  /**
   * Show the change of one schedule (a `schedule` event, or an action's reply).
   *
   * @param {ScheduleInfo} schedule
   */
  update(schedule) {
    const known = this.#schedules.has(schedule.name);
    this.#schedules.set(schedule.name, schedule);
    const item = [...this.#list.children].find((child) =>
      child instanceof HTMLElement && child.dataset.schedule === schedule.name
    );
    if (known && item) item.replaceWith(this.#item(schedule));
    else this.#render();
  }

  #render() {
    this.#note.hidden = this.#schedules.size > 0;
    this.#note.textContent = "No schedules: add them to the config's manager.schedules.";
    fill(this.#list, [...this.#schedules.values()].map((schedule) => this.#item(schedule)));
  }

  /**
   * @param {string} name
   * @param {ScheduleAction} action
   * @param {HTMLElement} note where a refusal is shown
   */
  async #control(name, action, note) {
    try {
      this.update((await this.#connection.request({ type: "schedule", name, action })).schedule);
    } catch (error) {
      note.textContent = /** @type {Error} */ (error).message;
    }
  }

  /**
   * @param {ScheduleInfo} schedule
   * @returns {HTMLLIElement}
   */
  #item(schedule) {
    const note = el("p", { className: "message error", role: "status" });
    const paused = schedule.state === "paused";
    /**
     * @param {ScheduleAction} action
     * @param {string} label
     * @param {boolean} [disabled]
     */
    const button = (action, label, disabled = false) =>
      el("button", {
        type: "button",
        className: `quiet ${action}`,
        disabled,
        onclick: () => this.#control(schedule.name, action, note),
      }, label);
    return el(
      "li",
      { className: "schedule", dataset: { schedule: schedule.name, state: schedule.state } },
      el(
        "div",
        { className: "service-head" },
        el("strong", {}, schedule.name),
        schedule.running && el("span", { className: "state state-running" }, "running"),
        el("span", { className: `state state-${schedule.state}` }, schedule.state),
      ),
      el("div", { className: "muted" }, `${schedule.service} · ${clockOf(schedule)}`),
      el(
        "dl",
        { className: "facts" },
        el("dt", {}, "last run"),
        el("dd", { dataset: { fact: "last" } }, when(schedule.lastRunAt)),
        el("dt", {}, "next run"),
        el("dd", { dataset: { fact: "next" } }, when(schedule.nextRunAt)),
        el("dt", {}, "runs"),
        el("dd", { dataset: { fact: "runs" } }, String(schedule.runs)),
        el("dt", {}, "skips"),
        el("dd", { dataset: { fact: "skips" } }, String(schedule.skips)),
      ),
      el(
        "div",
        { className: "actions" },
        paused
          ? button("resume", "Resume")
          : button("pause", "Pause", schedule.state !== "scheduled"),
        // Never beside a run that is going: the server would not start one either.
        button("run", "Run now", schedule.running || schedule.state === "stopped"),
      ),
      note,
    );
  }
}

/**
 * @param {ScheduleInfo} schedule
 * @returns {string}
 */
function clockOf(schedule) {
  if (schedule.every !== undefined) return `every ${schedule.every}`;
  return `cron ${schedule.cron ?? "?"}${schedule.timezone ? ` (${schedule.timezone})` : ""}`;
}

/**
 * @param {number | undefined} ms
 * @returns {string}
 */
function when(ms) {
  return ms === undefined ? "—" : moment(ms);
}

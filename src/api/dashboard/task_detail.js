// @ts-check
/**
 * The detail view of one task: its facts, fields, attributes, result or
 * error, rich outputs, stdout and stderr, the code that ran and its log;
 * read in full by id, and read again as it changes.
 *
 * @module
 */

import { el, fill } from "./dom.js";
import { clock, duration, hasEnded, moment, pretty, shortId } from "./format.js";
import { outputView, resultView } from "./outputs.js";

/**
 * @import { Connection } from "./connection.js"
 * @import { Child } from "./dom.js"
 * @import { LiveOutput, LiveOutputs } from "./live_output.js"
 * @import { TaskLogEntry, TaskOutput, TaskProgress, TaskRecord, TaskSummary } from "./types.d.ts"
 */

/**
 * A task on show: its summary, and once read by id its fields, log and
 * outcome (events carry none of them).
 *
 * @typedef {TaskSummary & Partial<Pick<TaskRecord, "fields" | "log" | "outcome">>} ShownTask
 */

/**
 * What the detail view tells the page.
 *
 * @typedef {object} TaskDetailHandlers
 * @property {() => void} closed Its Close button was pressed.
 * @property {(id: string) => void} chosen A linked task was clicked (parent, dependency, re-run…).
 * @property {(id: string) => void} graph Its Graph button was pressed.
 */

/**
 * The panel `#detail`, hidden while no task is on show. A running task's
 * progress and output grow live; once it ends, its record (with everything
 * it printed and displayed) replaces them.
 *
 * @example
 * ```ts
 * import { Connection } from "./connection.js";
 * import { find } from "./dom.js";
 * import { LiveOutputs } from "./live_output.js";
 * import { TaskDetail } from "./task_detail.js";
 * declare const connection: Connection;
 * const detail = new TaskDetail(find(document, "#detail", HTMLElement), connection, new LiveOutputs(), {
 *   closed: () => console.log("closed"),
 *   chosen: (id) => detail.open(id),
 *   graph: (id) => console.log("graph of", id),
 * });
 * await detail.open("0192f6a3-7c1e-7b5d-9a0c-3f5e2d1c4b6a");
 * ```
 */
export class TaskDetail {
  #panel;
  #connection;
  #outputs;
  #handlers;
  /** @type {string | undefined} */
  #id;
  /** @type {ShownTask | undefined} */
  #task;
  /** The outcome of the last button pressed (a refusal, the id of a re-run). */
  #notice = { text: "", error: false };
  /**
   * Where the output of the task on show grows while it has not ended,
   * hidden until there is some.
   *
   * @type {{ section: HTMLElement, box: HTMLElement } | undefined}
   */
  #live;

  /**
   * @param {HTMLElement} panel
   * @param {Connection} connection where the task is read, cancelled, deleted and re-run
   * @param {LiveOutputs} outputs what running tasks printed and displayed so far
   * @param {TaskDetailHandlers} handlers
   */
  constructor(panel, connection, outputs, handlers) {
    this.#panel = panel;
    this.#connection = connection;
    this.#outputs = outputs;
    this.#handlers = handlers;
  }

  /** The id of the task on show, if any. */
  get taskId() {
    return this.#id;
  }

  /**
   * Show task `id`: at once what `summary` says of it, then all of it.
   *
   * @param {string} id
   * @param {TaskSummary} [summary]
   */
  async open(id, summary) {
    if (id !== this.#id) this.#notice = { text: "", error: false };
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
      if (id !== this.#id) return;
      if (record) this.#task = { ...this.#task, ...record };
      else if (!this.#task) this.#notify(`no task ${shortId(id)}: unknown, or past its retention`);
      this.#render();
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

  /**
   * Task `id` reported its progress.
   *
   * @param {string} id
   * @param {TaskProgress} progress
   */
  progressChanged(id, progress) {
    if (id !== this.#id || !this.#task) return;
    this.#task = { ...this.#task, progress };
    const bar = this.#panel.querySelector(".progress");
    if (bar) bar.replaceWith(progressView(progress));
    else this.#render();
  }

  /**
   * Task `id` printed or displayed `output` (already added to the live
   * outputs): grow its output on show.
   *
   * @param {string} id
   * @param {TaskOutput} output
   */
  outputAdded(id, output) {
    const live = this.#outputs.of(id);
    if (id !== this.#id || !this.#live || !live) return;
    const { section: liveSection, box } = this.#live;
    liveSection.hidden = false;
    if (output.kind === "stream" && !live.cut) {
      const pre = box.querySelector(`pre.${output.name}`);
      if (pre) return appendFollowing(pre, output.text);
    } else if (output.kind === "display" && !live.cut) {
      const displays = box.querySelector(".outputs");
      const view = outputView(output.display);
      if (displays) return void (view && displays.append(view));
    }
    fill(box, liveOutputView(live));
  }

  /**
   * The record of task `id` was deleted: if it is on show, close.
   *
   * @param {string} id
   */
  removed(id) {
    if (id === this.#id) this.#close();
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
    this.#handlers.closed();
  }

  /**
   * @param {string} text
   * @param {boolean} [error]
   */
  #notify(text, error = true) {
    this.#notice = { text, error };
    this.#panel.querySelector(".notice")?.replaceWith(this.#noticeView());
  }

  #noticeView() {
    const { text, error } = this.#notice;
    return el("p", { className: `notice message ${error ? "error" : "ok"}`, role: "status" }, text);
  }

  /**
   * Run a button's request; a refusal is shown, not thrown.
   *
   * @param {() => Promise<unknown>} action
   */
  async #act(action) {
    try {
      await action();
    } catch (error) {
      this.#notify(/** @type {Error} */ (error).message);
    }
  }

  /** @param {ShownTask} task */
  #actions(task) {
    const ended = hasEnded(task.state);
    const id = task.id;
    return el(
      "div",
      { className: "actions" },
      !ended &&
        el("button", {
          type: "button",
          className: "danger",
          // What a cancel did arrives as the task's event; a lost connection reloads all.
          onclick: () => this.#act(() => this.#connection.request({ type: "cancel", taskId: id })),
        }, "Cancel task"),
      ended && el("button", {
        type: "button",
        className: "rerun",
        onclick: () =>
          this.#act(async () => {
            const newId = await this.#connection.rerun(id);
            this.#handlers.chosen(newId);
            this.#notify(`re-run of ${shortId(id)}`, false);
          }),
      }, "Re-run"),
      ended && el("button", {
        type: "button",
        className: "quiet delete",
        onclick: () =>
          this.#act(async () => {
            await this.#connection.request({ type: "delete", taskId: id });
            this.removed(id);
          }),
      }, "Delete"),
      el("button", {
        type: "button",
        className: "quiet graph",
        onclick: () => this.#handlers.graph(id),
      }, "Graph"),
    );
  }

  #render() {
    const task = this.#task;
    this.#panel.hidden = !task && !this.#id;
    this.#live = undefined;
    if (!task) {
      if (this.#id) fill(this.#panel, this.#noticeView());
      return;
    }
    const { outcome } = task;
    const execution = outcome?.execution;
    const outputs = (execution?.displays ?? []).flatMap((display) => outputView(display) ?? []);
    const ended = hasEnded(task.state);
    if (!ended) {
      const live = this.#outputs.of(task.id);
      const box = el("div", { className: "live-output" }, live && liveOutputView(live));
      this.#live = { section: section("Output so far", box), box };
      this.#live.section.hidden = !live;
    }
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
      facts(task, this.#handlers.chosen),
      !ended && task.progress && progressView(task.progress),
      this.#actions(task),
      this.#noticeView(),
      task.fields !== undefined && section("Fields", el("pre", {}, pretty(task.fields))),
      Object.keys(task.attributes).length > 0 &&
        section("Attributes", el("pre", {}, pretty(task.attributes))),
      this.#live?.section,
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
 * @param {(id: string) => void} chosen
 * @returns {HTMLDListElement}
 */
function facts(task, chosen) {
  /** @type {[string, Child | Child[]][]} */
  const rows = [
    ["id", el("code", {}, task.id)],
    ["created", new Date(task.createdAt).toLocaleString()],
    ["duration", el("span", { className: "duration" }, duration(task) || "—")],
    ["attempts", String(task.attempts)],
    ["mode", task.parallel ? "parallel" : "serial"],
  ];
  if (task.priority !== undefined) rows.push(["priority", String(task.priority)]);
  if (task.deadline !== undefined) rows.push(["deadline", moment(task.deadline)]);
  if (task.key !== undefined) rows.push(["key", el("code", {}, task.key)]);
  if (task.schedule !== undefined) rows.push(["schedule", task.schedule]);
  if (task.parent) rows.push(["parent", taskLink(task.parent, chosen)]);
  if (task.rerunOf) rows.push(["re-run of", taskLink(task.rerunOf, chosen)]);
  if (task.after?.length) {
    const onFailure = task.onDependencyFailure === "run" ? " (runs even if one fails)" : "";
    rows.push(["after", [...links(task.after, chosen), onFailure]]);
  }
  if (task.dependents?.length) rows.push(["dependents", links(task.dependents, chosen)]);
  return el(
    "dl",
    { className: "facts" },
    rows.flatMap(([name, value]) => [
      el("dt", {}, name),
      el("dd", { dataset: { fact: name } }, value),
    ]),
  );
}

/**
 * A link-like button to task `id`, showing its short id.
 *
 * @param {string} id
 * @param {(id: string) => void} chosen
 * @returns {HTMLButtonElement}
 */
function taskLink(id, chosen) {
  return el("button", {
    type: "button",
    className: "link",
    title: id,
    dataset: { id },
    onclick: () => chosen(id),
  }, shortId(id));
}

/**
 * @param {readonly string[]} ids
 * @param {(id: string) => void} chosen
 * @returns {Child[]}
 */
function links(ids, chosen) {
  return ids.flatMap((id, i) => [i > 0 && " ", taskLink(id, chosen)]);
}

/**
 * A progress bar with the handler's message.
 *
 * @param {TaskProgress} progress
 * @returns {HTMLElement}
 */
function progressView(progress) {
  const percent = Math.round(progress.fraction * 100);
  return el(
    "div",
    { className: "progress", dataset: { fraction: String(progress.fraction) } },
    el("progress", { max: 1, value: progress.fraction }),
    el("span", { className: "percent" }, `${percent}%`),
    el("span", { className: "progress-message" }, progress.message ?? ""),
    el("span", { className: "muted" }, clock(progress.at)),
  );
}

/**
 * What a running task printed and displayed so far.
 *
 * @param {LiveOutput} live
 * @returns {Child[]}
 */
function liveOutputView(live) {
  const displays = live.displays.flatMap((display) => outputView(display) ?? []);
  return [
    live.cut && el("p", { className: "muted" }, "(older output dropped; the record keeps it all)"),
    el("div", { className: "outputs" }, displays),
    el("pre", { className: "stdout", hidden: !live.stdout }, live.stdout),
    el("pre", { className: "stderr", hidden: !live.stderr }, live.stderr),
  ];
}

/**
 * Append `text` to `pre`, and keep it scrolled to its end if it was there.
 *
 * @param {Element} pre
 * @param {string} text
 */
function appendFollowing(pre, text) {
  const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
  pre.append(text);
  if (pre instanceof HTMLElement) pre.hidden = false;
  if (atEnd) pre.scrollTop = pre.scrollHeight;
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

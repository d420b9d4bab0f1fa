// @ts-check
/**
 * What running tasks print and display, as `output` events bring it: kept
 * per task from the moment the page sees it until the task ends, when its
 * record carries the whole of it. Bounded: the page may watch many tasks
 * that print a lot.
 *
 * @module
 */

/** @import { DisplayOutput, TaskOutput } from "./types.d.ts" */

/** Characters of each stream kept per task: the latest. */
const MAX_STREAM_CHARS = 200_000;
/** Displays kept per task: the latest. */
const MAX_DISPLAYS = 50;
/** Running tasks followed at once; the one followed longest is forgotten first. */
const MAX_TASKS = 200;

/**
 * The output of one running task so far. `cut`: older output was dropped to
 * keep within the bounds.
 *
 * @typedef {object} LiveOutput
 * @property {string} stdout
 * @property {string} stderr
 * @property {DisplayOutput[]} displays
 * @property {boolean} cut
 */

/**
 * The output of the running tasks, by task id.
 *
 * @example
 * ```js
 * import { LiveOutputs } from "./live_output.js";
 * const outputs = new LiveOutputs();
 * outputs.add("3b0c", { kind: "stream", name: "stdout", text: "step 1\n" });
 * outputs.of("3b0c")?.stdout; // "step 1\n"
 * outputs.forget("3b0c");
 * ```
 */
export class LiveOutputs {
  /** @type {Map<string, LiveOutput>} */
  #byTask = new Map();

  /**
   * Add `output` of task `id`: text to its stream, a display to its
   * displays; `clear` empties both, as a kernel's `clear_output` does.
   *
   * @param {string} id
   * @param {TaskOutput} output
   */
  add(id, output) {
    let live = this.#byTask.get(id);
    if (!live) {
      live = { stdout: "", stderr: "", displays: [], cut: false };
      this.#byTask.set(id, live);
      if (this.#byTask.size > MAX_TASKS) {
        this.#byTask.delete(this.#byTask.keys().next().value ?? "");
      }
    }
    switch (output.kind) {
      case "stream": {
        const text = live[output.name] + output.text;
        live[output.name] = text.slice(-MAX_STREAM_CHARS);
        live.cut ||= text.length > MAX_STREAM_CHARS;
        return;
      }
      case "display":
        live.displays.push(output.display);
        if (live.displays.length > MAX_DISPLAYS) {
          live.displays.shift();
          live.cut = true;
        }
        return;
      case "clear":
        live.stdout = live.stderr = "";
        live.displays = [];
        return;
    }
  }

  /**
   * The output of task `id` so far, if it printed or displayed anything.
   *
   * @param {string} id
   * @returns {LiveOutput | undefined}
   */
  of(id) {
    return this.#byTask.get(id);
  }

  /**
   * Stop keeping the output of task `id` (it ended: its record has it all).
   *
   * @param {string} id
   */
  forget(id) {
    this.#byTask.delete(id);
  }
}

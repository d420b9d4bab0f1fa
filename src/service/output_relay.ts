/**
 * Output of a running task, relayed to its watchers as it comes (what a
 * kernel prints and displays), within bounds: stream text is gathered and
 * sent at most every `intervalMs` (so a loop printing a line a microsecond
 * costs a few messages a second, not millions), each message holds at most
 * `chunkChars` of text, and a task relays at most `totalChars` in all (a
 * note then says the rest is in the outcome). The outcome keeps everything
 * within the record's own limits, whatever the relay skipped.
 *
 * @module
 */
import { measureJson, RECORD_LIMITS } from "../task/limits.ts";
import type { ReportSink, TaskOutput } from "../task/protocol.ts";

/**
 * Bounds of a relay.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputRelay, type OutputRelayLimits } from "./output_relay.ts";
 * import type { TaskReport } from "../task/protocol.ts";
 * const limits: OutputRelayLimits = { totalChars: 10 };
 * const sent: TaskReport[] = [];
 * const relay = new OutputRelay("t1", { tell: (report) => sent.push(report) > 0 }, limits);
 * relay.add({ kind: "stream", name: "stdout", text: "0123456789abcdef" }); // over the total
 * relay.close();
 * assert.deepEqual(sent, [{
 *   kind: "output",
 *   id: "t1",
 *   output: {
 *     kind: "stream",
 *     name: "stderr",
 *     text: "\n[zest: more than 10 characters of output; the rest is in the task's outcome]\n",
 *   },
 * }]);
 * ```
 */
export interface OutputRelayLimits {
  /** Stream text is sent at most this often (default 100 ms). */
  intervalMs?: number;
  /** Most characters of text in one message (default 64 KiB). */
  chunkChars?: number;
  /** Most characters relayed for one task, text and displays (default 4 MiB). */
  totalChars?: number;
}

/**
 * The relay of one task's output to the manager (which sends it to
 * watchers as `output` events). Call `close()` when the task ends: what is
 * still gathered is sent.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { OutputRelay } from "./output_relay.ts";
 * import type { TaskReport } from "../task/protocol.ts";
 * const sent: TaskReport[] = [];
 * const relay = new OutputRelay("t1", { tell: (report) => (sent.push(report), true) });
 * relay.add({ kind: "stream", name: "stdout", text: "step 1\n" });
 * relay.add({ kind: "stream", name: "stdout", text: "step 2\n" });
 * relay.close();
 * assert.deepEqual(sent, [{
 *   kind: "output", id: "t1", output: { kind: "stream", name: "stdout", text: "step 1\nstep 2\n" },
 * }]);
 * ```
 */
export class OutputRelay {
  readonly #id: string;
  readonly #sink: ReportSink;
  readonly #intervalMs: number;
  readonly #chunkChars: number;
  readonly #totalChars: number;
  #pending: { name: "stdout" | "stderr"; text: string } | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #relayed = 0;
  #full = false;

  /** Relay the output of task `id` to `sink`. */
  constructor(id: string, sink: ReportSink, limits: OutputRelayLimits = {}) {
    this.#id = id;
    this.#sink = sink;
    this.#intervalMs = limits.intervalMs ?? 100;
    this.#chunkChars = limits.chunkChars ?? 64 * 1024;
    this.#totalChars = limits.totalChars ?? 4 * 1024 * 1024;
  }

  /** One output of the task, as the kernel sent it. */
  add(output: TaskOutput): void {
    if (this.#full) return;
    if (output.kind === "stream") {
      if (this.#pending && this.#pending.name !== output.name) this.#flush();
      const text = (this.#pending?.text ?? "") + output.text;
      this.#pending = { name: output.name, text };
      if (text.length >= this.#chunkChars) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#intervalMs);
      return;
    }
    this.#flush();
    if (output.kind === "clear") return this.#send(output, 0);
    const { chars, problem } = measureJson(
      output.display,
      RECORD_LIMITS.depth,
      this.#totalChars - this.#relayed,
    );
    if (problem) return this.#stop();
    this.#send(output, chars);
  }

  /** The task ended: send what is gathered, and stop. */
  close(): void {
    this.#flush();
    this.#full = true;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const pending = this.#pending;
    this.#pending = undefined;
    if (!pending || this.#full) return;
    for (let at = 0; at < pending.text.length; at += this.#chunkChars) {
      const text = pending.text.slice(at, at + this.#chunkChars);
      if (this.#relayed + text.length > this.#totalChars) return this.#stop();
      this.#send({ kind: "stream", name: pending.name, text }, text.length);
    }
  }

  #send(output: TaskOutput, chars: number): void {
    this.#relayed += chars;
    this.#sink.tell({ kind: "output", id: this.#id, output });
  }

  /** Over the bound: one last note, then nothing more until the outcome. */
  #stop(): void {
    this.#full = true;
    this.#sink.tell({
      kind: "output",
      id: this.#id,
      output: {
        kind: "stream",
        name: "stderr",
        text: `\n[zest: more than ${this.#totalChars} characters of output; ` +
          `the rest is in the task's outcome]\n`,
      },
    });
  }
}

/** Gathering one execution's iopub messages and reply into an `ExecutionReply`. */
import { stripVTControlCharacters } from "node:util";
import { KernelMessage } from "@jupyterlab/services";
import type { DisplayOutput } from "../task/outcome.ts";
import type { ExecutionReply, JsonValue } from "./kernel.ts";

/**
 * Accumulates the outputs of one execute request, in arrival order.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelMessage } from "@jupyterlab/services";
 * import { OutputCollector } from "./outputs.ts";
 * const outputs = new OutputCollector();
 * // With a real kernel: future.onIOPub = (msg) => outputs.add(msg);
 * outputs.add(KernelMessage.createMessage({
 *   msgType: "stream",
 *   channel: "iopub",
 *   session: "s",
 *   content: { name: "stdout", text: "hello\n" },
 * }));
 * // ...then outputs.finish((await future.done).content)
 * const reply = outputs.finish({ status: "ok", execution_count: 3, user_expressions: {} });
 * assert.equal(reply.stdout, "hello\n");
 * assert.equal(reply.executionCount, 3);
 * ```
 */
export class OutputCollector {
  #stdout = "";
  #stderr = "";
  #displays: DisplayOutput[] = [];
  /** Which entry of `#displays` a `display_id` refers to, for updates. */
  #displayIndex = new Map<string, number>();
  #result?: DisplayOutput;
  #error?: { ename: string; evalue: string; traceback: string };
  /** From `execute_input`, for a reply cut short before its `execute_reply`. */
  #executionCount: number | null = null;
  /** `clear_output(wait=True)` clears only when the next output arrives. */
  #clearPending = false;

  /** Take one iopub message of the execution into account. */
  add(msg: KernelMessage.IIOPubMessage): void {
    if (KernelMessage.isClearOutputMsg(msg)) {
      if (msg.content.wait) this.#clearPending = true;
      else this.#clear();
      return;
    }
    if (KernelMessage.isExecuteInputMsg(msg)) {
      this.#executionCount = msg.content.execution_count ?? null;
      return;
    }
    if (KernelMessage.isStatusMsg(msg)) return;
    if (this.#clearPending) this.#clear();
    if (KernelMessage.isStreamMsg(msg)) {
      if (msg.content.name === "stdout") this.#stdout += msg.content.text;
      else this.#stderr += msg.content.text;
    } else if (KernelMessage.isExecuteResultMsg(msg)) {
      this.#result = {
        data: msg.content.data as Record<string, JsonValue>,
        metadata: msg.content.metadata as Record<string, JsonValue>,
      };
    } else if (KernelMessage.isDisplayDataMsg(msg)) {
      this.#display(msg.content, false);
    } else if (KernelMessage.isUpdateDisplayDataMsg(msg)) {
      this.#display(msg.content, true);
    } else if (KernelMessage.isErrorMsg(msg)) {
      this.#error = {
        ename: msg.content.ename,
        evalue: msg.content.evalue,
        traceback: joinTraceback(msg.content.traceback),
      };
    }
  }

  /** Build the reply from everything gathered and the kernel's `execute_reply`. */
  finish(content: KernelMessage.IExecuteReplyMsg["content"]): ExecutionReply {
    const reply = this.#gathered(content.status === "ok" ? "ok" : "error");
    reply.executionCount = content.execution_count ?? this.#executionCount;
    if (content.status === "error") {
      reply.ename = content.ename;
      reply.evalue = content.evalue;
      reply.traceback = joinTraceback(content.traceback);
    } else if (content.status === "aborted") {
      // The kernel skipped the code because an earlier request failed.
      reply.ename = this.#error?.ename ?? "ExecutionAborted";
      reply.evalue = this.#error?.evalue ?? "the kernel aborted this execution";
      reply.traceback = this.#error?.traceback ?? "";
    }
    return reply;
  }

  /**
   * What an execution cut short produced so far, with no `execute_reply`:
   * `status` is `"error"` when the kernel reported an error (an interrupt's
   * `KeyboardInterrupt`), else `"ok"`.
   */
  partial(): ExecutionReply {
    const reply = this.#gathered(this.#error ? "error" : "ok");
    if (this.#error) Object.assign(reply, this.#error);
    return reply;
  }

  #gathered(status: ExecutionReply["status"]): ExecutionReply {
    const reply: ExecutionReply = {
      status,
      executionCount: this.#executionCount,
      stdout: this.#stdout,
      stderr: this.#stderr,
      displays: this.#displays,
    };
    const result = this.#result;
    if (!result) return reply;
    reply.executeResult = result;
    const json = result.data["application/json"];
    // Decoded from the kernel's JSON message: a JSON value.
    if (json !== undefined) reply.value = json as JsonValue;
    const text = result.data["text/plain"];
    if (typeof text === "string") reply.text = text;
    return reply;
  }

  #display(
    content: { data: unknown; metadata: unknown; transient?: { display_id?: string } },
    isUpdate: boolean,
  ): void {
    const output: DisplayOutput = {
      data: content.data as Record<string, JsonValue>,
      metadata: content.metadata as Record<string, JsonValue>,
    };
    const displayId = content.transient?.display_id;
    const index = displayId === undefined ? undefined : this.#displayIndex.get(displayId);
    if (isUpdate && index !== undefined) {
      this.#displays[index] = output;
      return;
    }
    if (displayId !== undefined) this.#displayIndex.set(displayId, this.#displays.length);
    this.#displays.push(output);
  }

  #clear(): void {
    this.#clearPending = false;
    this.#stdout = "";
    this.#stderr = "";
    this.#displays = [];
    this.#displayIndex.clear();
  }
}

/**
 * OSC sequences (a title, a hyperlink), ended by BEL or ST.
 * `stripVTControlCharacters` removes them only when their text is made of
 * the few characters it expects: a hyperlink to a path with a space or an
 * accent would leave half of it behind, with a BEL.
 */
// deno-lint-ignore no-control-regex
const OSC_SEQUENCE = /\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)/g;

/**
 * The traceback's lines as one text, without terminal escapes: IPython
 * colours tracebacks (kernelspecs written by others keep the colours on).
 */
function joinTraceback(lines: readonly string[] | undefined): string {
  return stripVTControlCharacters((lines ?? []).join("\n").replace(OSC_SEQUENCE, ""));
}

import assert from "node:assert/strict";
import { KernelMessage } from "@jupyterlab/services";
import { OutputCollector } from "./outputs.ts";

function iopub<T extends KernelMessage.IOPubMessageType>(
  msgType: T,
  content: KernelMessage.IIOPubMessage<T>["content"],
): KernelMessage.IIOPubMessage {
  return KernelMessage.createMessage({ msgType, channel: "iopub", session: "s", content } as never);
}

const ERROR_REPLY = (traceback: string[]): KernelMessage.IExecuteReplyMsg["content"] => ({
  status: "error",
  execution_count: 1,
  ename: "ZeroDivisionError",
  evalue: "division by zero",
  traceback,
});

Deno.test("a traceback loses IPython's colours", () => {
  // As the Debian python3 kernelspec sends it (IPython 8.5, colours on).
  const reply = new OutputCollector().finish(ERROR_REPLY([
    "\x1b[0;31m---------------------------------------------------------------------------\x1b[0m",
    "\x1b[0;31mZeroDivisionError\x1b[0m                         Traceback (most recent call last)",
    "Input \x1b[0;32mIn [1]\x1b[0m, in \x1b[0;36m<cell line: 1>\x1b[0;34m()\x1b[0m",
    "\x1b[0;32m----> 1\x1b[0m \x1b[38;5;241m1\x1b[39m\x1b[38;5;241m/\x1b[39m\x1b[38;5;241m0\x1b[39m",
    "\x1b[0;31mZeroDivisionError\x1b[0m: division by zero",
  ]));
  assert.equal(
    reply.traceback,
    [
      "---------------------------------------------------------------------------",
      "ZeroDivisionError                         Traceback (most recent call last)",
      "Input In [1], in <cell line: 1>()",
      "----> 1 1/0",
      "ZeroDivisionError: division by zero",
    ].join("\n"),
  );
});

Deno.test("a traceback loses titles and hyperlinks, whatever their text", () => {
  const reply = new OutputCollector().finish(ERROR_REPLY([
    "\x1b]0;IPython: ~/my notebooks\x07File \x1b]8;;file:///home/jos%C3%A9/a.py\x1b\\a.py\x1b]8;;\x1b\\",
    "File \x1b]8;;file:///home/josé/my notebooks/b.py\x07b.py\x1b]8;;\x07:3",
    "\x1b(Bcursor \x1b[2Kmoves\x1b[1A",
  ]));
  assert.equal(reply.traceback, "File a.py\nFile b.py:3\ncursor moves");
});

Deno.test("text that only looks like an escape is kept", () => {
  const reply = new OutputCollector().finish(ERROR_REPLY(["values[0] [1;2] ] ]0;x é ☃"]));
  assert.equal(reply.traceback, "values[0] [1;2] ] ]0;x é ☃");
});

Deno.test("the error message's traceback is cleaned too in a partial reply", () => {
  const outputs = new OutputCollector();
  outputs.add(iopub("stream", { name: "stdout", text: "before\n" }));
  outputs.add(iopub("error", {
    ename: "KeyboardInterrupt",
    evalue: "",
    traceback: ["\x1b[0;31mKeyboardInterrupt\x1b[0m"],
  }));
  const partial = outputs.partial();
  assert.equal(partial.status, "error");
  assert.equal(partial.stdout, "before\n");
  assert.equal(partial.traceback, "KeyboardInterrupt");
});

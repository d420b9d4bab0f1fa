import assert from "node:assert/strict";
import { StderrTail } from "./stderr_tail.ts";

/** A stream of `chunks` (UTF-8), ended unless `open`. */
function streamOf(chunks: string[], open = false): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!open) controller.close();
    },
  });
}

Deno.test("StderrTail keeps the whole text of a short stream, trimmed", async () => {
  const tail = new StderrTail(streamOf(["  Traceback:\n", "OSError: port in use\n"]));
  await tail.closed();
  assert.equal(tail.text(), "Traceback:\nOSError: port in use");
});

Deno.test("StderrTail keeps only the last maxChars characters", async () => {
  const tail = new StderrTail(streamOf(["a".repeat(100), "0123456789"]), 12);
  await tail.closed();
  assert.equal(tail.text(), "aa0123456789");
});

Deno.test("StderrTail decodes characters split across chunks", async () => {
  const bytes = new TextEncoder().encode("é☃");
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const byte of bytes) controller.enqueue(Uint8Array.of(byte));
      controller.close();
    },
  });
  const tail = new StderrTail(stream);
  await tail.closed();
  assert.equal(tail.text(), "é☃");
});

Deno.test("StderrTail.closed() cancels a stream that stays open, and keeps what it read", async () => {
  let cancelled = false;
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode("held open by a child\n"));
    },
    cancel() {
      cancelled = true;
    },
  });
  const tail = new StderrTail(stream);
  while (tail.text() === "") await new Promise((resolve) => setTimeout(resolve, 1));
  await tail.closed(1);
  assert.equal(cancelled, true);
  assert.equal(tail.text(), "held open by a child");
});

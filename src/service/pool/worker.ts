/**
 * The Web Worker inside a worker process that runs the handler module.
 *
 * Its `name` is the handler module's URL. It imports the module, says
 * `ready` (or `load-failed`), then runs one task per `run` message with the
 * context an in-process handler gets, but `client`. It reads frames
 * from the process's stdin and writes them to its stdout itself: with
 * synchronous writes, so log lines and progress leave while a handler
 * computes without yielding, and a result's buffers go from where they lie
 * to the pipe with no hop through another thread.
 *
 * stdout carries the protocol, so the console is pointed at the task's log
 * (and at stderr between tasks). A stray error (a timer that throws, a
 * promise nobody awaits) or a call to `Deno.exit` ends the process, as it
 * would a Deno program; the runtime fails the running task with it.
 *
 * @module
 */
import { Console } from "node:console";
import { EventEmitter } from "node:events";
import { format } from "node:util";
import { decode, encode, type Encoded, errorShape } from "./codec.ts";
import { checkFrameSize, FrameReader, writeFrameSync } from "./frames.ts";
import type { FromWorker, LogLevel, ToSupervisor, ToWorker } from "./messages.ts";
import { ProgressGate } from "./progress.ts";

interface WorkerScope {
  name: string;
  postMessage(message: ToSupervisor): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
}
const scope = globalThis as unknown as WorkerScope;
const moduleUrl = scope.name;
const moduleName = moduleUrl.slice(moduleUrl.lastIndexOf("/") + 1);
/** Deno's own console, whose `error` writes to the process's stderr. */
const processConsole = globalThis.console;

/** The task being run, if any. */
interface Current {
  seq: number;
  controller: AbortController;
  progress: ProgressGate;
}
let current: Current | undefined;

/** Write an encoded message to the runtime. */
function send(encoded: Encoded): void {
  writeFrameSync(Deno.stdout, encoded);
}

function post(message: FromWorker): void {
  send(encode(message));
}

/** Ask the main thread to end the process, and wait for it without spinning. */
function exit(code: number): never {
  scope.postMessage({ kind: "exit", code });
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
  throw new Error("unreachable: the process exits");
}

function log(level: LogLevel, message: string): void {
  const task = current;
  if (!task) {
    processConsole.error(`[${level}] ${message}`);
    return;
  }
  task.progress.flush();
  post({ kind: "log", seq: task.seq, at: Date.now(), level, message });
}

/** Writes what the console prints, a call at a time, to the log at `level`. */
class LogSink extends EventEmitter {
  constructor(readonly level: LogLevel) {
    super();
  }
  write(text: string): boolean {
    log(this.level, String(text).replace(/\n$/, ""));
    return true;
  }
}

function pointConsoleAtLog(): void {
  const console = new Console({
    stdout: new LogSink("info") as unknown as NodeJS.WritableStream,
    stderr: new LogSink("error") as unknown as NodeJS.WritableStream,
  });
  console.warn = (...args: unknown[]) => log("warn", format(...args));
  console.debug = (...args: unknown[]) => log("debug", format(...args));
  globalThis.console = console as unknown as typeof globalThis.console;
}

/** End the process, telling the runtime why. */
function die(message: string, stack: string, code: number): never {
  post({ kind: "fatal", message, stack });
  return exit(code);
}

function trapExits(): void {
  (Deno as { exit: (code?: number) => never }).exit = (code = 0) => {
    const message = `the handler called Deno.exit(${code})`;
    const stack = new Error(message).stack ?? "";
    return die(message, stack, code);
  };
  const uncaught = (thrown: unknown) => {
    const { name, message, stack } = errorShape(thrown);
    die(`uncaught ${name}: ${message}`, stack, 1);
  };
  scope.addEventListener("error", (event) => {
    event.preventDefault();
    const { error, message } = event as ErrorEvent;
    uncaught(error ?? message);
  });
  scope.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    uncaught((event as PromiseRejectionEvent).reason);
  });
}

type Handler = (fields: unknown, context: unknown) => unknown;

async function load(): Promise<Handler | undefined> {
  try {
    const module = await import(moduleUrl);
    if (typeof module.default !== "function") {
      throw new TypeError(
        `${moduleName} must have a default export that is the handler function ` +
          `(found ${module.default === undefined ? "no default export" : typeof module.default})`,
      );
    }
    post({ kind: "ready" });
    return module.default;
  } catch (error) {
    post({ kind: "load-failed", error: errorShape(error) });
    return undefined;
  }
}

function context(message: Extract<ToWorker, { kind: "run" }>, task: Current) {
  const logger = (level: LogLevel) => (text: string) => {
    if (current === task) log(level, String(text));
  };
  return {
    taskId: message.taskId,
    attempt: message.attempt,
    attributes: message.attributes,
    signal: task.controller.signal,
    log: {
      debug: logger("debug"),
      info: logger("info"),
      warn: logger("warn"),
      error: logger("error"),
    },
    progress: (fraction: number, text?: string) => task.progress.report(fraction, text),
  };
}

async function run(handler: Handler, message: Extract<ToWorker, { kind: "run" }>): Promise<void> {
  const task: Current = {
    seq: message.seq,
    controller: new AbortController(),
    progress: new ProgressGate((progress) =>
      post({ kind: "progress", seq: message.seq, ...progress })
    ),
  };
  current = task;
  let reply: FromWorker;
  try {
    reply = {
      kind: "result",
      seq: task.seq,
      value: await handler(message.fields, context(message, task)),
    };
  } catch (error) {
    reply = { kind: "error", seq: task.seq, error: errorShape(error) };
  }
  task.progress.close();
  current = undefined;
  let encoded: Encoded;
  try {
    encoded = encode(reply);
    checkFrameSize(encoded, `the result of ${moduleName}`);
  } catch (error) {
    const { name, message, stack } = errorShape(error);
    const why = `the result of ${moduleName} cannot be sent back: ${message}`;
    encoded = encode({ kind: "error", seq: task.seq, error: { name, message: why, stack } });
  }
  send(encoded);
}

pointConsoleAtLog();
trapExits();
const handler = await load();
const frames = new FrameReader(Deno.stdin.readable);
// Not awaited per task: an abort must get through while the handler awaits.
for (let frame = await frames.read(); frame; frame = await frames.read()) {
  const message = decode(frame) as ToWorker;
  if (message.kind === "abort") {
    if (current?.seq === message.seq) {
      current.controller.abort(new DOMException(message.reason.message, message.reason.name));
    }
  } else if (handler) {
    run(handler, message);
  }
}
// stdin closed: the pool is done with this worker.
exit(0);

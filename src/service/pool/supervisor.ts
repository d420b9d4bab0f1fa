/**
 * The main thread of a worker process: `deno run supervisor.ts <handler module URL>`.
 *
 * It starts the Web Worker that runs the handler (`worker.ts`), which talks
 * to the runtime over the process's stdin and stdout itself. This thread
 * never runs handler code, so it stays responsive while the handler spins,
 * and it is what ends the process: when the worker asks (a call to
 * `Deno.exit`, an uncaught error, stdin closed), when the worker cannot
 * start, and when the runtime is gone (even killed with SIGKILL), which it
 * sees as its parent process changing. Ending the process also stops a
 * worker thread that ignores every signal, which `worker.terminate()`
 * cannot do (see ARCHITECTURE.md).
 *
 * @module
 */
import { encode, errorShape } from "./codec.ts";
import { writeFrameSync } from "./frames.ts";
import type { FromWorker, ToSupervisor } from "./messages.ts";

/** How often the parent process is checked, in ms. */
const PARENT_CHECK_MS = 250;

const worker = new Worker(new URL("./worker.ts", import.meta.url), {
  type: "module",
  name: Deno.args[0],
});

worker.onmessage = ({ data }: MessageEvent<ToSupervisor>) => Deno.exit(data.code);

// Only errors the worker could not catch itself, e.g. its own module failing to load.
worker.onerror = (event) => {
  event.preventDefault();
  const { name, message, stack } = errorShape(event.error ?? event.message);
  const fatal: FromWorker = {
    kind: "fatal",
    message: `the worker thread failed: ${name}: ${message}`,
    stack,
  };
  try {
    writeFrameSync(Deno.stdout, encode(fatal));
  } finally {
    Deno.exit(1);
  }
};

const parent = Deno.ppid;
setInterval(() => {
  if (Deno.ppid !== parent) Deno.exit(0);
}, PARENT_CHECK_MS);

/**
 * The kernel layer against a real Jupyter Server and real IPython kernels,
 * started on loopback by the tests themselves. No timing is asserted (the
 * machine may be busy); a few timings are printed. The round trip of an
 * execution is measured by `bench/kernel.ts`, not here.
 *
 * Most tests share one server (launching one takes seconds), stopped by the
 * last of them. Tests that leave a kernel as they found it share one kernel;
 * a test that kills, restarts or floods its kernel gets a kernel of its own.
 */
import assert from "node:assert/strict";
import {
  type ExecutionReply,
  type JupyterKernel,
  JupyterServer,
  JupyterServerGoneError,
  JupyterServerNotFoundError,
  JupyterServerStartError,
  KernelClosedError,
  KernelDiedError,
  KernelLaunchError,
  KernelNotFoundError,
  KernelOutputLostError,
  KernelOutputTooLargeError,
  type KernelStartOptions,
  KernelStartupCodeError,
  type KernelStatus,
  KernelTimeoutError,
} from "../src/kernel/mod.ts";
import { isRunning } from "../src/kernel/processes.ts";
import { py } from "../src/task/py.ts";
import {
  launchTestServer,
  REPO_ROOT,
  SharedTestServer,
  TINY_PNG_BASE64,
} from "./helpers/jupyter.ts";
import { startTcpProxy } from "./helpers/tcp_proxy.ts";

/** Startup code that leaves a mark, to tell whether it ran on the current process. */
const STARTUP_CODE = "import os, time\nSTARTUP_PID = os.getpid()";

async function valueOf(kernel: JupyterKernel, code: string): Promise<unknown> {
  const reply = await kernel.execute(code, { timeoutMs: 30_000 });
  assert.equal(reply.status, "ok", `${code}: ${reply.ename}: ${reply.evalue}\n${reply.traceback}`);
  return reply.value;
}

/** The kernel's pid, and a check that the startup code ran in that very process. */
async function pidWithStartupCode(kernel: JupyterKernel): Promise<number> {
  const [pid, startupPid] = await valueOf(kernel, "os.getpid(), STARTUP_PID") as number[];
  assert.equal(startupPid, pid, "startup code ran in this kernel process");
  return pid;
}

function ms(since: number): string {
  return `${Math.round(performance.now() - since)} ms`;
}

const shared = new SharedTestServer();
let sharedKernel: Promise<JupyterKernel> | undefined;

/**
 * The kernel shared by the tests that leave it as they found it (python3;
 * the Debian kernelspec keeps IPython's colours, so ANSI removal is
 * exercised). A new one is started if a test left it dead.
 */
async function kernelOfSharedServer(): Promise<JupyterKernel> {
  const kernel = await sharedKernel;
  if (kernel && kernel.status !== "dead") return kernel;
  const server = await shared.server();
  sharedKernel = server.startKernel({ name: "python3", startupCode: STARTUP_CODE });
  return await sharedKernel;
}

/** A test on the shared server; its resources outlive each test, so no sanitizers. */
function serverTest(name: string, fn: (server: JupyterServer) => Promise<void>): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => await fn(await shared.server()),
  });
}

/** A test on the shared kernel. */
function sharedKernelTest(name: string, fn: (kernel: JupyterKernel) => Promise<void>): void {
  serverTest(name, async () => await fn(await kernelOfSharedServer()));
}

/** A test with a kernel of its own on the shared server, shut down afterwards. */
function ownKernelTest(
  name: string,
  fn: (kernel: JupyterKernel) => Promise<void>,
  options: KernelStartOptions = { name: "python3", startupCode: STARTUP_CODE },
): void {
  serverTest(name, async (server) => {
    const kernel = await server.startKernel(options);
    try {
      await fn(kernel);
    } finally {
      await kernel.shutdown();
    }
  });
}

serverTest("the token does not show on any command line", async (server) => {
  await kernelOfSharedServer(); // a kernel's command line too
  const processes = await server.processes();
  assert.ok(processes.length >= 2, "the server and a kernel run");
  for (const { pid } of processes) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    assert.ok(!cmdline.includes(server.token), `token visible in process ${pid}`);
  }
});

sharedKernelTest("1+1 gives the JSON value 2 and its text", async (kernel) => {
  const reply = await kernel.execute("1+1");
  assert.equal(reply.status, "ok");
  assert.equal(reply.value, 2);
  assert.equal(reply.text, "2");
  assert.equal(typeof reply.executionCount, "number");
  assert.equal(kernel.status, "idle");
});

sharedKernelTest("stdout and stderr are collected in full", async (kernel) => {
  const reply = await kernel.execute(
    "import sys\nprint('to stdout')\nprint('to stderr', file=sys.stderr)\n" +
      "for i in range(20000): print(i)",
  );
  assert.equal(reply.value, undefined);
  assert.ok(reply.stdout.startsWith("to stdout\n0\n1\n"));
  // No iopub rate limit: nothing silently dropped.
  assert.equal(reply.stdout.split("\n").length, 20002);
  assert.equal(reply.stderr, "to stderr\n");
});

sharedKernelTest("JSON-able last expressions come back as JSON values", async (kernel) => {
  assert.deepEqual(await valueOf(kernel, "{'a': [1, 2.5, None], 'b': True}"), {
    a: [1, 2.5, null],
    b: true,
  });
  assert.deepEqual(await valueOf(kernel, "(1, 'two')"), [1, "two"]);
  const text = 'quote " and \\ and \n and é';
  assert.equal(await valueOf(kernel, py`${text}`), text);
  assert.deepEqual(await valueOf(kernel, "import numpy as np\nnp.arange(6).reshape(2, 3)"), [
    [0, 1, 2],
    [3, 4, 5],
  ]);
  assert.equal(await valueOf(kernel, "np.float64(0.25)"), 0.25);
  assert.deepEqual(await valueOf(kernel, "{'n': np.int64(3), 'x': np.array([1.5])}"), {
    n: 3,
    x: [1.5],
  });
});

sharedKernelTest("values without a JSON form come back as text only", async (kernel) => {
  for (
    const code of [
      "object()",
      "float('nan')",
      "{1: 'int key'}",
      "import numpy as np\nnp.array([np.nan])",
    ]
  ) {
    const reply = await kernel.execute(code);
    assert.equal(reply.value, undefined, code);
    assert.equal(typeof reply.text, "string", code);
  }
  const none = await kernel.execute("None");
  assert.equal(none.value, undefined);
  assert.equal(none.text, undefined);
});

sharedKernelTest(
  "display() gives what stock IPython gives: only the result gets JSON",
  async (kernel) => {
    // Each display beside what a fresh, stock IPython formatter makes of the same value.
    const reply = await kernel.execute(`
import numpy as np
from IPython.core.formatters import DisplayFormatter
from IPython.display import display

class OwnJson:
    def _repr_json_(self):
        return {"own": True}

values = [{"a": 1}, [1, 2.5], "text", 3, (1, "two"), np.arange(3), OwnJson()]
for value in values:
    display(value)
stock = DisplayFormatter()
[stock.format(value)[0] for value in values]`);
    assert.equal(reply.status, "ok", reply.traceback);
    assert.deepEqual(reply.displays.map((display) => display.data), reply.value);
    assert.deepEqual(Object.keys(reply.displays[0].data), ["text/plain"]);
    assert.deepEqual(reply.displays[6].data["application/json"], { own: true });
  },
);

sharedKernelTest("the result keeps its whole MIME bundle beside its value", async (kernel) => {
  const plain = await kernel.execute("1+1");
  assert.deepEqual(plain.executeResult, {
    data: { "text/plain": "2", "application/json": 2 },
    metadata: {},
  });
  const image = await kernel.execute(py`
import base64
from IPython.display import Image
Image(data=base64.b64decode(${TINY_PNG_BASE64}), width=10)`);
  assert.equal(String(image.executeResult?.data["image/png"]).trim(), TINY_PNG_BASE64);
  assert.deepEqual(image.executeResult?.metadata, { "image/png": { width: 10 } });
  assert.equal(image.value, undefined, "an image has no JSON form");
  assert.match(image.text ?? "", /Image/);
  const html = await kernel.execute(`from IPython.display import HTML, SVG
HTML("<table><tr><td>q0</td></tr></table>")`);
  assert.equal(html.executeResult?.data["text/html"], "<table><tr><td>q0</td></tr></table>");
  const svg = await kernel.execute(
    `SVG('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')`,
  );
  assert.match(String(svg.executeResult?.data["image/svg+xml"]), /^<svg /);
  assert.equal((await kernel.execute("x = 1")).executeResult, undefined, "no value, no bundle");
});

sharedKernelTest(
  "display_data keeps a PNG as base64, update_display_data replaces it",
  async (kernel) => {
    const reply = await kernel.execute(py`
import base64
from IPython.display import Image, display
handle = display(Image(data=base64.b64decode(${TINY_PNG_BASE64})), display_id=True)
display({"text/plain": "second"}, raw=True)
handle.update(Image(data=base64.b64decode(${TINY_PNG_BASE64}), width=10))
`);
    assert.equal(reply.status, "ok");
    assert.equal(reply.displays.length, 2);
    const [image, second] = reply.displays;
    assert.equal(String(image.data["image/png"]).trim(), TINY_PNG_BASE64);
    assert.deepEqual(image.metadata, { "image/png": { width: 10 } });
    assert.equal(second.data["text/plain"], "second");
  },
);

sharedKernelTest(
  "a Python error gives ename, evalue and an ANSI-free traceback",
  async (kernel) => {
    const reply = await kernel.execute("def f():\n    return 1 / 0\nf()");
    assert.equal(reply.status, "error");
    assert.equal(reply.ename, "ZeroDivisionError");
    assert.equal(reply.evalue, "division by zero");
    assert.match(reply.traceback!, /ZeroDivisionError/);
    assert.match(reply.traceback!, /return 1 \/ 0/);
    assert.ok(!reply.traceback!.includes("\x1b"), "no ANSI escape");
    // The execution sent right after an error must run, not be aborted.
    for (let i = 0; i < 10; i++) {
      assert.equal((await kernel.execute("1/0")).ename, "ZeroDivisionError");
      assert.equal((await kernel.execute("1")).value, 1, "the kernel goes on after an error");
    }
  },
);

sharedKernelTest("executions run one at a time in call order", async (kernel) => {
  await kernel.execute("order = []");
  const replies = await Promise.all(
    Array.from({ length: 20 }, (_, i) => kernel.execute(py`order.append(${i}); ${i}`)),
  );
  assert.deepEqual(replies.map((reply) => reply.value), [...Array(20).keys()]);
  assert.deepEqual(await valueOf(kernel, "order"), [...Array(20).keys()]);
});

sharedKernelTest("a timeout interrupts the code; the kernel keeps its state", async (kernel) => {
  await kernel.execute("kept = 'still here'");
  let startedAt = 0;
  let partial: ExecutionReply | undefined;
  const running = kernel.execute(
    "print('before', flush=True)\ndisplay({'text/plain': 'shown'}, raw=True)\ntime.sleep(60)",
    {
      timeoutMs: 500,
      onStart: () => startedAt = performance.now(),
      onCutShort: (cut) => partial = cut,
    },
  );
  const queued = kernel.execute("kept");
  await assert.rejects(running, (error: Error) => {
    assert.ok(error instanceof KernelTimeoutError);
    assert.equal(error.name, "KernelTimeoutError");
    assert.equal(error.recovery, "interrupted");
    return true;
  });
  assert.ok(startedAt > 0, "onStart was called");
  // What the code printed and displayed, and where the interrupt stopped it.
  assert.equal(partial?.stdout, "before\n");
  assert.deepEqual(partial?.displays.map((display) => display.data), [{
    "text/plain": "shown",
  }]);
  assert.equal(partial?.status, "error");
  assert.equal(partial?.ename, "KeyboardInterrupt");
  assert.match(partial?.traceback ?? "", /time\.sleep\(60\)/);
  assert.equal(typeof partial?.executionCount, "number");
  assert.equal((await queued).value, "still here");
});

sharedKernelTest(
  "an aborted signal interrupts running code and drops queued code",
  async (kernel) => {
    await kernel.execute("ran = []");
    const running = new AbortController();
    const queued = new AbortController();
    const first = kernel.execute("time.sleep(60); ran.append(1)", {
      signal: running.signal,
      onStart: () => running.abort(new Error("caller gave up")),
    });
    const second = kernel.execute("ran.append(2)", { signal: queued.signal });
    queued.abort(new Error("not needed any more"));
    await assert.rejects(second, /not needed any more/);
    await assert.rejects(first, /caller gave up/);
    assert.deepEqual(await valueOf(kernel, "ran"), [], "neither ran to its end");
  },
);

ownKernelTest("code that ignores the interrupt is stopped by a restart", async (kernel) => {
  await kernel.execute("kept = 'still here'");
  const pidBefore = await pidWithStartupCode(kernel);
  // In the same cell: ipykernel reinstalls its SIGINT handler for each execution.
  let partial: ExecutionReply | undefined;
  const running = kernel.execute(
    "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n" +
      "print('stubborn', flush=True)\ntime.sleep(60)",
    { timeoutMs: 1_000, onCutShort: (cut) => partial = cut },
  );
  const queued = kernel.execute("'kept' in globals()");
  await assert.rejects(running, (error: Error) => {
    assert.ok(error instanceof KernelTimeoutError);
    assert.equal(error.recovery, "restarted");
    return true;
  });
  assert.equal(partial?.stdout, "stubborn\n", "what it printed before the restart");
  assert.equal((await queued).value, false, "state was lost");
  assert.notEqual(await pidWithStartupCode(kernel), pidBefore);
});

ownKernelTest(
  "an output over the WebSocket message limit fails with KernelOutputTooLargeError",
  async (kernel) => {
    await kernel.execute("kept = 'still here'");
    let partial: ExecutionReply | undefined;
    const huge = kernel.execute("print('first', flush=True)\nprint('x' * 110_000_000)\n1", {
      onCutShort: (cut) => partial = cut,
    });
    const queued = kernel.execute("kept");
    await assert.rejects(huge, (error: Error) => {
      assert.ok(error instanceof KernelOutputTooLargeError);
      assert.equal(error.name, "KernelOutputTooLargeError");
      assert.match(error.message, /100 MiB/);
      return true;
    });
    assert.equal(partial?.stdout, "first\n", "what came before the dropped output");
    assert.equal((await queued).value, "still here", "the kernel goes on with its state");
    await assert.rejects(
      kernel.execute("display({'text/plain': 'y' * 110_000_000}, raw=True)"),
      KernelOutputTooLargeError,
    );
    assert.equal((await kernel.execute("1+1")).value, 2);
  },
);

ownKernelTest(
  "a kernel that exits is restarted; queued work runs after the startup code",
  async (kernel) => {
    const pidBefore = await pidWithStartupCode(kernel);
    const statuses: KernelStatus[] = [];
    const unsubscribe = kernel.onStatus((status) => statuses.push(status));
    const sent = performance.now();
    const dying = kernel.execute("import os\nos._exit(1)");
    const queued = kernel.execute("'survivor'");
    await assert.rejects(dying, (error: Error) => {
      assert.ok(error instanceof KernelDiedError);
      assert.match(error.message, /state was lost/);
      return true;
    });
    console.log(`os._exit detected after ${ms(sent)}`);
    assert.equal((await queued).value, "survivor");
    console.log(`back to work after ${ms(sent)}`);
    assert.notEqual(await pidWithStartupCode(kernel), pidBefore);
    unsubscribe();
    assert.ok(statuses.includes("restarting"), statuses.join(","));
    assert.equal(kernel.status, "idle");
  },
);

ownKernelTest(
  "a kernel killed from outside mid-execute is detected and revived",
  async (kernel) => {
    const pidBefore = await pidWithStartupCode(kernel);
    let killedAt = 0;
    const running = kernel.execute("time.sleep(60)", {
      onStart: () => {
        Deno.kill(pidBefore, "SIGKILL");
        killedAt = performance.now();
      },
    });
    const queued = kernel.execute("2 + 2");
    await assert.rejects(running, KernelDiedError);
    console.log(`SIGKILL detected after ${ms(killedAt)}`);
    assert.equal((await queued).value, 4);
    console.log(`revived (answers, bootstrap + startup code ran) after ${ms(killedAt)}`);
    assert.notEqual(await pidWithStartupCode(kernel), pidBefore);
  },
);

ownKernelTest(
  "a kernel that dies while idle is revived before the next execution",
  async (kernel) => {
    const pidBefore = await pidWithStartupCode(kernel);
    const revived = Promise.withResolvers<void>();
    const statuses: KernelStatus[] = [];
    const unsubscribe = kernel.onStatus((status) => {
      statuses.push(status);
      if (status === "idle" && statuses.includes("restarting")) revived.resolve();
    });
    Deno.kill(pidBefore, "SIGKILL");
    await revived.promise;
    unsubscribe();
    assert.notEqual(await pidWithStartupCode(kernel), pidBefore);
  },
);

ownKernelTest("restart() loses the state and runs the startup code again", async (kernel) => {
  await kernel.execute("before_restart = 1");
  const pidBefore = await pidWithStartupCode(kernel);
  await kernel.restart();
  assert.equal(kernel.status, "idle");
  assert.equal(await valueOf(kernel, "'before_restart' in globals()"), false);
  assert.notEqual(await pidWithStartupCode(kernel), pidBefore);
  assert.equal(await valueOf(kernel, "'json'"), "json", "the JSON bootstrap ran again");
});

ownKernelTest(
  "the calibration kernel loads its graph; py-built code maintains a node",
  async (calibration) => {
    const nodeId = "q0_rabi";
    const summary = await valueOf(
      calibration,
      py`calibration_graph.nodes[${nodeId}].maintain()`,
    ) as Record<string, unknown>;
    assert.equal(summary.node, "q0_rabi");
    assert.equal(summary.state_before, "unknown");
    assert.equal(summary.state_after, "good");
    assert.deepEqual(summary.recalibrated, [
      "q0_resonator_spectroscopy",
      "q0_qubit_spectroscopy",
      "q0_rabi",
    ]);
    const status = await valueOf(calibration, "calibration_graph.status()") as {
      nodes: Record<string, { state: string }>;
    };
    assert.equal(status.nodes.q0_rabi.state, "good");
    assert.equal(status.nodes.q1_rabi.state, "needs calibration");
    const error = await calibration.execute("0 + ", { timeoutMs: 10_000 });
    assert.equal(error.ename, "SyntaxError");
    assert.ok(!error.traceback!.includes("\x1b"), "no ANSI escape");
    await calibration.shutdown();
    await assert.rejects(calibration.execute("1"), KernelClosedError);
    assert.equal(calibration.status, "dead");
  },
  { name: "calibration" },
);

serverTest("an unknown kernelspec names the folders searched", async (server) => {
  await assert.rejects(server.startKernel({ name: "no-such-kernel" }), (error: Error) => {
    assert.ok(error instanceof KernelNotFoundError);
    assert.equal(error.name, "KernelNotFoundError");
    assert.ok(error.searched.includes(`${REPO_ROOT}/kernels`), error.message);
    assert.ok(error.available.includes("calibration"), error.message);
    return true;
  });
});

serverTest(
  "startup code that raises fails the start, and the kernel is not leaked",
  async (server) => {
    const before = new Set((await server.processes()).map(({ pid }) => pid));
    await assert.rejects(
      server.startKernel({ name: "python3", startupCode: "raise ValueError('bad config')" }),
      (error: Error) => {
        assert.ok(error instanceof KernelStartupCodeError);
        assert.equal(error.name, "KernelStartupCodeError");
        assert.equal(error.ename, "ValueError");
        assert.equal(error.evalue, "bad config");
        return true;
      },
    );
    // The half-started kernel was shut down: no process beyond those that ran before.
    const added = async () =>
      (await server.processes()).filter(({ pid }) => !before.has(pid)).map(({ pid }) => pid);
    const deadline = Date.now() + 10_000;
    while ((await added()).length > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.deepEqual(await added(), []);
  },
);

serverTest(
  "stop() leaves no server or kernel process behind (the shared server's last test)",
  async (server) => {
    const kernel = await kernelOfSharedServer();
    const processes = await server.processes();
    assert.ok(processes.length >= 2, "the server and at least one kernel run");
    const begin = performance.now();
    await shared.stop();
    console.log(`server stop: ${ms(begin)}`);
    for (const process of processes) {
      assert.equal(await isRunning(process), false, `process ${process.pid} still runs`);
    }
    await assert.rejects(kernel.execute("1"), KernelClosedError);
    assert.equal(kernel.status, "dead");
  },
);

// Tests with servers of their own.

Deno.test("the library's console chatter is filtered only while a JupyterServer is alive", async () => {
  const { debug, warn } = console;
  assert.equal(console.debug, debug);
  const launched = await launchTestServer();
  try {
    assert.notEqual(console.debug, debug, "filtered while the launched server is alive");
    assert.notEqual(console.warn, warn);
    const { url, token } = launched.server;
    const connected = await JupyterServer.connect({ url, token });
    await connected.stop();
    assert.notEqual(console.debug, debug, "still filtered: the launched server is alive");
  } finally {
    await launched.stop();
  }
  assert.equal(console.debug, debug, "console as it was once the last server stopped");
  assert.equal(console.warn, warn);
});

for (const moment of ["at once", "while the server restarts it"]) {
  Deno.test(`server.stop() ${moment} after a kernel died neither crashes nor hangs`, async () => {
    // The library left a rejection unhandled here, which Deno treats as fatal.
    const unhandled: unknown[] = [];
    const contain = (event: PromiseRejectionEvent) => {
      unhandled.push(event.reason);
      event.preventDefault();
    };
    globalThis.addEventListener("unhandledrejection", contain);
    const { server, stop } = await launchTestServer();
    try {
      const kernel = await server.startKernel({ name: "python3" });
      const pid = (await kernel.execute("import os; os.getpid()")).value as number;
      const processes = await server.processes();
      const restarting = Promise.withResolvers<void>();
      kernel.onStatus((status) => status === "restarting" && restarting.resolve());
      Deno.kill(pid, "SIGKILL");
      if (moment !== "at once") await restarting.promise;
      const begin = performance.now();
      await server.stop();
      const took = performance.now() - begin;
      console.log(`server stop ${moment} after a kernel died: ${Math.round(took)} ms`);
      // Generous: it used to wait out the 10 s before SIGKILL.
      assert.ok(took < 8_000, `stop took ${Math.round(took)} ms`);
      for (const process of processes) {
        assert.equal(await isRunning(process), false, `process ${process.pid} still runs`);
      }
    } finally {
      await stop();
      globalThis.removeEventListener("unhandledrejection", contain);
    }
    assert.deepEqual(unhandled.map(String), []);
  });
}

Deno.test("a Jupyter Server that dies fails the running execution and leaves no orphan", async () => {
  const { server, stop } = await launchTestServer();
  try {
    const kernel = await server.startKernel({ name: "python3" });
    const processes = await server.processes();
    const running = kernel.execute("import time; time.sleep(60)", {
      onStart: () => Deno.kill(server.pid!, "SIGKILL"),
    });
    await assert.rejects(running, (error: Error) => {
      assert.ok(error instanceof JupyterServerGoneError);
      assert.match(error.message, /exited/);
      return true;
    });
    await assert.rejects(server.startKernel({ name: "python3" }), JupyterServerGoneError);
    await server.stop();
    for (const process of processes) {
      assert.equal(await isRunning(process), false, `process ${process.pid} still runs`);
    }
  } finally {
    await stop();
  }
});

Deno.test("connect() drives an existing server and shuts down only its own kernels", async () => {
  const launched = await launchTestServer();
  try {
    const { url, token } = launched.server;
    await assert.rejects(JupyterServer.connect({ url, token: "wrong" }), JupyterServerGoneError);
    const remote = await JupyterServer.connect({ url, token });
    const kernel = await remote.startKernel({ name: "python3" });
    const reply: ExecutionReply = await kernel.execute("21 * 2");
    assert.equal(reply.value, 42);
    assert.deepEqual(await remote.processes(), []);
    await remote.stop();
    assert.equal(kernel.status, "dead");
    const serverStillAnswers = await JupyterServer.connect({ url, token });
    await serverStillAnswers.stop();
  } finally {
    await launched.stop();
  }
});

Deno.test("a reply lost with the connection: KernelOutputLostError, the kernel keeps its state", async () => {
  const launched = await launchTestServer();
  const proxy = startTcpProxy(Number(new URL(launched.server.url).port));
  try {
    // Through a proxy that can lose the network: the server writes the reply
    // into a connection nobody reads, so it is neither delivered nor buffered.
    const server = await JupyterServer.connect({
      url: `http://127.0.0.1:${proxy.port}/`,
      token: launched.server.token,
    });
    const kernel = await server.startKernel({ name: "python3" });
    assert.equal((await kernel.execute("x = 41; x")).value, 41);
    const running = kernel.execute("import time; time.sleep(1.5); x += 1; x", {
      onStart: () => proxy.cut(3_000),
    });
    await assert.rejects(running, (error: Error) => {
      assert.ok(error instanceof KernelOutputLostError, `${error.name}: ${error.message}`);
      assert.match(error.message, /ran the code but its reply was lost/);
      return true;
    });
    // The code ran to its end on the kernel, whose state is kept.
    assert.equal((await kernel.execute("x")).value, 42);
    await server.stop();
  } finally {
    await proxy.close();
    await launched.stop();
  }
});

Deno.test({
  name: "a connected server that vanishes fails the running execution",
  // When the server vanishes, @jupyterlab/services re-checks the kernel
  // every 10–30 s on a timer it never clears, even once disposed.
  sanitizeOps: false,
  fn: async () => {
    const launched = await launchTestServer();
    try {
      const { url, token } = launched.server;
      const remote = await JupyterServer.connect({ url, token, unreachableAfterMs: 1_000 });
      const kernel = await remote.startKernel({ name: "python3" });
      const running = kernel.execute("import time; time.sleep(60)", {
        onStart: () => Deno.kill(launched.server.pid!, "SIGKILL"),
      });
      await assert.rejects(running, (error: Error) => {
        assert.ok(error instanceof JupyterServerGoneError);
        assert.match(error.message, /no connection for 1000 ms/);
        return true;
      });
      await remote.stop();
    } finally {
      await launched.stop();
    }
  },
});

Deno.test("a kernelspec whose interpreter is missing fails with the server's reason", async () => {
  const jupyterPath = await Deno.makeTempDir({ prefix: "zest-kernelspecs-" });
  await Deno.mkdir(`${jupyterPath}/kernels/broken`, { recursive: true });
  await Deno.writeTextFile(
    `${jupyterPath}/kernels/broken/kernel.json`,
    JSON.stringify({
      display_name: "broken",
      language: "python",
      argv: ["/nonexistent/python3", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
    }),
  );
  const server = await JupyterServer.launch({ jupyterPath: [jupyterPath], rootDir: jupyterPath });
  try {
    await assert.rejects(server.startKernel({ name: "broken" }), (error: Error) => {
      assert.ok(error instanceof KernelLaunchError);
      assert.match(error.message, /FileNotFoundError.*\/nonexistent\/python3/);
      return true;
    });
  } finally {
    await server.stop();
    await Deno.remove(jupyterPath, { recursive: true });
  }
});

Deno.test("a Jupyter Server that cannot start fails fast with its own words", async () => {
  await assert.rejects(
    JupyterServer.launch({ rootDir: "/nonexistent/root" }),
    (error: Error) => {
      assert.ok(error instanceof JupyterServerStartError);
      assert.match(error.message, /exited with code 1/);
      assert.match(error.stderr, /No such directory/);
      return true;
    },
  );
});

Deno.test("a missing jupyter-server names the install command", async () => {
  await assert.rejects(
    JupyterServer.launch({ executable: "/nonexistent/jupyter-server" }),
    (error: Error) => {
      assert.ok(error instanceof JupyterServerNotFoundError);
      assert.equal(error.name, "JupyterServerNotFoundError");
      assert.match(error.message, /apt-get install -y jupyter-server python3-ipykernel/);
      return true;
    },
  );
});

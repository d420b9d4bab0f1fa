/**
 * IPythonService end to end: a real Jupyter Server and real ipykernels,
 * started by the runtime on loopback and stopped by it.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { formatOutcome } from "../src/cli/format.ts";
import { isRunning } from "../src/kernel/processes.ts";
import { DEFAULT_KERNEL_TASK_TIMEOUT_MS } from "../src/service/ipython.ts";
import { TaskControl, type TaskReport, type TaskRun } from "../src/task/protocol.ts";
import {
  defineIPythonTask,
  defineTask,
  ExecuteCode,
  IPythonService,
  py,
  Runtime,
  type TaskOutcome,
} from "../src/mod.ts";

const Evaluate = defineIPythonTask("TestEvaluate", {
  schema: z.object({ expression: z.enum(["1+1", "{'a': [1, 2.5, None]}", "object()"]) }),
  code: ({ expression }) => expression,
});
const Echo = defineIPythonTask("TestEcho", {
  schema: z.object({ text: z.string() }),
  code: ({ text }) =>
    py`text = ${text}
print(text)
text`,
});
const Divide = defineIPythonTask("TestDivide", {
  schema: z.object({ a: z.number(), b: z.number() }),
  code: ({ a, b }) => py`${a} / ${b}`,
});
const Sleep = defineIPythonTask("TestSleep", {
  schema: z.object({ seconds: z.number().max(60) }),
  code: ({ seconds }) =>
    py`import time
time.sleep(${seconds})
"slept"`,
});
const Append = defineIPythonTask("TestAppend", {
  schema: z.object({ item: z.number().int() }),
  code: ({ item }) =>
    py`order.append(${item})
list(order)`,
  parallel: true, // still one at a time on the kernel
});
const Die = defineIPythonTask("TestDie", {
  schema: z.object({}),
  code: () => "import os\nos._exit(1)",
});
/** The smallest valid PNG: 1x1, one red pixel. */
const TINY_PNG =
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==";
const Plot = defineIPythonTask("TestPlot", {
  schema: z.object({}),
  code: () =>
    [
      "import base64, sys",
      "from IPython.display import display, Image",
      `png = base64.b64decode('${TINY_PNG}')`,
      "display(Image(data=png))",
      "print('to stdout')",
      "print('to stderr', file=sys.stderr)",
      "42",
    ].join("\n"),
});
const Ping = defineTask("TestPing", { schema: z.object({}), parallel: true });
const RichResult = defineIPythonTask("TestRichResult", {
  schema: z.object({ kind: z.enum(["image", "html"]) }),
  code: ({ kind }) =>
    kind === "image"
      ? py`import base64
from IPython.display import Image
Image(data=base64.b64decode(${TINY_PNG}), width=8)`
      : `from IPython.display import HTML
HTML("<table><tr><td>q0</td></tr></table>")`,
});
const Chatty = defineIPythonTask("TestChatty", {
  schema: z.object({ gate: z.string() }),
  // Prints, then opens the gate (a file), then runs until stopped.
  code: ({ gate }) =>
    py`import time
from IPython.display import display
print("working", flush=True)
display({"text/plain": "progress"}, raw=True)
open(${gate}, "w").close()
time.sleep(60)`,
});
const Huge = defineIPythonTask("TestHuge", {
  schema: z.object({}),
  code: () => "print('first', flush=True)\nprint('x' * 110_000_000)\n1",
});
const Startups = defineIPythonTask("TestStartups", {
  schema: z.object({}),
  code: () => "startups",
});
const Pid = defineIPythonTask("TestPid", {
  schema: z.object({}),
  code: () => "import os\nos.getpid()",
});

/**
 * A kernel test: the Jupyter Server and kernels live across awaits in ways
 * Deno's per-test resource and op sanitizers cannot attribute, so they are off.
 */
function kernelTest(name: string, fn: (t: Deno.TestContext) => Promise<void>): void {
  Deno.test({ name, sanitizeResources: false, sanitizeOps: false, fn });
}

async function withKernel(
  fn: (runtime: Runtime, service: IPythonService) => Promise<void>,
  options: ConstructorParameters<typeof IPythonService>[1] = {},
) {
  const service = new IPythonService("py", {
    kernel: "python3",
    startupCode: "order = []\nstartups = globals().get('startups', 0) + 1",
    ...options,
  });
  const runtime = await Runtime.start({ services: [service] });
  try {
    await fn(runtime, service);
  } finally {
    await runtime.stop();
  }
}

function errorOf(outcome: TaskOutcome) {
  assert.equal(outcome.status, "error", JSON.stringify(outcome));
  return outcome as Extract<TaskOutcome, { status: "error" }>;
}

kernelTest("IPythonService runs generated code on a real kernel", async (t) => {
  await withKernel(async (runtime, service) => {
    const client = runtime.client();

    await t.step("the last expression's value comes back as JSON, or as text", async () => {
      assert.equal(await client.execute("py", Evaluate.create({ expression: "1+1" })), 2);
      assert.deepEqual(
        await client.execute("py", Evaluate.create({ expression: "{'a': [1, 2.5, None]}" })),
        { a: [1, 2.5, null] },
      );
      assert.match(
        String(await client.execute("py", Evaluate.create({ expression: "object()" }))),
        /^<object (object )?at 0x[0-9a-f]+>$/,
      );
    });

    await t.step(
      "the outcome carries the code that ran, stdout, stderr, displays, count",
      async () => {
        const outcome = await (await client.request("py", Plot.create({}))).outcome;
        assert.equal(outcome.status, "ok");
        assert.equal(outcome.status === "ok" && outcome.result, 42);
        const execution = outcome.execution;
        assert.ok(execution);
        assert.equal(execution.code, Plot.generate({}));
        assert.equal(execution.stdout, "to stdout\n");
        assert.equal(execution.stderr, "to stderr\n");
        assert.equal(typeof execution.executionCount, "number");
        assert.equal(execution.displays.length, 1);
        const png = execution.displays[0].data["image/png"];
        assert.equal(typeof png, "string");
        assert.deepEqual([...atob(png as string).slice(1, 4)].join(""), "PNG");
      },
    );

    await t.step("the result keeps its whole MIME bundle: an image, HTML", async () => {
      const image = await (await client.request("py", RichResult.create({ kind: "image" })))
        .outcome;
      assert.equal(image.status, "ok", JSON.stringify(image));
      assert.match(String(image.status === "ok" && image.result), /Image/, "result: its text");
      const bundle = image.execution?.executeResult;
      assert.equal(String(bundle?.data["image/png"]).trim(), TINY_PNG);
      assert.deepEqual(bundle?.metadata, { "image/png": { width: 8 } });
      assert.match(formatOutcome(image), /result also as image\/png; see the dashboard/);
      const html = await (await client.request("py", RichResult.create({ kind: "html" }))).outcome;
      assert.equal(
        html.execution?.executeResult?.data["text/html"],
        "<table><tr><td>q0</td></tr></table>",
      );
      const plain = await (await client.request("py", Evaluate.create({ expression: "1+1" })))
        .outcome;
      assert.deepEqual(plain.execution?.executeResult?.data, {
        "text/plain": "2",
        "application/json": 2,
      });
    });

    await t.step("hostile strings arrive as data, never as code", async () => {
      const hostile = [
        `"); import os; os._exit(1) #`,
        `'''; raise SystemExit('''`,
        `\\"\\'\n\r\t\0 end`,
        "unicode: ψ ☃ 😀 \u2028 \u{10FFFF}",
      ];
      for (const text of hostile) {
        const outcome = await (await client.request("py", Echo.create({ text }))).outcome;
        assert.equal(outcome.status, "ok", JSON.stringify(outcome));
        assert.equal(outcome.status === "ok" && outcome.result, text);
        assert.equal(outcome.execution?.stdout, `${text}\n`);
      }
      assert.equal(service.kernel?.status, "idle");
    });

    await t.step("a Python error becomes an error outcome with a clean traceback", async () => {
      const outcome = errorOf(
        await (await client.request("py", Divide.create({ a: 1, b: 0 }))).outcome,
      );
      assert.equal(outcome.ename, "ZeroDivisionError");
      assert.equal(outcome.evalue, "division by zero");
      assert.match(outcome.traceback, /ZeroDivisionError/);
      assert.ok(!outcome.traceback.includes("\x1b["), "no ANSI escape codes");
      assert.equal(outcome.execution?.code, "1 / 0");
    });

    await t.step(
      "tasks run on the kernel one at a time, in order, even parallel ones",
      async () => {
        const results = await Promise.all(
          [1, 2, 3, 4, 5].map((item) => client.execute("py", Append.create({ item }))),
        );
        assert.deepEqual(results.at(-1), [1, 2, 3, 4, 5]);
      },
    );

    await t.step("raw code is refused unless the deployment enables it", async () => {
      await assert.rejects(
        client.request("py", ExecuteCode.create({ code: "1" })),
        (error) => error instanceof Error && error.name === "UnknownTaskTypeError",
      );
      const listed = (await client.services())[0].taskTypes.map((type) => type.name);
      assert.ok(listed.includes("TestEcho") && !listed.includes("ExecuteCode"));
    });

    await t.step("watchers see the kernel's status change live", async () => {
      const statuses: string[] = [];
      const stop = client.watch((event) => {
        if (event.kind === "service") statuses.push(event.service.kernel?.status ?? "?");
      });
      await client.execute("py", Evaluate.create({ expression: "1+1" }));
      while (statuses.at(-1) !== "idle") await new Promise((r) => setTimeout(r, 5));
      stop();
      assert.ok(statuses.includes("busy"), statuses.join(", "));
    });

    await t.step("watchers see a running task's output as it prints and displays", async () => {
      const gate = await Deno.makeTempFile({ prefix: "zest-output-" });
      await Deno.remove(gate);
      const seen: string[] = [];
      const stop = client.watch((event) => {
        if (event.kind === "output") {
          const { output } = event;
          seen.push(
            output.kind === "stream"
              ? output.text.trim()
              : output.kind === "display"
              ? String(output.display.data["text/plain"])
              : "clear",
          );
        }
      });
      const request = await client.request("py", Chatty.create({ gate }));
      // The task still runs (until cancelled): what it printed and displayed came already.
      while (!seen.includes("progress")) await new Promise((r) => setTimeout(r, 10));
      assert.deepEqual(seen.slice(0, 2), ["working", "progress"]);
      assert.equal((await client.status(request.taskId))?.state, "running");
      await client.cancel(request.taskId);
      await request.outcome;
      stop();
      await Deno.remove(gate).catch(() => {});
    });

    await t.step("the service lists its kernel and its status", async () => {
      const [info] = await client.services();
      assert.equal(info.kind, "ipython");
      assert.equal(info.kernel?.name, "python3");
      assert.equal(info.kernel?.status, "idle");
    });
  });
});

kernelTest("timeout interrupts the kernel, and the next task runs", async () => {
  await withKernel(async (runtime) => {
    const client = runtime.client();
    const slow = await client.request("py", Sleep.create({ seconds: 30 }), { timeoutMs: 300 });
    const next = await client.request("py", Evaluate.create({ expression: "1+1" }));
    const outcome = errorOf(await slow.outcome);
    assert.equal(outcome.ename, "TimeoutError");
    assert.match(outcome.evalue, /timeout of 300 ms/);
    assert.doesNotMatch(outcome.traceback, /file:\/\//, "no stack of the runtime's own code");
    assert.deepEqual(await next.outcome, { ...(await next.outcome), status: "ok", result: 2 });
    // the kernel kept its state: it was interrupted, not restarted
    assert.deepEqual(await client.execute("py", Append.create({ item: 7 })), [7]);
  });
});

kernelTest(
  "a timeout on code that ignores the interrupt restarts the kernel, and the task's log says its state was lost",
  async () => {
    await withKernel(async (runtime) => {
      const client = runtime.client();
      assert.deepEqual(await client.execute("py", Append.create({ item: 7 })), [7]);
      const stubborn = await client.request(
        "py",
        ExecuteCode.create({
          code: "import signal, time\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\ntime.sleep(60)",
        }),
        { timeoutMs: 500 },
      );
      const outcome = errorOf(await stubborn.outcome);
      assert.equal(outcome.ename, "TimeoutError");
      const log = (await client.status(stubborn.taskId))?.log ?? [];
      assert.ok(
        log.some((entry) =>
          entry.level === "warn" &&
          /kernel was restarted, and its state .* was lost/.test(entry.message)
        ),
        JSON.stringify(log),
      );
      assert.deepEqual(
        await client.execute("py", Append.create({ item: 8 })),
        [8],
        "a fresh kernel",
      );
    }, { allowRawCode: true });
  },
);

kernelTest(
  "a kernel that dies mid-task: clear error, restart, startup code re-run, queue continues",
  async () => {
    await withKernel(async (runtime) => {
      const client = runtime.client();
      await client.execute("py", Append.create({ item: 1 }));
      const dying = await client.request("py", Die.create({}));
      const queued = await client.request("py", Append.create({ item: 2 }));
      const outcome = errorOf(await dying.outcome);
      assert.equal(outcome.ename, "KernelDiedError");
      assert.match(outcome.evalue, /state was lost/);
      const after = await queued.outcome;
      assert.equal(after.status, "ok", JSON.stringify(after));
      assert.deepEqual(after.status === "ok" && after.result, [2], "fresh state after the restart");
      assert.equal(
        await client.execute("py", Startups.create({})),
        1,
        "startup code ran on the new kernel",
      );
    });
  },
);

kernelTest(
  "a kernel killed from outside mid-task: the task fails clearly, the next one runs",
  async () => {
    await withKernel(async (runtime) => {
      const client = runtime.client();
      const pid = await client.execute<number>("py", Pid.create({}));
      const sleeping = await client.request("py", Sleep.create({ seconds: 30 }));
      const queued = await client.request("py", Evaluate.create({ expression: "1+1" }));
      while ((await client.status(sleeping.taskId))?.state !== "running") {
        await new Promise((r) => setTimeout(r, 20));
      }
      Deno.kill(pid, "SIGKILL");
      const died = errorOf(await sleeping.outcome);
      assert.equal(died.ename, "KernelDiedError");
      assert.doesNotMatch(died.traceback, /file:\/\//, "no stack of the runtime's own code");
      const after = await queued.outcome;
      assert.equal(after.status === "ok" && after.result, 2, JSON.stringify(after));
    });
  },
);

kernelTest(
  "the Jupyter Server killed from outside: the running task fails clearly, a new server and kernel take the next",
  async () => {
    await withKernel(async (runtime, service) => {
      const client = runtime.client();
      const lost = runtime.jupyterServer!;
      const lostProcesses = await lost.processes();
      const sleeping = await client.request("py", Sleep.create({ seconds: 30 }));
      while ((await client.status(sleeping.taskId))?.state !== "running") {
        await new Promise((r) => setTimeout(r, 20));
      }
      const replaced = Promise.withResolvers<void>();
      const lostKernel = service.kernel;
      const watch = setInterval(() => {
        if (service.kernel !== lostKernel && service.kernel?.status === "idle") replaced.resolve();
      }, 20);
      Deno.kill(lost.pid!, "SIGKILL");
      const failed = errorOf(await sleeping.outcome);
      assert.equal(failed.ename, "JupyterServerGoneError", failed.evalue);
      assert.match(failed.evalue, /exited/);
      assert.equal(failed.traceback, "", "no stack of the runtime's own code");
      // Replaced at once, not only when the next task comes.
      await replaced.promise.finally(() => clearInterval(watch));
      assert.notEqual(runtime.jupyterServer?.pid, lost.pid);
      assert.equal(await client.execute("py", Evaluate.create({ expression: "1+1" })), 2);
      assert.equal(
        await client.execute("py", Startups.create({})),
        1,
        "startup code ran on the new kernel",
      );
      assert.equal(runtime.services.find((s) => s === service)?.describe().kernel?.status, "idle");
      for (const process of lostProcesses) {
        for (let i = 0; i < 100 && await isRunning(process); i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
        assert.equal(await isRunning(process), false, `lost process ${process.pid} still runs`);
      }
    });
  },
);

kernelTest("raw code runs when enabled; registered handlers work beside code types", async () => {
  const service = new IPythonService("raw", { kernel: "python3", allowRawCode: true });
  service.registerHandler(Ping, () => "pong");
  const runtime = await Runtime.start({ services: [service] });
  try {
    const client = runtime.client();
    assert.equal(await client.execute("raw", ExecuteCode.create({ code: "6 * 7" })), 42);
    assert.equal(
      await client.execute("raw", { type: "ExecuteCode", fields: { code: "'x' * 3" } }),
      "xxx",
    );
    assert.equal(await client.execute("raw", Ping.create({})), "pong");
  } finally {
    await runtime.stop();
  }
});

kernelTest("runtime.stop() leaves no Jupyter or kernel process behind", async () => {
  const service = new IPythonService("py", { kernel: "python3" });
  const runtime = await Runtime.start({ services: [service] });
  assert.equal(await runtime.client().execute("py", Evaluate.create({ expression: "1+1" })), 2);
  const server = runtime.jupyterServer;
  assert.ok(server?.pid);
  const started = await server.processes();
  assert.ok(started.length >= 2, `server and kernel running: ${JSON.stringify(started)}`);
  await runtime.stop();
  const alive = [];
  for (const ref of started) if (await isRunning(ref)) alive.push(ref.pid);
  assert.deepEqual(alive, [], "every process the runtime started has exited");
});

kernelTest("an unknown kernelspec fails Runtime.start with a clear error naming it", async () => {
  await assert.rejects(
    Runtime.start({ services: [new IPythonService("nope", { kernel: "no-such-kernel" })] }),
    (error: Error) => {
      assert.equal(error.name, "KernelNotFoundError");
      assert.match(error.message, /no-such-kernel/);
      return true;
    },
  );
});

kernelTest(
  "a task cut short keeps what it printed and displayed, and the kernel's traceback",
  async () => {
    await withKernel(async (_runtime, service) => {
      // The service on its own, as the manager drives it: the task's timeout
      // aborts the run once the code has printed (a file says so).
      const gate = await Deno.makeTempFile({ prefix: "zest-gate-" });
      await Deno.remove(gate);
      const control = new TaskControl();
      const finished = Promise.withResolvers<TaskOutcome>();
      const run: TaskRun = {
        id: "cut-short",
        type: Chatty,
        fields: Chatty.create({ gate }).fields,
        attributes: {},
        attempt: 1,
        control,
        replyTo: {
          tell: (report: TaskReport) => {
            if (report.kind === "finished") finished.resolve(report.outcome);
            return true;
          },
        },
      };
      void service.handle(run);
      const deadline = Date.now() + 30_000;
      while (!await Deno.stat(gate).then(() => true, () => false)) {
        assert.ok(Date.now() < deadline, "the code never opened its gate");
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      control.abort(new DOMException("task exceeded its timeout of 500 ms", "TimeoutError"));
      const outcome = errorOf(await finished.promise);
      await Deno.remove(gate);
      assert.equal(outcome.ename, "TimeoutError");
      assert.equal(outcome.evalue, "task exceeded its timeout of 500 ms");
      assert.match(outcome.traceback, /KeyboardInterrupt/);
      assert.match(outcome.traceback, /time\.sleep\(60\)/);
      assert.equal(outcome.execution?.stdout, "working\n");
      assert.deepEqual(outcome.execution?.displays.map((display) => display.data), [
        { "text/plain": "progress" },
      ]);
      assert.equal(typeof outcome.execution?.executionCount, "number");
    });
  },
);

kernelTest(
  "an output over the message limit ends the task with KernelOutputTooLargeError; the queue goes on",
  async () => {
    await withKernel(async (runtime) => {
      const client = runtime.client();
      const huge = await client.request("py", Huge.create({}));
      const next = await client.request("py", Evaluate.create({ expression: "1+1" }));
      const outcome = errorOf(await huge.outcome);
      assert.equal(outcome.ename, "KernelOutputTooLargeError");
      assert.match(outcome.evalue, /100 MiB/);
      assert.equal(outcome.execution?.stdout, "first\n");
      const after = await next.outcome;
      assert.equal(after.status === "ok" && after.result, 2, JSON.stringify(after));
    });
  },
);

kernelTest("kernel tasks time out after the service's taskTimeoutMs by default", async () => {
  assert.equal(new IPythonService("a").taskTimeoutMs, DEFAULT_KERNEL_TASK_TIMEOUT_MS);
  assert.equal(DEFAULT_KERNEL_TASK_TIMEOUT_MS, 3_600_000);
  for (const taskTimeoutMs of [0, -1, 3e9, Number.NaN]) {
    assert.throws(
      () => new IPythonService("a", { taskTimeoutMs }),
      (error: Error) => error instanceof RangeError && /'a': taskTimeoutMs/.test(error.message),
    );
  }
  await withKernel(async (runtime) => {
    const client = runtime.client();
    const slow = await client.request("py", Sleep.create({ seconds: 30 }));
    const outcome = errorOf(await slow.outcome);
    assert.equal(outcome.ename, "TimeoutError");
    assert.match(outcome.evalue, /timeout of 500 ms/);
    // A request's own timeout still wins.
    const slept = await client.request("py", Sleep.create({ seconds: 1 }), { timeoutMs: 30_000 });
    const done = await slept.outcome;
    assert.equal(done.status === "ok" && done.result, "slept", JSON.stringify(done));
  }, { taskTimeoutMs: 500 });
});

Deno.test("a kernel's startupTimeoutMs is checked when the service is made", () => {
  assert.equal(new IPythonService("a", { startupTimeoutMs: 120_000 }).kernelName, "python3");
  for (const startupTimeoutMs of [0, -1, 3e9, Number.NaN]) {
    assert.throws(
      () => new IPythonService("a", { kernel: "calibration", startupTimeoutMs }),
      (error: Error) =>
        error instanceof RangeError &&
        /^kernel 'calibration': startupTimeoutMs must be /.test(error.message),
    );
  }
});

kernelTest("runtime.stop() right after a kernel died neither crashes nor hangs", async (t) => {
  // The library left a rejection unhandled here, which Deno treats as fatal.
  const unhandled: unknown[] = [];
  const contain = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", contain);
  try {
    for (const moment of ["at once", "while the server restarts it"]) {
      await t.step(moment, async () => {
        const service = new IPythonService("py", { kernel: "python3" });
        const runtime = await Runtime.start({ services: [service] });
        try {
          const pid = await runtime.client().execute<number>("py", Pid.create({}));
          const processes = await runtime.jupyterServer!.processes();
          const restarting = Promise.withResolvers<void>();
          service.kernel!.onStatus((status) => status === "restarting" && restarting.resolve());
          Deno.kill(pid, "SIGKILL");
          if (moment !== "at once") await restarting.promise;
          const begin = performance.now();
          await runtime.stop();
          const took = performance.now() - begin;
          console.log(`runtime.stop() ${moment} after a kernel died: ${Math.round(took)} ms`);
          // Generous: it used to wait out the 10 s before SIGKILL.
          assert.ok(took < 8_000, `stop took ${Math.round(took)} ms`);
          for (const process of processes) {
            assert.equal(await isRunning(process), false, `process ${process.pid} still runs`);
          }
        } finally {
          await runtime.stop();
        }
      });
    }
    assert.deepEqual(unhandled.map(String), []);
  } finally {
    globalThis.removeEventListener("unhandledrejection", contain);
  }
});

/**
 * `deno task start` in a real terminal — a pseudo-terminal made by `script`
 * (util-linux) — where Deno would turn a missing permission into a prompt and
 * Ctrl-C is SIGINT to the whole foreground process group: no prompt, one
 * Ctrl-C (even delivered twice, as `deno task` forwards it) stops in order
 * with exit code 0 and nothing left running; a second, later one forces.
 */
import assert from "node:assert/strict";
import { type ProcessRef, relatedProcesses } from "../src/kernel/processes.ts";
import { REPO_ROOT, stillRunning } from "./helpers/server.ts";

const CTRL_C = "\x03";
const encoder = new TextEncoder();

/** `deno task start …` typed into a fresh pseudo-terminal. */
class Terminal {
  readonly #child: Deno.ChildProcess;
  readonly #keyboard: WritableStreamDefaultWriter<Uint8Array>;
  readonly #read: Promise<void>;
  #screen = "";
  #ended = false;
  #changed = Promise.withResolvers<void>();

  constructor(command: string) {
    // -e: exit with the command's code; -q: no "Script started" lines. `exec`:
    // the command replaces `script`'s shell, as an interactive shell would make
    // it the terminal's foreground job; a non-interactive dash ($SHELL unset, as
    // in CI) would itself die of the Ctrl-C and report 130.
    const child = new Deno.Command("script", {
      args: ["-qec", `exec ${command}`, "/dev/null"],
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#keyboard = child.stdin.getWriter();
    this.#read = (async () => {
      for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
        this.#screen += text.replaceAll("\r\n", "\n");
        this.#changed.resolve();
        this.#changed = Promise.withResolvers();
      }
      this.#ended = true;
      this.#changed.resolve();
    })();
  }

  /** Everything shown so far. */
  get screen(): string {
    return this.#screen;
  }

  /** The pseudo-terminal's process (`script`): everything else descends from it. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Resolves once `pattern` is on the screen; throws with the screen after `ms`. */
  async waitFor(pattern: RegExp, ms = 60_000): Promise<void> {
    const deadline = AbortSignal.timeout(ms);
    const timedOut = new Promise<void>((resolve) =>
      deadline.addEventListener("abort", () => resolve(), { once: true })
    );
    while (!pattern.test(this.#screen)) {
      if (deadline.aborted || this.#ended) {
        const why = this.#ended ? "the terminal closed" : `not within ${ms} ms`;
        throw new Error(`${pattern} not shown (${why}); screen:\n${this.#screen}`);
      }
      await Promise.race([this.#changed.promise, timedOut]);
    }
  }

  async type(keys: string): Promise<void> {
    await this.#keyboard.write(encoder.encode(keys));
  }

  /** Wait for the exit; returns the command's exit code. */
  async exited(): Promise<number> {
    const { code } = await this.#child.status;
    await this.#read;
    await this.#keyboard.close().catch(() => {});
    return code;
  }

  /** SIGKILL whatever still runs under the terminal (after a failed test). */
  async kill(): Promise<void> {
    for (const { pid } of await relatedProcesses(this.pid)) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }
    await this.exited();
  }

  /** The runtime (`deno run … src/cli/start.ts`) under `deno task`. */
  async runtimePid(): Promise<number> {
    for (const { pid } of await relatedProcesses(this.pid)) {
      const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
      if (
        cmdline.startsWith(`${Deno.execPath()}\0run\0`) && cmdline.includes("\0src/cli/start.ts\0")
      ) {
        return pid;
      }
    }
    throw new Error(`no runtime process under the terminal; screen:\n${this.#screen}`);
  }
}

function start(config: string): Terminal {
  return new Terminal(`deno task start --config ${config} --port 0 --store memory`);
}

const NO_PROMPT = /Deno requests|Allow\?/;

Deno.test("terminal: no prompt; one Ctrl-C stops the runtime, Jupyter and kernels; exit 0", async () => {
  const began = performance.now();
  const terminal = start("test/fixtures/kernel.config.ts");
  try {
    await terminal.waitFor(/^zest: press Ctrl-C to stop$/m);
    const bannerMs = performance.now() - began;
    assert.doesNotMatch(terminal.screen, NO_PROMPT);
    const processes: ProcessRef[] = await relatedProcesses(terminal.pid);
    assert.ok(processes.length >= 5, "script, deno task, the runtime, Jupyter Server and a kernel");

    const pressed = performance.now();
    await terminal.type(CTRL_C);
    const code = await terminal.exited();
    const stopMs = performance.now() - pressed;
    assert.equal(code, 0, terminal.screen);
    assert.match(terminal.screen, /zest: stopping: /);
    assert.match(terminal.screen, /^(\^C)?zest: stopped$/m);
    assert.doesNotMatch(terminal.screen, /forced exit/);
    assert.doesNotMatch(terminal.screen, NO_PROMPT);
    assert.deepEqual(await stillRunning(processes), [], "nothing is left running");
    console.log(
      `with a kernel: start to banner ${Math.round(bannerMs)} ms, Ctrl-C to exit ${
        Math.round(stopMs)
      } ms`,
    );
  } finally {
    await terminal.kill();
  }
});

Deno.test("terminal: Ctrl-C delivered twice at once (terminal + deno task) is one Ctrl-C", async () => {
  const terminal = start("test/fixtures/basic.config.ts");
  try {
    await terminal.waitFor(/^zest: press Ctrl-C to stop$/m);
    const runtime = await terminal.runtimePid();
    // The terminal's SIGINT, and the copy `deno task` forwards — made certain
    // here: the two can merge into one when they arrive close enough together.
    await terminal.type(CTRL_C);
    Deno.kill(runtime, "SIGINT");
    assert.equal(await terminal.exited(), 0, terminal.screen);
    assert.match(terminal.screen, /^(\^C)?zest: stopped$/m);
    assert.doesNotMatch(terminal.screen, /forced exit/);
  } finally {
    await terminal.kill();
  }
});

Deno.test("terminal: a second, later Ctrl-C forces the exit of a stop that hangs", async () => {
  const terminal = start("test/fixtures/stuck_stop.config.ts");
  try {
    await terminal.waitFor(/^zest: press Ctrl-C to stop$/m);
    await terminal.type(CTRL_C);
    await terminal.waitFor(/zest: stopping: .*\(Ctrl-C again to force\)$/m);
    // Press again until it forces: presses too soon after the first are the same one.
    const deadline = Date.now() + 15_000;
    while (!/forced exit/.test(terminal.screen) && Date.now() < deadline) {
      await terminal.type(CTRL_C);
      await terminal.waitFor(/forced exit/, 200).catch(() => {});
    }
    assert.equal(await terminal.exited(), 1, terminal.screen);
    assert.match(terminal.screen, /zest: forced exit$/m);
    assert.doesNotMatch(terminal.screen, /^(\^C)?zest: stopped$/m);
  } finally {
    await terminal.kill();
  }
});

Deno.test("terminal: deno task zest asks nothing either; a file it may not read is a usage error", async () => {
  const terminal = new Terminal("deno task zest services --token-file /etc/hostname");
  try {
    assert.equal(await terminal.exited(), 2, terminal.screen);
    assert.match(terminal.screen, /may read only \.zest\/; .*--token-file - < \/etc\/hostname/);
    assert.doesNotMatch(terminal.screen, NO_PROMPT);
  } finally {
    await terminal.kill();
  }
});

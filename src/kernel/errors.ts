/** Errors raised by the kernel layer; each has a stable `name`. */

/**
 * Base class of every error this layer raises, so callers can catch them all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelError, KernelTimeoutError } from "./errors.ts";
 * assert.ok(new KernelTimeoutError(50, "interrupted") instanceof KernelError);
 * ```
 */
export class KernelError extends Error {
  /** Always `"KernelError"`, whatever the bundler does to class names. */
  override name = "KernelError";
}

/**
 * An execute ran longer than its `timeoutMs` (counted from the moment the
 * kernel started it). The kernel was interrupted, or restarted when the
 * interrupt did not stop it (then its state is lost).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelTimeoutError } from "./errors.ts";
 * assert.equal(
 *   new KernelTimeoutError(50, "interrupted").message,
 *   "execution timed out after 50 ms; the kernel was interrupted",
 * );
 * ```
 */
export class KernelTimeoutError extends KernelError {
  /** Always `"KernelTimeoutError"`, whatever the bundler does to class names. */
  override name = "KernelTimeoutError";
  /** `recovery` tells what stopped the execution. */
  constructor(readonly timeoutMs: number, readonly recovery: "interrupted" | "restarted") {
    super(
      `execution timed out after ${timeoutMs} ms; the kernel was ${
        recovery === "interrupted" ? "interrupted" : "restarted and its state was lost"
      }`,
    );
  }
}

/**
 * The kernel process died or was restarted while the execution ran (or
 * waited): the kernel's state (variables, imports) was lost. The kernel
 * object recovers by itself: later executes run on the new kernel after the
 * bootstrap and startup code ran again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelDiedError } from "./errors.ts";
 * assert.equal(
 *   new KernelDiedError("calibration", "died").message,
 *   "kernel 'calibration' died; its state was lost",
 * );
 * ```
 */
export class KernelDiedError extends KernelError {
  /** Always `"KernelDiedError"`, whatever the bundler does to class names. */
  override name = "KernelDiedError";
  /** `what` is what happened to the kernel, e.g. "died" or "was restarted". */
  constructor(readonly kernelName: string, what: string) {
    super(`kernel '${kernelName}' ${what}; its state was lost`);
  }
}

/**
 * The kernel finished the code, but its reply never arrived: the connection
 * to the Jupyter Server dropped while the code ran and the messages sent
 * meanwhile were lost. The kernel's state is kept; its outputs are not.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelOutputLostError } from "./errors.ts";
 * assert.equal(
 *   new KernelOutputLostError("calibration").message,
 *   "kernel 'calibration' ran the code but its reply was lost: " +
 *     "the connection to the Jupyter Server dropped while it ran",
 * );
 * ```
 */
export class KernelOutputLostError extends KernelError {
  /** Always `"KernelOutputLostError"`, whatever the bundler does to class names. */
  override name = "KernelOutputLostError";
  /** `what` says what was lost and why. */
  constructor(
    readonly kernelName: string,
    what = "its reply was lost: the connection to the Jupyter Server dropped while it ran",
  ) {
    super(`kernel '${kernelName}' ran the code but ${what}`);
  }
}

/**
 * One output message of the code (a print, a display, the result) was
 * larger than a WebSocket message may be (`maxBytes`), so it was dropped, and
 * the connection with it. The code ran to its end (the task ends once the
 * kernel is done with it); its outputs are incomplete, so it fails.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelOutputLostError, KernelOutputTooLargeError } from "./errors.ts";
 * const error = new KernelOutputTooLargeError("py", 100 * 1024 * 1024);
 * assert.match(error.message, /over the 100 MiB/);
 * assert.ok(error instanceof KernelOutputLostError);
 * ```
 */
export class KernelOutputTooLargeError extends KernelOutputLostError {
  /** Always `"KernelOutputTooLargeError"`, whatever the bundler does to class names. */
  override name = "KernelOutputTooLargeError";
  /** `maxBytes` is the largest message the connection accepts. */
  constructor(kernelName: string, readonly maxBytes: number) {
    super(
      kernelName,
      `an output over the ${maxBytes / 2 ** 20} MiB a message from the kernel may carry was ` +
        "dropped, with what followed it (print or display less, or write large data to a file)",
    );
  }
}

/**
 * No kernelspec has the requested name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelNotFoundError } from "./errors.ts";
 * assert.equal(
 *   new KernelNotFoundError("nope", ["/repo/kernels"], ["python3"]).message,
 *   "no kernelspec named 'nope' (searched: /repo/kernels; available: python3)",
 * );
 * ```
 */
export class KernelNotFoundError extends KernelError {
  /** Always `"KernelNotFoundError"`, whatever the bundler does to class names. */
  override name = "KernelNotFoundError";
  /** `searched` are the kernelspec folders looked in, when known. */
  constructor(
    readonly kernelName: string,
    readonly searched: readonly string[],
    readonly available: readonly string[],
  ) {
    const where = searched.length > 0 ? `searched: ${searched.join(", ")}; ` : "";
    super(`no kernelspec named '${kernelName}' (${where}available: ${available.join(", ")})`);
  }
}

/**
 * The server could not launch the kernel process (e.g. the kernelspec names
 * an interpreter that does not exist). Compare {@link KernelStartupCodeError}:
 * the process ran, but the code run at its start raised.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelLaunchError } from "./errors.ts";
 * assert.equal(
 *   new KernelLaunchError("calibration", "FileNotFoundError: /opt/python").message,
 *   "kernel 'calibration' could not be started: FileNotFoundError: /opt/python",
 * );
 * ```
 */
export class KernelLaunchError extends KernelError {
  /** Always `"KernelLaunchError"`, whatever the bundler does to class names. */
  override name = "KernelLaunchError";
  /** `detail` is the server's explanation. */
  constructor(readonly kernelName: string, readonly detail: string) {
    super(`kernel '${kernelName}' could not be started: ${detail}`);
  }
}

/**
 * The kernel process runs, but the code run at each of its starts raised:
 * the JSON bootstrap or the caller's `startupCode`. Compare
 * {@link KernelLaunchError}: the process could not be launched at all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelStartupCodeError } from "./errors.ts";
 * const error = new KernelStartupCodeError("calibration", "NameError", "name 'x' is not defined", "");
 * assert.equal(
 *   error.message,
 *   "startup code of kernel 'calibration' failed: NameError: name 'x' is not defined",
 * );
 * ```
 */
export class KernelStartupCodeError extends KernelError {
  /** Always `"KernelStartupCodeError"`, whatever the bundler does to class names. */
  override name = "KernelStartupCodeError";
  /** Carries the Python error's name, value and traceback (ANSI-free). */
  constructor(
    readonly kernelName: string,
    readonly ename: string,
    readonly evalue: string,
    readonly traceback: string,
  ) {
    super(`startup code of kernel '${kernelName}' failed: ${ename}: ${evalue}`);
  }
}

/**
 * The kernel was shut down (or is permanently dead): it runs nothing more.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { KernelClosedError } from "./errors.ts";
 * assert.equal(new KernelClosedError("calibration").message, "kernel 'calibration' is shut down");
 * ```
 */
export class KernelClosedError extends KernelError {
  /** Always `"KernelClosedError"`, whatever the bundler does to class names. */
  override name = "KernelClosedError";
  /** Create the error for kernel `kernelName`. */
  constructor(readonly kernelName: string, reason = "is shut down") {
    super(`kernel '${kernelName}' ${reason}`);
  }
}

/**
 * The Jupyter Server went away or could not be reached.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JupyterServerGoneError } from "./errors.ts";
 * assert.equal(
 *   new JupyterServerGoneError("http://127.0.0.1:8888/").message,
 *   "Jupyter Server at http://127.0.0.1:8888/ is gone",
 * );
 * ```
 */
export class JupyterServerGoneError extends KernelError {
  /** Always `"JupyterServerGoneError"`, whatever the bundler does to class names. */
  override name = "JupyterServerGoneError";
  /** `detail` says what was observed, if anything. */
  constructor(readonly url: string, detail = "") {
    super(`Jupyter Server at ${url} is gone${detail ? `: ${detail}` : ""}`);
  }
}

/**
 * No `jupyter-server` executable could be found.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JupyterServerNotFoundError } from "./errors.ts";
 * assert.match(
 *   new JupyterServerNotFoundError(["/usr/bin/jupyter-server"]).message,
 *   /apt-get install -y jupyter-server python3-ipykernel/,
 * );
 * ```
 */
export class JupyterServerNotFoundError extends KernelError {
  /** Always `"JupyterServerNotFoundError"`, whatever the bundler does to class names. */
  override name = "JupyterServerNotFoundError";
  /** `searched` are the paths that were tried. */
  constructor(readonly searched: readonly string[]) {
    super(
      `jupyter-server was not found (looked at ${searched.join(", ")}); ` +
        "install it with: apt-get install -y jupyter-server python3-ipykernel",
    );
  }
}

/**
 * The Jupyter Server process exited or did not answer before its deadline.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { JupyterServerStartError } from "./errors.ts";
 * assert.equal(
 *   new JupyterServerStartError("exited with code 1", "OSError: ...").message,
 *   "Jupyter Server failed to start: exited with code 1\nOSError: ...",
 * );
 * ```
 */
export class JupyterServerStartError extends KernelError {
  /** Always `"JupyterServerStartError"`, whatever the bundler does to class names. */
  override name = "JupyterServerStartError";
  /** `stderr` is the tail of what the server printed. */
  constructor(readonly reason: string, readonly stderr: string) {
    super(`Jupyter Server failed to start: ${reason}${stderr ? `\n${stderr}` : ""}`);
  }
}

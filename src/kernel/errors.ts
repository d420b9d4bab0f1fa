/** Errors raised by the kernel layer; each has a stable `name`. */

/**
 * Base class of every error this layer raises, so callers can catch them all.
 *
 * @example
 * ```ts
 * import { KernelError, KernelTimeoutError } from "./errors.ts";
 * new KernelTimeoutError(50, "interrupted") instanceof KernelError; // true
 * ```
 */
export class KernelError extends Error {
  override name = "KernelError";
}

/**
 * An execute ran longer than its `timeoutMs` (counted from the moment the
 * kernel started it). The kernel was interrupted, or restarted when the
 * interrupt did not stop it (then its state is lost).
 *
 * @example
 * ```ts
 * import { KernelTimeoutError } from "./errors.ts";
 * new KernelTimeoutError(50, "interrupted").message;
 * // "execution timed out after 50 ms; the kernel was interrupted"
 * ```
 */
export class KernelTimeoutError extends KernelError {
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
 * import { KernelDiedError } from "./errors.ts";
 * new KernelDiedError("calibration", "died").message;
 * // "kernel 'calibration' died; its state was lost"
 * ```
 */
export class KernelDiedError extends KernelError {
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
 * import { KernelOutputLostError } from "./errors.ts";
 * new KernelOutputLostError("calibration").message;
 * // "kernel 'calibration' ran the code but its reply was lost: the connection to the Jupyter Server dropped while it ran"
 * ```
 */
export class KernelOutputLostError extends KernelError {
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
 * import { KernelOutputTooLargeError } from "./errors.ts";
 * new KernelOutputTooLargeError("py", 100 * 1024 * 1024).message.includes("100 MiB"); // true
 * ```
 */
export class KernelOutputTooLargeError extends KernelOutputLostError {
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
 * import { KernelNotFoundError } from "./errors.ts";
 * new KernelNotFoundError("nope", ["/repo/kernels"], ["python3"]).message;
 * // "no kernelspec named 'nope' (searched: /repo/kernels; available: python3)"
 * ```
 */
export class KernelNotFoundError extends KernelError {
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
 * The server could not start the kernel process (e.g. the kernelspec names
 * an interpreter that does not exist).
 *
 * @example
 * ```ts
 * import { KernelStartError } from "./errors.ts";
 * new KernelStartError("calibration", "FileNotFoundError: /opt/python").message;
 * // "kernel 'calibration' could not be started: FileNotFoundError: /opt/python"
 * ```
 */
export class KernelStartError extends KernelError {
  override name = "KernelStartError";
  /** `detail` is the server's explanation. */
  constructor(readonly kernelName: string, readonly detail: string) {
    super(`kernel '${kernelName}' could not be started: ${detail}`);
  }
}

/**
 * The kernel's bootstrap or the caller's startup code raised.
 *
 * @example
 * ```ts
 * import { KernelStartupError } from "./errors.ts";
 * new KernelStartupError("calibration", "NameError", "name 'x' is not defined", "").message;
 * // "startup code of kernel 'calibration' failed: NameError: name 'x' is not defined"
 * ```
 */
export class KernelStartupError extends KernelError {
  override name = "KernelStartupError";
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
 * import { KernelClosedError } from "./errors.ts";
 * new KernelClosedError("calibration").message; // "kernel 'calibration' is shut down"
 * ```
 */
export class KernelClosedError extends KernelError {
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
 * import { JupyterServerGoneError } from "./errors.ts";
 * new JupyterServerGoneError("http://127.0.0.1:8888/").message;
 * // "Jupyter Server at http://127.0.0.1:8888/ is gone"
 * ```
 */
export class JupyterServerGoneError extends KernelError {
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
 * import { JupyterServerNotFoundError } from "./errors.ts";
 * new JupyterServerNotFoundError(["/usr/bin/jupyter-server"]).message.includes("apt-get"); // true
 * ```
 */
export class JupyterServerNotFoundError extends KernelError {
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
 * import { JupyterServerStartError } from "./errors.ts";
 * new JupyterServerStartError("exited with code 1", "OSError: ...").message;
 * // "Jupyter Server failed to start: exited with code 1\nOSError: ..."
 * ```
 */
export class JupyterServerStartError extends KernelError {
  override name = "JupyterServerStartError";
  /** `stderr` is the tail of what the server printed. */
  constructor(readonly reason: string, readonly stderr: string) {
    super(`Jupyter Server failed to start: ${reason}${stderr ? `\n${stderr}` : ""}`);
  }
}

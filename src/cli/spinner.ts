/** A one-line progress indicator on stderr, shown only when stderr is a terminal. */

const FRAMES = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const encoder = new TextEncoder();

/**
 * A spinner with a status text and the time elapsed. Does nothing when
 * stderr is not a terminal, so pipes and logs stay clean.
 *
 * @example
 * ```ts
 * import { Spinner } from "./spinner.ts";
 * const spinner = new Spinner("MaintainNode on calibration");
 * spinner.update("running");
 * spinner.stop();
 * ```
 */
export class Spinner {
  #label: string;
  #status = "";
  #frame = 0;
  #started = Date.now();
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Start spinning with `label` (e.g. what is being waited for). */
  constructor(label: string, readonly enabled: boolean = Deno.stderr.isTerminal()) {
    this.#label = label;
    if (enabled) this.#timer = setInterval(() => this.#draw(), 80);
  }

  /** Change the status shown after the label (e.g. `queued`, `running`). */
  update(status: string): void {
    this.#status = status;
    this.#draw();
  }

  /** Clear the line and stop. */
  stop(): void {
    if (this.#timer === undefined) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
    Deno.stderr.writeSync(encoder.encode("\r\x1b[2K"));
  }

  #draw(): void {
    if (this.#timer === undefined) return;
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1);
    const frame = FRAMES[this.#frame++ % FRAMES.length];
    const status = this.#status ? ` · ${this.#status}` : "";
    Deno.stderr.writeSync(
      encoder.encode(`\r\x1b[2K${frame} ${this.#label}${status} · ${seconds}s`),
    );
  }
}

/**
 * The last part of what a child process writes to stderr, kept for error
 * messages (a server that failed to start says why there).
 *
 * @module
 */
import { delay } from "../util/async.ts";

/** Characters kept by default: enough for a Python traceback. */
const DEFAULT_MAX_CHARS = 16_000;
/** How long {@link StderrTail.closed} waits for the stream to end by default. */
const DEFAULT_CLOSE_WAIT_MS = 2_000;

/**
 * Reads a byte stream to its end as it arrives, keeping its last
 * `maxChars` characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { StderrTail } from "./stderr_tail.ts";
 * const child = new Deno.Command("/bin/sh", {
 *   args: ["-c", "echo 'OSError: port in use' >&2; exit 1"],
 *   stderr: "piped",
 * }).spawn();
 * const tail = new StderrTail(child.stderr);
 * await child.status;
 * await tail.closed();
 * assert.equal(tail.text(), "OSError: port in use");
 * ```
 */
export class StderrTail {
  #text = "";
  readonly #maxChars: number;
  readonly #pump: Promise<void>;
  /** Cancels the stream when it does not end in time. */
  readonly #giveUp = new AbortController();

  /** Start reading `stream`; only its last `maxChars` characters are kept. */
  constructor(stream: ReadableStream<Uint8Array>, maxChars = DEFAULT_MAX_CHARS) {
    this.#maxChars = maxChars;
    this.#pump = this.#read(stream);
  }

  /** What was kept so far, without leading or trailing whitespace. */
  text(): string {
    return this.#text.trim();
  }

  /**
   * Resolves once the stream ended. A process's children may inherit its
   * stderr (a Jupyter Server's kernels do), and one that outlived it would
   * hold the pipe open: after `waitMs` the stream is cancelled instead, and
   * what was read is kept.
   */
  async closed(waitMs = DEFAULT_CLOSE_WAIT_MS): Promise<void> {
    const ended = new AbortController();
    const stuck = await Promise.race([
      this.#pump.then(() => false),
      delay(waitMs, ended.signal).then(() => true),
    ]);
    ended.abort();
    if (stuck) {
      this.#giveUp.abort();
      await this.#pump;
    }
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const text = stream.pipeThrough(new TextDecoderStream(), { signal: this.#giveUp.signal });
    try {
      for await (const chunk of text) {
        this.#text = (this.#text + chunk).slice(-this.#maxChars);
      }
    } catch {
      // Cancelled by closed(): what was read is kept.
    }
  }
}

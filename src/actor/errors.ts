/** Errors raised by the actor layer; each has a stable `name`. */

/**
 * A message was sent to an actor that has stopped (or never existed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ActorStoppedError } from "./errors.ts";
 * assert.equal(new ActorStoppedError("greeter").message, "actor 'greeter' is stopped");
 * ```
 */
export class ActorStoppedError extends Error {
  /** Always `"ActorStoppedError"`, whatever a bundler does to class names. */
  override name = "ActorStoppedError";
  /** Create the error for actor `actor`. */
  constructor(readonly actor: string) {
    super(`actor '${actor}' is stopped`);
  }
}

/**
 * A mailbox with the `"reject"` policy was full.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MailboxFullError } from "./errors.ts";
 * assert.equal(new MailboxFullError("svc", 10).message, "mailbox of 'svc' is full (10 messages)");
 * ```
 */
export class MailboxFullError extends Error {
  /** Always `"MailboxFullError"`, whatever a bundler does to class names. */
  override name = "MailboxFullError";
  /** Create the error for actor `actor` whose mailbox holds `capacity`. */
  constructor(readonly actor: string, readonly capacity: number) {
    super(`mailbox of '${actor}' is full (${capacity} messages)`);
  }
}

/**
 * An ask got no reply in time.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AskTimeoutError } from "./errors.ts";
 * const error = new AskTimeoutError("svc", 50);
 * assert.equal(error.message, "ask to 'svc' timed out after 50 ms");
 * assert.equal(error.name, "AskTimeoutError");
 * ```
 */
export class AskTimeoutError extends Error {
  /** Always `"AskTimeoutError"`, whatever a bundler does to class names. */
  override name = "AskTimeoutError";
  /** Create the error for an ask to `actor` that waited `timeoutMs`. */
  constructor(readonly actor: string, readonly timeoutMs: number) {
    super(`ask to '${actor}' timed out after ${timeoutMs} ms`);
  }
}

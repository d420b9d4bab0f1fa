/** Errors raised by the actor layer; each has a stable `name`. */

/**
 * A message was sent to an actor that has stopped (or never existed).
 *
 * @example
 * ```ts
 * import { ActorStoppedError } from "./errors.ts";
 * new ActorStoppedError("greeter").message; // "actor 'greeter' is stopped"
 * ```
 */
export class ActorStoppedError extends Error {
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
 * import { MailboxFullError } from "./errors.ts";
 * new MailboxFullError("svc", 10).message; // "mailbox of 'svc' is full (10 messages)"
 * ```
 */
export class MailboxFullError extends Error {
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
 * import { AskTimeoutError } from "./errors.ts";
 * new AskTimeoutError("svc", 50).message; // "ask to 'svc' timed out after 50 ms"
 * ```
 */
export class AskTimeoutError extends Error {
  override name = "AskTimeoutError";
  /** Create the error for an ask to `actor` that waited `timeoutMs`. */
  constructor(readonly actor: string, readonly timeoutMs: number) {
    super(`ask to '${actor}' timed out after ${timeoutMs} ms`);
  }
}

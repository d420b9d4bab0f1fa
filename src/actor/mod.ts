/**
 * The actor layer: mailboxes, cells, refs, ask, supervision. It knows nothing
 * of tasks or services.
 *
 * @module
 */
export {
  type Actor,
  type ActorFactory,
  type Receive,
  type SpawnOptions,
  type StopReason,
  type SupervisionOptions,
} from "./cell.ts";
export { type Deadline, Deadlines } from "./deadlines.ts";
export { ActorStoppedError, AskTimeoutError, MailboxFullError } from "./errors.ts";
export { type MailboxOptions, type OverflowPolicy, type ReplyTo } from "./mailbox.ts";
export { ActorRef, type AskOptions } from "./ref.ts";
export { ActorSystem, type CrashLogger, type DeadLetter } from "./system.ts";

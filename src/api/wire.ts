/**
 * What travels over the wire: the HTTP submit body and the WebSocket
 * messages, their validation, and JSON encoding. Shared by the server, the
 * remote port and (by shape) the dashboard.
 */
import { z } from "zod";
import { type FieldIssue, isRefusal, refusal, TaskValidationError } from "../task/errors.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../task/record.ts";
import type { ServiceInfo, TaskEvent } from "../manager/types.ts";

/**
 * Correlates a WebSocket request with its replies.
 *
 * @example
 * ```ts
 * import type { Ref } from "./wire.ts";
 * const ref: Ref = 1; // or "a string"
 * ```
 */
export type Ref = string | number;

const ref = z.union([z.string().max(200), z.number()]);
const taskId = z.string().min(1).max(200);
// Their bounds (names, depth, size, durations) are the manager's admission's, for every client.
const attributes = z.record(z.string(), z.unknown());
const timeoutMs = z.number();
const taskState = z.enum(["queued", "running", "succeeded", "failed", "cancelled"]);

/**
 * Query of `GET /tasks` and the WebSocket `list` message.
 *
 * @example
 * ```ts
 * import { listQuery } from "./wire.ts";
 * listQuery.parse({ service: "lab", state: "running", limit: 10 });
 * ```
 */
export const listQuery = z.strictObject({
  service: z.string().optional(),
  state: taskState.optional(),
  limit: z.number().int().min(1).max(1_000).optional(),
});

/**
 * Body of `POST /tasks`.
 *
 * @example
 * ```ts
 * import { submitBody } from "./wire.ts";
 * submitBody.parse({ service: "greeter", type: "Greeting", fields: { name: "Ada" } });
 * ```
 */
export const submitBody = z.strictObject({
  service: z.string().min(1),
  type: z.string().min(1),
  fields: z.unknown().optional(),
  attributes: attributes.optional(),
  timeoutMs: timeoutMs.optional(),
});

const clientMessages = {
  auth: z.strictObject({ type: z.literal("auth"), token: z.string().max(512) }),
  submit: z.strictObject({
    type: z.literal("submit"),
    ref,
    service: z.string().min(1),
    task: z.strictObject({ type: z.string().min(1), fields: z.unknown().optional() }),
    attributes: attributes.optional(),
    timeoutMs: timeoutMs.optional(),
  }),
  get: z.strictObject({ type: z.literal("get"), ref, taskId }),
  wait: z.strictObject({ type: z.literal("wait"), ref, taskId }),
  cancel: z.strictObject({ type: z.literal("cancel"), ref, taskId }),
  list: listQuery.extend({ type: z.literal("list"), ref }),
  services: z.strictObject({ type: z.literal("services"), ref }),
  subscribe: z.strictObject({ type: z.literal("subscribe"), ref }),
  unsubscribe: z.strictObject({ type: z.literal("unsubscribe"), ref }),
};

/**
 * A message from a WebSocket client.
 *
 * @example
 * ```ts
 * import type { ClientMessage } from "./wire.ts";
 * const message: ClientMessage = { type: "wait", ref: 7, taskId: "3b0c…" };
 * ```
 */
export type ClientMessage = {
  [K in keyof typeof clientMessages]: z.output<(typeof clientMessages)[K]>;
}[keyof typeof clientMessages];

/**
 * A message from the server. Replies carry the request's `ref` and `type`.
 *
 * @example
 * ```ts
 * import type { ServerMessage } from "./wire.ts";
 * const reply: ServerMessage = { type: "submit", ref: 7, taskId: "3b0c…" };
 * ```
 */
export type ServerMessage =
  | { type: "auth"; ok: true }
  | { type: "submit"; ref: Ref; taskId: string }
  | { type: "outcome"; ref: Ref; taskId: string; outcome: TaskOutcome | null }
  | { type: "get"; ref: Ref; record: TaskRecord | null }
  | { type: "cancel"; ref: Ref; cancelled: boolean }
  | { type: "list"; ref: Ref; records: TaskRecordSummary[] }
  | { type: "services"; ref: Ref; services: ServiceInfo[] }
  | { type: "subscribe"; ref: Ref }
  | { type: "unsubscribe"; ref: Ref }
  | { type: "event"; event: TaskEvent }
  | ErrorReply;

/**
 * The reply to a request that failed: `error` names the problem; a refused
 * submission also has the refusal's `name` (`TaskValidationError`,
 * `UnknownServiceError`, `QueueFullError`, …) and, for validation, `issues`.
 *
 * @example
 * ```ts
 * import type { ErrorReply } from "./wire.ts";
 * const reply: ErrorReply = {
 *   type: "error", ref: 3, error: "invalid Sum: b: expected number",
 *   name: "TaskValidationError", issues: [{ path: "b", message: "expected number" }],
 * };
 * ```
 */
export interface ErrorReply {
  type: "error";
  ref?: Ref;
  error: string;
  name?: string;
  issues?: FieldIssue[];
}

/**
 * The error reply for `error`: its message, and for a typed refusal its name
 * and issues.
 *
 * @example
 * ```ts
 * import { errorReply } from "./wire.ts";
 * import { QueueFullError } from "../task/errors.ts";
 * errorReply(new QueueFullError("full"), 4); // { type: "error", ref: 4, error: "full", name: "QueueFullError" }
 * ```
 */
export function errorReply(error: unknown, ref?: Ref): ErrorReply {
  const reply: ErrorReply = {
    type: "error",
    ref,
    error: error instanceof Error ? error.message : String(error),
  };
  if (isRefusal(error)) reply.name = error.name;
  if (error instanceof TaskValidationError) reply.issues = error.issues;
  return reply;
}

/**
 * The error an error reply stands for: the typed refusal it names (so a
 * remote `request()` rejects with a `TaskValidationError` carrying `issues`,
 * a `QueueFullError`, …), else a plain `Error`.
 *
 * @example
 * ```ts
 * import { replyError } from "./wire.ts";
 * replyError({ type: "error", error: "no service named 'x'", name: "UnknownServiceError" }, "Sum").name;
 * // "UnknownServiceError"
 * ```
 */
export function replyError(reply: ErrorReply, taskType?: string): Error {
  return refusal(reply.name, reply.error, reply.issues, taskType);
}

/**
 * Input that failed validation; `message` names the problem.
 *
 * @example
 * ```ts
 * import { WireError } from "./wire.ts";
 * throw new WireError("unknown message type \"explode\"", 2);
 * ```
 */
export class WireError extends Error {
  override name = "WireError";
  /** Create the error; `ref` is the request's, when it could be read. */
  constructor(message: string, readonly ref?: Ref) {
    super(message);
  }
}

/**
 * One line per zod issue: `path: message`.
 *
 * @example
 * ```ts
 * import { submitBody, describeIssues } from "./wire.ts";
 * const result = submitBody.safeParse({ service: 1 });
 * if (!result.success) describeIssues(result.error); // "service: Invalid input: expected string, received number; …"
 * ```
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  }).join("; ");
}

/**
 * Parse and validate one WebSocket text message; throws `WireError` naming
 * what is wrong (bad JSON, not an object, unknown `type`, bad fields).
 *
 * @example
 * ```ts
 * import { parseClientMessage } from "./wire.ts";
 * parseClientMessage('{"type":"services","ref":1}'); // { type: "services", ref: 1 }
 * parseClientMessage("garbage"); // throws WireError: malformed JSON: …
 * ```
 */
export function parseClientMessage(text: string): ClientMessage {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch (error) {
    throw new WireError(`malformed JSON: ${(error as Error).message}`);
  }
  if (message === null || typeof message !== "object" || Array.isArray(message)) {
    throw new WireError("a message must be a JSON object with a 'type'");
  }
  const fields = message as Record<string, unknown>;
  const maybeRef = ref.safeParse(fields.ref).data;
  const type = fields.type;
  if (typeof type !== "string" || !Object.hasOwn(clientMessages, type)) {
    const known = Object.keys(clientMessages).join(", ");
    throw new WireError(`unknown message type ${JSON.stringify(type)} (known: ${known})`, maybeRef);
  }
  const result = clientMessages[type as keyof typeof clientMessages].safeParse(message);
  if (!result.success) {
    throw new WireError(`bad '${type}' message: ${describeIssues(result.error)}`, maybeRef);
  }
  return result.data;
}

/**
 * `JSON.stringify` that also carries `bigint`s (as decimal strings): a
 * handler may return one, and failing the whole reply for it helps nobody.
 *
 * @example
 * ```ts
 * import { toJson } from "./wire.ts";
 * toJson({ n: 2n ** 64n }); // '{"n":"18446744073709551616"}'
 * ```
 */
export function toJson(value: unknown): string {
  try {
    return JSON.stringify(value);
  } catch (error) {
    // Only the rare reply with a bigint pays for the replacer.
    if (!(error instanceof TypeError && /BigInt/i.test(error.message))) throw error;
    return JSON.stringify(value, (_key, v) => typeof v === "bigint" ? v.toString() : v);
  }
}

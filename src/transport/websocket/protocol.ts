/**
 * The WebSocket protocol: JSON text messages, each request with a `ref`
 * that its replies carry back, under the subprotocol `zest.v1`; the token
 * travels as a second subprotocol `token.<token>` (or in a first `auth`
 * message), never in the URL.
 *
 * @module
 */
import { z } from "zod";
import type { TaskOutcome } from "../../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../../task/record.ts";
import type { ScheduleInfo } from "../../manager/schedules.ts";
import type { StoreStats } from "../../manager/store.ts";
import type { ServiceInfo, TaskEvent } from "../../manager/types.ts";
import type { SummaryPage } from "../port.ts";
import {
  describeIssues,
  type ErrorBody,
  graphBody,
  listQuery,
  namedRecord,
  submitBody,
} from "../wire.ts";

/**
 * The WebSocket subprotocol of this API; the server echoes it back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PROTOCOL } from "./protocol.ts";
 * assert.equal(PROTOCOL, "zest.v1");
 * ```
 */
export const PROTOCOL = "zest.v1";

/**
 * Prefix of the subprotocol that carries the token: `token.<token>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TOKEN_PROTOCOL_PREFIX } from "./protocol.ts";
 * assert.equal(TOKEN_PROTOCOL_PREFIX + "abc", "token.abc");
 * ```
 */
export const TOKEN_PROTOCOL_PREFIX = "token.";

/**
 * Characters a token may use: RFC 7230 `tchar`s, so that it fits in a
 * `Sec-WebSocket-Protocol` value, and 16 to 512 of them.
 */
const TOKEN_SHAPE = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{16,512}$/;

/**
 * Whether `token` can be used as a token (length and characters).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { isValidToken } from "./protocol.ts";
 * assert.equal(isValidToken("short"), false);
 * assert.equal(isValidToken("k3Rf9-Qx_2mZp7LwYb4Tn8Vc"), true);
 * ```
 */
export function isValidToken(token: string): boolean {
  return TOKEN_SHAPE.test(token);
}

/**
 * Correlates a request with its replies.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientMessage, type Ref } from "./protocol.ts";
 * const ref: Ref = "services-1"; // or a number
 * const parsed = parseClientMessage(JSON.stringify({ type: "services", ref }));
 * assert.equal("ref" in parsed && parsed.ref, ref); // the reply will carry it back
 * ```
 */
export type Ref = string | number;

const ref = z.union([z.string().max(200), z.number()]);
const taskId = z.string().min(1).max(200);

const clientMessages = {
  auth: z.strictObject({ type: z.literal("auth"), token: z.string().max(512) }),
  submit: z.strictObject({ type: z.literal("submit"), ref, task: submitBody }),
  graph: z.strictObject({ type: z.literal("graph"), ref, tasks: graphBody }),
  get: z.strictObject({ type: z.literal("get"), ref, taskId }),
  wait: z.strictObject({ type: z.literal("wait"), ref, taskId }),
  cancel: z.strictObject({ type: z.literal("cancel"), ref, taskId }),
  delete: z.strictObject({ type: z.literal("delete"), ref, taskId }),
  dot: z.strictObject({ type: z.literal("dot"), ref, taskId }),
  // The query is nested: a list filters by task `type`, and `type` names the message.
  list: z.strictObject({ type: z.literal("list"), ref, query: listQuery.optional() }),
  services: z.strictObject({ type: z.literal("services"), ref }),
  release: z.strictObject({ type: z.literal("release"), ref, service: z.string().min(1) }),
  queue: z.strictObject({
    type: z.literal("queue"),
    ref,
    service: z.string().min(1),
    limit: z.number().int().min(1).max(1_000).optional(),
  }),
  store: z.strictObject({ type: z.literal("store"), ref }),
  schedules: z.strictObject({ type: z.literal("schedules"), ref }),
  schedule: z.strictObject({
    type: z.literal("schedule"),
    ref,
    name: z.string().min(1).max(200),
    action: z.enum(["pause", "resume", "run"]),
  }),
  subscribe: z.strictObject({ type: z.literal("subscribe"), ref }),
  unsubscribe: z.strictObject({ type: z.literal("unsubscribe"), ref }),
};

/**
 * The `submit` of the first release, `{service, task: {type, fields},
 * attributes?, timeoutMs?}`: still read, for one release, as the same task.
 */
const legacySubmit = z.strictObject({
  type: z.literal("submit"),
  ref,
  service: z.string().min(1),
  task: z.strictObject({ type: z.string().min(1), fields: z.unknown().optional() }),
  attributes: namedRecord(z.string(), z.unknown()).optional(),
  timeoutMs: z.number().optional(),
});

/**
 * A message from a client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ClientMessage, parseClientMessage } from "./protocol.ts";
 * const message: ClientMessage = { type: "wait", ref: 7, taskId: "3b0c…" };
 * assert.deepEqual(parseClientMessage(JSON.stringify(message)), message);
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
 * import assert from "node:assert/strict";
 * import type { ServerMessage } from "./protocol.ts";
 * const describe = (message: ServerMessage) =>
 *   message.type === "submit" ? `request ${message.ref}: task ${message.taskId}` : message.type;
 * assert.equal(describe({ type: "submit", ref: 7, taskId: "3b0c…" }), "request 7: task 3b0c…");
 * ```
 */
export type ServerMessage =
  | { type: "auth"; ok: true }
  | { type: "submit"; ref: Ref; taskId: string }
  | { type: "outcome"; ref: Ref; taskId: string; outcome: TaskOutcome | null }
  | { type: "graph"; ref: Ref; ids: Record<string, string> }
  | { type: "get"; ref: Ref; record: TaskRecord | null }
  | { type: "cancel"; ref: Ref; cancelled: boolean }
  | { type: "delete"; ref: Ref }
  | { type: "dot"; ref: Ref; dot: string | null }
  | ({ type: "list"; ref: Ref } & SummaryPage)
  | { type: "services"; ref: Ref; services: ServiceInfo[] }
  | { type: "release"; ref: Ref; released: boolean }
  | { type: "queue"; ref: Ref; records: TaskRecordSummary[] }
  | { type: "store"; ref: Ref; store: StoreStats }
  | { type: "schedules"; ref: Ref; schedules: ScheduleInfo[] }
  | { type: "schedule"; ref: Ref; schedule: ScheduleInfo }
  | { type: "subscribe"; ref: Ref }
  | { type: "unsubscribe"; ref: Ref }
  | { type: "event"; event: TaskEvent }
  | ErrorReply;

/**
 * The reply to a request that failed: `error` names the problem; a refusal
 * also has its `name` (`TaskValidationError`, `QueueFullError`, …) and, for
 * validation, `issues`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { ErrorReply } from "./protocol.ts";
 * import { bodyError } from "../wire.ts";
 * const reply: ErrorReply = { type: "error", ref: 3, error: "full", name: "QueueFullError" };
 * assert.equal(bodyError(reply).name, "QueueFullError"); // the client rejects with the typed refusal
 * ```
 */
export type ErrorReply = { type: "error"; ref?: Ref } & ErrorBody;

/**
 * Input that failed validation; `message` names the problem.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientMessage, WireError } from "./protocol.ts";
 * assert.throws(
 *   () => parseClientMessage('{"type":"explode","ref":2}'),
 *   (error) => error instanceof WireError && error.ref === 2,
 * );
 * ```
 */
export class WireError extends Error {
  /** Always `"WireError"`, whatever a bundler does to class names. */
  override name = "WireError";
  /** Create the error; `ref` is the request's, when it could be read. */
  constructor(message: string, readonly ref?: Ref) {
    super(message);
  }
}

/**
 * Parse and validate one text message; throws `WireError` naming what is
 * wrong (bad JSON, not an object, unknown `type`, bad fields). A `submit` of
 * the first release's shape comes back in today's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseClientMessage } from "./protocol.ts";
 * assert.deepEqual(parseClientMessage('{"type":"services","ref":1}'), { type: "services", ref: 1 });
 * assert.throws(() => parseClientMessage("garbage"), /malformed JSON/);
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
  if (type === "submit" && Object.hasOwn(fields, "service")) {
    const legacy = legacySubmit.safeParse(message);
    if (!legacy.success) {
      throw new WireError(`bad 'submit' message: ${describeIssues(legacy.error)}`, maybeRef);
    }
    const { service, task, attributes, timeoutMs } = legacy.data;
    return {
      type: "submit",
      ref: legacy.data.ref,
      task: { service, type: task.type, fields: task.fields, attributes, timeoutMs },
    };
  }
  const result = clientMessages[type as keyof typeof clientMessages].safeParse(message);
  if (!result.success) {
    throw new WireError(`bad '${type}' message: ${describeIssues(result.error)}`, maybeRef);
  }
  return result.data;
}

/**
 * What travels on the cluster's subjects, as JSON, and the checks a process
 * makes of what it receives: anyone allowed to publish on a Zest subject can
 * send anything, so every message is parsed here against its shape, bounded
 * by the server's `max_payload`, and refused with a reason naming the field.
 *
 * @module
 */
import { z } from "zod";
import { COPY_SHAPE } from "../../store/jetstream_publish.ts";
import { TASK_STATES, type TaskRecord, type TaskState } from "../../task/record.ts";
import type { TaskOutcome } from "../../task/outcome.ts";
import { describeIssues, type ErrorBody, submitBody } from "../wire.ts";
import type { ServiceInfo } from "../../manager/types.ts";

/** One decoder for every message (making one costs more than decoding a small message). */
const utf8 = new TextDecoder();

/** A task id as the runtime makes them (UUIDv7), or anything a KV key can be. */
const taskId = z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, "expected a task id");
const name = z.string().min(1).max(200);
/** A subject a reply may go to: printable, no spaces or wildcards. */
const subject = z.string().regex(/^[!-~]{1,256}$/, "expected a subject").refine(
  (value) => !value.split(".").some((token) => token === "" || token === "*" || token === ">"),
  "expected a subject without wildcards",
);

/**
 * A submission, client → a host of the service (`zest.submit.<service>`):
 * the task as every wire carries it, where its outcome goes, and the task
 * whose handler submits it.
 *
 * @example
 * ```ts
 * import { submitMessage } from "./messages.ts";
 * submitMessage.parse({ task: { service: "lab", type: "Sum", fields: { a: 1, b: 2 } }, reply: "_INBOX.abc.1" });
 * ```
 */
export const submitMessage = z.strictObject({
  task: submitBody,
  reply: subject.optional(),
  /** Where the answer to the final record's write is copied (`<token>.<ref>`; see `STORED_HEADER`). */
  copy: z.string().regex(COPY_SHAPE, "expected <token>.<ref>")
    .optional(),
  parent: taskId.optional(),
  /**
   * When the client stops waiting for the answer (ms since the epoch): a host
   * that gets the submission later (it was stopped, or lagging) drops it, so
   * a submission its client was told failed is not queued after all.
   */
  deadline: z.number().optional(),
});

/**
 * A submission as parsed.
 *
 * @example
 * ```ts
 * import type { SubmitMessage } from "./messages.ts";
 * const message: SubmitMessage = { task: { service: "lab", type: "Sum" } };
 * ```
 */
export type SubmitMessage = z.output<typeof submitMessage>;

/**
 * A host's answer to a submission: the task's id (`existing`: the first
 * task submitted with the same idempotency key), or a refusal.
 *
 * @example
 * ```ts
 * import type { SubmitReply } from "./messages.ts";
 * const accepted: SubmitReply = { taskId: "0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d" };
 * const refused: SubmitReply = { error: "no task type 'X'", name: "UnknownTaskTypeError" };
 * ```
 */
export type SubmitReply = { taskId: string; existing?: boolean } | ErrorBody;

/**
 * A request about one task to every host of its service (cancel).
 *
 * @example
 * ```ts
 * import { taskMessage } from "./messages.ts";
 * taskMessage.parse({ id: "0190c1d2-7e4f-7a3b-9c1d-2e3f4a5b6c7d" });
 * ```
 */
export const taskMessage = z.strictObject({ id: taskId });

/**
 * A host's answer to a cancel: whether it has the task, and if so whether
 * it was cancelled (false: it had ended).
 *
 * @example
 * ```ts
 * import type { CancelReply } from "./messages.ts";
 * const elsewhere: CancelReply = { held: false };
 * ```
 */
export interface CancelReply {
  held: boolean;
  cancelled?: boolean;
}

const logEntry = z.object({
  at: z.number(),
  level: z.enum(["debug", "info", "warn", "error"]),
  message: z.string(),
  state: z.enum(TASK_STATES as [TaskState, ...TaskState[]]).optional(),
});

/**
 * A task record as the stream and the record bucket carry it. Unknown keys
 * are dropped; the fields are checked again against the task type's schema
 * by the host that runs the task.
 *
 * @example
 * ```ts
 * import { recordShape } from "./messages.ts";
 * recordShape.safeParse({ id: "x" }).success; // false
 * ```
 */
export const recordShape = z.object({
  id: taskId,
  type: name,
  service: name,
  fields: z.unknown(),
  attributes: z.record(z.string(), z.unknown()),
  parallel: z.boolean(),
  state: z.enum(TASK_STATES as [TaskState, ...TaskState[]]),
  attempts: z.number().int().min(0).max(1_000_000),
  timeoutMs: z.number().positive().max(2 ** 31 - 1).optional(),
  createdAt: z.number(),
  startedAt: z.number().optional(),
  finishedAt: z.number().optional(),
  expiresAt: z.number().optional(),
  priority: z.number().int().min(-1000).max(1000).optional(),
  deadline: z.number().optional(),
  key: z.string().max(200).optional(),
  parent: taskId.optional(),
  rerunOf: z.string().max(200).optional(),
  schedule: z.string().max(200).optional(),
  after: z.array(z.string()).max(10_000).optional(),
  onDependencyFailure: z.enum(["cancel", "run"]).optional(),
  dependents: z.array(z.string()).optional(),
  progress: z.object({ fraction: z.number(), message: z.string().optional(), at: z.number() })
    .optional(),
  log: z.array(logEntry).max(2_000),
  outcome: z.looseObject({ status: z.enum(["ok", "error"]), id: z.string() }).optional(),
});

/**
 * The record in a message's bytes, or why not (one line).
 *
 * @example
 * ```ts
 * import { parseRecord } from "./messages.ts";
 * const parsed = parseRecord(new TextEncoder().encode("not json"));
 * "problem" in parsed; // true
 * ```
 */
export function parseRecord(data: Uint8Array): { record: TaskRecord } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(data));
  } catch {
    return { problem: "not JSON" };
  }
  const result = recordShape.safeParse(value);
  if (!result.success) return { problem: `not a task record: ${describeIssues(result.error)}` };
  return { record: result.data as TaskRecord };
}

/**
 * `value` from JSON bytes checked against `shape`, or why not.
 *
 * @example
 * ```ts
 * import { parseMessage, taskMessage } from "./messages.ts";
 * parseMessage(taskMessage, new TextEncoder().encode('{"id":"abc"}')); // { value: { id: "abc" } }
 * ```
 */
export function parseMessage<S extends z.ZodType>(
  shape: S,
  data: Uint8Array,
): { value: z.output<S> } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(data));
  } catch {
    return { problem: "not JSON" };
  }
  const result = shape.safeParse(value);
  return result.success ? { value: result.data } : { problem: describeIssues(result.error) };
}

/**
 * One replica of a service, as it describes itself in the registry
 * (`zest_services`, refreshed every few seconds).
 *
 * @example
 * ```ts
 * import type { ReplicaEntry } from "./messages.ts";
 * const describe = (entry: ReplicaEntry) => `${entry.service.name} on ${entry.host} (pid ${entry.pid})`;
 * ```
 */
export interface ReplicaEntry {
  /** This replica's id (unique in the cluster). */
  replica: string;
  /** The machine's name. */
  host: string;
  pid: number;
  /** When the process joined (ms since the Unix epoch). */
  since: number;
  /** The service as this replica's manager sees it (its lane, its kernel). */
  service: ServiceInfo;
}

const replicaEntry = z.object({
  replica: z.string().max(200),
  host: z.string().max(300),
  pid: z.number().int(),
  since: z.number(),
  service: z.looseObject({
    name: name,
    kind: z.string(),
    taskTypes: z.array(z.looseObject({ name: name })),
    state: z.enum(["running", "stopped", "stuck"]),
    queued: z.number(),
    running: z.number(),
  }),
});

/**
 * A registry entry from its bytes, or `undefined` if it is not one.
 *
 * @example
 * ```ts
 * import { parseReplica } from "./messages.ts";
 * parseReplica(new TextEncoder().encode("{}")); // undefined
 * ```
 */
export function parseReplica(data: Uint8Array): ReplicaEntry | undefined {
  const parsed = parseMessage(replicaEntry, data);
  return "value" in parsed ? parsed.value as unknown as ReplicaEntry : undefined;
}

/** What every outcome has (made once: building a zod schema costs more than using it). */
const outcomeShape = z.looseObject({ status: z.enum(["ok", "error"]), id: z.string() });

/**
 * An outcome as it arrives on a submitter's reply subject, or `undefined`.
 *
 * @example
 * ```ts
 * import { parseOutcome } from "./messages.ts";
 * parseOutcome(new TextEncoder().encode('{"status":"ok","id":"t1","result":2}'))?.status; // "ok"
 * ```
 */
export function parseOutcome(data: Uint8Array): TaskOutcome | undefined {
  const parsed = parseMessage(outcomeShape, data);
  if (!("value" in parsed)) return undefined;
  const outcome = parsed.value as unknown as TaskOutcome;
  if (
    outcome.status === "error" && (typeof outcome.ename !== "string" ||
      typeof outcome.evalue !== "string")
  ) return undefined;
  return outcome;
}

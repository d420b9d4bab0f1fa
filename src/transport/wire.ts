/**
 * What every wire carries the same way: the submission of a task (one shape
 * for the HTTP body, the WebSocket `submit` and a graph's nodes), the query
 * of a task list, refusals as JSON, and JSON encoding. Shapes only: every
 * bound (names, sizes, depths, durations) is the manager's admission's, the
 * same for every client.
 *
 * @module
 */
import { z } from "zod";
import { type FieldIssue, isRefusal, refusal, TaskValidationError } from "../task/errors.ts";
import { TASK_STATES, type TaskState } from "../task/record.ts";
import { MAX_PAGE, type TaskListQuery } from "../manager/store.ts";
import type { GraphRequest, SubmitRequest } from "../manager/types.ts";

/**
 * An object whose keys the client chooses, checked as `z.record(key, value)`,
 * refusing a `"__proto__"` key: `JSON.parse` makes it an own key, but the
 * record zod builds would take it as its prototype, and drop it unsaid.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { namedRecord } from "./wire.ts";
 * const labels = namedRecord(z.string(), z.number());
 * assert.deepEqual(labels.parse({ q0: 1 }), { q0: 1 });
 * const refused = labels.safeParse(JSON.parse('{"__proto__": 1}'));
 * assert.equal(refused.error?.issues[0].message, 'the key "__proto__" is not allowed');
 * ```
 */
export function namedRecord<K extends z.ZodType<string>, V extends z.ZodType>(
  key: K,
  value: V,
): z.ZodPipe<z.ZodUnknown, z.ZodRecord<K, V>> {
  return z.unknown().check((context) => {
    const input = context.value;
    if (input !== null && typeof input === "object" && Object.hasOwn(input, "__proto__")) {
      context.issues.push({
        code: "custom",
        input,
        path: ["__proto__"],
        message: 'the key "__proto__" is not allowed',
      });
    }
  }).pipe(z.record(key, value));
}

const attributes = namedRecord(z.string(), z.unknown());
const taskState = z.enum(TASK_STATES as [TaskState, ...TaskState[]], {
  error: `must be one of ${TASK_STATES.join(", ")}`,
});

/**
 * A task as a client sends it: the body of `POST /tasks`, the `task` of a
 * WebSocket `submit`, a node of a graph.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { submitBody } from "./wire.ts";
 * const body = submitBody.parse({ service: "greeter", type: "Greeting", fields: { name: "Ada" } });
 * assert.equal(body.type, "Greeting");
 * assert.equal(submitBody.safeParse({ service: "greeter" }).success, false);
 * ```
 */
export const submitBody = z.strictObject({
  service: z.string().min(1),
  type: z.string().min(1),
  fields: z.unknown().optional(),
  attributes: attributes.optional(),
  timeoutMs: z.number().optional(),
  priority: z.number().optional(),
  key: z.string().optional(),
  after: z.array(z.string()).optional(),
  onDependencyFailure: z.enum(["cancel", "run"]).optional(),
  expiresInMs: z.number().optional(),
  /** The task this one re-runs (`client.rerun`). */
  rerunOf: z.string().min(1).max(200).optional(),
});

/**
 * A task as a client sends it (see `submitBody`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type SubmitBody, submitRequest } from "./wire.ts";
 * const body: SubmitBody = { service: "lab", type: "Sum", fields: { a: 1, b: 2 }, priority: 3 };
 * assert.deepEqual(submitRequest(body), body);
 * ```
 */
export type SubmitBody = z.output<typeof submitBody>;

/**
 * The manager's request for a checked body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { submitRequest } from "./wire.ts";
 * assert.deepEqual(submitRequest({ service: "lab", type: "Sum" }).fields, {});
 * ```
 */
export function submitRequest(body: SubmitBody): SubmitRequest {
  return { ...body, fields: body.fields === undefined ? {} : body.fields };
}

/**
 * A graph of tasks by names: the body of `POST /graphs`, the `tasks` of a
 * WebSocket `graph`. Each node's `after` names other nodes (or ids).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphBody } from "./wire.ts";
 * const graph = graphBody.parse({
 *   scan: { service: "lab", type: "Scan" },
 *   fit: { service: "lab", type: "Fit", after: ["scan"] },
 * });
 * assert.deepEqual(Object.keys(graph), ["scan", "fit"]);
 * ```
 */
export const graphBody = namedRecord(z.string().min(1).max(200), submitBody);

/**
 * The manager's graph request for a checked graph body.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { graphRequest } from "./wire.ts";
 * assert.deepEqual(graphRequest({ a: { service: "lab", type: "Scan" } }).a.fields, {});
 * ```
 */
export function graphRequest(graph: z.output<typeof graphBody>): GraphRequest {
  return Object.fromEntries(
    Object.entries(graph).map(([name, node]) => [name, submitRequest(node)]),
  );
}

const listQueryFields = {
  service: z.string().optional(),
  type: z.string().optional(),
  key: z.string().optional(),
  // One state or several; one is read as a list of one, so a wrong state is named with its reason.
  state: z.preprocess(
    (state) => typeof state === "string" ? [state] : state,
    z.array(taskState).min(1),
  ).optional(),
  createdSince: z.number().optional(),
  createdUntil: z.number().optional(),
  limit: z.number().int().min(1).max(MAX_PAGE).optional(),
  cursor: z.string().max(64).optional(),
};

/**
 * A task list query: `GET /tasks?…` and the WebSocket `list` (see
 * `TaskListQuery`). `state` is one state, or several.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { listQuery } from "./wire.ts";
 * assert.deepEqual(listQuery.parse({ service: "lab", state: ["failed", "cancelled"], limit: 10 }), {
 *   service: "lab", state: ["failed", "cancelled"], limit: 10,
 * });
 * ```
 */
export const listQuery: z.ZodType<TaskListQuery> = z.strictObject(listQueryFields);

/**
 * The names of a task list query's parameters (`GET /tasks?…`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { LIST_QUERY_PARAMS } from "./wire.ts";
 * assert.ok(LIST_QUERY_PARAMS.includes("cursor") && LIST_QUERY_PARAMS.includes("createdSince"));
 * ```
 */
export const LIST_QUERY_PARAMS: readonly string[] = Object.keys(listQueryFields);

/**
 * One line per zod issue: `path: message`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { describeIssues, submitBody } from "./wire.ts";
 * const result = submitBody.safeParse({ service: 1, type: "Sum" });
 * assert.match(describeIssues(result.error!), /^service: /);
 * ```
 */
export function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join(".");
    return path ? `${path}: ${issue.message}` : issue.message;
  }).join("; ");
}

/**
 * A refusal or failure as JSON: the message, and for a typed refusal its
 * `name` and, for validation, its `issues`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bodyError, type ErrorBody } from "./wire.ts";
 * import { QueueFullError } from "../task/errors.ts";
 * const body: ErrorBody = { error: "service 'lab' has 5 tasks waiting (limit 5)", name: "QueueFullError" };
 * assert.ok(bodyError(body) instanceof QueueFullError);
 * ```
 */
export interface ErrorBody {
  error: string;
  name?: string;
  issues?: FieldIssue[];
}

/** Errors outside the task layer's refusals whose name a client should still get. */
const NAMED = new Set(["GraphError", "ScheduleError"]);

/**
 * The JSON of `error`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorBody } from "./wire.ts";
 * import { QueueFullError } from "../task/errors.ts";
 * assert.deepEqual(errorBody(new QueueFullError("full")), { error: "full", name: "QueueFullError" });
 * ```
 */
export function errorBody(error: unknown): ErrorBody {
  const body: ErrorBody = { error: error instanceof Error ? error.message : String(error) };
  if (isRefusal(error) || (error instanceof Error && NAMED.has(error.name))) {
    body.name = error.name;
  }
  if (error instanceof TaskValidationError) body.issues = error.issues;
  return body;
}

/**
 * The error a JSON error stands for: the typed refusal it names (so a
 * remote call rejects with a `TaskValidationError` carrying `issues`, a
 * `QueueFullError`, …), else a plain `Error`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { bodyError } from "./wire.ts";
 * assert.equal(bodyError({ error: "no service named 'x'", name: "UnknownServiceError" }).name, "UnknownServiceError");
 * ```
 */
export function bodyError(body: ErrorBody, taskType?: string): Error {
  return refusal(body.name, body.error, body.issues, taskType);
}

/**
 * `JSON.stringify` that also carries `bigint`s (as decimal strings): a
 * handler may return one, and failing the whole reply for it helps nobody.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { toJson } from "./wire.ts";
 * assert.equal(toJson({ n: 2n ** 64n }), '{"n":"18446744073709551616"}');
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

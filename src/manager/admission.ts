/**
 * Admission: the one check every submission passes, in-process or remote.
 * Pure: it reads the request and the services, and says what to run or why
 * not (a typed error).
 *
 * @module
 */
import { Task, type TaskType } from "../task/define.ts";
import {
  type FieldIssue,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskTypeError,
} from "../task/errors.ts";
import { durationProblem, jsonProblem, RECORD_LIMITS } from "../task/limits.ts";
import { parseAfter, parseOnDependencyFailure } from "./graph.ts";
import { keyProblem } from "./idempotency.ts";
import { priorityProblem } from "./priority_lane.ts";
import type { ServiceEndpoint, SubmitRequest } from "./types.ts";

/**
 * What a submission admitted to run is: its type, its validated fields
 * (defaults applied), and its timeout (the request's, else the type's, else
 * the service's default for its tasks).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { type Admitted, admit } from "./admission.ts";
 * import { defineTask } from "../task/define.ts";
 * import type { ServiceEndpoint } from "./types.ts";
 * const Sum = defineTask("Sum", { schema: z.object({ a: z.number(), b: z.number() }), parallel: true });
 * const lab: ServiceEndpoint = {
 *   name: "lab",
 *   ref: { tell: () => true, isAlive: true, name: "service:lab" },
 *   resolve: (name) => name === "Sum" ? Sum : undefined,
 *   describe: () => ({ kind: "service", taskTypes: [Sum.describe()] }),
 * };
 * const admitted: Admitted = admit(
 *   { service: "lab", type: "Sum", fields: { a: 1, b: 2 }, timeoutMs: 5_000 },
 *   new Map([["lab", { endpoint: lab }]]),
 * );
 * assert.equal(admitted.type, Sum);
 * assert.equal(admitted.timeoutMs, 5_000);
 * ```
 */
export interface Admitted {
  /** The task type that validated the fields. */
  type: TaskType;
  /** The validated fields, defaults applied. */
  fields: unknown;
  /** The timeout of each attempt, if any. */
  timeoutMs: number | undefined;
  /** The request's, else the type's expiry: queued this long, the task ends `expired`. */
  expiresInMs: number | undefined;
  /** The tasks it waits for (duplicates removed), if any. */
  after: string[] | undefined;
}

/**
 * Check `request` against `services` (by name) and the record limits.
 * Throws, in this order: `TaskValidationError` for a service or type name
 * over 200 characters; `UnknownServiceError`; `UnknownTaskTypeError`;
 * `TaskValidationError` for attributes (a plain object of at most 16 KiB of
 * JSON, 32 levels), a bad `timeoutMs` or `expiresInMs` (above 0, at most
 * 2³¹−1 ms), a `priority` that is not a whole number from −1000 to 1000, a
 * `key` that is not 1 to 200 characters, an `after` that is not a list of
 * at most 10 000 task ids, an `onDependencyFailure` other than `"cancel"`
 * or `"run"`, fields nested deeper than 32 levels or over 1 MiB of JSON, or
 * fields that fail the type's schema.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { admit } from "./admission.ts";
 * import { defineTask } from "../task/define.ts";
 * import { TaskValidationError, UnknownServiceError } from "../task/errors.ts";
 * import type { ServiceEndpoint } from "./types.ts";
 * const Sum = defineTask("Sum", { schema: z.object({ a: z.number(), b: z.number() }), parallel: true });
 * const lab: ServiceEndpoint = {
 *   name: "lab",
 *   ref: { tell: () => true, isAlive: true, name: "service:lab" },
 *   resolve: (name) => name === "Sum" ? Sum : undefined,
 *   describe: () => ({ kind: "service", taskTypes: [Sum.describe()] }),
 * };
 * const services = new Map([["lab", { endpoint: lab }]]);
 * assert.deepEqual(admit({ service: "lab", type: "Sum", fields: { a: 1, b: 2 } }, services).fields, {
 *   a: 1,
 *   b: 2,
 * });
 * assert.throws(
 *   () => admit({ service: "lab", type: "Sum", fields: { a: "1" } }, services),
 *   TaskValidationError,
 * );
 * assert.throws(
 *   () => admit({ service: "nope", type: "Sum", fields: {} }, services),
 *   UnknownServiceError,
 * );
 * ```
 */
export function admit(
  request: SubmitRequest,
  services: ReadonlyMap<string, { readonly endpoint: ServiceEndpoint }>,
): Admitted {
  const { service, type: typeName, attributes, timeoutMs } = request;
  const serviceIssue = nameIssue("service", service);
  const typeIssue = nameIssue("type", typeName);
  if (serviceIssue || typeIssue) {
    const issues = [serviceIssue, typeIssue].filter((issue) => issue !== undefined);
    throw new TaskValidationError(typeIssue ? "task" : typeName, issues);
  }
  const endpoint = services.get(service)?.endpoint;
  if (!endpoint) {
    const known = [...services.keys()].join(", ") || "none";
    throw new UnknownServiceError(`no service named '${service}' (services: ${known})`);
  }
  const type = endpoint.resolve(typeName);
  if (!type) {
    const known = endpoint.describe().taskTypes.map((t) => t.name).join(", ") || "none";
    throw new UnknownTaskTypeError(
      `service '${service}' has no task type '${typeName}' (it handles: ${known})`,
    );
  }
  const attributesProblem = attributes === undefined
    ? undefined
    : attributes === null || typeof attributes !== "object" || Array.isArray(attributes)
    ? "must be a plain object"
    : jsonProblem(attributes, RECORD_LIMITS.attributesChars);
  const { expiresInMs, priority, key, onDependencyFailure } = request;
  // No array and no closure unless there is an issue: this runs for every task.
  let issues = withIssue(undefined, "attributes", attributesProblem);
  if (timeoutMs !== undefined) issues = withIssue(issues, "timeoutMs", durationProblem(timeoutMs));
  if (expiresInMs !== undefined) {
    issues = withIssue(issues, "expiresInMs", durationProblem(expiresInMs));
  }
  if (priority !== undefined) issues = withIssue(issues, "priority", priorityProblem(priority));
  if (key !== undefined) issues = withIssue(issues, "key", keyProblem(key));
  let after: string[] | undefined;
  try {
    if (request.after !== undefined) after = parseAfter(request.after);
    parseOnDependencyFailure(onDependencyFailure);
  } catch (error) {
    const [path, ...reason] = (error as Error).message.split(" ");
    issues = withIssue(issues, path, reason.join(" "));
  }
  const fieldsProblem = jsonProblem(request.fields, RECORD_LIMITS.fieldsChars);
  if (fieldsProblem) issues = withIssue(issues, "", `the fields are ${fieldsProblem}`);
  if (issues) throw new TaskValidationError(type.name, issues);
  // A `Task` from `Type.create` was validated by this very type already.
  const fields = Task.definitionOf(request.task) === type
    ? request.fields
    : type.parse(request.fields);
  return {
    type,
    fields,
    timeoutMs: timeoutMs ?? type.timeoutMs ?? endpoint.taskTimeoutMs,
    expiresInMs: expiresInMs ?? type.expiresInMs,
    after: after && after.length > 0 ? after : undefined,
  };
}

/** `issues` with one more, if there is a `problem` at `path`. */
function withIssue(
  issues: FieldIssue[] | undefined,
  path: string,
  problem: string | undefined,
): FieldIssue[] | undefined {
  if (!problem) return issues;
  (issues ??= []).push({ path, message: problem });
  return issues;
}

/** Why a service or type name is refused, if it is. */
function nameIssue(path: string, name: unknown): FieldIssue | undefined {
  if (typeof name !== "string" || name === "") {
    return { path, message: "must be a non-empty string" };
  }
  if (name.length > RECORD_LIMITS.nameChars) {
    return {
      path,
      message: `'${
        name.slice(0, 40)
      }…' is ${name.length} characters, over the limit of ${RECORD_LIMITS.nameChars}`,
    };
  }
  return undefined;
}

/**
 * Admission: the one check every submission passes, in-process or remote.
 * Pure: it reads the request and the services, and says what to run or why
 * not (a typed error).
 */
import { Task, type TaskType } from "../task/define.ts";
import {
  type FieldIssue,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskTypeError,
} from "../task/errors.ts";
import { durationProblem, jsonProblem, RECORD_LIMITS } from "../task/limits.ts";
import type { ServiceEndpoint, SubmitRequest } from "./types.ts";

/**
 * What a submission admitted to run is: its type, its validated fields
 * (defaults applied), and its timeout (the request's, else the type's, else
 * the service's default for its tasks).
 */
export interface Admitted {
  type: TaskType;
  fields: unknown;
  timeoutMs: number | undefined;
}

/**
 * Check `request` against `services` (by name) and the record limits.
 * Throws, in this order: `TaskValidationError` for a service or type name
 * over 200 characters; `UnknownServiceError`; `UnknownTaskTypeError`;
 * `TaskValidationError` for attributes (a plain object of at most 16 KiB of
 * JSON, 32 levels), a bad `timeoutMs` (above 0, at most 2³¹−1 ms), fields
 * nested deeper than 32 levels or over 1 MiB of JSON, or fields that fail
 * the type's schema.
 *
 * @example
 * ```ts
 * import { admit } from "./admission.ts";
 * import type { ServiceEndpoint } from "./types.ts";
 * declare const lab: ServiceEndpoint; // handles Sum { a: number, b: number }
 * const services = new Map([["lab", { endpoint: lab }]]);
 * admit({ service: "lab", type: "Sum", fields: { a: 1, b: 2 } }, services).fields; // { a: 1, b: 2 }
 * admit({ service: "lab", type: "Sum", fields: { a: "1" } }, services); // throws TaskValidationError
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
  const timeoutProblem = timeoutMs === undefined ? undefined : durationProblem(timeoutMs);
  const fieldsProblem = jsonProblem(request.fields, RECORD_LIMITS.fieldsChars);
  if (attributesProblem || timeoutProblem || fieldsProblem) {
    const issues: FieldIssue[] = [];
    if (attributesProblem) issues.push({ path: "attributes", message: attributesProblem });
    if (timeoutProblem) issues.push({ path: "timeoutMs", message: timeoutProblem });
    if (fieldsProblem) issues.push({ path: "", message: `the fields are ${fieldsProblem}` });
    throw new TaskValidationError(type.name, issues);
  }
  // A `Task` from `Type.create` was validated by this very type already.
  const fields = Task.definitionOf(request.task) === type
    ? request.fields
    : type.parse(request.fields);
  return { type, fields, timeoutMs: timeoutMs ?? type.timeoutMs ?? endpoint.taskTimeoutMs };
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

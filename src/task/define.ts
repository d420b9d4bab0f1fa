/** Task types: a name, a zod schema, and whether tasks may run in parallel. */
import { z } from "zod";
import { type FieldIssue, TaskValidationError } from "./errors.ts";
import { durationProblem, RECORD_LIMITS } from "./limits.ts";
import { parseRetryPolicy, type RetryOptions, type RetryPolicy } from "./retry.ts";

/**
 * A zod schema, as the signatures of this package name it: any zod schema
 * (`z.object(...)`, `z.string()`, …) fits, and a task type checks when it is
 * defined that its schema is one. It is written as the part of a schema that
 * zod's own `z.input` and `z.output` read, so that no public type names one
 * of zod's classes: their documentation is zod's, not ours.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import type { FieldSchema, SchemaInput, SchemaOutput } from "./define.ts";
 * const schema = z.object({ name: z.string(), greeting: z.string().default("Hello") });
 * const asField: FieldSchema = schema;
 * const input: SchemaInput<typeof schema> = { name: "Ada" };
 * const fields: SchemaOutput<typeof schema> = schema.parse(input);
 * assert.equal(fields.greeting, "Hello");
 * assert.equal(asField, schema);
 * ```
 */
export interface FieldSchema<Output = unknown, Input = unknown> {
  /** zod's record of what the schema gives (`output`) and takes (`input`); types only. */
  readonly _zod: { readonly output: Output; readonly input: Input };
}

/**
 * The fields a schema gives once it has validated them: defaults applied,
 * transforms done. What a handler receives. Same as zod's `z.output<S>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import type { SchemaOutput } from "./define.ts";
 * const schema = z.object({ shots: z.number().default(1_000) });
 * const fields: SchemaOutput<typeof schema> = schema.parse({});
 * assert.equal(fields.shots, 1_000);
 * ```
 */
export type SchemaOutput<S extends FieldSchema> = S["_zod"]["output"];

/**
 * The fields a schema takes: what a client sends, optional where the schema
 * has a default. Same as zod's `z.input<S>`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import type { SchemaInput } from "./define.ts";
 * const schema = z.object({ qubit: z.string(), shots: z.number().default(1_000) });
 * const sent: SchemaInput<typeof schema> = { qubit: "q0" }; // shots may be left out
 * schema.parse(sent);
 * ```
 */
export type SchemaInput<S extends FieldSchema> = S["_zod"]["input"];

/**
 * What `defineTask` needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, type TaskTypeOptions } from "./define.ts";
 * const schema = z.object({ qubit: z.string() });
 * const options: TaskTypeOptions<typeof schema> = {
 *   schema,
 *   parallel: false,
 *   timeoutMs: 60_000,
 *   retries: { attempts: 2, backoff: { initialMs: 1_000 } },
 *   onInterrupt: "requeue",
 * };
 * assert.equal(defineTask("Calibrate", options).retryPolicy.attempts, 2);
 * ```
 */
export interface TaskTypeOptions<S extends FieldSchema> {
  /** Validates (and fills defaults into) the task's fields. */
  schema: S;
  /**
   * `true`: tasks go straight to the service and may overlap. `false`: they
   * wait in the service's FIFO queue until its previous serial task finishes.
   */
  parallel: boolean;
  /** One line for `zest services` and the dashboard. */
  description?: string;
  /** Default timeout of a task of this type, from when it starts running (at most 2³¹−1 ms). */
  timeoutMs?: number;
  /**
   * Tries after a failure (not after a cancel, a timeout of the last try, or
   * a refusal): a number of extra attempts with `retryDelayMs` between them,
   * or a policy with exponential backoff and the errors worth a retry.
   * Default: no retry.
   */
  retries?: number | RetryOptions;
  /** With `retries` as a number: the delay before each retry (default 1 000 ms; 0 to 2³¹−1). */
  retryDelayMs?: number;
  /**
   * What happens to a task that was running when its runtime stopped or
   * died: `"fail"` (the default: it ends `InterruptedError`, since lab code
   * is not always safe to run twice) or `"requeue"` (it is queued again, at
   * the head of its lane, and runs once more).
   */
  onInterrupt?: "fail" | "requeue";
  /**
   * A task of this type still queued (or waiting for its dependencies) this
   * long after it was submitted ends `expired` and never runs; a request's
   * `expiresInMs` overrides it. Default: never.
   */
  expiresInMs?: number;
  /** How long finished records of this type are kept, and how many (default: the runtime's). */
  retention?: { ttlMs?: number; maxRecords?: number };
}

/**
 * What `zest services`, `GET /services` and the dashboard show of a task type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask } from "./define.ts";
 * const Scan = defineTask("Scan", {
 *   schema: z.object({ points: z.number().int() }),
 *   parallel: true,
 *   description: "Sweep the frequency",
 * });
 * const info = Scan.describe();
 * assert.equal(info.kind, "task");
 * assert.equal(info.description, "Sweep the frequency");
 * assert.deepEqual(info.schema.required, ["points"]);
 * ```
 */
export interface TaskTypeInfo {
  /** The task type's name. */
  name: string;
  /** Whether its tasks may overlap on a service. */
  parallel: boolean;
  /** Its one-line description, if it has one. */
  description?: string;
  /** `"code"` for code-generating types, run on a kernel. */
  kind: "task" | "code";
  /** JSON Schema of the fields a client sends (zod's `toJSONSchema`, input side). */
  schema: Record<string, unknown>;
}

/**
 * A validated task, ready to send: `{ type, fields }` on the wire. It remembers
 * the type that validated it, so the runtime does not validate it again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Task } from "./define.ts";
 * const Ping = defineTask("Ping", { schema: z.object({}), parallel: true });
 * const task = Ping.create({});
 * assert.equal(JSON.stringify(task), '{"type":"Ping","fields":{}}');
 * assert.equal(Task.definitionOf(task), Ping);
 * assert.equal(Task.definitionOf({ type: "Ping", fields: {} }), undefined);
 * ```
 */
export class Task<F = unknown> {
  readonly #definition: TaskType;
  /** The task type's name. */
  readonly type: string;
  /** The validated fields, defaults applied. */
  readonly fields: F;

  /** @internal tasks are made by `TaskType.create`. */
  constructor(definition: TaskType, fields: F) {
    this.#definition = definition;
    this.type = definition.name;
    this.fields = fields;
  }

  /** The type that validated `task`, if it is a `Task` (not a plain `{type, fields}`). */
  static definitionOf(task: unknown): TaskType | undefined {
    return task instanceof Task ? task.#definition : undefined;
  }
}

function issuePath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (out, key) =>
      typeof key === "number" ? `${out}[${key}]` : out ? `${out}.${String(key)}` : String(key),
    "",
  );
}

/**
 * A task type. Make one with `defineTask`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask } from "./define.ts";
 * import { TaskValidationError } from "./errors.ts";
 * const Add = defineTask("Add", { schema: z.object({ a: z.number(), b: z.number() }), parallel: true });
 * assert.deepEqual(Add.create({ a: 1, b: 2 }).fields, { a: 1, b: 2 });
 * assert.throws(() => Add.parse({ a: "1" }), (error) => {
 *   assert.ok(error instanceof TaskValidationError);
 *   assert.deepEqual(error.issues.map((issue) => issue.path), ["a", "b"]);
 *   return true;
 * });
 * ```
 */
export class TaskType<S extends FieldSchema = FieldSchema> {
  /** Unique among the types a service handles; what a client names. */
  readonly name: string;
  /** Validates (and fills defaults into) the fields. */
  readonly schema: S;
  /** `true`: tasks may overlap; `false`: they run one at a time per service, in order. */
  readonly parallel: boolean;
  /** One line for listings. */
  readonly description: string | undefined;
  /** Default timeout of a task of this type, from when it starts running. */
  readonly timeoutMs: number | undefined;
  /** When and how often a failed task is tried again. */
  readonly retryPolicy: RetryPolicy;
  /** What happens to a task that was running when its runtime stopped or died. */
  readonly onInterrupt: "fail" | "requeue";
  /** A task still queued this long after submission ends `expired`. */
  readonly expiresInMs: number | undefined;
  /** How long finished records of this type are kept, and how many (else the runtime's). */
  readonly retention: { readonly ttlMs?: number; readonly maxRecords?: number } | undefined;
  /** `schema`, as zod's class: what validation and JSON Schema need. */
  readonly #zod: z.ZodType;
  #jsonSchema: Record<string, unknown> | undefined;

  /** Prefer `defineTask`. */
  constructor(name: string, options: TaskTypeOptions<S>) {
    if (!/^[A-Za-z_][\w.-]*$/.test(name) || name.length > RECORD_LIMITS.nameChars) {
      throw new TypeError(
        `task type name '${
          name.slice(0, RECORD_LIMITS.nameChars)
        }' must start with a letter or _ ` +
          `and use only letters, digits, _ . - (at most ${RECORD_LIMITS.nameChars} characters)`,
      );
    }
    if (!(options.schema instanceof z.ZodType)) {
      throw new TypeError(`task type '${name}': schema must be a zod schema`);
    }
    this.#zod = options.schema;
    if (typeof options.parallel !== "boolean") {
      throw new TypeError(`task type '${name}': parallel must be true or false`);
    }
    const timeoutProblem = options.timeoutMs === undefined
      ? undefined
      : durationProblem(options.timeoutMs);
    if (timeoutProblem) throw new TypeError(`task type '${name}': timeoutMs ${timeoutProblem}`);
    this.name = name;
    this.schema = options.schema;
    this.parallel = options.parallel;
    this.description = options.description;
    this.timeoutMs = options.timeoutMs;
    this.retryPolicy = retryPolicyOf(name, options);
    const onInterrupt = options.onInterrupt ?? "fail";
    if (onInterrupt !== "fail" && onInterrupt !== "requeue") {
      throw new TypeError(`task type '${name}': onInterrupt must be "fail" or "requeue"`);
    }
    this.onInterrupt = onInterrupt;
    const expiryProblem = options.expiresInMs === undefined
      ? undefined
      : durationProblem(options.expiresInMs);
    if (expiryProblem) throw new TypeError(`task type '${name}': expiresInMs ${expiryProblem}`);
    this.expiresInMs = options.expiresInMs;
    this.retention = retentionOf(name, options.retention);
  }

  /** Validate `fields` (applying defaults) into a `Task`; throws `TaskValidationError`. */
  create(fields: SchemaInput<S>): Task<SchemaOutput<S>> {
    return new Task(this as TaskType, this.parse(fields));
  }

  /** Validate untrusted fields; returns them with defaults applied, or throws `TaskValidationError`. */
  parse(fields: unknown): SchemaOutput<S> {
    let result: z.ZodSafeParseResult<unknown>;
    try {
      result = this.#zod.safeParse(fields);
    } catch (error) {
      // A refine or transform of the user's schema threw: still a refusal, not a crash.
      const message = error instanceof Error ? error.message : String(error);
      throw new TaskValidationError(this.name, [{
        path: "",
        message: `schema check threw: ${message}`,
      }]);
    }
    if (result.success) return result.data as SchemaOutput<S>;
    const issues: FieldIssue[] = result.error.issues.map((issue) => ({
      path: issuePath(issue.path),
      message: issue.message,
    }));
    throw new TaskValidationError(this.name, issues);
  }

  /** JSON Schema of the fields a client sends. */
  jsonSchema(): Record<string, unknown> {
    return this.#jsonSchema ??= z.toJSONSchema(this.#zod, {
      io: "input",
      unrepresentable: "any",
    }) as Record<string, unknown>;
  }

  /** Name, mode, description and schema, for listings. */
  describe(): TaskTypeInfo {
    return {
      name: this.name,
      parallel: this.parallel,
      description: this.description,
      kind: "task",
      schema: this.jsonSchema(),
    };
  }
}

/**
 * Define a task type.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask } from "./define.ts";
 * const Greeting = defineTask("Greeting", {
 *   schema: z.object({ greeting: z.string().default("Hello"), name: z.string() }),
 *   parallel: true,
 * });
 * assert.deepEqual(Greeting.create({ name: "Ada" }).fields, { greeting: "Hello", name: "Ada" });
 * assert.throws(() => defineTask("no spaces", { schema: z.object({}), parallel: true }), TypeError);
 * ```
 */
export function defineTask<S extends FieldSchema>(
  name: string,
  options: TaskTypeOptions<S>,
): TaskType<S> {
  return new TaskType(name, options);
}

/** The retry policy of type `name`: from `retries` as a policy, or as a count and a fixed delay. */
function retryPolicyOf(name: string, options: TaskTypeOptions<FieldSchema>): RetryPolicy {
  const { retries, retryDelayMs } = options;
  const field = `task type '${name}': retries`;
  if (typeof retries === "object" && retries !== null) {
    if (retryDelayMs !== undefined) {
      throw new TypeError(
        `task type '${name}': retryDelayMs goes with retries as a number; ` +
          "with a policy, give retries.backoff.initialMs",
      );
    }
    return parseRetryPolicy(retries, field);
  }
  const delayProblem = retryDelayMs === undefined ? undefined : durationProblem(retryDelayMs, true);
  if (delayProblem) throw new TypeError(`task type '${name}': retryDelayMs ${delayProblem}`);
  const delay = retryDelayMs ?? 1_000;
  return parseRetryPolicy(
    { attempts: retries ?? 0, backoff: { initialMs: delay, factor: 1, maxMs: delay } },
    field,
  );
}

/** The retention of type `name`, checked; `undefined` for the runtime's default. */
function retentionOf(
  name: string,
  retention: TaskTypeOptions<FieldSchema>["retention"],
): TaskType["retention"] {
  if (retention === undefined) return undefined;
  const { ttlMs, maxRecords } = retention;
  const ttlProblem = ttlMs === undefined ? undefined : durationProblem(ttlMs);
  if (ttlProblem) throw new TypeError(`task type '${name}': retention.ttlMs ${ttlProblem}`);
  if (maxRecords !== undefined && !(Number.isSafeInteger(maxRecords) && maxRecords >= 0)) {
    throw new TypeError(
      `task type '${name}': retention.maxRecords must be a whole number from 0, got ${maxRecords}`,
    );
  }
  return Object.freeze({ ttlMs, maxRecords });
}

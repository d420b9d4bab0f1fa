/** Task types: a name, a zod schema, and whether tasks may run in parallel. */
import { z } from "zod";
import { type FieldIssue, TaskValidationError } from "./errors.ts";
import { durationProblem, RECORD_LIMITS } from "./limits.ts";
import { parseRetryPolicy, type RetryOptions, type RetryPolicy } from "./retry.ts";

/** What `defineTask` needs. */
export interface TaskTypeOptions<S extends z.ZodType> {
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

/** What `zest services`, `GET /services` and the dashboard show of a task type. */
export interface TaskTypeInfo {
  name: string;
  parallel: boolean;
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
 * import { z } from "zod";
 * import { defineTask, Task } from "./define.ts";
 * const Ping = defineTask("Ping", { schema: z.object({}), parallel: true });
 * const task = Ping.create({});
 * JSON.stringify(task); // '{"type":"Ping","fields":{}}'
 * Task.definitionOf(task) === Ping; // true
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
 * import { z } from "zod";
 * import { defineTask } from "./define.ts";
 * const Add = defineTask("Add", { schema: z.object({ a: z.number(), b: z.number() }), parallel: true });
 * Add.create({ a: 1, b: 2 }).fields; // { a: 1, b: 2 }
 * Add.parse({ a: "1" }); // throws TaskValidationError: invalid Add: a: …; b: …
 * ```
 */
export class TaskType<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly schema: S;
  readonly parallel: boolean;
  readonly description: string | undefined;
  readonly timeoutMs: number | undefined;
  /** When and how often a failed task is tried again. */
  readonly retryPolicy: RetryPolicy;
  readonly onInterrupt: "fail" | "requeue";
  readonly expiresInMs: number | undefined;
  readonly retention: { readonly ttlMs?: number; readonly maxRecords?: number } | undefined;
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
  create(fields: z.input<S>): Task<z.output<S>> {
    return new Task(this as TaskType, this.parse(fields));
  }

  /** Validate untrusted fields; returns them with defaults applied, or throws `TaskValidationError`. */
  parse(fields: unknown): z.output<S> {
    let result: z.ZodSafeParseResult<z.output<S>>;
    try {
      result = this.schema.safeParse(fields);
    } catch (error) {
      // A refine or transform of the user's schema threw: still a refusal, not a crash.
      const message = error instanceof Error ? error.message : String(error);
      throw new TaskValidationError(this.name, [{
        path: "",
        message: `schema check threw: ${message}`,
      }]);
    }
    if (result.success) return result.data;
    const issues: FieldIssue[] = result.error.issues.map((issue) => ({
      path: issuePath(issue.path),
      message: issue.message,
    }));
    throw new TaskValidationError(this.name, issues);
  }

  /** JSON Schema of the fields a client sends. */
  jsonSchema(): Record<string, unknown> {
    return this.#jsonSchema ??= z.toJSONSchema(this.schema, {
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
 * import { z } from "zod";
 * import { defineTask } from "./define.ts";
 * const Greeting = defineTask("Greeting", {
 *   schema: z.object({ greeting: z.string().default("Hello"), name: z.string() }),
 *   parallel: true,
 * });
 * Greeting.create({ name: "Ada" }).fields; // { greeting: "Hello", name: "Ada" }
 * ```
 */
export function defineTask<S extends z.ZodType>(
  name: string,
  options: TaskTypeOptions<S>,
): TaskType<S> {
  return new TaskType(name, options);
}

/** The retry policy of type `name`: from `retries` as a policy, or as a count and a fixed delay. */
function retryPolicyOf(name: string, options: TaskTypeOptions<z.ZodType>): RetryPolicy {
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
  retention: TaskTypeOptions<z.ZodType>["retention"],
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

/** Task types: a name, a zod schema, and whether tasks may run in parallel. */
import { z } from "zod";
import { type FieldIssue, TaskValidationError } from "./errors.ts";
import { durationProblem, RECORD_LIMITS } from "./limits.ts";

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
  /** Extra attempts after a failure (not after a cancel or a refusal); default 0. */
  retries?: number;
  /** Delay before each retry (default 1 000 ms; 0 to 2³¹−1). */
  retryDelayMs?: number;
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
  readonly retries: number;
  readonly retryDelayMs: number;
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
    const delayProblem = options.retryDelayMs === undefined
      ? undefined
      : durationProblem(options.retryDelayMs, true);
    if (delayProblem) throw new TypeError(`task type '${name}': retryDelayMs ${delayProblem}`);
    const retries = options.retries ?? 0;
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new TypeError(
        `task type '${name}': retries must be a whole number from 0, got ${retries}`,
      );
    }
    this.name = name;
    this.schema = options.schema;
    this.parallel = options.parallel;
    this.description = options.description;
    this.timeoutMs = options.timeoutMs;
    this.retries = retries;
    this.retryDelayMs = options.retryDelayMs ?? 1_000;
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

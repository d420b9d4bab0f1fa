/** Code-generating task types: their Python code is computed from validated fields. */
import { z } from "zod";
import { TaskType, type TaskTypeInfo, type TaskTypeOptions } from "./define.ts";

/** What `defineIPythonTask` needs. */
export interface CodeTaskTypeOptions<S extends z.ZodType>
  extends Omit<TaskTypeOptions<S>, "parallel"> {
  /**
   * Builds the Python code from the validated fields, on the service side.
   * Interpolate values with the `py` tag so they enter as literals.
   */
  code: (fields: z.output<S>) => string;
  /** Defaults to `false`; a kernel runs one execution at a time anyway. */
  parallel?: boolean;
}

const codeTaskTypes = new Map<string, CodeTaskType>();

/**
 * A task type whose code runs on a kernel. Make one with `defineIPythonTask`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineIPythonTask } from "./code.ts";
 * import { py } from "./py.ts";
 * const Square = defineIPythonTask("Square", {
 *   schema: z.object({ x: z.number() }),
 *   code: ({ x }) => py`${x} ** 2`,
 * });
 * Square.generate({ x: 3 }); // "3 ** 2"
 * ```
 */
export class CodeTaskType<S extends z.ZodType = z.ZodType> extends TaskType<S> {
  readonly #code: (fields: z.output<S>) => string;

  /** Prefer `defineIPythonTask`. */
  constructor(name: string, options: CodeTaskTypeOptions<S>) {
    super(name, { ...options, parallel: options.parallel ?? false });
    if (typeof options.code !== "function") {
      throw new TypeError(`task type '${name}': code must be a function of the fields`);
    }
    this.#code = options.code;
  }

  /** The code for already-validated fields. */
  generate(fields: z.output<S>): string {
    const code = this.#code(fields);
    if (typeof code !== "string") {
      throw new TypeError(`task type '${this.name}': code() returned ${typeof code}, not a string`);
    }
    return code;
  }

  /** As `TaskType.describe`, with `kind: "code"`. */
  override describe(): TaskTypeInfo {
    return { ...super.describe(), kind: "code" };
  }
}

/**
 * Define a code-generating task type, runnable by any `IPythonService`. Names
 * are unique among code-generating types: a remote client names the type, and
 * the service must find exactly one.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { defineIPythonTask } from "./code.ts";
 * import { py } from "./py.ts";
 * const MaintainNode = defineIPythonTask("MaintainNode", {
 *   schema: z.object({ nodeId: z.string() }),
 *   code: ({ nodeId }) => py`calibration_graph.nodes[${nodeId}].maintain()`,
 * });
 * ```
 */
export function defineIPythonTask<S extends z.ZodType>(
  name: string,
  options: CodeTaskTypeOptions<S>,
): CodeTaskType<S> {
  if (codeTaskTypes.has(name)) {
    throw new Error(`a code-generating task type named '${name}' is already defined`);
  }
  const type = new CodeTaskType(name, options);
  codeTaskTypes.set(name, type as unknown as CodeTaskType);
  return type;
}

/**
 * The code-generating type named `name`, if one is defined in this process.
 *
 * @example
 * ```ts
 * import { findCodeTaskType } from "./code.ts";
 * findCodeTaskType("MaintainNode")?.parallel; // false
 * ```
 */
export function findCodeTaskType(name: string): CodeTaskType | undefined {
  return codeTaskTypes.get(name);
}

/**
 * Every code-generating type defined in this process.
 *
 * @example
 * ```ts
 * import { codeTaskTypeList } from "./code.ts";
 * codeTaskTypeList().map((type) => type.name);
 * ```
 */
export function codeTaskTypeList(): CodeTaskType[] {
  return [...codeTaskTypes.values()];
}

/**
 * Raw code, run as given. Not in the registry: an `IPythonService` accepts it
 * only when created with `allowRawCode: true`.
 *
 * @example
 * ```ts
 * import { ExecuteCode } from "./code.ts";
 * ExecuteCode.create({ code: "1 + 1" });
 * ```
 */
export const ExecuteCode: CodeTaskType<z.ZodObject<{ code: z.ZodString }>> = new CodeTaskType(
  "ExecuteCode",
  {
    schema: z.object({ code: z.string().max(1_000_000) }),
    code: ({ code }) => code,
    description: "Run raw Python (only where the deployment enables it)",
  },
);

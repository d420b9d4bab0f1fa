/** Code-generating task types: their Python code is computed from validated fields. */
import { z } from "zod";
import {
  type FieldSchema,
  type SchemaOutput,
  TaskType,
  type TaskTypeInfo,
  type TaskTypeOptions,
} from "./define.ts";

/**
 * What `defineIPythonTask` needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { type CodeTaskTypeOptions, defineIPythonTask } from "./code.ts";
 * import { py } from "./py.ts";
 * const schema = z.object({ qubit: z.string() });
 * const options: CodeTaskTypeOptions<typeof schema> = {
 *   schema,
 *   code: ({ qubit }) => py`calibrate(${qubit})`,
 *   timeoutMs: 600_000,
 * };
 * assert.equal(defineIPythonTask("CalibrateQubit", options).generate({ qubit: "q0" }), 'calibrate("q0")');
 * ```
 */
export interface CodeTaskTypeOptions<S extends FieldSchema>
  extends Omit<TaskTypeOptions<S>, "parallel"> {
  /**
   * Builds the Python code from the validated fields, on the service side.
   * Interpolate values with the `py` tag so they enter as literals.
   */
  code: (fields: SchemaOutput<S>) => string;
  /** Defaults to `false`; a kernel runs one execution at a time anyway. */
  parallel?: boolean;
}

const codeTaskTypes = new Map<string, CodeTaskType>();

/**
 * A task type whose code runs on a kernel. Make one with `defineIPythonTask`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineIPythonTask } from "./code.ts";
 * import { py } from "./py.ts";
 * const Square = defineIPythonTask("Square", {
 *   schema: z.object({ x: z.number() }),
 *   code: ({ x }) => py`${x} ** 2`,
 * });
 * assert.equal(Square.generate({ x: 3 }), "3 ** 2");
 * assert.equal(Square.parallel, false); // a kernel runs one execution at a time
 * assert.equal(Square.describe().kind, "code");
 * ```
 */
export class CodeTaskType<S extends FieldSchema = FieldSchema> extends TaskType<S> {
  readonly #code: (fields: SchemaOutput<S>) => string;

  /** Prefer `defineIPythonTask`. */
  constructor(name: string, options: CodeTaskTypeOptions<S>) {
    super(name, { ...options, parallel: options.parallel ?? false });
    if (typeof options.code !== "function") {
      throw new TypeError(`task type '${name}': code must be a function of the fields`);
    }
    this.#code = options.code;
  }

  /** The code for already-validated fields. */
  generate(fields: SchemaOutput<S>): string {
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
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineIPythonTask } from "./code.ts";
 * import { py } from "./py.ts";
 * const MaintainNode = defineIPythonTask("MaintainNode", {
 *   schema: z.object({ nodeId: z.string() }),
 *   code: ({ nodeId }) => py`calibration_graph.nodes[${nodeId}].maintain()`,
 * });
 * assert.equal(
 *   MaintainNode.generate(MaintainNode.parse({ nodeId: 'q0"]; import os #' })),
 *   'calibration_graph.nodes["q0\\"]; import os #"].maintain()', // a string literal, not code
 * );
 * assert.throws(
 *   () => defineIPythonTask("MaintainNode", { schema: z.object({}), code: () => "" }),
 *   /already defined/,
 * );
 * ```
 */
export function defineIPythonTask<S extends FieldSchema>(
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
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineIPythonTask, findCodeTaskType } from "./code.ts";
 * const Reset = defineIPythonTask("Reset", { schema: z.object({}), code: () => "reset()" });
 * assert.equal(findCodeTaskType("Reset"), Reset);
 * assert.equal(findCodeTaskType("Nope"), undefined);
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
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { codeTaskTypeList, defineIPythonTask } from "./code.ts";
 * defineIPythonTask("Status", { schema: z.object({}), code: () => "status()" });
 * assert.ok(codeTaskTypeList().some((type) => type.name === "Status"));
 * ```
 */
export function codeTaskTypeList(): CodeTaskType[] {
  return [...codeTaskTypes.values()];
}

/**
 * The fields of {@linkcode ExecuteCode}: the code, at most 1 000 000 characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExecuteCode, type RawCodeSchema } from "./code.ts";
 * const schema: RawCodeSchema = ExecuteCode.schema;
 * assert.deepEqual(ExecuteCode.parse({ code: "1 + 1" }), { code: "1 + 1" });
 * assert.ok(schema);
 * ```
 */
export type RawCodeSchema = FieldSchema<{ code: string }, { code: string }>;

/**
 * Raw code, run as given. Not in the registry: an `IPythonService` accepts it
 * only when created with `allowRawCode: true`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ExecuteCode, findCodeTaskType } from "./code.ts";
 * assert.equal(ExecuteCode.generate(ExecuteCode.create({ code: "1 + 1" }).fields), "1 + 1");
 * assert.equal(findCodeTaskType("ExecuteCode"), undefined); // not in the registry
 * ```
 */
export const ExecuteCode: CodeTaskType<RawCodeSchema> = new CodeTaskType<RawCodeSchema>(
  "ExecuteCode",
  {
    schema: z.object({ code: z.string().max(1_000_000) }),
    code: ({ code }) => code,
    description: "Run raw Python (only where the deployment enables it)",
  },
);

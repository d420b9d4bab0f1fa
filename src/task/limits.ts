/**
 * The bounds of a task record, and the pure functions that apply them: every
 * record the runtime keeps, lists and sends stays small enough to read and to
 * encode, whatever a client sent or a handler returned.
 *
 * Nothing here recurses: values are walked with an explicit stack, so a value
 * nested 100 000 deep (or one that refers to itself) is measured, not a
 * stack overflow.
 */
import { RuntimeErrorName } from "./errors.ts";
import type { DisplayOutput, Execution, TaskOutcome } from "./outcome.ts";

/**
 * What one task record may hold: the shape of {@linkcode RECORD_LIMITS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECORD_LIMITS, type RecordLimits } from "./limits.ts";
 * const limits: Readonly<RecordLimits> = RECORD_LIMITS;
 * assert.ok(limits.fieldsChars > limits.attributesChars);
 * ```
 */
export interface RecordLimits {
  /** Deepest nesting of objects and arrays in fields, attributes, results and outputs. */
  depth: number;
  /** Longest service name, task type name or error name, in characters. */
  nameChars: number;
  /** Largest fields of a task, in characters of JSON (HTTP and WebSocket bodies are smaller). */
  fieldsChars: number;
  /** Largest `attributes`, in characters of JSON. */
  attributesChars: number;
  /** Each of `stdout`, `stderr` and the code that ran, in characters. */
  textChars: number;
  /** A traceback, in characters. */
  tracebackChars: number;
  /** An error's message (`evalue`), in characters. */
  evalueChars: number;
  /** A result, in characters of JSON (a string result is cut like text). */
  resultChars: number;
  /** All rich outputs of one task together (displays and the result's bundle), in characters. */
  outputChars: number;
  /** Lines a handler may add to a task's log (state changes are always logged). */
  logEntries: number;
  /** One log line, in characters. */
  logMessageChars: number;
  /** The one-line preview of an outcome in task lists and events. */
  briefChars: number;
}

/**
 * What one task record may hold. Text beyond a limit keeps its head and its
 * tail with a line saying how much was cut; a value that cannot be cut (a
 * result object, fields, attributes) is refused instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RECORD_LIMITS } from "./limits.ts";
 * assert.equal(RECORD_LIMITS.depth, 32);
 * assert.equal(RECORD_LIMITS.fieldsChars, 1024 * 1024);
 * assert.ok(Object.isFrozen(RECORD_LIMITS));
 * ```
 */
export const RECORD_LIMITS: Readonly<RecordLimits> = Object.freeze({
  depth: 32,
  nameChars: 200,
  fieldsChars: 1024 * 1024,
  attributesChars: 16 * 1024,
  textChars: 256 * 1024,
  tracebackChars: 64 * 1024,
  evalueChars: 8 * 1024,
  resultChars: 1024 * 1024,
  outputChars: 4 * 1024 * 1024,
  logEntries: 1_000,
  logMessageChars: 8 * 1024,
  briefChars: 200,
});

/**
 * Longest duration a timer can take: 2³¹−1 ms (about 24.8 days). Longer ones
 * overflow `setTimeout`, which then fires at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_DURATION_MS } from "./limits.ts";
 * assert.equal(MAX_DURATION_MS, 2_147_483_647);
 * ```
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Why `value` is not a usable duration in milliseconds (a positive finite
 * number up to `MAX_DURATION_MS`; `0` too with `allowZero`), or `undefined`
 * if it is one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { durationProblem } from "./limits.ts";
 * assert.equal(durationProblem(5_000), undefined);
 * assert.equal(
 *   durationProblem(3_000_000_000),
 *   "must be at most 2147483647 ms (about 24.8 days), got 3000000000",
 * );
 * assert.match(durationProblem(0) ?? "", /above 0/);
 * assert.equal(durationProblem(0, true), undefined);
 * ```
 */
export function durationProblem(value: unknown, allowZero = false): string | undefined {
  const range = `${allowZero ? "from 0" : "above 0"} up to ${MAX_DURATION_MS} ms`;
  if (typeof value !== "number" || !Number.isFinite(value)) {
    return `must be a finite number of milliseconds ${range}, got ${describe(value)}`;
  }
  if (value < 0 || (value === 0 && !allowZero)) {
    return `must be a number of milliseconds ${range}, got ${value}`;
  }
  if (value > MAX_DURATION_MS) {
    return `must be at most ${MAX_DURATION_MS} ms (about 24.8 days), got ${value}`;
  }
  return undefined;
}

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  return value === null ? "null" : typeof value;
}

/**
 * What `measureJson` found: about how many characters the value's JSON
 * takes, and why it stopped early if it did (`depth`: nested deeper than
 * allowed, or refers to itself; `size`: over the character budget).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type JsonMeasure, measureJson } from "./limits.ts";
 * const measure: JsonMeasure = measureJson({ samples: new Array(10_000).fill(0) }, 32, 1_000);
 * assert.equal(measure.problem, "size");
 * ```
 */
export interface JsonMeasure {
  /** Characters counted (until it stopped, if it stopped early). */
  chars: number;
  /** Why it stopped early; absent if it measured the whole value. */
  problem?: "depth" | "size";
}

/**
 * Measure `value` as `JSON.stringify` would write it, without recursion:
 * about how many characters, stopping as soon as it nests deeper than
 * `maxDepth` levels of objects and arrays or passes `maxChars`. `{}` is one
 * level, a scalar none. Getters and `toJSON` run as they would when encoding.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { measureJson } from "./limits.ts";
 * assert.deepEqual(measureJson({ a: [1, 2] }, 32, 1_000), { chars: '{"a":[1,2]}'.length });
 * assert.equal(measureJson([[[]]], 2, 1_000).problem, "depth");
 * const cyclic: Record<string, unknown> = {};
 * cyclic.self = cyclic;
 * assert.equal(measureJson(cyclic, 32, 1_000_000).problem, "depth"); // no stack overflow
 * ```
 */
export function measureJson(value: unknown, maxDepth: number, maxChars: number): JsonMeasure {
  if (typeof value !== "object" || value === null) return { chars: scalarChars(value) };
  const flat = maxDepth >= 1 ? flatChars(value) : undefined;
  if (flat !== undefined) {
    return flat > maxChars ? { chars: flat, problem: "size" } : { chars: flat };
  }
  let chars = 0;
  // Pairs of (value, its depth): one array, no recursion.
  const stack: unknown[] = [value, 0];
  while (stack.length > 0) {
    const depth = stack.pop() as number;
    let item = stack.pop();
    if (
      typeof item === "object" && item !== null &&
      typeof (item as { toJSON?: unknown }).toJSON === "function"
    ) {
      item = (item as { toJSON(): unknown }).toJSON();
    }
    if (typeof item !== "object" || item === null) {
      chars += scalarChars(item);
    } else if (depth >= maxDepth) {
      return { chars, problem: "depth" };
    } else if (Array.isArray(item)) {
      chars += 1 + Math.max(item.length, 1);
      for (let i = item.length - 1; i >= 0; i--) stack.push(item[i], depth + 1);
    } else {
      const keys = Object.keys(item);
      chars += 1 + Math.max(keys.length, 1);
      for (const key of keys) {
        chars += key.length + 3;
        stack.push((item as Record<string, unknown>)[key], depth + 1);
      }
    }
    if (chars > maxChars) return { chars, problem: "size" };
  }
  return { chars };
}

/**
 * Characters of a plain object whose values are all scalars (most fields),
 * measured without a stack; `undefined` for any other object.
 */
function flatChars(object: object): number | undefined {
  if (Array.isArray(object) || typeof (object as { toJSON?: unknown }).toJSON === "function") {
    return undefined;
  }
  let chars = 2;
  for (const key in object) {
    if (!Object.hasOwn(object, key)) continue;
    const item = (object as Record<string, unknown>)[key];
    if (typeof item === "object" && item !== null) return undefined;
    chars += key.length + 4 + scalarChars(item);
  }
  return chars;
}

/** Characters of a scalar's JSON; `undefined`, functions and symbols count as `null`. */
function scalarChars(value: unknown): number {
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
      return Number.isFinite(value) ? String(value).length : 4;
    case "boolean":
      return 5;
    case "bigint":
      return String(value).length + 2;
    default:
      return 4;
  }
}

/**
 * Why `value` cannot be kept (nested too deep or cyclic, too large,
 * unreadable), as a phrase to follow "is" or "are"; `undefined` if it can.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { jsonProblem } from "./limits.ts";
 * assert.equal(jsonProblem({ user: "ada" }, 1_000), undefined);
 * assert.equal(
 *   jsonProblem(JSON.parse("[".repeat(40) + "]".repeat(40)), 1_000),
 *   "nested deeper than the limit of 32 levels (or cyclic)",
 * );
 * assert.equal(
 *   jsonProblem({ note: "x".repeat(2_000) }, 1_000),
 *   "over the limit of 1,000 characters of JSON",
 * );
 * ```
 */
export function jsonProblem(value: unknown, maxChars: number): string | undefined {
  let measure: JsonMeasure;
  try {
    measure = measureJson(value, RECORD_LIMITS.depth, maxChars);
  } catch (error) {
    return `unreadable: ${error instanceof Error ? error.message : String(error)}`;
  }
  if (measure.problem === "depth") {
    return `nested deeper than the limit of ${RECORD_LIMITS.depth} levels (or cyclic)`;
  }
  if (measure.problem === "size") return `over the limit of ${count(maxChars)} characters of JSON`;
  return undefined;
}

const count = (n: number) => n.toLocaleString("en");

/**
 * `text` if it has at most `maxChars` characters; else its head and its
 * tail around a line that says how many characters were cut (the whole stays
 * within `maxChars`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { cutText } from "./limits.ts";
 * assert.equal(cutText("short", 100), "short");
 * const cut = cutText("x".repeat(1_000), 100);
 * assert.ok(cut.length <= 100);
 * assert.match(cut, /^x+\n… \[928 characters cut\] …\nx+$/);
 * ```
 */
export function cutText(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const marker = (cut: number) => `\n… [${count(cut)} characters cut] …\n`;
  const keep = Math.max(maxChars - marker(text.length).length, 0);
  const head = Math.ceil(keep / 2);
  const tail = keep - head;
  return text.slice(0, head) + marker(text.length - keep) + (tail > 0 ? text.slice(-tail) : "");
}

/**
 * `outcome` within `RECORD_LIMITS`: the same object when nothing is over a
 * limit (the common case, at the cost of a walk of its values), else a
 * bounded copy. Long text keeps its head and tail; rich outputs beyond the
 * budget are replaced by a note; a result that is too large or too deep
 * (or cannot be read) turns the outcome into a `ResultTooLargeError`,
 * keeping what the kernel printed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { limitOutcome } from "./limits.ts";
 * const big = { status: "ok" as const, id: "t1", result: { data: "x".repeat(2_000_000) } };
 * const limited = limitOutcome(big);
 * assert.equal(limited.status, "error");
 * assert.equal(limited.status === "error" && limited.ename, "ResultTooLargeError");
 * const small = { status: "ok" as const, id: "t2", result: 42 };
 * assert.equal(limitOutcome(small), small); // within the limits: the same object
 * ```
 */
export function limitOutcome(outcome: TaskOutcome): TaskOutcome {
  const execution = outcome.execution && limitExecution(outcome.execution);
  if (outcome.status === "ok") {
    const result = outcome.result;
    if (typeof result === "string") {
      const cut = cutText(result, RECORD_LIMITS.resultChars);
      if (cut === result && execution === outcome.execution) return outcome;
      return withExecution({ ...outcome, result: cut }, execution);
    }
    if (result === null || typeof result !== "object") {
      return execution === outcome.execution ? outcome : withExecution({ ...outcome }, execution);
    }
    const problem = jsonProblem(result, RECORD_LIMITS.resultChars);
    if (problem) {
      const evalue = `the result is ${problem}: return less (a summary, or where to find the data)`;
      return withExecution(
        {
          status: "error",
          id: outcome.id,
          ename: RuntimeErrorName.ResultTooLarge,
          evalue,
          traceback: "",
        },
        execution,
      );
    }
    return execution === outcome.execution ? outcome : withExecution({ ...outcome }, execution);
  }
  const ename = cutText(String(outcome.ename), RECORD_LIMITS.nameChars);
  const evalue = cutText(String(outcome.evalue), RECORD_LIMITS.evalueChars);
  const traceback = cutText(String(outcome.traceback ?? ""), RECORD_LIMITS.tracebackChars);
  if (
    ename === outcome.ename && evalue === outcome.evalue && traceback === outcome.traceback &&
    execution === outcome.execution
  ) {
    return outcome;
  }
  return withExecution({ ...outcome, ename, evalue, traceback }, execution);
}

function withExecution(outcome: TaskOutcome, execution: Execution | undefined): TaskOutcome {
  if (execution === undefined) delete outcome.execution;
  else outcome.execution = execution;
  return outcome;
}

/** `execution` within the limits: the same object if nothing was over. */
function limitExecution(execution: Execution): Execution {
  const { code, stdout, stderr } = execution;
  const cut = {
    code: cutText(String(code ?? ""), RECORD_LIMITS.textChars),
    stdout: cutText(String(stdout ?? ""), RECORD_LIMITS.textChars),
    stderr: cutText(String(stderr ?? ""), RECORD_LIMITS.textChars),
  };
  const outputs = limitOutputs(execution);
  if (
    cut.code === code && cut.stdout === stdout && cut.stderr === stderr && outputs === undefined
  ) {
    return execution;
  }
  return { ...execution, ...cut, ...outputs };
}

/**
 * The displays and the result's bundle within one budget, the result's
 * bundle first (it is the answer); `undefined` if all of them fit as they are.
 */
function limitOutputs(
  execution: Execution,
): Pick<Execution, "displays" | "executeResult"> | undefined {
  let budget = RECORD_LIMITS.outputChars;
  let changed = false;
  let executeResult = execution.executeResult;
  if (executeResult !== undefined) {
    const size = outputSize(executeResult, budget);
    if (size === undefined) {
      changed = true;
      const text = executeResult?.data?.["text/plain"];
      executeResult = {
        data: {
          "text/plain": cutText(typeof text === "string" ? text : "", RECORD_LIMITS.textChars) +
            `\n[the result's other forms were cut: over the limit of ${
              count(RECORD_LIMITS.outputChars)
            } characters of outputs per task]`,
        },
        metadata: {},
      };
    } else budget -= size;
  }
  const displays = Array.isArray(execution.displays) ? execution.displays : [];
  let kept = displays.length;
  for (let i = 0; i < displays.length; i++) {
    const size = outputSize(displays[i], budget);
    if (size === undefined) {
      kept = i;
      break;
    }
    budget -= size;
  }
  if (kept < displays.length) {
    changed = true;
    const note: DisplayOutput = {
      data: {
        "text/plain": `[${
          displays.length - kept
        } of ${displays.length} outputs cut: over the limit of ${
          count(RECORD_LIMITS.outputChars)
        } characters of outputs per task]`,
      },
      metadata: {},
    };
    return withResult({ displays: [...displays.slice(0, kept), note] }, executeResult);
  }
  if (!changed) return undefined;
  return withResult({ displays }, executeResult);
}

/** `outputs` with `executeResult` only if there is one. */
function withResult(
  outputs: Pick<Execution, "displays" | "executeResult">,
  executeResult: DisplayOutput | undefined,
): Pick<Execution, "displays" | "executeResult"> {
  if (executeResult !== undefined) outputs.executeResult = executeResult;
  return outputs;
}

/** Characters `output` takes, or `undefined` if it is over `budget`, too deep or unreadable. */
function outputSize(output: unknown, budget: number): number | undefined {
  try {
    const measure = measureJson(output, RECORD_LIMITS.depth, budget);
    return measure.problem ? undefined : measure.chars;
  } catch {
    return undefined;
  }
}

/**
 * A one-line preview of an outcome, for task lists and events: a JSON
 * preview of the result, or `ename: evalue`, at most
 * `RECORD_LIMITS.briefChars` characters.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { briefOf } from "./limits.ts";
 * assert.deepEqual(briefOf({ status: "ok", id: "t1", result: { volts: 5 } }), {
 *   status: "ok",
 *   text: '{"volts":5}',
 * });
 * assert.deepEqual(
 *   briefOf({ status: "error", id: "t1", ename: "RangeError", evalue: "too big", traceback: "" }),
 *   { status: "error", text: "RangeError: too big" },
 * );
 * ```
 */
export function briefOf(outcome: TaskOutcome): { status: "ok" | "error"; text: string } {
  const max = RECORD_LIMITS.briefChars;
  const text = outcome.status === "ok"
    ? previewJson(outcome.result, max)
    : `${outcome.ename}: ${outcome.evalue}`;
  return { status: outcome.status, text: text.length > max ? `${text.slice(0, max - 1)}…` : text };
}

/**
 * About the first `maxChars` characters of `value`'s JSON (a record's result
 * is within the limits, so encoding it is safe; only its start is kept).
 */
function previewJson(value: unknown, maxChars: number): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, maxChars));
  try {
    const text = JSON.stringify(
      value,
      (_key, v) => typeof v === "bigint" ? v.toString() : v,
    ) as string | undefined;
    return (text ?? "").slice(0, maxChars + 1);
  } catch (error) {
    return `[cannot be shown: ${error instanceof Error ? error.message : String(error)}]`;
  }
}

/**
 * `deno task zest codegen python`: a Python module with one dataclass per task
 * type, written from the JSON Schemas that `GET /services` lists, for use with
 * `clients/python/zest_client.py`.
 *
 * The generated module imports only the standard library (Python ≥ 3.10). Each
 * class takes keyword arguments named in snake_case, maps them to the schema's
 * names (`node_id` ↔ `nodeId`, in `FIELD_NAMES`), and checks on construction
 * what the JSON Schema says: required, type, enum, const, minimum/maximum
 * (exclusive too), multipleOf, minLength/maxLength (counted in UTF-16 units, as
 * the server counts), pattern, array items and lengths, object properties. The
 * server validates again and has the last word.
 *
 * @module
 */
import type { TaskTypeInfo } from "../task/define.ts";

/**
 * What the generator needs of a service: a `ServiceInfo` from `GET /services` fits.
 *
 * @example
 * ```ts
 * import type { CodegenService } from "./codegen.ts";
 * const service: CodegenService = { name: "greeter", taskTypes: [] };
 * ```
 */
export interface CodegenService {
  name: string;
  taskTypes: readonly TaskTypeInfo[];
}

type Json = Record<string, unknown>;

const PYTHON_KEYWORDS = new Set(
  ("False None True and as assert async await break class continue def del elif else except " +
    "finally for from global if import in is lambda nonlocal not or pass raise return try while " +
    "with yield").split(" "),
);

/**
 * Attribute names the base class uses (`self` would clash in `__init__`),
 * and the builtins the class body's annotations and defaults name: a field
 * `list` assigned before a later field's `list[str]` would be read there.
 */
const RESERVED_ATTRIBUTES = new Set([
  "self",
  "validate",
  "to_fields",
  "from_fields",
  "str",
  "int",
  "float",
  "bool",
  "list",
  "dict",
]);

/**
 * Python's builtin names (3.10 to 3.13): a class named like one would shadow
 * it in the module's own checks and in a `from lab_tasks import *`.
 */
const PYTHON_BUILTINS = (
  "ArithmeticError AssertionError AttributeError BaseException BaseExceptionGroup " +
  "BlockingIOError BrokenPipeError BufferError BytesWarning ChildProcessError " +
  "ConnectionAbortedError ConnectionError ConnectionRefusedError ConnectionResetError " +
  "DeprecationWarning EOFError Ellipsis EncodingWarning EnvironmentError Exception " +
  "ExceptionGroup FileExistsError FileNotFoundError FloatingPointError FutureWarning " +
  "GeneratorExit IOError ImportError ImportWarning IndentationError IndexError " +
  "InterruptedError IsADirectoryError KeyError KeyboardInterrupt LookupError MemoryError " +
  "ModuleNotFoundError NameError NotADirectoryError NotImplemented NotImplementedError " +
  "OSError OverflowError PendingDeprecationWarning PermissionError ProcessLookupError " +
  "PythonFinalizationError RecursionError ReferenceError ResourceWarning RuntimeError " +
  "RuntimeWarning StopAsyncIteration StopIteration SyntaxError SyntaxWarning SystemError " +
  "SystemExit TabError TimeoutError TypeError UnboundLocalError UnicodeDecodeError " +
  "UnicodeEncodeError UnicodeError UnicodeTranslateError UnicodeWarning UserWarning " +
  "ValueError Warning ZeroDivisionError abs aiter all anext any ascii bin bool breakpoint " +
  "bytearray bytes callable chr classmethod compile complex copyright credits delattr dict " +
  "dir divmod enumerate eval exec exit filter float format frozenset getattr globals " +
  "hasattr hash help hex id input int isinstance issubclass iter len license list locals " +
  "map max memoryview min next object oct open ord pow print property quit range repr " +
  "reversed round set setattr slice sorted staticmethod str sum super tuple type vars zip"
).split(" ");

/** Names the module defines, and Python's builtins: a class must not shadow them. */
const RESERVED_CLASSES = new Set([
  "ZestTask",
  "ZestRawTask",
  "TaskFieldsError",
  "TASK_CLASSES",
  ...PYTHON_BUILTINS,
]);

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/**
 * The snake_case attribute for a schema field name: words split at case changes
 * (`nodeId` → `node_id`, `qubitIDs` → `qubit_ids`, `HTTPPort` → `http_port`),
 * other characters as `_`, leading underscores dropped (`__x` would be mangled
 * in a class), `f_` before a leading digit, `_` after a Python keyword, a name
 * the task classes use or a builtin their annotations name (`class` →
 * `class_`, `to_fields` → `to_fields_`, `list` → `list_`).
 *
 * @example
 * ```ts
 * import { pythonAttributeName } from "./codegen.ts";
 * pythonAttributeName("nodeId"); // "node_id"
 * pythonAttributeName("class"); // "class_"
 * ```
 */
export function pythonAttributeName(name: string): string {
  let snake = name
    .replace(/([A-Z]{2,})s(?![a-z])/g, "$1S") // a plural acronym (IDs, URLs) is one word
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1_$2")
    .replace(/[^A-Za-z0-9_]+/g, "_")
    .toLowerCase()
    .replace(/^_+/, "");
  if (snake === "" || /^[0-9]/.test(snake)) snake = `f_${snake}`;
  if (PYTHON_KEYWORDS.has(snake) || RESERVED_ATTRIBUTES.has(snake)) snake += "_";
  return snake;
}

/**
 * The Python class name for a task type name: characters a Python name cannot
 * hold (`.` and `-`) become `_`; a name starting with `_` (the module's own
 * helpers are named so: `_t`, `_check`) or a digit gets a leading `T`, `T_`; a
 * keyword, builtin or name the module defines gets a trailing `_`.
 *
 * @example
 * ```ts
 * import { pythonClassName } from "./codegen.ts";
 * pythonClassName("lab.Measure-T1"); // "lab_Measure_T1"
 * pythonClassName("_t"); // "T_t"
 * pythonClassName("isinstance"); // "isinstance_"
 * ```
 */
export function pythonClassName(name: string): string {
  let cls = name.replace(/[^A-Za-z0-9_]/g, "_");
  if (cls === "" || /^[0-9]/.test(cls)) cls = `T_${cls}`;
  else if (cls.startsWith("_")) cls = `T${cls}`;
  if (PYTHON_KEYWORDS.has(cls) || RESERVED_CLASSES.has(cls)) cls += "_";
  return cls;
}

/** `base`, or `base_2`, `base_3`… : the first not in `taken` (which it joins). */
function unique(base: string, taken: Set<string>): string {
  let name = base;
  for (let n = 2; taken.has(name); n++) name = `${base}_${n}`;
  taken.add(name);
  return name;
}

/**
 * Characters that would not show as themselves in the module: controls (but
 * tab and newline), C1, line separators, zero-width and bidirectional
 * controls, which could make the code read otherwise than it runs.
 */
const INVISIBLE =
  // deno-lint-ignore no-control-regex
  /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** `text` with each invisible character as a `\uXXXX` escape (the same in JSON and Python). */
function escapeInvisible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * A JSON value as a Python literal (strings through JSON's escapes, which
 * Python reads the same).
 */
function pyLiteral(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") {
    if (Number.isFinite(value)) return String(value);
    return Number.isNaN(value) ? 'float("nan")' : `float("${value > 0 ? "inf" : "-inf"}")`;
  }
  if (typeof value === "string") return escapeInvisible(JSON.stringify(value));
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(", ")}]`;
  if (isObject(value)) {
    const items = Object.entries(value).map(([k, v]) => `${pyLiteral(k)}: ${pyLiteral(v)}`);
    return `{${items.join(", ")}}`;
  }
  return "None";
}

/**
 * Text for inside a `"""` docstring: no escape sequences, no closing quotes;
 * a lone surrogate as U+FFFD (Python refuses a class whose docstring holds one).
 */
function docText(text: string): string {
  return escapeInvisible(
    text.toWellFormed().replaceAll("\\", "\\\\").replaceAll('"""', '\\"\\"\\"'),
  );
}

function union(hints: string[]): string {
  const distinct = [...new Set(hints)];
  if (distinct.length === 0 || distinct.includes("_t.Any")) return "_t.Any";
  return distinct.join(" | ");
}

/** `_t.Literal[...]` for values a Literal may hold, else undefined. */
function literalHint(values: unknown[]): string | undefined {
  const literal = (v: unknown) =>
    v === null || typeof v === "string" || typeof v === "boolean" || Number.isInteger(v);
  if (values.length === 0 || !values.every(literal)) return undefined;
  return `_t.Literal[${values.map(pyLiteral).join(", ")}]`;
}

/** The Python type hint for a JSON Schema. */
function typeHint(schema: unknown): string {
  if (!isObject(schema)) return "_t.Any";
  if ("const" in schema) return literalHint([schema.const]) ?? "_t.Any";
  if (Array.isArray(schema.enum)) {
    return literalHint(schema.enum) ??
      union(schema.enum.map((v) => typeof v === "number" ? "float" : "_t.Any"));
  }
  const options = schema.anyOf ?? schema.oneOf;
  if (Array.isArray(options)) return union(options.map(typeHint));
  const types = typeof schema.type === "string"
    ? [schema.type]
    : Array.isArray(schema.type)
    ? schema.type
    : [];
  return union(types.map((type) => {
    switch (type) {
      case "string":
        return "str";
      case "integer":
        return "int";
      case "number":
        return "float";
      case "boolean":
        return "bool";
      case "null":
        return "None";
      case "array":
        return Array.isArray(schema.prefixItems) || !isObject(schema.items)
          ? "list[_t.Any]"
          : `list[${typeHint(schema.items)}]`;
      case "object":
        return `dict[str, ${
          isObject(schema.additionalProperties) ? typeHint(schema.additionalProperties) : "_t.Any"
        }]`;
      default:
        return "_t.Any";
    }
  }));
}

/** A short summary of a field's constraints, for the docstring. */
function constraints(schema: Json): string[] {
  const out: string[] = [];
  const number = (key: string, text: string) => {
    if (typeof schema[key] === "number") out.push(`${text} ${schema[key]}`);
  };
  if (Array.isArray(schema.enum)) out.push(`one of ${schema.enum.map(pyLiteral).join(", ")}`);
  number("minimum", ">=");
  number("exclusiveMinimum", ">");
  number("maximum", "<=");
  number("exclusiveMaximum", "<");
  number("multipleOf", "multiple of");
  number("minLength", "length >=");
  number("maxLength", "length <=");
  number("minItems", "items >=");
  number("maxItems", "items <=");
  if (typeof schema.pattern === "string") out.push(`pattern ${schema.pattern}`);
  if (typeof schema.format === "string") out.push(`format ${schema.format}`);
  return out;
}

interface Field {
  attribute: string;
  name: string;
  hint: string;
  /** The Python after the annotation: ` = …`, or `""` for a required field. */
  defaultCode: string;
  doc: string;
}

function fieldsOf(schema: Json): Field[] {
  const properties = isObject(schema.properties) ? schema.properties : {};
  const required = new Set(Array.isArray(schema.required) ? schema.required.map(String) : []);
  const taken = new Set<string>();
  return Object.entries(properties).map(([name, property]) => {
    const prop = isObject(property) ? property : {};
    const attribute = unique(pythonAttributeName(name), taken);
    let hint = typeHint(prop);
    let defaultCode = "";
    const notes: string[] = [];
    if ("default" in prop) {
      const value = prop.default;
      defaultCode = value !== null && typeof value === "object"
        ? ` = _dataclasses.field(default_factory=lambda: ${pyLiteral(value)})`
        : ` = ${pyLiteral(value)}`;
      notes.push(`default ${pyLiteral(value)}`);
    } else if (required.has(name)) {
      notes.push("required");
    } else {
      hint = union([hint, "None"]);
      defaultCode = " = None";
      notes.push("optional");
    }
    notes.push(...constraints(prop));
    const description = typeof prop.description === "string" ? ` — ${prop.description}` : "";
    const named = attribute === name ? attribute : `${attribute} (${name})`;
    const doc = `${named}: ${hint.replaceAll("_t.", "")}; ${notes.join("; ")}${description}`;
    return { attribute, name, hint, defaultCode, doc };
  });
}

interface Variant {
  type: TaskTypeInfo;
  services: string[];
}

/** Task types by name, and within a name by schema: one class per distinct schema. */
function variants(services: readonly CodegenService[]): Variant[][] {
  const byName = new Map<string, Map<string, Variant>>();
  for (const service of services) {
    for (const type of service.taskTypes) {
      const schemas = byName.get(type.name) ?? new Map<string, Variant>();
      byName.set(type.name, schemas);
      const key = JSON.stringify(type.schema);
      const variant = schemas.get(key) ?? { type, services: [] };
      schemas.set(key, variant);
      if (!variant.services.includes(service.name)) variant.services.push(service.name);
    }
  }
  return [...byName.values()].map((schemas) => [...schemas.values()]);
}

function indentDoc(lines: string[]): string {
  return lines.map((line) => (line ? `    ${line}` : "")).join("\n");
}

function classSource(className: string, { type, services }: Variant): string {
  const schema = isObject(type.schema) ? type.schema : {};
  const isObjectSchema = schema.type === "object" && !("anyOf" in schema) &&
    !("oneOf" in schema);
  const fields = isObjectSchema ? fieldsOf(schema) : [];
  const mode = type.parallel ? "parallel" : "serial";
  const kind = type.kind === "code" ? "; Python code generated and run on a kernel" : "";
  const doc = [
    docText(type.description ?? `The ${type.name} task type.`),
    "",
    docText(
      `Task type ${type.name} (${mode}${kind}), offered by: ${services.join(", ")}.`,
    ),
    "",
    ...(isObjectSchema
      ? fields.length
        ? [
          "Attributes (the schema's name in brackets where it differs):",
          ...fields.map((f) => `    ${docText(f.doc)}`),
        ]
        : ["No fields."]
      : ["fields: the whole payload, checked against SCHEMA."]),
  ];
  const lines = [
    "@_dataclasses.dataclass(kw_only=True)",
    `class ${className}(${isObjectSchema ? "ZestTask" : "ZestRawTask"}):`,
    `    """${indentDoc(doc).trimStart()}\n    """`,
    "",
    `    TASK_TYPE: _t.ClassVar[str] = ${pyLiteral(type.name)}`,
    `    SERVICES: _t.ClassVar[tuple[str, ...]] = (${
      services.map((s) => `${pyLiteral(s)},`).join(" ")
    })`,
    `    PARALLEL: _t.ClassVar[bool] = ${pyLiteral(type.parallel)}`,
    `    DESCRIPTION: _t.ClassVar[str | None] = ${pyLiteral(type.description ?? null)}`,
    `    FIELD_NAMES: _t.ClassVar[dict[str, str]] = {${
      fields.map((f) => `${pyLiteral(f.attribute)}: ${pyLiteral(f.name)}`).join(", ")
    }}`,
    `    SCHEMA: _t.ClassVar[dict[str, _t.Any]] = ${pyLiteral(schema)}`,
  ];
  if (fields.length || !isObjectSchema) lines.push("");
  if (isObjectSchema) {
    for (const field of fields) {
      lines.push(`    ${field.attribute}: ${field.hint}${field.defaultCode}`);
    }
  } else {
    lines.push("    fields: _t.Any = _dataclasses.field(default_factory=dict)");
  }
  return lines.join("\n");
}

/**
 * The Python module for `services`' task types: one dataclass per task type
 * (per distinct schema, when services differ on a type's schema), a
 * `TaskFieldsError`, and `TASK_CLASSES`. Deterministic: the same services give
 * the same text.
 *
 * @example
 * ```ts
 * import { generatePython } from "./codegen.ts";
 * const source = generatePython([{
 *   name: "calibration",
 *   taskTypes: [{
 *     name: "MaintainNode", parallel: false, kind: "code",
 *     schema: { type: "object", properties: { nodeId: { type: "string" } }, required: ["nodeId"] },
 *   }],
 * }]);
 * source.includes("class MaintainNode(ZestTask):"); // true
 * source.includes("    node_id: str"); // true
 * ```
 */
export function generatePython(services: readonly CodegenService[]): string {
  const taken = new Set<string>();
  const classes: { name: string; source: string }[] = [];
  for (const group of variants(services)) {
    for (const variant of group) {
      const base = pythonClassName(variant.type.name);
      // Services that disagree on a type's schema: one class each, named after the service.
      const wanted = group.length > 1 ? `${base}_${pythonClassName(variant.services[0])}` : base;
      const name = unique(wanted, taken);
      classes.push({ name, source: classSource(name, variant) });
    }
  }
  const names = classes.map((c) => c.name);
  const exported = ["TASK_CLASSES", "TaskFieldsError", "ZestRawTask", "ZestTask", ...names];
  return [
    PRELUDE,
    "",
    ...classes.map((c) => `${c.source}\n\n`),
    `TASK_CLASSES: tuple[type[ZestTask], ...] = (${names.map((n) => `${n},`).join(" ")})`,
    `"""Every class above, in the order \`GET /services\` listed their task types."""`,
    "for _cls in TASK_CLASSES:",
    "    _takes_snake_case(_cls)",
    "",
    `__all__ = [${exported.sort().map(pyLiteral).join(", ")}]`,
    "",
  ].join("\n");
}

/** The module's fixed part: its docstring, the checks and the base classes. */
const PRELUDE = String.raw`"""Zest task classes, written by ` + "`deno task zest codegen python`" +
  String.raw`.

Do not edit: run the command again when the task types change. Standard library only
(Python >= 3.10). Use it with zest_client:

    from zest_client import Client
    from lab_tasks import MaintainNode        # this module, saved as lab_tasks.py

    Client().execute("calibration", MaintainNode(node_id="q0_rabi"))

Each class is a dataclass of one task type, built with keyword arguments. Its attributes are
the schema's fields in snake_case; FIELD_NAMES maps each to the schema's own name
(node_id -> nodeId), to_fields() gives the payload under the schema's names (an optional field
left None is left out), and Cls.from_fields({"nodeId": ...}) builds one from them. TASK_TYPE is
the type's name and SERVICES the services that offer it.

Construction (and to_fields) checks what the JSON Schema says -- required, type, enum, const,
minimum/maximum, multipleOf, minLength/maxLength, pattern, items, properties -- and raises a
TaskFieldsError (a ValueError) naming every bad field. The server checks again.
"""

import dataclasses as _dataclasses
import functools as _functools
import math as _math
import re as _re
import typing as _t


class TaskFieldsError(ValueError):
    """Fields that fail their task type's schema: task_type, and issues as (path, message)."""

    def __init__(self, task_type: str, issues: list[tuple[str, str]]) -> None:
        self.task_type = task_type
        self.issues = issues
        super().__init__(
            f"invalid {task_type}: " + "; ".join(f"{p}: {m}" if p else m for p, m in issues)
        )


_PATTERNS: dict[str, _t.Any] = {}


def _pattern(source: str) -> _t.Any:
    # A JavaScript pattern Python cannot read is left to the server to check.
    if source not in _PATTERNS:
        try:
            _PATTERNS[source] = _re.compile(source)
        except _re.error:
            _PATTERNS[source] = None
    return _PATTERNS[source]


def _json_type(value: _t.Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return f"Python {type(value).__name__}"  # not a JSON value


def _is_type(value: _t.Any, json_type: str) -> bool:
    actual = _json_type(value)
    if json_type == "number":
        return actual in ("integer", "number")
    if json_type == "integer":
        return actual == "integer" or (actual == "number" and value.is_integer())
    return actual == json_type


def _equal(a: _t.Any, b: _t.Any) -> bool:
    # JSON equality: true is not 1, but 1 is 1.0.
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    return a == b


def _show(value: _t.Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _resolve(root: dict[str, _t.Any], ref: str) -> _t.Any:
    if not ref.startswith("#"):
        return None
    node: _t.Any = root
    for part in filter(None, ref[1:].split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _matches(value: _t.Any, schema: _t.Any, root: dict[str, _t.Any]) -> bool:
    issues: list[tuple[str, str]] = []
    _check(value, schema, "", root, issues)
    return not issues


def _check(
    value: _t.Any, schema: _t.Any, path: str, root: dict[str, _t.Any], issues: list[tuple[str, str]]
) -> None:
    """Add to issues what is wrong with value under the JSON Schema schema."""
    if schema is False:
        issues.append((path, "is not allowed"))
        return
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("$ref"), str):
        _check(value, _resolve(root, schema["$ref"]), path, root, issues)
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list) and not any(
            _matches(value, option, root) for option in schema[key]
        ):
            issues.append((path, f"{_show(value)} matches none of the allowed forms"))
    for option in schema.get("allOf") or ():
        _check(value, option, path, root, issues)
    if "const" in schema and not _equal(value, schema["const"]):
        issues.append((path, f"must be {_show(schema['const'])}, got {_show(value)}"))
    if isinstance(schema.get("enum"), list) and not any(_equal(value, o) for o in schema["enum"]):
        allowed = ", ".join(_show(o) for o in schema["enum"])
        issues.append((path, f"must be one of {allowed}, got {_show(value)}"))
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        if not any(_is_type(value, t) for t in types):
            issues.append((path, f"expected {' or '.join(types)}, got {_json_type(value)} {_show(value)}"))
            return
    kind = _json_type(value)
    if kind == "string":
        _check_string(value, schema, path, issues)
    elif kind in ("integer", "number"):
        _check_number(value, schema, path, issues)
    elif kind == "array":
        _check_array(value, schema, path, root, issues)
    elif kind == "object":
        _check_object(value, schema, path, root, issues)


def _check_string(value: str, schema: dict[str, _t.Any], path: str, issues: list[tuple[str, str]]) -> None:
    length = len(value.encode("utf-16-le")) // 2  # as JavaScript counts
    if isinstance(schema.get("minLength"), int) and length < schema["minLength"]:
        issues.append((path, f"must be at least {schema['minLength']} characters long, got {length}"))
    if isinstance(schema.get("maxLength"), int) and length > schema["maxLength"]:
        issues.append((path, f"must be at most {schema['maxLength']} characters long, got {length}"))
    if isinstance(schema.get("pattern"), str):
        pattern = _pattern(schema["pattern"])
        if pattern is not None and not pattern.search(value):
            issues.append((path, f"must match the pattern {schema['pattern']}, got {_show(value)}"))


def _number(schema: dict[str, _t.Any], key: str) -> _t.Any:
    bound = schema.get(key)
    return bound if isinstance(bound, (int, float)) and not isinstance(bound, bool) else None


def _check_number(value: float, schema: dict[str, _t.Any], path: str, issues: list[tuple[str, str]]) -> None:
    if not _math.isfinite(value):
        issues.append((path, f"must be a finite number, got {value!r}"))
        return
    low, high = _number(schema, "minimum"), _number(schema, "maximum")
    # exclusiveMinimum is a number (2020-12) or, in older drafts, a flag on minimum.
    low_open, high_open = _number(schema, "exclusiveMinimum"), _number(schema, "exclusiveMaximum")
    if schema.get("exclusiveMinimum") is True:
        low, low_open = None, low
    if schema.get("exclusiveMaximum") is True:
        high, high_open = None, high
    if low is not None and value < low:
        issues.append((path, f"must be >= {low}, got {value!r}"))
    if low_open is not None and value <= low_open:
        issues.append((path, f"must be > {low_open}, got {value!r}"))
    if high is not None and value > high:
        issues.append((path, f"must be <= {high}, got {value!r}"))
    if high_open is not None and value >= high_open:
        issues.append((path, f"must be < {high_open}, got {value!r}"))
    step = _number(schema, "multipleOf")
    if step:
        ratio = value / step
        if abs(ratio - round(ratio)) > 1e-9 * max(1.0, abs(ratio)):
            issues.append((path, f"must be a multiple of {step}, got {value!r}"))


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _check_array(
    value: _t.Any, schema: dict[str, _t.Any], path: str, root: dict[str, _t.Any], issues: list[tuple[str, str]]
) -> None:
    count = len(value)
    if isinstance(schema.get("minItems"), int) and count < schema["minItems"]:
        issues.append((path, f"must have at least {_items(schema['minItems'])}, got {count}"))
    if isinstance(schema.get("maxItems"), int) and count > schema["maxItems"]:
        issues.append((path, f"must have at most {_items(schema['maxItems'])}, got {count}"))
    prefix = schema.get("prefixItems") if isinstance(schema.get("prefixItems"), list) else []
    for index, item in enumerate(value):
        item_schema = prefix[index] if index < len(prefix) else schema.get("items", True)
        _check(item, item_schema, f"{path}[{index}]", root, issues)
    if schema.get("uniqueItems") is True:
        seen: list[_t.Any] = []
        for item in value:
            if any(_equal(item, other) for other in seen):
                issues.append((path, f"must not repeat items, but {_show(item)} appears twice"))
                break
            seen.append(item)


def _check_object(
    value: dict[str, _t.Any], schema: dict[str, _t.Any], path: str, root: dict[str, _t.Any], issues: list[tuple[str, str]]
) -> None:
    prefix = f"{path}." if path else ""
    properties = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    for key in schema.get("required") or ():
        if key not in value:
            issues.append((f"{prefix}{key}", "required"))
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if not isinstance(key, str):
            issues.append((path, f"keys must be strings, got {_show(key)}"))
        elif key in properties:
            _check(item, properties[key], f"{prefix}{key}", root, issues)
        elif extra is False:
            issues.append((f"{prefix}{key}", "unknown field"))
        else:
            _check(item, extra, f"{prefix}{key}", root, issues)


class ZestTask:
    """Base of the task classes: checks on construction, converts to and from the payload."""

    TASK_TYPE: _t.ClassVar[str]
    SERVICES: _t.ClassVar[tuple[str, ...]]
    PARALLEL: _t.ClassVar[bool]
    DESCRIPTION: _t.ClassVar[str | None]
    FIELD_NAMES: _t.ClassVar[dict[str, str]]
    """Python attribute -> the schema's field name."""
    SCHEMA: _t.ClassVar[dict[str, _t.Any]]
    """The JSON Schema of the fields, as GET /services gave it."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise TaskFieldsError naming every field that breaks the schema."""
        issues: list[tuple[str, str]] = []
        required = set(self.SCHEMA.get("required") or ())
        properties = self.SCHEMA.get("properties") or {}
        for attribute, name in self.FIELD_NAMES.items():
            value = getattr(self, attribute)
            schema = properties.get(name, True)
            if value is None and name not in required:
                continue  # left out of the payload
            if value is None and not _matches(None, schema, self.SCHEMA):
                issues.append((attribute, "required, got None"))
                continue
            _check(value, schema, attribute, self.SCHEMA, issues)
        if issues:
            raise TaskFieldsError(self.TASK_TYPE, issues)

    def to_fields(self) -> dict[str, _t.Any]:
        """The payload, under the schema's names (what zest_client sends)."""
        self.validate()
        required = set(self.SCHEMA.get("required") or ())
        return {
            name: getattr(self, attribute)
            for attribute, name in self.FIELD_NAMES.items()
            if getattr(self, attribute) is not None or name in required
        }

    @classmethod
    def from_fields(cls, fields: _t.Mapping[str, _t.Any]) -> "ZestTask":
        """Build one from a payload under the schema's names."""
        attributes = {name: attribute for attribute, name in cls.FIELD_NAMES.items()}
        issues = [(key, "unknown field") for key in fields if key not in attributes]
        missing = [
            name
            for attribute, name in cls.FIELD_NAMES.items()
            if name not in fields
            and cls.__dataclass_fields__[attribute].default is _dataclasses.MISSING  # type: ignore[attr-defined]
            and cls.__dataclass_fields__[attribute].default_factory is _dataclasses.MISSING  # type: ignore[attr-defined]
        ]
        issues += [(name, "required") for name in missing]
        if issues:
            raise TaskFieldsError(cls.TASK_TYPE, issues)
        return cls(**{attributes[key]: value for key, value in fields.items()})


class ZestRawTask(ZestTask):
    """A task type whose schema is not a plain object: its payload is the one attribute fields."""

    fields: _t.Any

    def validate(self) -> None:
        issues: list[tuple[str, str]] = []
        _check(self.fields, self.SCHEMA, "fields", self.SCHEMA, issues)
        if issues:
            raise TaskFieldsError(self.TASK_TYPE, issues)

    def to_fields(self) -> _t.Any:
        self.validate()
        return self.fields

    @classmethod
    def from_fields(cls, fields: _t.Any) -> "ZestRawTask":
        return cls(fields=fields)


def _takes_snake_case(cls: type[ZestTask]) -> None:
    """Make a schema name given as a keyword (nodeId=) say which attribute to use instead.
    Applied after the classes are made, so editors still see plain dataclasses."""
    init = cls.__init__
    attributes = {name: attribute for attribute, name in cls.FIELD_NAMES.items() if name != attribute}

    @_functools.wraps(init)
    def __init__(self: ZestTask, *args: _t.Any, **kwargs: _t.Any) -> None:
        wrong = [key for key in kwargs if key in attributes and key not in cls.FIELD_NAMES]
        if wrong:
            use = ", ".join(f"{attributes[key]}= for {key}" for key in wrong)
            raise TypeError(
                f"{cls.__name__}() takes the snake_case attributes: use {use} "
                "(or build it from the schema's names with from_fields)"
            )
        init(self, *args, **kwargs)

    cls.__init__ = __init__  # type: ignore[method-assign]
`;

/**
 * The `py` template tag: builds Python source in which every interpolated
 * value is encoded as a Python literal, so data can never become code.
 *
 * Self-contained on purpose: it imports nothing from the project.
 *
 * @module
 */

/**
 * A value to be encoded as a Python tuple (JavaScript has no tuple type).
 *
 * @example
 * ```ts
 * import { PyTuple, pyLiteral } from "./py.ts";
 * pyLiteral(new PyTuple([1, "a"])); // '(1, "a")'
 * ```
 */
export class PyTuple {
  /** Wrap `items`; they are encoded element by element like an array. */
  constructor(readonly items: readonly unknown[]) {}
}

/**
 * Mark `items` to be encoded as a Python tuple instead of a list.
 *
 * @example
 * ```ts
 * import { py, pyTuple } from "./py.ts";
 * py`shape = ${pyTuple([2, 3])}`; // "shape = (2, 3)"
 * ```
 */
export function pyTuple(items: readonly unknown[]): PyTuple {
  return new PyTuple(items);
}

/**
 * Encode one value as a Python literal.
 *
 * Strings become double-quoted literals in which everything but printable
 * ASCII is escaped, so the literal is pure ASCII and cannot be closed early.
 * Safe integers become `int`, other numbers `float` (`float("nan")`,
 * `float("inf")`, `-0.0` included), bigints `int`, booleans `True`/`False`,
 * `null` `None`, arrays `list`, {@link PyTuple} `tuple`, plain objects and
 * Maps `dict`, `Uint8Array` `bytes`. Anything else throws a `TypeError` that
 * names where the value sits, e.g. `value[2].x`.
 *
 * @example
 * ```ts
 * import { pyLiteral } from "./py.ts";
 * pyLiteral({ name: 'say "hi"\n', ok: true, n: [1, 2.5, null] });
 * // '{"name": "say \\"hi\\"\\n", "ok": True, "n": [1, 2.5, None]}'
 * ```
 */
export function pyLiteral(value: unknown): string {
  return encode(value, "value", new Set());
}

/**
 * Template tag that builds Python source: the template text is kept as
 * written (raw, like `String.raw`, so `"\n"` inside Python code stays an
 * escape for Python), and each `${value}` is replaced by
 * {@link pyLiteral}`(value)`.
 *
 * @example
 * ```ts
 * import { py } from "./py.ts";
 * const nodeId = "q0_rabi";
 * py`calibration_graph.nodes[${nodeId}].maintain()`;
 * // 'calibration_graph.nodes["q0_rabi"].maintain()'
 * ```
 */
export function py(strings: TemplateStringsArray, ...values: unknown[]): string {
  let code = strings.raw[0];
  values.forEach((value, index) => {
    try {
      code += pyLiteral(value);
    } catch (error) {
      if (error instanceof TypeError) {
        throw new TypeError(`${error.message} (interpolation ${index + 1} of py\`…\`)`);
      }
      throw error;
    }
    code += strings.raw[index + 1];
  });
  return code;
}

/** `ancestors` holds the containers on the current path, to detect cycles. */
function encode(value: unknown, path: string, ancestors: Set<object>): string {
  switch (typeof value) {
    case "string":
      return encodeString(value);
    case "number":
      return encodeNumber(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "True" : "False";
    case "undefined":
      throw new TypeError(`py: cannot encode undefined at ${path}`);
    case "function":
      throw new TypeError(`py: cannot encode a function at ${path}`);
    case "symbol":
      throw new TypeError(`py: cannot encode a symbol at ${path}`);
  }
  if (value === null) return "None";
  const container = value as object;
  if (ancestors.has(container)) {
    throw new TypeError(`py: cannot encode a cyclic reference at ${path}`);
  }
  ancestors.add(container);
  try {
    return encodeContainer(container, path, ancestors);
  } finally {
    ancestors.delete(container);
  }
}

function encodeContainer(value: object, path: string, ancestors: Set<object>): string {
  if (Array.isArray(value)) {
    return `[${value.map((item, i) => encode(item, `${path}[${i}]`, ancestors)).join(", ")}]`;
  }
  if (value instanceof PyTuple) {
    const items = value.items.map((item, i) => encode(item, `${path}[${i}]`, ancestors));
    // A one-element tuple needs its trailing comma: `(1)` is just `1`.
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
  }
  if (value instanceof Uint8Array) return encodeBytes(value);
  if (value instanceof Map) return encodeMap(value, path, ancestors);
  if (isPlainObject(value)) return encodeObject(value, path, ancestors);
  const kind = value.constructor?.name ?? "object";
  throw new TypeError(`py: cannot encode an instance of ${kind} at ${path}`);
}

function encodeObject(
  value: Record<string, unknown>,
  path: string,
  ancestors: Set<object>,
): string {
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new TypeError(`py: cannot encode a symbol key at ${path}`);
  }
  const entries = Object.keys(value).map((key) =>
    `${encodeString(key)}: ${encode(value[key], propertyPath(path, key), ancestors)}`
  );
  return `{${entries.join(", ")}}`;
}

function encodeMap(value: Map<unknown, unknown>, path: string, ancestors: Set<object>): string {
  const entries = [...value].map(([key, item]) => {
    const keyPath = `${path}.get(${describeKey(key)})`;
    return `${encodeMapKey(key, keyPath)}: ${encode(item, keyPath, ancestors)}`;
  });
  return `{${entries.join(", ")}}`;
}

/** Python dict keys must be hashable: lists and dicts are not. */
function encodeMapKey(key: unknown, path: string): string {
  if (key instanceof PyTuple) {
    key.items.forEach((item, i) => encodeMapKey(item, `${path} key[${i}]`));
    return encode(key, `${path} key`, new Set());
  }
  if (key !== null && typeof key === "object") {
    throw new TypeError(`py: cannot encode an unhashable dict key at ${path}`);
  }
  return encode(key, `${path} key`, new Set());
}

function describeKey(key: unknown): string {
  return typeof key === "string" ? JSON.stringify(key) : String(key);
}

function propertyPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function isPlainObject(value: object): value is Record<string, unknown> {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function encodeNumber(value: number): string {
  if (Number.isNaN(value)) return 'float("nan")';
  if (value === Infinity) return 'float("inf")';
  if (value === -Infinity) return 'float("-inf")';
  if (Object.is(value, -0)) return "-0.0";
  if (Number.isSafeInteger(value)) return String(value);
  // Beyond 2**53 an integral double is almost surely a measurement, not a
  // count: keep it a float. String() gives the shortest round-trip form.
  const text = String(value);
  return /[.e]/.test(text) ? text : `${text}.0`;
}

/** Escapes for which Python has a short, readable form. */
const SHORT_ESCAPES = new Map([
  ['"', '\\"'],
  ["\\", "\\\\"],
  ["\n", "\\n"],
  ["\r", "\\r"],
  ["\t", "\\t"],
]);

function encodeString(value: string): string {
  let out = '"';
  // Iterating a string yields code points; a lone surrogate comes out alone
  // and is encoded as \uXXXX, which Python accepts in a str literal.
  for (const char of value) {
    const code = char.codePointAt(0)!;
    const short = SHORT_ESCAPES.get(char);
    if (short) out += short;
    else if (code >= 0x20 && code <= 0x7e) out += char;
    else if (code <= 0xff) out += `\\x${hex(code, 2)}`;
    else if (code <= 0xffff) out += `\\u${hex(code, 4)}`;
    else out += `\\U${hex(code, 8)}`;
  }
  return out + '"';
}

function encodeBytes(value: Uint8Array): string {
  let out = 'b"';
  for (const byte of value) {
    const char = String.fromCharCode(byte);
    const short = SHORT_ESCAPES.get(char);
    if (short) out += short;
    else if (byte >= 0x20 && byte <= 0x7e) out += char;
    else out += `\\x${hex(byte, 2)}`;
  }
  return out + '"';
}

function hex(code: number, width: number): string {
  return code.toString(16).padStart(width, "0");
}

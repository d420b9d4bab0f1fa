/**
 * The `py` tag against a real Python: every encoded literal is parsed by
 * `/usr/bin/python3` and must come back as exactly the value that went in.
 */
import assert from "node:assert/strict";
import { py, pyLiteral, PyTuple, pyTuple } from "../src/task/py.ts";

const PYTHON = "/usr/bin/python3";

/**
 * Python side of the round trip: evaluates each literal and describes the
 * result in tagged JSON, so int/float, list/tuple, str/bytes stay distinct
 * and NaN, infinities and -0.0 survive. `literal_eval` proves a literal is
 * pure data; only the special floats (`float("nan")` is a call) need `eval`,
 * with `float` as the sole builtin. `exec` runs a whole `py` template.
 */
const EVALUATOR = String.raw`
import ast, json, sys

def tag(v):
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, int):
        return {"int": str(v)}
    if isinstance(v, float):
        return {"float": repr(v)}
    if isinstance(v, bytes):
        return {"bytes": list(v)}
    if isinstance(v, list):
        return [tag(x) for x in v]
    if isinstance(v, tuple):
        return {"tuple": [tag(x) for x in v]}
    if isinstance(v, dict):
        return {"dict": [[tag(k), tag(x)] for k, x in v.items()]}
    raise TypeError(type(v).__name__)

def evaluate(job):
    if job["mode"] == "exec":
        scope = {"__builtins__": {}}
        exec(job["source"], scope)
        return scope["result"]
    try:
        return ast.literal_eval(job["source"])
    except ValueError:
        return eval(job["source"], {"__builtins__": {"float": float}})

out = []
for job in json.load(sys.stdin):
    try:
        out.append({"ok": tag(evaluate(job))})
    except Exception as e:
        out.append({"error": type(e).__name__ + ": " + str(e)})
json.dump(out, sys.stdout)
`;

type Job = { mode: "literal" | "exec"; source: string };
type Tagged = unknown;

async function evaluateInPython(jobs: Job[]): Promise<Array<{ ok?: Tagged; error?: string }>> {
  const child = new Deno.Command(PYTHON, {
    args: ["-c", EVALUATOR],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(JSON.stringify(jobs)));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  return JSON.parse(new TextDecoder().decode(stdout));
}

/** Turn Python's tagged description into comparable JS values. */
function untag(value: Tagged): unknown {
  if (Array.isArray(value)) return value.map(untag);
  if (value === null || typeof value !== "object") return value;
  const tagged = value as Record<string, unknown>;
  if ("float" in tagged) return { float: parsePythonFloat(tagged.float as string) };
  if ("tuple" in tagged) return { tuple: (tagged.tuple as Tagged[]).map(untag) };
  if ("dict" in tagged) {
    return { dict: (tagged.dict as Tagged[][]).map(([k, v]) => [untag(k), untag(v)]) };
  }
  return tagged; // {int} and {bytes} are already comparable
}

function parsePythonFloat(repr: string): number {
  const special: Record<string, number> = { nan: NaN, inf: Infinity, "-inf": -Infinity };
  return repr in special ? special[repr] : Number(repr);
}

/** What Python should hand back for a JS value, in the untagged form. */
function expected(value: unknown): unknown {
  if (typeof value === "number") {
    return Number.isSafeInteger(value) && !Object.is(value, -0)
      ? { int: String(value) }
      : { float: value };
  }
  if (typeof value === "bigint") return { int: value.toString() };
  if (Array.isArray(value)) return value.map(expected);
  if (value instanceof PyTuple) return { tuple: value.items.map(expected) };
  if (value instanceof Uint8Array) return { bytes: [...value] };
  if (value instanceof Map) return { dict: [...value].map(([k, v]) => [expected(k), expected(v)]) };
  if (value !== null && typeof value === "object") {
    return { dict: Object.entries(value).map(([k, v]) => [k, expected(v)]) };
  }
  return value;
}

async function assertRoundTrips(values: unknown[]): Promise<void> {
  const results = await evaluateInPython(
    values.map((value) => ({ mode: "literal", source: pyLiteral(value) })),
  );
  results.forEach((result, i) => {
    const context = `value ${i}: ${pyLiteral(values[i])}`;
    assert.equal(result.error, undefined, context);
    assert.deepStrictEqual(untag(result.ok), expected(values[i]), context);
  });
}

const HOSTILE_STRINGS = [
  "",
  "plain",
  "'",
  '"',
  "'''",
  '"""',
  '\\"',
  "\\",
  "\\\\'",
  "trailing backslash \\",
  "line\nbreak",
  "\r\n",
  "\t tab",
  "\0",
  "nul \0 inside",
  "\x07\x08\x0b\x0c\x1b[31mred\x1b[0m\x7f",
  "\u2028\u2029",
  "\u0085 next line",
  "\ufeff bom",
  "héllo wörld",
  "日本語",
  "emoji 🎉 and family 👨‍👩‍👧",
  "\ud800 lone high",
  "lone low \udfff",
  "\udfff\ud800 reversed pair",
  "𝕏\u{10ffff}",
  '"); import os; os.system("x',
  "'); import os; os.system('x",
  '"""; import os; """',
  "\\x41\\u0041\\N{LATIN SMALL LETTER A}",
  "{0} %s {{}}",
  '\n"\nimport os\n"',
];

Deno.test("py: hostile strings come back from Python unchanged", async () => {
  await assertRoundTrips(HOSTILE_STRINGS);
});

Deno.test("py: string literals are pure printable ASCII", () => {
  for (const value of HOSTILE_STRINGS) {
    assert.match(pyLiteral(value), /^"[\x20-\x7e]*"$/);
  }
});

Deno.test("py: random strings of arbitrary UTF-16 code units round-trip", async () => {
  let seed = 20240601;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pool = [0, 0x0a, 0x0d, 0x22, 0x27, 0x5c, 0x7f, 0x85, 0xd800, 0xdbff, 0xdc00, 0xffff];
  const strings = Array.from({ length: 300 }, () => {
    const units = Array.from(
      { length: Math.floor(random() * 12) },
      () =>
        random() < 0.4 ? pool[Math.floor(random() * pool.length)] : Math.floor(random() * 0x10000),
    );
    return String.fromCharCode(...units);
  });
  await assertRoundTrips(strings);
});

Deno.test("py: numbers, bigints, booleans and None", async () => {
  await assertRoundTrips([
    0,
    -0,
    1,
    -42,
    Number.MAX_SAFE_INTEGER,
    Number.MIN_SAFE_INTEGER,
    2 ** 53,
    1e21,
    0.1,
    -1.5e-7,
    5e-324,
    Number.MAX_VALUE,
    NaN,
    Infinity,
    -Infinity,
    12345678901234567890123456789n,
    -1n,
    true,
    false,
    null,
  ]);
  assert.equal(pyLiteral(-0), "-0.0");
  assert.equal(pyLiteral(NaN), 'float("nan")');
  assert.equal(pyLiteral(2 ** 53), "9007199254740992.0");
});

Deno.test("py: containers become list, tuple, dict and bytes", async () => {
  const shared = { reused: [1] }; // shared but not cyclic: fine
  await assertRoundTrips([
    [],
    [1, "two", [3.5, null]],
    pyTuple([]),
    pyTuple([1]),
    pyTuple(["a", pyTuple([2, 3])]),
    {},
    { a: 1, 'key with "quotes"\n': ["x"], nested: { deeper: { deepest: true } } },
    Object.assign(Object.create(null), { bare: 1 }),
    { left: shared, right: shared },
    new Map<unknown, unknown>([["s", 1], [2, "two"], [pyTuple([1, "x"]), null], [null, false]]),
    new Uint8Array([0, 1, 34, 39, 92, 10, 13, 127, 128, 255, 65]),
  ]);
  assert.equal(pyLiteral(pyTuple([1])), "(1,)");
});

Deno.test("py: the template keeps its text raw and encodes every value", async () => {
  const nodeId = '"]; import os; x = ["';
  assert.equal(
    py`calibration_graph.nodes[${"q0_rabi"}].maintain()`,
    'calibration_graph.nodes["q0_rabi"].maintain()',
  );
  assert.equal(py`print("a\nb", ${1})`, 'print("a\\nb", 1)');
  const jobs: Job[] = HOSTILE_STRINGS.map((value) => ({
    mode: "exec",
    source: py`result = {"id": ${value}, "other": ${nodeId}, "n": ${[value, 2]}}`,
  }));
  const results = await evaluateInPython(jobs);
  results.forEach((result, i) => {
    assert.equal(result.error, undefined, jobs[i].source);
    assert.deepStrictEqual(
      untag(result.ok),
      expected({ id: HOSTILE_STRINGS[i], other: nodeId, n: [HOSTILE_STRINGS[i], 2] }),
    );
  });
});

Deno.test("py: values that have no Python literal throw a TypeError naming their path", () => {
  const cyclic: Record<string, unknown> = { a: { b: [] } };
  (cyclic.a as Record<string, unknown[]>).b.push(cyclic);
  const cases: Array<[unknown, RegExp]> = [
    [undefined, /^py: cannot encode undefined at value$/],
    [[1, 2, { x: undefined }], /^py: cannot encode undefined at value\[2\]\.x$/],
    [{ f() {} }, /^py: cannot encode a function at value\.f$/],
    [{ "odd key": Symbol("s") }, /^py: cannot encode a symbol at value\["odd key"\]$/],
    [{ [Symbol("k")]: 1 }, /^py: cannot encode a symbol key at value$/],
    [cyclic, /^py: cannot encode a cyclic reference at value\.a\.b\[0\]$/],
    [new Date(0), /^py: cannot encode an instance of Date at value$/],
    [{ s: new Set([1]) }, /^py: cannot encode an instance of Set at value\.s$/],
    [new Map([[[1], 2]]), /^py: cannot encode an unhashable dict key at value\.get\(1\)$/],
    [pyTuple([() => 1]), /^py: cannot encode a function at value\[0\]$/],
  ];
  for (const [value, message] of cases) {
    assert.throws(() => pyLiteral(value), (error: Error) => {
      assert.ok(error instanceof TypeError);
      assert.match(error.message, message);
      return true;
    });
  }
  assert.throws(
    () => py`f(${1}, ${[undefined]})`,
    /^TypeError: py: cannot encode undefined at value\[0\] \(interpolation 2 of py`…`\)$/,
  );
});

/**
 * The `py` tag against a real Python: every encoded literal is parsed by
 * `/usr/bin/python3` and must come back as exactly the value that went in,
 * and a template whose text would put a value anywhere but where Python
 * reads a value is refused. Templates run the way a kernel runs them:
 * through IPython's input transformations first.
 */
import assert from "node:assert/strict";
import { py, pyLiteral, PyTuple, pyTuple } from "../src/task/py.ts";

const PYTHON = "/usr/bin/python3";

/**
 * Python side of the round trip: evaluates each literal and describes the
 * result in tagged JSON, so int/float, list/tuple, str/bytes stay distinct
 * and NaN, infinities and -0.0 survive. `literal_eval` proves a literal is
 * pure data; only NaN (`(1e999-1e999)` is arithmetic) needs `eval`, with no
 * builtins at all. `exec` runs a whole `py` template with no builtins;
 * `ipython` runs it as a kernel does (IPython's transformations, then
 * `exec` with builtins and `get_ipython`) in the job's `cwd`; `placement`
 * says whether each `[MARKER, 12345]` value of a template reached Python as
 * that data. The results go to the saved stdout: code under test that
 * prints (a shell command) writes to stderr.
 */
const EVALUATOR = String.raw`
import ast, json, os, sys

results = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)

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

shell = None

def ipython():
    global shell
    if shell is None:
        from IPython.core.interactiveshell import InteractiveShell
        shell = InteractiveShell.instance()
    return shell

def transformed(source):
    from IPython.core.inputtransformer2 import TransformerManager
    return TransformerManager().transform_cell(source)

def placement(source, marker):
    """"data" when every str holding the marker is the first item of a
    [marker, 12345] list (or tuple, when it became a subscript) outside any
    f-string; "no code" when Python refuses the cell; else what went wrong."""
    try:
        tree = ast.parse(transformed(source))
    except SyntaxError:
        return "no code"
    data = set()
    in_fstring = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.List, ast.Tuple)) and len(node.elts) == 2 and all(
            isinstance(e, ast.Constant) for e in node.elts
        ) and node.elts[0].value == marker and node.elts[1].value == 12345:
            data.add(id(node.elts[0]))
        if isinstance(node, ast.JoinedStr):
            in_fstring.update(id(sub) for sub in ast.walk(node) if sub is not node)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
            text = node.value if isinstance(node.value, str) else node.value.decode("latin-1")
            if marker[:4] in text and (id(node) not in data or id(node) in in_fstring):
                return "misplaced: " + repr(text)
    return "data"

def evaluate(job):
    mode = job["mode"]
    if mode == "exec":
        scope = {"__builtins__": {}}
        exec(job["source"], scope)
        return scope["result"]
    if mode == "ipython":
        code = ipython().transform_cell(job["source"])
        scope = {"get_ipython": ipython}
        exec(code, scope)
        return scope.get("result")
    if mode == "placement":
        return placement(job["source"], job["marker"])
    try:
        return ast.literal_eval(job["source"])
    except ValueError:
        return eval(job["source"], {"__builtins__": {}})

out = []
for job in json.load(sys.stdin):
    if "cwd" in job:
        os.chdir(job["cwd"])
    try:
        out.append({"ok": tag(evaluate(job))})
    except Exception as e:
        out.append({"error": type(e).__name__ + ": " + str(e)})
json.dump(out, results)
results.close()
`;

type Job =
  | { mode: "literal" | "exec"; source: string }
  | { mode: "ipython"; source: string; cwd?: string }
  | { mode: "placement"; source: string; marker: string };
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
  assert.equal(pyLiteral(NaN), "(1e999-1e999)");
  assert.equal(pyLiteral(Infinity), "(1e999)");
  assert.equal(pyLiteral(-Infinity), "(-1e999)");
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

/** A strings array like a call site's, for tables of templates. */
function template(...parts: string[]): TemplateStringsArray {
  return Object.freeze(Object.assign([...parts], { raw: Object.freeze([...parts]) }));
}

/** `make` must throw naming interpolation `index` (1-based) and matching `why`. */
function assertRejected(make: () => string, index: number, why: RegExp): void {
  assert.throws(make, (error: Error) => {
    assert.ok(error instanceof TypeError, String(error));
    assert.match(
      error.message,
      new RegExp(`^py: interpolation ${index} of py\`…\` \\(line \\d+: `),
    );
    assert.match(error.message, why);
    return true;
  });
}

const IN_STRING = /\) is inside a string literal: .* py`print\("Hello " \+ \$\{name\}\)`$/;
const IN_FSTRING = /\) is inside an f-string \(or t-string\): .*name = \$\{name\}; print\(f"/;
const IN_COMMENT = /\) is inside a comment, where Python ignores it/;
const GLUED = /\) is glued to (".*"|interpolation \d) (before|after) it: Python would read/;
const ON_COMMAND = /\) is on an IPython command line/;
const ON_HELP = /\) is on a line with a \?, which IPython runs as a help request/;
const AFTER_AUTOCALL = /\) comes after an IPython autocall line \(line \d+ starts with/;
const AFTER_BROKEN = /\) comes after text that Python cannot tokenize \(line \d+:/;

Deno.test("py: issue 10's exploits: pasted in, they run; through py, they throw", async () => {
  const issueName = `"+__import__('os').system('touch pwned')+"`;
  assertRejected(() => py`print("Hello ${issueName}")`, 1, IN_STRING);
  // The same attack in single quotes (a str literal escapes " but not ').
  const name = "' + __import__('os').system('touch pwned') + '";
  assertRejected(() => py`print('Hello ${name}')`, 1, IN_STRING);
  // IPython runs {…} in a command line as Python, quoted or not.
  const payload = "{__import__('pathlib').Path('pwned').touch()}";
  assertRejected(() => py`!echo ${payload}`, 1, ON_COMMAND);

  const root = await Deno.makeTempDir({ prefix: "zest-py-" });
  const dirs = ["pasted", "joined", "command"].map((dir) => `${root}/${dir}`);
  try {
    await Promise.all(dirs.map((dir) => Deno.mkdir(dir)));
    const [, joined] = await evaluateInPython([
      // What the tag used to make: the value pasted between the quotes.
      { mode: "ipython", source: `result = 'Hello ${pyLiteral(name)}'`, cwd: dirs[0] },
      { mode: "ipython", source: py`result = 'Hello ' + ${name}`, cwd: dirs[1] },
      { mode: "ipython", source: `!echo ${pyLiteral(payload)}`, cwd: dirs[2] },
    ]);
    await Deno.stat(`${dirs[0]}/pwned`); // the threats are real here
    await Deno.stat(`${dirs[2]}/pwned`);
    assert.equal(joined.ok, `Hello ${name}`);
    await assert.rejects(Deno.stat(`${dirs[1]}/pwned`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("py: an interpolation inside a string literal of any kind throws", () => {
  const plain = ["", "r", "R", "b", "B", "u", "U", "rb", "Rb", "bR", "BR", "br"];
  const formatted = ["f", "F", "fr", "Rf", "fR", "RF", "t", "T", "rt", "tR"];
  for (const quote of ['"', "'", '"""', "'''"]) {
    for (const prefix of [...plain, ...formatted]) {
      assertRejected(
        () => py(template(`x = ${prefix}${quote}a `, ` b${quote}`), "v"),
        1,
        plain.includes(prefix) ? IN_STRING : IN_FSTRING,
      );
    }
  }
  const x = "v";
  const cases: Array<[() => string, number]> = [
    [() => py`x = "an escaped quote \" keeps it open ${x}"`, 1],
    [() => py`x = 'it\'s ${x}'`, 1],
    [() => py`x = "a\\\" ${x}"`, 1], // \\ then \": still open
    [() =>
      py`x = "a line continuation \
inside the string ${x}"`, 1],
    [() => py`x = """${x} and ${x}"""`, 1],
    [
      () =>
        py`x = """spans
"lines" and ""quotes""
${x}
"""`,
      1,
    ],
    [() => py`x = """a""""${x}"`, 1], // four quotes close it and open another
    [() => py`x = "# is text here, not a comment ${x}"`, 1],
    [() => py`x = "really? ${x}"`, 1],
    [() => py`y = ${x}; z = '${x}'`, 2],
  ];
  for (const [make, index] of cases) assertRejected(make, index, IN_STRING);
});

Deno.test("py: an interpolation anywhere in an f-string throws, fields included", () => {
  const x = "v";
  const cases: Array<() => string> = [
    () => py`print(f"Hello ${x}")`,
    () => py`print(f"Hello {${x}}")`,
    () => py`f"{a:{${x}}}"`,
    () => py`f"{a:>${x}}"`,
    () => py`f"{'${x}'}"`,
    () => py`f"{f'{${x}}'}"`,
    () => py`f"{{${x}}}"`,
    () => py`rf"\{${x}}"`,
    () => py`f"\N{BULLET} ${x}"`,
    () => py`f"{"nested, Python 3.12"} ${x}"`,
    () =>
      py`f"""{
  a +
  ${x}
}"""`,
    () => py`t"${x}"`,
  ];
  for (const make of cases) assertRejected(make, 1, IN_FSTRING);
});

Deno.test("py: an interpolation inside a comment throws; a newline ends the comment", () => {
  const x = "v";
  assertRejected(() => py`# ${x}`, 1, IN_COMMENT);
  assertRejected(() => py`x = 1  # set to ${x}`, 1, IN_COMMENT);
  assertRejected(() => py`x = 1  # it's "quoted" ${x}`, 1, IN_COMMENT);
  assertRejected(() => py`y = ${x}  # and ${x}`, 2, IN_COMMENT);
  assertRejected(() => py`# a raw \n is no newline: x = ${x}`, 1, IN_COMMENT);
  assert.equal(
    py`# it's a "comment"
x = ${x}`,
    '# it\'s a "comment"\nx = "v"',
  );
});

Deno.test("py: an interpolation glued to a name, number, quote or another one throws", () => {
  const before = [
    "f",
    "r",
    "b",
    "rb",
    "u",
    "abc",
    "_",
    "é",
    "1",
    "0x",
    "1e",
    "obj.",
    "1.",
    '"a"',
    "'a'",
  ];
  before.push("f()", "a[0]", "{}", "return", "\\", "$", "`");
  for (const text of before) {
    assertRejected(() => py(template(`y = ${text}`, ""), 1), 1, GLUED);
  }
  for (const text of ["abc", "1", "_", "é", '"a"', "'a'", "if x else 0", "\\ ", "~", "!", "?"]) {
    assertRejected(() => py(template("y = ", text), 1), 1, GLUED);
  }
  assertRejected(() => py`x = ${1}${2}`, 1, /is glued to interpolation 2 after it/);
  assertRejected(() => py`x = (${1}, f${2})`, 2, /is glued to "f" before it/);
});

Deno.test("py: an interpolation where IPython does not read Python throws", () => {
  const x = "v";
  const onCommand: Array<[() => string, number]> = [
    [() => py`!echo ${x}`, 1],
    [() => py`  !echo ${x}`, 1],
    [() => py`!!ls ${x}`, 1],
    [() => py`%time f(${x})`, 1],
    [() => py`%env A=${x}`, 1],
    [() => py`files = !ls ${x}`, 1],
    [() => py`files = %sx ls ${x}`, 1],
    [() => py`?${x}`, 1],
    [() =>
      py`if True:
    !echo ${x}`, 1],
    [() =>
      py`!echo a \
${x}`, 1],
    [() =>
      py`y = ${x}
!echo ${x}`, 2],
  ];
  for (const [make, index] of onCommand) assertRejected(make, index, ON_COMMAND);
  assertRejected(() => py`f(${x})?`, 1, ON_HELP);
  assertRejected(() => py`f(${x}) ; g??`, 1, ON_HELP);
  assertRejected(
    () =>
      py`y = (
  ${x},
)?`,
    1,
    ON_HELP,
  );
  assertRejected(() => py`,f ${x}`, 1, AFTER_AUTOCALL);
  assertRejected(() => py`;f ${x}`, 1, AFTER_AUTOCALL);
  assertRejected(() => py`/f ${x}`, 1, AFTER_AUTOCALL);
  assertRejected(
    () =>
      py`,f '''
y = ${x}`,
    1,
    AFTER_AUTOCALL,
  );
  assertRejected(
    () =>
      py`%%bash
echo ${x}`,
    1,
    /\) is in a %% cell magic, whose body IPython hands to the magic as text/,
  );
  assertRejected(
    () =>
      py`

  %%capture
  y = ${x}`,
    1,
    /is in a %% cell magic/,
  );
  const prompt = /\) is in a template that starts like a pasted session/;
  assertRejected(() => py`>>> y = ${x}`, 1, prompt);
  assertRejected(
    () =>
      py`y = 1
... z = ${x}`,
    1,
    prompt,
  );
  assertRejected(() => py`In [1]: y = ${x}`, 1, prompt);
  assertRejected(
    () =>
      py`y = 1
   ...: z = ${x}`,
    1,
    prompt,
  );
  assertRejected(
    () =>
      py`y = 'not closed
z = ${x}`,
    1,
    AFTER_BROKEN,
  );
  assertRejected(() => py`y = f"}" + ${x}`, 1, AFTER_BROKEN);
  assertRejected(() => py`y = f"{)}" + ${x}`, 1, AFTER_BROKEN);
  assert.throws(
    () => py(template("y = '\u2028' + ", ""), x),
    /^TypeError: py: the text of py`…` contains U\+2028, a line break for IPython but not for Python/,
  );
});

Deno.test("py: values wherever Python reads a value come back from IPython unchanged", async () => {
  const s = 'x" + str(1/0) + "{__import__("os")}\'\n\\';
  const list = [1, 2, 3];
  const cases: Array<[string, unknown]> = [
    [py`result = [${s}, ${2}]`, [s, 2]],
    [py`result = (${s},)`, pyTuple([s])],
    [py`result = {${"k"}: ${s}}`, { k: s }],
    [py`result = {${"k"}:${s}}`, { k: s }],
    [
      py`def f():
    return ${s}
result = f()`,
      s,
    ],
    [py`result = 2 in ${list}`, true],
    [py`result = not ${false}`, true],
    [py`result = 1 if False else ${s}`, s],
    [py`result = ${s} + "!"`, `${s}!`],
    [py`result = "closed " + ${s}`, `closed ${s}`],
    [py`result = "a\\" + ${s}`, `a\\${s}`],
    [py`result = 'it\'s ' + ${s}`, `it's ${s}`],
    [py`result = """a "b" ""c"" """ + ${s}`, `a "b" ""c"" ${s}`],
    [py`result = "# not a comment, really? " + ${s}`, `# not a comment, really? ${s}`],
    [py`result = f"{1 + 1}" + ${s}`, `2${s}`],
    [py`result = f"{'}'}" + ${s}`, `}${s}`],
    [py`result = f"{{}}\N{BULLET}" + ${s}`, `{}\u2022${s}`],
    [
      py`y = 1  # a comment: "quotes", it's {braces} ?
result = ${s}`,
      s,
    ],
    [
      py`result = (
    ${s},
    ${2},
)`,
      pyTuple([s, 2]),
    ],
    [
      py`result = [
${s}
]`,
      [s],
    ],
    [
      py`result = ${"a"} \
    + ${s}`,
      `a${s}`,
    ],
    [py(template("result =\t", ""), s), s],
    [py`result = ${s}#comment`, s],
    [py`result = ${s}[::-1]`, [...s].reverse().join("")],
    [py`result = ${"abc"}.upper()`, "ABC"],
    [py`result = ${-3} ** 2`, 9],
    [py`result = ${5}.real`, 5],
    [py`result = ${-2.5}.is_integer()`, false],
    [py`result = ${list}[0]`, 1],
    [
      py`result = 0
result += ${7}`,
      7,
    ],
    [py`result = ${7}%3`, 1],
    [py`result = "%s!" % ${s}`, `${s}!`],
    [py`result = [i for i in ${list} if i != ${2}]`, [1, 3]],
    [py`result = ${1}!=${2}`, true],
    [py`result = ${1}==${1}`, true],
    [py`result = -${-Infinity}`, Infinity],
    [py`result = 2 ** -${Infinity} == 0`, true],
    [py`result = {**${{ a: 1 }}}`, { a: 1 }],
    [py`result = [*${list}]`, list],
    [py`result = (lambda: ${s})()`, s],
    [py`result = y if (y := ${s}) else 0`, s],
    [
      py`%pwd
result = ${s}`,
      s,
    ],
  ];
  const results = await evaluateInPython(cases.map(([source]) => ({ mode: "ipython", source })));
  results.forEach((result, i) => {
    const [source, value] = cases[i];
    assert.equal(result.error, undefined, source);
    assert.deepStrictEqual(untag(result.ok), expected(value), source);
  });
});

Deno.test("py: non-finite floats are literals: a redefined float changes nothing", async () => {
  const source = py`float = None
result = [${NaN}, ${Infinity}, ${-Infinity}, -${-Infinity}, ${-Infinity} ** 2, (${NaN},)]`;
  const [{ ok, error }] = await evaluateInPython([{ mode: "exec", source }]);
  assert.equal(error, undefined);
  assert.deepStrictEqual(
    untag(ok),
    expected([NaN, Infinity, -Infinity, Infinity, Infinity, pyTuple([NaN])]),
  );
});

Deno.test("py: a negative number before **, ., [ or (, and a number before ., get parentheses", () => {
  assert.equal(py`${-3} ** 2`, "(-3) ** 2");
  assert.equal(py`${-3}**2`, "(-3)**2");
  assert.equal(py`${3} ** 2`, "3 ** 2");
  assert.equal(py`x = ${-3}`, "x = -3");
  assert.equal(py`${5}.real`, "(5).real");
  assert.equal(py`${-0}.hex()`, "(-0.0).hex()");
  assert.equal(py`${"s"}.upper()`, '"s".upper()');
  assert.equal(py`${[-1]}[0]`, "[-1][0]");
  assert.equal(py`${-1n} ** 2`, "(-1) ** 2");
});

Deno.test("py: a call site's template is checked once; a hand-made array on every call", () => {
  let reads = 0;
  const raw = new Proxy(Object.freeze(["x = ", " + 1"]), {
    get(target, key, receiver) {
      if (typeof key === "string" && /^\d+$/.test(key)) reads++;
      return Reflect.get(target, key, receiver);
    },
  });
  const site = Object.freeze(Object.assign(["x = ", " + 1"], { raw }));
  assert.equal(py(site, 1), "x = 1 + 1");
  assert.ok(reads > 2);
  reads = 0;
  assert.equal(py(site, 2), "x = 2 + 1");
  assert.equal(reads, 2); // only to build the code

  const parts = ["x = ", ""];
  const handMade = Object.assign([...parts], { raw: parts }) as unknown as TemplateStringsArray;
  assert.equal(py(handMade, 1), "x = 1");
  parts[0] = 'x = "';
  assertRejected(() => py(handMade, 1), 1, IN_STRING);
});

/** Deterministic random numbers (mulberry32). */
function randomSource(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) >>> 0;
    let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/**
 * Random cells of mostly valid Python with IPython lines, holes (`\u0001`)
 * everywhere: in code, in strings and f-strings of every kind, in their
 * fields, in comments, on command and help lines.
 */
function randomCell(random: () => number): string {
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const HOLE = "\u0001";
  const text = (quote: string, triple: boolean, fields: boolean, depth: number): string => {
    let out = "";
    for (let n = Math.floor(random() * 6); n > 0; n--) {
      const r = random();
      if (r < 0.15) out += HOLE;
      else if (r < 0.25) out += "\\" + pick(["n", "\\", quote, "'", '"', "{", "N{BULLET}"]);
      else if (r < 0.35) out += pick(["#", "?", "!", "%", ";", quote === '"' ? "'" : '"']);
      else if (r < 0.42 && triple) out += pick([quote, quote + quote, "\n", "\n!echo "]);
      else if (r < 0.6 && fields) {
        out += random() < 0.3
          ? pick(["{{", "}}"])
          : `{${expression(depth + 1)}${
            pick(["", "", ":>4", `:{${expression(depth + 1)}}`, "!r", "=", `:${HOLE}`])
          }}`;
      } else out += pick(["a", " ", "b c"]);
    }
    return out;
  };
  const atom = (depth: number): string => {
    const r = random();
    if (r < 0.3) return HOLE;
    if (r < 0.45 || depth > 2) return pick(["x", "1", "2.5", "None", "-3"]);
    if (r < 0.7) {
      const prefix = pick(["", "", "r", "b", "f", "f", "F", "rf", "Rb", "u", "fR", "t"]);
      const quote = pick(['"', "'"]);
      const triple = random() < 0.3;
      const q = triple ? quote.repeat(3) : quote;
      return prefix + q + text(quote, triple, /[ft]/i.test(prefix), depth) + q;
    }
    if (r < 0.85) return `(${expression(depth + 1)}${pick(["", ",", "\n"])})`;
    return `[${expression(depth + 1)}, ${expression(depth + 1)}]`;
  };
  const expression = (depth: number): string => {
    let out = atom(depth);
    for (let n = Math.floor(random() * 3); n > 0; n--) {
      out += pick([" + ", " * ", ", ", " if x else ", " in ", depth > 0 ? "\n  + " : " - "]);
      out += atom(depth);
    }
    return out;
  };
  const line = (): string => {
    const r = random();
    if (r < 0.1) return `# note ${pick(['"', "'", "it's", '"""', ""])}${HOLE}`;
    if (r < 0.15) {
      return pick(["!echo ", "%time ", "y = !echo ", "y = %sx ls ", ",f ", ";f "]) + HOLE;
    }
    if (r < 0.2) return "y = x?";
    if (r < 0.3) return `if x:\n    y = ${expression(0)}`;
    return `${pick(["x = ", "y = ", ""])}${expression(0)}${random() < 0.1 ? "  # c '" : ""}`;
  };
  return Array.from({ length: 1 + Math.floor(random() * 3) }, line).join("\n");
}

Deno.test("py: in random cells, every accepted value reaches IPython as data", async () => {
  const marker = "Z\"'{}#\\$(x)\n";
  const value = [marker, 12345];
  const random = randomSource(20260610);
  const accepted: string[] = [];
  const refused: string[] = [];
  for (let n = 0; n < 3000; n++) {
    const parts = randomCell(random).split("\u0001");
    if (parts.length === 1) continue;
    const values = Array(parts.length - 1).fill(value);
    try {
      accepted.push(py(template(...parts), ...values));
    } catch (error) {
      if (!(error instanceof TypeError)) throw error;
      refused.push(parts.join(pyLiteral(value))); // what the tag used to make
    }
  }
  const verdicts = await evaluateInPython(
    [...accepted, ...refused].map((source) => ({ mode: "placement", source, marker })),
  );
  const count = (from: number, to: number, verdict: (text: string) => boolean) =>
    verdicts.slice(from, to).filter((v) => verdict(String(v.ok))).length;
  verdicts.slice(0, accepted.length).forEach((verdict, i) => {
    assert.ok(verdict.ok === "data" || verdict.ok === "no code", `${verdict.ok}\n${accepted[i]}`);
  });
  // Not vacuous: many accepted cells ran, many refused ones were real misplacements.
  assert.ok(count(0, accepted.length, (v) => v === "data") > 500);
  assert.ok(count(accepted.length, verdicts.length, (v) => v.startsWith("misplaced")) > 40);
});

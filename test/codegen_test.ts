/**
 * `generatePython` (src/cli/codegen.ts): names, hints, defaults, docstrings,
 * and — with Debian's python3, no server — that the module it writes imports
 * and checks every constraint it claims to.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { defineTask } from "../src/mod.ts";
import {
  type CodegenService,
  generatePython,
  pythonAttributeName,
  pythonClassName,
} from "../src/cli/codegen.ts";

const Edge = defineTask("lab.Edge-case", {
  parallel: true,
  description: 'Quotes """ and \\d in a description\u202e',
  schema: z.object({
    count: z.number().int().min(0).max(10),
    gain: z.number().positive(),
    label: z.string().min(2).max(5).regex(/^a/),
    mode: z.enum(["fast", "slow", "\x1b[31m"]).default("fast"),
    tags: z.array(z.string()).min(1).max(3),
    point: z.object({ x: z.number() }).optional(),
    note: z.string().nullable(),
    kind: z.literal("edge"),
    either: z.union([z.string(), z.number()]),
    weights: z.record(z.string(), z.number()),
    pair: z.tuple([z.string(), z.number()]),
    class: z.string().optional(),
    qubitIDs: z.array(z.number().int()).default([1, 2]),
    nodeId: z.string().optional(),
    node_id: z.string().optional(),
    toFields: z.number().multipleOf(0.5).optional(),
    emoji: z.string().max(2).optional(),
  }),
});

const Choice = defineTask("Choice", {
  parallel: false,
  schema: z.discriminatedUnion("kind", [
    z.object({ kind: z.literal("a"), x: z.number() }),
    z.object({ kind: z.literal("b") }),
  ]),
});

const SERVICES: CodegenService[] = [
  { name: "edge", taskTypes: [Edge.describe(), Choice.describe()] },
  { name: "edge-2", taskTypes: [Edge.describe()] },
];

Deno.test("codegen: attribute names are snake_case, safe, and say where they came from", () => {
  const cases: [string, string][] = [
    ["nodeId", "node_id"],
    ["qubitIDs", "qubit_ids"],
    ["HTTPPort", "http_port"],
    ["already_snake", "already_snake"],
    ["with-dash.and.dot", "with_dash_and_dot"],
    ["__proto__", "proto__"],
    ["2d", "f_2d"],
    ["", "f_"],
    ["class", "class_"],
    ["None", "none"],
    ["self", "self_"],
    ["toFields", "to_fields_"],
    ["validate", "validate_"],
    ["list", "list_"],
    ["str", "str_"],
  ];
  for (const [name, expected] of cases) assert.equal(pythonAttributeName(name), expected, name);
  assert.equal(pythonClassName("lab.Measure-T1"), "lab_Measure_T1");
  assert.equal(pythonClassName("ZestTask"), "ZestTask_");
  assert.equal(pythonClassName("list"), "list_");
  assert.equal(pythonClassName("None"), "None_");
  assert.equal(pythonClassName("_t"), "T_t", "the module's helpers start with _");
  assert.equal(pythonClassName("__init__"), "T__init__");
  assert.equal(pythonClassName("isinstance"), "isinstance_", "every builtin is reserved");
  assert.equal(pythonClassName("Exception"), "Exception_");
});

Deno.test("codegen: one dataclass per type and schema, with hints, defaults and mapping", () => {
  const source = generatePython(SERVICES);
  assert.equal(source, generatePython(SERVICES), "deterministic");
  assert.match(
    source,
    /^@_dataclasses\.dataclass\(kw_only=True\)\nclass lab_Edge_case\(ZestTask\):$/m,
  );
  assert.match(source, /^class Choice\(ZestRawTask\):$/m);
  assert.match(source, /TASK_TYPE: _t\.ClassVar\[str\] = "lab\.Edge-case"/);
  assert.match(source, /SERVICES: _t\.ClassVar\[tuple\[str, \.\.\.\]\] = \("edge", "edge-2",\)/);
  assert.match(source, /"qubit_ids": "qubitIDs"/);
  assert.match(source, /"node_id": "nodeId", "node_id_2": "node_id"/);
  for (
    const line of [
      "    count: int",
      "    gain: float",
      '    mode: _t.Literal["fast", "slow", "\\u001b[31m"] = "fast"',
      "    tags: list[str]",
      "    point: dict[str, _t.Any] | None = None",
      "    note: str | None",
      '    kind: _t.Literal["edge"]',
      "    either: str | float",
      "    weights: dict[str, float]",
      "    pair: list[_t.Any]",
      "    class_: str | None = None",
      "    qubit_ids: list[int] = _dataclasses.field(default_factory=lambda: [1, 2])",
    ]
  ) {
    assert.ok(source.includes(`\n${line}\n`), `missing: ${line}`);
  }
  assert.ok(source.includes('"""Quotes \\"\\"\\" and \\\\d in a description'), "docstring escaped");
  assert.ok(source.includes("qubit_ids (qubitIDs): list[int]; default [1, 2]"));
  assert.match(
    source,
    /^TASK_CLASSES: tuple\[type\[ZestTask\], \.\.\.\] = \(lab_Edge_case, Choice,\)$/m,
  );
  assert.doesNotMatch(source, /^(import|from) (?!dataclasses|functools|math|re|typing)/m);
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(source, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, "nothing invisible");
  assert.ok(source.includes("in a description\\u202e"));
});

Deno.test("codegen: services that disagree on a type's schema get a class each", () => {
  const Other = defineTask("lab.Edge-case", {
    parallel: true,
    schema: z.object({ x: z.string() }),
  });
  const source = generatePython([
    { name: "a", taskTypes: [Edge.describe()] },
    { name: "b", taskTypes: [Other.describe()] },
  ]);
  assert.match(source, /^class lab_Edge_case_a\(ZestTask\):$/m);
  assert.match(source, /^class lab_Edge_case_b\(ZestTask\):$/m);
});

const CHECKS = String.raw`
import sys
sys.path.insert(0, sys.argv[1])
from tasks import Choice, TaskFieldsError, lab_Edge_case

good = dict(count=2.0, gain=1, label="abc", tags=["x"], note=None, kind="edge", either=1,
            weights={"a": 1}, pair=("a", 1))
fields = lab_Edge_case(**good, class_="c", to_fields_=1.5).to_fields()
assert fields == {"count": 2.0, "gain": 1, "label": "abc", "mode": "fast", "tags": ["x"], "note": None,
                  "kind": "edge", "either": 1, "weights": {"a": 1}, "pair": ("a", 1), "class": "c",
                  "qubitIDs": [1, 2], "toFields": 1.5}, fields

def problems(**changes):
    try:
        lab_Edge_case(**{**good, **changes})
    except TaskFieldsError as error:
        return [f"{path}: {message}" for path, message in error.issues]
    raise AssertionError(f"accepted {changes}")

expected = {
    "count=1.5": (dict(count=1.5), "count: expected integer, got number 1.5"),
    "count=11": (dict(count=11), "count: must be <= 10, got 11"),
    "gain=0": (dict(gain=0), "gain: must be > 0, got 0"),
    "gain=inf": (dict(gain=float("inf")), "gain: must be a finite number, got inf"),
    "label=b": (dict(label="b"), "label: must be at least 2 characters long, got 1"),
    "label=bcd": (dict(label="bcd"), "label: must match the pattern ^a, got 'bcd'"),
    "label long": (dict(label="abcdef"), "label: must be at most 5 characters long, got 6"),
    "mode": (dict(mode="medium"), "mode: must be one of 'fast', 'slow', '\\x1b[31m', got 'medium'"),
    "tags empty": (dict(tags=[]), "tags: must have at least 1 item, got 0"),
    "tags item": (dict(tags=[1]), "tags[0]: expected string, got integer 1"),
    "point": (dict(point={}), "point.x: required"),
    "note": (dict(note=None, kind="other"), "kind: must be 'edge', got 'other'"),
    "either": (dict(either=[]), "either: expected string or number, got array []"),
    "weights": (dict(weights={"a": "b"}), "weights.a: expected number, got string 'b'"),
    "pair long": (dict(pair=["a", 1, 2]), "pair: must have at most 2 items, got 3"),
    "pair item": (dict(pair=["a", "b"]), "pair[1]: expected number, got string 'b'"),
    "multiple": (dict(to_fields_=0.3), "to_fields_: must be a multiple of 0.5, got 0.3"),
    "bool": (dict(count=True), "count: expected integer, got boolean True"),
    "utf16": (dict(emoji="\U0001F600x"), "emoji: must be at most 2 characters long, got 3"),
    "required": (dict(label=None), "label: required, got None"),
}
for what, (changes, message) in expected.items():
    assert message in problems(**changes), (what, problems(**changes))
assert len(problems(count=-1, gain=-1)) == 2, "every bad field is named"
assert lab_Edge_case(**good, emoji="\U0001F600").emoji  # one emoji is two UTF-16 units

assert Choice(fields={"kind": "a", "x": 1}).to_fields() == {"kind": "a", "x": 1}
try:
    Choice(fields={"kind": "c"})
    raise AssertionError("accepted kind c")
except TaskFieldsError as error:
    assert "matches none of the allowed forms" in str(error), error
print("ok")
`;

/**
 * Write `source` as `tasks.py` in a fresh directory and run the Python
 * `checks` with that directory as `sys.argv[1]` (warnings are errors): they
 * must exit 0 and print just `ok`.
 */
async function assertPythonChecks(source: string, checks: string): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "zest-codegen-" });
  try {
    await Deno.writeTextFile(`${dir}/tasks.py`, source);
    const { code, stdout, stderr } = await new Deno.Command("/usr/bin/python3", {
      args: ["-W", "error", "-c", checks, dir],
      env: { PYTHONDONTWRITEBYTECODE: "1" },
      stdin: "null",
    }).output();
    const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    assert.equal(code, 0, decode(stderr));
    assert.equal(decode(stdout), "ok\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("codegen: the module imports with python3 and checks what the schema says", async () => {
  await assertPythonChecks(generatePython(SERVICES), CHECKS);
});

Deno.test("codegen: names that would shadow the module's own, or builtins, still import and check", async () => {
  const type = (name: string, schema: unknown) => ({ name, parallel: true, kind: "task", schema });
  const object = { type: "object", properties: { x: { type: "string" } }, required: ["x"] };
  const source = generatePython([{
    name: "svc",
    taskTypes: [
      type("_t", object),
      type("isinstance", object),
      type("_check", object),
      type("Lists", {
        type: "object",
        description: "lone \ud800 surrogate",
        properties: {
          list: { type: "array", items: { type: "string" }, default: [] },
          tags: { type: "array", items: { type: "string" } },
          str: { type: "string", default: "a" },
          name: { type: "string", description: "lone \udc00 too" },
        },
        required: ["tags", "name"],
      }),
    ],
  }] as CodegenService[]);
  assert.doesNotMatch(source, /[\ud800-\udfff]/, "lone surrogates are escaped");
  const check = String.raw`
import sys
sys.path.insert(0, sys.argv[1])
from tasks import TASK_CLASSES, T_t, T_check, Lists, TaskFieldsError, isinstance_
assert [c.__name__ for c in TASK_CLASSES] == ["T_t", "isinstance_", "T_check", "Lists"]
assert T_t(x="a").to_fields() == {"x": "a"} and T_t.TASK_TYPE == "_t"
assert isinstance_(x="b").to_fields() == {"x": "b"}
try:
    T_check(x=1)
    raise AssertionError("accepted x=1")
except TaskFieldsError as error:
    assert "x: expected string" in str(error), error
fields = Lists(tags=["t"], name="n").to_fields()
assert fields == {"list": [], "tags": ["t"], "str": "a", "name": "n"}, fields
assert Lists.FIELD_NAMES == {"list_": "list", "tags": "tags", "str_": "str", "name": "name"}
print("ok")
`;
  await assertPythonChecks(source, check);
});

// The shapes every wire shares: the submit body, the list query, refusals as JSON, and JSON itself.
import assert from "node:assert/strict";
import {
  bodyError,
  describeIssues,
  errorBody,
  graphBody,
  graphRequest,
  listQuery,
  submitBody,
  submitRequest,
  toJson,
} from "./wire.ts";
import {
  QueueFullError,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskConflictError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
  UnknownTaskTypeError,
} from "../task/errors.ts";
import { GraphError } from "../manager/graph.ts";

Deno.test("submitBody: every option of a task; the bounds are admission's, not the wire's", () => {
  const full = {
    service: "lab",
    type: "Sum",
    fields: { a: 1, b: 2 },
    attributes: { notebook: "n1" },
    timeoutMs: 1_000,
    priority: -3,
    key: "nightly-1",
    after: ["t1", "t2"],
    onDependencyFailure: "cancel",
    expiresInMs: 60_000,
    rerunOf: "t0",
  };
  assert.deepEqual(submitBody.parse(full), full);
  assert.deepEqual(submitBody.parse({ service: "lab", type: "Ping" }), {
    service: "lab",
    type: "Ping",
  });
  // A number out of range is the manager's to refuse, with the same words for every client.
  assert.equal(submitBody.safeParse({ ...full, timeoutMs: 3e9, priority: 5_000 }).success, true);
  // Fields are anything JSON: the task type's schema checks them.
  assert.equal(submitBody.safeParse({ service: "lab", type: "Sum", fields: [1] }).success, true);
});

Deno.test("submitBody: a shape that is not a task is refused, naming the field", () => {
  const cases: [unknown, RegExp][] = [
    [{ service: "lab" }, /^type: /],
    [{ type: "Sum" }, /^service: /],
    [{ service: "", type: "Sum" }, /^service: /],
    [{ service: "lab", type: "Sum", feilds: {} }, /Unrecognized key.*feilds/],
    [{ service: "lab", type: "Sum", attributes: [1] }, /^attributes: /],
    [{ service: "lab", type: "Sum", timeoutMs: "5s" }, /^timeoutMs: /],
    [{ service: "lab", type: "Sum", after: "t1" }, /^after: /],
    [{ service: "lab", type: "Sum", after: [1] }, /^after\.0: /],
    [{ service: "lab", type: "Sum", onDependencyFailure: "ignore" }, /^onDependencyFailure: /],
    [{ service: "lab", type: "Sum", rerunOf: "" }, /^rerunOf: /],
  ];
  for (const [body, problem] of cases) {
    const parsed = submitBody.safeParse(body);
    assert.equal(parsed.success, false, JSON.stringify(body));
    assert.match(describeIssues(parsed.error!), problem, JSON.stringify(body));
  }
});

Deno.test('a "__proto__" key of attributes or of a graph is refused, not dropped', () => {
  const attributes = submitBody.safeParse(
    JSON.parse(
      '{"service": "lab", "type": "Sum", "attributes": {"__proto__": {"x": 1}, "run": 7}}',
    ),
  );
  assert.equal(attributes.success, false);
  assert.equal(
    describeIssues(attributes.error!),
    'attributes.__proto__: the key "__proto__" is not allowed',
  );
  const graph = graphBody.safeParse(
    JSON.parse(
      '{"a": {"service": "lab", "type": "Sum"}, "__proto__": {"service": "x", "type": "Y"}}',
    ),
  );
  assert.equal(graph.success, false);
  assert.equal(describeIssues(graph.error!), '__proto__: the key "__proto__" is not allowed');
  // Other keys are kept as they came.
  const kept = submitBody.parse({ service: "lab", type: "Sum", attributes: { constructor: 1 } });
  assert.deepEqual(kept.attributes, { constructor: 1 });
});

Deno.test("submitRequest and graphRequest: absent fields default to {}", () => {
  assert.deepEqual(submitRequest({ service: "lab", type: "Ping" }), {
    service: "lab",
    type: "Ping",
    fields: {},
  });
  const kept = { service: "lab", type: "Sum", fields: { a: 1 }, priority: 2 };
  assert.deepEqual(submitRequest(kept), kept);
  // Only absent fields default: null goes to the type's schema, which says what it expected.
  assert.equal(submitRequest({ service: "lab", type: "Sum", fields: null }).fields, null);
  const graph = graphBody.parse({
    scan: { service: "lab", type: "Scan" },
    fit: { service: "lab", type: "Fit", fields: { n: 1 }, after: ["scan"] },
  });
  assert.deepEqual(graphRequest(graph), {
    scan: { service: "lab", type: "Scan", fields: {} },
    fit: { service: "lab", type: "Fit", fields: { n: 1 }, after: ["scan"] },
  });
  assert.equal(graphBody.safeParse({ "": { service: "lab", type: "Scan" } }).success, false);
  assert.equal(graphBody.safeParse({ scan: { service: "lab" } }).success, false);
});

Deno.test("listQuery: the filters of a task list, strict and bounded", () => {
  const query = {
    service: "lab",
    type: "Sum",
    key: "k",
    state: ["failed", "cancelled"],
    createdSince: 1,
    createdUntil: 2,
    limit: 1_000,
    cursor: "s1",
  };
  assert.deepEqual(listQuery.parse(query), query);
  assert.deepEqual(listQuery.parse({ state: "queued" }), { state: ["queued"] });
  assert.deepEqual(listQuery.parse({}), {});
  for (
    const [bad, problem] of [
      [{ state: "sleeping" }, /^state\.0: must be one of waiting, queued/],
      [{ state: ["failed", "sleeping"] }, /^state\.1: must be one of waiting, queued/],
      [{ state: [] }, /^state/],
      [{ limit: 0 }, /^limit: /],
      [{ limit: 1_001 }, /^limit: /],
      [{ limit: 1.5 }, /^limit: /],
      [{ createdSince: "yesterday" }, /^createdSince: /],
      [{ cursor: "c".repeat(65) }, /^cursor: /],
      [{ colour: "red" }, /Unrecognized key.*colour/],
    ] as const
  ) {
    const parsed = listQuery.safeParse(bad);
    assert.equal(parsed.success, false, JSON.stringify(bad));
    assert.match(describeIssues(parsed.error!), problem, JSON.stringify(bad));
  }
});

Deno.test("describeIssues: one 'path: message' per issue, dotted paths, ';' between", () => {
  const parsed = submitBody.safeParse({ service: 1, type: "Sum", after: ["ok", 2] });
  assert.equal(parsed.success, false);
  const text = describeIssues(parsed.error!);
  const lines = text.split("; ");
  assert.equal(lines.length, 2, text);
  assert.match(lines[0], /^service: /);
  assert.match(lines[1], /^after\.1: /);
  // An issue of the whole value has no path.
  assert.equal(
    describeIssues(submitBody.safeParse(null).error!),
    "Invalid input: expected object, received null",
  );
});

Deno.test("errorBody: the message; the name of a refusal; the issues of a validation", () => {
  const invalid = new TaskValidationError("Sum", [{ path: "b", message: "expected number" }]);
  assert.deepEqual(errorBody(invalid), {
    error: "invalid Sum: b: expected number",
    name: "TaskValidationError",
    issues: [{ path: "b", message: "expected number" }],
  });
  for (
    const refusal of [
      new UnknownServiceError("no service named 'x'"),
      new UnknownTaskTypeError("no task type 'X'"),
      new UnknownTaskError("no task with id 'x'"),
      new TaskConflictError("key 'k' was used with other fields"),
      new QueueFullError("full"),
      new ServiceStoppedError("stopped"),
      new RuntimeStoppingError("stopping"),
      new GraphError("cycle", ["a"], "a cycle"),
      Object.assign(new Error("schedule 'x': no such schedule"), { name: "ScheduleError" }),
    ]
  ) {
    assert.deepEqual(errorBody(refusal), { error: refusal.message, name: refusal.name });
  }
  // Anything else: its message only; its name could reveal internals.
  assert.deepEqual(errorBody(new TypeError("x is not a function")), {
    error: "x is not a function",
  });
  assert.deepEqual(errorBody("a string was thrown"), { error: "a string was thrown" });
  assert.deepEqual(errorBody(undefined), { error: "undefined" });
});

Deno.test("bodyError: the typed error a JSON error stands for; errorBody round-trips", () => {
  const invalid = new TaskValidationError("Sum", [{ path: "b", message: "expected number" }]);
  const back = bodyError(errorBody(invalid), "Sum");
  assert.ok(back instanceof TaskValidationError);
  assert.equal(back.message, invalid.message);
  assert.deepEqual(back.issues, invalid.issues);
  assert.equal(back.taskType, "Sum");
  for (
    const Type of [
      UnknownServiceError,
      UnknownTaskTypeError,
      UnknownTaskError,
      TaskConflictError,
      QueueFullError,
      ServiceStoppedError,
      RuntimeStoppingError,
    ]
  ) {
    const error = bodyError(errorBody(new Type("because")));
    assert.ok(error instanceof Type, Type.name);
    assert.equal(error.message, "because");
  }
  // A name without a class keeps its name on a plain Error; a name that is not one is dropped.
  const graph = bodyError({ error: "graph: a cycle", name: "GraphError" });
  assert.equal(graph.constructor, Error);
  assert.equal(graph.name, "GraphError");
  assert.equal(bodyError({ error: "boom" }).name, "Error");
  assert.equal(bodyError({ error: "boom", name: "<script>" }).name, "Error");
  assert.equal(bodyError({ error: "boom", name: "N".repeat(200) }).name, "Error");
});

Deno.test("toJson: JSON.stringify, with bigints as decimal strings", () => {
  assert.equal(toJson({ a: [1, "x", null, true] }), '{"a":[1,"x",null,true]}');
  assert.equal(
    toJson({ n: 2n ** 64n, list: [1n, -3n] }),
    '{"n":"18446744073709551616","list":["1","-3"]}',
  );
  assert.equal(toJson(undefined), undefined);
  assert.equal(toJson(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  // Other failures are not hidden.
  const loop: Record<string, unknown> = {};
  loop.self = loop;
  assert.throws(() => toJson(loop), TypeError);
  assert.throws(
    () =>
      toJson({
        toJSON() {
          throw new RangeError("no JSON for you");
        },
      }),
    RangeError,
  );
});

// Refusals rebuilt from the name a server reports them by.
import assert from "node:assert/strict";
import {
  isRefusal,
  QueueFullError,
  refusal,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskConflictError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
  UnknownTaskTypeError,
} from "./errors.ts";

Deno.test("refusals rebuild as typed errors from their wire name", () => {
  const full = refusal("QueueFullError", "service 'lab' is full");
  assert.ok(full instanceof QueueFullError);
  assert.equal(full.message, "service 'lab' is full");
  const invalid = refusal("TaskValidationError", "invalid Sum: b: expected number", [
    { path: "b", message: "expected number" },
  ], "Sum");
  assert.ok(invalid instanceof TaskValidationError);
  assert.equal(invalid.message, "invalid Sum: b: expected number");
  assert.deepEqual(invalid.issues, [{ path: "b", message: "expected number" }]);
  const other = refusal("SomethingElse", "boom");
  assert.equal(other.constructor, Error);
});

Deno.test("every refusal rebuilds as its own class; isRefusal knows them all", () => {
  const types = [
    UnknownServiceError,
    UnknownTaskTypeError,
    UnknownTaskError,
    TaskConflictError,
    QueueFullError,
    ServiceStoppedError,
    RuntimeStoppingError,
  ];
  for (const Type of types) {
    const error = refusal(Type.name, "why");
    assert.ok(error instanceof Type, Type.name);
    assert.equal(error.name, Type.name);
    assert.equal(error.message, "why");
    assert.equal(isRefusal(error), true);
  }
  assert.equal(isRefusal(new TaskValidationError("Sum", [])), true);
  assert.equal(isRefusal(new Error("boom")), false);
  assert.equal(isRefusal("QueueFullError"), false);
  // A name only: not a refusal (it could be anything a server says).
  assert.equal(isRefusal(Object.assign(new Error("x"), { name: "QueueFullError" })), false);
});

Deno.test("refusal: a name without a class is kept if it is an identifier, else dropped", () => {
  assert.equal(refusal("GraphError", "graph: a cycle").name, "GraphError");
  assert.equal(refusal(undefined, "boom").name, "Error");
  assert.equal(refusal("not a name", "boom").name, "Error");
  assert.equal(refusal("constructor", "boom").name, "constructor");
  assert.equal(refusal("toString", "boom").constructor, Error);
  const invalid = refusal("TaskValidationError", "invalid task: type: too long");
  assert.ok(invalid instanceof TaskValidationError);
  assert.deepEqual(invalid.issues, []);
  assert.equal(invalid.taskType, "task");
});

// Admission as a pure function: the one check every submission passes, in its order, typed.
import assert from "node:assert/strict";
import { z } from "zod";
import { defineTask } from "../task/define.ts";
import { TaskValidationError, UnknownServiceError, UnknownTaskTypeError } from "../task/errors.ts";
import { admit } from "./admission.ts";
import type { ServiceEndpoint } from "./types.ts";

/** `[[[…]]]`, `levels` deep. */
const nested = (levels: number): unknown => JSON.parse("[".repeat(levels) + "]".repeat(levels));

const Sum = defineTask("Sum", {
  schema: z.object({ a: z.number(), b: z.number() }),
  parallel: true,
  timeoutMs: 5_000,
});
const Free = defineTask("Free", { schema: z.object({ x: z.any() }), parallel: false });

function services(taskTimeoutMs?: number) {
  const endpoint: ServiceEndpoint = {
    name: "lab",
    ref: { tell: () => true, isAlive: true, name: "service:lab" },
    resolve: (name) => [Sum, Free].find((type) => type.name === name) as never,
    describe: () => ({ kind: "service", taskTypes: [Sum.describe(), Free.describe()] }),
    taskTimeoutMs,
  };
  return new Map([["lab", { endpoint }]]);
}

Deno.test("admit: names, service, type, attributes, timeout, fields — in that order, typed", () => {
  const lab = services();
  const refusedWith = (request: Record<string, unknown>, type: unknown, message: RegExp) =>
    assert.throws(
      () => admit({ service: "lab", type: "Sum", fields: { a: 1, b: 2 }, ...request }, lab),
      (error: unknown) => {
        assert.ok(error instanceof (type as typeof Error), String(error));
        assert.match((error as Error).message, message);
        return true;
      },
    );
  refusedWith(
    { service: "s".repeat(201) },
    TaskValidationError,
    /service: .* over the limit of 200/,
  );
  refusedWith({ type: "T".repeat(1 << 20) }, TaskValidationError, /^invalid task: type: /);
  refusedWith(
    { service: "nope" },
    UnknownServiceError,
    /no service named 'nope' \(services: lab\)/,
  );
  refusedWith(
    { type: "Nope" },
    UnknownTaskTypeError,
    /service 'lab' has no task type 'Nope' \(it handles: Sum, Free\)/,
  );
  refusedWith({ attributes: [1] }, TaskValidationError, /attributes: must be a plain object/);
  refusedWith(
    { attributes: { note: "n".repeat(20_000) } },
    TaskValidationError,
    /attributes: over the limit of 16,384 characters/,
  );
  refusedWith({ timeoutMs: 3e9 }, TaskValidationError, /timeoutMs: must be at most 2147483647/);
  refusedWith(
    { fields: { a: 1, b: 2, x: nested(40) } },
    TaskValidationError,
    /the fields are nested/,
  );
  refusedWith({ fields: { a: "1" } }, TaskValidationError, /^invalid Sum: a: .*; b: /);
  const admitted = admit({ service: "lab", type: "Sum", fields: { a: 1, b: 2 } }, lab);
  assert.deepEqual(
    [admitted.type, admitted.fields, admitted.timeoutMs, admitted.after],
    [Sum, { a: 1, b: 2 }, 5_000, undefined],
  );
});

Deno.test("admit: the timeout is the request's, else the type's, else the service's", () => {
  const request = { service: "lab", type: "Free", fields: { x: 1 } };
  assert.equal(admit(request, services()).timeoutMs, undefined);
  assert.equal(admit(request, services(60_000)).timeoutMs, 60_000);
  assert.equal(admit({ ...request, timeoutMs: 10 }, services(60_000)).timeoutMs, 10);
  assert.equal(
    admit({ ...request, type: "Sum", fields: { a: 1, b: 1 } }, services(60_000)).timeoutMs,
    5_000,
  );
  // A validated Task is not validated again.
  const task = Free.create({ x: 2 });
  assert.equal(admit({ ...request, fields: task.fields, task }, services()).fields, task.fields);
});

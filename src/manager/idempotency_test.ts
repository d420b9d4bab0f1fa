import assert from "node:assert/strict";
import { canonicalJson, IdempotencyKeys, type KeyedRequest, keyProblem } from "./idempotency.ts";

Deno.test("canonicalJson: the same text for the same JSON, whatever the key order", () => {
  const a = { z: 1, a: { y: [3, { q: 1, p: 2 }], x: "s" }, m: null };
  const b = { m: null, a: { x: "s", y: [3, { p: 2, q: 1 }] }, z: 1 };
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.equal(canonicalJson(a), '{"a":{"x":"s","y":[3,{"p":2,"q":1}]},"m":null,"z":1}');
  assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]), "arrays keep their order");
  assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: "1" }));
  // What JSON carries: toJSON applied, undefined members gone, -0 as 0.
  assert.equal(
    canonicalJson({ d: new Date(0), u: undefined, z: -0 }),
    '{"d":"1970-01-01T00:00:00.000Z","z":0}',
  );
  // A "__proto__" key (JSON.parse makes it an own key) is kept like any other.
  const parsed = JSON.parse('{"__proto__": {"x": 1}, "b": 2}');
  assert.equal(canonicalJson(parsed), '{"__proto__":{"x":1},"b":2}');
  assert.equal(canonicalJson("text"), '"text"');
  assert.equal(canonicalJson(undefined), "null");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(
    () => canonicalJson(cyclic),
    /^TypeError: the value is nested deeper than 32 levels, or refers to itself$/,
  );
  const cyclicList: unknown[] = [1];
  cyclicList.push([cyclicList]);
  assert.throws(() => canonicalJson(cyclicList), TypeError);
  let deep: unknown = 1;
  for (let i = 0; i < 32; i++) deep = i % 2 ? [deep] : { d: deep };
  assert.match(canonicalJson(deep), /^\[\{"d":\[\{"d":/);
  assert.throws(() => canonicalJson([deep]), /nested deeper than 32 levels/);
  // The same object twice, side by side, is not a cycle.
  const shared = { x: 1 };
  assert.equal(
    canonicalJson({ a: shared, b: [shared, shared] }),
    '{"a":{"x":1},"b":[{"x":1},{"x":1}]}',
  );
});

const request = (fields: unknown, service = "lab", type = "Calibrate"): KeyedRequest => ({
  service,
  type,
  fields,
});

Deno.test("the same key and request answers the first id; other fields are a conflict saying what differs", () => {
  const records = new Map<string, unknown>();
  const keys = new IdempotencyKeys((id) => records.get(id));
  const first = { qubit: 3, pulse: { amplitude: 0.5, shape: "gauss" }, shots: [100, 200] };
  assert.deepEqual(keys.claim("k1", request(first), "id-1"), { kind: "new" });
  records.set("id-1", first);
  assert.deepEqual(
    keys.claim(
      "k1",
      request({ shots: [100, 200], pulse: { shape: "gauss", amplitude: 0.5 }, qubit: 3 }),
      "id-2",
    ),
    { kind: "same", id: "id-1" },
  );
  const conflict = keys.claim(
    "k1",
    request({ qubit: 4, pulse: { amplitude: 0.5, shape: "gauss", width: 20 }, shots: [100, 300] }),
    "id-3",
  );
  assert.deepEqual(conflict, {
    kind: "conflict",
    id: "id-1",
    message: 'key "k1" was first used by task id-1 with other fields: ' +
      "qubit: 3 → 4; pulse.width: (absent) → 20; shots[1]: 200 → 300",
  });
  const many = keys.claim("k1", request({ a: 1, b: 2, c: 3, d: 4, qubit: 3 }), "id-4");
  assert.match(
    many.kind === "conflict" ? many.message : "",
    /with other fields: a: \(absent\) → 1; b: \(absent\) → 2; c: \(absent\) → 3; and 3 more$/,
  );
  const whole = keys.claim("k1", request("x".repeat(100)), "id-5");
  assert.match(
    whole.kind === "conflict" ? whole.message : "",
    /: \(the fields\): \{"pulse":\{"amplitude":0.5,"shape":"gaus… → "x{38}…$/,
  );
  assert.equal(keys.size, 1, "only the first claim recorded anything");
});

Deno.test("the same key for another service or type is a conflict naming both", () => {
  const keys = new IdempotencyKeys();
  keys.claim("k", request({ q: 1 }), "first");
  assert.deepEqual(keys.claim("k", request({ q: 1 }, "other"), "x"), {
    kind: "conflict",
    id: "first",
    message:
      `key "k" was first used by task first for Calibrate on service 'lab', not Calibrate on service 'other'`,
  });
  const type = keys.claim("k", request({ q: 1 }, "lab", "Measure"), "x");
  assert.match(
    type.kind === "conflict" ? type.message : "",
    /for Calibrate on service 'lab', not Measure on service 'lab'$/,
  );
  // Without a way to read the first fields, the message says only that they differ.
  const fields = keys.claim("k", request({ q: 2 }), "x");
  assert.equal(
    fields.kind === "conflict" && fields.message,
    `key "k" was first used by task first with other fields`,
  );
});

Deno.test("keys are forgotten with their task, or when its submission was refused", () => {
  const keys = new IdempotencyKeys();
  keys.claim("a", request({}), "task-a");
  keys.claim("b", request({}), "task-b");
  assert.equal(keys.idOf("a"), "task-a");
  assert.equal(keys.forgetTask("task-a"), true);
  assert.equal(keys.forgetTask("task-a"), false);
  assert.equal(keys.idOf("a"), undefined);
  assert.deepEqual(keys.claim("a", request({ other: true }), "task-c"), { kind: "new" });
  assert.equal(keys.forget("b"), true);
  assert.equal(keys.forget("b"), false);
  assert.equal(keys.forgetTask("task-b"), false, "its key went with forget");
  assert.equal(keys.size, 1);
  assert.equal(keys.forgetTask("never"), false);
});

Deno.test("bad keys are refused at the door", () => {
  const keys = new IdempotencyKeys();
  for (const bad of ["", "k".repeat(201), 5, null, undefined, ["k"], { k: 1 }]) {
    assert.match(keyProblem(bad) ?? "", /^must be text of 1 to 200 characters, got /);
    // deno-lint-ignore no-explicit-any
    assert.throws(() => keys.claim(bad as any, request({}), "id"), /^TypeError: key must be text/);
  }
  assert.equal(keyProblem("k".repeat(200)), undefined);
  assert.equal(
    keyProblem("k".repeat(201)),
    `must be text of 1 to 200 characters, got "${"k".repeat(60)}…"`,
  );
  assert.equal(keys.size, 0);
});

Deno.test("100k keys claimed, matched and forgotten (time printed)", () => {
  const keys = new IdempotencyKeys();
  const n = 100_000;
  let start = performance.now();
  for (let i = 0; i < n; i++) {
    keys.claim(`key-${i}`, request({ qubit: i % 50, shots: 1_000 }), `id-${i}`);
  }
  const claimMs = performance.now() - start;
  start = performance.now();
  for (let i = 0; i < n; i++) {
    const claim = keys.claim(`key-${i}`, request({ shots: 1_000, qubit: i % 50 }), `again-${i}`);
    if (claim.kind !== "same") assert.fail(`key-${i}: ${JSON.stringify(claim)}`);
  }
  const sameMs = performance.now() - start;
  for (let i = 0; i < n; i++) keys.forgetTask(`id-${i}`);
  assert.equal(keys.size, 0);
  console.log(
    `idempotency keys: ${(claimMs * 1_000 / n).toFixed(1)} µs per new key, ` +
      `${
        (sameMs * 1_000 / n).toFixed(1)
      } µs per repeated request (small fields, SHA-256 of canonical JSON)`,
  );
});

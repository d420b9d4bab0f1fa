// The pure parts of the HTTP routes: `?wait=`, the list query, and the status of each refusal.
import assert from "node:assert/strict";
import { HttpError, MAX_WAIT_MS, parseListParams, parseWait, refusalStatus } from "./http.ts";
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

Deno.test("parseWait: ms, s, m or bare seconds, cut to MAX_WAIT_MS", () => {
  const cases: [string, number][] = [
    ["500ms", 500],
    ["30s", 30_000],
    ["2m", 120_000],
    ["30", 30_000],
    ["1.5s", 1_500],
    ["0", 0],
    [" 5s ", 5_000],
    ["10m", MAX_WAIT_MS],
    ["999999999", MAX_WAIT_MS],
  ];
  for (const [text, ms] of cases) assert.equal(parseWait(text), ms, text);
  assert.equal(MAX_WAIT_MS, 300_000);
});

Deno.test("parseWait: anything else is undefined (the route answers 400)", () => {
  for (const text of ["", "soon", "1h", "-1", "5 s", "s", "1e3", "0x10", "1.", ".5s", "5S"]) {
    assert.equal(parseWait(text), undefined, JSON.stringify(text));
  }
});

/** The query of `?search`, or the `HttpError` it throws. */
function parse(search: string) {
  return parseListParams(new URL(`http://127.0.0.1/tasks?${search}`).searchParams);
}

/** `search` is refused with 400 and a message matching `message`. */
function refused(search: string, message: RegExp) {
  assert.throws(() => parse(search), (error: unknown) => {
    assert.ok(error instanceof HttpError, String(error));
    assert.equal(error.status, 400);
    assert.match(error.message, message);
    return true;
  }, search);
}

Deno.test("parseListParams: each parameter, typed", () => {
  assert.deepEqual(parse(""), {});
  assert.deepEqual(
    parse("service=lab&type=Sum&key=k1&limit=5&cursor=s2a&createdSince=1000&createdUntil=2000"),
    {
      service: "lab",
      type: "Sum",
      key: "k1",
      limit: 5,
      cursor: "s2a",
      createdSince: 1_000,
      createdUntil: 2_000,
    },
  );
  // A date in ISO form is read as ms since the epoch.
  assert.deepEqual(parse("createdUntil=2026-01-02T03:04:05.006Z"), {
    createdUntil: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
  });
});

Deno.test("parseListParams: one state is a list of one; repeated or comma-separated, a list", () => {
  assert.deepEqual(parse("state=failed"), { state: ["failed"] });
  assert.deepEqual(parse("state=failed,cancelled"), { state: ["failed", "cancelled"] });
  assert.deepEqual(parse("state=queued&state=running,waiting"), {
    state: ["queued", "running", "waiting"],
  });
});

Deno.test("parseListParams: a bad parameter is a 400 naming it", () => {
  refused(
    "state=sleeping",
    /^bad query: state\.0: must be one of waiting, queued, running, succeeded, failed, cancelled, expired$/,
  );
  refused("state=failed,", /^bad query: state/);
  refused("limit=0", /^bad query: limit/);
  refused("limit=1001", /^bad query: limit/);
  refused("limit=2.5", /^bad query: limit/);
  refused("limit=ten", /^bad query: limit/);
  refused(
    "createdSince=yesterday",
    /^bad query: createdSince: 'yesterday' is neither ms since the epoch nor a date$/,
  );
  refused("createdUntil=", /^bad query: createdUntil: '' is neither/);
  refused(
    "createdSince=2026-11-31",
    /^bad query: createdSince: no such date '2026-11-31': 2026-11 has 30 days$/,
  );
  refused("colour=red", /^bad query: .*Unrecognized key.*colour/);
  refused(`cursor=${"c".repeat(65)}`, /^bad query: cursor/);
});

Deno.test("refusalStatus: each refusal's status, by its type", () => {
  const cases: [Error, number][] = [
    [new TaskValidationError("Sum", [{ path: "a", message: "expected number" }]), 422],
    [new GraphError("cycle", ["a", "b"], "a cycle: a → b → a"), 422],
    [new UnknownServiceError("no service named 'x'"), 404],
    [new UnknownTaskTypeError("no task type 'X'"), 404],
    [new UnknownTaskError("no task with id 'x'"), 404],
    [new TaskConflictError("key 'k' was used with other fields"), 409],
    [new QueueFullError("service 'lab' is full"), 429],
    [new RuntimeStoppingError("the runtime is stopping"), 503],
    [new ServiceStoppedError("service 'lab' is stopped"), 503],
    [new Error("boom"), 500],
    [new TypeError("not a refusal"), 500],
  ];
  for (const [error, status] of cases) assert.equal(refusalStatus(error), status, error.name);
  // A GraphError that came over a wire is a plain Error with its name: still 422.
  const remote = Object.assign(new Error("graph: a cycle"), { name: "GraphError" });
  assert.equal(refusalStatus(remote), 422);
});

// Parsing of client messages: each type, the first release's submit shape, and every refusal.
import assert from "node:assert/strict";
import { isValidToken, parseClientMessage, WireError } from "./protocol.ts";

/** `message` as the text a client sends. */
const text = (message: unknown) => JSON.stringify(message);

/** `message` is refused with a `WireError` matching `pattern`, carrying `ref`. */
function refused(message: string, pattern: RegExp, ref?: string | number) {
  assert.throws(() => parseClientMessage(message), (error: unknown) => {
    assert.ok(error instanceof WireError, String(error));
    assert.equal(error.name, "WireError");
    assert.match(error.message, pattern);
    assert.equal(error.ref, ref);
    return true;
  }, message.slice(0, 100));
}

Deno.test("parseClientMessage: each message type, as sent", () => {
  const messages = [
    { type: "auth", token: "k3Rf9-Qx_2mZp7LwYb4Tn8Vc" },
    { type: "get", ref: 1, taskId: "t1" },
    { type: "wait", ref: "w", taskId: "t1" },
    { type: "cancel", ref: 2, taskId: "t1" },
    { type: "delete", ref: 3, taskId: "t1" },
    { type: "dot", ref: 4, taskId: "t1" },
    { type: "list", ref: 5 },
    { type: "list", ref: 6, query: { type: "Sum", state: ["failed", "cancelled"], limit: 10 } },
    { type: "services", ref: 7 },
    { type: "release", ref: 8, service: "lab" },
    { type: "store", ref: 9 },
    { type: "schedules", ref: 10 },
    { type: "schedule", ref: 11, name: "nightly", action: "pause" },
    { type: "subscribe", ref: 12 },
    { type: "unsubscribe", ref: 13 },
    { type: "graph", ref: 14, tasks: { scan: { service: "lab", type: "Scan" } } },
  ];
  for (const message of messages) assert.deepEqual(parseClientMessage(text(message)), message);
});

Deno.test("parseClientMessage: submit carries the one submit shape, every option", () => {
  const task = {
    service: "lab",
    type: "Sum",
    fields: { a: 1, b: 2 },
    attributes: { notebook: "n1" },
    timeoutMs: 1_000,
    priority: 3,
    key: "k",
    after: ["t0"],
    onDependencyFailure: "run",
    expiresInMs: 60_000,
  };
  assert.deepEqual(parseClientMessage(text({ type: "submit", ref: 1, task })), {
    type: "submit",
    ref: 1,
    task,
  });
});

Deno.test("parseClientMessage: the first release's submit is read as today's", () => {
  assert.deepEqual(
    parseClientMessage(text({
      type: "submit",
      ref: "r",
      service: "lab",
      task: { type: "Sum", fields: { a: 1, b: 2 } },
      attributes: { user: "ada" },
      timeoutMs: 500,
    })),
    {
      type: "submit",
      ref: "r",
      task: {
        service: "lab",
        type: "Sum",
        fields: { a: 1, b: 2 },
        attributes: { user: "ada" },
        timeoutMs: 500,
      },
    },
  );
  // Without fields or options: the same task, the options absent.
  const bare = parseClientMessage(
    text({ type: "submit", ref: 2, service: "lab", task: { type: "Ping" } }),
  );
  assert.deepEqual(bare, {
    type: "submit",
    ref: 2,
    task: {
      service: "lab",
      type: "Ping",
      fields: undefined,
      attributes: undefined,
      timeoutMs: undefined,
    },
  });
  // The old shape is strict too; its refusals name the field.
  refused(
    text({ type: "submit", ref: 3, service: "lab", task: { type: "Sum" }, extra: true }),
    /^bad 'submit' message: .*Unrecognized key.*extra/,
    3,
  );
  refused(
    text({ type: "submit", ref: 4, service: "lab", task: { type: "" } }),
    /^bad 'submit' message: task\.type: /,
    4,
  );
  refused(
    text({ type: "submit", ref: 5, service: "", task: { type: "Sum" } }),
    /^bad 'submit' message: service: /,
    5,
  );
});

Deno.test("parseClientMessage: what is not a message is refused, naming why", () => {
  refused("this is not json", /^malformed JSON: /);
  refused("[1]", /^a message must be a JSON object with a 'type'$/);
  refused("null", /must be a JSON object/);
  refused('"submit"', /must be a JSON object/);
  refused(text({ ref: 1 }), /^unknown message type undefined \(known: auth, submit, /, 1);
  refused(text({ type: "explode", ref: "x" }), /^unknown message type "explode"/, "x");
  // An inherited name is not a message type.
  refused(text({ type: "toString", ref: 2 }), /^unknown message type "toString"/, 2);
  // A ref that is not one (an object, a long string) is not echoed back.
  refused(text({ type: "explode", ref: { a: 1 } }), /unknown message type/, undefined);
  refused(text({ type: "explode", ref: "r".repeat(201) }), /unknown message type/, undefined);
});

Deno.test("parseClientMessage: a bad field is refused, naming the message and the field", () => {
  refused(text({ type: "get", ref: 3 }), /^bad 'get' message: taskId: /, 3);
  refused(text({ type: "get", ref: 3, taskId: "" }), /^bad 'get' message: taskId: /, 3);
  refused(text({ type: "get", ref: 3, taskId: "t".repeat(201) }), /taskId/, 3);
  refused(text({ type: "services" }), /^bad 'services' message: ref: /);
  refused(text({ type: "services", ref: 1, pad: "x" }), /Unrecognized key.*pad/, 1);
  refused(
    text({ type: "list", ref: 5, query: { limit: -1 } }),
    /^bad 'list' message: query\.limit: /,
    5,
  );
  refused(
    text({ type: "list", ref: 5, query: { state: "sleeping" } }),
    /^bad 'list' message: query\.state\.0: must be one of waiting, /,
    5,
  );
  refused(
    text({ type: "schedule", ref: 6, name: "nightly", action: "delete" }),
    /^bad 'schedule' message: action: /,
    6,
  );
  refused(
    text({ type: "submit", ref: 7, task: { service: "lab" } }),
    /^bad 'submit' message: task\.type: /,
    7,
  );
  refused(
    text({ type: "submit", ref: 8, task: { service: "lab", type: "Sum", feilds: {} } }),
    /Unrecognized key.*feilds/,
    8,
  );
  refused(text({ type: "auth", token: "t".repeat(513) }), /^bad 'auth' message: token: /);
});

Deno.test("isValidToken: 16 to 512 token characters", () => {
  assert.equal(isValidToken("a".repeat(16)), true);
  assert.equal(isValidToken("a".repeat(512)), true);
  assert.equal(isValidToken("a".repeat(15)), false);
  assert.equal(isValidToken("a".repeat(513)), false);
  assert.equal(isValidToken("has a space in the token"), false);
  assert.equal(isValidToken("comma,separated,token,value"), false);
  assert.equal(isValidToken("A-Za-z0-9!#$%&'*+.^_`|~"), true);
});

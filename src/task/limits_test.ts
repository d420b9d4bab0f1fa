// The record limits as pure functions: measuring JSON, cutting text, durations, outcomes, briefs.
import assert from "node:assert/strict";
import {
  briefOf,
  cutText,
  durationProblem,
  limitOutcome,
  MAX_DURATION_MS,
  measureJson,
  RECORD_LIMITS,
} from "./limits.ts";
import type { DisplayOutput, Execution, TaskOutcome } from "./outcome.ts";

/** `[[[…]]]`, `levels` deep. */
const nested = (levels: number): unknown => JSON.parse("[".repeat(levels) + "]".repeat(levels));

Deno.test("measureJson: about JSON's length, without recursion", () => {
  for (const value of [1, "text", true, null, [1, 2, 3], { a: [1, { b: "x" }] }, []]) {
    const measured = measureJson(value, 32, 1_000).chars;
    assert.ok(Math.abs(measured - JSON.stringify(value).length) <= 2, JSON.stringify(value));
  }
  assert.equal(measureJson(nested(32), 32, 1_000).problem, undefined);
  assert.equal(measureJson(nested(33), 32, 1_000).problem, "depth");
  // 100 000 levels: measured (and refused) without a stack overflow.
  assert.equal(measureJson(nested(100_000), 32, 1e9).problem, "depth");
  const loop: Record<string, unknown> = { name: "loop" };
  loop.self = loop;
  assert.equal(measureJson(loop, 32, 1e9).problem, "depth");
  assert.equal(measureJson({ text: "x".repeat(2_000) }, 32, 1_000).problem, "size");
  // Dates are measured as JSON writes them: their toJSON.
  assert.equal(measureJson(new Date(0), 32, 1_000).chars, JSON.stringify(new Date(0)).length);
});

Deno.test("cutText keeps the head and the tail, says how much was cut, fits the limit", () => {
  assert.equal(cutText("short", 100), "short");
  const text = `HEAD${"x".repeat(10_000)}TAIL`;
  const cut = cutText(text, 200);
  assert.ok(cut.length <= 200, `${cut.length}`);
  assert.ok(cut.startsWith("HEADxxx") && cut.endsWith("xxxTAIL"));
  const marker = cut.match(/\n… \[([\d,]+) characters cut\] …\n/);
  assert.ok(marker);
  const kept = cut.length - marker[0].length;
  assert.equal(Number(marker[1].replaceAll(",", "")), text.length - kept);
});

Deno.test("durations: positive, finite, at most 2³¹−1 ms", () => {
  assert.equal(MAX_DURATION_MS, 2_147_483_647);
  for (const ok of [1, 0.5, 1_000, MAX_DURATION_MS]) assert.equal(durationProblem(ok), undefined);
  assert.equal(durationProblem(0, true), undefined);
  for (const bad of [0, -1, NaN, Infinity, MAX_DURATION_MS + 1, 3e9, "5", null, undefined]) {
    assert.match(durationProblem(bad) ?? "", /must be/, String(bad));
  }
});

const png = (chars: number): DisplayOutput => ({
  data: { "image/png": "A".repeat(chars), "text/plain": "<Figure>" },
  metadata: {},
});

function execution(overrides: Partial<Execution> & { executeResult?: DisplayOutput } = {}) {
  return { code: "1", executionCount: 1, stdout: "", stderr: "", displays: [], ...overrides };
}

Deno.test("limitOutcome: the same object when within the limits", () => {
  const small: TaskOutcome = { status: "ok", id: "t", result: { volts: [1, 2, 3] } };
  assert.equal(limitOutcome(small), small);
  const kernel: TaskOutcome = {
    status: "ok",
    id: "t",
    result: null,
    execution: execution({ stdout: "hi\n", displays: [png(1_000)] }),
  };
  assert.equal(limitOutcome(kernel), kernel);
  const failed: TaskOutcome = {
    status: "error",
    id: "t",
    ename: "ZeroDivisionError",
    evalue: "division by zero",
    traceback: "…",
  };
  assert.equal(limitOutcome(failed), failed);
});

Deno.test("limitOutcome: long text keeps head and tail; outputs beyond the budget become a note", () => {
  const long = `BEGIN${"y".repeat(3_000_000)}END`;
  const outcome: TaskOutcome = {
    status: "ok",
    id: "t",
    result: long,
    execution: execution({
      code: long,
      stdout: long,
      stderr: long,
      displays: [png(1_500_000), png(1_500_000), png(1_500_000), png(1_500_000), png(10)],
    }),
  };
  const limited = limitOutcome(outcome);
  assert.notEqual(limited, outcome);
  assert.equal(outcome.result, long, "the handler's own object is not changed");
  assert.equal(limited.status, "ok");
  const result = (limited as { result: string }).result;
  assert.ok(result.length <= RECORD_LIMITS.resultChars && result.endsWith("END"));
  const run = limited.execution as Execution;
  for (const text of [run.code, run.stdout, run.stderr]) {
    assert.ok(text.length <= RECORD_LIMITS.textChars);
    assert.ok(text.startsWith("BEGIN") && text.endsWith("END"));
    assert.match(text, /characters cut/);
  }
  // Two 1.5 MB images fit in 4 MiB; from the third on they are cut, and a note says so.
  assert.equal(run.displays.length, 3);
  assert.match(String(run.displays[2].data["text/plain"]), /^\[3 of 5 outputs cut: over the limit/);
  const size = JSON.stringify(run).length;
  assert.ok(size < RECORD_LIMITS.outputChars + 4 * RECORD_LIMITS.textChars, `${size}`);
});

Deno.test("limitOutcome: the result's rich bundle comes first; over the budget, its text stays", () => {
  const executeResult = png(5_000_000);
  const limited = limitOutcome({
    status: "ok",
    id: "t",
    result: "<Figure>",
    execution: execution({ executeResult, displays: [png(100)] }),
  });
  const run = limited.execution as Execution & { executeResult: DisplayOutput };
  assert.deepEqual(Object.keys(run.executeResult.data), ["text/plain"]);
  assert.match(
    String(run.executeResult.data["text/plain"]),
    /^<Figure>\n\[the result's other forms were cut/,
  );
  assert.equal(run.displays.length, 1, "the small display still fits");
  // A bundle that fits is kept whole, and counts against the displays' budget.
  const fits = limitOutcome({
    status: "ok",
    id: "t",
    result: null,
    execution: execution({ executeResult: png(3_000_000), displays: [png(2_000_000)] }),
  });
  const kept = fits.execution as Execution & { executeResult: DisplayOutput };
  assert.equal(kept.executeResult.data["image/png"], png(3_000_000).data["image/png"]);
  assert.match(String(kept.displays[0].data["text/plain"]), /^\[1 of 1 outputs cut/);
});

Deno.test("limitOutcome: a result too large, too deep or unreadable is a ResultTooLargeError", () => {
  const printed = execution({ stdout: "computed\n" });
  const cases: [unknown, RegExp][] = [
    [{ data: "z".repeat(2_000_000) }, /the result is over the limit of 1,048,576 characters/],
    [nested(100), /the result is nested deeper than the limit of 32 levels/],
    [{
      get boom() {
        throw new Error("getter exploded");
      },
    }, /the result is unreadable: getter exploded/],
  ];
  for (const [result, evalue] of cases) {
    const limited = limitOutcome({ status: "ok", id: "t", result, execution: printed });
    assert.equal(limited.status, "error");
    if (limited.status !== "error") continue;
    assert.equal(limited.ename, "ResultTooLargeError");
    assert.match(limited.evalue, evalue);
    assert.equal(limited.execution?.stdout, "computed\n", "what was printed is kept");
  }
});

Deno.test("limitOutcome: an error's name, message and traceback are cut", () => {
  const limited = limitOutcome({
    status: "error",
    id: "t",
    ename: "E".repeat(1_000),
    evalue: "v".repeat(100_000),
    traceback: "t".repeat(1_000_000),
  });
  assert.equal(limited.status, "error");
  if (limited.status !== "error") return;
  assert.ok(limited.ename.length <= RECORD_LIMITS.nameChars);
  assert.ok(limited.evalue.length <= RECORD_LIMITS.evalueChars);
  assert.ok(limited.traceback.length <= RECORD_LIMITS.tracebackChars);
});

Deno.test("briefOf: a short preview of an outcome: its result as JSON, or ename: evalue", () => {
  assert.deepEqual(briefOf({ status: "ok", id: "t", result: { volts: 5 } }), {
    status: "ok",
    text: '{"volts":5}',
  });
  assert.deepEqual(briefOf({ status: "ok", id: "t", result: 2n ** 70n }), {
    status: "ok",
    text: '"1180591620717411303424"',
  });
  const long = briefOf({ status: "ok", id: "t", result: { data: "d".repeat(10_000) } });
  assert.equal(long.text.length, RECORD_LIMITS.briefChars);
  assert.ok(long.text.endsWith("…"));
  assert.deepEqual(
    briefOf({ status: "error", id: "t", ename: "RangeError", evalue: "too big", traceback: "" }),
    { status: "error", text: "RangeError: too big" },
  );
});

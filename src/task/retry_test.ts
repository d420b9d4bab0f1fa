import assert from "node:assert/strict";
import { parseRetryPolicy, RETRY_LIMITS, RetryPolicyError } from "./retry.ts";

Deno.test("delays grow by the factor from initialMs, capped at maxMs", () => {
  const policy = parseRetryPolicy({
    attempts: 8,
    backoff: { initialMs: 250, factor: 2, maxMs: 5_000 },
  });
  assert.deepEqual(
    [1, 2, 3, 4, 5, 6, 7, 8].map((retry) => policy.delayMs(retry)),
    [250, 500, 1_000, 2_000, 4_000, 5_000, 5_000, 5_000],
  );
  const fixed = parseRetryPolicy({ attempts: 3, backoff: { initialMs: 700, factor: 1 } });
  assert.deepEqual([1, 2, 3].map((retry) => fixed.delayMs(retry)), [700, 700, 700]);
  const immediate = parseRetryPolicy({ attempts: 3, backoff: { initialMs: 0, factor: 1_000 } });
  assert.deepEqual([1, 50].map((retry) => immediate.delayMs(retry)), [0, 0]);
  // A factor that overflows to Infinity still gives maxMs.
  const steep = parseRetryPolicy({
    attempts: 100,
    backoff: { initialMs: 1, factor: 1_000, maxMs: 2 ** 31 - 1 },
  });
  assert.equal(steep.delayMs(100), 2 ** 31 - 1);
  assert.equal(steep.delayMs(0), 1, "retry numbers below 1 count as the first");
  const fractional = parseRetryPolicy({ attempts: 3, backoff: { initialMs: 3, factor: 1.5 } });
  assert.deepEqual([1, 2, 3].map((retry) => fractional.delayMs(retry)), [3, 5, 7]); // 3, 4.5, 6.75 rounded
});

Deno.test("jitter takes up to its fraction off each delay, from the random source given", () => {
  const policy = parseRetryPolicy({
    attempts: 3,
    backoff: { initialMs: 1_000, factor: 2, maxMs: 10_000, jitter: 0.25 },
  });
  assert.equal(policy.delayMs(1, () => 0), 1_000);
  assert.equal(policy.delayMs(1, () => 0.5), 875);
  assert.equal(policy.delayMs(2, () => 0.999_999), 1_500);
  // A random source that misbehaves takes nothing off, rather than giving NaN.
  for (const bad of [Number.NaN, -1, 7]) assert.equal(policy.delayMs(1, () => bad), 1_000);
  const full = parseRetryPolicy({ attempts: 1, backoff: { initialMs: 800, jitter: 1 } });
  assert.equal(full.delayMs(1, () => 0.75), 200);
  const seen = new Set<number>();
  for (let i = 0; i < 1_000; i++) {
    const delay = full.delayMs(1);
    assert.ok(Number.isInteger(delay) && delay >= 0 && delay <= 800, String(delay));
    seen.add(delay);
  }
  assert.ok(seen.size > 100, "Math.random by default");
});

Deno.test("retryOn limits retries to the named errors; next() combines it with the attempts left", () => {
  const policy = parseRetryPolicy({
    attempts: 2,
    backoff: { initialMs: 100, factor: 10 },
    retryOn: ["TimeoutError", "ConnectionResetError"],
  });
  assert.equal(policy.retries("TimeoutError"), true);
  assert.equal(policy.retries("ValueError"), false);
  assert.equal(policy.next(1, "TimeoutError"), 100);
  assert.equal(policy.next(2, "ConnectionResetError"), 1_000);
  assert.equal(policy.next(3, "TimeoutError"), undefined, "two retries made: no third");
  assert.equal(policy.next(1, "ValueError"), undefined);
  const any = parseRetryPolicy({ attempts: 1 });
  assert.equal(any.retries("Anything"), true);
  assert.equal(any.next(1, "Anything"), 1_000);
  assert.equal(parseRetryPolicy({ attempts: 0 }).next(1, "Anything"), undefined);
  assert.equal(parseRetryPolicy({ attempts: 1, retryOn: [] }).retries("Anything"), false);
});

Deno.test("defaults: 1 s doubling up to 60 s (or initialMs if longer), no jitter, any error", () => {
  const policy = parseRetryPolicy({ attempts: 3 });
  assert.deepEqual(
    [policy.attempts, policy.initialMs, policy.factor, policy.maxMs, policy.jitter, policy.retryOn],
    [3, 1_000, 2, 60_000, 0, undefined],
  );
  assert.equal(parseRetryPolicy({ attempts: 1, backoff: { initialMs: 120_000 } }).maxMs, 120_000);
  assert.equal(parseRetryPolicy({ attempts: 1, backoff: {} }).initialMs, 1_000);
});

Deno.test("bad policies are refused naming the field, the bound and the value", () => {
  // deno-lint-ignore no-explicit-any
  const cases: [any, string, RegExp][] = [
    [undefined, "retries", /must be an object \{ attempts, backoff\?, retryOn\? \}, got undefined/],
    [3, "retries", /got 3/],
    [[1], "retries", /got a list/],
    [{}, "retries.attempts", /must be a whole number from 0 to 100, got undefined/],
    [{ attempts: -1 }, "retries.attempts", /got -1/],
    [{ attempts: 1.5 }, "retries.attempts", /got 1.5/],
    [{ attempts: "3" }, "retries.attempts", /got "3"/],
    [{ attempts: RETRY_LIMITS.attempts + 1 }, "retries.attempts", /got 101/],
    [{ attempts: Number.NaN }, "retries.attempts", /got NaN/],
    [
      { attempts: 1, backoff: 100 },
      "retries.backoff",
      /must be an object \{ initialMs\?, factor\?, maxMs\?, jitter\? \}, got 100/,
    ],
    [
      { attempts: 1, backoff: { initialMs: -5 } },
      "retries.backoff.initialMs",
      /must be a whole number of ms from 0 to 2147483647, got -5/,
    ],
    [{ attempts: 1, backoff: { initialMs: "1s" } }, "retries.backoff.initialMs", /got "1s"/],
    [
      { attempts: 1, backoff: { initialMs: 2 ** 31 } },
      "retries.backoff.initialMs",
      /got 2147483648/,
    ],
    [{ attempts: 1, backoff: { initialMs: 0.5 } }, "retries.backoff.initialMs", /got 0.5/],
    [{ attempts: 1, backoff: { maxMs: Infinity } }, "retries.backoff.maxMs", /got Infinity/],
    [
      { attempts: 1, backoff: { initialMs: 5_000, maxMs: 1_000 } },
      "retries.backoff.maxMs",
      /must be at least initialMs \(5000\), got 1000/,
    ],
    [
      { attempts: 1, backoff: { factor: 0.5 } },
      "retries.backoff.factor",
      /must be a number from 1 to 1000, got 0.5/,
    ],
    [{ attempts: 1, backoff: { factor: Number.NaN } }, "retries.backoff.factor", /got NaN/],
    [{ attempts: 1, backoff: { factor: "2" } }, "retries.backoff.factor", /got "2"/],
    [{ attempts: 1, backoff: { factor: 1_001 } }, "retries.backoff.factor", /got 1001/],
    [
      { attempts: 1, backoff: { jitter: -0.1 } },
      "retries.backoff.jitter",
      /must be a number from 0 to 1, got -0.1/,
    ],
    [{ attempts: 1, backoff: { jitter: 1.5 } }, "retries.backoff.jitter", /got 1.5/],
    [
      { attempts: 1, retryOn: "TimeoutError" },
      "retries.retryOn",
      /must be a list of error names, got "TimeoutError"/,
    ],
    [
      { attempts: 1, retryOn: ["A", 3] },
      "retries.retryOn[1]",
      /must be an error name \(1 to 200 characters\), got 3/,
    ],
    [{ attempts: 1, retryOn: [""] }, "retries.retryOn[0]", /got ""/],
    [{ attempts: 1, retryOn: ["E".repeat(201)] }, "retries.retryOn[0]", /got "E{40}…"/],
    [
      { attempts: 1, retryOn: Array.from({ length: 101 }, (_, i) => `E${i}`) },
      "retries.retryOn",
      /at most 100 errors, got 101/,
    ],
  ];
  for (const [options, field, reason] of cases) {
    assert.throws(
      () => parseRetryPolicy(options),
      (error) => {
        assert.ok(error instanceof RetryPolicyError && error instanceof TypeError, String(error));
        assert.equal(error.field, field);
        assert.ok(error.message.startsWith(`${field} `), error.message);
        assert.match(error.message, reason);
        return true;
      },
      JSON.stringify(options)?.slice(0, 80),
    );
  }
  assert.throws(
    () => parseRetryPolicy({ attempts: -1 }, "task type 'Calibrate': retries"),
    /^RetryPolicyError: task type 'Calibrate': retries.attempts must be/,
  );
});

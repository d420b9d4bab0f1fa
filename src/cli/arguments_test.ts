import assert from "node:assert/strict";
import {
  parseDuration,
  parseJsonObject,
  parseList,
  parseStates,
  parseTime,
  parseWholeNumber,
  UsageError,
} from "./arguments.ts";

Deno.test("parseWholeNumber: digits within the bounds, else a usage error naming the option", () => {
  assert.equal(parseWholeNumber("0", "--priority", -1000, 1000), 0);
  assert.equal(parseWholeNumber("-1000", "--priority", -1000, 1000), -1000);
  for (const text of ["", "1.5", "1e3", "0x10", " 5", "1001", "-1001", "99999999999999999"]) {
    assert.throws(
      () => parseWholeNumber(text, "--priority", -1000, 1000),
      (error) =>
        error instanceof UsageError &&
        error.message === `--priority must be a whole number from -1000 to 1000, got '${text}'`,
      text,
    );
  }
  assert.throws(
    () => parseWholeNumber("0", "--timeout", 1, 10, "ms"),
    /--timeout must be a whole number of ms from 1 to 10, got '0'/,
  );
});

Deno.test("parseDuration: units largest first, or ms; from 1 ms to the bound", () => {
  const cases: [string, number][] = [
    ["30s", 30_000],
    ["500ms", 500],
    ["2m", 120_000],
    ["1h30m", 5_400_000],
    ["1d2h3m4s5ms", 93_784_005],
    ["250", 250],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text, "--expires-in"), ms, text);
  for (const text of ["", "s", "30m1h", "1.5s", "-5s", "5 s", "1w", "30sec"]) {
    assert.throws(
      () => parseDuration(text, "--expires-in"),
      /--expires-in must be a duration/,
      text,
    );
  }
  assert.throws(() => parseDuration("0", "--expires-in"), /from 1 ms to 2147483647 ms, got '0'/);
  assert.throws(() => parseDuration("25d", "--expires-in"), /\(2160000000 ms\)/);
  assert.equal(parseDuration("25d", "--since", Number.MAX_SAFE_INTEGER), 2_160_000_000);
});

Deno.test("parseTime: an ISO date or time, or a duration ago", () => {
  const now = Date.UTC(2026, 10, 29, 12);
  assert.equal(parseTime("2h", "--since", now), now - 7_200_000);
  assert.equal(parseTime("1d", "--since", now), now - 86_400_000);
  assert.equal(parseTime("2026-11-29", "--since", now), Date.UTC(2026, 10, 29));
  assert.equal(parseTime("2026-11-29T08:00:00Z", "--since", now), Date.UTC(2026, 10, 29, 8));
  assert.equal(
    parseTime("2026-11-29T08:00:00.250+02:00", "--since"),
    Date.UTC(2026, 10, 29, 6, 0, 0, 250),
  );
  assert.equal(parseTime("2026-11-29 08:00", "--since"), new Date(2026, 10, 29, 8).getTime());
  for (
    const text of [
      "",
      "yesterday",
      "1700000000",
      "29/11/2026",
      "2h ago",
    ]
  ) {
    assert.throws(
      () => parseTime(text, "--until", now),
      /--until must be a date like 2026-11-29/,
      text,
    );
  }
});

Deno.test("parseTime: a date or time that does not exist is refused, not rolled over", () => {
  const cases: [string, string][] = [
    ["2026-11-31", "2026-11 has 30 days"],
    ["2026-02-29", "2026-02 has 28 days"],
    ["2026-02-30T08:00:00Z", "2026-02 has 28 days"],
    ["2026-04-00", "2026-04 has 30 days"],
    ["2026-13-01", "there is no month 13"],
    ["2026-00-10", "there is no month 0"],
    ["2026-11-29T25:00", "hours go from 00 to 23"],
    ["2026-11-29T24:00", "hours go from 00 to 23"],
    ["2026-11-29 08:60", "minutes and seconds go from 00 to 59"],
    ["2026-11-29T08:00:61Z", "minutes and seconds go from 00 to 59"],
  ];
  for (const [text, reason] of cases) {
    assert.throws(
      () => parseTime(text, "--since"),
      (error) =>
        error instanceof UsageError &&
        error.message === `--since must be a date that exists, got '${text}': ${reason}`,
      text,
    );
  }
  // The last day of a month, and February 29 of a leap year, exist.
  assert.equal(parseTime("2026-11-30", "--since"), Date.UTC(2026, 10, 30));
  assert.equal(parseTime("2028-02-29", "--since"), Date.UTC(2028, 1, 29));
  assert.equal(parseTime("2000-02-29T23:59:59Z", "--since"), Date.UTC(2000, 1, 29, 23, 59, 59));
});

Deno.test("parseList and parseStates: comma-separated, no empty item, known states only", () => {
  assert.deepEqual(parseList("a, b", "--after"), ["a", "b"]);
  assert.throws(() => parseList("", "--after"), /--after has an empty item/);
  assert.deepEqual(parseStates("waiting,expired"), ["waiting", "expired"]);
  assert.throws(() => parseStates("ok"), /--state: 'ok' is not a task state \(states: waiting, /);
  assert.deepEqual(parseJsonObject('{"a":1}', "fields"), { a: 1 });
  assert.throws(() => parseJsonObject("null", "fields"), /fields must be a JSON object/);
  assert.throws(() => parseJsonObject("{", "--attributes"), /--attributes must be JSON: /);
});

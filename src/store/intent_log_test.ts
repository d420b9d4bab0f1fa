import assert from "node:assert/strict";
import {
  deleteLine,
  IntentLogFile,
  type LogChange,
  logGenerations,
  logPath,
  metaLine,
  putLine,
  readCheckedLine,
  readLine,
} from "./intent_log.ts";
import { finish, queued, tempStore } from "./testdata/records.ts";

Deno.test("intent log: lines read back as the change written, quick or checked", () => {
  const record = finish(
    queued({ fields: { text: 'quotes " and \\ and\nnewlines\tand tabs', emoji: "🧪" } }),
  );
  for (const id of [record.id, 'odd "id" \\ here\t', ""]) {
    const keyed = id === "" ? {} : { key: `key ${id}` };
    const line = putLine(42, { ...record, id, service: "a\tb", ...keyed }).slice(0, -1);
    assert.equal(line.split("\t").length, 2, "one tab: between the head and the record");
    for (const read of [readLine, readCheckedLine]) {
      const change = read(line) as LogChange;
      assert.equal(change?.id, id);
      assert.equal(change?.seq, 42);
      assert.deepEqual(change?.put?.columns, {
        service: "a\tb",
        type: record.type,
        state: "succeeded",
        createdAt: record.createdAt,
        startedAt: record.startedAt,
        finishedAt: record.finishedAt,
        expiresAt: record.expiresAt,
        key: keyed.key ?? null,
      });
      assert.deepEqual(JSON.parse(change?.put?.record as string), {
        ...record,
        id,
        service: "a\tb",
        ...keyed,
      });
    }
    assert.deepEqual(readLine(deleteLine(id).slice(0, -1)), { id, seq: 0, put: undefined });
    for (const read of [readLine, readCheckedLine]) {
      assert.deepEqual(read(metaLine(id, `{"v":"\t${id}"}`).slice(0, -1)), {
        meta: id,
        value: `{"v":"\t${id}"}`,
      });
    }
  }
  // A line of schema version 1 (no key in the head) still reads.
  const v1 = '[7,"a","lab","T","queued",0,null,null,null]\t{"id":"a"}';
  assert.equal((readCheckedLine(v1) as LogChange).put?.columns.key, null);
  const fresh = queued();
  assert.deepEqual(
    (readLine(putLine(1, fresh).slice(0, -1)) as LogChange).put?.columns.startedAt,
    null,
  );
});

Deno.test("intent log: a torn or foreign line is not a change", () => {
  const line = putLine(7, queued()).slice(0, -1);
  for (let cut = 1; cut < line.length; cut++) {
    assert.equal(readCheckedLine(line.slice(0, cut)), undefined, `cut at ${cut}`);
  }
  assert.equal(readCheckedLine("\0\0\0\0"), undefined);
  const head = '[7,"a","lab","T","queued",0,null,null,null]';
  assert.ok(readCheckedLine(`${head}\t{"id":"a"}`));
  assert.equal(readCheckedLine(`${head}\t{"id":"b"}`), undefined, "the id must match the record's");
  assert.equal(
    readCheckedLine('[7,"a","lab","T","queued",null,null,null,null]\t{"id":"a"}'),
    undefined,
  );
  assert.equal(readCheckedLine('{"id":"a"}'), undefined);
  assert.equal(readCheckedLine('{"meta":"a","value":3}'), undefined);
  assert.equal(
    readCheckedLine('[7,"a","lab","T","queued",0,null,null,null,3]\t{"id":"a"}'),
    undefined,
  );
  const meta = metaLine("schedules", "x".repeat(50)).slice(0, -1);
  for (let cut = 1; cut < meta.length; cut++) {
    assert.equal(readCheckedLine(meta.slice(0, cut)), undefined, `meta cut at ${cut}`);
  }
  assert.equal(readLine("garbage"), undefined);
});

Deno.test("intent log: files are named by generation; one sync covers the appends before it", async () => {
  const { dir, path } = tempStore();
  try {
    const log = IntentLogFile.create(path, 3);
    assert.throws(() => IntentLogFile.create(path, 3), Deno.errors.AlreadyExists);
    IntentLogFile.create(path, 12).close();
    Deno.writeTextFileSync(`${path}-intent.x`, "");
    assert.deepEqual(logGenerations(path), [3, 12]);
    assert.equal(log.synced(), undefined, "nothing appended: nothing to wait for");
    const bytes = new TextEncoder().encode(deleteLine("a"));
    log.append(bytes);
    const first = log.synced();
    log.append(bytes);
    const second = log.synced();
    log.append(bytes);
    assert.equal(log.synced(), second, "appends while a sync waits share the next one");
    await Promise.all([first, second]);
    assert.equal(log.synced(), undefined);
    assert.equal(log.size, 3 * bytes.length);
    await log.close();
    assert.equal(Deno.readTextFileSync(logPath(path, 3)), deleteLine("a").repeat(3));
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { idHash, IdMap } from "./id_map.ts";
import { uuidv7 } from "./uuid.ts";

type Entry = { record: { id: string }; n: number };
const entry = (id: string, n = 0): Entry => ({ record: { id }, n });

/** Two ids with one hash, found by trying (a 30-bit hash: a few ten thousand tries). */
function collidingIds(): [string, string] {
  const byHash = new Map<number, string>();
  for (let i = 0;; i++) {
    const id = `id-${i}`;
    const other = byHash.get(idHash(id));
    if (other !== undefined) return [other, id];
    byHash.set(idHash(id), id);
  }
}

Deno.test("IdMap keeps, replaces and removes values by their record's id", () => {
  const map = new IdMap<Entry>();
  const ids = Array.from({ length: 1_000 }, () => uuidv7());
  ids.forEach((id, n) => map.set(entry(id, n)));
  assert.equal(map.size, 1_000);
  for (const [n, id] of ids.entries()) assert.equal(map.get(id)?.n, n);
  assert.equal(map.get(uuidv7()), undefined);
  assert.equal(map.has(ids[0]), true);

  map.set(entry(ids[0], -1));
  assert.equal(map.size, 1_000);
  assert.equal(map.get(ids[0])?.n, -1);

  assert.equal(map.delete(ids[1]), true);
  assert.equal(map.delete(ids[1]), false);
  assert.equal(map.get(ids[1]), undefined);
  assert.equal(map.size, 999);
  assert.deepEqual([...map.values()].map((value) => value.n).slice(0, 3), [-1, 2, 3]);
});

Deno.test("IdMap looks an id up by its text, not by the string object", () => {
  const map = new IdMap<Entry>();
  const id = uuidv7();
  map.set(entry(id));
  const copy = [...id].join("");
  assert.equal(map.get(copy)?.record.id, id);
  assert.equal(map.delete(copy), true);
  assert.equal(map.size, 0);
});

Deno.test("IdMap keeps ids that share a hash apart", () => {
  const [first, second] = collidingIds();
  const map = new IdMap<Entry>();
  map.set(entry(first, 1));
  assert.equal(map.get(second), undefined, "a shared hash is not a match");
  assert.equal(map.delete(second), false);
  map.set(entry(second, 2));
  assert.equal(map.size, 2);
  assert.equal(map.get(first)?.n, 1);
  assert.equal(map.get(second)?.n, 2);
  map.set(entry(second, 3));
  assert.equal(map.size, 2);
  assert.deepEqual([...map.values()].map((value) => value.n).sort(), [1, 3]);
  assert.equal(map.delete(first), true);
  assert.equal(map.get(first), undefined);
  assert.equal(map.get(second)?.n, 3);
  assert.equal(map.size, 1);
  map.set(entry(first, 4));
  assert.equal(map.get(first)?.n, 4);
  assert.equal(map.delete(second), true);
  assert.equal(map.delete(first), true);
  assert.equal(map.size, 0);
  assert.deepEqual([...map.values()], []);
});

Deno.test("idHash reads the length and each of the last 12 characters", () => {
  const id = "0193a0c4-7e55-7d2a-9f3b-1c2d3e4f5a6b";
  const changed = Array.from({ length: 12 }, (_, k) => {
    const i = id.length - 1 - k;
    return idHash(id.slice(0, i) + "_" + id.slice(i + 1));
  });
  assert.equal(new Set([idHash(id), ...changed, idHash(id + "0"), idHash(id.slice(1))]).size, 15);
  assert.equal(idHash("x" + id.slice(1)), idHash(id), "the head is not read");
});

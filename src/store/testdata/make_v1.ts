/**
 * Writes `v1.db`: a task store as schema version 1 left it (no `key`
 * column, no `zest_meta` table), the fixture of the 1 → 2 migration test.
 * Run from the repository root:
 * `deno run --allow-read --allow-write src/store/testdata/make_v1.ts`.
 */
import { OBJECTS_V1 } from "../schema.ts";
import { freshDatabase } from "./records.ts";

const path = new URL("./v1.db", import.meta.url).pathname;
const db = freshDatabase(path);
db.exec(`
  PRAGMA page_size = 8192;
  PRAGMA auto_vacuum = INCREMENTAL;
  ${OBJECTS_V1}
  CREATE TABLE zest_schema (version INTEGER NOT NULL);
  INSERT INTO zest_schema VALUES (1);
`);
const t0 = Date.UTC(2025, 6, 1);
const insert = db.prepare("INSERT INTO tasks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
// Two with an idempotency key (one finished, one queued), three without.
const rows = [
  { n: 1, state: "succeeded", key: "calibrate-q1" },
  { n: 2, state: "expired" },
  { n: 3, state: "running" },
  { n: 4, state: "waiting" },
  { n: 5, state: "queued", key: "calibrate-q5" },
];
for (const { n, state, key } of rows) {
  const id = `00000000-0000-7000-8000-00000000010${n}`;
  const createdAt = t0 + n * 1000;
  const finished = state === "succeeded" || state === "expired";
  const startedAt = state === "succeeded" || state === "running" ? createdAt + 10 : undefined;
  const finishedAt = finished ? createdAt + 20 : undefined;
  const expiresAt = finished ? Date.UTC(2100, 0, 1) : undefined;
  const record = {
    id,
    type: "Calibrate",
    service: "lab",
    fields: { n },
    attributes: { fixture: "v1" },
    parallel: false,
    state,
    attempts: startedAt === undefined ? 0 : 1,
    createdAt,
    ...(startedAt === undefined ? {} : { startedAt }),
    ...(finishedAt === undefined ? {} : { finishedAt, expiresAt }),
    ...(key === undefined ? {} : { key }),
    log: [],
    ...(state === "succeeded" ? { outcome: { status: "ok", id, result: n } } : {}),
    ...(state === "expired"
      ? {
        outcome: {
          status: "error",
          id,
          ename: "ExpiredError",
          evalue: "it never ran",
          traceback: "",
        },
      }
      : {}),
  };
  insert.run(
    n,
    id,
    "lab",
    "Calibrate",
    state,
    createdAt,
    startedAt ?? null,
    finishedAt ?? null,
    expiresAt ?? null,
    JSON.stringify(record),
  );
}
db.exec(`
  INSERT INTO zest_counts VALUES ('Calibrate', 5, 2);
  INSERT INTO zest_progress VALUES (0, 0, 5);
`);
db.close();
console.log(`wrote ${path}`);

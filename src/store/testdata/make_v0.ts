/**
 * Writes `v0.db`: a task store as schema version 0 left it (one table keyed
 * by id; no submission order, counts or intent log progress), the fixture of
 * the migration test. Run from the repository root:
 * `deno run --allow-read --allow-write src/store/testdata/make_v0.ts`.
 */
import { freshDatabase } from "./records.ts";

const path = new URL("./v0.db", import.meta.url).pathname;
const db = freshDatabase(path);
db.exec(`
  CREATE TABLE zest_schema (version INTEGER NOT NULL);
  INSERT INTO zest_schema VALUES (0);
  CREATE TABLE tasks (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    record TEXT NOT NULL
  );
`);
const t0 = Date.UTC(2025, 0, 1);
const insert = db.prepare("INSERT INTO tasks VALUES (?, ?, ?, ?)");
// Inserted out of creation order: the migration orders rows by created_at.
const records = [
  { n: 3, state: "running", type: "Calibrate", service: "lab" },
  { n: 1, state: "succeeded", type: "Calibrate", service: "lab" },
  { n: 4, state: "queued", type: "Calibrate", service: "lab" },
  { n: 2, state: "failed", type: "Measure", service: "scope" },
  { n: 5, state: "queued", type: "Measure", service: "scope" },
];
for (const { n, state, type, service } of records) {
  const id = `00000000-0000-4000-8000-00000000000${n}`;
  const createdAt = t0 + n * 1000;
  const finished = state === "succeeded" || state === "failed";
  const record = {
    id,
    type,
    service,
    fields: { n },
    attributes: { fixture: "v0" },
    parallel: false,
    state,
    attempts: state === "queued" ? 0 : 1,
    createdAt,
    ...(state === "queued" ? {} : { startedAt: createdAt + 10 }),
    ...(finished
      ? {
        finishedAt: createdAt + 20,
        // No expiresAt on the failed one: the migration dates it from the default ttl.
        ...(state === "succeeded" ? { expiresAt: Date.UTC(2100, 0, 1) } : {}),
        outcome: state === "succeeded"
          ? {
            status: "ok",
            id,
            result: n,
            execution: {
              code: `print(${n})`,
              executionCount: 1,
              stdout: `${n}\n`,
              stderr: "",
              displays: [],
            },
          }
          : {
            status: "error",
            id,
            ename: "ZeroDivisionError",
            evalue: "division by zero",
            traceback: "",
          },
      }
      : {}),
    log: [],
  };
  insert.run(id, state, createdAt, JSON.stringify(record));
}
db.close();
console.log(`wrote ${path}`);

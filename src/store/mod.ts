/**
 * The durable task store: {@linkcode SqliteTaskStore} keeps task records in
 * an SQLite file (the default of `deno task start`). It implements the
 * manager's `TaskStore` (`src/manager/store.ts`), whose memory store is the
 * in-process default.
 *
 * @example
 * ```ts
 * import { SqliteTaskStore } from "./mod.ts";
 * const store = new SqliteTaskStore({ path: ".zest/zest.db" });
 * const unfinished = await store.open();
 * console.log(`${unfinished.length} tasks to resume`);
 * await store.close();
 * ```
 *
 * @module
 */
export {
  type SqliteStoreOptions,
  SqliteTaskStore,
  type StoreRecovery,
  type Synchronous,
} from "./sqlite.ts";

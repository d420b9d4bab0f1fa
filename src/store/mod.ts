/**
 * The durable task stores: {@linkcode SqliteTaskStore} keeps task records in
 * an SQLite file (the default of `deno task start`); {@linkcode JetStreamTaskStore}
 * keeps them in a JetStream KV bucket, shared by every replica of a NATS
 * cluster. Both implement the manager's `TaskStore` (`src/manager/store.ts`),
 * whose memory store is the in-process default.
 *
 * @example
 * ```ts
 * import { SqliteTaskStore } from "./mod.ts";
 * const store = new SqliteTaskStore({ path: `${Deno.makeTempDirSync()}/zest.db` });
 * const unfinished = await store.open();
 * console.log(`${unfinished.length} tasks to resume`);
 * await store.close();
 * ```
 *
 * @module
 */
export {
  type SqliteStoreFile,
  type SqliteStoreOptions,
  SqliteTaskStore,
  type StoreRecovery,
  type Synchronous,
} from "./sqlite.ts";
export {
  DEFAULT_RECORD_BUCKET,
  type JetStreamStoreOptions,
  JetStreamTaskStore,
  type StoredRecord,
} from "./jetstream_kv.ts";

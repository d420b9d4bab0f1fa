/**
 * The names of the cluster on NATS: subjects, the stream, its consumers and
 * the KV buckets. Every process of a cluster derives them from here.
 *
 * | name | what |
 * | --- | --- |
 * | `zest.submit.<service>` | core requests to the service's hosts (a queue group): admit, store, queue; answers `{taskId}` |
 * | `zest.tasks.<service>.serial` / `.parallel` | stream `ZEST_TASKS` (work queue): tasks waiting to run |
 * | `<service>_serial` / `<service>_parallel` | the durable pull consumers, shared by the service's replicas |
 * | `zest.cancel.<service>` / `zest.release.<service>` | core requests every host of the service answers |
 * | `zest.events.<service>` | core: task events from every host, while someone watches |
 * | `zest.watching` / `zest.watchers` | core: watchers say they watch; hosts ask who does |
 * | KV `zest_tasks` | task records (`t.<id>`) and small values (`m.<name>`) |
 * | KV `zest_services` | one entry per replica (`<service>.<replica>`), refreshed every few seconds |
 *
 * A service name (letters, digits, `_ . -`) becomes a subject token with its
 * dots written `=` (a dot separates tokens; `=` is not allowed in a name, so
 * the mapping is one to one).
 *
 * @module
 */

/**
 * The stream of waiting tasks.
 *
 * @example
 * ```ts
 * import { TASK_STREAM } from "./subjects.ts";
 * TASK_STREAM; // "ZEST_TASKS"
 * ```
 */
export const TASK_STREAM = "ZEST_TASKS";

/**
 * The KV bucket of task records.
 *
 * @example
 * ```ts
 * import { RECORD_BUCKET } from "./subjects.ts";
 * RECORD_BUCKET; // "zest_tasks"
 * ```
 */
export const RECORD_BUCKET = "zest_tasks";

/**
 * The KV bucket of replicas.
 *
 * @example
 * ```ts
 * import { SERVICE_BUCKET } from "./subjects.ts";
 * SERVICE_BUCKET; // "zest_services"
 * ```
 */
export const SERVICE_BUCKET = "zest_services";

/**
 * The header a task message carries its submitter's reply subject in (where
 * the outcome goes).
 *
 * @example
 * ```ts
 * import { REPLY_HEADER } from "./subjects.ts";
 * REPLY_HEADER; // "Zest-Reply"
 * ```
 */
export const REPLY_HEADER = "Zest-Reply";

/**
 * The header of the pipelined outcome. On a task message: where the
 * submitter hears that the final record is stored (`<token>.<ref>`: the
 * server's answer to the record's write is copied there, see
 * `store/jetstream_publish.ts`). On an outcome: `copy`, which says the
 * record may not be stored yet, and the submitter settles once that copy
 * has come too (so no one reads an older record after the outcome).
 *
 * @example
 * ```ts
 * import { STORED_HEADER } from "./subjects.ts";
 * STORED_HEADER; // "Zest-Stored"
 * ```
 */
export const STORED_HEADER = "Zest-Stored";

/**
 * Whether a task runs one at a time per service (`serial`) or not.
 *
 * @example
 * ```ts
 * import type { Kind } from "./subjects.ts";
 * const kinds: Kind[] = ["serial", "parallel"];
 * ```
 */
export type Kind = "serial" | "parallel";

/**
 * The subject token of service `name`: its dots written `=`.
 *
 * @example
 * ```ts
 * import { serviceToken } from "./subjects.ts";
 * serviceToken("lab.fridge-1"); // "lab=fridge-1"
 * ```
 */
export function serviceToken(name: string): string {
  return name.replaceAll(".", "=");
}

/**
 * The service a subject token names (the inverse of `serviceToken`).
 *
 * @example
 * ```ts
 * import { serviceOfToken } from "./subjects.ts";
 * serviceOfToken("lab=fridge-1"); // "lab.fridge-1"
 * ```
 */
export function serviceOfToken(token: string): string {
  return token.replaceAll("=", ".");
}

/**
 * Whether `name` can be a service of a cluster (what `Service` allows).
 *
 * @example
 * ```ts
 * import { isServiceName } from "./subjects.ts";
 * isServiceName("lab"); // true
 * isServiceName("a b"); // false
 * ```
 */
export function isServiceName(name: unknown): name is string {
  return typeof name === "string" && name.length <= 200 && /^[A-Za-z0-9_][\w.-]*$/.test(name);
}

/**
 * Subjects and consumer names of service `name`.
 *
 * @example
 * ```ts
 * import { subjectsOf } from "./subjects.ts";
 * subjectsOf("lab").tasks("serial"); // "zest.tasks.lab.serial"
 * subjectsOf("lab").consumer("serial"); // "lab_serial"
 * ```
 */
export function subjectsOf(name: string) {
  const token = serviceToken(name);
  return {
    token,
    submit: `zest.submit.${token}`,
    cancel: `zest.cancel.${token}`,
    release: `zest.release.${token}`,
    events: `zest.events.${token}`,
    tasks: (kind: Kind) => `zest.tasks.${token}.${kind}`,
    consumer: (kind: Kind) => `${token}_${kind}`,
    /** The queue group of the service's hosts, for submissions. */
    hosts: `zest-hosts-${token}`,
  };
}

/**
 * Every task subject of the stream.
 *
 * @example
 * ```ts
 * import { TASK_SUBJECTS } from "./subjects.ts";
 * TASK_SUBJECTS; // "zest.tasks.>"
 * ```
 */
export const TASK_SUBJECTS = "zest.tasks.>";

/**
 * Every event subject, for watchers.
 *
 * @example
 * ```ts
 * import { EVENT_SUBJECTS } from "./subjects.ts";
 * EVENT_SUBJECTS; // "zest.events.>"
 * ```
 */
export const EVENT_SUBJECTS = "zest.events.>";

/**
 * Where a watcher of `EVENT_SUBJECTS` says it watches, at once and then
 * every `WATCH_RENEW_MS` (any body). Hosts publish task events only within
 * `WATCH_LEASE_MS` of the last time one did: with nobody watching, a task's
 * four events cost a fifth of a replica's CPU. Said before a submission on
 * the same connection, it reaches every host before that task does. A host
 * that starts or reconnects may have missed it: it asks on `WATCHERS`.
 *
 * @example
 * ```ts
 * import { WATCHING } from "./subjects.ts";
 * WATCHING; // "zest.watching"
 * ```
 */
export const WATCHING = "zest.watching";

/**
 * Where a host asks whether anyone watches (a request): every watcher
 * answers, subscribed before it first says `WATCHING`; "no responders"
 * means nobody watches.
 *
 * @example
 * ```ts
 * import { WATCHERS } from "./subjects.ts";
 * WATCHERS; // "zest.watchers"
 * ```
 */
export const WATCHERS = "zest.watchers";

/**
 * How often a watcher says it watches (see `WATCHING`).
 *
 * @example
 * ```ts
 * import { WATCH_LEASE_MS, WATCH_RENEW_MS } from "./subjects.ts";
 * WATCH_RENEW_MS < WATCH_LEASE_MS; // true
 * ```
 */
export const WATCH_RENEW_MS = 1_000;

/**
 * How long after a watcher said it watches hosts publish task events (see
 * `WATCHING`): ten renewals, so a watcher whose process is busy for a
 * while misses nothing.
 *
 * @example
 * ```ts
 * import { WATCH_LEASE_MS } from "./subjects.ts";
 * WATCH_LEASE_MS; // 10000
 * ```
 */
export const WATCH_LEASE_MS = 10_000;

/**
 * Where events about no particular service go (a record deleted by a client).
 *
 * @example
 * ```ts
 * import { GENERAL_EVENTS } from "./subjects.ts";
 * GENERAL_EVENTS; // "zest.events._"
 * ```
 */
export const GENERAL_EVENTS = "zest.events._";

/**
 * The advisory the server publishes when a message of the stream was
 * delivered `max_deliver` times and never acknowledged (any consumer).
 *
 * @example
 * ```ts
 * import { MAX_DELIVERIES_ADVISORY } from "./subjects.ts";
 * MAX_DELIVERIES_ADVISORY; // "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ZEST_TASKS.*"
 * ```
 */
export const MAX_DELIVERIES_ADVISORY =
  `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${TASK_STREAM}.*`;

/**
 * The KV key of task `id`'s record.
 *
 * @example
 * ```ts
 * import { recordKey } from "./subjects.ts";
 * recordKey("0190c1d2-…"); // "t.0190c1d2-…"
 * ```
 */
export function recordKey(id: string): string {
  return `t.${id}`;
}

/**
 * The NATS port: a `TaskPort` onto a whole cluster, straight over NATS, so
 * that `Client.connect("nats://host:4222", { … })` offers the same API as
 * `runtime.client()`. Submissions go to a host of the service (a queue
 * group), which admits the task as the embedded runtime does; the outcome
 * comes back on this client's reply subject; records are read from the
 * cluster's KV bucket, services from its registry, events from every host.
 *
 * Cluster-wide: submit, status, outcome, list, cancel, delete, graph (of one
 * task: there are no dependencies), services, release, store, watch.
 * Embedded-only in this version, refused with an error that says so:
 * dependencies (`after`) and graphs, schedules. A serial queue runs in the
 * order of submission: priorities order it only within one process.
 *
 * @module
 */
import { jetstreamManager } from "@nats-io/jetstream";
import type { JetStreamManager } from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import {
  createInbox,
  type Msg,
  type NatsConnection,
  type Subscription,
} from "@nats-io/transport-node";
import { graphDot, type GraphTask } from "../../manager/graph.ts";
import { GraphError } from "../../manager/graph.ts";
import { ScheduleError } from "../../manager/schedule.ts";
import type { ScheduleInfo } from "../../manager/schedules.ts";
import type { StoreStats, TaskListQuery } from "../../manager/store.ts";
import type {
  GraphRequest,
  OutcomeSink,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "../../manager/types.ts";
import { JetStreamTaskStore } from "../../store/jetstream_kv.ts";
import { copySubscription } from "../../store/jetstream_publish.ts";
import {
  RuntimeErrorName,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskConflictError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
} from "../../task/errors.ts";
import { errorOutcome, type TaskOutcome } from "../../task/outcome.ts";
import {
  isTerminal,
  summarize,
  type TaskRecord,
  type TaskRecordSummary,
} from "../../task/record.ts";
import type { ScheduleAction, SummaryPage, TaskPort } from "../port.ts";
import { CONNECTION_LOST } from "../websocket/port.ts";
import { bodyError, type ErrorBody, toJson } from "../wire.ts";
import { ConnectionState, connectNats } from "./connection.ts";
import type { NatsOptions } from "./options.ts";
import { endRecord } from "./ending.ts";
import { clusterRefusal, OUTCOME_HEADER } from "./host.ts";
import { type CancelReply, parseOutcome, parseRecord, type ReplicaEntry } from "./messages.ts";
import { type ClusterServiceInfo, clusterServices, readReplicas } from "./registry.ts";
import {
  EVENT_SUBJECTS,
  GENERAL_EVENTS,
  isServiceName,
  SERVICE_BUCKET,
  STORED_HEADER,
  subjectsOf,
  TASK_STREAM,
  WATCH_RENEW_MS,
  WATCHERS,
  WATCHING,
} from "./subjects.ts";

/**
 * Options of `NatsPort.connect` (and `Client.connect` with a `nats:` URL):
 * the credentials and TLS of `NatsOptions` (the URL gives the server), and
 * how long a submission waits for a host to answer.
 *
 * @example
 * ```ts
 * import type { NatsConnectOptions } from "./port.ts";
 * const options: NatsConnectOptions = { token: Deno.env.get("ZEST_NATS_TOKEN") };
 * ```
 */
export type NatsConnectOptions = Omit<NatsOptions, "servers"> & {
  /** How long a submission waits for a host of the service to answer (default 10 s). */
  submitTimeoutMs?: number;
};

/** How long hosts have to answer a cancel or a release. */
const ASK_HOSTS_MS = 2_000;

/**
 * After a reconnect, the records of the tasks still waited for are read at
 * once and again after these delays: a task that ended while NATS was down
 * had its outcome sent to no one, and its host writes its record once it is
 * back itself, which may be after this client.
 */
const RECHECK_AFTER_MS = [1_000, 3_000, 10_000, 30_000, 60_000];

/**
 * For this long after a reconnect, a service no replica answers for is not
 * called unknown: the registry's entries may have expired while NATS was
 * down, and replicas write theirs again only as they come back.
 */
const REREGISTER_MS = 15_000;

/** How long a record is kept when this client ends one itself (a cancel): the bucket forgets it anyway. */
const ENDED_HERE_RETENTION_MS = 3_600_000;

const EVENT_KINDS = new Set([
  "task",
  "log",
  "progress",
  "output",
  "service",
  "schedule",
  "removed",
]);

/** A submission this client waits on. */
interface Pending {
  sink: OutcomeSink;
  type: string;
  service: string;
  /** When it was sent, until a host answers (then undefined). */
  sentAt?: number;
  taskId?: string;
  /** The outcome, come and not settled yet (before the host's answer with the id, or before `stored`). */
  early?: TaskOutcome;
  /** The outcome is in the record (too large for a message): read it once it may be. */
  inRecord?: boolean;
  /** The outcome came before its record was stored: settle once `stored` (`STORED_HEADER`). */
  awaitingStore?: boolean;
  /** The server's answer to the final record's write has come (copied to this client). */
  stored?: boolean;
}

/**
 * What a `NatsPort` is made of: a connection and the cluster's store, shared or its own.
 *
 * @example
 * ```ts
 * import { NatsPort, type NatsPortParts } from "./port.ts";
 * // `parts`: a host's connection, state and store
 * const portOf = (parts: NatsPortParts) => new NatsPort({ ...parts, ownsConnection: false });
 * ```
 */
export interface NatsPortParts {
  nc: NatsConnection;
  state: ConnectionState;
  store: JetStreamTaskStore;
  /** Close the connection with the port (a client's own; not a host's). */
  ownsConnection: boolean;
  submitTimeoutMs?: number;
}

/**
 * A port onto a cluster.
 *
 * @example
 * ```ts ignore
 * import { NatsPort } from "./port.ts";
 * import { Client } from "../client.ts";
 * const port = await NatsPort.connect("nats://127.0.0.1:4222", { token: Deno.env.get("ZEST_NATS_TOKEN") });
 * const client = new Client(port); // what Client.connect does
 * await client.services();
 * await client.close();
 * ```
 */
export class NatsPort implements TaskPort {
  readonly #nc: NatsConnection;
  readonly #state: ConnectionState;
  readonly #store: JetStreamTaskStore;
  readonly #owns: boolean;
  readonly #submitTimeoutMs: number;
  readonly #inbox = createInbox();
  /** The token of this client's copies (its inbox's last token). */
  readonly #copyToken = this.#inbox.slice(this.#inbox.lastIndexOf(".") + 1);
  readonly #pending = new Map<string, Pending>();
  /** When the connection last came back (see `REREGISTER_MS`). */
  #reconnectedAt = -Infinity;
  /** The reads of `#recheck` still to come. */
  #rechecks: ReturnType<typeof setTimeout>[] = [];
  readonly #listeners = new Set<(event: TaskEvent) => void>();
  readonly #outcomes: Subscription;
  /** Copies of the servers' answers to final record writes (see `STORED_HEADER`). */
  readonly #copies: Subscription;
  #events: Subscription | undefined;
  /** Answers hosts that ask whether anyone watches (see `WATCHERS`). */
  #asked: Subscription | undefined;
  /** Says every `WATCH_RENEW_MS` that this client watches, while it does (see `WATCHING`). */
  #watching: ReturnType<typeof setInterval> | undefined;
  /** Settles once the server has passed on the first `WATCHING` (see `subscribed`). */
  #watchingHeard: Promise<void> | undefined;
  #ref = 0;
  /** Submissions sent and not answered yet, and the timer that expires them. */
  #unanswered = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #closed: Error | undefined;
  #registry: KV | undefined;
  #jsm: JetStreamManager | undefined;
  readonly #stopReconnect: () => void;
  #badEvents = 0;

  constructor(parts: NatsPortParts) {
    this.#nc = parts.nc;
    this.#state = parts.state;
    this.#store = parts.store;
    this.#owns = parts.ownsConnection;
    this.#submitTimeoutMs = parts.submitTimeoutMs ?? 10_000;
    // `<inbox>.a.<ref>`: a host's answer to submission `ref`; `<inbox>.o.<ref>`: its outcome.
    // One subscription for both, no per-request timer: a submission's answer
    // costs a fraction of what `nc.request` costs (see `store/jetstream_publish.ts`).
    this.#outcomes = this.#nc.subscribe(`${this.#inbox}.>`, {
      callback: (_error, msg) => {
        if (msg.subject.startsWith(`${this.#inbox}.a.`)) this.#answered(msg);
        else this.#outcome(msg);
      },
    });
    this.#copies = this.#nc.subscribe(copySubscription(this.#copyToken), {
      callback: (_error, msg) => this.#stored(msg),
    });
    this.#stopReconnect = this.#state.onReconnect(() => this.#recheck());
    this.#nc.closed().then((error) =>
      this.#drop(error ?? new Error("the connection to the NATS server closed"))
    );
  }

  /**
   * Connect to the cluster at `url` (`nats://host:4222` or `tls://…`; no
   * credentials in the URL: they go in `options`).
   */
  static async connect(url: string | URL, options: NatsConnectOptions = {}): Promise<NatsPort> {
    const { submitTimeoutMs, ...nats } = options;
    const nc = await connectNats({ ...nats, servers: String(url) }, "zest client");
    try {
      const state = new ConnectionState(nc);
      const store = await JetStreamTaskStore.connect(nc, { create: false });
      return new NatsPort({ nc, state, store, ownsConnection: true, submitTimeoutMs });
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** Submit a task to a host of its service; the sink gets its id, then its outcome, or the typed refusal. */
  submit(request: SubmitRequest, sink: OutcomeSink): void {
    const refusal = this.#closed
      ? new RuntimeStoppingError(`this client is closed: ${this.#closed.message}`)
      : !this.#state.connected
      ? new RuntimeStoppingError(
        "not connected to the cluster's NATS server (reconnecting): the task was not submitted; retry",
      )
      : !isServiceName(request.service)
      ? new TaskValidationError(String(request.type), [{
        path: "service",
        message: "must be letters, digits, _ . - (at most 200 characters)",
      }])
      : clusterRefusal(request);
    if (refusal) return sink.refused(refusal);
    const { task: _validated, parent, schedule: _schedule, ...task } = request;
    const ref = String(++this.#ref);
    const pending: Pending = {
      sink,
      type: request.type,
      service: request.service,
      sentAt: Date.now(),
    };
    this.#pending.set(ref, pending);
    const body = {
      task: { ...task, after: task.after && [...task.after] },
      reply: `${this.#inbox}.o.${ref}`,
      copy: `${this.#copyToken}.${ref}`,
      parent,
      deadline: pending.sentAt! + this.#submitTimeoutMs,
    };
    try {
      this.#nc.publish(subjectsOf(request.service).submit, toJson(body), {
        reply: `${this.#inbox}.a.${ref}`,
      });
    } catch (error) {
      this.#pending.delete(ref);
      return sink.refused(new RuntimeStoppingError(`the task could not be submitted: ${error}`));
    }
    this.#unanswered++;
    this.#timer ??= setInterval(() => this.#expire(), 250);
  }

  /**
   * Submissions no host answered in time: refused (they may or may not have
   * been queued). Stops at a tick that finds none waiting, not at each
   * answer: submissions one at a time would make and clear a timer each.
   */
  #expire(): void {
    if (this.#unanswered === 0) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    const now = Date.now();
    for (const [ref, pending] of this.#pending) {
      if (pending.sentAt === undefined || now - pending.sentAt < this.#submitTimeoutMs) continue;
      this.#pending.delete(ref);
      this.#wasAnswered(pending);
      const error = new Error("timeout");
      error.name = "TimeoutError";
      this.#submitFailure(error, pending.service).then((refusal) => pending.sink.refused(refusal));
    }
  }

  /** `pending` needs no answer any more (the timer stops at a tick that finds none waiting). */
  #wasAnswered(pending: Pending): void {
    if (pending.sentAt === undefined) return;
    pending.sentAt = undefined;
    this.#unanswered--;
  }

  /** A host's answer to a submission: the task's id, a refusal, or no responders. */
  #answered(msg: Msg): void {
    const ref = msg.subject.slice(this.#inbox.length + 3);
    const pending = this.#pending.get(ref);
    if (!pending || pending.sentAt === undefined) return;
    this.#wasAnswered(pending);
    if (msg.headers?.code === 503) {
      this.#pending.delete(ref);
      const error = new Error("no responders");
      error.name = "NoRespondersError";
      this.#submitFailure(error, pending.service).then((refusal) => pending.sink.refused(refusal));
      return;
    }
    let reply: { taskId?: unknown } & Partial<ErrorBody>;
    try {
      reply = msg.json();
    } catch {
      reply = { error: "a host answered the submission with something that is not JSON" };
    }
    if (typeof reply.taskId !== "string") {
      this.#pending.delete(ref);
      const body: ErrorBody = {
        error: typeof reply.error === "string" ? reply.error : "the host refused the task",
        name: reply.name,
        issues: reply.issues,
      };
      return pending.sink.refused(bodyError(body, pending.type));
    }
    const taskId = reply.taskId;
    pending.taskId = taskId;
    pending.sink.accepted?.(taskId);
    if (pending.early || pending.inRecord) return this.#finish(ref, pending);
    if ((reply as { existing?: unknown }).existing === true) {
      // The first task submitted with this key: its outcome goes to its own submitter; follow its record.
      this.#store.ended(taskId).then(
        (record) => this.#settleFromRecord(ref, pending, record),
        () => {},
      );
    }
  }

  /** The refusal a submission that got no answer gets. */
  async #submitFailure(error: unknown, service: string): Promise<Error> {
    const name = (error as Error)?.name ?? "";
    const message = (error as Error)?.message ?? String(error);
    if (/NoResponders/i.test(name) || /no responders/i.test(message)) {
      const replicas = await this.#replicas().catch(() => []);
      const known = [...new Set(replicas.map((entry) => entry.service.name))].sort();
      if (known.includes(service)) {
        return new ServiceStoppedError(`service '${service}' has no replica answering now`);
      }
      // No replica registered at all, or NATS just came back: the cluster is (re)starting.
      if (known.length === 0 || Date.now() - this.#reconnectedAt < REREGISTER_MS) {
        return new ServiceStoppedError(
          `no replica of service '${service}' answers or is registered now ` +
            `(services: ${known.join(", ") || "none"}): the cluster may be starting or ` +
            `reconnecting; retry`,
        );
      }
      return new UnknownServiceError(
        `no service named '${service}' in the cluster (services: ${known.join(", ") || "none"})`,
      );
    }
    if (/timeout/i.test(name) || /timeout/i.test(message)) {
      return new RuntimeStoppingError(
        `no host of service '${service}' answered within ${this.#submitTimeoutMs} ms: ` +
          `the task may or may not have been queued (see tasks({ service: '${service}' }))`,
      );
    }
    return new RuntimeStoppingError(`the task could not be submitted: ${message}`);
  }

  /** An outcome on this client's reply subject. */
  #outcome(msg: Msg): void {
    const ref = msg.subject.slice(this.#inbox.length + 3);
    const pending = this.#pending.get(ref);
    if (!pending) return;
    if (msg.headers?.get(STORED_HEADER) === "copy") pending.awaitingStore = true;
    if (msg.headers?.get(OUTCOME_HEADER) === "record") {
      pending.inRecord = true; // Too large for a message: the record has it.
    } else {
      const outcome = parseOutcome(msg.data);
      if (!outcome || (pending.taskId !== undefined && outcome.id !== pending.taskId)) return;
      pending.early = outcome;
    }
    this.#finish(ref, pending);
  }

  /**
   * A copy of a server's answer to the write of a final record: the record
   * of the submission it names is stored (or failed to be, which its host
   * says no better).
   */
  #stored(msg: Msg): void {
    // No responders: no stream took the write (JetStream is restarting); the host writes again.
    if (msg.headers?.code === 503) return;
    const ref = msg.subject.slice(msg.subject.lastIndexOf(".") + 1);
    const pending = this.#pending.get(ref);
    if (!pending) return;
    pending.stored = true;
    this.#finish(ref, pending);
  }

  /** Settle a submission once its id and its outcome are here, and its record is stored if it must be. */
  #finish(ref: string, pending: Pending): void {
    const id = pending.taskId;
    if (id === undefined || (pending.awaitingStore && !pending.stored)) return;
    if (pending.inRecord) {
      this.#store.read(id).then(
        (stored) => this.#settleFromRecord(ref, pending, stored?.record),
        () => {},
      );
    } else if (pending.early) this.#settle(ref, pending, pending.early);
  }

  #settleFromRecord(ref: string, pending: Pending, record: TaskRecord | undefined): void {
    if (record?.outcome && isTerminal(record.state)) this.#settle(ref, pending, record.outcome);
  }

  #settle(ref: string, pending: Pending, outcome: TaskOutcome): void {
    if (this.#pending.get(ref) !== pending) return;
    this.#pending.delete(ref);
    pending.sink.settled(outcome);
  }

  /**
   * After a reconnect: outcomes sent while this client was away were lost;
   * the records have them. Hosts hear again that it watches.
   */
  #recheck(): void {
    this.#reconnectedAt = Date.now();
    if (this.#events) this.#sayWatching();
    for (const timer of this.#rechecks) clearTimeout(timer);
    this.#rechecks = RECHECK_AFTER_MS.map((ms) => {
      const timer = setTimeout(() => this.#readPending(), ms);
      Deno.unrefTimer(timer);
      return timer;
    });
    this.#readPending();
  }

  /** Settle each submission whose task's record says it has ended. */
  #readPending(): void {
    for (const [ref, pending] of this.#pending) {
      const id = pending.taskId;
      if (!id) continue;
      this.#store.read(id).then(
        (stored) => this.#settleFromRecord(ref, pending, stored?.record),
        () => {},
      );
    }
  }

  /** Graphs of tasks are embedded-only in this version. */
  submitGraph(_graph: GraphRequest): Promise<Record<string, string>> {
    return Promise.reject(
      new GraphError(
        "invalid",
        [],
        "graphs of tasks (and dependencies) are embedded-only in this version: " +
          "a cluster runs tasks without them",
      ),
    );
  }

  /** The record of task `id`, from the cluster's bucket. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return (await this.#store.read(id))?.record;
  }

  /** Summaries, newest first, a page at a time (reads the bucket: see `JetStreamTaskStore.list`). */
  async list(query?: TaskListQuery): Promise<SummaryPage> {
    const page = await this.#store.list(query);
    const summaries: SummaryPage = { records: page.records.map(summarize) };
    if (page.next !== undefined) summaries.next = page.next;
    return summaries;
  }

  /** Wait for task `id` to end (whichever process runs it); `undefined` if unknown. */
  async wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined> {
    const record = await this.#store.ended(id, signal);
    return record?.outcome;
  }

  /**
   * Cancel task `id`: the host that has it cancels it (a running handler sees
   * its signal abort); if no host has it (still queued in the stream), its
   * record ends `cancelled` and the host it is delivered to skips it.
   */
  async cancel(id: string): Promise<boolean> {
    for (let round = 0; round < 3; round++) {
      const stored = await this.#store.read(id);
      if (!stored) return false;
      const { record, revision } = stored;
      if (isTerminal(record.state)) return round > 0 && record.state === "cancelled";
      const answers = await this.#askHosts<CancelReply>(
        subjectsOf(record.service).cancel,
        { id },
        record.service,
        (answer) => answer.held === true,
      );
      const holder = answers.find((answer) => answer.held === true);
      if (holder) return holder.cancelled === true;
      const ended = endRecord(
        record,
        "cancelled",
        RuntimeErrorName.Cancelled,
        "the task was cancelled",
        ENDED_HERE_RETENTION_MS,
      );
      if (await this.#store.replace(ended, revision)) {
        this.#nc.publish(
          subjectsOf(record.service).events,
          toJson({ kind: "task", record: summarize(ended) }),
        );
        // Submitted through this port: its outcome now. Another submitter hears it when the
        // host the task is delivered to skips it.
        for (const [ref, pending] of this.#pending) {
          if (pending.taskId === id) this.#settle(ref, pending, ended.outcome as TaskOutcome);
        }
        return true;
      }
      // Written meanwhile (a host took it): ask again.
    }
    return false;
  }

  /** Remove the record of an ended task. */
  async delete(id: string): Promise<void> {
    const stored = await this.#store.read(id);
    if (!stored) {
      throw new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`);
    }
    if (!isTerminal(stored.record.state)) {
      throw new TaskConflictError(
        `task ${id} is ${stored.record.state}: cancel it first, or wait for it to end`,
      );
    }
    this.#store.delete(id);
    await this.#store.flush();
    this.#nc.publish(GENERAL_EVENTS, toJson({ kind: "removed", id }));
  }

  /** The task as a one-node graph (a cluster runs no dependencies), as DOT; `undefined` if unknown. */
  async graph(id: string): Promise<string | undefined> {
    const record = await this.get(id);
    if (!record) return undefined;
    const task: GraphTask = {
      id: record.id,
      type: record.type,
      service: record.service,
      state: record.state,
      after: record.after,
    };
    return graphDot(id, {
      task: (taskId) => taskId === id ? task : undefined,
      dependents: () => [],
    });
  }

  /** Every service of the cluster, with its replicas and queue depths. */
  async services(): Promise<ServiceInfo[]> {
    const entries = await this.#replicas();
    return await clusterServices(await this.#manager(), entries) as ClusterServiceInfo[];
  }

  /** Free `service`'s serial lane on the replica where it is stuck; false if none was. */
  async release(service: string): Promise<boolean> {
    const replicas = (await this.#replicas()).filter((entry) => entry.service.name === service);
    if (replicas.length === 0) {
      throw new UnknownServiceError(`no service named '${service}' in the cluster`);
    }
    const answers = await this.#askHosts<{ released?: boolean } & Partial<ErrorBody>>(
      subjectsOf(service).release,
      {},
      service,
    );
    const failure = answers.find((answer) => typeof answer.error === "string");
    if (failure && !answers.some((answer) => answer.released === true)) {
      throw bodyError(failure as ErrorBody);
    }
    return answers.some((answer) => answer.released === true);
  }

  /**
   * A serial service's queue in running order: its tasks in the stream, in
   * the order they were submitted (the one running first), each as its
   * record says now. One direct get per task (at most `limit`, 1 to 1 000).
   */
  async queue(service: string, limit = 100): Promise<TaskRecordSummary[]> {
    const replicas = isServiceName(service) ? await this.#replicas() : [];
    if (!replicas.some((entry) => entry.service.name === service)) {
      throw new UnknownServiceError(`no service named '${service}' in the cluster`);
    }
    const bound = Math.max(1, Math.min(Math.trunc(limit) || 100, 1_000));
    const jsm = await this.#manager();
    const subject = subjectsOf(service).tasks("serial");
    const queued: TaskRecord[] = [];
    for (let seq = 1; queued.length < bound;) {
      const stored = await jsm.direct.getMessage(TASK_STREAM, { seq, next_by_subj: subject })
        .catch(() => null);
      if (!stored) break;
      seq = stored.seq + 1;
      const parsed = parseRecord(stored.data);
      if ("record" in parsed) queued.push(parsed.record);
    }
    const current = await Promise.all(queued.map((record) => this.#store.read(record.id)));
    return queued.map((record, i) => current[i]?.record ?? record)
      .filter((record) => !isTerminal(record.state))
      .map(summarize);
  }

  /** The cluster's record bucket: its values and bytes. */
  storeStats(): Promise<StoreStats> {
    return this.#store.stats();
  }

  /** None: schedules are embedded-only in this version. */
  schedules(): Promise<ScheduleInfo[]> {
    return Promise.resolve([]);
  }

  /** Refused: schedules are embedded-only in this version. */
  controlSchedule(name: string, _action: ScheduleAction): Promise<ScheduleInfo> {
    return Promise.reject(
      new ScheduleError(
        name,
        "schedules are embedded-only in this version: no schedule runs in a cluster",
      ),
    );
  }

  /**
   * Follow the events of every host of the cluster. Hosts publish task
   * events only while someone says it watches: this client says so before
   * anything it sends next (a submission), and then every `WATCH_RENEW_MS`.
   */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#events) {
      this.#events = this.#nc.subscribe(EVENT_SUBJECTS, {
        callback: (_error, msg) => this.#event(msg),
      });
      this.#asked = this.#nc.subscribe(WATCHERS, {
        callback: (_error, msg) => {
          if (msg.reply) this.#nc.publish(msg.reply);
        },
      });
      this.#sayWatching();
      // A round trip to the server: it has passed WATCHING on to every host before
      // whatever any client sends after (see `subscribed`).
      this.#watchingHeard = this.#nc.flush().catch(() => {});
      this.#watching = setInterval(() => this.#sayWatching(), WATCH_RENEW_MS);
    }
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#stopWatching();
    };
  }

  /**
   * Resolves once every host has heard that this client watches: a task
   * submitted after it, by any client, shows all its states.
   */
  async subscribed(): Promise<void> {
    await this.#watchingHeard;
  }

  #sayWatching(): void {
    if (!this.#state.connected) return;
    try {
      this.#nc.publish(WATCHING);
    } catch {
      // Closed or disconnected: said again on reconnect.
    }
  }

  #stopWatching(): void {
    clearInterval(this.#watching);
    this.#watching = undefined;
    if (!this.#nc.isClosed()) {
      this.#events?.unsubscribe();
      this.#asked?.unsubscribe();
    }
    this.#events = undefined;
    this.#asked = undefined;
    this.#watchingHeard = undefined;
  }

  #event(msg: Msg): void {
    let event: TaskEvent;
    try {
      event = msg.json<TaskEvent>();
    } catch {
      event = undefined as unknown as TaskEvent;
    }
    if (event === null || typeof event !== "object" || !EVENT_KINDS.has(event.kind)) {
      if (this.#badEvents++ < 10) {
        console.error(`[zest] ignored a message on ${msg.subject}: not a task event`);
      }
      return;
    }
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        console.error("[zest] a task event listener failed:", error);
      }
    }
  }

  /**
   * Release the port: pending submissions end (refused, or with a
   * `ConnectionLostError` outcome once accepted: the tasks run on), and the
   * connection closes if it is the port's own.
   */
  async close(): Promise<void> {
    this.#drop(new Error("the client was closed"));
    this.#stopReconnect();
    this.#stopWatching();
    if (!this.#nc.isClosed()) {
      this.#outcomes.unsubscribe();
      this.#copies.unsubscribe();
    }
    if (this.#owns && !this.#nc.isClosed()) {
      await this.#store.close();
      await this.#nc.close();
    }
  }

  #drop(error: Error): void {
    if (this.#closed) return;
    this.#closed = error;
    for (const timer of this.#rechecks) clearTimeout(timer);
    clearInterval(this.#timer);
    clearInterval(this.#watching);
    this.#timer = undefined;
    for (const [ref, pending] of this.#pending) {
      this.#pending.delete(ref);
      if (pending.taskId === undefined) {
        pending.sink.refused(
          new RuntimeStoppingError(`${error.message}: the task was not submitted`),
        );
      } else {
        pending.sink.settled(errorOutcome(
          pending.taskId,
          CONNECTION_LOST,
          `${error.message} before task ${pending.taskId} ended; it runs on in the cluster: ` +
            `connect again and fetch its outcome with client.outcome("${pending.taskId}")`,
        ));
      }
    }
  }

  /** The registry's entries (none if no host has made the registry yet). */
  async #replicas(): Promise<ReplicaEntry[]> {
    this.#registry ??= await new Kvm(this.#nc).open(SERVICE_BUCKET);
    try {
      return await readReplicas(this.#registry, await this.#manager());
    } catch (error) {
      if (/stream not found|no ?responders/i.test(String(error))) return [];
      throw error;
    }
  }

  async #manager(): Promise<JetStreamManager> {
    return this.#jsm ??= await jetstreamManager(this.#nc);
  }

  /**
   * Ask every replica of `service` (as many as the registry lists, for up to
   * two seconds) and collect their JSON answers; stop early at one that
   * `enough` accepts.
   */
  async #askHosts<T>(
    subject: string,
    body: unknown,
    service: string,
    enough?: (answer: T) => boolean,
  ): Promise<T[]> {
    const replicas = (await this.#replicas()).filter((entry) => entry.service.name === service);
    if (replicas.length === 0) return [];
    const answers: T[] = [];
    try {
      const replies = await this.#nc.requestMany(subject, toJson(body), {
        strategy: "count",
        maxMessages: replicas.length,
        maxWait: ASK_HOSTS_MS,
      });
      for await (const reply of replies) {
        let answer: T;
        try {
          answer = reply.json<T>();
        } catch {
          continue;
        }
        if (answer === null || typeof answer !== "object") continue;
        answers.push(answer);
        if (enough?.(answer)) break;
      }
    } catch (error) {
      if (!/no ?responders|timeout/i.test(String(error))) throw error;
    }
    return answers;
  }
}

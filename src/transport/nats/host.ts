/**
 * The host: what a process of a cluster does for the services of its
 * config. It answers submissions (admission by its manager, the record into
 * the cluster's store, the task into the stream), takes tasks from its
 * services' consumers and hands them to its manager (`adopt`), keeps them
 * with heartbeats while the manager has them, acknowledges each once its
 * final record is stored, and sends the outcome to whoever submitted it. It
 * answers cancels and releases for its services, publishes its manager's
 * events, and keeps its entry in the registry.
 *
 * A task delivered again (the replica running it went away: its heartbeats
 * stopped for an ack wait) is read back from the store first: ended already,
 * it is only acknowledged; running, it was interrupted, and its type's
 * `onInterrupt` decides: `"requeue"` runs it again (its log says why), else it
 * ends `InterruptedError`. A task whose last delivery's replica went away
 * too ends failed, abandoned (the server's MAX_DELIVERIES advisory), and its
 * message is removed. A message that is not a valid task is dropped with one
 * log line, or ends as a failed record when it names a task.
 *
 * @module
 */
import { z } from "zod";
import type { JetStreamClient, JetStreamManager, JsMsg } from "@nats-io/jetstream";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { headers, type Msg, type NatsConnection, type Subscription } from "@nats-io/transport-node";
import type { TaskManager } from "../../manager/manager.ts";
import type { OutcomeSink, TaskEvent } from "../../manager/types.ts";
import type { TaskType } from "../../task/define.ts";
import {
  QueueFullError,
  RuntimeErrorName,
  RuntimeStoppingError,
  TaskConflictError,
  TaskValidationError,
} from "../../task/errors.ts";
import { jsonProblem, RECORD_LIMITS } from "../../task/limits.ts";
import { errorOutcome, type TaskOutcome } from "../../task/outcome.ts";
import {
  appendLog,
  isTerminal,
  summarize,
  type TaskRecord,
  type TaskState,
  transition,
} from "../../task/record.ts";
import type { JetStreamTaskStore, KeyHolder } from "../../store/jetstream_kv.ts";
import { IdempotencyKeys } from "../../manager/idempotency.ts";
import { isCopyTo, JetStreamPublisher } from "../../store/jetstream_publish.ts";
import { untilSettled } from "../../util/async.ts";
import { errorBody, submitRequest, toJson } from "../wire.ts";
import type { ConnectionState } from "./connection.ts";
import { endRecord, validReply } from "./ending.ts";
import { ensureConsumer, ensureStream } from "./layout.ts";
import { checkSettings, type ClusterSettings, type Settings } from "./options.ts";
import {
  type CancelReply,
  parseMessage,
  parseRecord,
  recordShape,
  submitMessage,
  type SubmitReply,
  taskMessage,
} from "./messages.ts";
import { openRegistry, replicaKey } from "./registry.ts";
import {
  GENERAL_EVENTS,
  type Kind,
  MAX_DELIVERIES_ADVISORY,
  REPLY_HEADER,
  STORED_HEADER,
  subjectsOf,
  TASK_STREAM,
  WATCH_LEASE_MS,
  WATCHERS,
  WATCHING,
} from "./subjects.ts";

/**
 * The header of an outcome too large for one message: the submitter reads
 * it from the task's record.
 *
 * @example
 * ```ts
 * import { OUTCOME_HEADER } from "./host.ts";
 * OUTCOME_HEADER; // "Zest-Outcome"
 * ```
 */
export const OUTCOME_HEADER = "Zest-Outcome";

/** Room left in a message for headers. */
const HEADROOM_BYTES = 4 * 1024;

/**
 * Messages published within this long after the host began to hear cancels
 * (its start, or its last reconnect) are checked against the store too: the
 * server's clock (the message's time) and this machine's may differ a little.
 */
const CLOCK_SKEW_MS = 2_000;

/** Cancelled ids remembered, so a task cancelled while queued is skipped when delivered. */
const CANCELLED_KEPT = 100_000;
const CANCELLED_KEPT_MS = 3_600_000;

/**
 * How long `leave` waits for the final records still on their way (the
 * server may be away): a task not acknowledged by then is delivered again,
 * and the replica that takes it reads its record.
 */
const LEAVE_GRACE_MS = 10_000;

/** How long an ack of a parallel task may wait for other messages to go with (see `#ackSoon`). */
const LATE_ACK_MS = 20;

/** Tasks this host put in the stream, remembered until delivered (see `#ownTasks`). */
const OWN_TASKS_KEPT = 1_000;

/** How long a pull waits for tasks before it is renewed. */
const PULL_EXPIRES_MS = 5_000;

/**
 * A service this host runs: its name and how it resolves a task type.
 *
 * @example
 * ```ts
 * import type { HostedService } from "./host.ts";
 * import { Service } from "../../mod.ts";
 * const service = new Service("lab");
 * const hosted: HostedService = { name: service.name, resolve: (type) => service.resolve(type) };
 * ```
 */
export interface HostedService {
  name: string;
  resolve(typeName: string): TaskType | undefined;
}

/**
 * What the host needs.
 *
 * @example
 * ```ts
 * import type { HostOptions } from "./host.ts";
 * const ttlOf = (options: HostOptions) => options.retentionMs; // the bucket's TTL
 * ```
 */
export interface HostOptions {
  nc: NatsConnection;
  state: ConnectionState;
  manager: TaskManager;
  store: JetStreamTaskStore;
  services: readonly HostedService[];
  settings?: ClusterSettings;
  /** How long records are kept after they end (the store's bucket TTL). */
  retentionMs: number;
}

/** A task message this host has taken, until it is acknowledged or given back. */
interface Held {
  readonly id: string;
  msg: JsMsg;
  readonly service: string;
  readonly kind: Kind;
  readonly reply: string | undefined;
  /** Where the answer to the final record's write is copied for the submitter (`STORED_HEADER`). */
  readonly copyTo: string | undefined;
  /** The outcome went with the final record's write (the submitter settles on the copy). */
  outcomeSent: boolean;
  /** The final record's write, sent and maybe not stored yet: the ack waits for it. */
  stored: Promise<void> | undefined;
  /** Read back from the store before the manager gets it, or handed to the manager. */
  phase: "checking" | "adopted";
  /**
   * Whether the task is known not to have started elsewhere: a first
   * delivery, or one given back unstarted. Only such a task may be given
   * back as unstarted in its turn (else the next replica must judge it).
   */
  fresh: boolean;
  done: boolean;
}

/** A consumer loop's room: tasks held, and who waits for one to go. */
interface Room {
  held: number;
  readonly limit: number;
  wake: (() => void) | undefined;
}

/**
 * Hosts `services` of this process in the cluster.
 *
 * @example
 * ```ts ignore
 * import { NatsHost } from "./host.ts";
 * const host = new NatsHost({ nc, state, manager, store, services, retentionMs: 3_600_000 });
 * await host.start();
 * // … at stop:
 * await host.stopTaking();
 * await manager.close();
 * await host.leave();
 * ```
 */
export class NatsHost {
  /** This replica's id in the registry. */
  readonly replica = `r${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
  readonly settings: Settings;
  readonly #nc: NatsConnection;
  readonly #state: ConnectionState;
  readonly #manager: TaskManager;
  readonly #store: JetStreamTaskStore;
  readonly #services: Map<string, HostedService>;
  readonly #retentionMs: number;
  readonly #js: JetStreamClient;
  /** Tasks into the stream: pipelined publishes (a `js.publish` costs ~4× the CPU). */
  readonly #publisher: JetStreamPublisher;
  #jsm: JetStreamManager | undefined;
  #registry: KV | undefined;
  readonly #held = new Map<string, Held>();
  readonly #rooms = new Map<string, Room>();
  readonly #cancelled = new Map<string, number>();
  readonly #subscriptions: Subscription[] = [];
  readonly #takers: Subscription[] = [];
  readonly #pulls = new Set<{ stop(): void }>();
  readonly #loops: Promise<void>[] = [];
  /** Acks kept to go with the next message sent (see `#ackSoon`). */
  #lateAcks: JsMsg[] = [];
  #ackTimer: ReturnType<typeof setTimeout> | undefined;
  /**
   * The JSON of tasks this host put in the stream, by their sequence there
   * (the stream's answer says it; a message id is taken once, so that
   * sequence holds this message and no other): delivered here, such a task
   * needs no checking against the shape of a record (it is the record
   * admission made). The oldest are forgotten past `OWN_TASKS_KEPT`.
   */
  readonly #ownTasks = new Map<number, string>();
  /** Tasks ended whose final records are on their way: acknowledged once stored. */
  readonly #acknowledging = new Set<Promise<void>>();
  readonly #timers: ReturnType<typeof setInterval>[] = [];
  readonly #since = Date.now();
  readonly #hostname = hostname();
  #listeningSince = Date.now();
  #taking = false;
  #unsubscribeEvents: (() => void) | undefined;
  #stopReconnect: (() => void) | undefined;
  #registryDue = false;
  #registryFailing = false;
  /**
   * Task events are published until then (see `WATCHING`): someone said it
   * watches, or this host may have missed it (it is asking).
   */
  #watchedUntil = Date.now() + WATCH_LEASE_MS;
  /** How many times someone said it watches (see `#askWatchers`). */
  #watchingSaid = 0;

  constructor(options: HostOptions) {
    this.#nc = options.nc;
    this.#state = options.state;
    this.#manager = options.manager;
    this.#store = options.store;
    this.#services = new Map(options.services.map((service) => [service.name, service]));
    this.settings = checkSettings(options.settings);
    this.#retentionMs = options.retentionMs;
    this.#js = jetstream(this.#nc);
    this.#publisher = new JetStreamPublisher(this.#nc);
  }

  /**
   * Make sure the stream, the consumers and the registry exist, then serve:
   * submissions, cancels and releases, the consumers, the registry entry,
   * heartbeats, events, advisories.
   */
  async start(): Promise<void> {
    const jsm = this.#jsm = await jetstreamManager(this.#nc);
    await ensureStream(jsm, this.settings);
    for (const name of this.#services.keys()) {
      for (const kind of ["serial", "parallel"] as const) {
        await ensureConsumer(jsm, name, kind, this.settings);
      }
    }
    this.#registry = await openRegistry(this.#nc, this.settings.registryRefreshMs);
    // Task events only while someone watches: the manager makes none for no one.
    this.#unsubscribeEvents = this.#manager.subscribe((event) => this.#forward(event), {
      following: () => this.#watched(),
    });
    for (const name of this.#services.keys()) {
      const subjects = subjectsOf(name);
      this.#subscriptions.push(
        this.#nc.subscribe(subjects.cancel, {
          callback: (_error, msg) => this.#guard(this.#onCancel(msg), msg),
        }),
        this.#nc.subscribe(subjects.release, {
          callback: (_error, msg) => this.#guard(this.#onRelease(msg, name), msg),
        }),
      );
    }
    this.#subscriptions.push(
      this.#nc.subscribe(WATCHING, {
        callback: () => {
          this.#watchingSaid++;
          this.#watchedUntil = Date.now() + WATCH_LEASE_MS;
        },
      }),
      this.#nc.subscribe(MAX_DELIVERIES_ADVISORY, {
        queue: "zest-advisories",
        callback: (_error, msg) => this.#guard(this.#onMaxDeliveries(msg), msg),
      }),
    );
    await this.#nc.flush();
    // Cancels are heard from now on; anything published before is checked in the store.
    this.#listeningSince = Date.now();
    await this.#askWatchers();
    this.#stopReconnect = this.#state.onReconnect(() => {
      this.#listeningSince = Date.now();
      this.#askWatchers();
      this.#refreshRegistry();
    });
    await this.#refreshRegistry();
    this.#timers.push(
      setInterval(() => this.#refreshRegistry(), this.settings.registryRefreshMs),
      setInterval(() => this.#heartbeat(), Math.max(100, Math.floor(this.settings.ackWaitMs / 3))),
    );
    this.#taking = true;
    for (const name of this.#services.keys()) {
      const subjects = subjectsOf(name);
      this.#takers.push(
        this.#nc.subscribe(subjects.submit, {
          queue: subjects.hosts,
          callback: (_error, msg) => this.#guard(this.#onSubmit(msg, name), msg),
        }),
      );
      for (const kind of ["serial", "parallel"] as const) {
        const limit = kind === "serial" ? 1 : this.settings.parallelPerReplica;
        const room: Room = { held: 0, limit, wake: undefined };
        this.#rooms.set(`${name}/${kind}`, room);
        this.#loops.push(this.#take(name, kind, room));
      }
    }
    await this.#nc.flush();
  }

  /**
   * Take no more: submissions go to the other replicas, no more tasks are
   * pulled. Tasks this host has keep running.
   */
  async stopTaking(): Promise<void> {
    this.#taking = false;
    for (const subscription of this.#takers) subscription.unsubscribe();
    for (const pull of this.#pulls) pull.stop();
    for (const room of this.#rooms.values()) room.wake?.();
    await Promise.allSettled(this.#loops);
    if (!this.#nc.isClosed()) await this.#nc.flush().catch(() => {});
  }

  /**
   * Give back every task the manager did not finish (queued again in the
   * stream for another replica), leave the registry, stop listening. Call
   * after the manager has closed.
   */
  async leave(): Promise<void> {
    await Promise.all([...this.#held.values()].map((held) => this.#giveBack(held)));
    await untilSettled(this.#acknowledging, LEAVE_GRACE_MS);
    this.#sendAcks();
    clearTimeout(this.#ackTimer);
    for (const timer of this.#timers) clearInterval(timer);
    this.#stopReconnect?.();
    this.#unsubscribeEvents?.();
    for (const subscription of this.#subscriptions) subscription.unsubscribe();
    if (this.#registry && !this.#nc.isClosed()) {
      await Promise.allSettled(
        [...this.#services.keys()].map((name) =>
          this.#registry?.delete(replicaKey(name, this.replica))
        ),
      );
    }
    if (!this.#nc.isClosed()) await this.#nc.flush().catch(() => {});
    this.#publisher.close();
  }

  /** Log what a message handler threw (a bug): a handler never takes the process down. */
  #guard(work: Promise<void>, msg: Msg): void {
    work.catch((error) => {
      console.error(`[zest] handling a message on ${msg.subject} failed:`, error);
      if (msg.reply) {
        try {
          msg.respond(toJson(errorBody(new Error(`internal error: ${(error as Error).message}`))));
        } catch {
          // The connection is gone; the requester times out.
        }
      }
    });
  }

  // --- Submissions -----------------------------------------------------------

  async #onSubmit(msg: Msg, service: string): Promise<void> {
    this.#sendAcks();
    const respond = (body: SubmitReply) => {
      if (msg.reply) msg.respond(toJson(body));
    };
    const parsed = parseMessage(submitMessage, msg.data);
    if (!("value" in parsed)) {
      console.error(`[zest] refused a submission on ${msg.subject}: ${parsed.problem}`);
      return respond({
        error: `not a submission: ${parsed.problem}`,
        name: "TaskValidationError",
        issues: [{ path: "", message: parsed.problem }],
      });
    }
    const { task, reply, copy, parent, deadline } = parsed.value;
    if (deadline !== undefined && Date.now() > deadline + CLOCK_SKEW_MS) {
      // Its client has given up on it and said so: queued now, it would run unknown to anyone.
      console.error(
        `[zest] dropped a submission of ${task.type} to '${service}' that came ` +
          `${Date.now() - deadline} ms after its client stopped waiting`,
      );
      return;
    }
    if (task.service !== service) {
      return respond(errorBody(
        new TaskValidationError(task.type, [{
          path: "service",
          message: `'${task.service}' was sent to the hosts of '${service}'`,
        }]),
      ));
    }
    const refusal = clusterRefusal(task);
    if (refusal) return respond(errorBody(refusal));
    let record: TaskRecord;
    try {
      record = this.#manager.prepare({ ...submitRequest(task), parent });
    } catch (error) {
      return respond(errorBody(error));
    }
    const data = toJson(record);
    const limit = this.#payloadLimit();
    if (data.length > limit / 4 && new TextEncoder().encode(data).length > limit) {
      return respond(errorBody(
        new TaskValidationError(record.type, [{
          path: "fields",
          message: `the task is over the cluster's message limit of ${limit} bytes ` +
            `(the NATS server's max_payload)`,
        }]),
      ));
    }
    if (record.key !== undefined) {
      let first: string | undefined;
      try {
        first = await this.#claimKey(record, record.key);
      } catch (error) {
        return respond(errorBody(error));
      }
      // The same request under this key: the first task's id, nothing queued.
      if (first !== undefined) return respond({ taskId: first, existing: true });
    }
    const kind: Kind = record.parallel ? "parallel" : "serial";
    // The record first on the connection: the host that runs the task writes after it.
    const stored = this.#store.persist(record, data);
    const published = this.#publisher.publish(subjectsOf(service).tasks(kind), data, {
      msgID: record.id,
      headers: reply
        ? copy ? { [REPLY_HEADER]: reply, [STORED_HEADER]: copy } : { [REPLY_HEADER]: reply }
        : undefined,
    });
    const [storing, publishing] = await Promise.allSettled([stored, published]);
    if (publishing.status === "rejected") {
      this.#store.delete(record.id);
      Promise.resolve(this.#store.flush()).catch(() => {});
      if (record.key !== undefined) this.#store.releaseKey(record.key).catch(() => {});
      return respond(errorBody(publishRefusal(publishing.reason, service, kind, this.settings)));
    }
    this.#ownTasks.set(publishing.value.seq, data);
    if (this.#ownTasks.size > OWN_TASKS_KEPT) {
      this.#ownTasks.delete(this.#ownTasks.keys().next().value as number);
    }
    if (storing.status === "rejected") {
      // Queued all the same: the host that runs it writes its record.
      console.error(`[zest] task ${record.id} is queued, but its record was not stored yet`);
    }
    if (this.#watched()) this.#publish(service, { kind: "task", record: summarize(record) });
    respond({ taskId: record.id });
  }

  /**
   * Claim idempotency key `key` for `record` across the cluster: undefined
   * when the key is now this task's, the first task's id when it asked for
   * the same (service, type, fields); `TaskConflictError` when it asked for
   * something else. A key whose task is gone (deleted, past retention) is free.
   */
  async #claimKey(record: TaskRecord, key: string): Promise<string | undefined> {
    const claim: KeyHolder = {
      id: record.id,
      service: record.service,
      type: record.type,
      fields: record.fields,
    };
    for (let round = 0; round < 5; round++) {
      const held = await this.#store.claimKey(key, claim);
      if (!held) return undefined;
      if (!(await this.#store.read(held.holder.id))) {
        if (await this.#store.replaceKey(key, claim, held.revision)) return undefined;
        continue;
      }
      // The manager's own comparison and messages, on the one key at hand.
      const keys = new IdempotencyKeys(() => held.holder.fields);
      keys.claim(key, held.holder, held.holder.id);
      const verdict = keys.claim(key, claim, record.id);
      if (verdict.kind === "same") return verdict.id;
      if (verdict.kind === "conflict") throw new TaskConflictError(verdict.message);
      return undefined;
    }
    throw new RuntimeStoppingError(`key ${JSON.stringify(key)} is contended: retry`);
  }

  // --- Taking tasks ----------------------------------------------------------

  /**
   * Pull tasks of one consumer while taking: at most `room.limit` held at
   * once (1 for a serial service: with the consumer's `max_ack_pending: 1`,
   * one in the whole cluster, in FIFO order). Each pull asks for no more
   * than there is room for, so no task waits unheld (without heartbeats).
   */
  async #take(service: string, kind: Kind, room: Room): Promise<void> {
    const consumer = await this.#js.consumers.get(TASK_STREAM, subjectsOf(service).consumer(kind));
    while (this.#taking) {
      if (room.held >= room.limit) {
        await new Promise<void>((resolve) => room.wake = resolve);
        room.wake = undefined;
        continue;
      }
      try {
        const messages = await consumer.fetch({
          max_messages: room.limit - room.held,
          expires: PULL_EXPIRES_MS,
        });
        this.#pulls.add(messages);
        try {
          for await (const msg of messages) this.#deliver(msg, service, kind, room);
        } finally {
          this.#pulls.delete(messages);
        }
      } catch (error) {
        if (!this.#taking) return;
        // Disconnected, or the server is restarting: try again shortly.
        if (!this.#state.connected || /timeout|connection|closed/i.test(String(error))) {
          await new Promise((resolve) => setTimeout(resolve, 250));
        } else {
          console.error(`[zest] pulling tasks of ${service} (${kind}) failed:`, error);
          await new Promise((resolve) => setTimeout(resolve, 1_000));
        }
      }
    }
  }

  /** A task message arrived: take it, read it back from the store if needed, hand it to the manager. */
  #deliver(msg: JsMsg, service: string, kind: Kind, room: Room): void {
    this.#sendAcks();
    const own = this.#ownTasks.get(msg.seq);
    if (own !== undefined) this.#ownTasks.delete(msg.seq);
    const parsed = own === undefined ? parseRecord(msg.data) : { record: JSON.parse(own) };
    if ("problem" in parsed) return this.#drop(msg, parsed.problem);
    const record = parsed.record;
    if (record.service !== service) {
      return this.#drop(msg, `it names service '${record.service}', not '${service}'`);
    }
    const already = this.#held.get(record.id);
    if (already) {
      // Delivered again while this host still has it (its heartbeats were lost while
      // disconnected): keep the task, follow the new delivery.
      already.msg = msg;
      return;
    }
    const held: Held = {
      id: record.id,
      msg,
      service,
      kind,
      reply: validReply(msg.headers?.get(REPLY_HEADER)),
      copyTo: copyOf(msg.headers?.get(STORED_HEADER)),
      outcomeSent: false,
      stored: undefined,
      phase: "checking",
      fresh: msg.info.deliveryCount === 1,
      done: false,
    };
    this.#held.set(held.id, held);
    room.held++;
    const published = Math.floor(msg.info.timestampNanos / 1e6);
    const check = msg.info.deliveryCount > 1 || this.#cancelled.has(held.id) ||
      published < this.#listeningSince + CLOCK_SKEW_MS;
    if (!check) return this.#start(held, record);
    this.#checkThenStart(held, record).catch((error) => {
      console.error(`[zest] task ${held.id}: could not read its record back:`, error);
      this.#retryLater(held);
    });
  }

  /**
   * A task that may have been cancelled, or was delivered before: the
   * store's record is the truth (the message's is the one submitted). A task
   * delivered again was taken by a replica that went away — unless that
   * replica gave it back unstarted, it may have started (its `running`
   * record is sent before its handler starts, but not waited for): its
   * type's `onInterrupt` decides.
   */
  async #checkThenStart(held: Held, submitted: TaskRecord): Promise<void> {
    const redelivered = held.msg.info.deliveryCount > 1;
    const [stored, givenBack] = await Promise.all([
      this.#store.read(held.id),
      redelivered ? this.#store.wasGivenBack(held.id) : Promise.resolve(false),
    ]);
    const shape = stored && recordShape.safeParse(stored.record);
    let record = shape?.success ? shape.data as TaskRecord : submitted;
    if (isTerminal(record.state)) {
      return this.#settle(
        held,
        record.outcome ?? errorOutcome(record.id, "Error", `the task ended ${record.state}`),
      );
    }
    if (this.#cancelled.has(held.id)) {
      return this.#endHere(
        held,
        record,
        "cancelled",
        RuntimeErrorName.Cancelled,
        "the task was cancelled",
      );
    }
    if (!redelivered && record.state === "running") {
      // A first delivery of a task a replica runs: a nats-server that restarted without its
      // consumer's state hands out what is still held. Its holder acks it once done; if the
      // holder went away, the ack wait delivers it again, counted, and the rule below applies.
      return this.#leave(held);
    }
    if (redelivered && !givenBack) {
      const attempt = record.state === "running" ? record.attempts : record.attempts + 1;
      const what = record.state === "running"
        ? `went away while attempt ${attempt} ran`
        : `went away after taking the task (attempt ${attempt} may have started)`;
      const type = this.#services.get(held.service)?.resolve(record.type);
      if (type?.onInterrupt !== "requeue") {
        return this.#endHere(
          held,
          record,
          "failed",
          RuntimeErrorName.Interrupted,
          `the replica that had the task ${what}; ` +
            `it was not run again, since its type does not say onInterrupt: "requeue"`,
        );
      }
      record = { ...record, log: [...record.log] };
      const message = `the replica that had the task ${what} (delivery ` +
        `${held.msg.info.deliveryCount} of at most ${this.settings.maxDeliver}): ` +
        `queued again (onInterrupt: "requeue")`;
      if (record.state === "running") transition(record, "queued", Date.now(), message);
      else appendLog(record, { at: Date.now(), level: "info", message });
    }
    held.fresh = true;
    this.#start(held, record);
  }

  /** Hand a task to the manager, or end it here if it cannot run. */
  #start(held: Held, record: TaskRecord): void {
    if (!this.#taking) return void this.#giveBack(held);
    if (record.deadline !== undefined && record.deadline <= Date.now()) {
      return this.#endHere(
        held,
        record,
        "expired",
        RuntimeErrorName.Expired,
        `the task was still queued at its deadline, ${
          new Date(record.deadline).toISOString()
        }: it never ran`,
      );
    }
    if (record.state !== "queued") {
      return this.#endHere(
        held,
        record,
        "failed",
        RuntimeErrorName.Validation,
        `the task arrived ${record.state}, not queued: it cannot run`,
      );
    }
    // The bounds admission checks at a submission: anyone may publish on the stream.
    const tooLarge = jsonProblem(record.fields, RECORD_LIMITS.fieldsChars) ??
      jsonProblem(record.attributes, RECORD_LIMITS.attributesChars);
    if (tooLarge) {
      return this.#endHere(
        held,
        record,
        "failed",
        RuntimeErrorName.Validation,
        `the task's fields or attributes are ${tooLarge}`,
      );
    }
    const type = this.#services.get(held.service)?.resolve(record.type);
    if (type) {
      if (type.parallel !== (held.kind === "parallel")) {
        return this.#endHere(
          held,
          record,
          "failed",
          RuntimeErrorName.Validation,
          `task type '${type.name}' is ${type.parallel ? "parallel" : "serial"}, ` +
            `but the task came as ${held.kind}`,
        );
      }
      try {
        // A task's fields are checked again by the host that runs it: anyone may publish.
        record.fields = type.parse(record.fields);
      } catch (error) {
        return this.#endHere(
          held,
          record,
          "failed",
          RuntimeErrorName.Validation,
          (error as Error).message,
        );
      }
    }
    held.phase = "adopted";
    const { reply, copyTo } = held;
    // The final record's write is this host's to wait for, not the manager's: the manager's
    // journal would hold every later task's start until it is stored. The ack waits for it.
    this.#store.holdEnd(held.id, {
      copyTo: reply && copyTo,
      sent: (ended, stored) => {
        held.stored = stored;
        if (!reply || !copyTo || !ended.outcome || held.done) return;
        // The outcome goes with the final record's write; the submitter settles once the
        // server's answer to that write (copied to it) says the record is stored.
        held.outcomeSent = true;
        this.#sendOutcome(reply, ended.outcome, true);
      },
    });
    const sink: OutcomeSink = {
      settled: (outcome) => this.#settle(held, outcome),
      refused: () => void this.#giveBack(held),
    };
    this.#manager.adopt(record, sink);
  }

  /**
   * End a task the manager never had (cancelled while queued, expired,
   * interrupted, not valid): its final record, its event, its outcome.
   */
  #endHere(held: Held, record: TaskRecord, state: TaskState, ename: string, evalue: string): void {
    const ended = endRecord(record, state, ename, evalue, this.#retentionMs);
    this.#store.put(ended);
    Promise.resolve(this.#store.flush()).then(() => {
      this.#publish(held.service, { kind: "task", record: summarize(ended) });
      this.#settle(held, ended.outcome as TaskOutcome);
    }, (error) => {
      console.error(`[zest] task ${held.id}: its final record could not be stored:`, error);
      this.#retryLater(held);
    });
  }

  /**
   * The task ended: once its final record is stored, tell its submitter,
   * acknowledge, let go. Held (heartbeats, cancels answered) until then.
   */
  #settle(held: Held, outcome: TaskOutcome): void {
    if (held.done) return;
    held.done = true;
    const stored = held.stored;
    if (!stored) return this.#acknowledge(held, outcome);
    const acknowledged = stored.catch((error) => {
      // As the manager's journal does with a write that failed: the task ended all the same.
      console.error(`[zest] task ${held.id}: its final record could not be stored:`, error);
    }).then(() => this.#acknowledge(held, outcome));
    this.#acknowledging.add(acknowledged);
    acknowledged.finally(() => this.#acknowledging.delete(acknowledged));
  }

  #acknowledge(held: Held, outcome: TaskOutcome): void {
    if (held.reply && !held.outcomeSent) this.#sendOutcome(held.reply, outcome);
    // A serial lane's next task waits for this ack; a parallel one's ack can wait for company.
    if (held.kind === "serial") held.msg.ack();
    else this.#ackSoon(held.msg);
    this.#letGo(held);
  }

  /**
   * Acknowledge `msg` with the next message this host sends anyway (a
   * submission's writes, a task's records), or within `LATE_ACK_MS`: one
   * write and one wake of the server fewer per task when tasks come one at
   * a time. A task whose ack is lost with this process is delivered again,
   * and the replica that takes it finds its record ended.
   */
  #ackSoon(msg: JsMsg): void {
    this.#lateAcks.push(msg);
    // Not cleared when the acks go earlier: one timer per LATE_ACK_MS, not one per task.
    this.#ackTimer ??= setTimeout(() => {
      this.#ackTimer = undefined;
      this.#sendAcks();
    }, LATE_ACK_MS);
  }

  #sendAcks(): void {
    const acks = this.#lateAcks;
    if (acks.length === 0) return;
    this.#lateAcks = [];
    for (const msg of acks) msg.ack();
  }

  /**
   * Give a task back to the stream (this host stops): another replica takes
   * it at once, as a task that never ran when it is known not to have
   * started (the note says so first, durably), else to judge for itself.
   */
  #giveBack(held: Held): Promise<void> {
    if (held.done) return Promise.resolve();
    held.done = true;
    this.#letGo(held);
    if (!held.fresh && held.phase === "checking") {
      held.msg.nak();
      return Promise.resolve();
    }
    return this.#store.noteGivenBack(held.id).then(
      () => held.msg.nak(),
      (error) => {
        console.error(`[zest] task ${held.id}: could not note it given back:`, error);
        held.msg.nak();
      },
    );
  }

  /** A task this host could not look at now (its record could not be read): again, shortly. */
  /** Neither ack nor nak: the message is delivered again after the ack wait, unless acked meanwhile. */
  #leave(held: Held): void {
    if (held.done) return;
    held.done = true;
    this.#letGo(held);
  }

  #retryLater(held: Held): void {
    if (held.done) return;
    held.done = true;
    this.#letGo(held);
    held.msg.nak(1_000);
  }

  #letGo(held: Held): void {
    this.#store.holdEnd(held.id, undefined);
    if (this.#held.get(held.id) === held) this.#held.delete(held.id);
    const room = this.#rooms.get(`${held.service}/${held.kind}`);
    if (!room) return;
    room.held--;
    room.wake?.();
  }

  /** A message that is not a task: removed from the stream, said once. */
  #drop(msg: JsMsg, problem: string): void {
    console.error(
      `[zest] dropped message ${msg.seq} of ${TASK_STREAM} on ${msg.subject}: ${problem}`,
    );
    // No reason with it: nats-server 2.9 does not know `+TERM <reason>` and would redeliver.
    msg.term();
  }

  /** Send `outcome` to `reply`; `copied`: before its record is stored (see `STORED_HEADER`). */
  #sendOutcome(reply: string, outcome: TaskOutcome, copied = false): void {
    try {
      const data = toJson(outcome);
      const tooLarge = data.length > this.#payloadLimit() / 4 &&
        new TextEncoder().encode(data).length > this.#payloadLimit();
      if (!tooLarge && !copied) return this.#nc.publish(reply, data);
      const outcomeHeaders = headers();
      if (copied) outcomeHeaders.set(STORED_HEADER, "copy");
      if (tooLarge) outcomeHeaders.set(OUTCOME_HEADER, "record");
      this.#nc.publish(reply, tooLarge ? "" : data, { headers: outcomeHeaders });
    } catch (error) {
      console.error(
        `[zest] could not send the outcome of ${outcome.id}:`,
        (error as Error).message,
      );
    }
  }

  /** Tell the server every task held is still being worked on. */
  #heartbeat(): void {
    if (!this.#state.connected) return;
    for (const held of this.#held.values()) held.msg.working();
  }

  // --- Cancel, release, abandoned tasks ---------------------------------------

  async #onCancel(msg: Msg): Promise<void> {
    const parsed = parseMessage(taskMessage, msg.data);
    if (!("value" in parsed)) {
      console.error(`[zest] ignored a cancel on ${msg.subject}: ${parsed.problem}`);
      if (msg.reply) msg.respond(toJson({ error: `not a cancel: ${parsed.problem}` }));
      return;
    }
    const { id } = parsed.value;
    this.#rememberCancelled(id);
    const held = this.#held.get(id);
    let reply: CancelReply = { held: false };
    // Ended, its final record on its way: not cancelled (no one else may write its record now).
    if (held?.done) reply = { held: true, cancelled: false };
    else if (held) {
      // Not with the manager yet: its check sees the cancel and ends it.
      reply = held.phase === "checking"
        ? { held: true, cancelled: true }
        : { held: true, cancelled: await this.#manager.cancel(id) };
    }
    if (msg.reply) msg.respond(toJson(reply));
  }

  async #onRelease(msg: Msg, service: string): Promise<void> {
    let released = false;
    try {
      released = await this.#manager.release(service);
    } catch (error) {
      if (msg.reply) msg.respond(toJson(errorBody(error)));
      return;
    }
    if (msg.reply) msg.respond(toJson({ released }));
  }

  #rememberCancelled(id: string): void {
    const now = Date.now();
    this.#cancelled.set(id, now);
    for (const [old, at] of this.#cancelled) {
      if (this.#cancelled.size <= CANCELLED_KEPT && now - at < CANCELLED_KEPT_MS) break;
      this.#cancelled.delete(old);
    }
  }

  /**
   * The server delivered a task `max_deliver` times and the last replica
   * went away too: it ends failed, abandoned, and leaves the stream (where a
   * work queue would otherwise keep it for ever).
   */
  async #onMaxDeliveries(msg: Msg): Promise<void> {
    const advisory = parseMessage(
      taskAdvisory,
      msg.data,
    );
    if (!("value" in advisory) || !this.#jsm) return;
    const { stream_seq: seq, deliveries } = advisory.value;
    const stored = await this.#jsm.streams.getMessage(TASK_STREAM, { seq }).catch(() => null);
    if (!stored) return;
    const parsed = parseRecord(stored.data);
    if ("problem" in parsed) {
      await this.#jsm.streams.deleteMessage(TASK_STREAM, seq).catch(() => false);
      return;
    }
    const current = await this.#store.read(parsed.record.id);
    const record = current?.record ?? parsed.record;
    if (!isTerminal(record.state)) {
      const ended = endRecord(
        { ...record, log: [...record.log] },
        "failed",
        RuntimeErrorName.Interrupted,
        `abandoned: the task was delivered ${deliveries} times (max_deliver) and every ` +
          `replica that took it went away before it ended`,
        this.#retentionMs,
      );
      this.#store.put(ended);
      await this.#store.flush();
      this.#publish(ended.service, { kind: "task", record: summarize(ended) });
      const reply = validReply(stored.header?.get(REPLY_HEADER));
      if (reply) this.#sendOutcome(reply, ended.outcome as TaskOutcome);
    }
    await this.#jsm.streams.deleteMessage(TASK_STREAM, seq).catch(() => false);
  }

  // --- Events and the registry -----------------------------------------------

  /** Publish one of the manager's events on its service's subject. */
  #forward(event: TaskEvent): void {
    let service: string | undefined;
    if (event.kind === "task") service = event.record.service;
    else if (event.kind === "service") {
      service = event.service.name;
      this.#registryDue = true;
      queueMicrotask(() => {
        if (this.#registryDue) this.#refreshRegistry();
      });
    } else if ("id" in event) service = this.#held.get(event.id)?.service;
    this.#publish(service, event);
  }

  /**
   * Whether anyone watches, asked when this host may have missed it (at its
   * start, after a reconnect): events are published meanwhile, and on after
   * any answer; "no responders" means nobody watches (a watcher subscribes
   * to the asks before it says it watches, so none was missed).
   */
  async #askWatchers(): Promise<void> {
    this.#watchedUntil = Date.now() + WATCH_LEASE_MS;
    const said = this.#watchingSaid;
    try {
      await this.#nc.request(WATCHERS, undefined, { timeout: 2_000 });
      this.#watchedUntil = Date.now() + WATCH_LEASE_MS;
    } catch (error) {
      const nobody = /no ?responders/i.test(`${(error as Error)?.name} ${error}`);
      if (nobody && this.#watchingSaid === said) this.#watchedUntil = 0;
    }
  }

  /** Whether someone watches task events (see `WATCHING`). */
  #watched(): boolean {
    return Date.now() <= this.#watchedUntil;
  }

  /** Publish `event` (a task's comes only while someone watches: see `WATCHING`). */
  #publish(service: string | undefined, event: TaskEvent): void {
    if (!this.#state.connected) return;
    try {
      const data = toJson(event);
      if (data.length > this.#payloadLimit()) return; // A huge output event: read the record instead.
      this.#nc.publish(service ? subjectsOf(service).events : GENERAL_EVENTS, data);
    } catch (error) {
      console.error("[zest] could not publish an event:", (error as Error).message);
    }
  }

  /** Rewrite this replica's entry for each of its services. */
  async #refreshRegistry(): Promise<void> {
    this.#registryDue = false;
    const registry = this.#registry;
    if (!registry || !this.#state.connected) return;
    const infos = this.#manager.services();
    const writes = infos.filter((info) => this.#services.has(info.name)).map((service) =>
      registry.put(
        replicaKey(service.name, this.replica),
        toJson({
          replica: this.replica,
          host: this.#hostname,
          pid: Deno.pid,
          since: this.#since,
          service,
        }),
      )
    );
    const results = await Promise.allSettled(writes);
    const failure = results.find((result) => result.status === "rejected");
    if (failure && !this.#registryFailing) {
      console.error(
        "[zest] could not refresh this replica's registry entry:",
        (failure as PromiseRejectedResult).reason?.message,
      );
    }
    this.#registryFailing = failure !== undefined;
  }

  #payloadLimit(): number {
    return Math.max(HEADROOM_BYTES, (this.#nc.info?.max_payload ?? 1024 * 1024) - HEADROOM_BYTES);
  }
}

/** A task message's `STORED_HEADER`, if it is one a publish can copy to. */
function copyOf(value: string | undefined | null): string | undefined {
  return isCopyTo(value) ? value : undefined;
}

/** The MAX_DELIVERIES advisory's fields that matter. */
const taskAdvisory = z.looseObject({
  stream: z.literal(TASK_STREAM),
  stream_seq: z.number().int().positive(),
  deliveries: z.number().int(),
});

/**
 * Why the cluster refuses a request the embedded runtime would take:
 * dependencies are embedded-only in this version.
 *
 * @example
 * ```ts
 * import { clusterRefusal } from "./host.ts";
 * clusterRefusal({ type: "Fit", after: ["0190c1d2-…"] })?.name; // "TaskValidationError"
 * clusterRefusal({ type: "Fit" }); // undefined
 * ```
 */
export function clusterRefusal(
  task: { type: string; after?: readonly string[] },
): Error | undefined {
  if (task.after && task.after.length > 0) {
    return new TaskValidationError(task.type, [{
      path: "after",
      message: "dependencies are embedded-only in this version: a cluster runs tasks without them",
    }]);
  }
  return undefined;
}

/** The refusal a failed publish of a task means. */
function publishRefusal(error: unknown, service: string, kind: Kind, settings: Settings): Error {
  const message = (error as Error)?.message ?? String(error);
  if (/maximum messages/i.test(message)) {
    return new QueueFullError(
      `service '${service}' has reached the cluster's limit of ` +
        `${settings.maxQueuedPerService} ${kind} tasks queued or running`,
    );
  }
  return new RuntimeStoppingError(`the task could not be queued on NATS: ${message}`);
}

/** This machine's name, for the registry (`--allow-sys=hostname`); `unknown` without it. */
function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}

/**
 * The WebSocket port: a `TaskPort` over one connection to a Zest server, so
 * that `Client.connect(url, { token })` offers the same API as
 * `runtime.client()`.
 *
 * @module
 */
import { errorOutcome, type TaskOutcome } from "../../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../../task/record.ts";
import type { ScheduleInfo } from "../../manager/schedules.ts";
import type { StoreStats, TaskListQuery } from "../../manager/store.ts";
import type {
  GraphRequest,
  OutcomeSink,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
} from "../../manager/types.ts";
import { onAbort } from "../../util/async.ts";
import type { ScheduleAction, SummaryPage, TaskPort } from "../port.ts";
import { bodyError, toJson } from "../wire.ts";
import {
  type ClientMessage,
  isValidToken,
  PROTOCOL,
  type Ref,
  type ServerMessage,
  TOKEN_PROTOCOL_PREFIX,
} from "./protocol.ts";

/**
 * `ename` of the outcome given to a request whose connection dropped before it ended.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { Client, defineTask, Runtime, serve, Service } from "../../mod.ts";
 * import { CONNECTION_LOST } from "./port.ts";
 * const Hold = defineTask("Hold", { schema: z.object({}), parallel: true });
 * const gate = Promise.withResolvers<void>();
 * const lab = new Service("lab").registerHandler(Hold, () => gate.promise);
 * const runtime = await Runtime.start({ services: [lab] });
 * const token = crypto.randomUUID();
 * const server = serve(runtime, { token, port: 0 });
 * const client = await Client.connect(server.wsUrl, { token });
 * const { taskId, outcome } = await client.request("lab", Hold.create({}));
 * await server.shutdown(); // the connection drops while the task runs
 * const lost = await outcome;
 * assert.equal(lost.status === "error" && lost.ename, CONNECTION_LOST);
 * gate.resolve(); // the task itself ran on: fetch it again, here in-process
 * assert.equal((await runtime.client().outcome(taskId))?.status, "ok");
 * await client.close();
 * await runtime.stop();
 * ```
 */
export const CONNECTION_LOST = "ConnectionLostError";

/**
 * Options of `WebSocketPort.connect` (and `Client.connect`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Client } from "../client.ts";
 * import type { WebSocketConnectOptions } from "./port.ts";
 * const options: WebSocketConnectOptions = { token: "k3Rf9-Qx_2mZp7LwYb4Tn8Vc", timeoutMs: 5_000 };
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const url = `ws://127.0.0.1:${listener.addr.port}/`;
 * listener.close(); // nothing listens there now
 * await assert.rejects(Client.connect(url, options), new RegExp(listener.addr.port.toString()));
 * ```
 */
export interface WebSocketConnectOptions {
  /** The server's token (`.zest/token` where the server runs, or `ZEST_TOKEN`). */
  token: string;
  /** Give up connecting after this long (default 10 s). */
  timeoutMs?: number;
}

type Reply = Exclude<ServerMessage, { type: "event" | "error" | "auth" }>;

type Pending =
  | { kind: "submit"; sink: OutcomeSink; type: string; taskId?: string }
  | { kind: "call"; resolve: (reply: Reply) => void; reject: (error: Error) => void };

/** Distributes `Omit` over a union, so each request keeps its own fields. */
type Request = ClientMessage extends infer M ? M extends { ref: Ref } ? Omit<M, "ref"> : never
  : never;

/** The reply of the request of type `T` (a `wait` is answered by an `outcome`). */
type ReplyTo<T extends Request["type"]> = Extract<
  Reply,
  { type: T extends "wait" ? "outcome" : T }
>;

/** `ws:`/`wss:` for a `ws:`, `wss:`, `http:` or `https:` URL. */
function socketUrl(url: string | URL): URL {
  const out = new URL(url);
  const schemes: Record<string, string> = {
    "http:": "ws:",
    "https:": "wss:",
    "ws:": "ws:",
    "wss:": "wss:",
  };
  const scheme = schemes[out.protocol];
  if (!scheme) throw new TypeError(`unsupported URL scheme '${out.protocol}' (use ws: or http:)`);
  out.protocol = scheme;
  return out;
}

/**
 * A port onto a remote runtime. A dropped connection rejects every pending
 * call with a clear error, and ends each accepted request with an error
 * outcome named `ConnectionLostError` (the task itself runs on: connect again
 * and fetch it with `client.outcome(id)`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, serve, Service } from "../../mod.ts";
 * import { Client } from "../client.ts";
 * import { WebSocketPort } from "./port.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const token = crypto.randomUUID();
 * const server = serve(runtime, { token, port: 0 });
 * const port = await WebSocketPort.connect(server.url, { token }); // http: works as ws:
 * const client = new Client(port); // what Client.connect does
 * assert.deepEqual((await client.services()).map((service) => service.name), ["lab"]);
 * await client.close();
 * await server.shutdown();
 * await runtime.stop();
 * ```
 */
export class WebSocketPort implements TaskPort {
  readonly url: URL;
  readonly #socket: WebSocket;
  #nextRef = 1;
  #pending = new Map<Ref, Pending>();
  #listeners = new Set<(event: TaskEvent) => void>();
  /** The server's answer to the subscription (see `subscribed`). */
  #subscription: Promise<void> | undefined;
  #lost: Error | undefined;
  #closed = Promise.withResolvers<Error>();

  private constructor(url: URL, socket: WebSocket) {
    this.url = url;
    this.#socket = socket;
    socket.addEventListener("message", (event) => this.#receive(event.data));
    socket.addEventListener("close", (event) => {
      const why = event.reason ? `${event.code} ${event.reason}` : `code ${event.code}`;
      this.#drop(new Error(`connection to ${url} closed (${why})`));
    });
  }

  /**
   * Open a connection and authenticate (the token travels as a WebSocket
   * subprotocol, never in the URL).
   */
  static async connect(
    url: string | URL,
    options: WebSocketConnectOptions,
  ): Promise<WebSocketPort> {
    const target = socketUrl(url);
    if (typeof options.token !== "string" || !isValidToken(options.token)) {
      throw new TypeError("token must be the server's token (16+ URL-safe characters)");
    }
    const socket = new WebSocket(target, [PROTOCOL, TOKEN_PROTOCOL_PREFIX + options.token]);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timeoutMs = options.timeoutMs ?? 10_000;
    const timer = setTimeout(() => {
      reject(new Error(`could not connect to ${target} within ${timeoutMs} ms`));
      socket.close();
    }, timeoutMs);
    socket.addEventListener("open", () => resolve(), { once: true });
    socket.addEventListener("error", (event) => {
      const detail = (event as ErrorEvent).message ?? "";
      reject(
        /\b401\b/.test(detail)
          ? new Error(`unauthorized: the server at ${target} refused the token`)
          : new Error(`could not connect to ${target}: ${detail || "connection failed"}`),
      );
    }, { once: true });
    try {
      await promise;
    } finally {
      clearTimeout(timer);
    }
    return new WebSocketPort(target, socket);
  }

  /** Settles with the reason once the connection has closed, for whatever cause. */
  get closed(): Promise<Error> {
    return this.#closed.promise;
  }

  /** Submit a task; the sink gets its id, then its outcome, or the typed refusal. */
  submit(request: SubmitRequest, sink: OutcomeSink): void {
    const { task: _validated, parent: _parent, schedule: _schedule, ...task } = request;
    const ref = this.#nextRef++;
    this.#pending.set(ref, { kind: "submit", sink, type: request.type });
    this.#send({ type: "submit", ref, task: { ...task, after: task.after && [...task.after] } });
  }

  /** Submit a graph of tasks by names. */
  async submitGraph(graph: GraphRequest): Promise<Record<string, string>> {
    const tasks = Object.fromEntries(
      Object.entries(graph).map((
        [name, { rerunOf: _rerunOf, ...node }],
      ) => [name, { ...node, after: node.after && [...node.after] }]),
    );
    return (await this.#call("graph", { tasks })).ids;
  }

  /** The record of task `id`, if the server still has it. */
  async get(id: string): Promise<TaskRecord | undefined> {
    return (await this.#call("get", { taskId: id })).record ?? undefined;
  }

  /** Summaries, newest first, a page at a time. */
  async list(query?: TaskListQuery): Promise<SummaryPage> {
    const { records, next } = await this.#call("list", { query });
    return next === undefined ? { records } : { records, next };
  }

  /** Wait for task `id` to end; `undefined` if the server does not know it. */
  async wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined> {
    return (await this.#call("wait", { taskId: id }, signal)).outcome ?? undefined;
  }

  /** Cancel task `id`. */
  async cancel(id: string): Promise<boolean> {
    return (await this.#call("cancel", { taskId: id })).cancelled;
  }

  /** Remove the record of an ended task. */
  async delete(id: string): Promise<void> {
    await this.#call("delete", { taskId: id });
  }

  /** The dependency graph around task `id`, as DOT. */
  async graph(id: string): Promise<string | undefined> {
    return (await this.#call("dot", { taskId: id })).dot ?? undefined;
  }

  /** Services, their task types (with JSON Schemas) and queue depths. */
  async services(): Promise<ServiceInfo[]> {
    return (await this.#call("services", {})).services;
  }

  /** A serial service's queue, in running order. */
  async queue(service: string, limit?: number): Promise<TaskRecordSummary[]> {
    return (await this.#call("queue", { service, limit })).records;
  }

  /** Free a stuck serial lane. */
  async release(service: string): Promise<boolean> {
    return (await this.#call("release", { service })).released;
  }

  /** The server's store: path, size, records. */
  async storeStats(): Promise<StoreStats> {
    return (await this.#call("store", {})).store;
  }

  /** Every schedule's status. */
  async schedules(): Promise<ScheduleInfo[]> {
    return (await this.#call("schedules", {})).schedules;
  }

  /** Pause, resume or run a schedule now. */
  async controlSchedule(name: string, action: ScheduleAction): Promise<ScheduleInfo> {
    return (await this.#call("schedule", { name, action })).schedule;
  }

  /** Follow events; the server is asked for them while anyone listens. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    if (this.#listeners.size === 0) {
      this.#subscription = this.#call("subscribe", {}).then(() => {}, () => {});
    }
    this.#listeners.add(listener);
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#subscription = undefined;
      this.#call("unsubscribe", {}).catch(() => {});
    };
  }

  /** Resolves once the server has confirmed the subscription (at once if there is none). */
  async subscribed(): Promise<void> {
    await this.#subscription;
  }

  /** Close the connection; pending calls reject. */
  async close(): Promise<void> {
    if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close(1000, "client closed");
    await this.closed;
  }

  #send(message: ClientMessage): void {
    if (this.#lost || this.#socket.readyState !== WebSocket.OPEN) {
      const error = this.#lost ?? new Error(`connection to ${this.url} is not open`);
      return this.#fail(message.type === "auth" ? undefined : message.ref, error);
    }
    this.#socket.send(toJson(message));
  }

  #call<T extends Request["type"]>(
    type: T,
    fields: Omit<Extract<Request, { type: T }>, "type">,
    signal?: AbortSignal,
  ): Promise<ReplyTo<T>> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ref = this.#nextRef++;
    const { promise, resolve, reject } = Promise.withResolvers<ReplyTo<T>>();
    const stopListening = onAbort(signal, (reason) => {
      // The server may still answer; with the ref gone the answer is ignored.
      this.#pending.delete(ref);
      reject(reason);
    });
    this.#pending.set(ref, {
      kind: "call",
      resolve: (reply) => (stopListening(), resolve(reply as ReplyTo<T>)),
      reject: (error) => (stopListening(), reject(error)),
    });
    this.#send({ ...fields, type, ref } as ClientMessage);
    return promise;
  }

  #receive(data: unknown): void {
    let message: ServerMessage;
    try {
      message = JSON.parse(String(data));
    } catch {
      return; // A server never sends this; nothing sensible to do with it.
    }
    if (message.type === "event") {
      for (const listener of this.#listeners) listener(message.event);
      return;
    }
    if (message.type === "auth") return;
    if (message.type === "error") {
      if (message.ref === undefined) return;
      const pending = this.#pending.get(message.ref);
      // A refused submission rejects with the typed error the server named.
      this.#fail(
        message.ref,
        bodyError(message, pending?.kind === "submit" ? pending.type : undefined),
      );
      return;
    }
    const pending = this.#pending.get(message.ref);
    if (!pending) return;
    if (pending.kind === "call") {
      this.#pending.delete(message.ref);
      pending.resolve(message);
    } else if (message.type === "submit") {
      pending.taskId = message.taskId;
      pending.sink.accepted?.(message.taskId);
    } else if (message.type === "outcome" && message.outcome) {
      this.#pending.delete(message.ref);
      pending.sink.settled(message.outcome);
    }
  }

  #fail(ref: Ref | undefined, error: Error): void {
    const pending = ref === undefined ? undefined : this.#pending.get(ref);
    if (!pending) return;
    this.#pending.delete(ref as Ref);
    if (pending.kind === "call") return pending.reject(error);
    if (pending.taskId === undefined) return pending.sink.refused(error);
    pending.sink.settled(
      errorOutcome(
        pending.taskId,
        CONNECTION_LOST,
        `${error.message} before task ${pending.taskId} ended; it may still be running: ` +
          `connect again and fetch its outcome with client.outcome("${pending.taskId}")`,
      ),
    );
  }

  #drop(error: Error): void {
    if (this.#lost) return;
    this.#lost = error;
    for (const ref of [...this.#pending.keys()]) this.#fail(ref, error);
    this.#listeners.clear();
    this.#closed.resolve(error);
  }
}

/**
 * `RemotePort`: a `TaskPort` over one WebSocket to a Zest server, so that
 * `Client.connect(url, { token })` offers the same API as `runtime.client()`.
 */
import { errorOutcome, type TaskOutcome } from "../task/outcome.ts";
import type { TaskRecord, TaskRecordSummary } from "../task/record.ts";
import type {
  OutcomeSink,
  ServiceInfo,
  SubmitRequest,
  TaskEvent,
  TaskPort,
} from "../manager/types.ts";
import { isValidToken, PROTOCOL, TOKEN_PROTOCOL_PREFIX } from "./auth.ts";
import type { ClientMessage, Ref, ServerMessage } from "./wire.ts";
import { replyError, toJson } from "./wire.ts";

/**
 * `ename` of the outcome given to a request whose connection dropped before it ended.
 *
 * @example
 * ```ts
 * import { CONNECTION_LOST } from "./remote.ts";
 * import type { TaskOutcome } from "../task/outcome.ts";
 * declare const outcome: TaskOutcome;
 * const retry = outcome.status === "error" && outcome.ename === CONNECTION_LOST;
 * ```
 */
export const CONNECTION_LOST = "ConnectionLostError";

/**
 * Options of `RemotePort.connect` (and `Client.connect`).
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "./remote.ts";
 * const options: ConnectOptions = { token: Deno.env.get("ZEST_TOKEN")!, timeoutMs: 5_000 };
 * ```
 */
export interface ConnectOptions {
  /** The server's token (see `deno task start`'s output, or `.zest/token`). */
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
 * import { RemotePort } from "./remote.ts";
 * import { Client } from "./client.ts";
 * const port = await RemotePort.connect("ws://127.0.0.1:8787", { token: Deno.env.get("ZEST_TOKEN")! });
 * const client = new Client(port); // what Client.connect does
 * await client.services();
 * await client.close();
 * ```
 */
export class RemotePort implements TaskPort {
  readonly url: URL;
  readonly #socket: WebSocket;
  #nextRef = 1;
  #pending = new Map<Ref, Pending>();
  #listeners = new Set<(event: TaskEvent) => void>();
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
  static async connect(url: string | URL, options: ConnectOptions): Promise<RemotePort> {
    const target = socketUrl(url);
    if (typeof options.token !== "string" || !isValidToken(options.token)) {
      throw new TypeError("token must be the server's token (16+ URL-safe characters)");
    }
    const socket = new WebSocket(target, [PROTOCOL, TOKEN_PROTOCOL_PREFIX + options.token]);
    const { promise, resolve, reject } = Promise.withResolvers<void>();
    const timer = setTimeout(() => {
      reject(new Error(`could not connect to ${target} within ${options.timeoutMs ?? 10_000} ms`));
      socket.close();
    }, options.timeoutMs ?? 10_000);
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
    return new RemotePort(target, socket);
  }

  /** Settles with the reason once the connection has closed, for whatever cause. */
  get closed(): Promise<Error> {
    return this.#closed.promise;
  }

  /** Submit a task; the sink gets its id, then its outcome. */
  submit(request: SubmitRequest, sink: OutcomeSink): void {
    const { service, type, fields, attributes, timeoutMs } = request;
    const ref = this.#nextRef++;
    this.#pending.set(ref, { kind: "submit", sink, type });
    this.#send({ type: "submit", ref, service, task: { type, fields }, attributes, timeoutMs });
  }

  /** The record of task `id`, if the server still has it. */
  async get(id: string): Promise<TaskRecord | undefined> {
    const reply = await this.#call({ type: "get", taskId: id });
    return (reply as { record: TaskRecord | null }).record ?? undefined;
  }

  /** Summaries: live tasks first, newest first; then finished ones, latest first. */
  async list(
    query: { service?: string; state?: string; limit?: number } = {},
  ): Promise<TaskRecordSummary[]> {
    const reply = await this.#call({ type: "list", ...query } as Request);
    return (reply as { records: TaskRecordSummary[] }).records;
  }

  /** Wait for task `id` to end; `undefined` if the server does not know it. */
  async wait(id: string, signal?: AbortSignal): Promise<TaskOutcome | undefined> {
    const reply = await this.#call({ type: "wait", taskId: id }, signal);
    return (reply as { outcome: TaskOutcome | null }).outcome ?? undefined;
  }

  /** Cancel task `id`. */
  async cancel(id: string): Promise<boolean> {
    const reply = await this.#call({ type: "cancel", taskId: id });
    return (reply as { cancelled: boolean }).cancelled;
  }

  /** Services, their task types (with JSON Schemas) and queue depths. */
  async services(): Promise<ServiceInfo[]> {
    const reply = await this.#call({ type: "services" });
    return (reply as { services: ServiceInfo[] }).services;
  }

  /** Follow task events; the server is asked for them while anyone listens. */
  subscribe(listener: (event: TaskEvent) => void): () => void {
    if (this.#listeners.size === 0) this.#call({ type: "subscribe" }).catch(() => {});
    this.#listeners.add(listener);
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      this.#call({ type: "unsubscribe" }).catch(() => {});
    };
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

  #call(request: Request, signal?: AbortSignal): Promise<Reply> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const ref = this.#nextRef++;
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const onAbort = () => {
      // The server may still answer; with the ref gone the answer is ignored.
      this.#pending.delete(ref);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const settle = () => signal?.removeEventListener("abort", onAbort);
    this.#pending.set(ref, {
      kind: "call",
      resolve: (reply) => (settle(), resolve(reply)),
      reject: (error) => (settle(), reject(error)),
    });
    this.#send({ ...request, ref } as ClientMessage);
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
        replyError(message, pending?.kind === "submit" ? pending.type : undefined),
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
    if (pending.taskId === undefined) {
      return pending.sink.refused(error);
    }
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

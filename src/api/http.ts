/**
 * The HTTP routes of the API (after auth), on the built-in `URLPattern`:
 * submit tasks and graphs, read, wait for, cancel, delete and re-run tasks,
 * draw their dependency graph, list services and the store, free a stuck
 * lane. JSON in, JSON out; every refusal names its cause and has the status
 * its type says (`refusalStatus`).
 *
 * @module
 */
import {
  isRefusal,
  QueueFullError,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskConflictError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskError,
  UnknownTaskTypeError,
} from "../task/errors.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import { isTerminal } from "../task/record.ts";
import { MAX_PAGE, type TaskListQuery } from "../manager/store.ts";
import type { SubmitRequest } from "../manager/types.ts";
import type { TaskPort } from "../transport/port.ts";
import {
  describeIssues,
  errorBody,
  graphBody,
  graphRequest,
  LIST_QUERY_PARAMS,
  listQuery,
  submitBody,
  submitRequest,
  toJson,
} from "../transport/wire.ts";
import { onAbort } from "../util/async.ts";
import { calendarProblem } from "../util/time.ts";

/**
 * A refusal: an HTTP status and a JSON body `{ error, name?, issues? }`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpError } from "./http.ts";
 * const error = new HttpError(413, "request body exceeds the limit of 1048576 bytes", { limit: 1048576 });
 * assert.equal(error.status, 413);
 * ```
 */
export class HttpError extends Error {
  /** Create a refusal with `status`; `extra` joins the body. */
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: HeadersInit = {},
  ) {
    super(message);
  }
}

/**
 * Longest `?wait=` honoured by `GET /tasks/:id/outcome`; longer waits are cut to it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { MAX_WAIT_MS } from "./http.ts";
 * assert.equal(MAX_WAIT_MS, 300_000); // ?wait=10m waits 5 minutes at most
 * ```
 */
export const MAX_WAIT_MS = 300_000;

/**
 * A JSON response.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { json } from "./http.ts";
 * const response = json(202, { taskId: "…" });
 * assert.equal(response.headers.get("content-type"), "application/json; charset=utf-8");
 * ```
 */
export function json(status: number, body: unknown, headers: HeadersInit = {}): Response {
  const response = new Response(toJson(body), { status, headers });
  response.headers.set("content-type", "application/json; charset=utf-8");
  response.headers.set("cache-control", "no-store");
  return response;
}

/**
 * The response for a thrown `HttpError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { errorResponse, HttpError } from "./http.ts";
 * assert.equal(errorResponse(new HttpError(404, "no task with id 'x'")).status, 404);
 * ```
 */
export function errorResponse(error: HttpError): Response {
  return json(error.status, { error: error.message, ...error.extra }, error.headers);
}

/**
 * The HTTP status of a refusal, by its type: 422 invalid (or a bad graph),
 * 404 unknown service, type or task, 409 conflict, 429 queue full, 503
 * stopping or stopped; 500 for anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { refusalStatus } from "./http.ts";
 * import { QueueFullError } from "../task/errors.ts";
 * assert.equal(refusalStatus(new QueueFullError("service 'lab' is full")), 429);
 * ```
 */
export function refusalStatus(error: Error): number {
  if (error instanceof TaskValidationError || error.name === "GraphError") return 422;
  if (
    error instanceof UnknownServiceError || error instanceof UnknownTaskTypeError ||
    error instanceof UnknownTaskError
  ) return 404;
  if (error instanceof TaskConflictError) return 409;
  if (error instanceof QueueFullError) return 429;
  if (error instanceof RuntimeStoppingError || error instanceof ServiceStoppedError) return 503;
  return 500;
}

/** The response of a refusal (a typed error): its status, its JSON, `Retry-After` for 429. */
function refused(error: Error): Response {
  const status = refusalStatus(error);
  return json(status, errorBody(error), status === 429 ? { "retry-after": "1" } : {});
}

/**
 * `?wait=` as milliseconds: `30s`, `500ms`, `2m`, or a bare number of
 * seconds; at most `MAX_WAIT_MS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseWait } from "./http.ts";
 * assert.equal(parseWait("500ms"), 500);
 * assert.equal(parseWait("2m"), 120_000);
 * assert.equal(parseWait("1h"), undefined);
 * ```
 */
export function parseWait(text: string): number | undefined {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m)?$/);
  if (!match) return undefined;
  const unit = { ms: 1, s: 1_000, m: 60_000 }[match[2] ?? "s"] as number;
  return Math.min(Number(match[1]) * unit, MAX_WAIT_MS);
}

/**
 * The task list query of `GET /tasks?…`: `service`, `type`, `key`, `state`
 * (repeated, or comma-separated, for several), `createdSince`,
 * `createdUntil` (ms since the epoch, or an ISO date), `limit`, `cursor`.
 * Throws `HttpError` 400 naming the bad parameter.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseListParams } from "./http.ts";
 * const url = new URL("http://x/tasks?state=failed,cancelled&createdSince=2026-01-01T00:00:00Z&limit=5");
 * assert.deepEqual(parseListParams(url.searchParams), {
 *   state: ["failed", "cancelled"], createdSince: Date.UTC(2026, 0, 1), limit: 5,
 * });
 * ```
 */
export function parseListParams(params: URLSearchParams): TaskListQuery {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of params) {
    if (key === "state") {
      const states = [...(raw.state as string[] ?? []), ...value.split(",")];
      raw.state = states;
    } else if (key === "limit") raw.limit = Number(value);
    else if (key === "createdSince" || key === "createdUntil") {
      const problem = calendarProblem(value);
      if (problem) {
        throw new HttpError(400, `bad query: ${key}: no such date '${value}': ${problem}`);
      }
      raw[key] = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
      if (Number.isNaN(raw[key])) {
        throw new HttpError(
          400,
          `bad query: ${key}: '${value}' is neither ms since the epoch nor a date`,
        );
      }
    } else raw[key] = value;
  }
  if (Array.isArray(raw.state) && raw.state.length === 1) raw.state = raw.state[0];
  const parsed = listQuery.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, `bad query: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * A store's refusal of a list query as the 400 it is: stores check what
 * only they can (a `cursor` is theirs to read) and throw a `RangeError` or
 * `TypeError` whose message starts with the parameter, e.g. `cursor: not a
 * cursor this store gave`. Anything else is returned as it is: a fault of
 * the server stays a 500.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HttpError, queryRefusal } from "./http.ts";
 * const refusal = queryRefusal(new RangeError("cursor: not a cursor this store gave"));
 * assert.ok(refusal instanceof HttpError);
 * assert.equal(refusal.status, 400);
 * assert.equal(refusal.message, "bad query: cursor: not a cursor this store gave");
 * const bug = new RangeError("Invalid array length");
 * assert.equal(queryRefusal(bug), bug);
 * ```
 */
export function queryRefusal(error: unknown): unknown {
  if (!(error instanceof RangeError || error instanceof TypeError)) return error;
  const field = error.message.match(/^(\w+):/)?.[1];
  // A parameter of `GET /tasks`: a store's complaint that names one of them is the client's.
  if (field === undefined || !LIST_QUERY_PARAMS.includes(field)) return error;
  return new HttpError(400, `bad query: ${error.message}`);
}

/** `GET /tasks`: a page of summaries, or 400 naming the parameter a store refused. */
async function listTasks({ port, url }: Call): Promise<Response> {
  const query = parseListParams(url.searchParams);
  try {
    return json(200, await port.list(query));
  } catch (error) {
    throw queryRefusal(error);
  }
}

/**
 * `?limit=` of `GET /services/:name/queue`: absent, or a whole number from 1
 * to `MAX_PAGE`; anything else is a 400 naming `limit`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { parseQueueLimit } from "./http.ts";
 * assert.equal(parseQueueLimit(new URLSearchParams("limit=5")), 5);
 * assert.equal(parseQueueLimit(new URLSearchParams("")), undefined);
 * assert.throws(() => parseQueueLimit(new URLSearchParams("limit=abc")), /bad query: limit: expected a whole number from 1 to 1000, got 'abc'/);
 * ```
 */
export function parseQueueLimit(params: URLSearchParams): number | undefined {
  const text = params.get("limit");
  if (text === null) return undefined;
  const limit = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE)) {
    throw new HttpError(
      400,
      `bad query: limit: expected a whole number from 1 to ${MAX_PAGE}, got '${text}'`,
    );
  }
  return limit;
}

/**
 * Read at most `limit` bytes of body as UTF-8 text (413 beyond, 400 if not
 * UTF-8). A client that goes away mid-body is a 400 no one will read, not a
 * server error to log with its stack.
 */
async function readText(request: Request, limit: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, `request body exceeds the limit of ${limit} bytes`, { limit });
  if (Number(request.headers.get("content-length") ?? 0) > limit) throw tooLarge();
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of request.body) {
      size += chunk.byteLength;
      // A chunked body has no length up front: stop reading as soon as it is too big.
      if (size > limit) throw tooLarge();
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, `request body ended early: ${(error as Error).message}`);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new HttpError(400, "request body is not valid UTF-8");
  }
}

async function readJson(request: Request, limit: number): Promise<unknown> {
  const text = await readText(request, limit);
  if (text.trim() === "") throw new HttpError(400, "request body is empty: send a JSON object");
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new HttpError(400, `malformed JSON body: ${(error as Error).message}`);
  }
}

/**
 * Per-request limits and lifetime.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { type ApiContext, handleApi } from "./http.ts";
 * import { Runtime, Service } from "../mod.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const closing = new AbortController();
 * const context: ApiContext = { maxBodyBytes: 16, signal: closing.signal };
 * const big = new Request("http://127.0.0.1/tasks", {
 *   method: "POST",
 *   body: JSON.stringify({ service: "lab", type: "Scan", fields: { notes: "x".repeat(100) } }),
 * });
 * assert.equal((await handleApi(runtime.client().port, big, context)).status, 413);
 * await runtime.stop();
 * ```
 */
export interface ApiContext {
  /** Largest request body accepted, in bytes. */
  maxBodyBytes: number;
  /**
   * Aborted when the server shuts down, to end long waits. (Not the
   * request's own signal: under Deno's legacy abort semantics touching it
   * prints a warning, and a caller that leaves costs only a timer until its
   * `wait` runs out.)
   */
  signal: AbortSignal;
}

/** What a route's handler gets. */
interface Call {
  port: TaskPort;
  request: Request;
  url: URL;
  /** The path's named groups, percent-decoded. */
  params: Record<string, string>;
  context: ApiContext;
}

type Handler = (call: Call) => Promise<Response>;

/** A task was submitted: 202 with its id once it is in the store, or the refusal. */
function submitted(port: TaskPort, request: SubmitRequest): Promise<Response> {
  const { promise, resolve } = Promise.withResolvers<Response>();
  port.submit(request, {
    accepted: (taskId) =>
      resolve(json(202, { taskId }, { location: `/tasks/${encodeURIComponent(taskId)}` })),
    settled: () => {},
    refused: (error) => resolve(refused(error)),
  });
  return promise;
}

async function submitTask({ port, request, context }: Call): Promise<Response> {
  const body = await readJson(request, context.maxBodyBytes);
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "the body must be a JSON object {service, type, fields, …}");
  }
  const parsed = submitBody.safeParse(body);
  if (!parsed.success) throw new HttpError(400, `bad task: ${describeIssues(parsed.error)}`);
  return submitted(port, submitRequest(parsed.data));
}

async function submitGraph({ port, request, context }: Call): Promise<Response> {
  const parsed = graphBody.safeParse(await readJson(request, context.maxBodyBytes));
  if (!parsed.success) throw new HttpError(400, `bad graph: ${describeIssues(parsed.error)}`);
  return json(202, { ids: await port.submitGraph(graphRequest(parsed.data)) });
}

async function record({ port, params }: Call): Promise<Response> {
  const found = await port.get(params.id);
  if (!found) throw unknownTask(params.id);
  return json(200, found);
}

/**
 * The outcome of task `id` once it has ended; with `?wait=` up to that long
 * for it, then 202 with its state. The wait ends early when the server stops.
 */
async function outcome({ port, params, url, context }: Call): Promise<Response> {
  const waitParam = url.searchParams.get("wait");
  const waitMs = waitParam === null ? 0 : parseWait(waitParam);
  if (waitMs === undefined) {
    throw new HttpError(
      400,
      `wait must look like 30s, 500ms, 2m or 30 (seconds), got '${waitParam}'`,
    );
  }
  const { id } = params;
  const found = await port.get(id);
  if (!found) throw unknownTask(id);
  if (isTerminal(found.state) && found.outcome) return json(200, found.outcome);
  if (waitMs > 0 && !context.signal.aborted) {
    const result = await waitUpTo(port, id, waitMs, context.signal);
    if (result) return json(200, result);
  }
  const now = await port.get(id);
  return json(202, { id, state: now?.state ?? found.state });
}

/** The outcome of task `id`, or `undefined` once `ms` have passed or `closing` aborts. */
async function waitUpTo(
  port: TaskPort,
  id: string,
  ms: number,
  closing: AbortSignal,
): Promise<TaskOutcome | undefined> {
  const stop = new AbortController();
  // Cleared as soon as the task ends: many long polls must not leave many timers behind.
  const timer = setTimeout(() => stop.abort(), ms);
  const stopListening = onAbort(closing, () => stop.abort());
  try {
    return await port.wait(id, stop.signal);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    stopListening();
  }
}

async function cancel({ port, params }: Call): Promise<Response> {
  if (!(await port.get(params.id))) throw unknownTask(params.id);
  return json(200, { cancelled: await port.cancel(params.id) });
}

async function remove({ port, params }: Call): Promise<Response> {
  await port.delete(params.id);
  return new Response(null, { status: 204 });
}

async function rerun({ port, params }: Call): Promise<Response> {
  const found = await port.get(params.id);
  if (!found) throw unknownTask(params.id);
  return submitted(port, {
    service: found.service,
    type: found.type,
    fields: found.fields,
    attributes: found.attributes,
    rerunOf: found.id,
  });
}

async function dot({ port, params }: Call): Promise<Response> {
  const graph = await port.graph(params.id);
  if (graph === undefined) throw unknownTask(params.id);
  return new Response(graph, {
    headers: { "content-type": "text/vnd.graphviz; charset=utf-8", "cache-control": "no-store" },
  });
}

async function release({ port, params }: Call): Promise<Response> {
  return json(200, { released: await port.release(params.service) });
}

async function schedule({ port, params }: Call): Promise<Response> {
  const action = params.action;
  if (action !== "pause" && action !== "resume" && action !== "run") {
    throw new HttpError(404, `no route: a schedule can be paused, resumed or run, not '${action}'`);
  }
  try {
    return json(200, await port.controlSchedule(params.name, action));
  } catch (error) {
    if (error instanceof Error && error.name === "ScheduleError") {
      throw new HttpError(404, error.message, { name: error.name });
    }
    throw error;
  }
}

function unknownTask(id: string): UnknownTaskError {
  return new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`);
}

const routes: { pattern: URLPattern; methods: Record<string, Handler> }[] = [
  {
    pattern: new URLPattern({ pathname: "/services" }),
    methods: { GET: async ({ port }) => json(200, await port.services()) },
  },
  {
    pattern: new URLPattern({ pathname: "/services/:service/release" }),
    methods: { POST: release },
  },
  {
    pattern: new URLPattern({ pathname: "/services/:service/queue" }),
    methods: {
      GET: async ({ port, params, url }) =>
        json(200, await port.queue(params.service, parseQueueLimit(url.searchParams))),
    },
  },
  {
    pattern: new URLPattern({ pathname: "/store" }),
    methods: { GET: async ({ port }) => json(200, await port.storeStats()) },
  },
  {
    pattern: new URLPattern({ pathname: "/tasks" }),
    methods: {
      GET: listTasks,
      POST: submitTask,
    },
  },
  { pattern: new URLPattern({ pathname: "/graphs" }), methods: { POST: submitGraph } },
  {
    pattern: new URLPattern({ pathname: "/tasks/:id" }),
    methods: { GET: record, DELETE: remove },
  },
  { pattern: new URLPattern({ pathname: "/tasks/:id/outcome" }), methods: { GET: outcome } },
  { pattern: new URLPattern({ pathname: "/tasks/:id/cancel" }), methods: { POST: cancel } },
  { pattern: new URLPattern({ pathname: "/tasks/:id/rerun" }), methods: { POST: rerun } },
  { pattern: new URLPattern({ pathname: "/tasks/:id/graph" }), methods: { GET: dot } },
  {
    pattern: new URLPattern({ pathname: "/schedules" }),
    methods: { GET: async ({ port }) => json(200, await port.schedules()) },
  },
  {
    pattern: new URLPattern({ pathname: "/schedules/:name/:action" }),
    methods: { POST: schedule },
  },
];

/**
 * Answer an authenticated API request: a route's response, or the status
 * and JSON of what was wrong (unknown route 404, wrong method 405 with
 * `Allow`, bad body 400/413, refusals as `refusalStatus` says).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { handleApi } from "./http.ts";
 * import { Runtime, Service } from "../mod.ts";
 * const runtime = await Runtime.start({ services: [new Service("lab")] });
 * const port = runtime.client().port;
 * const context = { maxBodyBytes: 1 << 20, signal: new AbortController().signal };
 * const services = await handleApi(port, new Request("http://127.0.0.1/services"), context);
 * assert.deepEqual((await services.json()).map((service: { name: string }) => service.name), ["lab"]);
 * const submit = new Request("http://127.0.0.1/tasks", {
 *   method: "POST",
 *   body: JSON.stringify({ service: "nope", type: "Scan" }),
 * });
 * const refused = await handleApi(port, submit, context);
 * assert.equal(refused.status, 404);
 * assert.equal((await refused.json()).name, "UnknownServiceError");
 * assert.equal((await handleApi(port, new Request("http://127.0.0.1/nowhere"), context)).status, 404);
 * await runtime.stop();
 * ```
 */
export async function handleApi(
  port: TaskPort,
  request: Request,
  context: ApiContext,
): Promise<Response> {
  const url = new URL(request.url);
  try {
    for (const route of routes) {
      const match = route.pattern.exec(url);
      if (!match) continue;
      const handler = route.methods[request.method];
      if (!handler) {
        const allow = Object.keys(route.methods).join(", ");
        throw new HttpError(
          405,
          `${request.method} is not allowed on ${url.pathname} (allowed: ${allow})`,
          {},
          { allow },
        );
      }
      const params: Record<string, string> = {};
      for (const [name, value] of Object.entries(match.pathname.groups)) {
        params[name] = decodeURIComponent(value ?? "");
      }
      return await handler({ port, request, url, params, context });
    }
    throw new HttpError(404, `no route ${request.method} ${url.pathname}`);
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    if (error instanceof URIError) {
      return errorResponse(new HttpError(400, "bad percent-encoding in path"));
    }
    if (error instanceof Error && (error.name === "GraphError" || isRefusal(error))) {
      return refused(error);
    }
    throw error;
  }
}

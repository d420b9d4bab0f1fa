/**
 * The HTTP routes of the API (after auth): submit, read, wait for, cancel
 * tasks and list services. JSON in, JSON out; every refusal names its cause.
 */
import {
  QueueFullError,
  RuntimeStoppingError,
  ServiceStoppedError,
  TaskValidationError,
  UnknownServiceError,
  UnknownTaskTypeError,
} from "../task/errors.ts";
import { isTerminal } from "../task/record.ts";
import type { SubmitRequest, TaskPort } from "../manager/types.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import { describeIssues, errorReply, listQuery, submitBody, toJson } from "./wire.ts";

/**
 * What the routes need of the runtime: a port. A submission is checked by
 * the manager's admission, the same for HTTP, WebSocket and in-process.
 *
 * @example
 * ```ts
 * import type { HttpBackend } from "./http.ts";
 * import { Runtime } from "../runtime.ts";
 * declare const runtime: Runtime;
 * const backend: HttpBackend = { port: runtime.client().port };
 * ```
 */
export interface HttpBackend {
  readonly port: TaskPort;
}

/**
 * A refusal: an HTTP status and a JSON body `{ error, name?, issues? }`.
 *
 * @example
 * ```ts
 * import { HttpError } from "./http.ts";
 * throw new HttpError(413, "request body exceeds the limit of 1048576 bytes", { limit: 1048576 });
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
 * import { MAX_WAIT_MS } from "./http.ts";
 * MAX_WAIT_MS; // 300000: ?wait=10m waits 5 minutes at most
 * ```
 */
export const MAX_WAIT_MS = 300_000;

/**
 * A JSON response.
 *
 * @example
 * ```ts
 * import { json } from "./http.ts";
 * const response = json(202, { taskId: "…" });
 * response.headers.get("content-type"); // "application/json; charset=utf-8"
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
 * import { errorResponse, HttpError } from "./http.ts";
 * errorResponse(new HttpError(404, "no task with id 'x'")).status; // 404
 * ```
 */
export function errorResponse(error: HttpError): Response {
  return json(error.status, { error: error.message, ...error.extra }, error.headers);
}

/** Read at most `limit` bytes of body as UTF-8 text (413 beyond, 400 if not UTF-8). */
async function readText(request: Request, limit: number): Promise<string> {
  const tooLarge = () =>
    new HttpError(413, `request body exceeds the limit of ${limit} bytes`, { limit });
  if (Number(request.headers.get("content-length") ?? 0) > limit) throw tooLarge();
  if (!request.body) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of request.body) {
    size += chunk.byteLength;
    // A chunked body has no length up front: stop reading as soon as it is too big.
    if (size > limit) throw tooLarge();
    chunks.push(chunk);
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

/** `?wait=` as milliseconds: `30s`, `500ms`, `2m`, or a bare number of seconds. */
function parseWait(text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)(ms|s|m)?$/);
  if (!match) {
    throw new HttpError(400, `wait must look like 30s, 500ms, 2m or 30 (seconds), got '${text}'`);
  }
  const unit = { ms: 1, s: 1_000, m: 60_000 }[match[2] ?? "s"] as number;
  return Math.min(Number(match[1]) * unit, MAX_WAIT_MS);
}

/**
 * The HTTP status of a refused submission, by its type: 422 invalid, 404
 * unknown service or type, 429 queue full, 503 stopping or stopped.
 *
 * @example
 * ```ts
 * import { refusalStatus } from "./http.ts";
 * import { QueueFullError } from "../task/errors.ts";
 * refusalStatus(new QueueFullError("service 'lab' is full")); // 429
 * ```
 */
export function refusalStatus(error: Error): number {
  if (error instanceof TaskValidationError) return 422;
  if (error instanceof UnknownServiceError || error instanceof UnknownTaskTypeError) return 404;
  if (error instanceof QueueFullError) return 429;
  if (error instanceof RuntimeStoppingError || error instanceof ServiceStoppedError) return 503;
  return 500;
}

/** Shape-check a `POST /tasks` body (400 naming the problem); the manager checks the rest. */
function toSubmitRequest(body: unknown): SubmitRequest {
  if (body === null || typeof body !== "object" || Array.isArray(body)) {
    throw new HttpError(400, "the body must be a JSON object {service, type, fields, attributes}");
  }
  const parsed = submitBody.safeParse(body);
  if (!parsed.success) throw new HttpError(400, `bad task: ${describeIssues(parsed.error)}`);
  const { service, type, fields, attributes, timeoutMs } = parsed.data;
  return { service, type, fields: fields ?? {}, attributes, timeoutMs, refuseInvalid: true };
}

function submit(backend: HttpBackend, request: SubmitRequest): Promise<Response> {
  const { promise, resolve } = Promise.withResolvers<Response>();
  backend.port.submit(request, {
    accepted: (taskId) =>
      resolve(json(202, { taskId }, { location: `/tasks/${encodeURIComponent(taskId)}` })),
    settled: () => {},
    refused: (error) => {
      const { type: _type, ref: _ref, ...body } = errorReply(error);
      const status = refusalStatus(error);
      resolve(json(status, body, status === 429 ? { "retry-after": "1" } : {}));
    },
  });
  return promise;
}

/**
 * The outcome of task `id`, or `undefined` once `ms` have passed or `closing`
 * aborts. The timer is cleared as soon as the task ends: many long polls
 * must not leave many timers behind.
 */
async function waitUpTo(
  port: TaskPort,
  id: string,
  ms: number,
  closing: AbortSignal,
): Promise<TaskOutcome | undefined> {
  if (closing.aborted) return undefined;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), ms);
  const onClosing = () => stop.abort();
  closing.addEventListener("abort", onClosing, { once: true });
  try {
    return await port.wait(id, stop.signal);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
    closing.removeEventListener("abort", onClosing);
  }
}

async function outcome(
  backend: HttpBackend,
  id: string,
  url: URL,
  signal: AbortSignal,
): Promise<Response> {
  const waitParam = url.searchParams.get("wait");
  const waitMs = waitParam === null ? 0 : parseWait(waitParam);
  const record = await backend.port.get(id);
  if (!record) throw new HttpError(404, `no task with id '${id}' (unknown, or past its retention)`);
  if (isTerminal(record.state) && record.outcome) return json(200, record.outcome);
  if (waitMs > 0) {
    const result = await waitUpTo(backend.port, id, waitMs, signal);
    if (result) return json(200, result);
  }
  const now = await backend.port.get(id);
  return json(202, { id, state: now?.state ?? record.state });
}

function listParams(url: URL) {
  const raw: Record<string, unknown> = {};
  for (const [key, value] of url.searchParams) {
    raw[key] = key === "limit" ? Number(value) : value;
  }
  const parsed = listQuery.safeParse(raw);
  if (!parsed.success) throw new HttpError(400, `bad query: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/**
 * Per-request limits and lifetime.
 *
 * @example
 * ```ts
 * import type { ApiContext } from "./http.ts";
 * const closing = new AbortController();
 * const context: ApiContext = { maxBodyBytes: 1 << 20, signal: closing.signal };
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

type Route = {
  pattern: RegExp;
  methods: Record<
    string,
    (
      backend: HttpBackend,
      request: Request,
      url: URL,
      params: string[],
      context: ApiContext,
    ) => Promise<Response>
  >;
};

const routes: Route[] = [
  {
    pattern: /^\/services$/,
    methods: { GET: async (b) => json(200, await b.port.services()) },
  },
  {
    pattern: /^\/tasks$/,
    methods: {
      GET: async (b, _r, url) => json(200, await b.port.list(listParams(url))),
      POST: async (b, request, _u, _p, context) =>
        submit(b, toSubmitRequest(await readJson(request, context.maxBodyBytes))),
    },
  },
  {
    pattern: /^\/tasks\/([^/]+)$/,
    methods: {
      GET: async (b, _r, _u, [id]) => {
        const record = await b.port.get(id);
        if (!record) throw new HttpError(404, `no task with id '${id}'`);
        return json(200, record);
      },
    },
  },
  {
    pattern: /^\/tasks\/([^/]+)\/outcome$/,
    methods: { GET: (b, _r, url, [id], context) => outcome(b, id, url, context.signal) },
  },
  {
    pattern: /^\/tasks\/([^/]+)\/cancel$/,
    methods: {
      POST: async (b, _r, _u, [id]) => {
        if (!(await b.port.get(id))) throw new HttpError(404, `no task with id '${id}'`);
        return json(200, { cancelled: await b.port.cancel(id) });
      },
    },
  },
];

/**
 * Answer an authenticated API request: a route's response, or a 4xx naming
 * what was wrong (unknown route, wrong method, bad body).
 *
 * @example
 * ```ts
 * import { handleApi } from "./http.ts";
 * import type { HttpBackend } from "./http.ts";
 * declare const backend: HttpBackend;
 * const request = new Request("http://127.0.0.1/services");
 * const closing = new AbortController();
 * const response = await handleApi(backend, request, { maxBodyBytes: 1 << 20, signal: closing.signal });
 * ```
 */
export async function handleApi(
  backend: HttpBackend,
  request: Request,
  context: ApiContext,
): Promise<Response> {
  const url = new URL(request.url);
  try {
    for (const route of routes) {
      const match = url.pathname.match(route.pattern);
      if (!match) continue;
      const handler = route.methods[request.method];
      if (!handler) {
        const allow = Object.keys(route.methods).join(", ");
        throw new HttpError(
          405,
          `${request.method} is not allowed on ${url.pathname} (allowed: ${allow})`,
          {},
          {
            allow,
          },
        );
      }
      const params = match.slice(1).map(decodeURIComponent);
      return await handler(backend, request, url, params, context);
    }
    throw new HttpError(404, `no route ${request.method} ${url.pathname}`);
  } catch (error) {
    if (error instanceof HttpError) return errorResponse(error);
    if (error instanceof URIError) {
      return errorResponse(new HttpError(400, "bad percent-encoding in path"));
    }
    throw error;
  }
}

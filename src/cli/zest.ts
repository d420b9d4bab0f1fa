/**
 * `deno task zest`: talk to a running Zest server from a shell.
 *
 * ```sh
 * deno task zest services
 * deno task zest submit calibration MaintainNode '{"nodeId":"q0_rabi"}' --wait
 * deno task zest status <id>
 * deno task zest watch
 * deno task zest cancel <id>
 * ```
 *
 * Exit codes: 0 done; 1 the task failed, is unknown, or the server could not
 * be reached; 2 usage error; 130 interrupted while waiting.
 *
 * Human output shows control characters escaped (`\x1b`, `\u{202e}`): what
 * the server sends (task types, fields, results) comes from its clients, and
 * must not drive the user's terminal. `--json` output is JSON, unchanged.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Client } from "../transport/client.ts";
import type { WebSocketPort } from "../transport/websocket/port.ts";
import { isRefusal } from "../task/errors.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import { formatEvent, formatOutcome, formatRecord, formatServices } from "./format.ts";
import { Spinner } from "./spinner.ts";
import { clientToken, TokenInputError } from "./token.ts";
import { generatePython } from "./codegen.ts";

/** The longest timeout a timer can hold: 2³¹−1 ms (about 24.8 days). */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

const USAGE = `usage: deno task zest <command> [options]

commands:
  submit <service> <type> [fields]  submit a task (fields: JSON object); prints its id,
                                    or with --wait its outcome
  status <id>                       the task's record: state, timings, log, outcome
  services                          services, task types, queue depths, kernel status
  watch                             live task events, until Ctrl-C
  cancel <id>                       cancel a queued or running task
  codegen python                    a Python module of the task types, one dataclass each
                                    (deno task zest codegen python > lab_tasks.py)

options:
  --wait             submit, status: wait for the outcome (a spinner shows on a terminal)
  --attributes JSON  submit: metadata kept on the task record
  --timeout MS       submit: override the task type's timeout (1 to ${MAX_TIMEOUT_MS} ms)
  --service NAME     watch, codegen: only this service's tasks
  --json             output JSON (watch: one event per line)
  --url URL          server (default: $ZEST_URL, else ws://127.0.0.1:8787)
  --token-file FILE  read the token from FILE, or from standard input if FILE is -
                     (default: $ZEST_TOKEN, else .zest/token)
  --token TOKEN      the token itself (other users may see it in the process list)
  -h, --help         this text`;

const HINT = "(deno task zest --help for usage)";

/** URL schemes a server is reached by. */
const URL_SCHEMES = ["ws:", "wss:", "http:", "https:"];

/**
 * Control characters that change what a terminal does rather than show a
 * character: C0 but newline and tab (ESC starts every escape sequence), DEL,
 * C1 (0x9b is a one-byte CSI), and the bidirectional-text controls, which
 * reorder what is shown.
 */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/**
 * `text` with each control character written visibly (`\x1b`, `\u{202e}`);
 * newlines and tabs stay as they are.
 *
 * @example
 * ```ts
 * import { escapeControls } from "./zest.ts";
 * escapeControls("\x1b]0;owned\x07ok\n"); // "\\x1b]0;owned\\x07ok\n"
 * ```
 */
export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (char) => {
    const code = char.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}

/** A mistake in the command line: exit code 2 and the usage. */
class UsageError extends Error {}

/** What a command needs. It connects only after checking its arguments. */
interface Context {
  connect(): Promise<Client>;
  json: boolean;
  values: Record<string, string | boolean | undefined>;
}

/** Human output on stdout. */
function print(text: string): void {
  console.log(escapeControls(text));
}

/** Human output on stderr. */
function printError(text: string): void {
  console.error(escapeControls(text));
}

function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what} must be JSON: ${(error as Error).message}`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new UsageError(`${what} must be a JSON object, like '{"nodeId":"q0_rabi"}'`);
  }
  return value as Record<string, unknown>;
}

/**
 * Wait for `outcome` with a spinner that follows the task's state; Ctrl-C
 * stops waiting (the task runs on) and exits 130.
 */
async function waitWithProgress<T>(
  client: Client,
  label: string,
  taskId: string,
  outcome: Promise<T>,
): Promise<T> {
  const spinner = new Spinner(escapeControls(label));
  const unwatch = spinner.enabled
    ? client.watch((event) => {
      if (event.kind === "task" && event.record.id === taskId) {
        spinner.update(escapeControls(event.record.state));
      }
    })
    : () => {};
  const interrupted = () => {
    spinner.stop();
    printError(`zest: stopped waiting; task ${taskId} runs on: deno task zest status ${taskId}`);
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", interrupted);
  try {
    return await outcome;
  } finally {
    Deno.removeSignalListener("SIGINT", interrupted);
    unwatch();
    spinner.stop();
  }
}

function showOutcome(outcome: TaskOutcome, json: boolean): number {
  if (json) printJson(outcome);
  else if (outcome.status === "ok") print(formatOutcome(outcome));
  else printError(formatOutcome(outcome));
  return outcome.status === "ok" ? 0 : 1;
}

async function submit({ connect, json, values }: Context, args: string[]): Promise<number> {
  const [service, type, fieldsText, ...rest] = args;
  if (!service || !type) throw new UsageError("submit needs <service> <type> [fields]");
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const fields = fieldsText === undefined ? {} : parseJsonObject(fieldsText, "fields");
  const attributes = typeof values.attributes === "string"
    ? parseJsonObject(values.attributes, "--attributes")
    : undefined;
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    timeoutMs = Number(values.timeout);
    if (!Number.isInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TIMEOUT_MS) {
      throw new UsageError(
        `--timeout must be a whole number of ms from 1 to ${MAX_TIMEOUT_MS}, got '${values.timeout}'`,
      );
    }
  }
  const client = await connect();
  const request = await client.request(service, { type, fields }, { attributes, timeoutMs });
  if (!values.wait) {
    if (json) printJson({ taskId: request.taskId });
    else print(request.taskId);
    return 0;
  }
  const label = `${type} on ${service} (${request.taskId.slice(0, 8)})`;
  return showOutcome(await waitWithProgress(client, label, request.taskId, request.outcome), json);
}

async function status({ connect, json, values }: Context, args: string[]): Promise<number> {
  const [id, ...rest] = args;
  if (!id || rest.length) throw new UsageError("status needs exactly one <id>");
  const client = await connect();
  if (values.wait) {
    const waited = await waitWithProgress(client, `task ${id.slice(0, 8)}`, id, client.outcome(id));
    if (!waited) throw new Error(`no task with id '${id}'`);
  }
  const record = await client.status(id);
  if (!record) throw new Error(`no task with id '${id}' (unknown, or past its retention)`);
  if (json) printJson(record);
  else print(formatRecord(record));
  return record.state === "failed" || record.state === "cancelled" ? 1 : 0;
}

async function services({ connect, json }: Context, args: string[]): Promise<number> {
  if (args.length) throw new UsageError(`services takes no argument, got '${args[0]}'`);
  const list = await (await connect()).services();
  if (json) printJson(list);
  else print(formatServices(list));
  return 0;
}

async function watch({ connect, json, values }: Context, args: string[]): Promise<number> {
  if (args.length) throw new UsageError(`watch takes no argument, got '${args[0]}'`);
  const client = await connect();
  const only = typeof values.service === "string" ? values.service : undefined;
  client.watch((event) => {
    const service = event.kind === "task"
      ? event.record.service
      : event.kind === "service"
      ? event.service.name
      : undefined;
    if (only && service !== undefined && service !== only) return;
    if (json) console.log(JSON.stringify(event));
    else print(formatEvent(event));
  });
  if (!json) printError("zest: watching task events (Ctrl-C to stop)");
  const stopped = Promise.withResolvers<number>();
  Deno.addSignalListener("SIGINT", () => stopped.resolve(0));
  (client.port as WebSocketPort).closed.then((error) => {
    printError(`zest: ${error.message}`);
    stopped.resolve(1);
  });
  return await stopped.promise;
}

async function cancel({ connect, json }: Context, args: string[]): Promise<number> {
  const [id, ...rest] = args;
  if (!id || rest.length) throw new UsageError("cancel needs exactly one <id>");
  const client = await connect();
  const record = await client.status(id);
  if (!record) throw new Error(`no task with id '${id}' (unknown, or past its retention)`);
  const cancelled = await client.cancel(id);
  if (json) printJson({ taskId: id, cancelled });
  else if (cancelled) print(`cancelled ${id}`);
  else printError(`zest: task ${id} had already ended (${record.state})`);
  return cancelled ? 0 : 1;
}

/** Print the Python task classes of every service (or of `--service`) for clients/python. */
async function codegen({ connect, values }: Context, args: string[]): Promise<number> {
  const [language, ...rest] = args;
  if (language !== "python") {
    throw new UsageError(
      `codegen needs a language: python${language ? `, got '${language}'` : ""}`,
    );
  }
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const only = typeof values.service === "string" ? values.service : undefined;
  const services = (await (await connect()).services()).filter((s) => !only || s.name === only);
  if (only && services.length === 0) throw new Error(`no service named '${only}'`);
  print(generatePython(services).trimEnd());
  return 0;
}

const commands = { submit, status, services, watch, cancel, codegen };

/** The server's URL, from `--url` or `ZEST_URL`; a usage error if it is not one. */
function serverUrl(flag: string | undefined): string {
  const [text, from] = flag !== undefined
    ? [flag, "--url"]
    : [Deno.env.get("ZEST_URL") ?? "ws://127.0.0.1:8787", "ZEST_URL"];
  if (!URL.canParse(text)) {
    throw new UsageError(`${from} must be a URL like ws://127.0.0.1:8787, got '${text}'`);
  }
  const url = new URL(text);
  if (!URL_SCHEMES.includes(url.protocol)) {
    throw new UsageError(`${from} must be a ${URL_SCHEMES.join(" ")} URL, got '${text}'`);
  }
  if (url.username || url.password) {
    throw new UsageError(`${from} must not hold credentials: pass the token with --token-file`);
  }
  if (url.hash) throw new UsageError(`${from} must not have a #fragment, got '${text}'`);
  return url.href;
}

/**
 * Run `zest` with `args`; returns the exit code.
 *
 * @example
 * ```ts
 * import { zest } from "./zest.ts";
 * const code = await zest(["services", "--json"]);
 * ```
 */
export async function zest(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      options: {
        json: { type: "boolean", default: false },
        wait: { type: "boolean", default: false },
        attributes: { type: "string" },
        timeout: { type: "string" },
        service: { type: "string" },
        url: { type: "string" },
        token: { type: "string" },
        "token-file": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    printError(`zest: ${(error as Error).message}\n${HINT}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.help) {
    print(USAGE);
    return 0;
  }
  if (!name || !Object.hasOwn(commands, name)) {
    printError(name ? `zest: unknown command '${name}'\n${HINT}` : USAGE);
    return 2;
  }
  let client: Promise<Client> | undefined;
  const connect = () =>
    client ??= (async () => {
      const token = await clientToken({ token: values.token, tokenFile: values["token-file"] });
      return await Client.connect(serverUrl(values.url), { token });
    })();
  try {
    serverUrl(values.url);
    return await commands[name as keyof typeof commands](
      { connect, json: values.json, values },
      rest,
    );
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (error instanceof UsageError || error instanceof TokenInputError) {
      printError(`zest: ${message}\n${HINT}`);
      return 2;
    }
    // A refused submission says what kind of refusal (TaskValidationError, QueueFullError, …).
    printError(`zest: ${isRefusal(error) ? `${error.name}: ${message}` : message}`);
    return 1;
  } finally {
    await client?.then((connected) => connected.close(), () => {});
  }
}

if (import.meta.main) Deno.exit(await zest(Deno.args));

/**
 * `deno task zest`: talk to a running Zest server from a shell.
 *
 * ```sh
 * deno task zest services
 * deno task zest submit calibration MaintainNode '{"nodeId":"q0_rabi"}' --wait
 * deno task zest status <id>
 * deno task zest tasks --state failed,cancelled --since 2h
 * deno task zest watch
 * deno task zest cancel <id>
 * ```
 *
 * Exit codes: 0 done; 1 the task failed, the server refused (printed as
 * `Name: message`), or could not be reached; 2 usage error (naming the bad
 * argument); 130 interrupted while waiting.
 *
 * Human output shows control characters escaped (`\x1b`, `\u{202e}`): what
 * the server sends (task types, fields, results) comes from its clients, and
 * must not drive the user's terminal. Machine output — `--json`, the DOT of
 * `graph`, the Python of `codegen` — is printed as it is.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Client, type RequestOptions, type TaskRequest } from "../transport/client.ts";
import { CONNECTION_LOST, type WebSocketPort } from "../transport/websocket/port.ts";
import { isRefusal, UnknownTaskError } from "../task/errors.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import { isTerminal, TASK_STATES } from "../task/record.ts";
import type { TaskListQuery } from "../manager/store.ts";
import type { TaskEvent } from "../manager/types.ts";
import {
  formatEvent,
  formatOutcome,
  formatQueue,
  formatRecord,
  formatSchedules,
  formatServices,
  formatStore,
  formatTasks,
  progressText,
  shortId,
} from "./format.ts";
import {
  MAX_DURATION_MS,
  parseDuration,
  parseJsonObject,
  parseList,
  parseStates,
  parseTime,
  parseWholeNumber,
  UsageError,
} from "./arguments.ts";
import { Spinner } from "./spinner.ts";
import { clientToken, TokenInputError } from "./token.ts";
import { generatePython } from "./codegen.ts";

const USAGE = `usage: deno task zest <command> [options]

commands:
  submit <service> <type> [fields]  submit a task (fields: JSON object); prints its id,
                                    or with --wait its outcome
  status <id>                       the task's record: state, timings, log, outcome
  tasks                             the task history, newest first, a page at a time
  cancel <id>                       cancel a waiting, queued or running task
  delete <id>                       remove the record of a task that has ended
  rerun <id>                        submit a task again: same service, type, fields, attributes
  graph <id>                        the dependency graph around a task, as Graphviz DOT
                                    (deno task zest graph <id> | dot -Tsvg > graph.svg)
  services                          services, task types, queue depths, kernel status
  queue <service>                   a serial service's queue in running order (priority,
                                    then arrival), the task holding it first
  release <service>                 free a service's serial lane held by a stuck handler
  store                             where the server keeps its records, their size and count
  schedules                         schedules: service, when, state, last and next run
  schedule pause|resume|run <name>  pause a schedule, resume it, or run it now
  watch                             live events: tasks, progress, output, services,
                                    schedules; until Ctrl-C
  codegen python                    a Python module of the task types, one dataclass each
                                    (deno task zest codegen python > lab_tasks.py)

submit (and rerun, status: --wait):
  --wait                 wait for the outcome (a spinner shows on a terminal)
  --attributes JSON      metadata kept on the task record
  --timeout MS           override the task type's timeout (1 to ${MAX_DURATION_MS} ms)
  --priority N           serial tasks: higher runs first (-1000 to 1000; --priority=-5)
  --key KEY              idempotency key: the same key and fields give the first task's id
  --after ID,ID          run once these tasks have ended
  --on-dependency-failure cancel|run
                         if a task of --after fails: cancel this one (default) or run it
  --expires-in DURATION  still queued this long after submission: it ends expired
                         (30s, 500ms, 2m, 1h30m, or a number of ms)

tasks:
  --service NAME, --type NAME, --key KEY   only these tasks
  --state S,S            only tasks in these states (${TASK_STATES.join(" ")});
                         repeatable: --state S --state S
  --since TIME, --until TIME
                         created since / before: 2026-11-29, 2026-11-29T08:00:00Z,
                         or a time ago such as 2h, 30m, 7d
  --limit N              tasks per page, 1 to 1000 (default 100)
  --cursor CURSOR        the page after the one that printed this cursor
  --all                  every page (with --json: one task per line)

options:
  --service NAME     watch, codegen: only this service's
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

/** What a command needs. It connects only after checking its arguments. */
interface Context {
  connect(): Promise<Client>;
  json: boolean;
  values: Record<string, string | string[] | boolean | undefined>;
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

/** The value of option `--name`, if given; an empty text is a usage error. */
function text(values: Context["values"], name: string): string | undefined {
  const value = values[name];
  if (value === "") throw new UsageError(`--${name} must not be empty`);
  return typeof value === "string" ? value : undefined;
}

/** `args`, which must be exactly one id (or name). */
function oneArgument(command: string, args: string[], what = "<id>"): string {
  if (args.length !== 1 || args[0] === "") {
    throw new UsageError(
      args.length > 1
        ? `${command} takes one ${what}, got also '${args[1]}'`
        : `${command} needs ${what}`,
    );
  }
  return args[0];
}

function noArguments(command: string, args: string[]): void {
  if (args.length) throw new UsageError(`${command} takes no argument, got '${args[0]}'`);
}

function unknownTask(id: string): UnknownTaskError {
  return new UnknownTaskError(`no task with id '${id}' (unknown, or past its retention)`);
}

/** The request options of `submit`'s flags. */
function requestOptions(values: Context["values"]): RequestOptions {
  const options: RequestOptions = {};
  const attributes = text(values, "attributes");
  if (attributes !== undefined) options.attributes = parseJsonObject(attributes, "--attributes");
  const timeout = text(values, "timeout");
  if (timeout !== undefined) {
    options.timeoutMs = parseWholeNumber(timeout, "--timeout", 1, MAX_DURATION_MS, "ms");
  }
  const priority = text(values, "priority");
  if (priority !== undefined) {
    options.priority = parseWholeNumber(priority, "--priority", -1000, 1000);
  }
  options.key = text(values, "key");
  const after = text(values, "after");
  if (after !== undefined) options.after = parseList(after, "--after");
  const onFailure = text(values, "on-dependency-failure");
  if (onFailure !== undefined) {
    if (onFailure !== "cancel" && onFailure !== "run") {
      throw new UsageError(`--on-dependency-failure must be cancel or run, got '${onFailure}'`);
    }
    if (!options.after) throw new UsageError("--on-dependency-failure needs --after");
    options.onDependencyFailure = onFailure;
  }
  const expiresIn = text(values, "expires-in");
  if (expiresIn !== undefined) options.expiresInMs = parseDuration(expiresIn, "--expires-in");
  return Object.fromEntries(
    Object.entries(options).filter(([, value]) => value !== undefined),
  ) as RequestOptions;
}

/** The list query of `tasks`' flags. */
function listQuery(values: Context["values"]): TaskListQuery {
  const now = Date.now();
  const query: TaskListQuery = {};
  query.service = text(values, "service");
  query.type = text(values, "type");
  query.key = text(values, "key");
  // Repeatable: `--state running --state queued` means `--state running,queued`.
  const states = values.state as string[] | undefined;
  if (states !== undefined) query.state = states.flatMap(parseStates);
  const since = text(values, "since");
  if (since !== undefined) query.createdSince = parseTime(since, "--since", now);
  const until = text(values, "until");
  if (until !== undefined) query.createdUntil = parseTime(until, "--until", now);
  if (
    query.createdSince !== undefined && query.createdUntil !== undefined &&
    query.createdSince >= query.createdUntil
  ) {
    throw new UsageError(`--since (${since}) must be before --until (${until})`);
  }
  const limit = text(values, "limit");
  if (limit !== undefined) query.limit = parseWholeNumber(limit, "--limit", 1, 1000);
  query.cursor = text(values, "cursor");
  return Object.fromEntries(
    Object.entries(query).filter(([, value]) => value !== undefined),
  ) as TaskListQuery;
}

/**
 * Wait for `outcome` with a spinner that follows the task's state and
 * progress; Ctrl-C stops waiting (the task runs on) and exits 130.
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
      } else if (event.kind === "progress" && event.id === taskId) {
        spinner.update(escapeControls(progressText(event.progress)));
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

/**
 * Say that the connection dropped while `--wait` waited for task `taskId`.
 * The transport's own outcome advises a TypeScript call
 * (`client.outcome(…)`); in a shell the way back is a command.
 */
async function connectionLost(client: Client, taskId: string): Promise<number> {
  // Settled already: the port drops its waiters, then resolves `closed`, in one go.
  const reason = await (client.port as WebSocketPort).closed;
  printError(
    `zest: ${CONNECTION_LOST}: ${reason.message} before task ${taskId} ended; ` +
      `it may still be running: deno task zest status ${taskId} --wait`,
  );
  return 1;
}

/** An accepted task: its id, or with `--wait` its outcome. */
async function accepted(
  { json, values }: Context,
  client: Client,
  request: TaskRequest,
  label: string,
): Promise<number> {
  if (!values.wait) {
    if (json) printJson({ taskId: request.taskId });
    else print(request.taskId);
    return 0;
  }
  const outcome = await waitWithProgress(
    client,
    `${label} (${shortId(request.taskId)})`,
    request.taskId,
    request.outcome,
  );
  // JSON stays the outcome as the transport gave it: scripts match on its `ename`.
  if (!json && outcome.status === "error" && outcome.ename === CONNECTION_LOST) {
    return await connectionLost(client, request.taskId);
  }
  return showOutcome(outcome, json);
}

async function submit(context: Context, args: string[]): Promise<number> {
  const [service, type, fieldsText, ...rest] = args;
  if (!service || !type) throw new UsageError("submit needs <service> <type> [fields]");
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const fields = fieldsText === undefined ? {} : parseJsonObject(fieldsText, "fields");
  const options = requestOptions(context.values);
  const client = await context.connect();
  const request = await client.request(service, { type, fields }, options);
  return await accepted(context, client, request, `${type} on ${service}`);
}

async function rerun(context: Context, args: string[]): Promise<number> {
  const id = oneArgument("rerun", args);
  const client = await context.connect();
  const request = await client.rerun(id);
  return await accepted(context, client, request, `rerun of ${shortId(id)}`);
}

async function status({ connect, json, values }: Context, args: string[]): Promise<number> {
  const id = oneArgument("status", args);
  const client = await connect();
  if (values.wait) {
    const waited = await waitWithProgress(client, `task ${shortId(id)}`, id, client.outcome(id));
    if (!waited) throw unknownTask(id);
  }
  const record = await client.status(id);
  if (!record) throw unknownTask(id);
  if (json) printJson(record);
  else print(formatRecord(record));
  return isTerminal(record.state) && record.state !== "succeeded" ? 1 : 0;
}

async function tasks({ connect, json, values }: Context, args: string[]): Promise<number> {
  noArguments("tasks", args);
  const query = listQuery(values);
  const client = await connect();
  if (!values.all) {
    const page = await client.tasks(query);
    if (json) printJson(page);
    else {
      print(formatTasks(page.records));
      if (page.next !== undefined) {
        printError(`zest: more tasks: add --cursor ${page.next} (or --all for every page)`);
      }
    }
    return 0;
  }
  const records = [];
  let cursor = query.cursor;
  do {
    const page = await client.tasks({ ...query, cursor });
    // Streamed as JSON lines: the history may be longer than is worth holding.
    if (json) { for (const record of page.records) console.log(JSON.stringify(record)); }
    else records.push(...page.records);
    if (page.next !== undefined && page.next === cursor) {
      throw new Error(`the server gave the same page twice (cursor ${cursor})`);
    }
    cursor = page.next;
  } while (cursor !== undefined);
  if (!json) print(formatTasks(records));
  return 0;
}

async function cancel({ connect, json }: Context, args: string[]): Promise<number> {
  const id = oneArgument("cancel", args);
  const client = await connect();
  const record = await client.status(id);
  if (!record) throw unknownTask(id);
  const cancelled = await client.cancel(id);
  if (json) printJson({ taskId: id, cancelled });
  else if (cancelled) print(`cancelled ${id}`);
  else printError(`zest: task ${id} had already ended (${record.state})`);
  return cancelled ? 0 : 1;
}

async function remove({ connect, json }: Context, args: string[]): Promise<number> {
  const id = oneArgument("delete", args);
  await (await connect()).delete(id);
  if (json) printJson({ taskId: id, deleted: true });
  else print(`deleted ${id}`);
  return 0;
}

/** The DOT is for Graphviz: printed as it is (the server quotes every label). */
async function graph({ connect, json }: Context, args: string[]): Promise<number> {
  const id = oneArgument("graph", args);
  const dot = await (await connect()).graph(id);
  if (dot === undefined) throw unknownTask(id);
  if (json) printJson({ dot });
  else console.log(dot.trimEnd());
  return 0;
}

async function services({ connect, json }: Context, args: string[]): Promise<number> {
  noArguments("services", args);
  const list = await (await connect()).services();
  if (json) printJson(list);
  else print(formatServices(list));
  return 0;
}

/** Free a lane held by a handler that ignored its end (a `stuck` service). */
async function queue({ connect, json }: Context, args: string[]): Promise<number> {
  const service = oneArgument("queue", args, "<service>");
  const records = await (await connect()).queue(service, 1_000);
  if (json) printJson(records);
  else print(formatQueue(records));
  return 0;
}

async function release({ connect, json }: Context, args: string[]): Promise<number> {
  const service = oneArgument("release", args, "<service>");
  const released = await (await connect()).release(service);
  if (json) printJson({ service, released });
  else if (released) print(`released ${service}: its next serial task runs`);
  else printError(`zest: service ${service} is not stuck: nothing to release`);
  return released ? 0 : 1;
}

async function store({ connect, json }: Context, args: string[]): Promise<number> {
  noArguments("store", args);
  const stats = await (await connect()).store();
  if (json) printJson(stats);
  else print(formatStore(stats));
  return 0;
}

async function schedules({ connect, json }: Context, args: string[]): Promise<number> {
  noArguments("schedules", args);
  const list = await (await connect()).schedules();
  if (json) printJson(list);
  else print(formatSchedules(list));
  return 0;
}

const SCHEDULE_ACTIONS = ["pause", "resume", "run"] as const;

async function schedule({ connect, json }: Context, args: string[]): Promise<number> {
  const [action, ...rest] = args;
  if (!SCHEDULE_ACTIONS.includes(action as typeof SCHEDULE_ACTIONS[number])) {
    throw new UsageError(
      `schedule needs an action: pause, resume or run${action ? `, got '${action}'` : ""}`,
    );
  }
  const name = oneArgument(`schedule ${action}`, rest, "<name>");
  const client = await connect();
  const changed = action === "pause"
    ? await client.pauseSchedule(name)
    : action === "resume"
    ? await client.resumeSchedule(name)
    : await client.runSchedule(name);
  if (json) printJson(changed);
  else print(formatSchedules([changed]));
  return 0;
}

/** Most tasks whose service `watch --service` remembers (the oldest are forgotten first). */
const WATCH_REMEMBERED_TASKS = 10_000;

/**
 * Which events `watch --service` shows: a task's progress, output, log and
 * removal name only its id, so the service of each task seen is remembered.
 * Those of a task not seen (it began before the watch) are shown.
 */
function serviceFilter(only: string | undefined): (event: TaskEvent) => boolean {
  if (only === undefined) return () => true;
  const serviceOf = new Map<string, string>();
  return (event) => {
    switch (event.kind) {
      case "task": {
        const { id, service } = event.record;
        if (!serviceOf.has(id)) {
          serviceOf.set(id, service);
          if (serviceOf.size > WATCH_REMEMBERED_TASKS) {
            serviceOf.delete(serviceOf.keys().next().value as string);
          }
        }
        return service === only;
      }
      case "service":
        return event.service.name === only;
      case "schedule":
        return event.schedule.service === only;
      default: {
        const service = serviceOf.get(event.id);
        if (event.kind === "removed") serviceOf.delete(event.id);
        return service === undefined || service === only;
      }
    }
  };
}

/** Refuse a service the server does not have: a watch of it would wait forever, silent. */
async function checkServiceExists(client: Client, name: string | undefined): Promise<void> {
  if (name === undefined) return;
  const services = await client.services();
  if (!services.some((service) => service.name === name)) {
    throw new Error(`no service named '${name}'`);
  }
}

async function watch({ connect, json, values }: Context, args: string[]): Promise<number> {
  noArguments("watch", args);
  const only = text(values, "service");
  const keeps = serviceFilter(only);
  const client = await connect();
  await checkServiceExists(client, only);
  client.watch((event) => {
    if (!keeps(event)) return;
    if (json) console.log(JSON.stringify(event));
    else print(formatEvent(event));
  });
  if (!json) printError("zest: watching events (Ctrl-C to stop)");
  const stopped = Promise.withResolvers<number>();
  let interrupted = false;
  Deno.addSignalListener("SIGINT", () => {
    interrupted = true;
    stopped.resolve(0);
  });
  // The connection closes when Ctrl-C ends the watch too: only a server that went away is news.
  (client.port as WebSocketPort).closed.then((error) => {
    if (interrupted) return;
    printError(`zest: ${error.message}`);
    stopped.resolve(1);
  });
  return await stopped.promise;
}

/**
 * Print the Python task classes of every service (or of `--service`) for
 * clients/python: machine output, printed as it is (the generator escapes
 * what Python must not see raw).
 */
async function codegen({ connect, values }: Context, args: string[]): Promise<number> {
  const [language, ...rest] = args;
  if (language !== "python") {
    throw new UsageError(
      `codegen needs a language: python${language ? `, got '${language}'` : ""}`,
    );
  }
  if (rest.length) throw new UsageError(`unexpected argument '${rest[0]}'`);
  const only = text(values, "service");
  const services = (await (await connect()).services()).filter((s) => !only || s.name === only);
  if (only && services.length === 0) throw new Error(`no service named '${only}'`);
  console.log(generatePython(services).trimEnd());
  return 0;
}

const commands = {
  submit,
  status,
  tasks,
  cancel,
  delete: remove,
  rerun,
  graph,
  services,
  queue,
  release,
  store,
  schedules,
  schedule,
  watch,
  codegen,
};

/** Options every command takes. */
const COMMON_OPTIONS = ["json", "url", "token", "token-file", "help"];

/** The options of each command, beside the common ones; a command not listed takes only those. */
const COMMAND_OPTIONS: Record<string, readonly string[]> = {
  submit: [
    "wait",
    "attributes",
    "timeout",
    "priority",
    "key",
    "after",
    "on-dependency-failure",
    "expires-in",
  ],
  status: ["wait"],
  rerun: ["wait"],
  tasks: ["service", "type", "key", "state", "since", "until", "limit", "cursor", "all"],
  watch: ["service"],
  codegen: ["service"],
};

/** Options that may be given more than once; their values add up, as a comma-separated list's do. */
const REPEATABLE_OPTIONS = ["state"];

/**
 * A usage error for any other option given a value twice: the parser would
 * keep the last one and drop the first without a word.
 */
function checkRepeats(tokens: readonly { kind: string; name?: string; value?: string }[]): void {
  const seen = new Set<string>();
  for (const { kind, name, value } of tokens) {
    if (kind !== "option" || value === undefined || REPEATABLE_OPTIONS.includes(name!)) continue;
    if (seen.has(name!)) throw new UsageError(`--${name} is given twice: give it once`);
    seen.add(name!);
  }
}

/** A usage error for an option given to a command that does not take it. */
function checkOptions(command: string, values: Context["values"]): void {
  const allowed = [...COMMON_OPTIONS, ...COMMAND_OPTIONS[command] ?? []];
  const stray = Object.keys(values).find((name) =>
    values[name] !== undefined && !allowed.includes(name)
  );
  if (stray) throw new UsageError(`${command} does not take --${stray}`);
}

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
      tokens: true,
      options: {
        json: { type: "boolean" },
        wait: { type: "boolean" },
        all: { type: "boolean" },
        attributes: { type: "string" },
        timeout: { type: "string" },
        priority: { type: "string" },
        key: { type: "string" },
        after: { type: "string" },
        "on-dependency-failure": { type: "string" },
        "expires-in": { type: "string" },
        service: { type: "string" },
        type: { type: "string" },
        state: { type: "string", multiple: true },
        since: { type: "string" },
        until: { type: "string" },
        limit: { type: "string" },
        cursor: { type: "string" },
        url: { type: "string" },
        token: { type: "string" },
        "token-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    printError(`zest: ${(error as Error).message}\n${HINT}`);
    return 2;
  }
  const { values, positionals, tokens } = parsed;
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
    checkOptions(name, values);
    checkRepeats(tokens);
    serverUrl(values.url);
    return await commands[name as keyof typeof commands](
      { connect, json: values.json === true, values },
      rest,
    );
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (error instanceof UsageError || error instanceof TokenInputError) {
      printError(`zest: ${message}\n${HINT}`);
      return 2;
    }
    // A refusal says what kind it is (UnknownTaskError, TaskConflictError, QueueFullError, …).
    const named = isRefusal(error) ||
      (error instanceof Error && error.name !== "Error" && error.name !== "TypeError");
    printError(`zest: ${named ? `${(error as Error).name}: ${message}` : message}`);
    return 1;
  } finally {
    await client?.then((connected) => connected.close(), () => {});
  }
}

if (import.meta.main) Deno.exit(await zest(Deno.args));

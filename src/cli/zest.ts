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
 * @module
 */
import { parseArgs } from "node:util";
import { Client } from "../api/client.ts";
import type { RemotePort } from "../api/remote.ts";
import type { TaskOutcome } from "../task/outcome.ts";
import { formatEvent, formatOutcome, formatRecord, formatServices } from "./format.ts";
import { Spinner } from "./spinner.ts";
import { clientToken } from "./token.ts";

const USAGE = `usage: deno task zest <command> [options]

commands:
  submit <service> <type> [fields]  submit a task (fields: JSON object); prints its id,
                                    or with --wait its outcome
  status <id>                       the task's record: state, timings, log, outcome
  services                          services, task types, queue depths, kernel status
  watch                             live task events, until Ctrl-C
  cancel <id>                       cancel a queued or running task

options:
  --wait             submit, status: wait for the outcome (a spinner shows on a terminal)
  --attributes JSON  submit: metadata kept on the task record
  --timeout MS       submit: override the task type's timeout
  --service NAME     watch: only this service's tasks
  --json             output JSON (watch: one event per line)
  --url URL          server (default: $ZEST_URL, else ws://127.0.0.1:8787)
  --token TOKEN      token (default: $ZEST_TOKEN, else .zest/token)
  -h, --help         this text`;

const HINT = "(deno task zest --help for usage)";

/** A mistake in the command line: exit code 2 and the usage. */
class UsageError extends Error {}

/** What a command needs. It connects only after checking its arguments. */
interface Context {
  connect(): Promise<Client>;
  json: boolean;
  values: Record<string, string | boolean | undefined>;
}

function print(text: string): void {
  console.log(text);
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
  const spinner = new Spinner(label);
  const unwatch = spinner.enabled
    ? client.watch((event) => {
      if (event.kind === "task" && event.record.id === taskId) spinner.update(event.record.state);
    })
    : () => {};
  const interrupted = () => {
    spinner.stop();
    console.error(`zest: stopped waiting; task ${taskId} runs on: deno task zest status ${taskId}`);
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
  else console.error(formatOutcome(outcome));
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
    if (!(timeoutMs > 0)) throw new UsageError(`--timeout must be a positive number of ms`);
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
    print(json ? JSON.stringify(event) : formatEvent(event));
  });
  if (!json) console.error("zest: watching task events (Ctrl-C to stop)");
  const stopped = Promise.withResolvers<number>();
  Deno.addSignalListener("SIGINT", () => stopped.resolve(0));
  (client.port as RemotePort).closed.then((error) => {
    console.error(`zest: ${error.message}`);
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
  else console.error(`zest: task ${id} had already ended (${record.state})`);
  return cancelled ? 0 : 1;
}

const commands = { submit, status, services, watch, cancel };

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
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    console.error(`zest: ${(error as Error).message}\n${HINT}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [name, ...rest] = positionals;
  if (values.help) {
    print(USAGE);
    return 0;
  }
  if (!name || !Object.hasOwn(commands, name)) {
    console.error(name ? `zest: unknown command '${name}'\n${HINT}` : USAGE);
    return 2;
  }
  let client: Promise<Client> | undefined;
  const connect = async () => {
    const url = values.url ?? Deno.env.get("ZEST_URL") ?? "ws://127.0.0.1:8787";
    return await (client ??= Client.connect(url, { token: await clientToken(values.token) }));
  };
  try {
    return await commands[name as keyof typeof commands](
      { connect, json: values.json, values },
      rest,
    );
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (error instanceof UsageError) {
      console.error(`zest: ${message}\n${HINT}`);
      return 2;
    }
    console.error(`zest: ${message}`);
    return 1;
  } finally {
    await client?.then((connected) => connected.close(), () => {});
  }
}

if (import.meta.main) Deno.exit(await zest(Deno.args));

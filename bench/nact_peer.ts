/**
 * The peer of Zest's task path, built on nact (npm): a manager actor that
 * gives each request an id and forwards it to a service actor, which runs the
 * handler and reports back to the manager, which replies to the client's
 * `query`. Serial requests wait in the manager's FIFO until the previous
 * serial request has finished, as in Zest.
 *
 * It does what Zest's manager does on the hot path (id, routing, serial
 * queue, reply) and none of the rest (records, validation, retries, timeouts
 * beyond nact's own query timeout, events).
 *
 * @module
 */
import nact from "nact";

type Handler = (fields: unknown) => unknown;

type ManagerMessage =
  | { kind: "submit"; serial: boolean; fields: unknown; reply: nact.Ref<unknown> }
  | { kind: "finished"; serial: boolean; result: unknown; reply: nact.Ref<unknown> };

interface ServiceMessage {
  kind: "run";
  id: string;
  serial: boolean;
  fields: unknown;
  reply: nact.Ref<unknown>;
  manager: nact.Ref<ManagerMessage>;
}

/** A running manager → service pipeline on nact. */
export interface NactPipeline {
  /** Request/reply through manager and service; resolves with the handler's result. */
  execute(fields: unknown, serial: boolean): Promise<unknown>;
  /** Serial requests waiting in the manager's queue. */
  readonly queued: number;
  /** Stop the nact system. */
  stop(): void;
}

/**
 * Start a nact system with a manager and a service actor running `handler`.
 *
 * @example
 * ```ts
 * import { startNactPipeline } from "./nact_peer.ts";
 * const pipeline = startNactPipeline(() => 42);
 * await pipeline.execute({}, false); // 42
 * pipeline.stop();
 * ```
 */
export function startNactPipeline(handler: Handler, timeoutMs = 60_000): NactPipeline {
  const system = nact.start();
  const queue: ServiceMessage[] = [];
  let head = 0;
  let serialBusy = false;

  const service = nact.spawn(
    system,
    async (state: undefined, message: ServiceMessage) => {
      let result = handler(message.fields);
      if (result instanceof Promise) result = await result;
      nact.dispatch(message.manager, {
        kind: "finished",
        serial: message.serial,
        result,
        reply: message.reply,
      });
      return state;
    },
    "service",
  );

  const manager: nact.Ref<ManagerMessage> = nact.spawn(
    system,
    (state: undefined, message: ManagerMessage) => {
      if (message.kind === "submit") {
        const run: ServiceMessage = {
          kind: "run",
          id: crypto.randomUUID(),
          serial: message.serial,
          fields: message.fields,
          reply: message.reply,
          manager,
        };
        if (!message.serial) nact.dispatch(service, run);
        else if (serialBusy) queue.push(run);
        else {
          serialBusy = true;
          nact.dispatch(service, run);
        }
        return state;
      }
      nact.dispatch(message.reply, message.result);
      if (message.serial) {
        if (head < queue.length) {
          const next = queue[head];
          queue[head++] = undefined as unknown as ServiceMessage;
          if (head === queue.length) queue.length = head = 0;
          nact.dispatch(service, next);
        } else serialBusy = false;
      }
      return state;
    },
    "manager",
  );

  return {
    execute: (fields, serial) =>
      nact.query(
        manager,
        (reply: nact.Ref<unknown>): ManagerMessage => ({ kind: "submit", serial, fields, reply }),
        timeoutMs,
      ),
    get queued() {
      return queue.length - head;
    },
    stop: () => nact.stop(system),
  };
}

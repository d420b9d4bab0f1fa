/**
 * The cluster's JetStream layout: the stream of waiting
 * tasks, one durable pull consumer per service and kind shared by the
 * service's replicas, and the registry bucket. Every process that hosts a
 * service makes sure they exist (the first creates them; the others find
 * them, and say so once if their settings differ).
 *
 * @module
 */
import {
  AckPolicy,
  type ConsumerConfig,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Settings } from "./options.ts";
import { type Kind, subjectsOf, TASK_STREAM, TASK_SUBJECTS } from "./subjects.ts";

/** Whether `error` says the thing to create exists already. */
function alreadyExists(error: unknown): boolean {
  return /already (in use|exists)/i.test((error as Error)?.message ?? "");
}

/**
 * Make sure the stream exists: work-queue retention (a task leaves it when
 * acknowledged), file storage, and the per-service limit that refuses the
 * publish past it (`discard_new_per_subject`: without it the oldest queued
 * task of the subject would be dropped silently).
 *
 * @example
 * ```ts
 * import { jetstreamManager } from "@nats-io/jetstream";
 * import { ensureStream } from "./layout.ts";
 * import { checkSettings } from "./options.ts";
 * import type { NatsConnection } from "@nats-io/transport-node";
 * async function prepare(nc: NatsConnection) {
 *   await ensureStream(await jetstreamManager(nc), checkSettings({ maxQueuedPerService: 1_000 }));
 * }
 * ```
 */
export async function ensureStream(jsm: JetStreamManager, settings: Settings): Promise<void> {
  const config = {
    name: TASK_STREAM,
    subjects: [TASK_SUBJECTS],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.New,
    max_msgs_per_subject: settings.maxQueuedPerService,
    discard_new_per_subject: true,
    duplicate_window: nanos(120_000),
    // Direct gets read a serial queue in order (`queue()`), from any replica of the server.
    allow_direct: true,
  };
  try {
    const info = await jsm.streams.info(TASK_STREAM);
    if (info.config.max_msgs_per_subject !== settings.maxQueuedPerService) {
      console.error(
        `[zest] the cluster's stream ${TASK_STREAM} queues at most ` +
          `${info.config.max_msgs_per_subject} tasks per service and kind ` +
          `(set by the process that created it), not ${settings.maxQueuedPerService}`,
      );
    }
    return;
  } catch (error) {
    if (!/stream not found/i.test((error as Error).message)) throw error;
  }
  try {
    await jsm.streams.add(config);
  } catch (error) {
    if (!alreadyExists(error)) throw error;
  }
}

/**
 * The config of service `service`'s consumer of kind `kind`.
 *
 * @example
 * ```ts
 * import { consumerConfig } from "./layout.ts";
 * import { checkSettings } from "./options.ts";
 * consumerConfig("lab", "serial", checkSettings()).max_ack_pending; // 1
 * ```
 */
export function consumerConfig(
  service: string,
  kind: Kind,
  settings: Settings,
): Partial<ConsumerConfig> {
  const subjects = subjectsOf(service);
  return {
    durable_name: subjects.consumer(kind),
    filter_subject: subjects.tasks(kind),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(settings.ackWaitMs),
    max_deliver: settings.maxDeliver,
    // One serial task in flight in the whole cluster: the serial lane across replicas.
    max_ack_pending: kind === "serial" ? 1 : settings.maxParallelPerService,
  };
}

/**
 * Make sure the consumer of `service` and `kind` exists with these
 * settings; one created by a process with other settings is updated to these
 * (the latest process to start sets them).
 *
 * @example
 * ```ts
 * import { jetstreamManager } from "@nats-io/jetstream";
 * import { ensureConsumer } from "./layout.ts";
 * import { checkSettings } from "./options.ts";
 * import type { NatsConnection } from "@nats-io/transport-node";
 * async function prepare(nc: NatsConnection) {
 *   await ensureConsumer(await jetstreamManager(nc), "lab", "parallel", checkSettings());
 * }
 * ```
 */
export async function ensureConsumer(
  jsm: JetStreamManager,
  service: string,
  kind: Kind,
  settings: Settings,
): Promise<void> {
  const config = consumerConfig(service, kind, settings);
  try {
    await jsm.consumers.add(TASK_STREAM, config);
  } catch (error) {
    if (!alreadyExists(error)) throw error;
    await jsm.consumers.update(TASK_STREAM, config.durable_name as string, {
      ack_wait: config.ack_wait,
      max_deliver: config.max_deliver,
      max_ack_pending: config.max_ack_pending,
    });
  }
}

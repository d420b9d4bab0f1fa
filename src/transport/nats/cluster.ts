/**
 * A runtime's membership of a cluster: its connection, the cluster's store
 * (which its manager uses), the host of its services, and the clients it
 * gives out (`runtime.client()`, a handler's `context.client`, a gateway's
 * `serve()`), which all see the whole cluster. `Runtime.start({ cluster })`
 * uses it; the order of its steps at stop is the runtime's.
 *
 * @module
 */
import type { TaskManager } from "../../manager/manager.ts";
import { JetStreamTaskStore } from "../../store/jetstream_kv.ts";
import { Client } from "../client.ts";
import { ConnectionState, connectNats } from "./connection.ts";
import { type HostedService, NatsHost } from "./host.ts";
import { checkClusterOptions, type ClusterOptions } from "./options.ts";
import { NatsPort } from "./port.ts";
import { withParent } from "../port.ts";
import type { NatsConnection } from "@nats-io/transport-node";

/**
 * What joins a runtime to a cluster (see `options.ts`).
 *
 * @example
 * ```ts
 * import type { ClusterOptions } from "./cluster.ts";
 * const cluster: ClusterOptions = { nats: { servers: "nats://127.0.0.1:4222" } };
 * ```
 */
export type { ClusterOptions } from "./options.ts";

/**
 * One process's part in a cluster.
 *
 * @example
 * ```ts ignore
 * import { ClusterMember } from "./cluster.ts";
 * const member = await ClusterMember.join({ nats: { servers: "nats://127.0.0.1:4222" } }, 3_600_000);
 * // new TaskManager(system, endpoints, { store: member.store }) … await manager.start();
 * await member.host(manager, services);
 * const client = member.client();
 * ```
 */
export class ClusterMember {
  readonly nc: NatsConnection;
  readonly state: ConnectionState;
  /** The cluster's records: this process's manager keeps its records here. */
  readonly store: JetStreamTaskStore;
  readonly options: ClusterOptions;
  readonly retentionMs: number;
  readonly #port: NatsPort;
  #host: NatsHost | undefined;

  private constructor(
    options: ClusterOptions,
    nc: NatsConnection,
    store: JetStreamTaskStore,
    retentionMs: number,
  ) {
    this.options = options;
    this.nc = nc;
    this.state = new ConnectionState(nc);
    this.store = store;
    this.retentionMs = retentionMs;
    this.#port = new NatsPort({ nc, state: this.state, store, ownsConnection: false });
  }

  /**
   * Connect and open the cluster's record bucket (created with a TTL of
   * `retentionMs` if this is the first process).
   */
  static async join(options: ClusterOptions, retentionMs: number): Promise<ClusterMember> {
    checkClusterOptions(options);
    const nc = await connectNats(options.nats, `zest runtime (pid ${Deno.pid})`);
    try {
      // The stream says whether a task may have started (see host.ts): `running` is not waited for.
      const store = await JetStreamTaskStore.connect(nc, {
        ttlMs: retentionMs,
        waitForUnfinished: false,
      });
      return new ClusterMember(options, nc, store, retentionMs);
    } catch (error) {
      await nc.close();
      throw error;
    }
  }

  /** Start hosting `services` (their manager has started). */
  async host(manager: TaskManager, services: readonly HostedService[]): Promise<void> {
    const host = new NatsHost({
      nc: this.nc,
      state: this.state,
      manager,
      store: this.store,
      services,
      settings: this.options.settings,
      retentionMs: await this.store.ttlMs(),
    });
    await host.start();
    this.#host = host;
  }

  /** A client of the whole cluster; with `parent`, its submissions name that task (`context.client`). */
  client(parent?: string): Client {
    return new Client(parent === undefined ? this.#port : withParent(this.#port, parent));
  }

  /** Stop taking submissions and tasks (the first step of a stop). */
  async stopTaking(): Promise<void> {
    await this.#host?.stopTaking();
  }

  /** Give back what the manager did not finish and leave the registry (after the manager closed). */
  async leave(): Promise<void> {
    await this.#host?.leave();
  }

  /** Close the clients and the connection (the last step, after the store closed). */
  async close(): Promise<void> {
    await this.#port.close();
    if (!this.nc.isClosed()) await this.nc.drain().catch(() => this.nc.close());
  }
}

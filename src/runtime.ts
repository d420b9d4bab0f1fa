/**
 * `Runtime`: the composition root that starts the services, the store and
 * the manager, and gives out in-process clients.
 *
 * @module
 */
import { ActorSystem, type CrashLogger } from "./actor/mod.ts";
import { TaskManager } from "./manager/manager.ts";
import type { ManagerOptions } from "./manager/options.ts";
import { MemoryTaskStore } from "./manager/memory_store.ts";
import type { ScheduleConfig } from "./manager/schedules.ts";
import type { RetentionLimits, RetentionOptions, TaskStore } from "./manager/store.ts";
import type { ServiceEndpoint } from "./manager/types.ts";
import type { Service, ServiceEnvironment } from "./service/service.ts";
import { type SqliteStoreFile, SqliteTaskStore } from "./store/mod.ts";
import { WorkerPool, type WorkerPoolOptions } from "./service/pool/mod.ts";
import type { TaskRun } from "./task/protocol.ts";
import { Client } from "./transport/client.ts";
import { LocalPort } from "./transport/local.ts";
import { withParent } from "./transport/port.ts";
import type { ClusterMember, ClusterOptions } from "./transport/nats/cluster.ts";
import {
  type JupyterConnectOptions,
  type JupyterLaunchOptions,
  JupyterServer,
} from "./kernel/server.ts";

/** The repo root: `kernels/<name>/kernel.json` under it are found by name. */
const REPO_ROOT = new URL("..", import.meta.url);

/**
 * What `Runtime.start` needs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { z } from "zod";
 * import { defineTask, Runtime, type RuntimeOptions, Service } from "./mod.ts";
 * const Scan = defineTask("Scan", { schema: z.object({}), parallel: true });
 * const dir = await Deno.makeTempDir();
 * const options: RuntimeOptions = {
 *   services: [new Service("lab").registerHandler(Scan, () => "done")],
 *   store: { path: `${dir}/zest.db` }, // an SQLite file: the history outlives a stop
 *   retention: { ttlMs: 86_400_000 },
 *   manager: { maxQueuedPerService: 1_000 },
 * };
 * let runtime = await Runtime.start(options);
 * const { taskId, outcome } = await runtime.client().request("lab", Scan.create({}));
 * await outcome;
 * await runtime.stop();
 * runtime = await Runtime.start(options);
 * assert.equal((await runtime.client().status(taskId))?.state, "succeeded");
 * await runtime.stop();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export interface RuntimeOptions {
  /** The services to host; names must be unique. */
  services: Service[];
  /**
   * Where task records live: `"memory"` (the default in-process: nothing
   * outlives the process, and stopping ends queued tasks
   * `ServiceStoppedError`); `{ path, synchronous? }`, an SQLite file (made
   * if missing; queued tasks and history survive a stop, a crash or a
   * `kill -9`; `synchronous: "full"` also a power cut — see the README); or
   * a `TaskStore` of your own. A task type's `retention` overrides
   * `retention` for its records. A file that cannot be used fails the start
   * with a `StoreOpenError` naming it and the cause.
   */
  store?: "memory" | SqliteStoreFile | TaskStore;
  /** How long finished records are kept (default one hour) and how many (default 10 000). */
  retention?: RetentionLimits;
  /** The task manager's bounds: its mailbox, queue per service, grace after an abort. */
  manager?: Omit<ManagerOptions, "store" | "retentionTtlMs" | "schedules">;
  /**
   * Tasks submitted on a clock: `{ name, service, task, every: "30m" }` or
   * `{ name, service, task, cron: "0 3 * * *", timezone? }`. A schedule that
   * does not parse, or whose task would be refused, fails the start naming it.
   */
  schedules?: readonly ScheduleConfig[];
  /** Receives every actor crash (default: `console.error`). */
  logCrash?: CrashLogger;
  /**
   * The Jupyter Server for IPython services: launch options (default: launch
   * `jupyter-server` on 127.0.0.1, a free port, a random token, with the repo
   * root on `JUPYTER_PATH`), or `{ url, token }` of an existing server or
   * Enterprise Gateway. Nothing is launched unless a service asks for it.
   */
  jupyter?: JupyterLaunchOptions | JupyterConnectOptions;
  /**
   * The worker pool of handlers registered with `{ worker: true }`: `size`
   * (1 to 256, default one fewer than the cores, at least 1), `graceMs`
   * (how long a handler told to stop may take before its process is killed,
   * 0 to 600 000, default 2 000), `maxHeapMb` (16 to 65 536, default 1 024).
   * No process starts until a worker task runs.
   */
  workers?: WorkerPoolOptions;
  /**
   * Join a cluster on NATS JetStream: this runtime hosts `services` for the
   * whole cluster (replicas of a service share its work), keeps its records
   * in the cluster's KV bucket (so no `store`), and its clients see every
   * service of the cluster. Schedules and dependencies are embedded-only in
   * this version. See the README's "Cluster".
   */
  cluster?: ClusterOptions;
}

/**
 * A running Zest: services, each an actor, and the task manager in front.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Runtime, RuntimeStoppingError, Service } from "./mod.ts";
 * const runtime = await Runtime.start({ services: [new Service("idle")] });
 * const client = runtime.client();
 * assert.deepEqual((await client.services()).map((service) => service.name), ["idle"]);
 * assert.equal(runtime.jupyterServer, undefined); // no IPython service: no Jupyter Server
 * await runtime.stop();
 * await runtime.stop(); // again: nothing more to do
 * await assert.rejects(client.execute("idle", { type: "Anything" }), RuntimeStoppingError);
 * await assert.rejects(
 *   Runtime.start({ services: [new Service("twin"), new Service("twin")] }),
 *   /two services are named 'twin'/,
 * );
 * ```
 */
export class Runtime {
  /** Where the services' and the manager's actors run: the runtime's own business. */
  readonly #system: ActorSystem;
  /**
   * The task manager. Not part of the public API (use {@linkcode Runtime.client});
   * kept readable for the CLI, which reports on its store, and for the
   * benchmarks, which poll its state without a client's round trip.
   *
   * @internal
   */
  readonly manager: TaskManager;
  /** The services this runtime hosts, in the order they were given. */
  readonly services: readonly Service[];
  /** Where worker handlers run (see `registerHandler(…, { worker: true })`). */
  readonly workerPool: WorkerPool;
  readonly #jupyter: JupyterHolder;
  readonly #cluster: ClusterMember | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(
    system: ActorSystem,
    manager: TaskManager,
    services: Service[],
    jupyter: JupyterHolder,
    workerPool: WorkerPool,
    cluster: ClusterMember | undefined,
  ) {
    this.#system = system;
    this.manager = manager;
    this.services = services;
    this.#jupyter = jupyter;
    this.workerPool = workerPool;
    this.#cluster = cluster;
  }

  /** Start every service (in parallel), then the manager. A service that fails to start stops the rest. */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const services = options.services;
    const names = new Set<string>();
    for (const service of services) {
      if (names.has(service.name)) throw new Error(`two services are named '${service.name}'`);
      names.add(service.name);
    }
    if (options.cluster && (options.store !== undefined || (options.schedules?.length ?? 0) > 0)) {
      throw new TypeError(
        "cluster: records live in the cluster's KV bucket (no 'store'), and schedules are embedded-only",
      );
    }
    // First: an unreachable cluster fails the start before any kernel starts.
    // Loaded only then: an embedded runtime never loads the NATS client.
    const cluster = options.cluster &&
      await (await import("./transport/nats/cluster.ts")).ClusterMember.join(
        options.cluster,
        options.retention?.ttlMs ?? 3_600_000,
      );
    const store = cluster?.store ??
      storeOf(options.store, retentionOf(services, options.retention));
    const workerPool = new WorkerPool(options.workers);
    const system = new ActorSystem({ logCrash: options.logCrash });
    const jupyter = new JupyterHolder(options.jupyter);
    // Services may report changes while starting, before the manager exists.
    const late: { manager?: TaskManager } = {};
    const envOf = (service: Service): ServiceEnvironment => ({
      jupyter: () => jupyter.get(),
      changed: () => late.manager?.serviceChanged(service.name),
      workers: workerPool,
      client: (parent) => {
        if (!late.manager) throw new Error("the runtime has not started: no client yet");
        if (cluster) return cluster.client(parent);
        return new Client(withParent(new LocalPort(late.manager), parent));
      },
    });
    const results = await Promise.allSettled(
      services.map((service) => service.startIn(envOf(service))),
    );
    const failed = results.findIndex((result) => result.status === "rejected");
    if (failed >= 0) {
      const started = services.filter((_, i) => results[i].status === "fulfilled");
      await Promise.allSettled(started.map((service) => service.stop()));
      await workerPool.close();
      await jupyter.stop();
      await system.shutdown();
      await cluster?.close();
      throw (results[failed] as PromiseRejectedResult).reason;
    }
    const endpoints: ServiceEndpoint[] = services.map((service) => ({
      name: service.name,
      ref: system.spawn<TaskRun>(
        `service:${service.name}`,
        () => ({ receive: (run) => service.handle(run) }),
        service.spawnOptions(),
      ),
      resolve: (typeName) => service.resolve(typeName),
      describe: () => service.describe(),
      taskTimeoutMs: service.taskTimeoutMs,
    }));
    let manager: TaskManager;
    try {
      manager = late.manager = new TaskManager(system, endpoints, {
        ...options.manager,
        store,
        retentionTtlMs: options.retention?.ttlMs,
        schedules: options.schedules,
      });
      await manager.start();
      await cluster?.host(manager, services);
    } catch (error) {
      // A bad schedule, or a store that cannot be used, is a refusal at start: nothing keeps running.
      await late.manager?.close().catch(() => {});
      await Promise.allSettled(services.map((service) => service.stop()));
      await workerPool.close();
      await jupyter.stop();
      await system.shutdown();
      await store.close().catch(() => {});
      await cluster?.close();
      throw error;
    }
    return new Runtime(system, manager, services, jupyter, workerPool, cluster);
  }

  /** The Jupyter Server the IPython services use, once one was launched or connected. */
  get jupyterServer(): JupyterServer | undefined {
    return this.#jupyter.server;
  }

  /** A client for this runtime, in-process; in a cluster, a client of the whole cluster. */
  client(): Client {
    return this.#cluster?.client() ?? new Client(new LocalPort(this.manager));
  }

  /**
   * Stop: refuse new tasks; queued ones stay in a durable store for the next
   * start, or end `ServiceStoppedError` in memory; running handlers see
   * their signal abort and get a grace period (see `TaskManager.close`).
   * Then each service stops (kernels shut down), the worker pool (its
   * processes killed), the Jupyter Server the runtime launched, the actors,
   * and the store. Safe to call more than once.
   */
  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    // In a cluster: no more tasks for this process; what it did not finish goes back to the stream.
    await this.#cluster?.stopTaking();
    await this.manager.close().catch((error) => {
      console.error("[zest] the task manager did not close cleanly:", error);
    });
    await this.#cluster?.leave();
    await Promise.allSettled(
      this.services.map(async (service) => {
        await this.#system.stop(`service:${service.name}`);
        await service.stop();
      }),
    );
    await this.workerPool.close();
    await this.#jupyter.stop();
    await this.#system.shutdown();
    await this.manager.store.close();
    await this.#cluster?.close();
  }
}

/**
 * The runtime's Jupyter Server: launched (or connected) on first use, and
 * again on a use after it is gone (its process exited, killed from outside),
 * so IPython services can start new kernels; stops what it launched.
 */
class JupyterHolder {
  #current: Promise<JupyterServer> | undefined;
  #stopped = false;
  server: JupyterServer | undefined;
  constructor(readonly options: JupyterLaunchOptions | JupyterConnectOptions | undefined) {}

  /** The server, started if there is none yet or the last one is gone. */
  get(): Promise<JupyterServer> {
    if (this.#stopped) {
      return Promise.reject(new Error("the runtime is stopping: no Jupyter Server"));
    }
    const gone = this.server?.gone;
    if (this.#current === undefined || gone) {
      if (gone) console.error(`[zest] ${gone.message}: starting a new one`);
      const previous = this.server;
      this.server = undefined;
      // Its process has exited: this only releases what the object holds.
      void previous?.stop().catch(() => {});
      const starting = this.#start();
      // A failed start is not kept: the next use tries again.
      starting.catch(() => {
        if (this.#current === starting) this.#current = undefined;
      });
      this.#current = starting;
    }
    return this.#current;
  }

  async #start(): Promise<JupyterServer> {
    const options = this.options;
    const server = options && "url" in options
      ? await JupyterServer.connect(options)
      : await JupyterServer.launch({ jupyterPath: [REPO_ROOT.pathname], ...options });
    if (this.#stopped) {
      await server.stop();
      throw new Error("the runtime stopped while its Jupyter Server started");
    }
    return this.server = server;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    const server = await this.#current?.catch(() => undefined);
    await server?.stop();
  }
}

/** The store `option` names, with `retention` (checked: a `TypeError` names the field). */
function storeOf(option: RuntimeOptions["store"], retention: RetentionOptions): TaskStore {
  if (option === undefined || option === "memory") return new MemoryTaskStore({ retention });
  if (option !== null && typeof option === "object") {
    if (typeof (option as TaskStore).open === "function") return option as TaskStore;
    if ("path" in option) {
      const { path, synchronous, ...unknown } = option;
      const extra = Object.keys(unknown);
      if (extra.length > 0) {
        throw new TypeError(`store: unknown option '${extra[0]}' (known: path, synchronous)`);
      }
      if (typeof path !== "string" || path === "") {
        throw new TypeError("store.path: expected the path of the database file");
      }
      if (synchronous !== undefined && synchronous !== "normal" && synchronous !== "full") {
        throw new TypeError(`store.synchronous: expected "normal" or "full", got ${synchronous}`);
      }
      return new SqliteTaskStore({ path, synchronous, retention });
    }
  }
  throw new TypeError(
    `store: expected "memory", { path, synchronous? } or a TaskStore, got ${
      JSON.stringify(option) ?? typeof option
    }`,
  );
}

/**
 * The retention of a store for these services: the runtime-wide limits, and
 * those of every task type that sets its own.
 */
function retentionOf(services: readonly Service[], limits: RetentionLimits = {}): RetentionOptions {
  const perType: Record<string, RetentionLimits> = {};
  for (const service of services) {
    for (const { name } of service.taskTypes()) {
      const retention = service.resolve(name)?.retention;
      if (retention) perType[name] = retention;
    }
  }
  return { ...limits, perType };
}

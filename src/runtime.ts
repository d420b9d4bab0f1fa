/**
 * `Runtime`: the composition root that starts the services, the store and
 * the manager, and gives out in-process clients.
 *
 * @module
 */
import { ActorSystem, type CrashLogger } from "./actor/mod.ts";
import { type ManagerOptions, TaskManager } from "./manager/manager.ts";
import { MemoryTaskStore } from "./manager/memory_store.ts";
import type { ScheduleConfig } from "./manager/schedules.ts";
import type { RetentionLimits, TaskStore } from "./manager/store.ts";
import type { ServiceEndpoint } from "./manager/types.ts";
import type { Service, ServiceEnvironment } from "./service/service.ts";
import type { TaskRun } from "./task/protocol.ts";
import { Client } from "./transport/client.ts";
import { LocalPort } from "./transport/local.ts";
import { type ConnectOptions, JupyterServer, type LaunchOptions } from "./kernel/server.ts";

/** The repo root: `kernels/<name>/kernel.json` under it are found by name. */
const REPO_ROOT = new URL("..", import.meta.url);

/** What `Runtime.start` needs. */
export interface RuntimeOptions {
  services: Service[];
  /**
   * Where task records live: `"memory"` (the default in-process: nothing
   * outlives the process), or a `TaskStore` (e.g. an SQLite file). A task
   * type's `retention` overrides `retention` for its records.
   */
  store?: "memory" | TaskStore;
  /** How long finished records are kept (default one hour) and how many (default 10 000). */
  retention?: RetentionLimits;
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
  jupyter?: LaunchOptions | ConnectOptions;
}

/**
 * A running Zest: services, each an actor, and the task manager in front.
 *
 * @example
 * ```ts
 * import { Runtime, Service } from "./mod.ts";
 * const runtime = await Runtime.start({ services: [new Service("idle")] });
 * (await runtime.client().services()).map((s) => s.name); // ["idle"]
 * await runtime.stop();
 * ```
 */
export class Runtime {
  readonly system: ActorSystem;
  readonly manager: TaskManager;
  readonly services: readonly Service[];
  readonly #jupyter: JupyterHolder;
  #stopping: Promise<void> | undefined;

  private constructor(
    system: ActorSystem,
    manager: TaskManager,
    services: Service[],
    jupyter: JupyterHolder,
  ) {
    this.system = system;
    this.manager = manager;
    this.services = services;
    this.#jupyter = jupyter;
  }

  /** Start every service (in parallel), then the manager. A service that fails to start stops the rest. */
  static async start(options: RuntimeOptions): Promise<Runtime> {
    const services = options.services;
    const names = new Set<string>();
    for (const service of services) {
      if (names.has(service.name)) throw new Error(`two services are named '${service.name}'`);
      names.add(service.name);
    }
    const system = new ActorSystem({ logCrash: options.logCrash });
    const jupyter = new JupyterHolder(options.jupyter);
    // Services may report changes while starting, before the manager exists.
    const late: { manager?: TaskManager } = {};
    const envOf = (service: Service): ServiceEnvironment => ({
      system,
      jupyter: () => jupyter.get(),
      changed: () => late.manager?.serviceChanged(service.name),
    });
    const results = await Promise.allSettled(
      services.map((service) => service.start(envOf(service))),
    );
    const failed = results.findIndex((result) => result.status === "rejected");
    if (failed >= 0) {
      const started = services.filter((_, i) => results[i].status === "fulfilled");
      await Promise.allSettled(started.map((service) => service.stop()));
      await jupyter.stop();
      await system.shutdown();
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
    const store = options.store === undefined || options.store === "memory"
      ? new MemoryTaskStore({ retention: retentionOf(services, options.retention) })
      : options.store;
    let manager: TaskManager;
    try {
      manager = late.manager = new TaskManager(system, endpoints, {
        ...options.manager,
        store,
        retentionTtlMs: options.retention?.ttlMs,
        schedules: options.schedules,
      });
      await manager.start();
    } catch (error) {
      // A bad schedule, or a store that cannot be used, is a refusal at start: nothing keeps running.
      await late.manager?.close().catch(() => {});
      await Promise.allSettled(services.map((service) => service.stop()));
      await jupyter.stop();
      await system.shutdown();
      await store.close().catch(() => {});
      throw error;
    }
    return new Runtime(system, manager, services, jupyter);
  }

  /** The Jupyter Server the IPython services use, once one was launched or connected. */
  get jupyterServer(): JupyterServer | undefined {
    return this.#jupyter.server;
  }

  /** A client for this runtime, in-process. */
  client(): Client {
    return new Client(new LocalPort(this.manager));
  }

  /**
   * Stop: refuse new tasks; queued ones stay in a durable store for the next
   * start, or end `ServiceStoppedError` in memory; running handlers see
   * their signal abort and get a grace period (see `TaskManager.close`).
   * Then each service stops (kernels shut down), the Jupyter Server the
   * runtime launched, the actors, and the store. Safe to call more than once.
   */
  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    await this.manager.close().catch((error) => {
      console.error("[zest] the task manager did not close cleanly:", error);
    });
    await Promise.allSettled(
      this.services.map(async (service) => {
        await this.system.stop(`service:${service.name}`);
        await service.stop();
      }),
    );
    await this.#jupyter.stop();
    await this.system.shutdown();
    await this.manager.store.close();
  }
}

/** Launches or connects the Jupyter Server once, on first use, and stops what it launched. */
class JupyterHolder {
  #starting: Promise<JupyterServer> | undefined;
  server: JupyterServer | undefined;
  constructor(readonly options: LaunchOptions | ConnectOptions | undefined) {}

  get(): Promise<JupyterServer> {
    return this.#starting ??= this.#start();
  }

  async #start(): Promise<JupyterServer> {
    const options = this.options;
    this.server = options && "url" in options
      ? await JupyterServer.connect(options)
      : await JupyterServer.launch({ jupyterPath: [REPO_ROOT.pathname], ...options });
    return this.server;
  }

  async stop(): Promise<void> {
    const server = await this.#starting?.catch(() => undefined);
    await server?.stop();
  }
}

/**
 * The retention of a store for these services: the runtime-wide limits, and
 * those of every task type that sets its own.
 */
function retentionOf(services: readonly Service[], limits: RetentionLimits = {}) {
  const perType: Record<string, RetentionLimits> = {};
  for (const service of services) {
    for (const { name } of service.taskTypes()) {
      const retention = service.resolve(name)?.retention;
      if (retention) perType[name] = retention;
    }
  }
  return { ...limits, perType };
}

/** `Runtime`: the composition root that starts services, the manager and the client side. */
import { ActorSystem, type CrashLogger } from "./actor/mod.ts";
import { LocalPort } from "./manager/local.ts";
import { type ManagerOptions, TaskManager } from "./manager/manager.ts";
import type { ServiceEndpoint } from "./manager/types.ts";
import type { Service } from "./service/service.ts";
import type { TaskRun } from "./task/protocol.ts";
import { Client } from "./api/client.ts";

/** What `Runtime.start` needs. */
export interface RuntimeOptions {
  services: Service[];
  manager?: ManagerOptions;
  /** Receives every actor crash (default: `console.error`). */
  logCrash?: CrashLogger;
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
  #stopping: Promise<void> | undefined;

  private constructor(system: ActorSystem, manager: TaskManager, services: Service[]) {
    this.system = system;
    this.manager = manager;
    this.services = services;
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
    const results = await Promise.allSettled(services.map((service) => service.start({ system })));
    const failed = results.findIndex((result) => result.status === "rejected");
    if (failed >= 0) {
      await Promise.allSettled(
        services.filter((_, i) => results[i].status === "fulfilled").map((service) =>
          service.stop()
        ),
      );
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
    }));
    const manager = new TaskManager(system, endpoints, options.manager);
    return new Runtime(system, manager, services);
  }

  /** A client for this runtime, in-process. */
  client(): Client {
    return new Client(new LocalPort(this.manager));
  }

  /**
   * Stop: refuse new tasks, stop each service (its queued and running tasks
   * end with `ServiceStoppedError`), run the services' own `stop` (kernels
   * shut down), then the actors. Safe to call more than once.
   */
  stop(): Promise<void> {
    return this.#stopping ??= this.#stop();
  }

  async #stop(): Promise<void> {
    await this.manager.close().catch(() => {});
    await Promise.allSettled(
      this.services.map(async (service) => {
        await this.system.stop(`service:${service.name}`);
        await service.stop();
      }),
    );
    await this.system.shutdown();
  }
}

/**
 * The cluster bench's replica config (`bench/cluster.ts`): a `bench` service
 * with a no-op parallel task and a no-op serial one, in a cluster whose
 * server `--nats URL` gives. `bench/cluster_kernel.config.ts` has the kernel.
 *
 * @module
 */
import { z } from "zod";
import { defineTask, Service } from "../src/mod.ts";
import type { ZestConfig } from "../src/cli/config.ts";

/** A no-op parallel task. */
export const ClusterNoop = defineTask("ClusterNoop", { schema: z.object({}), parallel: true });
/** A no-op serial task. */
export const ClusterNoopSerial = defineTask("ClusterNoopSerial", {
  schema: z.object({}),
  parallel: false,
});
/** The no-op service. */
export function benchService(): Service {
  return new Service("bench")
    .registerHandler(ClusterNoop, () => 0)
    .registerHandler(ClusterNoopSerial, () => 0);
}

export default (): ZestConfig => ({
  services: [benchService()],
});

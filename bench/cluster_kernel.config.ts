/**
 * The cluster bench's kernel replica (`bench/cluster.ts`): a `py` IPython
 * service and the `1+1` task, in a cluster whose server `--nats URL` gives.
 *
 * @module
 */
import { z } from "zod";
import { defineIPythonTask, IPythonService } from "../src/mod.ts";
import type { ZestConfig } from "../src/cli/config.ts";

/** `1+1` on a kernel. */
export const ClusterOnePlusOne = defineIPythonTask("ClusterOnePlusOne", {
  schema: z.object({}),
  code: () => "1+1",
});

export default (): ZestConfig => ({ services: [new IPythonService("py")] });

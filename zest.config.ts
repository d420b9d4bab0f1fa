/**
 * The default config of `deno task start`: the examples' services — the
 * greeter, and the `calibration` kernel (`kernels/calibration`) with the
 * calibration task types.
 *
 * Copy it and point `deno task start --config` at your own.
 *
 * @module
 */
import { IPythonService } from "./src/mod.ts";
import type { ZestConfig } from "./src/cli/config.ts";
import { GreetingService } from "./examples/greeting.ts";
// An IPython service runs every code-generating task type defined in the
// process: importing them is what makes MaintainNode & co. available.
import "./examples/calibration_tasks.ts";

export default (): ZestConfig => ({
  services: [
    new GreetingService("greeter"),
    new IPythonService("calibration", { kernel: "calibration" }),
  ],
  server: { hostname: "127.0.0.1", port: 8787 },
});

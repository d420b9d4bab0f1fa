/**
 * Drive the simulated calibration graph of `kernels/calibration` through Zest:
 * the runtime launches a Jupyter Server on loopback, starts the kernel, and
 * runs validated tasks whose code is generated on the service side.
 *
 * Run: `deno run -A examples/calibration.ts`
 */
import { IPythonService, Runtime, TaskExecutionError } from "../src/mod.ts";
import {
  AdvanceTime,
  CalibrationStatus,
  MaintainNode,
  PlotCalibration,
} from "./calibration_tasks.ts";

const runtime = await Runtime.start({
  services: [new IPythonService("calibration", { kernel: "calibration" })],
});
const client = runtime.client();
try {
  const maintained = await client.execute(
    "calibration",
    MaintainNode.create({ nodeId: "q0_rabi" }),
  );
  console.log("maintained q0_rabi:", maintained);

  await client.execute("calibration", AdvanceTime.create({ hours: 8 }));
  const status = await client.execute<{ nodes: Record<string, { state: string }> }>(
    "calibration",
    CalibrationStatus.create({}),
  );
  for (const [name, node] of Object.entries(status.nodes)) console.log(name.padEnd(28), node.state);

  for (const nodeId of ["q0_ramsey", "q0_readout", "q1_ramsey"]) {
    try {
      const summary = await client.execute("calibration", MaintainNode.create({ nodeId }));
      console.log("maintained", nodeId, summary);
    } catch (error) {
      // A simulated fit can fail: the kernel's exception comes back as is.
      if (!(error instanceof TaskExecutionError)) throw error;
      console.log(`maintaining ${nodeId} failed: ${error.ename}: ${error.evalue}`);
    }
  }

  const plot = await (await client.request("calibration", PlotCalibration.create({}))).outcome;
  const png = plot.execution?.displays[0]?.data["image/png"];
  if (typeof png === "string") {
    await Deno.writeFile("calibration.png", Uint8Array.from(atob(png), (c) => c.charCodeAt(0)));
    console.log("wrote calibration.png");
  } else if (plot.status === "error") {
    console.log(`plot: ${plot.ename}: ${plot.evalue}`);
  }
} finally {
  await runtime.stop();
}

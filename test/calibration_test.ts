/**
 * The first users' scenario, end to end: the simulated calibration graph of
 * `kernels/calibration` on a real kernel, driven by the example's task types.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import {
  defineIPythonTask,
  IPythonService,
  py,
  Runtime,
  type TaskOutcome,
  TaskValidationError,
} from "../src/mod.ts";
import {
  AdvanceTime,
  CalibrationStatus,
  MaintainNode,
  PlotCalibration,
} from "../examples/calibration_tasks.ts";

const SetFailureRate = defineIPythonTask("TestSetFailureRate", {
  schema: z.object({ rate: z.number().min(0).max(1) }),
  code: ({ rate }) => py`calibration_graph.failure_rate = ${rate}`,
});

type Summary = { state_before: string; state_after: string; recalibrated: string[] };
type Status = { nodes: Record<string, { state: string }> };

Deno.test({
  name: "calibration kernel: maintain, expiry, failing fits and a plot, through Zest",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async (t) => {
    const runtime = await Runtime.start({
      services: [
        new IPythonService("calibration", {
          kernel: "calibration",
          // Deterministic: no random failures unless a step asks for them.
          startupCode: "calibration_graph.reset(seed=7, failure_rate=0.0)",
        }),
      ],
    });
    const client = runtime.client();
    const maintain = (nodeId: string) =>
      client.execute<Summary>("calibration", MaintainNode.create({ nodeId }));
    const status = () => client.execute<Status>("calibration", CalibrationStatus.create({}));
    try {
      await t.step("maintain calibrates the stale dependencies first, then the node", async () => {
        const summary = await maintain("q0_rabi");
        assert.equal(summary.state_before, "unknown");
        assert.equal(summary.state_after, "good");
        assert.deepEqual(summary.recalibrated, [
          "q0_resonator_spectroscopy",
          "q0_qubit_spectroscopy",
          "q0_rabi",
        ]);
        assert.deepEqual((await maintain("q0_rabi")).recalibrated, [], "nothing left to do");
      });

      await t.step("calibrations expire with simulated time", async () => {
        await client.execute("calibration", AdvanceTime.create({ hours: 8 }));
        const { nodes } = await status();
        assert.equal(nodes.q0_rabi.state, "needs calibration"); // valid 6 h
        assert.equal(nodes.q0_resonator_spectroscopy.state, "good"); // valid 24 h
        // qubit spectroscopy is valid 12 h: still good after 8 h
        assert.deepEqual((await maintain("q0_rabi")).recalibrated, ["q0_rabi"]);
      });

      await t.step("a failing fit comes back as the kernel's CalibrationError", async () => {
        await client.execute("calibration", SetFailureRate.create({ rate: 1 }));
        const outcome: TaskOutcome = await (await client.request(
          "calibration",
          MaintainNode.create({ nodeId: "q1_ramsey" }),
        )).outcome;
        assert.equal(outcome.status, "error");
        if (outcome.status !== "error") return;
        assert.equal(outcome.ename, "CalibrationError");
        assert.match(outcome.evalue, /q1_/);
        assert.match(outcome.traceback, /CalibrationError/);
        assert.equal(outcome.execution?.code, `calibration_graph.nodes["q1_ramsey"].maintain()`);
        const { nodes } = await status();
        assert.ok(Object.values(nodes).some((node) => node.state === "bad"));
      });

      await t.step("the plot comes back as a PNG display", async () => {
        const outcome = await (await client.request("calibration", PlotCalibration.create({})))
          .outcome;
        assert.equal(outcome.status, "ok", JSON.stringify(outcome).slice(0, 300));
        const png = outcome.execution?.displays[0]?.data["image/png"];
        assert.equal(typeof png, "string");
        assert.equal(atob(png as string).slice(1, 4), "PNG");
      });

      await t.step("invalid node ids are refused before any code is generated", async () => {
        await assert.rejects(
          client.request("calibration", {
            type: "MaintainNode",
            fields: { nodeId: `q0"]; import os; os._exit(1) #` },
          }),
          (error) =>
            error instanceof TaskValidationError &&
            /nodeId: expected a node id/.test(error.message),
        );
      });
    } finally {
      await runtime.stop();
    }
  },
});

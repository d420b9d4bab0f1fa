/**
 * Task types for the simulated calibration graph in `kernels/calibration`.
 * Each one generates its Python from validated fields; values enter the code
 * only through `py`, as literals.
 */
import { z } from "zod";
import { defineIPythonTask, py } from "../src/mod.ts";

const nodeId = z.string().regex(/^q\d+_[a-z_]+$/, "expected a node id such as 'q0_rabi'");

/** Maintain a node: first its stale dependencies, then itself if needed. */
export const MaintainNode = defineIPythonTask("MaintainNode", {
  schema: z.object({ nodeId }),
  code: ({ nodeId }) => py`calibration_graph.nodes[${nodeId}].maintain()`,
  description: "Maintain a calibration node and its stale dependencies",
});

/** Every node's state, parameter and timestamps. */
export const CalibrationStatus = defineIPythonTask("CalibrationStatus", {
  schema: z.object({}),
  code: () => "calibration_graph.status()",
  description: "State of every calibration node",
});

/** Move the simulated clock on, so calibrations expire and parameters drift. */
export const AdvanceTime = defineIPythonTask("AdvanceTime", {
  schema: z.object({ hours: z.number().positive().max(24 * 365) }),
  code: ({ hours }) => py`calibration_graph.advance_time(${hours * 3600})`,
  description: "Advance the simulated clock",
});

/** A PNG of every node's state. */
export const PlotCalibration = defineIPythonTask("PlotCalibration", {
  schema: z.object({}),
  code: () => "calibration_graph.plot()",
  description: "Plot the calibration states (PNG)",
});

"""A simulated qubit calibration graph, loaded into every `calibration` kernel.

How it gets loaded: kernel.json passes
``--IPKernelApp.exec_files={resource_dir}/calibration.py`` to ipykernel.
Jupyter replaces ``{resource_dir}`` with this kernelspec's own folder, so the
file is found wherever the repository lives, with no absolute path written
anywhere; IPython runs it in the user namespace at every kernel start and
every restart, so ``calibration_graph`` is always defined (and starts fresh
after a restart, like real instrument state that must be re-read).

The graph has, for each qubit ``q0`` and ``q1``, five nodes::

    resonator_spectroscopy -> qubit_spectroscopy -> rabi -> ramsey
                          \\-------------------------------> readout <- rabi

Each node holds a fitted parameter with a unit, a state (``good``,
``needs calibration``, ``bad`` or ``unknown``) and timestamps. A result
expires after ``valid_for_s`` seconds of *simulated* time
(``calibration_graph.advance_time``), or when a dependency is recalibrated
after it. ``maintain()`` first maintains the node's dependencies, then
recalibrates the node when needed. Fits use a seeded random generator and
fail now and then (``failure_rate``): the node is then ``bad`` and
``maintain()`` raises ``CalibrationError``; calling it again retries.

Only the standard library is needed; ``plot()`` uses matplotlib if present.
"""

import io
import random
from datetime import datetime, timedelta, timezone

GOOD = "good"
NEEDS_CALIBRATION = "needs calibration"
BAD = "bad"
UNKNOWN = "unknown"


class CalibrationError(RuntimeError):
    """A calibration fit failed; the node is now ``bad``."""


class CalibrationNode:
    """One calibration experiment and the parameter it fits."""

    def __init__(self, graph, name, parameter, unit, nominal, noise, drift, valid_for_s, dependencies):
        self.graph = graph
        self.name = name
        self.parameter = parameter
        self.unit = unit
        self.noise = noise
        self.drift = drift
        self.valid_for_s = valid_for_s
        self.dependencies = dependencies
        self.true_value = nominal
        self.value = None
        self.state = UNKNOWN
        self.calibrated_at = None
        self.checked_at = None
        self.failures = 0
        self.last_error = None

    def check_state(self):
        """Update ``state`` from the clock and the dependencies; return it."""
        self.checked_at = self.graph.now()
        if self.state == BAD:
            return self.state
        if self.calibrated_at is None:
            self.state = NEEDS_CALIBRATION
        elif self.graph.now() - self.calibrated_at > timedelta(seconds=self.valid_for_s):
            self.state = NEEDS_CALIBRATION
        elif any(
            dep.calibrated_at is not None and dep.calibrated_at > self.calibrated_at
            for dep in self.dependencies
        ):
            self.state = NEEDS_CALIBRATION
        return self.state

    def maintain(self):
        """Maintain the dependencies, then recalibrate this node if needed.

        Returns a JSON-able summary; raises ``CalibrationError`` when a fit
        failed (this node or a dependency is then ``bad``).
        """
        state_before = self.state
        recalibrated = []
        self._maintain(recalibrated)
        return {
            "node": self.name,
            "state_before": state_before,
            "state_after": self.state,
            "parameter": self.parameter_summary(),
            "recalibrated": recalibrated,
            "time": self.graph.now().isoformat(),
        }

    def invalidate(self):
        """Mark the node as needing calibration (e.g. after a fridge warm-up)."""
        self.state = NEEDS_CALIBRATION

    def parameter_summary(self):
        return {"name": self.parameter, "value": self.value, "unit": self.unit}

    def summary(self):
        return {
            "node": self.name,
            "state": self.state,
            "parameter": self.parameter_summary(),
            "calibrated_at": _iso(self.calibrated_at),
            "checked_at": _iso(self.checked_at),
            "dependencies": [dep.name for dep in self.dependencies],
            "failures": self.failures,
            "last_error": self.last_error,
        }

    def _repr_json_(self):
        return self.summary()

    def __repr__(self):
        return f"<CalibrationNode {self.name}: {self.state}, {self.parameter}={self.value} {self.unit}>"

    def _maintain(self, recalibrated):
        for dep in self.dependencies:
            dep._maintain(recalibrated)
        if self.check_state() != GOOD:
            self._calibrate()
            recalibrated.append(self.name)

    def _calibrate(self):
        graph = self.graph
        if graph.rng.random() < graph.failure_rate:
            self.state = BAD
            self.failures += 1
            self.last_error = f"{self.parameter} fit did not converge"
            raise CalibrationError(
                f"{self.name}: {self.last_error}; the node is now 'bad' (run maintain() again to retry)"
            )
        measured = self.true_value + graph.rng.gauss(0.0, self.noise)
        self.value = round(measured, 6)
        self.calibrated_at = graph.now()
        self.state = GOOD
        self.last_error = None


class CalibrationGraph:
    """All nodes, a simulated clock and a seeded random generator."""

    def __init__(self, qubits=("q0", "q1"), seed=1234, failure_rate=0.05):
        self.qubits = tuple(qubits)
        self.reset(seed=seed, failure_rate=failure_rate)

    def reset(self, seed=1234, failure_rate=0.05):
        """Forget every calibration; restart the clock and the random generator."""
        self.rng = random.Random(seed)
        self.failure_rate = failure_rate
        self._clock = datetime.now(timezone.utc).replace(microsecond=0)
        self.nodes = {}
        for index, qubit in enumerate(self.qubits):
            self._add_qubit(qubit, index)

    def now(self):
        return self._clock

    def advance_time(self, seconds):
        """Move the simulated clock on; parameters drift meanwhile."""
        self._clock += timedelta(seconds=seconds)
        for node in self.nodes.values():
            node.true_value += self.rng.gauss(0.0, node.drift) * (seconds / 3600) ** 0.5
        return self.now().isoformat()

    def status(self):
        """JSON-able state of every node (states checked against the clock)."""
        for node in self.nodes.values():
            node.check_state()
        return {
            "time": self.now().isoformat(),
            "nodes": {name: node.summary() for name, node in self.nodes.items()},
        }

    def plot(self):
        """Show each node's state as a PNG (needs matplotlib)."""
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError as error:
            raise ImportError("plot() needs matplotlib: apt-get install -y python3-matplotlib") from error
        from IPython.display import Image, display

        colours = {GOOD: "tab:green", NEEDS_CALIBRATION: "tab:orange", BAD: "tab:red", UNKNOWN: "tab:gray"}
        status = self.status()["nodes"]
        figure, axes = plt.subplots(figsize=(6, 0.35 * len(status) + 0.6))
        names = list(status)
        axes.barh(names, [1] * len(names), color=[colours[status[n]["state"]] for n in names])
        axes.set_xticks([])
        axes.invert_yaxis()
        axes.set_title("calibration states at " + self.now().strftime("%H:%M:%S"))
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(figure)
        display(Image(data=buffer.getvalue(), format="png"))

    def _add_qubit(self, qubit, index):
        def add(kind, parameter, unit, nominal, noise, drift, valid_for_s, dependencies):
            name = f"{qubit}_{kind}"
            deps = [self.nodes[f"{qubit}_{dep}"] for dep in dependencies]
            self.nodes[name] = CalibrationNode(
                self, name, parameter, unit, nominal, noise, drift, valid_for_s, deps
            )

        add("resonator_spectroscopy", "resonator_frequency", "GHz", 7.05 + 0.1 * index, 2e-5, 1e-4, 24 * 3600, [])
        add("qubit_spectroscopy", "qubit_frequency", "GHz", 5.21 + 0.13 * index, 5e-5, 2e-4, 12 * 3600,
            ["resonator_spectroscopy"])
        add("rabi", "pi_pulse_amplitude", "V", 0.42 - 0.03 * index, 2e-3, 5e-3, 6 * 3600, ["qubit_spectroscopy"])
        add("ramsey", "t2_star", "us", 38.0 - 6.0 * index, 1.5, 3.0, 6 * 3600, ["rabi"])
        add("readout", "assignment_fidelity", "%", 96.5 - 1.2 * index, 0.3, 0.5, 12 * 3600,
            ["resonator_spectroscopy", "rabi"])


def _iso(moment):
    return None if moment is None else moment.isoformat()


calibration_graph = CalibrationGraph()

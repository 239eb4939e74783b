"""The plan of a sweep: every design point and run of an experiment, and their keys.

A run's key hashes its fully resolved parameters, its replication, the root seed and
the model version (the package version plus a hash of the model's source), so a key on
disk means exactly this run with this code.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from trustsim.errors import TrustsimInputError
from trustsim.experiments.experiment import Experiment, override_text

# Source files whose code decides a run's numbers; a change to any of them is a new model.
# From the runner only the two functions a sweep calls count, not the comparison code.
MODEL_SOURCES = ("model/*.py", "engines/*.py", "sim/*.py")
MODEL_FUNCTIONS = ("simulate", "replication_seed")
# The largest sweep planned at once. Design points are resolved one by one on the client
# (about 1 ms and 1 kB each) and the keys of the runs done are held in memory (about
# 100 bytes each), so the caps keep planning within minutes and the client within a few
# GB. Bigger studies are several sweeps (e.g. one per scenario or per block of factors).
MAX_POINTS = 200_000
MAX_RUNS = 10_000_000


@functools.cache
def model_version() -> str:
    """The package version plus a hash of the model's source code.

    The source is every module of trustsim.model, trustsim.engines and trustsim.sim and
    the runner's `simulate` and `replication_seed`: editing any of them makes results on
    disk stale.

    Example:
        >>> model_version().startswith(__import__("trustsim").__version__)
        True
    """
    import inspect

    import trustsim
    from trustsim.experiments import runner

    root = Path(trustsim.__file__).parent
    digest = hashlib.sha256()
    for pattern in MODEL_SOURCES:
        for path in sorted(root.glob(pattern)):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    for name in MODEL_FUNCTIONS:
        digest.update(inspect.getsource(getattr(runner, name)).encode())
    return f"{trustsim.__version__}+{digest.hexdigest()[:12]}"


def params_hash(scenario) -> str:
    """Hash of a scenario's fully resolved parameters (its name, label and description aside).

    Example:
        >>> from trustsim.scenarios import load_scenario
        >>> a = load_scenario("real-estate")
        >>> params_hash(a) == params_hash(load_scenario("real-estate", ["market.size=2000"]))
        True
    """
    text = scenario.model_dump_json(exclude={"name", "label", "description"})
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def run_key(params: str, replication: int, seed: int, version: str) -> str:
    """The key of one run: parameters hash, replication, root seed, model version.

    Example:
        >>> run_key("abc", 0, 1, "0.1.0") == run_key("abc", 0, 1, "0.1.0")
        True
    """
    text = f"{params}|{replication}|{seed}|{version}"
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass
class Point:
    """One design point of one scenario."""

    index: int
    scenario: str
    values: dict[str, Any]
    overrides: tuple[str, ...]
    params_hash: str
    error: str | None = None


class Run(NamedTuple):
    key: str
    point: int
    replication: int


@dataclass
class Plan:
    """Every design point and run of an experiment.

    Identical points (same resolved parameters) share their runs, so a run is simulated
    once however often the design draws its point.
    """

    experiment: Experiment
    points: list[Point]
    unit: Any  # numpy array (points per scenario, factors)
    model_version: str
    sobol_base: int | None
    note: str

    @property
    def replications(self) -> int:
        return self.experiment.spec.replications

    @functools.cached_property
    def unique_points(self) -> list[int]:
        seen: dict[str, int] = {}
        for point in self.points:
            seen.setdefault(point.params_hash, point.index)
        return list(seen.values())

    @property
    def total_runs(self) -> int:
        return len(self.unique_points) * self.replications

    def key(self, point: Point, replication: int) -> str:
        return run_key(point.params_hash, replication, self.experiment.seed, self.model_version)

    def runs(self) -> Iterator[Run]:
        """Every distinct run, point by point (replications of a point are adjacent)."""
        for index in self.unique_points:
            point = self.points[index]
            for r in range(self.replications):
                yield Run(self.key(point, r), index, r)

    def points_frame(self):
        """One row per design point: point, scenario, params_hash, error, factor values,
        and `unit:<factor>` coordinates on the unit hypercube."""
        import pandas as pd

        paths = self.experiment.factor_paths
        per_scenario = len(self.points) // max(1, len(self.experiment.bases))
        rows = []
        for point in self.points:
            row = {"point": point.index, "scenario": point.scenario}
            row.update(point.values)
            unit_row = self.unit[point.index % per_scenario]
            row.update({f"unit:{p}": float(u) for p, u in zip(paths, unit_row, strict=True)})
            row["params_hash"] = point.params_hash
            row["error"] = point.error
            rows.append(row)
        frame = pd.DataFrame(rows)
        for path in paths:
            if frame[path].dtype == object and frame[path].map(type).nunique() > 1:
                frame[path] = frame[path].map(str)  # mixed types do not fit one column
        return frame


def plan_size(experiment: Experiment) -> tuple[int, int]:
    """(design points, runs) of an experiment, counted without drawing the design.

    Example:
        >>> plan_size(load_experiment("affordance-pressure-grid"))
        (16, 160)
    """
    from trustsim.experiments.design import design_size

    points = design_size(experiment) * len(experiment.bases)
    return points, points * experiment.spec.replications


def check_plan_size(experiment: Experiment) -> None:
    """Refuse a plan above `MAX_POINTS` design points or `MAX_RUNS` runs, before drawing it.

    Raises:
        TrustsimInputError: naming the experiment, its size and the caps.
    """
    points, runs = plan_size(experiment)
    if points > MAX_POINTS or runs > MAX_RUNS:
        raise TrustsimInputError(
            f"{experiment.source}: {points:,} design points x {experiment.spec.replications:,} "
            f"replications = {runs:,} runs; a sweep plans at most {MAX_POINTS:,} points and "
            f"{MAX_RUNS:,} runs. Use fewer levels, samples or replications, or split the "
            "study into several experiments (e.g. one per scenario)."
        )


def plan_sweep(experiment: Experiment) -> Plan:
    """Draw the design and resolve every point of every base scenario.

    Runs are not listed: `Plan.runs` yields their keys one by one.

    Raises:
        TrustsimInputError: the plan is above the caps (`check_plan_size`).

    Example:
        >>> plan = plan_sweep(load_experiment("affordance-pressure-grid"))
        >>> len(plan.points), plan.total_runs
        (16, 160)
    """
    from trustsim.experiments.design import build_design
    from trustsim.scenarios import load_scenario

    check_plan_size(experiment)
    table = build_design(experiment)
    points: list[Point] = []
    for name, base in experiment.bases.items():
        base_hash = params_hash(base)
        for values in table.values:
            overrides = tuple(override_text(p, v) for p, v in values.items())
            try:
                digest, error = params_hash(load_scenario(base, overrides)), None
            except TrustsimInputError as exc:
                # An invalid combination becomes failed runs with this message, not a crash.
                digest = "invalid-" + run_key(base_hash, 0, 0, "|".join(overrides))[:12]
                error = f"TrustsimInputError: {exc}"
            points.append(Point(len(points), name, values, overrides, digest, error))
    return Plan(experiment, points, table.unit, model_version(), table.sobol_base, table.note)

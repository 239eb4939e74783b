"""Runs of the model at chosen points, through the resumable sweep machinery.

A set of points (a wave of history matching, or the final draws) becomes an experiment
whose base scenarios are the points themselves: each is the calibrated scenario with the
point's parameter values set. The sweep then runs every point x replication on Dask,
writes each finished batch as a Parquet part, and on a rerun skips what is on disk, so a
calibration killed mid-wave resumes without rerunning a finished run. Replication r of
every point of one experiment uses the same seed (common random numbers), so
differences between nearby points are not drowned by the draws.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustsim.calibration.priors import Prior, unit_to_overrides
from trustsim.scenarios import Scenario, load_scenario


@dataclass
class PointRuns:
    """Per design point, the statistics of each replication.

    Attributes:
        unit: (points, d) coordinates on the unit cube.
        natural: (points, replications, statistics) values on the natural scale.
        fit: the same on the fitting scale (NaN where a run failed or is undefined).
    """

    unit: np.ndarray
    natural: np.ndarray
    fit: np.ndarray

    def means(self) -> np.ndarray:
        return _nan_stat(np.nanmean, self.fit)

    def variances(self) -> np.ndarray:
        return _nan_stat(lambda a, axis: np.nanvar(a, axis=axis, ddof=1), self.fit)


def _nan_stat(func, values: np.ndarray) -> np.ndarray:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns give NaN
        return func(values, axis=1)


def point_experiment(
    name: str,
    base: Scenario,
    priors: list[Prior],
    unit: np.ndarray,
    replications: int,
    seed: int,
    metrics: list[str],
):
    """An experiment whose scenarios are the points `unit` of the priors."""
    from trustsim.experiments.experiment import (
        Experiment,
        ExperimentSpec,
        Factor,
        FactorInfo,
    )

    bases = {
        f"p{i:05d}": load_scenario(base, unit_to_overrides(priors, row), name=f"p{i:05d}")
        for i, row in enumerate(unit)
    }
    # Every point runs the observation window; the factor is that one setting.
    window = Factor(values=[base.time.steps])
    paths = [p.path for p in priors]
    spec = ExperimentSpec(
        name=name,
        description=f"calibration runs at {len(unit)} points of {', '.join(paths)}",
        scenarios=list(bases),
        replications=replications,
        seed=seed,
        metrics=metrics,
        factors={"time.steps": window},
    )
    text = _points_as_comment(priors, unit)
    return Experiment(
        spec=spec,
        source=name,
        text=text,
        bases=bases,
        factors=[FactorInfo("time.steps", window, "choice")],
    )


def _points_as_comment(priors: list[Prior], unit: np.ndarray) -> str:
    rows = [
        {p.path: float(p.from_unit(u)) for p, u in zip(priors, row, strict=True)} for row in unit
    ]
    body = json.dumps(rows, indent=1)
    return "# Calibration points (each is one scenario of this sweep):\n" + "".join(
        f"# {line}\n" for line in body.splitlines()
    )


def read_point_runs(out_dir: Path, experiment, unit: np.ndarray, stats, stage_names) -> PointRuns:
    """The statistics of every run of `experiment` on disk, arranged by point."""
    from trustsim.calibration.statistics import statistic_table
    from trustsim.experiments.store import SweepDir
    from trustsim.experiments.sweep import model_version, params_hash, run_key

    runs = SweepDir(out_dir).read_runs()
    ok = runs[runs["status"] == "ok"].set_index("key")
    reps = experiment.spec.replications
    version = model_version()
    natural = np.full((len(unit), reps, len(stats)), np.nan)
    fit = np.full_like(natural, np.nan)
    for i, scenario in enumerate(experiment.bases.values()):
        digest = params_hash(scenario)
        keys = [run_key(digest, r, experiment.seed, version) for r in range(reps)]
        present = [(r, key) for r, key in enumerate(keys) if key in ok.index]
        if not present:
            continue
        rows = [ok.loc[key].to_dict() for _, key in present]
        values, scaled = statistic_table(rows, stats, stage_names)
        for (r, _), v, s in zip(present, values, scaled, strict=True):
            natural[i, r], fit[i, r] = v, s
    return PointRuns(unit=unit, natural=natural, fit=fit)

"""Global sensitivity of a sweep: Sobol' indices or Morris elementary effects (SALib).

The model output at a design point is the mean of a metric over its replications
(replications share random numbers across points, so their noise is common to all
points). Results are one long table, written beside the sweep as `sensitivity.parquet`
and `sensitivity.csv` with columns method, scenario, metric, factor, index, value,
ci_low, ci_high:

- sobol: index S1 (first order) and ST (total order) per factor, and S2 per pair of
  factors with `second_order`; 95% CIs from SALib's bootstrap (value +/- z * sd of the
  resampled estimates), clipped to [0, 1], where every such index lies (a share of the
  output's variance). The estimate itself is kept as computed: one below 0 or above 1
  is sampling noise, and shows it.
- morris: mu_star (mean absolute elementary effect, with a bootstrap 95% CI whose lower
  bound is clipped at 0, as a mean of absolute values is), mu and sigma, on the unit
  scale of each factor (a step of one level is 1 / (levels - 1)).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from trustsim.errors import TrustsimInputError
from trustsim.experiments.store import SweepDir, storage_errors

COLUMNS = ("method", "scenario", "metric", "factor", "index", "value", "ci_low", "ci_high")


def analyze(sweep_dir: str | Path, metrics: Sequence[str] | None = None, resamples: int = 1000):
    """Sensitivity indices of every metric and scenario of a Sobol' or Morris sweep.

    Args:
        sweep_dir: the sweep's output directory.
        metrics: metrics to analyse (default: every metric the sweep kept).
        resamples: bootstrap resamples for the confidence intervals.

    Returns:
        A long DataFrame with `COLUMNS`; a metric undefined at some point (e.g.
        satisfaction with no deal closed) gets NaN values there rather than an error.

    Raises:
        TrustsimInputError: the sweep is not a Sobol' or Morris design, or is incomplete.

    Example:
        >>> table = analyze("sweeps/sobol-trust", ["closed_deals"])
        >>> sorted(set(table["index"]))
        ['S1', 'ST']
    """
    import pandas as pd

    from trustsim.experiments.results import load_runs

    store = SweepDir(sweep_dir)
    meta = store.read_meta()
    method = meta["design"]["method"]
    if method not in ("sobol", "morris"):
        raise TrustsimInputError(
            f"{sweep_dir}: a {method} design has no Sobol' or Morris indices. Set "
            '[design] method = "sobol" (or "morris") and samples in the experiment.'
        )
    from trustsim.experiments.results import _check_metrics

    metrics = _check_metrics(metrics, meta, sweep_dir)
    runs = load_runs(sweep_dir)
    _require_complete(runs, sweep_dir)
    outputs = runs[runs["status"] == "ok"].groupby("point")[metrics].mean()
    points = store.read_points().set_index("point")
    rows: list[dict] = []
    for scenario in meta["scenarios"]:
        index = points.index[points["scenario"] == scenario]
        for metric in metrics:
            y = outputs[metric].reindex(index).to_numpy(dtype=float)
            unit = points.loc[index, [f"unit:{f}" for f in meta["factors"]]].to_numpy(float)
            rows += _indices(meta, method, scenario, metric, y, unit, resamples)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def _require_complete(runs, sweep_dir) -> None:
    missing = int((runs["status"] == "missing").sum())
    if missing:
        raise TrustsimInputError(
            f"{sweep_dir}: {missing} of {len(runs)} runs are not done yet. Rerun the same "
            "`trustsim sweep` (it resumes) before the analysis."
        )
    ok_points = set(runs.loc[runs["status"] == "ok", "point"])
    failed = sorted(set(runs["point"]) - ok_points)
    if failed:
        raise TrustsimInputError(
            f"{sweep_dir}: design point(s) {', '.join(map(str, failed[:5]))} have no "
            "successful run, and the indices need every point. See `trustsim results "
            f"{sweep_dir}` for the errors."
        )


def _indices(meta, method, scenario, metric, y, unit, resamples) -> list[dict]:
    import numpy as np

    from trustsim.experiments.design import salib_problem

    factors = meta["factors"]
    problem = salib_problem(factors)
    base = {"method": method, "scenario": scenario, "metric": metric}
    if np.isnan(y).any():
        # Undefined somewhere (e.g. no deal closed at a point): no index is honest.
        return [
            {**base, "factor": f, "index": i, "value": math.nan, "ci_low": math.nan,
             "ci_high": math.nan}
            for f in factors for i in _index_names(method)
        ]  # fmt: skip
    # SALib treats seed 0 as "no seed"; shift by one so the CIs are reproducible.
    seed = meta["seed"] + 1
    if method == "sobol":
        return _sobol_rows(base, problem, y, meta, resamples, seed)
    return _morris_rows(base, problem, unit, y, meta, resamples, seed)


def _index_names(method: str) -> tuple[str, ...]:
    return ("S1", "ST") if method == "sobol" else ("mu_star", "mu", "sigma")


def _sobol_rows(base, problem, y, meta, resamples, seed) -> list[dict]:
    import warnings

    from SALib.analyze import sobol

    second = meta["design"]["second_order"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # constant outputs divide by a zero variance
        result = sobol.analyze(
            problem, y, calc_second_order=second, num_resamples=resamples, seed=seed
        )
    rows = []
    for i, factor in enumerate(problem["names"]):
        for name in ("S1", "ST"):
            value, half = float(result[name][i]), float(result[f"{name}_conf"][i])
            rows.append(_row(base, factor, name, value, *_share_bounds(value, half)))
    if second:
        names = problem["names"]
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                value, half = float(result["S2"][i, j]), float(result["S2_conf"][i, j])
                pair = f"{names[i]} x {names[j]}"
                rows.append(_row(base, pair, "S2", value, *_share_bounds(value, half)))
    return rows


def _morris_rows(base, problem, unit, y, meta, resamples, seed) -> list[dict]:
    from SALib.analyze import morris

    result = morris.analyze(
        problem,
        unit,
        y,
        num_resamples=resamples,
        num_levels=meta["design"]["morris_levels"],
        seed=seed,
    )
    rows = []
    for i, factor in enumerate(problem["names"]):
        star, half = float(result["mu_star"][i]), float(result["mu_star_conf"][i])
        rows.append(_row(base, factor, "mu_star", star, max(star - half, 0.0), star + half))
        rows.append(_row(base, factor, "mu", float(result["mu"][i]), math.nan, math.nan))
        rows.append(_row(base, factor, "sigma", float(result["sigma"][i]), math.nan, math.nan))
    return rows


def _share_bounds(value: float, half: float) -> tuple[float, float]:
    """value -/+ half, within [0, 1]: a Sobol' index is a share of variance.

    Example:
        >>> _share_bounds(0.75, 0.5)
        (0.25, 1.0)
    """
    return min(max(value - half, 0.0), 1.0), min(max(value + half, 0.0), 1.0)


def _row(base: dict, factor: str, index: str, value: float, low: float, high: float) -> dict:
    return {**base, "factor": factor, "index": index, "value": value, "ci_low": low,
            "ci_high": high}  # fmt: skip


def write_sensitivity(sweep_dir: str | Path, table) -> list[Path]:
    """Write the indices beside the sweep (Parquet for code, CSV for people), atomically.

    Example:
        >>> paths = write_sensitivity("sweeps/sobol-trust", analyze("sweeps/sobol-trust"))
        >>> [p.name for p in paths]
        ['sensitivity.parquet', 'sensitivity.csv']
    """
    from trustsim.output import write_parquet_atomic, write_text_atomic

    store = SweepDir(sweep_dir)
    paths = [store.path / "sensitivity.parquet", store.path / "sensitivity.csv"]
    hint = "Free space (or fix the disk) and rerun: the sweep's runs are intact."
    with storage_errors("write the sensitivity indices", hint, store.path):
        write_parquet_atomic(table, paths[0])
        write_text_atomic(paths[1], table.to_csv(index=False))
    return paths

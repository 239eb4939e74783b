"""Results of a sweep: per-run table, per-point means with 95% CIs, compaction.

The runs of the current plan are found by recomputing each (point, replication)'s key
from the sweep's metadata, so parts of an older plan or model version in the same
directory are ignored rather than mixed in.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Sequence
from pathlib import Path

from trustsim.errors import TrustsimInputError
from trustsim.experiments.store import SweepDir, storage_errors, write_part


def load_runs(sweep_dir: str | Path):
    """One row per planned run: point, scenario, factor values, replication, status,
    error and metrics; runs not on disk yet have status "missing".

    Example:
        >>> runs = load_runs("sweeps/grid")
        >>> set(runs["status"]) <= {"ok", "failed", "missing"}
        True
    """
    from trustsim.experiments.sweep import run_key

    store = SweepDir(sweep_dir)
    meta = store.read_meta()
    points = store.read_points()
    reps = meta["replications"]
    planned = points.loc[points.index.repeat(reps)].reset_index(drop=True)
    planned.insert(2, "replication", list(range(reps)) * len(points))
    # Replication r's posterior draw (if any) is part of its runs' keys.
    draws = (meta.get("posterior") or {}).get("keys") or [""] * reps
    planned["key"] = [
        run_key(h, int(r), meta["seed"], meta["model_version"], draws[int(r)])
        for h, r in zip(planned["params_hash"], planned["replication"], strict=True)
    ]
    runs = store.read_runs(["key", "status", "error", "seconds", *meta["metrics"]])
    planned = planned.drop(columns=["error"]).merge(runs, on="key", how="left")
    planned["status"] = planned["status"].fillna("missing")
    for metric in meta["metrics"]:
        if metric not in planned.columns:
            planned[metric] = math.nan
    return planned.drop(columns=[c for c in planned.columns if c.startswith("unit:")])


def factor_columns(meta: dict) -> list[str]:
    return list(meta["factors"])


def point_summary(sweep_dir: str | Path, metrics: Sequence[str] | None = None):
    """Per design point: factor values, runs ok / failed / missing, and for each metric
    the mean over replications with a 95% t confidence interval (`<m>_ci_low`,
    `<m>_ci_high`) cut to the metric's possible values, as in
    `trustsim.experiments.stats.mean_ci`.

    Example:
        >>> table = point_summary("sweeps/grid", ["closed_deals"])
        >>> {"closed_deals", "closed_deals_ci_low", "closed_deals_ci_high"} <= set(table)
        True
    """
    import numpy as np

    from trustsim.metrics import value_range

    meta = SweepDir(sweep_dir).read_meta()
    metrics = _check_metrics(metrics, meta, sweep_dir)
    runs = load_runs(sweep_dir)
    keys = ["point", "scenario", *factor_columns(meta)]
    counts = runs.pivot_table(
        index="point", columns="status", values="replication", aggfunc="count", fill_value=0
    )
    table = runs.drop_duplicates("point")[keys].set_index("point")
    for status in ("ok", "failed", "missing"):
        table[f"runs_{status}"] = counts.get(status, 0)
    ok = runs[runs["status"] == "ok"]
    for metric in metrics:
        mean, low, high = _grouped_mean_ci(ok, metric)
        possible = value_range(metric)
        low, high = np.clip(low, *possible), np.clip(high, *possible)
        table[metric] = mean
        table[f"{metric}_ci_low"] = low
        table[f"{metric}_ci_high"] = high
    return table.reset_index()


def _check_metrics(metrics, meta: dict, sweep_dir) -> list[str]:
    if not metrics:
        return list(meta["metrics"])
    for metric in metrics:
        if metric not in meta["metrics"]:
            raise TrustsimInputError(
                f"--metric {metric}: not kept by this sweep ({sweep_dir}). "
                f"Kept: {', '.join(meta['metrics'])}."
            )
    return list(metrics)


def _grouped_mean_ci(ok, metric: str, level: float = 0.95):
    """Mean and t interval per point, vectorised (same formula as stats.mean_ci)."""
    import numpy as np
    from scipy import stats

    grouped = ok.groupby("point")[metric]
    n = grouped.count()
    mean = grouped.mean()
    sd = grouped.std(ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1))
        half = np.where(n > 1, t * sd / np.sqrt(n), np.nan)  # one run: no interval
    return mean, mean - half, mean + half


def failure_summary(sweep_dir: str | Path):
    """Failed runs grouped by error message, most frequent first."""
    runs = load_runs(sweep_dir)
    failed = runs[runs["status"] == "failed"]
    counts = failed.groupby("error").size().sort_values(ascending=False)
    return counts.rename("runs").reset_index()


def compact(sweep_dir: str | Path) -> tuple[int, int]:
    """Merge every part into one, atomically; return (parts before, runs kept).

    The merged part is written (temporary name, then rename) before the old parts are
    deleted; a crash in between leaves duplicates that every reader drops by key.

    Example:
        >>> compact("sweeps/grid")[1] > 0
        True
    """
    store = SweepDir(sweep_dir)
    meta = store.read_meta()
    hint = f"Nothing was changed: the parts in {store.parts_dir} are as they were."
    with store.lock(), storage_errors("compact the parts", hint, store.parts_dir):
        store.remove_stale_temporaries()
        runs, parts = store.read_parts()  # an unreadable part is set aside, not merged
        if len(parts) <= 1:
            return len(parts), len(runs)
        metrics = [c for c in runs.columns if c not in _RUN_FIELDS]
        # Keep the sweep's metrics first, then any kept by earlier plans in this directory.
        metrics = [m for m in meta["metrics"] if m in metrics] + [
            m for m in metrics if m not in meta["metrics"]
        ]
        rows = runs.astype(object).where(runs.notna(), None).to_dict("records")
        # Named by time like a sweep's parts, so "newest part wins" keeps its meaning.
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-compact-{secrets.token_hex(4)}.parquet"
        write_part(rows, metrics, store.parts_dir / name)
        for part in parts:
            part.unlink()
    return len(parts), len(rows)


_RUN_FIELDS = ("key", "params_hash", "replication", "status", "error", "seconds", "worker")

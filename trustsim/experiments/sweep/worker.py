"""The worker's side of a sweep: a batch of runs as a small picklable task, and running it.

Replication r always uses the seed `SeedSequence(root, spawn_key=(r,))`: the numbers
depend on nothing else, not on the worker count, the batch size or how often the sweep
was interrupted.
"""

from __future__ import annotations

import functools
import math
import os
import socket
import time
from dataclasses import dataclass
from typing import Any

from trustsim.experiments.sweep.plan import Plan, Run, model_version, params_hash


@dataclass
class BatchTask:
    """What a worker needs to run a batch: small, picklable, self-contained."""

    bases: dict[str, str]  # scenario name -> resolved base scenario as JSON
    runs: list[tuple[str, str, tuple[str, ...], str, int]]  # key, scenario, overrides, hash, r
    seed: int
    metrics: list[str]
    model_version: str


@functools.lru_cache(maxsize=32)
def _base_scenario(text: str):
    from trustsim.scenarios import Scenario

    return Scenario.model_validate_json(text)


def run_batch(task: BatchTask) -> dict:
    """Run every run of a batch; a run that raises becomes a failed row, not an error.

    Returns:
        {"rows": one dict per run (key, status, error, seconds, metrics...),
         "worker": host:pid}.

    Example:
        >>> plan = plan_sweep(load_experiment("affordance-pressure-grid"))
        >>> task = make_task(plan, list(itertools.islice(plan.runs(), 1)))
        >>> run_batch(task)["rows"][0]["status"]
        'ok'
    """
    if task.model_version != model_version():
        raise RuntimeError(
            f"this worker runs trustsim model {model_version()}, the client planned with "
            f"{task.model_version}; install the same trustsim on every worker"
        )
    import trustsim.sim  # noqa: F401 - imported before timing, so run times exclude it

    worker = f"{socket.gethostname()}:{os.getpid()}"
    resolved: dict[tuple[str, tuple[str, ...]], Any] = {}
    rows = []
    for key, scenario, overrides, digest, replication in task.runs:
        start = time.perf_counter()
        row = {"key": key, "params_hash": digest, "replication": replication}
        try:
            spec = _resolve(resolved, task.bases[scenario], overrides, digest)
            row.update(_simulate_metrics(spec, task.seed, replication, task.metrics))
            row.update(status="ok", error=None)
        except Exception as exc:  # any failure of a run is recorded, not raised
            row.update({m: math.nan for m in task.metrics})
            row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
        row.update(seconds=time.perf_counter() - start, worker=worker)
        rows.append(row)
    return {"rows": rows, "worker": worker}


def _resolve(cache: dict, base_json: str, overrides: tuple[str, ...], digest: str):
    from trustsim.scenarios import load_scenario

    key = (base_json, overrides)
    if key not in cache:
        try:
            spec = load_scenario(_base_scenario(base_json), overrides)
            if params_hash(spec) != digest:
                raise RuntimeError(
                    "the worker resolved other parameters than the client; install the same "
                    "trustsim on every worker"
                )
            cache[key] = spec
        except Exception as exc:  # remembered, so every replication reports it
            cache[key] = exc
    if isinstance(cache[key], Exception):
        raise cache[key]
    return cache[key]


def _simulate_metrics(spec, seed: int, replication: int, metrics: list[str]) -> dict:
    """One run's summary measures, with the fastest engine and no per-step series."""
    from trustsim.engines import fastest_engine
    from trustsim.experiments.runner import replication_seed, simulate

    seed_sequence = replication_seed(seed, replication)
    summary, _ = simulate(spec, seed_sequence, engine=fastest_engine(), series=False)
    return {m: float(summary[m]) for m in metrics}


def make_task(plan: Plan, runs: list[Run]) -> BatchTask:
    """The worker's task for a list of runs."""
    bases = plan.experiment.bases
    entries, used = [], {}
    for run in runs:
        point = plan.points[run.point]
        used.setdefault(point.scenario, bases[point.scenario].model_dump_json())
        entries.append(
            (run.key, point.scenario, point.overrides, point.params_hash, run.replication)
        )
    return BatchTask(
        bases=used,
        runs=entries,
        seed=plan.experiment.seed,
        metrics=list(plan.experiment.spec.metrics),
        model_version=plan.model_version,
    )

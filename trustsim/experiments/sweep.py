"""Parameter sweeps on Dask: batched, bounded, written as they come, resumable.

A sweep plans every run of an experiment (design point x replication), skips the runs
whose keys are already on disk, groups the rest into tasks of about a second, keeps a
bounded number of tasks in flight on a Dask cluster (or in-process), and writes each
completed task as one Parquet part.

A run's key hashes its fully resolved parameters, its replication, the root seed and
the model version (the package version plus a hash of the model's source), so a key on
disk means exactly this run with this code. Replication r always uses the seed
`SeedSequence(root, spawn_key=(r,))`: the numbers depend on nothing else, not on the
worker count, the batch size or how often the sweep was interrupted.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import itertools
import json
import logging
import math
import os
import secrets
import socket
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from trustsim.errors import TrustsimInputError
from trustsim.experiments.experiment import Experiment, load_experiment, override_text
from trustsim.experiments.store import (
    SweepDir,
    SweepEnvironmentError,
    storage_errors,
    write_part,
)

# Source files whose code decides a run's numbers; a change to any of them is a new model.
# From the runner only the two functions a sweep calls count, not the comparison code.
MODEL_SOURCES = ("model/*.py", "engines/*.py", "sim/*.py")
MODEL_FUNCTIONS = ("simulate", "replication_seed")
TARGET_TASK_SECONDS = 1.0
# Tasks in flight per worker thread: enough that no worker waits for the client.
IN_FLIGHT_PER_THREAD = 2
# The largest sweep planned at once. Design points are resolved one by one on the client
# (about 1 ms and 1 kB each) and the keys of the runs done are held in memory (about
# 100 bytes each), so the caps keep planning within minutes and the client within a few
# GB. Bigger studies are several sweeps (e.g. one per scenario or per block of factors).
MAX_POINTS = 200_000
MAX_RUNS = 10_000_000
# Seconds to reach a --scheduler when no --connect-timeout is given, and before saying
# that a reachable scheduler has no workers yet.
CONNECT_SECONDS = 10.0
NO_WORKERS_NOTICE_SECONDS = 5.0

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int, int], None]


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


# ----------------------------------------------------------------------------- plan
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


# ---------------------------------------------------------------------- worker side
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


# ---------------------------------------------------------------------- client side
class Batcher:
    """Cut pending runs into batches of about `TARGET_TASK_SECONDS` of work.

    The run time is learnt from finished batches (an exponential moving average of the
    median seconds per run), so the first batches hold one run and later ones grow.
    With `fixed` set, every batch holds that many runs. Near the end batches shrink, so
    every worker gets a share of the tail. Batching never changes a run's numbers.
    """

    def __init__(self, runs: Iterator[Run], remaining: int, fixed: int | None = None):
        self._runs = runs
        self.remaining = remaining
        self.fixed = fixed
        self.seconds_per_run: float | None = None
        self._retry: deque[list[Run]] = deque()

    def next_batch(self, threads: int | None) -> list[Run] | None:
        if self._retry:
            return self._retry.popleft()
        size = self._size(threads)
        batch = list(itertools.islice(self._runs, size))
        self.remaining -= len(batch)
        return batch or None

    def _size(self, threads: int | None) -> int:
        if self.fixed is not None:
            return self.fixed
        if self.seconds_per_run is None:
            return 1
        size = max(1, round(TARGET_TASK_SECONDS / max(self.seconds_per_run, 1e-6)))
        if threads:
            size = min(size, max(1, math.ceil(self.remaining / (IN_FLIGHT_PER_THREAD * threads))))
        return size

    def observe(self, rows: list[dict]) -> None:
        seconds = sorted(row["seconds"] for row in rows)
        median = seconds[len(seconds) // 2]
        if self.seconds_per_run is None:
            self.seconds_per_run = median
        else:
            self.seconds_per_run = 0.5 * self.seconds_per_run + 0.5 * median

    def retry(self, batch: list[Run]) -> None:
        """Run a batch again, split in halves so a run that kills workers is isolated."""
        half = len(batch) // 2
        self._retry.extend([batch[:half], batch[half:]] if half else [batch])

    def requeue(self, batch: list[Run]) -> None:
        """Run a batch again as it is (its task was lost, not its runs' fault)."""
        self._retry.append(batch)


@dataclass
class SweepReport:
    """What a sweep did.

    Attributes:
        out_dir: where the results are.
        total: distinct runs in the plan.
        skipped: runs already on disk when the sweep started.
        ran: runs completed by this sweep (failed ones included).
        failed: failed runs on disk, old and new.
        seconds: wall time of this sweep.
        note: what the design adjusted (e.g. Sobol' samples rounded), or "".
    """

    out_dir: Path
    total: int
    skipped: int
    ran: int
    failed: int
    seconds: float
    note: str = ""
    parts: list[Path] = field(default_factory=list)


class _Writer:
    """Writes completed batches as parts and keeps the counts for the progress bar."""

    def __init__(self, store: SweepDir, plan: Plan, done: int, failed: int, progress):
        self.store = store
        self.metrics = list(plan.experiment.spec.metrics)
        self.total = plan.total_runs
        self.done = done
        self.failed = failed
        self.ran = 0
        self.progress = progress
        self.session = f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}"
        self.parts: list[Path] = []

    def write(self, rows: list[dict]) -> None:
        target = self.store.parts_dir / f"part-{self.session}-{len(self.parts):06d}.parquet"
        with storage_errors("write a part of the results", resume_hint(self.store), target):
            write_part(rows, self.metrics, target)
        self.parts.append(target)
        self.ran += len(rows)
        self.done += len(rows)
        self.failed += sum(row["status"] != "ok" for row in rows)
        if self.progress is not None:
            self.progress(self.done, self.total, self.failed)


def resume_hint(store: SweepDir) -> str:
    return (
        f"Every run written so far is kept in {store.path}: free space (or fix the disk) "
        "and run the same command again to resume."
    )


class ClusterLostError(SweepEnvironmentError):
    """The Dask scheduler went away mid-sweep; no run was recorded as failed because of it."""


def sweep(
    experiment: Experiment | str | Path,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    client=None,
    batch_size: int | None = None,
    dashboard: bool = False,
    progress: ProgressCallback | None = None,
    retry_failed: bool = False,
    connect_timeout: float | None = None,
) -> SweepReport:
    """Run every run of an experiment not yet on disk in `out_dir`.

    Nothing is written until the directory is known to be this experiment's (or new) and
    the cluster is reachable. Only an exception raised by a run makes a failed run; a
    lost task, worker or scheduler never does, so its runs are simply run on resume.

    Args:
        experiment: an `Experiment`, or the path (or example name) of an experiment file.
        out_dir: results directory; rerunning with the same directory resumes.
        workers: local worker processes (default: the CPUs available); 0 runs in-process.
        scheduler: address of a running Dask scheduler (e.g. tcp://10.0.0.5:8786),
            instead of starting a local cluster.
        client: an existing `distributed.Client` to use (it is not closed).
        batch_size: runs per task (default: as many as take about a second).
        dashboard: serve the Dask dashboard of a local cluster on :8787.
        progress: called as progress(done, total, failed) after each completed batch.
        retry_failed: also run again the runs on disk that failed.
        connect_timeout: seconds to reach `scheduler` (default `CONNECT_SECONDS`) and,
            if given, to wait for its first worker (default: wait for as long as it
            takes, saying so after a few seconds).

    Returns:
        A `SweepReport`.

    Raises:
        TrustsimInputError: an invalid experiment or option; a directory in use, not
            writable, or holding another experiment's sweep; an unreachable scheduler.
        SweepEnvironmentError: the disk filled up, the cluster went away
            (`ClusterLostError`) or no worker came; every part on disk is complete, and
            the same call resumes.
        KeyboardInterrupt: on Ctrl-C, after cancelling the tasks in flight; every part on
            disk is complete, and the same call resumes.

    Example:
        >>> report = sweep("affordance-pressure-grid", "sweeps/grid", workers=0)
        >>> report.total
        160
    """
    start = time.monotonic()
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    _check_options(workers, batch_size, connect_timeout)
    plan = plan_sweep(experiment)
    store = SweepDir(out_dir)
    check_target(store, plan)
    in_process = workers == 0 and scheduler is None and client is None
    connect = functools.partial(_connected, workers, scheduler, client, dashboard, connect_timeout)
    needs_cluster = not in_process and _count_pending(store, plan, retry_failed) > 0
    cluster = connect() if needs_cluster else contextlib.nullcontext()
    with cluster as dask_client, store.lock():
        check_target(store, plan)  # again, now that no other sweep can write here
        with storage_errors("write the sweep's metadata", resume_hint(store)):
            store.remove_stale_temporaries()
            write_metadata(store, plan)
        batcher, writer = _pending(store, plan, retry_failed, batch_size, progress)
        if batcher.remaining and in_process:
            _run_in_process(plan, batcher, writer)
        elif batcher.remaining and dask_client is not None:
            _submit_and_collect(dask_client, plan, batcher, writer)
        elif batcher.remaining:  # runs set aside since the count (a corrupt part)
            with connect() as late_client:
                _submit_and_collect(late_client, plan, batcher, writer)
    return SweepReport(
        out_dir=store.path,
        total=plan.total_runs,
        skipped=writer.done - writer.ran,
        ran=writer.ran,
        failed=writer.failed,
        seconds=time.monotonic() - start,
        note=plan.note,
        parts=writer.parts,
    )


def _check_options(workers, batch_size, connect_timeout) -> None:
    if batch_size is not None and batch_size < 1:
        raise TrustsimInputError(f"--batch-size {batch_size}: must be at least 1.")
    if workers is not None and workers < 0:
        raise TrustsimInputError(f"--workers {workers}: must be 0 (in-process) or more.")
    if connect_timeout is not None and not connect_timeout > 0:
        raise TrustsimInputError(f"--connect-timeout {connect_timeout}: must be above 0 s.")


def _is_pending(key: str, done: set[str], failed: set[str], retry_failed: bool) -> bool:
    return key not in done or (retry_failed and key in failed)


def _count_pending(store: SweepDir, plan: Plan, retry_failed: bool) -> int:
    """Runs not on disk yet, read without the lock: only to decide whether to connect."""
    if not store.parts_dir.is_dir():
        return plan.total_runs
    done, failed = store.done_keys()
    return sum(_is_pending(run.key, done, failed, retry_failed) for run in plan.runs())


def _pending(store: SweepDir, plan: Plan, retry_failed: bool, batch_size, progress):
    """The batcher of the runs to do and the writer, counting the runs already done."""
    done, failed = store.done_keys()
    skipped = failed_before = 0
    for run in plan.runs():
        if not _is_pending(run.key, done, failed, retry_failed):
            skipped += 1
            failed_before += run.key in failed
    pending = (run for run in plan.runs() if _is_pending(run.key, done, failed, retry_failed))
    batcher = Batcher(pending, plan.total_runs - skipped, batch_size)
    writer = _Writer(store, plan, skipped, failed_before, progress)
    if progress is not None:
        progress(skipped, plan.total_runs, failed_before)
    return batcher, writer


# What a sweep directory may hold besides sweep.json (`trustsim chart` adds charts/).
SWEEP_ENTRIES = frozenset(
    {".lock", "parts", "scenarios", "experiment.toml", "points.parquet", "sweep.json",
     "sensitivity.parquet", "sensitivity.csv", "charts"}
)  # fmt: skip


def check_target(store: SweepDir, plan: Plan) -> None:
    """Refuse an output directory that cannot hold this sweep, before writing anything.

    A directory holds one experiment: the same experiment resumes, and one that only adds
    design points or replications extends it (its runs on disk are reused). Anything
    else (another name, seed, scenarios, factors or metrics, fewer replications, design
    points dropped) would mix two experiments' metadata and is refused.

    Raises:
        TrustsimInputError: naming the directory, both experiments and what differs.
    """
    _check_writable(store.path)
    if not store.meta_path.exists():
        others = sorted(
            entry.name
            for entry in (store.path.iterdir() if store.path.is_dir() else ())
            if entry.name not in SWEEP_ENTRIES and not entry.name.endswith(".tmp")
        )
        if others:
            raise TrustsimInputError(
                f"{store.path}: holds other files ({', '.join(others[:3])}) and no sweep. "
                "Give a new or empty directory as --out."
            )
        return
    old = store.read_meta()
    try:
        old_points = set(store.read_points()["params_hash"])
    except TrustsimInputError:
        old_points = None  # rewritten below; sweep.json alone says which experiment it was
    differences = _differences(old, old_points, plan)
    if differences:
        exp = plan.experiment
        raise TrustsimInputError(
            f"{store.path}: holds the sweep of experiment {old['experiment']!r} (from "
            f"{old.get('source', 'an unknown file')}), and experiment {exp.name!r} (from "
            f"{exp.source}) is another experiment: {'; '.join(differences)}. A sweep "
            "directory holds one experiment: rerunning it resumes, and adding design points "
            f"or replications extends it. Give another --out, or delete {store.path} to "
            "start afresh."
        )


def _differences(old: dict, old_points: set[str] | None, plan: Plan) -> list[str]:
    exp = plan.experiment
    pairs = {
        "name": (old["experiment"], exp.name),
        "seed": (old["seed"], exp.seed),
        "scenarios": (old["scenarios"], list(exp.bases)),
        "factors": (old["factors"], exp.factor_paths),
        "metrics": (old["metrics"], list(exp.spec.metrics)),
    }
    found = [f"{what} {a!r} there, {b!r} here" for what, (a, b) in pairs.items() if a != b]
    if exp.spec.replications < old["replications"]:
        found.append(f"{old['replications']} replications there, {exp.spec.replications} here")
    if old_points is not None and not found:
        dropped = len(old_points - {point.params_hash for point in plan.points})
        if dropped:
            found.append(f"{dropped} of its {len(old_points)} design points are not in this plan")
    return found


def _check_writable(path: Path) -> None:
    """The nearest existing ancestor of `path` must be a directory this process may write."""
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise TrustsimInputError(
            f"{path}: {existing} is a file, not a directory. Give an --out whose every part "
            "is a directory."
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise TrustsimInputError(
            f"{path}: cannot write in {existing} (read-only or no permission). Give an --out "
            "you can write to."
        )


def write_metadata(store: SweepDir, plan: Plan) -> None:
    """sweep.json, experiment.toml, points.parquet and the resolved base scenarios."""
    from trustsim.output import write_parquet_atomic, write_text_atomic
    from trustsim.scenarios import scenario_to_toml

    exp = plan.experiment
    meta = {
        "experiment": exp.name,
        "source": exp.source,
        "trustsim_version": plan.model_version.split("+")[0],
        "model_version": plan.model_version,
        "seed": exp.seed,
        "replications": exp.spec.replications,
        "design": exp.spec.design.model_dump(),
        "design_note": plan.note,
        "sobol_base": plan.sobol_base,
        "factors": exp.factor_paths,
        "metrics": list(exp.spec.metrics),
        "scenarios": list(exp.bases),
        "points": len(plan.points),
        "runs": plan.total_runs,
        "command": " ".join(sys.argv),
    }
    if store.meta_path.is_file():
        old = store.read_meta()
        meta["previous_model_versions"] = sorted(
            {*old.get("previous_model_versions", []), old.get("model_version")}
            - {plan.model_version, None}
        )
    write_text_atomic(store.meta_path, json.dumps(meta, indent=2) + "\n")
    write_text_atomic(store.path / "experiment.toml", exp.text or _spec_as_comment(exp))
    write_parquet_atomic(plan.points_frame(), store.points_path)
    for name, base in exp.bases.items():
        write_text_atomic(store.path / "scenarios" / f"{name}.toml", scenario_to_toml(base))


def _spec_as_comment(exp: Experiment) -> str:
    body = json.dumps(exp.spec.model_dump(), indent=2)
    return "# Experiment built in code; its fields as JSON:\n" + "".join(
        f"# {line}\n" for line in body.splitlines()
    )


def _run_in_process(plan: Plan, batcher: Batcher, writer: _Writer) -> None:
    while (batch := batcher.next_batch(None)) is not None:
        rows = run_batch(make_task(plan, batch))["rows"]
        batcher.observe(rows)
        writer.write(rows)


def open_client(
    workers: int | None,
    scheduler: str | None,
    dashboard: bool = False,
    connect_timeout: float | None = None,
):
    """A Dask client: to the scheduler at `scheduler`, or to a new local cluster.

    Returns:
        (client, cluster); cluster is None for a remote scheduler.

    Raises:
        TrustsimInputError: the scheduler cannot be reached within `connect_timeout`
            seconds (default `CONNECT_SECONDS`).
    """
    from distributed import Client

    if scheduler is not None:
        timeout = connect_timeout if connect_timeout is not None else CONNECT_SECONDS
        try:
            return Client(scheduler, timeout=timeout), None
        except (OSError, ValueError, TypeError) as exc:
            raise TrustsimInputError(
                f"--scheduler {scheduler}: cannot connect within {timeout:g} s ({exc}). Check "
                "the address (tcp://HOST:8786) and that the scheduler is running; "
                "--connect-timeout SECONDS waits longer. Nothing was written."
            ) from None
    n = workers if workers is not None else available_cpus()
    cluster = local_cluster(n, dashboard)
    return Client(cluster), cluster


def wait_for_workers(client, scheduler: str, timeout: float | None = None) -> None:
    """Wait until the scheduler has a worker: say so after a few seconds without one.

    Args:
        client: a client connected to `scheduler`.
        scheduler: its address, for the messages.
        timeout: give up after this many seconds (default: wait for as long as it takes,
            as a batch system may take hours to start the workers).

    Raises:
        SweepEnvironmentError: no worker joined within `timeout`.
    """
    first = (
        NO_WORKERS_NOTICE_SECONDS if timeout is None else min(timeout, NO_WORKERS_NOTICE_SECONDS)
    )
    with contextlib.suppress(TimeoutError):
        return client.wait_for_workers(1, timeout=first)
    if timeout is None or timeout > first:
        log.warning(
            "The scheduler at %s has no workers yet; waiting for one%s. Start workers with "
            "`dask worker %s`.",
            scheduler, "" if timeout is None else f" for up to {timeout:g} s", scheduler,
        )  # fmt: skip
        with contextlib.suppress(TimeoutError):
            rest = None if timeout is None else timeout - first
            return client.wait_for_workers(1, timeout=rest)
    raise SweepEnvironmentError(
        f"--scheduler {scheduler}: no worker joined within {timeout:g} s (--connect-timeout). "
        f"Nothing was written. Start workers (`dask worker {scheduler}`) and rerun."
    )


@contextlib.contextmanager
def _connected(workers, scheduler, client, dashboard, connect_timeout):
    """Yield a Dask client with at least one worker; close it afterwards if it is ours."""
    if client is not None:
        yield client
        return
    client, cluster = open_client(workers, scheduler, dashboard, connect_timeout)
    try:
        if scheduler is not None:
            try:
                wait_for_workers(client, scheduler, connect_timeout)
            except _CONNECTION_ERRORS:
                raise SweepEnvironmentError(
                    f"--scheduler {scheduler}: the connection was lost while waiting for "
                    "workers. Nothing was written; rerun once the scheduler is back."
                ) from None
        yield client
    finally:
        _close(client, cluster)


def _close(client, cluster) -> None:
    if client.status == "running":
        client.close()
    else:
        # The scheduler is gone: do not wait for it, nor let Dask log its interrupted
        # reconnection; the sweep says what happened in one message.
        loggers = [logging.getLogger(name) for name in ("distributed", "distributed.client")]
        levels = [logger.level for logger in loggers]
        try:
            for logger in loggers:
                logger.setLevel(logging.CRITICAL + 1)
            with contextlib.suppress(Exception):  # closing what is broken; nothing to save
                client.close(timeout=1)
        finally:
            for logger, level in zip(loggers, levels, strict=True):
                logger.setLevel(level)
    if cluster is not None:
        cluster.close()


def local_cluster(workers: int, dashboard: bool = False):
    """A LocalCluster of `workers` single-threaded worker processes, tuned for trustsim.

    Dask's nannies set MALLOC_TRIM_THRESHOLD_ in their workers to hand memory back to
    the OS. Any explicit trim threshold switches off glibc's adaptive mmap threshold, so
    each numpy array over 128 KiB is mmapped and page-faulted anew: a 30,000-buyer run
    took 45% longer in one worker and over 3x longer in each of two. Runs hold little
    memory between tasks, so the variable is left unset.

    Example:
        >>> from distributed import Client
        >>> with local_cluster(2) as cluster, Client(cluster) as client:
        ...     len(client.nthreads())
        2
    """
    import dask
    from distributed import LocalCluster

    with dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}):
        return LocalCluster(
            n_workers=workers,
            threads_per_worker=1,  # runs are single-threaded numpy; processes avoid the GIL
            processes=True,
            # Without a dashboard the scheduler still serves /health; a free port avoids
            # clashing with another cluster's 8787.
            dashboard_address=":8787" if dashboard else ":0",
            scheduler_kwargs={"dashboard": dashboard},
            silence_logs=logging.ERROR,  # cancelled tasks on Ctrl-C are expected
        )


def available_cpus() -> int:
    """CPUs this process may use (respects affinity masks set by batch schedulers)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def _submit_and_collect(client, plan: Plan, batcher: Batcher, writer: _Writer) -> None:
    """Keep at most IN_FLIGHT_PER_THREAD tasks per worker thread; write each as it ends.

    Raises:
        ClusterLostError: the connection to the scheduler is lost.
    """
    from distributed import as_completed

    in_flight: dict[str, tuple[Any, list[Run]]] = {}
    completed = as_completed()

    def connected() -> bool:
        return client.status == "running"

    def fill(threads: int) -> None:
        while len(in_flight) < IN_FLIGHT_PER_THREAD * threads:
            batch = batcher.next_batch(threads)
            if batch is None:
                return
            future = client.submit(
                run_batch,
                make_task(plan, batch),
                pure=False,
                key=f"trustsim-batch-{writer.session}-{secrets.token_hex(6)}",
            )
            in_flight[future.key] = (future, batch)
            completed.add(future)

    try:
        threads, checked = _threads(client), time.monotonic()
        fill(threads)
        for future in completed:
            _, batch = in_flight.pop(future.key)
            _collect(future, batch, plan, batcher, writer, connected)
            future.release()
            if time.monotonic() - checked > 5.0:  # workers come and go on a cluster
                threads, checked = _threads(client), time.monotonic()
            fill(threads)
    except (KeyboardInterrupt, SystemExit, SweepEnvironmentError, TrustsimInputError):
        _cancel(client, in_flight)
        raise
    except BaseException as exc:
        _cancel(client, in_flight)
        if not connected() or isinstance(exc, _CONNECTION_ERRORS):
            raise _cluster_lost(writer.store) from None
        raise


def _connection_errors() -> tuple[type[BaseException], ...]:
    import asyncio
    import concurrent.futures

    return (OSError, TimeoutError, asyncio.CancelledError, concurrent.futures.CancelledError)


# What Dask raises when a call needs the scheduler and the connection is gone.
_CONNECTION_ERRORS = _connection_errors()


def _cancel(client, in_flight: dict) -> None:
    if client.status != "running":
        return  # the scheduler dropped every task when it went away
    with contextlib.suppress(Exception):  # the connection may fail while we cancel
        client.cancel([future for future, _ in in_flight.values()], force=True)


def _cluster_lost(store: SweepDir) -> ClusterLostError:
    return ClusterLostError(
        f"the cluster went away (the connection to the Dask scheduler was lost). Every "
        f"completed batch is in {store.path}, and no run was recorded as failed because of "
        "this: rerun the same command to resume, on the same cluster once it is back or "
        "on another."
    )


def _collect(future, batch: list[Run], plan: Plan, batcher: Batcher, writer: _Writer,
             connected: Callable[[], bool]) -> None:  # fmt: skip
    """Write a finished batch; decide what a task that did not finish means.

    Only an exception raised by a run is a failed run, and `run_batch` already put it in
    the rows. A task cancelled or lost with the scheduler is the cluster's failure: it is
    submitted again while the client is connected, else the sweep stops and a rerun
    resumes. A task that killed every worker that ran it (`KilledWorker`, after Dask's
    own retries) is split until one run is left, which is recorded as failed: that run
    takes its worker down (most likely it needs more memory than a worker has). Any
    other error of a task comes from the workers' set-up (another trustsim, a missing
    package) and stops the sweep without recording its runs.
    """
    from distributed import KilledWorker

    if future.status == "finished":
        rows = future.result()["rows"]
        batcher.observe(rows)
        writer.write(rows)
        return
    if future.status != "error":
        if not connected():
            raise _cluster_lost(writer.store)
        batcher.requeue(batch)
        return
    error = future.exception()
    if not isinstance(error, KilledWorker):
        raise SweepEnvironmentError(
            f"a worker could not run a task: {type(error).__name__}: {error}. No run of it "
            f"was recorded; fix the workers, then rerun the same command to resume "
            f"({writer.store.path} keeps every completed batch)."
        )
    if len(batch) > 1:
        batcher.retry(batch)
        return
    message = (
        f"KilledWorker: every worker that ran this run died ({error}); "
        "it may need more memory than a worker has"
    )
    writer.write([_failed_row(plan, writer, batch[0], message)])


def _failed_row(plan: Plan, writer: _Writer, run: Run, message: str) -> dict:
    return {
        "key": run.key,
        "params_hash": plan.points[run.point].params_hash,
        "replication": run.replication,
        "status": "failed",
        "error": message,
        "seconds": math.nan,
        "worker": None,
        **{m: math.nan for m in writer.metrics},
    }


# ------------------------------------------------------------------------ progress
class ProgressDisplay:
    """Runs done of total, failures, elapsed time and ETA on stderr.

    On a terminal a rich progress bar; elsewhere (a batch job's log) one line every
    `every` seconds, so cluster logs show progress without control characters.
    """

    def __init__(self, label: str, every: float = 30.0):
        from rich.console import Console

        self.console = Console(stderr=True, highlight=False)
        self.label = label
        self.every = every
        self._bar = None
        self._task = None
        self._last = -math.inf
        self._start = time.monotonic()
        self._first: int | None = None

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs, {task.fields[failed]} failed"), TimeElapsedColumn(),
                TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
            )  # fmt: skip
            self._bar.start()
        return self

    def __call__(self, done: int, total: int, failed: int) -> None:
        if self._bar is not None:
            if self._task is None:
                self._task = self._bar.add_task(self.label, total=total, completed=done, failed=0)
            self._bar.update(self._task, completed=done, total=total, failed=failed)
            return
        now = time.monotonic()
        if self._first is None:
            self._first = done
        if now - self._last >= self.every or done == total:
            self._last = now
            self.console.print(f"{self.label}: {done}/{total} runs, {failed} failed, "
                               f"ETA {self._eta(done, total, now)}")  # fmt: skip

    def _eta(self, done: int, total: int, now: float) -> str:
        rate = (done - (self._first or 0)) / max(now - self._start, 1e-9)
        if done >= total:
            return "0:00:00"
        if rate <= 0:
            return "unknown"
        return time.strftime("%H:%M:%S", time.gmtime((total - done) / rate))

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.stop()

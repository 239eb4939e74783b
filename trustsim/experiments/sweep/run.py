"""`sweep`: plan an experiment, skip what is on disk, run the rest, write as it comes."""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from trustsim.errors import TrustsimInputError
from trustsim.experiments.experiment import Experiment, load_experiment
from trustsim.experiments.store import SweepDir, storage_errors
from trustsim.experiments.sweep.batching import Batcher
from trustsim.experiments.sweep.cluster import _connected, _submit_and_collect
from trustsim.experiments.sweep.plan import Plan, plan_sweep
from trustsim.experiments.sweep.resume import (
    _count_pending,
    _pending,
    _Writer,
    check_target,
    resume_hint,
    write_metadata,
)
from trustsim.experiments.sweep.worker import make_task, run_batch

ProgressCallback = Callable[[int, int, int], None]


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


def _run_in_process(plan: Plan, batcher: Batcher, writer: _Writer) -> None:
    while (batch := batcher.next_batch(None)) is not None:
        rows = run_batch(make_task(plan, batch))["rows"]
        batcher.observe(rows)
        writer.write(rows)

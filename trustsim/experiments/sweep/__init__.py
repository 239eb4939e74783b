"""Parameter sweeps on Dask: batched, bounded, written as they come, resumable.

A sweep plans every run of an experiment (design point x replication), skips the runs
whose keys are already on disk, groups the rest into tasks of about a second, keeps a
bounded number of tasks in flight on a Dask cluster (or in-process), and writes each
completed task as one Parquet part.

One module per concern:
    plan      design points, runs and their keys; the model version (`plan_sweep`)
    worker    a batch of runs as a picklable task, and running it (`run_batch`)
    batching  cutting pending runs into tasks of about a second (`Batcher`)
    resume    what a sweep directory holds, writing parts, counting what is done
    cluster   Dask: connecting, the local cluster, tasks in flight, lost workers
    run       `sweep` itself, which ties them together

The progress display of the command line is `trustsim.terminal.ProgressDisplay`.
"""

from trustsim.experiments.store import SweepEnvironmentError
from trustsim.experiments.sweep.batching import IN_FLIGHT_PER_THREAD, TARGET_TASK_SECONDS, Batcher
from trustsim.experiments.sweep.cluster import (
    CONNECT_SECONDS,
    NO_WORKERS_NOTICE_SECONDS,
    ClusterLostError,
    available_cpus,
    local_cluster,
    open_client,
    wait_for_workers,
)
from trustsim.experiments.sweep.plan import (
    MAX_POINTS,
    MAX_RUNS,
    MODEL_FUNCTIONS,
    MODEL_SOURCES,
    Plan,
    Point,
    Run,
    check_plan_size,
    model_version,
    params_hash,
    plan_size,
    plan_sweep,
    run_key,
)
from trustsim.experiments.sweep.resume import (
    SWEEP_ENTRIES,
    check_target,
    resume_hint,
    write_metadata,
)
from trustsim.experiments.sweep.run import ProgressCallback, SweepReport, sweep
from trustsim.experiments.sweep.worker import BatchTask, make_task, run_batch

__all__ = [
    "CONNECT_SECONDS",
    "IN_FLIGHT_PER_THREAD",
    "MAX_POINTS",
    "MAX_RUNS",
    "MODEL_FUNCTIONS",
    "MODEL_SOURCES",
    "NO_WORKERS_NOTICE_SECONDS",
    "SWEEP_ENTRIES",
    "TARGET_TASK_SECONDS",
    "BatchTask",
    "Batcher",
    "ClusterLostError",
    "Plan",
    "Point",
    "ProgressCallback",
    "Run",
    "SweepEnvironmentError",
    "SweepReport",
    "available_cpus",
    "check_plan_size",
    "check_target",
    "local_cluster",
    "make_task",
    "model_version",
    "open_client",
    "params_hash",
    "plan_size",
    "plan_sweep",
    "resume_hint",
    "run_batch",
    "run_key",
    "sweep",
    "wait_for_workers",
    "write_metadata",
]

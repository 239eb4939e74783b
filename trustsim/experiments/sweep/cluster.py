"""Sweeps on Dask: connecting, a tuned local cluster, and a bounded number of tasks in flight.

Only an exception raised by a run makes a failed run; a lost task, worker or scheduler
never does, so its runs are simply run on resume.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from trustsim.errors import TrustsimInputError
from trustsim.experiments.store import SweepDir, SweepEnvironmentError
from trustsim.experiments.sweep.batching import IN_FLIGHT_PER_THREAD, Batcher
from trustsim.experiments.sweep.plan import Plan, Run
from trustsim.experiments.sweep.resume import _Writer
from trustsim.experiments.sweep.worker import make_task, run_batch

# Seconds to reach a --scheduler when no --connect-timeout is given, and before saying
# that a reachable scheduler has no workers yet.
CONNECT_SECONDS = 10.0
NO_WORKERS_NOTICE_SECONDS = 5.0

log = logging.getLogger(__name__)


class ClusterLostError(SweepEnvironmentError):
    """The Dask scheduler went away mid-sweep; no run was recorded as failed because of it."""


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
    # Dask logs a lost connection with its traceback from its own threads, as soon as it
    # happens and before the sweep notices; the sweep reports it in one message instead.
    quiet = _DropTracebacks()
    handlers = logging.getLogger("distributed").handlers
    for handler in handlers:
        handler.addFilter(quiet)
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
        for handler in handlers:
            handler.removeFilter(quiet)


class _DropTracebacks(logging.Filter):
    """Drop Dask's records that carry a traceback (a broken connection's internals)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.exc_info is None and not record.exc_text


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

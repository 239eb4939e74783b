"""Cutting the pending runs of a sweep into tasks of about a second of work."""

from __future__ import annotations

import itertools
import math
from collections import deque
from collections.abc import Iterator

from trustsim.experiments.sweep.plan import Run

TARGET_TASK_SECONDS = 1.0
# Tasks in flight per worker thread: enough that no worker waits for the client.
IN_FLIGHT_PER_THREAD = 2


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

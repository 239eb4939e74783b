"""Progress on stderr: a bar on a terminal, a line now and then in a log."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

from trustsim.terminal.console import console as _console


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool = True, label: str = "Simulating") -> Iterator:
    """Yield a progress(done, total) callback; a bar appears on stderr after one second."""
    state: dict = {"progress": None, "task": None, "start": time.monotonic()}

    def advance(done: int, total_now: int) -> None:
        if not enabled:
            return
        if state["progress"] is None:
            if time.monotonic() - state["start"] < 1.0:
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            state["progress"] = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs"), TimeRemainingColumn(),
                console=_console(stderr=True), transient=True,
            )  # fmt: skip
            state["progress"].start()
            state["task"] = state["progress"].add_task(label, total=total_now)
        state["progress"].update(state["task"], completed=done, total=total_now)

    try:
        yield advance
    finally:
        if state["progress"] is not None:
            state["progress"].stop()


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

"""The on-disk layout of a sweep: metadata, design points and Parquet parts of runs.

    DIR/sweep.json          what was planned: experiment, seed, model version, factors
    DIR/experiment.toml     the experiment file as given (provenance)
    DIR/points.parquet      one row per design point: scenario, factor values, params hash
    DIR/scenarios/*.toml    each base scenario, fully resolved
    DIR/parts/part-*.parquet  one file per completed batch of runs, keyed by run key
    DIR/sensitivity.*       written by `trustsim sensitivity`

    DIR/parts/corrupt/      parts that could not be read, set aside (their runs rerun)

Every file is written under a temporary name, flushed to disk and renamed, so a crash
(even SIGKILL or a node failure) leaves only complete files. A run is on disk when its
key is in some part; readers keep one row per key (a successful row over a failed one),
so a crash in the middle of `--compact` cannot duplicate results. A part that cannot be
read anyway (a disk error, a file copied in by hand) is moved to `parts/corrupt/` with a
warning: its runs count as missing and the next sweep reruns them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    import pandas as pd

PART_GLOB = "part-*.parquet"
# Columns every part has, before the metric columns.
RUN_COLUMNS = ("key", "params_hash", "replication", "status", "error", "seconds", "worker")
# Fields of sweep.json every reader relies on, with their JSON types.
META_FIELDS = {
    "experiment": str,
    "seed": int,
    "replications": int,
    "model_version": str,
    "design": dict,
    "factors": list,
    "metrics": list,
    "scenarios": list,
}
POINT_COLUMNS = ("point", "scenario", "params_hash", "error")
# File-system errors that mean the path the user gave is wrong, not that the machine failed.
PATH_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR,
     errno.ENAMETOOLONG, errno.ELOOP}
)  # fmt: skip

log = logging.getLogger(__name__)


class SweepEnvironmentError(Exception):
    """The machine stopped the work, not the user's input: a full disk, a lost cluster.

    The message says what happened and that rerunning the same command resumes: what
    is on disk is complete. The CLI prints it and exits with code 1.
    """


def storage_error(exc: OSError, action: str, hint: str, path=None) -> Exception:
    """A file-system error as one message: the user's path (exit 2) or the machine (exit 1).

    Args:
        exc: the error raised by the file system.
        action: what was being done, e.g. "write a part of the results".
        hint: what to do about a failure of the machine (e.g. free space and resume).
        path: the file being written, named when the error does not say (pyarrow's).

    Example:
        >>> import errno
        >>> error = OSError(errno.ENOSPC, "No space left on device", "out/parts/p")
        >>> str(storage_error(error, "write a part", "Free space."))
        'out/parts/p: cannot write a part (No space left on device). Free space.'
    """
    where = exc.filename or path or "the results directory"
    reason = exc.strerror or str(exc)
    # pyarrow raises OSError without errno; its message carries "[errno N]".
    found = re.search(r"\[errno (\d+)\]", reason)
    code = exc.errno if exc.errno is not None or not found else int(found.group(1))
    if code in PATH_ERRNOS:
        return TrustsimInputError(
            f"{where}: cannot {action} ({reason}). Give a directory you can write to, "
            "every part of whose path is a directory."
        )
    return SweepEnvironmentError(f"{where}: cannot {action} ({reason}). {hint}")


@contextlib.contextmanager
def storage_errors(action: str, hint: str, path=None) -> Iterator[None]:
    """Turn an `OSError` of the file operations inside into `storage_error`'s message.

    Wrap file operations only: Dask's connection errors are `OSError`s too.
    """
    try:
        yield
    except OSError as exc:
        raise storage_error(exc, action, hint, path) from None


class SweepDir:
    """A sweep's output directory.

    Example:
        >>> store = SweepDir("sweeps/grid")
        >>> store.parts_dir.name
        'parts'
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def parts_dir(self) -> Path:
        return self.path / "parts"

    @property
    def meta_path(self) -> Path:
        return self.path / "sweep.json"

    @property
    def points_path(self) -> Path:
        return self.path / "points.parquet"

    def part_files(self) -> list[Path]:
        """Complete part files, oldest name first (temporary files start with a dot)."""
        if not self.parts_dir.is_dir():
            return []
        return sorted(self.parts_dir.glob(PART_GLOB))

    def remove_stale_temporaries(self) -> int:
        """Delete temporary files left by a killed writer; call only while holding the lock."""
        removed = 0
        for folder in (self.path, self.parts_dir):
            if folder.is_dir():
                for tmp in folder.glob(".*.tmp"):
                    tmp.unlink(missing_ok=True)
                    removed += 1
        return removed

    def read_meta(self) -> dict:
        """The sweep's metadata, or a clear error if DIR holds no sweep or a broken one."""
        if not self.meta_path.is_file():
            raise TrustsimInputError(
                f"{self.path}: no sweep here (no sweep.json). Give the --out directory of a "
                "`trustsim sweep`, or run one first."
            )
        try:
            text = self.meta_path.read_text(encoding="utf-8")
            meta = json.loads(text)
        except UnicodeDecodeError:
            problem = "it is not text"
        except json.JSONDecodeError as exc:
            problem = "it is empty" if not text.strip() else f"it is not valid JSON ({exc})"
        except OSError as exc:
            problem = f"it cannot be read ({exc.strerror or exc})"
        else:
            problem = _meta_problem(meta)
        if problem:
            raise TrustsimInputError(
                f"{self.meta_path}: not a sweep description: {problem}. {self._rewrite_hint()}"
            )
        return meta

    def read_points(self) -> pd.DataFrame:
        """One row per design point, or a clear error if points.parquet is missing or broken."""
        import pandas as pd
        import pyarrow as pa

        if not self.points_path.is_file():
            problem = "missing"
        else:
            try:
                points = pd.read_parquet(self.points_path)
            except (pa.ArrowException, OSError, ValueError) as exc:
                problem = f"cannot be read ({_first_line(exc)})"
            else:
                absent = [c for c in POINT_COLUMNS if c not in points.columns]
                if not absent:
                    return points
                problem = f"has no {absent[0]!r} column"
        raise TrustsimInputError(f"{self.points_path}: {problem}. {self._rewrite_hint()}")

    def _rewrite_hint(self) -> str:
        return (
            f"If {self.path} holds a sweep, delete {self.meta_path.name} and rerun its "
            f"`trustsim sweep EXPERIMENT --out {self.path}`: the metadata is written anew "
            f"and the runs in {self.parts_dir} are kept."
        )

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on DIR, so two sweeps never write the same runs twice.

        The kernel drops the lock when the process dies, even by SIGKILL.
        """
        import fcntl

        with storage_errors("write in the results directory", "Check the disk and rerun."):
            self.path.mkdir(parents=True, exist_ok=True)
            fh = (self.path / ".lock").open("a+")
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.seek(0)
                owner = fh.read().strip() or "another process"
                raise TrustsimInputError(
                    f"{self.path}: in use by a running trustsim sweep ({owner}). Wait for it "
                    "to finish, or give another --out directory."
                ) from None
            fh.seek(0)
            fh.truncate()
            fh.write(f"pid {os.getpid()}")
            fh.flush()
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def read_runs(self, columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Every run on disk, one row per key (successful rows win over failed ones).

        A part that cannot be read is set aside (see `set_aside`) and its runs are missing.
        """
        return self.read_parts(columns)[0]

    def read_parts(self, columns: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[Path]]:
        """(`read_runs`'s table, the parts it was read from)."""
        frames, parts = [], []
        for part in self.part_files():
            frame = self._read_part(part, columns)
            if frame is not None:
                frames.append(frame)
                parts.append(part)
        return _one_row_per_key(frames, columns), parts

    def _read_part(self, part: Path, columns: Sequence[str] | None) -> pd.DataFrame | None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            available = pq.read_schema(part).names
            if "key" not in available:
                raise ValueError("it has no 'key' column")
            wanted = None if columns is None else [c for c in columns if c in available]
            return pq.read_table(part, columns=wanted).to_pandas()
        except FileNotFoundError:
            return None  # merged by a `--compact` running meanwhile; its runs are in the merge
        except PermissionError as exc:
            raise TrustsimInputError(
                f"{part}: cannot be read ({exc.strerror}). Give yourself read access to "
                f"{self.parts_dir}."
            ) from None
        except (pa.ArrowException, OSError, ValueError) as exc:
            self.set_aside(part, _first_line(exc))
            return None

    def set_aside(self, part: Path, reason: str) -> None:
        """Move an unreadable part to parts/corrupt/ and warn, naming it.

        Its runs then count as missing, so the next sweep reruns them; the file is kept
        for a post-mortem. Where the directory is read-only the part stays and is skipped.
        """
        corrupt = self.parts_dir / "corrupt"
        try:
            corrupt.mkdir(exist_ok=True)
            target = corrupt / part.name
            suffix = 1
            while target.exists():
                target = corrupt / f"{part.stem}.{suffix}{part.suffix}"
                suffix += 1
            os.replace(part, target)
            where = f"moved to {target}"
        except OSError as exc:
            where = f"skipped (it cannot be moved aside: {exc.strerror or exc})"
        log.warning(
            "%s cannot be read (%s); %s. Its runs count as missing: the next `trustsim "
            "sweep` into %s reruns them.",
            part, reason, where, self.path,
        )  # fmt: skip

    def done_keys(self) -> tuple[set[str], set[str]]:
        """(keys of every run on disk, keys of those that failed)."""
        runs = self.read_runs(["key", "status"])
        keys = set(runs["key"])
        failed = set(runs.loc[runs["status"] != "ok", "key"])
        return keys, failed


def _meta_problem(meta) -> str:
    """What is wrong with parsed sweep.json contents, or "" if nothing."""
    if not isinstance(meta, dict):
        return f"it holds a JSON {type(meta).__name__}, not an object"
    for name, kind in META_FIELDS.items():
        if not isinstance(meta.get(name), kind):
            return f"it has no valid {name!r} field"
    if not isinstance(meta["design"].get("method"), str):
        return "it has no valid 'design.method' field"
    return ""


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _one_row_per_key(frames: list, columns: Sequence[str] | None) -> pd.DataFrame:
    import pandas as pd

    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in (columns or RUN_COLUMNS)})
    # Part names sort by time of writing; newest first, so a run retried with
    # --retry-failed that fails again shows its latest error.
    runs = pd.concat(frames[::-1], ignore_index=True)
    if "status" in runs.columns:
        # Stable sort: among rows of one key, "ok" first, then the latest part.
        runs = runs.sort_values("status", key=lambda s: s != "ok", kind="stable")
    return runs.drop_duplicates("key", keep="first").reset_index(drop=True)


def write_part(rows: list[dict], metrics: Sequence[str], target: Path) -> None:
    """Write the rows of a batch as one Parquet part, atomically, with a fixed schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trustsim.output import atomic_path

    fields = [
        pa.field("key", pa.string()),
        pa.field("params_hash", pa.string()),
        pa.field("replication", pa.int64()),
        pa.field("status", pa.string()),
        pa.field("error", pa.string()),
        pa.field("seconds", pa.float64()),
        pa.field("worker", pa.string()),
        *[pa.field(m, pa.float64()) for m in metrics],
    ]
    schema = pa.schema(fields)
    columns = {f.name: [row.get(f.name) for row in rows] for f in fields}
    table = pa.Table.from_pydict(columns, schema=schema)
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp)

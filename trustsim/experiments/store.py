"""The on-disk layout of a sweep: metadata, design points and Parquet parts of runs.

    DIR/sweep.json          what was planned: experiment, seed, model version, factors
    DIR/experiment.toml     the experiment file as given (provenance)
    DIR/points.parquet      one row per design point: scenario, factor values, params hash
    DIR/scenarios/*.toml    each base scenario, fully resolved
    DIR/parts/part-*.parquet  one file per completed batch of runs, keyed by run key
    DIR/sensitivity.*       written by `trustsim sensitivity`

Every file is written under a temporary name and renamed, so a crash (even SIGKILL)
leaves only complete files. A run is on disk when its key is in some part; readers
keep one row per key (a successful row over a failed one), so a crash in the middle of
`--compact` cannot duplicate results.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    import pandas as pd

PART_GLOB = "part-*.parquet"
# Columns every part has, before the metric columns.
RUN_COLUMNS = ("key", "params_hash", "replication", "status", "error", "seconds", "worker")


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
        """The sweep's metadata, or a clear error if DIR holds no sweep."""
        if not self.meta_path.is_file():
            raise TrustsimInputError(
                f"{self.path}: no sweep here (no sweep.json). Give the --out directory of a "
                "`trustsim sweep`, or run one first."
            )
        return json.loads(self.meta_path.read_text(encoding="utf-8"))

    def read_points(self) -> pd.DataFrame:
        import pandas as pd

        return pd.read_parquet(self.points_path)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold an exclusive lock on DIR, so two sweeps never write the same runs twice.

        The kernel drops the lock when the process dies, even by SIGKILL.
        """
        import fcntl

        self.path.mkdir(parents=True, exist_ok=True)
        lock_path = self.path / ".lock"
        with lock_path.open("a+") as fh:
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
        """Every run on disk, one row per key (successful rows win over failed ones)."""
        import pandas as pd
        import pyarrow.parquet as pq

        frames = []
        for part in self.part_files():
            available = pq.read_schema(part).names
            wanted = None if columns is None else [c for c in columns if c in available]
            frames.append(pq.read_table(part, columns=wanted).to_pandas())
        if not frames:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in (columns or RUN_COLUMNS)})
        runs = pd.concat(frames, ignore_index=True)
        if "status" in runs.columns:
            # Stable sort: among rows of one key, "ok" first, then the earliest part.
            runs = runs.sort_values("status", key=lambda s: s != "ok", kind="stable")
        return runs.drop_duplicates("key", keep="first").reset_index(drop=True)

    def done_keys(self) -> tuple[set[str], set[str]]:
        """(keys of every run on disk, keys of those that failed)."""
        runs = self.read_runs(["key", "status"])
        keys = set(runs["key"])
        failed = set(runs.loc[runs["status"] != "ok", "key"])
        return keys, failed


def write_part(rows: list[dict], metrics: Sequence[str], target: Path) -> None:
    """Write the rows of a batch as one Parquet part, atomically, with a fixed schema."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from trustsim.experiments.output import atomic_path

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

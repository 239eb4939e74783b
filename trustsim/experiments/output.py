"""Atomic, durable file writes: a result file is either complete on disk or not there.

Every output of every command goes through `atomic_path` (or `atomic_directory` for a
set of files that belong together): the data is written to a temporary name in the
target's own directory, flushed to disk (`fsync` of the file, then of the directory, so
a node crash cannot leave a zero-length file behind the rename) and renamed into place.
Files get the permissions the user's umask allows, like any file a program creates.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    # os.umask can only be read by setting it; restore at once (single-threaded CLI use).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_path(path: str | Path) -> None:
    """Flush a file or directory's data and metadata to disk (best effort for dirs)."""
    flags = os.O_RDONLY | (os.O_DIRECTORY if Path(path).is_dir() else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        # Some file systems (and directories on some platforms) do not support fsync.
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success make it durable and rename it.

    The rename is atomic on POSIX, so readers never see a half-written file and an
    interrupted write leaves nothing behind. mkstemp creates files 0600; the file is
    given 0666 minus the umask, as `open()` would.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())
        fsync_path(tmp_path)
        os.replace(tmp_path, target)
        fsync_path(target.parent)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside `target`; on success it replaces `target`.

    For outputs made of several files (a deck with its CSVs, a run's Parquet files): the
    whole set appears at once or not at all. An existing `target` is moved aside first and
    removed only after the new one is in place, so a failure never loses the old result.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o777 & ~_umask())
        for child in tmp_path.rglob("*"):
            if child.is_file():
                fsync_path(child)
        fsync_path(tmp_path)
        old = None
        if target.exists():
            old = Path(
                tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target.parent)
            )
            os.rmdir(old)
            os.replace(target, old)
        os.replace(tmp_path, target)
        fsync_path(target.parent)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp_path, ignore_errors=True)
        raise


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet_atomic(frame, target: str | Path) -> None:
    """Write a pandas DataFrame as Parquet atomically."""
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)

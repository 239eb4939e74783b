"""Atomic, durable file writes: a result file is either complete on disk or not there.

Every output of every command goes through `atomic_path` (or `atomic_directory` for a
set of files that belong together, `staged_outputs` for several outputs that are
committed together): the data is written to a temporary name in the target's own
directory, flushed to disk (`fsync` of the file, then of the directory, so a node crash
cannot leave a zero-length file behind the rename) and renamed into place. Files get the
permissions the user's umask allows, like any file a program creates.

A result directory (`trustsim run/compare/demo/features --out DIR`) is one result:
`check_result_target` refuses to replace a directory that holds another one unless the
user says `--force`, and never replaces a directory holding files trustsim did not write.
A failed write reaches the user as an `OutputError`: one message saying what was not
written, why, and what to do, with exit code 2 for a path the user can change and 1 for
the environment (a full disk).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trustsim.errors import TrustsimInputError

# Files a trustsim result directory may hold; a directory holding anything else is
# the user's, and trustsim never replaces it.
RESULT_FILES = frozenset(
    {
        "run.json", "summaries.parquet", "timeseries.parquet", "differences.parquet",
        "features.parquet", "features.csv", "scenarios", "charts", "trace.parquet",
        "trace.csv", "sweep.json", "points.parquet", "experiment.toml", "parts",
        "sensitivity.parquet", "sensitivity.csv", "replays.parquet",
    }
)  # fmt: skip


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


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()


@dataclass
class _Entry:
    target: Path
    staged: Path | None  # None: the target is removed when the group is committed
    aside: Path | None = None
    placed: bool = False


@dataclass
class Staging:
    """Temporary copies of outputs that replace their targets together or not at all.

    Each output is written to a temporary name beside its target. `commit` first makes
    every copy durable, then moves each old target aside and the new one into place;
    if any rename fails, the ones already done are undone, so the old set stays whole.
    """

    entries: list[_Entry] = field(default_factory=list)
    made: list[Path] = field(default_factory=list)  # folders created for the targets

    def _parent(self, target: Path) -> None:
        """Create `target`'s missing folders, remembered so `discard` can take them away."""
        missing = [folder for folder in (target.parent, *target.parent.parents)
                   if not folder.exists()]  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        self.made.extend(reversed(missing))

    def file(self, target: str | Path) -> Path:
        """A temporary file beside `target` (created empty, to be written by the caller)."""
        target = Path(target)
        self._parent(target)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        os.close(fd)
        self.entries.append(_Entry(target, Path(tmp)))
        return Path(tmp)

    def directory(self, target: str | Path) -> Path:
        """An empty temporary directory beside `target`."""
        target = Path(target)
        self._parent(target)
        tmp = tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        self.entries.append(_Entry(target, Path(tmp)))
        return Path(tmp)

    def remove(self, target: str | Path) -> None:
        """Remove `target` on commit: an old output that the new set does not replace."""
        self.entries.append(_Entry(Path(target), None))

    def commit(self) -> None:
        """Make every staged output durable, then swap all of them into place."""
        self._make_durable()
        try:
            for entry in self.entries:
                self._swap(entry)
        except BaseException:
            self._roll_back()
            raise
        for parent in {entry.target.parent for entry in self.entries}:
            fsync_path(parent)
        for entry in self.entries:
            if entry.aside is not None:
                _remove(entry.aside)

    def discard(self) -> None:
        """Delete the temporary copies and the folders made for them; the targets are left
        as they were."""
        for entry in self.entries:
            if entry.staged is not None and not entry.placed:
                _remove(entry.staged)
        for folder in reversed(self.made):  # deepest first; only if nothing else is there
            with contextlib.suppress(OSError):
                folder.rmdir()

    def _make_durable(self) -> None:
        mask = _umask()
        for entry in self.entries:
            staged = entry.staged
            if staged is None:
                continue
            if staged.is_dir():
                # mkdtemp makes 0700 directories; give the umask's, as mkdir would.
                os.chmod(staged, 0o777 & ~mask)
                for child in staged.rglob("*"):
                    if child.is_file():
                        fsync_path(child)
            else:
                # mkstemp makes 0600 files; give the umask's, as open() would.
                os.chmod(staged, 0o666 & ~mask)
            fsync_path(staged)

    def _swap(self, entry: _Entry) -> None:
        target = entry.target
        staged = entry.staged
        if staged is not None and _exists(target) and target.is_dir() != staged.is_dir():
            # Never swap a directory for a file or back: the old one is not ours to move.
            code = errno.EISDIR if target.is_dir() else errno.ENOTDIR
            raise OSError(code, os.strerror(code), str(target))
        single_file = len(self.entries) == 1 and entry.staged is not None
        needs_aside = _exists(target) and not (single_file and not target.is_dir())
        if needs_aside:
            aside = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
            os.replace(target, aside)
            entry.aside = aside
        if entry.staged is not None:
            # A lone file replaces its target in one atomic rename; a set needs the old
            # copies aside so that a failure part-way can put them back.
            os.replace(entry.staged, target)
            entry.placed = True

    def _roll_back(self) -> None:
        for entry in reversed(self.entries):
            if entry.placed:
                _remove(entry.target)
            if entry.aside is not None and _exists(entry.aside):
                os.replace(entry.aside, entry.target)
        self.discard()


@contextlib.contextmanager
def staged_outputs() -> Iterator[Staging]:
    """Stage several outputs; on success they all replace their targets, else none does.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with staged_outputs() as staging:
        ...     staging.file(folder / "a.txt").write_text("a")
        ...     staging.file(folder / "b.txt").write_text("b")
        1
        1
        >>> sorted(p.name for p in folder.iterdir())
        ['a.txt', 'b.txt']
    """
    staging = Staging()
    try:
        yield staging
    except BaseException:
        staging.discard()
        raise
    staging.commit()


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; on success make it durable and rename it.

    The rename is atomic on POSIX, so readers never see a half-written file and an
    interrupted write leaves nothing behind. mkstemp creates files 0600; the file is
    given 0666 minus the umask, as `open()` would.
    """
    with staged_outputs() as staging:
        yield staging.file(target)


@contextlib.contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield an empty temporary directory beside `target`; on success it replaces `target`.

    For outputs made of several files (a deck with its CSVs, a run's Parquet files): the
    whole set appears at once or not at all. An existing `target` is moved aside first and
    removed only after the new one is in place, so a failure never loses the old result.
    """
    with staged_outputs() as staging:
        yield staging.directory(target)


def write_text_atomic(target: str | Path, text: str) -> None:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_parquet_atomic(frame, target: str | Path) -> None:
    """Write a pandas DataFrame as Parquet atomically."""
    with atomic_path(target) as tmp:
        frame.to_parquet(tmp, index=False)


# ------------------------------------------------------------ result directories
def describe_result(folder: Path) -> str | None:
    """What a result directory holds, in words; None for a missing or empty directory.

    Raises:
        TrustsimInputError: the directory holds files trustsim did not write.
    """
    if not folder.is_dir() or not any(folder.iterdir()):
        return None
    run_json, sweep_json = folder / "run.json", folder / "sweep.json"
    if run_json.is_file():
        meta = _read_json(run_json)
        if meta is None:
            return "a result whose run.json cannot be read"
        kind = meta.get("kind", "run")
        names = [str(n) for n in meta.get("scenarios") or []] or ["unknown scenarios"]
        more = f" and {len(names) - 3} more" if len(names) > 3 else ""
        return f"a `trustsim {kind}` result of {', '.join(names[:3])}{more}"
    if sweep_json.is_file():
        meta = _read_json(sweep_json) or {}
        return f"a sweep of {meta.get('experiment', 'an experiment')}"
    if (folder / "trace.parquet").is_file() or (folder / "trace.csv").is_file():
        return "a buyer trace"
    foreign = sorted(p.name for p in folder.iterdir() if p.name not in RESULT_FILES)
    if foreign:
        raise TrustsimInputError(
            f"--out {folder}: the directory holds files trustsim did not write "
            f"({', '.join(foreign[:3])}{', ...' if len(foreign) > 3 else ''}); an output "
            "directory is replaced whole, so give a new or empty directory."
        )
    return "an incomplete trustsim result"


def result_identity(folder: Path) -> tuple[str, list[str]] | None:
    """(kind, scenario names) of the run result in `folder`, if it holds one."""
    run_json = folder / "run.json"
    if not run_json.is_file():
        return None
    meta = _read_json(run_json)
    if meta is None:
        return None
    return str(meta.get("kind", "run")), [str(n) for n in meta.get("scenarios") or []]


def check_result_target(
    out: str | Path, kind: str, scenarios: Sequence[str], force: bool = False
) -> None:
    """Refuse to replace a directory that holds a different result, unless `force`.

    The same kind of result of the same scenarios (a rerun, perhaps with other seeds or
    replications) replaces the directory whole; so does anything with `force`. A
    directory holding files trustsim did not write is never replaced.

    Raises:
        TrustsimInputError: `out` is a file, holds another result (without `force`), or
            holds someone else's files.
    """
    folder = Path(out)
    if _exists(folder) and not folder.is_dir():
        raise TrustsimInputError(f"--out {folder}: is a file; give a directory.")
    if Path.cwd().resolve().is_relative_to(folder.resolve()):
        raise TrustsimInputError(
            f"--out {folder}: contains the current directory, and a result directory is "
            "replaced whole; name a subdirectory, e.g. --out results/."
        )
    held = describe_result(folder)
    if held is None or force:
        return
    if result_identity(folder) == (kind, list(scenarios)):
        return
    raise TrustsimInputError(
        f"--out {folder} already holds {held}; a directory is one result. "
        "Choose another --out, or add --force to replace it."
    )


def _read_json(file: Path) -> dict | None:
    """A trustsim JSON file as a dict; None if it cannot be read or is not an object."""
    try:
        data = json.loads(file.read_bytes().decode("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# ---------------------------------------------------------------- write failures
# errno -> (what went wrong, who can fix it). "path" errors are the user's to fix by
# choosing another path (exit 2); "environment" errors need the machine fixed (exit 1).
_REASONS = {
    errno.ENOSPC: ("the disk is full", "environment"),
    errno.EDQUOT: ("the disk quota is exceeded", "environment"),
    errno.EIO: ("an input/output error occurred on the device", "environment"),
    errno.EMFILE: ("too many files are open", "environment"),
    errno.EROFS: ("the file system is read-only", "path"),
    errno.EACCES: ("permission denied", "path"),
    errno.EPERM: ("operation not permitted", "path"),
    errno.ENOTDIR: ("a part of the path is a file, not a directory", "path"),
    errno.EISDIR: ("it is a directory", "path"),
    errno.EEXIST: ("a file is in the way", "path"),
    errno.ENOENT: ("no such file or directory", "path"),
    errno.ENAMETOOLONG: ("the file name is too long", "path"),
    errno.EXDEV: ("the temporary copy is on another device", "environment"),
}
_ADVICE = {
    "path": "Choose another path (a writable directory) and run the command again.",
    "environment": "Free some space (or fix the device) and run the command again.",
}


def _blocking_file(path: Path) -> Path | None:
    """The first part of `path` that exists as a file (why a mkdir says ENOTDIR)."""
    for part in (*reversed(path.parents), path):
        if part.is_file():
            return part
    return None


def explain_os_error(exc: OSError) -> tuple[str, int]:
    """(the reason in words, exit code) for a failed file operation.

    Example:
        >>> explain_os_error(OSError(errno.ENOSPC, "No space left on device"))
        ('the disk is full', 1)
    """
    reason, owner = _REASONS.get(exc.errno, (exc.strerror or str(exc), "environment"))
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and exc.filename:
        blocking = _blocking_file(Path(exc.filename))
        if blocking is not None:
            reason = f"{blocking} is a file, not a directory"
    return reason, 2 if owner == "path" else 1


def advice(code: int) -> str:
    return _ADVICE["path" if code == 2 else "environment"]


class OutputError(Exception):
    """An output could not be written; nothing of it was left half-written.

    Attributes:
        target: the output the user named (file or directory).
        exit_code: 2 when another path would do, 1 when the environment must be fixed.
    """

    def __init__(self, target: str | Path, error: OSError, kept: str = ""):
        reason, self.exit_code = explain_os_error(error)
        self.target = Path(target)
        self.error = error
        kept = kept or "nothing was changed there"
        super().__init__(f"{target} was not written: {reason}; {kept}. {advice(self.exit_code)}")


class StagedResult:
    """A result directory staged before the work that fills it, committed after it.

    Creating the temporary sibling directory up front proves that `--out` can be written
    before any simulation runs; the result replaces `--out` whole only once complete.
    """

    def __init__(self, out: str | Path, kind: str, scenarios: Sequence[str], force: bool):
        check_result_target(out, kind, scenarios, force)
        self.target = Path(out)
        self._kept = (
            "its previous contents are unchanged" if _exists(self.target) else "nothing was written"
        )
        self._staging = Staging()
        with reporting_failures(out):
            self.folder = self._staging.directory(out)

    def save(self, write) -> OutputError | None:
        """Call `write(folder)` and commit; on a failed write, the error (nothing changed)."""
        try:
            with reporting_failures(self.target, self._kept):
                try:
                    write(self.folder)
                    self._staging.commit()
                except BaseException:
                    self._staging.discard()
                    raise
        except OutputError as failure:
            return failure
        return None

    def discard(self) -> None:
        self._staging.discard()


@contextlib.contextmanager
def reporting_failures(target: str | Path, kept: str = "") -> Iterator[None]:
    """Turn an OSError while writing `target` into an `OutputError` naming it."""
    try:
        yield
    except OSError as exc:
        raise OutputError(target, exc, kept) from exc

"""What a sweep directory holds, and resuming into it.

A directory holds one experiment's sweep: its metadata, and one Parquet part per
completed batch. A rerun counts the runs on disk and runs only the others.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

from trustsim.errors import TrustsimInputError
from trustsim.experiments.experiment import Experiment
from trustsim.experiments.store import (
    SweepDir,
    storage_errors,
    write_part,
)
from trustsim.experiments.sweep.batching import Batcher
from trustsim.experiments.sweep.plan import Plan


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
    found = [_difference(what, a, b) for what, (a, b) in pairs.items() if a != b]
    if exp.spec.replications < old["replications"]:
        found.append(f"{old['replications']} replications there, {exp.spec.replications} here")
    found += _posterior_differences(old.get("posterior"), plan)
    if old_points is not None and not found:
        dropped = len(old_points - {point.params_hash for point in plan.points})
        if dropped:
            found.append(f"{dropped} of its {len(old_points)} design points are not in this plan")
    return found


def _difference(what: str, there, here) -> str:
    """How one setting of the experiment differs; of two lists that hold different
    entries, only what one of them lacks (a long list of factors said twice hides it)."""
    if isinstance(there, list) and isinstance(here, list) and set(there) != set(here):
        sides = (("there", [x for x in there if x not in here]),
                 ("here", [x for x in here if x not in there]))  # fmt: skip
        return f"{what}: " + "; ".join(
            f"{', '.join(map(repr, only))} {side} only" for side, only in sides if only
        )
    return f"{what} {there!r} there, {here!r} here"


def _posterior_differences(old: dict | None, plan: Plan) -> list[str]:
    """Parameters drawn per replication must be the same draws as on disk (more
    replications may add draws)."""
    if old is None and plan.draws is None:
        return []
    if old is None or plan.draws is None:
        where = "there" if old is not None else "here"
        return [f"parameters drawn from a posterior {where} only"]
    keys = [plan.draw_key(r) for r in range(plan.replications)]
    shared = min(len(keys), len(old["keys"]))
    if keys[:shared] != old["keys"][:shared]:
        return [f"other posterior draws (from {old['directory']} there)"]
    return []


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
    if plan.draws is not None:
        keys = [plan.draw_key(r) for r in range(plan.replications)]
        meta["posterior"] = plan.draws.provenance() | {"keys": keys}
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

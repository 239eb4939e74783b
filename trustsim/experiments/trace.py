"""One buyer's journey, step by step: what it trusted, felt, chose and lived through.

Built on `TrustModel(record_choices=True).choice_log()`. The buyer is identified by its
slot in the market (0 to market.size - 1) in replication `replication` of a run with root
seed `seed`, so `trustsim trace real-estate --buyer 7 --seed 3` follows the same buyer as
replication 0 of `trustsim run real-estate --seed 3`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trustsim.errors import TrustsimInputError
from trustsim.scenarios import Scenario, load_scenario
from trustsim.trace_columns import CONTEXT_COLUMNS, TRACE_COLUMNS

if TYPE_CHECKING:
    import pandas as pd

TABLE_CAPTION = (
    "T env/rules/cpty: trust per layer after the step; Trust: stage-weighted trust the "
    "choice rested on; Risk: perceived risk; P: choice probabilities; Done: the step "
    "completed the stage (a verified success can spill over into another visit of it)."
)
# Shown after the stable columns: context a reader may want, not part of the contract.
EXTRA_COLUMNS = CONTEXT_COLUMNS


class BuyerNotTraced(TrustsimInputError):
    """The buyer does not exist or never acted within the horizon.

    Attributes:
        suggestion: a buyer who did act (None if nobody did).
    """

    def __init__(self, message: str, suggestion: int | None):
        super().__init__(message)
        self.suggestion = suggestion


def trace_buyer(
    scenario: str | Path | Scenario,
    buyer: int,
    seed: int = 0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    engine: str = "vectorized",
    replication: int = 0,
) -> pd.DataFrame:
    """One buyer's journey as a table, one row per step in which the buyer acted.

    Columns: `TRACE_COLUMNS` (stable; the story-strip chart relies on them), then
    `EXTRA_COLUMNS` as context; each column's meaning is in `trustsim.trace_columns.RECORD`
    (docs/ODD.md lists them).

    Args:
        scenario: a built-in name, a TOML path or a `Scenario`.
        buyer: the buyer's slot, 0 to market.size - 1.
        seed: root seed, as in `trustsim.run`.
        steps: horizon override (default: the scenario's `time.steps`).
        overrides: `PATH=VALUE` strings applied to the scenario.
        engine: "vectorized" or "agents" (identical traces).
        replication: which replication of the run with this root seed.

    Raises:
        BuyerNotTraced: the buyer does not exist or never acted within the horizon; the
            message names a buyer who did.

    Example:
        >>> journey = trace_buyer("delivery-trial-journey", buyer=3, seed=0)
        >>> list(journey.columns[:3])
        ['step', 'stage', 'trust_environment']
    """
    from trustsim.experiments.runner import check_run_options, replication_seed
    from trustsim.sim import TrustModel

    check_run_options(1, seed, steps)
    spec = scenario if isinstance(scenario, Scenario) else load_scenario(scenario, overrides)
    size = spec.market.size
    if not 0 <= buyer < size:
        raise BuyerNotTraced(
            f"--buyer {buyer}: buyers are numbered 0 to {size - 1} in {spec.name} "
            f"(market.size = {size}).",
            None,
        )
    model = TrustModel(
        spec,
        rng=np.random.default_rng(replication_seed(seed, replication)),
        engine=engine,
        steps=steps,
        record_choices=True,
    )
    model.run_model()
    log = model.choice_log()
    rows = log[log["buyer"] == buyer] if len(log) else log
    if rows.empty:
        raise _not_traced(model, buyer, log, seed)
    journey = rows.assign(p_abandon=_abandon_probability(rows))
    return journey[[*TRACE_COLUMNS, *EXTRA_COLUMNS]].reset_index(drop=True)


def _abandon_probability(rows: pd.DataFrame) -> np.ndarray:
    # Clipped at 0: p_delegate + p_verify can exceed 1 by a rounding error.
    return np.maximum(0.0, 1.0 - rows["p_delegate"].to_numpy() - rows["p_verify"].to_numpy())


def _not_traced(model, buyer: int, log: pd.DataFrame, seed: int) -> BuyerNotTraced:
    """A message saying why the buyer has no journey, naming one that has."""
    arrived = int(model.engine.arrived[buyer])
    horizon = model.horizon
    if arrived < 0:
        why = f"buyer {buyer} never became a lead within {horizon} steps (seed {seed})"
    else:
        why = f"buyer {buyer} became a lead only at step {arrived}, the last step"
    if log.empty:
        return BuyerNotTraced(
            f"{why}, and nobody else acted either; try more --steps or "
            "--set market.outside_influence=2.6 (a year).",
            None,
        )
    suggestion = _suggest(model, log)
    closers = np.flatnonzero(model.engine.closed >= 0)
    kind = "who closed a deal" if suggestion in closers else "who became a lead"
    return BuyerNotTraced(
        f"{why}. Try --buyer {suggestion}, {kind}; "
        f"{log['buyer'].nunique()} of {model.spec.market.size} buyers acted in this run.",
        suggestion,
    )


def _suggest(model, log: pd.DataFrame) -> int:
    """The first buyer who closed a deal, else the first who acted (a journey worth reading)."""
    acted = np.unique(log["buyer"].to_numpy())
    closers = acted[model.engine.closed[acted] >= 0]
    return int(closers[0] if len(closers) else acted[0])


def journey_records(journey: pd.DataFrame) -> list[dict]:
    """The trace as JSON-ready records (NaN as None, categories as strings).

    Example:
        >>> journey_records(trace_buyer("delivery-trial-journey", buyer=3))[0]["step"] >= 1
        True
    """
    records = []
    for row in journey.to_dict(orient="records"):
        records.append({key: _plain(value) for key, value in row.items()})
    return records


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def journey_summary(journey: pd.DataFrame, buyer: int) -> str:
    """One sentence a strategist can retell: when the buyer came, closed and left.

    Example:
        >>> journey_summary(trace_buyer("delivery-trial-journey", buyer=3), 3).startswith("Buyer 3")
        True
    """
    first, last = journey.iloc[0], journey.iloc[-1]
    parts = [f"Buyer {buyer} became a lead at step {int(first['step']) - 1}"]
    # Only a closing step leads to post-purchase, or straight to finished at a last stage.
    closed = journey[journey["status"].astype(str).isin(("post_purchase", "finished"))]
    if len(closed):
        parts.append(f"closed at step {int(closed.iloc[0]['step'])}")
    status = str(last["status"])
    ending = {
        "abandoned": f"walked away at step {int(last['step'])} ({last['stage']}, "
        f"{last['outcome']})",
        "finished": f"finished the journey at step {int(last['step'])}",
    }.get(status, f"was still {status.replace('_', '-')} at {last['stage']} at the horizon")
    parts.append(ending)
    verified = int((journey["action"].astype(str) == "verify").sum())
    return (
        f"{', '.join(parts)}; checked {verified} of {len(journey)} steps, "
        f"final satisfaction {last['satisfaction']:.2f}."
    )


def write_trace(journey: pd.DataFrame, out: str | Path, provenance: dict | None = None) -> Path:
    """Write the trace as Parquet or CSV (by suffix); a path without one is a directory.

    A directory gets `trace.parquet`, where `trustsim chart DIR --kind story` finds it.
    The Parquet file carries `provenance` (scenario, seed, steps, buyer) in its schema
    metadata, so a reader can tell whether it belongs to the runs beside it.

    Example:
        >>> import tempfile
        >>> journey = trace_buyer("delivery-trial-journey", buyer=3)
        >>> write_trace(journey, tempfile.mkdtemp()).name
        'trace.parquet'
    """
    from trustsim.output import atomic_path

    path = _trace_path(Path(out))
    with atomic_path(path) as tmp:
        _write_trace_file(journey, tmp, path.suffix.lower(), provenance)
    return path


def _trace_path(out: Path) -> Path:
    return out if out.suffix.lower() in (".csv", ".parquet") else out / "trace.parquet"


def _write_trace_file(journey: pd.DataFrame, tmp: Path, suffix: str, provenance) -> None:
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    if suffix == ".csv":
        journey.to_csv(tmp, index=False)
        return
    table = pa.Table.from_pandas(journey, preserve_index=False)
    if provenance is not None:
        meta = {**(table.schema.metadata or {}), TRACE_METADATA: json.dumps(provenance)}
        table = table.replace_schema_metadata(meta)
    pq.write_table(table, tmp)


# Schema-metadata key of a trace's provenance in its Parquet file.
TRACE_METADATA = b"trustsim.trace"


def trace_provenance(spec: Scenario, buyer: int, seed: int, steps: int | None) -> dict:
    """What identifies a trace (the buyer in replication 0 of which run), and the step
    unit a story chart of the trace alone labels its time axis with."""
    return {
        "scenario": spec.name,
        "buyer": buyer,
        "seed": seed,
        "steps": steps,
        "step_unit": spec.time.step_unit,
    }


def check_trace_target(
    out: str | Path, spec: Scenario, seed: int, steps: int | None, force: bool = False
) -> bool:
    """Check, before tracing, that the trace may go to `out`; True if `out` is replaced whole.

    A trace may join a run result only if it follows a buyer of that very run: the same
    resolved scenario, seed and horizon; otherwise a chart would mix two runs. With
    `force` a directory holding anything else of trustsim's is replaced by the trace.

    Raises:
        TrustsimInputError: `out` holds another result (without `force`) or foreign files.
    """
    from trustsim.output import describe_result

    folder = Path(out)
    if folder.suffix.lower() in (".csv", ".parquet"):
        # A file named as a result's own trace is checked like the directory it joins.
        if folder.stem != "trace" or not (folder.parent / "run.json").is_file():
            return False
        folder = folder.parent
    held = describe_result(folder)
    if held is None:
        return False
    if force:
        return True
    if (folder / "run.json").is_file():
        mismatch = _run_mismatch(folder, spec, seed, steps)
        if mismatch is None:
            return False
        raise TrustsimInputError(
            f"--out {folder} holds {held}, but {mismatch}; a trace beside those runs would "
            "mix two runs. Trace a buyer of that run, choose another --out, or add --force "
            "to replace the directory with the trace."
        )
    if not (folder / "trace.parquet").is_file() and not (folder / "trace.csv").is_file():
        raise TrustsimInputError(
            f"--out {folder} already holds {held}; a directory is one result. "
            "Choose another --out, or add --force to replace it."
        )
    return False


def _run_mismatch(folder: Path, spec: Scenario, seed: int, steps: int | None) -> str | None:
    """Why a trace of (spec, seed, steps) does not belong to the run in `folder`, if so."""
    import json

    from trustsim.scenarios import scenario_to_toml

    try:
        run = json.loads((folder / "run.json").read_bytes().decode("utf-8"))
        stored = (folder / "scenarios" / f"{spec.name}.toml").read_text(encoding="utf-8")
    except (OSError, ValueError):
        return f"it has no readable run.json or scenarios/{spec.name}.toml"
    if spec.name not in (run.get("scenarios") or []):
        return f"{spec.name} is not one of its scenarios"
    if run.get("seed") != seed or run.get("steps") != steps:
        return (
            f"it was run with seed {run.get('seed')} and steps {run.get('steps')}, "
            f"the trace with seed {seed} and steps {steps}"
        )
    if stored != scenario_to_toml(spec):
        return f"its {spec.name} has other parameter values (another --set)"
    return None


def save_trace(
    journey: pd.DataFrame, out: str | Path, provenance: dict, replace: bool = False
) -> Path:
    """Write the trace where `check_trace_target` allowed; `replace` swaps the directory.

    A trace written into a directory replaces an older trace there (Parquet or CSV).
    """
    from trustsim.output import staged_outputs

    path = _trace_path(Path(out))
    with staged_outputs() as staging:
        if replace:
            folder = staging.directory(path.parent)
            _write_trace_file(journey, folder / path.name, ".parquet", provenance)
            return path
        _write_trace_file(journey, staging.file(path), path.suffix.lower(), provenance)
        other = path.with_suffix(".csv")
        if path.name == "trace.parquet" and other.exists():
            staging.remove(other)
    return path

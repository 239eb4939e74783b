"""Read a results directory back: what `trustsim run/compare/features --out DIR` wrote.

A results directory holds summaries.parquet, timeseries.parquet, scenarios/<name>.toml
and run.json; `compare` adds differences.parquet, `features` adds features.parquet, and a
buyer trace (trace.parquet or trace.csv) may sit beside them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult

REQUIRED = ("summaries.parquet", "timeseries.parquet", "run.json")


@dataclass
class Results:
    """A results directory loaded back.

    Attributes:
        path: the directory.
        run: the runs as a `RunResult` (summaries, time series, resolved scenarios).
        provenance: run.json as written (version, scenarios, seed, replications, command).
        differences: differences.parquet from `trustsim compare`, if present.
        features: features.parquet from `trustsim features`, if present.
        trace: one buyer's journey (trace.parquet or trace.csv), if present.
        extra: sweep results (sweep_runs, factors, metrics, heatmap, sensitivity).
    """

    path: Path
    run: RunResult
    provenance: dict
    differences: pd.DataFrame | None = None
    features: pd.DataFrame | None = None
    trace: pd.DataFrame | None = None
    extra: dict = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return self.run.names

    @property
    def is_sweep(self) -> bool:
        return "sweep_runs" in self.extra

    @property
    def is_trace_only(self) -> bool:
        """A buyer trace without runs (`trustsim trace --out DIR`): only a story chart."""
        return bool(self.provenance.get("trace_only"))


def check_one_market(results: Results, what: str) -> None:
    """A deck or a chart of differences weighs alternatives for one market: the same
    buyers over the same time.

    Every scenario is compared with a base, so one of another market size, step or
    horizon (the demo's results hold the real-estate and the delivery-trial families)
    would be read as an option for the base's market.

    Args:
        results: the loaded results.
        what: what is refused, for the message ("a deck").

    Raises:
        TrustsimInputError: naming each market's scenarios and the fix.
    """
    from trustsim.charts.markets import markets_of

    markets = markets_of(results.run)
    if len(markets) < 2:
        return
    described = "; ".join(
        f"{', '.join(names)} ({market.label})" for market, names in markets.items()
    )
    raise TrustsimInputError(
        f"{results.path}: {what} compares alternatives for one market, but these results "
        f"hold {len(markets)}: {described}. Write one results directory per market "
        f"(e.g. `trustsim compare BASE ALT... --out DIR`) and {what} from each."
    )


def load_results(directory: str | Path) -> Results:
    """Load a results directory written by `trustsim run/compare/features --out DIR`, a
    sweep directory, or a buyer trace alone (`trustsim trace --out DIR` or its file).

    Raises:
        TrustsimInputError: if the directory is missing or is not a results directory.

    Example:
        >>> import trustsim, tempfile
        >>> out = tempfile.mkdtemp()
        >>> _ = trustsim.run(["real-estate"], replications=2, steps=5).write(out)
        >>> load_results(out).names
        ['real-estate']
    """

    from trustsim.experiments.runner import RunResult
    from trustsim.scenarios import load_scenario

    path = Path(directory)
    if _trace_only(path):
        return load_trace_only(path)
    if not path.is_dir():
        raise TrustsimInputError(
            f"{path}: no such directory. Give a results directory written by "
            "`trustsim run ... --out DIR` (or compare / features / sweep)."
        )
    if (path / "sweep.json").is_file() and not (path / "run.json").is_file():
        return load_sweep(path)
    missing = [name for name in REQUIRED if not (path / name).is_file()]
    if missing:
        raise TrustsimInputError(
            f"{path} is not a trustsim results directory: {', '.join(missing)} missing. "
            "Write one with `trustsim run SCENARIO --out DIR`."
        )
    provenance = _read_provenance(path / "run.json")
    names = list(provenance.get("scenarios") or [])
    scenarios = {name: load_scenario(path / "scenarios" / f"{name}.toml") for name in names}
    run = RunResult(
        summaries=_read_parquet(path / "summaries.parquet", ("scenario", "replication")),
        timeseries=_read_parquet(path / "timeseries.parquet", ("scenario", "replication", "step")),
        scenarios=scenarios,
        seed=provenance.get("seed", 0),
        replications=provenance.get("replications", 0),
        steps=provenance.get("steps"),
        engine=provenance.get("engine", "vectorized"),
        command=provenance.get("command", ""),
        replays=_own_parquet(path, "replays.parquet", provenance),
    )
    trace = load_trace(path) if _trace_file(path) else None
    if trace is not None:
        _check_trace_belongs(path, trace, provenance)
    return Results(
        path=path,
        run=run,
        provenance=provenance,
        differences=_own_parquet(path, "differences.parquet", provenance),
        features=_own_parquet(path, "features.parquet", provenance),
        trace=trace,
    )


def _trace_only(path: Path) -> bool:
    """A trace file, or a directory holding a trace and no runs (`trustsim trace --out DIR`)."""
    if path.is_file():
        return path.suffix.lower() in (".parquet", ".csv")
    return path.is_dir() and _trace_file(path) is not None and not (path / "run.json").exists()


def load_trace_only(path: Path) -> Results:
    """A buyer trace without the runs it came from: enough for the story chart.

    The step unit is read from the trace's provenance where `trustsim trace` stored it.
    """
    import pandas as pd

    from trustsim.experiments.runner import RunResult

    trace = load_trace(path)
    origin = trace.attrs.get("trustsim_trace") or {}
    empty = RunResult(pd.DataFrame(), pd.DataFrame(), {}, origin.get("seed", 0), 0, None,
                      "vectorized", "")  # fmt: skip
    provenance = {**origin, "scenarios": [], "trace_only": True}
    return Results(path=path, run=empty, provenance=provenance, trace=trace)


def load_sweep(path: Path) -> Results:
    """A sweep directory (sweep.json, points.parquet, parts/*.parquet) for sweep charts.

    Runs are joined with their design point, so each row has the factor values as
    columns next to the metrics; failed runs are left out. A sensitivity table
    (sensitivity.parquet with Sobol or tornado columns) is picked up when present.
    """
    import pandas as pd

    from trustsim.experiments.results import load_runs
    from trustsim.experiments.runner import RunResult
    from trustsim.scenarios import load_scenario

    meta = _read_json(path / "sweep.json", "the sweep description")
    # load_runs keeps only the runs planned by this sweep (its seed and model version),
    # each once, so stale parts in the same directory never leak into a chart.
    runs = load_runs(path)
    runs = runs[runs["status"] == "ok"].reset_index(drop=True)
    if runs.empty:
        raise TrustsimInputError(f"{path}: the sweep has no finished runs yet.")
    scenarios = {f.stem: load_scenario(f) for f in sorted((path / "scenarios").glob("*.toml"))}
    empty = RunResult(
        pd.DataFrame(),
        pd.DataFrame(),
        scenarios,
        meta.get("seed", 0),
        meta.get("replications", 0),
        None,
        "vectorized",
        meta.get("command", ""),
    )
    extra = {
        "sweep_runs": runs,
        "factors": list(meta.get("factors", [])),
        "metrics": list(meta.get("metrics", [])),
    }
    if (path / "sensitivity.parquet").is_file():
        extra["sensitivity"] = _read_parquet(path / "sensitivity.parquet")
    if len(extra["factors"]) >= 2:
        extra["heatmap"] = True
    provenance = {**meta, "scenarios": list(scenarios) or meta.get("scenarios", [])}
    return Results(path=path, run=empty, provenance=provenance, extra=extra)


def _read_json(file: Path, what: str) -> dict:
    """A JSON object from `file`; anything else is one message naming the file."""
    try:
        data = json.loads(file.read_bytes().decode("utf-8"))
    except OSError as exc:
        raise TrustsimInputError(f"{file}: cannot read {what} ({exc.strerror}).") from None
    except ValueError as exc:
        raise TrustsimInputError(
            f"{file}: {what} is not valid JSON text ({exc}); the result is damaged. "
            "Write it again with the command that made it."
        ) from None
    if not isinstance(data, dict):
        raise TrustsimInputError(
            f"{file}: {what} is not a JSON object; was it written by trustsim?"
        )
    return data


def _read_provenance(file: Path) -> dict:
    data = _read_json(file, "the run description")
    if not data.get("scenarios") or not isinstance(data["scenarios"], list):
        raise TrustsimInputError(f"{file}: no scenario list; was it written by trustsim?")
    folder = file.parent / "scenarios"
    missing = [n for n in data["scenarios"] if not (folder / f"{n}.toml").is_file()]
    if missing:
        raise TrustsimInputError(
            f"{file.parent}: scenarios/{missing[0]}.toml is missing; the directory is incomplete."
        )
    return data


def _read_parquet(file: Path, columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A Parquet file of a result; a damaged one is one message naming it."""
    import pandas as pd

    try:
        frame = pd.read_parquet(file)
    except Exception as exc:  # pyarrow raises several kinds for a damaged file
        raise TrustsimInputError(
            f"{file}: not a readable Parquet file ({type(exc).__name__}: {exc}); the result "
            "is damaged. Write it again with the command that made it."
        ) from None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise TrustsimInputError(
            f"{file}: lacks the column(s) {', '.join(missing)}; was it written by trustsim?"
        )
    return frame


def _own_parquet(path: Path, name: str, provenance: dict):
    """An optional table of the result, read only if it belongs to the same result.

    run.json lists the files written with it; a file it does not list came from another
    command and is left out. A run.json without the list predates it: there, the table
    is taken only if it fits the scenarios (differences of these scenarios; feature
    values when the runs include variants with a feature removed).
    """
    file = path / name
    if not file.is_file():
        return None
    if "files" in provenance:
        return _read_parquet(file) if name in provenance["files"] else None
    names = set(provenance.get("scenarios") or [])
    if name == "features.parquet":
        return _read_parquet(file) if any("~without-" in n for n in names) else None
    table = _read_parquet(file)
    return table if "scenario" in table and set(table["scenario"]) <= names else None


def _check_trace_belongs(path: Path, trace: pd.DataFrame, provenance: dict) -> None:
    """Refuse a trace written by `trustsim trace` for another run than the one beside it."""
    origin = trace.attrs.get("trustsim_trace")
    if not origin:
        return  # a trace without provenance (CSV, or made by hand) is the user's call
    same = (
        origin.get("scenario") in provenance.get("scenarios", [])
        and origin.get("seed") == provenance.get("seed")
        and origin.get("steps") == provenance.get("steps")
    )
    if not same:
        raise TrustsimInputError(
            f"{_trace_file(path)}: the trace follows buyer {origin.get('buyer')} of "
            f"{origin.get('scenario')} (seed {origin.get('seed')}), not of the runs in {path} "
            f"(seed {provenance.get('seed')}); move it elsewhere or trace a buyer of these runs."
        )


def _trace_file(path: Path) -> Path | None:
    if path.is_file():
        return path
    for name in ("trace.parquet", "trace.csv"):
        if (path / name).is_file():
            return path / name
    return None


def load_trace(path: str | Path) -> pd.DataFrame:
    """One buyer's journey from a trace file, or from trace.parquet/.csv in a directory.

    Raises:
        TrustsimInputError: if there is no trace or it lacks the story-strip columns.
    """

    from trustsim.charts.story import TRACE_COLUMNS

    file = _trace_file(Path(path))
    if file is None:
        raise TrustsimInputError(
            f"{path}: no trace found (trace.parquet or trace.csv). Write one with "
            "`trustsim trace ... --out FILE`."
        )
    from trustsim.charts.story import as_trace

    frame = _read_parquet(file) if file.suffix == ".parquet" else _read_csv(file)
    origin = _trace_origin(file) if file.suffix == ".parquet" else None
    if "choice" in frame.columns or "action" in frame.columns:
        frame = as_trace(frame)
    if origin is not None:
        frame.attrs["trustsim_trace"] = origin
    missing = [c for c in TRACE_COLUMNS if c not in frame.columns]
    if missing:
        raise TrustsimInputError(f"{file}: a trace needs columns {', '.join(missing)}.")
    return frame


def _read_csv(file: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(file)
    except (ValueError, OSError) as exc:  # includes UnicodeDecodeError and ParserError
        raise TrustsimInputError(
            f"{file}: not a readable CSV file ({type(exc).__name__}: {exc})."
        ) from None


def _trace_origin(file: Path) -> dict | None:
    """The provenance `trustsim trace` stored in a trace's Parquet metadata, if any."""
    import pyarrow.parquet as pq

    from trustsim.experiments.trace import TRACE_METADATA

    meta = pq.read_schema(file).metadata or {}
    try:
        origin = json.loads(meta[TRACE_METADATA])
    except (KeyError, ValueError):
        return None
    return origin if isinstance(origin, dict) else None

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


def load_results(directory: str | Path) -> Results:
    """Load a results directory written by `trustsim run/compare/features --out DIR`.

    Raises:
        TrustsimInputError: if the directory is missing or is not a results directory.

    Example:
        >>> import trustsim, tempfile
        >>> out = tempfile.mkdtemp()
        >>> _ = trustsim.run(["real-estate"], replications=2, steps=5).write(out)
        >>> load_results(out).names
        ['real-estate']
    """
    import pandas as pd

    from trustsim.experiments.runner import RunResult
    from trustsim.scenarios import load_scenario

    path = Path(directory)
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
        summaries=pd.read_parquet(path / "summaries.parquet"),
        timeseries=pd.read_parquet(path / "timeseries.parquet"),
        scenarios=scenarios,
        seed=provenance.get("seed", 0),
        replications=provenance.get("replications", 0),
        steps=provenance.get("steps"),
        engine=provenance.get("engine", "vectorized"),
        command=provenance.get("command", ""),
    )
    return Results(
        path=path,
        run=run,
        provenance=provenance,
        differences=_optional_parquet(path / "differences.parquet"),
        features=_optional_parquet(path / "features.parquet"),
        trace=load_trace(path) if _trace_file(path) else None,
    )


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

    meta = json.loads((path / "sweep.json").read_text(encoding="utf-8"))
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
    sensitivity = _optional_parquet(path / "sensitivity.parquet")
    if sensitivity is not None:
        extra["sensitivity"] = sensitivity
    if len(extra["factors"]) >= 2:
        extra["heatmap"] = True
    provenance = {**meta, "scenarios": list(scenarios) or meta.get("scenarios", [])}
    return Results(path=path, run=empty, provenance=provenance, extra=extra)


def _read_provenance(file: Path) -> dict:
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise TrustsimInputError(f"{file}: cannot read the run description ({exc}).") from exc
    if not isinstance(data, dict) or not data.get("scenarios"):
        raise TrustsimInputError(f"{file}: no scenario list; was it written by trustsim?")
    folder = file.parent / "scenarios"
    missing = [n for n in data["scenarios"] if not (folder / f"{n}.toml").is_file()]
    if missing:
        raise TrustsimInputError(
            f"{file.parent}: scenarios/{missing[0]}.toml is missing; the directory is incomplete."
        )
    return data


def _optional_parquet(file: Path):
    import pandas as pd

    return pd.read_parquet(file) if file.is_file() else None


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
    import pandas as pd

    from trustsim.charts.story import TRACE_COLUMNS

    file = _trace_file(Path(path))
    if file is None:
        raise TrustsimInputError(
            f"{path}: no trace found (trace.parquet or trace.csv). Write one with "
            "`trustsim trace ... --out FILE`."
        )
    from trustsim.charts.story import as_trace

    frame = pd.read_parquet(file) if file.suffix == ".parquet" else pd.read_csv(file)
    if "choice" in frame.columns or "action" in frame.columns:
        frame = as_trace(frame)
    missing = [c for c in TRACE_COLUMNS if c not in frame.columns]
    if missing:
        raise TrustsimInputError(f"{file}: a trace needs columns {', '.join(missing)}.")
    return frame

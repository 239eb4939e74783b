"""`trustsim robustness`: in what share of plausible worlds does each conclusion hold?

A *conclusion* is the sign of an alternative scenario's paired effect on a metric against
the base, as seen at the default constants ("verified listings raise closed deals"). A
*world* is one draw of the assumed constants (the parameter ledger's `assumption` and
`calibrated` entries, each over its plausible range, and one visit length shared by every
stage, in whole steps: `trustsim.robustness.durations`), drawn by a Latin hypercube. Every
scenario runs at every world with the same replication seeds (common random numbers), as
one resumable sweep. At world i the paired effect is the mean over replications r of

    d_ir = metric(ALT, world i, r) - metric(BASE, world i, r)

with a 95% t-interval. The conclusion *holds* at world i when mean(d_i) has the sign it
has at the defaults, and is *established* when, moreover, the interval excludes 0. Over
the n worlds with a defined effect, the share holding k / n gets a Wilson 95% interval
(a share of sampled worlds: the uncertainty is that of estimating the share of the whole
plausible space from n of its points).

A study directory is a normal sweep directory (`trustsim results DIR` works) plus
`robustness.json` (the study), `effects.parquet` (the effect per world and conclusion),
`robustness.csv` (one row per conclusion), `indices.csv` (which constants decide each
conclusion, `trustsim.robustness.indices`) and `charts/robustness.png` with its CSV.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustsim.errors import TrustsimInputError
from trustsim.robustness.durations import (
    DURATION_FACTOR,
    GENERIC,
    duration_levels,
    durations_note,
)

METRICS = ("closed_deals", "short_closed_deals", "satisfaction", "nps", "revenue")
METRIC_WORDS = {
    "closed_deals": "closed deals",
    "short_closed_deals": "short-horizon closed deals",
    "satisfaction": "satisfaction",
    "nps": "NPS",
    "revenue": "revenue",
}
EXPERIMENT_NAME = "robustness"
SPEC_FILE = "robustness.json"
EFFECTS_FILE = "effects.parquet"
TABLE_FILE = "robustness.csv"
COLUMNS = (
    "scenario", "metric", "conclusion", "share_holding", "ci_low", "ci_high",
    "share_established",
)  # fmt: skip
Z95 = 1.959963984540054
# Defaults: 256 worlds let PRIM find a sharp failure region (a quarter of the worlds, 95% vs
# 5% failing) among the ledger's 43 constants every time and a 90%/10% one in about three
# trials of four (benchmarks/bench_prim_power.py); 5 paired replications per world give
# the paired t-interval 4 degrees of freedom. The real-estate 2 x 2 runs in about 15 min.
SAMPLES = 256
REPLICATIONS = 5


# ---------------------------------------------------------------------- factors
def load_factors(path: str | Path) -> dict[str, tuple[float, float]]:
    """The factors of a study from a TOML file: ledger constants by name, other fields
    with a range.

    The file holds `factors = [...]` (paths of assumed or calibrated constants of the
    ledger, sampled over their plausible ranges) and/or a table `[ranges]` of
    `"PATH" = [low, high]` for any other numeric scenario field::

        factors = ["market.talk_half_life", "choice.impatience"]
        [ranges]
        "choice.temperature" = [0.3, 0.6]

    Raises:
        TrustsimInputError: naming the file, the entry and the fix.
    """
    from trustsim.scenarios.ledger import assumed_ranges

    label = f"--factors {path}"
    file = Path(path)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TrustsimInputError(f"{label}: no such file. Give a TOML factors file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustsimInputError(f"{label}: cannot read it as UTF-8 text ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrustsimInputError(f"{label}: not valid TOML: {exc}. Fix the syntax.") from None
    extra = sorted(set(raw) - {"factors", "ranges"})
    if extra:
        raise TrustsimInputError(
            f"{label}: unknown key {extra[0]!r}. Allowed keys: factors, ranges."
        )
    ledger = assumed_ranges()
    chosen: dict[str, tuple[float, float]] = {}
    names = raw.get("factors", [])
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise TrustsimInputError(
            f'{label}: factors must be a list of field paths, e.g. ["{next(iter(ledger))}"].'
        )
    _refuse_durations(label, names)
    for name in names:
        if name not in ledger:
            raise TrustsimInputError(
                f"{label}: factors: {name!r} is not an assumed or calibrated constant of "
                "the ledger (docs/ODD.md section 9.12). Give it a range under [ranges] "
                f'instead, e.g. "{name}" = [low, high].'
            )
        chosen[name] = ledger[name]
    ranges = raw.get("ranges", {})
    if not isinstance(ranges, dict):
        raise TrustsimInputError(f'{label}: ranges must be a table of "PATH" = [low, high].')
    _refuse_durations(label, list(ranges))
    for name, pair in ranges.items():
        ok = isinstance(pair, list) and len(pair) == 2
        ok = ok and all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
        if not ok or not pair[0] < pair[1]:
            raise TrustsimInputError(
                f"{label}: ranges.{name} = {pair!r}: give [low, high] with low < high."
            )
        chosen[name] = (float(pair[0]), float(pair[1]))
    if not chosen:
        raise TrustsimInputError(f"{label}: names no factor. List factors = [...] or [ranges].")
    return chosen


def _refuse_durations(label: str, names: list) -> None:
    """A stage duration is sampled in whole steps by every study (`durations`), never as
    a continuous range, which would mostly give visits that end between two steps."""
    from trustsim.scenarios.reference import generic_path

    for name in names:
        if isinstance(name, str) and generic_path(name) == GENERIC:
            raise TrustsimInputError(
                f"{label}: {name!r}: stage durations are not a factor of the file. A study "
                f"samples one visit length for every stage ({DURATION_FACTOR}) in whole steps "
                "over its plausible range unless --no-durations; remove the entry."
            )


# ---------------------------------------------------------------------- the experiment
def build_experiment(
    base: str,
    alternatives: Sequence[str],
    factors: Mapping[str, tuple[float, float]],
    samples: int = SAMPLES,
    replications: int = REPLICATIONS,
    seed: int = 0,
    overrides: Sequence[str] = (),
    durations: bool = True,
):
    """The study as an experiment: every scenario at the same Latin-hypercube worlds.

    With `durations`, the visit length every stage shares (`DURATION_FACTOR`) is a
    factor too, over its plausible range in whole steps, where the scenarios allow it
    (`trustsim.robustness.durations.duration_levels`).

    Raises:
        TrustsimInputError: an unknown scenario, a factor no scenario has, a range a
            scenario refuses, or a study with fewer than two scenarios.
    """
    from trustsim.experiments.experiment import experiment_from_dict

    if not alternatives:
        raise TrustsimInputError("robustness: give BASE and at least one ALT scenario.")
    if samples < 2:
        raise TrustsimInputError(f"--samples {samples}: need at least 2 worlds.")
    raw = {
        "name": EXPERIMENT_NAME,
        "description": f"robustness of {', '.join(alternatives)} vs {base}",
        "scenarios": [base, *alternatives],
        "set": list(overrides),
        "replications": replications,
        "seed": seed,
        "metrics": list(METRICS),
        "design": {"method": "lhs", "samples": samples},
        "factors": {path: {"low": low, "high": high} for path, (low, high) in factors.items()},
    }
    experiment = experiment_from_dict(raw, "robustness")
    levels = duration_levels(experiment.bases.values(), overrides)
    if not durations or not levels.sampled:
        return experiment
    raw["factors"][DURATION_FACTOR] = {"values": list(levels.values)}
    return experiment_from_dict(raw, "robustness")


# ---------------------------------------------------------------------- running
@dataclass
class Study:
    """A finished study: the table of conclusions and where it was written."""

    out_dir: Path
    table: Any  # pandas DataFrame with COLUMNS
    seconds: float
    runs: int


def run_study(
    base: str,
    alternatives: Sequence[str],
    out_dir: str | Path,
    *,
    factors: Mapping[str, tuple[float, float]] | None = None,
    samples: int = SAMPLES,
    replications: int = REPLICATIONS,
    seed: int = 0,
    overrides: Sequence[str] = (),
    durations: bool = True,
    sweep_options: Mapping[str, Any] | None = None,
    progress=None,
) -> Study:
    """Run (or resume) a robustness study and write its tables and chart into `out_dir`.

    Args:
        base: the base scenario (built-in name or TOML path).
        alternatives: the scenarios compared with it.
        out_dir: the study directory (a sweep directory; rerunning resumes).
        factors: path -> (low, high); default: every assumed constant of the ledger.
        samples: Latin-hypercube worlds.
        replications: paired replications per world and scenario.
        seed: root seed (replication r uses the same seed in every world and scenario).
        overrides: `PATH=VALUE` applied to every scenario (e.g. a smaller market).
        durations: also sample the visit length every stage shares (`build_experiment`).
        sweep_options: passed to `trustsim.experiments.sweep.sweep` (workers, scheduler...).
        progress: the sweep's progress callback.

    Example:
        >>> study = run_study("real-estate", ["real-estate-verifiable"], "rob/", samples=8,
        ...                   replications=2, overrides=["market.size=200"],
        ...                   sweep_options={"workers": 0})
        >>> list(study.table.columns)[:3]
        ['scenario', 'metric', 'conclusion']
    """
    import time

    from trustsim.experiments.sweep import sweep
    from trustsim.scenarios.ledger import assumed_ranges

    start = time.monotonic()
    factors = dict(factors) if factors is not None else assumed_ranges()
    experiment = build_experiment(base, alternatives, factors, samples, replications, seed,
                                  overrides, durations)  # fmt: skip
    report = sweep(experiment, out_dir, progress=progress, **dict(sweep_options or {}))
    table = analyse(experiment, out_dir)
    return Study(Path(out_dir), table, time.monotonic() - start, report.total)


def analyse(experiment, out_dir: str | Path):
    """Effects per world, the conclusions' shares and the chart of a swept study.

    Args:
        experiment: the study's experiment (`build_experiment`), already swept.
        out_dir: its sweep directory.

    Returns:
        The robustness table (`COLUMNS`), also written to out_dir.
    """
    from trustsim.robustness.indices import conclusion_indices

    spec_ = experiment.spec
    names = list(experiment.bases)
    defaults = default_effects(experiment, spec_.replications, spec_.seed)
    effects = world_effects(out_dir, names[0], names[1:], defaults)
    table = conclusions(effects, defaults, names[0])
    indices = conclusion_indices(effects, [f.path for f in experiment.factors], defaults,
                                 spec_.seed)  # fmt: skip
    spec = {
        "base": names[0],
        "alternatives": names[1:],
        "metrics": list(METRICS),
        "factors": {f.path: factor_range(f) for f in experiment.factors},
        "levels": {f.path: f.spec.values for f in experiment.factors if not f.spec.is_range},
        "durations": durations_note(experiment),
        "samples": spec_.design.samples,
        "replications": spec_.replications,
        "seed": spec_.seed,
        "set": list(spec_.set),
        "defaults": defaults,
    }
    write_study(Path(out_dir), spec, effects, table, indices)
    return table


def factor_range(factor) -> list[float]:
    """[low, high] of a sampled factor: its range, or its lowest and highest level."""
    if factor.spec.is_range:
        return [factor.spec.low, factor.spec.high]
    return [min(factor.spec.values), max(factor.spec.values)]


def default_effects(experiment, replications: int, seed: int) -> dict[str, dict[str, dict]]:
    """Each alternative's paired effect at the default constants: {alt: {metric: {...}}}.

    Run in-process with the study's seeds; its sign is the conclusion tested.
    """
    from trustsim.experiments.runner import paired_differences, run

    scenarios = list(experiment.bases.values())
    result = run(scenarios, replications=replications, seed=seed)
    diffs = paired_differences(result, scenarios[0].name, list(METRICS))
    out: dict[str, dict[str, dict]] = {}
    for row in diffs.itertuples():
        out.setdefault(row.scenario, {})[row.metric] = {
            "diff": _plain(row.diff), "ci_low": _plain(row.ci_low), "ci_high": _plain(row.ci_high)
        }  # fmt: skip
    return out


def _plain(value) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


def world_effects(sweep_dir, base: str, alternatives: Sequence[str], defaults: dict):
    """One row per (world, alternative, metric): the factor values, the mean paired
    effect with its 95% t-interval, pairs, and whether the default's conclusion holds
    and is established there."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    from trustsim.experiments.results import load_runs
    from trustsim.experiments.store import SweepDir

    meta = SweepDir(sweep_dir).read_meta()
    per_scenario = meta["points"] // len(meta["scenarios"])
    runs = load_runs(sweep_dir)
    runs["world"] = runs["point"] % per_scenario
    ok = runs[runs["status"] == "ok"]
    factors = list(meta["factors"])
    worlds = runs[runs["scenario"] == base].drop_duplicates("world").set_index("world")[factors]
    base_runs = ok[ok["scenario"] == base].set_index(["world", "replication"])
    frames = []
    for alt in alternatives:
        alt_runs = ok[ok["scenario"] == alt].set_index(["world", "replication"])
        for metric in METRICS:
            d = (alt_runs[metric] - base_runs[metric]).dropna().groupby(level="world")
            n, mean, sd = d.count(), d.mean(), d.std(ddof=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                t = stats.t.ppf(0.975, np.maximum(n - 1, 1))
                half = np.where(n > 1, t * sd / np.sqrt(n), 0.0)
            frame = worlds.copy()
            frame["pairs"] = n.reindex(worlds.index).fillna(0).astype(int)
            frame["effect"] = mean.reindex(worlds.index)
            half = pd.Series(half, index=n.index).reindex(worlds.index)
            frame["ci_low"], frame["ci_high"] = frame["effect"] - half, frame["effect"] + half
            sign = _sign(defaults.get(alt, {}).get(metric, {}).get("diff"))
            frame["holds"] = np.sign(frame["effect"]) == sign
            above = frame["ci_low"] > 0 if sign > 0 else frame["ci_high"] < 0
            frame["established"] = frame["holds"] & above & (sign != 0)
            frame.loc[frame["effect"].isna(), ["holds", "established"]] = False
            frame.insert(0, "metric", metric)
            frame.insert(0, "scenario", alt)
            frames.append(frame.reset_index())
    return pd.concat(frames, ignore_index=True)


def _sign(value: float | None) -> int:
    if value is None or value == 0:
        return 0
    return 1 if value > 0 else -1


def wilson_interval(successes: int, trials: int) -> tuple[float, float]:
    """Wilson score 95% interval of a proportion (Wilson 1927).

        centre = (k + z^2 / 2) / (n + z^2),
        half = z / (n + z^2) * sqrt(k (n - k) / n + z^2 / 4)

    Example:
        >>> [round(v, 3) for v in wilson_interval(8, 10)]
        [0.49, 0.943]
    """
    if trials == 0:
        return math.nan, math.nan
    z2 = Z95 * Z95
    centre = (successes + z2 / 2) / (trials + z2)
    half = Z95 / (trials + z2) * math.sqrt(successes * (trials - successes) / trials + z2 / 4)
    return max(0.0, centre - half), min(1.0, centre + half)


def conclusion_text(alt: str, metric: str, base: str, sign: int) -> str:
    """The conclusion as a clause: "real-estate-verifiable raises closed deals vs real-estate"."""
    verb = {1: "raises", -1: "lowers", 0: "leaves unchanged"}[sign]
    return f"{alt} {verb} {METRIC_WORDS.get(metric, metric)} vs {base}"


def conclusions(effects, defaults: dict, base: str):
    """robustness.csv: one row per (alternative, metric) with the shares over worlds."""
    import pandas as pd

    rows = []
    for (alt, metric), group in effects.groupby(["scenario", "metric"], sort=False):
        defined = group[group["effect"].notna()]
        n, k = len(defined), int(defined["holds"].sum())
        low, high = wilson_interval(k, n)
        sign = _sign(defaults.get(alt, {}).get(metric, {}).get("diff"))
        rows.append({
            "scenario": alt, "metric": metric,
            "conclusion": conclusion_text(alt, metric, base, sign),
            "share_holding": k / n if n else math.nan, "ci_low": low, "ci_high": high,
            "share_established": float(defined["established"].sum()) / n if n else math.nan,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(COLUMNS))


def write_study(out_dir: Path, spec: dict, effects, table, indices) -> None:
    """robustness.json, effects.parquet, robustness.csv, indices.csv and the chart, each
    atomically."""
    import matplotlib.pyplot as plt

    from trustsim.experiments.store import storage_errors
    from trustsim.output import write_parquet_atomic, write_text_atomic
    from trustsim.robustness.charts import robustness_chart, robustness_data
    from trustsim.robustness.indices import INDEX_FILE

    hint = "Free space (or fix the disk) and rerun the same command: the runs are on disk."
    with storage_errors("write the robustness tables", hint, out_dir):
        write_text_atomic(out_dir / SPEC_FILE, json.dumps(spec, indent=2) + "\n")
        write_parquet_atomic(effects, out_dir / EFFECTS_FILE)
        write_text_atomic(out_dir / TABLE_FILE, table.to_csv(index=False))
        write_text_atomic(out_dir / INDEX_FILE, indices.to_csv(index=False))
        chart = robustness_chart(robustness_data(table))
        try:
            from trustsim.charts import save_chart

            save_chart(chart, out_dir / "charts" / "robustness.png", "png")
            write_text_atomic(out_dir / "charts" / "robustness.csv", chart.data.to_csv(index=False))
        finally:
            plt.close(chart.figure)


# ---------------------------------------------------------------------- reading a study
def load_study(directory: str | Path) -> tuple[dict, Any, Any]:
    """(spec, robustness table, effects) of a study directory.

    Raises:
        TrustsimInputError: the directory is not a finished robustness study.
    """
    import pandas as pd

    path = Path(directory)
    files = [path / SPEC_FILE, path / TABLE_FILE, path / EFFECTS_FILE]
    if not all(f.is_file() for f in files):
        raise TrustsimInputError(
            f"{directory}: not a robustness study (no {SPEC_FILE}, {TABLE_FILE} and "
            f"{EFFECTS_FILE}). Run `trustsim robustness BASE ALT --out {directory}` first."
        )
    try:
        spec = json.loads(files[0].read_text(encoding="utf-8"))
        return spec, pd.read_csv(files[1]), pd.read_parquet(files[2])
    except (OSError, ValueError) as exc:
        raise TrustsimInputError(
            f"{directory}: a damaged robustness study ({exc}). Rerun `trustsim robustness` "
            "with the same options to rewrite its tables."
        ) from None

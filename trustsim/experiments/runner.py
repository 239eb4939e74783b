"""Run scenarios over replications with common random numbers; compare them in pairs.

Replication r of every scenario uses the seed `SeedSequence(seed, spawn_key=(r,))`, so
scenarios are compared on the same buyers and the same draws (common random numbers),
and a replication's numbers do not depend on which other runs happen alongside it.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from trustsim.errors import TrustsimInputError
from trustsim.scenarios import Scenario, load_scenario, scenario_to_toml

if TYPE_CHECKING:
    import pandas as pd

ProgressCallback = Callable[[int, int], None]
# The scenario replication r of a named scenario runs, e.g. with parameters drawn for r.
ReplicationVariant = Callable[[str, Scenario, int], Scenario]


class ReplicationDraws(Protocol):
    """Parameters drawn once per replication and shared by every scenario, e.g. from a
    calibration's posterior (`trustsim.calibration.carry.PosteriorDraws`)."""

    def overrides(self, replication: int) -> tuple[str, ...]:
        """Replication r's draw as `PATH=VALUE` strings."""
        ...

    def key(self, replication: int) -> str:
        """A hash of replication r's draw (part of a sweep run's key)."""
        ...

    def apply(self, scenario: Scenario, replication: int, fixed: Sequence[str] = ()) -> Scenario:
        """The scenario with replication r's draw applied, then the explicit `fixed` values."""
        ...

    def provenance(self) -> dict:
        """What a result's metadata records about the draws."""
        ...


def replication_seed(root_seed: int, replication: int) -> np.random.SeedSequence:
    """The seed of replication `replication` under `root_seed`, the same for every scenario."""
    return np.random.SeedSequence(root_seed, spawn_key=(replication,))


def simulate(
    scenario: Scenario,
    seed: np.random.SeedSequence | int,
    steps: int | None = None,
    engine: str | None = None,
    series: bool = True,
) -> tuple[dict[str, float], pd.DataFrame | None]:
    """One run of one scenario.

    Args:
        series: collect the per-step time series (False: the summary only, faster).

    Returns:
        (run summary as a dict of measures, per-step time series as a DataFrame, or None
        without `series`).
    """
    return outputs(run_model(scenario, seed, steps, engine, series), series)


def run_model(
    scenario: Scenario,
    seed: np.random.SeedSequence | int,
    steps: int | None = None,
    engine: str | None = None,
    series: bool = True,
    arrivals: list[np.ndarray] | None = None,
):
    """One run of one scenario: the `TrustModel` after its last step.

    Args:
        arrivals: another run's `lead_arrivals`, to run on its lead arrivals instead of
            this scenario's own (`trustsim.experiments.decompose`).
    """
    from trustsim.sim import TrustModel

    model = TrustModel(
        scenario=scenario,
        rng=np.random.default_rng(seed),
        engine=engine,
        steps=steps,
        series=series,
        arrivals=arrivals,
    )
    model.run_model()
    return model


def outputs(model, series: bool = True) -> tuple[dict[str, float], pd.DataFrame | None]:
    """A finished run's summary and (with `series`) its time series with a step column."""
    if not series:
        return model.summary(), None
    return model.summary(), model.datacollector.get_model_vars_dataframe(step="step")


def resolve_scenarios(refs: Iterable[str | Path | Scenario], overrides: Sequence[str] = ()):
    """Load each scenario with the overrides applied; names must be unique."""
    resolved: dict[str, Scenario] = {}
    for ref in refs:
        scenario = load_scenario(ref, overrides)
        if scenario.name in resolved:
            if resolved[scenario.name] == scenario:
                continue
            raise TrustsimInputError(
                f"two different scenarios are both named {scenario.name!r}; "
                "give one of them another `name` in its file."
            )
        resolved[scenario.name] = scenario
    if not resolved:
        raise TrustsimInputError("no scenario given; name at least one, e.g. real-estate.")
    return resolved


@dataclass
class RunResult:
    """Run summaries and time series of several scenarios over the same replications.

    Attributes:
        summaries: one row per (scenario, replication) with every run measure.
        timeseries: one row per (scenario, replication, step) with every step measure.
        scenarios: the fully resolved scenarios by name.
        posterior: where replication r's parameters were drawn from, when they were
            (`trustsim.calibration.carry.PosteriorDraws.provenance`); None otherwise.
    """

    summaries: pd.DataFrame
    timeseries: pd.DataFrame
    scenarios: dict[str, Scenario]
    seed: int
    replications: int
    steps: int | None
    engine: str
    command: str = field(default_factory=lambda: " ".join(sys.argv))
    replays: pd.DataFrame | None = None
    """One row per (base, scenario, replication): the scenario run on the base's lead
    arrivals (`trustsim.experiments.decompose`); None or empty without decomposition."""
    posterior: dict | None = None

    @property
    def names(self) -> list[str]:
        return list(self.scenarios)

    def metric_table(self, metrics: Sequence[str] | None = None) -> pd.DataFrame:
        """Mean and 95% CI of each metric per scenario (long format)."""
        import pandas as pd

        from trustsim.experiments.stats import mean_ci
        from trustsim.metrics import value_range

        metrics = list(metrics or metric_names(self.summaries))
        rows = []
        for name in self.names:
            runs = self.summaries[self.summaries["scenario"] == name]
            for metric in metrics:
                mean, low, high = mean_ci(runs[metric], within=value_range(metric))
                rows.append(
                    {"scenario": name, "metric": metric, "mean": mean,
                     "ci_low": low, "ci_high": high, "n": int(runs[metric].notna().sum())}
                )  # fmt: skip
        return pd.DataFrame(rows)

    def to_records(self, metrics: Sequence[str] | None = None) -> list[dict]:
        """One JSON-ready object per scenario: scenario, replications, seed, metrics."""
        table = self.metric_table(metrics)
        out = []
        for name in self.names:
            rows = table[table["scenario"] == name]
            out.append(
                {
                    "scenario": name,
                    "replications": self.replications,
                    "seed": self.seed,
                    "engine": self.engine,
                    "metrics": {
                        row.metric: {
                            "mean": _json_number(row.mean),
                            "ci_low": _json_number(row.ci_low),
                            "ci_high": _json_number(row.ci_high),
                        }
                        for row in rows.itertuples()
                    },
                }
            )
        return out

    def provenance(self) -> dict:
        from trustsim import __version__

        return {
            "trustsim_version": __version__,
            "scenarios": self.names,
            "seed": self.seed,
            "replications": self.replications,
            "steps": self.steps,
            "engine": self.engine,
            "command": self.command,
        } | ({"posterior": self.posterior} if self.posterior is not None else {})

    def write(
        self,
        out_dir: str | Path,
        *,
        kind: str = "run",
        force: bool = False,
        tables: Mapping[str, pd.DataFrame] | None = None,
    ) -> list[Path]:
        """Write the result as one directory; it replaces `out_dir` whole, atomically.

        A directory holding another result (another kind, other scenarios) is refused
        unless `force`; see `trustsim.output.check_result_target`.

        Args:
            out_dir: the results directory.
            kind: the command that made the result ("run", "compare", "demo", "features").
            force: replace a directory that holds a different result.
            tables: extra tables by file name (".parquet" or ".csv"), e.g. differences.

        Returns:
            The paths written.
        """
        from trustsim.output import atomic_directory, check_result_target

        check_result_target(out_dir, kind, self.names, force)
        with atomic_directory(out_dir) as folder:
            names = self.write_files(folder, kind, tables)
        return [Path(out_dir) / name for name in names]

    def write_files(
        self, folder: Path, kind: str = "run", tables: Mapping[str, pd.DataFrame] | None = None
    ) -> list[str]:
        """Write summaries and time series (Parquet), resolved scenarios (TOML), extra
        tables and run.json into `folder`, a fresh directory (as staged by `write`).

        run.json comes last and lists every file of the result, so a reader takes only
        files that belong to this result. Returns the names written, relative to `folder`.
        """
        frames = {"summaries.parquet": self.summaries, "timeseries.parquet": self.timeseries}
        if self.replays is not None and len(self.replays):
            frames["replays.parquet"] = self.replays
        frames |= dict(tables or {})
        for name, frame in frames.items():
            if name.endswith(".csv"):
                frame.to_csv(folder / name, index=False)
            else:
                frame.to_parquet(folder / name, index=False)
        (folder / "scenarios").mkdir()
        names = list(frames)
        for name, scenario in self.scenarios.items():
            (folder / "scenarios" / f"{name}.toml").write_text(
                scenario_to_toml(scenario), encoding="utf-8"
            )
            names.append(f"scenarios/{name}.toml")
        meta = {"kind": kind, **self.provenance(), "files": sorted(frames)}
        (folder / "run.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        return [*names, "run.json"]


def _json_number(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def metric_names(summaries: pd.DataFrame) -> list[str]:
    """Run measures in display order: headline measures first, then the rest."""
    from trustsim.metrics import HEADLINE

    skip = {"scenario", "replication", "seed", "steps", "engine"}
    rest = [c for c in summaries.columns if c not in skip and c not in HEADLINE]
    return [c for c in HEADLINE if c in summaries.columns] + rest


def check_run_options(replications: int, seed: int, steps: int | None) -> None:
    """Reject replications below 1, seeds outside 0 .. 2**63-1, steps outside 1 .. 100,000."""
    from trustsim.limits import MAX_SEED, MAX_STEPS

    if replications < 1:
        raise TrustsimInputError(f"replications = {replications}: must be at least 1.")
    if not 0 <= seed <= MAX_SEED:
        raise TrustsimInputError(f"seed = {seed}: must be between 0 and {MAX_SEED} (2**63-1).")
    if steps is not None and not 1 <= steps <= MAX_STEPS:
        raise TrustsimInputError(f"steps = {steps}: must be between 1 and {MAX_STEPS:,}.")


def run(
    scenarios: Iterable[str | Path | Scenario],
    replications: int = 20,
    seed: int = 0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    engine: str | None = None,
    progress: ProgressCallback | None = None,
    variant: ReplicationVariant | None = None,
    decompose: Sequence[tuple[str, str]] = (),
) -> RunResult:
    """Run each scenario `replications` times with common random numbers.

    Args:
        scenarios: built-in names, TOML paths or `Scenario` objects.
        replications: runs per scenario; replication r uses the same seed in each.
        seed: root seed.
        steps: horizon override (default: each scenario's `time.steps`).
        overrides: `PATH=VALUE` strings applied to every scenario.
        engine: "vectorized", "agents" (slower) or "compiled" (faster, needs numba); the
            same results, see docs/ENGINES.md. Default: the fastest installed
            (`trustsim.engines.fastest_engine`).
        progress: called as progress(done, total) after each run.
        variant: variant(name, scenario, r) gives the scenario replication r of `name`
            runs (default: the scenario itself); e.g. parameters drawn per replication.
        decompose: (base, other) scenario names whose effect is split into via
            conversion and via word of mouth: `other` also runs on the lead arrivals of
            `base` (one more run per replication and pair; `RunResult.replays`).

    Returns:
        A `RunResult` with tidy DataFrames of run summaries and time series.

    Example:
        >>> result = run(["real-estate", "real-estate-verifiable"], replications=5, seed=1)
        >>> result.metric_table(["closed_deals"]).shape[0]
        2
    """
    import pandas as pd

    from trustsim.engines import fastest_engine

    check_run_options(replications, seed, steps)
    engine = engine or fastest_engine()
    resolved = resolve_scenarios(scenarios, overrides)
    pairs = _check_pairs(decompose, resolved)
    bases = {base for base, _ in pairs}
    total = (len(resolved) + len(pairs)) * replications
    summaries, series, arrivals, done = [], [], {}, 0

    def advance() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done, total)

    def once(name: str, replication: int, **options):
        # A fresh seed per run: a model spawns its streams from it, which changes it.
        spec = variant(name, resolved[name], replication) if variant else resolved[name]
        return run_model(spec, replication_seed(seed, replication), steps, engine, **options)

    for name in resolved:
        for replication in range(replications):
            model = once(name, replication)
            if name in bases:
                arrivals[name, replication] = model.lead_arrivals
            summary, frame = outputs(model)
            summaries.append({"scenario": name, "replication": replication, **summary})
            frame.insert(0, "replication", replication)
            frame.insert(0, "scenario", name)
            series.append(frame)
            advance()
    replays = []
    for base, name in pairs:
        for replication in range(replications):
            model = once(name, replication, series=False, arrivals=arrivals[base, replication])
            replays.append(
                {"base": base, "scenario": name, "replication": replication, **model.summary()}
            )
            advance()
    return RunResult(
        summaries=pd.DataFrame(summaries),
        timeseries=pd.concat(series, ignore_index=True),
        scenarios=resolved,
        seed=seed,
        replications=replications,
        steps=steps,
        engine=engine,
        replays=pd.DataFrame(replays),
    )


def _check_pairs(pairs: Sequence[tuple[str, str]], resolved: Mapping) -> list[tuple[str, str]]:
    """The (base, other) pairs to decompose, each naming two different resolved scenarios."""
    pairs = list(dict.fromkeys((base, other) for base, other in pairs))
    for base, other in pairs:
        unknown = [name for name in (base, other) if name not in resolved]
        if unknown or base == other:
            raise TrustsimInputError(
                f"cannot split the effect of {other!r} against {base!r}: "
                + (f"no scenario named {unknown[0]!r} is run." if unknown else "the same scenario.")
            )
    return pairs


def paired_differences(
    result: RunResult, base: str, metrics: Sequence[str] | None = None
) -> pd.DataFrame:
    """Each other scenario minus `base`, paired by replication (common random numbers).

    Columns: scenario, metric, base_mean, mean (of the other), diff, ci_low, ci_high
    (95% t-interval of the mean paired difference), relative (mean(other) / mean(base) - 1
    over the pairs) with relative_ci_low and relative_ci_high (Fieller, see
    `stats.ratio_ci`), p_value (two-sided Wilcoxon signed-rank over replications; NaN below
    `stats.MIN_PAIRS_FOR_TEST` replications) and p_holm (Holm-adjusted over the scenarios
    compared with `base` on the same metric: the family a reader scans for "which
    alternative differs"); then the split of the difference into via conversion and via
    word of mouth with their intervals and driver (`decompose.SPLIT_COLUMNS`) where the
    metric is split (`decompose.DECOMPOSED`) and `result.replays` holds the pair's runs
    on the base's arrivals (NaN otherwise).
    """
    import pandas as pd

    from trustsim.experiments.decompose import DECOMPOSED, no_split, split_effect
    from trustsim.experiments.stats import holm, mean_ci, ratio_ci, wilcoxon_p

    metrics = list(metrics or metric_names(result.summaries))
    table = result.summaries.set_index(["scenario", "replication"]).sort_index()
    base_runs = table.loc[base]
    rows = []
    for name in result.names:
        if name == base:
            continue
        other = table.loc[name]
        replayed = _replays_of(result, base, name)
        for metric in metrics:
            diff = (other[metric] - base_runs[metric]).to_numpy(dtype=float)
            mean, low, high = mean_ci(diff)
            relative, rel_low, rel_high = ratio_ci(base_runs[metric], other[metric])
            rows.append(
                {
                    "scenario": name,
                    "metric": metric,
                    "base_mean": _nanmean(base_runs[metric]),
                    "mean": _nanmean(other[metric]),
                    "diff": mean,
                    "ci_low": low,
                    "ci_high": high,
                    "relative": relative,
                    "relative_ci_low": rel_low,
                    "relative_ci_high": rel_high,
                    "p_value": wilcoxon_p(diff),
                }
                | (
                    split_effect(base_runs[metric], other[metric], replayed[metric])
                    if replayed is not None and metric in DECOMPOSED
                    else no_split()
                )
            )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame.assign(p_holm=pd.Series(dtype=float))
    frame["p_holm"] = frame.groupby("metric", sort=False)["p_value"].transform(holm)
    return frame


def _replays_of(result: RunResult, base: str, name: str) -> pd.DataFrame | None:
    """The runs of `name` on `base`'s lead arrivals by replication, aligned with the
    summaries (None without them)."""
    replays = result.replays
    if replays is None or replays.empty:
        return None
    mine = replays[(replays["base"] == base) & (replays["scenario"] == name)]
    if mine.empty:
        return None
    return mine.drop(columns=["base", "scenario"]).set_index("replication").sort_index()


def _nanmean(values) -> float:
    """Mean ignoring NaN; NaN (without a warning) when every value is NaN."""
    x = np.asarray(values, dtype=float)
    return float(np.nanmean(x)) if np.any(~np.isnan(x)) else math.nan


def compare(
    base: str | Path | Scenario,
    others: Iterable[str | Path | Scenario],
    replications: int = 20,
    seed: int = 0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    engine: str | None = None,
    progress: ProgressCallback | None = None,
    variant: ReplicationVariant | None = None,
    decompose: bool = True,
) -> tuple[RunResult, pd.DataFrame]:
    """Run `base` and `others` with common random numbers; return runs and paired differences.

    With `decompose` (the default) each other scenario also runs on the base's lead
    arrivals, one more run per replication, so the differences in closed deals and
    revenue are split into via conversion and via word of mouth.

    Example:
        >>> result, diffs = compare("real-estate", ["real-estate-verifiable"], replications=5)
        >>> set(diffs["scenario"])
        {'real-estate-verifiable'}
    """
    others = list(others)
    if not others:
        raise TrustsimInputError("compare needs a base scenario and at least one other.")
    resolved = resolve_scenarios([base, *others], overrides)
    if len(resolved) < 2:
        raise TrustsimInputError("compare needs at least two different scenarios.")
    base_name, *other_names = resolved
    pairs = [(base_name, name) for name in other_names] if decompose else []
    result = run(resolved.values(), replications, seed, steps, (), engine, progress, variant, pairs)
    return result, paired_differences(result, base_name)


def subset(result, names):
    """The result restricted to scenarios `names` (their summaries; no time series)."""
    from dataclasses import replace

    keep = result.summaries["scenario"].isin(names)
    replays = result.replays
    if replays is not None and not replays.empty:
        replays = replays[replays["base"].isin(names) & replays["scenario"].isin(names)]
    return replace(
        result,
        summaries=result.summaries[keep],
        timeseries=result.timeseries.iloc[0:0],
        scenarios={n: result.scenarios[n] for n in names},
        replays=replays,
    )

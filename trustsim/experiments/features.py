"""Usage is not value: what each delegation feature and verification affordance is worth.

Each feature is removed in turn (a delegation feature by `stages.<s>.delegation=false`, a
verification affordance by `stages.<s>.affordance=0`) and the scenario is rerun with the
same seeds as the full offer (common random numbers). How often the feature is used comes
from the full offer's runs; what it is worth is the paired difference in closed deals and
satisfaction when it is gone. A feature can be rarely used and still be worth a lot: the
seed essay's "trust infrastructure".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import ProgressCallback, ReplicationDraws, RunResult
    from trustsim.scenarios import Scenario

# Outcomes a removed feature is judged by, in table order.
EFFECT_METRICS = ("closed_deals", "satisfaction")
USAGE_MEASURE = {"delegation": "delegation_rate", "affordance": "verification_rate"}
FEATURE_LABEL = {"delegation": "delegation", "affordance": "verification"}


@dataclass(frozen=True)
class Feature:
    """One removable feature: its kind ("delegation" or "affordance") and stage."""

    kind: str
    stage: str

    @property
    def label(self) -> str:
        return f"{self.stage} {FEATURE_LABEL[self.kind]}"

    @property
    def override(self) -> str:
        value = "false" if self.kind == "delegation" else "0"
        return f"stages.{self.stage}.{self.kind}={value}"

    def variant_name(self, base: str) -> str:
        return f"{base}.without-{self.kind}-{self.stage}"


@dataclass
class FeatureValue:
    """The feature table and the paired runs behind it.

    Attributes:
        table: one row per feature (see `feature_table` for the columns).
        result: the runs of the full offer and of every variant with one feature removed.
        skipped: features that cannot be removed alone, with the reason.
    """

    table: pd.DataFrame
    result: RunResult
    skipped: list[str]

    def write(self, out_dir: str | Path, force: bool = False) -> list[Path]:
        """Write the runs (as `RunResult.write`) plus features.parquet and features.csv."""
        return self.result.write(out_dir, kind="features", force=force, tables=self.tables())

    def tables(self) -> dict[str, pd.DataFrame]:
        """The feature table by the file names it is written under."""
        return {"features.parquet": self.table, "features.csv": self.table}


def removable_features(scenario: Scenario) -> tuple[list[Feature], list[str]]:
    """Features the scenario offers that can be removed one at a time.

    A forced step is done by the service, so its delegation feature cannot be removed
    without changing what the step is; such stages are reported as skipped.

    Example:
        >>> from trustsim.scenarios import load_scenario
        >>> features, _ = removable_features(load_scenario("real-estate-verifiable"))
        >>> Feature("affordance", "payment") in features
        True
    """
    features, skipped = [], []
    for name, stage in scenario.stages.items():
        if stage.delegation and stage.forced:
            skipped.append(f"{name} delegation (forced step: the service must do it)")
        elif stage.delegation:
            features.append(Feature("delegation", name))
        if stage.affordance > 0:
            features.append(Feature("affordance", name))
    return features, skipped


def feature_value(
    scenario: str | Path | Scenario,
    replications: int = 20,
    seed: int = 0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    progress: ProgressCallback | None = None,
    decompose: bool = True,
    draws: ReplicationDraws | None = None,
) -> FeatureValue:
    """Remove each feature in turn and measure usage against the cost of removing it.

    Args:
        scenario: built-in name, TOML path or `Scenario` (the full offer).
        replications: paired runs per variant (replication r shares its seed everywhere).
        seed: root seed.
        steps: horizon override.
        overrides: `PATH=VALUE` strings applied before any feature is removed.
        progress: called as progress(done, total) after each run.
        decompose: split the change in closed deals into via conversion and via word of
            mouth (each variant also runs on the full offer's lead arrivals: one more run
            per replication and feature).
        draws: parameters drawn per replication (e.g. from a calibration's posterior),
            applied to the full offer and every variant alike; `overrides` and the removed
            feature win over the draw. Recorded in the result's provenance.

    Returns:
        A `FeatureValue` with the table, the runs and the features that were skipped.

    Example:
        >>> fv = feature_value("real-estate-verifiable", replications=3, steps=20,
        ...                    overrides=["market.size=200"])
        >>> set(fv.table["kind"]) == {"delegation", "affordance"}
        True
    """
    from trustsim.experiments.runner import run
    from trustsim.scenarios import load_scenario

    if replications < 2:
        raise TrustsimInputError(
            f"replications = {replications}: a confidence interval needs at least 2."
        )
    base = load_scenario(scenario, overrides)
    features, skipped = removable_features(base)
    if not features:
        raise TrustsimInputError(
            f"scenario {base.name!r} has no delegation feature or verification affordance "
            "that can be removed."
        )
    variants = [load_scenario(base, [f.override], name=f.variant_name(base.name)) for f in features]
    variant = None
    if draws is not None:
        removed = {f.variant_name(base.name): (f.override,) for f in features}

        def variant(name: str, scenario: Scenario, replication: int) -> Scenario:
            return draws.apply(scenario, replication, [*overrides, *removed.get(name, ())])

    pairs = [(base.name, variant.name) for variant in variants] if decompose else []
    result = run(
        [base, *variants], replications, seed, steps, (), "vectorized", progress, variant, pairs
    )
    if draws is not None:
        result.posterior = draws.provenance()
    return FeatureValue(feature_table(result, base.name, features), result, skipped)


def feature_table(result: RunResult, base: str, features: Sequence[Feature]) -> pd.DataFrame:
    """One row per feature: usage in the full offer and the paired effect of removing it.

    Columns: feature, kind, stage, usage_measure, usage, usage_ci_low, usage_ci_high, n, then
    for each metric M in EFFECT_METRICS: M_base, M_change, M_ci_low, M_ci_high,
    M_relative, M_relative_ci_low, M_relative_ci_high (Fieller, never below -100%),
    M_p_value and M_p_holm (Holm-adjusted over the features), where change = (without the
    feature) - (full offer), paired by replication; a negative change is what the feature
    is worth. A split measure (closed deals) also has M_conversion, M_word_of_mouth (they
    sum to M_change), their _ci_low and _ci_high, and M_driver (`decompose.split_effect`;
    NaN when the runs were not split).
    """
    import pandas as pd

    from trustsim.experiments.decompose import DECOMPOSED, SPLIT_COLUMNS
    from trustsim.experiments.runner import paired_differences
    from trustsim.experiments.stats import mean_ci

    diffs = paired_differences(result, base, EFFECT_METRICS).set_index(["scenario", "metric"])
    base_runs = result.summaries[result.summaries["scenario"] == base]
    rows = []
    for feature in features:
        measure = f"{USAGE_MEASURE[feature.kind]}[{feature.stage}]"
        usage, low, high = mean_ci(base_runs[measure], within=(0.0, 1.0))  # a share
        row = {
            "feature": feature.label,
            "kind": feature.kind,
            "stage": feature.stage,
            "usage_measure": measure,
            "usage": usage,
            "usage_ci_low": low,
            "usage_ci_high": high,
            "n": result.replications,
        }
        for metric in EFFECT_METRICS:
            d = diffs.loc[(feature.variant_name(base), metric)]
            row |= {
                f"{metric}_base": d["base_mean"],
                f"{metric}_change": d["diff"],
                f"{metric}_ci_low": d["ci_low"],
                f"{metric}_ci_high": d["ci_high"],
                f"{metric}_relative": d["relative"],
                f"{metric}_relative_ci_low": d["relative_ci_low"],
                f"{metric}_relative_ci_high": d["relative_ci_high"],
                f"{metric}_p_value": d["p_value"],
                f"{metric}_p_holm": d["p_holm"],
            }
            if metric in DECOMPOSED:
                row |= {f"{metric}_{column}": d[column] for column in SPLIT_COLUMNS}
        rows.append(row)
    return pd.DataFrame(rows)

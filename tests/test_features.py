"""`trustsim features`: each feature removed in turn, paired with the full offer."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.errors import TrustsimInputError
from trustsim.experiments.features import Feature, feature_value, removable_features
from trustsim.scenarios import load_scenario

SMALL = dict(replications=3, seed=0, steps=30, overrides=["market.size=300"])


@pytest.fixture(scope="module")
def value():
    return feature_value("real-estate-verifiable", **SMALL)


def test_every_delegation_feature_and_affordance_is_removed_once(value):
    spec = load_scenario("real-estate-verifiable")
    delegation = {s for s, st in spec.stages.items() if st.delegation and not st.forced}
    affordance = {s for s, st in spec.stages.items() if st.affordance > 0}
    table = value.table
    assert set(table.query("kind == 'delegation'")["stage"]) == delegation
    assert set(table.query("kind == 'affordance'")["stage"]) == affordance
    assert len(table) == len(delegation) + len(affordance)


def test_each_variant_differs_from_the_full_offer_only_in_its_feature(value):
    base = value.result.scenarios["real-estate-verifiable"]
    for row in value.table.itertuples():
        feature = Feature(row.kind, row.stage)
        variant = value.result.scenarios[feature.variant_name(base.name)]
        assert variant.model_dump(exclude={"name", "stages"}) == base.model_dump(
            exclude={"name", "stages"}
        )
        for stage, spec in variant.stages.items():
            expected = base.stages[stage]
            if stage == row.stage:
                expected = expected.model_copy(
                    update={"delegation": False}
                    if row.kind == "delegation"
                    else {"affordance": 0.0}
                )
            assert spec == expected


def test_usage_and_effects_are_the_paired_numbers_of_the_runs(value):
    runs = value.result.summaries.set_index(["scenario", "replication"])["closed_deals"]
    base_runs = value.result.summaries.query("scenario == 'real-estate-verifiable'")
    for row in value.table.itertuples():
        usage = base_runs[row.usage_measure].mean()
        assert row.usage == pytest.approx(usage)
        assert row.usage_ci_low <= row.usage <= row.usage_ci_high
        variant = Feature(row.kind, row.stage).variant_name("real-estate-verifiable")
        diff = runs.loc[variant] - runs.loc["real-estate-verifiable"]
        assert row.closed_deals_change == pytest.approx(diff.mean())
        assert row.closed_deals_ci_low <= row.closed_deals_change <= row.closed_deals_ci_high


def test_replications_share_seeds_across_variants(value):
    reps = value.result.summaries.groupby("scenario")["replication"].apply(tuple)
    assert reps.nunique() == 1 and reps.iloc[0] == (0, 1, 2)


def test_forced_steps_keep_their_delegation_and_are_reported():
    spec = load_scenario("real-estate-funnel")
    features, skipped = removable_features(spec)
    forced = [s for s, st in spec.stages.items() if st.forced]
    assert forced, "the funnel scenario forces some steps"
    assert all(Feature("delegation", s) not in features for s in forced)
    assert len(skipped) == len(forced)


def test_a_scenario_without_features_is_an_input_error(tmp_path):
    spec = load_scenario("real-estate")
    sets = [f"stages.{s}.delegation=false" for s in spec.stages]
    with pytest.raises(TrustsimInputError, match="no delegation feature"):
        feature_value("real-estate", replications=2, steps=5, overrides=sets)


def test_cli_features_writes_parquet_csv_and_runs(tmp_path):
    out = tmp_path / "features"
    res = CliRunner().invoke(
        main,
        [
            "features",
            "real-estate-verifiable",
            "-n",
            "3",
            "-t",
            "20",
            "--set",
            "market.size=200",
            "--out",
            str(out),
            "--format",
            "json",
        ],
    )
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    parquet = pd.read_parquet(out / "features.parquet")
    csv = pd.read_csv(out / "features.csv")
    assert len(payload["features"]) == len(parquet) == len(csv)
    np.testing.assert_allclose(csv["closed_deals_change"], parquet["closed_deals_change"])
    assert (out / "run.json").is_file() and (out / "summaries.parquet").is_file()


@pytest.mark.parametrize(
    "args, message",
    [
        (["features", "no-such-scenario"], "unknown scenario"),
        (["features", "real-estate", "-n", "1"], "-n"),
        (["features", "real-estate", "--set", "stages.nope.affordance=1"], "no stage named"),
    ],
)
def test_cli_features_bad_input_exits_2(args, message):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert message in res.output

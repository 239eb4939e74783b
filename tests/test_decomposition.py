"""Effects split into via conversion and via word of mouth (docs/ODD.md 7.13).

The split rests on one engine hook: a run given another run's lead arrivals. Running a
scenario on its own recorded arrivals must reproduce it bit for bit; an alternative on
the base's arrivals gets exactly the base's leads; the engines agree on such runs; and
the two parts sum to the paired difference.
"""

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.errors import TrustsimInputError
from trustsim.experiments.decompose import driver_phrase, split_effect
from trustsim.experiments.features import feature_value
from trustsim.experiments.runner import compare, run
from trustsim.scenarios import load_scenario
from trustsim.sim import TrustModel
from trustsim.terminal import effect_sentence

ENGINES = ("vectorized", "compiled", "agents")
SMALL = ["--set", "market.size=150", "--steps", "20", "-n", "6"]


def series(model: TrustModel) -> pd.DataFrame:
    return model.datacollector.get_model_vars_dataframe()


def run_on(scenario, engine: str, seed: int, arrivals=None) -> TrustModel:
    model = TrustModel(scenario, rng=seed, engine=engine, arrivals=arrivals)
    model.run_model()
    return model


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", ["real-estate-verifiable-funnel", "delivery-trial-journey"])
def test_a_run_on_its_own_recorded_arrivals_reproduces_it_bit_for_bit(
    name, engine, small_scenario, run_model
):
    scenario = small_scenario(name, busy=True)
    base = run_model(scenario, engine, 4, record_choices=True)
    again = TrustModel(scenario, rng=4, engine=engine, record_choices=True,
                       arrivals=base.lead_arrivals)  # fmt: skip
    again.run_model()
    assert base.summary()["leads"] > 0
    pd.testing.assert_frame_equal(series(base), series(again), check_exact=True)
    pd.testing.assert_frame_equal(base.choice_log(), again.choice_log(), check_exact=True)


def test_an_alternative_on_the_base_arrivals_gets_the_base_leads_at_the_same_steps(
    small_scenario, run_model
):
    # Word of mouth strong enough (10 a year, talking for good) that the alternative's
    # own lead flow differs from the base's within 40 weeks.
    talk = ("market.word_of_mouth=10", "market.talk_half_life=inf")
    base = run_model(small_scenario("real-estate", busy=True, extra=talk), "vectorized", 2)
    alternative = small_scenario("real-estate-verifiable", busy=True, extra=talk)
    own = run_model(alternative, "vectorized", 2)
    replayed = run_on(alternative, "vectorized", 2, base.lead_arrivals)
    pairs = zip(own.lead_arrivals, base.lead_arrivals, strict=True)
    assert any(not np.array_equal(a, b) for a, b in pairs)
    pairs = zip(replayed.lead_arrivals, base.lead_arrivals, strict=True)
    assert all(np.array_equal(a, b) for a, b in pairs)
    assert replayed.summary()["leads"] == base.summary()["leads"]
    # The alternative still converts its own way: closing differs from the base's.
    assert replayed.summary()["closed_deals"] != base.summary()["closed_deals"]


def test_the_engines_agree_bit_for_bit_on_another_runs_arrivals(small_scenario, run_model):
    base = run_model(small_scenario("real-estate-funnel", busy=True), "vectorized", 6)
    alternative = small_scenario("real-estate-verifiable-funnel", busy=True)
    runs = [series(run_on(alternative, engine, 6, base.lead_arrivals)) for engine in ENGINES]
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0], other, check_exact=True)


def test_a_market_of_another_size_gets_the_same_number_of_leads_per_step(small_scenario):
    base = run_on(small_scenario("real-estate", busy=True), "vectorized", 1)
    smaller = small_scenario("real-estate", busy=True, extra=("market.size=200",))
    replayed = run_on(smaller, "vectorized", 1, base.lead_arrivals)
    potential = 200
    for recorded, arrived in zip(base.lead_arrivals, replayed.lead_arrivals, strict=True):
        assert len(arrived) == min(len(recorded), potential)
        potential -= len(arrived)
    assert any(len(a) and a.max() >= 200 for a in base.lead_arrivals), "no buyer was missing"


def test_past_the_recorded_steps_a_run_brings_its_own_leads(small_scenario):
    scenario = small_scenario("real-estate", busy=True)
    short = TrustModel(scenario, rng=3, steps=10)
    short.run_model()
    longer = run_on(scenario, "vectorized", 3, short.lead_arrivals)
    full = run_on(scenario, "vectorized", 3)
    pd.testing.assert_frame_equal(series(longer), series(full), check_exact=True)


def test_a_scenario_against_a_copy_of_itself_splits_into_two_zeros():
    base = load_scenario("real-estate", ["market.size=150"])
    copy = load_scenario(base, [], name="copy")
    result = run([base, copy], 3, steps=20, decompose=[("real-estate", "copy")])
    replays = result.replays.set_index("replication")
    runs = result.summaries.set_index(["scenario", "replication"])
    assert list(replays["closed_deals"]) == list(runs.loc["real-estate"]["closed_deals"])


def test_split_effects_sum_to_the_difference_and_are_paired_differences():
    result, diffs = compare("real-estate", ["real-estate-verifiable"], 6, steps=30,
                            overrides=["market.size=300"])  # fmt: skip
    runs = result.summaries.set_index(["scenario", "replication"])
    replays = result.replays.set_index("replication")
    for metric in ("closed_deals", "revenue"):
        row = diffs.set_index("metric").loc[metric]
        base, other = runs.loc["real-estate"][metric], runs.loc["real-estate-verifiable"][metric]
        via_conversion = replays[metric] - base
        assert row["conversion"] == pytest.approx(via_conversion.mean(), rel=1e-12)
        assert row["conversion"] + row["word_of_mouth"] == row["diff"]
        assert ((via_conversion + (other - replays[metric])) == (other - base)).all()
        for part in ("conversion", "word_of_mouth"):
            assert row[f"{part}_ci_low"] <= row[part] <= row[f"{part}_ci_high"]
    assert math.isnan(diffs.set_index("metric").loc["satisfaction", "conversion"])


def test_the_driver_is_named_only_where_the_interval_of_the_parts_gap_says_so():
    base = [10.0, 12.0, 11.0, 13.0]
    word_heavy = split_effect(base, [30.0, 35.0, 32.0, 36.0], [12.0, 14.0, 13.0, 15.0])
    assert word_heavy["driver"] == "word_of_mouth"
    conversion_heavy = split_effect(base, [30.0, 35.0, 32.0, 36.0], [28.0, 32.0, 30.0, 34.0])
    assert conversion_heavy["driver"] == "conversion"
    losses = split_effect(base, [2.0, 3.0, 2.0, 4.0], [4.0, 5.0, 3.0, 6.0])  # -7, -8, ...
    assert losses["driver"] == "conversion"
    even = split_effect(base, [20.0, 22.0, 21.0, 23.0], [15.0, 16.0, 17.0, 17.0])
    assert even["driver"] is None


def test_a_part_working_against_the_effect_is_named_with_its_interval():
    row = {"diff": 100.0} | split_effect([10.0, 11, 12, 13], [110.0, 112, 111, 113],
                                         [5.0, 6, 6, 7])  # fmt: skip
    phrase = driver_phrase("closed_deals", row)
    assert phrase.startswith("mostly via word of mouth; via conversion -")


def test_demo_sentences_say_which_part_drives_an_established_effect():
    row = {"metric": "closed_deals", "diff": 40.0, "ci_low": 30.0, "ci_high": 50.0,
           "relative": 0.5, "relative_ci_low": 0.4, "relative_ci_high": 0.6,
           "p_holm": 0.001} | split_effect([10.0, 12, 11, 13], [50.0, 52, 51, 53],
                                           [11.0, 13, 12, 14])  # fmt: skip
    assert "mostly via word of mouth" in effect_sentence("X", pd.DataFrame([row]))
    unclear = pd.DataFrame([row | {"p_holm": 0.2}])
    assert "via" not in effect_sentence("X", unclear)


def test_compare_json_rows_carry_the_decomposition_with_intervals():
    result = CliRunner().invoke(main, ["compare", "real-estate", "real-estate-verifiable",
                                       *SMALL, "--format", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    split = {r["metric"]: r for r in rows if "decomposition" in r}
    assert set(split) == {"closed_deals", "revenue"}
    for row in split.values():
        parts = row["decomposition"]
        assert parts["conversion"] + parts["word_of_mouth"] == row["diff"]
        for part in ("conversion", "word_of_mouth"):
            assert row[f"{part}_ci_low"] <= parts[part] <= row[f"{part}_ci_high"]


def test_no_decompose_runs_no_extra_run_and_splits_nothing():
    progress = []
    result, diffs = compare("real-estate", ["real-estate-verifiable"], 3, steps=10,
                            overrides=["market.size=100"], decompose=False,
                            progress=lambda done, total: progress.append(total))  # fmt: skip
    assert set(progress) == {6} and result.replays.empty
    assert diffs["conversion"].isna().all()
    out = CliRunner().invoke(main, ["compare", "real-estate", "real-estate-verifiable",
                                    *SMALL, "--format", "json", "--no-decompose"])  # fmt: skip
    assert not any("decomposition" in row for row in json.loads(out.stdout))


def test_features_split_the_cost_in_closed_deals():
    value = feature_value("real-estate-verifiable", 3, steps=20, overrides=["market.size=200"])
    table = value.table
    assert (table["closed_deals_conversion"] + table["closed_deals_word_of_mouth"]
            == table["closed_deals_change"]).all()  # fmt: skip
    assert "satisfaction_conversion" not in table
    assert len(value.result.replays) == 3 * len(table)


def test_a_split_of_an_unknown_pair_is_refused():
    with pytest.raises(TrustsimInputError, match="no scenario named 'nope'"):
        run(["real-estate"], 2, steps=5, decompose=[("real-estate", "nope")])


def test_a_written_comparison_reads_back_with_its_split(tmp_path):
    from trustsim.charts.results import load_results
    from trustsim.experiments.runner import paired_differences

    out = tmp_path / "cmp"
    args = ["compare", "real-estate", "real-estate-funnel", *SMALL, "--out", str(out)]
    assert CliRunner().invoke(main, args).exit_code == 0
    loaded = load_results(out)
    again = paired_differences(loaded.run, "real-estate").set_index("metric")
    written = pd.read_parquet(out / "differences.parquet").set_index("metric")
    for metric in ("closed_deals", "revenue"):
        for column in ("conversion", "word_of_mouth", "conversion_ci_low"):
            assert again.loc[metric, column] == pytest.approx(written.loc[metric, column])

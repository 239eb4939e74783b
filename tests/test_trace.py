"""`trace_buyer` and `trustsim trace`: one buyer's journey, told step by step."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.experiments.trace import TRACE_COLUMNS, BuyerNotTraced, trace_buyer

SMALL = ("market.size=200", "time.steps=30", "market.outside_influence=2.6")


@pytest.fixture(scope="module")
def journey():
    return trace_buyer("real-estate-verifiable", buyer=7, seed=1, overrides=SMALL)


def test_trace_has_the_stable_columns_first(journey):
    assert tuple(journey.columns[: len(TRACE_COLUMNS)]) == TRACE_COLUMNS


def test_trace_is_one_row_per_step_acted_with_valid_probabilities(journey):
    assert len(journey) > 0
    assert journey["step"].is_monotonic_increasing and journey["step"].is_unique
    probabilities = journey[["p_delegate", "p_verify", "p_abandon"]].to_numpy()
    assert ((probabilities >= 0) & (probabilities <= 1)).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert set(journey["action"].astype(str)) <= {"delegate", "verify", "abandon"}


def test_trace_ends_when_the_buyer_leaves(journey):
    left = journey["status"].astype(str).isin(["abandoned", "finished"]).to_numpy()
    # Once the buyer has left the journey, it has no more rows.
    assert not left[:-1].any()


def test_both_engines_give_the_same_trace():
    arrays = trace_buyer("real-estate-funnel", 7, seed=2, overrides=SMALL)
    agents = trace_buyer("real-estate-funnel", 7, seed=2, overrides=SMALL, engine="agents")
    assert arrays.equals(agents)


def test_a_buyer_who_never_became_a_lead_gets_a_suggestion():
    quiet = ("market.size=200", "market.outside_influence=0.52")
    with pytest.raises(BuyerNotTraced, match="never became a lead") as caught:
        for buyer in range(200):
            trace_buyer("real-estate", buyer, seed=0, steps=5, overrides=quiet)
    suggested = trace_buyer(
        "real-estate", caught.value.suggestion, seed=0, steps=5, overrides=quiet
    )
    assert len(suggested) > 0


def test_cli_trace_table_json_and_errors():
    runner = CliRunner()
    args = ["trace", "real-estate-verifiable", "--buyer", "7", "--seed", "1"]
    args += [item for value in SMALL for item in ("--set", value)]
    table = runner.invoke(main, args)
    assert table.exit_code == 0, table.output
    assert "Buyer 7 became a lead at step" in table.output
    as_json = runner.invoke(main, [*args, "--format", "json"])
    records = json.loads(as_json.output)
    assert set(TRACE_COLUMNS) <= set(records[0])
    missing = runner.invoke(main, ["trace", "real-estate", "--buyer", "999999", "--steps", "2"])
    assert missing.exit_code == 2
    assert "numbered 0 to 1999" in missing.output


def test_trace_is_written_where_the_story_chart_looks(tmp_path, journey):
    from trustsim.charts import load_trace
    from trustsim.experiments.trace import write_trace

    assert write_trace(journey, tmp_path).name == "trace.parquet"
    assert write_trace(journey, tmp_path / "buyer.csv").is_file()
    loaded = load_trace(tmp_path)
    assert list(loaded["step"]) == list(journey["step"])
    assert list(loaded["action"]) == list(journey["action"].astype(str))


@pytest.mark.parametrize("engine", ["vectorized", "agents", "compiled"])
def test_every_engine_logs_the_choice_record_registrys_columns_in_its_order(
    engine, small_scenario, run_model
):
    from trustsim.trace_columns import RECORDED

    log = run_model(small_scenario("real-estate", busy=True), engine, 3, True).choice_log()
    assert tuple(log.columns) == RECORDED


def test_the_trace_table_and_the_odd_take_their_columns_from_the_registry(journey, capsys):
    from pathlib import Path

    from trustsim.terminal.trace import print_trace
    from trustsim.trace_columns import COLUMNS, record_table

    odd = (Path(__file__).parents[1] / "docs" / "ODD.md").read_text(encoding="utf-8")
    assert record_table() in odd, "docs/ODD.md 4.11 is `record_table()` (regenerate it)"
    print_trace(journey, 7, "Buyer 7")
    header = capsys.readouterr().out
    for name in TRACE_COLUMNS:
        assert COLUMNS[name].header in header


def test_done_says_whether_a_buyers_next_visit_is_of_the_next_stage():
    from trustsim.sim import TrustModel

    model = TrustModel("real-estate", rng=3, steps=40, record_choices=True, engine="vectorized")
    model.run_model()
    log = model.choice_log().sort_values(["buyer", "step"])
    stage = log["stage"].cat.codes
    following = log.groupby("buyer")["stage"].shift(-1)
    has_next = following.notna()
    advanced = stage.groupby(log["buyer"]).shift(-1) > stage
    assert (log.loc[has_next, "moved_on"] == advanced[has_next]).all()
    # Verified successes that spill over into another visit exist, and say "not done".
    spilled = log[(log["outcome"] == "success") & ~log["moved_on"]]
    assert len(spilled) > 0 and (spilled["action"] == "verify").all()

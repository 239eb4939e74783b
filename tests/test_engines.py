"""The per-agent engine agrees exactly with the array engine (docs/ENGINES.md)."""

import numpy as np
import pandas as pd
import pytest

from trustsim.engines.agents import AgentsEngine, Buyer
from trustsim.model import steps
from trustsim.scenarios import builtin_names
from trustsim.sim import TrustModel


@pytest.mark.parametrize("name", builtin_names())
@pytest.mark.parametrize("busy", [False, True], ids=["defaults", "busy"])
def test_engines_give_identical_time_series(name, busy, small_scenario, run_model):
    scenario = small_scenario(name, busy)
    for seed in (0, 1, 2):
        arrays = run_model(scenario, "vectorized", seed).datacollector.get_model_vars_dataframe()
        agents = run_model(scenario, "agents", seed).datacollector.get_model_vars_dataframe()
        assert arrays["leads"].iloc[-1] > 0
        pd.testing.assert_frame_equal(arrays, agents, check_exact=True)


def test_engines_give_identical_choice_logs_and_summaries(small_scenario, run_model):
    scenario = small_scenario("real-estate-verifiable-funnel", busy=True)
    arrays = run_model(scenario, "vectorized", 5, record_choices=True)
    agents = run_model(scenario, "agents", 5, record_choices=True)
    assert set(arrays.choice_log()["outcome"]) >= {"success", "incident", "walked away"}
    pd.testing.assert_frame_equal(arrays.choice_log(), agents.choice_log(), check_exact=True)
    assert arrays.summary() == pytest.approx(agents.summary(), abs=0, rel=0, nan_ok=True)


def test_buyers_are_mesa_agents_of_the_model(small_scenario, run_model):
    model = run_model(small_scenario("real-estate"), "agents", 1)
    assert isinstance(model.engine, AgentsEngine)
    assert len(model.agents) == 300
    assert all(isinstance(agent, Buyer) for agent in model.agents)


# Every built-in scenario, and one run a day at a time, where buyers mid-visit do not act.
IN_TURN = [pytest.param(name, (), id=name) for name in builtin_names()]
IN_TURN.append(pytest.param("real-estate", ("time.step_unit=day", "time.steps=120"), id="daily"))


@pytest.mark.parametrize(("name", "extra"), IN_TURN)
def test_each_buyer_stepping_alone_in_turn_equals_the_array_engine(
    name, extra, small_scenario, run_model, monkeypatch
):
    # Buyers do not interact within a step, so the order of updates must not matter, and
    # the sub-steps give the same bits on one buyer's own values as over arrays.
    scenario = small_scenario(name, busy=True, extra=extra)
    arrays = run_model(scenario, "vectorized", 3).datacollector.get_model_vars_dataframe()
    monkeypatch.setattr(AgentsEngine, "step", AgentsEngine.step_in_turn)
    in_turn = run_model(scenario, "agents", 3).datacollector.get_model_vars_dataframe()
    assert arrays["closed_deals"].iloc[-1] > 0
    pd.testing.assert_frame_equal(arrays, in_turn, check_exact=True)


def test_engines_and_buyers_follow_the_model_schedule():
    assert all(callable(getattr(AgentsEngine, name)) for name in TrustModel.STEP_ORDER)
    # A buyer alone: repeat purchases, then the acting sub-steps in the schedule's order.
    acting = [step.__name__ for step in steps.ACTING_STEPS]
    assert ["repeat_purchases", *acting] == list(TrustModel.STEP_ORDER)


def test_unknown_engine_is_refused():
    with pytest.raises(ValueError, match="engine must be one of"):
        TrustModel("real-estate", rng=1, engine="gpu")


def test_agents_engine_gathers_state_with_the_array_dtypes(small_scenario, run_model):
    scenario = small_scenario("real-estate", busy=True)
    arrays, agents = run_model(scenario, "vectorized", 2), run_model(scenario, "agents", 2)
    for name in ("status", "stage", "satisfaction", "good", "base_rate", "churned", "closed"):
        mine, theirs = getattr(agents.engine, name), getattr(arrays.engine, name)
        assert mine.dtype == theirs.dtype, name
        np.testing.assert_array_equal(mine, theirs)

"""TrustModel: invariants over random valid scenarios, determinism, Mesa compatibility."""

import itertools
import math

import mesa
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from trustsim.model.codes import (
    ABANDONED,
    ACTIVE,
    DETERRED,
    FINISHED,
    POST_PURCHASE,
    POTENTIAL,
    STATUSES,
)
from trustsim.scenarios import load_scenario
from trustsim.scenarios.schema import Scenario
from trustsim.sim import TrustModel

# Measures that are honestly undefined in some states (no customers yet, a stage nobody
# reached): they may be NaN exactly then, and never otherwise.
MAY_BE_UNDEFINED = {"satisfaction", "time_to_close", "nps", "conversion"}
CUMULATIVE = ("leads", "closed_deals", "incidents", "errors_caught", "repeat_purchases", "revenue")


def small(name: str, **extra) -> Scenario:
    overrides = ["market.size=300", "time.steps=40", "time.short_horizon=10"]
    overrides += [f"{k}={v}" for k, v in extra.items()]
    return load_scenario(name, overrides)


def run(scenario, seed=1, **kwargs) -> TrustModel:
    model = TrustModel(scenario=scenario, rng=seed, **kwargs)
    model.run_model()
    return model


unit = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@st.composite
def scenarios(draw) -> Scenario:
    """Random valid scenarios: 1-6 stages with any stakes, features, pressure, forcing and
    durations of 1-3 steps of a day or a week."""
    step_unit = draw(st.sampled_from(["day", "week"]))
    days = {"day": 1.0, "week": 7.0}[step_unit]
    n_stages = draw(st.integers(1, 6))
    stages = {}
    for index in range(n_stages):
        forced = draw(st.booleans())
        weights = np.array([draw(st.floats(0.01, 1.0)) for _ in range(3)])
        stages[f"s{index}"] = {
            "stake": draw(unit),
            "reliability": draw(unit),
            "weights": (weights / weights.sum()).tolist(),
            "delegation": forced or draw(st.booleans()),
            "affordance": draw(unit),
            "pressure": draw(unit),
            "forced": forced,
            "competition": draw(st.floats(0.0, 3.0)),
            "duration": days * draw(st.integers(1, 3)),
        }
    steps = draw(st.integers(1, 30))
    raw = {
        "name": "random",
        "closing_stage": f"s{draw(st.integers(0, n_stages - 1))}",
        "time": {
            "steps": steps,
            "short_horizon": draw(st.integers(1, steps)),
            "step_unit": step_unit,
        },
        "market": {
            "size": draw(st.integers(1, 300)),
            # per year: up to a weekly hazard of about 1 (clipped above it)
            "outside_influence": draw(st.floats(0.0, 60.0)),
            "word_of_mouth": draw(st.floats(0.0, 100.0)),
            "talk_half_life": draw(st.one_of(st.floats(0.01, 5.0), st.just(math.inf))),
        },
        "trust": {
            "forgetting": draw(st.floats(0.5, 1.0)),
            "base_rate": [draw(st.floats(0.01, 0.99)) for _ in range(3)],
        },
        "choice": {"temperature": draw(st.floats(0.05, 3.0))},
        # per day: at most one purchase per step
        "repeat": {"rate": draw(st.floats(0.0, 1.0 / days)), "value": draw(st.floats(0.0, 2.0))},
        "segments": {
            "a": {"share": 0.4, "risk_aversion": {"dist": "uniform", "low": 0.0, "high": 1.0}},
            "b": {"share": 0.6, "patience": {"dist": "constant", "value": draw(unit)}},
        },
        "stages": stages,
    }
    return Scenario.model_validate(raw)


def check_invariants(model: TrustModel) -> None:
    eng, series = model.engine, model.datacollector.get_model_vars_dataframe()
    size = model.spec.market.size
    status = eng.status
    # Every lead is in exactly one status, and the statuses cover the market.
    counts = np.bincount(status, minlength=len(STATUSES))
    assert counts.sum() == size
    last = series.iloc[-1]
    assert last["leads"] == size - counts[POTENTIAL] - counts[DETERRED]
    assert last["deterred"] == counts[DETERRED]
    assert last["leads"] == last["active"] + last["finished"] + last["abandoned"]
    customers = eng.closed >= 0
    assert np.all(customers[(status == POST_PURCHASE) | (status == FINISHED)])
    assert not np.any(customers[(status == ABANDONED) | (status == POTENTIAL) | (status == ACTIVE)])
    assert last["closed_deals"] == counts[POST_PURCHASE] + counts[FINISHED]
    # The funnel: everyone reached the first stage; fewer reach each later one; past the
    # closing stage exactly the customers.
    reached = [last[f"reached[{name}]"] for name in model.stages.names]
    assert reached[0] == last["leads"]
    assert all(a >= b for a, b in itertools.pairwise(reached))
    closing = model.stages.closing
    if closing + 1 < model.stages.count:
        assert reached[closing + 1] == last["closed_deals"]
    # Counts never negative; cumulative counts never fall.
    signed = {"nps"}  # promoters minus detractors: -100 to 100
    for column in series.columns:
        if column not in signed:
            assert (series[column].dropna() >= 0).all(), column
    assert series["nps"].dropna().between(-100, 100).all()
    for column in CUMULATIVE:
        assert (series[column].diff().dropna() >= -1e-9).all(), column
    # Trust, satisfaction and rates stay within [0, 1].
    leads = status != POTENTIAL
    for values in (eng.satisfaction[leads],):
        assert np.all((values >= 0) & (values <= 1))
    for column in series.columns:
        if column.startswith(("trust_", "delegation_rate", "verification_rate", "abandonment")):
            values = series[column].dropna()
            assert ((values >= 0) & (values <= 1)).all(), column
    # NaN only where a measure is undefined.
    for column in series.columns:
        if series[column].isna().any():
            assert column in MAY_BE_UNDEFINED or "_rate[" in column, column
    if last["closed_deals"] > 0:
        assert not math.isnan(last["satisfaction"]) and not math.isnan(last["time_to_close"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), seed=st.integers(0, 2**32 - 1))
def test_invariants_hold_for_random_valid_scenarios(scenario, seed):
    check_invariants(run(scenario, seed))


def test_invariants_hold_for_every_builtin():
    for name in (
        "real-estate",
        "real-estate-verifiable",
        "real-estate-funnel",
        "real-estate-verifiable-funnel",
        "delivery-trial-funnel",
        "delivery-trial-journey",
    ):
        check_invariants(run(small(name), seed=3))


def test_same_seed_same_numbers_and_different_seeds_differ():
    scenario = small("real-estate-verifiable")
    first = run(scenario, 42).datacollector.get_model_vars_dataframe()
    again = run(scenario, 42).datacollector.get_model_vars_dataframe()
    other = run(scenario, 43).datacollector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(first, again)
    assert not first.equals(other)


def test_running_stops_at_the_horizon():
    model = run(small("delivery-trial-journey"), 1)
    assert not model.running and model.steps == 40
    assert len(model.datacollector.get_model_vars_dataframe()) == 41  # step 0 .. 40
    assert model.summary()["steps"] == 40


def test_a_run_without_its_series_has_the_same_summary():
    scenario = small("real-estate-verifiable")
    for engine in ("vectorized", "compiled"):
        with_series = TrustModel(scenario, rng=4, engine=engine)
        with_series.run_model()
        summary_only = TrustModel(scenario, rng=4, engine=engine, series=False)
        summary_only.run_model()
        assert pd.Series(summary_only.summary()).equals(pd.Series(with_series.summary()))
        assert len(summary_only.datacollector.get_model_vars_dataframe()) == 1  # set-up only


def test_steps_argument_overrides_the_horizon():
    model = run(small("real-estate"), 1, steps=7)
    assert model.steps == 7


def test_works_under_mesa_batch_run():
    results = mesa.batch_run(
        TrustModel,
        parameters={"scenario": ["real-estate", "delivery-trial-journey"]},
        rng=[1, 2],
        max_steps=15,
        number_processes=1,
        data_collection_period=-1,
        display_progress=False,
    )
    frame = pd.DataFrame(results)
    assert len(frame) == 4
    assert set(frame["scenario"]) == {"real-estate", "delivery-trial-journey"}
    assert {"leads", "closed_deals", "conversion", "nps", "satisfaction"} <= set(frame.columns)
    assert (frame["Step"] == 15).all() and (frame["leads"] > 0).all()
    # Same rng, same numbers, whichever order batch_run used.
    again = pd.DataFrame(
        mesa.batch_run(
            TrustModel,
            parameters={"scenario": ["real-estate"]},
            rng=[1],
            max_steps=15,
            number_processes=1,
            data_collection_period=-1,
            display_progress=False,
        )
    )
    first = frame[(frame["scenario"] == "real-estate") & (frame["RunId"] == 0)]
    assert again["leads"].iloc[0] == first["leads"].iloc[0]


def test_choice_log_covers_every_choice():
    model = run(small("real-estate"), 5, record_choices=True)
    log = model.choice_log()
    assert len(log) == int(model.engine.tally.choices_at.sum())
    assert set(log["action"].unique()) <= {"delegate", "verify", "abandon"}
    assert ((log["p_delegate"] + log["p_verify"]) <= 1 + 1e-12).all()
    walked = log["action"] == "abandon"
    assert (log.loc[walked, "outcome"] == "walked away").all()


def test_no_leads_without_outside_influence_or_word_of_mouth():
    model = run(small("real-estate", **{"market.outside_influence": 0.0}), 1)
    assert model.summary()["leads"] == 0
    assert model.summary()["closed_deals"] == 0


# ------------------------------------------------------- a delayed Bass model
def bass_market(stages: int, half_life: float) -> Scenario:
    """A market of 100,000 buyers, one step a year, where everyone who arrives completes
    every stage without fail, one a step, and becomes a promoter: `stages` steps after
    arriving. Literature p = 0.03 and q = 0.38 a year."""
    stage = {"stake": 0.0, "reliability": 1.0, "competition": 0.0, "duration": 365.25}
    return Scenario.model_validate({
        "name": "bass",
        "closing_stage": "s0",
        "time": {"steps": 30, "short_horizon": 1, "step_unit": "year"},
        "market": {"size": 100_000, "outside_influence": 0.03, "word_of_mouth": 0.38,
                   "talk_half_life": half_life, "promoter_threshold": 0.0,
                   "detractor_threshold": 0.0},
        "choice": {"exit_bias": -20.0, "impatience": 0.0},
        "outcomes": {"verification_delay": 0.0},
        "segments": {"all": {"share": 1.0}},
        "stages": {f"s{k}": stage for k in range(stages)},
    })  # fmt: skip


def bass_recursion(steps: int, lag: int, p: float, q: float, kept: float) -> np.ndarray:
    """Share F_t of the market arrived by step t, t = 0..steps, when the arrivals of a
    step start talking `lag` steps later and each keeps talking with probability `kept`
    per step:

        P_t = kept * P_{t-1} + (F_{t-lag} - F_{t-lag-1})      (F_t = 0 for t <= 0)
        F_t = F_{t-1} + (1 - F_{t-1}) * (p + q * P_t)

    With kept = 1, P_t = F_{t-lag}: the lag-n Bass recursion, and with lag 1 Bass's own
    F_t = F_{t-1} + (1 - F_{t-1}) (p + q F_{t-1}).
    """
    share = np.zeros(steps + 1)

    def before(t: int) -> float:
        return share[t] if t > 0 else 0.0

    talking = 0.0
    for t in range(1, steps + 1):
        talking = kept * talking + before(t - lag) - before(t - lag - 1)
        share[t] = share[t - 1] + (1.0 - share[t - 1]) * (p + q * talking)
    return share


@pytest.mark.parametrize(
    ("stages", "half_life"), [(1, math.inf), (4, math.inf), (4, 2.0)],
    ids=["bass", "lag-4 bass", "lag-4 with fading talk"],
)  # fmt: skip
def test_a_market_where_every_lead_buys_and_promotes_follows_the_delayed_bass_recursion(
    stages, half_life
):
    scenario = bass_market(stages, half_life)
    model = TrustModel(scenario, rng=3, engine="vectorized")
    model.run_model()
    simulated = model.datacollector.get_model_vars_dataframe()["leads"].to_numpy() / 100_000
    kept = 0.5 ** (1.0 / half_life)
    expected = bass_recursion(30, stages, 0.03, 0.38, kept)
    assert simulated[-1] > 0.5  # the curve went through its S, not only its start
    assert np.max(np.abs(simulated - expected)) < 0.01
    assert model.summary()["promoters"] == model.summary()["finished"]

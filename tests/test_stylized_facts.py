"""The six stylized facts of MODEL.md, each over many seeds with a stated statistical test.

Every comparison runs its scenarios with common random numbers (replication r uses the
same seed in each scenario) and tests the paired differences with a one-sided Wilcoxon
signed-rank test at ALPHA, unless stated otherwise. Variants are built from the built-in
scenarios with overrides computed from the scenario's own data (stakes, closing stage),
never from a scenario's name.
"""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import trustsim
from trustsim.experiments import replication_seed
from trustsim.experiments.stats import logistic_regression
from trustsim.model import rules
from trustsim.scenarios import Scenario, load_scenario, scenario_to_toml
from trustsim.sim import TrustModel

pytestmark = pytest.mark.slow  # many seeds per fact: statistical, long-running

ALPHA = 0.01
REPLICATIONS = 20


_RUNS: dict = {}


def runs(*scenarios, replications=REPLICATIONS, seed=2026) -> pd.DataFrame:
    """Run summaries indexed by (scenario, replication); cached across tests."""
    key = (
        tuple(s if isinstance(s, str) else scenario_to_toml(s) for s in scenarios),
        replications,
        seed,
    )
    if key not in _RUNS:
        result = trustsim.run(list(scenarios), replications=replications, seed=seed)
        _RUNS[key] = result.summaries.set_index(["scenario", "replication"]).sort_index()
    return _RUNS[key]


def paired(table: pd.DataFrame, other: str, base: str, metric: str) -> np.ndarray:
    return (table.loc[other][metric] - table.loc[base][metric]).to_numpy(dtype=float)


def assert_greater(differences: np.ndarray, what: str) -> None:
    """One-sided Wilcoxon signed-rank: the paired differences are shifted above zero."""
    p = stats.wilcoxon(differences, alternative="greater").pvalue
    assert p < ALPHA, f"{what}: mean difference {np.mean(differences):.4g}, Wilcoxon p = {p:.3g}"


def assert_less(differences: np.ndarray, what: str) -> None:
    assert_greater(-np.asarray(differences), f"{what} (expected a decrease)")


def variant(base: str, overrides: list[str], name: str) -> Scenario:
    return load_scenario(base, overrides, name=name)


def pre_closing_stages(scenario: Scenario) -> list[str]:
    return scenario.stage_names[: scenario.closing_index + 1]


def choice_logs(scenario: str, seeds: int = 8) -> tuple[Scenario, pd.DataFrame]:
    spec = load_scenario(scenario)
    logs = []
    for replication in range(seeds):
        model = TrustModel(
            spec, rng=np.random.default_rng(replication_seed(7, replication)), record_choices=True
        )
        model.run_model()
        log = model.choice_log()
        log["replication"] = replication
        logs.append(log)
    return spec, pd.concat(logs, ignore_index=True)


# ------------------------------------------------------------ 1. trust, but verify
@pytest.mark.parametrize("scenario", ["real-estate", "real-estate-verifiable"])
def test_fact1_trust_but_verify(scenario):
    """Logistic regression of VERIFY (vs DELEGATE) on trust and stake over 8 seeds, at the
    stages where both are possible: the trust effect is negative and the stake effect
    positive (Wald tests, p < ALPHA). At full-stake stages even buyers with trust >= 0.75
    mostly verify (one-sided binomial test of a share above one half, p < ALPHA)."""
    spec, log = choice_logs(scenario)
    both_possible = {
        name for name, stage in spec.stages.items() if stage.delegation and not stage.forced
    }
    took_part = log[log["stage"].isin(both_possible) & (log["action"] != "abandon")]
    verified = (took_part["action"] == "verify").to_numpy()
    fit = logistic_regression(
        took_part[["trust", "stake"]].to_numpy(), verified, names=["trust", "stake"]
    )
    trust_coef, _, trust_p = fit["trust"]
    stake_coef, _, stake_p = fit["stake"]
    assert trust_coef < 0 and trust_p < ALPHA, fit
    assert stake_coef > 0 and stake_p < ALPHA, fit

    high_stake = took_part["stake"] >= took_part["stake"].max()
    confident = took_part[high_stake & (took_part["trust"] >= 0.75)]
    n_verify = int((confident["action"] == "verify").sum())
    assert len(confident) >= 100, "too few high-trust choices at full stake to test"
    test = stats.binomtest(n_verify, len(confident), 0.5, alternative="greater")
    assert test.pvalue < ALPHA, (n_verify, len(confident))


# ---------------------------------------------------------- 2. trust infrastructure
def test_fact2_affordances_raise_closed_deals_and_satisfaction():
    table = runs("real-estate", "real-estate-verifiable")
    for metric in ("closed_deals", "satisfaction", "conversion"):
        assert_greater(paired(table, "real-estate-verifiable", "real-estate", metric), metric)


def test_fact2_a_rarely_used_affordance_still_carries_conversion():
    """The least-used affordance (by mean verification rate, a minority: the upper 95%
    bound of its use is below one half) is removed; conversion falls (paired Wilcoxon)."""
    base = load_scenario("real-estate-verifiable")
    table = runs("real-estate-verifiable")
    afforded = [name for name, stage in base.stages.items() if stage.affordance > 0]
    usage = {name: table[f"verification_rate[{name}]"] for name in afforded}
    rarest = min(usage, key=lambda name: usage[name].mean())
    use = usage[rarest].to_numpy()
    upper = use.mean() + stats.t.ppf(0.975, len(use) - 1) * use.std(ddof=1) / np.sqrt(len(use))
    assert upper < 0.5, f"{rarest} is used by {use.mean():.0%}: not a minority"

    without = variant("real-estate-verifiable", [f"stages.{rarest}.affordance=0"], "without")
    both = runs(base, without)
    assert_less(paired(both, "without", "real-estate-verifiable", "conversion"), "conversion")
    assert_less(paired(both, "without", "real-estate-verifiable", "closed_deals"), "deals")


# ------------------------------------------- 3. the client's hypothesis at high stakes
def test_fact3_a_trust_campaign_helps_low_stakes_not_high_stakes():
    """A trust campaign (every base rate 0.5 -> 0.7) raises delegation at the lowest-stake
    stage with a delegation feature more than at the highest-stake one (paired Wilcoxon
    on the difference of increases, and at least twice as much on average), and raises
    closed deals less than adding verification affordances does (paired Wilcoxon)."""
    base = load_scenario("real-estate")
    campaign = variant("real-estate", ["trust.base_rate=[0.7, 0.7, 0.7]"], "campaign")
    table = runs(base, campaign, "real-estate-verifiable")
    delegable = [name for name, stage in base.stages.items() if stage.delegation]
    low = min(delegable, key=lambda name: base.stages[name].stake)
    high = max(delegable, key=lambda name: base.stages[name].stake)
    rise_low = paired(table, "campaign", "real-estate", f"delegation_rate[{low}]")
    rise_high = paired(table, "campaign", "real-estate", f"delegation_rate[{high}]")
    assert_greater(rise_low - rise_high, "delegation rise, low minus high stake")
    assert rise_low.mean() >= 2 * max(rise_high.mean(), 0.0)

    campaign_gain = paired(table, "campaign", "real-estate", "closed_deals")
    affordance_gain = paired(table, "real-estate-verifiable", "real-estate", "closed_deals")
    assert_greater(affordance_gain - campaign_gain, "affordances minus campaign, closed deals")


# ----------------------------------------------------------- 4. funnel vs journey
FUNNEL_PAIRS = [
    ("real-estate", "real-estate-funnel"),
    ("delivery-trial-journey", "delivery-trial-funnel"),
]


@pytest.mark.parametrize(("journey", "funnel"), FUNNEL_PAIRS)
def test_fact4_funnel_wins_today_and_loses_the_relationship(journey, funnel):
    table = runs(journey, funnel)
    assert_greater(paired(table, funnel, journey, "short_conversion"), "short-horizon conversion")
    for metric in ("satisfaction", "nps", "wom_leads", "closed_deals", "revenue"):
        assert_less(paired(table, funnel, journey, metric), metric)
    if load_scenario(journey).repeat.rate > 0:
        assert_less(paired(table, funnel, journey, "repeat_purchases"), "repeat purchases")


@pytest.mark.parametrize("journey", ["real-estate", "delivery-trial-journey"])
def test_fact4_aggressive_pressure_loses_short_and_long(journey):
    """Maximum pressure on every step up to closing lowers short-horizon conversion and
    long-horizon closed deals (paired Wilcoxon)."""
    base = load_scenario(journey)
    overrides = [f"stages.{name}.pressure=1.0" for name in pre_closing_stages(base)]
    aggressive = variant(journey, overrides, "aggressive")
    table = runs(base, aggressive)
    assert_less(paired(table, "aggressive", journey, "short_conversion"), "short conversion")
    assert_less(paired(table, "aggressive", journey, "closed_deals"), "closed deals")


# ------------------------------------------------------------- 5. trust dynamics
def stage_trust_change(spec: Scenario, log: pd.DataFrame) -> pd.Series:
    weights = np.array([spec.stages[name].weights for name in spec.stage_names])
    w = weights[log["stage"].cat.codes.to_numpy()]
    after = (
        w[:, 0] * log["trust_environment"]
        + w[:, 1] * log["trust_rules"]
        + w[:, 2] * log["trust_counterparty"]
    )
    return after - log["trust"]


def test_fact5_failures_move_trust_more_than_successes_at_matched_trust():
    """Delegated steps over 8 seeds, binned by trust before the step (deciles): in each
    (seed, bin) cell, the mean trust drop after a failure exceeds the mean rise after a
    success. Paired one-sided Wilcoxon over the cells."""
    spec, log = choice_logs("real-estate")
    delegated = log[log["action"] == "delegate"].copy()
    delegated["change"] = stage_trust_change(spec, delegated)
    delegated["bin"] = pd.qcut(delegated["trust"], 10, duplicates="drop")
    cells = delegated.groupby(["replication", "bin", "outcome"], observed=True)["change"].mean()
    cells = cells.unstack("outcome")
    fails = cells["incident"].combine_first(cells.get("deal collapsed"))
    matched = pd.DataFrame({"drop": -fails, "rise": cells["success"]}).dropna()
    assert len(matched) >= 20
    assert_greater((matched["drop"] - matched["rise"]).to_numpy(), "drop minus rise")


def test_fact5_trust_has_inertia_and_recovers_slowly():
    """With the default parameters: the same success moves trust less the more evidence a
    buyer holds (inertia), and after one failure it takes more than two successes to get
    back to where trust was (slow recovery)."""
    tr = load_scenario("real-estate").trust

    def after_success(r, s):
        r, s = r * tr.forgetting + tr.success_evidence, s * tr.forgetting
        return r, s

    def trust(r, s):
        return rules.expected_trust(r, s, 0.5, tr.prior_weight)

    # Same trust level (T = 2/3 when r = 2 s + 1), more and more evidence behind it.
    states = [(3.0, 1.0), (5.0, 2.0), (21.0, 10.0)]
    for r, s in states:
        assert trust(r, s) == pytest.approx(2 / 3)
    moves = [trust(*after_success(r, s)) - trust(r, s) for r, s in states]
    assert moves[0] > moves[1] > moves[2] > 0

    # Slow recovery: from a well-tested opinion, one failure, then successes.
    r, s = 8.0, 1.0
    before = trust(r, s)
    r, s = r * tr.forgetting, s * tr.forgetting + tr.failure_evidence
    successes = 0
    while trust(r, s) < before:
        r, s = after_success(r, s)
        successes += 1
    assert successes > 2


# ------------------------------------------------------------------ 6. diffusion
def thirds(series: pd.Series) -> tuple[float, float, float]:
    parts = np.array_split(series.to_numpy(dtype=float), 3)
    return tuple(float(part.mean()) for part in parts)


def test_fact6_leads_follow_an_s_curve_when_word_of_mouth_is_positive():
    """Over 200 weeks, new leads per step rise from the first third of the horizon to the
    middle third and fall from the middle to the last (paired Wilcoxon over 15 seeds);
    without word of mouth they never rise (the first third exceeds the middle)."""
    overrides = ["time.steps=200"]
    with_wom = load_scenario("real-estate", overrides, name="wom")
    without = load_scenario("real-estate", [*overrides, "market.word_of_mouth=0"], name="no-wom")
    result = trustsim.run([with_wom, without], replications=15, seed=11)
    series = result.timeseries[result.timeseries["step"] > 0]
    shape = {
        key: thirds(group["new_leads"])
        for key, group in series.groupby(["scenario", "replication"])
    }
    first, middle, last = (np.array([shape[("wom", r)][i] for r in range(15)]) for i in range(3))
    assert_greater(middle - first, "new leads, middle minus first third")
    assert_greater(middle - last, "new leads, middle minus last third")
    no_first, no_middle, _ = (
        np.array([shape[("no-wom", r)][i] for r in range(15)]) for i in range(3)
    )
    assert_greater(no_first - no_middle, "without word of mouth, first minus middle third")


def test_fact6_many_detractors_slow_growth():
    """Lowering every stage's reliability to 0.75 creates detractors (a larger share of the
    buyers who have spoken, and a lower NPS); leads grow slower (fewer leads and fewer
    word-of-mouth leads at the horizon). Paired Wilcoxon for each."""
    base = load_scenario("real-estate")
    unreliable = variant(
        "real-estate",
        [f"stages.{name}.reliability=0.75" for name in base.stage_names],
        "unreliable",
    )
    result = trustsim.run([base, unreliable], replications=REPLICATIONS, seed=13)
    table = result.summaries.set_index(["scenario", "replication"]).sort_index()
    table["detractor_share"] = table["detractors"] / (table["finished"] + table["abandoned"])
    assert_greater(paired(table, "unreliable", "real-estate", "detractor_share"), "detractors")
    assert_less(paired(table, "unreliable", "real-estate", "nps"), "NPS")
    assert_less(paired(table, "unreliable", "real-estate", "leads"), "leads")
    assert_less(paired(table, "unreliable", "real-estate", "wom_leads"), "word-of-mouth leads")

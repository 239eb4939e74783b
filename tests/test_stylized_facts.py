"""The six stylized facts of MODEL.md, each over many seeds with a stated statistical test.

Every comparison runs its scenarios with common random numbers (replication r uses the
same seed in each scenario) and tests the paired differences with a one-sided Wilcoxon
signed-rank test at ALPHA, unless stated otherwise. Variants are built from the built-in
scenarios with overrides computed from the scenario's own data (stakes, closing stage),
never from a scenario's name.

Each fact has a negative control: the same check, with the mechanism the fact names
switched off, must fail. A check that passed either way would not test its mechanism.
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


class Claims:
    """The claims of one fact, each checked with its test; `failed` lists those that did
    not hold, so a fact can be asserted to hold and its negative control to fail."""

    def __init__(self) -> None:
        self.failed: list[str] = []

    def check(self, holds: bool, what: str) -> None:
        if not holds:
            self.failed.append(what)

    def greater(self, differences: np.ndarray, what: str) -> None:
        """One-sided Wilcoxon signed-rank: the paired differences are shifted above zero."""
        d = np.asarray(differences, dtype=float)
        p = 1.0 if np.all(d == 0) else stats.wilcoxon(d, alternative="greater").pvalue
        self.check(p < ALPHA, f"{what}: mean difference {d.mean():.4g}, Wilcoxon p = {p:.3g}")

    def less(self, differences: np.ndarray, what: str) -> None:
        self.greater(-np.asarray(differences), f"{what} (expected a decrease)")


def holds(claims: Claims) -> None:
    assert not claims.failed, claims.failed


def fails(claims: Claims, *expected: str) -> None:
    """The negative control: each named claim (by prefix) no longer holds."""
    for what in expected:
        assert any(f.startswith(what) for f in claims.failed), (what, claims.failed)


def variant(base: str, overrides: list[str], name: str) -> Scenario:
    return load_scenario(base, overrides, name=name)


def pre_closing_stages(scenario: Scenario) -> list[str]:
    return scenario.stage_names[: scenario.closing_index + 1]


def choice_logs(scenario: str, seeds: int = 8, overrides=()) -> tuple[Scenario, pd.DataFrame]:
    spec = load_scenario(scenario, list(overrides))
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
# Switched off: a checker relies on trust as much as a delegator (omega = 1), checking
# neither catches errors (q0 = 0) nor satisfies a need for control (bC = 0) and costs the
# same whatever the affordance (theta = 0): checking is delegating plus a fixed effort.
VERIFY_MOTIVE_OFF = [
    "choice.verify_trust_share=1",
    "choice.detection=0",
    "choice.control_weight=0",
    "choice.affordance_cost_relief=0",
]


def fact1(scenario: str, overrides=()) -> Claims:
    """Logistic regression of VERIFY (vs DELEGATE) on trust and stake over 8 seeds, at the
    stages where both are possible, with standard errors clustered by buyer: the trust
    effect is negative and the stake effect positive (Wald tests, p < ALPHA). At
    full-stake stages even buyers with trust >= 0.75 mostly verify (one-sided binomial
    test of a share above one half, p < ALPHA)."""
    claims = Claims()
    spec, log = choice_logs(scenario, overrides=overrides)
    both_possible = {
        name for name, stage in spec.stages.items() if stage.delegation and not stage.forced
    }
    took_part = log[log["stage"].isin(both_possible) & (log["action"] != "abandon")]
    verified = (took_part["action"] == "verify").to_numpy()
    buyer = took_part["replication"].to_numpy() * 10**9 + took_part["buyer"].to_numpy()
    fit = logistic_regression(
        took_part[["trust", "stake"]].to_numpy(), verified, ["trust", "stake"], clusters=buyer
    )
    trust_coef, _, trust_p = fit["trust"]
    stake_coef, _, stake_p = fit["stake"]
    claims.check(trust_coef < 0 and trust_p < ALPHA, f"trust lowers verifying: {fit['trust']}")
    claims.check(stake_coef > 0 and stake_p < ALPHA, f"stake raises verifying: {fit['stake']}")

    high_stake = took_part["stake"] >= took_part["stake"].max()
    confident = took_part[high_stake & (took_part["trust"] >= 0.75)]
    n_verify = int((confident["action"] == "verify").sum())
    assert len(confident) >= 100, "too few high-trust choices at full stake to test"
    test = stats.binomtest(n_verify, len(confident), 0.5, alternative="greater")
    claims.check(test.pvalue < ALPHA, f"confident buyers verify at full stake: {n_verify}")
    return claims


# Findings at the literature's word of mouth (docs/ODD.md, sections 1.2 and 8 item 22):
# it brings few leads within the horizon, so effects that ran through it are gone.
WEAK_WORD_OF_MOUTH = "finding at the literature's word of mouth (q = 0.38 a year): "


@pytest.mark.parametrize(
    "scenario",
    [
        pytest.param(
            "real-estate",
            marks=pytest.mark.xfail(
                strict=True,
                reason=WEAK_WORD_OF_MOUTH + "real estate now has about 550 leads instead of "
                "950, and with 8 runs the trust coefficient (-0.93, clustered p = 0.014) no "
                "longer reaches p < 0.01; the stake and high-stake claims hold",
            ),
        ),
        "real-estate-verifiable",
    ],
)
def test_fact1_trust_but_verify(scenario):
    holds(fact1(scenario))


def test_fact1_control_without_a_motive_to_check_trust_and_stake_do_not_drive_verifying():
    fails(
        fact1("real-estate-verifiable", VERIFY_MOTIVE_OFF),
        "trust lowers verifying",
        "stake raises verifying",
        "confident buyers verify",
    )


# ---------------------------------------------------------- 2. trust infrastructure
# Switched off: an affordance no longer eases checking (theta = 0), checking without it
# catches as much (e_ext = 1), knowing one could check no longer reassures (sigma = 0),
# visible affordances no longer shift a new lead's trust and checking never delays a step
# (the delay is what an affordance shortens): an affordance does nothing. Only the small
# bonus to the environment layer for an error caught through an affordance remains; it
# has no parameter of its own.
AFFORDANCE_OFF = [
    "choice.affordance_cost_relief=0",
    "choice.outside_means=1",
    "choice.structural_assurance=0",
    "trust.affordance_shift=0",
    "outcomes.verification_delay=0",
]


def pair(base: str, other: str, overrides=()) -> tuple[pd.DataFrame, str, str]:
    """Runs of two built-in scenarios under the same overrides, as (table, base, other)."""
    if not overrides:
        return runs(base, other), base, other
    table = runs(variant(base, list(overrides), "base"), variant(other, list(overrides), "alt"))
    return table, "base", "alt"


def fact2(overrides=()) -> Claims:
    claims = Claims()
    table, base, alt = pair("real-estate", "real-estate-verifiable", overrides)
    for metric in ("closed_deals", "satisfaction", "conversion"):
        claims.greater(paired(table, alt, base, metric), f"affordances raise {metric}")
    return claims


def test_fact2_affordances_raise_closed_deals_and_satisfaction():
    holds(fact2())


def test_fact2_control_an_affordance_that_does_nothing_raises_nothing():
    fails(
        fact2(AFFORDANCE_OFF),
        "affordances raise closed_deals",
        "affordances raise satisfaction",
        "affordances raise conversion",
    )


def fact2_rare(overrides=()) -> Claims:
    """The least-used affordance (by mean verification rate, a minority: the upper 95%
    bound of its use is below one half) is removed; conversion falls (paired Wilcoxon)."""
    claims = Claims()
    base = load_scenario("real-estate-verifiable", list(overrides), name="full")
    table = runs(base)
    afforded = [name for name, stage in base.stages.items() if stage.affordance > 0]
    usage = {name: table.loc["full"][f"verification_rate[{name}]"] for name in afforded}
    rarest = min(usage, key=lambda name: usage[name].mean())
    use = usage[rarest].to_numpy()
    upper = use.mean() + stats.t.ppf(0.975, len(use) - 1) * use.std(ddof=1) / np.sqrt(len(use))
    assert upper < 0.5, f"{rarest} is used by {use.mean():.0%}: not a minority"

    without = load_scenario(
        "real-estate-verifiable", [*overrides, f"stages.{rarest}.affordance=0"], name="without"
    )
    both = runs(base, without)
    claims.less(paired(both, "without", "full", "conversion"), "removing it lowers conversion")
    claims.less(paired(both, "without", "full", "closed_deals"), "removing it lowers deals")
    return claims


def test_fact2_a_rarely_used_affordance_still_carries_conversion():
    holds(fact2_rare())


def test_fact2_control_a_rarely_used_affordance_that_does_nothing_carries_nothing():
    fails(fact2_rare(AFFORDANCE_OFF), "removing it lowers conversion", "removing it lowers deals")


# ------------------------------------------- 3. the client's hypothesis at high stakes
def fact3(overrides=()) -> Claims:
    """A trust campaign (every base rate 0.5 -> 0.7) raises delegation at the lowest-stake
    stage with a delegation feature more than at the highest-stake one (paired Wilcoxon
    on the difference of increases, and at least twice as much on average), and raises
    closed deals less than adding verification affordances does (paired Wilcoxon). The
    low and high stages are chosen from the built-in stakes, before any override."""
    claims = Claims()
    built_in = load_scenario("real-estate")
    delegable = [name for name, stage in built_in.stages.items() if stage.delegation]
    low = min(delegable, key=lambda name: built_in.stages[name].stake)
    high = max(delegable, key=lambda name: built_in.stages[name].stake)
    base = variant("real-estate", list(overrides), "base")
    campaign = variant("real-estate", [*overrides, "trust.base_rate=[0.7, 0.7, 0.7]"], "campaign")
    verifiable = variant("real-estate-verifiable", list(overrides), "verifiable")
    table = runs(base, campaign, verifiable)
    rise_low = paired(table, "campaign", "base", f"delegation_rate[{low}]")
    rise_high = paired(table, "campaign", "base", f"delegation_rate[{high}]")
    claims.greater(rise_low - rise_high, "delegation rises more at low stake")
    claims.check(
        rise_low.mean() >= 2 * max(rise_high.mean(), 0.0),
        f"at least twice as much: {rise_low.mean():.3f} vs {rise_high.mean():.3f}",
    )
    campaign_gain = paired(table, "campaign", "base", "closed_deals")
    affordance_gain = paired(table, "verifiable", "base", "closed_deals")
    claims.greater(affordance_gain - campaign_gain, "affordances beat the campaign on deals")
    return claims


@pytest.mark.xfail(
    strict=True,
    reason=WEAK_WORD_OF_MOUTH + "the campaign raises two-year closed deals more than the "
    "affordances do (by 47 deals on average); the affordances' lead came through word of "
    "mouth. The stake contrast in delegation still holds",
)
def test_fact3_a_trust_campaign_helps_low_stakes_not_high_stakes():
    holds(fact3())


@pytest.mark.xfail(
    strict=True,
    reason="finding: with every stake equal the campaign still raises delegation at the "
    "first delegable stage at least twice as much as at the last, so this contrast comes "
    "from the stages' other differences (position in the journey, competition), not from "
    "the stake; the fact's test does not isolate its mechanism (see docs/ODD.md)",
)
def test_fact3_control_with_equal_stakes_the_campaign_helps_both_stages_alike():
    """Switched off: every stage has the same stake, so what is at stake no longer
    separates the two stages."""
    stages = load_scenario("real-estate").stage_names
    fails(fact3([f"stages.{name}.stake=0.5" for name in stages]), "at least twice as much")


# ----------------------------------------------------------- 4. funnel vs journey
FUNNEL_PAIRS = [
    ("real-estate", "real-estate-funnel"),
    ("delivery-trial-journey", "delivery-trial-funnel"),
]
# Switched off: pressure and forced steps stir no reactance (g = 0, no pressure or forced
# build-up) and cost no experience; pressure only pushes forward.
REACTANCE_OFF = [
    "choice.reactance_weight=0",
    "reactance.forced_weight=0",
    "satisfaction.pressure_penalty=0",
    "satisfaction.forced_penalty=0",
]


def fact4(journey: str, funnel: str, overrides=()) -> Claims:
    claims = Claims()
    table, base, alt = pair(journey, funnel, overrides)
    claims.greater(paired(table, alt, base, "short_conversion"), "funnel wins short conversion")
    for metric in ("satisfaction", "nps", "wom_leads", "closed_deals", "revenue"):
        claims.less(paired(table, alt, base, metric), f"funnel loses {metric}")
    if load_scenario(journey).repeat.rate > 0:
        claims.less(paired(table, alt, base, "repeat_purchases"), "funnel loses repeat_purchases")
    return claims


@pytest.mark.parametrize(
    ("journey", "funnel"),
    [
        FUNNEL_PAIRS[0],
        pytest.param(
            *FUNNEL_PAIRS[1],
            marks=pytest.mark.xfail(
                strict=True,
                reason=WEAK_WORD_OF_MOUTH + "in the 90-day delivery trial the funnel closes "
                "more deals (+170) and earns as much revenue: the journey's happier "
                "customers no longer bring enough leads to make up for its lower "
                "conversion; satisfaction, NPS, word-of-mouth leads and repeat purchases "
                "still favour the journey",
            ),
        ),
    ],
)
def test_fact4_funnel_wins_today_and_loses_the_relationship(journey, funnel):
    holds(fact4(journey, funnel))


@pytest.mark.parametrize(("journey", "funnel"), FUNNEL_PAIRS)
def test_fact4_control_without_reactance_the_funnel_loses_no_satisfaction(journey, funnel):
    fails(fact4(journey, funnel, REACTANCE_OFF), "funnel loses satisfaction", "funnel loses nps")


def fact4_aggressive(journey: str, overrides=()) -> Claims:
    """Maximum pressure on every step up to closing lowers short-horizon conversion and
    long-horizon closed deals (paired Wilcoxon)."""
    claims = Claims()
    base = variant(journey, list(overrides), "base")
    pushed = [f"stages.{name}.pressure=1.0" for name in pre_closing_stages(base)]
    aggressive = variant(journey, [*overrides, *pushed], "aggressive")
    table = runs(base, aggressive)
    claims.less(paired(table, "aggressive", "base", "short_conversion"), "short conversion")
    claims.less(paired(table, "aggressive", "base", "closed_deals"), "closed deals")
    return claims


@pytest.mark.parametrize("journey", ["real-estate", "delivery-trial-journey"])
def test_fact4_aggressive_pressure_loses_short_and_long(journey):
    holds(fact4_aggressive(journey))


@pytest.mark.parametrize("journey", ["real-estate", "delivery-trial-journey"])
def test_fact4_control_without_reactance_aggressive_pressure_does_not_lose_today(journey):
    fails(fact4_aggressive(journey, REACTANCE_OFF), "short conversion")


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


def fact5_asymmetry(overrides=()) -> Claims:
    """Delegated steps over 8 seeds, binned by trust before the step (deciles). A success
    can raise trust only into the room above it (1 - T), a failure lower it only into the
    room below (T): with equal evidence weights a subjective-logic opinion moves by
    w (1 - T) / (N + w) after a success and w T / (N + w) after a failure, so the raw moves
    differ at any T != 1/2 even without loss aversion. The claim is therefore on the moves
    per unit of room: in each (seed, bin) cell, the mean drop after a failure divided by T
    exceeds the mean rise after a success divided by 1 - T. Paired one-sided Wilcoxon
    over the cells.

    Forgetting is held off (lambda = 1) in this experiment: each step it pulls every
    opinion toward its base rate by about half a success's move at typical evidence
    levels, for successes and failures alike, which hides the asymmetry of the evidence
    itself (with forgetting on, the check passes even with w_f = w_s)."""
    claims = Claims()
    spec, log = choice_logs("real-estate", overrides=["trust.forgetting=1", *overrides])
    delegated = log[log["action"] == "delegate"].copy()
    change = stage_trust_change(spec, delegated)
    room = np.where(change < 0, delegated["trust"], 1.0 - delegated["trust"])
    delegated["per_room"] = change / room
    delegated["bin"] = pd.qcut(delegated["trust"], 10, duplicates="drop")
    cells = delegated.groupby(["replication", "bin", "outcome"], observed=True)["per_room"]
    cells = cells.mean().unstack("outcome")
    fails_ = cells["incident"].combine_first(cells.get("deal collapsed"))
    matched = pd.DataFrame({"drop": -fails_, "rise": cells["success"]}).dropna()
    assert len(matched) >= 20
    claims.greater((matched["drop"] - matched["rise"]).to_numpy(), "failures weigh more")
    return claims


def test_fact5_failures_move_trust_more_than_successes_at_matched_trust():
    holds(fact5_asymmetry())


def test_fact5_control_with_equal_evidence_weights_failures_weigh_no_more():
    """Switched off: a failure is worth as much evidence as a success (w_f = w_s)."""
    success = load_scenario("real-estate").trust.success_evidence
    fails(fact5_asymmetry([f"trust.failure_evidence={success}"]), "failures weigh more")


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


def fact6_s_curve(overrides=()) -> Claims:
    """Over 200 weeks, new leads per step rise from the first third of the horizon to the
    middle third and fall from the middle to the last (paired Wilcoxon over 15 seeds)."""
    claims = Claims()
    spec = load_scenario("real-estate", ["time.steps=200", *overrides], name="s-curve")
    result = trustsim.run([spec], replications=15, seed=11)
    series = result.timeseries[result.timeseries["step"] > 0]
    shape = np.array([thirds(group["new_leads"]) for _, group in series.groupby("replication")])
    first, middle, last = shape.T
    claims.greater(middle - first, "new leads rise from the first third")
    claims.greater(middle - last, "new leads fall in the last third")
    return claims


@pytest.mark.xfail(
    strict=True,
    reason=WEAK_WORD_OF_MOUTH + "new leads per week fall from the first third of 200 weeks "
    "to the middle (by 1.1 on average): advertising depletes the market faster than "
    "promoters, who talk for half a year after a journey of months, refill the flow. Even "
    "Bass's own curve with p = 0.03 and q = 0.38 peaks only after 6.2 years",
)
def test_fact6_leads_follow_an_s_curve_when_word_of_mouth_is_positive():
    holds(fact6_s_curve())


def test_fact6_control_without_word_of_mouth_leads_never_rise():
    fails(fact6_s_curve(["market.word_of_mouth=0"]), "new leads rise from the first third")


def fact6_detractors(overrides=()) -> Claims:
    """Lowering every stage's reliability to 0.75 creates detractors (a larger share of the
    buyers who have spoken, and a lower NPS); leads grow slower (fewer leads and fewer
    word-of-mouth leads at the horizon). Paired Wilcoxon for each."""
    claims = Claims()
    base = load_scenario("real-estate", list(overrides), name="base")
    unreliable = load_scenario(
        "real-estate",
        [*overrides, *(f"stages.{name}.reliability=0.75" for name in base.stage_names)],
        name="unreliable",
    )
    result = trustsim.run([base, unreliable], replications=REPLICATIONS, seed=13)
    table = result.summaries.set_index(["scenario", "replication"]).sort_index()
    table["detractor_share"] = table["detractors"] / (table["finished"] + table["abandoned"])
    claims.greater(paired(table, "unreliable", "base", "detractor_share"), "more detractors")
    claims.less(paired(table, "unreliable", "base", "nps"), "lower NPS")
    claims.less(paired(table, "unreliable", "base", "leads"), "fewer leads")
    claims.less(paired(table, "unreliable", "base", "wom_leads"), "fewer word-of-mouth leads")
    return claims


def test_fact6_many_detractors_slow_growth():
    holds(fact6_detractors())


def test_fact6_control_without_word_of_mouth_detractors_do_not_slow_growth():
    """Switched off: nobody talks (q = 0), so detractors cannot reach potential buyers."""
    fails(fact6_detractors(["market.word_of_mouth=0"]), "fewer leads", "fewer word-of-mouth leads")

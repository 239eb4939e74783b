"""The rule functions against values computed by hand (the arithmetic is in each comment)."""

import numpy as np
import pytest

from trustsim.model import rules
from trustsim.model.codes import ABANDON, DELEGATE, VERIFY
from trustsim.scenarios.schema import Choice


def test_expected_trust_and_uncertainty_follow_josang():
    # r=3, s=1, a=0.5, W=2: T = (3 + 1) / (3 + 1 + 2) = 4/6 ; u = 2/6
    assert rules.expected_trust(3.0, 1.0, 0.5, 2.0) == pytest.approx(4 / 6)
    assert rules.uncertainty(3.0, 1.0, 2.0) == pytest.approx(2 / 6)
    # No evidence: T is the base rate, u is 1.
    assert rules.expected_trust(0.0, 0.0, 0.3, 2.0) == pytest.approx(0.3)
    assert rules.uncertainty(0.0, 0.0, 2.0) == pytest.approx(1.0)


def test_stage_weighted_sum():
    per_layer = np.array([0.2, 0.5, 0.9])
    # 0.5*0.2 + 0.3*0.5 + 0.2*0.9 = 0.1 + 0.15 + 0.18 = 0.43
    assert rules.stage_weighted(per_layer, [0.5, 0.3, 0.2]) == pytest.approx(0.43)


def test_perceived_risk_with_structural_assurance():
    # x=1, ra=0.6, T=0.5, u=0.5, zeta=0.5, A=0.8, sigma=0.6:
    # 1 * 0.6 * (0.5 + 0.25) * (1 - 0.48) = 0.6 * 0.75 * 0.52 = 0.234
    assert rules.perceived_risk(1.0, 0.6, 0.5, 0.5, 0.8, 0.5, 0.6) == pytest.approx(0.234)
    # Without an affordance the last factor is 1: 0.45
    assert rules.perceived_risk(1.0, 0.6, 0.5, 0.5, 0.0, 0.5, 0.6) == pytest.approx(0.45)


def test_detection_and_effort():
    # q = 0.9 * (0.5 + 0.25) * (0.8 + 0.2 * 0.3) = 0.9 * 0.75 * 0.86 = 0.5805
    assert rules.detection_chance(0.9, 0.5, 0.8, 0.3) == pytest.approx(0.5805)
    # cost = 0.6 * (1 - 0.6 * 0.8) * (1.5 - 0.5) = 0.6 * 0.52 = 0.312
    assert rules.verification_effort(0.6, 0.6, 0.8, 0.5) == pytest.approx(0.312)


def test_utilities():
    # V_del = 2 * 0.7 - 3 * 0.2 = 0.8
    assert rules.delegate_utility(0.7, 0.2, 2.0, 3.0) == pytest.approx(0.8)
    # V_ver = 0.5*2*0.7 - 3*(1-0.4)*0.2 - 0.3 + 2.5*0.6*1.0 = 0.7 - 0.36 - 0.3 + 1.5 = 1.54
    v = rules.verify_utility(0.7, 0.2, 0.4, 0.3, 0.6, 1.0, 2.0, 3.0, 2.5, 0.5)
    assert v == pytest.approx(1.54)
    # V_out = -1.5 + 1 + 3*0.2 - 1.5*0.4 + 0.15*2*(1-0.5) = -1.5 + 1 + 0.6 - 0.6 + 0.15 = -0.35
    v_out = rules.abandon_utility(0.2, 0.4, 2, 0.5, 1.0, -1.5, 3.0, 1.5, 0.15)
    assert v_out == pytest.approx(-0.35)


def test_logit_probabilities_and_availability():
    # Equal utilities, all available: one third each.
    p_del, p_ver = rules.choice_probabilities(0.0, 0.0, 0.0, 1.0, 1.0, 0.5, 1.0)
    assert (p_del, p_ver) == (pytest.approx(1 / 3), pytest.approx(1 / 3))
    # tau = 0.5, V = (1, 0, 0): e^2 / (e^2 + 2)
    p_del, _ = rules.choice_probabilities(1.0, 0.0, 0.0, 1.0, 1.0, 0.5, 1.0)
    assert p_del == pytest.approx(np.exp(2) / (np.exp(2) + 2))
    # No delegation feature: delegation impossible, the rest share the mass.
    p_del, p_ver = rules.choice_probabilities(5.0, 0.0, 0.0, 0.0, 1.0, 0.5, 1.0)
    assert p_del == 0.0 and p_ver == pytest.approx(0.5)
    # Huge utilities do not overflow.
    p_del, p_ver = rules.choice_probabilities(1e4, 0.0, 0.0, 1.0, 1.0, 0.01, 1.0)
    assert p_del == pytest.approx(1.0) and np.isfinite(p_ver)


def flat_logit(v_del, v_ver, v_out, tau):
    """P_j = exp(V_j / tau) / sum_i exp(V_i / tau), written out for the comparison."""
    e = np.exp(np.array([v_del, v_ver, v_out]) / tau)
    return e[:2] / e.sum()


def test_a_nest_parameter_of_one_gives_the_flat_logit():
    rng = np.random.default_rng(3)
    for v_del, v_ver, v_out in rng.normal(0.0, 2.0, size=(200, 3)):
        nested = rules.choice_probabilities(v_del, v_ver, v_out, 1.0, 1.0, 0.5, 1.0)
        np.testing.assert_allclose(nested, flat_logit(v_del, v_ver, v_out, 0.5), rtol=1e-12)


def test_the_nested_logit_matches_trains_formula():
    # lambda = 0.5, tau = 1: S = e^(1/0.5) + e^(0/0.5); P_del = e^2 S^-0.5 / (S^0.5 + e^0.5)
    s = np.exp(2.0) + 1.0
    p_del, p_ver = rules.choice_probabilities(1.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.5)
    assert p_del == pytest.approx(np.exp(2.0) * s**-0.5 / (s**0.5 + np.exp(0.5)))
    assert p_ver == pytest.approx(s**-0.5 / (s**0.5 + np.exp(0.5)))


def test_removing_delegation_moves_buyers_mostly_to_verifying_with_the_default_nest():
    # Delegating is the favourite and walking away a little likelier than verifying, so
    # a flat logit (IIA) sends most of the removed share to walking away, in proportion
    # to the shares; with the nest, delegating and verifying are substitutes. (Where
    # verifying is far worse than walking away, no nest can keep the buyer: alone in the
    # nest, verifying against walking away is the same binary logit for every lambda.)
    nest = Choice().proceed_nest
    v_del, v_ver, v_out, tau = 1.0, -0.05, 0.0, 0.5
    for lam, mostly_to_verifying in ((nest, True), (1.0, False)):
        p_del, p_ver = rules.choice_probabilities(v_del, v_ver, v_out, 1.0, 1.0, tau, lam)
        _, p_ver_alone = rules.choice_probabilities(v_del, v_ver, v_out, 0.0, 1.0, tau, lam)
        to_verifying = p_ver_alone - p_ver
        to_walking_away = p_del - to_verifying
        assert (to_verifying > to_walking_away) == mostly_to_verifying, lam


def test_choose_action_by_inverse_cdf():
    u = np.array([0.05, 0.25, 0.35, 0.95])
    actions = rules.choose_action(np.full(4, 0.2), np.full(4, 0.5), u)
    # P_del = 0.2, P_ver = 0.5: [0, 0.2) delegate, [0.2, 0.7) verify, [0.7, 1) abandon
    assert actions.tolist() == [DELEGATE, VERIFY, VERIFY, ABANDON]


def test_trust_update_forgets_then_adds_by_layer_weight():
    r = np.array([2.0, 4.0, 0.0])
    forgotten = rules.forget(r, 0.97)
    assert forgotten.tolist() == pytest.approx([1.94, 3.88, 0.0])
    updated = rules.add_evidence(forgotten, 1.5, np.array([0.2, 0.3, 0.5]))
    assert updated.tolist() == pytest.approx([1.94 + 0.3, 3.88 + 0.45, 0.75])


def test_reactance_is_convex_in_pressure_and_fades():
    # R = 0.5 * 1.0 + 0.6 * 0.5^2 + 0.15 * 0.8 * 1 = 0.5 + 0.15 + 0.12 = 0.77
    assert rules.accumulate_reactance(1.0, 0.6, 0.5, 1.0, 0.8, 0.5, 0.15) == pytest.approx(0.77)
    mild = rules.accumulate_reactance(0.0, 1.0, 0.25, 0.0, 0.0, 0.5, 0.15)
    strong = rules.accumulate_reactance(0.0, 1.0, 1.0, 0.0, 0.0, 0.5, 0.15)
    assert strong == pytest.approx(16 * mild)  # four times the pressure, sixteen times


def experience(outcome, expectation, **overrides):
    params = dict(
        risk=0.0, effort=0.0, control_need=0.5, pressure=0.0, reactance_trait=0.5, forced=0.0,
        incident_stake=0.0, baseline=0.85, surprise_weight=0.5, loss_aversion=2.25,
        anxiety_penalty=0.5, effort_weight=0.3, pressure_penalty=0.4, forced_penalty=1.0,
        incident_loss=0.3,
    )  # fmt: skip
    params.update(overrides)
    risk = params.pop("risk")
    effort = params.pop("effort")
    positional = [params.pop(k) for k in ("control_need", "pressure", "reactance_trait", "forced")]
    incident_stake = params.pop("incident_stake")
    return float(
        rules.stage_experience(outcome, expectation, risk, effort, *positional, incident_stake,
                               **params)
    )  # fmt: skip


def test_stage_experience_weighs_losses_more_than_gains():
    # Gain: 0.85 + 0.5 * (1 - 0.8) = 0.95 ; loss: 0.85 + 0.5 * 2.25 * (0.6 - 0.8) = 0.625
    assert experience(1.0, 0.8) == pytest.approx(0.95)
    assert experience(0.6, 0.8) == pytest.approx(0.625)
    # Costs: anxiety 0.5*0.2, effort 0.3*0.4*(1-0.5), pressure 0.4*0.5*0.25, forced 1*0.5
    # 0.95 - 0.1 - 0.06 - 0.05 - 0.5 = 0.24
    value = experience(1.0, 0.8, risk=0.2, effort=0.4, pressure=0.5, forced=1.0)
    assert value == pytest.approx(0.24)
    # Clipped to [0, 1].
    assert experience(0.0, 1.0, incident_stake=1.0) == 0.0
    assert experience(1.0, 0.0, baseline=1.0) == 1.0


def test_satisfaction_is_an_exponential_average():
    # 0.7 * 0.6 + 0.3 * 1.0 = 0.72
    assert rules.update_satisfaction(0.6, 1.0, 0.3) == pytest.approx(0.72)


def test_lead_hazard_is_bass_in_talking_promoters_and_clipped():
    # p + q P / M = 0.01 + 0.4 * 50 / 1000 = 0.03
    assert rules.lead_hazard(0.01, 0.4, 50, 1000) == pytest.approx(0.03)
    assert rules.lead_hazard(0.9, 5.0, 1000, 1000) == 1.0


def test_detractors_deter_at_q_times_nu_per_talking_detractor_share_never_past_one():
    # q nu D / M = 0.4 * 2 * 10 / 1000 = 0.008, whatever the lead hazard
    assert rules.deterrence_hazard(0.4, 2.0, 10, 1000, 0.03) == pytest.approx(0.008)
    assert rules.deterrence_hazard(0.4, 2.0, 0, 1000, 0.03) == 0.0
    # the two hazards share one draw: together they never exceed 1
    assert rules.deterrence_hazard(5.0, 2.0, 900, 1000, 0.25) == pytest.approx(0.75)


def test_reputation_and_base_rates():
    # (30 - 10) / (30 + 10 + 20) = 1/3
    assert rules.reputation(30, 10, 20.0) == pytest.approx(1 / 3)
    # 0.5 + 0.2 * (1/3) + 0.1 * 0.45 = 0.5 + 0.0667 + 0.045 = 0.6117
    rates = rules.lead_base_rates([0.5, 0.5, 0.98], 1 / 3, 0.45, 0.2, 0.1)
    assert rates.tolist() == pytest.approx([0.6116667, 0.6116667, 0.99])


def test_repeat_and_collapse_chances():
    # 0.08 * (0.8 - 0.5) / 0.5 = 0.048 ; below the threshold none
    assert rules.repeat_chance(0.8, 0.08, 0.5) == pytest.approx(0.048)
    assert rules.repeat_chance(0.4, 0.08, 0.5) == 0.0
    assert rules.collapse_chance(0.5, 0.3) == pytest.approx(0.15)


def test_rules_broadcast_over_arrays_like_scalars():
    stakes = np.array([0.1, 0.5, 1.0])
    vector = rules.perceived_risk(stakes, 0.6, 0.7, 0.3, 0.0, 0.5, 0.6)
    scalars = [rules.perceived_risk(x, 0.6, 0.7, 0.3, 0.0, 0.5, 0.6) for x in stakes]
    assert vector.tolist() == pytest.approx(scalars)


def test_an_unavailable_action_with_a_huge_utility_does_not_break_the_logit():
    # Delegation unavailable but with an enormous utility: the rest still share the mass.
    p_del, p_ver = rules.choice_probabilities(1e6, 0.0, 0.0, 0.0, 1.0, 0.01, 1.0)
    assert p_del == 0.0 and p_ver == pytest.approx(0.5)


def test_step_helpers_mean_the_same_for_one_buyer_and_for_arrays():
    flags = np.array([True, False, True])
    values = np.array([1.5, 2.5, 3.5])
    picked = rules.where(flags, values, 0.0)
    assert picked.tolist() == [1.5, 0.0, 3.5]
    assert [rules.where(f, v, 0.0) for f, v in zip(flags, values, strict=True)] == [1.5, 0.0, 3.5]
    assert rules.negate(flags).tolist() == [not f for f in flags]
    assert rules.total(flags) == 2 and rules.total(values) == 7.5 and rules.total(flags[0])
    table, one_by_one = np.zeros((3, 2), dtype=np.int64), np.zeros((3, 2), dtype=np.int64)
    rows, columns = np.array([0, 2, 2], dtype=np.int8), np.array([1, 0, 0])
    rules.count_pairs(table, rows, columns)
    for row, column in zip(rows, columns, strict=True):
        rules.count_pairs(one_by_one, row, column)
    assert table.tolist() == one_by_one.tolist() == [[0, 1], [0, 0], [2, 0]]
    per_layer = np.arange(12.0).reshape(3, 4)
    assert rules.layers(per_layer, np.array([1, 3])).tolist() == [[1, 3], [5, 7], [9, 11]]
    assert rules.layers(per_layer, 3) == (3.0, 7.0, 11.0)

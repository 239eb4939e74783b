"""The buyer's rules as small pure functions, and the few words they are written in.

Each function takes numbers or numpy arrays (broadcasting like numpy) and returns the
same, so an array engine calls it once over all acting buyers and the per-agent engine
calls it on one buyer's values. No function draws random numbers: the uniforms a rule
needs are passed in, which is what lets every engine consume draws identically.

The compiled engine (`trustsim.engines.compiled`) compiles these same functions with
numba and calls them on one buyer's numbers, so they use only operations that numba also
supports on scalars. Where numpy and plain Python differ, the rules say it with the
helpers below, which the compiled engine gives scalar forms: `where` for a choice between
two values (`np.where`), `negate` for "not", `total` for how many or how much over the
buyers at hand, `count_pairs` for a count per (row, column) of a table, `layers` for
the three trust layers of some buyers. "and" and "or"
are `&` and `|`, which mean the same on booleans and boolean arrays. Clipping is written
with `np.minimum`/`np.maximum`, which give the same values as `np.clip`.

Notation follows docs/ODD.md: x stake, ra risk aversion, c control need, C verification
skill, k the trait `reactance` (a propensity; the argument `reactance_trait`, beside the
accumulated state R), A affordance, phi pressure, T trust, u uncertainty.
"""

from __future__ import annotations

import numpy as np


def where(condition, if_true, if_false):
    """`if_true` where `condition` holds, else `if_false` (np.where over arrays).

    For one buyer, a plain choice between the two values (np.where would wrap it in an
    array at many times the cost); the compiled engine has the same scalar form.
    """
    if isinstance(condition, np.ndarray):
        return np.where(condition, if_true, if_false)
    return if_true if condition else if_false


def negate(condition):
    """Logical not of a flag or an array of flags."""
    if isinstance(condition, np.ndarray):
        return ~condition
    return not condition


def total(values):
    """The sum over the buyers at hand (their count, for flags); the value itself for one."""
    if not isinstance(values, np.ndarray):
        return values
    if values.dtype == np.bool_:
        return np.count_nonzero(values)
    return values.sum()


def count_pairs(table, row, column):
    """table[row, column] += 1 for each buyer at hand (`row`, `column` per buyer)."""
    if not isinstance(row, np.ndarray):
        table[row, column] += 1
        return
    flat = row.astype(np.intp) * table.shape[1] + column
    table += np.bincount(flat, minlength=table.size).reshape(table.shape)


def layers(per_layer, index):
    """Columns `index` of a (3, n) per-layer array, one row per trust layer.

    Over arrays one `np.take` along the buyers (several times faster than
    `per_layer[:, index]`, whose result is also F-ordered); for one buyer, its three
    numbers.
    """
    if isinstance(index, np.ndarray):
        return np.take(per_layer, index, axis=1)
    return (per_layer[0, index], per_layer[1, index], per_layer[2, index])


def _exp(x):
    """np.exp(x); the compiled engine's scalar form skips the call where the result is
    exact anyway (exp(0) = 1 for the largest utility, exp(-inf) = 0 for an unavailable
    action), which saves a third of the logit's cost without changing a bit."""
    return np.exp(x)


def expected_trust(r, s, base_rate, prior_weight):
    """Expected trust of a subjective-logic opinion (Josang).

    T = (r + a * W) / (r + s + W)
    """
    return (r + base_rate * prior_weight) / (r + s + prior_weight)


def uncertainty(r, s, prior_weight):
    """Uncertainty of a subjective-logic opinion.

    u = W / (r + s + W)
    """
    return prior_weight / (r + s + prior_weight)


def stage_weighted(per_layer, weights):
    """Weighted sum over the three trust layers (axis 0).

    T_k = sum_l w_kl * T_l
    """
    return weights[0] * per_layer[0] + weights[1] * per_layer[1] + weights[2] * per_layer[2]


def perceived_risk(stake, risk_aversion, trust, uncert, affordance, zeta, sigma):
    """Felt risk of a step, lowered by knowing one could check it (structural assurance).

    PR = x * ra * ((1 - T) + zeta * u) * (1 - sigma * A)
    """
    return stake * risk_aversion * ((1.0 - trust) + zeta * uncert) * (1.0 - sigma * affordance)


def detection_chance(q0, skill, affordance, outside_means):
    """Chance that checking a step catches an error the service made.

    q = q0 * (0.5 + 0.5 * C) * (A + (1 - A) * e_ext)
    """
    return q0 * (0.5 + 0.5 * skill) * (affordance + (1.0 - affordance) * outside_means)


def verification_effort(cv, theta, affordance, skill):
    """Effort of checking a step oneself, lower with a better affordance and more skill.

    cost = cv * (1 - theta * A) * (1.5 - C)
    """
    return cv * (1.0 - theta * affordance) * (1.5 - skill)


def delegate_utility(trust, risk, b_trust, b_risk):
    """Utility of handing the step to the service unchecked.

    V_del = bT * T - bR * PR
    """
    return b_trust * trust - b_risk * risk


def verify_utility(
    trust, risk, detect, effort, control_need, stake, b_trust, b_risk, b_control, trust_share
):
    """Utility of doing or checking the step oneself ("trust, but verify").

    V_ver = omega * bT * T - bR * (1 - q) * PR - cost + bC * c * x

    A buyer who checks relies on the service only in part (omega < 1), so trust favours
    delegating over checking, not only going on over walking away.
    """
    return (
        trust_share * b_trust * trust
        - b_risk * (1.0 - detect) * risk
        - effort
        + b_control * control_need * stake
    )


def abandon_utility(reactance, pressure, waited, patience, competition, b0, g, push, impatience):
    """Utility of walking away: reactance pushes out, pressure pushes forward now.

    V_out = b0 + competition + g * R - pi * phi + impatience * waited * (1 - patience)
    """
    return (
        b0 + competition + g * reactance - push * pressure + impatience * waited * (1.0 - patience)
    )


def choice_probabilities(
    v_delegate, v_verify, v_abandon, can_delegate, can_verify, temperature, nest
):
    """Nested logit: go on {delegate, verify} against walking away (Train 2009, ch. 4).

    With scaled utilities W_j = V_j / tau and the proceed nest's parameter lambda:

        S     = sum_{j in {del, ver}} avail_j * exp(W_j / lambda)
        P_j   = avail_j * exp(W_j / lambda) * S^(lambda - 1) / (S^lambda + exp(W_out))
        P_out = exp(W_out) / (S^lambda + exp(W_out))

    i.e. P(go on) = S^lambda / (S^lambda + exp(W_out)), split within the nest by a logit
    with temperature lambda * tau. Delegating and verifying are two ways to go on, so
    their unobserved parts are correlated (1 - lambda measures it): removing one moves
    its share mostly to the other, not, as a flat logit's independence of irrelevant
    alternatives would, to walking away in proportion to its share. lambda = 1 is the
    flat logit P_j = exp(W_j) / sum_i exp(W_i). ABANDON is always available; at least one
    way to go on is (a forced step allows delegation). The nest's larger available
    utility m is subtracted inside the nest, and the larger of m and V_out outside it,
    so nothing overflows and S lies in [1, 2].

    Returns:
        (p_delegate, p_verify): the abandon probability is 1 - p_delegate - p_verify.
    """
    v_del = where(can_delegate > 0, v_delegate, -np.inf)
    v_ver = where(can_verify > 0, v_verify, -np.inf)
    inside = np.maximum(v_del, v_ver)
    top = np.maximum(inside, v_abandon)
    e_del = _exp((v_del - inside) / (nest * temperature))
    e_ver = _exp((v_ver - inside) / (nest * temperature))
    s = e_del + e_ver
    # exp(m / tau) * S^lambda, relative to the top utility; np.power, not **, whose
    # shortcut for arrays (** 0.5 as a square root) can differ in the last bit.
    e_in = _exp((inside - top) / temperature) * np.power(s, nest)
    e_out = _exp((v_abandon - top) / temperature)
    share = e_in / ((e_in + e_out) * s)  # P(go on) / S
    return e_del * share, e_ver * share


def choose_action(p_delegate, p_verify, uniform):
    """Pick an action by inverse CDF: DELEGATE if u < P_del, VERIFY if u < P_del + P_ver.

    action = 0 if u < P_del; 1 if u < P_del + P_ver; else 2
    """
    # np.int8(...) converts a bool array as .astype(np.int8) does, and also a scalar bool.
    return np.int8(uniform >= p_delegate) + (uniform >= p_delegate + p_verify)


def forget(evidence, forgetting):
    """Evidence decays toward the prior each step (trust is never static).

    r <- lambda * r ; s <- lambda * s
    """
    return evidence * forgetting


def add_evidence(evidence, amount, layer_weight):
    """Evidence from a stage goes to each layer by the stage's layer weight.

    r_l <- r_l + w_kl * amount
    """
    return evidence + layer_weight * amount


def accumulate_reactance(
    reactance, reactance_trait, pressure, forced, control_need, decay, forced_weight
):
    """Reactance builds with pressure (convex) and forced steps, and fades.

    R <- delta * R + k * phi^2 + f * c * forced
    """
    return (
        decay * reactance
        + reactance_trait * pressure * pressure
        + forced_weight * control_need * forced
    )


def stage_experience(
    outcome,
    expectation,
    risk,
    effort,
    control_need,
    pressure,
    reactance_trait,
    forced,
    incident_stake,
    baseline,
    surprise_weight,
    loss_aversion,
    anxiety_penalty,
    effort_weight,
    pressure_penalty,
    forced_penalty,
    incident_loss,
):
    """How one step felt, on [0, 1]: outcome against expectation, minus costs.

    gap = o - T_before; gain = g * gap if gap >= 0 else g * loss_aversion * gap
    E = clip(baseline + gain - a_w * PR - e_w * cost * (1 - c) - p_w * k * phi^2
             - f_w * c * forced - l_w * x * incident, 0, 1)

    The felt risk of the step (PR) is anxiety while it runs, so structural assurance
    improves the experience even of buyers who never check. Effort weighs less on buyers
    with high control need, who value doing it themselves.
    """
    gap = outcome - expectation
    gain = surprise_weight * where(gap >= 0.0, gap, loss_aversion * gap)
    value = (
        baseline
        + gain
        - anxiety_penalty * risk
        - effort_weight * effort * (1.0 - control_need)
        - pressure_penalty * reactance_trait * pressure * pressure
        - forced_penalty * control_need * forced
        - incident_loss * incident_stake
    )
    return np.minimum(np.maximum(value, 0.0), 1.0)  # clip to [0, 1]


def update_satisfaction(satisfaction, experience, smoothing):
    """Exponentially weighted mean of stage experiences; never reset at payment.

    S <- (1 - alpha) * S + alpha * E
    """
    return (1.0 - smoothing) * satisfaction + smoothing * experience


def collapse_chance(stake, collapse_at_full_stake):
    """Chance that an uncaught failure ends the deal, growing with the stake.

    P(collapse) = c_max * x
    """
    return collapse_at_full_stake * stake


def lead_hazard(outside, word_of_mouth, promoters, market_size):
    """Per-step chance that a potential buyer becomes a lead: the discrete Bass hazard.

    h = min(p + q * P / M, 1), with p and q per step and P the promoters still talking.
    """
    return min(outside + word_of_mouth * promoters / market_size, 1.0)


def deterrence_hazard(word_of_mouth, bad_news_weight, detractors, market_size, hazard):
    """Per-step chance that a potential buyer hears a detractor and is deterred for good.

    d = min(q * nu * D / M, 1 - h): negative word of mouth removes potential buyers
    from the market (Mahajan, Muller & Kerin 1984; Goldenberg et al. 2007) instead of
    cancelling advertising; D counts the detractors still talking.
    """
    return min(word_of_mouth * bad_news_weight * detractors / market_size, 1.0 - hazard)


def reputation(promoters, detractors, prior):
    """Net reputation from word of mouth, shrunk toward 0 when few have spoken.

    rep = (P - D) / (P + D + k0)
    """
    return (promoters - detractors) / (promoters + detractors + prior)


def lead_base_rates(base_rate, rep, mean_affordance, reputation_shift, affordance_shift):
    """A new lead's base rates, shifted by reputation and by visible affordances.

    a_l = clip(a0_l + s_rep * rep + s_aff * mean(A), 0.01, 0.99)
    """
    shifted = np.asarray(base_rate) + reputation_shift * rep + affordance_shift * mean_affordance
    return np.clip(shifted, 0.01, 0.99)


def repeat_chance(satisfaction, rate, threshold):
    """Chance per step that a finished customer buys again, rising with satisfaction.

    P(repeat) = rate * max(0, (S - s0) / (1 - s0))
    """
    return rate * np.maximum(0.0, (satisfaction - threshold) / (1.0 - threshold))

"""numba kernels of the compiled engine: one compiled loop over the acting buyers per sub-step.

Imported only by `trustsim.sim.compiled` when a model uses `engine="compiled"` (it needs
numba). Each kernel does, for one buyer at a time, exactly what the matching sub-step of
`trustsim.sim.vectorized` does over arrays, calling the same functions of
`trustsim.agents.rules`, compiled with `numba.njit`. The buyer-state arrays are the array
engine's; `i` runs over the acting buyers, `b = acting[i]` is the buyer, `k` its stage.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import overload

from trustsim.agents import rules
from trustsim.agents.rules import ABANDON, DELEGATE, VERIFY
from trustsim.sim.vectorized import (
    ABANDONED,
    CHOICE,
    COLLAPSE,
    DELAY,
    DETECTION,
    FINISHED,
    POST_PURCHASE,
    SERVICE,
)


def _cache_dir() -> Path:
    """Where numba caches the kernels: one directory per version of the rules and kernels.

    numba's own cache check watches only this file, so an edit to `rules.py` would
    otherwise reuse stale compiled rules.
    """
    sources = (Path(__file__), Path(rules.__file__), Path(__file__).with_name("compiled.py"))
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "trustsim" / f"numba-{digest}"


if not os.environ.get("NUMBA_CACHE_DIR"):  # the user's choice wins
    numba.config.CACHE_DIR = str(_cache_dir())


@overload(rules._where)
def _where_on_scalars(condition, if_true, if_false):
    """The scalar form of `rules._where`: one of two numbers, as np.where picks per element."""
    if isinstance(condition, (types.Boolean, types.Number)):
        return lambda condition, if_true, if_false: if_true if condition else if_false
    return None


@overload(rules._exp)
def _exp_on_scalars(x):
    """The scalar form of `rules._exp`: no call where exp is exact (0 -> 1, -inf -> 0)."""
    if isinstance(x, types.Float):

        def exp_skipping_exact(x):
            if x == 0.0:
                return 1.0
            if x == -np.inf:
                return 0.0
            return np.exp(x)

        return exp_skipping_exact
    return None


def _jit(function):
    # Not cached on their own: each kernel's cache holds the compiled rules it calls.
    return numba.njit(function)


expected_trust = _jit(rules.expected_trust)
uncertainty = _jit(rules.uncertainty)
stage_weighted = _jit(rules.stage_weighted)
perceived_risk = _jit(rules.perceived_risk)
detection_chance = _jit(rules.detection_chance)
verification_effort = _jit(rules.verification_effort)
delegate_utility = _jit(rules.delegate_utility)
verify_utility = _jit(rules.verify_utility)
abandon_utility = _jit(rules.abandon_utility)
choice_probabilities = _jit(rules.choice_probabilities)
choose_action = _jit(rules.choose_action)
forget = _jit(rules.forget)
add_evidence = _jit(rules.add_evidence)
accumulate_reactance = _jit(rules.accumulate_reactance)
stage_experience = _jit(rules.stage_experience)
smoothed_satisfaction = _jit(rules.update_satisfaction)  # the kernel has its name
collapse_chance = _jit(rules.collapse_chance)

kernel = numba.njit(cache=True, nogil=True)


@kernel
def feel_pressure(acting, stage, b_, st, rc):
    """R <- delta * R + k * phi^2 + f * c * forced, for every acting buyer."""
    for i in range(acting.size):
        b, k = acting[i], stage[i]
        b_.reactance[b] = accumulate_reactance(
            b_.reactance[b], b_.propensity[b], st.pressure[k], st.forced[k],
            b_.control_need[b], rc.decay, rc.forced_weight,
        )  # fmt: skip


@kernel
def decide(acting, stage, b_, st, ch, prior, u, ctx):
    """Perceived risk, utilities and the logit choice (`VectorizedEngine._decide_block`)."""
    good, bad, base = b_.good, b_.bad, b_.base_rate
    for i in range(acting.size):
        b, k = acting[i], stage[i]
        w = (st.weights[0, k], st.weights[1, k], st.weights[2, k])
        per_layer = (
            expected_trust(good[0, b], bad[0, b], base[0, b], prior),
            expected_trust(good[1, b], bad[1, b], base[1, b], prior),
            expected_trust(good[2, b], bad[2, b], base[2, b], prior),
        )
        trust = stage_weighted(per_layer, w)
        uncert = stage_weighted(
            (
                uncertainty(good[0, b], bad[0, b], prior),
                uncertainty(good[1, b], bad[1, b], prior),
                uncertainty(good[2, b], bad[2, b], prior),
            ),
            w,
        )
        stake, affordance, skill = st.stake[k], st.affordance[k], b_.skill[b]
        risk = perceived_risk(
            stake, b_.risk_aversion[b], trust, uncert, affordance,
            ch.uncertainty_weight, ch.structural_assurance,
        )  # fmt: skip
        detect = detection_chance(ch.detection, skill, affordance, ch.outside_means)
        effort = verification_effort(
            ch.verification_cost, ch.affordance_cost_relief, affordance, skill
        )
        v_del = delegate_utility(trust, risk, ch.trust_weight, ch.risk_weight)
        v_ver = verify_utility(
            trust, risk, detect, effort, b_.control_need[b], stake, ch.trust_weight,
            ch.risk_weight, ch.control_weight, ch.verify_trust_share,
        )  # fmt: skip
        v_out = abandon_utility(
            b_.reactance[b], st.pressure[k], b_.waited[b], b_.patience[b], st.competition[k],
            ch.exit_bias, ch.reactance_weight, ch.pressure_push, ch.impatience,
        )  # fmt: skip
        p_del, p_ver = choice_probabilities(
            v_del, v_ver, v_out, st.can_delegate[k], st.can_verify[k], ch.temperature
        )
        ctx.action[i] = choose_action(p_del, p_ver, u[CHOICE, b])
        ctx.trust[i], ctx.risk[i], ctx.detect[i], ctx.effort[i] = trust, risk, detect, effort
        ctx.p_delegate[i], ctx.p_verify[i] = p_del, p_ver


@kernel
def resolve_outcomes(acting, stage, st, out, u, ctx):
    """The service does the step right or not; checks catch some errors."""
    for i in range(acting.size):
        b, k, action = acting[i], stage[i], ctx.action[i]
        took_part, verified = action != ABANDON, action == VERIFY
        success = took_part and u[SERVICE, b] < st.reliability[k]
        failed = took_part and not success
        caught = failed and verified and u[DETECTION, b] < ctx.detect[i]
        incident = failed and not caught
        collapse = collapse_chance(st.stake[k], out.collapse)
        ctx.collapsed[i] = incident and u[COLLAPSE, b] < collapse
        spills_over = verified and (u[DELAY, b] < out.verification_delay * (1.0 - st.affordance[k]))
        ctx.completed[i] = (success or caught) and not spills_over
        ctx.success[i], ctx.caught[i], ctx.incident[i] = success, caught, incident


@kernel
def update_trust(acting, stage, b_, st, tr, ctx):
    """Forgetting, then this step's evidence per layer: r_l <- lambda * r_l + w_kl * amount."""
    for i in range(acting.size):
        b, k = acting[i], stage[i]
        success, caught = ctx.success[i], ctx.caught[i]
        verified = ctx.action[i] == VERIFY
        good_amount = 0.0
        if success:
            good_amount = tr.verified_evidence if verified else tr.success_evidence
        # Sums of both terms, as in the array engine, so rounding is the same.
        bad_amount = (tr.failure_evidence if ctx.incident[i] else 0.0) + (
            tr.failure_evidence * tr.caught_failure_scale if caught else 0.0
        )
        for layer in range(3):
            w = st.weights[layer, k]
            b_.good[layer, b] = add_evidence(
                forget(b_.good[layer, b], tr.forgetting), good_amount, w
            )
            b_.bad[layer, b] = add_evidence(forget(b_.bad[layer, b], tr.forgetting), bad_amount, w)
        # A caught error is also evidence that the platform works: it let the buyer catch it.
        b_.good[0, b] += tr.success_evidence * st.affordance[k] if caught else 0.0


@kernel
def update_satisfaction(acting, stage, b_, st, sat, ctx):
    """S <- (1 - alpha) * S + alpha * E, E the step's experience (kept when walking away)."""
    for i in range(acting.size):
        b, k, action = acting[i], stage[i], ctx.action[i]
        outcome = 1.0 if ctx.success[i] else (sat.caught_outcome if ctx.caught[i] else 0.0)
        experience = stage_experience(
            outcome, ctx.trust[i], ctx.risk[i],
            ctx.effort[i] if action == VERIFY else 0.0,
            b_.control_need[b], st.pressure[k], b_.propensity[b], st.forced[k],
            st.stake[k] if ctx.incident[i] else 0.0,
            sat.baseline, sat.surprise_weight, sat.loss_aversion, sat.anxiety_penalty,
            sat.effort_weight, sat.pressure_penalty, sat.forced_penalty, sat.incident_loss,
        )  # fmt: skip
        current = b_.satisfaction[b]
        if action == ABANDON:
            experience = current
        b_.satisfaction[b] = smoothed_satisfaction(current, experience, sat.smoothing)


@kernel
def advance_journeys(acting, stage, b_, closing, t, ctx, per_stage):
    """Move on, close, finish, walk away or collapse; count per stage and for the tally.

    Returns (errors caught, incidents, deals closed, sum of steps to close, churned).
    """
    n = per_stage.shape[1]
    caught = incidents = closes_n = close_time = churns = 0
    for i in range(acting.size):
        b, k, action = acting[i], np.intp(stage[i]), ctx.action[i]
        per_stage[0, k] += 1
        per_stage[1, k] += action == DELEGATE
        per_stage[2, k] += action == VERIFY
        per_stage[3, k] += action == ABANDON
        caught += ctx.caught[i]
        incidents += ctx.incident[i]
        b_.delegations[b] += action == DELEGATE
        b_.verifications[b] += action == VERIFY
        b_.incidents[b] += ctx.incident[i]

        leaving = action == ABANDON or ctx.collapsed[i]
        was_post = b_.status[b] == POST_PURCHASE
        completed = ctx.completed[i] and not leaving
        next_stage = k + completed
        if completed and k == closing:
            b_.status[b] = POST_PURCHASE
            b_.closed[b] = t
            closes_n += 1
            close_time += t - b_.arrived[b]
        if completed and next_stage >= n:
            b_.status[b] = FINISHED
        if leaving:
            b_.status[b] = FINISHED if was_post else ABANDONED
            if was_post:
                b_.churned[b] = True
                churns += 1
        b_.stage[b] = min(next_stage, n - 1)
        b_.waited[b] = 0 if completed else b_.waited[b] + 1
    return caught, incidents, closes_n, close_time, churns


@kernel
def take(index, b_, prior, status, stage, satisfaction, reactance, trust):
    """Buyers `index`'s state into the given arrays; trust T_l per layer (3, m)."""
    for i in range(index.size):
        b = index[i]
        status[i], stage[i] = b_.status[b], b_.stage[b]
        satisfaction[i], reactance[i] = b_.satisfaction[b], b_.reactance[b]
        for layer in range(3):
            trust[layer, i] = expected_trust(
                b_.good[layer, b], b_.bad[layer, b], b_.base_rate[layer, b], prior
            )

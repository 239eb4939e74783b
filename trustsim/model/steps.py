"""The sub-steps of one step, each written once and run by every engine.

A sub-step reads and writes the buyers it is given: `b` is a buyer index into the buyer
columns (`trustsim.model.state.BUYER_STATE`), `i` the matching row of the step's record,
`k` the stage each faces. The array engine passes arrays of them (a block of acting
buyers), the compiled engine one buyer at a time inside a numba loop, the per-agent
engine one `Buyer`'s own length-one columns (`b = i = 0`). The code is the same in all
three because it indexes, computes with the rules and writes back, and says "if" only
with `where`, "not" with `negate` and sums over buyers with `total` (`trustsim.model.rules`).

Every sub-step of acting buyers takes the same arguments, in this order:

    i, b, k      record rows, buyer indices, stages
    buyers       the buyer columns (`state.Buyers`)
    record       this step's record (`state.StepRecord`)
    u            the step's uniform draws, (5, buyers): row `CHOICE`, `SERVICE`, ...
    t            the step number
    stages       the per-stage offer (`stages.StageTable`)
    p            the rule parameters (`stages.Numbers`)
    tally        the running counters (`tally.Tally`)
"""

from __future__ import annotations

import numpy as np

from trustsim.model import rules
from trustsim.model.codes import (
    ABANDON,
    ABANDONED,
    ACTIVE,
    ARRIVAL,
    CHOICE,
    COLLAPSE,
    DELAY,
    DELEGATE,
    DETECTION,
    DETERRED,
    ENVIRONMENT,
    FINISHED,
    OUTCOME_CAUGHT,
    OUTCOME_COLLAPSE,
    OUTCOME_INCIDENT,
    OUTCOME_NONE,
    OUTCOME_SUCCESS,
    POST_PURCHASE,
    POTENTIAL,
    REPEAT,
    SERVICE,
    VERIFY,
)
from trustsim.model.rules import negate, total, where
from trustsim.model.tally import (
    CAUGHT,
    CHURNED,
    CLOSE_TIME,
    CLOSED,
    INCIDENTS,
    LEADS,
    REPEATS,
    WOM_LEADS,
)
from trustsim.model.tally import DETERRED as DETERRED_COUNT

# The schedule of one step, in order; each name is a sub-step below and a method of
# every engine.
STEP_ORDER = (
    "repeat_purchases",  # customers who finished earlier buy again
    "feel_pressure",  # the stage's pressure and forcing build reactance
    "decide",  # perceived risk, utilities, logit choice
    "resolve_outcomes",  # the service succeeds or fails; checks catch errors
    "update_trust",  # forgetting, then evidence per layer
    "update_satisfaction",  # experience against expectation
    "advance_journeys",  # move on, close, finish, walk away
)


# ------------------------------------------------------------------ who acts
def is_acting(status):
    """Active or after purchase: the buyer is in the journey, at some stage visit."""
    return (status == ACTIVE) | (status == POST_PURCHASE)


def visit_ends(b, buyers, stages, t):
    """Whether the stage visits of buyers `b` (in the journey) end in step `t`.

    A visit begins in the step the buyer arrives or ends its last visit and lasts n_k
    steps (`stages.visit_steps`: the stage's duration over the step's length). Only a
    buyer whose visit ends acts (all the sub-steps below), once per visit:

        acts in step t  <=>  t - t_visit >= n_k
    """
    return t - buyers.visit_start[b] >= stages.visit_steps[buyers.stage[b]]


def may_arrive(status):
    """Only a potential buyer can become a lead."""
    return status == POTENTIAL


def may_buy_again(status, churned):
    """A customer who finished the journey without walking away."""
    return (status == FINISHED) & negate(churned)


# --------------------------------------------------------- sub-steps, in order
def repeat_purchases(b, buyers, u, p, tally):
    """A finished, loyal customer buys again with a chance rising with satisfaction.

    Runs first, on customers who finished in an earlier step, so no buyer uses row 0 of
    the draws for both a choice and a repeat purchase.
    """
    chance = rules.repeat_chance(buyers.satisfaction[b], p.repeat.rate, p.repeat.threshold)
    again = u[REPEAT][b] < chance
    buyers.repeats[b] += again
    tally.counts[REPEATS] += total(again)


def feel_pressure(i, b, k, buyers, record, u, t, stages, p, tally):
    """The stage's pressure and forcing build reactance, before the choice.

    R <- delta * R + k * phi^2 + f * c * forced
    """
    buyers.reactance[b] = rules.accumulate_reactance(
        buyers.reactance[b],
        buyers.traits.reactance[b],
        stages.pressure[k],
        stages.forced[k],
        buyers.traits.control_need[b],
        p.reactance.decay,
        p.reactance.forced_weight,
    )


def layer_trust(buyers, b, layer, prior):
    """T_l = expected_trust(r_l, s_l, a_l, W) of buyers `b` in one trust layer."""
    return rules.expected_trust(
        buyers.good[layer][b], buyers.bad[layer][b], buyers.base_rate[layer][b], prior
    )


def decide(i, b, k, buyers, record, u, t, stages, p, tally):
    """Perceived risk, utilities of the three actions and a nested logit choice among them."""
    ch, prior, traits = p.choice, p.trust.prior_weight, buyers.traits
    good, bad = rules.layers(buyers.good, b), rules.layers(buyers.bad, b)
    base, w = rules.layers(buyers.base_rate, b), rules.layers(stages.weights, k)
    trust = rules.stage_weighted(
        (
            rules.expected_trust(good[0], bad[0], base[0], prior),
            rules.expected_trust(good[1], bad[1], base[1], prior),
            rules.expected_trust(good[2], bad[2], base[2], prior),
        ),
        w,
    )
    uncert = rules.stage_weighted(
        (
            rules.uncertainty(good[0], bad[0], prior),
            rules.uncertainty(good[1], bad[1], prior),
            rules.uncertainty(good[2], bad[2], prior),
        ),
        w,
    )
    stake, affordance = stages.stake[k], stages.affordance[k]
    skill, control_need = traits.verification_skill[b], traits.control_need[b]
    risk = rules.perceived_risk(
        stake,
        traits.risk_aversion[b],
        trust,
        uncert,
        affordance,
        ch.uncertainty_weight,
        ch.structural_assurance,
    )
    detect = rules.detection_chance(ch.detection, skill, affordance, ch.outside_means)
    effort = rules.verification_effort(
        ch.verification_cost, ch.affordance_cost_relief, affordance, skill
    )
    v_del = rules.delegate_utility(trust, risk, ch.trust_weight, ch.risk_weight)
    v_ver = rules.verify_utility(
        trust,
        risk,
        detect,
        effort,
        control_need,
        stake,
        ch.trust_weight,
        ch.risk_weight,
        ch.control_weight,
        ch.verify_trust_share,
    )
    v_out = rules.abandon_utility(
        buyers.reactance[b],
        stages.pressure[k],
        buyers.waited[b],
        traits.patience[b],
        stages.competition[k],
        ch.exit_bias,
        ch.reactance_weight,
        ch.pressure_push,
        ch.impatience,
    )
    p_del, p_ver = rules.choice_probabilities(
        v_del,
        v_ver,
        v_out,
        stages.can_delegate[k],
        stages.can_verify[k],
        ch.temperature,
        ch.proceed_nest,
    )
    record.action[i] = rules.choose_action(p_del, p_ver, u[CHOICE][b])
    record.trust[i], record.risk[i], record.detect[i], record.effort[i] = (
        trust, risk, detect, effort,
    )  # fmt: skip
    record.p_delegate[i], record.p_verify[i] = p_del, p_ver


def resolve_outcomes(i, b, k, buyers, record, u, t, stages, p, tally):
    """The service does the step right or not; a check may catch its error.

    success: u_service < reliability; caught: failed, verified and u_detection < q;
    incident: failed and not caught; collapsed: incident and u_collapse < c_max * x;
    a verified step spills into the next step when u_delay < d * (1 - A).
    """
    out, action = p.outcomes, record.action[i]
    took_part, verified = action != ABANDON, action == VERIFY
    success = took_part & (u[SERVICE][b] < stages.reliability[k])
    failed = took_part & negate(success)
    caught = failed & verified & (u[DETECTION][b] < record.detect[i])
    incident = failed & negate(caught)
    collapse = rules.collapse_chance(stages.stake[k], out.collapse)
    record.collapsed[i] = incident & (u[COLLAPSE][b] < collapse)
    spills_over = verified & (u[DELAY][b] < out.verification_delay * (1.0 - stages.affordance[k]))
    record.completed[i] = (success | caught) & negate(spills_over)
    record.success[i], record.caught[i], record.incident[i] = success, caught, incident


def update_trust(i, b, k, buyers, record, u, t, stages, p, tally):
    """Evidence forgets toward the prior, then this step's evidence is added by layer.

    r_l <- lambda * r_l + w_kl * good amount ; s_l <- lambda * s_l + w_kl * bad amount
    """
    tr, caught = p.trust, record.caught[i]
    verified = record.action[i] == VERIFY
    good_amount = where(
        record.success[i], where(verified, tr.verified_evidence, tr.success_evidence), 0.0
    )
    # Written as a sum of both terms in every engine, so rounding is the same.
    bad_amount = where(record.incident[i], tr.failure_evidence, 0.0) + where(
        caught, tr.failure_evidence * tr.caught_failure_scale, 0.0
    )
    # A caught error is also evidence that the platform works: it let the buyer catch it.
    platform_evidence = where(caught, tr.success_evidence * stages.affordance[k], 0.0)
    good, bad = rules.layers(buyers.good, b), rules.layers(buyers.bad, b)
    for layer in range(3):
        w = stages.weights[layer][k]
        new_good = rules.add_evidence(rules.forget(good[layer], tr.forgetting), good_amount, w)
        if layer == ENVIRONMENT:
            new_good = new_good + platform_evidence
        buyers.good[layer][b] = new_good
        buyers.bad[layer][b] = rules.add_evidence(
            rules.forget(bad[layer], tr.forgetting), bad_amount, w
        )


def update_satisfaction(i, b, k, buyers, record, u, t, stages, p, tally):
    """The step's experience against expectation enters the running satisfaction.

    S <- (1 - alpha) * S + alpha * E; E = S (no change) for a buyer who walked away.
    """
    sat, action, traits = p.satisfaction, record.action[i], buyers.traits
    outcome = where(record.success[i], 1.0, where(record.caught[i], sat.caught_outcome, 0.0))
    experience = rules.stage_experience(
        outcome,
        record.trust[i],
        record.risk[i],
        where(action == VERIFY, record.effort[i], 0.0),
        traits.control_need[b],
        stages.pressure[k],
        traits.reactance[b],
        stages.forced[k],
        where(record.incident[i], stages.stake[k], 0.0),
        sat.baseline,
        sat.surprise_weight,
        sat.loss_aversion,
        sat.anxiety_penalty,
        sat.effort_weight,
        sat.pressure_penalty,
        sat.forced_penalty,
        sat.incident_loss,
    )
    current = buyers.satisfaction[b]
    # Walking away is not a step experienced: the buyer keeps the opinion formed so far.
    experience = where(action == ABANDON, current, experience)
    buyers.satisfaction[b] = rules.update_satisfaction(current, experience, sat.smoothing)


def advance_journeys(i, b, k, buyers, record, u, t, stages, p, tally):
    """The journey's state machine: move on, close, finish, walk away or collapse.

    completed (and not leaving) -> next stage; completing the closing stage -> post_purchase
    (the deal closes); completing the last stage -> finished; walking away or a collapse
    -> abandoned, or finished (churned) after purchase. A visit that did not complete the
    stage counts in `waited`; the next visit, of whichever stage, begins now.
    """
    action, incident = record.action[i], record.incident[i]
    rules.count_pairs(tally.actions_at, action, k)
    tally.counts[CAUGHT] += total(record.caught[i])
    tally.counts[INCIDENTS] += total(incident)
    buyers.delegations[b] += action == DELEGATE
    buyers.verifications[b] += action == VERIFY
    buyers.incidents[b] += incident

    leaving = (action == ABANDON) | record.collapsed[i]
    status = buyers.status[b]
    was_post = status == POST_PURCHASE
    completed = record.completed[i] & negate(leaving)
    next_stage = k + completed
    closes = completed & (k == stages.closing)
    finishes = completed & (next_stage >= stages.count)
    churns = leaving & was_post

    status = where(closes, POST_PURCHASE, status)
    status = where(finishes, FINISHED, status)
    buyers.status[b] = where(leaving, where(was_post, FINISHED, ABANDONED), status)
    buyers.churned[b] = buyers.churned[b] | churns
    buyers.closed[b] = where(closes, t, buyers.closed[b])
    tally.counts[CHURNED] += total(churns)
    tally.counts[CLOSED] += total(closes)
    tally.counts[CLOSE_TIME] += total(where(closes, t - buyers.arrived[b], 0))
    buyers.stage[b] = np.minimum(next_stage, stages.count - 1)
    buyers.waited[b] = where(completed, 0, buyers.waited[b] + 1)
    # The next visit (of the next stage, or of this one again) begins now.
    buyers.visit_start[b] = t


def lead_flow(talk, promoters, detractors, size, base_rate, mean_affordance, rates, p):
    """Word of mouth after this step's journeys, then this step's flow of leads.

    Buyers who left this step start talking; each keeps talking with a half-life (a
    Bass-SIR recovery, Fibich 2017): talking <- kept * talking + newly left. `talk` holds
    (promoters talking, detractors talking, promoters so far, detractors so far) and is
    updated; `rates` is (p, q, kept) per step (`Scenario.word_of_mouth_per_step`).
    h = lead_hazard(P_talking), d = deterrence_hazard(D_talking, h),
    a_l = lead_base_rates(reputation(P_talking, D_talking)).

    Returns:
        (h, h + d) in the draws' precision (float32: every engine compares the arrival
        draw with the same numbers), and a new lead's base rates.
    """
    outside, imitation, kept = rates
    talk[0] = kept * talk[0] + (promoters - talk[2])
    talk[1] = kept * talk[1] + (detractors - talk[3])
    talk[2], talk[3] = promoters, detractors
    mk, tr = p.market, p.trust
    hazard = rules.lead_hazard(outside, imitation, talk[0], size)
    deterrence = rules.deterrence_hazard(imitation, mk.bad_news_weight, talk[1], size, hazard)
    rep = rules.reputation(talk[0], talk[1], mk.reputation_prior)
    base_rates = rules.lead_base_rates(
        base_rate, rep, mean_affordance, tr.reputation_shift, tr.affordance_shift
    )
    return np.float32(hazard), np.float32(hazard + deterrence), base_rates


def arrive(b, u, hazard, tally):
    """Whether potential buyers `b` become leads this step (u_arrival < h); counts them."""
    arriving = u[ARRIVAL][b] < hazard
    tally.counts[LEADS] += total(arriving)
    return arriving


def become_leads(b, buyers, u, t, outside, base_rates, p, tally):
    """Buyers `b`, drawn by the market's hazard, become leads: their first stage visit
    begins now, and they act when it ends (`visit_ends`).

    A lead whose draw lies above the outside influence p (per step, in the draws'
    precision) came by word of mouth.
    """
    buyers.status[b] = ACTIVE
    buyers.arrived[b] = t
    buyers.visit_start[b] = t
    from_word_of_mouth = u[ARRIVAL][b] >= np.float32(outside)
    buyers.from_word_of_mouth[b] = from_word_of_mouth
    for layer in range(3):
        buyers.base_rate[layer][b] = base_rates[layer]
    buyers.satisfaction[b] = p.satisfaction.initial
    tally.counts[WOM_LEADS] += total(from_word_of_mouth)


def arrive_as_recorded(potential, recorded, u, tally):
    """Whether potential buyers become leads as in another run; counts them. Its `recorded`
    new leads of this step arrive where they are potential here; where some are not (a
    market of another size, deterred), as many others with the lowest arrival draws do."""
    arriving = np.isin(potential, recorded)
    missing = len(recorded) - np.count_nonzero(arriving)
    if missing > 0:
        rest = np.flatnonzero(negate(arriving))
        arriving[rest[np.argsort(u[ARRIVAL][potential[rest]], kind="stable")[:missing]]] = True
    tally.counts[LEADS] += np.count_nonzero(arriving)
    return arriving


def deter(b, buyers, u, hazard, deterred_below, tally):
    """Buyers `b` who hear a detractor leave the market, h <= u_arrival < h + d (not both).

    `hazard` and `deterred_below` (h + d) come in the draws' precision (`lead_flow`).
    """
    u_arrival = u[ARRIVAL][b]
    deterred = (u_arrival >= hazard) & (u_arrival < deterred_below)
    buyers.status[b] = where(deterred, DETERRED, buyers.status[b])
    tally.counts[DETERRED_COUNT] += total(deterred)


def outcome_code(success, caught, incident, collapsed):
    """The choice log's outcome code of a step; a later code wins where several apply."""
    code = where(success, OUTCOME_SUCCESS, OUTCOME_NONE)
    code = where(caught, OUTCOME_CAUGHT, code)
    code = where(incident, OUTCOME_INCIDENT, code)
    return where(collapsed, OUTCOME_COLLAPSE, code)


ACTING_STEPS = (
    feel_pressure,
    decide,
    resolve_outcomes,
    update_trust,
    update_satisfaction,
    advance_journeys,
)

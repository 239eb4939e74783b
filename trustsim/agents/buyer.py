"""One buyer as a Mesa agent: the readable reference of what the array engine does.

A `Buyer` holds one lead's traits and state and, each step, calls the same pure rule
functions (`trustsim.agents.rules`) as the array engine, on its own values, in the order
of `TrustModel.STEP_ORDER`. It draws no random numbers: it reads its own column of the
step's uniform draws, which is why both engines give identical results.
"""

from __future__ import annotations

import mesa
import numpy as np

from trustsim.agents import rules
from trustsim.agents.rules import ABANDON, DELEGATE, VERIFY
from trustsim.agents.service import Service
from trustsim.sim.vectorized import (
    ABANDONED,
    ACTIVE,
    ARRIVAL,
    CHOICE,
    COLLAPSE,
    DELAY,
    DETECTION,
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
)


class Buyer(mesa.Agent):
    """A potential buyer who may become a lead, then trusts, delegates, verifies or leaves.

    Values keep the numpy types of the array engine's columns (float64 traits and trust,
    float32 draws), so each rule rounds exactly as it does over arrays.

    Args:
        model: the Mesa model.
        index: the buyer's slot; it reads column `index` of each step's draws.
        traits: this buyer's traits by name (`trustsim.scenarios.schema.TRAITS`).
        service: the offer it goes through.

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="agents", steps=3)
        >>> buyer = model.engine.buyers[0]
        >>> buyer.status_name
        'potential'
    """

    def __init__(self, model, index: int, traits: dict, service: Service):
        super().__init__(model)
        self.index = index
        self.service = service
        self.risk_aversion = traits["risk_aversion"]
        self.control_need = traits["control_need"]
        self.skill = traits["verification_skill"]
        self.propensity = traits["reactance"]
        self.patience = traits["patience"]

        self.status = np.int8(POTENTIAL)
        self.stage = np.int16(0)
        self.waited = np.int32(0)
        self.good = np.zeros(3)  # r_l per trust layer
        self.bad = np.zeros(3)  # s_l
        self.base_rate = np.zeros(3)  # a_l, fixed at arrival
        self.satisfaction = np.float64(0.0)
        self.reactance = np.float64(0.0)
        self.arrived = -1
        self.closed = -1
        self.from_word_of_mouth = False
        self.churned = False
        self.repeats = 0
        self.delegations = 0
        self.verifications = 0
        self.incidents = 0
        self.last: dict = {}  # this step's choice and outcome, for traces

    # ------------------------------------------------------------------ state
    @property
    def is_acting(self) -> bool:
        """Active or after purchase: the buyer faces a stage this step."""
        return self.status in (ACTIVE, POST_PURCHASE)

    @property
    def status_name(self) -> str:
        from trustsim.sim.vectorized import STATUSES

        return STATUSES[self.status]

    def layer_trust(self) -> np.ndarray:
        """Expected trust per layer (environment, rules, counterparty)."""
        prior = self.service.scenario.trust.prior_weight
        return rules.expected_trust(self.good, self.bad, self.base_rate, prior)

    def is_promoter(self, threshold: float) -> bool:
        return self.status == FINISHED and self.satisfaction >= threshold

    def is_detractor(self, threshold: float) -> bool:
        return self.status in (FINISHED, ABANDONED) and self.satisfaction <= threshold

    # -------------------------------------------------------------- one step
    def step(self, draws: np.ndarray, t: int) -> None:
        """All of one step's sub-steps for this buyer, in `TrustModel.STEP_ORDER`.

        Buyers do not affect each other within a step, so running each buyer's whole
        step in turn equals running each sub-step for all buyers (synchronous update),
        which is what the per-agent engine does.

        Args:
            draws: this buyer's column of the step's uniform draws (5 values).
            t: the step number.
        """
        # Repeat purchases come first, from customers who finished in an earlier step, so
        # a buyer never uses the same draw (row 0) for a choice and a repeat purchase.
        self.repeat_purchases(draws, t)
        if self.is_acting:
            self.feel_pressure(draws, t)
            self.decide(draws, t)
            self.resolve_outcomes(draws, t)
            self.update_trust(draws, t)
            self.update_satisfaction(draws, t)
            self.advance_journeys(draws, t)

    def feel_pressure(self, draws: np.ndarray, t: int) -> None:
        """The stage's pressure and forcing build reactance, before the choice."""
        st, p = self.service.stages, self.service.scenario
        k = self.stage
        self.reactance = rules.accumulate_reactance(
            self.reactance,
            self.propensity,
            st.pressure[k],
            st.forced[k],
            self.control_need,
            p.reactance.decay,
            p.reactance.forced_weight,
        )
        self.last = {"stage": k}

    def decide(self, draws: np.ndarray, t: int) -> None:
        """Perceived risk, utilities and a logit choice among the available actions."""
        st, p = self.service.stages, self.service.scenario
        ch, k = p.choice, self.stage
        w = st.weights[:, k]
        prior = p.trust.prior_weight
        trust = rules.stage_weighted(
            rules.expected_trust(self.good, self.bad, self.base_rate, prior), w
        )
        uncert = rules.stage_weighted(rules.uncertainty(self.good, self.bad, prior), w)
        stake, affordance = st.stake[k], st.affordance[k]
        risk = rules.perceived_risk(
            stake,
            self.risk_aversion,
            trust,
            uncert,
            affordance,
            ch.uncertainty_weight,
            ch.structural_assurance,
        )
        detect = rules.detection_chance(ch.detection, self.skill, affordance, ch.outside_means)
        effort = rules.verification_effort(
            ch.verification_cost, ch.affordance_cost_relief, affordance, self.skill
        )
        v_del = rules.delegate_utility(trust, risk, ch.trust_weight, ch.risk_weight)
        v_ver = rules.verify_utility(
            trust,
            risk,
            detect,
            effort,
            self.control_need,
            stake,
            ch.trust_weight,
            ch.risk_weight,
            ch.control_weight,
            ch.verify_trust_share,
        )
        v_out = rules.abandon_utility(
            self.reactance,
            st.pressure[k],
            self.waited,
            self.patience,
            st.competition[k],
            ch.exit_bias,
            ch.reactance_weight,
            ch.pressure_push,
            ch.impatience,
        )
        p_del, p_ver = rules.choice_probabilities(
            v_del, v_ver, v_out, st.can_delegate[k], st.can_verify[k], ch.temperature
        )
        action = rules.choose_action(p_del, p_ver, draws[CHOICE])
        self.last.update(
            trust=trust, risk=risk, detect=detect, effort=effort,
            p_delegate=p_del, p_verify=p_ver, action=int(action),
        )  # fmt: skip

    def resolve_outcomes(self, draws: np.ndarray, t: int) -> None:
        """The service does the step right or not; a check may catch its error."""
        st, out, last = self.service.stages, self.service.scenario.outcomes, self.last
        k, action = self.stage, last["action"]
        took_part, verified = action != ABANDON, action == VERIFY
        success = bool(took_part and draws[SERVICE] < st.reliability[k])
        failed = took_part and not success
        caught = bool(failed and verified and draws[DETECTION] < last["detect"])
        incident = failed and not caught
        collapse = rules.collapse_chance(st.stake[k], out.collapse)
        collapsed = bool(incident and draws[COLLAPSE] < collapse)
        spills_over = bool(
            verified and draws[DELAY] < out.verification_delay * (1.0 - st.affordance[k])
        )
        last.update(
            success=success, caught=caught, incident=incident, collapsed=collapsed,
            completed=(success or caught) and not spills_over,
        )  # fmt: skip

    def update_trust(self, draws: np.ndarray, t: int) -> None:
        """Evidence forgets toward the prior, then this step's evidence is added by layer."""
        tr, last = self.service.scenario.trust, self.last
        w = self.service.stages.weights[:, self.stage]
        verified = last["action"] == VERIFY
        good_amount = 0.0
        if last["success"]:
            good_amount = tr.verified_evidence if verified else tr.success_evidence
        # Written as sums of both terms, like the array engine, so rounding is the same.
        bad_amount = (tr.failure_evidence if last["incident"] else 0.0) + (
            tr.failure_evidence * tr.caught_failure_scale if last["caught"] else 0.0
        )
        good = rules.add_evidence(rules.forget(self.good, tr.forgetting), good_amount, w)
        bad = rules.add_evidence(rules.forget(self.bad, tr.forgetting), bad_amount, w)
        # A caught error is also evidence that the platform works: it let the buyer catch it.
        affordance = self.service.stages.affordance[self.stage]
        good[0] += tr.success_evidence * affordance if last["caught"] else 0.0
        self.good, self.bad = good, bad

    def update_satisfaction(self, draws: np.ndarray, t: int) -> None:
        """The step's experience against expectation enters the running satisfaction."""
        st, sat, last = self.service.stages, self.service.scenario.satisfaction, self.last
        k = self.stage
        outcome = 1.0 if last["success"] else sat.caught_outcome if last["caught"] else 0.0
        experience = rules.stage_experience(
            outcome,
            last["trust"],
            last["risk"],
            last["effort"] if last["action"] == VERIFY else 0.0,
            self.control_need,
            st.pressure[k],
            self.propensity,
            st.forced[k],
            st.stake[k] if last["incident"] else 0.0,
            baseline=sat.baseline,
            surprise_weight=sat.surprise_weight,
            loss_aversion=sat.loss_aversion,
            anxiety_penalty=sat.anxiety_penalty,
            effort_weight=sat.effort_weight,
            pressure_penalty=sat.pressure_penalty,
            forced_penalty=sat.forced_penalty,
            incident_loss=sat.incident_loss,
        )
        # Walking away is not a step experienced: the buyer keeps the opinion formed so far.
        if last["action"] == ABANDON:
            experience = self.satisfaction
        self.satisfaction = rules.update_satisfaction(self.satisfaction, experience, sat.smoothing)

    def advance_journeys(self, draws: np.ndarray, t: int) -> None:
        """Move on, close, finish, walk away or collapse; tell the service what happened."""
        st, last = self.service.stages, self.last
        k, action, n = self.stage, last["action"], st.count
        self.service.record(int(k), action, last["caught"], last["incident"])
        self.delegations += action == DELEGATE
        self.verifications += action == VERIFY
        self.incidents += last["incident"]

        leaving = action == ABANDON or last["collapsed"]
        was_post = self.status == POST_PURCHASE
        completed = last["completed"] and not leaving
        next_stage = k + np.int16(completed)
        if completed and k == st.closing:
            self.status = np.int8(POST_PURCHASE)
            self.closed = t
            self.service.record_close(t - self.arrived)
        if completed and next_stage >= n:
            self.status = np.int8(FINISHED)
        if leaving:
            self.status = np.int8(FINISHED if was_post else ABANDONED)
            self.churned = self.churned or was_post
        if self.status in (FINISHED, ABANDONED):
            self.service.record_leaving(self, churned=leaving and was_post)
        self.stage = np.int16(min(next_stage, n - 1))
        self.waited = np.int32(0 if completed else self.waited + 1)
        last["outcome"] = _outcome_code(last)

    def repeat_purchases(self, draws: np.ndarray, t: int) -> None:
        """A finished, loyal customer buys again with a chance rising with satisfaction."""
        rp = self.service.scenario.repeat
        if rp.rate == 0.0 or self.status != FINISHED or self.churned:
            return
        chance = rules.repeat_chance(self.satisfaction, rp.rate, rp.threshold)
        again = int(draws[REPEAT] < chance)
        self.repeats += again
        self.service.tally.repeats += again

    def arrive(self, draws: np.ndarray, t: int, hazard: float, outside: float, base_rates):
        """A potential buyer becomes a lead with the market's hazard; True if it did."""
        if self.status != POTENTIAL or not draws[ARRIVAL] < hazard:
            return False
        self.status = np.int8(ACTIVE)
        self.arrived = t
        self.from_word_of_mouth = bool(draws[ARRIVAL] >= outside)
        self.base_rate = np.array(base_rates, dtype=np.float64)
        self.satisfaction = np.float64(self.service.scenario.satisfaction.initial)
        return True


def _outcome_code(last: dict) -> int:
    """The choice log's outcome code; later entries win, as in the array engine."""
    code = OUTCOME_NONE
    for key, value in (
        ("success", OUTCOME_SUCCESS),
        ("caught", OUTCOME_CAUGHT),
        ("incident", OUTCOME_INCIDENT),
        ("collapsed", OUTCOME_COLLAPSE),
    ):
        if last[key]:
            code = value
    return code

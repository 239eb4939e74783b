"""The array engine: buyers as a struct of numpy arrays, each rule applied once per step.

Every potential buyer of the market has a slot from the start (status POTENTIAL); a
step works on the index of active buyers. The sub-steps are methods named after the
schedule in docs/ODD.md and run in the order `TrustModel.STEP_ORDER` gives.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustsim.agents import rules
from trustsim.agents.rules import ABANDON, DELEGATE, VERIFY
from trustsim.scenarios.schema import LAYERS, Scenario
from trustsim.sim.params import StageTable, draw_traits

POTENTIAL, ACTIVE, POST_PURCHASE, FINISHED, ABANDONED = range(5)
STATUSES = ("potential", "active", "post_purchase", "finished", "abandoned")

# Rows of the per-step uniform draws. Row 0 serves three disjoint groups (active buyers
# choose, potential buyers arrive, finished customers buy again), so one draw per slot.
CHOICE = ARRIVAL = REPEAT = 0
SERVICE, DETECTION, COLLAPSE, DELAY = 1, 2, 3, 4
UNIFORM_ROWS = 5

# Outcome of a step for the choice log.
OUTCOME_NONE, OUTCOME_SUCCESS, OUTCOME_CAUGHT, OUTCOME_INCIDENT, OUTCOME_COLLAPSE = range(5)
OUTCOMES = ("walked away", "success", "error caught", "incident", "deal collapsed")


@dataclass(slots=True)
class StepContext:
    """What one step's sub-steps hand to each other (arrays over the acting buyers)."""

    acting: np.ndarray  # buyer indices
    stage: np.ndarray
    trust: np.ndarray | None = None
    risk: np.ndarray | None = None
    detect: np.ndarray | None = None
    effort: np.ndarray | None = None
    p_delegate: np.ndarray | None = None
    p_verify: np.ndarray | None = None
    action: np.ndarray | None = None
    success: np.ndarray | None = None
    caught: np.ndarray | None = None
    incident: np.ndarray | None = None
    collapsed: np.ndarray | None = None
    completed: np.ndarray | None = None


class VectorizedEngine:
    """Buyers as arrays. `model` supplies the scenario, the step count and the market."""

    def __init__(self, scenario: Scenario, stages: StageTable, rng: np.random.Generator):
        size = scenario.market.size
        self.scenario = scenario
        self.stages = stages
        self.size = size
        self.segment, traits = draw_traits(scenario, size, rng)
        self.risk_aversion = traits["risk_aversion"]
        self.control_need = traits["control_need"]
        self.skill = traits["verification_skill"]
        self.propensity = traits["reactance"]
        self.patience = traits["patience"]

        self.status = np.zeros(size, dtype=np.int8)
        self.stage = np.zeros(size, dtype=np.int16)
        self.waited = np.zeros(size, dtype=np.int32)
        self.good = np.zeros((3, size))  # r_l
        self.bad = np.zeros((3, size))  # s_l
        self.base_rate = np.zeros((3, size))  # a_l, fixed at arrival
        self.satisfaction = np.zeros(size)
        self.reactance = np.zeros(size)
        self.arrived = np.full(size, -1, dtype=np.int32)
        self.closed = np.full(size, -1, dtype=np.int32)
        self.from_word_of_mouth = np.zeros(size, dtype=bool)
        self.churned = np.zeros(size, dtype=bool)
        self.repeats = np.zeros(size, dtype=np.int32)
        self.delegations = np.zeros(size, dtype=np.int16)
        self.verifications = np.zeros(size, dtype=np.int16)
        self.incidents = np.zeros(size, dtype=np.int16)

        n = stages.count
        self.choices_at = np.zeros(n, dtype=np.int64)
        self.delegations_at = np.zeros(n, dtype=np.int64)
        self.verifications_at = np.zeros(n, dtype=np.int64)
        self.abandoned_at = np.zeros(n, dtype=np.int64)
        self.caught_total = 0
        self.ctx: StepContext | None = None

    # ----------------------------------------------------------------- sub-steps
    def feel_pressure(self, u: np.ndarray, t: int) -> None:
        """Every active buyer faces the stage: its pressure and forcing build reactance.

        Reactance is updated before the choice, so aggressive pressure can backfire at the
        very step it pushes (a refinement of MODEL.md's order, see docs/ODD.md).
        """
        acting = np.flatnonzero((self.status == ACTIVE) | (self.status == POST_PURCHASE))
        k = self.stage[acting]
        st = self.stages
        self.reactance[acting] = rules.accumulate_reactance(
            self.reactance[acting],
            self.propensity[acting],
            st.pressure[k],
            st.forced[k],
            self.control_need[acting],
            self.scenario.reactance.decay,
            self.scenario.reactance.forced_weight,
        )
        self.ctx = StepContext(acting, k)

    def decide(self, u: np.ndarray, t: int) -> None:
        """Perceived risk, utilities and a logit choice for every active buyer."""
        p = self.scenario
        st = self.stages
        acting, k = self.ctx.acting, self.ctx.stage
        w = st.weights[:, k]
        prior = p.trust.prior_weight
        good, bad = self.good[:, acting], self.bad[:, acting]
        trust = rules.stage_weighted(
            rules.expected_trust(good, bad, self.base_rate[:, acting], prior), w
        )
        uncert = rules.stage_weighted(rules.uncertainty(good, bad, prior), w)
        stake, affordance = st.stake[k], st.affordance[k]
        c, ch = self.control_need[acting], p.choice
        risk = rules.perceived_risk(
            stake,
            self.risk_aversion[acting],
            trust,
            uncert,
            affordance,
            ch.uncertainty_weight,
            ch.structural_assurance,
        )
        skill = self.skill[acting]
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
            c,
            stake,
            ch.trust_weight,
            ch.risk_weight,
            ch.control_weight,
            ch.verify_trust_share,
        )
        v_out = rules.abandon_utility(
            self.reactance[acting],
            st.pressure[k],
            self.waited[acting],
            self.patience[acting],
            st.competition[k],
            ch.exit_bias,
            ch.reactance_weight,
            ch.pressure_push,
            ch.impatience,
        )
        p_del, p_ver = rules.choice_probabilities(
            v_del, v_ver, v_out, st.can_delegate[k], st.can_verify[k], ch.temperature
        )
        action = rules.choose_action(p_del, p_ver, u[CHOICE, acting])
        ctx = self.ctx
        ctx.trust, ctx.risk, ctx.detect, ctx.effort = trust, risk, detect, effort
        ctx.p_delegate, ctx.p_verify, ctx.action = p_del, p_ver, action

    def resolve_outcomes(self, u: np.ndarray, t: int) -> None:
        """The service does the step right or not; checks catch some errors."""
        ctx, st, acting = self.ctx, self.stages, self.ctx.acting
        took_part = ctx.action != ABANDON
        verified = ctx.action == VERIFY
        success = took_part & (u[SERVICE, acting] < st.reliability[ctx.stage])
        failed = took_part & ~success
        caught = failed & verified & (u[DETECTION, acting] < ctx.detect)
        incident = failed & ~caught
        collapse = rules.collapse_chance(st.stake[ctx.stage], self.scenario.outcomes.collapse)
        collapsed = incident & (u[COLLAPSE, acting] < collapse)
        spills_over = verified & (
            u[DELAY, acting]
            < self.scenario.outcomes.verification_delay * (1.0 - st.affordance[ctx.stage])
        )
        ctx.completed = (success | caught) & ~spills_over
        ctx.success, ctx.caught, ctx.incident, ctx.collapsed = success, caught, incident, collapsed

    def update_trust(self, u: np.ndarray, t: int) -> None:
        """Evidence forgets toward the prior, then this step's evidence is added by layer."""
        ctx, tr, acting = self.ctx, self.scenario.trust, self.ctx.acting
        w = self.stages.weights[:, ctx.stage]
        verified = ctx.action == VERIFY
        good_amount = np.where(
            ctx.success, np.where(verified, tr.verified_evidence, tr.success_evidence), 0.0
        )
        bad_amount = np.where(ctx.incident, tr.failure_evidence, 0.0) + np.where(
            ctx.caught, tr.failure_evidence * tr.caught_failure_scale, 0.0
        )
        good = rules.add_evidence(rules.forget(self.good[:, acting], tr.forgetting), good_amount, w)
        bad = rules.add_evidence(rules.forget(self.bad[:, acting], tr.forgetting), bad_amount, w)
        # A caught error is also evidence that the platform works: it let the buyer catch it.
        good[0] += np.where(
            ctx.caught, tr.success_evidence * self.stages.affordance[ctx.stage], 0.0
        )
        self.good[:, acting] = good
        self.bad[:, acting] = bad

    def update_satisfaction(self, u: np.ndarray, t: int) -> None:
        ctx, st, sat, acting = self.ctx, self.stages, self.scenario.satisfaction, self.ctx.acting
        k = ctx.stage
        outcome = np.where(ctx.success, 1.0, np.where(ctx.caught, sat.caught_outcome, 0.0))
        experience = rules.stage_experience(
            outcome,
            ctx.trust,
            ctx.risk,
            np.where(ctx.action == VERIFY, ctx.effort, 0.0),
            self.control_need[acting],
            st.pressure[k],
            self.propensity[acting],
            st.forced[k],
            np.where(ctx.incident, st.stake[k], 0.0),
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
        current = self.satisfaction[acting]
        experience = np.where(ctx.action == ABANDON, current, experience)
        self.satisfaction[acting] = rules.update_satisfaction(current, experience, sat.smoothing)

    def advance_journeys(self, u: np.ndarray, t: int) -> None:
        """Move on, close, finish, walk away or collapse; count what happened per stage."""
        ctx, st, acting = self.ctx, self.stages, self.ctx.acting
        k, action, n = ctx.stage, ctx.action, st.count
        self.choices_at += np.bincount(k, minlength=n)
        self.delegations_at += np.bincount(k[action == DELEGATE], minlength=n)
        self.verifications_at += np.bincount(k[action == VERIFY], minlength=n)
        self.abandoned_at += np.bincount(k[action == ABANDON], minlength=n)
        self.delegations[acting] += action == DELEGATE
        self.verifications[acting] += action == VERIFY
        self.incidents[acting] += ctx.incident
        self.caught_total += int(np.count_nonzero(ctx.caught))

        leaving = (action == ABANDON) | ctx.collapsed
        was_post = self.status[acting] == POST_PURCHASE
        completed = ctx.completed & ~leaving
        next_stage = k + completed
        closes = completed & (k == st.closing)
        finishes = completed & (next_stage >= n)

        status = self.status[acting]
        status = np.where(closes, POST_PURCHASE, status)
        status = np.where(finishes, FINISHED, status)
        status = np.where(leaving, np.where(was_post, FINISHED, ABANDONED), status)
        self.status[acting] = status
        self.churned[acting[leaving & was_post]] = True
        self.closed[acting[closes]] = t
        self.stage[acting] = np.minimum(next_stage, n - 1)
        self.waited[acting] = np.where(completed, 0, self.waited[acting] + 1)

    def choice_record(self, t: int) -> dict[str, np.ndarray]:
        """This step's choices and outcomes, one entry per acting buyer (for logs and traces)."""
        ctx, acting = self.ctx, self.ctx.acting
        outcome = np.full(len(acting), OUTCOME_NONE, dtype=np.int8)
        outcome[ctx.success] = OUTCOME_SUCCESS
        outcome[ctx.caught] = OUTCOME_CAUGHT
        outcome[ctx.incident] = OUTCOME_INCIDENT
        outcome[ctx.collapsed] = OUTCOME_COLLAPSE
        per_layer = rules.expected_trust(
            self.good[:, acting],
            self.bad[:, acting],
            self.base_rate[:, acting],
            self.scenario.trust.prior_weight,
        )
        record = {
            "step": np.full(len(acting), t, dtype=np.int32),
            "buyer": acting.astype(np.int64),
            "stage": ctx.stage.astype(np.int16),
            "stake": self.stages.stake[ctx.stage],
            "trust": ctx.trust,
            "perceived_risk": ctx.risk,
            "p_delegate": ctx.p_delegate,
            "p_verify": ctx.p_verify,
            "action": ctx.action.astype(np.int8),
            "outcome": outcome,
            "satisfaction": self.satisfaction[acting],
            "reactance": self.reactance[acting],
            "status": self.status[acting],
        }
        for layer, name in enumerate(LAYERS):
            record[f"trust_{name}"] = per_layer[layer]
        return record

    def repeat_purchases(self, u: np.ndarray, t: int) -> None:
        rp = self.scenario.repeat
        if rp.rate == 0.0:
            return
        loyal = np.flatnonzero((self.status == FINISHED) & ~self.churned)
        chance = rules.repeat_chance(self.satisfaction[loyal], rp.rate, rp.threshold)
        self.repeats[loyal] += u[REPEAT, loyal] < chance

    def arrive_leads(
        self, u: np.ndarray, t: int, hazard: float, outside: float, base_rates: np.ndarray
    ) -> np.ndarray:
        """Potential buyers become leads with the market's hazard; they act from next step."""
        potential = np.flatnonzero(self.status == POTENTIAL)
        draws = u[ARRIVAL, potential]
        new = potential[draws < hazard]
        self.status[new] = ACTIVE
        self.arrived[new] = t
        self.from_word_of_mouth[new] = u[ARRIVAL, new] >= outside
        self.base_rate[:, new] = base_rates[:, None]
        self.satisfaction[new] = self.scenario.satisfaction.initial
        return new

    # ------------------------------------------------------------------ tallies
    def word_of_mouth(self) -> tuple[int, int]:
        """Promoters among finished customers; detractors among finished and abandoned buyers.

        Only a customer who went through the journey recommends it; anyone who left
        unhappy, customer or not, warns others.
        """
        mk = self.scenario.market
        finished = self.status == FINISHED
        gone = finished | (self.status == ABANDONED)
        s = self.satisfaction
        promoters = int(np.count_nonzero(finished & (s >= mk.promoter_threshold)))
        detractors = int(np.count_nonzero(gone & (s <= mk.detractor_threshold)))
        return promoters, detractors

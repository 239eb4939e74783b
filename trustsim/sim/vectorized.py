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
from trustsim.sim.tally import BuyerValues, Tally

POTENTIAL, ACTIVE, POST_PURCHASE, FINISHED, ABANDONED = range(5)
STATUSES = ("potential", "active", "post_purchase", "finished", "abandoned")

# Rows of the per-step uniform draws. Row 0 serves three disjoint groups (active buyers
# choose, potential buyers arrive, finished customers buy again), so one draw per slot.
CHOICE = ARRIVAL = REPEAT = 0
SERVICE, DETECTION, COLLAPSE, DELAY = 1, 2, 3, 4
UNIFORM_ROWS = 5
# Draws are read as `u[ROW][index]`: a row view, then a 1-D gather, about twice as fast as
# numpy's mixed indexing `u[ROW, index]`.

# Outcome of a step for the choice log.
OUTCOME_NONE, OUTCOME_SUCCESS, OUTCOME_CAUGHT, OUTCOME_INCIDENT, OUTCOME_COLLAPSE = range(5)
OUTCOMES = ("walked away", "success", "error caught", "incident", "deal collapsed")


# Buyers per block. Sub-steps work block by block so that a block's inputs and
# temporaries stay in the CPU cache instead of streaming arrays of the whole market
# through memory once per operation; blocks change no value (rules are elementwise).
BLOCK = 16_384


@dataclass(slots=True)
class StepContext:
    """What one step's sub-steps hand to each other (arrays over the acting buyers)."""

    acting: np.ndarray  # buyer indices, ascending
    stage: np.ndarray
    trust: np.ndarray
    risk: np.ndarray
    detect: np.ndarray
    effort: np.ndarray
    p_delegate: np.ndarray
    p_verify: np.ndarray
    action: np.ndarray
    success: np.ndarray
    caught: np.ndarray
    incident: np.ndarray
    collapsed: np.ndarray
    completed: np.ndarray

    @classmethod
    def empty(cls, acting: np.ndarray, stage: np.ndarray) -> StepContext:
        n = len(acting)
        floats = {name: np.empty(n) for name in ("trust", "risk", "detect", "effort")}
        flags = {
            name: np.empty(n, dtype=bool)
            for name in ("success", "caught", "incident", "collapsed", "completed")
        }
        return cls(
            acting, stage, **floats, p_delegate=np.empty(n), p_verify=np.empty(n),
            action=np.empty(n, dtype=np.int8), **flags,
        )  # fmt: skip

    def blocks(self):
        """(slice into the context, buyer indices, their stages) per block of buyers.

        Stages come as intp: indexing the stage tables with intp is faster than with the
        int16 they are stored in.
        """
        for start in range(0, len(self.acting), BLOCK):
            part = slice(start, start + BLOCK)
            yield part, self.acting[part], self.stage[part].astype(np.intp)


def layer_columns(per_layer: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Columns `index` of a (3, n) per-layer array, as a C-ordered (3, len(index)) array.

    `np.take` along the axis is several times faster than `per_layer[:, index]`, whose
    result is also F-ordered, which slows every operation on it.
    """
    return np.take(per_layer, index, axis=1)


def set_layer_columns(per_layer: np.ndarray, index: np.ndarray, values: np.ndarray) -> None:
    """per_layer[:, index] = values, one layer at a time (faster than the 2-D scatter)."""
    for layer in range(per_layer.shape[0]):
        per_layer[layer, index] = values[layer]


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
        mk = scenario.market
        self.tally = Tally(n, mk.promoter_threshold, mk.detractor_threshold)
        # Buyers active (or after purchase) after the last step, ascending: they act next.
        self.active = np.empty(0, dtype=np.intp)

    # ----------------------------------------------------------------- sub-steps
    def feel_pressure(self, u: np.ndarray, t: int) -> None:
        """Every active buyer faces the stage: its pressure and forcing build reactance.

        Reactance is updated before the choice, so aggressive pressure can backfire at the
        very step it pushes (a refinement of MODEL.md's order, see docs/ODD.md).
        """
        # Drop the last step's context first, so two are never alive at once (peak memory).
        self.ctx = None
        acting = self.active
        self.ctx = StepContext.empty(acting, self.stage[acting])
        st = self.stages
        for _, idx, k in self.ctx.blocks():
            self.reactance[idx] = rules.accumulate_reactance(
                self.reactance[idx],
                self.propensity[idx],
                st.pressure[k],
                st.forced[k],
                self.control_need[idx],
                self.scenario.reactance.decay,
                self.scenario.reactance.forced_weight,
            )

    def decide(self, u: np.ndarray, t: int) -> None:
        """Perceived risk, utilities and a logit choice for every active buyer."""
        for part, idx, k in self.ctx.blocks():
            self._decide_block(u, part, idx, k)

    def _decide_block(self, u: np.ndarray, part: slice, idx: np.ndarray, k: np.ndarray):
        p = self.scenario
        st = self.stages
        w = layer_columns(st.weights, k)
        prior = p.trust.prior_weight
        good, bad = layer_columns(self.good, idx), layer_columns(self.bad, idx)
        trust = rules.stage_weighted(
            rules.expected_trust(good, bad, layer_columns(self.base_rate, idx), prior), w
        )
        uncert = rules.stage_weighted(rules.uncertainty(good, bad, prior), w)
        stake, affordance = st.stake[k], st.affordance[k]
        c, ch = self.control_need[idx], p.choice
        risk = rules.perceived_risk(
            stake,
            self.risk_aversion[idx],
            trust,
            uncert,
            affordance,
            ch.uncertainty_weight,
            ch.structural_assurance,
        )
        skill = self.skill[idx]
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
            self.reactance[idx],
            st.pressure[k],
            self.waited[idx],
            self.patience[idx],
            st.competition[k],
            ch.exit_bias,
            ch.reactance_weight,
            ch.pressure_push,
            ch.impatience,
        )
        p_del, p_ver = rules.choice_probabilities(
            v_del, v_ver, v_out, st.can_delegate[k], st.can_verify[k], ch.temperature
        )
        ctx = self.ctx
        ctx.action[part] = rules.choose_action(p_del, p_ver, u[CHOICE][idx])
        ctx.trust[part], ctx.risk[part], ctx.detect[part], ctx.effort[part] = (
            trust, risk, detect, effort,
        )  # fmt: skip
        ctx.p_delegate[part], ctx.p_verify[part] = p_del, p_ver

    def resolve_outcomes(self, u: np.ndarray, t: int) -> None:
        """The service does the step right or not; checks catch some errors."""
        ctx, st, out = self.ctx, self.stages, self.scenario.outcomes
        for part, idx, k in ctx.blocks():
            action = ctx.action[part]
            took_part = action != ABANDON
            verified = action == VERIFY
            success = took_part & (u[SERVICE][idx] < st.reliability[k])
            failed = took_part & ~success
            caught = failed & verified & (u[DETECTION][idx] < ctx.detect[part])
            incident = failed & ~caught
            collapse = rules.collapse_chance(st.stake[k], out.collapse)
            ctx.collapsed[part] = incident & (u[COLLAPSE][idx] < collapse)
            spills_over = verified & (
                u[DELAY][idx] < out.verification_delay * (1.0 - st.affordance[k])
            )
            ctx.completed[part] = (success | caught) & ~spills_over
            ctx.success[part], ctx.caught[part], ctx.incident[part] = success, caught, incident

    def update_trust(self, u: np.ndarray, t: int) -> None:
        """Evidence forgets toward the prior, then this step's evidence is added by layer."""
        ctx, tr = self.ctx, self.scenario.trust
        for part, idx, k in ctx.blocks():
            w = layer_columns(self.stages.weights, k)
            success, caught = ctx.success[part], ctx.caught[part]
            verified = ctx.action[part] == VERIFY
            good_amount = np.where(
                success, np.where(verified, tr.verified_evidence, tr.success_evidence), 0.0
            )
            bad_amount = np.where(ctx.incident[part], tr.failure_evidence, 0.0) + np.where(
                caught, tr.failure_evidence * tr.caught_failure_scale, 0.0
            )
            good = rules.add_evidence(
                rules.forget(layer_columns(self.good, idx), tr.forgetting), good_amount, w
            )
            bad = rules.add_evidence(
                rules.forget(layer_columns(self.bad, idx), tr.forgetting), bad_amount, w
            )
            # A caught error is also evidence that the platform works: it let the buyer
            # catch it.
            good[0] += np.where(caught, tr.success_evidence * self.stages.affordance[k], 0.0)
            set_layer_columns(self.good, idx, good)
            set_layer_columns(self.bad, idx, bad)

    def update_satisfaction(self, u: np.ndarray, t: int) -> None:
        """Each step's experience against expectation enters the running satisfaction."""
        for part, idx, k in self.ctx.blocks():
            self._satisfaction_block(part, idx, k)

    def _satisfaction_block(self, part: slice, idx: np.ndarray, k: np.ndarray) -> None:
        ctx, st, sat = self.ctx, self.stages, self.scenario.satisfaction
        success, caught, action = ctx.success[part], ctx.caught[part], ctx.action[part]
        outcome = np.where(success, 1.0, np.where(caught, sat.caught_outcome, 0.0))
        experience = rules.stage_experience(
            outcome,
            ctx.trust[part],
            ctx.risk[part],
            np.where(action == VERIFY, ctx.effort[part], 0.0),
            self.control_need[idx],
            st.pressure[k],
            self.propensity[idx],
            st.forced[k],
            np.where(ctx.incident[part], st.stake[k], 0.0),
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
        current = self.satisfaction[idx]
        experience = np.where(action == ABANDON, current, experience)
        self.satisfaction[idx] = rules.update_satisfaction(current, experience, sat.smoothing)

    def advance_journeys(self, u: np.ndarray, t: int) -> None:
        """Move on, close, finish, walk away or collapse; count what happened per stage."""
        ctx, n = self.ctx, self.stages.count
        action, k = ctx.action, ctx.stage
        self.choices_at += np.bincount(k, minlength=n)
        self.delegations_at += np.bincount(k[action == DELEGATE], minlength=n)
        self.verifications_at += np.bincount(k[action == VERIFY], minlength=n)
        self.abandoned_at += np.bincount(k[action == ABANDON], minlength=n)
        self.caught_total += int(np.count_nonzero(ctx.caught))
        self.tally.incidents += int(np.count_nonzero(ctx.incident))
        for part, idx, k in ctx.blocks():
            self._advance_block(t, part, idx, k)
        self._settle_leavers(ctx.acting)

    def _settle_leavers(self, acting: np.ndarray) -> None:
        """Buyers who finished or walked away this step leave `active` for the tally."""
        gone = self.status[acting] >= FINISHED
        if not gone.any():
            return
        self.take(acting[gone]).settle_into(self.tally, FINISHED)
        self.active = acting[~gone]

    def _advance_block(self, t: int, part: slice, idx: np.ndarray, k: np.ndarray) -> None:
        ctx, n, closing = self.ctx, self.stages.count, self.stages.closing
        action = ctx.action[part]
        self.delegations[idx] += action == DELEGATE
        self.verifications[idx] += action == VERIFY
        self.incidents[idx] += ctx.incident[part]

        leaving = (action == ABANDON) | ctx.collapsed[part]
        status = self.status[idx]
        was_post = status == POST_PURCHASE
        completed = ctx.completed[part] & ~leaving
        next_stage = k + completed
        closes = completed & (k == closing)
        finishes = completed & (next_stage >= n)

        status = np.where(closes, POST_PURCHASE, status)
        status = np.where(finishes, FINISHED, status)
        status = np.where(leaving, np.where(was_post, FINISHED, ABANDONED), status)
        self.status[idx] = status
        churns, closers = idx[leaving & was_post], idx[closes]
        self.churned[churns] = True
        self.closed[closers] = t
        self.tally.churned += len(churns)
        self.tally.closed += len(closers)
        self.tally.close_time += int((t - self.arrived[closers]).sum())
        self.stage[idx] = np.minimum(next_stage, n - 1)
        self.waited[idx] = np.where(completed, 0, self.waited[idx] + 1)

    def choice_record(self, t: int) -> dict[str, np.ndarray]:
        """This step's choices and outcomes, one entry per acting buyer (for logs and traces)."""
        ctx, acting = self.ctx, self.ctx.acting
        outcome = np.full(len(acting), OUTCOME_NONE, dtype=np.int8)
        outcome[ctx.success] = OUTCOME_SUCCESS
        outcome[ctx.caught] = OUTCOME_CAUGHT
        outcome[ctx.incident] = OUTCOME_INCIDENT
        outcome[ctx.collapsed] = OUTCOME_COLLAPSE
        per_layer = rules.expected_trust(
            layer_columns(self.good, acting),
            layer_columns(self.bad, acting),
            layer_columns(self.base_rate, acting),
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
        again = u[REPEAT][loyal] < chance
        self.repeats[loyal] += again
        self.tally.repeats += int(np.count_nonzero(again))

    def arrive_leads(
        self, u: np.ndarray, t: int, hazard: float, outside: float, base_rates: np.ndarray
    ) -> np.ndarray:
        """Potential buyers become leads with the market's hazard; they act from next step."""
        potential = np.flatnonzero(self.status == POTENTIAL)
        draws = u[ARRIVAL][potential]
        new = potential[draws < hazard]
        self.status[new] = ACTIVE
        self.arrived[new] = t
        self.from_word_of_mouth[new] = u[ARRIVAL][new] >= outside
        self.base_rate[:, new] = base_rates[:, None]
        self.satisfaction[new] = self.scenario.satisfaction.initial
        self.tally.arrive(len(new), np.count_nonzero(self.from_word_of_mouth[new]))
        if len(new):
            # Disjoint from the active buyers (they were potential); keep buyer order.
            self.active = np.sort(np.concatenate((self.active, new)))
        return new

    def take(self, index: np.ndarray) -> BuyerValues:
        """The state of buyers `index` as arrays (what the measures and the tally read).

        When `index` is every buyer (all active), the arrays themselves: a gather would
        copy the same numbers in the same order.
        """
        prior, everyone = self.scenario.trust.prior_weight, len(index) == self.size

        def trust_sum(layer: int) -> float:
            # One layer at a time, summed at once, keeps the temporaries small (peak memory).
            per_layer = (self.good[layer], self.bad[layer], self.base_rate[layer])
            if not everyone:
                per_layer = tuple(row[index] for row in per_layer)
            return float(rules.expected_trust(*per_layer, prior).sum())

        trust = (trust_sum(0), trust_sum(1), trust_sum(2))
        if everyone:
            return BuyerValues(self.status, self.stage, self.satisfaction, self.reactance, trust)
        return BuyerValues(
            self.status[index], self.stage[index], self.satisfaction[index],
            self.reactance[index], trust,
        )  # fmt: skip

    # ------------------------------------------------------------------ tallies
    def word_of_mouth(self) -> tuple[int, int]:
        """Promoters among finished customers; detractors among finished and abandoned buyers.

        Only a customer who went through the journey recommends it; anyone who left
        unhappy, customer or not, warns others.
        """
        return self.tally.promoters, self.tally.detractors

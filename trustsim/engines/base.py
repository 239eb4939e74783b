"""What every engine does the same way; a subclass says how buyers are stored and visited.

A subclass provides `store(traits)` (build the buyer columns), `gather(name, index,
layer)` (values of some buyers as an array), `begin_step(t)` (fix who acts this step:
the active buyers whose stage visit ends, `steps.visit_ends`),
`each_acting(step, u, t)` (run one sub-step over the acting buyers), `apply(function,
index, u, *args)` (run a function of buyers `index`) and `step_record()` (this step's
record over the acting buyers as arrays); `end_acting()` if the acting buyers' values
must be written back once their sub-steps are done.
"""

from __future__ import annotations

import numpy as np

from trustsim.model import rules, steps
from trustsim.model.codes import FINISHED
from trustsim.model.stages import StageTable, draw_traits, numbers
from trustsim.model.state import BUYER_STATE
from trustsim.model.tally import BuyerValues, Tally, settle
from trustsim.scenarios.schema import LAYERS, Scenario
from trustsim.trace_columns import RECORDED

_COLUMNS = {column.name for column in BUYER_STATE}


class Engine:
    """Buyers of one model run through the schedule of `trustsim.model.steps`.

    Attributes:
        stages, numbers: the scenario's per-stage table and rule numbers.
        size: potential buyers in the market.
        segment: each buyer's segment index.
        tally: the running totals the measures read.
        active: buyers active or after purchase, ascending (in the journey).
        acting: the active buyers acting in the current step (their visit ends in it).
    Every buyer column of `trustsim.model.state.BUYER_STATE` reads as an attribute over
    all buyers (`engine.status`).
    """

    def __init__(self, scenario: Scenario, stages: StageTable, rng: np.random.Generator):
        self.stages = stages
        self.numbers = numbers(scenario)
        self.size = scenario.market.size
        mk = scenario.market
        self.tally = Tally(stages.count, mk.promoter_threshold, mk.detractor_threshold)
        # What a new lead's base rates start from: the scenario's, and the offer's affordance.
        self.base_rate = np.array(scenario.trust.base_rate, dtype=np.float64)
        self.mean_affordance = float(stages.affordance.mean())
        # Word of mouth: (p, q, kept) per step, and who is talking (`steps.lead_flow`).
        self.rates = scenario.word_of_mouth_per_step()
        self.talk = np.zeros(4)
        self.segment, traits = draw_traits(scenario, self.size, rng)
        self.active = np.empty(0, dtype=np.intp)
        self.acting = self.active
        self.store(traits)

    def __getattr__(self, name: str):
        if name in _COLUMNS:
            return self.gather(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def end_acting(self) -> None:
        """The acting buyers' sub-steps are done (their columns are already written)."""

    # ---------------------------------------------------------------- schedule
    def repeat_purchases(self, u: np.ndarray, t: int) -> None:
        if self.numbers.repeat.rate == 0.0:
            return  # nobody buys again: skip the scan of the market
        loyal = np.flatnonzero(steps.may_buy_again(self.gather("status"), self.gather("churned")))
        self.apply(steps.repeat_purchases, loyal, u, self.numbers, self.tally)

    def feel_pressure(self, u: np.ndarray, t: int) -> None:
        self.begin_step(t)
        self.each_acting(steps.feel_pressure, u, t)

    def decide(self, u: np.ndarray, t: int) -> None:
        self.each_acting(steps.decide, u, t)

    def resolve_outcomes(self, u: np.ndarray, t: int) -> None:
        self.each_acting(steps.resolve_outcomes, u, t)

    def update_trust(self, u: np.ndarray, t: int) -> None:
        self.each_acting(steps.update_trust, u, t)

    def update_satisfaction(self, u: np.ndarray, t: int) -> None:
        self.each_acting(steps.update_satisfaction, u, t)

    def advance_journeys(self, u: np.ndarray, t: int) -> None:
        self.each_acting(steps.advance_journeys, u, t)
        self.end_acting()
        self.settle_leavers()

    def arrive_leads(self, u: np.ndarray, t: int, recorded=None, spared=None) -> np.ndarray:
        """Potential buyers become leads with the market's hazard (they act from next step),
        or, given another run's `recorded` new leads of this step, those arrive instead;
        detractors deter some of the others, not the other run's later leads (`spared`)."""
        promoters, detractors = self.word_of_mouth()
        hazard, deterred_below, base_rates = steps.lead_flow(
            self.talk, promoters, detractors, self.size, self.base_rate,
            self.mean_affordance, self.rates, self.numbers,
        )  # fmt: skip
        potential = np.flatnonzero(steps.may_arrive(self.gather("status")))
        if recorded is None:
            arriving = steps.arrive(potential, u, hazard, self.tally)
        else:
            arriving = steps.arrive_as_recorded(potential, recorded, u, self.tally)
        new = potential[arriving]
        kept = arriving if spared is None else arriving | np.isin(potential, spared)
        if deterred_below > hazard:
            self.apply(steps.deter, potential[~kept], u, hazard, deterred_below, self.tally)
        outside = self.rates[0]
        self.apply(steps.become_leads, new, u, t, outside, base_rates, self.numbers, self.tally)
        if len(new):
            # Disjoint from the active buyers (they were potential); keep buyer order.
            self.active = np.sort(np.concatenate((self.active, new)))
        return new

    def step(self, u: np.ndarray, t: int, recorded=None, spared=None) -> np.ndarray:
        """One step: the schedule (`STEP_ORDER`), then the arrival of new leads (another
        run's `recorded` ones, sparing its later ones from deterrence, if given).

        Returns:
            the buyers who became leads.
        """
        for name in steps.STEP_ORDER:
            getattr(self, name)(u, t)
        return self.arrive_leads(u, t, recorded, spared)

    # --------------------------------------------------------- what is read
    def settle_leavers(self) -> None:
        """Buyers who finished or walked away this step leave `active` for the tally."""
        gone = self.gather("status", self.acting) >= FINISHED
        if gone.any():
            left = self.take(self.acting[gone])
            settle(
                self.tally, left.status == FINISHED, left.satisfaction, left.reactance,
                left.trust_sum, left.stage,
            )  # fmt: skip
            if self.acting is self.active:  # every visit ended (the common case): no gather
                self.active = self.acting[~gone]
            else:  # only acting buyers can have left; the others are mid-visit
                self.active = self.active[self.gather("status", self.active) < FINISHED]

    def take(self, index: np.ndarray) -> BuyerValues:
        """The state of buyers `index` as arrays (what the measures and the tally read)."""
        index = None if len(index) == self.size else index  # everyone: no gather
        # Trust first, one layer at a time, before the other gathers are alive (peak memory).
        trust = tuple(float(self.layer_trust(index, layer).sum()) for layer in range(3))
        return BuyerValues(
            self.gather("status", index), self.gather("stage", index),
            self.gather("satisfaction", index), self.gather("reactance", index), trust,
        )  # fmt: skip

    def layer_trust(self, index: np.ndarray | None, layer: int) -> np.ndarray:
        """T_l = expected_trust(r_l, s_l, a_l, W) of buyers `index` (all: None) in `layer`."""
        good, bad, base = (self.gather(n, index, layer) for n in ("good", "bad", "base_rate"))
        return rules.expected_trust(good, bad, base, self.numbers.trust.prior_weight)

    def word_of_mouth(self) -> tuple[int, int]:
        """Promoters among finished customers; detractors among finished and abandoned buyers.

        Only a customer who went through the journey recommends it; anyone who left
        unhappy, customer or not, warns others.
        """
        return self.tally.promoters, self.tally.detractors

    def choice_record(self, t: int) -> dict[str, np.ndarray]:
        """This step's choices and outcomes, one entry per acting buyer (for logs and traces).

        Returns:
            The columns `trustsim.trace_columns.RECORDED`, in that order.
        """
        acting, record = self.acting, self.step_record()
        outcome = steps.outcome_code(
            record.success, record.caught, record.incident, record.collapsed
        )
        columns = {
            "step": np.full(len(acting), t, dtype=np.int32),
            "buyer": acting.astype(np.int64),
            "stage": record.stage,
            "stake": self.stages.stake[record.stage],
            "trust": record.trust,
            "perceived_risk": record.risk,
            "p_delegate": record.p_delegate,
            "p_verify": record.p_verify,
            "action": record.action,
            "outcome": np.asarray(outcome, dtype=np.int8),
            "moved_on": record.completed,
            "satisfaction": self.gather("satisfaction", acting),
            "reactance": self.gather("reactance", acting),
            "status": self.gather("status", acting),
        }
        for layer, name in enumerate(LAYERS):
            columns[f"trust_{name}"] = self.layer_trust(acting, layer)
        return {name: columns[name] for name in RECORDED}

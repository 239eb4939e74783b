"""The service and the market as plain objects, for the per-agent engine.

The array engine keeps the same information in arrays (`trustsim.sim.vectorized`); here a
`Buyer` reads the offer of its current stage from `Service` and reports what it did back
to it, so the per-stage usage tallies the measures read live in one place.
"""

from __future__ import annotations

import numpy as np

from trustsim.scenarios.schema import Scenario
from trustsim.sim.params import StageTable
from trustsim.sim.tally import Tally


class Service:
    """The company's offer along the journey and what buyers did at each stage.

    Attributes:
        scenario: the rule parameters (choice, trust, outcomes, reactance, satisfaction).
        stages: the per-stage offer (stake, reliability, layer weights, features, pressure).
        choices_at, delegations_at, verifications_at, abandoned_at: actions per stage.
        caught_total: errors caught by buyers who checked.
        tally: running totals the measures read (closes, incidents, repeats, leavers).
        leavers: buyers who left the pipeline and are not yet in the tally's frozen sums.

    Example:
        >>> from trustsim.scenarios import load_scenario
        >>> scenario = load_scenario("real-estate")
        >>> service = Service(scenario, StageTable.from_scenario(scenario))
        >>> int(service.choices_at.sum())
        0
    """

    def __init__(self, scenario: Scenario, stages: StageTable):
        self.scenario = scenario
        self.stages = stages
        n = stages.count
        self.choices_at = np.zeros(n, dtype=np.int64)
        self.delegations_at = np.zeros(n, dtype=np.int64)
        self.verifications_at = np.zeros(n, dtype=np.int64)
        self.abandoned_at = np.zeros(n, dtype=np.int64)
        self.caught_total = 0
        mk = scenario.market
        self.tally = Tally(n, mk.promoter_threshold, mk.detractor_threshold)
        self.leavers: list = []

    def record(self, stage: int, action: int, caught: bool, incident: bool) -> None:
        """Count one buyer's action at a stage (feature usage per stage) and its outcome."""
        from trustsim.agents.rules import ABANDON, DELEGATE, VERIFY

        self.choices_at[stage] += 1
        self.delegations_at[stage] += action == DELEGATE
        self.verifications_at[stage] += action == VERIFY
        self.abandoned_at[stage] += action == ABANDON
        self.caught_total += int(caught)
        self.tally.incidents += int(incident)

    def record_close(self, steps_to_close: int) -> None:
        """A buyer closed the deal `steps_to_close` steps after becoming a lead."""
        self.tally.closed += 1
        self.tally.close_time += int(steps_to_close)

    def record_leaving(self, buyer, churned: bool) -> None:
        """A buyer left the pipeline (finished or walked away); settled with its step's peers."""
        self.leavers.append(buyer)
        self.tally.churned += int(churned)


class Market:
    """The pool of potential buyers and the word of mouth of those who left the pipeline.

    Example:
        >>> market = Market(buyers=[])
        >>> market.word_of_mouth(promoter_threshold=0.8, detractor_threshold=0.6)
        (0, 0)
    """

    def __init__(self, buyers: list):
        self.buyers = buyers

    def word_of_mouth(self, promoter_threshold: float, detractor_threshold: float):
        """Promoters among finished customers; detractors among finished and abandoned."""
        promoters = sum(b.is_promoter(promoter_threshold) for b in self.buyers)
        detractors = sum(b.is_detractor(detractor_threshold) for b in self.buyers)
        return int(promoters), int(detractors)

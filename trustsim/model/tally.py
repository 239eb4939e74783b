"""Running totals kept as buyers move, so a step's measures cost O(active buyers).

A buyer who left the pipeline (finished or abandoned) never acts again: forgetting,
pressure and experiences apply only to acting buyers, so their trust, satisfaction,
reactance and stage are frozen. Their contributions are added here once, when they
leave, and a mean over leads is (frozen sum + sum over active buyers) / leads.

The sub-steps (`trustsim.model.steps`) add to the counters (`counts`, `actions_at`) as
things happen, in every engine; the compiled engine hands numba the two arrays. Every
engine calls `settle` with the buyers who left in a step as arrays in ascending buyer
order, so the floating-point sums are computed in the same order by every engine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustsim.model.codes import ABANDON, DELEGATE, VERIFY

# Slots of `Tally.counts`, each also an attribute of the tally (`tally.closed`).
COUNTERS = (
    "leads",
    "wom_leads",
    "closed",
    "close_time",
    "repeats",
    "incidents",
    "caught",
    "churned",
    "deterred",
)
LEADS, WOM_LEADS, CLOSED, CLOSE_TIME, REPEATS, INCIDENTS, CAUGHT, CHURNED, DETERRED = range(9)


def _counter(slot: int) -> property:
    return property(lambda self: int(self.counts[slot]), doc=f"`{COUNTERS[slot]}` so far.")


class Tally:
    """Counters and frozen sums over buyers.

    Attributes (counts): leads, wom_leads, closed, close_time (sum of closing step -
    arrival step over customers), repeats, incidents, caught (errors caught by a check),
    churned, deterred (in `counts`); actions_at (per action and stage: buyers who took it there);
    finished, abandoned, promoters (finished, satisfaction >= promoter threshold),
    finished_detractors and detractors (finished or abandoned, satisfaction <= detractor
    threshold), left_at (per stage: buyers who left the pipeline there).
    Frozen sums over buyers who left: trust (per layer), satisfaction (all who left, and
    finished customers only), reactance.
    """

    def __init__(self, stage_count: int, promoter_threshold: float, detractor_threshold: float):
        self.promoter_threshold = promoter_threshold
        self.detractor_threshold = detractor_threshold
        self.counts = np.zeros(len(COUNTERS), dtype=np.int64)
        self.actions_at = np.zeros((3, stage_count), dtype=np.int64)
        self.finished = self.abandoned = 0
        self.promoters = self.finished_detractors = self.detractors = 0
        self.left_at = np.zeros(stage_count, dtype=np.int64)
        self.trust = [0.0, 0.0, 0.0]
        self.satisfaction = 0.0
        self.finished_satisfaction = 0.0
        self.reactance = 0.0

    leads, wom_leads, closed, close_time, repeats, incidents, caught, churned, deterred = (
        _counter(slot) for slot in range(len(COUNTERS))
    )

    @property
    def choices_at(self) -> np.ndarray:
        """Choices made per stage."""
        return self.actions_at.sum(axis=0)

    @property
    def delegations_at(self) -> np.ndarray:
        return self.actions_at[DELEGATE]

    @property
    def verifications_at(self) -> np.ndarray:
        return self.actions_at[VERIFY]

    @property
    def abandoned_at(self) -> np.ndarray:
        return self.actions_at[ABANDON]

    def settle(self, finished, satisfaction, reactance, trust_sum, stage):
        """Buyers who left the pipeline this step, with their final values (ascending order).

        `finished` flags customers who finished (the others abandoned); `trust_sum` is the
        sum of their expected trust per layer. Adds trust, satisfaction and reactance to
        the frozen sums and counts promoters and detractors among them.
        """
        if len(satisfaction) == 0:
            return
        n_finished = int(np.count_nonzero(finished))
        self.finished += n_finished
        self.abandoned += len(satisfaction) - n_finished
        promoter = satisfaction >= self.promoter_threshold
        detractor = satisfaction <= self.detractor_threshold
        self.promoters += int(np.count_nonzero(finished & promoter))
        self.finished_detractors += int(np.count_nonzero(finished & detractor))
        self.detractors += int(np.count_nonzero(detractor))
        self.left_at += np.bincount(stage, minlength=len(self.left_at))
        for layer in range(3):
            self.trust[layer] += trust_sum[layer]
        self.satisfaction += float(satisfaction.sum())
        self.finished_satisfaction += float(satisfaction[finished].sum())
        self.reactance += float(reactance.sum())


@dataclass(frozen=True, slots=True)
class BuyerValues:
    """Some buyers' state as arrays in the buyer table's dtypes (`engine.take(index)`)."""

    status: np.ndarray  # int8
    stage: np.ndarray  # int16
    satisfaction: np.ndarray
    reactance: np.ndarray
    # Per layer, the sum over these buyers of T_l = expected_trust(r_l, s_l, a_l, W),
    # summed by numpy over a float64 array in buyer order (the same in every engine).
    trust_sum: tuple[float, float, float]

    def settle_into(self, tally: Tally, finished_code: int) -> None:
        """Add these buyers, who just left the pipeline, to `tally`'s frozen sums."""
        tally.settle(
            self.status == finished_code, self.satisfaction, self.reactance,
            self.trust_sum, self.stage,
        )  # fmt: skip

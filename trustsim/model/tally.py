"""Running totals kept as buyers move, so a step's measures cost O(active buyers).

A buyer who left the pipeline (finished or abandoned) never acts again: forgetting,
pressure and experiences apply only to acting buyers, so their trust, satisfaction,
reactance and stage are frozen. Their contributions are added here once, when they
leave, and a mean over leads is (frozen sum + sum over active buyers) / leads.

Every total lives in an array (`counts`, `actions_at`, `left_at`, `sums`), so the compiled
engine hands numba the same arrays the sub-steps and `settle` write in every engine.
Every engine settles the buyers who left in a step as arrays in ascending buyer order,
and `total` sums them in numpy's order, so every floating-point sum is the same.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from trustsim.model.rules import total

# Slots of `Tally.counts`, each also an attribute of the tally (`tally.closed`).
COUNTERS = (
    "leads", "wom_leads", "closed", "close_time", "repeats", "incidents", "caught", "churned",
    "deterred", "finished", "abandoned", "promoters", "finished_detractors", "detractors",
)  # fmt: skip
(
    LEADS, WOM_LEADS, CLOSED, CLOSE_TIME, REPEATS, INCIDENTS, CAUGHT, CHURNED, DETERRED,
    FINISHED_COUNT, ABANDONED_COUNT, PROMOTERS, FINISHED_DETRACTORS, DETRACTORS,
) = range(len(COUNTERS))  # fmt: skip
# Slots of `Tally.sums`: frozen sums over buyers who left (trust per layer first).
SUMS = ("trust_0", "trust_1", "trust_2", "satisfaction", "finished_satisfaction", "reactance")
TRUST, SATISFACTION, FINISHED_SATISFACTION, REACTANCE = 0, 3, 4, 5


class Tally:
    """Counters and frozen sums over buyers.

    Attributes (counts): leads, wom_leads, closed, close_time (sum of closing step -
    arrival step over customers), repeats, incidents, caught (errors caught by a check),
    churned, deterred (potential buyers kept away by detractors), finished, abandoned,
    promoters (finished, satisfaction >= promoter threshold), finished_detractors and
    detractors (finished or abandoned, satisfaction <= detractor threshold) (in `counts`);
    actions_at (per action and stage: buyers who took it there); left_at (per stage:
    buyers who left the pipeline there).
    Frozen sums over buyers who left (in `sums`): trust (per layer), satisfaction (all
    who left, and finished customers only), reactance.
    """

    def __init__(self, stage_count: int, promoter_threshold: float, detractor_threshold: float):
        self.thresholds = np.array([promoter_threshold, detractor_threshold])
        self.counts = np.zeros(len(COUNTERS), dtype=np.int64)
        self.actions_at = np.zeros((3, stage_count), dtype=np.int64)
        self.left_at = np.zeros(stage_count, dtype=np.int64)
        self.sums = np.zeros(len(SUMS))

    @property
    def trust(self) -> list[float]:
        """Frozen sum of expected trust per layer."""
        return self.sums[TRUST : TRUST + 3].tolist()

    @property
    def choices_at(self) -> np.ndarray:
        """Choices made per stage."""
        return self.actions_at.sum(axis=0)


def _read(values: str, slot: int, kind: type, name: str) -> property:
    return property(lambda self: kind(getattr(self, values)[slot]), doc=f"`{name}` so far.")


# Every counter, and the satisfaction and reactance sums, read as attributes.
for _slot, _name in enumerate(COUNTERS):
    setattr(Tally, _name, _read("counts", _slot, int, _name))
for _slot in (SATISFACTION, FINISHED_SATISFACTION, REACTANCE):
    setattr(Tally, SUMS[_slot], _read("sums", _slot, float, SUMS[_slot]))


def settle(tally, finished, satisfaction, reactance, trust_sum, stage):
    """Buyers who left the pipeline this step, with their final values (ascending order).

    `finished` flags customers who finished (the others abandoned); `trust_sum` is the
    sum of their expected trust per layer. Adds trust, satisfaction and reactance to
    the frozen sums and counts promoters and detractors among them. `tally` is a `Tally`
    or anything with its arrays (the compiled engine's).
    """
    counts, sums = tally.counts, tally.sums
    n_finished = total(finished)
    counts[FINISHED_COUNT] += n_finished
    counts[ABANDONED_COUNT] += satisfaction.size - n_finished
    promoter = satisfaction >= tally.thresholds[0]
    detractor = satisfaction <= tally.thresholds[1]
    counts[PROMOTERS] += total(finished & promoter)
    counts[FINISHED_DETRACTORS] += total(finished & detractor)
    counts[DETRACTORS] += total(detractor)
    tally.left_at[:] += np.bincount(stage, minlength=tally.left_at.size)
    for layer in range(3):
        sums[TRUST + layer] += trust_sum[layer]
    sums[SATISFACTION] += total(satisfaction)
    sums[FINISHED_SATISFACTION] += total(satisfaction[finished])
    sums[REACTANCE] += total(reactance)


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

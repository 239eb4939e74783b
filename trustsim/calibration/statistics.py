"""The observation model: which statistics a data file gives, and their noise.

A run of the model is read as a firm would read its books (`funnel_counts`), so the
data written by `observe` and the statistics the calibration fits are the same numbers.
Each statistic lives on a fitting scale where its noise is close to Gaussian:

- a share k / n (a stage's conversion, its verify share, the NPS promoters or
  detractors) on the empirical logit scale, y = log((k + 1/2) / (n - k + 1/2)), with the
  binomial observation variance Var(y) = 1 / (n p (1 - p)), p = (k + 1/2) / (n + 1)
  (the multinomial NPS counts give binomial margins);
- a satisfaction mean with its n: Var = sd^2 / n;
- counts (leads, closed deals) as they are: no formula, their variance is the spread
  of the model's replications.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from trustsim.calibration.data import FunnelData, NpsCounts, SatisfactionMean, StageCounts
from trustsim.model.series import stage_column
from trustsim.scenarios import Scenario

Kind = Literal["share", "count", "mean"]
SUMMARY_TOTALS = (
    "leads", "closed_deals", "finished", "churned", "promoters", "nps", "satisfaction",
)  # fmt: skip
SUMMARY_PER_STAGE = ("reached", "active_at", "verification_rate")


def summary_metrics(stage_names: Sequence[str]) -> list[str]:
    """The run measures a calibration records per run (the sweep's metrics)."""
    per_stage = [stage_column(m, s) for s in stage_names for m in SUMMARY_PER_STAGE]
    return [*SUMMARY_TOTALS, *per_stage]


def empirical_logit(successes: float, trials: float) -> float:
    """y = log((k + 1/2) / (n - k + 1/2)): finite at k = 0 and k = n.

    Example:
        >>> round(empirical_logit(50, 100), 12)
        0.0
    """
    if not trials > 0 or math.isnan(successes):
        return math.nan
    return math.log((successes + 0.5) / (trials - successes + 0.5))


def logit_variance(successes: float, trials: float) -> float:
    """Binomial variance of the empirical logit: 1 / (n p (1 - p)), p = (k + 1/2)/(n + 1)."""
    p = (successes + 0.5) / (trials + 1.0)
    return 1.0 / (trials * p * (1.0 - p))


def funnel_counts(summary: Mapping[str, float], stage_names: Sequence[str]) -> dict:
    """A run's books: per stage entered, passed, walked away and verify share; NPS counts.

    A buyer's stage only moves forward, so `reached[k]` buyers entered stage k and
    `reached[k + 1]` passed it; those still at k at the end of the window (`active_at`)
    neither passed nor left. The last stage is passed by the customers who finished the
    journey (`finished` less those who churned after buying). Verify share is checks per
    decision at the stage (`verification_rate`). NPS counts are among finished
    customers: promoters P, detractors D from nps = 100 (P - D) / finished.
    """
    stages = {}
    last = len(stage_names) - 1
    for k, name in enumerate(stage_names):
        entered = summary[stage_column("reached", name)]
        if k < last:
            passed = summary[stage_column("reached", stage_names[k + 1])]
        else:
            passed = summary["finished"] - summary["churned"]
        still = summary[stage_column("active_at", name)]
        stages[name] = {
            "entered": entered,
            "passed": passed,
            "walked_away": entered - passed - still,
            "verify_share": summary[stage_column("verification_rate", name)],
        }
    finished = summary["finished"]
    promoters = summary["promoters"]
    nps = summary["nps"]
    detractors = promoters - nps * finished / 100.0 if finished else math.nan
    return {
        "stages": stages,
        "finished": finished,
        "promoters": promoters,
        "detractors": detractors,
    }


@dataclass(frozen=True)
class Statistic:
    """One observed statistic and how to read it from a run.

    Attributes:
        name: e.g. `conversion[viewing]`, `leads`, `promoters`.
        kind: "share", "count" or "mean".
        observed: the firm's value on the natural scale (a share, a count, a mean).
        observed_fit: the same on the fitting scale.
        observation_variance: its sampling variance on the fitting scale (0 for counts).
        stage: the stage of a per-stage statistic, else None.
        denominator: for a stage conversion, "decided" (passed + walked away) or "entered".
    """

    name: str
    kind: Kind
    observed: float
    observed_fit: float
    observation_variance: float
    stage: str | None = None
    denominator: str = "entered"

    def from_books(self, books: dict) -> tuple[float, float]:
        """(natural value, fitting-scale value) of this statistic in a run's books."""
        if self.name == "leads" or self.name == "closed_deals":
            value = books[self.name]
            return value, value
        if self.name == "satisfaction":
            value = books["satisfaction"]
            return value, value
        if self.name in ("promoters", "detractors"):
            trials = books["finished"]
            return _share(books[self.name], trials)
        counts = books["stages"][self.stage]
        if self.name.startswith("verified"):
            trials = counts["entered"]
            return _share(counts["verify_share"] * trials, trials)
        trials = counts["entered"]
        if self.denominator == "decided":
            trials = counts["passed"] + counts["walked_away"]
        return _share(counts["passed"], trials)


def _share(successes: float, trials: float) -> tuple[float, float]:
    if not trials > 0:
        return math.nan, math.nan
    return successes / trials, empirical_logit(successes, trials)


def read_books(summary: Mapping[str, float], stage_names: Sequence[str]) -> dict:
    """`funnel_counts` plus the run totals the statistics read."""
    books = funnel_counts(summary, stage_names)
    for name in ("leads", "closed_deals", "satisfaction"):
        books[name] = summary[name]
    return books


def data_statistics(data: FunnelData) -> list[Statistic]:
    """Every statistic the data file gives, in a fixed order."""
    stats: list[Statistic] = []
    if data.total_leads is not None:
        stats.append(_count("leads", data.total_leads))
    if data.closed_deals is not None:
        stats.append(_count("closed_deals", data.closed_deals))
    for stage, counts in data.stages.items():
        stats.extend(_stage_statistics(stage, counts))
    if data.nps is not None:
        stats.extend(_nps_statistics(data.nps))
    if data.satisfaction is not None:
        stats.append(_satisfaction(data.satisfaction))
    return stats


def _count(name: str, value: int) -> Statistic:
    return Statistic(name, "count", float(value), float(value), 0.0)


def _shared(name: str, k: float, n: float, stage: str | None = None, **kw) -> Statistic:
    return Statistic(name, "share", k / n, empirical_logit(k, n), logit_variance(k, n), stage, **kw)


def _stage_statistics(stage: str, counts: StageCounts) -> list[Statistic]:
    stats = []
    if counts.passed is not None:
        if counts.walked_away is not None and counts.passed + counts.walked_away > 0:
            n, denominator = counts.passed + counts.walked_away, "decided"
        else:
            n, denominator = counts.entered, "entered"
        if n:
            stats.append(
                _shared(f"conversion[{stage}]", counts.passed, n, stage, denominator=denominator)
            )
    if counts.verified is not None and counts.entered:
        stats.append(_shared(f"verified[{stage}]", counts.verified, counts.entered, stage))
    return stats


def _nps_statistics(nps: NpsCounts) -> list[Statistic]:
    return [
        _shared("promoters", nps.promoters, nps.total),
        _shared("detractors", nps.detractors, nps.total),
    ]


def _satisfaction(sat: SatisfactionMean) -> Statistic:
    return Statistic("satisfaction", "mean", sat.mean, sat.mean, sat.sd**2 / sat.n)


def statistic_table(
    rows: Sequence[Mapping[str, float]], stats: Sequence[Statistic], stage_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(natural values, fitting-scale values), each (runs, statistics), of run summaries."""
    natural = np.full((len(rows), len(stats)), np.nan)
    fit = np.full_like(natural, np.nan)
    for i, row in enumerate(rows):
        books = read_books(row, stage_names)
        for j, stat in enumerate(stats):
            natural[i, j], fit[i, j] = stat.from_books(books)
    return natural, fit


def observed_data(
    summary: Mapping[str, float],
    new_leads: Sequence[int],
    scenario: Scenario,
    source: str,
) -> FunnelData:
    """What a firm would record from one run: the data file `trustsim observe` writes."""
    from trustsim.calibration.data import Window

    books = read_books(summary, scenario.stage_names)
    stages = {}
    for name, counts in books["stages"].items():
        entered = round(counts["entered"])
        # No decision made at the stage yet (buyers just arrived): no verify share.
        share = counts["verify_share"]
        stages[name] = StageCounts(
            entered=entered,
            passed=round(counts["passed"]),
            walked_away=round(counts["walked_away"]),
            verified=None if math.isnan(share) else round(share * entered),
        )
    finished = round(books["finished"])
    nps = None
    if finished:
        promoters, detractors = round(books["promoters"]), round(books["detractors"])
        nps = NpsCounts(
            promoters=promoters,
            passives=finished - promoters - detractors,
            detractors=detractors,
        )
    closed = round(books["closed_deals"])
    satisfaction = None
    if closed and not math.isnan(books["satisfaction"]):
        satisfaction = SatisfactionMean(mean=round(books["satisfaction"], 6), n=closed)
    return FunnelData(
        source=source,
        leads=[int(n) for n in new_leads],
        closed_deals=closed,
        window=Window(periods=len(new_leads), unit=scenario.time.step_unit),
        stages=stages,
        nps=nps,
        satisfaction=satisfaction,
    )

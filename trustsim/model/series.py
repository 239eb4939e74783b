"""The per-step measures (MODEL.md, "What is measured"), written once for every engine.

`measure_row` fills one row of a run's series table from the running totals
(`trustsim.model.tally`) and the active buyers' values. The array and per-agent engines'
runs call it through `trustsim.sim.measures` once per step (numpy); the compiled engine
calls the same function inside its whole-step loop (`trustsim.engines.kernels.leap`),
one row per step, and the rows go to the DataCollector at the end. It works on plain
numbers and arrays and says "if" only about the run's totals, never per buyer, so numba
compiles it unchanged and every engine writes the same bits.

Undefined ratios (no customers yet, a stage nobody reached) are NaN rather than a
made-up number. Every value is stored as a float64; counts are exact there (below 2^53)
and read back as integers (`counts`).
"""

from __future__ import annotations

import math

import numpy as np

from trustsim.model import tally as t
from trustsim.model.codes import ABANDON, DELEGATE, POST_PURCHASE, VERIFY
from trustsim.model.rules import total
from trustsim.scenarios.schema import LAYERS

# The measures of a step, in the series' column order, each with whether it is a count.
MEASURES = (
    ("leads", True),
    ("new_leads", True),
    ("wom_leads", True),
    ("active", True),
    ("post_purchase", True),
    ("finished", True),
    ("abandoned", True),
    ("churned", True),
    ("deterred", True),
    ("closed_deals", True),
    ("conversion", False),
    ("satisfaction", False),
    ("lead_satisfaction", False),
    ("nps", False),
    ("promoters", True),
    ("detractors", True),
    ("time_to_close", False),
    ("incidents", True),
    ("errors_caught", True),
    ("repeat_purchases", True),
    ("revenue", False),
    ("mean_reactance", False),
    *((f"trust_{name}", False) for name in LAYERS),
)
(
    LEADS, NEW_LEADS, WOM_LEADS, ACTIVE, POST_PURCHASE_NOW, FINISHED, ABANDONED, CHURNED,
    DETERRED, CLOSED_DEALS, CONVERSION, SATISFACTION, LEAD_SATISFACTION, NPS, PROMOTERS,
    DETRACTORS, TIME_TO_CLOSE, INCIDENTS, ERRORS_CAUGHT, REPEAT_PURCHASES, REVENUE,
    MEAN_REACTANCE, TRUST,
) = range(len(MEASURES) - 2)  # fmt: skip
# Then, per stage in journey order, these measures (`stage_column`), each a count or not.
PER_STAGE = (
    ("delegation_rate", False),
    ("verification_rate", False),
    ("abandonment_rate", False),
    ("active_at", True),
    ("reached", True),
)
STAGED = len(MEASURES)  # the first per-stage column


def stage_column(measure: str, stage: str) -> str:
    """The column of a per-stage measure: `delegation_rate[offer]`."""
    return f"{measure}[{stage}]"


def columns(stage_names) -> list[str]:
    """The series' column names for a journey of these stages, in order."""
    per_stage = [stage_column(m, stage) for stage in stage_names for m, _ in PER_STAGE]
    return [name for name, _ in MEASURES] + per_stage


def counts(stage_count: int) -> np.ndarray:
    """Which columns are counts (read back as integers), for `stage_count` stages."""
    flags = [count for _, count in MEASURES] + [c for _, c in PER_STAGE] * stage_count
    return np.array(flags, dtype=np.bool_)


def ratio(num, den):
    """num / den, or NaN when nothing was counted (den = 0)."""
    if den == 0:
        return math.nan
    return float(num) / float(den)


def mean(frozen, active, count, default):
    """(frozen sum over buyers who left + sum over active buyers) / count, or `default`."""
    if count == 0:
        return default
    return (frozen + active) / count


def measure_row(row, tally, status, stage, satisfaction, reactance, trust_sum, new_leads, p,
                base_rate, days_per_step):  # fmt: skip
    """Every measure of the current step into `row` (columns as `columns`).

    Costs O(active buyers): counts and the sums over buyers who left come from the
    running `tally`; `status`, `stage`, `satisfaction` and `reactance` are the active
    buyers' (ascending buyer order), `trust_sum` their expected trust summed per layer.
    `new_leads` arrived this step; `p` the rule numbers; `base_rate` the scenario's
    base rate per layer (the mean trust before any lead); `days_per_step` the length of
    a step (the tally counts time to close in steps; the measure is in days).

        conversion = closed / leads;  mean over leads = (frozen + active sum) / leads
        nps = 100 (promoters - finished detractors) / finished
        reached_k = leads whose stage is k or later (stages only move forward)
    """
    c, sums = tally.counts, tally.sums
    leads, closed = c[t.LEADS], c[t.CLOSED]
    post = status == POST_PURCHASE
    row[LEADS], row[NEW_LEADS], row[WOM_LEADS] = leads, new_leads, c[t.WOM_LEADS]
    row[ACTIVE], row[POST_PURCHASE_NOW] = status.size, total(post)
    row[FINISHED], row[ABANDONED] = c[t.FINISHED_COUNT], c[t.ABANDONED_COUNT]
    row[CHURNED], row[DETERRED], row[CLOSED_DEALS] = c[t.CHURNED], c[t.DETERRED], closed
    row[CONVERSION] = ratio(closed, leads)
    # Customers are the finished buyers and those after purchase.
    row[SATISFACTION] = mean(
        sums[t.FINISHED_SATISFACTION], total(satisfaction[post]), closed, math.nan
    )
    row[LEAD_SATISFACTION] = mean(
        sums[t.SATISFACTION], total(satisfaction), leads, p.satisfaction.initial
    )
    row[NPS] = 100.0 * ratio(c[t.PROMOTERS] - c[t.FINISHED_DETRACTORS], c[t.FINISHED_COUNT])
    row[PROMOTERS], row[DETRACTORS] = c[t.PROMOTERS], c[t.DETRACTORS]
    row[TIME_TO_CLOSE] = ratio(c[t.CLOSE_TIME], closed) * days_per_step
    row[INCIDENTS], row[ERRORS_CAUGHT], row[REPEAT_PURCHASES] = (
        c[t.INCIDENTS], c[t.CAUGHT], c[t.REPEATS],
    )  # fmt: skip
    row[REVENUE] = p.market.deal_value * closed + p.repeat.value * c[t.REPEATS]
    row[MEAN_REACTANCE] = mean(sums[t.REACTANCE], total(reactance), leads, 0.0)
    for layer in range(3):
        row[TRUST + layer] = mean(sums[t.TRUST + layer], trust_sum[layer], leads, base_rate[layer])
    stage_count = tally.left_at.size
    active_at = np.bincount(stage, minlength=stage_count)
    # A buyer's stage only moves forward and stays where they left or finished, so the
    # leads who ever reached stage k are the leads whose stage is k or later.
    reached = np.cumsum((active_at + tally.left_at)[::-1])[::-1]
    actions = tally.actions_at
    for k in range(stage_count):
        choices = actions[DELEGATE, k] + actions[VERIFY, k] + actions[ABANDON, k]
        at = STAGED + len(PER_STAGE) * k
        row[at] = ratio(actions[DELEGATE, k], choices)
        row[at + 1] = ratio(actions[VERIFY, k], choices)
        row[at + 2] = ratio(actions[ABANDON, k], choices)
        row[at + 3], row[at + 4] = active_at[k], reached[k]

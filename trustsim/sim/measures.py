"""What is measured per step and per run (MODEL.md, "What is measured").

`measure(model)` computes every measure once per step from the engine's arrays; the Mesa
`DataCollector` reporters read from that dict. Undefined ratios (no customers yet, a stage
nobody reached) are NaN rather than a made-up number.
"""

from __future__ import annotations

import math

import numpy as np

from trustsim.agents import rules
from trustsim.scenarios.schema import LAYERS
from trustsim.sim.vectorized import ABANDONED, ACTIVE, FINISHED, POST_PURCHASE, POTENTIAL

# Run-level measures in the order tables show them; per-stage measures follow.
HEADLINE = (
    "leads",
    "closed_deals",
    "conversion",
    "short_closed_deals",
    "short_conversion",
    "satisfaction",
    "nps",
    "time_to_close",
    "revenue",
)
PER_STAGE = ("delegation_rate", "verification_rate", "abandonment_rate", "active_at", "reached")


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


def stage_column(measure: str, stage: str) -> str:
    return f"{measure}[{stage}]"


def _lead_values(arrays, is_lead: np.ndarray, leads: int):
    """The leads' entries of each array; the arrays themselves when everyone is a lead."""
    if leads == len(is_lead):
        return arrays
    index = np.flatnonzero(is_lead)
    return tuple(array[index] for array in arrays)


def measure(model) -> dict[str, float]:
    """Every per-step measure of the model at its current step."""
    eng, spec = model.engine, model.spec
    status = eng.status
    # Five int8 comparisons need less memory than np.bincount, which widens to intp.
    counts = [np.count_nonzero(status == code) for code in range(5)]
    leads = int(counts[ACTIVE] + counts[POST_PURCHASE] + counts[FINISHED] + counts[ABANDONED])
    customers = eng.closed >= 0
    closed = int(np.count_nonzero(customers))
    repeats = int(eng.repeats.sum())
    finished = status == FINISHED
    n_finished = int(counts[FINISHED])
    s = eng.satisfaction
    fin_promoters = int(np.count_nonzero(finished & (s >= spec.market.promoter_threshold)))
    fin_detractors = int(np.count_nonzero(finished & (s <= spec.market.detractor_threshold)))
    is_lead = status != POTENTIAL
    out = {
        "leads": leads,
        "new_leads": model.new_leads,
        "wom_leads": int(np.count_nonzero(eng.from_word_of_mouth & is_lead)),
        "active": int(counts[ACTIVE] + counts[POST_PURCHASE]),
        "post_purchase": int(counts[POST_PURCHASE]),
        "finished": n_finished,
        "abandoned": int(counts[ABANDONED]),
        "churned": int(np.count_nonzero(eng.churned)),
        "closed_deals": closed,
        "conversion": _ratio(closed, leads),
        "satisfaction": float(s[customers].mean()) if closed else math.nan,
        "lead_satisfaction": float(s[is_lead].mean()) if leads else spec.satisfaction.initial,
        "nps": 100.0 * _ratio(fin_promoters - fin_detractors, n_finished),
        "promoters": model.promoters,
        "detractors": model.detractors,
        "time_to_close": (
            float((eng.closed[customers] - eng.arrived[customers]).mean()) if closed else math.nan
        ),
        "incidents": int(eng.incidents.sum()),
        "errors_caught": eng.caught_total,
        "repeat_purchases": repeats,
        "revenue": spec.market.deal_value * closed + spec.repeat.value * repeats,
        "mean_reactance": float(eng.reactance[is_lead].mean()) if leads else 0.0,
    }
    for layer, name in enumerate(LAYERS):
        # One layer at a time keeps the temporaries at one row (peak memory).
        trust = rules.expected_trust(
            *_lead_values((eng.good[layer], eng.bad[layer], eng.base_rate[layer]), is_lead, leads),
            spec.trust.prior_weight,
        )
        out[f"trust_{name}"] = float(trust.mean()) if leads else float(spec.trust.base_rate[layer])
    active_at = np.bincount(
        eng.stage[(status == ACTIVE) | (status == POST_PURCHASE)], minlength=model.stages.count
    )
    # A buyer's stage only moves forward and stays where they left or finished, so the
    # leads who ever reached stage k are the leads whose stage is k or later.
    at_stage = np.bincount(eng.stage[is_lead], minlength=model.stages.count)
    reached = np.cumsum(at_stage[::-1])[::-1]
    for index, stage in enumerate(model.stages.names):
        choices = eng.choices_at[index]
        out[stage_column("delegation_rate", stage)] = _ratio(eng.delegations_at[index], choices)
        out[stage_column("verification_rate", stage)] = _ratio(eng.verifications_at[index], choices)
        out[stage_column("abandonment_rate", stage)] = _ratio(eng.abandoned_at[index], choices)
        out[stage_column("active_at", stage)] = int(active_at[index])
        out[stage_column("reached", stage)] = int(reached[index])
    return out


def model_reporters(model) -> dict:
    """DataCollector reporters, one per measure, reading the step's measured values."""
    names = list(measure(model))
    model.measured = None
    model.measured_step = -1

    def reporter(name):
        def read(m):
            if m.measured is None or m.measured_step != m.steps:
                m.measured = measure(m)
                m.measured_step = m.steps
            return m.measured[name]

        read.__name__ = name
        return read

    return {name: reporter(name) for name in names}


def closing_snapshot(model) -> dict[str, float]:
    """Closed deals and conversion at the short horizon."""
    eng = model.engine
    leads = int(np.count_nonzero(eng.status != POTENTIAL))
    closed = int(np.count_nonzero(eng.closed >= 0))
    return {"short_closed_deals": closed, "short_conversion": _ratio(closed, leads)}


def run_summary(model) -> dict[str, float]:
    """Per-run measures: the final step's values plus the short-horizon snapshot."""
    values = dict(model.measured if model.measured_step == model.steps else measure(model))
    snapshot = model.short_horizon_snapshot or closing_snapshot(model)
    values.update(snapshot)
    values["steps"] = model.steps
    return values

"""What is measured per step and per run (MODEL.md, "What is measured").

`measure(model)` computes every measure once per step from the engine's running totals
(`trustsim.model.tally`) and its active buyers' values; the Mesa `DataCollector` reporters
read from that dict. Undefined ratios (no customers yet, a stage
nobody reached) are NaN rather than a made-up number.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from trustsim.model.codes import POST_PURCHASE
from trustsim.scenarios.schema import LAYERS


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den else math.nan


def stage_column(measure: str, stage: str) -> str:
    return f"{measure}[{stage}]"


def _mean(frozen: float, active, count: int, default: float) -> float:
    """(frozen sum over buyers who left + sum over active buyers) / count, or `default`.

    `active` is the active buyers' values or already their sum.
    """
    total = active if isinstance(active, float) else float(active.sum())
    return (frozen + total) / count if count else default


def measure(model) -> dict[str, float]:
    """Every per-step measure of the model at its current step.

    Costs O(active buyers): counts and the sums over buyers who left the pipeline come
    from the engine's running `Tally`; only active buyers' values are read.
    """
    eng, spec, tally = model.engine, model.spec, model.engine.tally
    now = eng.take(eng.active)
    leads, closed = tally.leads, tally.closed
    post = now.status == POST_PURCHASE
    out = {
        "leads": leads,
        "new_leads": model.new_leads,
        "wom_leads": tally.wom_leads,
        "active": len(now.status),
        "post_purchase": int(np.count_nonzero(post)),
        "finished": tally.finished,
        "abandoned": tally.abandoned,
        "churned": tally.churned,
        "deterred": tally.deterred,
        "closed_deals": closed,
        "conversion": _ratio(closed, leads),
        # Customers are the finished buyers and those after purchase.
        "satisfaction": _mean(
            tally.finished_satisfaction, now.satisfaction[post], closed, math.nan
        ),
        "lead_satisfaction": _mean(
            tally.satisfaction, now.satisfaction, leads, spec.satisfaction.initial
        ),
        "nps": 100.0 * _ratio(tally.promoters - tally.finished_detractors, tally.finished),
        "promoters": model.promoters,
        "detractors": model.detractors,
        # The tally counts steps; days per step makes it calendar time.
        "time_to_close": _ratio(tally.close_time, closed) * spec.time.days_per_step,
        "incidents": tally.incidents,
        "errors_caught": tally.caught,
        "repeat_purchases": tally.repeats,
        "revenue": spec.market.deal_value * closed + spec.repeat.value * tally.repeats,
        "mean_reactance": _mean(tally.reactance, now.reactance, leads, 0.0),
    }
    for layer, name in enumerate(LAYERS):
        out[f"trust_{name}"] = _mean(
            tally.trust[layer], now.trust_sum[layer], leads, float(spec.trust.base_rate[layer])
        )
    active_at = np.bincount(now.stage, minlength=model.stages.count)
    # A buyer's stage only moves forward and stays where they left or finished, so the
    # leads who ever reached stage k are the leads whose stage is k or later.
    at_stage = active_at + tally.left_at
    reached = np.cumsum(at_stage[::-1])[::-1]
    delegations, verifications, walk_aways = tally.actions_at.tolist()
    choices = tally.choices_at.tolist()
    for index, stage in enumerate(model.stages.names):
        den = choices[index]
        out[stage_column("delegation_rate", stage)] = _ratio(delegations[index], den)
        out[stage_column("verification_rate", stage)] = _ratio(verifications[index], den)
        out[stage_column("abandonment_rate", stage)] = _ratio(walk_aways[index], den)
        out[stage_column("active_at", stage)] = int(active_at[index])
        out[stage_column("reached", stage)] = int(reached[index])
    return out


def current(model) -> dict[str, float]:
    """This step's measures, computed once per step however many readers ask."""
    if model.measured is None or model.measured_step != model.steps:
        model.measured = measure(model)
        model.measured_step = model.steps
    return model.measured


def model_reporters(model) -> dict:
    """DataCollector reporters, one per measure, reading the step's measured values."""
    # The set-up measures name the reporters and serve the first collection too.
    model.measured = measure(model)
    model.measured_step = model.steps
    names = list(model.measured)

    def reporter(name):
        def read(m):
            return current(m)[name]

        read.__name__ = name
        read.measure_name = name  # lets `MeasureCollector` read the dict directly
        return read

    return {name: reporter(name) for name in names}


class MeasureCollector(mesa.DataCollector):
    """Mesa's DataCollector, storing this step's measures without deep-copying each one.

    Mesa deep-copies every reporter's value so a later step cannot change a stored
    mutable object; the measures are fresh Python numbers, so the ~70 copies per step are
    pure cost (a sizeable share of a step with 1,000 buyers). Reporters that are not
    measures are collected by Mesa as usual.
    """

    def collect(self, model) -> None:
        if not self._all_measures():
            super().collect(model)
            return
        if hasattr(self, "_collection_steps"):
            self._collection_steps.append(model.time)
        values = current(model)
        for name, reporter in self.model_reporters.items():
            self.model_vars[name].append(values[reporter.measure_name])

    def _all_measures(self) -> bool:
        """Whether every reporter is a model measure (checked once: reporters are fixed)."""
        if not hasattr(self, "_measures_only"):
            self._measures_only = not (self.agent_reporters or self.agenttype_reporters) and all(
                hasattr(r, "measure_name") for r in self.model_reporters.values()
            )
        return self._measures_only


def closing_snapshot(model) -> dict[str, float]:
    """Closed deals and conversion at the short horizon."""
    tally = model.engine.tally
    leads, closed = tally.leads, tally.closed
    return {"short_closed_deals": closed, "short_conversion": _ratio(closed, leads)}


def run_summary(model) -> dict[str, float]:
    """Per-run measures: the final step's values plus the short-horizon snapshot."""
    values = dict(model.measured if model.measured_step == model.steps else measure(model))
    snapshot = model.short_horizon_snapshot or closing_snapshot(model)
    values.update(snapshot)
    values["steps"] = model.steps
    return values

"""Every measure the model reports, described once: the registry tables, charts and decks read.

Each `Metric` says how a measure is named in a table row (`label`), a narrow column
(`short`) and a sentence (`words`), its unit, whether more is better and what it is
(docs/ODD.md, section 7.12, defines each). Per-stage measures are registered under their
base name (`delegation_rate`) and reported as `delegation_rate[<stage>]`. Two measures of
leaving a stage differ and are named apart everywhere: walk-aways per choice
(`abandonment_rate`, the run table) and buyers lost at the stage (`left_share`, the
funnel, which counts each buyer once and includes collapsed deals).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

UNITS = ("count", "share", "score", "points", "steps", "days", "money")


@dataclass(frozen=True, slots=True)
class Metric:
    """One measure: names for tables, columns and sentences, unit, direction, meaning."""

    name: str
    label: str
    short: str
    words: str
    unit: str  # one of UNITS; a share is shown as a percentage
    higher_is_better: bool
    description: str
    headline: bool = False  # a row of the run and comparison tables
    sweep_default: bool = False  # kept by an experiment that names no metrics


def _metric(name, label, short, words, unit, higher, description, **flags) -> Metric:
    return Metric(name, label, short, words, unit, higher, description, **flags)


_ALL = (
    _metric("leads", "Leads", "Leads", "leads", "count", True,
            "buyers who have become leads so far", headline=True, sweep_default=True),
    _metric("closed_deals", "Closed deals", "Deals", "closed deals", "count", True,
            "customers (deals closed so far)", headline=True, sweep_default=True),
    _metric("conversion", "Conversion (lead to deal)", "Conv.", "conversion", "share", True,
            "closed deals / leads", headline=True, sweep_default=True),
    _metric("short_closed_deals", "Closed deals, short horizon", "Deals short",
            "short-horizon closed deals", "count", True,
            "closed deals at the short horizon", headline=True),
    _metric("short_conversion", "Conversion, short horizon", "Conv. short",
            "short-horizon conversion", "share", True,
            "conversion at the short horizon", headline=True, sweep_default=True),
    _metric("satisfaction", "Customer satisfaction (0-1)", "Satisf.", "satisfaction", "score",
            True, "mean satisfaction of customers", headline=True, sweep_default=True),
    _metric("nps", "NPS (finished customers)", "NPS", "NPS", "points", True,
            "net promoter score among finished buyers", headline=True, sweep_default=True),
    _metric("time_to_close", "Time to close (days)", "Close time", "time to close", "days",
            False, "mean days from arrival to closing", headline=True, sweep_default=True),
    _metric("revenue", "Revenue (deal units)", "Revenue", "revenue", "money", True,
            "deal value of closed deals plus repeat purchases", headline=True,
            sweep_default=True),
    _metric("repeat_purchases", "Repeat purchases", "Repeats", "repeat purchases", "count",
            True, "repeat purchases, cumulative", sweep_default=True),
    _metric("new_leads", "New leads", "New", "new leads", "count", True,
            "leads arriving this step"),
    _metric("wom_leads", "Leads from word of mouth", "WoM leads", "word-of-mouth leads",
            "count", True, "leads attributed to word of mouth, cumulative"),
    _metric("deterred", "Deterred by detractors", "Deterred", "deterred buyers", "count",
            False, "potential buyers kept away by detractors' word of mouth, cumulative"),
    _metric("active", "Active buyers", "Active", "active buyers", "count", True,
            "buyers active or after purchase"),
    _metric("post_purchase", "Customers after purchase", "Post", "customers after purchase",
            "count", True, "customers still in post-purchase stages"),
    _metric("finished", "Finished", "Finished", "finished buyers", "count", True,
            "buyers who finished the journey (including churned)"),
    _metric("abandoned", "Abandoned", "Abandoned", "abandoned buyers", "count", False,
            "buyers who walked away or whose deal collapsed before closing"),
    _metric("churned", "Churned", "Churned", "churned customers", "count", False,
            "customers who left after purchase"),
    _metric("lead_satisfaction", "Lead satisfaction (0-1)", "Lead satisf.",
            "lead satisfaction", "score", True, "mean satisfaction of all leads"),
    _metric("promoters", "Promoters", "Promoters", "promoters", "count", True,
            "the word-of-mouth stock of promoters"),
    _metric("detractors", "Detractors", "Detractors", "detractors", "count", False,
            "the word-of-mouth stock of detractors"),
    _metric("incidents", "Incidents", "Incidents", "incidents", "count", False,
            "uncaught failures, cumulative"),
    _metric("errors_caught", "Errors caught by checks", "Caught", "errors caught", "count",
            True, "failures caught by a check, cumulative"),
    _metric("mean_reactance", "Mean reactance", "Reactance", "reactance", "score", False,
            "mean accumulated reactance over leads"),
    _metric("trust_environment", "Trust in the environment", "Trust env.",
            "trust in the environment", "score", True, "mean expected trust, environment layer"),
    _metric("trust_rules", "Trust in the rules", "Trust rules", "trust in the rules", "score",
            True, "mean expected trust, rules layer"),
    _metric("trust_counterparty", "Trust in the counterparty", "Trust cp.",
            "trust in the counterparty", "score", True,
            "mean expected trust, counterparty layer"),
    _metric("delegation_rate", "Delegation rate", "Delegated", "delegation rate", "share",
            True, "delegations / choices at a stage"),
    _metric("verification_rate", "Verification rate", "Verified", "verification rate",
            "share", True, "verifications / choices at a stage"),
    _metric("abandonment_rate", "Walk-aways per choice", "Walked away",
            "walk-aways per choice", "share", False,
            "walk-aways / choices at a stage: a buyer chooses once per visit there, and "
            "collapsed deals are not counted; not the funnel's share of buyers lost there"),
    _metric("left_share", "Lost at the stage", "Lost", "buyers lost at the stage", "share",
            False,
            "share of the buyers reaching a stage who end there, walking away or with "
            "the deal collapsed (per buyer, not per choice)"),
    _metric("moved_on_share", "Moved on from the stage", "Moved on",
            "buyers who moved on from the stage", "share", True,
            "buyers who reached the next stage / buyers who reached this one"),
    _metric("active_at", "Acting at the stage", "At stage", "buyers at the stage", "count",
            True, "acting buyers at a stage now"),
    _metric("reached", "Reached the stage", "Reached", "leads who reached the stage", "count",
            True, "leads who ever reached a stage"),
    _metric("steps", "Steps", "Steps", "steps", "steps", True, "steps run"),
)  # fmt: skip

METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
# Run-level measures in the order tables show them.
HEADLINE = tuple(m.name for m in _ALL if m.headline)
# What an experiment keeps when it names no metrics.
SWEEP_DEFAULTS = tuple(m.name for m in _ALL if m.sweep_default)
PER_STAGE = ("delegation_rate", "verification_rate", "abandonment_rate", "active_at", "reached")


# The values a measure can take, by unit. A mean lies in the same range, so its interval
# is cut to it (`value_range`): a count's mean is never below 0, a share's never above 1.
_RANGES = {
    "count": (0.0, math.inf), "share": (0.0, 1.0), "score": (0.0, 1.0),
    "points": (-100.0, 100.0), "steps": (0.0, math.inf), "days": (0.0, math.inf),
    "money": (0.0, math.inf),
}  # fmt: skip
_OPEN_ABOVE = {"mean_reactance"}  # a score without an upper end


def value_range(column: str) -> tuple[float, float]:
    """The values measure `column` can take; (-inf, inf) for a column not registered.

    Example:
        >>> value_range("conversion"), value_range("delegation_rate[offer]")
        ((0.0, 1.0), (0.0, 1.0))
    """
    found = metric(column)
    if found is None:
        return -math.inf, math.inf
    low, high = _RANGES[found.unit]
    return (low, math.inf) if found.name in _OPEN_ABOVE else (low, high)


def metric(column: str) -> Metric | None:
    """The registry entry of a measure column (`delegation_rate[offer]` -> delegation_rate)."""
    return METRICS.get(column.split("[")[0])


def label(column: str) -> str:
    """A measure's table label; the column name itself if it is not a measure."""
    found = metric(column)
    return found.label if found else column


def words(column: str) -> str:
    """How a sentence names a measure."""
    found = metric(column)
    return found.words if found else column.replace("_", " ")


def is_share(column: str) -> bool:
    """Whether a measure is a share, shown as a percentage."""
    found = metric(column)
    return found is not None and found.unit == "share"


def higher_is_better(column: str) -> bool:
    found = metric(column)
    return found is None or found.higher_is_better


# ------------------------------------------------------------- numbers as text
def fmt_value(metric: str, value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if is_share(metric):
        return f"{100 * value:.1f}%"
    if value == 0:
        return "0"  # not "0.000": nothing, said plainly (an interval's end at zero)
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3f}"


def fmt_interval(metric: str, mean: float, low: float, high: float) -> str:
    if mean is None or math.isnan(mean):
        return "n/a"
    if math.isnan(low) or math.isnan(high):
        return f"{fmt_value(metric, mean)} (no CI)"
    return f"{fmt_value(metric, mean)} [{fmt_value(metric, low)}, {fmt_value(metric, high)}]"


def fmt_signed(metric: str, value: float) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    text = fmt_value(metric, abs(value))
    if is_share(metric):
        text = f"{100 * abs(value):.1f} pp"
    return ("+" if value >= 0 else "-") + text


def fmt_signed_bounds(metric: str, low: float, high: float) -> str:
    """A change's interval in brackets, "[+3.70, +5.40]", or "(no CI)" where it has none
    (one replication)."""
    if math.isnan(low) or math.isnan(high):
        return "(no CI)"
    return f"[{fmt_signed(metric, low)}, {fmt_signed(metric, high)}]"


def fmt_plus_minus(metric: str, mean: float, low: float, high: float) -> str:
    """Mean with the 95% CI half-width below it, both at the mean's precision."""
    if mean is None or math.isnan(mean):
        return "n/a"
    half = (high - low) / 2
    if math.isnan(half):
        return f"{fmt_value(metric, mean)}\nno CI"
    if is_share(metric):
        return f"{100 * mean:.1f}%\n±{100 * half:.1f}"
    size = abs(mean)
    decimals = 0 if size >= 100 else 1 if size >= 10 else 2 if size >= 1 else 3
    return f"{mean:,.{decimals}f}\n±{half:,.{decimals}f}"


def fmt_relative(relative: float, low: float, high: float) -> str:
    """A relative change with its interval, e.g. "+27.2% [+22.1, +32.4]"; "(no finite CI)"
    where the base mean cannot be told from zero (see stats.ratio_ci) or one replication
    gives no interval. (Parentheses: a terminal table would read "[unbounded]" as markup.)"""
    if relative is None or math.isnan(relative):
        return "n/a"
    if math.isnan(low) or math.isnan(high):
        return f"{100 * relative:+.1f}% (no finite CI)"
    return f"{100 * relative:+.1f}% [{100 * low:+.1f}, {100 * high:+.1f}]"

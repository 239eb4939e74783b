"""Claims only from tests: metric wording, number text, and effects with their verdict.

Every sentence a chart or a deck states about a difference between scenarios is built
here from a paired comparison (`trustsim.experiments.runner.paired_differences`). A
difference is *established* when its 95% CI excludes zero and its Holm-adjusted
Wilcoxon p-value (over the scenarios compared with the same base on the same metric) is
below 0.05; only then may a sentence use a claim word ("raises", "beats", "best", ...).
Otherwise the sentence says the difference is not established. With fewer than six
paired runs no p-value exists, so nothing is established.

Absolute and relative changes are separate phrases; relative intervals are the Fieller
intervals of the model's statistics (never beyond -100%).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trustsim.charts.base import number
from trustsim.metrics import METRICS

ALPHA = 0.05
# Words that state a difference as a fact; a test checks each is backed by an
# established paired difference wherever it appears in a deck.
CLAIM_WORDS = ("wins", "beats", "best", "largest", "raises", "lowers", "overtakes", "most")


@dataclass(frozen=True)
class MetricWords:
    """How a run measure is named and read.

    Attributes:
        label: the name in a sentence ("closed deals").
        short: a column heading ("Deals").
        kind: "count", "share" (0-1, shown as %), "score" (shown with its unit), "money"
            or "time".
        unit: the unit after a number ("points", "weeks"), empty for counts and shares.
        higher_is_better: which way is good.
    """

    label: str
    short: str
    kind: str = "count"
    unit: str = ""
    higher_is_better: bool = True


def _wording(metric) -> MetricWords:
    """A registry metric (trustsim.metrics) as the deck reads it."""
    kind, unit = {
        "points": ("score", "points"),
        "steps": ("time", "steps"),
        "days": ("time", "days"),
    }.get(metric.unit, (metric.unit, ""))
    return MetricWords(metric.words, metric.label, kind, unit, metric.higher_is_better)


_METRICS = {name: _wording(metric) for name, metric in METRICS.items()}
# Money measures a deck derives from a run where the scenarios give a margin and a cost
# per lead (`trustsim.report.story.with_money_measures`); the model does not report them.
_METRICS.update(
    {
        "contribution": MetricWords(
            "contribution (revenue x margin − lead cost)", "Contribution", "money"
        ),
        "cost_per_deal": MetricWords(
            "cost per deal (CAC)", "Cost per deal", "money", higher_is_better=False
        ),
    }
)

KNOWN_METRICS = tuple(_METRICS)


def metric_words(metric: str) -> MetricWords:
    """The wording of a run measure (unknown measures read as their name).

    Example:
        >>> metric_words("nps").label, metric_words("time_to_close").higher_is_better
        ('NPS', False)
    """
    fallback = MetricWords(metric.replace("_", " "), metric.replace("_", " ").capitalize())
    return _METRICS.get(metric, fallback)


def in_sentence(label: str) -> str:
    """A display name inside a sentence: its capital dropped unless the first word is an
    acronym or brand ("NPS", "iPhone"), so titles read "... vs online service as today".

    Example:
        >>> in_sentence("Online service as today"), in_sentence("NPS pilot"), in_sentence("B")
        ('online service as today', 'NPS pilot', 'B')
    """
    first = label.split(" ")[0]
    if len(label) < 2 or any(c.isupper() or c.isdigit() for c in first[1:]):
        return label
    return first[0].lower() + label[1:]


# ------------------------------------------------------------------ number text
def money(value: float, currency: str = "") -> str:
    """An amount for executives: 950 / 12.3k / 4.5M / 1.2bn, with its currency.

    A one-character currency is a symbol written before the amount ("€1.2M"); a code is
    written after it ("1.2M RUB").

    Example:
        >>> money(1_234_567, "€"), money(12_300, "USD"), money(950)
        ('€1.2M', '12.3k USD', '950')
    """
    if value is None or math.isnan(value):
        return "n/a"
    size, sign = abs(value), "−" if value < 0 else ""
    for step, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if size >= step:
            text = f"{size / step:.1f}{suffix}"
            break
    else:
        text = f"{size:,.0f}" if size >= 100 else f"{size:.3g}"
    if len(currency) == 1:
        return f"{sign}{currency}{text}"
    return f"{sign}{text} {currency}".rstrip()


def revenue_is_deals(run) -> bool:
    """Revenue says nothing deals do not: no currency and equal to closed deals in every
    run (deal_value 1, no repeat purchases), so charts and decks leave it out."""
    currencies = {spec.market.currency for spec in run.scenarios.values()}
    frame = run.summaries
    return currencies == {""} and bool((frame["revenue"] == frame["closed_deals"]).all())


def value_text(metric: str, value: float, currency: str = "") -> str:
    """A level of `metric` with its unit: "25.9%", "67.5 points", "€1.2M"."""
    words = metric_words(metric)
    if value is None or math.isnan(value):
        return "n/a"
    if words.kind == "share":
        return f"{100 * value:.1f}%"
    if words.kind == "money":
        return money(value, currency)
    text = number(value)
    return f"{text} {words.unit}" if words.kind == "time" else text


def change_text(metric: str, value: float, currency: str = "", with_unit: bool = True) -> str:
    """An absolute change of `metric` with its sign and unit: "+4.6 pp", "−52.6 points"."""
    if value is None or math.isnan(value):
        return "n/a"
    words = metric_words(metric)
    sign = "+" if value >= 0 else "−"
    if words.kind == "share":
        return f"{sign}{100 * abs(value):.1f}" + (" pp" if with_unit else "")
    if words.kind == "money":
        return sign + money(abs(value), currency)
    return f"{sign}{number(abs(value))}" + (_change_unit(metric) if with_unit else "")


def _change_unit(metric: str) -> str:
    words = metric_words(metric)
    if words.kind == "share":
        return " pp"
    return f" {words.unit}" if words.unit else ""


def ci_text(metric: str, low: float, high: float, currency: str = "") -> str:
    """A 95% CI of a change, the unit once: "95% CI +3.7 to +5.4 pp"."""
    if math.isnan(low) or math.isnan(high):
        return "no 95% CI"
    lo = change_text(metric, low, currency, with_unit=False)
    hi = change_text(metric, high, currency, with_unit=False)
    return f"95% CI {lo} to {hi}{_change_unit(metric)}"


def percent(value: float, signed_: bool = False) -> str:
    """A share as a percentage: 0.183 -> 18%; with `signed_`, +18% / −18%."""
    if value is None or math.isnan(value):
        return "n/a"
    text = f"{abs(value) * 100:.0f}%"
    if signed_:
        return ("+" if value >= 0 else "−") + text
    return ("−" if value < 0 else "") + text


# ---------------------------------------------------------------------- effects
@dataclass(frozen=True)
class Effect:
    """A paired difference of one metric between a scenario and its base, with its verdict.

    Attributes:
        scenario, base: display names of the scenario and of the base it is compared with.
        metric: the run measure.
        diff, ci_low, ci_high: mean paired difference and its 95% t-interval.
        relative, rel_low, rel_high: mean(scenario) / mean(base) - 1 with its Fieller
            interval (NaN bounds where none is finite).
        p_holm: Holm-adjusted Wilcoxon p-value (NaN below six pairs).
        base_mean, mean: the two means.
        currency: for money metrics.
    """

    scenario: str
    base: str
    metric: str
    diff: float
    ci_low: float
    ci_high: float
    relative: float
    rel_low: float
    rel_high: float
    p_holm: float
    base_mean: float
    mean: float
    currency: str = ""

    @property
    def established(self) -> bool:
        """95% CI excludes zero and the Holm-adjusted p-value is below ALPHA."""
        excludes = self.ci_low > 0 or self.ci_high < 0
        return bool(excludes and not math.isnan(self.p_holm) and self.p_holm < ALPHA)

    @property
    def better(self) -> bool:
        """The change goes the good way for this metric (regardless of whether it is
        established)."""
        return (self.diff > 0) == metric_words(self.metric).higher_is_better

    @property
    def strength(self) -> float:
        """|diff| in units of its CI half-width: used only to order findings."""
        half = (self.ci_high - self.ci_low) / 2
        return abs(self.diff) / half if half > 0 else math.inf

    def interval(self) -> str:
        """The absolute change with its CI: "+4.8 (95% CI +3.8 to +5.8)"."""
        m, c = self.metric, self.currency
        return f"{change_text(m, self.diff, c)} ({ci_text(m, self.ci_low, self.ci_high, c)})"

    def relative_interval(self) -> str:
        """The relative change with its Fieller CI: "−78% (95% CI −81% to −75%)"."""
        if math.isnan(self.rel_low) or math.isnan(self.rel_high):
            return f"{percent(self.relative, True)} (no finite 95% CI)"
        return (
            f"{percent(self.relative, True)} (95% CI {percent(self.rel_low, True)} "
            f"to {percent(self.rel_high, True)})"
        )

    def sentence(self, subject: bool = True) -> str:
        """The effect as one clause, a claim word only where it is established.

        Example:
            >>> e = Effect("B", "A", "nps", -52.6, -54.8, -50.4, -0.78, -0.81, -0.75,
            ...            0.001, 67.5, 14.9)
            >>> e.sentence()
            'B lowers NPS by 52.6 points vs A (95% CI −54.8 to −50.4 points)'
        """
        words = metric_words(self.metric).label
        who = f"{self.scenario} " if subject else ""
        if not self.established:
            return (
                f"{who}vs {in_sentence(self.base)}: the difference in {words} is not "
                f"established: {self.interval()}"
            )
        ci = ci_text(self.metric, self.ci_low, self.ci_high, self.currency)
        return f"{self.finding(subject)[:-1]} ({ci})"

    def finding(self, subject: bool = True) -> str:
        """The effect as one short sentence with one number (the mean change); its CI is
        left to the scorecard and the notes.

        Example:
            >>> e = Effect("B", "Today", "nps", -52.6, -54.8, -50.4, -0.78, -0.81, -0.75,
            ...            0.001, 67.5, 14.9)
            >>> e.finding()
            'B lowers NPS by 52.6 points vs today.'
        """
        words = metric_words(self.metric).label
        who = f"{self.scenario} " if subject else ""
        base = in_sentence(self.base)
        if not self.established:
            return f"{who}vs {base}: no difference in {words} is established."
        verb = "raises" if self.diff > 0 else "lowers"
        size = change_text(self.metric, abs(self.diff), self.currency).lstrip("+")
        return f"{who}{verb} {words} by {size} vs {base}."


def effects_from(differences, labels: dict[str, str], currency: str = "") -> list[Effect]:
    """Effects from a `paired_differences` table (one row per scenario and metric).

    Args:
        differences: the table, with a `base` column or `base_name` given by labels["__base__"].
        labels: display name per scenario name; "__base__" maps to the base's display name.
        currency: written with money metrics.
    """
    effects = []
    for row in differences.itertuples(index=False):
        effects.append(
            Effect(
                scenario=labels.get(row.scenario, row.scenario),
                base=labels["__base__"],
                metric=row.metric,
                diff=float(row.diff),
                ci_low=float(row.ci_low),
                ci_high=float(row.ci_high),
                relative=float(row.relative),
                rel_low=float(getattr(row, "relative_ci_low", math.nan)),
                rel_high=float(getattr(row, "relative_ci_high", math.nan)),
                p_holm=float(getattr(row, "p_holm", math.nan)),
                base_mean=float(row.base_mean),
                mean=float(row.mean),
                currency=currency,
            )
        )
    return effects


def claim_words_in(text: str) -> list[str]:
    """The claim words a text uses (whole words, any case).

    Example:
        >>> claim_words_in("B raises deals; the best option")
        ['raises', 'best']
    """
    import re

    found = re.findall(r"[A-Za-z]+", text.lower())
    return [w for w in found if w in CLAIM_WORDS]

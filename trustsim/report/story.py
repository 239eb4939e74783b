"""What a deck says, computed from the results: findings, scorecard, recommendation, caveats.

Each piece is plain data (strings and rows) built from paired comparisons
(`trustsim.charts.claims`), so the words a board reads carry only what the tests
establish, and the layout code in `deck.py` never decides what is true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trustsim.charts.claims import (
    Effect,
    effects_from,
    in_sentence,
    metric_words,
    revenue_is_deals,
    value_text,
)

DEFAULT_METRICS = ("closed_deals", "short_closed_deals", "satisfaction", "nps", "revenue")
# Shown by default where every scenario gives a margin and a cost per lead.
MONEY_METRICS = ("contribution", "cost_per_deal")
MAX_FINDINGS = 3


def with_money_measures(run):
    """The run with the money measures its scenarios allow, per run:

        contribution = revenue x margin − leads x cost_per_lead
        cost_per_deal = leads x cost_per_lead / closed_deals   (CAC; NaN without deals)

    Each needs every scenario to give the market fields it uses (`market.margin`,
    `market.cost_per_lead`); otherwise the run is returned as it is.
    """
    from dataclasses import replace

    import numpy as np

    markets = {name: spec.market for name, spec in run.scenarios.items()}
    if any(m.cost_per_lead is None for m in markets.values()):
        return run
    frame = run.summaries.copy()
    cost = frame["scenario"].map({n: m.cost_per_lead for n, m in markets.items()})
    lead_cost = frame["leads"] * cost
    frame["cost_per_deal"] = lead_cost / frame["closed_deals"].replace(0, np.nan)
    if all(m.margin is not None for m in markets.values()):
        margin = frame["scenario"].map({n: m.margin for n, m in markets.items()})
        frame["contribution"] = frame["revenue"] * margin - lead_cost
    return replace(run, summaries=frame)


def default_metrics(run) -> list[str]:
    """The KPIs a deck shows unless asked: DEFAULT_METRICS the run has (revenue only where
    it is money, not a second count of deals), then the money measures it has."""
    columns = set(run.summaries.columns)
    chosen = [m for m in (*DEFAULT_METRICS, *MONEY_METRICS) if m in columns]
    if revenue_is_deals(run):
        chosen.remove("revenue")
    return chosen


@dataclass
class Story:
    """The computed content of a comparison deck.

    Attributes:
        base: display name of the base scenario (the first in the results).
        labels: display name per scenario name, base first.
        metrics: the KPIs shown, primary first.
        effects: paired effects vs the base for every scenario, KPI and driver.
        currency: written with money.
    """

    base: str
    labels: dict[str, str]
    metrics: list[str]
    effects: list[Effect]
    currency: str = ""

    def of(self, scenario: str, metric: str) -> Effect | None:
        """The effect of a scenario (display name) on a metric, if computed."""
        return next(
            (e for e in self.effects if e.scenario == scenario and e.metric == metric), None
        )


def build_story(run, metrics: list[str]) -> Story:
    """Paired effects of every scenario vs the base on the KPIs and on leads and conversion
    (the two drivers of deals: deals = leads x conversion)."""
    from trustsim.experiments.runner import paired_differences

    base = run.names[0]
    labels = {name: run.scenarios[name].display_name for name in run.names}
    tested = list(dict.fromkeys([*metrics, "leads", "conversion"]))
    table = paired_differences(run, base, tested)
    currency = run.scenarios[base].market.currency or ""
    effects = effects_from(table, {**labels, "__base__": labels[base]}, currency)
    return Story(labels[base], labels, list(metrics), effects, currency)


def _clause(effect: Effect) -> str:
    """ "NPS −52.6 points (95% CI −54.8 to −50.4 points)"."""
    return f"{metric_words(effect.metric).label} {effect.interval()}"


@dataclass
class Finding:
    """One line of the executive summary and the effect behind it (None: nothing is
    established for that scenario)."""

    text: str
    effect: Effect | None = None

    def note(self) -> str:
        """The finding with its full interval, for the speaker notes."""
        if self.effect is None:
            return self.text
        e = self.effect
        return f"{self.text} {_clause(e)}; relative change {e.relative_interval()}."


def findings(story: Story) -> list[Finding]:
    """Three short findings, each one sentence with at most one number: the strongest
    established KPI effect of each other scenario first, then where the primary KPI's
    change is not established, then each scenario's next strongest effects.

    A scenario with no established effect on any KPI is said once, without a number.
    """
    ranked = {}
    for label in list(story.labels.values())[1:]:
        kpis = [story.of(label, m) for m in story.metrics]
        sure = [e for e in kpis if e is not None and e.established]
        ranked[label] = sorted(sure, key=lambda e: -e.strength)
    chosen: list[Finding] = []
    for depth in range(len(story.metrics)):
        layer = [r[depth] for r in ranked.values() if len(r) > depth]
        chosen += [Finding(e.finding(), e) for e in sorted(layer, key=lambda e: -e.strength)]
    for label, sure in ranked.items():
        if not sure:
            kpis = ", ".join(metric_words(m).label for m in story.metrics)
            text = f"{label}: no change in {kpis} is established vs {in_sentence(story.base)}."
            chosen.append(Finding(text))
    first = [f for f in chosen if f.effect is None or f.effect is ranked[f.effect.scenario][0]]
    rest = [f for f in chosen if f not in first]
    # What is not established on the primary KPI is a finding too ("deals stay flat").
    flat = [story.of(label, story.metrics[0]) for label, sure in ranked.items() if sure]
    unsure = [Finding(e.finding()) for e in flat if e is not None and not e.established]
    return (first + unsure + rest)[:MAX_FINDINGS]


@dataclass
class Cell:
    """One scorecard cell: the mean and its CI, and whether it is the established best."""

    text: str
    best: bool = False


def scorecard(run, metrics: list[str]) -> tuple[list[str], list[list[Cell]]]:
    """Scenarios x KPIs: mean and 95% CI per cell; a KPI's best scenario marked only where
    its paired difference to every other scenario is established in its favour.

    Returns:
        (column headings, rows), each row led by the scenario's display name.
    """
    table = run.metric_table(metrics).set_index(["scenario", "metric"])
    currency = run.scenarios[run.names[0]].market.currency or ""
    best = {m: established_best(run, m) for m in metrics}
    rows = []
    for name in run.names:
        row = [Cell(run.scenarios[name].display_name)]
        for metric in metrics:
            r = table.loc[(name, metric)]
            low = value_text(metric, r.ci_low, currency)
            high = value_text(metric, r.ci_high, currency)
            text = f"{value_text(metric, r['mean'], currency)}\n({low} – {high})"
            row.append(Cell(text, best[metric] == name))
        rows.append(row)
    short = [metric_words(m).short for m in metrics]
    if currency:  # "Revenue (deal units)" is counted in the scenario's currency
        short = [h.replace("deal units", currency) for h in short]
    headings = ["Scenario", *short]
    return headings, rows


def established_best(run, metric: str) -> str | None:
    """The scenario with the best mean on `metric`, if every paired difference between
    it and each other scenario is established in its favour (Holm over the others)."""
    from trustsim.experiments.runner import paired_differences

    if len(run.names) < 2:
        return None
    means = run.summaries.groupby("scenario")[metric].mean()
    higher = metric_words(metric).higher_is_better
    top = str(means.idxmax() if higher else means.idxmin())
    pairs = effects_from(paired_differences(run, top, [metric]), {"__base__": top})
    # Each other scenario minus the top one: established and worse, for all of them.
    if all(e.established and (e.diff < 0) == higher for e in pairs):
        return top
    return None


@dataclass
class Recommendation:
    """The recommendation slide: a headline and what would have to be true."""

    headline: str
    conditions: list[str]
    effects: list[Effect]


def recommendation(story: Story, robustness_note: str) -> Recommendation:
    """Recommend the scenario with the strongest established gain on the primary KPI.

    What would have to be true: its split into conversion and leads (word of mouth
    brings most leads), the costs it carries on other KPIs, and robustness/calibration.
    """
    primary = story.metrics[0]
    words = metric_words(primary).label
    gains = [e for e in story.effects if e.metric == primary and e.established and e.better]
    if not gains:
        return Recommendation(
            f"Keep {in_sentence(story.base)} for now: no scenario is established to "
            f"improve {words}",
            [
                "A larger change or more runs would be needed to establish a gain.",
                robustness_note,
            ],
            [],
        )
    pick = max(gains, key=lambda e: e.strength)
    conditions = [
        f"Where the gain comes from: {_driver(story, pick.scenario, 'conversion')}; "
        f"{_driver(story, pick.scenario, 'leads')}."
    ]
    costs = [
        e
        for e in story.effects
        if e.scenario == pick.scenario
        and e.metric in story.metrics
        and e.established
        and not e.better
    ]
    if costs:
        conditions.append("It costs: " + "; ".join(_clause(e) for e in costs) + ".")
    else:
        conditions.append("No KPI shown is established to get worse.")
    conditions.append(robustness_note)
    headline = f"Recommendation: {pick.scenario}, which {pick.sentence(subject=False)}"
    return Recommendation(headline, conditions, [pick, *costs])


def _driver(story: Story, scenario: str, metric: str) -> str:
    effect = story.of(scenario, metric)
    if effect is None:
        return f"{metric_words(metric).label} not measured"
    verdict = "" if effect.established else ", not established"
    return f"{metric_words(metric).label} {effect.interval()}{verdict}"


def caveats(run) -> list[str]:
    """What is assumed and what is fitted, with this run's numbers."""
    spec = run.scenarios[run.names[0]]
    n = run.replications
    money_note = _money_note(run)
    return [
        "A simulation, not an observation: buyers follow the behavioural rules and defaults "
        "described in docs/ODD.md; nothing here is fitted to this client's data.",
        f"{n} runs per scenario, paired on the same random numbers; numbers are means with "
        "95% confidence intervals of the mean.",
        "A difference is called established only where its paired 95% CI excludes zero and "
        "a Holm-adjusted signed-rank test agrees (p < 0.05).",
        f"Horizon {spec.time.steps} {spec.time.step_unit}s (short horizon "
        f"{spec.time.short_horizon}); a market of {spec.market.size:,} potential buyers.",
        _visit_note(spec),
        money_note,
    ]


def _visit_note(spec) -> str:
    """How long a stage visit lasts (assumed), and what it means for the short horizon."""
    days = sorted({stage.duration for stage in spec.stages.values()})
    length = f"{days[0]:g}" if len(days) == 1 else f"{days[0]:g}-{days[-1]:g}"
    length += " day" if days == [1.0] else " days"
    unit, first = spec.time.step_unit, spec.earliest_close_step()
    note = (
        f"Each stage visit lasts {length} (an assumption, docs/ODD.md 9.11), so a "
        f"deal closes in {unit} {first} at the earliest"
    )
    if first > spec.time.short_horizon:
        return note + ": after the short horizon, so short-horizon results are 0 by construction."
    return note + "; longer visits would leave fewer deals inside the short horizon."


def _money_note(run) -> str:
    """How money is counted, or why it is not shown."""
    market = run.scenarios[run.names[0]].market
    if revenue_is_deals(run):
        return (
            "No money is shown: the scenarios give no deal value or currency, so revenue "
            "would only count deals again (set market.deal_value and market.currency)."
        )
    per_deal = value_text("revenue", market.deal_value, market.currency)
    note = f"Revenue is closed deals x deal value ({per_deal} per deal)"
    if "cost_per_deal" in run.summaries.columns:
        note += (
            f"; cost per deal (CAC) is leads x cost per lead "
            f"({value_text('revenue', market.cost_per_lead, market.currency)}) / deals"
        )
    if "contribution" in run.summaries.columns:
        note += f"; contribution is revenue x margin ({100 * market.margin:.0f}%) − lead cost"
    return note + ". Costs and margins are the scenario's inputs, not simulated."


def scenario_changes(run) -> list[tuple[str, list[list[str]]]]:
    """Per other scenario: what it changes from the base, in plain words.

    Rows: what the setting means (from the field reference), base value, this value.
    """
    from trustsim.scenarios.reference import generic_path, schema_field

    base_name = run.names[0]
    base = _flat(run.scenarios[base_name].model_dump(exclude={"name", "label", "description"}))
    tables = []
    for name in run.names[1:]:
        spec = run.scenarios[name]
        flat = _flat(spec.model_dump(exclude={"name", "label", "description"}))
        rows = [["What changes", run.scenarios[base_name].display_name, spec.display_name]]
        for path in sorted(set(base) | set(flat)):
            old, new = base.get(path), flat.get(path)
            if old == new or path.endswith(".label"):
                continue  # a display name changes no behaviour
            try:
                meaning = schema_field(generic_path(path)).doc.meaning
            except KeyError:
                meaning = path
            plain = meaning.rstrip(".")
            if path.startswith(("stages.", "segments.")):
                plain += f" ({_member_label(run, path)})"
            rows.append([plain, _plain(old), _plain(new)])
        tables.append((spec.display_name, rows))
    return tables


def _member_label(run, path: str) -> str:
    """The display name of the stage or segment a path names, from the first scenario
    that has it."""
    table, member = path.split(".")[:2]
    for spec in run.scenarios.values():
        if table == "stages" and member in spec.stages:
            return spec.stage_label(member)
        if table == "segments" and member in spec.segments:
            return spec.segment_label(member)
    return member


def _flat(data, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, path + "."))
        else:
            out[path] = value
    return out


def _plain(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and not math.isnan(value):
        return f"{value:g}"
    return str(value)

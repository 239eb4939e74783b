"""What a deck says, computed from the results: findings, scorecard, recommendation, caveats.

Each piece is plain data (strings and rows) built from paired comparisons
(`trustsim.charts.claims`), so the words a board reads carry only what the tests
establish, and the layout code in `deck.py` never decides what is true.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from trustsim.charts.claims import Effect, effects_from, metric_words, value_text

DEFAULT_METRICS = ("closed_deals", "short_closed_deals", "satisfaction", "nps", "revenue")
MAX_FINDINGS = 3


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


def findings(story: Story) -> list[str]:
    """Up to three findings, one per other scenario, strongest established effect first.

    Each lists the scenario's established changes vs the base on the KPIs and names the
    KPIs where no change is established.
    """
    per_scenario = []
    for label in list(story.labels.values())[1:]:
        kpis = [story.of(label, m) for m in story.metrics]
        kpis = [e for e in kpis if e is not None]
        sure = sorted((e for e in kpis if e.established), key=lambda e: -e.strength)
        unsure = [metric_words(e.metric).label for e in kpis if not e.established]
        if sure:
            text = f"{label} vs {story.base}: " + "; ".join(_clause(e) for e in sure[:3])
        else:
            text = f"{label} vs {story.base}: no change is established on any KPI"
        if unsure:
            text += f". Not established: {', '.join(unsure)}"
        per_scenario.append((max((e.strength for e in sure), default=0.0), text + "."))
    per_scenario.sort(key=lambda pair: -pair[0])
    return [text for _, text in per_scenario[:MAX_FINDINGS]]


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
    headings = ["Scenario", *(metric_words(m).short for m in metrics)]
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
            f"Keep {story.base} for now: no scenario is established to improve {words}",
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
    headline = f"Recommend {pick.scenario}: it {pick.sentence(subject=False)}"
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
    money_note = (
        f"Revenue is closed deals x deal value ({value_text('revenue', spec.market.deal_value)}"
        f" {spec.market.currency or 'deal units'} per deal)."
    )
    return [
        "A simulation, not an observation: buyers follow the behavioural rules and defaults "
        "described in docs/ODD.md; nothing here is fitted to this client's data.",
        f"{n} runs per scenario, paired on the same random numbers; numbers are means with "
        "95% confidence intervals of the mean.",
        "A difference is called established only where its paired 95% CI excludes zero and "
        "a Holm-adjusted signed-rank test agrees (p < 0.05).",
        f"Horizon {spec.time.steps} {spec.time.step_unit}s (short horizon "
        f"{spec.time.short_horizon}); a market of {spec.market.size:,} potential buyers.",
        money_note,
    ]


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
            if old == new:
                continue
            try:
                meaning = schema_field(generic_path(path)).doc.meaning
            except KeyError:
                meaning = path
            where = path.split(".")[1] if path.startswith(("stages.", "segments.")) else ""
            plain = f"{meaning.rstrip('.')} ({where})" if where else meaning.rstrip(".")
            rows.append([plain, _plain(old), _plain(new)])
        tables.append((spec.display_name, rows))
    return tables


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

"""Scenario comparison: a dot and its 95% CI per scenario, or the paired difference to a base."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trustsim import metrics
from trustsim.charts import claims
from trustsim.charts.base import Chart, figure_note, finish, new_figure, note, number
from trustsim.charts.markets import by_market, market_panels, markets_sentence, panel_title
from trustsim.charts.style import LIGHT_GREY, TEXT, scenario_color, wrap_title

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult


def metric_words(metric: str) -> str:
    """The metric's name in a sentence ("closed deals")."""
    return claims.metric_words(metric).label


def scenario_columns(run: RunResult, names) -> dict[str, list]:
    """Display name and colour for each scenario name (a column each in chart data)."""
    position = {name: i for i, name in enumerate(run.names)}
    return {
        "label": [run.scenarios[n].display_name for n in names],
        "color": [scenario_color(position[n]) for n in names],
    }


def comparison_data(run: RunResult, metric: str = "closed_deals") -> pd.DataFrame:
    """Mean and 95% CI of `metric` per scenario, with the paired difference to the base.

    Columns: scenario, label, color, mean, ci_low, ci_high, n, metric, base, base_label,
    and, for scenarios other than the base (the first), the `paired_differences` columns
    prefixed `vs_base_` (diff, ci_low, ci_high, relative, relative_ci_low,
    relative_ci_high, p_holm). Results of several markets (`markets.by_market`) add a
    `market` column, and each scenario's base is the first scenario of its market.

    Example:
        >>> import trustsim
        >>> run = trustsim.run(["real-estate"], replications=2, steps=5)
        >>> comparison_data(run)["scenario"].tolist()
        ['real-estate']
    """
    import pandas as pd

    _check_metric(run, metric)
    parts = by_market(run)
    if len(parts) == 1:
        return _market_comparison(run, metric)
    frames = [_market_comparison(part, metric).assign(market=m.label) for m, part in parts]
    table = pd.concat(frames, ignore_index=True)
    # Colours follow the position in the whole results, so no two scenarios share one.
    return table.assign(**scenario_columns(run, table["scenario"]))


def _market_comparison(run: RunResult, metric: str) -> pd.DataFrame:
    """`comparison_data` of the scenarios of one market."""
    from trustsim.experiments.runner import paired_differences

    table = run.metric_table([metric]).drop(columns="metric").assign(metric=metric)
    table = table.assign(**scenario_columns(run, table["scenario"]))
    base = run.names[0]
    table = table.assign(base=base, base_label=run.scenarios[base].display_name)
    if len(run.names) < 2:
        return table
    pairs = paired_differences(run, base, [metric])[PAIRED_COLUMNS]
    pairs = pairs.rename(columns={c: f"vs_base_{c}" for c in PAIRED_COLUMNS[1:]})
    return table.merge(pairs, on="scenario", how="left")


def pair_columns(run: RunResult, metric: str, prefix: str) -> pd.DataFrame:
    """Paired differences of `metric` to the base (the first scenario), one row per other
    scenario, columns PAIRED_COLUMNS with `prefix` (scenario kept as is)."""
    from trustsim.experiments.runner import paired_differences

    pairs = paired_differences(run, run.names[0], [metric])[[*PAIRED_COLUMNS, "mean"]]
    return pairs.rename(columns={c: f"{prefix}{c}" for c in [*PAIRED_COLUMNS[1:], "mean"]})


def effects_with_prefix(rows: pd.DataFrame, prefix: str, metric: str) -> list[claims.Effect]:
    """Effects from one row per scenario holding `prefix`-ed paired columns (the base's
    row, with NaN there, is skipped)."""
    import pandas as pd

    others = rows[rows[f"{prefix}diff"].notna()]
    table = pd.DataFrame({c: others[f"{prefix}{c}"] for c in [*PAIRED_COLUMNS[1:], "mean"]})
    table = table.assign(scenario=others["scenario"], metric=metric)
    labels = dict(zip(rows["scenario"], rows["label"], strict=True))
    labels["__base__"] = str(rows["base_label"].iloc[0])
    return claims.effects_from(table, labels)


PAIRED_COLUMNS = [
    "scenario",
    "diff",
    "ci_low",
    "ci_high",
    "relative",
    "relative_ci_low",
    "relative_ci_high",
    "p_holm",
    "base_mean",
]


def comparison_effects(rows: pd.DataFrame) -> list[claims.Effect]:
    """The paired effects vs the base stored in comparison data (none for one scenario),
    each against the base of its own market."""
    if "vs_base_diff" not in rows.columns:
        return []
    import pandas as pd

    effects = []
    for _, group in rows.groupby("base", sort=False):
        others = group[group["scenario"] != group["base"]]
        table = pd.DataFrame({c: others[f"vs_base_{c}"] for c in PAIRED_COLUMNS[1:]})
        table = table.assign(
            scenario=others["scenario"], metric=others["metric"], mean=others["mean"]
        )
        labels = dict(zip(group["scenario"], group["label"], strict=True))
        labels["__base__"] = str(group["base_label"].iloc[0])
        effects += claims.effects_from(table, labels)
    return effects


def headline_effect(effects: list[claims.Effect]) -> claims.Effect:
    """The effect a title leads with: the strongest established one in the good
    direction, else the strongest established one, else the strongest of all."""
    good = [e for e in effects if e.established and e.better]
    pool = good or [e for e in effects if e.established] or effects
    return max(pool, key=lambda e: e.strength)


def comparison_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Dot and 95% CI per scenario, each in its colour; the title compares with the base.

    Data of several markets (a `market` column) is drawn one panel per market, side by
    side, each on its own axis and titled with its market.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"scenario": ["a"], "label": ["A"], "color": ["#4D4D4D"],
        ...     "metric": "closed_deals", "base": "a", "base_label": "A",
        ...     "mean": [10.0], "ci_low": [9.0], "ci_high": [11.0], "n": 5})
        >>> comparison_chart(data).title
        'A: 10.0 closed deals on average (95% CI 9.00–11.0)'
    """
    metric = str(data["metric"].iloc[0])
    words = metric_words(metric)
    rows = data.reset_index(drop=True)
    panels = market_panels(rows)
    fig, axes = new_figure(ncols=len(panels))
    marks = f"Dot: mean of {int(rows['n'].max())} runs; line: 95% CI of the mean"
    for ax, (market, frame) in zip(np.atleast_1d(axes), panels, strict=True):
        _comparison_panel(ax, frame.reset_index(drop=True), metric)
        if market is None:
            note(ax, marks)
        else:
            panel_title(ax, market)
    if len(panels) > 1:
        figure_note(fig, marks)
        # A panel's numbers end where the next panel's scenario names begin, and the last
        # ones at the figure's edge: keep a gap and some slack for the layout.
        fig.get_layout_engine().set(wspace=0.08, w_pad=0.1)
    effects = comparison_effects(rows)
    if not effects:
        title, takeaway = _comparison_without_effects(rows, words)
    else:
        lead = headline_effect(effects)
        title = lead.sentence()
        takeaway = (
            f"Each scenario is compared with {claims.in_sentence(lead.base)} on the same "
            "random numbers (paired runs); the paired 95% CI decides, not the overlap of "
            "the lines above. "
            f"{lead.scenario}, relative change: {lead.relative_interval()}."
        )
        if len(panels) > 1:
            takeaway = (
                "Each scenario is compared with the base of its market on the same random "
                "numbers (paired runs); the paired 95% CI decides, not the overlap of the "
                f"lines. {lead.scenario}, relative change: {lead.relative_interval()}. "
                + markets_sentence([market for market, _ in panels])
            )
    finish(fig, title, with_title)
    return Chart("comparison", title, takeaway, fig, rows, "95% CI of the mean", effects=effects)


def _comparison_panel(ax, rows: pd.DataFrame, metric: str) -> None:
    """The dots and 95% CIs of the scenarios of one market."""
    for i, row in rows.iterrows():
        ax.plot([row.ci_low, row.ci_high], [i, i], color=row.color, lw=4, solid_capstyle="round")
        ax.plot(row["mean"], i, "o", color=row.color, ms=13)
        ax.annotate(
            f"{number(row['mean'])}  ({number(row.ci_low)}–{number(row.ci_high)})",
            (row.ci_high, i),
            xytext=(10, 0),
            textcoords="offset points",
            va="center",
            color=TEXT,
            fontsize=14,
        )
    _scenario_axis(ax, rows)
    ax.set_xlabel(_axis_label(metric))
    ax.margins(x=0.35)


def _comparison_without_effects(rows: pd.DataFrame, words: str) -> tuple[str, str]:
    """Title and takeaway where no scenario has a base to be compared with: one scenario,
    or one scenario in each of several markets."""
    if "market" not in rows.columns or rows["market"].nunique() < 2:
        r = rows.iloc[0]
        title = (
            f"{r.label}: {number(r['mean'])} {words} on average "
            f"(95% CI {number(r.ci_low)}–{number(r.ci_high)})"
        )
        return title, f"One scenario: {words} with its 95% CI over {int(r.n)} runs."
    each = "; ".join(f"{r.label} {number(r.mean)} ({r.market})" for r in rows.itertuples())
    title = f"{words.capitalize()} on average, one market each: {each}"
    takeaway = f"{words.capitalize()} with its 95% CI over {int(rows['n'].max())} runs. " + (
        markets_sentence(list(dict.fromkeys(rows["market"])))
    )
    return title, takeaway


def difference_data(
    run: RunResult,
    base: str | None = None,
    metric: str = "closed_deals",
    differences: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Paired differences of `metric` to `base` (columns as `paired_differences`, plus base).

    Uses a stored differences table when it was computed against the same base.
    """
    from trustsim.errors import TrustsimInputError
    from trustsim.experiments.runner import paired_differences

    _check_metric(run, metric)
    base = base or run.names[0]
    if base not in run.names:
        raise TrustsimInputError(
            f"--base {base!r} is not in these results; scenarios: {', '.join(run.names)}."
        )
    if len(run.names) < 2:
        raise TrustsimInputError("a difference chart needs at least two scenarios.")
    stored = (
        differences is not None and base == run.names[0] and metric in set(differences["metric"])
    )
    table = differences if stored else paired_differences(run, base, [metric])
    rows = table[table["metric"] == metric].reset_index(drop=True)
    rows = rows.assign(**scenario_columns(run, rows["scenario"]))
    spec = run.scenarios[base]
    return rows.assign(
        base=base,
        base_label=spec.display_name,
        n=run.replications,
        currency=spec.market.currency,
    )


def difference_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Paired difference to the base with 95% CI, each scenario in its colour; a filled
    dot where the difference is established, a hollow one where it is not.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"scenario": ["b"], "label": ["B"], "color": ["#0072B2"],
        ...     "metric": "closed_deals", "base": "a", "base_label": "A",
        ...     "base_mean": [50.0], "mean": [59.0], "diff": [9.0], "ci_low": [6.0],
        ...     "ci_high": [12.0], "relative": [0.18], "relative_ci_low": [0.12],
        ...     "relative_ci_high": [0.24], "p_value": [0.01], "p_holm": [0.01], "n": 10})
        >>> difference_chart(data).title
        'B raises closed deals by 9.00 vs A (95% CI +6.00 to +12.0)'
    """
    metric = str(data["metric"].iloc[0])
    words = metric_words(metric)
    rows = data.reset_index(drop=True)
    labels = dict(zip(rows["scenario"], rows["label"], strict=True))
    labels["__base__"] = str(rows["base_label"].iloc[0])
    currency = str(rows["currency"].iloc[0]) if "currency" in rows.columns else ""
    effects = claims.effects_from(rows, labels, currency)
    fig, ax = new_figure()
    ax.axvline(0, color=LIGHT_GREY, lw=2, zorder=0)
    for i, (row, effect) in enumerate(zip(rows.itertuples(), effects, strict=True)):
        ax.plot([row.ci_low, row.ci_high], [i, i], color=row.color, lw=4, solid_capstyle="round")
        face = row.color if effect.established else "white"
        ax.plot(row.diff, i, "o", color=row.color, mfc=face, mew=3, ms=13)
        ax.annotate(
            claims.change_text(metric, row.diff, currency),
            (max(row.ci_high, 0), i),
            xytext=(10, 0),
            textcoords="offset points",
            va="center",
            fontsize=14,
            color=TEXT,
        )
    _scenario_axis(ax, rows)
    ax.set_xlabel(
        wrap_title(f"Difference in {words} vs {claims.in_sentence(labels['__base__'])}", 60)
    )
    ax.margins(x=0.35, y=0.3 if len(rows) == 1 else 0.1)
    note(
        ax,
        f"Dot: mean paired difference over {int(rows['n'].max())} runs; line: 95% CI; "
        "hollow: not established",
    )
    lead = headline_effect(effects)
    title = lead.sentence()
    takeaway = (
        f"{lead.scenario}, relative change: {lead.relative_interval()}. Established means "
        "the paired 95% CI excludes zero and the Holm-adjusted test agrees."
    )
    finish(fig, title, with_title)
    return Chart(
        "difference",
        title,
        takeaway,
        fig,
        rows,
        "95% CI of the mean paired difference",
        effects=effects,
    )


def _scenario_axis(ax, rows: pd.DataFrame) -> None:
    """Scenario display names on the y axis, wrapped, each in its colour."""
    from trustsim.charts.style import wrap_title

    ax.set_yticks(range(len(rows)), [wrap_title(str(t), 22) for t in rows["label"]])
    for tick, color in zip(ax.get_yticklabels(), rows["color"], strict=True):
        tick.set_color(color)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)


def _axis_label(metric: str) -> str:
    return metrics.label(metric)


def _check_metric(run: RunResult, metric: str) -> None:
    from trustsim.errors import TrustsimInputError

    if metric not in run.summaries.columns:
        choices = ", ".join(c for c in claims.KNOWN_METRICS if c in run.summaries.columns)
        raise TrustsimInputError(f"--metric {metric!r} is not a run measure; try {choices}.")

"""Scenario comparison: a dot and its 95% CI per scenario, or the paired difference to a base."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustsim.charts.base import Chart, finish, new_figure, note, number, percent, signed
from trustsim.charts.style import GREY, HIGHLIGHT, LIGHT_GREY, TEXT
from trustsim.model import metrics

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult


def metric_words(metric: str) -> str:
    return metrics.words(metric)


def comparison_data(run: RunResult, metric: str = "closed_deals") -> pd.DataFrame:
    """Mean and 95% CI of `metric` per scenario (columns scenario, mean, ci_low, ci_high, n).

    Example:
        >>> import trustsim
        >>> run = trustsim.run(["real-estate"], replications=2, steps=5)
        >>> comparison_data(run)["scenario"].tolist()
        ['real-estate']
    """
    _check_metric(run, metric)
    table = run.metric_table([metric])
    return table.drop(columns="metric").assign(metric=metric)


def comparison_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Dot and 95% CI per scenario; the best scenario highlighted, its value in the title.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"scenario": ["a", "b"], "metric": "closed_deals",
        ...     "mean": [10.0, 12.0], "ci_low": [9.0, 11.0], "ci_high": [11.0, 13.0], "n": 5})
        >>> comparison_chart(data).title.startswith("b")
        True
    """
    metric = str(data["metric"].iloc[0])
    words = metric_words(metric)
    rows = data.reset_index(drop=True)
    best = _best_index(rows["mean"], metric)
    worst = _best_index(rows["mean"], metric, worst=True)
    fig, ax = new_figure()
    for i, row in rows.iterrows():
        color = HIGHLIGHT if i == best else GREY
        ax.plot([row.ci_low, row.ci_high], [i, i], color=color, lw=4, solid_capstyle="round")
        ax.plot(row["mean"], i, "o", color=color, ms=13)
        ax.annotate(
            f"{number(row['mean'])}  ({number(row.ci_low)}–{number(row.ci_high)})",
            (row.ci_high, i),
            xytext=(10, 0),
            textcoords="offset points",
            va="center",
            color=color if i == best else TEXT,
            fontsize=14,
        )
    _scenario_axis(ax, rows["scenario"], best)
    ax.set_xlabel(_axis_label(metric))
    ax.margins(x=0.35)
    note(ax, f"Dot: mean of {int(rows['n'].max())} runs; line: 95% CI of the mean")
    b, w = rows.loc[best], rows.loc[worst]
    verb = "most" if metrics.higher_is_better(metric) else "lowest"
    title = (
        f"{b.scenario} has the {verb} {words}: {number(b['mean'])} "
        f"(95% CI {number(b.ci_low)}–{number(b.ci_high)})"
    )
    if len(rows) > 1:
        title += f" vs {number(w['mean'])} for {w.scenario}"
    takeaway = (
        f"{b.scenario}: {number(b['mean'])} {words} on average. "
        f"The lines are 95% confidence intervals of the mean over {int(rows['n'].max())} runs; "
        "where they overlap, the difference is not established."
    )
    finish(fig, title, with_title)
    return Chart("comparison", title, takeaway, fig, rows, "95% CI of the mean")


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
    stored = differences is not None and base == run.names[0]
    table = differences if stored else paired_differences(run, base, [metric])
    rows = table[table["metric"] == metric].reset_index(drop=True)
    return rows.assign(base=base, n=run.replications)


def difference_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Paired difference to the base with 95% CI; the largest gain highlighted.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"scenario": ["b"], "metric": "closed_deals", "base": "a",
        ...     "base_mean": [50.0], "mean": [59.0], "diff": [9.0], "ci_low": [6.0],
        ...     "ci_high": [12.0], "relative": [0.18], "p_value": [0.01], "n": 10})
        >>> difference_chart(data).title
        'b adds 18% closed deals vs a: +9.00 (95% CI +6.00 to +12.0)'
    """
    metric, base = str(data["metric"].iloc[0]), str(data["base"].iloc[0])
    words = metric_words(metric)
    rows = data.reset_index(drop=True)
    best = _best_index(rows["diff"], metric)
    fig, ax = new_figure()
    ax.axvline(0, color=LIGHT_GREY, lw=2, zorder=0)
    for i, row in rows.iterrows():
        color = HIGHLIGHT if i == best else GREY
        ax.plot([row.ci_low, row.ci_high], [i, i], color=color, lw=4, solid_capstyle="round")
        ax.plot(row["diff"], i, "o", color=color, ms=13)
        ax.annotate(
            f"{signed(row['diff'])}  ({percent(row.relative, True)})",
            (max(row.ci_high, 0), i),
            xytext=(10, 0),
            textcoords="offset points",
            va="center",
            fontsize=14,
            color=color if i == best else TEXT,
        )
    _scenario_axis(ax, rows["scenario"], best)
    ax.set_xlabel(f"Difference in {words} vs {base}")
    ax.margins(x=0.35, y=0.3 if len(rows) == 1 else 0.1)
    note(ax, f"Dot: mean paired difference over {int(rows['n'].max())} runs; line: 95% CI")
    b = rows.loc[best]
    title = _difference_title(b, words, base)
    significant = b.ci_low > 0 or b.ci_high < 0
    takeaway = (
        f"Against {base}, {b.scenario} changes {words} by {signed(b['diff'])} per run "
        f"({percent(b.relative, True)}). Runs are paired on the same random numbers; "
        + ("the 95% CI excludes zero." if significant else "the 95% CI includes zero.")
    )
    finish(fig, title, with_title)
    return Chart("difference", title, takeaway, fig, rows, "95% CI of the mean paired difference")


def _difference_title(row, words: str, base: str) -> str:
    verb = "adds" if row["diff"] >= 0 else "costs"
    ci = f"95% CI {signed(row.ci_low)} to {signed(row.ci_high)}"
    return (
        f"{row.scenario} {verb} {percent(abs(row.relative))} {words} vs {base}: "
        f"{signed(row['diff'])} ({ci})"
    )


def _best_index(values, metric: str, worst: bool = False) -> int:
    lower = (not metrics.higher_is_better(metric)) != worst
    series = values.reset_index(drop=True)
    return int(series.idxmin() if lower else series.idxmax())


def _scenario_axis(ax, names, best: int) -> None:
    ax.set_yticks(range(len(names)), list(names))
    for i, tick in enumerate(ax.get_yticklabels()):
        tick.set_color(HIGHLIGHT if i == best else TEXT)
        tick.set_fontweight("bold" if i == best else "normal")
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)


def _axis_label(metric: str) -> str:
    return metrics.label(metric)


def _check_metric(run: RunResult, metric: str) -> None:
    from trustsim.errors import TrustsimInputError

    if metric not in run.summaries.columns:
        choices = ", ".join(c for c in metrics.HEADLINE if c in run.summaries.columns)
        raise TrustsimInputError(f"--metric {metric!r} is not a run measure; try {choices}.")

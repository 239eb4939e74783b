"""Charts of robustness studies, as `<kind>_data` + `<kind>_chart` pairs (trustsim.charts).

- robustness: per conclusion, the share of plausible worlds where it holds (bar, with the
  Wilson 95% CI) and where it is established (the darker part of the bar);
- discovery: PRIM's peeling trajectory (coverage against density, the chosen box marked)
  and the chosen box's limits on each factor's plausible range.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustsim.charts.base import Chart, figure_note, finish, new_figure, note, percent
from trustsim.charts.style import GREY, HIGHLIGHT, LIGHT_GREY, TEXT, chart_style

if TYPE_CHECKING:
    import pandas as pd

ROBUST = 0.8  # a conclusion holding in at least this share of worlds is called robust


def share(value: float) -> str:
    """A share of worlds as a percentage that never rounds a failure away.

    Example:
        >>> share(0.996), share(1.0), share(0.003), share(0.87)
        ('over 99%', '100%', 'under 1%', '87%')
    """
    if 0.99 < value < 1:
        return "over 99%"
    if 0 < value < 0.01:
        return "under 1%"
    return percent(value)


def robustness_data(table: pd.DataFrame) -> pd.DataFrame:
    """robustness.csv's rows, least robust first (the order they are drawn, bottom up)."""
    return table.sort_values("share_holding", ascending=False).reset_index(drop=True)


def robustness_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Share of plausible worlds where each conclusion holds and where it is established.

    Example:
        >>> import pandas as pd
        >>> data = robustness_data(pd.DataFrame({"scenario": ["b", "b"],
        ...     "metric": ["nps", "revenue"], "conclusion": ["b raises NPS vs a",
        ...     "b lowers revenue vs a"], "share_holding": [0.9, 0.4], "ci_low": [0.8, 0.3],
        ...     "ci_high": [0.95, 0.5], "share_established": [0.7, 0.1]}))
        >>> robustness_chart(data).title
        '1 of 2 conclusions holds in at least 80% of plausible worlds'
    """
    rows = data.reset_index(drop=True)
    robust = int((rows["share_holding"] >= ROBUST).sum())
    verb = "holds" if robust == 1 else "hold"
    title = (
        f"{robust} of {len(rows)} conclusions {verb} in at least {ROBUST:.0%} of plausible worlds"
    )
    with chart_style():
        fig, ax = new_figure()
        for i, row in rows.iterrows():
            y = len(rows) - 1 - i
            color = HIGHLIGHT if row.share_holding >= ROBUST else GREY
            ax.barh(y, row.share_holding, color=LIGHT_GREY if color == GREY else "#A6CBE6")
            ax.barh(y, row.share_established, color=color)
            ax.plot([row.ci_low, row.ci_high], [y, y], color=TEXT, lw=2)
            label = share(row.share_holding)
            ax.annotate(label, (row.ci_high, y), xytext=(8, 0), textcoords="offset points",
                        va="center", fontsize=14, color=TEXT)  # fmt: skip
        labels = [_label(text) for text in reversed(rows["conclusion"].tolist())]
        ax.set_yticks(range(len(rows)), labels, fontsize=14)
        ax.set_xlim(0, 1.12)
        ax.axvline(ROBUST, color=GREY, lw=1, ls="--")
        ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
        ax.set_xlabel("Share of plausible worlds")
        base = rows["conclusion"].iloc[0].rsplit(" vs ", 1)[-1]
        figure_note(fig, f"Against {base}. Bar: share where the conclusion holds (line: 95% "
                    "CI); dark part: where it is established (paired CI excludes 0)")  # fmt: skip
        finish(fig, title, with_title)
    worst = rows.iloc[-1]
    takeaway = (
        f"Weakest: {worst.conclusion} holds in {share(worst.share_holding)} of the "
        "plausible worlds sampled."
    )
    return Chart("robustness", title, takeaway, fig, rows, "Wilson 95% CI of a share")


def _label(conclusion: str) -> str:
    """A conclusion without its base (said once, below the chart)."""
    return conclusion.rsplit(" vs ", 1)[0]


def discovery_chart(trajectory: pd.DataFrame, box: pd.DataFrame, reading: str,
                    with_title: bool = True) -> Chart:  # fmt: skip
    """Peeling trajectory (left) and the chosen box's limits per factor (right).

    `trajectory` has coverage, density, chosen; `box` has factor, low, high, range_low,
    range_high, restricted (the `boxes.csv` rows of PRIM).
    """
    import pandas as pd

    restricted = box[box["restricted"]].reset_index(drop=True)
    with chart_style():
        fig, (left, right) = new_figure(ncols=2)
        left.plot(trajectory["coverage"], trajectory["density"], "o-", color=GREY, ms=5)
        chosen = trajectory[trajectory["chosen"]]
        left.plot(chosen["coverage"], chosen["density"], "o", color=HIGHLIGHT, ms=14)
        left.set_xlabel("Coverage")
        left.set_ylabel("Density")
        left.set_xlim(0, 1.05)
        left.set_ylim(0, 1.05)
        note(left, "Peeling trajectory; blue: chosen box")
        for i, row in restricted.iterrows():
            width = row.range_high - row.range_low
            lo, hi = (row.low - row.range_low) / width, (row.high - row.range_low) / width
            right.barh(i, 1.0, color=LIGHT_GREY)
            right.barh(i, hi - lo, left=lo, color=HIGHLIGHT)
        right.set_yticks(range(len(restricted)), restricted["factor"].tolist(), fontsize=14)
        right.set_xlim(0, 1)
        right.set_xticks([0, 1], ["low", "high"])
        note(right, "Box limits on each plausible range")
        finish(fig, reading, with_title)
    data = pd.concat([trajectory.assign(part="trajectory"), box.assign(part="box")])
    return Chart("discovery", reading, reading, fig, data, "none (a region of the sample)")

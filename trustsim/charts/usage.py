"""Usage is not value: how often each feature is used next to what removing it costs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trustsim.charts.base import (
    Chart,
    figure_note,
    finish,
    left_out,
    new_figure,
    percent,
    signed,
)
from trustsim.charts.style import GREY, HIGHLIGHT, LIGHT_GREY, TEXT

if TYPE_CHECKING:
    import pandas as pd

MAX_ROWS = 10


def usage_data(features: pd.DataFrame) -> pd.DataFrame:
    """The feature table with the costs as shares of the full offer, the most costly first.

    The shares and their intervals are the relative changes with their own (Fieller)
    intervals, so a cost never reaches beyond 100% of the full offer. Keeps at most
    MAX_ROWS features (by cost in closed deals), so labels stay readable; the column
    `features_total` keeps how many there were, so the chart can say what it leaves out.
    """
    data = features.copy()
    for metric in ("closed_deals", "satisfaction"):
        data[f"{metric}_change_share"] = data[f"{metric}_relative"]
        data[f"{metric}_ci_low_share"] = data[f"{metric}_relative_ci_low"]
        data[f"{metric}_ci_high_share"] = data[f"{metric}_relative_ci_high"]
    data = data.sort_values("closed_deals_change", kind="stable").head(MAX_ROWS)
    return data.assign(features_total=len(features)).reset_index(drop=True)


def most_undervalued(data: pd.DataFrame) -> int:
    """The feature that is used least among those whose removal surely costs closed deals
    (95% CI below zero); the most costly one if none is sure."""
    sure = data[data["closed_deals_ci_high"] < 0]
    if len(sure):
        return int(sure["usage"].idxmin())
    return int(data["closed_deals_change"].idxmin())


def usage_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Three panels sharing the feature axis: usage, closed-deal cost, satisfaction cost.

    Example:
        >>> import pandas as pd
        >>> row = dict(feature="payment verification", usage=0.2, usage_ci_low=0.15,
        ...   usage_ci_high=0.25, closed_deals_base=100.0, closed_deals_change=-10.0,
        ...   closed_deals_ci_low=-14.0, closed_deals_ci_high=-6.0, satisfaction_base=0.8,
        ...   satisfaction_change=-0.01, satisfaction_ci_low=-0.02, satisfaction_ci_high=0.0,
        ...   closed_deals_relative=-0.1, closed_deals_relative_ci_low=-0.14,
        ...   closed_deals_relative_ci_high=-0.06, satisfaction_relative=-0.0125,
        ...   satisfaction_relative_ci_low=-0.025, satisfaction_relative_ci_high=0.0, n=5)
        >>> usage_chart(usage_data(pd.DataFrame([row]))).title.split(",")[0]
        'Payment verification is used in 20% of choices'
    """
    rows = data.reset_index(drop=True)
    pick = most_undervalued(rows)
    fig, (ax_use, ax_deals, ax_sat) = new_figure(ncols=3, sharey=True)
    y = np.arange(len(rows))
    colors = [HIGHLIGHT if i == pick else GREY for i in y]
    ax_use.barh(y, rows["usage"] * 100, color=[HIGHLIGHT if i == pick else LIGHT_GREY for i in y])
    _whiskers(
        ax_use, rows["usage"] * 100, rows["usage_ci_low"] * 100, rows["usage_ci_high"] * 100, y
    )
    ax_use.set_xlim(0, 100)
    ax_use.set_xlabel("% of choices")
    _panel(ax_deals, rows, "closed_deals", y, colors, "% change")
    _panel(ax_sat, rows, "satisfaction", y, colors, "% change")
    ax_use.set_yticks(y, [str(f).replace("_", " ") for f in rows["feature"]])
    ax_use.invert_yaxis()
    for i, tick in enumerate(ax_use.get_yticklabels()):
        tick.set_color(HIGHLIGHT if i == pick else TEXT)
        tick.set_fontweight("bold" if i == pick else "normal")
    heads = ("How often used", "Deals without it", "Satisfaction")
    for ax, head in zip((ax_use, ax_deals, ax_sat), heads, strict=True):
        ax.set_title(head, loc="left", fontsize=15, fontweight="bold")
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
    n = int(rows["n"].max()) if "n" in rows else None
    runs = f"{n} paired runs" if n else "paired runs"
    total = int(rows["features_total"].iloc[0]) if "features_total" in rows else len(rows)
    hidden = left_out(total - len(rows), "features", "with smaller effects", "features.csv")
    figure_note(
        fig,
        f"Means over {runs}; change: without the feature vs the full offer; whiskers: 95% "
        "CI of the mean (usage) and of the paired difference (change)"
        + (f". {hidden}" if hidden else ""),
    )
    p = rows.loc[pick]
    cost = -p.closed_deals_change_share
    name = str(p.feature).replace("_", " ")
    title = (
        f"{name[:1].upper() + name[1:]} is used in {percent(p.usage)} of choices, yet "
        "removing it costs "
        f"{percent(cost)} of closed deals (95% CI {percent(-p.closed_deals_ci_high_share)}–"
        f"{percent(-p.closed_deals_ci_low_share)})"
    )
    takeaway = (
        f"Usage is not value: judge {name} by the deals it makes possible "
        f"({signed(p.closed_deals_change)} closed deals without it), not by how often it is used."
    )
    finish(fig, title, with_title)
    return Chart("usage-value", title, takeaway, fig, rows, "95% CI (mean and paired difference)")


def _panel(ax, rows, metric: str, y, colors, label: str) -> None:
    change = rows[f"{metric}_change_share"] * 100
    low, high = rows[f"{metric}_ci_low_share"] * 100, rows[f"{metric}_ci_high_share"] * 100
    ax.axvline(0, color=LIGHT_GREY, lw=2, zorder=0)
    _whiskers(ax, change, low, high, y, colors)
    ax.scatter(change, y, color=colors, s=110, zorder=3)
    # An unbounded (NaN) relative interval draws no whisker; the axis still fits the rest.
    values = np.abs(np.r_[change, low, high])
    span = max(float(np.nanmax(values)) if np.any(np.isfinite(values)) else 0.0, 0.5)
    ax.set_xlim(-span * 1.15, span * 1.15)
    ax.set_xlabel(label)


def _whiskers(ax, center, low, high, y, colors=None) -> None:
    colors = colors or [TEXT] * len(y)
    for yi, lo, hi, color in zip(y, low, high, colors, strict=True):
        ax.plot([lo, hi], [yi, yi], color=color, lw=2.5, solid_capstyle="round", zorder=2)

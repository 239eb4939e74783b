"""What every chart shares: the `Chart` record, figure set-up, direct labels, number text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trustsim.charts.style import FIGSIZE, GREY, NOTE_WRAP, TEXT, wrap_title

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure


@dataclass
class Chart:
    """A drawn chart and what a deck needs around it.

    Attributes:
        kind: the chart kind (see `trustsim.charts.KINDS`).
        title: the action title, computed from the data.
        takeaway: one or two sentences for the slide's takeaway box.
        figure: the matplotlib figure, drawn at the size it is placed on a slide.
        data: the numbers the chart is drawn from (written as CSV beside a deck).
        uncertainty: what the bands or whiskers show (CI of the mean or spread of runs).
        effects: the paired effects behind the title's and takeaway's claims.
        alt_text: what the picture shows, for readers who cannot see it.
    """

    kind: str
    title: str
    takeaway: str
    figure: Figure
    data: pd.DataFrame
    uncertainty: str
    effects: list = field(default_factory=list)
    alt_text: str = ""


def new_figure(ncols: int = 1, sharey: bool = False, sharex: bool = False):
    """A figure at deck size with `ncols` axes side by side (call inside `chart_style`)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=FIGSIZE, sharey=sharey, sharex=sharex)
    return fig, axes


def finish(fig: Figure, title: str, with_title: bool) -> None:
    """Put the action title on top of the figure; a deck slide carries it instead."""
    if with_title:
        fig.suptitle(wrap_title(title), x=0.01, ha="left", color=TEXT)


def note(ax, text: str) -> None:
    """What the marks mean, as a grey line above the plot (where a legend would go)."""
    ax.set_title(
        wrap_title(text, NOTE_WRAP - 18),
        loc="left",
        fontsize=14,
        fontweight="normal",
        color="#666666",
    )


def figure_note(fig, text: str) -> None:
    """What the marks mean, under a multi-panel figure (kept inside the layout)."""
    fig.supxlabel(wrap_title(text, NOTE_WRAP), x=0.01, ha="left", fontsize=14, color="#666666")


def room_for_labels(ax, share: float) -> None:
    """Widen the x range so direct labels at the line ends stay inside the figure."""
    left, right = ax.get_xlim()
    ax.set_xlim(left, right + share * (right - left))
    ax.spines["bottom"].set_bounds(left, right)
    ax.set_xticks([t for t in ax.get_xticks() if left <= t <= right])


def spread_positions(values: list[float], min_gap: float) -> list[float]:
    """Nudge label positions apart by at least `min_gap`, keeping their order.

    Example:
        >>> spread_positions([1.0, 1.05, 3.0], 0.2)
        [0.925, 1.125, 3.0]
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [values[i] for i in order]
    for _ in range(50):
        moved = False
        for j in range(1, len(placed)):
            gap = placed[j] - placed[j - 1]
            if gap < min_gap - 1e-12:
                shift = (min_gap - gap) / 2
                placed[j - 1] -= shift
                placed[j] += shift
                moved = True
        if not moved:
            break
    out = [0.0] * len(values)
    for rank, i in enumerate(order):
        out[i] = round(placed[rank], 10)
    return out


def label_line_ends(ax, x: float, ys: list[float], texts: list[str], colors: list[str]) -> None:
    """Direct labels at the right end of lines, pushed apart so they do not overlap (by
    the height of the tallest label: a wrapped name takes several lines)."""
    low, high = ax.get_ylim()
    lines = max((t.count("\n") + 1 for t in texts), default=1)
    positions = spread_positions(ys, min_gap=0.075 * lines * (high - low))
    for y, text, color in zip(positions, texts, colors, strict=True):
        ax.annotate(
            text,
            (x, y),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            ha="left",
            color=color,
            fontsize=14,
            fontweight="bold",
            annotation_clip=False,
        )


def number(value: float, digits: int | None = None) -> str:
    """A number as people read it on a slide: 1,234 / 56.7 / 0.83.

    Example:
        >>> number(1234.4), number(56.74), number(0.8349)
        ('1,234', '56.7', '0.83')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if digits is not None:
        return f"{value:,.{digits}f}"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def signed(value: float, digits: int | None = None) -> str:
    """A number with its sign, using a true minus: +12 / −3.4."""
    text = number(abs(value), digits)
    return ("+" if value >= 0 else "−") + text


def percent(value: float, signed_: bool = False) -> str:
    """A share as a percentage: 0.183 -> 18%; with `signed_`, +18% / −18%."""
    if value is None or math.isnan(value):
        return "n/a"
    text = f"{abs(value) * 100:.0f}%"
    if signed_:
        return ("+" if value >= 0 else "−") + text
    return ("−" if value < 0 else "") + text


def grey_or(highlighted: bool, color: str) -> str:
    return color if highlighted else GREY

"""What every chart shares: the `Chart` record, figure set-up, direct labels, number text."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trustsim.charts.style import FIGSIZE, GREY, NOTE_WRAP, TEXT, wrap_title

LABEL_PT = 14  # direct labels, the smallest type on a chart

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


def left_out(count: int, items: str, smaller: str, where: str) -> str:
    """The footnote of a chart that shows only the largest items, or "" if none is left out.

    Example:
        >>> left_out(3, "features", "with smaller effects", "features.csv")
        '3 more features with smaller effects not shown; all in features.csv'
    """
    if count <= 0:
        return ""
    return f"{count} more {items} {smaller} not shown; all in {where}"


def room_for_labels(ax, share: float) -> None:
    """Widen the x range so direct labels at the line ends stay inside the figure."""
    left, right = ax.get_xlim()
    ax.set_xlim(left, right + share * (right - left))
    ax.spines["bottom"].set_bounds(left, right)
    ax.set_xticks([t for t in ax.get_xticks() if left <= t <= right])


def spread_positions(
    values: list[float],
    min_gap: float,
    within: tuple[float, float] | None = None,
    heights: list[float] | None = None,
) -> list[float]:
    """Nudge label positions apart by at least `min_gap`, keeping their order.

    With `heights` (each label's own height), two neighbours are kept apart by half the
    sum of their heights instead, so a one-line label is not spaced as a three-line one,
    and `within` bounds the labels' edges rather than their centres.

    With `within` = (low, high), the labels then move together (gaps kept) so that
    they lie in that range, or are centred on it where they do not fit: a label
    pushed past the top of the axes would be cut off.

    Example:
        >>> spread_positions([1.0, 1.05, 3.0], 0.2)
        [0.925, 1.125, 3.0]
        >>> spread_positions([2.9, 3.0], 0.5, within=(0.0, 3.0))
        [2.5, 3.0]
        >>> spread_positions([1.0, 1.0], 0.0, heights=[0.2, 0.6])  # apart by 0.4
        [0.8, 1.2]
    """
    order = sorted(range(len(values)), key=lambda i: values[i])
    placed = [values[i] for i in order]
    sizes = [min_gap] * len(values) if heights is None else [heights[i] for i in order]
    for _ in range(50):
        moved = False
        for j in range(1, len(placed)):
            gap, need = placed[j] - placed[j - 1], (sizes[j - 1] + sizes[j]) / 2
            if gap < need - 1e-12:
                shift = (need - gap) / 2
                placed[j - 1] -= shift
                placed[j] += shift
                moved = True
        if not moved:
            break
    if within is not None and placed:
        low, high = within
        if heights is not None:  # bound the edges: half a label inside each end
            low, high = low + sizes[0] / 2, high - sizes[-1] / 2
        bottom, top = placed[0], placed[-1]
        if top - bottom > high - low:
            shift = (low + high) / 2 - (bottom + top) / 2
        else:
            shift = min(high - top, 0.0) + max(low - bottom, 0.0)
        placed = [y + shift for y in placed]
    out = [0.0] * len(values)
    for rank, i in enumerate(order):
        out[i] = round(placed[rank], 10)
    return out


def label_line_ends(ax, x: float, ys: list[float], texts: list[str], colors: list[str]) -> None:
    """Direct labels at the right end of lines, pushed apart so they do not overlap.

    Two neighbouring labels are kept apart by half the sum of their heights (a wrapped
    name takes several lines): per line, 14 pt text with leading in data units, read
    from the axes' height once the figure is laid out, and never less than 7.5% of the
    y range. A label
    pushed more than half a line away from its line's end is tied to it by a thin leader,
    so a reader never pairs it with a neighbour's line.
    """
    fig = ax.figure
    fig.canvas.draw()  # lay out first: the axes' final height sets the gap
    low, high = ax.get_ylim()
    height = max(ax.get_window_extent().height, 1.0)  # pixels
    line = 1.5 * LABEL_PT * fig.dpi / 72  # pixels: the text and a gap
    per_line = max(0.075, line / height)
    # Each label as tall as its own lines (a wrapped name takes several).
    heights = [per_line * (t.count("\n") + 1) * (high - low) for t in texts]
    positions = spread_positions(ys, min_gap=0.0, within=(low, high), heights=heights)
    points_per_unit = height / (high - low) * 72 / fig.dpi
    rises = [(y - end) * points_per_unit for y, end in zip(positions, ys, strict=True)]
    # With any leader, every label starts further right, in one column: the leaders then
    # lie wholly left of the labels and cannot cross one.
    offset = 14 if any(abs(rise) > LABEL_PT / 2 for rise in rises) else 8
    for end, rise, text, color in zip(ys, rises, texts, colors, strict=True):
        leader = abs(rise) > LABEL_PT / 2  # points from the line's end to its label
        ax.annotate(
            text,
            (x, end),
            xytext=(offset, rise),
            textcoords="offset points",
            va="center",
            ha="left",
            color=color,
            fontsize=LABEL_PT,
            fontweight="bold",
            annotation_clip=False,
            arrowprops=dict(arrowstyle="-", color=color, lw=1, relpos=(0, 0.5), shrinkA=2,
                            shrinkB=3) if leader else None,
        )  # fmt: skip


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

"""The sweep heatmap: a metric over two factors, every cell printed with its mean and CI.

`heatmap_data(runs, x, y, metric)` takes one row per run with a column per factor, so it
works on any sweep output. A grid sweep gives one cell per pair of levels. A sampled
design (Latin hypercube, Sobol') has a different value at every point, so a factor with
more than MAX_LEVELS values is cut into BINS bins holding about equal numbers of runs,
and the chart says so; other factors of the sweep vary within each cell.
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING

import numpy as np

from trustsim.charts.base import Chart, finish, new_figure, note, number
from trustsim.charts.comparison import metric_words
from trustsim.charts.style import HIGHLIGHT, TEXT, wrap_title

if TYPE_CHECKING:
    import pandas as pd

# At the placed size, six columns and six rows of two-line cells stay readable at 14 pt.
MAX_LEVELS = 6
BINS = 5


def factor_label(path: str) -> str:
    """A factor's display name from the field reference, capitalised for an axis.

    Example:
        >>> factor_label("stages.contract.affordance"), factor_label("market.size")
        ('Verification support at contract', 'Market size')
    """
    from trustsim.scenarios.reference import field_label

    return capitalised(field_label(path))


def capitalised(text: str) -> str:
    """The text with its first letter in upper case (the rest left as written)."""
    return text[:1].upper() + text[1:]


def two_names(first: str, second: str) -> tuple[str, str]:
    """Two factor names for one sentence, the words they share said once.

    Example:
        >>> two_names("verification support at contract", "verification support at payment")
        ('verification support at contract', 'at payment')
        >>> two_names("sales pressure at contract", "effort of checking")
        ('sales pressure at contract', 'effort of checking')
    """
    a, b = first.split(), second.split()
    shared = 0
    while shared < min(len(a), len(b)) - 1 and a[shared].lower() == b[shared].lower():
        shared += 1
    # Keep the preposition that joins the rest ("at payment"), drop only the noun phrase.
    if shared >= 2 and b[shared - 1] in ("at", "of", "in"):
        return first, " ".join(b[shared - 1 :])
    return first, second


def levels(values: pd.Series) -> tuple[pd.Series, list[str], bool]:
    """Each run's cell along one factor: (position, tick texts, whether binned).

    A factor with at most MAX_LEVELS distinct values keeps them; one with more is cut
    at rounded quantiles into at most BINS bins of about equal numbers of runs, each
    named by its range ("0.2–0.4", bounds rounded to two significant digits).

    Example:
        >>> import pandas as pd
        >>> levels(pd.Series([0.0, 0.5, 0.5, 1.0]))[1]
        ['0', '0.5', '1']
        >>> levels(pd.Series(np.linspace(0, 1, 101)))[1]
        ['0–0.2', '0.2–0.4', '0.4–0.6', '0.6–0.8', '0.8–1']
    """
    import pandas as pd

    distinct = np.sort(values.dropna().unique())
    if len(distinct) <= MAX_LEVELS:
        position = {v: i for i, v in enumerate(distinct)}
        return values.map(position), [_tick(v) for v in distinct], False
    inner = np.quantile(values.dropna(), np.linspace(0, 1, BINS + 1)[1:-1])
    step = _resolution(distinct[-1] - distinct[0])
    cuts = np.unique(np.round(inner / step) * step)
    position = pd.Series(np.searchsorted(cuts, values.to_numpy(), side="right"), values.index)
    first, last = np.floor(distinct[0] / step) * step, np.ceil(distinct[-1] / step) * step
    bounds = [_clean(v) for v in (first, *cuts, last)]
    ticks = [f"{_tick(low)}–{_tick(high)}" for low, high in itertools.pairwise(bounds)]
    return position, ticks, True


def _resolution(span: float) -> float:
    """The power of ten that bin bounds are rounded to: a tenth of a bin's width or finer
    (0.1 for bins of 0.2), so the bounds read as plain numbers."""
    return 10.0 ** math.floor(math.log10(span / BINS)) if span > 0 else 1.0


def _clean(value: float) -> float:
    return float(f"{value:.6g}")


def heatmap_data(
    runs: pd.DataFrame, x: str, y: str, metric: str, factors: list[str] | None = None
) -> pd.DataFrame:
    """Mean and 95% CI of `metric` per cell of two factors, from one row per run.

    Args:
        runs: one row per run, with a column per factor and per metric.
        x, y: the factors on the horizontal and vertical axes.
        metric: the measure in the cells.
        factors: every factor of the sweep; those other than x and y vary within a cell.

    Returns:
        One row per cell: x, y (the level, or the bin's range as text), x_pos, y_pos,
        mean, ci_low, ci_high, n (runs), and x_name, y_name, metric, x_binned,
        y_binned, others (the other factors, comma-separated). A `scope` column added
        by the caller (which scenario of several) is printed in the chart's note.

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"a": [0, 0, 1, 1], "b": [5, 5, 5, 5], "m": [1., 3., 2., 4.]})
        >>> heatmap_data(runs, "a", "b", "m")["mean"].tolist()
        [2.0, 3.0]
    """
    import pandas as pd

    from trustsim.errors import TrustsimInputError
    from trustsim.experiments.stats import mean_ci
    from trustsim.metrics import value_range

    missing = [c for c in (x, y, metric) if c not in runs.columns]
    if missing:
        raise TrustsimInputError(f"the sweep results have no column {missing[0]!r}.")
    x_pos, x_ticks, x_binned = levels(runs[x])
    y_pos, y_ticks, y_binned = levels(runs[y])
    rows = []
    for (i, j), group in runs[metric].groupby([x_pos, y_pos], sort=True):
        mean, low, high = mean_ci(group, within=value_range(metric))
        rows.append(
            {
                "x": x_ticks[i] if x_binned else runs.loc[x_pos == i, x].iloc[0],
                "y": y_ticks[j] if y_binned else runs.loc[y_pos == j, y].iloc[0],
                "x_pos": int(i),
                "y_pos": int(j),
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "n": int(group.notna().sum()),
            }
        )
    others = ", ".join(f for f in (factors or []) if f not in (x, y))
    return pd.DataFrame(rows).assign(
        x_name=x, y_name=y, metric=metric, x_binned=x_binned, y_binned=y_binned, others=others
    )


def heatmap_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """A grid of the metric over two factors, each cell printed with its mean and CI.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"x": [0, 1, 0, 1], "y": [0, 0, 1, 1], "x_pos": [0, 1, 0, 1],
        ...     "y_pos": [0, 0, 1, 1], "mean": [1.0, 2.0, 3.0, 9.0], "ci_low": 0.0,
        ...     "ci_high": 10.0, "n": 3, "x_name": "a", "y_name": "b",
        ...     "metric": "closed_deals", "x_binned": False, "y_binned": False, "others": ""})
        >>> heatmap_chart(data).title
        'Closed deals peak at 9.00 with a 1 and b 1, vs 1.00 at 0 and 0'
    """
    import matplotlib.colors as mcolors

    xname, yname = (
        capitalised(str(data[f"{a}_label"].iloc[0]))
        if f"{a}_label" in data
        else factor_label(str(data[f"{a}_name"].iloc[0]))
        for a in ("x", "y")
    )
    metric = str(data["metric"].iloc[0])
    shape = (int(data["y_pos"].max()) + 1, int(data["x_pos"].max()) + 1)
    values = np.full(shape, np.nan)
    values[data["y_pos"], data["x_pos"]] = data["mean"]
    fig, ax = new_figure()
    cmap = mcolors.LinearSegmentedColormap.from_list("trustsim", ["#F2F2F2", HIGHLIGHT])
    ax.imshow(values, cmap=cmap, aspect="auto", origin="lower")
    low, high = np.nanmin(values), np.nanmax(values)
    for row in data.itertuples():
        color = "white" if row.mean > low + 0.6 * (high - low) else TEXT
        text = f"{number(row.mean)}\n({number(row.ci_low)}–{number(row.ci_high)})"
        ax.text(row.x_pos, row.y_pos, text, ha="center", va="center", fontsize=14, color=color)
    ax.set_xticks(range(shape[1]), _ticks(data, "x", shape[1]))
    ax.set_yticks(range(shape[0]), _ticks(data, "y", shape[0]))
    ax.set_xlabel(xname)
    ax.set_ylabel(wrap_title(yname, 26))
    ax.grid(False)
    note(ax, _cell_note(data))
    best = data.loc[data["mean"].idxmax()]
    worst = data.loc[data["mean"].idxmin()]
    words = capitalised(metric_words(metric))
    first, second = two_names(xname[:1].lower() + xname[1:], yname[:1].lower() + yname[1:])
    title = (
        f"{words} peak at {number(best['mean'])} with {first} {_tick(best.x)} and {second} "
        f"{_tick(best.y)}, vs {number(worst['mean'])} at {_tick(worst.x)} and {_tick(worst.y)}"
    )
    takeaway = (
        f"Read across a row to see {xname.lower()} at a fixed {yname.lower()}; the CI in "
        "each cell shows what the runs can tell apart."
    )
    finish(fig, title, with_title)
    alt = (
        f"Heatmap of {metric_words(metric)} over {xname.lower()} (across) and "
        f"{yname.lower()} (up), each cell printed with its mean and 95% CI."
    )
    return Chart("heatmap", title, takeaway, fig, data, "95% CI of the mean", alt_text=alt)


def _ticks(data: pd.DataFrame, axis: str, count: int) -> list[str]:
    texts = dict(zip(data[f"{axis}_pos"], data[axis], strict=False))
    return [_tick(texts.get(i, "")) for i in range(count)]


def _cell_note(data: pd.DataFrame) -> str:
    """What a cell holds: its runs, how they were grouped, and what varies inside it."""
    n_low, n_high = int(data["n"].min()), int(data["n"].max())
    runs = f"{n_high} runs" if n_low == n_high else f"{n_low}–{n_high} runs"
    text = f"Cell: mean of {runs}, 95% CI"
    if data["x_binned"].iloc[0] or data["y_binned"].iloc[0]:
        text += "; ranges cut into bins of about equal numbers of runs"
    others = [f for f in str(data["others"].iloc[0]).split(", ") if f]
    if others:
        factors = "factor varies" if len(others) == 1 else "factors vary"
        text += f"; the other {len(others)} {factors} within each cell"
    scope = str(data["scope"].iloc[0]) if "scope" in data else ""
    return f"{text}; {scope}" if scope else text


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.floating, np.integer)) else str(value)

"""Sweep charts: a two-factor heatmap with values printed, and sensitivity (Sobol or tornado).

Both take tidy DataFrames, so they work on any sweep output:
- `heatmap_data(runs, x, y, metric)` takes one row per run with a column per factor;
- `sensitivity_chart` takes Sobol indices (parameter, S1, S1_conf, ST, ST_conf) or a
  tornado table (parameter, low, high, base: the metric with the parameter at its low
  and high value, all else at base).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trustsim.charts.base import Chart, finish, new_figure, note, number
from trustsim.charts.comparison import metric_words
from trustsim.charts.style import GREY, HIGHLIGHT, LIGHT_GREY, TEXT

if TYPE_CHECKING:
    import pandas as pd

SOBOL_COLUMNS = ("parameter", "S1", "S1_conf", "ST", "ST_conf")
TORNADO_COLUMNS = ("parameter", "low", "high", "base")


def heatmap_data(runs: pd.DataFrame, x: str, y: str, metric: str) -> pd.DataFrame:
    """Mean and 95% CI of `metric` per (x, y) grid point from one row per run.

    Columns: x, y (the factor values), mean, ci_low, ci_high, n, plus x_name, y_name, metric.

    Example:
        >>> import pandas as pd
        >>> runs = pd.DataFrame({"a": [0, 0, 1, 1], "b": [5, 5, 5, 5], "m": [1., 3., 2., 4.]})
        >>> heatmap_data(runs, "a", "b", "m")["mean"].tolist()
        [2.0, 3.0]
    """
    import pandas as pd

    from trustsim.errors import TrustsimInputError
    from trustsim.experiments.stats import mean_ci

    missing = [c for c in (x, y, metric) if c not in runs.columns]
    if missing:
        raise TrustsimInputError(f"the sweep results have no column {missing[0]!r}.")
    rows = []
    for (xv, yv), group in runs.groupby([x, y], sort=True):
        mean, low, high = mean_ci(group[metric])
        rows.append(
            {
                "x": xv,
                "y": yv,
                "mean": mean,
                "ci_low": low,
                "ci_high": high,
                "n": int(group[metric].notna().sum()),
            }
        )
    return pd.DataFrame(rows).assign(x_name=x, y_name=y, metric=metric)


def heatmap_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """A grid of the metric over two factors, each cell printed with its mean and CI.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"x": [0, 1, 0, 1], "y": [0, 0, 1, 1],
        ...     "mean": [1.0, 2.0, 3.0, 9.0], "ci_low": 0.0, "ci_high": 10.0, "n": 3,
        ...     "x_name": "a", "y_name": "b", "metric": "closed_deals"})
        >>> heatmap_chart(data).title
        'Closed deals peak at a = 1, b = 1: 9.00, against 1.00 at a = 0, b = 0'
    """
    import matplotlib.colors as mcolors

    xname, yname = (factor_label(str(data[c].iloc[0])) for c in ("x_name", "y_name"))
    metric = str(data["metric"].iloc[0])
    grid = data.pivot(index="y", columns="x", values="mean")
    low = data.pivot(index="y", columns="x", values="ci_low")
    high = data.pivot(index="y", columns="x", values="ci_high")
    fig, ax = new_figure()
    cmap = mcolors.LinearSegmentedColormap.from_list("trustsim", ["#F2F2F2", HIGHLIGHT])
    values = grid.to_numpy(dtype=float)
    ax.imshow(values, cmap=cmap, aspect="auto", origin="lower")
    mid = np.nanmin(values) + 0.6 * (np.nanmax(values) - np.nanmin(values))
    for (i, j), value in np.ndenumerate(values):
        color = "white" if value > mid else TEXT
        text = f"{number(value)}\n({number(low.iat[i, j])}–{number(high.iat[i, j])})"
        ax.text(j, i, text, ha="center", va="center", fontsize=14, color=color)
    ax.set_xticks(range(grid.shape[1]), [_tick(v) for v in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [_tick(v) for v in grid.index])
    ax.set_xlabel(xname)
    ax.set_ylabel(yname)
    ax.grid(False)
    note(ax, f"Cell: mean of {int(data['n'].max())} runs (95% CI of the mean)")
    best = data.loc[data["mean"].idxmax()]
    worst = data.loc[data["mean"].idxmin()]
    words = metric_words(metric)
    words = words[0].upper() + words[1:]
    title = (
        f"{words} peak at {xname} = {_tick(best.x)}, {yname} = {_tick(best.y)}: "
        f"{number(best['mean'])}, against {number(worst['mean'])} at {xname} = "
        f"{_tick(worst.x)}, {yname} = {_tick(worst.y)}"
    )
    takeaway = (
        f"Read across a row to see {xname} at a fixed {yname}; the CI in each cell shows "
        "what the runs can tell apart."
    )
    finish(fig, title, with_title)
    return Chart("heatmap", title, takeaway, fig, data, "95% CI of the mean")


def factor_label(path: str) -> str:
    """A factor's scenario path as words: stages.contract.affordance -> contract affordance.

    Example:
        >>> factor_label("stages.contract.affordance"), factor_label("market.size")
        ('contract affordance', 'market size')
    """
    parts = path.split(".")
    if parts[0] == "stages" and len(parts) > 2:
        parts = parts[1:]
    return " ".join(parts).replace("_", " ")


def _tick(value) -> str:
    return f"{value:g}" if isinstance(value, (int, float, np.floating, np.integer)) else str(value)


def sobol_from_long(
    table: pd.DataFrame, metric: str | None = None, scenario: str | None = None
) -> pd.DataFrame:
    """Sobol' indices of one metric and scenario from `trustsim sensitivity`'s long table
    (method, scenario, metric, factor, index, value, ci_low, ci_high) in the wide form
    `sensitivity_chart` takes; the CI half-width becomes S1_conf / ST_conf.

    Example:
        >>> import pandas as pd
        >>> long = pd.DataFrame({"method": "sobol", "scenario": "s", "metric": "m",
        ...     "factor": ["a", "a"], "index": ["S1", "ST"], "value": [0.2, 0.3],
        ...     "ci_low": [0.1, 0.2], "ci_high": [0.3, 0.4]})
        >>> sobol_from_long(long)[["parameter", "S1", "ST"]].values.tolist()
        [['a', 0.2, 0.3]]
    """
    from trustsim.errors import TrustsimInputError

    sobol = table[(table["method"] == "sobol") & table["index"].isin(["S1", "ST"])]
    if sobol.empty:
        raise TrustsimInputError(
            "the sensitivity table has no Sobol' indices; only Sobol' results are charted."
        )
    metric = metric if metric in set(sobol["metric"]) else sobol["metric"].iloc[0]
    scenario = scenario if scenario in set(sobol["scenario"]) else sobol["scenario"].iloc[0]
    rows = sobol[(sobol["metric"] == metric) & (sobol["scenario"] == scenario)]
    rows = rows.assign(conf=(rows["ci_high"] - rows["ci_low"]) / 2)
    wide = rows.pivot(index="factor", columns="index", values=["value", "conf"])
    out = wide["value"].join(wide["conf"].add_suffix("_conf")).rename_axis(None, axis=1)
    return out.rename_axis("parameter").reset_index().assign(metric=metric)


def sensitivity_chart(
    data: pd.DataFrame, metric: str = "closed_deals", with_title: bool = True
) -> Chart:
    """Sobol total-order indices with CIs, or a tornado chart, most influential first.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"parameter": ["a", "b"], "S1": [0.1, 0.5],
        ...     "S1_conf": 0.05, "ST": [0.15, 0.6], "ST_conf": 0.05})
        >>> sensitivity_chart(data).title.split(":")[0]
        'b drives closed deals most'
    """
    from trustsim.errors import TrustsimInputError

    if all(c in data.columns for c in SOBOL_COLUMNS):
        return _sobol(data, metric, with_title)
    if all(c in data.columns for c in TORNADO_COLUMNS):
        return _tornado(data, metric, with_title)
    raise TrustsimInputError(
        f"sensitivity data needs columns {', '.join(SOBOL_COLUMNS)} (Sobol) or "
        f"{', '.join(TORNADO_COLUMNS)} (tornado)."
    )


def _sobol(data: pd.DataFrame, metric: str, with_title: bool) -> Chart:
    rows = data.sort_values("ST", ascending=False, kind="stable").reset_index(drop=True)
    fig, ax = new_figure()
    y = np.arange(len(rows))
    colors = [HIGHLIGHT if i == 0 else LIGHT_GREY for i in y]
    ax.barh(
        y,
        rows["ST"],
        color=colors,
        height=0.6,
        xerr=rows["ST_conf"],
        error_kw={"ecolor": TEXT, "capsize": 4, "elinewidth": 1.5},
    )
    ax.errorbar(rows["S1"], y, xerr=rows["S1_conf"], fmt="D", color=TEXT, ms=8, capsize=3)
    for i, row in rows.iterrows():
        ax.annotate(
            f"total {row.ST:.2f} · alone {row.S1:.2f}",
            (row.ST + row.ST_conf, i),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=14,
            color=HIGHLIGHT if i == 0 else TEXT,
        )
    ax.set_yticks(y, rows["parameter"])
    ax.invert_yaxis()
    ax.set_xlim(0, max(1.0, float((rows["ST"] + rows["ST_conf"]).max()) * 1.6))
    ax.set_xlabel(f"Share of the variance in {metric_words(metric)}")
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    note(ax, "Bar: total-order Sobol index; diamond: first-order; whiskers: 95% CI")
    top = rows.iloc[0]
    title = (
        f"{top.parameter} drives {metric_words(metric)} most: it accounts for "
        f"{top.ST:.0%} of the variance (95% CI {max(top.ST - top.ST_conf, 0):.0%}–"
        f"{top.ST + top.ST_conf:.0%})"
    )
    takeaway = (
        f"Work on {top.parameter} first; parameters with total-order indices near zero can "
        "be left at their defaults."
    )
    finish(fig, title, with_title)
    return Chart("sensitivity", title, takeaway, fig, rows, "95% CI of the Sobol index")


def _tornado(data: pd.DataFrame, metric: str, with_title: bool) -> Chart:
    rows = data.assign(swing=(data["high"] - data["low"]).abs())
    rows = rows.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    base = float(rows["base"].iloc[0])
    fig, ax = new_figure()
    y = np.arange(len(rows))
    for i, row in rows.iterrows():
        color = HIGHLIGHT if i == 0 else GREY
        lo, hi = sorted((row.low, row.high))
        ax.barh(i, hi - lo, left=lo, color=color, height=0.6)
        ax.annotate(
            f"{number(row.low)} → {number(row.high)}",
            (hi, i),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=14,
            color=TEXT,
        )
    ax.axvline(base, color=TEXT, lw=1.5)
    ax.set_yticks(y, rows["parameter"])
    ax.invert_yaxis()
    ax.margins(x=0.3)
    ax.set_xlabel(metric_words(metric).capitalize())
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    note(ax, f"Bar: {metric_words(metric)} from the parameter's low to high value; line: base")
    top = rows.iloc[0]
    title = (
        f"{top.parameter} moves {metric_words(metric)} most: from {number(top.low)} to "
        f"{number(top.high)} (base {number(base)})"
    )
    takeaway = f"{top.parameter} has the widest swing; bars near the base line barely matter."
    finish(fig, title, with_title)
    return Chart("sensitivity", title, takeaway, fig, rows, "range between low and high value")

"""Sensitivity of a sweep: how much each factor matters, which way it pushes, in words.

Three things answer "what drives the result?":
- how much: Sobol' indices (`trustsim sensitivity`), the share of the variance of the
  result a factor accounts for, alone (first order, S1) and with its interactions
  (total order, ST); or a tornado table (the result at a factor's low and high value);
- which way: the partial rank correlation of each factor with the result over the
  design, the other factors held fixed (`factor_directions`), a direction being stated
  only where its 95% CI excludes zero;
- in words: `sensitivity_sentences`, one sentence per factor, which a deck can place as
  it is (`sweep_sentences` takes a loaded sweep directory).

`sensitivity_chart` takes Sobol indices (parameter, S1, S1_conf, ST, ST_conf) or a
tornado table (parameter, low, high, base), with the directions where known.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from trustsim.charts.base import Chart, finish, left_out, new_figure, note, number, percent
from trustsim.charts.comparison import metric_words
from trustsim.charts.style import GREY, HIGHLIGHT, LIGHT_GREY, TEXT, wrap_title
from trustsim.charts.sweep import capitalised, two_names

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.charts.results import Results

SOBOL_COLUMNS = ("parameter", "S1", "S1_conf", "ST", "ST_conf")
TORNADO_COLUMNS = ("parameter", "low", "high", "base")
DIRECTION_COLUMNS = ("parameter", "rho", "rho_low", "rho_high", "points")
# A factor whose total-order index is surely above this matters, whatever its direction.
MATTERS = 0.05
# More factors than this and the chart shows the most influential; a note says so.
MAX_ROWS = 10


# ---------------------------------------------------------------------- the numbers
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
    return out.rename_axis("parameter").reset_index().assign(metric=metric, scenario=scenario)


def partial_rank_correlations(
    x: np.ndarray, y: np.ndarray, level: float = 0.95
) -> list[tuple[float, float, float]]:
    """Each column of x's partial rank correlation with y, with its CI (PRCC).

    x and y are replaced by their ranks; for factor i, the ranks of x_i and of y are
    each regressed on the ranks of the other factors (with an intercept), and
    rho_i = corr(residual of x_i, residual of y): the monotone association of x_i with y
    once the others are held fixed (Marino et al. 2008). The CI is Fisher's z-interval
    for a partial correlation controlling q = k - 1 variables:
        tanh(atanh(rho_i) -/+ z_{(1+level)/2} / sqrt(n - 3 - q)).
    Rows with a missing value are dropped; where n - 3 - q < 1, or a column or y is
    constant, rho_i and its bounds are NaN.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.uniform(size=(200, 2))
        >>> y = 5 * x[:, 0] - x[:, 1] + rng.normal(0, 0.1, 200)
        >>> [round(r[0], 1) for r in partial_rank_correlations(x, y)]
        [1.0, -0.9]
    """
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x).any(axis=1) | np.isnan(y))
    x, y = x[keep], y[keep]
    n, k = x.shape
    ranks = np.column_stack([stats.rankdata(c) for c in x.T]) if n else x
    ry = stats.rankdata(y)
    dof = n - 3 - (k - 1)
    z_level = float(stats.norm.ppf(0.5 + level / 2))
    out = []
    for i in range(k):
        if dof < 1 or np.ptp(x[:, i]) == 0 or np.ptp(y) == 0:
            out.append((math.nan, math.nan, math.nan))
            continue
        others = np.column_stack([np.ones(n), np.delete(ranks, i, axis=1)])
        res_x = ranks[:, i] - others @ np.linalg.lstsq(others, ranks[:, i], rcond=None)[0]
        res_y = ry - others @ np.linalg.lstsq(others, ry, rcond=None)[0]
        rho = float(np.corrcoef(res_x, res_y)[0, 1])
        z = math.atanh(min(max(rho, -0.999999), 0.999999))
        half = z_level / math.sqrt(dof)
        out.append((rho, math.tanh(z - half), math.tanh(z + half)))
    return out


def factor_directions(runs: pd.DataFrame, factors: list[str], metric: str) -> pd.DataFrame:
    """Which way each factor pushes `metric` over a sweep's design, the others held fixed.

    The metric is averaged over the replications of each design point (a `point` column;
    without one, each row is a point); then each factor's partial rank correlation with
    it (`partial_rank_correlations`). Over a grid or a Latin hypercube the points are a
    sample of the factor space; over a Sobol' design they are its base samples and
    their recombinations, so the CI is approximate there.

    Returns:
        One row per factor: DIRECTION_COLUMNS (rho, its 95% CI, number of points).
    """
    import pandas as pd

    points = runs.groupby("point")[[*factors, metric]].mean() if "point" in runs else runs
    points = points.dropna(subset=[*factors, metric])
    found = partial_rank_correlations(points[factors].to_numpy(), points[metric].to_numpy())
    rows = [
        {"parameter": f, "rho": rho, "rho_low": low, "rho_high": high, "points": len(points)}
        for f, (rho, low, high) in zip(factors, found, strict=True)
    ]
    return pd.DataFrame(rows, columns=list(DIRECTION_COLUMNS))


def direction(row) -> int:
    """+1 where the factor surely raises the result (its CI above zero), -1 where it
    surely lowers it, 0 where the direction is not established or unknown."""
    low, high = getattr(row, "rho_low", math.nan), getattr(row, "rho_high", math.nan)
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return 0
    return 1 if low > 0 else -1 if high < 0 else 0


# ---------------------------------------------------------------------- in words
def sensitivity_sentences(
    metric: str,
    indices: pd.DataFrame | None = None,
    directions: pd.DataFrame | None = None,
) -> list[str]:
    """One sentence per factor, most influential first: which way it pushes `metric`
    and how much of its variance it accounts for.

    A sentence says "raises" or "lowers" only where the partial rank correlation's 95% CI
    excludes zero; a factor that surely matters (total-order index above MATTERS) but
    has no direction is said to act through its level or its interactions.

    Args:
        metric: the run measure.
        indices: Sobol' indices (SOBOL_COLUMNS), if the sweep was a Sobol' design.
        directions: `factor_directions` of the sweep.

    Example:
        >>> import pandas as pd
        >>> idx = pd.DataFrame({"parameter": ["stages.contract.pressure"], "S1": [0.3],
        ...     "S1_conf": [0.1], "ST": [0.4], "ST_conf": [0.1]})
        >>> way = pd.DataFrame({"parameter": ["stages.contract.pressure"], "rho": [-0.5],
        ...     "rho_low": [-0.6], "rho_high": [-0.4], "points": [100]})
        >>> sensitivity_sentences("closed_deals", idx, way)[0]  # doctest: +NORMALIZE_WHITESPACE
        'Higher sales pressure at contract lowers closed deals (partial rank correlation
        −0.50, 95% CI −0.60 to −0.40); it accounts for 40% of the variance (95% CI 30%–50%).'
    """
    table = _joined(indices, directions)
    return [_sentence(metric, row) for row in table.itertuples()]


def sweep_sentences(results: Results, metric: str = "closed_deals", scenario: str | None = None):
    """`sensitivity_sentences` of a loaded sweep directory (`load_results(DIR)`).

    Uses the Sobol' indices where the sweep has them (`trustsim sensitivity`) and the
    partial rank correlations of its runs in any case (grid, Latin hypercube or Sobol').

    Raises:
        TrustsimInputError: the results are not a sweep, or lack the metric.
    """
    from trustsim.errors import TrustsimInputError
    from trustsim.scenarios.reference import field_label

    if not results.is_sweep:
        raise TrustsimInputError(f"{results.path} is not a sweep; sensitivity needs one.")
    runs, factors = results.extra["sweep_runs"], results.extra["factors"]
    if metric not in runs.columns:
        kept = ", ".join(results.extra.get("metrics") or [])
        raise TrustsimInputError(f"--metric {metric!r} is not kept by this sweep; it has {kept}.")
    if "scenario" in runs.columns:
        scenario = scenario or runs["scenario"].iloc[0]
        runs = runs[runs["scenario"] == scenario]
    spec = results.run.scenarios.get(scenario) if scenario else None
    labels = {f: field_label(f, spec) for f in factors}
    indices = None
    if "sensitivity" in results.extra:
        indices = sobol_from_long(results.extra["sensitivity"], metric, scenario)
    directions = factor_directions(runs, factors, metric)
    directions = directions.assign(label=directions["parameter"].map(labels))
    return sensitivity_sentences(metric, indices, directions)


def _joined(indices: pd.DataFrame | None, directions: pd.DataFrame | None) -> pd.DataFrame:
    """Indices and directions by factor, the most influential first (by ST, else |rho|)."""
    import pandas as pd

    if indices is None and directions is None:
        raise ValueError("give the Sobol' indices, the directions or both")
    if indices is None:
        table = directions.assign(order=-directions["rho"].abs())
    elif directions is None:
        table = indices.assign(order=-indices["ST"])
    else:
        table = indices.merge(directions, on="parameter", how="left").assign(order=-indices["ST"])
    return pd.DataFrame(table).sort_values("order", kind="stable").reset_index(drop=True)


def factor_name(row) -> str:
    """A factor's display name: the row's `label` where the caller set one (with the
    scenario's stage and segment names), else from the field reference."""
    from trustsim.scenarios.reference import field_label

    label = getattr(row, "label", None)
    return label if isinstance(label, str) and label else field_label(row.parameter)


def _sentence(metric: str, row) -> str:
    name, words = factor_name(row), metric_words(metric)
    share = _share_clause(row)
    rho = f" ({_rho_text(row)})" if not math.isnan(getattr(row, "rho", math.nan)) else ""
    way = direction(row)
    if way:
        verb = "raises" if way > 0 else "lowers"
        text = f"Higher {name} {verb} {words}{rho}"
        return text + (f"; it accounts for {share}." if share else ".")
    if share and _matters(row):
        return (
            f"{capitalised(name)} accounts for {share}, but not in one direction{rho}: "
            "its effect depends on its level or on the other factors."
        )
    size = f"; it accounts for {share}" if share else ""
    return f"{capitalised(name)} has no established direction on {words}{rho}{size}."


def _share_clause(row) -> str:
    if not hasattr(row, "ST") or math.isnan(row.ST):
        return ""
    low, high = _clipped(row.ST - row.ST_conf), _clipped(row.ST + row.ST_conf)
    return f"{percent(_clipped(row.ST))} of the variance (95% CI {percent(low)}–{percent(high)})"


def _matters(row) -> bool:
    return hasattr(row, "ST") and row.ST - row.ST_conf > MATTERS


def _rho_text(row) -> str:
    return (
        f"partial rank correlation {_signed(row.rho)}, 95% CI {_signed(row.rho_low)} to "
        f"{_signed(row.rho_high)}"
    )


def _signed(value: float) -> str:
    return ("+" if value >= 0 else "−") + f"{abs(value):.2f}"


def _clipped(value: float) -> float:
    """A share of variance on [0, 1]: estimates outside it are sampling noise."""
    return min(max(float(value), 0.0), 1.0)


# ---------------------------------------------------------------------- the chart
def sensitivity_chart(
    data: pd.DataFrame,
    metric: str = "closed_deals",
    with_title: bool = True,
    directions: pd.DataFrame | None = None,
) -> Chart:
    """Sobol' total-order indices with CIs, or a tornado chart, most influential first.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"parameter": ["a", "b"], "S1": [0.1, 0.5],
        ...     "S1_conf": 0.05, "ST": [0.15, 0.6], "ST_conf": 0.05})
        >>> sensitivity_chart(data).title.split(":")[0]
        'B drives closed deals most'
    """
    from trustsim.errors import TrustsimInputError

    if all(c in data.columns for c in SOBOL_COLUMNS):
        return _sobol(data, metric, with_title, directions)
    if all(c in data.columns for c in TORNADO_COLUMNS):
        return _tornado(data, metric, with_title)
    raise TrustsimInputError(
        f"sensitivity data needs columns {', '.join(SOBOL_COLUMNS)} (Sobol) or "
        f"{', '.join(TORNADO_COLUMNS)} (tornado)."
    )


def _sobol(data: pd.DataFrame, metric: str, with_title: bool, directions) -> Chart:
    table = _joined(data, directions)
    rows = table.head(MAX_ROWS)
    shown = rows.assign(
        tick=[capitalised(factor_name(row)) for row in rows.itertuples()],
        ST_shown=rows["ST"].map(_clipped),
        S1_shown=rows["S1"].map(_clipped),
        ST_low=(rows["ST"] - rows["ST_conf"]).map(_clipped),
        ST_high=(rows["ST"] + rows["ST_conf"]).map(_clipped),
        S1_low=(rows["S1"] - rows["S1_conf"]).map(_clipped),
        S1_high=(rows["S1"] + rows["S1_conf"]).map(_clipped),
    )
    fig, ax = new_figure()
    y = np.arange(len(shown))
    ax.barh(y, shown["ST_shown"], color=[HIGHLIGHT] + [LIGHT_GREY] * (len(y) - 1), height=0.6)
    _whiskers(ax, y, shown["ST_low"], shown["ST_high"], TEXT, 2.0)
    ax.plot(shown["S1_shown"], y, "D", color=TEXT, ms=8, zorder=3)
    for i, row in enumerate(shown.itertuples()):
        ax.annotate(
            _bar_text(row),
            (1.0, i),
            xytext=(10, 0),
            textcoords="offset points",
            va="center",
            fontsize=14,
            color=HIGHLIGHT if i == 0 else TEXT,
            annotation_clip=False,
        )
    ax.set_yticks(y, [wrap_title(t, 24) for t in shown["tick"]])
    ax.invert_yaxis()
    # The axis is a share, 0 to 1; the space right of 1 holds the labels, unticked.
    ax.set_xlim(0, 1.62)
    ax.spines["bottom"].set_bounds(0, 1)
    ax.set_xticks(np.linspace(0, 1, 6), [f"{v:.0%}" for v in np.linspace(0, 1, 6)])
    ax.set_xlabel(f"Share of the variance in {metric_words(metric)}", x=1 / 1.62 / 2)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    note(ax, _sobol_note(table, rows))
    title, takeaway = _sobol_words(metric, table)
    finish(fig, title, with_title)
    alt = (
        f"Bar chart of each factor's share of the variance in {metric_words(metric)} "
        "(total-order Sobol' index, 95% CI), with its first-order index and direction."
    )
    return Chart("sensitivity", title, takeaway, fig, table, "95% CI of the Sobol index",
                 alt_text=alt)  # fmt: skip


def _whiskers(ax, y, low, high, color, width) -> None:
    for yi, lo, hi in zip(y, low, high, strict=True):
        ax.plot([lo, hi], [yi, yi], color=color, lw=width, solid_capstyle="butt", zorder=2)
        ax.plot([lo, lo], [yi - 0.12, yi + 0.12], color=color, lw=width, zorder=2)
        ax.plot([hi, hi], [yi - 0.12, yi + 0.12], color=color, lw=width, zorder=2)


def _bar_text(row) -> str:
    way = {1: ", raises", -1: ", lowers", 0: ""}[direction(row)]
    if way == "" and not math.isnan(getattr(row, "rho", math.nan)):
        way = ", unclear"
    return f"{percent(row.ST_shown)} (alone {percent(row.S1_shown)}){way}"


def _sobol_note(table: pd.DataFrame, rows: pd.DataFrame) -> str:
    text = "Bar: total-order index; diamond: alone (first order); whisker: 95% CI"
    if (table[["S1", "ST"]] < 0).any().any():
        text += "; estimates below 0 (sampling noise) drawn at 0"
    hidden = left_out(len(table) - len(rows), "factors", "with smaller indices", "the CSV")
    scope = str(table["scope"].iloc[0]) if "scope" in table else ""
    return "; ".join(part for part in (text, hidden, scope) if part)


def _sobol_words(metric: str, table: pd.DataFrame) -> tuple[str, str]:
    """The title names the top factor as driving most only where its total-order CI
    lies above every other's; the takeaway is the first two sensitivity sentences."""
    words = metric_words(metric)
    top = table.iloc[0]
    name = capitalised(factor_name(top))
    share = (
        f"{percent(_clipped(top.ST))} of the variance (95% CI "
        f"{percent(_clipped(top.ST - top.ST_conf))}–{percent(_clipped(top.ST + top.ST_conf))})"
    )
    others_high = (table["ST"] + table["ST_conf"]).iloc[1:]
    way = {1: "raise", -1: "lower", 0: ""}[direction(top)]
    way = f"; higher values {way} {words}" if way else ""
    if others_high.empty or top.ST - top.ST_conf > others_high.max():
        title = f"{name} drives {words} most: it accounts for {share}{way}"
    else:
        name, second = two_names(name, factor_name(table.iloc[1]))
        title = (
            f"{name} and {second} drive {words}: {percent(_clipped(top.ST))} and "
            f"{percent(_clipped(table.iloc[1].ST))} of the variance, not told apart"
        )
    takeaway = " ".join(sensitivity_sentences(metric, table)[:2])
    return title, takeaway


def _tornado(data: pd.DataFrame, metric: str, with_title: bool) -> Chart:
    from trustsim.scenarios.reference import field_label

    rows = data.assign(swing=(data["high"] - data["low"]).abs())
    rows = rows.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)
    rows = rows.assign(label=[capitalised(field_label(str(p))) for p in rows["parameter"]])
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
    ax.set_yticks(y, [wrap_title(t, 24) for t in rows["label"]])
    ax.invert_yaxis()
    ax.margins(x=0.3)
    ax.set_xlabel(capitalised(metric_words(metric)))
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    note(ax, f"Bar: {metric_words(metric)} from the factor's low to high value; line: base")
    top = rows.iloc[0]
    title = (
        f"{top.label} moves {metric_words(metric)} most: from {number(top.low)} at its low "
        f"value to {number(top.high)} at its high value (base {number(base)})"
    )
    takeaway = f"{top.label} has the widest swing; bars near the base line barely matter."
    finish(fig, title, with_title)
    return Chart("sensitivity", title, takeaway, fig, rows, "range between low and high value")

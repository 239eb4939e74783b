"""Charts of a calibration: is it our market (posterior predictive), and what did we learn
(prior against posterior). Each is a `<kind>_data` + `<kind>_chart` pair in the deck style
of `trustsim.charts`; `write_charts` saves both as PNG with their numbers as CSV.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trustsim.charts.base import Chart, finish, new_figure, note, number
from trustsim.charts.style import ALERT, GREY, HIGHLIGHT, LIGHT_GREY, TEXT

if TYPE_CHECKING:
    import pandas as pd


def _value(value: float, kind: str) -> str:
    if kind == "share":
        return f"{value:.0%}"
    return f"{value:,.0f}" if kind == "count" else number(value)


def predictive_data(predictive: pd.DataFrame) -> pd.DataFrame:
    """The posterior-predictive table with each observation placed on its band:
    position = 2 (observed - q05) / (q95 - q05) - 1, so the band is [-1, 1] for every
    statistic whatever its unit."""
    data = predictive.copy()
    width = (data["predicted_q95"] - data["predicted_q05"]).to_numpy(dtype=float)
    offset = (data["observed"] - data["predicted_q05"]).to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        position = np.where(width > 0, 2.0 * offset / width - 1.0, np.sign(offset) * 1.5)
    position = np.where((width == 0) & (offset == 0), 0.0, position)
    data["position"] = np.clip(position, -2.5, 2.5)
    return data


def predictive_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Each statistic's observed value against the calibrated model's 90% band of one run.

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"statistic": ["leads"], "kind": ["count"],
        ...     "observed": [10.0], "predicted_q05": [8.0], "predicted_median": [10.0],
        ...     "predicted_q95": [12.0], "inside": [True], "held_out": [False]})
        >>> predictive_chart(predictive_data(table)).title
        'The calibrated model reproduces 1 of 1 observed statistics within its 90% band'
    """
    rows = data.reset_index(drop=True)
    fig, ax = new_figure()
    for i, row in rows.iterrows():
        y = len(rows) - 1 - i
        ax.plot([-1, 1], [y, y], color=LIGHT_GREY, lw=9, solid_capstyle="butt")
        color = HIGHLIGHT if row.inside else ALERT
        marker = "D" if row.held_out else "o"
        ax.plot(row.position, y, marker, color=color, ms=11)
        band = f"{_value(row.predicted_q05, row.kind)}–{_value(row.predicted_q95, row.kind)}"
        ax.annotate(
            f"{_value(row.observed, row.kind)} (band {band})",
            (2.8, y), va="center", ha="left", fontsize=14, color=TEXT,
        )  # fmt: skip
    ax.set_yticks(range(len(rows)), [_label(r) for r in rows.itertuples()][::-1])
    # The right of the axes holds the numbers; the axis line spans the bands only.
    ax.set_xlim(-2.6, 7.5)
    ax.spines["bottom"].set_bounds(-2.6, 2.6)
    ax.set_xticks([-1, 0, 1], ["5%", "band", "95%"])
    ax.axvline(0, color=GREY, lw=0.8)
    fitted = rows[~rows["held_out"]]
    inside = int(fitted["inside"].sum())
    title = (
        f"The calibrated model reproduces {inside} of {len(fitted)} observed statistics "
        "within its 90% band"
    )
    held = rows[rows["held_out"]]
    takeaway = title + "."
    if len(held):
        takeaway += (
            f" Of {len(held)} statistics held out of the fit, "
            f"{int(held['inside'].sum())} fall within the band."
        )
    note(ax, "Grey: 90% band of one run; dot: observed; diamond: held out")
    finish(fig, title, with_title)
    return Chart("posterior-predictive", title, takeaway, fig, rows, "90% band of one run")


def _label(row) -> str:
    return f"{row.statistic} (held out)" if row.held_out else row.statistic


def _short(value: float) -> str:
    """Three significant digits with a true minus: 0.00492, −1.08, 1,250."""
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return text.replace("-", "−")


def prior_posterior_data(summary: pd.DataFrame, priors) -> pd.DataFrame:
    """Per parameter, prior and posterior on the prior's unit scale (log for log-uniform),
    and the 90% interval's share of the prior's width on that scale."""
    data = summary.copy()
    by_path = {p.path: p for p in priors}
    for column in ("median", "q05", "q95"):
        data[f"unit_{column}"] = [
            float(by_path[p].to_unit(v))
            for p, v in zip(data["parameter"], data[column], strict=True)
        ]
    data["width_share"] = data["unit_q95"] - data["unit_q05"]
    return data


def prior_posterior_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Each parameter's prior range (grey) against its posterior 90% interval (blue).

    Example:
        >>> import pandas as pd
        >>> from trustsim.calibration.priors import Prior
        >>> summary = pd.DataFrame({"parameter": ["a"], "prior_low": [0.0], "prior_high": [1.0],
        ...     "median": [0.5], "q05": [0.4], "q95": [0.6], "ess": [100.0]})
        >>> prior_posterior_chart(prior_posterior_data(summary, [Prior("a", 0.0, 1.0)])).title
        'The data narrow a to 20% of its prior range'
    """
    rows = data.reset_index(drop=True)
    fig, ax = new_figure()
    for i, row in rows.iterrows():
        y = len(rows) - 1 - i
        ax.plot([0, 1], [y, y], color=LIGHT_GREY, lw=9, solid_capstyle="butt")
        ax.plot([row.unit_q05, row.unit_q95], [y, y], color=HIGHLIGHT, lw=9,
                solid_capstyle="butt")  # fmt: skip
        ax.plot(row.unit_median, y, "o", color="white", ms=7)
        ax.annotate(_short(row.prior_low), (0, y + 0.28), ha="left", fontsize=13, color=GREY)
        ax.annotate(_short(row.prior_high), (1, y + 0.28), ha="right", fontsize=13, color=GREY)
        ax.annotate(
            f"{_short(row['median'])} ({_short(row.q05)} to {_short(row.q95)})",
            (1.03, y), va="center", ha="left", fontsize=14, color=HIGHLIGHT,
            annotation_clip=False,
        )  # fmt: skip
    ax.set_yticks(range(len(rows)), list(rows["parameter"])[::-1])
    ax.set_ylim(-0.6, len(rows) - 0.3)
    ax.set_xlim(0, 1.8)
    ax.set_xticks([])
    ax.spines["bottom"].set_visible(False)
    sharpest = rows.loc[rows["width_share"].idxmin()]
    title = f"The data narrow {sharpest.parameter} to {sharpest.width_share:.0%} of its prior range"
    takeaway = "; ".join(
        f"{r.parameter}: {_short(r['median'])} (90% {_short(r.q05)} to {_short(r.q95)})"
        for _, r in rows.iterrows()
    )
    note(ax, f"Grey: prior range; blue: posterior 90% interval, dot: median (ESS "
             f"{rows['ess'].iloc[0]:.0f})")  # fmt: skip
    finish(fig, title, with_title)
    return Chart("prior-posterior", title, takeaway + ".", fig, rows, "posterior 90% interval")


def write_charts(out: Path, predictive: pd.DataFrame, summary: pd.DataFrame, priors) -> list[Path]:
    """Save both charts as PNG in out/charts/, each with its numbers as CSV beside it."""
    import matplotlib.pyplot as plt

    from trustsim.charts.style import chart_style, save_figure
    from trustsim.output import atomic_path, write_text_atomic

    written = []
    with chart_style():
        charts = [
            predictive_chart(predictive_data(predictive)),
            prior_posterior_chart(prior_posterior_data(summary, priors)),
        ]
    for chart in charts:
        path = out / "charts" / f"{chart.kind}.png"
        with atomic_path(path) as tmp:
            save_figure(chart.figure, tmp, "png")
        write_text_atomic(path.with_suffix(".csv"), chart.data.to_csv(index=False))
        plt.close(chart.figure)
        written += [path, path.with_suffix(".csv")]
    return written

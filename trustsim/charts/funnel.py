"""Journey funnel: buyers reaching each stage, who moved on and who left, worst step marked.

Runs do not yet record how many buyers reached each stage (`reached[stage]`); when that
column is absent it is rebuilt per run from what is recorded. All active buyers choose
every step, so choices at a stage are the buyers there summed over steps; abandonment
per stage is the recorded rate times those choices; buyers still in a stage are the
final `active_at`. Deals that collapse after an incident are known only in total (leads
minus closed deals minus the rest before closing; churned customers after it) and are
shared out over stages by expected incidents (choices x failure chance x stake).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from trustsim import metrics
from trustsim.charts.base import Chart, finish, new_figure, note, number, percent
from trustsim.charts.style import ALERT, LIGHT_GREY, TEXT

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult
    from trustsim.scenarios import Scenario


def reached_per_run(summary: pd.Series, series: pd.DataFrame, scenario: Scenario) -> np.ndarray:
    """Buyers who reached each stage in one run, in stage order (see the module docstring).

    Args:
        summary: the run's summary row.
        series: the run's time series (one row per step, step 0 first).
        scenario: the resolved scenario.
    """
    stages = list(scenario.stages)
    if all(f"reached[{s}]" in summary.index for s in stages):
        return np.array([float(summary[f"reached[{s}]"]) for s in stages])
    series = series.sort_values("step")
    before_last = series.iloc[:-1]
    choices = np.array([before_last[f"active_at[{s}]"].sum() for s in stages], dtype=float)
    rates = np.nan_to_num([float(summary[f"abandonment_rate[{s}]"]) for s in stages])
    left = np.rint(rates * choices)
    still = np.array([float(summary[f"active_at[{s}]"]) for s in stages])
    risk = np.array([(1 - st.reliability) * st.stake for st in scenario.stages.values()])
    close = stages.index(scenario.closing_stage)
    pre, post = slice(0, close + 1), slice(close + 1, len(stages))
    collapsed = np.zeros(len(stages))
    collapsed[pre] = _share_out(
        float(summary["leads"]) - float(summary["closed_deals"]) - (left + still)[pre].sum(),
        (choices * risk)[pre],
    )
    collapsed[post] = _share_out(
        float(summary["churned"]) - left[post].sum(), (choices * risk)[post]
    )
    exits = left + still + collapsed
    reached = float(summary["leads"]) - np.concatenate([[0.0], np.cumsum(exits)[:-1]])
    return np.maximum(reached, 0.0)


def _share_out(total: float, weights: np.ndarray) -> np.ndarray:
    if total <= 0 or weights.size == 0:
        return np.zeros(weights.size)
    if weights.sum() <= 0:
        return np.full(weights.size, total / weights.size)
    return total * weights / weights.sum()


def funnel_data(run: RunResult, scenario: str | None = None) -> pd.DataFrame:
    """Per stage: buyers reaching it (mean, 95% CI), share who moved on, were lost there
    (`left_share`: walked away or deal collapsed, per buyer; see trustsim.metrics),
    or are still there.

    Example:
        >>> import trustsim
        >>> run = trustsim.run(["real-estate"], replications=2, steps=10)
        >>> funnel_data(run)["stage"].iloc[0]
        'explore'
    """
    import pandas as pd

    from trustsim.experiments.stats import mean_ci

    name = _pick(run, scenario)
    spec = run.scenarios[name]
    summaries = run.summaries[run.summaries["scenario"] == name].set_index("replication")
    series = run.timeseries[run.timeseries["scenario"] == name]
    per_run, still = [], []
    for rep, frame in series.groupby("replication"):
        per_run.append(reached_per_run(summaries.loc[rep], frame, spec))
        still.append([float(summaries.loc[rep, f"active_at[{s}]"]) for s in spec.stages])
    reached, still = np.array(per_run), np.array(still)
    mean_reached, mean_still = reached.mean(axis=0), still.mean(axis=0)
    moved_on = np.append(mean_reached[1:], np.nan)
    rows = []
    for i, stage in enumerate(spec.stages):
        m, low, high = mean_ci(reached[:, i], within=(0.0, math.inf))  # a count
        moved = moved_on[i] if i + 1 < len(spec.stages) else np.nan
        left = (m - mean_still[i] - moved) if not np.isnan(moved) else np.nan
        rows.append(
            {
                "scenario": name,
                "stage": stage,
                "stage_label": spec.stage_label(stage),
                "closing": stage == spec.closing_stage,
                "reached": m,
                "ci_low": low,
                "ci_high": high,
                "moved_on_share": moved / m if m else np.nan,
                "left_share": left / m if m else np.nan,
                "still_share": mean_still[i] / m if m else np.nan,
                "n": reached.shape[0],
                "label": spec.display_name,
                "closed_deals": float(summaries["closed_deals"].mean()),
                "derived": not all(f"reached[{s}]" in summaries.columns for s in spec.stages),
            }
        )
    return pd.DataFrame(rows)


def funnel_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Horizontal bars of buyers reaching each stage; the stage losing most buyers in red.

    Example:
        >>> import pandas as pd
        >>> data = pd.DataFrame({"scenario": "s", "stage": ["a", "b"], "closing": [False, True],
        ...     "reached": [100.0, 40.0], "ci_low": [90.0, 35.0], "ci_high": [110.0, 45.0],
        ...     "moved_on_share": [0.4, float("nan")], "left_share": [0.5, float("nan")],
        ...     "still_share": [0.1, 1.0], "n": 5, "derived": False, "label": "S",
        ...     "closed_deals": 38.0})
        >>> funnel_chart(data).title
        'A loses 50% of the buyers who reach it'
    """
    rows = data.reset_index(drop=True)
    worst = int(rows["left_share"].fillna(-1).idxmax())
    fig, ax = new_figure()
    y = np.arange(len(rows))
    colors = [ALERT if i == worst else LIGHT_GREY for i in y]
    ax.barh(y, rows["reached"], color=colors, height=0.7)
    ax.errorbar(
        rows["reached"],
        y,
        xerr=[rows["reached"] - rows["ci_low"], rows["ci_high"] - rows["reached"]],
        fmt="none",
        ecolor=TEXT,
        elinewidth=1.5,
        capsize=4,
    )
    # Labels start right of the whisker, or of the bar where one run gives no interval.
    ends = rows["ci_high"].fillna(rows["reached"])
    for i, row in rows.iterrows():
        text = f"{number(row.reached)}"
        if not np.isnan(row.left_share):
            text += f"   {percent(row.left_share)} lost · {percent(row.moved_on_share)} move on"
        ax.annotate(
            text,
            (ends[i], i),
            xytext=(8, 0),
            textcoords="offset points",
            va="center",
            fontsize=14,
            color=ALERT if i == worst else TEXT,
            fontweight="bold" if i == worst else "normal",
        )
    names = rows["stage_label"] if "stage_label" in rows.columns else rows["stage"]
    labels = [f"{s}  ✓" if c else s for s, c in zip(names, rows["closing"], strict=True)]
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", visible=True)
    ax.set_xlim(0, ends.max() * 1.9)
    ax.set_xlabel(f"Buyers reaching the stage ({rows['label'].iloc[0]})")
    derived = " (rebuilt from stage counts)" if bool(rows["derived"].iloc[0]) else ""
    note(
        ax,
        f"Bar: mean of {int(rows['n'].max())} runs{derived}; whisker: 95% CI; ✓ closes. "
        f"Lost: {metrics.METRICS['left_share'].description}",
    )
    w = rows.loc[worst]
    worst_name = str(names.iloc[worst])
    others = rows["left_share"].drop(index=worst).dropna()
    title = f"{_capital(worst_name)} loses {percent(w.left_share)} of the buyers who reach it"
    if len(others):
        title += f"; no other stage loses more than {percent(others.max())}"
    takeaway = (
        f"Of {number(rows['reached'].iloc[0])} leads, {number(rows['closed_deals'].iloc[0])} "
        "close a deal (means over runs). Where buyers leave shows where to look, not what "
        "a fix would gain: that takes a scenario comparison."
    )
    finish(fig, title, with_title)
    alt = (
        f"Bar chart of buyers reaching each stage for {rows['label'].iloc[0]}, with the share "
        f"who leave; {worst_name} is marked."
    )
    return Chart("funnel", title, takeaway, fig, rows, "95% CI of the mean", alt_text=alt)


def _capital(text: str) -> str:
    """The first letter capitalised, the rest as written ("after sales", "ЖК онлайн")."""
    return text[:1].upper() + text[1:]


def _pick(run: RunResult, scenario: str | None) -> str:
    from trustsim.errors import TrustsimInputError

    if scenario is None:
        return run.names[0]
    if scenario not in run.names:
        raise TrustsimInputError(
            f"--scenario {scenario!r} is not in these results; scenarios: {', '.join(run.names)}."
        )
    return scenario

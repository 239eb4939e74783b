"""Charts over time: trust per layer, short vs. long horizon, and leads (the S-curve)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trustsim.charts.base import (
    Chart,
    figure_note,
    finish,
    label_line_ends,
    new_figure,
    note,
    number,
    percent,
    room_for_labels,
)
from trustsim.charts.style import GREY, HIGHLIGHT, LIGHT_GREY, OKABE_ITO
from trustsim.scenarios.schema import LAYERS

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult


def band_data(run: RunResult, columns: list[str], scenarios: list[str] | None = None):
    """Per scenario, column and step: median, quartiles, mean and 95% CI of the mean.

    Columns: scenario, series, step, median, q25, q75, mean, ci_low, ci_high, n.

    Example:
        >>> import trustsim
        >>> run = trustsim.run(["real-estate"], replications=2, steps=5)
        >>> int(band_data(run, ["leads"])["step"].max())
        5
    """
    import pandas as pd
    from scipy import stats

    ts = run.timeseries
    if scenarios is not None:
        ts = ts[ts["scenario"].isin(scenarios)]
    long = ts.melt(
        id_vars=["scenario", "replication", "step"], value_vars=columns, var_name="series"
    )
    grouped = long.groupby(["scenario", "series", "step"], sort=False)["value"]
    out = grouped.agg(
        median="median",
        q25=lambda v: v.quantile(0.25),
        q75=lambda v: v.quantile(0.75),
        mean="mean",
        sd="std",
        n="count",
    ).reset_index()
    t = stats.t.ppf(0.975, np.maximum(out["n"] - 1, 1))
    half = np.where(out["n"] > 1, t * out["sd"] / np.sqrt(out["n"]), 0.0)
    out["ci_low"], out["ci_high"] = out["mean"] - half, out["mean"] + half
    order = {name: i for i, name in enumerate(run.names)}
    out = out.drop(columns="sd").sort_values(
        ["scenario", "series", "step"], key=lambda c: c.map(order) if c.name == "scenario" else c
    )
    return pd.DataFrame(out).reset_index(drop=True)


def _unit(run: RunResult, scenario: str | None = None) -> str:
    return run.scenarios[scenario or run.names[0]].time.step_unit


# ---------------------------------------------------------------------- trust
# Layers closer than this at the end are reported as moving together, not as one lagging.
TIE = 0.03


def trust_data(run: RunResult, scenario: str | None = None) -> pd.DataFrame:
    """Median and interquartile range of mean trust per layer and step, for one scenario."""
    from trustsim.charts.funnel import _pick

    name = _pick(run, scenario)
    data = band_data(run, [f"trust_{layer}" for layer in LAYERS], [name])
    data["series"] = data["series"].str.removeprefix("trust_")
    return data.assign(step_unit=_unit(run, name))


def trust_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Trust per layer over time; the weakest layer at the end is highlighted.

    Example:
        >>> import pandas as pd
        >>> rows = [{"scenario": "s", "series": layer, "step": t, "median": v + t / 10,
        ...          "q25": v, "q75": v + 0.2, "n": 4, "step_unit": "week"}
        ...         for layer, v in [("rules", 0.5), ("counterparty", 0.3)] for t in (0, 1)]
        >>> trust_chart(pd.DataFrame(rows)).title.split(":")[0]
        'Trust in the counterparty lags'
    """
    unit = str(data["step_unit"].iloc[0])
    last = data[data["step"] == data["step"].max()].set_index("series")["median"]
    weakest, strongest = last.idxmin(), last.idxmax()
    tied = last[strongest] - last[weakest] < TIE
    fig, ax = new_figure()
    ends, texts, colors = [], [], []
    for layer, frame in data.groupby("series", sort=False):
        color = HIGHLIGHT if layer == weakest and not tied else GREY
        ax.fill_between(frame["step"], frame["q25"], frame["q75"], color=color, alpha=0.18, lw=0)
        ax.plot(frame["step"], frame["median"], color=color, lw=3 if layer == weakest else 2.5)
        ends.append(float(frame["median"].iloc[-1]))
        texts.append(f"{layer} {float(frame['median'].iloc[-1]):.2f}")
        colors.append(color)
    ax.set_ylim(0, 1)
    ax.set_xlim(data["step"].min(), data["step"].max())
    room_for_labels(ax, 0.25)
    label_line_ends(ax, float(data["step"].max()), ends, texts, colors)
    ax.set_xlabel(f"{unit.capitalize()}s since launch")
    ax.set_ylabel("Mean trust of leads (0–1)")
    note(ax, f"Line: median over {int(data['n'].max())} runs; band: interquartile range of runs")
    t_end = int(data["step"].max())
    if tied:
        title = (
            f"Trust moves together across layers: all within {TIE:.2f} of "
            f"{last.mean():.2f} by {unit} {t_end}"
        )
        takeaway = "No layer lags: buyers' trust in platform, rules and counterparty is even."
    else:
        title = (
            f"Trust in the {weakest} lags: {last[weakest]:.2f} by {unit} {t_end}, "
            f"against {last[strongest]:.2f} for the {strongest}"
        )
        takeaway = (
            f"The {weakest} layer is the weakest link; evidence buyers can check at the "
            "stages that weigh on it is where trust can be rebuilt."
        )
    finish(fig, title, with_title)
    return Chart("trust", title, takeaway, fig, data, "interquartile range of runs")


# -------------------------------------------------------------------- horizon
def horizon_data(run: RunResult) -> pd.DataFrame:
    """Mean and 95% CI of cumulative closed deals and revenue per scenario and step."""
    data = band_data(run, ["closed_deals", "revenue"])
    short = {n: s.time.short_horizon for n, s in run.scenarios.items()}
    return data.assign(step_unit=_unit(run), short_horizon=data["scenario"].map(short))


def crossing(data: pd.DataFrame, series: str) -> tuple[str, str, int | None]:
    """The scenario ahead at the end, the one ahead at the short horizon, and when the
    final leader pulled ahead for good (None when it led throughout).

    Example:
        >>> import pandas as pd
        >>> rows = [{"scenario": s, "series": "x", "step": t, "mean": v, "short_horizon": 1}
        ...         for s, vals in [("a", [0, 3, 4, 5]), ("b", [0, 1, 4, 8])]
        ...         for t, v in enumerate(vals)]
        >>> crossing(pd.DataFrame(rows), "x")
        ('b', 'a', 3)
    """
    wide = data[data["series"] == series].pivot(index="step", columns="scenario", values="mean")
    short = int(min(data["short_horizon"].min(), wide.index.max()))
    final_leader = wide.iloc[-1].idxmax()
    early_leader = wide.loc[short].idxmax()
    if final_leader == early_leader:
        return final_leader, early_leader, None
    behind = wide[final_leader] <= wide[early_leader]
    last_behind = behind[behind].index.max()
    return final_leader, early_leader, int(last_behind) + 1


def horizon_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Cumulative closed deals and revenue; where the long-horizon winner overtakes."""
    unit = str(data["step_unit"].iloc[0])
    fig, axes = new_figure(ncols=2, sharex=True)
    final_leader, early_leader, cross = crossing(data, "closed_deals")
    colors_by_name = _horizon_colors(data, final_leader, early_leader)
    panels = (("closed_deals", "Closed deals (cumulative)"), ("revenue", "Revenue (cumulative)"))
    for ax, (series, label) in zip(axes, panels, strict=True):
        ends, texts, colors = [], [], []
        for name, frame in data[data["series"] == series].groupby("scenario", sort=False):
            color = colors_by_name.get(name, LIGHT_GREY)
            ax.fill_between(
                frame["step"], frame["ci_low"], frame["ci_high"], color=color, alpha=0.2, lw=0
            )
            ax.plot(frame["step"], frame["mean"], color=color)
            # Every line gets its direct label; background lines in a readable grey.
            ends.append(float(frame["mean"].iloc[-1]))
            texts.append(_short(name))
            colors.append(color if name in colors_by_name else GREY)
        ax.set_ylim(bottom=0)
        ax.set_xlim(data["step"].min(), data["step"].max())
        room_for_labels(ax, 0.45)
        label_line_ends(ax, float(data["step"].max()), ends, texts, colors)
        ax.set_xlabel(f"{unit.capitalize()}s")
        ax.set_title(label, loc="left", fontsize=15, fontweight="bold")
        _mark_crossing(ax, data, series)
    figure_note(fig, f"Line: mean over {int(data['n'].max())} runs; band: 95% CI of the mean")
    end = data[(data["series"] == "closed_deals") & (data["step"] == data["step"].max())]
    means = end.set_index("scenario")["mean"]
    t_end = int(data["step"].max())
    if cross is None:
        title = (
            f"{final_leader} leads in closed deals throughout: {number(means[final_leader])} by "
            f"{unit} {t_end}"
        )
        if len(means) > 1:
            runner_up = means.drop(final_leader).idxmax()
            title += f" vs {number(means[runner_up])} for {runner_up}"
        takeaway = f"No crossing within {t_end} {unit}s: the early leader stays ahead."
    else:
        title = (
            f"{final_leader} overtakes {early_leader} in closed deals at {unit} {cross}: "
            f"{number(means[final_leader])} vs {number(means[early_leader])} by {unit} {t_end}"
        )
        takeaway = (
            f"{early_leader} wins the short horizon; {final_leader} wins from {unit} {cross} on. "
            "Judge strategies over the horizon the business lives with."
        )
    finish(fig, title, with_title)
    return Chart("horizon", title, takeaway, fig, data, "95% CI of the mean")


def _horizon_colors(data: pd.DataFrame, final_leader: str, early_leader: str) -> dict:
    """The long-horizon winner in the highlight colour; the short-horizon winner (or, when
    they are the same, the runner-up) in a dark grey; the rest light grey."""
    if early_leader != final_leader:
        return {final_leader: HIGHLIGHT, early_leader: OKABE_ITO["orange"]}
    end = data[(data["series"] == "closed_deals") & (data["step"] == data["step"].max())]
    others = end[end["scenario"] != final_leader].set_index("scenario")["mean"]
    colors = {final_leader: HIGHLIGHT}
    if len(others):
        colors[others.idxmax()] = GREY
    return colors


def _mark_crossing(ax, data: pd.DataFrame, series: str) -> None:
    _, _, step = crossing(data, series)
    if step is None:
        return
    ax.axvline(step, color=GREY, ls=":", lw=2)
    ax.annotate(
        f"crosses\nat {step}",
        (step, ax.get_ylim()[1] * 0.97),
        xytext=(-6, 0),
        textcoords="offset points",
        ha="right",
        va="top",
        fontsize=14,
        color="#555555",
    )


def _short(name: str, width: int = 18) -> str:
    """Line-end labels break long scenario names at a hyphen so they stay inside the slide."""
    if len(name) <= width or "-" not in name:
        return name
    cut = name.rfind("-", 0, width)
    return name if cut <= 0 else name[:cut] + "-\n" + name[cut + 1 :]


# ---------------------------------------------------------------------- leads
def leads_data(run: RunResult) -> pd.DataFrame:
    """Median and interquartile range of cumulative leads per scenario and step, with the
    share of leads from word of mouth at the end of each run (mean)."""
    data = band_data(run, ["leads"])
    end = run.summaries.groupby("scenario")
    wom = (end["wom_leads"].sum() / end["leads"].sum()).rename("wom_share")
    return data.merge(wom, left_on="scenario", right_index=True).assign(step_unit=_unit(run))


def leads_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Cumulative leads per scenario (the diffusion S-curve); the leader highlighted."""
    unit = str(data["step_unit"].iloc[0])
    t_end = int(data["step"].max())
    final = data[data["step"] == t_end].set_index("scenario")
    leader = final["median"].idxmax()
    fig, ax = new_figure()
    ends, texts, colors = [], [], []
    for name, frame in data.groupby("scenario", sort=False):
        color = HIGHLIGHT if name == leader else GREY
        ax.fill_between(frame["step"], frame["q25"], frame["q75"], color=color, alpha=0.2, lw=0)
        ax.plot(frame["step"], frame["median"], color=color, lw=3 if name == leader else 2)
        ends.append(float(frame["median"].iloc[-1]))
        texts.append(_short(name))
        colors.append(color)
    ax.set_ylim(bottom=0)
    ax.set_xlim(data["step"].min(), t_end)
    room_for_labels(ax, 0.25)
    lead_frame = data[data["scenario"] == leader]
    steepest = int(lead_frame["step"].iloc[int(np.argmax(np.diff(lead_frame["median"]))) + 1])
    y = float(lead_frame.set_index("step").loc[steepest, "median"])
    ax.plot(steepest, y, "o", color=HIGHLIGHT, ms=10)
    ax.annotate(
        f"fastest growth, {unit} {steepest}",
        (steepest, y),
        xytext=(-12, 10),
        textcoords="offset points",
        ha="right",
        fontsize=14,
        color=HIGHLIGHT,
    )
    label_line_ends(ax, float(t_end), ends, texts, colors)
    ax.set_xlabel(f"{unit.capitalize()}s since launch")
    ax.set_ylabel("Leads (cumulative)")
    note(ax, f"Line: median over {int(data['n'].max())} runs; band: interquartile range of runs")
    share = float(final.loc[leader, "wom_share"])
    title = (
        f"{leader} reaches {number(final.loc[leader, 'median'])} leads by {unit} {t_end}; "
        f"{percent(share)} come by word of mouth"
    )
    takeaway = (
        f"Growth is fastest around {unit} {steepest}, when satisfied customers recommend the "
        "service; detractors slow the curve."
    )
    finish(fig, title, with_title)
    return Chart("leads", title, takeaway, fig, data, "interquartile range of runs")

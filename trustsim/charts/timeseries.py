"""Charts over time: trust per layer, short vs. long horizon, and leads (the S-curve)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from trustsim import metrics
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
from trustsim.charts.style import ALERT, GREY
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
    half = np.where(out["n"] > 1, t * out["sd"] / np.sqrt(out["n"]), np.nan)  # one run: none
    # Cut to each series' possible values (a count's band never dips below 0).
    ranges = out["series"].map(metrics.value_range)
    low, high = ranges.str[0].astype(float), ranges.str[1].astype(float)
    out["ci_low"] = np.maximum(out["mean"] - half, low)
    out["ci_high"] = np.minimum(out["mean"] + half, high)
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
    return data.assign(step_unit=_unit(run, name), label=run.scenarios[name].display_name)


def trust_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Trust per layer over time; the weakest layer at the end is highlighted.

    Example:
        >>> import pandas as pd
        >>> rows = [{"scenario": "s", "label": "S", "series": layer, "step": t,
        ...          "mean": v + t / 10, "ci_low": v, "ci_high": v + 0.2, "n": 4,
        ...          "step_unit": "week"}
        ...         for layer, v in [("rules", 0.5), ("counterparty", 0.3)] for t in (0, 1)]
        >>> trust_chart(pd.DataFrame(rows)).title.split(":")[0]
        'Trust in the counterparty lags'
    """
    unit = str(data["step_unit"].iloc[0])
    last = data[data["step"] == data["step"].max()].set_index("series")["mean"]
    weakest, strongest = last.idxmin(), last.idxmax()
    tied = last[strongest] - last[weakest] < TIE
    fig, ax = new_figure()
    ends, texts, colors = [], [], []
    for layer, frame in data.groupby("series", sort=False):
        color = ALERT if layer == weakest and not tied else GREY
        ax.fill_between(
            frame["step"], frame["ci_low"], frame["ci_high"], color=color, alpha=0.18, lw=0
        )
        ax.plot(frame["step"], frame["mean"], color=color, lw=3 if layer == weakest else 2.5)
        ends.append(float(frame["mean"].iloc[-1]))
        texts.append(f"{layer} {float(frame['mean'].iloc[-1]):.2f}")
        colors.append(color)
    ax.set_ylim(0, 1)
    ax.set_xlim(data["step"].min(), data["step"].max())
    room_for_labels(ax, 0.25)
    label_line_ends(ax, float(data["step"].max()), ends, texts, colors)
    ax.set_xlabel(f"{unit.capitalize()}s since launch")
    ax.set_ylabel("Mean trust of leads (0–1)")
    note(ax, f"Line: mean over {int(data['n'].max())} runs; band: 95% CI of the mean")
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
    alt = f"Line chart of mean trust per layer over {t_end} {unit}s for {data['label'].iloc[0]}."
    return Chart("trust", title, takeaway, fig, data, "95% CI of the mean", alt_text=alt)


# -------------------------------------------------------------------- horizon
def horizon_data(run: RunResult) -> pd.DataFrame:
    """Mean and 95% CI of cumulative closed deals and revenue per scenario and step, with
    each scenario's label, colour and paired differences to the base at the short
    horizon (`short_*`) and at the end (`end_*`). Revenue is left out where it only
    counts deals again (`claims.revenue_is_deals`)."""
    from trustsim.charts.claims import revenue_is_deals
    from trustsim.charts.comparison import pair_columns, scenario_columns

    series = ["closed_deals"] if revenue_is_deals(run) else ["closed_deals", "revenue"]
    data = band_data(run, series)
    short = {n: s.time.short_horizon for n, s in run.scenarios.items()}
    data = data.assign(
        currency=run.scenarios[run.names[0]].market.currency,
        step_unit=_unit(run),
        short_horizon=data["scenario"].map(short),
        base_label=run.scenarios[run.names[0]].display_name,
        **scenario_columns(run, data["scenario"]),
    )
    if len(run.names) < 2:
        return data
    pairs = pair_columns(run, "short_closed_deals", "short_").merge(
        pair_columns(run, "closed_deals", "end_"), on="scenario"
    )
    return data.merge(pairs, on="scenario", how="left")


def horizon_effects(data: pd.DataFrame, prefix: str, metric: str) -> list:
    """The paired effects vs the base stored in horizon data under `prefix`."""
    from trustsim.charts.comparison import effects_with_prefix

    return effects_with_prefix(data.drop_duplicates("scenario"), prefix, metric)


def horizon_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Cumulative closed deals and revenue, each scenario in its colour; the title and
    takeaway state the paired differences to the base at the end and at the short
    horizon."""
    from matplotlib.ticker import FuncFormatter

    from trustsim.charts.claims import money

    unit = str(data["step_unit"].iloc[0])
    currency = str(data["currency"].iloc[0]) if "currency" in data.columns else ""
    panels = [("closed_deals", "Closed deals (cumulative)"), ("revenue", "Revenue (cumulative)")]
    panels = [p for p in panels if p[0] in set(data["series"])]
    fig, axes = new_figure(ncols=len(panels), sharex=True)
    axes = np.atleast_1d(axes)
    for ax, (series, label) in zip(axes, panels, strict=True):
        if series == "revenue":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: money(v, currency)))
        ends, texts, colors = [], [], []
        for _, frame in data[data["series"] == series].groupby("scenario", sort=False):
            color = str(frame["color"].iloc[0])
            ax.fill_between(
                frame["step"], frame["ci_low"], frame["ci_high"], color=color, alpha=0.2, lw=0
            )
            ax.plot(frame["step"], frame["mean"], color=color)
            ends.append(float(frame["mean"].iloc[-1]))
            texts.append(_short(str(frame["label"].iloc[0])))
            colors.append(color)
        ax.set_ylim(bottom=0)
        ax.set_xlim(data["step"].min(), data["step"].max())
        room_for_labels(ax, 0.45)
        label_line_ends(ax, float(data["step"].max()), ends, texts, colors)
        ax.set_xlabel(f"{unit.capitalize()}s")
        ax.set_title(label, loc="left", fontsize=15, fontweight="bold")
        _mark_short_horizon(ax, data)
    shown = " and ".join(p[1].split(" (")[0].lower() for p in panels)
    figure_note(fig, f"Line: mean over {int(data['n'].max())} runs; band: 95% CI of the mean")
    t_end, short = int(data["step"].max()), int(data["short_horizon"].min())
    if "end_diff" not in data.columns:
        means = data[(data["series"] == "closed_deals") & (data["step"] == t_end)]["mean"]
        title = f"{data['label'].iloc[0]}: {number(means.iloc[0])} closed deals by {unit} {t_end}"
        takeaway = f"One scenario: cumulative {shown} over {t_end} {unit}s."
        effects = []
    else:
        end_effects = horizon_effects(data, "end_", "closed_deals")
        short_effects = horizon_effects(data, "short_", "short_closed_deals")
        lead, early = headline_effect(end_effects), headline_effect(short_effects)
        title = f"By {unit} {t_end}: " + lead.sentence()
        takeaway = f"At {unit} {short} (the short horizon): " + early.sentence() + "."
        effects = end_effects + short_effects
    finish(fig, title, with_title)
    alt = (
        f"Line charts of cumulative {shown} per scenario over {t_end} "
        f"{unit}s, with 95% CI bands; a dotted line marks the short horizon at {unit} {short}."
    )
    return Chart(
        "horizon", title, takeaway, fig, data, "95% CI of the mean", effects=effects, alt_text=alt
    )


def headline_effect(effects):
    from trustsim.charts.comparison import headline_effect as pick

    return pick(effects)


def _mark_short_horizon(ax, data: pd.DataFrame) -> None:
    step = int(data["short_horizon"].min())
    ax.axvline(step, color=GREY, ls=":", lw=2)
    ax.annotate(
        "short\nhorizon",
        (step, ax.get_ylim()[1] * 0.97),
        xytext=(6, 0),
        textcoords="offset points",
        ha="left",
        va="top",
        fontsize=14,
        color="#555555",
    )


def _short(name: str, width: int = 18) -> str:
    """Line-end labels break long scenario names between words so they stay inside."""
    import textwrap

    return "\n".join(textwrap.wrap(name, width)) if len(name) > width else name


# ---------------------------------------------------------------------- leads
def leads_data(run: RunResult) -> pd.DataFrame:
    """Mean and 95% CI of cumulative leads per scenario and step, each scenario's share of
    leads from word of mouth (pooled over runs) and its paired difference in leads to the
    base (`vs_base_*`). Results of several markets (`markets.by_market`) add a `market`
    column, and each scenario's base is the first scenario of its market."""
    import pandas as pd

    from trustsim.charts.comparison import scenario_columns
    from trustsim.charts.markets import by_market

    parts = by_market(run)
    if len(parts) == 1:
        return _market_leads(run)
    frames = [_market_leads(part).assign(market=m.label) for m, part in parts]
    data = pd.concat(frames, ignore_index=True)
    # Colours follow the position in the whole results, so no two scenarios share one.
    return data.assign(**scenario_columns(run, data["scenario"]))


def _market_leads(run: RunResult) -> pd.DataFrame:
    """`leads_data` of the scenarios of one market."""
    from trustsim.charts.comparison import pair_columns, scenario_columns

    data = band_data(run, ["leads"])
    end = run.summaries.groupby("scenario")
    wom = (end["wom_leads"].sum() / end["leads"].sum()).rename("wom_share")
    data = data.merge(wom, left_on="scenario", right_index=True).assign(
        step_unit=_unit(run),
        base_label=run.scenarios[run.names[0]].display_name,
        **scenario_columns(run, data["scenario"]),
    )
    if len(run.names) < 2:
        return data
    return data.merge(pair_columns(run, "leads", "vs_base_"), on="scenario", how="left")


def leads_chart(data: pd.DataFrame, with_title: bool = True) -> Chart:
    """Cumulative leads per scenario (the diffusion S-curve), each in its colour; the
    title states the paired difference in leads to the base, the takeaway word of mouth.

    Data of several markets (a `market` column) is drawn one panel per market, side by
    side, each with its own time and leads axes and titled with its market."""
    from trustsim.charts.comparison import effects_with_prefix, headline_effect
    from trustsim.charts.markets import market_panels, markets_sentence, panel_title

    panels = market_panels(data)
    fig, axes = new_figure(ncols=len(panels))
    marks = f"Line: mean over {int(data['n'].max())} runs; band: 95% CI of the mean"
    ends = []  # per panel: its scenarios at the end, the step unit, the last step, effects
    for ax, (market, frame) in zip(np.atleast_1d(axes), panels, strict=True):
        _leads_panel(ax, frame, room=0.3 if market is None else 0.45)
        if market is None:
            note(ax, marks)
        else:
            panel_title(ax, market)
        t_end = int(frame["step"].max())
        final = frame[frame["step"] == t_end].drop_duplicates("scenario")
        paired = "vs_base_diff" in final.columns and final["vs_base_diff"].notna().any()
        found = effects_with_prefix(final, "vs_base_", "leads") if paired else []
        ends.append((final, str(frame["step_unit"].iloc[0]), t_end, found))
    if len(panels) > 1:
        figure_note(fig, marks)
    shares = "; ".join(
        f"{r.label} {percent(r.wom_share)}" for final, *_ in ends for r in final.itertuples()
    )
    takeaway = f"Share of leads that came by word of mouth: {shares}."
    effects = [effect for *_, found in ends for effect in found]
    if effects:
        lead = headline_effect(effects)
        unit, t_end = next((u, t) for _, u, t, found in ends if any(e is lead for e in found))
        title = f"By {unit} {t_end}: " + lead.sentence()
    else:
        reached = [
            f"{final.iloc[0].label} reaches {number(final.iloc[0]['mean'])} leads by {unit} {t_end}"
            for final, unit, t_end, _ in ends
        ]
        title = "; ".join(reached) + " on average"
    if len(panels) > 1:
        takeaway += " " + markets_sentence([market for market, _ in panels])
    finish(fig, title, with_title)
    return Chart(
        "leads", title, takeaway, fig, data, "95% CI of the mean", effects=effects,
        alt_text=_leads_alt(panels),
    )  # fmt: skip


def _leads_panel(ax, data: pd.DataFrame, room: float) -> None:
    """Cumulative leads of the scenarios of one market, labelled at the line ends."""
    unit = str(data["step_unit"].iloc[0])
    t_end = int(data["step"].max())
    ends, texts, colors = [], [], []
    for _, frame in data.groupby("scenario", sort=False):
        color = str(frame["color"].iloc[0])
        ax.fill_between(
            frame["step"], frame["ci_low"], frame["ci_high"], color=color, alpha=0.2, lw=0
        )
        ax.plot(frame["step"], frame["mean"], color=color, lw=2.5)
        ends.append(float(frame["mean"].iloc[-1]))
        texts.append(_short(str(frame["label"].iloc[0])))
        colors.append(color)
    ax.set_ylim(bottom=0)
    ax.set_xlim(data["step"].min(), t_end)
    room_for_labels(ax, room)
    label_line_ends(ax, float(t_end), ends, texts, colors)
    ax.set_xlabel(f"{unit.capitalize()}s since launch")
    ax.set_ylabel("Leads (cumulative)")


def _leads_alt(panels: list) -> str:
    """What the leads chart shows, for readers who cannot see it."""
    spans = [
        f"over {int(frame['step'].max())} {frame['step_unit'].iloc[0]}s"
        + (f" ({market})" if market else "")
        for market, frame in panels
    ]
    what = "Line chart" if len(panels) == 1 else f"{len(panels)} line charts, one per market,"
    return f"{what} of cumulative leads per scenario {' and '.join(spans)} with 95% CI bands."

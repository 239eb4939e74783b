"""Deck-ready charts from any trustsim result: 16:9, large type, action titles from the data.

Every chart is a pair of functions: `<kind>_data(...)` builds a tidy DataFrame from a
result, `<kind>_chart(data)` draws it and computes its action title. `make_chart` ties
them to a results directory:

    >>> from trustsim.charts import load_results, make_chart, save_chart  # doctest: +SKIP
    >>> chart = make_chart(load_results("results/"), "comparison")     # doctest: +SKIP
    >>> save_chart(chart, "comparison.png")                            # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.chart_kinds import KINDS
from trustsim.charts.results import Results, check_one_market, load_results, load_trace
from trustsim.charts.style import chart_style, save_figure
from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    from trustsim.charts.base import Chart


__all__ = [
    "KINDS",
    "Results",
    "available_kinds",
    "chart_style",
    "load_results",
    "load_trace",
    "make_chart",
    "save_chart",
    "save_figure",
]


def available_kinds(results: Results) -> list[str]:
    """The chart kinds this results directory has the numbers for, in deck order.

    For `trustsim features` output the variants with one feature removed are inputs to
    the usage-value chart, not scenarios to present, so only the full offer is charted.
    Results of several markets have no difference or horizon chart: those weigh every
    scenario against one base (`check_one_market`).
    """
    from trustsim.charts.markets import markets_of

    if results.is_trace_only:
        return ["story"]
    if results.is_sweep:
        return [k for k in ("heatmap", "sensitivity") if k in results.extra]
    if results.features is not None:
        extra = ["story"] if results.trace is not None else []
        return ["usage-value", "funnel", "trust", "leads", *extra]
    kinds = ["comparison"]
    # Alternatives to weigh against one base: two or more scenarios of one market.
    alternatives = len(results.names) >= 2 and len(markets_of(results.run)) == 1
    if alternatives:
        kinds.append("difference")
    kinds += ["funnel", "trust"]
    if alternatives:
        kinds.append("horizon")
    kinds.append("leads")
    if results.features is not None:
        kinds.append("usage-value")
    kinds += [k for k in ("heatmap", "sensitivity") if k in results.extra]
    if results.trace is not None:
        kinds.append("story")
    return kinds


def make_chart(
    results: Results,
    kind: str,
    *,
    metric: str = "closed_deals",
    base: str | None = None,
    scenario: str | None = None,
    with_title: bool = True,
) -> Chart:
    """Draw one chart of `kind` from loaded results (inside the trustsim style).

    Args:
        results: from `load_results(directory)`.
        kind: one of KINDS.
        metric: run measure for comparison, difference and heatmap charts.
        base: baseline scenario of the difference chart (default: the first).
        scenario: scenario of the funnel and trust charts (default: the first).
        with_title: put the action title on the figure (a deck puts it on the slide).

    Raises:
        TrustsimInputError: unknown kind, or the results lack what the kind needs.

    Example:
        >>> chart = make_chart(load_results("results/"), "funnel")  # doctest: +SKIP
        >>> chart.title                                             # doctest: +SKIP
        'Explore loses 38% of the buyers who reach it; no other stage loses more than 4%'
    """
    from trustsim.charts import comparison, funnel, timeseries, usage
    from trustsim.charts.story import story_chart

    if kind not in KINDS:
        raise TrustsimInputError(f"--kind {kind!r} is unknown; choose one of {', '.join(KINDS)}.")
    run = _charted_run(results)
    if results.is_trace_only:
        _need(kind == "story", f"{results.path} holds only a buyer trace: use --kind story.")
    if results.is_sweep:
        _need(
            kind in ("heatmap", "sensitivity"),
            f"{results.path} is a sweep: use --kind heatmap or sensitivity.",
        )
    with chart_style():
        if kind == "comparison":
            return comparison.comparison_chart(comparison.comparison_data(run, metric), with_title)
        if kind in ("difference", "horizon"):
            check_one_market(results, f"a {kind} chart")
        if kind == "difference":
            data = comparison.difference_data(run, base, metric, results.differences)
            return comparison.difference_chart(data, with_title)
        if kind == "funnel":
            return funnel.funnel_chart(funnel.funnel_data(run, scenario), with_title)
        if kind == "trust":
            return timeseries.trust_chart(timeseries.trust_data(run, scenario), with_title)
        if kind == "horizon":
            _need(len(run.names) >= 2, "the horizon chart needs two or more scenarios.")
            return timeseries.horizon_chart(timeseries.horizon_data(run), with_title)
        if kind == "leads":
            return timeseries.leads_chart(timeseries.leads_data(run), with_title)
        if kind == "usage-value":
            _need(results.features is not None, _missing(results, "features.parquet", kind))
            return usage.usage_chart(usage.usage_data(results.features), with_title)
        if kind == "story":
            _need(results.trace is not None, _missing(results, "trace.parquet", kind))
            return story_chart(results.trace, with_title, unit=_step_unit(results))
        _need(kind in results.extra, _missing(results, "sweep results", kind))
        return _sweep_chart(results, kind, metric, scenario, with_title)


def _sweep_chart(results: Results, kind: str, metric: str, scenario: str | None, with_title):
    """The heatmap or the sensitivity chart of a sweep, for one metric and scenario."""
    from trustsim.charts import sensitivity, sweep
    from trustsim.scenarios.reference import field_label

    runs, factors = results.extra["sweep_runs"], results.extra["factors"]
    kept = results.extra.get("metrics") or [metric]
    metric = metric if metric in runs.columns else kept[0]
    scope = ""
    if "scenario" in runs.columns:
        names = list(dict.fromkeys(runs["scenario"]))
        scenario = scenario if scenario in names else names[0]
        runs = runs[runs["scenario"] == scenario]
        if len(names) > 1:
            scope = f"{scenario} only, 1 of {len(names)} scenarios (others: --scenario)"
    # Factors named with the scenario's own stage and segment names, where it has them.
    spec = results.run.scenarios.get(scenario) if scenario else None
    labels = {f: field_label(f, spec) for f in factors}
    indices = None
    if "sensitivity" in results.extra:
        table = results.extra["sensitivity"]
        if "method" not in table.columns:  # a tornado or wide Sobol table made by hand
            return sensitivity.sensitivity_chart(table, metric, with_title)
        if kind == "sensitivity" or set(table["method"]) == {"sobol"}:
            indices = sensitivity.sobol_from_long(table, metric, scenario)
            metric = str(indices["metric"].iloc[0])
    if kind == "heatmap":
        # The two factors that matter most, where the indices say which; else the first two.
        if indices is not None:
            ranked = indices.sort_values("ST", ascending=False, kind="stable")["parameter"]
            x, y = list(ranked)[:2]
        else:
            x, y = factors[:2]
        data = sweep.heatmap_data(runs, x, y, metric, factors)
        data = data.assign(scope=scope, x_label=labels[x], y_label=labels[y])
        return sweep.heatmap_chart(data, with_title)
    directions = sensitivity.factor_directions(runs, factors, metric)
    indices = indices.assign(scope=scope, label=indices["parameter"].map(labels))
    return sensitivity.sensitivity_chart(indices, metric, with_title, directions)


def save_chart(chart: Chart, path: str | Path, fmt: str | None = None) -> Path:
    """Write the chart's figure with byte-stable metadata (png, svg or pdf by suffix)."""
    return save_figure(chart.figure, path, fmt)


def _charted_run(results: Results):
    """The runs to chart: for feature results only the full offer (the first scenario)."""
    if results.features is None:
        return results.run
    from trustsim.experiments.runner import subset as restrict

    base = results.names[0]
    subset = restrict(results.run, [base])
    return replace(subset, timeseries=results.run.timeseries.query("scenario == @base"))


def _step_unit(results: Results) -> str:
    """What one step is: from the runs' scenario, else the trace's provenance."""
    if results.names:
        return results.run.scenarios[results.names[0]].time.step_unit
    return str(results.provenance.get("step_unit") or "step")


def _need(condition: bool, message: str) -> None:
    if not condition:
        raise TrustsimInputError(message)


def _missing(results: Results, what: str, kind: str) -> str:
    return f"{results.path} has no {what}; the {kind} chart needs {KINDS[kind]}."

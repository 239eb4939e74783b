"""Terminal output: rich tables, JSON and CSV for run, compare and demo; progress bars."""

from __future__ import annotations

import contextlib
import json
import math
import sys
import time
from collections.abc import Iterator

import numpy as np

from trustsim.model.metrics import (
    HEADLINE,
    METRICS,
    fmt_interval,
    fmt_plus_minus,
    fmt_relative,
    fmt_signed,
    fmt_value,
)
from trustsim.model.metrics import label as metric_label

STAGE_MEASURES = ("delegation_rate", "verification_rate", "abandonment_rate")


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@contextlib.contextmanager
def progress_bar(total: int, enabled: bool = True, label: str = "Simulating") -> Iterator:
    """Yield a progress(done, total) callback; a bar appears on stderr after one second."""
    state: dict = {"progress": None, "task": None, "start": time.monotonic()}

    def advance(done: int, total_now: int) -> None:
        if not enabled:
            return
        if state["progress"] is None:
            if time.monotonic() - state["start"] < 1.0:
                return
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            state["progress"] = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("runs"), TimeRemainingColumn(),
                console=_console(stderr=True), transient=True,
            )  # fmt: skip
            state["progress"].start()
            state["task"] = state["progress"].add_task(label, total=total_now)
        state["progress"].update(state["task"], completed=done, total=total_now)

    try:
        yield advance
    finally:
        if state["progress"] is not None:
            state["progress"].stop()


# --------------------------------------------------------------------------- run
def print_run(result, fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(result.to_records(), indent=2))
        return
    table = result.metric_table()
    if fmt == "csv":
        table.to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    console = _console()
    headline = Table(
        title=f"Mean and 95% CI over {result.replications} replications (seed {result.seed})",
        title_justify="left",
    )
    headline.add_column("Measure")
    for name in result.names:
        headline.add_column(name, justify="right")
    index = table.set_index(["scenario", "metric"])
    for metric in HEADLINE:
        cells = [
            fmt_interval(metric, *index.loc[(name, metric), ["mean", "ci_low", "ci_high"]])
            for name in result.names
        ]
        headline.add_row(metric_label(metric), *cells)
    console.print(headline)
    for name in result.names:
        scenario = result.scenarios[name]
        stages = Table(
            title=f"{name}: choices by stage (mean share of choices)", title_justify="left"
        )
        stages.add_column("Stage")
        for measure in STAGE_MEASURES:
            stages.add_column(measure.replace("_rate", "").capitalize(), justify="right")
        for stage in scenario.stages:
            cells = []
            for measure in STAGE_MEASURES:
                mean = index.loc[(name, f"{measure}[{stage}]"), "mean"]
                cells.append(fmt_value(f"{measure}[{stage}]", mean))
            marker = " (closes)" if stage == scenario.closing_stage else ""
            stages.add_row(stage + marker, *cells)
        console.print(stages)


# ----------------------------------------------------------------------- compare
def print_comparison(result, diffs, fmt: str) -> None:
    from trustsim.experiments.decompose import split_lines, split_record
    from trustsim.experiments.stats import MIN_PAIRS_FOR_TEST, NO_TEST_NOTE

    base = result.names[0]
    no_test = result.replications < MIN_PAIRS_FOR_TEST
    if fmt == "json":
        records = []
        for row in diffs.itertuples():
            record = {
                "base": base, "scenario": row.scenario, "metric": row.metric,
                "base_mean": _num(row.base_mean), "mean": _num(row.mean),
                "diff": _num(row.diff), "ci_low": _num(row.ci_low),
                "ci_high": _num(row.ci_high), "relative": _num(row.relative),
                "relative_ci_low": _num(row.relative_ci_low),
                "relative_ci_high": _num(row.relative_ci_high),
                "p_value": _num(row.p_value), "p_holm": _num(row.p_holm),
            } | split_record(row._asdict())  # fmt: skip
            if no_test:
                record["p_note"] = NO_TEST_NOTE
            records.append(record)
        print(json.dumps(records, indent=2))
        return
    if fmt == "csv":
        diffs.insert(0, "base", base)
        diffs.to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    console = _console()
    alternatives = len(result.names) - 1
    test = "Wilcoxon signed-rank p" + (
        f", Holm-adjusted over {alternatives} alternatives" if alternatives > 1 else ""
    )
    for name in result.names[1:]:
        table = Table(
            title=f"{name} vs {base}: paired differences over {result.replications} "
            f"replications (95% CIs; {test})",
            title_justify="left",
        )
        for column in ("Measure", base, name, "Difference [95% CI]", "Relative [95% CI]", "p"):
            table.add_column(column, justify="left" if column == "Measure" else "right")
        rows = diffs[(diffs["scenario"] == name) & diffs["metric"].isin(HEADLINE)]
        for row in rows.itertuples():
            table.add_row(
                metric_label(row.metric),
                fmt_value(row.metric, row.base_mean),
                fmt_value(row.metric, row.mean),
                f"{fmt_signed(row.metric, row.diff)} [{fmt_signed(row.metric, row.ci_low)}, "
                f"{fmt_signed(row.metric, row.ci_high)}]",
                fmt_relative(row.relative, row.relative_ci_low, row.relative_ci_high),
                _fmt_p(row.p_holm),
            )
        console.print(table)
        for line in split_lines(diffs[diffs["scenario"] == name]):
            console.print(line)
    if no_test:
        console.print(f"No p-values: {NO_TEST_NOTE}.")


def _fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _num(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


# -------------------------------------------------------------------------- demo
DEMO_EFFECTS = (
    ("Verification affordances", "real-estate", "real-estate-verifiable"),
    ("Funnel pressure", "real-estate", "real-estate-funnel"),
    ("Affordances under funnel pressure", "real-estate-funnel", "real-estate-verifiable-funnel"),
    ("Journey instead of funnel (delivery)", "delivery-trial-funnel", "delivery-trial-journey"),
)
# Short-horizon effects are read on absolute deals: a conversion share at week 13 moves
# with the number of leads, which the alternatives change through word of mouth.
EFFECT_METRICS = ("closed_deals", "short_closed_deals", "satisfaction", "nps", "revenue")


def demo_effects(result):
    """Paired differences for each effect of the demo, as (label, base, other, rows).

    The demo tests every effect on every metric at once (len(DEMO_EFFECTS) x
    len(EFFECT_METRICS) tests), so p_holm is adjusted over that whole family.
    """
    from trustsim.experiments.runner import paired_differences, subset
    from trustsim.experiments.stats import holm

    effects = []
    for label, base, other in DEMO_EFFECTS:
        sub = subset(result, [base, other])
        diffs = paired_differences(sub, base, EFFECT_METRICS)
        effects.append((label, base, other, diffs))
    family = holm(np.concatenate([diffs["p_value"].to_numpy() for *_, diffs in effects]))
    start = 0
    for *_, diffs in effects:
        diffs["p_holm"] = family[start : start + len(diffs)]
        start += len(diffs)
    return effects


def effect_sentence(label: str, diffs) -> str:
    """A one-line reading of an effect, computed from its paired differences.

    A change counts as established where its Holm-adjusted p < 0.05 and its 95% CI
    excludes zero; otherwise it is marked "(n.s.)". Counts and money are read as relative
    changes with their own interval, shares and scores as absolute differences. An
    established effect that is split says which part drives it (`decompose.driver_phrase`).
    """
    from trustsim.experiments.decompose import driver_phrase

    by_metric = diffs.set_index("metric")
    parts = []
    for metric in EFFECT_METRICS:
        if metric not in by_metric.index:
            continue
        row = by_metric.loc[metric]
        if math.isnan(row["diff"]):
            continue
        significant = row["p_holm"] < 0.05 and (row["ci_low"] > 0 or row["ci_high"] < 0)
        if METRICS[metric].unit in ("count", "money") and not math.isnan(row["relative"]):
            change = fmt_relative(row["relative"], row["relative_ci_low"], row["relative_ci_high"])
        else:
            change = fmt_signed(metric, row["diff"])
        split = driver_phrase(metric, row) if significant else ""
        split = f" ({split})" if split else ""
        parts.append(f"{METRICS[metric].words} {change}{'' if significant else ' (n.s.)'}{split}")
    return f"{label}: " + ", ".join(parts) + "."


def print_demo(result, fmt: str) -> None:
    from trustsim.experiments.decompose import split_record, split_table

    effects = demo_effects(result)
    if fmt == "json":
        payload = {
            "scenarios": result.to_records(),
            "effects": [
                {
                    "effect": label, "base": base, "scenario": other,
                    "reading": effect_sentence(label, diffs),
                    "differences": {
                        row.metric: {"diff": _num(row.diff), "ci_low": _num(row.ci_low),
                                     "ci_high": _num(row.ci_high),
                                     "relative": _num(row.relative),
                                     "relative_ci_low": _num(row.relative_ci_low),
                                     "relative_ci_high": _num(row.relative_ci_high),
                                     "p_value": _num(row.p_value), "p_holm": _num(row.p_holm)}
                        | split_record(row._asdict())
                        for row in diffs.itertuples()
                    },
                }
                for label, base, other, diffs in effects
            ],
        }  # fmt: skip
        print(json.dumps(payload, indent=2))
        return
    if fmt == "csv":
        result.metric_table().to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    console = _console()
    table = Table(
        title=f"trustsim demo: mean ± 95% CI half-width over {result.replications} "
        f"replications with common random numbers (seed {result.seed})",
        title_justify="left",
    )
    table.add_column("Scenario", no_wrap=True)
    for metric in DEMO_COLUMNS:
        table.add_column(METRICS[metric].short, justify="right")
    index = result.metric_table().set_index(["scenario", "metric"])
    for family, members in _families(result.names):
        if family:
            table.add_row(f"[bold]{family}[/bold]", end_section=False)
        for name in members:
            label = name.removeprefix(family) or "(base)"
            cells = [
                fmt_plus_minus(m, *index.loc[(name, m), ["mean", "ci_low", "ci_high"]])
                for m in DEMO_COLUMNS
            ]
            table.add_row(("  " if family else "") + label, *cells)
        table.add_section()
    console.print(table)
    console.print(
        "[bold]What the differences say[/bold] (paired by replication; relative changes "
        "with their 95% CI; 'n.s.' where the 95% CI includes 0 or the Wilcoxon p, "
        f"Holm-adjusted over all {len(effects) * len(EFFECT_METRICS)} tests, is >= 0.05):"
    )
    for label, _base, _other, diffs in effects:
        console.print(" - " + effect_sentence(label, diffs))
    split = split_table([(label, diffs) for label, _base, _other, diffs in effects])
    if split is not None:
        console.print(split)


DEMO_COLUMNS = ("closed_deals", "conversion", "short_conversion", "satisfaction", "nps", "revenue")


def _families(names: list[str]) -> list[tuple[str, list[str]]]:
    """Group scenario names that share a first word (up to a hyphen), in order.

    Example:
        >>> _families(["real-estate", "real-estate-funnel", "delivery-trial-funnel"])
        [('real-estate', ['real-estate', 'real-estate-funnel']), ('', ['delivery-trial-funnel'])]
    """
    groups: list[tuple[str, list[str]]] = []
    for name in names:
        for index, (prefix, members) in enumerate(groups):
            common = _common_prefix(prefix or members[0], name)
            if common:
                groups[index] = (common, [*members, name])
                break
        else:
            groups.append(("", [name]))
    return groups


def _common_prefix(a: str, b: str) -> str:
    """The longest common prefix of two names that ends at a hyphen boundary."""
    parts_a, parts_b = a.split("-"), b.split("-")
    common = []
    for x, y in zip(parts_a, parts_b, strict=False):
        if x != y:
            break
        common.append(x)
    return "-".join(common)


# --------------------------------------------------------------------- scenarios
def print_scenario_list(scenarios) -> None:
    from rich.table import Table

    table = Table(title="Built-in scenarios", title_justify="left")
    table.add_column("Name")
    table.add_column("Stages", justify="right")
    table.add_column("Step")
    table.add_column("Description")
    for s in scenarios:
        table.add_row(s.name, str(len(s.stages)), s.time.step_unit, s.description)
    _console().print(table)

"""Tables of run, compare and `scenarios list`: rich tables, JSON or CSV on stdout."""

from __future__ import annotations

import json
import math
import sys

from trustsim.metrics import (
    HEADLINE,
    METRICS,
    fmt_interval,
    fmt_relative,
    fmt_signed,
    fmt_signed_bounds,
    fmt_value,
)
from trustsim.metrics import label as metric_label
from trustsim.terminal.console import console as _console
from trustsim.terminal.console import print_table

STAGE_MEASURES = ("delegation_rate", "verification_rate", "abandonment_rate")


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
        title=(
            f"Mean and 95% CI over {result.replications} replications (seed {result.seed})"
            if result.replications > 1
            else f"One replication (seed {result.seed}): values, no intervals"
        ),
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
    print_table(console, headline)
    for name in result.names:
        scenario = result.scenarios[name]
        walk = METRICS["abandonment_rate"]
        stages = Table(
            title=f"{name}: choices by stage (mean share of choices)",
            title_justify="left",
            caption=f"{walk.short} = {walk.description}.",
            caption_justify="left",
        )
        stages.add_column("Stage")
        for measure in STAGE_MEASURES:
            stages.add_column(METRICS[measure].short, justify="right")
        for stage in scenario.stages:
            cells = []
            for measure in STAGE_MEASURES:
                mean = index.loc[(name, f"{measure}[{stage}]"), "mean"]
                cells.append(fmt_value(f"{measure}[{stage}]", mean))
            marker = " (closes)" if stage == scenario.closing_stage else ""
            stages.add_row(stage + marker, *cells)
        print_table(console, stages)
    if result.replications == 1:
        from trustsim.experiments.stats import NO_CI_NOTE

        console.print(f"No intervals: {NO_CI_NOTE}.")


def print_comparison(result, diffs, fmt: str) -> None:
    from trustsim.experiments.stats import MIN_PAIRS_FOR_TEST, NO_CI_NOTE, NO_TEST_NOTE

    base = result.names[0]
    no_test = result.replications < MIN_PAIRS_FOR_TEST
    if fmt == "json":
        records, markets = [], several_markets_note(result)
        for row in diffs.itertuples():
            record = {
                "base": base, "scenario": row.scenario, "metric": row.metric,
                "base_mean": json_number(row.base_mean), "mean": json_number(row.mean),
                **difference_record(row),
            }  # fmt: skip
            if no_test:
                record["p_note"] = NO_TEST_NOTE
            if markets:
                record["markets_note"] = markets
            records.append(record)
        print(json.dumps(records, indent=2))
        return
    if fmt == "csv":
        diffs.insert(0, "base", base)
        diffs.to_csv(sys.stdout, index=False)
        return
    from rich.table import Table

    from trustsim.experiments.decompose import split_lines

    console = _console()
    alternatives = len(result.names) - 1
    test = "Wilcoxon signed-rank p" + (
        f", Holm-adjusted over {alternatives} alternatives" if alternatives > 1 else ""
    )
    for name in result.names[1:]:
        table = Table(
            title=f"{name} vs {base}: paired differences over {result.replications} "
            f"replication{'s' if result.replications > 1 else ''} (95% CIs; {test})",
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
                f"{fmt_signed(row.metric, row.diff)} "
                f"{fmt_signed_bounds(row.metric, row.ci_low, row.ci_high)}",
                fmt_relative(row.relative, row.relative_ci_low, row.relative_ci_high),
                _fmt_p(row.p_holm),
            )
        print_table(console, table)
        for line in split_lines(diffs[diffs["scenario"] == name]):
            console.print(line)
    if result.replications == 1:
        console.print(f"No intervals: {NO_CI_NOTE}.")
    if no_test:
        console.print(f"No p-values: {NO_TEST_NOTE}.")
    note = several_markets_note(result)
    if note:
        console.print(note)


def several_markets_note(result) -> str:
    """A warning when the scenarios simulate different markets (buyers, step, horizon):
    their differences then compare markets, not options for one market."""
    from trustsim.charts.markets import markets_of

    markets = markets_of(result)
    if len(markets) < 2:
        return ""
    described = "; ".join(
        f"{', '.join(names)}: {market.label}" for market, names in markets.items()
    )
    return (
        f"Note: these scenarios simulate {len(markets)} different markets ({described}). "
        "A difference between two of them compares markets, not options for one market; "
        "compare scenarios of one market with each other."
    )


def _fmt_p(p: float) -> str:
    if p is None or math.isnan(p):
        return "n/a"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


# A paired difference's fields in JSON output, in order.
DIFFERENCE_FIELDS = (
    "diff", "ci_low", "ci_high", "relative", "relative_ci_low", "relative_ci_high",
    "p_value", "p_holm",
)  # fmt: skip


def difference_record(row) -> dict:
    """A row of `paired_differences` as JSON-ready numbers (NaN as null), with the split
    of the difference where it has one (`decompose.split_record`)."""
    from trustsim.experiments.decompose import split_record

    numbers = {field: json_number(getattr(row, field)) for field in DIFFERENCE_FIELDS}
    return numbers | split_record(row._asdict())


def json_number(value):
    """NaN as None, so JSON output holds null rather than an invalid NaN."""
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def print_scenario_list(scenarios) -> None:
    from rich.table import Table

    table = Table(title="Built-in scenarios", title_justify="left")
    table.add_column("Name")
    table.add_column("Stages", justify="right")
    table.add_column("Step")
    table.add_column("Description")
    for s in scenarios:
        table.add_row(s.name, str(len(s.stages)), s.time.step_unit, s.description)
    print_table(_console(), table)

"""Tables fit an 80-column terminal without cutting a number."""

from __future__ import annotations

import io
import re
import textwrap

import pandas as pd
from click.testing import CliRunner
from rich.console import Console
from rich.table import Table

from trustsim.cli import main
from trustsim.terminal.console import fit_table, print_table

VALUES = [f"{1234.5 + i:,.1f} ± {12.25 + i:.2f}" for i in range(10)]


def _wide_table() -> Table:
    table = Table(title="Ten measures of one design point", caption="A caption")
    table.add_column("Design point of the sweep")
    for i in range(len(VALUES)):
        table.add_column(f"Measure number {i}", justify="right")
    table.add_row("point 0", *VALUES)
    table.add_row("point 1", *reversed(VALUES))
    return table


def _printed(table: Table, labels: int = 1) -> str:
    out = Console(width=80, file=io.StringIO(), record=True, highlight=False)
    print_table(out, table, labels)
    return out.export_text()


def test_a_table_too_wide_for_80_columns_comes_in_parts_with_every_number_whole():
    text = _printed(_wide_table())
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    for value in VALUES:
        assert text.count(value) == 2, f"{value} is printed whole, once per row"
    parts = 1 + text.count("(continued)")
    assert parts > 1 and text.count("Ten measures of one design point") == 1
    assert text.count("point 1") == parts, "every part repeats the label column"
    assert text.count("A caption") == 1


def test_a_table_that_fits_is_printed_as_it_is():
    table = Table()
    table.add_column("Measure")
    table.add_column("Value", justify="right")
    table.add_row("Closed deals", "21.3 ± 0.4")
    assert fit_table(table, 80) == [table]
    assert table.columns[1].width is None


TINY = """
name = "tiny-wide"
scenarios = ["real-estate"]
set = ["market.size=150"]
steps = 15
replications = 2
seed = 3
metrics = ["closed_deals", "leads", "satisfaction", "nps", "revenue", "conversion",
           "short_closed_deals", "abandonment_rate[viewing]"]

[design]
method = "grid"

[factors]
"stages.contract.affordance" = { values = [0.0, 1.0] }
"market.outside_influence" = { values = [0.01, 0.04] }
"""


def test_results_of_a_sweep_with_eight_metrics_fit_80_columns_without_cutting_a_number(
    tmp_path,
):
    experiment = tmp_path / "tiny.toml"
    experiment.write_text(textwrap.dedent(TINY), encoding="utf-8")
    out = tmp_path / "sweep"
    runner = CliRunner()
    ran = runner.invoke(main, ["sweep", str(experiment), "--out", str(out), "-w", "0", "-q"])
    assert ran.exit_code == 0, ran.output
    shown = runner.invoke(main, ["results", str(out)], env={"COLUMNS": "80"})
    assert shown.exit_code == 0, shown.output
    assert "…" not in shown.output
    assert max(len(line) for line in shown.output.splitlines()) <= 80
    csv = runner.invoke(main, ["results", str(out), "--format", "csv"]).output
    table = pd.read_csv(io.StringIO(csv))
    from trustsim.metrics import fmt_plus_minus

    assert "[viewing]" in shown.output, "a stage measure's header keeps its stage"
    for row in table.to_dict("records"):
        cell = fmt_plus_minus("revenue", row["revenue"], row["revenue_ci_low"],
                              row["revenue_ci_high"])  # fmt: skip
        for line in cell.splitlines():  # mean, then ± half-width below it
            assert line in shown.output, f"{line} of {row['point']} is shown whole"


def test_the_demo_at_80_columns_cuts_nothing_and_wraps_sentences_under_their_text():
    result = CliRunner().invoke(main, ["demo", "-n", "2"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    split = result.output[result.output.index("Where the effects come from") :]
    assert "…" not in split and "via conversion" in split
    assert max(len(line) for line in split.splitlines()) <= 80
    said = result.output[result.output.index("What the differences say") : -len(split)]
    lines = said.splitlines()
    sentences = lines[next(i for i, line in enumerate(lines) if line.startswith(" - ")) :]
    bullets = [line for line in sentences if line.startswith(" - ")]
    assert len(bullets) == 4 and len(sentences) > len(bullets)  # some sentences wrap
    for line in sentences:
        if not line.startswith(" - "):
            assert line.startswith("   ") and line[3] != " ", line  # under the text


def test_one_replication_prints_values_without_intervals_and_says_why():
    args = ["--replications", "1", "--steps", "20", "--set", "market.size=300"]
    run = CliRunner().invoke(main, ["run", "real-estate", *args], env={"COLUMNS": "160"})
    compare = CliRunner().invoke(
        main, ["compare", "real-estate", "real-estate-verifiable", *args], env={"COLUMNS": "160"}
    )
    for result in (run, compare):
        assert result.exit_code == 0, result.output
        assert "No intervals: one replication: no confidence interval" in result.output
        assert "(no CI)" in result.output and "nan" not in result.output.lower()
    assert "One replication (seed 0): values, no intervals" in run.output
    assert "(no finite CI)" in compare.output  # the relative change, not eaten as markup
    # No zero-width interval poses as certainty: "[+8.00, +8.00]".
    assert not re.search(r"\[([+-][\d.,]+)(?: pp)?, \1(?: pp)?\]", compare.output)
    two = CliRunner().invoke(main, ["run", "real-estate", *args[:1], "2", *args[2:]])
    assert two.exit_code == 0 and "No intervals" not in two.output  # negative control


def test_few_replications_never_print_a_count_or_share_interval_outside_its_range():
    args = ["--replications", "3", "--steps", "9", "--set", "market.size=300", "--format", "json"]
    result = CliRunner().invoke(main, ["run", "real-estate", *args])
    assert result.exit_code == 0, result.output
    import json

    from trustsim.metrics import value_range

    (scenario,) = json.loads(result.output)
    cut = 0
    for name, row in scenario["metrics"].items():
        low, high = value_range(name)
        if row["ci_low"] is not None:
            assert low <= row["ci_low"] and row["ci_high"] <= high, (name, row)
            cut += row["ci_low"] == low or row["ci_high"] == high
    assert cut, "this small run should reach a range's end somewhere (or the test is moot)"


def test_compare_says_when_its_scenarios_simulate_different_markets():
    args = ["--replications", "2", "--steps", "6"]
    apart = CliRunner().invoke(main, ["compare", "real-estate", "delivery-trial-funnel", *args])
    assert apart.exit_code == 0, apart.output
    said = " ".join(apart.output.split())
    assert "simulate 2 different markets" in said
    assert "real-estate: 2,000 buyers, 6 weeks" in said and "10,000 buyers, 6 days" in said
    alike = CliRunner().invoke(main, ["compare", "real-estate", "real-estate-funnel", *args])
    assert alike.exit_code == 0 and "different markets" not in alike.output
    as_json = CliRunner().invoke(
        main, ["compare", "real-estate", "delivery-trial-funnel", *args, "--format", "json"]
    )
    import json

    records = json.loads(as_json.output)
    assert records and all("2 different markets" in r["markets_note"] for r in records)

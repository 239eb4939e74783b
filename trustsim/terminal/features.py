"""The feature table (usage is not value): a rich table, CSV or JSON records."""

from __future__ import annotations

from trustsim.experiments.features import FeatureValue
from trustsim.terminal.console import console as _console
from trustsim.terminal.console import print_table


def print_features(value: FeatureValue, fmt: str = "table") -> None:
    """Print the feature table: a rich table, CSV or JSON records on stdout."""
    import json
    import sys

    table = value.table
    if fmt == "csv":
        table.to_csv(sys.stdout, index=False)
        return
    if fmt == "json":
        records = json.loads(table.to_json(orient="records"))
        print(json.dumps({"features": records, "skipped": value.skipped}, indent=2))
        return
    from rich.table import Table

    from trustsim.metrics import fmt_signed

    result = value.result
    out = Table(
        title=f"Usage is not value: {result.names[0]}, each feature removed in turn "
        f"({result.replications} paired runs, seed {result.seed}; 95% CI)",
        title_justify="left",
    )
    for column in (
        "Feature",
        "Used (share of choices)",
        "Closed deals without it",
        "Satisfaction without it",
    ):
        out.add_column(column, justify="left" if column == "Feature" else "right")
    for row in table.itertuples():
        out.add_row(
            row.feature,
            f"{100 * row.usage:.0f}% [{100 * row.usage_ci_low:.0f}, {100 * row.usage_ci_high:.0f}]",
            _effect(row, "closed_deals", fmt_signed),
            _effect(row, "satisfaction", fmt_signed),
        )
    console = _console()
    print_table(console, out)
    if "closed_deals_conversion" in table and table["closed_deals_conversion"].notna().any():
        console.print(
            "Closed deals: the change, relative change, then its parts via conversion (conv.: "
            "the variant on the full offer's lead arrivals) and via word of mouth (WoM: the rest)."
        )
    for note in value.skipped:
        console.print(f"Skipped: {note}")


def _effect(row, metric: str, fmt_signed) -> str:
    """The change with its CI, and the relative change with its own (Fieller) CI."""
    from trustsim.metrics import fmt_relative

    change = getattr(row, f"{metric}_change")
    low, high = getattr(row, f"{metric}_ci_low"), getattr(row, f"{metric}_ci_high")
    relative = fmt_relative(
        getattr(row, f"{metric}_relative"),
        getattr(row, f"{metric}_relative_ci_low"),
        getattr(row, f"{metric}_relative_ci_high"),
    )
    return (
        f"{fmt_signed(metric, change)} [{fmt_signed(metric, low)}, {fmt_signed(metric, high)}]"
        f"\n{relative}{_split_lines(row, metric)}"
    )


def _split_lines(row, metric: str) -> str:
    """The change's parts via conversion and via word of mouth, one line each ("" unsplit)."""
    from trustsim.experiments.decompose import SPLIT_COLUMNS, split_cell

    if not hasattr(row, f"{metric}_conversion"):
        return ""
    split = {column: getattr(row, f"{metric}_{column}") for column in SPLIT_COLUMNS}
    cell = split_cell(metric, split, named=True)
    return "\n" + cell if cell else ""

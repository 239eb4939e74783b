"""A traced buyer's journey: a rich table with a one-line story, or JSON records."""

from __future__ import annotations

import pandas as pd

from trustsim.experiments.trace import (
    TABLE_CAPTION,
    journey_records,
    journey_summary,
)
from trustsim.terminal.console import console as _console
from trustsim.terminal.console import print_table
from trustsim.trace_columns import COLUMNS, TABLE_COLUMNS


def print_trace(journey: pd.DataFrame, buyer: int, title: str, fmt: str = "table") -> None:
    """Print the trace as a rich table with a one-line story, or as JSON records."""
    if fmt == "json":
        import json

        print(json.dumps(journey_records(journey), indent=2))
        return
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=TABLE_CAPTION, caption_justify="left")
    columns = [COLUMNS[name] for name in TABLE_COLUMNS]
    for column in columns:
        table.add_column(column.header, justify="right" if column.number else "left")
    for row in journey.to_dict("records"):
        table.add_row(*(_cell(row[c.name], c.number) for c in columns))
    console = _console()
    if not console.is_terminal:
        # Written to a file or a pipe: wide enough that no column is cut.
        console = _console(width=150)
    print_table(console, table, labels=2)
    console.print(journey_summary(journey, buyer))


def _cell(value, number: bool) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.2f}" if number else str(value)

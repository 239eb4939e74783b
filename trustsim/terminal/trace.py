"""A traced buyer's journey: a rich table with a one-line story, or JSON records."""

from __future__ import annotations

import pandas as pd

from trustsim.experiments.trace import (
    TABLE_CAPTION,
    TRACE_COLUMNS,
    journey_records,
    journey_summary,
)


def print_trace(journey: pd.DataFrame, buyer: int, title: str, fmt: str = "table") -> None:
    """Print the trace as a rich table with a one-line story, or as JSON records."""
    if fmt == "json":
        import json

        print(json.dumps(journey_records(journey), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", caption=TABLE_CAPTION, caption_justify="left")
    headers = (
        "Step", "Stage", "T env", "T rules", "T cpty", "Trust", "Risk",
        "P del", "P ver", "P out", "Choice", "Outcome", "Satisf", "React",
    )  # fmt: skip
    for header in headers:
        table.add_column(
            header, justify="left" if header in ("Stage", "Choice", "Outcome") else "right"
        )
    for row in journey.itertuples():
        table.add_row(
            str(row.step), str(row.stage),
            *(f"{getattr(row, c):.2f}" for c in TRACE_COLUMNS[2:10]),
            str(row.action), str(row.outcome), f"{row.satisfaction:.2f}", f"{row.reactance:.2f}",
        )  # fmt: skip
    console = Console(highlight=False)
    if not console.is_terminal:
        # Written to a file or a pipe: wide enough that no column is cut.
        console = Console(highlight=False, width=140)
    console.print(table)
    console.print(journey_summary(journey, buyer))

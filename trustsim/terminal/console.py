"""The rich consoles every printer writes to, and tables that fit them.

A number is never cut: rich shrinks columns to fit its console and ends a value that no
longer fits with "…" ("21…" for 21.3). `print_table` gives every value column the width
of its longest value instead (its header wraps at words) and, where the values of all
columns cannot fit side by side, prints the table in parts that repeat its label
columns, each after the first titled "(continued)".
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Column, Table

# Width a column adds beside its content: one space of padding either side and, in a
# boxed table, one line between it and the next (the box's two edges are counted apart).
COLUMN_EXTRA = 3
EDGES = 2


def console(stderr: bool = False, width: int | None = None) -> Console:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, width=width)


def print_table(out: Console, table: Table, labels: int = 1) -> None:
    """Print `table` on `out` without cutting a value, in parts if it is too wide.

    Args:
        out: the console.
        table: a rich table whose first `labels` columns name the rows (they may wrap)
            and whose other columns hold values (never cut or wrapped).
        labels: how many leading columns every part repeats.
    """
    for part in fit_table(table, out.width, labels):
        out.print(part)


def fit_table(table: Table, width: int, labels: int = 1) -> list[Table]:
    """`table` as one or more tables no wider than `width` in which no value is cut.

    A table that fits as it is comes back unchanged. Otherwise each value column gets a
    fixed width, the longer of its longest value and its header's longest word, and
    the value columns are dealt in order into parts that fit beside the label columns
    (the label columns shrink to their longest word, wrapping the rest).
    """
    columns = table.columns
    if _natural_width(columns) <= width:
        return [table]
    needs = [_value_width(column) for column in columns]
    for column, need in zip(columns[labels:], needs[labels:], strict=True):
        column.width = need
    base = EDGES + sum(_longest_word(column) + COLUMN_EXTRA for column in columns[:labels])
    groups: list[list[int]] = [[]]
    used = base
    for index in range(labels, len(columns)):
        cost = needs[index] + COLUMN_EXTRA
        if groups[-1] and used + cost > width:
            groups.append([])
            used = base
        groups[-1].append(index)
        used += cost
    if len(groups) == 1:
        return [table]
    return [
        _part(table, [*range(labels), *group], n, len(groups)) for n, group in enumerate(groups)
    ]


def _part(table: Table, indices: list[int], n: int, parts: int) -> Table:
    import copy

    part = copy.copy(table)
    part.columns = [
        dataclasses.replace(table.columns[index], _index=position)
        for position, index in enumerate(indices)
    ]
    if n > 0:
        part.title = "(continued)"
    if n < parts - 1:
        part.caption = None
    return part


def _natural_width(columns: list[Column]) -> int:
    """The width of a table whose every cell and header is on one line."""
    return EDGES + sum(
        max(_text_width(cell) for cell in [column.header, *column.cells]) + COLUMN_EXTRA
        for column in columns
    )


def _value_width(column: Column) -> int:
    """The width a value column needs: its longest value, or its header's longest word."""
    values = [_text_width(cell) for cell in column.cells]
    return max([_longest_word(column, header_only=True), *values])


def _longest_word(column: Column, header_only: bool = False) -> int:
    cells = [column.header] if header_only else [column.header, *column.cells]
    return max((len(word) for cell in cells for word in _plain(cell).split()), default=1)


def _text_width(cell) -> int:
    return max((len(line) for line in _plain(cell).splitlines()), default=0)


def _plain(cell) -> str:
    """A cell's text without rich markup."""
    from rich.text import Text

    if isinstance(cell, Text):
        return cell.plain
    return Text.from_markup(str(cell)).plain

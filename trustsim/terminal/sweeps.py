"""A sweep's per-point summary and its sensitivity indices: rich tables, CSV or JSON."""

from __future__ import annotations

import math
import sys

from trustsim.experiments.results import factor_columns
from trustsim.experiments.store import SweepDir
from trustsim.terminal.console import console as _console
from trustsim.terminal.console import print_table


def print_summary(sweep_dir, table, fmt: str = "table", limit: int = 50) -> None:
    """Print a point summary as a rich table (first `limit` points), CSV or JSON."""
    if _printed_as_data(table, fmt):
        return
    from rich.table import Table

    from trustsim.metrics import fmt_plus_minus

    meta = SweepDir(sweep_dir).read_meta()
    metrics = [c for c in table.columns if f"{c}_ci_low" in table.columns]
    factors = factor_columns(meta)
    out = Table(
        title=f"{meta['experiment']}: mean ± 95% CI half-width over {meta['replications']} "
        f"replications per design point (seed {meta['seed']})",
        title_justify="left",
    )
    multi = len(meta["scenarios"]) > 1
    for column in ["point", *(["scenario"] if multi else [])]:
        out.add_column(column, justify="left" if column == "scenario" else "right")
    for column in [*(_short(f) for f in factors), "runs", *(_metric_header(m) for m in metrics)]:
        out.add_column(column, justify="right")
    for record in table.head(limit).to_dict("records"):
        cells = [str(record["point"])]
        if multi:
            cells.append(str(record["scenario"]))
        cells += [_fmt_factor(record[f]) for f in factors]
        cells.append(_fmt_runs(record))
        cells += [
            fmt_plus_minus(m, record[m], record[f"{m}_ci_low"], record[f"{m}_ci_high"])
            for m in metrics
        ]
        out.add_row(*cells)
    console = _console()
    print_table(console, out, labels=2 if multi else 1)
    if len(table) > limit:
        console.print(
            f"Showing {limit} of {len(table)} design points; --limit N for more, "
            "--format csv for all."
        )


def _short(path: str) -> str:
    """The last two parts of a factor path: enough to tell factors apart in a header.

    The header breaks after the dot, so a narrow column wraps it there.

    Example:
        >>> _short("stages.inspection.affordance")
        'inspection.\naffordance'
    """
    return ".\n".join(path.split(".")[-2:])


def _metric_header(column: str) -> str:
    """A measure's column name as `-m` takes it, broken after each "_" and before "[".

    Example:
        >>> _metric_header("abandonment_rate[inspection]")  # escaped: not rich markup
        'abandonment_\nrate\n\\[inspection]'
    """
    from rich.markup import escape

    return escape(column.replace("_", "_\n").replace("[", "\n["))


def _fmt_factor(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _fmt_runs(record: dict) -> str:
    text = str(record["runs_ok"])
    if record["runs_failed"]:
        text += f" ({record['runs_failed']} failed)"
    if record["runs_missing"]:
        text += f" ({record['runs_missing']} missing)"
    return text


def print_indices(table, fmt: str = "table") -> None:
    """Print indices as rich tables (one per scenario and metric), CSV or JSON."""
    if _printed_as_data(table, fmt):
        return
    from rich.table import Table

    console = _console()
    for (scenario, metric), group in table.groupby(["scenario", "metric"], sort=False):
        method = group["method"].iloc[0]
        names = list(dict.fromkeys(group["index"]))
        out = Table(title=f"{scenario}: {method} indices of {metric} (95% CI)",
                    title_justify="left")  # fmt: skip
        out.add_column("factor")
        for name in names:
            out.add_column(name, justify="right")
        for factor, rows in group.groupby("factor", sort=False):
            by_index = rows.set_index("index")
            out.add_row(factor, *[_fmt_index(by_index, n) for n in names])
        print_table(console, out)


def _fmt_index(rows, name: str) -> str:
    if name not in rows.index:
        return ""
    value, low, high = rows.loc[name, ["value", "ci_low", "ci_high"]]
    if math.isnan(value):
        return "n/a"
    if math.isnan(low):
        return f"{value:.3g}"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def _printed_as_data(table, fmt: str) -> bool:
    """Print `table` as CSV or JSON records if `fmt` asks for one; say whether it did."""
    if fmt == "csv":
        table.to_csv(sys.stdout, index=False)
    elif fmt == "json":
        print(table.to_json(orient="records", indent=2))
    return fmt in ("csv", "json")

"""The demo: its table and the sentences that read its effects."""

from __future__ import annotations

import json
import math
import sys

import numpy as np

from trustsim.metrics import METRICS, fmt_plus_minus, fmt_relative, fmt_signed
from trustsim.terminal.console import console as _console
from trustsim.terminal.console import print_table
from trustsim.terminal.runs import difference_record

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
    effects = demo_effects(result)
    if fmt == "json":
        payload = {
            "scenarios": result.to_records(),
            "effects": [
                {
                    "effect": label, "base": base, "scenario": other,
                    "reading": effect_sentence(label, diffs),
                    "differences": {
                        row.metric: difference_record(row) for row in diffs.itertuples()
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

    from trustsim.experiments.decompose import split_table

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
    print_table(console, table)
    console.print(
        "[bold]What the differences say[/bold] (paired by replication; relative changes "
        "with their 95% CI; 'n.s.' where the 95% CI includes 0 or the Wilcoxon p, "
        f"Holm-adjusted over all {len(effects) * len(EFFECT_METRICS)} tests, is >= 0.05):"
    )
    # A grid, so a sentence that wraps continues under its own first word, not the dash.
    sentences = Table.grid(padding=(0, 1))
    sentences.add_column(no_wrap=True)
    sentences.add_column()
    for label, _base, _other, diffs in effects:
        sentences.add_row(" -", effect_sentence(label, diffs))
    console.print(sentences)
    split = split_table([(label, diffs) for label, _base, _other, diffs in effects])
    if split is not None:
        print_table(console, split)


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

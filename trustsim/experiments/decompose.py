"""Effects split into their causes: via conversion and via word of mouth (docs/ODD.md 7.13).

An alternative A changes closed deals (or revenue) Y against a base B in two ways: it
turns the same leads into customers differently (conversion), and through its customers'
word of mouth it brings other leads, at other times (word of mouth). Replication r also
runs A on B's lead arrivals (the buyers who became leads in B's run r, at the same steps,
with the same seed: `TrustModel(arrivals=...)`), giving Y_{A|B}. Then per replication

    Y_A - Y_B = (Y_{A|B} - Y_B) + (Y_A - Y_{A|B})
                via conversion    via word of mouth

exactly, and each part is a paired difference with its own t-interval. The split costs
one more run per replication and alternative.
"""

from __future__ import annotations

import math

import numpy as np

from trustsim.experiments.stats import mean_ci

# The measures whose effects are split: closed deals and what they earn.
DECOMPOSED = ("closed_deals", "revenue")
# The columns `split_effect` adds to a row of paired differences.
SPLIT_COLUMNS = (
    "conversion", "conversion_ci_low", "conversion_ci_high",
    "word_of_mouth", "word_of_mouth_ci_low", "word_of_mouth_ci_high", "driver",
)  # fmt: skip
PARTS = {"conversion": "conversion", "word_of_mouth": "word of mouth"}  # column: words
ABBREVIATED = {"conversion": "conv.", "word_of_mouth": "WoM"}
ENDS = ("low", "high")


def split_effect(base, other, replayed) -> dict[str, float | str | None]:
    """The paired effect `other - base` split into its part via conversion and the rest.

    Args:
        base, other: a measure per replication in the base and the alternative.
        replayed: the same measure per replication in the alternative run on the base's
            lead arrivals.

    Returns:
        conversion = mean(replayed - base) and word_of_mouth = mean(other - base) -
        conversion (so the two sum to the mean difference), each with the 95% t-interval
        of its paired differences; and `driver`, the part that makes most of the effect
        where the interval says so: "conversion" where the 95% interval of
        sign(effect) * (via conversion - via word of mouth) lies above 0, "word_of_mouth"
        where it lies below, else None.

    Example:
        >>> split = split_effect([10, 12, 11], [20, 25, 22], [12, 14, 13])
        >>> split["conversion"], split["word_of_mouth"], split["driver"]
        (2.0, 9.333333333333334, 'word_of_mouth')
    """
    base, other, replayed = (np.asarray(x, dtype=float) for x in (base, other, replayed))
    via_conversion, via_word_of_mouth = replayed - base, other - replayed
    effect = float(np.nanmean(other - base)) if len(base) else math.nan
    conversion, conversion_low, conversion_high = mean_ci(via_conversion)
    _, word_low, word_high = mean_ci(via_word_of_mouth)
    _, low, high = mean_ci(np.sign(effect) * (via_conversion - via_word_of_mouth))
    driver = "conversion" if low > 0 else "word_of_mouth" if high < 0 else None
    return {
        "conversion": conversion,
        "conversion_ci_low": conversion_low,
        "conversion_ci_high": conversion_high,
        "word_of_mouth": effect - conversion,
        "word_of_mouth_ci_low": word_low,
        "word_of_mouth_ci_high": word_high,
        "driver": driver,
    }


def no_split() -> dict[str, float | None]:
    """The split columns of a row that is not split (its measure, or the run, has none)."""
    return {name: (None if name == "driver" else math.nan) for name in SPLIT_COLUMNS}


def split_record(row) -> dict:
    """A split row's fields for JSON: `decomposition` {conversion, word_of_mouth} (which
    sum to `diff`), their interval bounds and the driver; {} where the row is not split."""
    if not is_split(row):
        return {}
    bounds = {f"{part}_ci_{end}": row[f"{part}_ci_{end}"] for part in PARTS for end in ENDS}
    decomposition = {part: row[part] for part in PARTS}
    return {"decomposition": decomposition, **bounds, "driver": _driver(row)}


def split_cell(metric: str, row, named: bool = False) -> str:
    """Both parts with their intervals on two lines, via conversion over via word of
    mouth (`named`: each followed by "conv." or "WoM"); "" where the row is not split."""
    if not is_split(row):
        return ""
    return "\n".join(
        _part(metric, row, part) + (f" {ABBREVIATED[part]}" if named else "") for part in PARTS
    )


def split_lines(diffs) -> list[str]:
    """Lines under a comparison table: each split measure's parts with their intervals and
    driver ("Closed deals: +92.25 [+87.06, +97.44] via conversion, +222 [+203, +241] via
    word of mouth (mostly word of mouth)"), then what the parts are; [] if none is split."""
    from trustsim.metrics import label

    lines = []
    for row in diffs.to_dict("records"):
        if is_split(row):
            driver = _driver(row)
            mostly = f" (mostly {PARTS[driver]})" if driver else ""
            parts = ", ".join(f"{_part(row['metric'], row, p)} via {w}" for p, w in PARTS.items())
            lines.append(f"{label(row['metric'])}: {parts}{mostly}.")
    if lines:
        lines.append(
            "Via conversion: the alternative run on the base's lead arrivals, minus the base; "
            "via word of mouth: the rest (docs/ODD.md 7.13)."
        )
    return lines


def driver_phrase(metric: str, row) -> str:
    """Which part drives an effect, in words: "mostly via word of mouth", or "via
    conversion and word of mouth, neither clearly more"; a part whose interval lies on
    the other side of zero is named with its value ("; via conversion -429 [-442, -417]").
    "" where the row is not split."""
    if not is_split(row):
        return ""
    driver = _driver(row)
    phrase = f"mostly via {PARTS[driver]}" if driver else (
        "via conversion and word of mouth, neither clearly more"
    )  # fmt: skip
    sign = np.sign(row["diff"])
    for part, words in PARTS.items():
        if sign * row[f"{part}_ci_low"] < 0 and sign * row[f"{part}_ci_high"] < 0:
            phrase += f"; via {words} {_part(metric, row, part)}"
    return phrase


def _driver(row) -> str | None:
    """The row's driver; None where there is none (a table may hold it as NaN)."""
    driver = row.get("driver")
    return driver if isinstance(driver, str) else None


def _part(metric: str, row, part: str) -> str:
    from trustsim.metrics import fmt_signed, fmt_signed_bounds

    low, high = row[f"{part}_ci_low"], row[f"{part}_ci_high"]
    return f"{fmt_signed(metric, row[part])} {fmt_signed_bounds(metric, low, high)}"


def _stacked(metric: str, value: float, low: float, high: float, mark: bool = False) -> str:
    """A value over its interval, for a narrow column; `mark` stars the value."""
    from trustsim.metrics import fmt_signed, fmt_signed_bounds

    star = " *" if mark else ""
    return f"{fmt_signed(metric, value)}{star}\n{fmt_signed_bounds(metric, low, high)}"


def is_split(row) -> bool:
    """Whether a row of paired differences (a mapping) carries a split of its effect."""
    value = row.get("conversion", math.nan)
    return value is not None and not math.isnan(value)


def split_table(effects, metrics=None):
    """A rich table of effects split into their parts: one row per effect, per measure
    the difference, the part via conversion and via word of mouth with 95% CIs, and the
    driver; None where no effect is split.

    Args:
        effects: (label, paired differences) per effect.
        metrics: the measures shown (default: every split measure present).
    """
    from rich.table import Table

    from trustsim.metrics import METRICS

    split = [(label, diffs[diffs["conversion"].notna()]) for label, diffs in effects]
    shown = metrics or list(dict.fromkeys(m for _, d in split for m in d["metric"]))
    if not shown:
        return None
    table = Table(
        title="Where the effects come from: via conversion (the alternative on the base's "
        "lead arrivals) and via word of mouth (the rest), 95% CIs",
        title_justify="left",
    )
    table.add_column("Effect")
    for metric in shown:
        for column in (METRICS[metric].short, "via conversion", "via word of mouth"):
            table.add_column(column, justify="right")
    for label, diffs in split:
        cells = [label]
        by_metric = diffs.set_index("metric")
        for metric in shown:
            if metric not in by_metric.index:
                cells += ["n/a"] * 3
                continue
            row = by_metric.loc[metric]
            cells.append(_stacked(metric, row["diff"], row["ci_low"], row["ci_high"]))
            for part in PARTS:
                bounds = row[f"{part}_ci_low"], row[f"{part}_ci_high"]
                cells.append(_stacked(metric, row[part], *bounds, _driver(row) == part))
        table.add_row(*cells)
    table.caption = "* the part that makes most of the effect (95% CI of the parts' gap)"
    return table

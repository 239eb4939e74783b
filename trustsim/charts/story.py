"""One buyer's journey (from `trustsim trace`) as a story strip.

The trace is the table `trustsim trace` writes (`trustsim.experiments.trace`), one row
per step the buyer acted. The strip needs TRACE_COLUMNS: step, stage,
trust_environment, trust_rules, trust_counterparty, perceived_risk, action ("delegate",
"verify" or "abandon"; a column named `choice` is accepted too), outcome ("success",
"error caught", "incident", "deal collapsed", ...), satisfaction and reactance.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from trustsim.charts.base import Chart, finish, label_line_ends, note
from trustsim.charts.style import (
    ALERT,
    FIGSIZE,
    GREY,
    HIGHLIGHT,
    LIGHT_GREY,
    OKABE_ITO,
    TEXT,
)
from trustsim.experiments import trace

if TYPE_CHECKING:
    import pandas as pd

# The trace's columns the strip reads, in the trace's order (`experiments.trace.TRACE_COLUMNS`
# is the registry; the strip leaves out the stage-weighted trust and the probabilities).
TRACE_COLUMNS = tuple(
    c for c in trace.TRACE_COLUMNS if c not in {"trust", "p_delegate", "p_verify", "p_abandon"}
)
# Outcomes printed bold in the strip: the moments that cost trust.
BAD_OUTCOMES = ("fail", "incident", "collaps")
CHOICE_MARK = {"delegate": ("D", GREY), "verify": ("V", HIGHLIGHT), "abandon": ("X", ALERT)}


def story_chart(data: pd.DataFrame, with_title: bool = True, unit: str = "step") -> Chart:
    """Trust, perceived risk and satisfaction over the buyer's steps, with each choice below.

    Example:
        >>> import pandas as pd
        >>> trace = pd.DataFrame({"step": [1, 2], "stage": ["a", "b"],
        ...     "trust_environment": [.5, .6], "trust_rules": [.5, .55],
        ...     "trust_counterparty": [.5, .5], "perceived_risk": [.3, .2],
        ...     "action": ["verify", "delegate"], "outcome": ["success", "success"],
        ...     "satisfaction": [.6, .7], "reactance": [0., 0.]})
        >>> story_chart(trace).title
        'This buyer verified 1 of 2 steps and reached b; satisfaction ends at 0.70'
    """
    import matplotlib.pyplot as plt

    rows = as_trace(data).sort_values("step").reset_index(drop=True)
    fig, (ax, strip) = plt.subplots(
        2, 1, figsize=FIGSIZE, sharex=True, gridspec_kw={"height_ratios": [3.2, 1]}
    )
    trust = rows[["trust_environment", "trust_rules", "trust_counterparty"]].mean(axis=1)
    lines = (
        ("satisfaction", rows["satisfaction"], HIGHLIGHT, 3.0),
        ("trust (mean)", trust, GREY, 2.5),
        ("perceived risk", rows["perceived_risk"], OKABE_ITO["orange"], 2.5),
    )
    for _, values, color, width in lines:
        ax.plot(rows["step"], values, color=color, lw=width, marker="o", ms=5)
    ax.set_ylim(0, 1)
    label_line_ends(
        ax,
        float(rows["step"].iloc[-1]),
        [float(v.iloc[-1]) for _, v, _, _ in lines],
        [f"{name} {float(v.iloc[-1]):.2f}" for name, v, _, _ in lines],
        [c for _, _, c, _ in lines],
    )
    ax.set_ylabel("0–1")
    note(ax, "One simulated buyer; no uncertainty band: a single path, not an average")
    _choice_strip(strip, rows)
    strip.set_xlabel(f"{unit.capitalize()}")
    title = _story_title(rows)
    verified = int((rows["action"] == "verify").sum())
    takeaway = (
        f"This buyer checked {verified} of {len(rows)} steps; trust moved with each outcome "
        "and satisfaction carried the whole journey, before and after payment."
    )
    finish(fig, title, with_title)
    return Chart("story", title, takeaway, fig, rows, "none: one buyer")


# Heights in the strip (0 at the bottom, 1 at the top): two rows of stage names, so
# neighbours too wide for their spans alternate, and the row of choice letters.
NAME_ROWS = (0.04, 0.33)
CHOICE_ROW = 0.76


def _choice_strip(ax, rows: pd.DataFrame) -> None:
    """Stages as shaded spans with their names; each step's choice as a letter."""
    stages = rows["stage"].to_numpy()
    starts = [0, *[i for i in range(1, len(stages)) if stages[i] != stages[i - 1]]]
    bounds = [*starts, len(stages)]
    steps = rows["step"].to_numpy(dtype=float)
    names = []
    for j, (a, b) in enumerate(itertools.pairwise(bounds)):
        left, right = steps[a] - 0.5, steps[b - 1] + 0.5
        ax.axvspan(left, right, color=LIGHT_GREY if j % 2 == 0 else "#EFEFEF", lw=0)
        names.append(
            ax.text(
                (left + right) / 2,
                NAME_ROWS[0],
                str(stages[a]).replace("_", " "),
                ha="center",
                va="bottom",
                fontsize=14,
                color=TEXT,
                clip_on=True,
            )
        )
    for step, choice, outcome in zip(steps, rows["action"], rows["outcome"], strict=True):
        mark, color = CHOICE_MARK.get(str(choice), ("?", TEXT))
        weight = "bold" if any(bad in str(outcome) for bad in BAD_OUTCOMES) else "normal"
        ax.text(
            step,
            CHOICE_ROW,
            mark,
            ha="center",
            va="center",
            fontsize=15,
            color=color,
            fontweight=weight,
        )
    ax.set_ylim(0, 1)
    ax.set_yticks([])
    ax.grid(False)
    ax.spines["left"].set_visible(False)
    ax.set_xlim(steps.min() - 0.5, steps.max() + 0.5)
    ax.set_ylabel("D deleg.\nV verify\nX leave", fontsize=14, rotation=0, ha="right", va="center")
    _keep_apart(ax, names)


def _keep_apart(ax, names: list) -> None:
    """Move a stage name that would touch its left neighbour to the other row; where
    both rows are taken, shorten it (ending in "…") until it fits."""
    fig = ax.figure
    fig.canvas.draw()  # names are measured at their laid-out size
    renderer = fig.canvas.get_renderer()
    placed: dict[float, list] = {row: [] for row in NAME_ROWS}

    def clear(text, row) -> bool:
        text.set_y(row)
        box = text.get_window_extent(renderer).padded(4)
        return not any(box.overlaps(other) for other in placed[row])

    for text in names:
        row = next((r for r in NAME_ROWS if clear(text, r)), None)
        if row is None:
            row = NAME_ROWS[0]
            while not clear(text, row) and len(text.get_text()) > 2:
                text.set_text(text.get_text()[:-2] + "…")
        text.set_y(row)
        placed[row].append(text.get_window_extent(renderer).padded(4))


def _story_title(rows: pd.DataFrame) -> str:
    verified = int((rows["action"] == "verify").sum())
    last = rows.iloc[-1]
    abandoned = rows[rows["action"] == "abandon"]
    if len(abandoned):
        ending = f"walked away at {abandoned['stage'].iloc[0]}"
    else:
        ending = f"reached {last.stage}"
    return (
        f"This buyer verified {verified} of {len(rows)} steps and {ending}; "
        f"satisfaction ends at {float(last.satisfaction):.2f}"
    )


def as_trace(frame: pd.DataFrame) -> pd.DataFrame:
    """The trace with `action` as plain text (it may arrive as `choice` or categorical)."""
    if "action" not in frame.columns and "choice" in frame.columns:
        frame = frame.rename(columns={"choice": "action"})
    return frame.assign(action=frame["action"].astype(str), outcome=frame["outcome"].astype(str))

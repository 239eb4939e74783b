"""What the page computes and keeps: a view's runs, its headline table, a saved view.

A view is the edited scenario, optionally a scenario to compare it with, and the
replications and seed. Its runs use the runner with common random numbers and the
compiled engine (the same results as the others, the fastest); nothing here imports
Streamlit.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult
    from trustsim.scenarios import Scenario

ENGINE = "compiled"
# Measures of the headline table, in order: the deals and their quality, then where
# a change in deals comes from (more leads, word of mouth among them, or conversion).
TABLE_METRICS = (
    "closed_deals", "nps", "satisfaction", "leads", "wom_leads", "conversion", "revenue",
)  # fmt: skip
# Charts a view can put in a deck, in deck order, and what each shows.
DECK_CHARTS = {
    "funnel": "the funnel by stage",
    "trust": "trust by layer over time",
    "difference": "closed deals, paired difference to the comparison",
    "comparison": "closed deals with 95% CIs",
    "horizon": "cumulative closed deals over time",
    "leads": "leads over time",
    "story": "one buyer's journey",
}
VIEW_FILE = "view.json"
SCREEN_DPI = 100


@dataclass
class View:
    """The runs behind the page at one setting of its controls.

    Attributes:
        result: runs of the edited scenario (first) and the comparison, if any.
        differences: edited minus comparison, paired by replication (None alone).
        edited: the edited scenario's name.
        comparison: the comparison scenario's name, or None.
        seconds: wall time of the runs.
    """

    result: RunResult
    differences: pd.DataFrame | None
    edited: str
    comparison: str | None
    seconds: float


def run_scenario(scenario: Scenario, replications: int, seed: int) -> RunResult:
    """One scenario's runs: replication r uses the same seed as in any other scenario."""
    from trustsim.experiments.runner import run

    return run([scenario], replications=replications, seed=seed, engine=ENGINE)


def run_view(
    edited: Scenario,
    comparison: Scenario | None,
    replications: int,
    seed: int,
    run_one: Callable[[Scenario, int, int], RunResult] = run_scenario,
) -> View:
    """Run the edited scenario and the comparison with common random numbers.

    Each scenario is run on its own by `run_one` (the page caches it, so moving a slider
    reruns only the edited scenario); a replication's numbers do not depend on which
    other runs happen alongside it, so the pair is the same as one `trustsim.run` of both.

    Raises:
        TrustsimInputError: the two scenarios share a name.
    """
    from trustsim.experiments.runner import paired_differences

    if comparison is not None and comparison.name == edited.name:
        raise TrustsimInputError(
            f"the comparison is also named {edited.name!r}; give the edited scenario another name."
        )
    start = time.perf_counter()
    parts = [run_one(s, replications, seed) for s in (edited, comparison) if s is not None]
    result = _together(parts)
    seconds = time.perf_counter() - start
    differences = None
    if comparison is not None:
        # Paired against the comparison, so a difference reads "edited minus comparison".
        differences = paired_differences(result, comparison.name, list(TABLE_METRICS))
    return View(result, differences, edited.name, comparison.name if comparison else None, seconds)


def _together(parts: list[RunResult]) -> RunResult:
    """Runs of several scenarios with the same replications and seed, as one result."""
    import pandas as pd

    first = parts[0]
    return dataclasses.replace(
        first,
        summaries=pd.concat([p.summaries for p in parts], ignore_index=True),
        timeseries=pd.concat([p.timeseries for p in parts], ignore_index=True),
        scenarios={name: s for p in parts for name, s in p.scenarios.items()},
    )


def interval_table(run: RunResult, metrics: list[str] | tuple[str, ...]) -> pd.DataFrame:
    """One row per measure, one column per scenario: mean [95% CI], as `trustsim run` shows."""
    import pandas as pd

    from trustsim.metrics import fmt_interval, label

    present = [m for m in metrics if m in run.summaries.columns]
    table = run.metric_table(present).set_index(["scenario", "metric"])
    rows = []
    for metric in present:
        row = {"Measure": label(metric)}
        for name in run.names:
            cell = table.loc[(name, metric)]
            row[name] = fmt_interval(metric, cell["mean"], cell["ci_low"], cell["ci_high"])
        rows.append(row)
    return pd.DataFrame(rows)


def headline_table(view: View) -> pd.DataFrame:
    """The view's measures: edited and comparison with 95% CIs, difference, p-value."""
    table = interval_table(view.result, TABLE_METRICS)
    if view.differences is None:
        return table
    diffs = view.differences.set_index("metric").loc[list(TABLE_METRICS)]
    table["Difference [95% CI]"] = [_difference_text(m, diffs.loc[m]) for m in TABLE_METRICS]
    table["p (Wilcoxon)"] = [_p_text(p) for p in diffs["p_value"]]
    return table


def _p_text(p: float) -> str:
    return "n/a" if math.isnan(p) else f"{p:.3f}"


def _difference_text(metric: str, diff: pd.Series) -> str:
    from trustsim.metrics import fmt_signed

    if math.isnan(diff["diff"]):
        return "n/a"
    return (
        f"{fmt_signed(metric, diff['diff'])} "
        f"[{fmt_signed(metric, diff['ci_low'])}, {fmt_signed(metric, diff['ci_high'])}]"
    )


def headline(view: View, metric: str) -> tuple[float, float, float, float | None]:
    """(mean, CI low, CI high, paired difference to the comparison or None) of a measure."""
    row = view.result.metric_table([metric]).set_index("scenario").loc[view.edited]
    diff = None
    if view.differences is not None:
        diff = float(view.differences.set_index("metric").loc[metric, "diff"])
    return float(row["mean"]), float(row["ci_low"]), float(row["ci_high"]), diff


def chart_images(view: View) -> list[tuple[str, bytes]]:
    """The page's charts of a view, drawn by `trustsim.charts`: (action title, PNG).

    The funnel and trust of the edited scenario; with a comparison, the paired
    difference in closed deals.
    """
    from trustsim.charts.comparison import difference_chart, difference_data
    from trustsim.charts.funnel import funnel_chart, funnel_data
    from trustsim.charts.style import chart_style
    from trustsim.charts.timeseries import trust_chart, trust_data

    run = view.result
    with chart_style():
        charts = [
            funnel_chart(funnel_data(run, view.edited)),
            trust_chart(trust_data(run, view.edited)),
        ]
        if view.comparison is not None:
            data = difference_data(run, view.comparison, "closed_deals", view.differences)
            charts.append(difference_chart(data))
    return images(charts)


def story_image(journey: pd.DataFrame, unit: str) -> list[tuple[str, bytes]]:
    """The story strip of one buyer's journey: [(action title, PNG)]."""
    from trustsim.charts.story import story_chart
    from trustsim.charts.style import chart_style

    with chart_style():
        return images([story_chart(journey, unit=unit)])


def images(charts: list) -> list[tuple[str, bytes]]:
    """Each chart as (action title, PNG at screen resolution); the figures are closed."""
    import io

    import matplotlib.pyplot as plt

    from trustsim.charts.style import render

    out = []
    for chart in charts:
        buffer = io.BytesIO()
        render(chart.figure, buffer, "png", dpi=SCREEN_DPI)
        plt.close(chart.figure)
        out.append((chart.title, buffer.getvalue()))
    return out


def save_scenario(path: str | Path, text: str) -> Path:
    """Write a scenario file atomically; refuse a name that is not a .toml file.

    Raises:
        TrustsimInputError: the path does not end in .toml or names a directory.
    """
    from trustsim.output import write_text_atomic

    target = Path(path).expanduser()
    if target.suffix.lower() != ".toml":
        raise TrustsimInputError(f"{target}: a scenario file ends in .toml, e.g. my-offer.toml.")
    if target.is_dir():
        raise TrustsimInputError(f"{target} is a directory; give a file name ending in .toml.")
    _writable(target.parent)
    write_text_atomic(target, text)
    return target


def add_to_deck(
    deck: str | Path,
    view: View,
    charts: list[str],
    view_record: dict,
    changes: Mapping[tuple[str, ...], float],
    trace: pd.DataFrame | None = None,
) -> Path:
    """Store a view as a results folder inside `deck`, so `trustsim report` can draw it.

    The folder `deck/NN-name/` holds what `trustsim run --out` writes (the edited
    scenario first, so the funnel and trust charts are its own), the buyer's trace if
    the story chart is chosen, the edited scenario as "Save scenario" writes it
    (`scenario.toml`, extending `view_record["extends"]`), and `view.json`: the charts
    chosen, the overrides, the comparison, replications and seed. The whole folder
    appears at once or not at all.

    Raises:
        TrustsimInputError: no chart chosen, an unknown chart, or the story without a trace.
    """
    from trustsim.experiments.trace import write_trace
    from trustsim.explore.controls import extends_reference, scenario_toml
    from trustsim.output import atomic_directory

    unknown = [c for c in charts if c not in DECK_CHARTS]
    if not charts or unknown:
        raise TrustsimInputError(
            f"charts {', '.join(unknown) or '(none)'}: choose from {', '.join(DECK_CHARTS)}."
        )
    if "story" in charts and trace is None:
        raise TrustsimInputError("the story chart needs a buyer's journey: show one first.")
    needs_two = {"difference", "horizon"} & set(charts)
    if needs_two and view.comparison is None:
        raise TrustsimInputError(
            f"{', '.join(sorted(needs_two))} need a comparison scenario; choose one first."
        )
    folder = Path(deck).expanduser()
    if folder.exists() and not folder.is_dir():
        raise TrustsimInputError(f"{folder} is a file; give a folder for the deck's views.")
    _writable(folder if folder.exists() else folder.parent)
    target = folder / f"{_next_number(folder):02d}-{view.edited}"
    extends = extends_reference(view_record["extends"], target / "scenario.toml")
    with atomic_directory(target) as tmp:
        view.result.write(tmp)
        text = scenario_toml(extends, view.edited, changes, view.result.scenarios[view.edited])
        (tmp / "scenario.toml").write_text(text, encoding="utf-8")
        if trace is not None and "story" in charts:
            write_trace(trace, tmp / "trace.parquet")
        record = {**view_record, "charts": [c for c in DECK_CHARTS if c in charts]}
        (tmp / VIEW_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return target


def _next_number(folder: Path) -> int:
    """One more than the highest NN- prefix in the deck folder (views keep their order)."""
    numbers = [
        int(child.name[:2])
        for child in (folder.iterdir() if folder.is_dir() else ())
        if child.is_dir() and child.name[:2].isdigit() and child.name[2:3] == "-"
    ]
    return max(numbers, default=0) + 1


def _writable(folder: Path) -> None:
    import os

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK):
        raise TrustsimInputError(f"{existing}: no permission to write here; choose another place.")

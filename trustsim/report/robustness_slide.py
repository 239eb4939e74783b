"""The deck's robustness slide: "Holds in 87% of plausible worlds; weakest when ...".

Given a robustness study (`trustsim robustness`, with `trustsim discover` optional),
`trustsim report --robustness DIR` adds one evidence slide about the *headline*
alternative: the study's alternative with the largest gain at the default constants on
the deck's primary KPI (the rule the recommendation slide uses). The slide shows that
alternative's conclusions (the robustness chart), and its title and takeaway make only
the claims the study establishes:

- the share of plausible worlds where the primary conclusion holds, with its Wilson 95%
  interval, and where it is established (paired CI excludes 0);
- the constants that decide it, named only when a Bonferroni-corrected test says so
  (`trustsim.robustness.indices`), with the side on which it weakens;
- PRIM's region where it fails, only when `discover` found one whose limits are
  significant (quasi-p <= 0.05) and reproduced in at least half of the half-samples;
  otherwise the slide says no reproducible region was established.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    from trustsim.charts.base import Chart


@dataclass
class RobustnessStudy:
    """What the slide needs from a study directory."""

    directory: Path
    scenario: str  # the headline alternative
    metric: str  # the deck's primary KPI (or the study's first metric)
    table: Any  # robustness.csv
    indices: Any | None  # indices.csv, if the study has one
    base: str = ""
    provenance: str = ""  # the study's directory, worlds, runs and seed, in a line

    def labelled(self, labels: dict[str, str]) -> RobustnessStudy:
        """The study with its conclusions in the scenarios' display names (`labels`)."""
        table = self.table.copy()
        for name in (self.base, *table["scenario"].unique()):
            label = labels.get(name, name)
            table["conclusion"] = [_rename(text, name, label) for text in table["conclusion"]]
        return replace(self, table=table)


def load(directory: str | Path | None, primary_metric: str) -> RobustnessStudy | None:
    """Read a study for the slide, choosing the headline alternative (None without one).

    Raises:
        TrustsimInputError: `--robustness DIR` is not a finished robustness study.
    """
    from trustsim.robustness.indices import load_indices
    from trustsim.robustness.study import load_study

    if directory is None:
        return None
    try:
        spec, table, _ = load_study(directory)
    except TrustsimInputError as exc:
        raise TrustsimInputError(f"--robustness {exc}") from None
    metric = primary_metric if primary_metric in spec["metrics"] else spec["metrics"][0]
    gains = {
        alt: (spec["defaults"].get(alt, {}).get(metric, {}).get("diff") or 0.0)
        for alt in spec["alternatives"]
    }
    scenario = max(spec["alternatives"], key=lambda alt: gains[alt])
    return RobustnessStudy(
        Path(directory), scenario, metric, table, load_indices(directory), spec["base"],
        _provenance(Path(directory), spec),
    )  # fmt: skip


def _provenance(directory: Path, spec: dict) -> str:
    """Where the slide's numbers come from, for the deck's workbook and notes."""
    return (
        f"Robustness: study {directory.name}/, {spec.get('samples')} plausible worlds x "
        f"{spec.get('replications')} paired runs, seed {spec.get('seed')}"
    )


def _rename(conclusion: str, name: str, label: str) -> str:
    """A conclusion ("ALT raises METRIC vs BASE") with scenario `name` called `label`."""
    if conclusion.startswith(f"{name} "):
        conclusion = label + conclusion[len(name) :]
    if conclusion.endswith(f" vs {name}"):
        conclusion = conclusion[: -len(name)] + label
    return conclusion


def headline(study: RobustnessStudy) -> tuple[str, str]:
    """(title, takeaway) of the slide, from the study's established findings only.

    Example:
        >>> headline(load("rob/", "closed_deals"))[0]  # doctest: +SKIP
        'real-estate-verifiable raises closed deals in 100% of plausible worlds; weakest
         when pull of walking away is high'
    """
    from trustsim.charts.base import percent
    from trustsim.robustness.charts import share
    from trustsim.robustness.discover import reading_for, region_found
    from trustsim.robustness.indices import deciding, deciding_text
    from trustsim.scenarios.reference import field_label

    table = study.table
    row = table[(table["scenario"] == study.scenario) & (table["metric"] == study.metric)].iloc[0]
    clause = row.conclusion.rsplit(" vs ", 1)[0]
    title = f"{clause} in {share(row.share_holding)} of plausible worlds"
    rows = None
    if study.indices is not None:
        rows = deciding(study.indices, study.scenario, study.metric)
        monotonic = rows[rows["direction"].astype(bool)]
        if len(monotonic):
            top = monotonic.iloc[0]
            side = "high" if top.direction == "weakens" else "low"
            title += f"; weakest when {field_label(top.factor)} is {side}"
    parts = [
        f"Holds in {share(row.share_holding)} of the plausible worlds sampled (95% CI "
        f"{percent(row.ci_low)}-{percent(row.ci_high)}); established in "
        f"{share(row.share_established)}."
    ]
    if rows is not None:
        parts.append(deciding_text(rows) or "No constant is shown to decide it.")
    found = region_found(study.directory, study.scenario, study.metric)
    if found is None:
        parts.append("Where it fails: not searched (trustsim discover).")
    elif found:
        parts.append(reading_for(study.directory, study.scenario, study.metric) or "")
    else:
        parts.append("PRIM establishes no reproducible region of the constants where it fails.")
    return title, " ".join(part for part in parts if part)


def chart(study: RobustnessStudy, scenarios: dict) -> Chart:
    """The slide's chart: the headline alternative's conclusions, in the scenarios'
    display names, titled and summed up by `headline`.

    The deck numbers it after the evidence charts, so its CSV, its workbook sheet and its
    note come from the same code as theirs.

    Args:
        study: from `load`.
        scenarios: the deck's scenarios by name (their display names label the bars).
    """
    from trustsim.robustness.charts import robustness_chart, robustness_data

    study = study.labelled({name: spec.display_name for name, spec in scenarios.items()})
    rows = study.table[study.table["scenario"] == study.scenario]
    title, takeaway = headline(study)  # before drawing: a figure is never left open
    return replace(
        robustness_chart(robustness_data(rows), with_title=False),
        title=title, takeaway=takeaway,
        alt_text=f"Robustness chart: share of plausible worlds where each conclusion "
        f"about {study.scenario} holds. {takeaway}",
    )  # fmt: skip


def condition(study: RobustnessStudy, drawn: Chart) -> str:
    """The recommendation's robustness condition: the slide's title and its study."""
    return f"Robustness: {drawn.title} (robustness study {study.directory.name}/)."

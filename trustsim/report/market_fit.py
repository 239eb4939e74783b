"""The deck's "Is it your market?" slide: the firm's data against the calibrated model.

When the results were run with `--posterior DIR` (their run.json names the calibration)
or `trustsim report --calibration DIR` names one, the deck shows on one slide:

- each observed statistic, the calibrated model's 90% band for it (one run, parameter
  uncertainty included) and whether the observation falls within;
- each fitted parameter in words, with its unit, posterior median and 90% interval;
- the effective sample size of the posterior;
- a title that is the verdict, computed from the evidence: how many statistics fall
  within their band, and whether the misses are more than a 90% band allows by chance
  (one-sided binomial test at 5%: P(misses >= m | n, 0.1)).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.charts import Results

CALIBRATION_KEY = "calibration"  # a report's own calibration directory, in its provenance
BAND_MISS = 0.1  # a 90% band misses one observation in ten by chance
MISS_LEVEL = 0.05
MAX_STATISTIC_ROWS = 12
TABLE_HEIGHT = 5.35  # inches from the tables' top to above the source line
STATISTIC_WIDTHS = (2.95, 1.2, 2.3, 1.15)
PARAMETER_WIDTHS = (2.55, 0.85, 1.25)
TABLE_PT = 13
STATISTIC_NAMES = {
    "leads": "Leads",
    "closed_deals": "Closed deals",
    "promoters": "Promoters (share)",
    "detractors": "Detractors (share)",
    "satisfaction": "Satisfaction (mean, 0–1)",
}
PER_STAGE_NAMES = {"conversion": "Moved on at {stage}", "verified": "Verified at {stage}"}


@dataclass(frozen=True)
class MarketFit:
    """What the slide shows, read from a calibration directory.

    Attributes:
        directory: the calibration directory.
        predictive: posterior-predictive.csv (statistic, kind, observed, predicted_q05,
            predicted_median, predicted_q95, inside, held_out).
        summary: posterior-summary.csv (parameter, prior_low, prior_high, median, q05,
            q95, ess).
        meta: calibration.json.
    """

    directory: Path
    predictive: pd.DataFrame
    summary: pd.DataFrame
    meta: dict

    @property
    def fitted(self) -> pd.DataFrame:
        return self.predictive[~self.predictive["held_out"]]

    @property
    def held_out(self) -> pd.DataFrame:
        return self.predictive[self.predictive["held_out"]]

    @property
    def ess(self) -> float:
        return float(self.meta.get("ess", self.summary["ess"].iloc[0]))

    def verdict(self) -> str:
        """One line: how many observations the model's bands hold, and what that means.

        Example:
            >>> import pandas as pd
            >>> table = pd.DataFrame({"statistic": list("abcdefgh"), "inside": [True] * 7
            ...     + [False], "held_out": [False] * 8})
            >>> MarketFit(Path("."), table, pd.DataFrame(), {"ess": 80.0}).verdict()
            "7 of 8 observed statistics fall within the model's 90% band"
        """
        fitted = self.fitted
        n, inside = len(fitted), int(fitted["inside"].sum())
        line = f"{inside} of {n} observed statistics fall within the model's 90% band"
        if inside == n:
            line = f"All {n} observed statistics fall within the model's 90% band"
        held = self.held_out
        if len(held):
            line += (
                f"; {int(held['inside'].sum())} of {len(held)} held out of the fit are predicted"
            )
        if too_many_misses(n - inside, n):
            line += ": more misses than chance allows, so the model does not yet match this market"
        return line


def too_many_misses(misses: int, n: int) -> bool:
    """Whether `misses` of `n` observations outside 90% bands are more than chance gives:
    P(X >= misses) < 5% for X ~ Binomial(n, 0.1).

    Example:
        >>> too_many_misses(1, 8), too_many_misses(4, 8)
        (False, True)
    """
    from scipy.stats import binom

    return misses > 0 and float(binom.sf(misses - 1, n, BAND_MISS)) < MISS_LEVEL


def with_calibration(results: Results, directory: str | Path) -> Results:
    """The results with `directory` as the calibration their deck's market slide shows.

    Raises:
        TrustsimInputError: `directory` is not the --out of `trustsim calibrate`.
    """
    load_market_fit(directory, "--calibration")
    provenance = {**results.provenance, CALIBRATION_KEY: str(directory)}
    return replace(results, provenance=provenance)


def calibration_of(results: Results) -> tuple[str, str] | None:
    """(directory, where it was named) of the calibration behind `results`, or None."""
    if results.provenance.get(CALIBRATION_KEY):
        return results.provenance[CALIBRATION_KEY], "--calibration"
    posterior = results.provenance.get("posterior")
    if posterior:
        return posterior["directory"], f"{results.path / 'run.json'} (run with --posterior)"
    return None


def load_market_fit(directory: str | Path, named_by: str) -> MarketFit:
    """Read a calibration's predictive check, posterior summary and provenance.

    Raises:
        TrustsimInputError: a file is missing or unreadable, naming it and the fix.
    """
    import pandas as pd

    folder = Path(directory)
    names = ("posterior-predictive.csv", "posterior-summary.csv", "calibration.json")
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise TrustsimInputError(
            f"{named_by}: {folder} holds no calibration (no {missing[0]}). Give the --out "
            "directory of `trustsim calibrate` with `trustsim report --calibration DIR`."
        )
    try:
        predictive = pd.read_csv(folder / names[0])
        summary = pd.read_csv(folder / names[1])
        meta = json.loads((folder / names[2]).read_text(encoding="utf-8"))
        predictive["inside"] = predictive["inside"].astype(bool)
        predictive["held_out"] = predictive["held_out"].astype(bool)
    except (OSError, ValueError, KeyError) as exc:
        raise TrustsimInputError(
            f"{named_by}: {folder} holds a damaged calibration ({exc}); rerun `trustsim "
            "calibrate` into it."
        ) from None
    return MarketFit(folder, predictive, summary, meta)


# ------------------------------------------------------------------ words and numbers
def statistic_name(statistic: str) -> str:
    """A statistic in words: `conversion[viewing]` -> "Moved on at viewing".

    Example:
        >>> statistic_name("verified[payment]"), statistic_name("closed_deals")
        ('Verified at payment', 'Closed deals')
    """
    if "[" in statistic:
        kind, stage = statistic.rstrip("]").split("[", 1)
        if kind in PER_STAGE_NAMES:
            return PER_STAGE_NAMES[kind].format(stage=stage)
    return STATISTIC_NAMES.get(statistic, statistic.replace("_", " "))


def parameter_name(path: str) -> str:
    """A dotted parameter path in words, with its unit from the field reference.

    Example:
        >>> parameter_name("market.outside_influence")
        'Outside influence (probability per step)'
        >>> parameter_name("stages.viewing.reliability")
        'Reliability at viewing (probability)'
    """
    from trustsim.scenarios import reference

    parts = path.split(".")
    words = parts[-1].replace("_", " ").capitalize()
    if parts[0] == "stages" and len(parts) == 3:
        words += f" at {parts[1]}"
    elif parts[0] == "segments" and len(parts) >= 3:
        words = " ".join(p.replace("_", " ") for p in parts[2:]).capitalize()
        words += f" of {parts[1]}"
    try:
        unit = reference.schema_field(reference.generic_path(path)).doc.unit
    except KeyError:
        return words
    return f"{words} ({unit})"


def value_text(value: float, kind: str) -> str:
    """A statistic's value as the table shows it: shares in %, counts whole, means 0.00."""
    if kind == "share":
        return f"{abs(100 * value):.0f}%" if round(100 * value) == 0 else f"{100 * value:.0f}%"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:.2f}"


def parameter_text(value: float) -> str:
    """Three significant digits with a true minus sign."""
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return text.replace("-", "−")


def statistic_rows(fit: MarketFit, limit: int = MAX_STATISTIC_ROWS) -> list[list[str]]:
    """The statistics table: a heading, then misses first and those held out next, at
    most `limit` statistics and a line for the rest."""
    table = _slide_order(fit.predictive)
    rows = [["Observed statistic", "Observed", "Model's 90% band", "Within?"]]
    shown = table.head(limit)
    for row in shown.itertuples():
        name = statistic_name(row.statistic) + (" (held out)" if row.held_out else "")
        band = (
            f"{value_text(row.predicted_q05, row.kind)} – {value_text(row.predicted_q95, row.kind)}"
        )
        rows.append([name, value_text(row.observed, row.kind), band, "yes" if row.inside else "NO"])
    rest = table.iloc[len(shown) :]
    if len(rest):
        outside = int((~rest["inside"]).sum())
        more = "all within their band" if not outside else f"{outside} outside their band"
        rows.append([f"… {len(rest)} more, {more}", "", "", ""])
    return rows


def _slide_order(predictive: pd.DataFrame) -> pd.DataFrame:
    """Misses first, then the statistics held out of the fit, then the rest in order."""
    order = 2 * predictive["inside"].astype(int) - (predictive["inside"] & predictive["held_out"])
    return predictive.iloc[order.argsort(kind="stable")]


def parameter_rows(fit: MarketFit) -> list[list[str]]:
    rows = [["Fitted parameter", "Median", "90% interval"]]
    for row in fit.summary.itertuples():
        rows.append(
            [parameter_name(row.parameter), parameter_text(row.median),
             f"{parameter_text(row.q05)} to {parameter_text(row.q95)}"]
        )  # fmt: skip
    return rows


def evidence_note(fit: MarketFit) -> str:
    """The ESS and what the posterior rests on, in a sentence."""
    meta = fit.meta
    rounds = meta.get("final_rounds") or []
    draws = sum(r["draws"] for r in rounds) if rounds else None
    text = f"Posterior worth {fit.ess:.0f} independent draws (effective sample size"
    text += f" of {draws:,} draws run for real)" if draws else ")"
    waves = meta.get("waves", 0)
    text += f", from {meta.get('runs', 0):,} model runs in {waves} wave{'s' if waves != 1 else ''}."
    if len(rounds) > 1:
        text += f" The final check needed {len(rounds)} rounds of draws to reach it."
    return text


# ------------------------------------------------------------------ the numbers
STATISTICS_SHEET, PARAMETERS_SHEET = "Market fit statistics", "Market fit parameters"


def market_fit_of(results: Results) -> MarketFit | None:
    """The calibration the deck of `results` shows, or None when they name none.

    Raises:
        TrustsimInputError: the calibration the results name is gone or damaged.
    """
    found = calibration_of(results)
    return None if found is None else load_market_fit(*found)


def sheets(fit: MarketFit) -> list[tuple[str, str, pd.DataFrame]]:
    """The numbers behind the slide's two tables as the deck's workbook holds them:
    (sheet name, what it holds, table), every statistic and parameter with its name as
    the slide words it, statistics in the slide's order."""
    statistics = _slide_order(fit.predictive).reset_index(drop=True)
    statistics.insert(1, "name", [statistic_name(s) for s in statistics["statistic"]])
    parameters = fit.summary.copy()
    parameters.insert(1, "name", [parameter_name(p) for p in parameters["parameter"]])
    where = f"calibration {fit.directory.name}/"
    return [
        (STATISTICS_SHEET, f"Is it your market? Observed statistics against the "
         f"model's 90% band ({where}posterior-predictive.csv)", statistics),
        (PARAMETERS_SHEET, f"Is it your market? Fitted parameters: posterior median "
         f"and 90% interval ({where}posterior-summary.csv)", parameters),
    ]  # fmt: skip


# ------------------------------------------------------------------ the slide
def add_slide(builder, fit: MarketFit | None) -> None:
    """Add the "Is it your market?" slide for `fit` (nothing without one).

    Args:
        builder: the deck's slide builder (`trustsim.report.deck._Builder`).
        fit: from `market_fit_of(builder.results)`.
    """
    if fit is None:
        return
    slide = builder._content_slide(f"Is it your market? {fit.verdict()}")
    limit = MAX_STATISTIC_ROWS
    while limit > 1 and sum(_row_heights(statistic_rows(fit, limit), STATISTIC_WIDTHS)) > (
        TABLE_HEIGHT
    ):
        limit -= 1
    _table(slide, statistic_rows(fit, limit), (0.4, 1.5, 7.6), STATISTIC_WIDTHS)
    bottom = _table(slide, parameter_rows(fit), (8.3, 1.5, 4.65), PARAMETER_WIDTHS)
    _note(slide, evidence_note(fit), (8.3, min(bottom + 0.3, 5.4), 4.65, 1.5))
    slide.notes_slide.notes_text_frame.text = _notes(fit, builder)


def _table(slide, rows: list[list[str]], where: tuple[float, float, float], widths) -> float:
    """A native table of `rows` (the first is the heading); returns its bottom in inches."""
    from pptx.dml.color import RGBColor
    from pptx.util import Inches

    from trustsim.charts.style import ALERT
    from trustsim.report.slide_parts import cell_text

    left, top, width = where
    heights = _row_heights(rows, widths)
    shape = slide.shapes.add_table(
        len(rows), len(rows[0]), Inches(left), Inches(top), Inches(width), Inches(sum(heights))
    )
    for c, column_width in enumerate(widths):
        shape.table.columns[c].width = Inches(column_width)
    for r, row_height in enumerate(heights):
        shape.table.rows[r].height = Inches(row_height)
    for r, row in enumerate(rows):
        for c, text in enumerate(row):
            cell = shape.table.cell(r, c)
            cell_text(cell, text, TABLE_PT, r == 0 or text == "NO")
            if text == "NO":
                cell.text_frame.paragraphs[0].runs[0].font.color.rgb = RGBColor.from_string(
                    ALERT.lstrip("#")
                )
    return top + sum(heights)


def _row_heights(rows: list[list[str]], widths) -> list[float]:
    """Each row as tall as its most wrapped cell (measured as `deck.wrapped_lines` does,
    with a font wider than the deck's, so a row is never too short)."""
    from trustsim.report.slide_parts import wrapped_lines

    heights = []
    for r, row in enumerate(rows):
        cells = zip(row, widths, strict=True)
        lines = max(wrapped_lines(text, w - 0.2, TABLE_PT, r == 0) for text, w in cells)
        heights.append(max(0.36, lines * TABLE_PT * 1.2 / 72 + 0.12))
    return heights


def _note(slide, text: str, box: tuple[float, float, float, float]) -> None:
    from pptx.util import Inches, Pt

    from trustsim.charts.style import DECK_FONT

    shape = slide.shapes.add_textbox(*(Inches(v) for v in box))
    shape.name = "Evidence"
    shape.text_frame.word_wrap = True
    shape.text_frame.text = text
    run = shape.text_frame.paragraphs[0].runs[0]
    run.font.size, run.font.name = Pt(TABLE_PT), DECK_FONT


def _notes(fit: MarketFit, builder) -> str:
    meta = fit.meta
    lines = [
        fit.verdict() + ".",
        "Band: the calibrated model's 90% interval for one run, parameter uncertainty "
        "included; a statistic held out was not used in the fit.",
        evidence_note(fit),
        f"Calibration: {fit.directory} (data {meta.get('data')}, priors {meta.get('priors')}, "
        f"scenario {meta.get('scenario')}).",
        f"Numbers: sheets '{STATISTICS_SHEET}' and '{PARAMETERS_SHEET}' of "
        f"{builder.csv_dir.name}.xlsx, from posterior-predictive.csv and "
        "posterior-summary.csv in that directory.",
    ]
    for row in fit.summary.itertuples():
        lines.append(
            f"{row.parameter}: prior {parameter_text(row.prior_low)} to "
            f"{parameter_text(row.prior_high)}"
        )
    from trustsim.report.slide_parts import provenance_text

    return "\n".join(lines) + "\n\n" + provenance_text(builder.results)

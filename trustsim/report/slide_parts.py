"""Pieces every slide builder of the deck uses: text fitting with real font metrics,
table cell text, the provenance for speaker notes, the names of chart CSVs and sheets.

They sit below `deck.py` and the slide modules (market fit, robustness), so those
modules and the deck builder import them without importing each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from trustsim.charts import Results
    from trustsim.charts.base import Chart


def csv_name(index: int, chart: Chart) -> str:
    return f"{index:02d}-{chart.kind}.csv"


def sheet_name(index: int, chart: Chart) -> str:
    """The workbook sheet of chart number `index` ("05 funnel"; Excel allows 31 letters)."""
    return f"{index:02d} {chart.kind}"[:31]


def provenance_text(results: Results) -> str:
    prov = results.provenance
    return "\n".join(
        [
            f"Scenarios: {', '.join(prov.get('scenarios', []))}",
            f"Seed: {prov.get('seed')}; replications: {prov.get('replications')}; "
            f"steps: {prov.get('steps') or 'scenario default'}; engine: {prov.get('engine')}",
            f"trustsim version: {prov.get('trustsim_version')}",
            f"Command: {prov.get('command')}",
            f"Results directory: {results.path}",
        ]
    )


# ------------------------------------------------------------------ text fitting
def _measure_font(bold: bool, size_pt: float):
    """DejaVu Sans (shipped with matplotlib) at `size_pt`: wider than Calibri, the deck's
    font, so text that fits when measured with it fits in the deck on any machine."""
    from matplotlib import font_manager
    from PIL import ImageFont

    path = font_manager.findfont(
        font_manager.FontProperties(family="DejaVu Sans", weight="bold" if bold else "normal")
    )
    return ImageFont.truetype(path, size=max(1, round(size_pt * 10)))  # 10 px per pt


def wrapped_lines(text: str, width_in: float, size_pt: float, bold: bool, font=None) -> int:
    """Lines `text` takes in a box `width_in` wide when words wrap (greedy, as PowerPoint)."""
    font = font or _measure_font(bold, size_pt)
    limit = width_in * 72 * 10  # the font is at 10 px per pt, so inches -> px
    lines = 0
    for paragraph in text.split("\n"):
        lines += 1
        current = ""
        for word in paragraph.split(" "):
            trial = f"{current} {word}".strip()
            if current and font.getlength(trial) > limit:
                lines += 1
                current = word
            else:
                current = trial
    return lines


def text_height(paragraphs: list[tuple[str, float, bool]], width_in: float, font_for=None) -> float:
    """Height in inches of paragraphs (text, size pt, bold) at 1.2 line spacing plus the
    space before each paragraph after the first."""
    font_for = font_for or _measure_font
    height = 0.0
    for i, (text, size, bold) in enumerate(paragraphs):
        lines = wrapped_lines(text, width_in, size, bold, font_for(bold, size))
        height += lines * size * 1.2 / 72 + (PARAGRAPH_GAP_PT / 72 if i else 0.0)
    return height


PARAGRAPH_GAP_PT = 6
INSET_IN = 0.1  # python-pptx text boxes: 0.1 in left and right, 0.05 in top and bottom


def fits(paragraphs, box_w: float, box_h: float) -> bool:
    """True if the paragraphs (text, pt, bold) fit a box of that size in inches."""
    return text_height(paragraphs, box_w - 2 * INSET_IN) <= box_h - 0.1


def fit_size(paragraphs, box_w: float, box_h: float, start: float, smallest: float) -> float:
    """The largest scale (in pt of the first paragraph, others in proportion) at which the
    paragraphs fit the box, stepping down by 1 pt; `smallest` if none does."""
    size = start
    while size > smallest:
        scaled = [(t, s * size / start, b) for t, s, b in paragraphs]
        if fits(scaled, box_w, box_h):
            return size
        size -= 1
    return smallest


def cell_text(cell, text: str, size: int, bold: bool) -> None:
    from pptx.util import Pt

    from trustsim.charts.style import DECK_FONT

    cell.text = text
    for paragraph in cell.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size, run.font.bold, run.font.name = Pt(size), bold, DECK_FONT

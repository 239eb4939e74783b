"""Client-ready decks: a 16:9 PowerPoint (python-pptx), its numbers, and its PDF.

A comparison deck tells one story: a title slide, an executive summary of three computed
findings, a scorecard (a native table), the evidence (one chart per slide with its
action title and takeaway), a recommendation with what would have to be true, caveats,
and an appendix in plain words. Every sentence about a difference comes from a paired
test (`trustsim.charts.claims`). Every content slide carries a source line and its page
number; every picture its alt text. The PDF is the deck itself, rendered by LibreOffice.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError
from trustsim.report import robustness_slide

if TYPE_CHECKING:
    from trustsim.charts import Results
    from trustsim.charts.base import Chart

SLIDE_W, SLIDE_H = 12192000 / 914400, 7.5  # inches: PowerPoint's widescreen 16:9
SLIDE_EMU = (12192000, 6858000)  # exact widescreen size in EMU (13.333... x 7.5 in)
CHART_LEFT, CHART_TOP = 0.4, 1.45
BOX_LEFT, BOX_WIDTH = 10.25, 2.75
TITLE_BOX = (0.4, 0.25, 12.5, 1.1)
BODY_BOX = (0.6, 1.5, 12.1, 5.2)
SOURCE_TOP = 7.0
TITLE_PT, MIN_TITLE_PT = 26, 16
TAKEAWAY_PT, MIN_TAKEAWAY_PT = 16, 10
BODY_PT, MIN_BODY_PT = 20, 12
PNG_DPI = 200
MAX_APPENDIX_SCENARIOS = 6
INSTALL_LIBREOFFICE = (
    "the PDF is the deck rendered by LibreOffice, which is not installed here: install it "
    "(Debian/Ubuntu: apt-get install libreoffice-impress; macOS: brew install --cask "
    "libreoffice) or leave out --pdf"
)


class MissingToolError(Exception):
    """A tool the deck needs is not installed here (the CLI exits 1 with the message)."""


@dataclass
class DeckInfo:
    """What the title slide and the file properties say (from `report` options)."""

    title: str = "What turns leads into satisfied customers"
    client: str = ""
    project: str = ""
    author: str = ""
    date: str = ""


@dataclass
class Deck:
    """What `build_report` wrote."""

    pptx: Path
    csv_dir: Path
    pdf: Path | None
    titles: list[str]
    effects: list = field(default_factory=list)


def build_report(
    results: Results,
    out: str | Path,
    *,
    template: str | Path | None = None,
    pdf: bool = False,
    kinds: list[str] | None = None,
    metrics: list[str] | None = None,
    info: DeckInfo | None = None,
    robustness: str | Path | None = None,
) -> Deck:
    """Write the deck, the CSVs behind its charts, and (with `pdf`) the deck as a PDF.

    Args:
        results: from `trustsim.charts.load_results(directory)`.
        out: the .pptx file to write; CSVs go to `<stem>-data/` beside it.
        template: a .pptx whose slide masters and layouts to use (its slides are dropped).
        pdf: also write `<stem>.pdf`, the deck rendered by LibreOffice.
        kinds: chart kinds to include (default: all the results support).
        metrics: KPIs of the scorecard and evidence, primary first (default
            `story.DEFAULT_METRICS`).
        info: title, client, project, author and date for the title slide.
        robustness: a `trustsim robustness` study directory: adds its slide
            (`trustsim.report.robustness_slide`).

    Raises:
        TrustsimInputError: bad output path, template or metric.
        MissingToolError: `pdf` asked and LibreOffice is not installed.

    Example:
        >>> from trustsim.charts import load_results
        >>> deck = build_report(load_results("results/"), "deck.pptx")  # doctest: +SKIP
    """
    from trustsim.charts import available_kinds
    from trustsim.output import reporting_failures, staged_outputs

    out = Path(out)
    if out.suffix.lower() != ".pptx":
        raise TrustsimInputError(f"--out {out}: a deck is a .pptx file, e.g. --out deck.pptx.")
    # Every input is checked before the first chart is drawn.
    soffice = _libreoffice() if pdf else None
    prs = _presentation(template)
    kinds = kinds or available_kinds(results)
    metrics = _check_metrics(results, metrics)
    csv_dir, pdf_path = out.with_name(f"{out.stem}-data"), out.with_suffix(".pdf")
    _check_csv_dir(csv_dir)
    # The deck, its CSVs and its PDF replace the old ones together or not at all; an old
    # PDF is removed when none is asked for, so no file of another deck stays beside it.
    with reporting_failures(out), staged_outputs() as staging:
        staged = staging.file(out), staging.directory(csv_dir)
        if not pdf and pdf_path.exists():
            staging.remove(pdf_path)
        builder = _Builder(prs, results, template is not None, info or DeckInfo(), csv_dir)
        builder.robustness = robustness_slide.load(robustness, metrics[0])
        titles = builder.draw(kinds, metrics, staged)
        if soffice is not None:
            _render_pdf(soffice, staged[0], staging.file(pdf_path))
    return Deck(out, csv_dir, pdf_path if pdf else None, titles, builder.effects)


VIEW_FILE = "view.json"  # written by `trustsim explore`'s "Add to deck"


def chosen_charts(results_dir: str | Path) -> list[str] | None:
    """The chart kinds a saved explorer view chose, or None for a plain results folder.

    A folder made by "Add to deck" in `trustsim explore` holds `view.json` with the
    charts the strategist picked; the deck draws those and no others.

    Raises:
        TrustsimInputError: the view file is damaged or lists no charts.
    """
    import json

    path = Path(results_dir) / VIEW_FILE
    if not path.is_file():
        return None
    try:
        view = json.loads(path.read_text(encoding="utf-8"))
        charts = view["charts"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise TrustsimInputError(
            f"{path}: not a saved view ({exc}); add the view again from `trustsim explore`."
        ) from None
    if not isinstance(charts, list) or not charts or not all(isinstance(c, str) for c in charts):
        raise TrustsimInputError(f"{path}: 'charts' must be a non-empty list of chart kinds.")
    return charts


def _check_metrics(results: Results, metrics: list[str] | None) -> list[str]:
    """The KPIs to show: the defaults the results have, or the asked ones, checked."""
    from trustsim.report.story import DEFAULT_METRICS

    columns = set(results.run.summaries.columns)
    if not metrics:
        return [m for m in DEFAULT_METRICS if m in columns]
    unknown = [m for m in metrics if m not in columns]
    if unknown:
        from trustsim.charts.claims import KNOWN_METRICS

        choices = ", ".join(m for m in KNOWN_METRICS if m in columns)
        raise TrustsimInputError(f"--metric {unknown[0]!r} is not a run measure; try {choices}.")
    return list(dict.fromkeys(metrics))


def _check_csv_dir(csv_dir: Path) -> None:
    """The CSV folder is replaced whole: refuse one holding files the deck did not write."""
    if not csv_dir.exists():
        return
    foreign = [] if csv_dir.is_dir() else [csv_dir.name]
    if csv_dir.is_dir():
        foreign = [p.name for p in csv_dir.iterdir() if p.suffix != ".csv" or p.is_dir()]
    if foreign:
        raise TrustsimInputError(
            f"{csv_dir}: holds files a deck did not write ({', '.join(sorted(foreign)[:3])}); "
            "the deck's CSV folder is replaced whole. Move them or choose another --out."
        )


# Dates in the package (zip entries, core properties) are fixed, so the same results
# give the same bytes, like the charts' PNGs.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DATE = "2000-01-01T00:00:00"


def _save_reproducibly(prs, path: Path, info: DeckInfo) -> None:
    """Save the deck with its properties from the options and fixed dates where none is
    given: the same input gives the same bytes."""
    import datetime as dt
    import zipfile

    props = prs.core_properties
    when = FIXED_DATE
    if info.date:
        # A date written for people ("March 2025") stays on the title slide only.
        with contextlib.suppress(ValueError):
            when = dt.date.fromisoformat(info.date).isoformat() + "T00:00:00"
    props.created = props.modified = dt.datetime.fromisoformat(when)
    props.author = props.last_modified_by = info.author or "trustsim"
    props.revision = 1
    props.title = info.title
    props.subject = " · ".join(x for x in (info.client, info.project) if x)
    props.comments = props.keywords = ""
    buffer = io.BytesIO()
    prs.save(buffer)
    with zipfile.ZipFile(buffer) as source, zipfile.ZipFile(path, "w") as deck:
        for entry in source.infolist():
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            deck.writestr(fixed, source.read(entry.filename))


# ------------------------------------------------------------------ the pieces
def _png(chart: Chart) -> bytes:
    from trustsim.charts.style import chart_style, metadata

    buffer = io.BytesIO()
    with chart_style():
        chart.figure.savefig(buffer, format="png", dpi=PNG_DPI, metadata=metadata("png"))
    return buffer.getvalue()


def _csv_name(index: int, chart: Chart) -> str:
    return f"{index:02d}-{chart.kind}.csv"


def _write_csvs(charts: list[Chart], folder: Path) -> None:
    """The numbers behind each chart, into the deck's (staged) CSV folder."""
    for i, chart in enumerate(charts, start=1):
        chart.data.to_csv(folder / _csv_name(i, chart), index=False)


def _presentation(template: str | Path | None):
    from pptx import Presentation
    from pptx.util import Emu

    if template is None:
        prs = Presentation()
    else:
        path = Path(template)
        if not path.is_file() or path.suffix.lower() != ".pptx":
            raise TrustsimInputError(
                f"--template {path}: give an existing .pptx file (save a .potx as .pptx first)."
            )
        try:
            prs = Presentation(str(path))
        except Exception as exc:  # python-pptx raises several kinds for a bad package
            raise TrustsimInputError(f"--template {path}: not a readable .pptx ({exc}).") from exc
        _drop_slides(prs)
    prs.slide_width, prs.slide_height = (Emu(v) for v in SLIDE_EMU)
    return prs


def _drop_slides(prs) -> None:
    """Remove a template's own slides, keeping its masters and layouts."""
    ids = prs.slides._sldIdLst
    for slide_id in list(ids):
        prs.part.drop_rel(slide_id.rId)
        ids.remove(slide_id)


def _layout(prs, name: str, fallback: int):
    for layout in prs.slide_layouts:
        if layout.name == name:
            return layout
    return prs.slide_layouts[min(fallback, len(prs.slide_layouts) - 1)]


def _provenance_text(results: Results) -> str:
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


def _notes(results: Results, chart: Chart, csv_dir: Path, index: int) -> str:
    return (
        f"{chart.title}\n\n{chart.takeaway}\nUncertainty shown: {chart.uncertainty}.\n"
        f"Numbers behind this chart: {csv_dir.name}/{_csv_name(index, chart)}\n\n"
        + _provenance_text(results)
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


def fit_size(paragraphs, box_w: float, box_h: float, start: float, smallest: float) -> float:
    """The largest scale (in pt of the first paragraph, others in proportion) at which the
    paragraphs fit the box, stepping down by 1 pt; `smallest` if none does."""
    size = start
    while size > smallest:
        scaled = [(t, s * size / start, b) for t, s, b in paragraphs]
        if text_height(scaled, box_w - 2 * INSET_IN) <= box_h - 0.1:
            return size
        size -= 1
    return smallest


# ------------------------------------------------------------------ the builder
class _Builder:
    """Adds slides in story order, numbering content slides and keeping their effects."""

    def __init__(self, prs, results: Results, keep_geometry: bool, info: DeckInfo, csv_dir):
        self.prs, self.results, self.keep = prs, results, keep_geometry
        self.info, self.csv_dir = info, csv_dir
        self.titles: list[str] = []
        self.effects: list = []
        self.robustness = None  # a robustness_slide.RobustnessStudy, when given

    # -- the story
    def draw(self, kinds: list[str], metrics: list[str], staged) -> list[str]:
        import matplotlib.pyplot as plt

        from trustsim.charts import make_chart
        from trustsim.report import story

        pptx_tmp, csv_tmp = staged
        results = self.results
        compare = len(results.names) >= 2 and not results.is_sweep and results.features is None
        charts = []
        try:
            for kind in kinds:
                if kind in ("comparison", "difference") and compare:
                    continue  # the scorecard and the per-KPI evidence below replace them
                charts.append(make_chart(results, kind, with_title=False))
            if compare:
                charts = [
                    make_chart(results, "difference", metric=m, with_title=False) for m in metrics
                ] + charts
            _write_csvs(charts, csv_tmp)
            self.title_slide()
            if compare:
                tale = story.build_story(results.run, metrics)
                self.effects += tale.effects
                self.text_slide("Executive summary", story.findings(tale), tale.effects)
                self.scorecard_slide(metrics)
            for i, chart in enumerate(charts, start=1):
                self.chart_slide(chart, _png(chart), i)
            robust = robustness_slide.add(self, self.robustness, csv_tmp, len(charts) + 1)
            if compare:
                rec = story.recommendation(tale, robust or _robustness_note(results))
                self.text_slide(rec.headline, ["What would have to be true:", *rec.conditions])
            self.text_slide("Caveats: what is assumed", story.caveats(results.run))
            if compare:
                for name, rows in story.scenario_changes(results.run)[:MAX_APPENDIX_SCENARIOS]:
                    self.table_slide(f"Appendix: what “{name}” changes", rows)
            _save_reproducibly(self.prs, pptx_tmp, self.info)
        finally:
            for chart in charts:
                plt.close(chart.figure)
        return self.titles

    # -- slides
    def title_slide(self) -> None:
        from pptx.util import Inches

        info, prov = self.info, self.results.provenance
        slide = self.prs.slides.add_slide(_layout(self.prs, "Title Slide", 0))
        lines = [x for x in (info.client, info.project) if x]
        lines.append(" · ".join(x for x in (info.author, info.date) if x))
        lines.append(
            f"Simulation with trustsim {prov.get('trustsim_version')}: "
            f"{prov.get('replications')} paired runs per scenario"
        )
        subtitle = "\n".join(x for x in lines if x)
        title = slide.shapes.title or slide.shapes.add_textbox(*(Inches(v) for v in TITLE_BOX))
        title.text = info.title
        body = next((p for p in slide.placeholders if p.placeholder_format.idx == 1), None)
        body = body or slide.shapes.add_textbox(Inches(1), Inches(4.2), Inches(11.3), Inches(2))
        body.text_frame.text = subtitle
        if not self.keep:
            _place(title, 0.9, 1.8, 11.5, 1.8)
            _place(body, 0.9, 3.9, 11.5, 2.2)
        self._fit(title, [(info.title, 36, True)], 36, 20)
        self._fit(body, [(t, 20, False) for t in subtitle.split("\n")], 20, 12)
        slide.notes_slide.notes_text_frame.text = _provenance_text(self.results)
        self.titles.append(info.title)

    def _content_slide(self, title: str):
        slide = self.prs.slides.add_slide(_layout(self.prs, "Title Only", 5))
        self._title(slide, title)
        self._footer(slide)
        self.titles.append(title)
        return slide

    def text_slide(self, title: str, paragraphs: list[str], effects=()) -> None:
        from pptx.util import Inches

        slide = self._content_slide(title)
        box = slide.shapes.add_textbox(*(Inches(v) for v in BODY_BOX))
        box.name = "Body"
        frame = box.text_frame
        frame.word_wrap = True
        for i, text in enumerate(paragraphs):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            paragraph.text = text
        self._fit(box, [(t, BODY_PT, False) for t in paragraphs], BODY_PT, MIN_BODY_PT)
        slide.notes_slide.notes_text_frame.text = _provenance_text(self.results)

    def scorecard_slide(self, metrics: list[str]) -> None:
        from pptx.dml.color import RGBColor
        from pptx.util import Inches, Pt

        from trustsim.charts.style import scenario_color
        from trustsim.report.story import scorecard

        headings, rows = scorecard(self.results.run, metrics)
        marked = any(cell.best for row in rows for cell in row)
        title = "Scorecard: each scenario on the KPIs (mean and 95% CI)"
        slide = self._content_slide(title)
        height = min(0.95, 4.9 / (len(rows) + 1))
        shape = slide.shapes.add_table(
            len(rows) + 1,
            len(headings),
            Inches(0.4),
            Inches(1.5),
            Inches(12.5),
            Inches(height * (len(rows) + 1)),
        )
        table = shape.table
        table.columns[0].width = Inches(3.3)
        for c in range(1, len(headings)):
            table.columns[c].width = Inches(9.2 / (len(headings) - 1))
        for c, text in enumerate(headings):
            _cell_text(table.cell(0, c), text, 14, True)
        for r, row in enumerate(rows, start=1):
            for c, cell in enumerate(row):
                text = cell.text + (" ★" if cell.best else "")
                _cell_text(table.cell(r, c), text, 14, cell.best or c == 0)
            first = table.cell(r, 0).text_frame.paragraphs[0].runs[0].font
            first.color.rgb = RGBColor.from_string(scenario_color(r - 1).lstrip("#"))
        note = (
            "★ best on this KPI, established against every other scenario (paired 95% CI "
            "and Holm-adjusted test)."
            if marked
            else "On no KPI is one scenario ahead of every other by an established margin."
        )
        box = slide.shapes.add_textbox(Inches(0.4), Inches(6.45), Inches(12.5), Inches(0.45))
        box.name = "Note"
        box.text_frame.text = note
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(13)
        slide.notes_slide.notes_text_frame.text = _provenance_text(self.results)

    def chart_slide(self, chart: Chart, image: bytes, index: int) -> None:
        from pptx.util import Inches

        from trustsim.charts.style import FIGSIZE

        slide = self._content_slide(chart.title)
        picture = slide.shapes.add_picture(
            io.BytesIO(image),
            Inches(CHART_LEFT),
            Inches(CHART_TOP),
            width=Inches(FIGSIZE[0]),
            height=Inches(FIGSIZE[1]),
        )
        alt = chart.alt_text or f"{chart.kind} chart: {chart.title}"
        picture._element.nvPicPr.cNvPr.set("descr", alt)
        picture.name = f"Chart: {chart.kind}"
        self._takeaway(slide, chart)
        self.effects += chart.effects
        slide.notes_slide.notes_text_frame.text = _notes(self.results, chart, self.csv_dir, index)

    def table_slide(self, title: str, rows: list[list[str]]) -> None:
        from pptx.util import Inches

        slide = self._content_slide(title)
        rows = rows if len(rows) > 1 else [*rows, ["(no setting differs)", "", ""]]
        rows = rows[:12]
        height = min(0.5, 5.2 / len(rows))
        shape = slide.shapes.add_table(
            len(rows),
            len(rows[0]),
            Inches(0.4),
            Inches(1.5),
            Inches(12.5),
            Inches(height * len(rows)),
        )
        widths = (7.3, 2.6, 2.6)
        for c, width in enumerate(widths[: len(rows[0])]):
            shape.table.columns[c].width = Inches(width)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                _cell_text(shape.table.cell(r, c), text, 14, r == 0)
        slide.notes_slide.notes_text_frame.text = _provenance_text(self.results)

    # -- pieces of a slide
    def _title(self, slide, text: str) -> None:
        from pptx.util import Inches

        title = slide.shapes.title or slide.shapes.add_textbox(*(Inches(v) for v in TITLE_BOX))
        title.text = text
        if not self.keep:
            _place(title, *TITLE_BOX)
        self._fit(title, [(text, TITLE_PT, True)], TITLE_PT, MIN_TITLE_PT)

    def _fit(self, shape, paragraphs, start: float, smallest: float) -> None:
        """Set the font, wrapping and the largest size at which the text fits the shape."""
        from pptx.enum.text import MSO_AUTO_SIZE
        from pptx.util import Pt

        from trustsim.charts.style import DECK_FONT

        frame = shape.text_frame
        frame.word_wrap = True
        frame.auto_size = MSO_AUTO_SIZE.NONE
        width, height = shape.width / 914400, shape.height / 914400
        size = fit_size(paragraphs, width, height, start, smallest)
        for paragraph, (_, para_size, bold) in zip(frame.paragraphs, paragraphs, strict=False):
            paragraph.alignment = 1  # left
            for run in paragraph.runs:
                run.font.size = Pt(round(para_size * size / start))
                run.font.bold = bold
                run.font.name = DECK_FONT

    def _takeaway(self, slide, chart: Chart) -> None:
        from pptx.dml.color import RGBColor
        from pptx.util import Inches

        from trustsim.charts.style import FIGSIZE

        box = slide.shapes.add_textbox(
            Inches(BOX_LEFT), Inches(CHART_TOP), Inches(BOX_WIDTH), Inches(FIGSIZE[1])
        )
        box.name = "Takeaway"
        box.fill.solid()
        box.fill.fore_color.rgb = RGBColor(0xF2, 0xF2, 0xF2)
        frame = box.text_frame
        texts = ["Takeaway", chart.takeaway, f"Uncertainty shown: {chart.uncertainty}."]
        frame.text = texts[0]
        for text in texts[1:]:
            frame.add_paragraph().text = text
        sizes = [(texts[0], 16, True), (texts[1], 16, False), (texts[2], 14, False)]
        self._fit(box, sizes, TAKEAWAY_PT, MIN_TAKEAWAY_PT)
        for paragraph in frame.paragraphs:
            for run in paragraph.runs:
                run.font.color.rgb = RGBColor(0x33, 0x33, 0x33)

    def _footer(self, slide) -> None:
        """Source line and page number on every content slide."""
        from pptx.util import Inches, Pt

        prov = self.results.provenance
        source = (
            f"Source: trustsim {prov.get('trustsim_version')} simulation, "
            f"{prov.get('replications')} runs per scenario, seed {prov.get('seed')}; see notes"
        )
        page = len(self.prs.slides)
        for name, text, left, width, align in (
            ("Source", source, 0.4, 11.0, 1),
            ("Page number", str(page), 11.9, 1.0, 3),
        ):
            box = slide.shapes.add_textbox(
                Inches(left), Inches(SOURCE_TOP), Inches(width), Inches(0.35)
            )
            box.name = name
            box.text_frame.text = text
            paragraph = box.text_frame.paragraphs[0]
            paragraph.alignment = align
            paragraph.runs[0].font.size = Pt(11)


def _place(shape, left: float, top: float, width: float, height: float) -> None:
    from pptx.util import Inches

    shape.left, shape.top, shape.width, shape.height = (
        Inches(v) for v in (left, top, width, height)
    )


def _cell_text(cell, text: str, size: int, bold: bool) -> None:
    from pptx.util import Pt

    from trustsim.charts.style import DECK_FONT

    cell.text = text
    for paragraph in cell.text_frame.paragraphs:
        for run in paragraph.runs:
            run.font.size, run.font.bold, run.font.name = Pt(size), bold, DECK_FONT


def _robustness_note(results: Results) -> str:
    return (
        "The effect holds under the model's assumptions; no robustness or calibration "
        f"results are in {results.path.name}/, so how far it survives other parameter "
        "values and fits observed data is not yet shown."
    )


# ------------------------------------------------------------------------- PDF
def _libreoffice() -> str:
    """The LibreOffice command, or MissingToolError with how to install it."""
    import shutil

    found = shutil.which("soffice") or shutil.which("libreoffice")
    if found is None:
        raise MissingToolError(f"--pdf: {INSTALL_LIBREOFFICE}.")
    return found


def _render_pdf(soffice: str, pptx: Path, target: Path) -> None:
    """Render the staged deck with LibreOffice headless into the staged PDF path."""
    import shutil
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        source = Path(work) / "deck.pptx"
        shutil.copyfile(pptx, source)
        profile = Path(work, "profile").as_uri()
        command = [
            soffice,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            work,
            str(source),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        rendered = Path(work) / "deck.pdf"
        if done.returncode != 0 or not rendered.is_file():
            raise MissingToolError(
                f"--pdf: LibreOffice could not render the deck ({done.stderr.strip()[:200]})."
            )
        shutil.copyfile(rendered, target)

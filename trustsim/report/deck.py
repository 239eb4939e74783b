"""Client-ready decks: a PowerPoint (python-pptx), its numbers, and its PDF.

A comparison deck tells one story: a title slide, an executive summary of three computed
findings, a scorecard (a native table), the evidence (one chart per slide with its
action title and takeaway), a recommendation with what would have to be true, caveats,
and an appendix in plain words. Every sentence about a difference comes from a paired
test (`trustsim.charts.claims`). Every content slide carries a source line and its page
number; every picture its alt text. Bar charts are native PowerPoint charts
(`trustsim.report.native`), charts over time pictures. The numbers of every chart
(the robustness chart included) go beside the deck as CSVs, and with those of every
table of numbers (the scorecard, the market fit) into one workbook, a sheet each, that
the slide's notes name. The PDF is the deck itself, rendered by LibreOffice.

The deck is 16:9 (13.333 x 7.5 in); with `--template` it takes the template's size
(a 4:3 template stays 4:3), its layouts and their title and body placeholders, and lays
the charts out in what the slide leaves free.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError
from trustsim.report import robustness_slide
from trustsim.report.slide_parts import (
    INSET_IN,
    cell_text,
    csv_name,
    fit_size,
    fits,
    provenance_text,
    sheet_name,
    text_height,
)

if TYPE_CHECKING:
    from trustsim.charts import Results
    from trustsim.charts.base import Chart

SLIDE_EMU = (12192000, 6858000)  # exact widescreen size in EMU (13.333... x 7.5 in)
EMU_PER_INCH = 914400
MARGIN = 0.4  # inches, left and right of titles and charts
TAKEAWAY_WIDTH, GAP = 2.75, 0.25
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
    xlsx: Path | None = None


@dataclass(frozen=True)
class Frame:
    """Where things go on a slide of the deck's size (inches from the top left).

    Without a template the title box is the deck's own; with one it is the template's
    title placeholder, and the content starts below it.
    """

    width: float
    height: float
    title: tuple[float, float, float, float]

    @classmethod
    def of(cls, prs, template: bool) -> Frame:
        width, height = prs.slide_width / EMU_PER_INCH, prs.slide_height / EMU_PER_INCH
        title = (MARGIN, 0.25, width - 2 * MARGIN - 0.033, 1.1)
        placeholder = _title_placeholder(_layout(prs, "Title Only", 5)) if template else None
        if placeholder is not None and placeholder.width:
            title = tuple(
                v / EMU_PER_INCH
                for v in (placeholder.left, placeholder.top, placeholder.width, placeholder.height)
            )
        return cls(width, height, title)

    @property
    def footer_top(self) -> float:
        return self.height - 0.5

    def content_top(self, title_bottom: float | None = None) -> float:
        """Below the title (1.45 in on the deck's own layout)."""
        bottom = title_bottom if title_bottom is not None else self.title[1] + self.title[3]
        return max(1.45, bottom + 0.1)

    def chart_box(self, title_bottom: float | None = None) -> tuple[float, ...]:
        """Left, top, width, height of a chart: 9.6 x 5.4 in on a 16:9 slide."""
        top = self.content_top(title_bottom)
        width = self.width - 2 * MARGIN - GAP - TAKEAWAY_WIDTH + 0.067
        return (MARGIN, top, width, min(5.4, self.footer_top - 0.15 - top))

    def takeaway_box(self, title_bottom: float | None = None) -> tuple[float, ...]:
        left, top, width, height = self.chart_box(title_bottom)
        return (left + width + GAP, top, TAKEAWAY_WIDTH, height)

    def body_box(self, title_bottom: float | None = None) -> tuple[float, ...]:
        top = self.content_top(title_bottom) + 0.05
        return (MARGIN + 0.2, top, self.width - 2 * MARGIN - 0.433, self.footer_top - 0.3 - top)

    def table_box(self, title_bottom: float | None = None) -> tuple[float, ...]:
        top = self.content_top(title_bottom) + 0.05
        return (MARGIN, top, self.width - 2 * MARGIN - 0.033, self.footer_top - 0.55 - top)


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
        out: the .pptx file to write; CSVs go to `<stem>-data/` beside it, and the same
            numbers, one sheet per chart, to `<stem>-data.xlsx`.
        template: a .pptx whose size, slide masters and layouts to use (its slides are
            dropped).
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
    from trustsim.charts import available_kinds, check_one_market
    from trustsim.output import reporting_failures, staged_outputs

    out = Path(out)
    if out.suffix.lower() != ".pptx":
        raise TrustsimInputError(f"--out {out}: a deck is a .pptx file, e.g. --out deck.pptx.")
    # Every input is checked before the first chart is drawn.
    from trustsim.report.story import with_money_measures

    check_one_market(results, "a deck")
    if results.run.replications < 2:
        raise TrustsimInputError(
            f"{results.path}: holds one replication per scenario, which gives no "
            "confidence interval, and a deck states every number with one. Run again with "
            "--replications 20 (the default) and --out, then write the deck from there."
        )
    soffice = _libreoffice() if pdf else None
    prs = _presentation(template)
    results = replace(results, run=with_money_measures(results.run))
    kinds = kinds or available_kinds(results)
    metrics = _check_metrics(results, metrics)
    csv_dir, pdf_path = out.with_name(f"{out.stem}-data"), out.with_suffix(".pdf")
    xlsx = out.with_name(f"{out.stem}-data.xlsx")
    _check_csv_dir(csv_dir)
    _check_workbook(xlsx)
    # The deck, its CSVs and its PDF replace the old ones together or not at all; an old
    # PDF is removed when none is asked for, so no file of another deck stays beside it.
    with reporting_failures(out), staged_outputs() as staging:
        staged = staging.file(out), staging.directory(csv_dir), staging.file(xlsx)
        if not pdf and pdf_path.exists():
            staging.remove(pdf_path)
        builder = _Builder(prs, results, template is not None, info or DeckInfo(), csv_dir)
        builder.robustness = robustness_slide.load(robustness, metrics[0])
        titles = builder.draw(kinds, metrics, staged)
        if soffice is not None:
            _render_pdf(soffice, staged[0], staging.file(pdf_path))
    return Deck(out, csv_dir, pdf_path if pdf else None, titles, builder.effects, xlsx)


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
    from trustsim.report.story import default_metrics

    columns = set(results.run.summaries.columns)
    if not metrics:
        return default_metrics(results.run)
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


WORKBOOK_MARK = "Numbers behind the charts of a trustsim deck"


def _check_workbook(path: Path) -> None:
    """The workbook beside the deck is replaced: refuse one a deck did not write."""
    import zipfile

    if not path.exists():
        return
    try:
        with zipfile.ZipFile(path) as book:
            ours = WORKBOOK_MARK in book.read("docProps/core.xml").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        ours = False
    if not ours:
        raise TrustsimInputError(
            f"{path}: a file a deck did not write is in the way of the deck's workbook. "
            "Move it or choose another --out."
        )


# Dates in the package (zip entries, core properties) are fixed, so the same results
# give the same bytes, like the charts' PNGs.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DATE = "2000-01-01T00:00:00"


def _save_reproducibly(prs, path: Path, info: DeckInfo) -> None:
    """Save the deck with its properties from the options and fixed dates where none is
    given: the same input gives the same bytes."""
    import datetime as dt

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
    path.write_bytes(_stable_zip(buffer.getvalue()))


def _stable_zip(blob: bytes, nested: bool = False) -> bytes:
    """A zip package with fixed entry dates; a workbook inside it (a native chart's data,
    dated when it was made) also gets fixed creation dates."""
    import re
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as source, zipfile.ZipFile(out, "w") as target:
        for entry in source.infolist():
            data = source.read(entry.filename)
            if entry.filename.endswith(".xlsx"):
                data = _stable_zip(data, nested=True)
            elif nested and entry.filename == "docProps/core.xml":
                data = re.sub(
                    rb"(<dcterms:(created|modified)[^>]*>)[^<]*",
                    rb"\g<1>" + FIXED_DATE.encode() + b"Z",
                    data,
                )
            fixed = zipfile.ZipInfo(entry.filename, date_time=FIXED_ZIP_TIME)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, data)
    return out.getvalue()


# ------------------------------------------------------------------ the pieces
def _png(chart: Chart, size: tuple[float, float]) -> bytes:
    """The chart as a PNG drawn at `size` inches, the size it is placed at, so its type
    keeps its point size on the slide."""
    from trustsim.charts.style import chart_style, metadata, render

    buffer = io.BytesIO()
    with chart_style():
        chart.figure.set_size_inches(*size)
        render(chart.figure, buffer, "png", dpi=PNG_DPI, metadata=metadata("png"))
    return buffer.getvalue()


def _write_csvs(charts: list[Chart], folder: Path) -> None:
    """The numbers behind each chart, into the deck's (staged) CSV folder."""
    for i, chart in enumerate(charts, start=1):
        chart.data.to_csv(folder / csv_name(i, chart), index=False)


SCORECARD_SHEET = "Scorecard"


def _write_workbook(path: Path, sheets: list[tuple[str, str, object]], sources: list[str]) -> None:
    """The numbers behind each table and chart of the deck, one sheet each, in one
    workbook, with a contents sheet naming what each sheet holds and, below, where the
    numbers come from.

    Args:
        path: the (staged) workbook.
        sheets: (sheet name, what it holds, DataFrame), in the deck's order.
        sources: provenance lines: the deck's source line, then one per study or
            calibration whose numbers a sheet holds.
    """
    import datetime as dt

    import xlsxwriter

    book = xlsxwriter.Workbook(str(path), {"nan_inf_to_errors": True})
    book.set_properties(
        {
            "title": "Numbers behind the charts",
            "comments": WORKBOOK_MARK,
            "created": dt.datetime.fromisoformat(FIXED_DATE),
        }
    )
    bold = book.add_format({"bold": True})
    contents = book.add_worksheet("Contents")
    contents.write_row(0, 0, ["Sheet", "What it holds"], bold)
    for row, (name, what, frame) in enumerate(sheets, start=1):
        contents.write_row(row, 0, [name, what])
        _write_sheet(book.add_worksheet(name), frame, bold)
    for row, source in enumerate(sources, start=len(sheets) + 2):
        contents.write(row, 0, source)
    contents.set_column(0, 0, 16)
    contents.set_column(1, 1, 110)
    book.close()


def _write_sheet(sheet, frame, bold) -> None:
    """A DataFrame as a plain table: headers in the first row, empty cells for NaN."""
    import math

    sheet.write_row(0, 0, [str(c) for c in frame.columns], bold)
    for r, row in enumerate(frame.itertuples(index=False), start=1):
        for c, value in enumerate(row):
            if hasattr(value, "item"):
                value = value.item()  # numpy scalars as Python numbers
            if isinstance(value, float) and math.isnan(value):
                continue
            sheet.write(r, c, value if isinstance(value, int | float | str | bool) else str(value))
    sheet.set_column(0, max(len(frame.columns) - 1, 0), 14)


def _presentation(template: str | Path | None):
    from pptx import Presentation
    from pptx.util import Emu

    if template is None:
        prs = Presentation()
        prs.slide_width, prs.slide_height = (Emu(v) for v in SLIDE_EMU)
        return prs
    path = Path(template)
    if not path.is_file() or path.suffix.lower() != ".pptx":
        raise TrustsimInputError(
            f"--template {path}: give an existing .pptx file (save a .potx as .pptx first)."
        )
    try:
        prs = Presentation(str(path))
    except Exception as exc:  # python-pptx raises several kinds for a bad package
        raise TrustsimInputError(f"--template {path}: not a readable .pptx ({exc}).") from exc
    # The template's size stays: its layouts and placeholders are drawn for it.
    _drop_slides(prs)
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


def _title_placeholder(layout):
    from pptx.enum.shapes import PP_PLACEHOLDER

    titles = (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE)
    return next((p for p in layout.placeholders if p.placeholder_format.type in titles), None)


def _body_placeholder(slide):
    """The layout's body placeholder on `slide` (index 1, as PowerPoint numbers it)."""
    return next((p for p in slide.placeholders if p.placeholder_format.idx == 1), None)


def _notes(results: Results, chart: Chart, csv_dir: Path, index: int) -> str:
    return (
        f"{chart.title}\n\n{chart.takeaway}\nUncertainty shown: {chart.uncertainty}.\n"
        f"Numbers behind this chart: {csv_dir.name}/{csv_name(index, chart)} and sheet "
        f"'{sheet_name(index, chart)}' of {csv_dir.name}.xlsx\n\n" + provenance_text(results)
    )


# ------------------------------------------------------------------ the builder
class _Builder:
    """Adds slides in story order, numbering content slides and keeping their effects.

    Each slide is one method (`title_slide`, `summary_slide`, `scorecard_slide`,
    `chart_slide`, `recommendation_slide`, `text_slide`, `table_slide`); `draw` calls
    them in the order of the story.
    """

    def __init__(self, prs, results: Results, keep_geometry: bool, info: DeckInfo, csv_dir):
        self.prs, self.results, self.keep = prs, results, keep_geometry
        self.info, self.csv_dir = info, csv_dir
        self.frame = Frame.of(prs, keep_geometry)
        self.titles: list[str] = []
        self.effects: list = []
        self.robustness = None  # a robustness_slide.RobustnessStudy, when given

    # -- the story
    def draw(self, kinds: list[str], metrics: list[str], staged) -> list[str]:
        import matplotlib.pyplot as plt

        from trustsim.report import market_fit, story

        pptx_tmp, csv_tmp, xlsx_tmp = staged
        results = self.results
        compare = len(results.names) >= 2 and not results.is_sweep and results.features is None
        fit = market_fit.market_fit_of(results)  # "Is it your market?", with a calibration
        charts = []
        try:
            charts = self.evidence(kinds, metrics, compare)
            robust = None
            if self.robustness is not None:  # the last chart, numbered like the others
                scenarios = getattr(results.run, "scenarios", None) or {}
                robust = robustness_slide.chart(self.robustness, scenarios)
                charts.append(robust)
            _write_csvs(charts, csv_tmp)
            self.write_workbook(xlsx_tmp, charts, metrics, fit)
            self.title_slide()
            if compare:
                tale = story.build_story(results.run, metrics)
                self.effects += tale.effects
                self.summary_slide(story.findings(tale))
                self.scorecard_slide(metrics)
            market_fit.add_slide(self, fit)
            for i, chart in enumerate(charts, start=1):
                self.chart_slide(chart, i)
            if compare:
                note = _robustness_note(results)
                if robust is not None:
                    note = robustness_slide.condition(self.robustness, robust)
                self.recommendation_slide(story.recommendation(tale, note))
            self.text_slide("Caveats: what is assumed", story.caveats(results.run))
            if compare:
                for name, rows in story.scenario_changes(results.run)[:MAX_APPENDIX_SCENARIOS]:
                    self.table_slide(f"Appendix: what “{name}” changes", rows)
            _save_reproducibly(self.prs, pptx_tmp, self.info)
        finally:
            for chart in charts:
                plt.close(chart.figure)
        return self.titles

    def write_workbook(self, path: Path, charts: list[Chart], metrics: list[str], fit) -> None:
        """The workbook beside the deck: the scorecard, the market fit's two tables (with
        a calibration), then every chart by its number, robustness chart last."""
        from trustsim.report import market_fit

        what = "Scorecard: mean and 95% CI per scenario and KPI"
        sheets = [(SCORECARD_SHEET, what, self.results.run.metric_table(metrics))]
        sources = [self.source_line()]
        if fit is not None:
            sheets += market_fit.sheets(fit)
            sources.append(f"Market fit: calibration {fit.directory.name}/")
        sheets += [(sheet_name(i, c), c.title, c.data) for i, c in enumerate(charts, 1)]
        if self.robustness is not None:
            sources.append(self.robustness.provenance)
        _write_workbook(path, sheets, sources)

    def evidence(self, kinds: list[str], metrics: list[str], compare: bool) -> list[Chart]:
        """The charts, in deck order: per KPI the paired difference to the base (for a
        comparison), then the other kinds asked."""
        from trustsim.charts import make_chart

        results = self.results
        charts = []
        if compare:
            charts = [
                make_chart(results, "difference", metric=m, with_title=False) for m in metrics
            ]
        for kind in kinds:
            if kind in ("comparison", "difference") and compare:
                continue  # the scorecard and the per-KPI differences replace them
            charts.append(make_chart(results, kind, with_title=False))
        return charts

    def source_line(self) -> str:
        prov = self.results.provenance
        return (
            f"Source: trustsim {prov.get('trustsim_version')} simulation, "
            f"{prov.get('replications')} runs per scenario, seed {prov.get('seed')}; see notes"
        )

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
        width = self.frame.width
        title = slide.shapes.title or slide.shapes.add_textbox(
            Inches(0.9), Inches(1.8), Inches(width - 1.8), Inches(1.8)
        )
        title.text = info.title
        body = _body_placeholder(slide) or slide.shapes.add_textbox(
            Inches(0.9), Inches(3.9), Inches(width - 1.8), Inches(2.2)
        )
        body.text_frame.text = subtitle
        if not self.keep:
            _place(title, 0.9, 1.8, width - 1.8, 1.8)
            _place(body, 0.9, 3.9, width - 1.8, 2.2)
        self._fit(title, [(info.title, 36, True)], 36, 20)
        self._fit(body, [(t, 20, False) for t in subtitle.split("\n")], 20, 12)
        slide.notes_slide.notes_text_frame.text = provenance_text(self.results)
        self.titles.append(info.title)

    def summary_slide(self, findings) -> None:
        """Three short findings; their intervals in the notes."""
        slide = self.text_slide("Executive summary", [f.text for f in findings])
        notes = "\n".join(f.note() for f in findings)
        slide.notes_slide.notes_text_frame.text = f"{notes}\n\n{provenance_text(self.results)}"

    def recommendation_slide(self, rec) -> None:
        self.text_slide(rec.headline, ["What would have to be true:", *rec.conditions])

    def _content_slide(
        self, title: str, layout: str = "Title Only", fallback: int = 5, source: str | None = None
    ):
        """A slide with its title and footer; `source` replaces the deck's source line."""
        slide = self.prs.slides.add_slide(_layout(self.prs, layout, fallback))
        self._title(slide, title)
        self._footer(slide, source or self.source_line())
        self.titles.append(title)
        return slide

    def _title_bottom(self, slide) -> float | None:
        title = slide.shapes.title
        if title is None or title.top is None:
            return None
        return (title.top + title.height) / EMU_PER_INCH

    def text_slide(self, title: str, paragraphs: list[str]):
        """A title and paragraphs: in the template's body placeholder where its layout
        has one, else in a text box below the title."""
        from pptx.util import Inches

        slide = self._content_slide(title, "Title and Content", 1)
        box = _body_placeholder(slide) if self.keep else None
        if box is None:
            for placeholder in list(slide.placeholders):
                if placeholder.placeholder_format.idx == 1:
                    placeholder._element.getparent().remove(placeholder._element)
            box = slide.shapes.add_textbox(
                *(Inches(v) for v in self.frame.body_box(self._title_bottom(slide)))
            )
        box.name = "Body"
        frame = box.text_frame
        frame.word_wrap = True
        for i, text in enumerate(paragraphs):
            paragraph = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
            paragraph.text = text
        self._fit(box, [(t, BODY_PT, False) for t in paragraphs], BODY_PT, MIN_BODY_PT)
        slide.notes_slide.notes_text_frame.text = provenance_text(self.results)
        return slide

    def scorecard_slide(self, metrics: list[str]) -> None:
        from pptx.dml.color import RGBColor
        from pptx.util import Inches, Pt

        from trustsim.charts.style import scenario_color
        from trustsim.report.story import scorecard

        headings, rows = scorecard(self.results.run, metrics)
        marked = any(cell.best for row in rows for cell in row)
        title = "Scorecard: each scenario on the KPIs (mean and 95% CI)"
        slide = self._content_slide(title)
        left, top, width, room = self.frame.table_box(self._title_bottom(slide))
        height = min(0.95, room / (len(rows) + 1))
        shape = slide.shapes.add_table(
            len(rows) + 1,
            len(headings),
            Inches(left),
            Inches(top),
            Inches(width),
            Inches(height * (len(rows) + 1)),
        )
        shape.name = "Scorecard"
        table = shape.table
        first = min(3.3, width / 4)
        table.columns[0].width = Inches(first)
        for c in range(1, len(headings)):
            table.columns[c].width = Inches((width - first) / (len(headings) - 1))
        size = 14 if width > 11 else 12
        for c, text in enumerate(headings):
            cell_text(table.cell(0, c), text, size, True)
        for r, row in enumerate(rows, start=1):
            for c, cell in enumerate(row):
                text = cell.text + (" ★" if cell.best else "")
                cell_text(table.cell(r, c), text, size, cell.best or c == 0)
            name = table.cell(r, 0).text_frame.paragraphs[0].runs[0].font
            name.color.rgb = RGBColor.from_string(scenario_color(r - 1).lstrip("#"))
        note = (
            "★ best on this KPI, established against every other scenario (paired 95% CI "
            "and Holm-adjusted test)."
            if marked
            else "On no KPI is one scenario ahead of every other by an established margin."
        )
        box = slide.shapes.add_textbox(
            Inches(left), Inches(self.frame.footer_top - 0.5), Inches(width), Inches(0.45)
        )
        box.name = "Note"
        box.text_frame.text = note
        box.text_frame.word_wrap = True
        box.text_frame.paragraphs[0].runs[0].font.size = Pt(13)
        slide.notes_slide.notes_text_frame.text = (
            f"Numbers behind this table: sheet '{SCORECARD_SHEET}' of {self.csv_dir.name}.xlsx"
            f"\n\n{provenance_text(self.results)}"
        )

    def chart_slide(self, chart: Chart, index: int) -> None:
        """The chart, native where a PowerPoint bar chart shows it whole, else its
        picture at the size it is placed; its takeaway beside it."""
        from pptx.util import Inches

        from trustsim.report.native import add_bar_chart, bars_for

        # The robustness chart's numbers come from its study, not from the deck's runs.
        study = self.robustness if chart.kind == "robustness" else None
        source = None if study is None else robustness_slide.source_line(study)
        slide = self._content_slide(chart.title, source=source)
        box = self.frame.chart_box(self._title_bottom(slide))
        bars = bars_for(chart)
        alt = chart.alt_text or f"{chart.kind} chart: {chart.title}"
        if bars is not None:
            shape = add_bar_chart(slide, bars, box, f"Chart: {chart.kind}")
            shape._element.nvGraphicFramePr.cNvPr.set("descr", alt)
        else:
            left, top, width, height = box
            image = _png(chart, (width, height))
            picture = slide.shapes.add_picture(
                io.BytesIO(image), Inches(left), Inches(top), Inches(width), Inches(height)
            )
            picture._element.nvPicPr.cNvPr.set("descr", alt)
            picture.name = f"Chart: {chart.kind}"
        self._takeaway(slide, chart, self.frame.takeaway_box(self._title_bottom(slide)))
        self.effects += chart.effects
        notes = _notes(self.results, chart, self.csv_dir, index)
        if study is not None:
            notes += f"\n{study.provenance}"
        slide.notes_slide.notes_text_frame.text = notes

    def table_slide(self, title: str, rows: list[list[str]]) -> None:
        from pptx.util import Inches

        slide = self._content_slide(title)
        rows = rows if len(rows) > 1 else [*rows, ["(no setting differs)", "", ""]]
        hidden = rows[11:] if len(rows) > 12 else []
        if hidden:  # a table that would overflow says what it leaves out, and where it is
            more = f"... and {len(hidden)} more (listed in the notes)"
            rows = [*rows[:11], [more, *[""] * (len(rows[0]) - 1)]]
        left, top, width, room = self.frame.table_box(self._title_bottom(slide))
        height = min(0.5, room / len(rows))
        shape = slide.shapes.add_table(
            len(rows),
            len(rows[0]),
            Inches(left),
            Inches(top),
            Inches(width),
            Inches(height * len(rows)),
        )
        shares = (0.584, 0.208, 0.208)
        for c, share in enumerate(shares[: len(rows[0])]):
            shape.table.columns[c].width = Inches(width * share)
        size = 14 if width > 11 else 12
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                cell_text(shape.table.cell(r, c), text, size, r == 0)
        left_out = "".join(f"\n{' | '.join(row)}" for row in hidden)
        notes = provenance_text(self.results)
        if hidden:
            notes += f"\n\nRows not shown on the slide:{left_out}"
        slide.notes_slide.notes_text_frame.text = notes

    # -- pieces of a slide
    def _title(self, slide, text: str) -> None:
        from pptx.util import Inches

        title = slide.shapes.title or slide.shapes.add_textbox(
            *(Inches(v) for v in self.frame.title)
        )
        title.text = text
        if not self.keep:
            _place(title, *self.frame.title)
        self._fit(title, [(text, TITLE_PT, True)], TITLE_PT, MIN_TITLE_PT)

    def _fit(self, shape, paragraphs, start: float, smallest: float) -> None:
        """Set the font, wrapping and the largest size at which the text fits the shape;
        a box too small for the text at the smallest size grows downwards to hold it
        (what is below a title is placed under its new bottom)."""
        from pptx.enum.text import MSO_AUTO_SIZE, PP_ALIGN
        from pptx.util import Pt

        from trustsim.charts.style import DECK_FONT

        frame = shape.text_frame
        frame.word_wrap = True
        frame.auto_size = MSO_AUTO_SIZE.NONE
        width, height = shape.width / EMU_PER_INCH, shape.height / EMU_PER_INCH
        size = fit_size(paragraphs, width, height, start, smallest)
        scaled = [(t, s * size / start, b) for t, s, b in paragraphs]
        if not fits(scaled, width, height):
            # All four set: a placeholder given only a height would lose its inherited
            # position and width.
            left, top = shape.left / EMU_PER_INCH, shape.top / EMU_PER_INCH
            grown = text_height(scaled, width - 2 * INSET_IN) + 0.15
            _place(shape, left, top, width, grown)
        for paragraph, (_, para_size, bold) in zip(frame.paragraphs, paragraphs, strict=False):
            paragraph.alignment = PP_ALIGN.LEFT
            for run in paragraph.runs:
                run.font.size = Pt(round(para_size * size / start))
                run.font.bold = bold
                run.font.name = DECK_FONT

    def _takeaway(self, slide, chart: Chart, box_in: tuple[float, ...]) -> None:
        from pptx.dml.color import RGBColor
        from pptx.util import Inches

        box = slide.shapes.add_textbox(*(Inches(v) for v in box_in))
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

    def _footer(self, slide, source: str) -> None:
        """Source line and page number on every content slide."""
        from pptx.enum.text import PP_ALIGN
        from pptx.util import Inches, Pt

        from trustsim.charts.style import DECK_FONT

        page = len(self.prs.slides)
        width, top = self.frame.width, self.frame.footer_top
        for name, text, left, box_width, align in (
            ("Source", source, MARGIN, width - 2.333, PP_ALIGN.LEFT),
            ("Page number", str(page), width - 1.433, 1.0, PP_ALIGN.RIGHT),
        ):
            box = slide.shapes.add_textbox(
                Inches(left), Inches(top), Inches(box_width), Inches(0.35)
            )
            box.name = name
            box.text_frame.text = text
            box.text_frame.word_wrap = True  # a fixed box, so the alignment holds
            paragraph = box.text_frame.paragraphs[0]
            paragraph.alignment = align
            paragraph.runs[0].font.size = Pt(11)
            paragraph.runs[0].font.name = DECK_FONT


def _place(shape, left: float, top: float, width: float, height: float) -> None:
    from pptx.util import Inches

    shape.left, shape.top, shape.width, shape.height = (
        Inches(v) for v in (left, top, width, height)
    )


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

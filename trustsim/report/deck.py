"""Client-ready decks: a 16:9 PowerPoint (python-pptx) and the same as a PDF report.

Each chart becomes one slide: its action title as the slide title, the picture at the
size it was drawn (so its type sizes hold in the room), a takeaway box, and speaker notes
with the provenance. A CSV of the numbers behind every chart is written beside the deck.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from trustsim.errors import TrustsimInputError

if TYPE_CHECKING:
    from trustsim.charts import Results
    from trustsim.charts.base import Chart

SLIDE_W, SLIDE_H = 12192000 / 914400, 7.5  # inches: PowerPoint's widescreen 16:9
SLIDE_EMU = (12192000, 6858000)  # exact widescreen size in EMU (13.333... x 7.5 in)
CHART_LEFT, CHART_TOP = 0.4, 1.6
BOX_LEFT, BOX_WIDTH = 10.25, 2.75
TITLE_BOX = (0.4, 0.3, 12.5, 1.2)
PNG_DPI = 200
MAX_APPENDIX_SCENARIOS = 6
STAGE_FIELDS = ("stake", "reliability", "delegation", "affordance", "pressure", "forced")


@dataclass
class Deck:
    """What `build_report` wrote."""

    pptx: Path
    csv_dir: Path
    pdf: Path | None
    titles: list[str]


def build_report(
    results: Results,
    out: str | Path,
    *,
    template: str | Path | None = None,
    pdf: bool = False,
    kinds: list[str] | None = None,
) -> Deck:
    """Write a deck of every chart the results support, the CSVs behind them, and a PDF.

    Args:
        results: from `trustsim.charts.load_results(directory)`.
        out: the .pptx file to write; CSVs go to `<stem>-data/` beside it.
        template: a .pptx whose slide masters and layouts to use (its slides are dropped).
        pdf: also write `<stem>.pdf` with the same pages.
        kinds: chart kinds to include (default: all the results support).

    Example:
        >>> from trustsim.charts import load_results
        >>> deck = build_report(load_results("results/"), "deck.pptx")  # doctest: +SKIP
        >>> deck.titles[0]                                               # doctest: +SKIP
        'real-estate-verifiable has the most closed deals: 83 (95% CI 61–99) ...'
    """
    from trustsim.charts import available_kinds
    from trustsim.experiments.output import reporting_failures, staged_outputs

    out = Path(out)
    if out.suffix.lower() != ".pptx":
        raise TrustsimInputError(f"--out {out}: a deck is a .pptx file, e.g. --out deck.pptx.")
    # Every input is checked before the first chart is drawn.
    prs = _presentation(template)
    kinds = kinds or available_kinds(results)
    csv_dir, pdf_path = out.with_name(f"{out.stem}-data"), out.with_suffix(".pdf")
    _check_csv_dir(csv_dir)
    # The deck, its CSVs and its PDF replace the old ones together or not at all; an old
    # PDF is removed when none is asked for, so no file of another deck stays beside it.
    with reporting_failures(out), staged_outputs() as staging:
        staged = staging.file(out), staging.directory(csv_dir)
        staged_pdf = staging.file(pdf_path) if pdf else None
        if not pdf and pdf_path.exists():
            staging.remove(pdf_path)
        titles = _draw_deck(results, kinds, prs, template is not None, staged, staged_pdf, csv_dir)
    return Deck(out, csv_dir, pdf_path if pdf else None, titles)


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


def _draw_deck(results, kinds, prs, keep_geometry, staged, staged_pdf, csv_dir) -> list[str]:
    """Draw every chart into the staged deck, CSV folder and PDF; return the titles."""
    import matplotlib.pyplot as plt

    from trustsim.charts import make_chart

    pptx_tmp, csv_tmp = staged
    charts = [make_chart(results, kind, with_title=False) for kind in kinds]
    try:
        _write_csvs(charts, csv_tmp)
        images = [_png(chart) for chart in charts]
        _title_slide(prs, results, keep_geometry)
        for i, (chart, image) in enumerate(zip(charts, images, strict=True), start=1):
            _chart_slide(prs, chart, image, _notes(results, chart, csv_dir, i), keep_geometry)
        _appendix_slides(prs, results, keep_geometry)
        _save_reproducibly(prs, pptx_tmp)
        if staged_pdf is not None:
            _write_pdf(results, charts, images, staged_pdf)
    finally:
        for chart in charts:
            plt.close(chart.figure)
    return [c.title for c in charts]


# Dates in the package (zip entries, core properties) are fixed, so the same results
# give the same bytes, like the charts' PNGs.
FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
FIXED_DATE = "2000-01-01T00:00:00"


def _save_reproducibly(prs, path: Path) -> None:
    """Save the deck with fixed dates: the same input gives the same bytes."""
    import datetime as dt
    import zipfile

    props = prs.core_properties
    props.created = props.modified = dt.datetime.fromisoformat(FIXED_DATE)
    props.last_modified_by, props.revision = "trustsim", 1
    props.title = props.title or "What turns leads into satisfied customers"
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


def _set_title(slide, text: str, keep_geometry: bool, size_pt: int = 26) -> None:
    from pptx.util import Inches, Pt

    title = slide.shapes.title
    if title is None:
        title = slide.shapes.add_textbox(*(Inches(v) for v in TITLE_BOX))
    title.text = text
    if keep_geometry:
        return
    title.left, title.top, title.width, title.height = (Inches(v) for v in TITLE_BOX)
    frame = title.text_frame
    frame.word_wrap = True
    for paragraph in frame.paragraphs:
        paragraph.alignment = 1  # left
        for run in paragraph.runs:
            run.font.size = Pt(size_pt)
            run.font.bold = True


def _title_slide(prs, results: Results, keep_geometry: bool) -> None:
    from pptx.util import Inches, Pt

    slide = prs.slides.add_slide(_layout(prs, "Title Slide", 0))
    names = results.names[:1] if results.features is not None else results.names
    heading = "What turns leads into satisfied customers"
    slide.shapes.title.text = heading
    prov = results.provenance
    subtitle = (
        f"Scenarios: {', '.join(names)}\n{prov.get('replications')} runs per scenario, "
        f"seed {prov.get('seed')}, trustsim {prov.get('trustsim_version')}"
    )
    placeholders = [p for p in slide.placeholders if p.placeholder_format.idx == 1]
    if placeholders:
        placeholders[0].text = subtitle
        body = placeholders[0]
    else:
        body = slide.shapes.add_textbox(Inches(1), Inches(4.2), Inches(11.3), Inches(1.5))
        body.text_frame.text = subtitle
    if not keep_geometry:
        title = slide.shapes.title
        title.left, title.top, title.width, title.height = (
            Inches(0.9),
            Inches(2.0),
            Inches(11.5),
            Inches(1.6),
        )
        body.left, body.top, body.width, body.height = (
            Inches(0.9),
            Inches(3.9),
            Inches(11.5),
            Inches(1.6),
        )
        for paragraph in body.text_frame.paragraphs:
            for run in paragraph.runs:
                run.font.size = Pt(20)
    slide.notes_slide.notes_text_frame.text = _provenance_text(results)


def _chart_slide(prs, chart: Chart, image: bytes, notes: str, keep_geometry: bool) -> None:
    from pptx.util import Inches

    from trustsim.charts.style import FIGSIZE

    slide = prs.slides.add_slide(_layout(prs, "Title Only", 5))
    _set_title(slide, chart.title, keep_geometry)
    slide.shapes.add_picture(
        io.BytesIO(image),
        Inches(CHART_LEFT),
        Inches(CHART_TOP),
        width=Inches(FIGSIZE[0]),
        height=Inches(FIGSIZE[1]),
    )
    _takeaway_box(slide, chart.takeaway, chart.uncertainty)
    slide.notes_slide.notes_text_frame.text = notes


def _takeaway_box(slide, takeaway: str, uncertainty: str) -> None:
    from pptx.dml.color import RGBColor
    from pptx.util import Inches, Pt

    from trustsim.charts.style import FIGSIZE

    box = slide.shapes.add_textbox(
        Inches(BOX_LEFT), Inches(CHART_TOP), Inches(BOX_WIDTH), Inches(FIGSIZE[1])
    )
    box.fill.solid()
    box.fill.fore_color.rgb = RGBColor(0xF2, 0xF2, 0xF2)
    frame = box.text_frame
    frame.word_wrap = True
    for side in ("margin_left", "margin_right", "margin_top", "margin_bottom"):
        setattr(frame, side, Inches(0.15))
    frame.text = "Takeaway"
    head = frame.paragraphs[0].runs[0].font
    head.size, head.bold, head.color.rgb = Pt(16), True, RGBColor(0x00, 0x72, 0xB2)
    for text, size in ((takeaway, 16), (f"Uncertainty shown: {uncertainty}.", 14)):
        paragraph = frame.add_paragraph()
        paragraph.space_before = Pt(8)
        run = paragraph.add_run()
        run.text = text
        run.font.size = Pt(size)
        run.font.color.rgb = RGBColor(0x33, 0x33, 0x33)


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


def appendix_rows(results: Results) -> list[tuple[str, list[list[str]]]]:
    """Per scenario: a header row and one row of stage parameters per stage."""
    names = results.names[:1] if results.features is not None else results.names
    tables = []
    for name in names[:MAX_APPENDIX_SCENARIOS]:
        spec = results.run.scenarios[name]
        rows = [["stage", *STAGE_FIELDS]]
        for stage, values in spec.stages.items():
            cells = [_cell(getattr(values, field)) for field in STAGE_FIELDS]
            marker = " (closes)" if stage == spec.closing_stage else ""
            rows.append([stage + marker, *cells])
        tables.append((name, rows))
    return tables


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:g}"


def _appendix_slides(prs, results: Results, keep_geometry: bool) -> None:
    """One slide per scenario (at most MAX_APPENDIX_SCENARIOS): its stages as a table."""
    from pptx.util import Inches, Pt

    for name, rows in appendix_rows(results):
        slide = prs.slides.add_slide(_layout(prs, "Title Only", 5))
        _set_title(slide, f"Appendix: {name}, parameters by stage", keep_geometry)
        row_height = min(0.5, (SLIDE_H - CHART_TOP - 0.4) / len(rows))
        shape = slide.shapes.add_table(
            len(rows),
            len(rows[0]),
            Inches(0.4),
            Inches(CHART_TOP),
            Inches(SLIDE_W - 0.8),
            Inches(row_height * len(rows)),
        )
        shape.table.columns[0].width = Inches(3.1)
        for c in range(1, len(rows[0])):
            shape.table.columns[c].width = Inches((SLIDE_W - 0.8 - 3.1) / (len(rows[0]) - 1))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                cell = shape.table.cell(r, c)
                cell.text = text
                for paragraph in cell.text_frame.paragraphs:
                    for run in paragraph.runs:
                        run.font.size = Pt(16)
        spec = results.run.scenarios[name]
        slide.notes_slide.notes_text_frame.text = (
            f"{spec.description}\nOne step is one {spec.time.step_unit}; market size "
            f"{spec.market.size}; horizon {spec.time.steps} steps (short horizon "
            f"{spec.time.short_horizon}). The full resolved scenario is "
            f"{results.path}/scenarios/{name}.toml.\n\n" + _provenance_text(results)
        )


# ------------------------------------------------------------------------- PDF
def _write_pdf(results: Results, charts: list[Chart], images: list[bytes], path: Path) -> Path:
    """The same pages as the deck, drawn with matplotlib (byte-stable metadata)."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    from trustsim.charts.style import chart_style, metadata, wrap_title

    with chart_style(), PdfPages(path, metadata=metadata("pdf")) as pdf:
        page = _pdf_page()
        page.text(
            0.07,
            0.6,
            "What turns leads into satisfied customers",
            fontsize=30,
            fontweight="bold",
            color="#333333",
        )
        page.text(
            0.07, 0.45, _provenance_text(results), fontsize=14, color="#555555", va="top", wrap=True
        )
        pdf.savefig(page)
        plt.close(page)
        for chart, image in zip(charts, images, strict=True):
            page = _pdf_page()
            page.text(
                TITLE_BOX[0] / SLIDE_W,
                1 - TITLE_BOX[1] / SLIDE_H,
                wrap_title(chart.title, 80),
                fontsize=24,
                fontweight="bold",
                va="top",
                color="#333333",
            )
            _pdf_image(page, image)
            _pdf_takeaway(page, chart)
            pdf.savefig(page)
            plt.close(page)
        for name, rows in appendix_rows(results):
            page = _pdf_page()
            _pdf_appendix(page, name, rows)
            pdf.savefig(page)
            plt.close(page)
    return path


def _pdf_page():
    import matplotlib.pyplot as plt

    return plt.figure(figsize=(SLIDE_W, SLIDE_H), layout="none")


def _pdf_image(page, image: bytes) -> None:
    import matplotlib.image as mpimg

    from trustsim.charts.style import FIGSIZE

    left = CHART_LEFT / SLIDE_W
    bottom = 1 - (CHART_TOP + FIGSIZE[1]) / SLIDE_H
    ax = page.add_axes((left, bottom, FIGSIZE[0] / SLIDE_W, FIGSIZE[1] / SLIDE_H))
    ax.imshow(mpimg.imread(io.BytesIO(image), format="png"))
    ax.set_axis_off()


def _pdf_takeaway(page, chart: Chart) -> None:
    import textwrap

    from trustsim.charts.style import FIGSIZE

    left, top = BOX_LEFT / SLIDE_W, 1 - CHART_TOP / SLIDE_H
    page.patches.append(
        _box(
            page,
            left,
            1 - (CHART_TOP + FIGSIZE[1]) / SLIDE_H,
            BOX_WIDTH / SLIDE_W,
            FIGSIZE[1] / SLIDE_H,
        )
    )
    text = "\n".join(textwrap.wrap(chart.takeaway, 26))
    extra = "\n".join(textwrap.wrap(f"Uncertainty shown: {chart.uncertainty}.", 28))
    page.text(
        left + 0.012,
        top - 0.02,
        "Takeaway",
        fontsize=16,
        fontweight="bold",
        color="#0072B2",
        va="top",
    )
    page.text(
        left + 0.012,
        top - 0.08,
        f"{text}\n\n{extra}",
        fontsize=14,
        color="#333333",
        va="top",
        linespacing=1.3,
    )


def _box(page, left, bottom, width, height):
    from matplotlib.patches import Rectangle

    return Rectangle(
        (left, bottom),
        width,
        height,
        transform=page.transFigure,
        facecolor="#F2F2F2",
        edgecolor="none",
        zorder=0,
    )


def _pdf_appendix(page, name: str, rows: list[list[str]]) -> None:
    page.text(
        TITLE_BOX[0] / SLIDE_W,
        1 - TITLE_BOX[1] / SLIDE_H,
        f"Appendix: {name}, parameters by stage",
        fontsize=24,
        fontweight="bold",
        va="top",
        color="#333333",
    )
    top = 1 - CHART_TOP / SLIDE_H
    ax = page.add_axes((0.03, 0.05, 0.94, top - 0.05))
    ax.set_axis_off()
    table = ax.table(cellText=rows[1:], colLabels=rows[0], loc="upper left", cellLoc="left")
    table.auto_set_font_size(False)
    table.set_fontsize(16)
    table.scale(1, 2.2)

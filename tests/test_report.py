"""Decks read back with python-pptx: the storyline, claims backed by tests, text that fits,
a source line and page number on every content slide, alt text, properties, the PDF."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import pytest
from click.testing import CliRunner
from pptx import Presentation
from pptx.util import Emu

import trustsim
from trustsim.charts import load_results
from trustsim.charts.claims import claim_words_in, metric_words
from trustsim.cli import main
from trustsim.metrics import label
from trustsim.report import DeckInfo, build_report
from trustsim.report.deck import text_height
from trustsim.report.story import DEFAULT_METRICS

# Eight paired runs: enough for a test, so some differences are established.
SMALL = dict(replications=8, seed=0, steps=30, overrides=["market.size=300"])
SCENARIOS = ["real-estate", "real-estate-funnel"]
INFO = DeckInfo(client="Acme", project="Trust", author="J. Doe", date="2025-03-01")


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    trustsim.run(SCENARIOS, **SMALL).write(out)
    return out


@pytest.fixture(scope="module")
def deck(results_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("deck") / "deck.pptx"
    return build_report(load_results(results_dir), out, info=INFO)


def titles(prs):
    return [s.shapes.title.text for s in prs.slides]


def named(slide, name):
    return [s for s in slide.shapes if s.name == name]


def test_deck_tells_the_story_in_order(deck):
    prs = Presentation(str(deck.pptx))
    assert (prs.slide_width, prs.slide_height) == (Emu(12192000), Emu(6858000))
    heads = titles(prs)
    assert heads[0] == INFO.title and heads[1] == "Executive summary"
    assert heads[2].startswith("Scorecard")
    assert any(t.startswith(("Recommend", "Keep")) for t in heads)
    assert any(t.startswith("Caveats") for t in heads)
    assert heads[-1].startswith("Appendix: what")
    cover = " ".join(s.text_frame.text for s in prs.slides[0].shapes if s.has_text_frame)
    assert all(x in cover for x in ("Acme", "Trust", "J. Doe", "2025-03-01"))
    assert "/" not in cover.replace("trustsim", "")  # no command or local path on the cover


NUMBER = re.compile(r"[+−-]?\d[\d,.]*%?")


def test_executive_summary_is_three_short_findings_of_one_sentence_and_one_number(deck):
    prs = Presentation(str(deck.pptx))
    (body,) = named(prs.slides[1], "Body")
    findings = [p.text for p in body.text_frame.paragraphs if p.text]
    assert len(findings) == 3
    for finding in findings:
        assert finding.count(". ") == 0 and finding.endswith(".")
        assert len(NUMBER.findall(finding)) <= 1, finding
        # The base's label mid-sentence reads as words, not as a name with a capital.
        assert "vs online service as today" in finding
    notes = prs.slides[1].notes_slide.notes_text_frame.text
    assert "95% CI" in notes  # the intervals go to the notes


def test_no_title_puts_the_base_label_with_a_capital_mid_sentence(deck):
    prs = Presentation(str(deck.pptx))
    for title in titles(prs):
        assert "Online service as today" not in title[1:], title


def test_scorecard_is_a_native_table_of_scenarios_by_kpis(deck, results_dir):
    prs = Presentation(str(deck.pptx))
    (table,) = [s.table for s in prs.slides[2].shapes if s.has_table]
    assert len(table.rows) == 1 + len(SCENARIOS)
    # Revenue is left out: with deal_value 1 and no currency it only counts deals again.
    assert [table.cell(0, c).text for c in range(1, len(table.columns))] == [
        metric_words(m).short for m in DEFAULT_METRICS if m != "revenue"
    ]
    run = load_results(results_dir).run
    means = run.summaries.groupby("scenario")["closed_deals"].mean()
    assert table.cell(1, 1).text.startswith(f"{means['real-estate']:.1f}"[:3])


def test_every_claim_word_is_backed_by_an_established_paired_difference(deck):
    """Each sentence using "raises", "best", "wins"... names a scenario and a metric whose
    paired difference to the base is established (95% CI and Holm test)."""
    prs = Presentation(str(deck.pptx))
    established = [e for e in deck.effects if e.established]
    checked = 0
    for slide in prs.slides:
        for shape in slide.shapes:
            if not shape.has_text_frame or shape.name in ("Source", "Page number", "Note"):
                continue
            for sentence in re.split(r"(?<=[.;])\s+|\n", shape.text_frame.text):
                if not claim_words_in(sentence):
                    continue
                checked += 1
                assert any(
                    e.scenario in sentence and metric_words(e.metric).label in sentence
                    for e in established
                ), sentence
    assert checked > 0  # the runs establish some differences, and the deck states them


def test_no_claim_word_where_nothing_is_established(results_dir, tmp_path):
    few = tmp_path / "few"
    trustsim.run(SCENARIOS, replications=3, seed=0, steps=30, overrides=SMALL["overrides"]).write(
        few
    )
    deck = build_report(load_results(few), tmp_path / "d.pptx")
    assert not any(e.established for e in deck.effects)
    prs = Presentation(str(deck.pptx))
    for slide in prs.slides:
        text = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
        assert not claim_words_in(text.replace("★ best", "")), text


def font_files(family: str) -> dict[bool, str]:
    """Regular and bold font files of `family`: Carlito (Calibri's metrics) from the
    system, DejaVu Sans from matplotlib; an empty dict when not installed."""
    from matplotlib import font_manager

    if family == "DejaVu Sans":
        return {
            bold: font_manager.findfont(
                font_manager.FontProperties(family=family, weight="bold" if bold else "normal")
            )
            for bold in (False, True)
        }
    files = {Path(f).name: f for f in font_manager.findSystemFonts()}
    wanted = {False: "Carlito-Regular.ttf", True: "Carlito-Bold.ttf"}
    if not all(name in files for name in wanted.values()):
        return {}
    return {bold: files[name] for bold, name in wanted.items()}


def assert_text_fits(pptx_path, family):
    """Every title, takeaway and body holds its text in `family`, inside the slide."""
    from PIL import ImageFont

    paths = font_files(family)
    if not paths:
        pytest.skip(f"{family} is not installed (Debian: fonts-crosextra-carlito)")

    def font_for(bold, size):
        return ImageFont.truetype(paths[bold], size=max(1, round(size * 10)))

    prs = Presentation(str(pptx_path))
    for number, slide in enumerate(prs.slides, start=1):
        boxes = [slide.shapes.title, *named(slide, "Takeaway"), *named(slide, "Body")]
        for box in boxes:
            paragraphs = [
                (p.text, p.runs[0].font.size.pt, bool(p.runs[0].font.bold))
                for p in box.text_frame.paragraphs
                if p.runs
            ]
            width, height = box.width / 914400, box.height / 914400
            needed = text_height(paragraphs, width - 0.2, font_for)
            assert needed <= height - 0.1, (number, box.name, box.text_frame.text)
            assert box.left + box.width <= prs.slide_width
            assert box.top + box.height <= prs.slide_height
        for shape in slide.shapes:  # nothing runs off the slide or into the title
            if shape.shape_type in (3, 13) or shape.has_table:  # charts, pictures, tables
                assert shape.left + shape.width <= prs.slide_width, (number, shape.name)
                assert shape.top + shape.height <= prs.slide_height, (number, shape.name)
                title = slide.shapes.title
                assert shape.top >= title.top + title.height, (number, shape.name)


@pytest.mark.parametrize("family", ["Carlito", "DejaVu Sans"])
def test_titles_takeaways_and_bodies_fit_their_boxes_in_the_actual_fonts(deck, family):
    assert_text_fits(deck.pptx, family)


def test_every_content_slide_has_a_source_line_and_its_page_number(deck):
    prs = Presentation(str(deck.pptx))
    for number, slide in enumerate(prs.slides, start=1):
        if number == 1:
            continue
        (source,) = named(slide, "Source")
        (page,) = named(slide, "Page number")
        assert source.text_frame.text.startswith("Source: trustsim ")
        assert "8 runs per scenario, seed 0" in source.text_frame.text
        assert page.text_frame.text == str(number)


def test_pictures_and_native_charts_have_alt_text_and_properties_come_from_the_options(deck):
    prs = Presentation(str(deck.pptx))
    pictures = [s for slide in prs.slides for s in slide.shapes if s.shape_type == 13]
    charts = [s for slide in prs.slides for s in slide.shapes if s.has_chart]
    assert pictures and charts
    for picture in pictures:
        alt = picture._element.nvPicPr.cNvPr.get("descr")
        assert alt and "image.png" not in alt
    for chart in charts:
        assert chart._element.nvGraphicFramePr.cNvPr.get("descr")
    props = prs.core_properties
    assert props.author == "J. Doe" and props.last_modified_by == "J. Doe"
    assert props.title == INFO.title and props.created.year == 2025


def test_deck_and_its_workbook_are_byte_reproducible(deck, results_dir, tmp_path):
    again = build_report(load_results(results_dir), tmp_path / "deck.pptx", info=INFO)
    assert again.pptx.read_bytes() == deck.pptx.read_bytes()
    assert again.xlsx.read_bytes() == deck.xlsx.read_bytes()


def chart_slides(prs):
    return [s for s in prs.slides if any(sh.shape_type == 13 or sh.has_chart for sh in s.shapes)]


def workbook_sheets_and_strings(path):
    """Sheet names and shared strings of an .xlsx, read with the standard library."""
    import zipfile

    with zipfile.ZipFile(path) as book:
        names = re.findall(r'<sheet name="([^"]+)"', book.read("xl/workbook.xml").decode())
        strings = re.findall(r"<t[^>]*>([^<]*)</t>", book.read("xl/sharedStrings.xml").decode())
    return names, set(strings)


def test_csv_and_a_workbook_sheet_beside_the_deck_for_every_chart(deck):
    prs = Presentation(str(deck.pptx))
    charts = chart_slides(prs)
    csvs = sorted(deck.csv_dir.glob("*.csv"))
    assert len(csvs) == len(charts)
    assert deck.xlsx == deck.pptx.with_name("deck-data.xlsx")
    names, strings = workbook_sheets_and_strings(deck.xlsx)
    assert names[:2] == ["Contents", "Scorecard"]
    assert names[2:] == [f.stem.replace("-", " ", 1) for f in csvs]
    for csv in csvs:
        assert set(csv.read_text().splitlines()[0].split(",")) <= strings


def test_bar_charts_are_native_with_their_intervals_and_charts_over_time_are_pictures(deck):
    from pptx.oxml.ns import qn

    prs = Presentation(str(deck.pptx))
    kinds = {}
    for slide in chart_slides(prs):
        (shape,) = [s for s in slide.shapes if s.name.startswith("Chart: ")]
        kinds.setdefault(shape.name.removeprefix("Chart: "), shape)  # the first of a kind
    assert {"difference", "funnel"} <= {k for k, s in kinds.items() if s.has_chart}
    assert {"trust", "horizon", "leads"} <= {k for k, s in kinds.items() if not s.has_chart}
    bars = kinds["difference"].chart
    series = bars.plots[0].series[0]
    (error_bars,) = series._element.findall(qn("c:errBars"))
    plus = [float(v.text) for v in error_bars.find(qn("c:plus")).iter(qn("c:v"))]
    assert len(plus) == len(series.values) == len(SCENARIOS) - 1
    difference = next(e for e in deck.effects if e.metric == DEFAULT_METRICS[0])
    assert plus[0] == pytest.approx(difference.ci_high - difference.diff)


def test_chosen_metrics_drive_scorecard_and_evidence(results_dir, tmp_path):
    deck = build_report(
        load_results(results_dir), tmp_path / "d.pptx", metrics=["nps", "conversion"]
    )
    prs = Presentation(str(deck.pptx))
    (table,) = [s.table for s in prs.slides[2].shapes if s.has_table]
    assert [table.cell(0, c).text for c in (1, 2)] == [label("nps"), label("conversion")]


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice is not installed")
def test_pdf_is_the_deck_rendered_by_libreoffice(results_dir, tmp_path):
    deck = build_report(load_results(results_dir), tmp_path / "d.pptx", pdf=True)
    data = deck.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
    assert pages == len(Presentation(str(deck.pptx)).slides)


def test_pdf_without_libreoffice_says_how_to_install_it_and_exits_1(
    results_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "d.pptx"
    res = CliRunner().invoke(main, ["report", str(results_dir), "--out", str(out), "--pdf"])
    assert res.exit_code == 1
    assert "apt-get install libreoffice-impress" in res.output
    assert not out.exists()


@pytest.fixture(scope="module")
def template_deck(results_dir, tmp_path_factory):
    """A deck on a 4:3 client template whose content title placeholder is short."""
    folder = tmp_path_factory.mktemp("template")
    template = Presentation()  # python-pptx's own template: 4:3, 10 x 7.5 in
    template.slides.add_slide(template.slide_layouts[0]).shapes.title.text = "client cover"
    for layout in template.slide_layouts:
        if layout.name in ("Title Only", "Title and Content"):
            title = layout.placeholders[0]  # 0.5 in from the top left, 9 x 0.7 in
            title.left, title.top, title.width, title.height = (
                Emu(v) for v in (457200, 457200, 8229600, 640080)
            )
    template.save(folder / "client.pptx")
    out = folder / "d.pptx"
    return build_report(load_results(results_dir), out, template=folder / "client.pptx")


def test_a_4_by_3_template_stays_4_by_3_and_its_own_slides_are_dropped(template_deck):
    prs = Presentation(str(template_deck.pptx))
    assert (prs.slide_width, prs.slide_height) == (Emu(9144000), Emu(6858000))
    assert "client cover" not in titles(prs)


def test_template_slides_use_its_layouts_title_and_body_placeholders(template_deck):
    prs = Presentation(str(template_deck.pptx))
    for slide in prs.slides:
        assert slide.shapes.title.is_placeholder
        assert slide.slide_layout.name in ("Title Slide", "Title Only", "Title and Content")
    summary = prs.slides[1]
    (body,) = named(summary, "Body")
    assert body.is_placeholder and body.placeholder_format.idx == 1


@pytest.mark.parametrize("family", ["Carlito", "DejaVu Sans"])
def test_template_titles_fit_their_placeholders_and_charts_stay_below_them(template_deck, family):
    assert_text_fits(template_deck.pptx, family)


def test_cli_report(results_dir, tmp_path):
    out = tmp_path / "cli.pptx"
    args = ["report", str(results_dir), "--out", str(out), "--client", "Acme"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert out.is_file() and (tmp_path / "cli-data").is_dir()
    assert " 2. Executive summary" in res.output


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--out", "{tmp}/deck.key"], "a deck is a .pptx file"),
        (["--template", "{tmp}/none.pptx"], "--template"),
        (["--template", "{tmp}/bad.pptx"], "not a readable .pptx"),
        (["--metric", "happiness"], "--metric 'happiness' is not a run measure"),
    ],
)
def test_cli_report_bad_input_exits_2(results_dir, tmp_path, extra, message):
    (tmp_path / "bad.pptx").write_text("not a zip")
    args = ["report", str(results_dir), "--out", str(tmp_path / "d.pptx")]
    res = CliRunner().invoke(main, args + [a.format(tmp=tmp_path) for a in extra])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_a_deck_of_two_markets_is_refused_naming_each_and_nothing_is_written(tmp_path):
    # The demo's results hold two families: delivery-trial scenarios are not options for
    # the real-estate market they would be compared with.
    results = tmp_path / "demo"
    mixed = dict(SMALL, overrides=[])
    trustsim.run(["real-estate", "delivery-trial-funnel"], **mixed).write(results)
    out = tmp_path / "deck.pptx"
    res = CliRunner().invoke(main, ["report", str(results), "--out", str(out)])
    assert res.exit_code == 2
    message = res.output.strip()
    assert "real-estate (2,000 buyers, 30 weeks)" in message
    assert "delivery-trial-funnel (10,000 buyers, 30 days)" in message
    assert "one results directory per market" in message and "Traceback" not in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    res = CliRunner().invoke(main, ["chart", str(results), "--kind", "difference"])
    assert res.exit_code == 2 and "a difference chart compares alternatives" in res.output
    assert not (results / "charts").exists()


def test_a_deck_of_one_replication_is_refused_and_nothing_is_written(tmp_path):
    results = tmp_path / "one"
    trustsim.run(["real-estate", "real-estate-verifiable"], **dict(SMALL, replications=1)).write(
        results
    )
    out = tmp_path / "deck.pptx"
    res = CliRunner().invoke(main, ["report", str(results), "--out", str(out)])
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "one replication per scenario" in res.output and "--replications 20" in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one"]


def test_cli_report_on_a_missing_directory_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such directory" in res.output


# ----------------------------------------------------------- a Russian deck, money
RU_BASE = """extends = "real-estate"
name = "ru-base"
label = "Онлайн-сервис как сейчас"

[market]
size = 300
deal_value = 8500000
currency = "₽"
margin = 0.2
cost_per_lead = 30000

[stages.explore]
label = "Выбор квартиры"
[stages.contract]
label = "Подписание договора"
[stages.payment]
label = "Оплата"
"""
RU_PRESSURE = """extends = "ru-base.toml"
name = "ru-pressure"
label = "Давление воронки продаж"

[stages.explore]
pressure = 0.6
[stages.viewing]
pressure = 0.6
"""


@pytest.fixture(scope="module")
def russian_deck(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ru")
    (folder / "ru-base.toml").write_text(RU_BASE, encoding="utf-8")
    (folder / "ru-pressure.toml").write_text(RU_PRESSURE, encoding="utf-8")
    files = [str(folder / "ru-base.toml"), str(folder / "ru-pressure.toml")]
    trustsim.run(files, replications=6, seed=0, steps=20).write(folder / "res")
    info = DeckInfo(title="Что превращает лиды в довольных клиентов", author="И. Иванов")
    return build_report(load_results(folder / "res"), folder / "deck.pptx", info=info)


def slide_texts(prs):
    """Every text a reader sees on the slides: boxes, table cells, chart categories."""
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                yield shape.text_frame.text
            if shape.has_table:
                yield from (cell.text for row in shape.table.rows for cell in row.cells)
            if shape.has_chart:
                yield from shape.chart.plots[0].categories


def test_a_russian_deck_shows_its_labels_and_every_letter_has_a_glyph_in_the_deck_font(
    russian_deck,
):
    from matplotlib.ft2font import FT2Font

    from trustsim.charts.style import chart_fonts

    assert chart_fonts()[0] == "Carlito"  # charts are drawn in the deck's family too
    carlito = FT2Font(_packaged_carlito())
    prs = Presentation(str(russian_deck.pptx))
    text = "\n".join(slide_texts(prs))
    for name in ("Давление воронки продаж", "онлайн-сервис как сейчас", "Выбор квартиры"):
        assert name in text
    assert "ru-pressure" not in text and "explore" not in text
    missing = {c for c in text if c.isalpha() and not carlito.get_char_index(ord(c))}
    assert not missing


def _packaged_carlito() -> str:
    from importlib import resources

    return str(resources.files("trustsim.charts").joinpath("fonts/Carlito-Regular.ttf"))


@pytest.mark.parametrize("family", ["Carlito", "DejaVu Sans"])
def test_a_russian_deck_fits_its_boxes(russian_deck, family):
    assert_text_fits(russian_deck.pptx, family)


def test_money_in_the_scenario_currency_with_contribution_and_cost_per_deal(russian_deck):
    prs = Presentation(str(russian_deck.pptx))
    (table,) = [s.table for s in prs.slides[2].shapes if s.has_table]
    headings = [table.cell(0, c).text for c in range(1, len(table.columns))]
    assert headings[-3:] == ["Revenue (₽)", "Contribution", "Cost per deal"]
    assert table.cell(1, len(headings) - 2).text.startswith("₽")
    assert any(t.startswith("Caveats") for t in titles(prs))


def test_no_money_lines_where_the_scenario_gives_no_costs(deck):
    prs = Presentation(str(deck.pptx))
    text = "\n".join(slide_texts(prs))
    assert "Contribution" not in text and "Cost per deal" not in text
    assert "No money is shown" in text  # revenue would only count deals again


def test_a_native_bar_chart_with_an_undefined_value_draws_a_blank_bar_instead_of_failing(
    tmp_path,
):
    from pptx import Presentation as New

    from trustsim.report.native import Bars, add_bar_chart

    nan = float("nan")
    bars = Bars(
        categories=["a", "b"], values=[1.0, nan], low=[0.5, nan], high=[1.5, nan],
        fills=["#0072B2", None], lines=["#0072B2", "#0072B2"], labels=["1", "n/a"],
        axis_title="x", note="note",
    )  # fmt: skip
    deck = New()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    frame = add_bar_chart(slide, bars, (0.5, 0.5, 6.0, 4.0), "chart")
    deck.save(tmp_path / "d.pptx")
    points = list(frame.chart.plots[0].series[0].values)
    assert points[0] == 1.0 and points[1] is None
    assert frame.chart.value_axis.maximum_scale >= 1.5


def test_an_appendix_too_long_for_its_slide_says_how_many_rows_it_leaves_out(tmp_path):
    stages = ["explore", "viewing", "reservation", "mortgage", "contract", "payment"]
    lines = ['name = "many-changes"', 'extends = "real-estate"']
    for stage in stages:
        lines += [f"[stages.{stage}]", "affordance = 0.5", "pressure = 0.3"]
    (tmp_path / "many.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    small = SMALL | {"replications": 3, "steps": 10}
    trustsim.run(["real-estate", str(tmp_path / "many.toml")], **small).write(tmp_path / "r")
    deck = build_report(load_results(tmp_path / "r"), tmp_path / "d.pptx", info=INFO)
    slide = Presentation(deck.pptx).slides[-1]
    table = next(s for s in slide.shapes if s.has_table).table
    last = table.cell(len(table.rows) - 1, 0).text
    assert len(table.rows) == 12 and last == "... and 2 more (listed in the notes)"
    assert "Rows not shown on the slide:" in slide.notes_slide.notes_text_frame.text


# ------------------------------------------- the workbook holds every chart and table
def read_sheet(path, name: str) -> list[dict]:
    """The rows of sheet `name` of an .xlsx as dicts by the header row (an empty cell is
    None), read with the standard library."""
    import zipfile
    from xml.etree import ElementTree

    main_ns = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    with zipfile.ZipFile(path) as book:
        names, _ = workbook_sheets_and_strings(path)
        root = ElementTree.fromstring(book.read("xl/sharedStrings.xml"))
        shared = ["".join(t.text or "" for t in si.iter(f"{main_ns}t")) for si in root]
        sheet = ElementTree.fromstring(book.read(f"xl/worksheets/sheet{names.index(name) + 1}.xml"))
    grid = []
    for row in sheet.iter(f"{main_ns}row"):
        cells = {}
        for cell in row.iter(f"{main_ns}c"):
            column = re.match(r"[A-Z]+", cell.get("r")).group()
            text = cell.find(f"{main_ns}v").text
            kind = cell.get("t")
            cells[column] = (
                shared[int(text)]
                if kind == "s"
                else bool(int(text))
                if kind == "b"
                else float(text)
            )
        grid.append(cells)
    header = grid[0]
    return [{header[c]: cells.get(c) for c in header} for cells in grid[1:]]


def sheets_named_in_notes(prs) -> dict[str, list[str]]:
    """Per slide title, the workbook sheets its speaker notes name."""
    return {
        slide.shapes.title.text: re.findall(
            r"sheets? '([^']+)'(?: and '([^']+)')?", slide.notes_slide.notes_text_frame.text
        )
        for slide in prs.slides
    }


def assert_same_numbers(sheet_rows: list[dict], table, columns: list[str]) -> None:
    """The sheet holds `table`'s rows in order; numbers equal to the 16 significant
    digits the workbook stores."""
    assert len(sheet_rows) == len(table)
    for row, expected in zip(sheet_rows, table.to_dict("records"), strict=True):
        for column in columns:
            assert row[column] == pytest.approx(expected[column], rel=1e-15, abs=0), column


WEAK_MARKET = ["market.size=150", "time.steps=20", "time.short_horizon=8"]


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    """A small robustness study of the deck's two scenarios."""
    from trustsim.robustness.study import run_study

    out = tmp_path_factory.mktemp("study") / "rob"
    factors = {"market.word_of_mouth": (0.01, 0.3), "choice.exit_bias": (-2.5, -0.5)}
    run_study(SCENARIOS[0], SCENARIOS[1:], out, factors=factors, samples=8, replications=2,
              overrides=WEAK_MARKET, sweep_options={"workers": 0})  # fmt: skip
    return out


@pytest.fixture(scope="module")
def calibration_dir(tmp_path_factory):
    """A calibration directory: three statistics (one missed, one held out), a parameter."""
    import json

    import pandas as pd

    folder = tmp_path_factory.mktemp("calibration") / "cal"
    folder.mkdir()
    pd.DataFrame({
        "statistic": ["closed_deals", "conversion[viewing]", "promoters"],
        "kind": ["count", "share", "share"], "observed": [41.0, 0.93, 0.31],
        "predicted_q05": [30.5, 0.41, 0.22], "predicted_median": [38.25, 0.5, 0.3],
        "predicted_q95": [47.0, 0.62, 0.4], "inside": [True, False, True],
        "held_out": [False, False, True],
    }).to_csv(folder / "posterior-predictive.csv", index=False)  # fmt: skip
    pd.DataFrame([{"parameter": "choice.exit_bias", "prior_low": -3.0, "prior_high": 0.0,
                   "median": -1.04, "q05": -1.3, "q95": -0.8, "ess": 88.0}]).to_csv(
        folder / "posterior-summary.csv", index=False)  # fmt: skip
    meta = {"ess": 88.0, "runs": 860, "waves": 2, "scenario": "real-estate"}
    (folder / "calibration.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def full_deck(results_dir, study_dir, calibration_dir, tmp_path_factory):
    """A deck with every optional slide: market fit and robustness."""
    from trustsim.report.market_fit import with_calibration

    results = with_calibration(load_results(results_dir), calibration_dir)
    out = tmp_path_factory.mktemp("full") / "deck.pptx"
    return build_report(results, out, info=INFO, robustness=study_dir)


def test_the_robustness_charts_sheet_holds_the_studys_numbers_for_the_headline_alternative(
    full_deck, study_dir
):
    from trustsim.report.robustness_slide import load
    from trustsim.robustness.charts import robustness_data

    prs = Presentation(str(full_deck.pptx))
    (slide,) = [s for s in prs.slides if "of plausible worlds" in s.shapes.title.text]
    (named_sheet,) = re.findall(r"sheet '([^']+)'", slide.notes_slide.notes_text_frame.text)
    number = len(chart_slides(prs))  # the last chart of the deck
    assert named_sheet == f"{number:02d} robustness"
    assert f"{full_deck.csv_dir.name}/{number:02d}-robustness.csv" in (
        slide.notes_slide.notes_text_frame.text
    )
    study = load(study_dir, DEFAULT_METRICS[0])
    expected = robustness_data(study.table[study.table["scenario"] == study.scenario])
    rows = read_sheet(full_deck.xlsx, named_sheet)
    assert [(r["scenario"], r["metric"]) for r in rows] == list(
        zip(expected["scenario"], expected["metric"], strict=True)
    )
    numbers = ["share_holding", "ci_low", "ci_high", "share_established"]
    assert_same_numbers(rows, expected, numbers)
    contents = workbook_sheets_and_strings(full_deck.xlsx)[1]
    assert slide.shapes.title.text in contents  # Contents names it by its slide title
    assert any(s.startswith(f"Robustness: study {study_dir.name}/") for s in contents)


def test_the_robustness_slides_source_is_its_study_and_every_other_slide_keeps_the_decks(
    full_deck, study_dir
):
    prs = Presentation(str(full_deck.pptx))
    sources = {
        s.shapes.title.text: shape.text_frame.text
        for s in prs.slides
        for shape in s.shapes
        if shape.name == "Source"
    }
    (robust,) = [title for title in sources if "of plausible worlds" in title]
    assert sources[robust].startswith(f"Source: trustsim robustness study {study_dir.name}/")
    assert "plausible worlds x" in sources[robust]
    others = {text for title, text in sources.items() if title != robust}
    assert len(others) == 1 and "runs per scenario" in others.pop()
    (slide,) = [s for s in prs.slides if s.shapes.title.text == robust]
    assert f"Robustness: study {study_dir.name}/" in slide.notes_slide.notes_text_frame.text


def test_the_market_fit_sheets_hold_the_calibrations_tables_in_the_slides_order(
    full_deck, calibration_dir
):
    import pandas as pd

    prs = Presentation(str(full_deck.pptx))
    named_sheets = sheets_named_in_notes(prs)
    (title,) = [t for t in named_sheets if t.startswith("Is it your market?")]
    assert named_sheets[title] == [("Market fit statistics", "Market fit parameters")]
    predictive = pd.read_csv(calibration_dir / "posterior-predictive.csv")
    rows = read_sheet(full_deck.xlsx, "Market fit statistics")
    statistics = [r["statistic"] for r in rows]
    missed = predictive.loc[~predictive["inside"], "statistic"].tolist()
    held_out = predictive.loc[predictive["inside"] & predictive["held_out"], "statistic"]
    assert statistics[: len(missed)] == missed  # misses first, then held out, as the slide
    assert statistics[len(missed)] == held_out.iloc[0]
    ordered = predictive.set_index("statistic").loc[statistics].reset_index()
    numbers = ["observed", "predicted_q05", "predicted_median", "predicted_q95"]
    assert_same_numbers(rows, ordered, numbers)
    assert [r["inside"] for r in rows] == ordered["inside"].tolist()
    summary = pd.read_csv(calibration_dir / "posterior-summary.csv")
    parameters = read_sheet(full_deck.xlsx, "Market fit parameters")
    assert_same_numbers(parameters, summary, ["median", "q05", "q95", "prior_low", "ess"])
    assert parameters[0]["name"] == "Exit bias (utility)"  # as the slide words it


def test_every_slide_with_a_chart_or_a_table_of_numbers_names_a_sheet_the_workbook_holds(
    full_deck,
):
    """The appendix tables list scenario settings, not numbers of the results: no sheet."""
    prs = Presentation(str(full_deck.pptx))
    sheets, _ = workbook_sheets_and_strings(full_deck.xlsx)
    named_sheets = sheets_named_in_notes(prs)
    shown = 0
    for slide in prs.slides:
        title = slide.shapes.title.text
        drawn = any(s.has_chart or s.has_table or s.shape_type == 13 for s in slide.shapes)
        if not drawn or title.startswith("Appendix"):
            continue
        shown += 1
        named = [name for pair in named_sheets[title] for name in pair if name]
        assert named and set(named) <= set(sheets), (title, named)
    assert shown == len(sheets) - 1 - 1  # every sheet but Contents, and two on one slide
    assert sorted(p.stem for p in full_deck.csv_dir.glob("*.csv")) == [
        s.replace(" ", "-", 1) for s in sheets if s[:2].isdigit()
    ]


def test_a_deck_without_a_study_or_a_calibration_has_no_robustness_or_market_fit_sheet(deck):
    sheets, strings = workbook_sheets_and_strings(deck.xlsx)
    assert not [s for s in sheets if "robustness" in s or s.startswith("Market fit")]
    assert not any(s.startswith(("Robustness:", "Market fit:")) for s in strings)
    assert not list(deck.csv_dir.glob("*-robustness.csv"))


def test_the_robustness_and_market_fit_sheets_leave_the_other_sheets_as_they_were(deck, full_deck):
    """The same results with and without the optional slides: the scorecard and every
    evidence chart have the same sheet, cell for cell."""
    plain, _ = workbook_sheets_and_strings(deck.xlsx)
    full, _ = workbook_sheets_and_strings(full_deck.xlsx)
    shared = [s for s in plain if s != "Contents"]
    assert [s for s in full if s in shared] == shared
    for name in shared:
        assert read_sheet(full_deck.xlsx, name) == read_sheet(deck.xlsx, name), name


def test_the_caveats_say_how_long_a_visit_lasts_and_when_a_deal_can_first_close(deck):
    from trustsim.report.story import _visit_note
    from trustsim.scenarios import load_scenario

    prs = Presentation(str(deck.pptx))
    (slide,) = [s for s in prs.slides if s.shapes.title.text.startswith("Caveats")]
    said = " ".join(s.text_frame.text for s in slide.shapes if s.has_text_frame)
    assert "Each stage visit lasts 7 days" in said and "in week 7 at the earliest" in said
    # A short horizon before the first possible close is said to count nothing.
    late = load_scenario("real-estate", ["stages.*.duration=21"])
    assert late.earliest_close_step() == 19
    assert _visit_note(late).endswith("short-horizon results are 0 by construction.")

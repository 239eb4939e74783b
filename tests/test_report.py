"""Decks read back with python-pptx: exact 16:9, titles, pictures at drawn size, notes."""

from __future__ import annotations

import matplotlib as mpl

mpl.use("Agg")

import pandas as pd
import pytest
from click.testing import CliRunner
from pptx import Presentation
from pptx.util import Emu, Inches

import trustsim
from trustsim.charts import available_kinds, load_results
from trustsim.charts.style import FIGSIZE
from trustsim.cli import main
from trustsim.report import build_report

SMALL = dict(replications=3, seed=0, steps=30, overrides=["market.size=300"])
SCENARIOS = ["delivery-trial-funnel", "delivery-trial-journey"]


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    trustsim.run(SCENARIOS, **SMALL).write(out)
    return out


@pytest.fixture(scope="module")
def deck(results_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("deck") / "deck.pptx"
    return build_report(load_results(results_dir), out, pdf=True)


def chart_slides(prs):
    return [s for s in prs.slides if any(sh.shape_type == 13 for sh in s.shapes)]


def test_deck_is_exact_widescreen_with_one_slide_per_chart(deck, results_dir):
    prs = Presentation(str(deck.pptx))
    assert (prs.slide_width, prs.slide_height) == (Emu(12192000), Emu(6858000))
    kinds = available_kinds(load_results(results_dir))
    # title slide, one per chart, one appendix slide per scenario
    assert len(prs.slides) == 1 + len(kinds) + len(SCENARIOS)
    assert len(chart_slides(prs)) == len(kinds) == len(deck.titles)


def test_chart_slides_carry_the_action_title_picture_takeaway_and_notes(deck):
    prs = Presentation(str(deck.pptx))
    for slide, title in zip(chart_slides(prs), deck.titles, strict=True):
        assert slide.shapes.title.text == title
        (picture,) = [s for s in slide.shapes if s.shape_type == 13]
        assert (picture.width, picture.height) == (Inches(FIGSIZE[0]), Inches(FIGSIZE[1]))
        assert picture.left + picture.width <= prs.slide_width
        assert picture.top + picture.height <= prs.slide_height
        texts = [s.text_frame.text for s in slide.shapes if s.has_text_frame]
        assert any(t.startswith("Takeaway") for t in texts)
        notes = slide.notes_slide.notes_text_frame.text
        for needle in (
            "Seed: 0",
            "replications: 3",
            "trustsim version",
            "Command:",
            "delivery-trial-journey",
            "-data/",
        ):
            assert needle in notes


def test_appendix_lists_every_stage_of_every_scenario(deck):
    prs = Presentation(str(deck.pptx))
    appendix = [s for s in prs.slides if s.shapes.title.text.startswith("Appendix")]
    assert len(appendix) == len(SCENARIOS)
    for slide, name in zip(appendix, SCENARIOS, strict=True):
        spec = trustsim.load_scenario(name)
        (table,) = [s.table for s in slide.shapes if s.has_table]
        stages = [
            table.cell(r, 0).text.removesuffix(" (closes)") for r in range(1, len(table.rows))
        ]
        assert stages == list(spec.stages)
        assert table.cell(1, 1).text == f"{spec.stages[stages[0]].stake:g}"


def test_csv_beside_the_deck_for_every_chart(deck):
    files = sorted(deck.csv_dir.glob("*.csv"))
    assert len(files) == len(deck.titles)
    assert all(len(pd.read_csv(f)) > 0 for f in files)


def test_pdf_has_the_same_pages_and_is_byte_stable(deck, results_dir, tmp_path):
    pages = deck.pdf.read_bytes().count(b"/Type /Page\n") + deck.pdf.read_bytes().count(
        b"/Type /Page "
    )
    assert pages == 1 + len(deck.titles) + len(SCENARIOS)
    again = build_report(load_results(results_dir), tmp_path / "deck.pptx", pdf=True)
    assert again.pdf.read_bytes() == deck.pdf.read_bytes()


def test_template_masters_are_used_and_its_slides_dropped(results_dir, tmp_path):
    template = Presentation()
    template.slides.add_slide(template.slide_layouts[0]).shapes.title.text = "client cover"
    template.save(tmp_path / "client.pptx")
    deck = build_report(
        load_results(results_dir),
        tmp_path / "d.pptx",
        template=tmp_path / "client.pptx",
        kinds=["comparison"],
    )
    prs = Presentation(str(deck.pptx))
    assert "client cover" not in [s.shapes.title.text for s in prs.slides if s.shapes.title]
    assert prs.slide_width == Emu(12192000)
    assert len(prs.slides) == 1 + 1 + len(SCENARIOS)


def test_cli_report(results_dir, tmp_path):
    out = tmp_path / "cli.pptx"
    res = CliRunner().invoke(main, ["report", str(results_dir), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.is_file() and (tmp_path / "cli-data").is_dir()
    assert " 1. delivery-trial-" in res.output


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--out", "{tmp}/deck.key"], "a deck is a .pptx file"),
        (["--template", "{tmp}/none.pptx"], "--template"),
        (["--template", "{tmp}/bad.pptx"], "not a readable .pptx"),
    ],
)
def test_cli_report_bad_input_exits_2(results_dir, tmp_path, extra, message):
    (tmp_path / "bad.pptx").write_text("not a zip")
    args = ["report", str(results_dir), "--out", str(tmp_path / "d.pptx")]
    res = CliRunner().invoke(main, args + [a.format(tmp=tmp_path) for a in extra])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0]


def test_cli_report_on_a_missing_directory_exits_2(tmp_path):
    res = CliRunner().invoke(main, ["report", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "no such directory" in res.output

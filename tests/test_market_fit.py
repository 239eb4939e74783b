"""The deck's "Is it your market?" slide: found from --posterior provenance or
--calibration, its verdict computed from the evidence, its tables read back."""

from __future__ import annotations

import json
import shutil

import matplotlib as mpl

mpl.use("Agg")

import pandas as pd
import pytest
from click.testing import CliRunner
from pptx import Presentation

import trustsim
from trustsim.charts import load_results
from trustsim.cli import main
from trustsim.errors import TrustsimInputError
from trustsim.report import build_report
from trustsim.report.market_fit import (
    MarketFit,
    load_market_fit,
    parameter_name,
    statistic_rows,
    too_many_misses,
    with_calibration,
)

SMALL = dict(replications=3, seed=0, steps=30, overrides=["market.size=300"])


def write_calibration(folder, inside: list[bool], held_out: list[bool] | None = None):
    """A calibration directory with one share statistic per flag, inside its band or not."""
    folder.mkdir(parents=True, exist_ok=True)
    held_out = held_out or [False] * len(inside)
    rows = [
        {"statistic": f"conversion[stage{i}]", "kind": "share",
         "observed": 0.5 if ok else 0.95, "predicted_q05": 0.4, "predicted_median": 0.5,
         "predicted_q95": 0.6, "inside": ok, "held_out": held}
        for i, (ok, held) in enumerate(zip(inside, held_out, strict=True))
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(folder / "posterior-predictive.csv", index=False)
    summary = pd.DataFrame(
        [{"parameter": "choice.exit_bias", "prior_low": -3.0, "prior_high": 0.0,
          "median": -1.04, "q05": -1.3, "q95": -0.8, "ess": 88.0}]
    )  # fmt: skip
    summary.to_csv(folder / "posterior-summary.csv", index=False)
    rounds = [{"round": 1, "draws": 190, "ess": 88.0}]
    meta = {"ess": 88.0, "runs": 860, "waves": 2, "data": "data.toml", "priors": "p.toml",
            "scenario": "real-estate", "final_rounds": rounds}  # fmt: skip
    (folder / "calibration.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    trustsim.run(["real-estate", "real-estate-funnel"], **SMALL).write(out)
    return out


def slide_titled(prs, start: str):
    found = [s for s in prs.slides if s.shapes.title.text.startswith(start)]
    assert len(found) == 1, [s.shapes.title.text for s in prs.slides]
    return found[0]


def table_texts(slide) -> list[list[list[str]]]:
    tables = [s.table for s in slide.shapes if s.has_table]
    return [[[c.text for c in row.cells] for row in t.rows] for t in tables]


def test_verdict_counts_the_statistics_within_their_band_and_judges_the_misses():
    def fit(inside, held=None):
        held = held or [False] * len(inside)
        names = [f"s{i}" for i in range(len(inside))]
        table = pd.DataFrame({"statistic": names, "inside": inside, "held_out": held})
        return MarketFit(None, table, pd.DataFrame(), {"ess": 60.0}).verdict()

    assert (
        fit([True] * 7 + [False]) == "7 of 8 observed statistics fall within the model's 90% band"
    )
    assert fit([True] * 3).startswith("All 3 observed statistics fall within")
    assert fit([True, True, False], [False, False, True]) == (
        "All 2 observed statistics fall within the model's 90% band; 0 of 1 held out of the "
        "fit are predicted"
    )
    assert fit([True] * 4 + [False] * 4).endswith("the model does not yet match this market")


def test_too_many_misses_is_a_one_sided_binomial_test_at_five_percent():
    # P(X >= 2 | 8, 0.1) = 0.187; P(X >= 3 | 8, 0.1) = 0.038.
    assert not too_many_misses(2, 8) and too_many_misses(3, 8)
    assert not too_many_misses(0, 0)


def test_parameters_and_statistics_are_named_in_words_with_units(tmp_path):
    assert parameter_name("choice.exit_bias") == "Exit bias (utility)"
    assert parameter_name("segments.investors.risk_aversion.mean").startswith(
        "Risk aversion mean of investors"
    )
    fit = load_market_fit(write_calibration(tmp_path / "cal", [True, False, True]), "test")
    rows = statistic_rows(fit, limit=2)
    assert rows[0] == ["Observed statistic", "Observed", "Model's 90% band", "Within?"]
    assert rows[1] == ["Moved on at stage1", "95%", "40% – 60%", "NO"]  # misses first
    assert rows[-1] == ["… 1 more, all within their band", "", "", ""]


def test_results_run_with_a_posterior_get_the_slide_with_data_band_parameters_and_ess(
    results_dir, tmp_path
):
    calibration = write_calibration(tmp_path / "cal", [True] * 7 + [False])
    run_json = results_dir / "run.json"
    meta = json.loads(run_json.read_text())
    posterior_dir = tmp_path / "with-posterior"
    shutil.copytree(results_dir, posterior_dir)
    meta["posterior"] = {"directory": str(calibration), "parameters": ["choice.exit_bias"]}
    (posterior_dir / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    deck = build_report(load_results(posterior_dir), tmp_path / "deck.pptx")
    prs = Presentation(str(deck.pptx))
    slide = slide_titled(prs, "Is it your market?")
    assert slide.shapes.title.text == (
        "Is it your market? 7 of 8 observed statistics fall within the model's 90% band"
    )
    statistics, parameters = table_texts(slide)
    assert len(statistics) == 9 and statistics[1][-1] == "NO"
    assert sum(row[-1] == "yes" for row in statistics) == 7
    assert parameters[1] == ["Exit bias (utility)", "−1.04", "−1.3 to −0.8"]
    evidence = next(s for s in slide.shapes if s.name == "Evidence").text_frame.text
    assert "88 independent draws" in evidence and "190 draws" in evidence
    assert str(calibration) in slide.notes_slide.notes_text_frame.text
    plain = build_report(load_results(results_dir), tmp_path / "plain.pptx")
    assert not any(t.startswith("Is it your market?") for t in plain.titles)


def test_report_calibration_option_adds_the_slide_and_refuses_a_directory_without_one(
    results_dir, tmp_path
):
    calibration = write_calibration(tmp_path / "cal", [True] * 5)
    out = tmp_path / "deck.pptx"
    runner = CliRunner()
    done = runner.invoke(main, ["report", str(results_dir), "--out", str(out),
                                "--calibration", str(calibration)])  # fmt: skip
    assert done.exit_code == 0, done.output
    assert "Is it your market? All 5 observed statistics" in done.output
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(main, ["report", str(results_dir), "--out", str(tmp_path / "b.pptx"),
                               "--calibration", str(tmp_path / "empty")])  # fmt: skip
    assert bad.exit_code == 2 and "holds no calibration (no posterior-predictive.csv)" in bad.output
    assert bad.output.count("\n") == 1 and not (tmp_path / "b.pptx").exists()
    with pytest.raises(TrustsimInputError, match="--calibration"):
        with_calibration(load_results(results_dir), tmp_path / "empty")

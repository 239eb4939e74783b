"""The deck's robustness slide: its title and takeaway claim only what the study
establishes, `trustsim report --robustness DIR` adds it with its numbers, and a DIR that
is not a study is one message, exit 2, no deck."""

from __future__ import annotations

import matplotlib as mpl

mpl.use("Agg")

import pandas as pd
import pytest
from click.testing import CliRunner
from pptx import Presentation

import trustsim
from trustsim.cli import main
from trustsim.report.robustness_slide import RobustnessStudy, headline, load
from trustsim.robustness.indices import INDEX_COLUMNS
from trustsim.robustness.study import run_study

TABLE = pd.DataFrame([{
    "scenario": "alt", "metric": "closed_deals", "conclusion": "alt raises closed deals vs base",
    "share_holding": 0.87, "ci_low": 0.8, "ci_high": 0.92, "share_established": 0.61,
}])  # fmt: skip


def indices(direction: str, decides: bool) -> pd.DataFrame:
    row = dict.fromkeys(INDEX_COLUMNS, "")
    row.update(scenario="alt", metric="closed_deals", factor="choice.reactance_weight",
               S1=0.3, ci_low=0.1, ci_high=0.5, rho=-0.4, rho_p=1e-9, direction=direction,
               decides=decides, rank=1)  # fmt: skip
    return pd.DataFrame([row], columns=list(INDEX_COLUMNS))


def write_boxes(directory, restricted: bool, reproduced: float = 0.9) -> None:
    out = directory / "discover" / "alt.closed_deals"
    out.mkdir(parents=True)
    pd.DataFrame([{
        "method": "prim", "restricted": restricted, "low": 2.0 if restricted else 1.5,
        "high": 4.5, "range_low": 1.5, "range_high": 4.5, "reproducibility_low": reproduced,
        "reproducibility_high": 0.0,
    }]).to_csv(out / "boxes.csv")  # fmt: skip
    (out / "reading.txt").write_text("'alt raises closed deals' fails mainly when q > 2.\n")


def test_the_title_names_the_share_and_the_side_where_it_weakens_only_when_established(
    tmp_path,
):
    study = RobustnessStudy(tmp_path, "alt", "closed_deals", TABLE, indices("weakens", True))
    title, takeaway = headline(study)
    assert title == (
        "alt raises closed deals in 87% of plausible worlds; weakest when "
        "push out by reactance is high"
    )
    assert "95% CI 80%-92%" in takeaway and "established in 61%" in takeaway
    assert "not searched" in takeaway
    undecided = RobustnessStudy(tmp_path, "alt", "closed_deals", TABLE, indices("", False))
    title, takeaway = headline(undecided)
    assert "weakest" not in title and "No constant is shown to decide it." in takeaway


@pytest.mark.parametrize(
    ("restricted", "reproduced", "claimed"),
    [(True, 0.9, True), (True, 0.3, False), (False, 0.9, False)],
)
def test_prims_region_is_claimed_only_when_its_limits_are_significant_and_reproduced(
    tmp_path, restricted, reproduced, claimed
):
    write_boxes(tmp_path, restricted, reproduced)
    _, takeaway = headline(RobustnessStudy(tmp_path, "alt", "closed_deals", TABLE, None))
    assert ("fails mainly when q > 2" in takeaway) is claimed
    assert ("PRIM establishes no reproducible region" in takeaway) is not claimed


SMALL = ["market.size=150", "time.steps=20", "time.short_horizon=8"]
FACTORS = {"market.word_of_mouth": (0.01, 0.3), "choice.exit_bias": (-2.5, -0.5)}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("slide")
    run_study(
        "real-estate", ["real-estate-funnel", "real-estate-verifiable"], root / "rob",
        factors=FACTORS, samples=10, replications=3, overrides=SMALL,
        sweep_options={"workers": 0},
    )  # fmt: skip
    trustsim.run(["real-estate", "real-estate-verifiable"], replications=4, seed=0, steps=20,
                 overrides=["market.size=150"]).write(root / "res")  # fmt: skip
    return root


def test_the_headline_alternative_is_the_one_with_the_largest_gain_at_the_defaults(made):
    import json

    spec = json.loads((made / "rob" / "robustness.json").read_text())
    study = load(made / "rob", "closed_deals")
    gains = {alt: spec["defaults"][alt]["closed_deals"]["diff"] for alt in spec["alternatives"]}
    assert study.scenario == max(gains, key=gains.get)
    assert load(None, "closed_deals") is None


def test_report_with_robustness_adds_the_slide_its_numbers_and_the_recommendations_note(made):
    out = made / "deck" / "deck.pptx"
    result = CliRunner().invoke(
        main, ["report", str(made / "res"), "--out", str(out), "--robustness", str(made / "rob")]
    )
    assert result.exit_code == 0, result.output
    prs = Presentation(str(out))
    heads = [s.shapes.title.text for s in prs.slides]
    slide_titles = [h for h in heads if "of plausible worlds" in h]
    assert len(slide_titles) == 1
    assert slide_titles[0].startswith("Buyers can check each step")  # display name
    slide = prs.slides[heads.index(slide_titles[0])]
    assert [s.name for s in slide.shapes if s.name.startswith("Chart")] == ["Chart: robustness"]
    assert list((made / "deck" / "deck-data").glob("*-robustness.csv"))
    body = " ".join(s.text_frame.text for s in prs.slides[heads.index(slide_titles[0]) + 1].shapes
                    if s.has_text_frame)  # fmt: skip
    assert "Robustness:" in body


def test_report_with_a_dir_that_is_not_a_study_is_exit_2_and_writes_no_deck(made, tmp_path):
    out = tmp_path / "deck.pptx"
    result = CliRunner().invoke(
        main, ["report", str(made / "res"), "--out", str(out), "--robustness", str(tmp_path)]
    )
    assert result.exit_code == 2 and "--robustness" in result.output
    assert "not a robustness study" in result.output and "Traceback" not in result.output
    assert not out.exists() and not (tmp_path / "deck-data").exists()


def test_a_share_that_rounds_to_all_or_nothing_says_over_99_or_under_1_percent():
    from trustsim.robustness.charts import share

    assert [share(v) for v in (255 / 256, 1.0, 1 / 256, 0.0, 0.87)] == [
        "over 99%", "100%", "under 1%", "0%", "87%"
    ]  # fmt: skip

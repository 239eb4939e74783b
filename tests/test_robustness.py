"""Robustness studies and scenario discovery: the method finds a planted box; a small
study runs end to end as a sweep; bad inputs are one message, exit 2, nothing written."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.robustness import prim
from trustsim.robustness.discover import cart_leaf, robustness_summary
from trustsim.robustness.study import (
    COLUMNS,
    load_factors,
    run_study,
    wilson_interval,
)

SMALL = ["market.size=150", "time.steps=20", "time.short_horizon=8"]
FACTORS = {"market.talk_half_life": (0.1, 2.0), "choice.exit_bias": (-2.5, -0.5)}


def planted(seed: int, n: int = 1000, noise_factors: int = 4):
    """Outcome 1 where x0 > 0.6 and x1 < 0.3, with 5% of labels flipped."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2 + noise_factors))
    y = (x[:, 0] > 0.6) & (x[:, 1] < 0.3)
    return x, y ^ (rng.random(n) < 0.05), np.array([[0.0] * x.shape[1], [1.0] * x.shape[1]])


@pytest.mark.parametrize("seed", [0, 1])
def test_prim_finds_a_planted_box_within_005_and_leaves_noise_factors_free(seed):
    x, y, bounds = planted(seed)
    found = prim.discover(x, y, bounds, seed=seed)
    assert abs(found.box.low[0] - 0.6) <= 0.05
    assert abs(found.box.high[1] - 0.3) <= 0.05
    for j, side in found.box.restricted(bounds):
        if j >= 2:  # a noise factor may be restricted only without significance
            assert found.box.quasi_p[(j, side)] > 0.05
    assert found.reproducibility[(0, "low")] >= 0.8
    assert found.reproducibility[(1, "high")] >= 0.8


def test_prim_on_random_labels_restricts_at_most_one_limit():
    rng = np.random.default_rng(3)
    x = rng.random((600, 4))
    y = rng.random(600) < 0.3
    found = prim.discover(x, y, np.array([[0.0] * 4, [1.0] * 4]), resamples=4)
    assert len(found.box.restricted(np.array([[0.0] * 4, [1.0] * 4]))) <= 1


def test_the_cart_cross_check_finds_the_planted_box_too():
    x, y, bounds = planted(2)
    leaf = cart_leaf(x, y, bounds)
    assert abs(leaf.low[0] - 0.6) <= 0.05 and abs(leaf.high[1] - 0.3) <= 0.05
    assert leaf.density > 0.8


def test_the_peeling_trajectory_trades_coverage_for_density():
    x, y, bounds = planted(4, n=500)
    trajectory = prim.peel(x, y, bounds)
    assert trajectory[0].coverage == 1.0 and trajectory[-1].mass < 0.1
    assert trajectory[-1].density > trajectory[0].density + 0.5


def test_the_wilson_interval_matches_its_formula_and_stays_in_0_1():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and 0.27 < high < 0.28  # z^2 / (n + z^2) = 0.2775
    assert wilson_interval(10, 10)[1] == 1.0


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("study") / "rob"
    run_study(
        "real-estate", ["real-estate-verifiable"], out, factors=FACTORS, samples=12,
        replications=3, overrides=SMALL, sweep_options={"workers": 0},
    )  # fmt: skip
    return out


def test_a_study_writes_a_sweep_the_conclusions_and_a_chart(study_dir):
    table = pd.read_csv(study_dir / "robustness.csv")
    assert list(table.columns) == list(COLUMNS)
    assert len(table) == 5 and set(table["scenario"]) == {"real-estate-verifiable"}
    assert (
        (table["ci_low"] <= table["share_holding"]) & (table["share_holding"] <= table["ci_high"])
    ).all()
    assert (table["share_established"] <= table["share_holding"]).all()
    assert (study_dir / "sweep.json").is_file() and (study_dir / "charts/robustness.png").is_file()
    effects = pd.read_parquet(study_dir / "effects.parquet")
    assert len(effects) == 12 * 5 and set(FACTORS) <= set(effects.columns)


def test_the_share_holding_counts_worlds_whose_effect_has_the_defaults_sign(study_dir):
    import json

    spec = json.loads((study_dir / "robustness.json").read_text())
    effects = pd.read_parquet(study_dir / "effects.parquet")
    table = pd.read_csv(study_dir / "robustness.csv").set_index("metric")
    rows = effects[effects["metric"] == "closed_deals"].dropna(subset=["effect"])
    sign = np.sign(spec["defaults"]["real-estate-verifiable"]["closed_deals"]["diff"])
    assert table.loc["closed_deals", "share_holding"] == pytest.approx(
        (np.sign(rows["effect"]) == sign).mean()
    )


def test_rerunning_a_study_resumes_its_sweep_without_running_again(study_dir):
    study = run_study(
        "real-estate", ["real-estate-verifiable"], study_dir, factors=FACTORS, samples=12,
        replications=3, overrides=SMALL, sweep_options={"workers": 0},
    )  # fmt: skip
    assert study.runs == 12 * 2 * 3


def test_discover_writes_boxes_and_a_reading_and_the_summary_uses_it(study_dir):
    result = CliRunner().invoke(
        main, ["discover", str(study_dir), "-s", "real-estate-verifiable", "-m", "nps",
               "--resamples", "3"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = study_dir / "discover" / "real-estate-verifiable.nps"
    reading = (out / "reading.txt").read_text().strip()
    assert "real-estate-verifiable" in reading and reading in result.output
    summary = robustness_summary(study_dir)
    assert len(summary) == 5 and any(reading in s for s in summary)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["discover", "{dir}", "-s", "nope", "-m", "nps"], "--scenario nope"),
        (["discover", "{dir}", "-s", "real-estate-verifiable", "-m", "leads"], "--metric leads"),
        (["discover", "{empty}", "-s", "x", "-m", "nps"], "not a robustness study"),
        (["robustness", "real-estate", "no-such-scenario", "--out", "{new}"], "no-such-scenario"),
        (["robustness", "real-estate", "real-estate-verifiable", "--out", "{new}",
          "--factors", "{bad}"], "not an assumed or calibrated constant"),
        (["robustness", "real-estate", "real-estate-verifiable", "--out", "{new}",
          "--factors", "{missing}"], "no such file"),
    ],
)  # fmt: skip
def test_bad_inputs_are_one_line_exit_2_and_write_nothing(study_dir, tmp_path, args, message):
    bad = tmp_path / "bad.toml"
    bad.write_text('factors = ["stages.contract.affordance"]\n')
    (tmp_path / "empty").mkdir()
    places = {"dir": study_dir, "empty": tmp_path / "empty", "new": tmp_path / "new",
              "bad": bad, "missing": tmp_path / "missing.toml"}  # fmt: skip
    before = sorted(p.name for p in study_dir.rglob("*"))
    result = CliRunner().invoke(main, [a.format(**places) for a in args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "new").exists() and not any((tmp_path / "empty").iterdir())
    assert sorted(p.name for p in study_dir.rglob("*")) == before


def test_a_factors_file_picks_ledger_constants_and_gives_other_fields_a_range(tmp_path):
    file = tmp_path / "f.toml"
    file.write_text(
        'factors = ["market.talk_half_life"]\n[ranges]\n"stages.contract.affordance" = [0.0, 1.0]\n'
    )
    assert load_factors(file) == {
        "market.talk_half_life": (0.1, 2.0), "stages.contract.affordance": (0.0, 1.0)
    }  # fmt: skip

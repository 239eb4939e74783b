"""Calibration end to end on a small market: recovery, outputs, resume, hold-out, refusals,
and carrying the posterior. Coverage over 20 data sets of this small case is measured by
`benchmarks/bench_calibration.py --small` (about 12 s a set), not here, to keep the suite
fast.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.calibration import data_to_toml, observe
from trustsim.calibration.calibrate import (
    Settings,
    calibrate,
    importance_weights,
    in_process_runner,
    load_problem,
)
from trustsim.cli import main
from trustsim.scenarios import load_scenario
from trustsim.terminal.calibration import print_calibration

MARKET = ["market.size=500"]
TRUTH = {"choice.exit_bias": -1.0, "market.outside_influence": 1.04}  # 0.02 a week
PRIORS = """
[priors]
"choice.exit_bias" = { low = -3.0, high = 0.0 }
"market.outside_influence" = { low = 0.26, high = 2.6, dist = "loguniform" }
"""
SETTINGS = Settings(budget=500, replications=2, wave_points=30, final_draws=180, seed=1)


def write_small_case(folder, seed: int):
    """Data set `seed` of a firm whose exit bias and outside influence are TRUTH, and
    the priors, in `folder`."""
    truth = [f"{path}={value}" for path, value in TRUTH.items()]
    data = observe("real-estate", [*MARKET, *truth], seed=seed, steps=30)
    # What this firm knows: leads, deals, and three stages of its funnel.
    data.stages = {k: v for k, v in data.stages.items() if k in ("explore", "viewing", "payment")}
    data.nps = data.satisfaction = None
    (folder / "data.toml").write_text(data_to_toml(data), encoding="utf-8")
    (folder / "priors.toml").write_text(PRIORS, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return write_small_case(tmp_path_factory.mktemp("calibration"), seed=3)


class Recorder:
    """An in-process runner that keeps each sweep's report, and can stop after n sweeps."""

    def __init__(self, stop_after: int | None = None):
        self.reports = []
        self.stop_after = stop_after

    def __call__(self, experiment, out_dir):
        if self.stop_after is not None and len(self.reports) >= self.stop_after:
            raise KeyboardInterrupt
        report = in_process_runner(experiment, out_dir)
        self.reports.append(report)
        return report


@pytest.fixture(scope="module")
def calibrated(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "cal"
    problem = load_problem(
        "real-estate", files / "data.toml", files / "priors.toml", ["payment"], MARKET
    )
    interrupted = Recorder(stop_after=1)
    with pytest.raises(KeyboardInterrupt):
        calibrate(problem, out, SETTINGS, interrupted)
    resumed = Recorder()
    result = calibrate(problem, out, SETTINGS, resumed)
    return result, interrupted, resumed


def test_calibration_recovers_the_true_values_within_narrow_intervals(calibrated):
    result, _, _ = calibrated
    summary = pd.read_csv(result.out_dir / "posterior-summary.csv")
    assert list(summary.columns) == [
        "parameter", "prior_low", "prior_high", "median", "q05", "q95", "ess",
    ]  # fmt: skip
    assert result.ess >= 50
    for row in summary.itertuples():
        truth = TRUTH[row.parameter]
        assert row.q05 <= truth <= row.q95, row
        assert row.q95 - row.q05 < 0.6 * (row.prior_high - row.prior_low), row


def test_a_killed_calibration_resumes_without_rerunning_finished_runs(calibrated):
    _, interrupted, resumed = calibrated
    first = interrupted.reports[0]
    again = resumed.reports[0]
    assert first.ran == first.total > 0
    assert again.skipped == again.total and again.ran == 0


def test_outputs_describe_the_posterior_and_a_scenario_at_its_median(calibrated, capsys):
    result, _, _ = calibrated
    out = result.out_dir
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert np.isclose(posterior["weight"].sum(), 1.0)
    assert len(posterior) == len(result.draws) >= SETTINGS.final_draws
    assert result.runs <= SETTINGS.budget
    summary = pd.read_csv(out / "posterior-summary.csv").set_index("parameter")
    calibrated_scenario = load_scenario(out / "calibrated.toml")
    assert calibrated_scenario.market.size == 500 and calibrated_scenario.time.steps == 30
    assert calibrated_scenario.choice.exit_bias == summary.loc["choice.exit_bias", "median"]
    waves = pd.read_csv(out / "waves.csv")
    assert waves["nroy_fraction"].iloc[-1] < 1.0
    predictive = pd.read_csv(out / "posterior-predictive.csv")
    assert set(predictive["statistic"]) >= {"leads", "closed_deals", "conversion[explore]"}
    assert (predictive["predicted_q05"] <= predictive["predicted_q95"]).all()
    meta = json.loads((out / "calibration.json").read_text())
    assert meta["runs"] == result.runs and meta["ess"] == result.ess
    for chart in ("posterior-predictive", "prior-posterior"):
        assert (out / "charts" / f"{chart}.png").stat().st_size > 10_000
        assert len(pd.read_csv(out / "charts" / f"{chart}.csv")) > 0
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    print_calibration(result)
    printed = capsys.readouterr().out
    assert "choice.exit_bias" in printed and f"ESS {result.ess:.0f}" in printed


def test_held_out_statistics_stay_out_of_the_fit_and_are_checked_after(calibrated):
    result, _, _ = calibrated
    held = ["conversion[payment]", "verified[payment]"]
    names = [s.name for s in result.problem.statistics]
    for wave in result.waves:
        emulated = {n for n, e in zip(names, wave.emulators, strict=True) if e is not None}
        assert emulated and not emulated & set(held)
    predictive = pd.read_csv(result.out_dir / "posterior-predictive.csv")
    assert sorted(predictive.loc[predictive["held_out"], "statistic"]) == held
    meta = json.loads((result.out_dir / "calibration.json").read_text())
    assert meta["held_out"] == held
    assert meta["held_out_inside_band"] == int(
        predictive.loc[predictive["held_out"], "inside"].sum()
    )


def test_importance_weights_follow_likelihood_over_proposal():
    # L = (1, 2, 1), q = (1, 1, 2): w ∝ (1, 2, 1/2) = (2, 4, 1) / 7.
    weights, ess = importance_weights(np.log([1.0, 2.0, 1.0]), np.array([1.0, 1.0, 2.0]))
    assert np.allclose(weights, [2 / 7, 4 / 7, 1 / 7])
    assert ess == pytest.approx(49 / 21)


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_calibrate_refuses_bad_input_with_one_line_and_writes_nothing(files, tmp_path):
    out = tmp_path / "cal"
    common = ["calibrate", "real-estate", "--set", MARKET[0], "--out", out, "--workers", "0"]
    bad_data = tmp_path / "bad.toml"
    bad_data.write_text("leads = -3\n", encoding="utf-8")
    cases = [
        (["--data", bad_data, "--priors", files / "priors.toml"],
         f"{bad_data}: leads = -3: must be non-negative"),
        (["--data", files / "data.toml", "--priors", files / "data.toml"], "source: unknown key"),
        (["--data", files / "data.toml", "--priors", files / "priors.toml", "--holdout",
          "conversion[mortgage]"], "--holdout conversion[mortgage]: not a statistic"),
        (["--data", files / "data.toml", "--priors", files / "priors.toml", "--budget", "10"],
         "--budget 10: too small"),
    ]  # fmt: skip
    for extra, message in cases:
        result = invoke(*common, *extra)
        assert result.exit_code == 2, result.output
        assert message in result.output and result.output.count("\n") == 1, result.output
        assert not out.exists()


def test_runs_with_a_posterior_draw_each_replication_from_it_paired_across_scenarios(calibrated):
    from trustsim.calibration.carry import posterior_overrides, run_with_posterior
    from trustsim.experiments.runner import replication_seed, simulate

    result, _, _ = calibrated
    draws = posterior_overrides(result.out_dir, 3, seed=4)
    assert draws == posterior_overrides(result.out_dir, 3, seed=4)
    posterior = pd.read_parquet(result.out_dir / "posterior.parquet")
    for drawn in draws:
        value = float(drawn[0].split("=")[1])
        assert np.isclose(posterior["choice.exit_bias"], value).any()
    fixed = [*MARKET, "time.steps=8", "time.short_horizon=8"]
    run = run_with_posterior(
        ["real-estate", "real-estate-funnel"], result.out_dir, 3, seed=4, overrides=fixed
    )
    for name in ("real-estate", "real-estate-funnel"):
        spec = load_scenario(load_scenario(name, fixed), draws[2])
        summary, _ = simulate(spec, replication_seed(4, 2))
        row = run.summaries.query("scenario == @name and replication == 2").iloc[0]
        assert row["leads"] == summary["leads"] and row["closed_deals"] == summary["closed_deals"]


def test_compare_command_with_posterior_says_so(calibrated, tmp_path):
    result, _, _ = calibrated
    out = invoke(
        "compare", "real-estate", "real-estate-funnel", "-n", "2", "-t", "6",
        "--set", MARKET[0], "--posterior", result.out_dir, "--format", "csv",
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    assert "intervals include parameter uncertainty" in out.stderr
    missing = invoke("run", "real-estate", "-n", "2", "-t", "3", "--posterior", tmp_path)
    assert missing.exit_code == 2 and "no calibration here" in missing.output

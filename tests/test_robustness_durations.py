"""Stage durations in robustness studies: one visit length for every stage, drawn in whole
steps of the scenario's step over the plausible range of docs/ODD.md 9.11; every run of a
world gets that length; it appears in the effects, indices and discovery like any factor."""

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.experiments.design import build_design
from trustsim.experiments.runner import replication_seed, simulate
from trustsim.experiments.store import SweepDir
from trustsim.experiments.sweep.plan import params_hash
from trustsim.robustness import prim
from trustsim.robustness.durations import (
    DURATION_FACTOR,
    PLAUSIBLE_DAYS,
    duration_levels,
    whole_step_days,
)
from trustsim.robustness.study import build_experiment, run_study
from trustsim.scenarios import load_scenario
from trustsim.scenarios.reference import FIELDS

SMALL = ["market.size=150", "time.steps=30", "time.short_horizon=8"]
FACTORS = {"choice.exit_bias": (-2.5, -0.5)}
STUDY = dict(factors=FACTORS, samples=9, replications=2, overrides=SMALL)


@pytest.mark.parametrize(
    ("scenario", "step_unit", "expected"),
    [
        ("real-estate", "week", [7.0, 14.0, 21.0]),
        ("real-estate", "day", [float(d) for d in range(3, 22)]),
        ("delivery-trial-journey", "day", [1.0, 2.0, 3.0]),
        ("delivery-trial-journey", "hour", [h / 24 for h in range(6, 73)]),
    ],
)
def test_sampled_durations_are_whole_steps_within_the_stated_range(scenario, step_unit, expected):
    loaded = load_scenario(scenario, [f'time.step_unit="{step_unit}"'])
    days = loaded.time.days_per_step
    low, high = PLAUSIBLE_DAYS[next(iter(loaded.stages.values())).duration]
    levels = duration_levels([loaded])
    assert levels.values == pytest.approx(expected, rel=1e-12)
    for value in levels.values:
        steps = value / days
        assert steps >= 1 and abs(steps - round(steps)) < 1e-9
        assert low - 1e-9 <= value <= high + 1e-9


def test_every_world_of_a_study_takes_one_of_the_levels_and_each_level_is_drawn():
    experiment = build_experiment("real-estate", ["real-estate-verifiable"], FACTORS, samples=12,
                                  replications=2, overrides=SMALL)  # fmt: skip
    drawn = [point[DURATION_FACTOR] for point in build_design(experiment).values]
    assert set(drawn) == {7.0, 14.0, 21.0}
    assert sorted(drawn.count(v) for v in (7.0, 14.0, 21.0)) == [4, 4, 4]  # LHS strata


def test_the_plausible_ranges_are_the_ones_the_odd_states():
    source = FIELDS["stages.<name>.duration"].source
    for low, high in PLAUSIBLE_DAYS.values():
        assert f"{low:g} to {high:g} days" in source


@pytest.mark.parametrize(
    ("scenarios", "study_set", "reason"),
    [
        ([("real-estate", ["stages.contract.duration=14"]), ("real-estate-verifiable", [])], [],
         "differ between stages or scenarios (7, 14 days)"),
        ([("real-estate", []), ("delivery-trial-journey", [])], [],
         "differ between stages or scenarios (1, 7 days)"),
        ([("real-estate", ["stages.*.duration=14"])], ["stages.*.duration=14"], "--set"),
        ([("real-estate", ["stages.*.duration=14"])], [], "not of 14"),
    ],
)  # fmt: skip
def test_durations_a_shared_length_would_overwrite_or_without_a_stated_range_are_held(
    scenarios, study_set, reason
):
    loaded = [load_scenario(name, overrides) for name, overrides in scenarios]
    levels = duration_levels(loaded, study_set)
    assert not levels.sampled and "held at the scenarios' values" in levels.note
    assert reason in levels.note


def test_a_range_holding_fewer_than_two_whole_steps_is_held(monkeypatch):
    assert whole_step_days(3.0, 21.0, 365.25 / 12) == []
    monkeypatch.setitem(PLAUSIBLE_DAYS, 7.0, (3.0, 10.0))
    levels = duration_levels([load_scenario("real-estate")])
    assert not levels.sampled and "holds 1 whole week(s) of 7 days" in levels.note


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("durations") / "rob"
    run_study("real-estate", ["real-estate-verifiable"], out, seed=3,
              sweep_options={"workers": 0}, **STUDY)  # fmt: skip
    return out


def world_settings(point) -> list[str]:
    return [f"{path}={float(point[path])!r}" for path in (*FACTORS, DURATION_FACTOR)]


def test_each_run_of_a_world_runs_with_that_worlds_duration(study_dir):
    """The scenario a run got (its parameters' hash, checked again by the worker) is the
    base with every stage at the world's duration, and its numbers are that scenario's."""
    points = SweepDir(study_dir).read_points()
    runs = SweepDir(study_dir).read_runs()
    assert set(points[DURATION_FACTOR]) == {7.0, 14.0, 21.0}
    for _, point in points.iterrows():
        got = load_scenario(point["scenario"], [*SMALL, *world_settings(point)])
        assert {stage.duration for stage in got.stages.values()} == {point[DURATION_FACTOR]}
        assert point["params_hash"] == params_hash(got)
    first = points.iloc[0]
    got = load_scenario(first["scenario"], [*SMALL, *world_settings(first)])
    summary, _ = simulate(got, replication_seed(3, 1), series=False)
    stored = runs[(runs["params_hash"] == first["params_hash"]) & (runs["replication"] == 1)]
    assert stored["closed_deals"].iloc[0] == summary["closed_deals"]


def test_the_duration_is_a_column_of_the_effects_a_row_of_the_indices_and_a_limit_of_discover(
    study_dir,
):
    spec = json.loads((study_dir / "robustness.json").read_text())
    assert spec["factors"][DURATION_FACTOR] == [7.0, 21.0]
    assert spec["levels"][DURATION_FACTOR] == [7.0, 14.0, 21.0]
    assert spec["durations"].startswith(DURATION_FACTOR)
    effects = pd.read_parquet(study_dir / "effects.parquet")
    assert set(effects[DURATION_FACTOR]) == {7.0, 14.0, 21.0}
    indices = pd.read_csv(study_dir / "indices.csv")
    rows = indices[indices["factor"] == DURATION_FACTOR]
    assert len(rows) == 5 and set(rows["symbol"]) == {"D_k"} and set(rows["unit"]) == {"days"}
    # PRIM searches a region where a conclusion fails in some worlds, not all or none.
    mixed = [m for m, g in effects.groupby("metric") if 0 < g["established"].sum() < len(g)]
    assert mixed, "no conclusion fails in some worlds only: no region to search"
    result = CliRunner().invoke(main, ["discover", str(study_dir), "-s", "real-estate-verifiable",
                                       "-m", mixed[0], "--resamples", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output
    boxes = pd.read_csv(study_dir / f"discover/real-estate-verifiable.{mixed[0]}/boxes.csv")
    assert DURATION_FACTOR in set(boxes["factor"])


def test_prim_peels_a_factor_of_three_levels_to_the_level_where_the_cases_are():
    rng = np.random.default_rng(0)
    x = np.column_stack([rng.choice([7.0, 14.0, 21.0], 300), rng.random(300)])
    y = (x[:, 0] == 21.0) ^ (rng.random(300) < 0.05)
    bounds = np.array([[7.0, 0.0], [21.0, 1.0]])
    found = prim.discover(x, y, bounds, resamples=4)
    assert 14.0 < found.box.low[0] <= 21.0 and found.box.high[0] == 21.0
    assert found.box.quasi_p[(0, "low")] < 1e-6


def test_the_cli_says_what_it_samples_and_no_durations_holds_them(tmp_path):
    args = ["robustness", "real-estate", "real-estate-verifiable", "--samples", "4", "-r", "2",
            "--workers", "0", "-q", *[a for s in SMALL for a in ("--set", s)]]  # fmt: skip
    factors = tmp_path / "f.toml"
    factors.write_text('factors = ["choice.exit_bias"]\n')
    held = CliRunner().invoke(main, [*args, "--factors", str(factors), "--no-durations",
                                     "--out", str(tmp_path / "held")])  # fmt: skip
    assert held.exit_code == 0, held.output
    spec = json.loads((tmp_path / "held/robustness.json").read_text())
    assert list(spec["factors"]) == ["choice.exit_bias"] and "--no-durations" in spec["durations"]
    assert "held at the scenarios' values" in held.output


@pytest.mark.parametrize(
    "text",
    ['factors = ["stages.*.duration"]\n', '[ranges]\n"stages.contract.duration" = [7, 21]\n'],
)
def test_a_factors_file_naming_a_duration_is_refused_with_the_fix(tmp_path, text):
    factors = tmp_path / "f.toml"
    factors.write_text(text)
    args = ["robustness", "real-estate", "real-estate-verifiable", "--factors", str(factors)]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "whole steps" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "o").exists()


@pytest.mark.slow
def test_two_workers_draw_and_run_the_same_durations_as_one_process(study_dir, tmp_path):
    out = tmp_path / "two"
    run_study("real-estate", ["real-estate-verifiable"], out, seed=3,
              sweep_options={"workers": 2}, **STUDY)  # fmt: skip
    columns = ["scenario", "metric", "world", DURATION_FACTOR, "effect"]
    one = pd.read_parquet(study_dir / "effects.parquet")[columns]
    two = pd.read_parquet(out / "effects.parquet")[columns]
    pd.testing.assert_frame_equal(one, two, check_exact=True)
    assert not math.isnan(one["effect"].abs().sum())

"""The command line through click's CliRunner: outputs, files, and every bad-input case."""

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.scenarios import load_scenario

SMALL = ["--set", "market.size=150", "--steps", "20", "-n", "3"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def test_help_lists_commands_and_every_command_has_an_example():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "compare", "demo", "scenarios"):
        assert command in result.output
        sub = invoke(command, "--help")
        assert sub.exit_code == 0 and "Example" in sub.output, command


@pytest.mark.slow
def test_help_does_not_import_heavy_libraries():
    code = (
        "import sys; from trustsim.cli import main\n"
        "heavy = [m for m in ('numpy', 'pandas', 'mesa', 'pydantic', 'scipy', 'matplotlib',"
        " 'dask') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_run_json_has_mean_and_ci_per_metric():
    result = invoke("run", "real-estate", "real-estate-verifiable", *SMALL, "--format", "json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    assert [r["scenario"] for r in records] == ["real-estate", "real-estate-verifiable"]
    for record in records:
        assert record["replications"] == 3 and record["seed"] == 0
        for metric in ("leads", "closed_deals", "conversion", "satisfaction", "nps"):
            assert set(record["metrics"][metric]) == {"mean", "ci_low", "ci_high"}
        leads = record["metrics"]["leads"]
        assert leads["ci_low"] <= leads["mean"] <= leads["ci_high"]


def test_single_runs_use_the_fastest_engine_unless_told_and_give_the_same_numbers():
    pytest.importorskip("numba")
    default = json.loads(invoke("run", "real-estate", *SMALL, "--format", "json").stdout)
    told = invoke("run", "real-estate", *SMALL, "--format", "json", "--engine", "vectorized")
    vectorized = json.loads(told.stdout)
    assert default[0]["engine"] == "compiled" and vectorized[0]["engine"] == "vectorized"
    assert default[0]["metrics"] == vectorized[0]["metrics"]


def test_run_table_and_csv():
    table = invoke("run", "delivery-trial-journey", *SMALL)
    assert table.exit_code == 0
    assert "Closed deals" in table.stdout and "Delegated" in table.stdout
    csv = invoke("run", "delivery-trial-journey", *SMALL, "--format", "csv")
    assert csv.stdout.splitlines()[0] == "scenario,metric,mean,ci_low,ci_high,n"


def test_the_run_table_names_walk_aways_per_choice_apart_from_the_funnels_buyers_lost():
    from trustsim.metrics import METRICS

    walk, lost = METRICS["abandonment_rate"], METRICS["left_share"]
    assert walk.label != lost.label and walk.short != lost.short and walk.words != lost.words
    table = invoke("run", "delivery-trial-journey", *SMALL)
    text = " ".join(table.stdout.split())
    assert walk.short in text and "per choice" not in walk.short
    assert " ".join(f"{walk.short} = {walk.description}.".split()) in text
    assert "lost" not in walk.short.lower() and "Abandonment" not in text


def test_run_writes_reproducible_outputs(tmp_path):
    out = tmp_path / "results"
    result = invoke("run", "real-estate-funnel", *SMALL, "--seed", "4", "--out", out)
    assert result.exit_code == 0
    summaries = pd.read_parquet(out / "summaries.parquet")
    series = pd.read_parquet(out / "timeseries.parquet")
    assert len(summaries) == 3 and len(series) == 3 * 21
    meta = json.loads((out / "run.json").read_text())
    assert meta["seed"] == 4 and meta["replications"] == 3
    assert not list(out.rglob("*.tmp")), "temporary files left behind"
    # The resolved scenario file alone reproduces the runs.
    resolved = out / "scenarios" / "real-estate-funnel.toml"
    again = tmp_path / "again"
    invoke("run", resolved, "--steps", "20", "-n", "3", "--seed", "4", "--out", again)
    pd.testing.assert_frame_equal(summaries, pd.read_parquet(again / "summaries.parquet"))


def test_compare_reports_paired_differences_with_p_values(tmp_path):
    result = invoke(
        "compare", "real-estate", "real-estate-verifiable", *SMALL, "-n", "6", "--format",
        "json", "--out", tmp_path,
    )  # fmt: skip
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    deals = next(r for r in rows if r["metric"] == "closed_deals")
    assert deals["base"] == "real-estate" and deals["scenario"] == "real-estate-verifiable"
    assert deals["ci_low"] <= deals["diff"] <= deals["ci_high"]
    assert deals["relative_ci_low"] <= deals["relative"] <= deals["relative_ci_high"]
    assert deals["relative_ci_low"] >= -1.0
    assert 0 <= deals["p_value"] <= deals["p_holm"] <= 1
    assert "p_note" not in deals
    assert (tmp_path / "differences.parquet").exists()
    table = invoke("compare", "real-estate", "real-estate-funnel", *SMALL)
    assert "Wilcoxon" in table.stdout and "Difference" in table.stdout


def test_compare_with_fewer_than_six_replications_reports_no_p_value():
    """With 5 pairs the smallest exact Wilcoxon p is 2/32 = 0.0625: no p is printed, and
    the output says why."""
    result = invoke(
        "compare", "real-estate", "real-estate-verifiable", *SMALL, "-n", "5", "--format",
        "json",
    )  # fmt: skip
    rows = json.loads(result.stdout)
    assert all(r["p_value"] is None and "p < 0.05" in r["p_note"] for r in rows)
    table = invoke("compare", "real-estate", "real-estate-verifiable", *SMALL, "-n", "5")
    assert "no test can reach p < 0.05" in " ".join(table.stdout.split())


def test_scenarios_list_show_validate(tmp_path):
    listing = invoke("scenarios", "list")
    assert "real-estate-verifiable-funnel" in listing.stdout
    shown = invoke("scenarios", "show", "real-estate", "--set", "market.size=99")
    assert "size = 99" in shown.stdout
    path = tmp_path / "mine.toml"
    path.write_text(shown.stdout)
    assert load_scenario(path).market.size == 99
    ok = invoke("scenarios", "validate", path)
    assert ok.exit_code == 0 and "OK" in ok.stdout


def test_demo_json_has_the_four_effects():
    result = invoke("demo", "-n", "2", "--format", "json")
    assert result.exit_code == 0
    payload = json.loads(result.stdout)
    assert len(payload["scenarios"]) == 6
    assert len(payload["effects"]) == 4
    for effect in payload["effects"]:
        assert effect["reading"].startswith(effect["effect"])
        assert "closed_deals" in effect["differences"]


BAD_FILES = {
    "broken.toml": ('extends = "real-estate"\n[market\n', "not valid TOML"),
    "unknown.toml": ('extends = "real-estate"\n[market]\nsise = 3\n', "market.sise: unknown key"),
    "type.toml": ('extends = "real-estate"\n[market]\nsize = "x"\n', "market.size = 'x'"),
    "range.toml": (
        'extends = "real-estate"\n[stages.payment]\nstake = 2\n',
        "stages.payment.stake",
    ),
    "shares.toml": ('extends = "real-estate"\n[segments.investors]\nshare = 0.6\n', "sum to 1"),
    "parent.toml": ('extends = "nowhere"\n', "unknown scenario 'nowhere'"),
    "cycle.toml": ('extends = "cycle.toml"\n', "cycle"),
}


@pytest.mark.parametrize("filename", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["run", "validate"])
def test_bad_scenario_files_exit_2_with_one_message(tmp_path, filename, command):
    text, expected = BAD_FILES[filename]
    path = tmp_path / filename
    path.write_text(text)
    out = tmp_path / "out"
    args = ("run", path, "--out", out) if command == "run" else ("scenarios", "validate", path)
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and expected in result.stderr
    assert str(path) in result.stderr or filename in result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert not out.exists(), "nothing may be written when the input is bad"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run", "missing.toml"], "no such file"),
        (["run", "no-such-name"], "unknown scenario"),
        (["run", "real-estate", "--set", "market.size"], "expected PATH=VALUE"),
        (["run", "real-estate", "--set", "stages.contract.affordance=9"], "less than or equal"),
        (["run", "real-estate", "--set", "stages.nope.stake=1"], "no stage named 'nope'"),
        (["run", "real-estate", "--set", "market.size=-5"], "market.size = -5"),
        (["compare", "real-estate", "real-estate"], "at least two different scenarios"),
        (["run", "real-estate", "-n", "0"], "replications"),
        (["run", "real-estate", "--steps", "0"], "steps"),
        (["run", "real-estate", "--set", "time.short_horizon=500"], "short_horizon"),
    ],
)
def test_bad_options_exit_2(tmp_path, args, expected):
    result = invoke(*args, "--out", tmp_path / "out")
    assert result.exit_code == 2, result.output
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()

"""Sweeps on Dask: same numbers on any cluster, crash-safe, resumable; results, sensitivity.

Every sweep here uses a tiny real-estate market (200 buyers, 20 steps, ~0.01 s a run) so
the whole file stays within about a minute on two cores. One 2-worker LocalCluster is
shared by the tests that need one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.errors import TrustsimInputError
from trustsim.experiments.experiment import load_experiment
from trustsim.experiments.results import load_runs, point_summary
from trustsim.experiments.stats import mean_ci
from trustsim.experiments.store import SweepDir
from trustsim.experiments.sweep import Batcher, Run, plan_sweep, sweep

METRICS = ["closed_deals", "leads", "satisfaction"]
TINY = """
name = "tiny"
scenarios = ["base.toml"]
set = ["market.size=200", "time.short_horizon=10"]
steps = 20
replications = {replications}
seed = 7
metrics = ["closed_deals", "leads", "satisfaction"]

[design]
method = "grid"

[factors]
"stages.contract.affordance" = {{ values = [0.0, 0.5, 1.0] }}
"market.outside_influence" = {{ low = 0.52, high = 2.08, levels = {levels} }}
"""


@pytest.fixture(scope="module")
def base_toml() -> str:
    """A snapshot of real-estate, so every sweep of this module plans the same runs even
    while someone edits the built-in scenario."""
    from trustsim.scenarios import load_scenario, scenario_to_toml

    return scenario_to_toml(load_scenario("real-estate"))


def write_experiment(
    folder: Path, base: str, replications: int = 4, levels: int = 2, **edits
) -> Path:
    (folder / "base.toml").write_text(base, encoding="utf-8")
    text = textwrap.dedent(TINY.format(replications=replications, levels=levels))
    for old, new in edits.items():
        text = text.replace(old, new)
    path = folder / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


def by_key(out: Path) -> pd.DataFrame:
    """Status and metrics of every run on disk, indexed by run key."""
    runs = SweepDir(out).read_runs()
    return runs.set_index("key").sort_index()[["status", *METRICS]]


def keys_in_parts(out: Path) -> list[str]:
    return [key for part in SweepDir(out).part_files() for key in pd.read_parquet(part)["key"]]


@pytest.fixture(scope="module")
def client():
    from distributed import Client

    from trustsim.experiments.sweep import local_cluster

    cluster = local_cluster(2)
    with Client(cluster) as c:
        yield c
    cluster.close()


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, base_toml) -> Path:
    return write_experiment(tmp_path_factory.mktemp("exp"), base_toml)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, experiment) -> Path:
    """The same experiment run in-process: the numbers every other way must reproduce."""
    out = tmp_path_factory.mktemp("reference")
    report = sweep(experiment, out, workers=0)
    assert report.total == report.ran == 24 and report.failed == 0
    return out


@pytest.mark.slow
def test_two_workers_and_two_batch_sizes_give_the_in_process_numbers(
    tmp_path, client, experiment, reference
):
    expected = by_key(reference)
    for batch_size in (2, 5):
        out = tmp_path / f"b{batch_size}"
        report = sweep(experiment, out, client=client, batch_size=batch_size)
        assert report.ran == 24 and report.failed == 0
        assert len(report.parts) == -(-24 // batch_size)
        workers = set(SweepDir(out).read_runs()["worker"])
        assert len(workers) == 2, "both workers should have run batches"
        pd.testing.assert_frame_equal(by_key(out), expected, check_exact=True)


@pytest.mark.slow
def test_one_worker_cluster_gives_the_same_numbers(tmp_path, experiment, reference):
    out = tmp_path / "one"
    report = sweep(experiment, out, workers=1)
    assert report.ran == 24
    pd.testing.assert_frame_equal(by_key(out), by_key(reference), check_exact=True)


def test_each_run_uses_the_replication_seed_of_the_root_seed(reference, experiment):
    """Common random numbers: run (point, r) is simulate(point, SeedSequence(7, (r,)))."""
    from trustsim.experiments.runner import replication_seed, simulate
    from trustsim.scenarios import load_scenario

    runs = load_runs(reference)
    base = load_experiment(experiment).bases["real-estate"]
    for point, replication in [(0, 0), (5, 3), (3, 1)]:
        row = runs[(runs["point"] == point) & (runs["replication"] == replication)].iloc[0]
        overrides = [
            f"stages.contract.affordance={float(row['stages.contract.affordance'])!r}",
            f"market.outside_influence={float(row['market.outside_influence'])!r}",
        ]
        summary, _ = simulate(load_scenario(base, overrides), replication_seed(7, replication))
        assert [summary[m] for m in METRICS] == pytest.approx(
            [row[m] for m in METRICS], rel=0, abs=0, nan_ok=True
        )


def test_rerun_skips_everything_and_partial_loss_reruns_only_the_lost(
    tmp_path, experiment, reference
):
    out = tmp_path / "resume"
    sweep(experiment, out, workers=0, batch_size=5)
    again = sweep(experiment, out, workers=0)
    assert (again.skipped, again.ran) == (24, 0)
    parts = SweepDir(out).part_files()
    lost = pd.read_parquet(parts[1])["key"].tolist()
    parts[1].unlink()
    resumed = sweep(experiment, out, workers=0)
    assert resumed.ran == len(lost) == 5
    assert {key for part in resumed.parts for key in pd.read_parquet(part)["key"]} == set(lost)
    assert sorted(keys_in_parts(out)) == sorted(by_key(reference).index)
    pd.testing.assert_frame_equal(by_key(out), by_key(reference), check_exact=True)


def test_more_replications_reuse_the_runs_on_disk(tmp_path, experiment, reference):
    out = tmp_path / "grow"
    sweep(experiment, out, workers=0)
    bigger = write_experiment(tmp_path, experiment.with_name("base.toml").read_text(), 6)
    report = sweep(bigger, out, workers=0)
    assert (report.skipped, report.ran, report.total) == (24, 12, 36)


def _start_cli_sweep(experiment: Path, out: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "trustsim", "sweep", str(experiment), "--out", str(out)]
    return subprocess.Popen([*command, "-q", *args], stderr=subprocess.PIPE, text=True)


def _wait_for_parts(out: Path, count: int, process: subprocess.Popen, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(SweepDir(out).part_files()) < count:
        assert process.poll() is None, process.communicate()[1]
        assert time.monotonic() < deadline, "the sweep wrote no parts"
        time.sleep(0.02)


def _descendants(pid: int) -> list:
    import psutil

    return psutil.Process(pid).children(recursive=True)


def _end(processes, timeout: float = 15.0) -> list:
    """Wait for the given processes (started by this test) to exit; kill and return the
    ones still alive after `timeout` seconds."""
    import psutil

    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for proc in alive:
        proc.kill()
    return alive


def _run_cli_sweep(experiment: Path, out: Path, *args: str) -> str:
    process = _start_cli_sweep(experiment, out, *args)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    return stderr


def _assert_every_planned_run_once(out: Path, reference: Path) -> None:
    """Every planned key is on disk exactly once, ok, and replications 0-3 carry the
    reference's numbers (compared by design point and replication)."""
    keys = keys_in_parts(out)
    runs = load_runs(out)
    assert len(keys) == len(set(keys)) == len(runs)
    assert set(keys) == set(runs["key"])
    assert (runs["status"] == "ok").all()
    assert not list((out / "parts").glob(".*")), "no temporary file is left behind"
    columns = ["point", "replication", *METRICS]
    expected = load_runs(reference)[columns].set_index(["point", "replication"])
    got = runs[columns].set_index(["point", "replication"]).loc[expected.index]
    pd.testing.assert_frame_equal(got, expected, check_exact=True)


@pytest.mark.slow
def test_sigkill_mid_sweep_then_rerun_leaves_every_key_exactly_once(tmp_path, base_toml, reference):
    slow = write_experiment(tmp_path, base_toml, replications=12)  # 72 runs, one per part
    out = tmp_path / "killed"
    process = _start_cli_sweep(slow, out, "--workers", "2", "--batch-size", "1")
    _wait_for_parts(out, 6, process)
    children = _descendants(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not _end(children), "worker processes outlived the killed sweep"
    on_disk = len(keys_in_parts(out))
    assert 6 <= on_disk < 72, "the kill must come mid-way"
    stderr = _run_cli_sweep(slow, out, "--workers", "0")
    assert f"72 runs planned: {on_disk} were on disk, {72 - on_disk} ran now" in stderr
    _assert_every_planned_run_once(out, reference)


@pytest.mark.slow
def test_ctrl_c_on_a_cluster_stops_cleanly_and_the_same_command_resumes(
    tmp_path, base_toml, reference
):
    slow = write_experiment(tmp_path, base_toml, replications=12)
    out = tmp_path / "interrupted"
    process = _start_cli_sweep(slow, out, "--workers", "2", "--batch-size", "1")
    _wait_for_parts(out, 4, process)
    children = _descendants(process.pid)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    _end(children)
    assert process.returncode == 130, stderr
    assert "Interrupted" in stderr and "resume" in stderr
    on_disk = len(keys_in_parts(out))
    assert 4 <= on_disk < 72
    stderr = _run_cli_sweep(slow, out, "--workers", "0")
    assert f"72 runs planned: {on_disk} were on disk" in stderr
    _assert_every_planned_run_once(out, reference)


@pytest.mark.slow
def test_worker_killed_mid_task_has_its_batch_retried(tmp_path, client, experiment, reference):
    out = tmp_path / "worker-killed"
    pids = client.run(os.getpid)
    killed: dict = {}

    def kill_a_busy_worker() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not killed:
            busy = [addr for addr, tasks in client.processing().items() if tasks]
            if busy:
                killed["pid"] = pids[busy[0]]
                os.kill(killed["pid"], signal.SIGKILL)
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_busy_worker)
    killer.start()
    # One task of all 24 runs (a few tens of ms with the compiled engine's series-free
    # runs): the kill lands as soon as a worker holds it, before it can finish.
    report = sweep(experiment, out, client=client, batch_size=24)
    killer.join()
    assert "pid" in killed
    runs = SweepDir(out).read_runs()
    assert report.failed == 0 and len(runs) == 24
    assert not runs["worker"].str.endswith(f":{killed['pid']}").any()
    pd.testing.assert_frame_equal(by_key(out), by_key(reference), check_exact=True)
    # The nanny restarts the killed worker; on a loaded machine (numba and Dask imports in a
    # fresh process) that has taken over a minute.
    client.wait_for_workers(2, timeout=240)


class _DeadFuture:
    """A finished-with-error Dask future, as seen after workers died running it."""

    status = "error"

    def exception(self):
        from types import SimpleNamespace

        from distributed import KilledWorker

        return KilledWorker("trustsim-batch-x", SimpleNamespace(address="tcp://127.0.0.1:1"), 3)


def test_a_batch_that_kills_workers_is_split_until_the_run_is_isolated(tmp_path, experiment):
    from trustsim.experiments.sweep.cluster import _collect
    from trustsim.experiments.sweep.resume import _Writer

    plan = plan_sweep(load_experiment(experiment))
    runs = list(plan.runs())[:4]
    batcher = Batcher(iter(()), 0)
    writer = _Writer(SweepDir(tmp_path), plan, 0, 0, None)
    _collect(_DeadFuture(), runs, plan, batcher, writer, lambda: True)
    assert [batcher.next_batch(2), batcher.next_batch(2)] == [runs[:2], runs[2:]]
    _collect(_DeadFuture(), runs[:1], plan, batcher, writer, lambda: True)
    failed = SweepDir(tmp_path).read_runs()
    assert failed["key"].tolist() == [runs[0].key]
    assert failed["error"].iloc[0].startswith("KilledWorker: every worker that ran this run")


def test_failed_runs_are_recorded_with_their_error_and_do_not_stop_the_sweep(
    tmp_path, monkeypatch, base_toml
):
    import trustsim.experiments.sweep.worker as sweep_module

    experiment = write_experiment(tmp_path, base_toml)
    real = sweep_module._simulate_metrics

    def flaky(spec, seed, replication, metrics):
        if replication == 1:
            raise RuntimeError("boom in replication 1")
        return real(spec, seed, replication, metrics)

    monkeypatch.setattr(sweep_module, "_simulate_metrics", flaky)
    report = sweep(experiment, tmp_path / "out", workers=0)
    assert (report.ran, report.failed) == (24, 6)
    runs = load_runs(tmp_path / "out")
    failed = runs[runs["status"] == "failed"]
    assert set(failed["replication"]) == {1}
    assert set(failed["error"]) == {"RuntimeError: boom in replication 1"}
    assert runs.loc[runs["status"] == "ok", "closed_deals"].notna().all()
    table = point_summary(tmp_path / "out")
    assert (table["runs_ok"] == 3).all() and (table["runs_failed"] == 1).all()


def test_invalid_design_points_become_failed_runs(tmp_path, base_toml):
    experiment = write_experiment(
        tmp_path,
        base_toml,
        **{'"market.outside_influence" = { low = 0.52, high = 2.08, levels = 2 }':
           '"market.detractor_threshold" = { values = [0.5, 0.65] }\n'
           '"market.promoter_threshold" = { values = [0.6, 0.8] }'},
    )  # fmt: skip
    report = sweep(experiment, tmp_path / "out", workers=0)
    runs = load_runs(tmp_path / "out")
    failed = runs[runs["status"] == "failed"]
    # each value is valid alone; detractor 0.65 above promoter 0.6 is not
    assert report.failed == len(failed) == 3 * 4
    assert (failed["market.detractor_threshold"] == 0.65).all()
    assert (failed["market.promoter_threshold"] == 0.6).all()
    assert failed["error"].str.contains("detractor_threshold must not exceed").all()


def test_results_cli_reports_means_and_cis_computed_from_the_runs(tmp_path, reference):
    result = CliRunner().invoke(main, ["results", str(reference), "--format", "csv"])
    assert result.exit_code == 0, result.output
    from io import StringIO

    table = pd.read_csv(StringIO(result.output))
    runs = load_runs(reference)
    assert len(table) == 6
    for row in table.itertuples():
        values = runs.loc[runs["point"] == row.point, "closed_deals"]
        mean, low, high = mean_ci(values)
        assert (row.closed_deals, row.closed_deals_ci_low, row.closed_deals_ci_high) == (
            pytest.approx(mean),
            pytest.approx(low),
            pytest.approx(high),
        )
        assert row.runs_ok == 4 and row.runs_missing == 0
    shown = CliRunner().invoke(main, ["results", str(reference), "-m", "leads"])
    assert shown.exit_code == 0 and "leads" in shown.output and "tiny" in shown.output
    bad = CliRunner().invoke(main, ["results", str(reference), "-m", "nps"])
    assert bad.exit_code == 2 and "not kept by this sweep" in bad.output


def test_compact_merges_parts_without_changing_results(tmp_path, experiment, reference):
    out = tmp_path / "compact"
    sweep(experiment, out, workers=0, batch_size=3)
    before = point_summary(out)
    assert len(SweepDir(out).part_files()) == 8
    result = CliRunner().invoke(main, ["results", str(out), "--compact", "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert len(SweepDir(out).part_files()) == 1
    pd.testing.assert_frame_equal(point_summary(out), before)
    assert sweep(experiment, out, workers=0).ran == 0


def test_results_of_an_empty_directory_say_what_to_do(tmp_path):
    result = CliRunner().invoke(main, ["results", str(tmp_path)])
    assert result.exit_code == 2
    assert "no sweep here" in result.output


def test_a_directory_in_use_is_refused(tmp_path, experiment):
    store = SweepDir(tmp_path / "busy")
    with store.lock(), pytest.raises(TrustsimInputError, match="in use by a running"):
        sweep(experiment, store.path, workers=0)


SOBOL = """
name = "tiny-sobol"
scenarios = ["real-estate"]
set = ["market.size=200", "time.short_horizon=10"]
steps = 20
replications = 2
seed = 0
metrics = ["leads", "closed_deals"]

[design]
method = "{method}"
samples = {samples}

[factors]
"market.outside_influence" = {{ low = 0.26, high = 2.6 }}
"stages.contract.affordance" = {{ low = 0.0, high = 1.0 }}
"""


def test_sobol_sensitivity_matches_salib_on_the_same_outputs(tmp_path):
    from SALib.analyze import sobol

    from trustsim.experiments.design import salib_problem

    path = tmp_path / "sobol.toml"
    path.write_text(textwrap.dedent(SOBOL.format(method="sobol", samples=3)))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["sensitivity", str(path), "--out", str(out), "-w", "0", "--format", "csv", "-q"]
    )
    assert result.exit_code == 0, result.output
    assert "rounded up to 4" in result.output
    written = pd.read_csv(out / "sensitivity.csv")
    assert written.equals(pd.read_parquet(out / "sensitivity.parquet"))
    assert set(written["index"]) == {"S1", "ST"} and len(written) == 2 * 2 * 2
    runs = load_runs(out)
    assert runs["point"].nunique() == 4 * (2 + 2)  # N = 4 after rounding, D = 2
    y = runs.groupby("point")["leads"].mean().to_numpy()
    direct = sobol.analyze(
        salib_problem(["market.outside_influence", "stages.contract.affordance"]),
        y, calc_second_order=False, num_resamples=1000, seed=1,
    )  # fmt: skip
    leads = written[written["metric"] == "leads"].set_index(["factor", "index"])
    s1 = leads.loc[("market.outside_influence", "S1")]
    assert s1["value"] == pytest.approx(direct["S1"][0])
    half = direct["S1_conf"][0]
    assert (s1["ci_low"], s1["ci_high"]) == (  # SALib's interval, within [0, 1]
        pytest.approx(min(max(direct["S1"][0] - half, 0.0), 1.0)),
        pytest.approx(min(max(direct["S1"][0] + half, 0.0), 1.0)),
    )
    shares = written[written["index"].isin(["S1", "ST"])]
    assert shares["ci_low"].between(0, 1).all() and shares["ci_high"].between(0, 1).all()
    # Again on the directory: nothing reruns and the indices are identical.
    again = CliRunner().invoke(main, ["sensitivity", str(out), "--format", "csv"])
    assert again.exit_code == 0
    assert pd.read_csv(out / "sensitivity.csv").equals(written)


def test_morris_effects_rank_the_lead_driver_first(tmp_path):
    path = tmp_path / "morris.toml"
    path.write_text(textwrap.dedent(SOBOL.format(method="morris", samples=4)))
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sensitivity", str(path), "--out", str(out), "-w", "0"])
    assert result.exit_code == 0, result.output
    table = pd.read_parquet(out / "sensitivity.parquet")
    leads = table[(table["metric"] == "leads") & (table["index"] == "mu_star")]
    effect = leads.set_index("factor")["value"]
    # Outside influence brings leads directly; the contract affordance only through
    # word of mouth late in a 20-step run: a far smaller elementary effect.
    assert effect["market.outside_influence"] > 5 * effect["stages.contract.affordance"]
    assert np.isfinite(leads["ci_low"]).all()


def test_sensitivity_of_an_incomplete_sweep_says_to_resume(tmp_path):
    path = tmp_path / "sobol.toml"
    path.write_text(textwrap.dedent(SOBOL.format(method="sobol", samples=2)))
    out = tmp_path / "out"
    sweep(path, out, workers=0, batch_size=4)
    SweepDir(out).part_files()[0].unlink()
    result = CliRunner().invoke(main, ["sensitivity", str(out)])
    assert result.exit_code == 2
    assert "4 of 16 runs are not done yet" in result.output


def test_progress_lines_in_a_log(capsys):
    from trustsim.terminal import ProgressDisplay

    with ProgressDisplay("tiny", every=0.0) as progress:
        progress(10, 40, 1)
        progress(40, 40, 2)
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("tiny: 10/40 runs, 1 failed, ETA")
    assert lines[1] == "tiny: 40/40 runs, 2 failed, ETA 0:00:00"


def test_batches_grow_to_about_a_second_and_shrink_for_the_tail():
    runs = iter([Run(str(i), i, 0) for i in range(10_000)])
    batcher = Batcher(runs, 10_000)
    assert len(batcher.next_batch(2)) == 1  # nothing measured yet
    batcher.observe([{"seconds": 0.01}])
    assert len(batcher.next_batch(2)) == 100  # 1 s / 0.01 s
    batcher.remaining = 40
    assert len(batcher.next_batch(2)) == 10  # 40 runs left over 2 workers x 2 in flight

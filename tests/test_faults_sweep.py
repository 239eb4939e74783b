"""Sweeps under faults: nothing lost, nothing written where it must not be, no traceback.

Each test breaks something (a part, sweep.json, the disk, the cluster), asserts the exit
code, that the user sees one message and no traceback, and what is and is not on disk
afterwards. Sweeps use a tiny real-estate market (200 buyers, 20 steps) run in-process,
except the cluster tests, which start a real Dask scheduler and workers.
"""

from __future__ import annotations

import errno
import io
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import trustsim.experiments.sweep.cluster as cluster_module
import trustsim.experiments.sweep.resume as resume_module
import trustsim.experiments.sweep.worker as worker_module
from trustsim.cli import main
from trustsim.experiments.experiment import load_experiment
from trustsim.experiments.results import load_runs
from trustsim.experiments.store import SweepDir
from trustsim.experiments.sweep import (
    Batcher,
    ClusterLostError,
    SweepEnvironmentError,
    plan_sweep,
    sweep,
)
from trustsim.experiments.sweep.cluster import _collect
from trustsim.experiments.sweep.resume import _Writer

METRICS = ["closed_deals", "leads", "satisfaction"]
TINY = """
name = "{name}"
scenarios = ["base.toml"]
set = ["market.size=200", "time.short_horizon=10"]
steps = 20
replications = {replications}
seed = {seed}
metrics = ["closed_deals", "leads", "satisfaction"]

[design]
method = "grid"

[factors]
"stages.contract.affordance" = {{ values = [0.0, 0.5, 1.0] }}
"market.outside_influence" = {{ low = 0.52, high = 2.08, levels = {levels} }}
"""


@pytest.fixture(scope="module")
def base_toml() -> str:
    from trustsim.scenarios import load_scenario, scenario_to_toml

    return scenario_to_toml(load_scenario("real-estate"))


def write_experiment(
    folder: Path, base: str, name="tiny", replications=4, levels=2, seed=7, file="tiny.toml"
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "base.toml").write_text(base, encoding="utf-8")
    text = TINY.format(name=name, replications=replications, levels=levels, seed=seed)
    path = folder / file
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def experiment(tmp_path_factory, base_toml) -> Path:
    return write_experiment(tmp_path_factory.mktemp("exp"), base_toml)


@pytest.fixture(scope="module")
def sobol_sweep(tmp_path_factory) -> Path:
    """A finished tiny Sobol' sweep (16 points, one replication) in several parts."""
    folder = tmp_path_factory.mktemp("sobol")
    out = folder / "sweep"
    assert sweep(write_sobol(folder), out, workers=0, batch_size=4).failed == 0
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory, experiment) -> Path:
    """The experiment swept in-process, untouched: what every recovery must reproduce."""
    out = tmp_path_factory.mktemp("reference") / "sweep"
    report = sweep(experiment, out, workers=0, batch_size=6)
    assert (report.ran, report.failed) == (24, 0)
    return out


def invoke(*args: str):
    """Run the CLI in-process; fail on any exception other than a clean exit."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"uncaught {result.exception!r}\n{result.output}")
    assert "Traceback" not in result.output
    return result


def numbers(out: Path) -> pd.DataFrame:
    """Status and metrics of every planned run, by design point and replication."""
    runs = load_runs(out)
    return runs.set_index(["point", "replication"]).sort_index()[["status", *METRICS]]


def keys_in_parts(out: Path) -> list[str]:
    return [key for part in SweepDir(out).part_files() for key in pd.read_parquet(part)["key"]]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under `path` with its bytes (to prove nothing changed)."""
    return {str(f.relative_to(path)): f.read_bytes() for f in path.rglob("*") if f.is_file()}


def copy_sweep(reference: Path, target: Path) -> Path:
    import shutil

    shutil.copytree(reference, target)
    return target


# ------------------------------------------------------------------- corrupt parts
def test_zero_length_and_garbage_parts_are_set_aside_and_their_runs_rerun(
    tmp_path, experiment, reference
):
    out = copy_sweep(reference, tmp_path / "sweep")
    parts = SweepDir(out).part_files()
    lost = set(pd.read_parquet(parts[1])["key"])
    parts[1].write_bytes(parts[1].read_bytes()[:100])  # a real part, truncated
    (out / "parts" / "part-zzz.parquet").write_bytes(b"")
    (out / "parts" / "part-garbage.parquet").write_bytes(os.urandom(4096))

    shown = invoke("results", out, "--format", "csv")
    assert shown.exit_code == 0
    for name in (parts[1].name, "part-zzz.parquet", "part-garbage.parquet"):
        assert f"Warning: {out / 'parts' / name} cannot be read" in shown.stderr
        assert (out / "parts" / "corrupt" / name).is_file()
        assert not (out / "parts" / name).exists()
    table = pd.read_csv(io.StringIO(shown.stdout))
    assert table["runs_missing"].sum() == len(lost) == 6

    resumed = invoke("sweep", experiment, "--out", out, "--workers", "0", "-q")
    assert resumed.exit_code == 0
    assert "24 runs planned: 18 were on disk, 6 ran now" in resumed.stderr
    assert sorted(keys_in_parts(out)) == sorted(keys_in_parts(reference))
    pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)


def test_compact_and_chart_set_an_unreadable_part_aside_and_keep_the_rest(tmp_path, reference):
    out = copy_sweep(reference, tmp_path / "sweep")
    (out / "parts" / "part-zzz.parquet").write_bytes(b"")
    compacted = invoke("results", out, "--compact", "--format", "csv")
    assert compacted.exit_code == 0
    assert "part-zzz.parquet cannot be read" in compacted.stderr
    assert "Compacted 4 parts into one (24 runs)" in compacted.stderr
    assert len(SweepDir(out).part_files()) == 1
    assert (out / "parts" / "corrupt" / "part-zzz.parquet").is_file()
    pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)

    (out / "parts" / "part-zzz.parquet").write_bytes(b"PAR1 not really")
    charted = invoke("chart", out, "--kind", "heatmap", "--out", tmp_path / "h.png")
    assert charted.exit_code == 0, charted.output
    assert (tmp_path / "h.png").is_file()
    assert (out / "parts" / "corrupt" / "part-zzz.1.parquet").is_file()
    assert not (out / "parts" / "part-zzz.parquet").exists()


# ------------------------------------------------------------- broken metadata
@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda d: (d / "sweep.json").write_bytes(b""), "sweep.json: not a sweep description: "
         "it is empty"),
        (lambda d: (d / "sweep.json").write_bytes(b"\xff\xfe\x00binary"), "sweep.json: not a "
         "sweep description: it is not text"),
        (lambda d: (d / "sweep.json").write_text("[1, 2]"), "it holds a JSON list, not an object"),
        (lambda d: (d / "sweep.json").write_text('{"experiment": "x"}'), "it has no valid "
         "'seed' field"),
        (lambda d: (d / "points.parquet").unlink(), "points.parquet: missing"),
        (lambda d: (d / "points.parquet").write_bytes(b"junk"), "points.parquet: cannot be read"),
    ],
    ids=["empty", "binary", "list", "fields", "no-points", "bad-points"],
)  # fmt: skip
def test_a_broken_sweep_json_or_points_file_is_one_message(tmp_path, reference, damage, says):
    out = copy_sweep(reference, tmp_path / "sweep")
    damage(out)
    before = tree(out)
    result = invoke("results", out)
    assert result.exit_code == 2
    assert says in result.stderr and "delete sweep.json and rerun" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert tree(out) == before


def test_a_sweep_resumes_after_sweep_json_was_deleted_or_points_parquet_lost(
    tmp_path, experiment, reference
):
    for lose in ("sweep.json", "points.parquet"):
        out = copy_sweep(reference, tmp_path / lose)
        (out / lose).unlink()
        result = invoke("sweep", experiment, "--out", out, "--workers", "0", "-q")
        assert result.exit_code == 0
        assert "24 were on disk, 0 ran now" in result.stderr
        assert (out / lose).is_file()
        pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)


# ------------------------------------------------------------ experiment files
@pytest.mark.parametrize(
    ("content", "byte"),
    [(b'name = "caf\xe9"\n', "0xe9"), (b"\x89PNG\r\n\x1a\n\x00\x00", "0x89")],
    ids=["latin-1", "binary"],
)
def test_an_experiment_file_that_is_not_utf8_is_one_message_naming_it(tmp_path, content, byte):
    path = tmp_path / "exp.toml"
    path.write_bytes(content)
    for command in (["sweep", path, "--dry-run"], ["sensitivity", path]):
        result = invoke(*command, "--out", tmp_path / "out")
        assert result.exit_code == 2
        assert f"{path}: not UTF-8 text (byte {byte}" in result.stderr
        assert "Save the experiment file as UTF-8" in result.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------ another experiment's dir
def test_a_sweep_into_another_experiments_directory_is_refused_and_changes_nothing(
    tmp_path, base_toml, reference
):
    out = copy_sweep(reference, tmp_path / "sweep")
    before = tree(out)
    others = {
        "name": write_experiment(tmp_path / "a", base_toml, name="other"),
        "seed": write_experiment(tmp_path / "b", base_toml, seed=8),
        "replications": write_experiment(tmp_path / "c", base_toml, replications=2),
    }
    for what, path in others.items():
        result = invoke("sweep", path, "--out", out, "--workers", "0", "-q")
        assert result.exit_code == 2
        assert "holds the sweep of experiment 'tiny'" in result.stderr
        assert f"experiment {'other' if what == 'name' else 'tiny'!r} (from {path})" in (
            result.stderr
        )
        assert "is another experiment" in result.stderr and what in result.stderr
        assert tree(out) == before


def test_more_points_or_replications_extend_a_sweep_directory(tmp_path, base_toml, reference):
    out = copy_sweep(reference, tmp_path / "sweep")
    grown = write_experiment(tmp_path / "grown", base_toml, replications=5, levels=4)
    result = invoke("sweep", grown, "--out", out, "--workers", "0", "-q")
    assert result.exit_code == 0
    # 3 x 4 points x 5 replications; the 3 x 2 old points keep their 4 replications
    assert "60 runs planned: 24 were on disk, 36 ran now" in result.stderr
    assert SweepDir(out).read_meta()["replications"] == 5


def test_a_directory_holding_other_results_is_not_used_for_a_sweep(tmp_path, experiment):
    out = tmp_path / "results"
    out.mkdir()
    (out / "run.json").write_text("{}")
    result = invoke("sweep", experiment, "--out", out, "--workers", "0", "-q")
    assert result.exit_code == 2
    assert "holds other files (run.json) and no sweep" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["run.json"]


# --------------------------------------------------------------------- huge plans
def test_a_grid_above_the_cap_is_refused_even_in_a_dry_run_without_drawing_it(tmp_path):
    path = tmp_path / "huge.toml"
    path.write_text(
        textwrap.dedent("""
        scenarios = ["real-estate"]
        replications = 2
        [design]
        method = "grid"
        [factors]
        "stages.contract.affordance" = { low = 0.0, high = 1.0, levels = 1000 }
        "stages.contract.pressure" = { low = 0.0, high = 1.0, levels = 1000 }
        "market.outside_influence" = { low = 0.52, high = 2.08, levels = 1000 }
        """),
        encoding="utf-8",
    )
    for args in (["--dry-run"], ["--workers", "0"]):
        start = time.monotonic()
        result = invoke("sweep", path, "--out", tmp_path / "out", *args)
        assert time.monotonic() - start < 30, "the plan must be counted, not drawn"
        assert result.exit_code == 2
        assert "1,000,000,000 design points x 2 replications = 2,000,000,000 runs" in (
            result.stderr
        )
        assert "at most 200,000 points and 10,000,000 runs" in result.stderr
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------- the file system
def test_disk_full_mid_sweep_is_one_message_and_the_same_command_resumes(
    tmp_path, experiment, reference, monkeypatch
):
    out = tmp_path / "sweep"
    real = resume_module.write_part
    calls = []

    def fills_up(rows, metrics, target):
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(target))
        real(rows, metrics, target)

    monkeypatch.setattr(resume_module, "write_part", fills_up)
    result = invoke("sweep", experiment, "--out", out, "--workers", "0", "--batch-size", "6")
    assert result.exit_code == 1
    [message] = [line for line in result.stderr.splitlines() if line.startswith("Error")]
    assert "cannot write a part of the results (No space left on device)" in message
    assert "run the same command again to resume" in message
    assert len(SweepDir(out).part_files()) == 2 and len(keys_in_parts(out)) == 12
    assert not list((out / "parts").glob(".*")), "no temporary file is left behind"

    monkeypatch.setattr(resume_module, "write_part", real)
    resumed = invoke("sweep", experiment, "--out", out, "--workers", "0", "-q")
    assert resumed.exit_code == 0 and "12 were on disk, 12 ran now" in resumed.stderr
    pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)


def test_disk_full_in_compact_and_sensitivity_is_one_message_and_changes_nothing(
    tmp_path, sobol_sweep, monkeypatch
):
    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "somewhere")

    out = copy_sweep(sobol_sweep, tmp_path / "sweep")
    before = tree(out)
    monkeypatch.setattr("pyarrow.parquet.write_table", full)
    compacted = invoke("results", out, "--compact")
    assert compacted.exit_code == 1
    assert "cannot compact the parts (No space left on device)" in compacted.stderr
    assert "Nothing was changed" in compacted.stderr
    analysed = invoke("sensitivity", out)
    assert analysed.exit_code == 1
    assert "cannot write the sensitivity indices (No space left on device)" in analysed.stderr
    assert tree(out) == before
    assert not list(out.glob("sensitivity.*"))


def write_sobol(folder: Path) -> Path:
    path = folder / "tiny-sobol.toml"
    path.write_text(
        textwrap.dedent("""
        name = "tiny-sobol"
        scenarios = ["real-estate"]
        set = ["market.size=100", "time.short_horizon=10"]
        steps = 10
        replications = 1
        metrics = ["leads", "closed_deals"]
        [design]
        method = "sobol"
        samples = 4
        [factors]
        "market.outside_influence" = { low = 0.26, high = 2.6 }
        "stages.contract.affordance" = { low = 0.0, high = 1.0 }
        """),
        encoding="utf-8",
    )
    return path


def test_a_path_component_that_is_a_file_is_refused_before_any_work(tmp_path, experiment):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    for command in (
        ["sweep", experiment, "--workers", "0"],
        ["sensitivity", write_sobol(tmp_path), "--workers", "0"],
    ):
        result = invoke(*command, "--out", blocker / "sub")
        assert result.exit_code == 2
        assert f"{blocker / 'sub'}: {blocker} is a file, not a directory" in result.stderr
    assert blocker.read_text() == "not a directory"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "tiny-sobol.toml"]


def _mount_tmpfs(path: Path, size: str) -> bool:
    """Mount a tmpfs of `size` at `path` (needs root); False if the system refuses."""
    if os.geteuid() != 0:
        return False
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                             capture_output=True)  # fmt: skip
    return mounted.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A directory on a tiny tmpfs, or skip where the test cannot mount one."""
    mount = tmp_path / "disk"
    if not _mount_tmpfs(mount, "96k"):
        pytest.skip("needs root and tmpfs (the injected-ENOSPC tests cover the same paths)")
    yield mount
    _unmount(mount)


def _unmount(mount: Path) -> None:
    import gc

    gc.collect()  # a failed write's traceback may still hold a file open on the mount
    import psutil

    open_here = [f.path for f in psutil.Process().open_files() if f.path.startswith(str(mount))]
    assert not open_here, f"files left open: {open_here}"
    subprocess.run(["umount", str(mount)], check=True)


def test_a_real_full_disk_stops_the_sweep_with_a_resume_hint_and_complete_parts(
    small_disk, base_toml, tmp_path
):
    experiment = write_experiment(tmp_path / "exp", base_toml, replications=40)
    out = small_disk / "sweep"
    result = invoke("sweep", experiment, "--out", out, "--workers", "0", "--batch-size", "4")
    assert result.exit_code == 1
    assert "No space left on device" in result.stderr and "to resume" in result.stderr
    parts = SweepDir(out).part_files()
    assert parts, "the disk held some parts before it filled"
    for part in parts:
        assert len(pd.read_parquet(part)) == 4, "every part on disk is complete"
    assert not list((out / "parts").glob(".*.tmp"))


@pytest.fixture
def read_only_sweep(tmp_path, sobol_sweep):
    """A copy of a Sobol' sweep, with an empty part, that cannot be written: a tmpfs
    remounted read-only as root, otherwise a directory without write permission."""
    mount = tmp_path / "ro"
    mounted = _mount_tmpfs(mount, "8m")
    out = copy_sweep(sobol_sweep, mount / "sweep")
    (out / "parts" / "part-zzz.parquet").write_bytes(b"")
    folders = [mount, out, out / "parts"]
    if mounted:
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
    else:
        for folder in folders:
            folder.chmod(0o555)
    yield out
    if mounted:
        _unmount(mount)
    else:
        for folder in folders:
            folder.chmod(0o755)


def test_a_read_only_sweep_directory_is_read_but_never_written(read_only_sweep, tmp_path):
    out = read_only_sweep
    before = tree(out)
    shown = invoke("results", out, "--format", "csv")
    assert shown.exit_code == 0
    assert "part-zzz.parquet cannot be read" in shown.stderr
    assert "skipped (it cannot be moved aside" in shown.stderr
    resumed = invoke("sweep", write_sobol(tmp_path), "--out", out, "--workers", "0")
    assert resumed.exit_code == 2
    assert f"{out}: cannot write in {out} (read-only or no permission)" in resumed.stderr
    compacted = invoke("results", out, "--compact")
    assert compacted.exit_code == 2 and "cannot write in the results directory" in (
        compacted.stderr
    )
    fresh = invoke("sweep", write_sobol(tmp_path), "--out", out.parent / "new", "-w", "0")
    assert fresh.exit_code == 2 and "cannot write in" in fresh.stderr
    analysed = invoke("sensitivity", out)
    assert analysed.exit_code == 2
    assert "cannot write the sensitivity indices" in analysed.stderr
    assert tree(out) == before
    assert not (out.parent / "new").exists()


# ------------------------------------------------------------------ retry failed
def test_retry_failed_reruns_only_the_runs_the_model_failed(
    tmp_path, experiment, reference, monkeypatch
):
    out = tmp_path / "sweep"
    real = worker_module._simulate_metrics

    def flaky(spec, seed, replication, metrics):
        if replication == 1:
            raise RuntimeError("boom in replication 1")
        return real(spec, seed, replication, metrics)

    monkeypatch.setattr(worker_module, "_simulate_metrics", flaky)
    assert invoke("sweep", experiment, "--out", out, "-w", "0", "-q").exit_code == 0
    shown = invoke("results", out)
    assert "6 run(s) failed with: RuntimeError: boom in replication 1" in shown.stderr
    assert "--retry-failed" in shown.stderr
    monkeypatch.setattr(worker_module, "_simulate_metrics", real)
    again = invoke("sweep", experiment, "--out", out, "-w", "0", "-q")
    assert "24 were on disk, 0 ran now" in again.stderr, "failed runs are on disk"
    retried = invoke("sweep", experiment, "--out", out, "-w", "0", "-q", "--retry-failed")
    assert retried.exit_code == 0
    assert "18 were on disk, 6 ran now in" in retried.stderr and "0 failed" in retried.stderr
    pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)


# ------------------------------------------------------------- lost tasks (unit)
class _FakeFuture:
    def __init__(self, status: str, error: BaseException | None = None):
        self.status = status
        self._error = error

    def exception(self):
        return self._error


@pytest.mark.parametrize(
    "future",
    [_FakeFuture("cancelled"), _FakeFuture("lost"),
     _FakeFuture("error", RuntimeError("this worker runs trustsim model 0.0.1+x"))],
    ids=["cancelled", "lost", "worker-set-up"],
)  # fmt: skip
def test_a_task_the_cluster_lost_is_never_recorded_as_a_failed_run(tmp_path, experiment, future):
    plan = plan_sweep(load_experiment(experiment))
    runs = list(plan.runs())[:4]
    writer = _Writer(SweepDir(tmp_path), plan, 0, 0, None)
    batcher = Batcher(iter(()), 0)
    if future.status == "error":
        with pytest.raises(SweepEnvironmentError, match="a worker could not run a task"):
            _collect(future, runs, plan, batcher, writer, lambda: True)
    else:
        _collect(future, runs, plan, batcher, writer, lambda: True)
        assert batcher.next_batch(2) == runs, "resubmitted whole while connected"
        with pytest.raises(ClusterLostError, match="the cluster went away"):
            _collect(future, runs, plan, Batcher(iter(()), 0), writer, lambda: False)
    assert not (tmp_path / "parts").exists() and writer.ran == 0


# ------------------------------------------------------------- unreachable cluster
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_scheduler_fails_within_the_timeout_and_writes_nothing(tmp_path, experiment):
    address = f"tcp://127.0.0.1:{_free_port()}"
    start = time.monotonic()
    result = invoke("sweep", experiment, "--out", tmp_path / "out", "--scheduler", address,
                    "--connect-timeout", "2", "-q")  # fmt: skip
    assert time.monotonic() - start < 15
    assert result.exit_code == 2
    assert f"--scheduler {address}: cannot connect within 2 s" in result.stderr
    assert not (tmp_path / "out").exists()


def test_a_scheduler_without_workers_is_reported_and_times_out_writing_nothing(
    tmp_path, experiment, monkeypatch
):
    from distributed import LocalCluster

    monkeypatch.setattr(cluster_module, "NO_WORKERS_NOTICE_SECONDS", 0.5)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        result = invoke("sweep", experiment, "--out", tmp_path / "out", "--scheduler", address,
                        "--connect-timeout", "2", "-q")  # fmt: skip
    assert result.exit_code == 1
    assert f"Warning: The scheduler at {address} has no workers yet" in result.stderr
    assert "no worker joined within 2 s (--connect-timeout). Nothing was written" in (result.stderr)
    assert not (tmp_path / "out").exists()


def test_without_a_timeout_a_sweep_waits_for_its_first_worker_and_then_runs(
    tmp_path, experiment, reference, monkeypatch
):
    import threading

    from distributed import LocalCluster

    monkeypatch.setattr(cluster_module, "NO_WORKERS_NOTICE_SECONDS", 0.5)
    with LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as cluster:
        later = threading.Timer(3.0, cluster.scale, args=(1,))
        later.start()
        out = tmp_path / "out"
        result = invoke("sweep", experiment, "--out", out, "--scheduler",
                        cluster.scheduler_address, "-q")  # fmt: skip
        later.join()
    assert result.exit_code == 0
    assert "has no workers yet; waiting for one. Start workers" in result.stderr
    assert "24 runs planned: 0 were on disk, 24 ran now" in result.stderr
    pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)


# ------------------------------------------------- a real cluster loses its scheduler
def _dask(*args: str) -> subprocess.Popen:
    dask = Path(sys.executable).with_name("dask")
    return subprocess.Popen([str(dask), *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


@pytest.mark.slow
def test_a_killed_scheduler_stops_the_sweep_with_one_message_and_a_fresh_cluster_completes_it(
    tmp_path, base_toml
):
    experiment = write_experiment(tmp_path / "exp", base_toml, replications=12)  # 72 runs
    reference = tmp_path / "reference"
    sweep(experiment, reference, workers=0)
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    scheduler = _dask("scheduler", "--host", "127.0.0.1", "--port", str(port),
                      "--no-dashboard")  # fmt: skip
    workers = [_dask("worker", address, "--nthreads", "1", "--no-dashboard") for _ in range(2)]
    out = tmp_path / "sweep"
    try:
        client = subprocess.Popen(
            [sys.executable, "-m", "trustsim", "sweep", str(experiment), "--out", str(out),
             "-q", "--scheduler", address, "--batch-size", "1", "--connect-timeout", "60"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        deadline = time.monotonic() + 180
        while len(SweepDir(out).part_files()) < 6:
            assert client.poll() is None, client.communicate()[1]
            assert time.monotonic() < deadline, "the cluster wrote no parts"
            time.sleep(0.02)
        scheduler.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        _, stderr = client.communicate(timeout=60)
        assert time.monotonic() - killed < 30
    finally:
        for process in [scheduler, *workers]:
            process.kill()
            process.wait()
    assert client.returncode == 1, stderr
    assert "Traceback" not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith("Error")]
    assert errors == [line for line in stderr.splitlines() if not line.startswith("tiny:")]
    assert len(errors) == 1 and "the cluster went away" in errors[0]
    assert "rerun the same command to resume" in errors[0]
    on_disk = SweepDir(out).read_runs()
    assert 6 <= len(on_disk) < 72, "the kill must come mid-way"
    assert (on_disk["status"] == "ok").all(), "no run was recorded as failed"

    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    fresh = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard")]
    fresh += [_dask("worker", address, "--nthreads", "1", "--no-dashboard") for _ in range(2)]
    try:
        resumed = invoke("sweep", experiment, "--out", out, "--scheduler", address,
                         "--connect-timeout", "60", "-q")  # fmt: skip
    finally:
        for process in fresh:
            process.kill()
            process.wait()
    assert resumed.exit_code == 0, resumed.output
    assert f"72 runs planned: {len(on_disk)} were on disk" in resumed.stderr
    assert "0 failed" in resumed.stderr
    keys = keys_in_parts(out)
    assert len(keys) == len(set(keys)) == 72
    pd.testing.assert_frame_equal(numbers(out), numbers(reference), check_exact=True)


def test_while_a_sweep_is_connected_dask_logs_no_traceback_but_keeps_its_plain_messages():
    import logging

    from trustsim.experiments.sweep import cluster

    seen: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = seen.append
    dask_log = logging.getLogger("distributed")
    dask_log.addHandler(handler)
    try:
        with cluster._connected(1, None, None, False, None):
            try:
                raise OSError("stream closed")
            except OSError:
                logging.getLogger("distributed.batched").exception("Error in batched write")
            logging.getLogger("distributed.batched").warning("plain message")
    finally:
        dask_log.removeHandler(handler)
    messages = [record.getMessage() for record in seen]
    assert "plain message" in messages and "Error in batched write" not in messages


def test_a_refusal_names_only_the_entries_one_list_of_the_experiment_lacks():
    from trustsim.experiments.sweep.resume import _difference

    factors = [f"choice.f{i}" for i in range(40)]
    said = _difference("factors", factors, [*factors, "stages.*.duration"])
    assert said == "factors: 'stages.*.duration' here only"  # not 81 names
    said = _difference("scenarios", ["a", "b"], ["a", "c"])
    assert said == "scenarios: 'b' there only; 'c' here only"
    # The same entries in another order, and plain values, are said in full.
    assert (
        _difference("factors", ["x", "y"], ["y", "x"])
        == "factors ['x', 'y'] there, ['y', 'x'] here"
    )
    assert _difference("seed", 0, 8) == "seed 0 there, 8 here"

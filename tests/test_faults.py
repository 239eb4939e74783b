"""Faults and bad files against run, compare, demo, features, trace, chart and report.

Each test injects one class of fault (a full or read-only disk, a path through a file,
damaged result files, non-UTF-8 scenarios, a reused --out, an interrupted run, numbers
out of range) and checks the exit code, that no traceback reaches the user, and what is
and is not on disk afterwards. Full and read-only disks are real: a small tmpfs mounted
for the test (root only; elsewhere those tests skip and the injected-error tests remain).
"""

from __future__ import annotations

import errno
import os
import subprocess
import warnings
from pathlib import Path

import matplotlib as mpl

mpl.use("Agg")

import pytest
from click.testing import CliRunner

import trustsim
from trustsim.cli import main
from trustsim.experiments import runner
from trustsim.output import Staging, staged_outputs

SMALL = ["--set", "market.size=150", "--steps", "20", "-n", "3"]
PAIR = ["delivery-trial-funnel", "delivery-trial-journey"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_exit(res, code: int, *fragments: str) -> None:
    """The command ended with `code`, one clean message, no traceback."""
    assert res.exit_code == code, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    assert "Traceback" not in res.output
    for fragment in fragments:
        assert fragment in res.output, res.output


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` with its bytes (to prove nothing changed)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def leftovers(folder: Path) -> list[str]:
    """Temporary or set-aside names a write may leave next to its target."""
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".old")))


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results") / "r"
    trustsim.run(PAIR, replications=3, steps=20, overrides=["market.size=150"]).write(out)
    return out


def _mount_tmpfs(where: Path, options: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs; `fill(disk)` then takes every free byte."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_tmpfs(disk, "size=1m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.fixture
def read_only_disk(tmp_path):
    disk = tmp_path / "ro"
    disk.mkdir()
    _mount_tmpfs(disk, "size=64k,ro")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def fill(disk: Path) -> None:
    """Write a filler file until the file system is full (tmpfs allocates whole pages)."""
    with open(disk / "filler", "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC


# ------------------------------------------------------------------ full or read-only disk
def test_a_full_disk_keeps_the_previous_run_prints_the_table_and_exits_1(small_disk):
    out = small_disk / "r"
    assert_exit(invoke("run", PAIR[0], *SMALL, "--out", out), 0)
    before = snapshot(out)
    fill(small_disk)
    res = invoke("run", PAIR[0], *SMALL, "--seed", "5", "--out", out)
    assert_exit(res, 1, "Closed deals", "the disk is full", "previous contents are unchanged")
    assert snapshot(out) == before
    assert leftovers(small_disk) == []


def test_a_read_only_target_is_refused_before_any_simulation(read_only_disk, monkeypatch):
    monkeypatch.setattr(runner, "run_model", _must_not_run)
    res = invoke("run", PAIR[0], *SMALL, "--out", read_only_disk / "r")
    assert_exit(res, 2, "read-only", "Choose another path")
    assert list(read_only_disk.iterdir()) == []


def test_a_full_disk_leaves_the_previous_deck_csvs_and_pdf_whole(results_dir, small_disk):
    deck = small_disk / "deck.pptx"
    assert_exit(invoke("report", results_dir, "--out", deck), 0)
    before = snapshot(small_disk)
    fill(small_disk)
    res = invoke("report", results_dir, "--out", deck, "--pdf")
    assert_exit(res, 1, f"{deck} was not written", "the disk is full")
    (small_disk / "filler").unlink()
    assert snapshot(small_disk) == before
    assert leftovers(small_disk) == []


def test_a_full_disk_leaves_the_previous_chart_and_its_numbers(results_dir, small_disk):
    image = small_disk / "funnel.png"
    assert_exit(invoke("chart", results_dir, "--kind", "funnel", "--out", image), 0)
    before = snapshot(small_disk)
    fill(small_disk)
    res = invoke("chart", results_dir, "--kind", "trust", "--out", image)
    assert_exit(res, 1, "the disk is full")
    (small_disk / "filler").unlink()
    assert snapshot(small_disk) == before and leftovers(small_disk) == []


def _must_not_run(*args, **kwargs):
    raise AssertionError("simulated although the output could not be written")


def test_an_injected_enospc_while_writing_runs_prints_the_table_and_keeps_nothing(
    tmp_path, monkeypatch
):
    out = tmp_path / "r"

    def disk_full(self, folder, kind="run", tables=None):
        (folder / "summaries.parquet").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(folder / "x.parquet"))

    monkeypatch.setattr(runner.RunResult, "write_files", disk_full)
    res = invoke("compare", *PAIR, *SMALL, "--out", out)
    assert_exit(res, 1, "paired differences", f"{out} was not written", "Free some space")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_an_interrupted_run_leaves_the_previous_result_intact(tmp_path, monkeypatch):
    out = tmp_path / "r"
    assert_exit(invoke("run", PAIR[0], *SMALL, "--out", out), 0)
    before = snapshot(out)
    calls = []
    run_model = runner.run_model

    def interrupted(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return run_model(*args, **kwargs)

    monkeypatch.setattr(runner, "run_model", interrupted)
    res = invoke("run", PAIR[0], *SMALL, "--seed", "9", "--out", out)
    assert res.exit_code == 1 and "Traceback" not in res.output  # click's "Aborted!"
    assert snapshot(out) == before
    assert leftovers(tmp_path) == []


def test_running_out_of_memory_is_one_message_exit_1_and_keeps_the_previous_result(
    tmp_path, monkeypatch
):
    out = tmp_path / "r"
    assert_exit(invoke("run", PAIR[0], *SMALL, "--out", out), 0)
    before = snapshot(out)
    run_model = runner.run_model
    calls = []

    def short_of_memory(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # half-way through the replications
            raise MemoryError("Unable to allocate 458. MiB for an array")
        return run_model(*args, **kwargs)

    monkeypatch.setattr(runner, "run_model", short_of_memory)
    res = invoke("run", PAIR[0], *SMALL, "--seed", "9", "--out", out)
    assert_exit(res, 1, "out of memory (Unable to allocate 458. MiB", "lower market.size")
    assert snapshot(out) == before and leftovers(tmp_path) == []


@pytest.mark.slow
def test_ctrl_c_of_a_real_process_leaves_the_previous_result_intact(tmp_path):
    import signal
    import sys
    import time

    out = tmp_path / "r"
    assert_exit(invoke("run", PAIR[0], *SMALL, "--out", out), 0)
    before = snapshot(out)
    # Runs long enough to be interrupted mid-way with the compiled engine too (~10 s).
    args = ["run", PAIR[0], "--set", "market.size=30000", "-n", "200", "--out", str(out)]
    proc = subprocess.Popen(
        [sys.executable, "-m", "trustsim", *args], stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 60
    while not leftovers(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.05)  # the staging directory appears before the first run starts
    # Ctrl-C, again every five seconds while the run goes on, as a user would: in some
    # full-suite runs the first one had no effect and the run finished (cause not found;
    # alone it never happened). A warning says when more than one was needed.
    time.sleep(0.5)
    presses = 0
    while presses < 10:
        proc.send_signal(signal.SIGINT)
        presses += 1
        try:
            proc.wait(timeout=5)  # stopping takes well under a second
            break
        except subprocess.TimeoutExpired:
            continue
    _, err = proc.communicate(timeout=60)
    if presses > 1:
        warnings.warn(f"the run stopped only after {presses} Ctrl-C: {err[-500:]!r}", stacklevel=1)
    state = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    assert proc.returncode != 0 and "Traceback" not in err, (proc.returncode, state, err[-2000:])
    assert snapshot(out) == before and leftovers(tmp_path) == []


def test_a_commit_that_fails_half_way_puts_every_old_output_back(tmp_path, monkeypatch):
    (tmp_path / "a.txt").write_text("old a")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.csv").write_text("old x")
    real_replace = os.replace
    moves = []

    def replace(src, dst):
        moves.append((src, dst))
        if len(moves) == 4:  # a aside, a in, b aside, then b in fails
            raise OSError(errno.EIO, "Input/output error", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError), staged_outputs() as staging:
        staging.file(tmp_path / "a.txt").write_text("new a")
        (staging.directory(tmp_path / "b") / "y.csv").write_text("new y")
    monkeypatch.undo()
    assert (tmp_path / "a.txt").read_text() == "old a"
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["x.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b"]


def test_a_directory_is_never_swapped_for_a_file(tmp_path):
    (tmp_path / "t.parquet").mkdir()
    staging = Staging()
    staging.file(tmp_path / "t.parquet").write_text("x")
    with pytest.raises(IsADirectoryError):
        staging.commit()
    assert (tmp_path / "t.parquet").is_dir() and leftovers(tmp_path) == []


# ----------------------------------------------------------- a path through a file
@pytest.mark.parametrize(
    "command",
    [
        ["run", PAIR[0], *SMALL, "--out", "{blocked}"],
        ["compare", *PAIR, *SMALL, "--out", "{blocked}"],
        ["demo", "-n", "2", "--out", "{blocked}"],
        ["features", "real-estate-verifiable", *SMALL, "--out", "{blocked}"],
        ["trace", PAIR[1], "--buyer", "{buyer}", *SMALL[:4], "--out", "{blocked}/t.parquet"],
        ["chart", "{results}", "--kind", "funnel", "--out", "{blocked}/c.png"],
        ["report", "{results}", "--out", "{blocked}/deck.pptx"],
    ],
    ids=lambda c: c[0],
)
def test_a_path_through_a_file_exits_2_naming_the_file(command, results_dir, tmp_path):
    blocking = tmp_path / "afile"
    blocking.write_text("mine")
    fill = {"blocked": str(blocking / "sub"), "results": str(results_dir)}
    if "{buyer}" in command:
        fill["buyer"] = a_traced_buyer()
    res = invoke(*(a.format(**fill) for a in command))
    assert_exit(res, 2, f"{blocking} is a file, not a directory")
    assert blocking.read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]


# ------------------------------------------------------------- damaged result files
DAMAGE = {
    "empty summaries": ("summaries.parquet", b""),
    "garbage timeseries": ("timeseries.parquet", b"PAR1 not really parquet"),
    "binary run.json": ("run.json", bytes(range(256))),
    "run.json a list": ("run.json", b"[1, 2]"),
    "latin-1 scenario": (
        "scenarios/delivery-trial-funnel.toml",
        'name = "caf\xe9"'.encode("latin-1"),
    ),
    "empty trace": ("trace.parquet", b""),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
@pytest.mark.parametrize("command", ["chart", "report"])
def test_a_damaged_result_file_is_named_in_one_message(damage, command, tmp_path):
    out = tmp_path / "r"
    trustsim.run(PAIR, replications=2, steps=10, overrides=["market.size=100"]).write(out)
    name, content = DAMAGE[damage]
    (out / name).write_bytes(content)
    extra = ["--kind", "comparison"] if command == "chart" else ["--out", tmp_path / "d.pptx"]
    res = invoke(command, out, *extra)
    assert_exit(res, 2, str(out / name))
    assert len([line for line in res.output.splitlines() if line.strip()]) == 1
    assert not (tmp_path / "d.pptx").exists() and not (out / "charts").exists()


def test_a_missing_run_json_is_named(results_dir, tmp_path):
    out = tmp_path / "r"
    out.mkdir()
    for name in ("summaries.parquet", "timeseries.parquet"):
        (out / name).write_bytes((results_dir / name).read_bytes())
    assert_exit(invoke("report", out, "--out", tmp_path / "d.pptx"), 2, "run.json missing")


# ------------------------------------------------------------ non-UTF-8 scenario files
@pytest.mark.parametrize(
    "content",
    [b"\x89PNG\r\n\x1a\n\x00\x00binary", 'name = "Vi\xf1a"\n'.encode("latin-1")],
    ids=["binary", "latin-1"],
)
@pytest.mark.parametrize("via_extends", [False, True], ids=["direct", "via-extends"])
def test_a_scenario_file_that_is_not_utf8_is_named(content, via_extends, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_bytes(content)
    target = bad
    if via_extends:
        target = tmp_path / "child.toml"
        target.write_text('extends = "bad.toml"\n', encoding="utf-8")
    for command in (["run", target, *SMALL], ["scenarios", "validate", target]):
        res = invoke(*command)
        assert_exit(res, 2, f"{bad}: not UTF-8 text", "Re-save it as UTF-8")


# ------------------------------------------------------------------------ reused --out
def test_a_reused_out_is_refused_and_force_replaces_it_whole(tmp_path):
    out = tmp_path / "r"
    assert_exit(invoke("features", "real-estate-verifiable", *SMALL, "--out", out), 0)
    before = snapshot(out)
    res = invoke("run", PAIR[0], *SMALL, "--out", out)
    assert_exit(res, 2, "already holds a `trustsim features` result", "--force")
    assert snapshot(out) == before
    assert_exit(invoke("run", PAIR[0], *SMALL, "--out", out, "--force"), 0)
    assert not (out / "features.parquet").exists()
    assert sorted(p.name for p in (out / "scenarios").iterdir()) == [f"{PAIR[0]}.toml"]
    deck = invoke("report", out, "--out", tmp_path / "d.pptx")
    assert_exit(deck, 0)
    assert "real-estate" not in deck.output and "usage" not in deck.output.lower()


def test_a_rerun_of_the_same_scenarios_replaces_the_result_without_force(tmp_path):
    out = tmp_path / "r"
    assert_exit(invoke("run", PAIR[0], *SMALL, "--out", out), 0)
    (out / "charts").mkdir()
    (out / "charts" / "old.png").write_bytes(b"from the first run")
    assert_exit(invoke("run", PAIR[0], *SMALL, "--seed", "4", "--out", out), 0)
    assert not (out / "charts").exists()  # nothing of the first run stays beside the second
    assert '"seed": 4' in (out / "run.json").read_text()


def test_a_directory_of_someone_elses_files_is_never_replaced(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("precious")
    res = invoke("run", PAIR[0], *SMALL, "--out", out, "--force")
    assert_exit(res, 2, "files trustsim did not write (thesis.tex)")
    assert snapshot(out) == {"thesis.tex": b"precious"}


def a_traced_buyer() -> int:
    """A buyer who acts in replication 0 of PAIR[1] with the SMALL market and horizon."""
    from trustsim.experiments.trace import BuyerNotTraced, trace_buyer

    try:
        trace_buyer(PAIR[1], 0, steps=20, overrides=["market.size=150"])
    except BuyerNotTraced as exc:
        return exc.suggestion
    return 0


def test_the_current_directory_is_never_an_output_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for out in (".", str(tmp_path.parent)):
        res = invoke("run", PAIR[0], *SMALL, "--out", out, "--force")
        assert_exit(res, 2, "contains the current directory")
    assert list(tmp_path.iterdir()) == []


def test_a_trace_joins_only_the_run_it_follows(tmp_path):
    out = tmp_path / "r"
    assert_exit(invoke("run", PAIR[1], *SMALL, "--out", out), 0)
    other_seed = invoke("trace", PAIR[1], "--buyer", "3", "--seed", "7", *SMALL[:4], "--out", out)
    assert_exit(other_seed, 2, "seed 0", "seed 7", "--force")
    as_file = invoke("trace", PAIR[1], "--buyer", "3", "--seed", "7", "--out", out / "trace.csv")
    assert_exit(as_file, 2, "would mix two runs")
    assert not (out / "trace.parquet").exists() and not (out / "trace.csv").exists()
    own = invoke("trace", PAIR[1], "--buyer", a_traced_buyer(), *SMALL[:4], "--out", out)
    assert_exit(own, 0)
    assert_exit(invoke("chart", out, "--kind", "story"), 0, "This buyer")


def test_a_trace_of_another_run_copied_beside_a_result_is_refused_by_readers(tmp_path):
    out, elsewhere = tmp_path / "r", tmp_path / "t"
    assert_exit(invoke("run", PAIR[1], *SMALL, "--out", out), 0)
    assert_exit(invoke("trace", PAIR[1], "--buyer", "3", "--seed", "2", "--out", elsewhere), 0)
    (out / "trace.parquet").write_bytes((elsewhere / "trace.parquet").read_bytes())
    assert_exit(invoke("chart", out, "--kind", "funnel"), 2, "not of the runs in")


# ------------------------------------------------------------------ numbers out of range
OUT_OF_RANGE = [["--seed", "-1"], ["--seed", str(2**63)], ["--steps", str(10**9)], ["--steps", "0"]]
RANGED_COMMANDS = [
    ["run", PAIR[0]],
    ["compare", *PAIR],
    ["features", "real-estate-verifiable"],
    ["trace", PAIR[1], "--buyer", "3"],
    ["demo"],
]


@pytest.mark.parametrize(
    "command, bad",
    [(c, b) for c in RANGED_COMMANDS for b in OUT_OF_RANGE if c[0] != "demo" or b[0] == "--seed"],
    ids=lambda v: v[0] if isinstance(v[0], str) and not v[0].startswith("-") else " ".join(v),
)
def test_seeds_and_steps_out_of_range_are_rejected_before_any_work(command, bad, tmp_path):
    out = tmp_path / ("t.parquet" if command[0] == "trace" else "r")
    res = invoke(*command, *bad, "--out", out)
    assert_exit(res, 2, "is not in the range")
    assert not out.exists()


def test_the_python_api_rejects_the_same_seeds_and_steps():
    with pytest.raises(trustsim.errors.TrustsimInputError, match="seed = -1"):
        trustsim.run([PAIR[0]], replications=1, seed=-1)
    with pytest.raises(trustsim.errors.TrustsimInputError, match="100,000"):
        trustsim.run([PAIR[0]], replications=1, steps=10**9)


# ------------------------------------------------------------ bad input before any work
def test_a_bad_template_is_rejected_before_any_chart_is_drawn(results_dir, tmp_path, monkeypatch):
    import trustsim.charts

    monkeypatch.setattr(trustsim.charts, "make_chart", _must_not_run)
    (tmp_path / "bad.pptx").write_bytes(b"PK\x03\x04 not a deck")
    res = invoke(
        "report", results_dir, "--out", tmp_path / "d.pptx", "--template", tmp_path / "bad.pptx"
    )
    assert_exit(res, 2, "--template", "not a readable .pptx")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pptx"]


def test_a_deck_folder_holding_other_files_is_refused_before_any_chart(
    results_dir, tmp_path, monkeypatch
):
    import trustsim.charts

    monkeypatch.setattr(trustsim.charts, "make_chart", _must_not_run)
    (tmp_path / "d-data").mkdir()
    (tmp_path / "d-data" / "notes.md").write_text("mine")
    res = invoke("report", results_dir, "--out", tmp_path / "d.pptx")
    assert_exit(res, 2, "notes.md")
    assert (tmp_path / "d-data" / "notes.md").read_text() == "mine"


# --------------------------------------------------------------------- umask, bytes
def test_outputs_honour_a_umask_of_027(results_dir, tmp_path):
    previous = os.umask(0o027)
    try:
        assert_exit(invoke("run", PAIR[0], *SMALL, "--out", tmp_path / "r"), 0)
        buyer = a_traced_buyer()
        assert_exit(
            invoke("trace", PAIR[1], "--buyer", buyer, *SMALL[:4], "--out", tmp_path / "t.csv"), 0
        )
        assert_exit(invoke("chart", results_dir, "-k", "leads", "--out", tmp_path / "c.png"), 0)
        assert_exit(invoke("report", results_dir, "--out", tmp_path / "d.pptx", "--pdf"), 0)
    finally:
        os.umask(previous)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    dirs = [p for p in tmp_path.rglob("*") if p.is_dir()]
    assert len(files) > 10 and {oct(p.stat().st_mode & 0o777) for p in files} == {"0o640"}
    assert {oct(p.stat().st_mode & 0o777) for p in dirs} == {"0o750"}


def test_two_reports_of_the_same_results_are_the_same_bytes(results_dir, tmp_path):
    decks = [tmp_path / first / "deck.pptx" for first in ("a", "b")]
    for deck in decks:
        assert_exit(invoke("report", results_dir, "--out", deck), 0)
    assert decks[0].read_bytes() == decks[1].read_bytes()

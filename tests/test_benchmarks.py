"""The benchmark suite's comparison with a saved run (benchmarks/run.py --compare)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).parents[1] / "benchmarks" / "run.py"
    spec = importlib.util.spec_from_file_location("bench_run", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up by name
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


def saved(tmp_path: Path, rows: dict[str, list[float]]) -> Path:
    file = tmp_path / "saved.json"
    file.write_text(json.dumps({"results": [{"name": n, "samples": s} for n, s in rows.items()]}))
    return file


def test_compare_judges_repeated_measurements_and_only_shows_single_ones(bench, tmp_path, capsys):
    old = saved(tmp_path, {"runs": [10.0, 10.2, 9.9, 10.1, 10.0], "memory": [257.1]})
    slower = bench.Result("runs", "runs/s", [7.0, 7.1, 6.9, 7.2, 7.0], higher_is_better=True)
    memory = bench.Result("memory", "bytes", [256.9], higher_is_better=False)
    assert bench.compare([slower, memory], old) == 1  # the repeated one got worse
    shown = capsys.readouterr().out
    assert "WORSE" in shown and "one sample" in shown
    # A single measurement alone never fails the comparison, whatever its value.
    assert bench.compare([bench.Result("memory", "bytes", [900.0], False)], old) == 0

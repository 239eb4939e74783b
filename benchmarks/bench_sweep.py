"""Sweep throughput: in-process vs a local Dask cluster, and Dask's overhead per run.

    uv run python benchmarks/bench_sweep.py                 # 1,000 small runs + 40 long ones
    uv run python benchmarks/bench_sweep.py --runs 200 --long-runs 16   # quicker

For each workload the same experiment runs twice into fresh directories: in-process
(`--workers 0`) and on a warm N-worker LocalCluster (workers started and the model run
once beforehand; the start-up time is reported on its own line). The experiment is
loaded and validated before the clock starts. Reported:

- runs/s: runs / wall time of the sweep (planning, batching, writing parts included);
- run s: mean seconds of one run as measured inside the workers;
- overhead/run: (wall time x workers - sum of run seconds) / runs, i.e. everything a
  worker-second goes to besides simulating (Dask scheduling and transfer, batching,
  waiting for the client, idle workers at the end), as a share of the mean run time;
- speed-up: in-process wall time / cluster wall time.

Numbers depend on the machine and on what else runs on it; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import textwrap
import time
from pathlib import Path

from trustsim.experiments.experiment import load_experiment
from trustsim.experiments.store import SweepDir
from trustsim.experiments.sweep import sweep

EXPERIMENT = """
name = "{name}"
scenarios = ["real-estate"]
set = [{overrides}]
replications = {replications}
seed = 11
metrics = ["closed_deals", "satisfaction", "nps"]

[design]
method = "grid"

[factors]
"stages.contract.affordance" = {{ low = 0.0, high = 1.0, levels = {levels} }}
"""


def write_experiment(folder: Path, name: str, runs: int, overrides: list[str]) -> Path:
    levels = 10 if runs >= 100 else 4
    text = EXPERIMENT.format(
        name=name,
        overrides=", ".join(f'"{o}"' for o in overrides),
        replications=max(1, runs // levels),
        levels=levels,
    )
    path = folder / f"{name}.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def timed_sweep(experiment, out: Path, **options) -> dict:
    start = time.perf_counter()
    report = sweep(experiment, out, **options)
    wall = time.perf_counter() - start
    seconds = SweepDir(out).read_runs()["seconds"]
    assert report.ran == report.total and report.failed == 0
    return {"runs": report.ran, "wall": wall, "run_seconds": float(seconds.sum())}


def start_cluster(workers: int):
    from distributed import Client

    from trustsim.experiments.sweep import local_cluster

    start = time.perf_counter()
    cluster = local_cluster(workers)  # as `trustsim sweep` starts it
    client = Client(cluster)
    client.run(_warm_up)
    return client, cluster, time.perf_counter() - start


def _warm_up() -> None:
    """Import the model and run it once, so the timed sweep measures a warm worker."""
    from trustsim.experiments.runner import simulate
    from trustsim.scenarios import load_scenario

    simulate(load_scenario("real-estate", ["market.size=10"]), 0, steps=2)


def _run_many(overrides: list[str], count: int) -> float:
    """Seconds to simulate `count` runs in this process (after a warm-up run)."""
    from trustsim.experiments.runner import replication_seed, simulate
    from trustsim.scenarios import load_scenario

    scenario = load_scenario("real-estate", overrides)
    simulate(scenario, 0)
    start = time.perf_counter()
    for r in range(count):
        simulate(scenario, replication_seed(11, r))
    return time.perf_counter() - start


def plain_process_speedup(overrides: list[str], count: int, workers: int) -> float:
    """The machine's own ceiling: `workers` plain processes running at once vs one.

    On a machine whose cores are busy with other work, or share memory bandwidth, this
    is below `workers`, and no scheduler can beat it.
    """
    from concurrent.futures import ProcessPoolExecutor

    alone = _run_many(overrides, count)
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_run_many, [overrides] * workers, [1] * workers))  # start and import
        start = time.perf_counter()
        list(pool.map(_run_many, [overrides] * workers, [count] * workers))
        together = time.perf_counter() - start
    return workers * alone / together


def row(label: str, mode: str, result: dict, workers: int, base_wall: float | None) -> str:
    runs, wall, busy = result["runs"], result["wall"], result["run_seconds"]
    mean_run = busy / runs
    overhead = (wall * workers - busy) / runs
    speedup = "" if base_wall is None else f"{base_wall / wall:.2f}x"
    return (
        f"| {label} | {mode} | {runs} | {mean_run:.3f} | {runs / wall:.1f} | "
        f"{1000 * overhead:.1f} ms ({100 * overhead / mean_run:.1f}%) | {speedup} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000, help="runs of the small workload")
    parser.add_argument("--long-runs", type=int, default=40, help="runs of >= 0.2 s")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    workloads = [
        ("small (300 buyers, 30 steps)", args.runs, ["market.size=300", "time.steps=30"]),
        ("long (30,000 buyers, 104 steps)", args.long_runs, ["market.size=30000"]),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        client, cluster, startup = start_cluster(args.workers)
        lines = [
            "| workload | mode | runs | run s | runs/s | overhead/run (% of run) | speed-up |",
            "|---|---|---|---|---|---|---|",
        ]
        try:
            for index, (label, runs, overrides) in enumerate(workloads):
                path = write_experiment(folder, f"w{index}", runs, overrides)
                experiment = load_experiment(path)  # validation is not part of the timing
                alone = timed_sweep(experiment, folder / f"in{index}", workers=0)
                on_dask = timed_sweep(experiment, folder / f"dask{index}", client=client)
                lines.append(row(label, "in-process", alone, 1, None))
                mode = f"{args.workers}-worker LocalCluster"
                lines.append(row(label, mode, on_dask, args.workers, alone["wall"]))
                count = max(2, min(runs // 4, 40))
                ceiling = plain_process_speedup(overrides, count, args.workers)
                lines.append(
                    f"| {label} | {args.workers} plain processes, no Dask (ceiling) | "
                    f"{args.workers}x{count} | | | | {ceiling:.2f}x |"
                )
        finally:
            client.close()
            cluster.close()
    print("\n".join(lines))
    print(f"\nLocalCluster start-up (not in the rows above): {startup:.1f} s")
    print(f"CPUs: {os.cpu_count()}, load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

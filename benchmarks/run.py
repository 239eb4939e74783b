"""trustsim speed and memory benchmarks: one command, one table.

In the spirit of Mesa's benchmarks: fixed configurations, model set-up and run timed
apart, a warm-up before timing, several seeds, the median reported. Every benchmark
keeps its raw samples so a later run can be compared with a saved one.

    uv run python benchmarks/run.py                     # full suite (a few minutes)
    uv run python benchmarks/run.py --quick             # fewer seeds, no 1 M run, no demo
    uv run python benchmarks/run.py --save before.json
    uv run python benchmarks/run.py --compare before.json   # flags changes beyond noise
    uv run python benchmarks/run.py --quick --scenarios     # only the built-in scenarios

Throughput is counted in *active* buyer-steps: buyers who act in a step (active or
after purchase), summed over steps, divided by the time `model.step()` took (the whole
step: every sub-step, word of mouth, arrivals and the DataCollector). The configuration
`benchmarks/all-active.toml` makes every buyer a lead at the first step and keeps them
active, so the count is close to buyers x steps.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ALL_ACTIVE = HERE / "all-active.toml"
TRUSTSIM = Path(sys.executable).parent / "trustsim"
SOBOL_EXAMPLE = "sobol-trust"  # the shipped Sobol' experiment (trustsim/experiments/examples)


@dataclass
class Result:
    """One benchmark: its raw samples and how to read them."""

    name: str
    unit: str
    samples: list[float]
    higher_is_better: bool
    config: str = ""
    target: float | None = None
    extra: dict = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def met(self) -> str:
        if self.target is None:
            return ""
        ok = self.median >= self.target if self.higher_is_better else self.median <= self.target
        return "yes" if ok else "no"


# ------------------------------------------------------------------ measurements
def _scenario(size: int):
    from trustsim.scenarios import load_scenario

    return load_scenario(ALL_ACTIVE, [f"market.size={size}"])


def _acting(engine) -> int:
    from trustsim.model.codes import ACTIVE, POST_PURCHASE

    status = engine.status
    return int(np.count_nonzero((status == ACTIVE) | (status == POST_PURCHASE)))


# The per-agent reference of the engine ratios: the agents engine stepping each buyer's
# whole `Buyer.step` in turn (`AgentsEngine.step_in_turn`), a Python pass per buyer. The
# agents engine itself gathers the agents taking part and runs each sub-step once over
# them, which makes it several times faster than this.
IN_TURN = "agents in turn"


def buyer_steps_per_second(engine: str, size: int, steps: int, seed: int) -> float:
    """Active buyer-steps per second of `model.step()`, set-up excluded."""
    from trustsim.sim import TrustModel

    scenario = _scenario(size)
    in_turn = engine == IN_TURN
    model = TrustModel(scenario, rng=seed, engine="agents" if in_turn else engine, steps=steps)
    if in_turn:  # each buyer's whole step in turn: the per-agent reference
        model.engine.step = model.engine.step_in_turn
    elapsed, active_steps = 0.0, 0
    for _ in range(steps):
        active_steps += _acting(model.engine)  # counted outside the timed region
        start = time.perf_counter()
        model.step()
        elapsed += time.perf_counter() - start
    return active_steps / elapsed


def throughput(engine: str, size: int, steps: int, seeds: int, target=None) -> Result:
    buyer_steps_per_second(engine, min(size, 1000), 3, seed=999)  # warm-up
    samples = [buyer_steps_per_second(engine, size, steps, seed) for seed in range(seeds)]
    return Result(
        name=f"throughput {engine} {size:,}",
        unit="buyer-steps/s",
        samples=samples,
        higher_is_better=True,
        config=f"all-active, {size:,} buyers, {steps} steps, {seeds} seeds",
        target=target,
    )


def engine_ratio(fast: Result, slow: Result, size: int, target: float, engine="") -> Result:
    """Fast engine over agents throughput on the same configuration (all sample pairs)."""
    samples = [f / s for f in fast.samples for s in slow.samples]
    return Result(
        name=f"engine ratio {size:,}" if not engine else f"engine ratio {engine} {size:,}",
        unit="x",
        samples=samples,
        higher_is_better=True,
        config=f"{engine or 'vectorized'} / {IN_TURN}, all-active, {size:,} buyers",
        target=target,
    )


def compile_time(cache: Path | None, label: str, repeats: int) -> Result:
    """Seconds until a compiled engine is ready in a fresh process (numba import included).

    With an empty numba cache this is the one-off compilation; with a filled one, the
    load every later process pays. `cache`: the cache directory's home
    (`XDG_CACHE_HOME`); None: the user's own.
    """
    code = (
        "from trustsim.sim import TrustModel; import trustsim.engines.compiled as c; "
        "TrustModel('real-estate', rng=0, engine='compiled', steps=1); print(c.compile_seconds)"
    )
    env = dict(os.environ)
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
        env.pop("NUMBA_CACHE_DIR", None)
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
        )
        samples.append(float(done.stdout.split()[-1]))
    return Result(
        name=f"compile ({label})",
        unit="s",
        samples=samples,
        higher_is_better=False,
        config=f"compiled engine ready in a fresh process, numba cache {label}, {repeats} runs",
    )


def _one_run(spec, seed: int, engine: str | None) -> None:
    """One run as a user gets it: the model, its run and the per-step series and summary.

    `engine=None` times the run a sweep makes (`sweep.worker._simulate_metrics`, summary only,
    the sweep's engine).
    """
    if engine is None:
        from trustsim.experiments.sweep.worker import _simulate_metrics

        _simulate_metrics(spec, seed, 0, ["closed_deals"])
        return
    from trustsim.experiments.runner import simulate

    simulate(spec, seed, engine=engine)


def _floor(spec, rng: np.random.Generator) -> None:
    """What a run must do whatever the engine: draw each step's uniforms."""
    from trustsim.model.codes import UNIFORM_ROWS

    for _ in range(spec.time.steps):
        rng.random((UNIFORM_ROWS, spec.market.size), dtype=np.float32)


def scenario_runs(name: str, engine: str | None, repeats: int) -> list[Result]:
    """Runs per second (one core) of a built-in scenario and each run's ratio to its floor.

    Runs and floors are timed alternately in this process, so the ratio holds under the
    shared machine's changing load better than either time alone.
    """
    from trustsim.scenarios import load_scenario

    spec = load_scenario(name)
    _one_run(spec, 0, engine)  # warm-up (compiles the compiled engine if needed)
    rng = np.random.default_rng(0)
    runs, floors = [], []
    for seed in range(repeats):
        start = time.perf_counter()
        _one_run(spec, seed, engine)
        runs.append(time.perf_counter() - start)
        start = time.perf_counter()
        _floor(spec, rng)
        floors.append(time.perf_counter() - start)
    label = engine or "sweep"
    config = f"{name}, {spec.market.size:,} buyers, {spec.time.steps} steps, {repeats} runs"
    how = "summary only, as a sweep runs it" if engine is None else "with its per-step series"
    return [
        Result(
            name=f"runs/s {name} {label}",
            unit="runs/s",
            samples=[1.0 / r for r in runs],
            higher_is_better=True,
            config=f"{config}; {how}",
        ),
        Result(
            name=f"floor ratio {name} {label}",
            unit="x floor",
            samples=[r / f for r, f in zip(runs, floors, strict=True)],
            higher_is_better=False,
            config=f"{config}; run time / time to draw its uniforms",
            target=2.5,
        ),
    ]


def _warm_model() -> None:
    """Run a small model once, so the timing that follows finds the engine loaded."""
    from trustsim.experiments.sweep.worker import _simulate_metrics
    from trustsim.scenarios import load_scenario

    _simulate_metrics(load_scenario("real-estate", ["market.size=10"]), 0, 0, ["leads"])


def sobol_sweep(workers: int, repeats: int) -> Result:
    """Runs per second per core of the shipped Sobol' example, end to end (`trustsim sweep`).

    Planning, every run and writing the results, into a fresh directory each time;
    in-process (`workers=0`) or on a warm local Dask cluster of `workers` processes
    (started, and the model run once in each, before the clock starts).
    """
    import tempfile

    from trustsim.experiments.experiment import load_experiment
    from trustsim.experiments.sweep import local_cluster, sweep

    experiment = load_experiment(SOBOL_EXAMPLE)
    _warm_model()
    client = cluster = None
    if workers:
        from distributed import Client

        cluster = local_cluster(workers)
        client = Client(cluster)
        client.run(_warm_model)
    samples = []
    try:
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                report = sweep(experiment, Path(folder) / "out", workers=0, client=client)
                samples.append(report.ran / (time.perf_counter() - start) / max(workers, 1))
    finally:
        if client is not None:
            client.close()
            cluster.close()
    where = f"{workers}-worker local Dask cluster" if workers else "in-process"
    return Result(
        name=f"sweep {SOBOL_EXAMPLE} {where}",
        unit="runs/s per core",
        samples=samples,
        higher_is_better=True,
        config=f"`trustsim sweep {SOBOL_EXAMPLE}` ({report.total} runs), {where}, {repeats}x",
    )


def _has_compiled_engine() -> bool:
    from trustsim.sim import ENGINES

    if "compiled" not in ENGINES:
        return False
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def setup_time(size: int, repeats: int) -> Result:
    """Seconds to build a `TrustModel` of `size` buyers (scenario parsed beforehand)."""
    from trustsim.scenarios import load_scenario
    from trustsim.sim import TrustModel

    scenario = load_scenario("real-estate", [f"market.size={size}"])
    TrustModel(scenario, rng=0, engine="vectorized")  # warm-up
    samples = []
    for seed in range(repeats):
        start = time.perf_counter()
        TrustModel(scenario, rng=seed, engine="vectorized")
        samples.append(time.perf_counter() - start)
    return Result(
        name=f"set-up {size:,}",
        unit="ms",
        samples=[1000 * s for s in samples],
        higher_is_better=False,
        config=f"real-estate, market.size={size:,}, vectorized, {repeats} repeats",
        target=20.0,
    )


def memory_probe(size: int, steps: int) -> dict:
    """Run in a fresh process: peak traced memory and peak RSS of one all-active run."""
    import resource
    import tracemalloc

    from trustsim.sim import TrustModel

    scenario = _scenario(size)
    tracemalloc.start()
    model = TrustModel(scenario, rng=0, engine="vectorized", steps=steps)
    model.run_model()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    return {"peak_traced": peak, "max_rss": max_rss}


def _probe_in_subprocess(size: int, steps: int) -> dict:
    command = [sys.executable, str(Path(__file__)), "--probe-memory", str(size), str(steps)]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def memory_per_buyer(size: int, steps: int, repeats: int) -> Result:
    """Peak traced bytes per extra buyer: (peak at 2 x size - peak at size) / size.

    The difference removes what does not grow with the market (interpreter objects, the
    block-sized temporaries of the array engine, the DataCollector's rows).
    """
    samples = []
    for _ in range(repeats):
        small = _probe_in_subprocess(size, steps)["peak_traced"]
        large = _probe_in_subprocess(2 * size, steps)["peak_traced"]
        samples.append((large - small) / size)
    return Result(
        name="memory per buyer",
        unit="bytes",
        samples=samples,
        higher_is_better=False,
        config=f"all-active, {size:,} vs {2 * size:,} buyers, {steps} steps, tracemalloc",
        target=300.0,
    )


def peak_memory(size: int, steps: int) -> Result:
    """Peak traced memory of one all-active run, and the process's peak RSS beside it."""
    probe = _probe_in_subprocess(size, steps)
    return Result(
        name=f"peak memory {size:,} x {steps}",
        unit="MiB",
        samples=[probe["peak_traced"] / 2**20],
        higher_is_better=False,
        config=f"all-active, {size:,} buyers, {steps} steps, tracemalloc peak",
        target=1024.0,
        extra={"max_rss_mib": [probe["max_rss"] / 2**20]},
    )


def command_time(args: list[str], repeats: int, name: str, target=None):
    """Wall time of a `trustsim` command in a fresh process (one warm-up run first)."""
    run = [str(TRUSTSIM), *args]
    subprocess.run(run, capture_output=True, check=True)
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(run, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return Result(
        name=name,
        unit="s",
        samples=samples,
        higher_is_better=False,
        config=f"`trustsim {' '.join(args)}`, {repeats} runs",
        target=target,
    )


# ------------------------------------------------------------------------- suite
def scenario_suite(quick: bool) -> list[Result]:
    """Every built-in scenario, run by each array engine and as a sweep runs it; the
    shipped Sobol' sweep end to end, in-process and on a 2-worker local cluster; the
    compiled engine's warm start in fresh processes."""
    from trustsim.scenarios.loader import builtin_names

    engines = ["vectorized", "compiled"] if _has_compiled_engine() else ["vectorized"]
    results = []
    for name in builtin_names():
        for engine in [*engines, None]:
            for result in scenario_runs(name, engine, 5 if quick else 11):
                results.append(result)
                _report(result)
    for workers in (0, 2):
        results.append(sobol_sweep(workers, 1 if quick else 3))
        _report(results[-1])
    if "compiled" in engines:  # the runs above filled the user's cache: a warm start
        results.append(compile_time(None, "warm", 3 if quick else 7))
        _report(results[-1])
    return results


def suite(quick: bool) -> list[Result]:
    seeds = 3 if quick else 5
    results = scenario_suite(quick)
    fast, compiled = {}, {}
    for size in (1_000, 10_000, 100_000):
        target = 10e6 if size == 100_000 else None
        fast[size] = throughput("vectorized", size, 20, seeds, target)
        results.append(fast[size])
        _report(fast[size])
    # An older trustsim (compared with --compare) may have no compiled engine.
    if _has_compiled_engine():
        import tempfile

        with tempfile.TemporaryDirectory() as cache:
            results.append(compile_time(Path(cache), "cold", 1))
            _report(results[-1])
            results.append(compile_time(Path(cache), "warm", 3))
            _report(results[-1])
        for size in (1_000, 10_000, 100_000):
            target = 10e6 if size == 100_000 else None
            compiled[size] = throughput("compiled", size, 20, seeds, target)
            results.append(compiled[size])
            _report(compiled[size])
    # Stepping buyer by buyer is 10^2-10^3 times slower: 100,000 agents would take minutes
    # per run, so it is measured at 1,000 and 10,000 buyers (fewer steps at 10,000). The
    # engine ratios hold the array engines against it; the agents engine as it runs by
    # default (agents gathered per sub-step) is timed beside it.
    from trustsim.engines.agents import AgentsEngine

    # An older trustsim (compared with --compare) may have no in-turn stepping.
    agent_configs = ((1_000, 10), (10_000, 4)) if hasattr(AgentsEngine, "step_in_turn") else ()
    for size, steps in agent_configs:
        gathered = throughput("agents", size, steps, 3)
        slow = throughput(IN_TURN, size, steps, 3)
        ratio = engine_ratio(fast[size], slow, size, target=100.0)
        results += [gathered, slow, ratio]
        for result in (gathered, slow, ratio):
            _report(result)
        if size in compiled:
            results.append(engine_ratio(compiled[size], slow, size, 100.0, engine="compiled"))
            _report(results[-1])
    results.append(setup_time(5_000, 21))
    _report(results[-1])
    results.append(memory_per_buyer(100_000, 52, 1 if quick else 3))
    _report(results[-1])
    results.append(peak_memory(100_000 if quick else 1_000_000, 52))
    _report(results[-1])
    results.append(command_time(["--help"], 10, "trustsim --help", target=0.3))
    _report(results[-1])
    if not quick:
        results.append(command_time(["demo"], 3, "trustsim demo"))
        _report(results[-1])
    return results


def _report(result: Result) -> None:
    print(f"  {result.name}: {_fmt(result.median, result.unit)}", file=sys.stderr)


# ------------------------------------------------------------------------ output
def _fmt(value: float, unit: str) -> str:
    if unit == "buyer-steps/s":
        return f"{value / 1e6:.2f} M/s" if value >= 1e5 else f"{value / 1e3:.1f} k/s"
    if unit == "x":
        return f"{value:,.0f}x"
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "x floor":
        return f"{value:.1f}x"
    if unit.startswith("runs/s"):
        return f"{value:,.1f} {unit}"
    if unit == "MiB":
        return f"{value:,.0f} MiB"
    return f"{value:,.0f} {unit}"


def _target(result: Result) -> str:
    if result.target is None:
        return ""
    sign = ">=" if result.higher_is_better else "<="
    return f"{sign} {_fmt(result.target, result.unit)}"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}; Python {platform.python_version()}; numpy {np.__version__}"


def print_table(results: list[Result], markdown: bool) -> None:
    headers = ("Benchmark", "Median", "Target", "Met", "Configuration")
    rows = [(r.name, _fmt(r.median, r.unit), _target(r), r.met(), r.config) for r in results]
    for r in results:
        if "max_rss_mib" in r.extra:
            rss = statistics.median(r.extra["max_rss_mib"])
            rows.append((f"{r.name} (process RSS)", f"{rss:,.0f} MiB", "", "", "getrusage"))
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("|" + "---|" * len(headers))
        for row in rows:
            print("| " + " | ".join(row) + " |")
        print(f"\n{machine()}")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"trustsim benchmarks ({machine()})", title_justify="left")
    for header in headers:
        table.add_column(header, justify="right" if header in ("Median", "Target") else "left")
    for row in rows:
        table.add_row(*row)
    Console(width=160).print(table)


# ----------------------------------------------------------------------- compare
def bootstrap_ratio(new, old, draws: int = 4000, seed: int = 0) -> tuple[float, float, float]:
    """Ratio of medians new/old with a 95% percentile-bootstrap confidence interval.

    Example:
        >>> ratio, low, high = bootstrap_ratio([2.0, 2.1, 1.9], [1.0, 1.05, 0.95])
        >>> round(ratio, 2), low > 1.0
        (2.0, True)
    """
    rng = np.random.default_rng(seed)
    new, old = np.asarray(new, float), np.asarray(old, float)
    boot_new = np.median(rng.choice(new, (draws, len(new))), axis=1)
    boot_old = np.median(rng.choice(old, (draws, len(old))), axis=1)
    ratios = boot_new / boot_old
    low, high = np.percentile(ratios, [2.5, 97.5])
    return float(np.median(new) / np.median(old)), float(low), float(high)


def verdict(result: Result, low: float, high: float) -> str:
    """'better' or 'worse' when the whole CI of the ratio is on one side of 1."""
    if low <= 1.0 <= high:
        return "same (within noise)"
    faster = low > 1.0 if result.higher_is_better else high < 1.0
    return "BETTER" if faster else "WORSE"


def compare(results: list[Result], saved_path: Path) -> int:
    """Print new vs saved per benchmark; return 1 if any benchmark got worse."""
    saved = {r["name"]: r for r in json.loads(saved_path.read_text())["results"]}
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Compared with {saved_path}", title_justify="left")
    for header in ("Benchmark", "Saved", "Now", "Now / saved", "95% CI", "Verdict"):
        table.add_column(header)
    worse = 0
    for r in results:
        if r.name not in saved:
            continue
        old = saved[r.name]["samples"]
        ratio, low, high = bootstrap_ratio(r.samples, old)
        # One sample a side has no spread to tell a change from noise: shown, not judged.
        word = verdict(r, low, high) if min(len(r.samples), len(old)) > 1 else "one sample"
        worse += word == "WORSE"
        table.add_row(
            r.name, _fmt(statistics.median(old), r.unit), _fmt(r.median, r.unit),
            f"{ratio:.3f}", f"[{low:.3f}, {high:.3f}]", word,
        )  # fmt: skip
    Console(width=160).print(table)
    return 1 if worse else 0


# -------------------------------------------------------------------------- main
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer seeds; no 1 M run, no demo")
    parser.add_argument("--save", type=Path, help="write the raw samples to this JSON file")
    parser.add_argument("--compare", type=Path, help="compare with a file written by --save")
    parser.add_argument(
        "--scenarios", action="store_true", help="only the built-in scenarios' runs and floors"
    )
    parser.add_argument("--markdown", action="store_true", help="print a markdown table")
    parser.add_argument("--probe-memory", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.probe_memory:
        print(json.dumps(memory_probe(*args.probe_memory)))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print("Running benchmarks (progress on stderr)...", file=sys.stderr)
    results = scenario_suite(args.quick) if args.scenarios else suite(args.quick)
    print_table(results, args.markdown)
    if args.save:
        payload = {"machine": machine(), "results": [asdict(r) for r in results]}
        args.save.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"Samples saved to {args.save}", file=sys.stderr)
    if args.compare:
        return compare(results, args.compare)
    return 0


if __name__ == "__main__":
    sys.exit(main())

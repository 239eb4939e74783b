"""Runs a strategist makes: run, compare, demo and trace."""

from __future__ import annotations

import click

from trustsim.cli.group import main
from trustsim.cli.shared import (
    common_run_options,
    decompose_option,
    engine_option,
    force_option,
    format_option,
    out_option,
    posterior_compare,
    posterior_run,
    progress,
    replications_option,
    scenario_names,
    seed_option,
    set_option,
    simulate_and_save,
    steps_option,
)

DEMO_SCENARIOS = (
    "real-estate",
    "real-estate-verifiable",
    "real-estate-funnel",
    "real-estate-verifiable-funnel",
    "delivery-trial-funnel",
    "delivery-trial-journey",
)


@main.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
@common_run_options
def run(scenarios, replications, seed, steps, overrides, engine, out_dir, force, fmt, posterior):
    """Run scenarios and show mean and 95% CI of every measure.

    SCENARIO is a built-in name (see `trustsim scenarios list`) or a TOML file.

    \b
    Example:
      trustsim run real-estate real-estate-verifiable -n 20 --seed 1
      trustsim run my-offer.toml --set market.size=5000 --out results/
    """
    import trustsim
    from trustsim import terminal

    run_scenarios = posterior_run(posterior) or trustsim.run

    def simulate():
        with progress(len(scenarios) * replications, fmt != "table") as advance:
            return run_scenarios(
                scenarios, replications=replications, seed=seed, steps=steps,
                overrides=overrides, engine=engine, progress=advance,
            )  # fmt: skip

    simulate_and_save(
        out_dir, "run", lambda: scenario_names(scenarios, overrides), force, simulate,
        lambda result: (result, {}), lambda result: terminal.print_run(result, fmt),
        announce=fmt == "table",
    )  # fmt: skip


@main.command()
@click.argument("base", metavar="BASE")
@click.argument("others", nargs=-1, required=True, metavar="OTHER...")
@common_run_options
@decompose_option()
def compare(
    base, others, replications, seed, steps, overrides, engine, out_dir, force, fmt, posterior,
    decompose,
):  # fmt: skip
    """Compare scenarios with BASE: paired differences, 95% CI, Wilcoxon p-value.

    Replication r of every scenario uses the same random numbers (common random
    numbers), so differences are paired run by run. Effects on closed deals and revenue
    are split into via conversion and via word of mouth (one more run per replication
    and alternative; --no-decompose skips it).

    \b
    Example:
      trustsim compare real-estate real-estate-verifiable real-estate-funnel -n 30
    """
    import trustsim
    from trustsim import terminal

    compare_scenarios = posterior_compare(posterior) or trustsim.compare

    def simulate():
        runs = (1 + len(others) * (2 if decompose else 1)) * replications
        with progress(runs, fmt != "table") as advance:
            return compare_scenarios(
                base, others, replications=replications, seed=seed, steps=steps,
                overrides=overrides, engine=engine, progress=advance, decompose=decompose,
            )  # fmt: skip

    simulate_and_save(
        out_dir, "compare", lambda: scenario_names([base, *others], overrides), force,
        simulate, lambda work: (work[0], {"differences.parquet": work[1]}),
        lambda work: terminal.print_comparison(*work, fmt), announce=False,
    )  # fmt: skip


@main.command()
@replications_option("Runs per scenario (common random numbers).", minimum=2)
@seed_option()
@format_option()
@out_option("out_dir", "dir", "Write run summaries and time series, as `run --out` does.")
@force_option()
@decompose_option()
def demo(replications, seed, fmt, out_dir, force, decompose):
    """The real-estate 2 x 2 (affordances x funnel pressure) and the delivery-trial pair.

    One comparison table with 95% CIs, a one-line reading of each effect and the split
    of each effect on closed deals and revenue into via conversion and via word of mouth
    (4 more runs per replication; --no-decompose skips them).

    \b
    Example:
      trustsim demo
      trustsim demo -n 50 --out demo-results/
    """
    import trustsim
    from trustsim import terminal
    from trustsim.terminal.demo import DEMO_EFFECTS

    pairs = [(base, other) for _, base, other in DEMO_EFFECTS] if decompose else []

    def simulate():
        runs = (len(DEMO_SCENARIOS) + len(pairs)) * replications
        with progress(runs, fmt != "table") as advance:
            return trustsim.run(
                DEMO_SCENARIOS, replications=replications, seed=seed, progress=advance,
                decompose=pairs,
            )  # fmt: skip

    simulate_and_save(
        out_dir, "demo", lambda: list(DEMO_SCENARIOS), force, simulate,
        lambda result: (result, {}), lambda result: terminal.print_demo(result, fmt),
        announce=False,
    )  # fmt: skip


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--buyer", "-b", required=True, type=int, help="The buyer's number (0 to size-1).")
@seed_option()
@steps_option("Horizon in steps.")
@set_option()
@engine_option("Simulation engine (both give the same trace).", ("vectorized", "agents"))
@format_option(("table", "json"))
@out_option(
    "out_path",
    "any",
    "Also write the trace: FILE.parquet, FILE.csv, or DIR (DIR/trace.parquet); a DIR "
    "holding runs takes only a trace of those runs.",
)
@force_option()
def trace(scenario, buyer, seed, steps, overrides, engine, fmt, out_path, force):
    """One buyer's journey, step by step: trust per layer, felt risk, choice
    probabilities, choice, outcome, satisfaction and reactance.

    The buyer is the same as in replication 0 of `trustsim run SCENARIO --seed S`.

    \b
    Example:
      trustsim trace real-estate --buyer 12 --seed 0
      trustsim trace delivery-trial-journey --buyer 3 --format json > buyer3.json
      trustsim run real-estate --out results/
      trustsim trace real-estate --buyer 12 --out results/ && trustsim chart results/ -k story
    """
    from trustsim.experiments import trace as tracing
    from trustsim.output import reporting_failures
    from trustsim.scenarios import load_scenario
    from trustsim.terminal.trace import print_trace

    spec = load_scenario(scenario, overrides)
    replace = tracing.check_trace_target(out_path, spec, seed, steps, force) if out_path else False
    journey = tracing.trace_buyer(spec, buyer, seed=seed, steps=steps, engine=engine)
    title = f"Buyer {buyer} in {scenario} (seed {seed})"
    print_trace(journey, buyer, title, fmt)
    if out_path:
        provenance = tracing.trace_provenance(spec, buyer, seed, steps)
        with reporting_failures(out_path):
            written = tracing.save_trace(journey, out_path, provenance, replace)
        click.echo(f"Trace written to {written}", err=True)

"""The `trustsim` command line: thin wrappers around the public Python functions.

Only click is imported at module level; each command imports what it needs when it runs,
so `trustsim --help` stays instant. Bad input raises `TrustsimInputError`, which the group
turns into one message on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import click

from trustsim.errors import TrustsimInputError

DEMO_SCENARIOS = (
    "real-estate",
    "real-estate-verifiable",
    "real-estate-funnel",
    "real-estate-verifiable-funnel",
    "delivery-trial-funnel",
    "delivery-trial-journey",
)


class TrustsimGroup(click.Group):
    """A click group that reports bad input as one line and exit code 2, no traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except TrustsimInputError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=TrustsimGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="trustsim")
def main() -> None:
    """trustsim: which features, verification options and sales tactics turn leads into
    closed deals with satisfied customers.

    \b
    Start here:
      trustsim demo                                  the 2 x 2 and the delivery pair
      trustsim run real-estate --replications 20     one scenario, mean and 95% CI
      trustsim compare real-estate real-estate-verifiable
      trustsim scenarios list
    """


# ------------------------------------------------------------------ shared options
def _common_run_options(func):
    options = [
        click.option(
            "--replications", "-n", default=20, show_default=True, type=click.IntRange(min=1),
            help="Runs per scenario; replication r uses the same random numbers in each.",
        ),
        click.option("--seed", "-s", default=0, show_default=True, type=int, help="Root seed."),
        click.option(
            "--steps", "-t", default=None, type=click.IntRange(min=1),
            help="Horizon in steps (default: the scenario's time.steps).",
        ),
        click.option(
            "--set", "overrides", multiple=True, metavar="PATH=VALUE",
            help="Override a scenario value, e.g. --set stages.contract.affordance=0.8 "
            "(repeatable; applied to every scenario).",
        ),
        click.option(
            "--engine", type=click.Choice(["vectorized", "agents", "compiled"]),
            default="vectorized", show_default=True,
            help="Simulation engine: buyers as arrays, each a Mesa agent (slow), or arrays "
            "with numba-compiled sub-steps (fast, needs numba); the same results.",
        ),
        click.option(
            "--out", "out_dir", type=click.Path(file_okay=False), default=None,
            help="Write run summaries and time series (Parquet) and resolved scenarios (TOML).",
        ),
        click.option(
            "--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table",
            show_default=True, help="Output format on stdout.",
        ),
        click.option(
            "--posterior", default=None, metavar="DIR", type=click.Path(file_okay=False),
            help="Draw each replication's parameters from the posterior of `trustsim "
            "calibrate --out DIR` (the same draw in every scenario).",
        ),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _progress(total_runs: int, quiet: bool):
    """A rich progress bar on stderr for work likely to take over a second."""
    from trustsim.terminal import progress_bar

    return progress_bar(total_runs, enabled=not quiet and total_runs > 4)


# ------------------------------------------------------------------------ commands
@main.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
@_common_run_options
def run(scenarios, replications, seed, steps, overrides, engine, out_dir, fmt, posterior):
    """Run scenarios and show mean and 95% CI of every measure.

    SCENARIO is a built-in name (see `trustsim scenarios list`) or a TOML file.

    \b
    Example:
      trustsim run real-estate real-estate-verifiable -n 20 --seed 1
      trustsim run my-offer.toml --set market.size=5000 --out results/
    """
    import trustsim
    from trustsim import terminal

    run_scenarios = _posterior_run(posterior) or trustsim.run
    with _progress(len(scenarios) * replications, fmt != "table") as advance:
        result = run_scenarios(
            scenarios, replications=replications, seed=seed, steps=steps,
            overrides=overrides, engine=engine, progress=advance,
        )  # fmt: skip
    if out_dir:
        result.write(out_dir)
    terminal.print_run(result, fmt)
    if out_dir and fmt == "table":
        click.echo(f"Results written to {out_dir}", err=True)


@main.command()
@click.argument("base", metavar="BASE")
@click.argument("others", nargs=-1, required=True, metavar="OTHER...")
@_common_run_options
def compare(base, others, replications, seed, steps, overrides, engine, out_dir, fmt, posterior):
    """Compare scenarios with BASE: paired differences, 95% CI, Wilcoxon p-value.

    Replication r of every scenario uses the same random numbers (common random
    numbers), so differences are paired run by run.

    \b
    Example:
      trustsim compare real-estate real-estate-verifiable real-estate-funnel -n 30
    """
    import trustsim
    from trustsim import terminal

    compare_scenarios = _posterior_compare(posterior) or trustsim.compare
    with _progress((1 + len(others)) * replications, fmt != "table") as advance:
        result, diffs = compare_scenarios(
            base, others, replications=replications, seed=seed, steps=steps,
            overrides=overrides, engine=engine, progress=advance,
        )  # fmt: skip
    if out_dir:
        result.write(out_dir)
        from trustsim.experiments.output import write_parquet_atomic

        write_parquet_atomic(diffs, f"{out_dir}/differences.parquet")
    terminal.print_comparison(result, diffs, fmt)


@main.command()
@click.option("--replications", "-n", default=20, show_default=True, type=click.IntRange(min=2))
@click.option("--seed", "-s", default=0, show_default=True, type=int)
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None)
def demo(replications, seed, fmt, out_dir):
    """The real-estate 2 x 2 (affordances x funnel pressure) and the delivery-trial pair.

    One comparison table with 95% CIs and a one-line reading of each effect.

    \b
    Example:
      trustsim demo
      trustsim demo -n 50 --out demo-results/
    """
    import trustsim
    from trustsim import terminal

    with _progress(len(DEMO_SCENARIOS) * replications, fmt != "table") as advance:
        result = trustsim.run(
            DEMO_SCENARIOS, replications=replications, seed=seed, progress=advance
        )
    if out_dir:
        result.write(out_dir)
    terminal.print_demo(result, fmt)


@main.group()
def scenarios() -> None:
    """List, show and validate scenarios.

    \b
    Example:
      trustsim scenarios list
      trustsim scenarios show real-estate-verifiable
      trustsim scenarios validate my-offer.toml
    """


@scenarios.command("list")
def scenarios_list():
    """List the built-in scenarios with their descriptions."""
    from trustsim import terminal
    from trustsim.scenarios import builtin_names, load_scenario

    terminal.print_scenario_list([load_scenario(name) for name in builtin_names()])


@scenarios.command("show")
@click.argument("scenario")
@click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help="Override a value.")
def scenarios_show(scenario, overrides):
    """Print the fully resolved SCENARIO (a name or a file) as TOML.

    \b
    Example:
      trustsim scenarios show real-estate --set market.size=500 > mine.toml
    """
    from trustsim.scenarios import load_scenario, scenario_to_toml

    click.echo(scenario_to_toml(load_scenario(scenario, overrides)), nl=False)


@scenarios.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def scenarios_validate(files):
    """Check scenario FILEs; print OK or one message per problem (exit code 2).

    \b
    Example:
      trustsim scenarios validate my-offer.toml
    """
    from trustsim.scenarios import load_scenario

    for path in files:
        scenario = load_scenario(path)
        click.echo(f"{path}: OK ({scenario.name}, {len(scenario.stages)} stages)")


# --- charts, decks and feature value (issue 5) ------------------------------------
CHART_KINDS = (
    "comparison", "difference", "funnel", "trust", "horizon", "leads",
    "usage-value", "heatmap", "sensitivity", "story",
)  # fmt: skip


@main.command()
@click.argument("results_dir", metavar="RESULTS")
@click.option("--kind", "-k", required=True, type=click.Choice(CHART_KINDS), help="Chart kind.")
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default=None,
    help="File format (default: from --out, else png).",
)  # fmt: skip
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="Chart file (default: RESULTS/charts/KIND.FORMAT).",
)
@click.option(
    "--metric",
    default="closed_deals",
    show_default=True,
    help="Run measure for comparison and difference charts.",
)
@click.option("--base", default=None, help="Baseline scenario of the difference chart.")
@click.option("--scenario", default=None, help="Scenario of the funnel and trust charts.")
def chart(results_dir, kind, fmt, out_file, metric, base, scenario):
    """Draw one deck-ready chart (16:9, action title from the data) from RESULTS.

    RESULTS is a directory written by `trustsim run/compare/features --out DIR`. The
    numbers behind the chart are written beside it as CSV.

    \b
    Example:
      trustsim compare real-estate real-estate-verifiable --out results/
      trustsim chart results/ --kind difference --format svg --out verifiable.svg
    """
    from pathlib import Path

    import matplotlib.pyplot as plt

    from trustsim.charts import load_results, make_chart, save_chart

    fmt = fmt or (Path(out_file).suffix.lstrip(".").lower() if out_file else "png")
    if fmt not in ("png", "svg", "pdf"):
        raise TrustsimInputError(f"--out {out_file}: use a .png, .svg or .pdf file name.")
    out = Path(out_file) if out_file else Path(results_dir) / "charts" / f"{kind}.{fmt}"
    results = load_results(results_dir)
    drawn = make_chart(results, kind, metric=metric, base=base, scenario=scenario)
    save_chart(drawn, out, fmt)
    drawn.data.to_csv(out.with_suffix(".csv"), index=False)
    plt.close(drawn.figure)
    click.echo(drawn.title)
    click.echo(f"Chart written to {out} (numbers: {out.with_suffix('.csv')})", err=True)


@main.command()
@click.argument("results_dir", metavar="RESULTS")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False),
    default="deck.pptx",
    show_default=True,
    help="The deck (.pptx); CSVs go to <name>-data/ beside it.",
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .pptx whose slide masters and layouts to use.",
)
@click.option("--pdf", is_flag=True, help="Also write the same pages as <name>.pdf.")
def report(results_dir, out_file, template, pdf):
    """Write a 16:9 client deck of every chart RESULTS supports, with speaker notes.

    One slide per chart with its action title, a takeaway box and the provenance in the
    notes; an appendix with the scenario parameters; a CSV per chart beside the deck.

    \b
    Example:
      trustsim demo --out demo/ && trustsim report demo/ --out demo.pptx --pdf
    """
    from trustsim.charts import load_results
    from trustsim.report import build_report

    deck = build_report(load_results(results_dir), out_file, template=template, pdf=pdf)
    for i, title in enumerate(deck.titles, start=1):
        click.echo(f"{i:2d}. {title}")
    written = ", ".join(str(p) for p in (deck.pptx, deck.pdf, deck.csv_dir) if p)
    click.echo(f"Written: {written}", err=True)


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option(
    "--replications",
    "-n",
    default=20,
    show_default=True,
    type=click.IntRange(min=2),
    help="Paired runs per variant (common random numbers).",
)
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Root seed.")
@click.option("--steps", "-t", default=None, type=click.IntRange(min=1), help="Horizon in steps.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario value before features are removed (repeatable).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write features.parquet/.csv and the runs (for `trustsim chart/report`).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
)
def features(scenario, replications, seed, steps, overrides, out_dir, fmt):
    """Usage is not value: remove each delegation feature and verification affordance
    in turn and measure what it costs in closed deals and satisfaction (95% CIs).

    \b
    Example:
      trustsim features real-estate-verifiable -n 20 --out features/
      trustsim chart features/ --kind usage-value
    """
    from trustsim.experiments.features import feature_value, print_features, removable_features
    from trustsim.scenarios import load_scenario

    count = len(removable_features(load_scenario(scenario, overrides))[0]) + 1
    with _progress(count * replications, fmt != "table") as advance:
        value = feature_value(scenario, replications, seed, steps, overrides, advance)
    if out_dir:
        value.write(out_dir)
    print_features(value, fmt)
    if out_dir and fmt == "table":
        click.echo(f"Results written to {out_dir}", err=True)


# --- sweeps and sensitivity (issue 4) ---------------------------------------------
def _sweep_options(func):
    options = [
        click.option(
            "--out", "out_dir", type=click.Path(file_okay=False), default=None,
            help="Results directory (default: sweeps/<experiment name>). "
            "Rerun with the same directory to resume.",
        ),
        click.option(
            "--workers", "-w", type=click.IntRange(min=0), default=None,
            help="Local Dask worker processes (default: one per CPU); 0 runs in-process.",
        ),
        click.option(
            "--scheduler", default=None, metavar="ADDRESS",
            help="Use a running Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of a "
            "local cluster.",
        ),
        click.option(
            "--batch-size", type=click.IntRange(min=1), default=None,
            help="Runs per Dask task (default: as many as take about a second).",
        ),
        click.option("--dashboard", is_flag=True, help="Serve the local Dask dashboard on :8787."),
        click.option("--quiet", "-q", is_flag=True, help="No progress bar."),
    ]  # fmt: skip
    for option in reversed(options):
        func = option(func)
    return func


def _run_sweep(experiment, out_dir, workers, scheduler, batch_size, dashboard, quiet):
    """Run a sweep with a progress display; Ctrl-C or SIGTERM stop it cleanly (exit 130)."""
    import signal

    from trustsim.experiments.sweep import ProgressDisplay, sweep

    if workers is not None and scheduler is not None:
        raise TrustsimInputError("give either --workers or --scheduler, not both.")

    def stop(signum, frame):  # a batch system's SIGTERM stops like Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    display = None if quiet else ProgressDisplay(experiment.name)
    try:
        with display or _nullcontext():
            return sweep(
                experiment, out_dir, workers=workers, scheduler=scheduler,
                batch_size=batch_size, dashboard=dashboard, progress=display,
            )  # fmt: skip
    except KeyboardInterrupt:
        click.echo(
            f"Interrupted. Every completed batch is in {out_dir}; run the same command "
            "again to resume.",
            err=True,
        )
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _nullcontext():
    import contextlib

    return contextlib.nullcontext()


def _default_out(experiment, out_dir) -> str:
    return out_dir if out_dir is not None else f"sweeps/{experiment.name}"


def _describe_plan(experiment, out_dir) -> str:
    from trustsim.experiments.design import design_size, sobol_base_samples

    n = design_size(experiment)
    spec = experiment.spec
    scenarios = len(experiment.bases)
    runs = n * scenarios * spec.replications
    text = (
        f"{experiment.name}: {spec.design.method} design, {n} points x {scenarios} "
        f"scenario{'s' * (scenarios > 1)} x {spec.replications} replications = {runs} runs "
        f"-> {out_dir}"
    )
    if spec.design.method == "sobol" and sobol_base_samples(spec.design.samples) != (
        spec.design.samples
    ):
        text += (
            f"\n(samples = {spec.design.samples} rounded up to "
            f"{sobol_base_samples(spec.design.samples)}: Sobol' sequences are balanced only "
            "at powers of two)"
        )
    return text


@main.command()
@click.argument("experiment", metavar="EXPERIMENT")
@_sweep_options
@click.option("--dry-run", is_flag=True, help="Validate the experiment and show the plan only.")
def sweep(experiment, out_dir, workers, scheduler, batch_size, dashboard, quiet, dry_run):
    """Run every design point x replication of EXPERIMENT on Dask, resumably.

    EXPERIMENT is an experiment TOML file or a shipped example (affordance-pressure-grid,
    lhs-trust, sobol-trust). Each finished batch is written at once as a Parquet part;
    rerunning the same command skips the runs already on disk.

    \b
    Example:
      trustsim sweep affordance-pressure-grid --out sweeps/grid
      trustsim sweep my-experiment.toml --scheduler tcp://10.0.0.5:8786
      trustsim results sweeps/grid
    """
    from trustsim.experiments.experiment import load_experiment

    loaded = load_experiment(experiment)
    out_dir = _default_out(loaded, out_dir)
    click.echo(_describe_plan(loaded, out_dir), err=True)
    if dry_run:
        return
    report = _run_sweep(loaded, out_dir, workers, scheduler, batch_size, dashboard, quiet)
    click.echo(
        f"{report.total} runs planned: {report.skipped} were on disk, {report.ran} ran now "
        f"in {report.seconds:.1f} s; {report.failed} failed. Results in {report.out_dir}; "
        f"see `trustsim results {report.out_dir}`.",
        err=True,
    )


@main.command()
@click.argument("sweep_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--metric", "-m", "metrics", multiple=True, help="Metric(s) to show (repeatable).")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)  # fmt: skip
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=1),
              help="Design points shown in the table.")  # fmt: skip
@click.option("--compact", is_flag=True, help="First merge the Parquet parts into one file.")
def results(sweep_dir, metrics, fmt, limit, compact):
    """Per design point means and 95% CIs of a sweep in DIR.

    \b
    Example:
      trustsim results sweeps/grid
      trustsim results sweeps/grid -m closed_deals --format csv > grid.csv
      trustsim results sweeps/grid --compact
    """
    from trustsim.experiments import results as sweep_results

    if compact:
        before, kept = sweep_results.compact(sweep_dir)
        click.echo(f"Compacted {before} parts into one ({kept} runs).", err=True)
    table = sweep_results.point_summary(sweep_dir, metrics)
    sweep_results.print_summary(sweep_dir, table, fmt, limit)
    failures = sweep_results.failure_summary(sweep_dir)
    for row in failures.head(5).itertuples():
        click.echo(f"{row.runs} run(s) failed with: {row.error}", err=True)


@main.command()
@click.argument("experiment", metavar="EXPERIMENT|DIR")
@_sweep_options
@click.option("--metric", "-m", "metrics", multiple=True, help="Metric(s) to analyse.")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=10),
              help="Bootstrap resamples for the confidence intervals.")  # fmt: skip
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table",
              show_default=True)  # fmt: skip
def sensitivity(
    experiment, out_dir, workers, scheduler, batch_size, dashboard, quiet, metrics,
    resamples, fmt,
):  # fmt: skip
    """Sobol' indices (S1, ST with bootstrap CIs) or Morris effects of EXPERIMENT.

    Runs the experiment's sweep first (only the runs not on disk yet), then writes
    sensitivity.parquet and sensitivity.csv beside the sweep results. Given a sweep
    DIR instead, only analyses it.

    \b
    Example:
      trustsim sensitivity sobol-trust --out sweeps/sobol-trust
      trustsim sensitivity sweeps/sobol-trust -m closed_deals --format csv
    """
    from pathlib import Path

    from trustsim.experiments import sensitivity as sa
    from trustsim.experiments.experiment import load_experiment

    if (Path(experiment) / "sweep.json").is_file():
        out_dir = experiment
    else:
        loaded = load_experiment(experiment)
        if loaded.spec.design.method not in ("sobol", "morris"):
            raise TrustsimInputError(
                f"{experiment}: design.method = {loaded.spec.design.method!r} has no "
                'sensitivity indices. Use method = "sobol" or "morris".'
            )
        out_dir = _default_out(loaded, out_dir)
        click.echo(_describe_plan(loaded, out_dir), err=True)
        _run_sweep(loaded, out_dir, workers, scheduler, batch_size, dashboard, quiet)
    table = sa.analyze(out_dir, metrics, resamples)
    paths = sa.write_sensitivity(out_dir, table)
    sa.print_indices(table, fmt)
    for metric in sorted(set(table.loc[table["value"].isna(), "metric"])):
        click.echo(f"Note: {metric} is undefined at some design points; no indices.", err=True)
    click.echo(f"Written: {', '.join(str(p) for p in paths)}", err=True)


# --- trace (issue 3) ----------------------------------------------------------------
@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--buyer", "-b", required=True, type=int, help="The buyer's number (0 to size-1).")
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Root seed.")
@click.option("--steps", "-t", default=None, type=click.IntRange(min=1), help="Horizon in steps.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario value (repeatable).",
)
@click.option(
    "--engine",
    type=click.Choice(["vectorized", "agents"]),
    default="vectorized",
    show_default=True,
    help="Simulation engine (both give the same trace).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format on stdout.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(),
    default=None,
    help="Also write the trace: FILE.parquet, FILE.csv, or DIR (DIR/trace.parquet).",
)
def trace(scenario, buyer, seed, steps, overrides, engine, fmt, out_path):
    """One buyer's journey, step by step: trust per layer, felt risk, choice
    probabilities, choice, outcome, satisfaction and reactance.

    The buyer is the same as in replication 0 of `trustsim run SCENARIO --seed S`.

    \b
    Example:
      trustsim trace real-estate --buyer 12 --seed 0
      trustsim trace delivery-trial-journey --buyer 3 --format json > buyer3.json
      trustsim trace real-estate --buyer 12 --out results/ && trustsim chart results/ -k story
    """
    from trustsim.experiments.trace import print_trace, trace_buyer

    journey = trace_buyer(
        scenario, buyer, seed=seed, steps=steps, overrides=overrides, engine=engine
    )
    title = f"Buyer {buyer} in {scenario} (seed {seed})"
    print_trace(journey, buyer, title, fmt)
    if out_path:
        from trustsim.experiments.trace import write_trace

        click.echo(f"Trace written to {write_trace(journey, out_path)}", err=True)


# --- end trace (issue 3) ------------------------------------------------------------


# --- calibration: observe and calibrate -----------------------------------------------
@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Root seed.")
@click.option(
    "--steps",
    "-t",
    default=None,
    type=click.IntRange(min=1),
    help="Observation window in steps (default: the scenario's time.steps).",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario value: the 'true' parameters of synthetic data (repeatable).",
)
@click.option(
    "--out", "out_file", required=True, type=click.Path(dir_okay=False),
    help="The funnel data file to write (TOML).",
)  # fmt: skip
def observe(scenario, seed, steps, overrides, out_file):
    """Write what a firm would record from one run of SCENARIO as a funnel data file.

    Leads per period, per stage the buyers who entered, passed, walked away and
    verified, NPS counts, mean satisfaction and closed deals, in the format `trustsim
    calibrate --data` reads. The run is replication 0 of `trustsim run --seed S`; the
    file is labelled synthetic.

    \b
    Example:
      trustsim observe real-estate --set choice.exit_bias=-1.0 --seed 7 --out data.toml
      trustsim calibrate real-estate --data data.toml --priors priors.toml --out cal/
    """
    from trustsim.calibration import data_to_toml
    from trustsim.calibration import observe as observe_run
    from trustsim.experiments.output import write_text_atomic

    data = observe_run(scenario, overrides, seed=seed, steps=steps)
    comment = (
        "SYNTHETIC funnel data written by `trustsim observe`: one simulated run, not a "
        "firm's books.\nFormat: see README.md, section 'Calibration'."
    )
    try:
        write_text_atomic(out_file, data_to_toml(data, comment))
    except OSError as exc:
        _write_failed(out_file, exc)
    click.echo(
        f"Observed {data.total_leads} leads and {data.closed_deals} closed deals over "
        f"{data.window.periods} {data.window.unit}s; written to {out_file}",
        err=True,
    )


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option(
    "--data",
    "data_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="The firm's funnel data (TOML; see `trustsim observe` and the README).",
)
@click.option(
    "--priors",
    "priors_file",
    required=True,
    type=click.Path(dir_okay=False),
    help="Ranges of the parameters to calibrate (TOML, dotted scenario paths).",
)
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Calibration directory; rerun with the same directory to resume.",
)
@click.option(
    "--budget",
    default=3000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Model runs in all (waves and the final check).",
)
@click.option(
    "--replications",
    "-n",
    default=4,
    show_default=True,
    type=click.IntRange(min=2),
    help="Runs per point (common random numbers across points).",
)
@click.option(
    "--draws",
    default=250,
    show_default=True,
    type=click.IntRange(min=10),
    help="The least posterior draws run for real in the final check; budget the waves "
    "leave buys more.",
)
@click.option("--seed", "-s", default=0, show_default=True, type=int, help="Root seed.")
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="A value known for this firm, e.g. --set market.size=5000 (repeatable).",
)
@click.option(
    "--holdout",
    default=None,
    metavar="STATS",
    help="Statistics or stages kept out of the fit and checked afterwards, comma-separated "
    "(e.g. handover,after_sales or conversion[payment]).",
)
@click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=0),
    default=None,
    help="Local Dask worker processes (default: one per CPU); 0 runs in-process.",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="ADDRESS",
    help="Use a running Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of a local cluster.",
)
@click.option("--quiet", "-q", is_flag=True, help="No line per wave.")
def calibrate(
    scenario, data_file, priors_file, out_dir, budget, replications, draws, seed, overrides,
    holdout, workers, scheduler, quiet,
):  # fmt: skip
    """Calibrate SCENARIO's uncertain parameters to a firm's funnel data.

    Waves of history matching with Gaussian-process emulators (one per statistic) rule
    out the parameter values that cannot reproduce the data; draws from what is left are
    run for real and weighted by their likelihood. Writes posterior.parquet,
    posterior-summary.csv, calibrated.toml (extends SCENARIO), waves.csv and
    posterior-predictive.csv to DIR; fails (exit 1) if the effective sample size is
    below 50.

    \b
    Example:
      trustsim observe real-estate --set choice.exit_bias=-1.0 --seed 7 --out data.toml
      trustsim calibrate real-estate --data data.toml --priors priors.toml --out cal/
      trustsim run cal/calibrated.toml -n 20
    """
    import signal

    from trustsim.calibration.calibrate import (
        CalibrationError,
        Settings,
        check_budget,
        load_problem,
        sweep_runner,
    )
    from trustsim.calibration.calibrate import calibrate as run_calibration

    if workers is not None and scheduler is not None:
        raise TrustsimInputError("give either --workers or --scheduler, not both.")
    held = [item for item in (holdout or "").split(",") if item.strip()]
    problem = load_problem(scenario, data_file, priors_file, held, overrides)
    settings = Settings(budget=budget, replications=replications, final_draws=draws, seed=seed)
    check_budget(problem, settings)

    def stop(signum, frame):  # a batch system's SIGTERM stops like Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    log = (lambda line: None) if quiet else (lambda line: click.echo(line, err=True))
    try:
        with sweep_runner(workers, scheduler, batch_size=replications) as runner:
            result = run_calibration(problem, out_dir, settings, runner, log)
    except CalibrationError as exc:
        click.echo(f"Calibration failed: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        _write_failed(out_dir, exc)
    except KeyboardInterrupt:
        click.echo(
            f"Interrupted. Every finished run is in {out_dir}; run the same command again "
            "to resume.",
            err=True,
        )
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    from trustsim.calibration.outputs import print_calibration

    print_calibration(result)


def _write_failed(path, exc: OSError) -> None:
    """A path the user gave cannot be written (exit 2), or the machine failed (exit 1)."""
    import errno

    user_path = exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR,
                              errno.EISDIR, errno.EROFS, errno.EEXIST)  # fmt: skip
    fix = "give a path you can write" if user_path else "free space or fix the file system"
    click.echo(f"Error: {path}: cannot write ({exc.strerror or exc}); {fix}.", err=True)
    sys.exit(2 if user_path else 1)


def _posterior_run(posterior_dir):
    """`trustsim.run` with parameters drawn from a calibration's posterior, or None."""
    if posterior_dir is None:
        return None
    from trustsim.calibration.carry import posterior_note, run_with_posterior

    def run(scenarios, replications, **kwargs):
        click.echo(posterior_note(posterior_dir, replications), err=True)
        return run_with_posterior(scenarios, posterior_dir, replications, **kwargs)

    return run


def _posterior_compare(posterior_dir):
    """`trustsim.compare` with parameters drawn from a calibration's posterior, or None."""
    if posterior_dir is None:
        return None
    from trustsim.calibration.carry import compare_with_posterior, posterior_note

    def compare(base, others, replications, **kwargs):
        click.echo(posterior_note(posterior_dir, replications), err=True)
        return compare_with_posterior(base, others, posterior_dir, replications, **kwargs)

    return compare


if __name__ == "__main__":  # pragma: no cover
    main()

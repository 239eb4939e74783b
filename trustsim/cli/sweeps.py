"""Sweeps on a cluster, their results and sensitivity; robustness and scenario discovery."""

from __future__ import annotations

import contextlib
import logging
import sys

import click

from trustsim.cli.group import main
from trustsim.cli.shared import (
    combine,
    format_option,
    out_option,
    posterior_draws,
    posterior_option,
    quiet_option,
    replications_option,
    scheduler_option,
    seed_option,
    set_option,
    workers_option,
)
from trustsim.errors import TrustsimInputError

_sweep_options = combine(
    [
        out_option(
            "out_dir", "dir",
            "Results directory (default: sweeps/<experiment name>). "
            "Rerun with the same directory to resume.",
        ),
        workers_option(),
        scheduler_option(),
        click.option(
            "--batch-size", type=click.IntRange(min=1), default=None,
            help="Runs per Dask task (default: as many as take about a second).",
        ),
        click.option(
            "--connect-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
            metavar="SECONDS",
            help="Give up on a --scheduler not reached within SECONDS (default 10), or "
            "without a worker after SECONDS (default: keep waiting).",
        ),
        click.option(
            "--retry-failed", is_flag=True,
            help="Also rerun the runs that failed (an error raised by the model).",
        ),
        click.option("--dashboard", is_flag=True, help="Serve the local Dask dashboard on :8787."),
        quiet_option(),
        posterior_option("design point", "the design's own values"),
    ]
)  # fmt: skip


class _WarningEcho(logging.Handler):
    """Shows trustsim's warnings (a part set aside, no workers yet) as lines on stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(f"Warning: {record.getMessage()}", err=True)


@contextlib.contextmanager
def _sweep_session():
    """Warnings on stderr; a failing machine (disk full, cluster gone) is one message and
    exit code 1, since what is on disk is complete and rerunning resumes."""
    from trustsim.experiments.store import SweepEnvironmentError

    logger = logging.getLogger("trustsim")
    handler = _WarningEcho(logging.WARNING)
    logger.addHandler(handler)
    try:
        yield
    except SweepEnvironmentError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    finally:
        logger.removeHandler(handler)


def _run_sweep(experiment, out_dir, options: dict, quiet: bool):
    """Run a sweep with a progress display; Ctrl-C or SIGTERM stop it cleanly (exit 130)."""
    import signal

    from trustsim.experiments.sweep import sweep
    from trustsim.terminal import ProgressDisplay

    if options["workers"] is not None and options["scheduler"] is not None:
        raise TrustsimInputError("give either --workers or --scheduler, not both.")
    options = dict(options)
    spec = experiment.spec
    options["draws"] = posterior_draws(options.pop("posterior"), spec.replications, experiment.seed)

    def stop(signum, frame):  # a batch system's SIGTERM stops like Ctrl-C
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    display = None if quiet else ProgressDisplay(experiment.name)
    try:
        with display or contextlib.nullcontext():
            return sweep(experiment, out_dir, progress=display, **options)
    except KeyboardInterrupt:
        click.echo(
            f"Interrupted. Every completed batch is in {out_dir}; run the same command "
            "again to resume.",
            err=True,
        )
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


def _default_out(experiment, out_dir) -> str:
    return out_dir if out_dir is not None else f"sweeps/{experiment.name}"


def _describe_plan(experiment, out_dir) -> str:
    from trustsim.experiments.design import design_size, sobol_base_samples
    from trustsim.experiments.sweep import check_plan_size

    check_plan_size(experiment)
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
def sweep(experiment, out_dir, quiet, dry_run, **options):
    """Run every design point x replication of EXPERIMENT on Dask, resumably.

    EXPERIMENT is an experiment TOML file or a shipped example (affordance-pressure-grid,
    lhs-trust, sobol-trust). Each finished batch is written at once as a Parquet part;
    rerunning the same command skips the runs already on disk, after any crash or a lost
    cluster; --retry-failed also reruns the runs whose model raised an error.

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
    with _sweep_session():
        report = _run_sweep(loaded, out_dir, options, quiet)
    click.echo(
        f"{report.total} runs planned: {report.skipped} were on disk, {report.ran} ran now "
        f"in {report.seconds:.1f} s; {report.failed} failed. Results in {report.out_dir}; "
        f"see `trustsim results {report.out_dir}`.",
        err=True,
    )


@main.command()
@click.argument("sweep_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--metric", "-m", "metrics", multiple=True, help="Metric(s) to show (repeatable).")
@format_option(("table", "csv", "json"))
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
    from trustsim.terminal.sweeps import print_summary

    with _sweep_session():
        if compact:
            before, kept = sweep_results.compact(sweep_dir)
            click.echo(f"Compacted {before} parts into one ({kept} runs).", err=True)
        table = sweep_results.point_summary(sweep_dir, metrics)
        print_summary(sweep_dir, table, fmt, limit)
        failures = sweep_results.failure_summary(sweep_dir)
    for row in failures.head(5).itertuples():
        click.echo(f"{row.runs} run(s) failed with: {row.error}", err=True)
    if len(failures):
        click.echo("Rerun the sweep with --retry-failed to run the failed runs again.", err=True)


@main.command()
@click.argument("experiment", metavar="EXPERIMENT|DIR")
@_sweep_options
@click.option("--metric", "-m", "metrics", multiple=True, help="Metric(s) to analyse.")
@click.option("--resamples", default=1000, show_default=True, type=click.IntRange(min=10),
              help="Bootstrap resamples for the confidence intervals.")  # fmt: skip
@format_option(("table", "csv", "json"))
def sensitivity(experiment, out_dir, quiet, metrics, resamples, fmt, **options):
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
    from trustsim.terminal.sweeps import print_indices

    if (Path(experiment) / "sweep.json").is_file():
        if options["posterior"] is not None:
            raise TrustsimInputError(
                f"--posterior: {experiment} is a sweep already run; give the experiment "
                "to run it with parameters drawn from the posterior."
            )
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
        with _sweep_session():
            _run_sweep(loaded, out_dir, options, quiet)
    with _sweep_session():
        table = sa.analyze(out_dir, metrics, resamples)
        paths = sa.write_sensitivity(out_dir, table)
    print_indices(table, fmt)
    for metric in sorted(set(table.loc[table["value"].isna(), "metric"])):
        click.echo(f"Note: {metric} is undefined at some design points; no indices.", err=True)
    click.echo(f"Written: {', '.join(str(p) for p in paths)}", err=True)


@main.command()
@click.argument("base", metavar="BASE")
@click.argument("alternatives", metavar="ALT...", nargs=-1, required=True)
@_sweep_options
@click.option(
    "--samples",
    default=256,
    show_default=True,
    type=click.IntRange(min=2),
    help="Latin-hypercube worlds (draws of the assumed constants); 256 give PRIM the "
    "power to find a sharp region among 43 constants (benchmarks/bench_prim_power.py).",
)
@replications_option(
    "Paired replications per world and scenario.", default=5, minimum=2, short="-r"
)
@click.option(
    "--factors",
    "factors_file",
    default=None,
    metavar="FILE",
    help="TOML choosing the factors (default: every assumed or calibrated "
    "constant of the ledger, docs/ODD.md 9.12).",
)
@click.option(
    "--no-durations", "fixed_durations", is_flag=True,
    help="Hold stage durations at the scenarios' values (default: also sample one visit "
    "length for every stage over its plausible range in whole steps, docs/ODD.md 9.11).",
)  # fmt: skip
@set_option("Override a value in every scenario (repeatable), e.g. market.size=500.")
@seed_option("Root seed (the same replication seeds in every world and scenario).")
def robustness(
    base,
    alternatives,
    out_dir,
    quiet,
    samples,
    replications,
    factors_file,
    fixed_durations,
    overrides,
    seed,
    **options,
):
    """In what share of plausible worlds does each conclusion about ALT vs BASE hold?

    Samples the constants the parameter ledger marks as assumed or calibrated over their
    plausible ranges, and one visit length every stage shares in whole steps (Latin
    hypercube), runs every scenario at every world with common
    random numbers as a resumable sweep in DIR, and writes robustness.csv (share of
    worlds where the sign seen at the defaults holds, Wilson 95% CI, share where the
    paired CI excludes 0), effects.parquet and charts/robustness.png.

    \b
    Example:
      trustsim robustness real-estate real-estate-verifiable --out rob/
      trustsim discover rob/ --scenario real-estate-verifiable --metric closed_deals
    """
    from trustsim.robustness import study

    if out_dir is None:
        raise TrustsimInputError("robustness: --out DIR is required (the study directory).")
    factors = study.load_factors(factors_file) if factors_file else None
    if factors is None:
        from trustsim.scenarios.ledger import assumed_ranges

        factors = assumed_ranges()
    experiment = study.build_experiment(
        base, alternatives, factors, samples, replications, seed, overrides,
        durations=not fixed_durations,
    )  # fmt: skip
    click.echo(_describe_plan(experiment, out_dir), err=True)
    click.echo(study.durations_note(experiment), err=True)
    with _sweep_session():
        report = _run_sweep(experiment, out_dir, options, quiet)
        study.analyse(experiment, out_dir)
    click.echo(
        f"{report.total} runs ({report.ran} now, {report.skipped} on disk) in "
        f"{report.seconds:.1f} s; {report.failed} failed.",
        err=True,
    )
    from trustsim.robustness.discover import robustness_summary

    for sentence in robustness_summary(out_dir):
        click.echo(sentence)
    click.echo(f"Written: {out_dir}/robustness.csv, {out_dir}/charts/robustness.png", err=True)


@main.command()
@click.argument("study_dir", metavar="DIR", type=click.Path(file_okay=False))
@click.option("--scenario", "-s", required=True, help="The alternative scenario (ALT).")
@click.option(
    "--metric",
    "-m",
    required=True,
    help="closed_deals, short_closed_deals, satisfaction, nps or revenue.",
)
@click.option(
    "--resamples",
    default=20,
    show_default=True,
    type=click.IntRange(min=2),
    help="Random halves on which the box is found again (reproducibility).",
)
def discover(study_dir, scenario, metric, resamples):
    """Where does ALT's conclusion on METRIC fail? PRIM with a CART cross-check.

    Reads a robustness study DIR; writes DIR/discover/ALT.METRIC/ with boxes.csv (the
    box's limits per factor in its unit, quasi-p and reproducibility per limit,
    coverage, density), peeling.csv, reading.txt and discovery.png.

    \b
    Example:
      trustsim discover rob/ --scenario real-estate-verifiable --metric closed_deals
    """
    from trustsim.robustness import discover as discovery

    finding = discovery.discover(study_dir, scenario, metric, resamples=resamples)
    out = discovery.write_finding(study_dir, finding)
    click.echo(finding.reading)
    boxes = finding.boxes[finding.boxes["restricted"]]
    for row in boxes.itertuples():
        extra = ""
        if row.method == "prim":
            extra = (
                f"  quasi-p {row.quasi_p_low:.2g}/{row.quasi_p_high:.2g}, reproduced "
                f"{row.reproducibility_low:.0%}/{row.reproducibility_high:.0%} (low/high)"
            )
        click.echo(
            f"  {row.method}: {row.factor} in [{row.low:.4g}, {row.high:.4g}] of "
            f"[{row.range_low:.4g}, {row.range_high:.4g}]{extra}"
        )
    click.echo(f"Written: {out}/boxes.csv, peeling.csv, reading.txt, discovery.png", err=True)

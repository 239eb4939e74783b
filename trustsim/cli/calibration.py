"""Fitting the model to a firm's data: observe and calibrate."""

from __future__ import annotations

import sys

import click

from trustsim.cli.group import main
from trustsim.cli.shared import (
    out_option,
    quiet_option,
    replications_option,
    scheduler_option,
    seed_option,
    set_option,
    steps_option,
    workers_option,
    write_failed,
)
from trustsim.errors import TrustsimInputError


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@seed_option()
@steps_option("Observation window in steps (default: the scenario's time.steps).")
@set_option("Override a scenario value: the 'true' parameters of synthetic data (repeatable).")
@out_option("out_file", "file", "The funnel data file to write (TOML).", required=True)
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
    from trustsim.output import write_text_atomic

    data = observe_run(scenario, overrides, seed=seed, steps=steps)
    comment = (
        "SYNTHETIC funnel data written by `trustsim observe`: one simulated run, not a "
        "firm's books.\nFormat: see README.md, section 'Calibration'."
    )
    try:
        write_text_atomic(out_file, data_to_toml(data, comment))
    except OSError as exc:
        write_failed(out_file, exc)
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
@out_option(
    "out_dir",
    "dir",
    "Calibration directory; rerun with the same directory to resume.",
    required=True,
)
@click.option(
    "--budget",
    default=3000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Model runs in all (waves and the final check).",
)
@replications_option("Runs per point (common random numbers across points).", default=4, minimum=2)
@click.option(
    "--draws",
    default=250,
    show_default=True,
    type=click.IntRange(min=10),
    help="The least posterior draws run for real in the final check; budget the waves "
    "leave buys more.",
)
@click.option(
    "--ess-rounds",
    default=3,
    show_default=True,
    type=click.IntRange(min=0),
    help="If the final check's effective sample size is below 50, up to this many more "
    "rounds of --draws draws from a proposal adapted to the weights (runs beyond --budget).",
)
@seed_option()
@set_option("A value known for this firm, e.g. --set market.size=5000 (repeatable).")
@click.option(
    "--holdout",
    default=None,
    metavar="STATS",
    help="Statistics or stages kept out of the fit and checked afterwards, comma-separated "
    "(e.g. handover,after_sales or conversion[payment]).",
)
@workers_option()
@scheduler_option()
@quiet_option("No line per wave.")
def calibrate(
    scenario, data_file, priors_file, out_dir, budget, replications, draws, ess_rounds, seed,
    overrides, holdout, workers, scheduler, quiet,
):  # fmt: skip
    """Calibrate SCENARIO's uncertain parameters to a firm's funnel data.

    Waves of history matching with Gaussian-process emulators (one per statistic) rule
    out the parameter values that cannot reproduce the data; draws from what is left are
    run for real and weighted by their likelihood. Writes posterior.parquet,
    posterior-summary.csv, calibrated.toml (extends SCENARIO), waves.csv and
    posterior-predictive.csv to DIR. If the effective sample size of the final draws
    is below 50, more rounds of draws are run (--ess-rounds); it fails (exit 1) if it is
    still below 50.

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
    settings = Settings(
        budget=budget, replications=replications, final_draws=draws, seed=seed,
        ess_rounds=ess_rounds,
    )  # fmt: skip
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
        write_failed(out_dir, exc)
    except KeyboardInterrupt:
        click.echo(
            f"Interrupted. Every finished run is in {out_dir}; run the same command again "
            "to resume.",
            err=True,
        )
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)
    from trustsim.terminal.calibration import print_calibration

    print_calibration(result)

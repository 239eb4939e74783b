"""Options and helpers several commands share, each declared once."""

from __future__ import annotations

import sys

import click

from trustsim.limits import MAX_SEED, MAX_STEPS

# ------------------------------------------------------------------ shared options
# Each option several commands take is declared once here; a command chooses its help
# text, default or range where its meaning differs.
OUTPUT_FORMATS = ("table", "json", "csv")
ENGINES = ("vectorized", "agents", "compiled")
PATHS = {
    "dir": click.Path(file_okay=False),
    "file": click.Path(dir_okay=False),
    "any": click.Path(),
}


def combine(options):
    """One decorator from several, applied in the order listed (as in `--help`)."""

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def replications_option(help_text: str, default: int = 20, minimum: int = 1, short: str = "-n"):
    return click.option(
        "--replications", short, default=default, show_default=True,
        type=click.IntRange(min=minimum), help=help_text,
    )  # fmt: skip


def seed_option(help_text: str = "Root seed (0 to 2**63-1)."):
    return click.option(
        "--seed", "-s", default=0, show_default=True, type=click.IntRange(0, MAX_SEED),
        help=help_text,
    )  # fmt: skip


def steps_option(help_text: str):
    return click.option(
        "--steps", "-t", default=None, type=click.IntRange(1, MAX_STEPS),
        help=f"{help_text} At most {MAX_STEPS:,}.",
    )  # fmt: skip


def decompose_option():
    return click.option(
        "--no-decompose", "decompose", is_flag=True, flag_value=False, default=True,
        help="Do not split effects on closed deals and revenue into via conversion and via "
        "word of mouth. The split (the default) costs one more run per replication and "
        "alternative: the alternative run on the base's lead arrivals.",
    )  # fmt: skip


def set_option(help_text: str = "Override a scenario value (repeatable)."):
    return click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=help_text)


def engine_option(help_text: str, choices=ENGINES, default: str | None = None):
    """--engine; by default (None) the fastest installed: compiled where numba is."""
    shown = default is not None or "the fastest installed: compiled where numba is, else vectorized"
    return click.option(
        "--engine", type=click.Choice(choices), default=default, show_default=shown,
        help=help_text,
    )  # fmt: skip


def out_option(dest: str, kind: str, help_text: str, **settings):
    """--out into `dest`; `kind` is "dir", "file" or "any"; settings such as required."""
    settings.setdefault("default", None)
    return click.option("--out", dest, type=PATHS[kind], help=help_text, **settings)


def force_option(
    help_text: str = "Replace --out even if it holds a different result (a directory is one "
    "result).",
):
    return click.option("--force", is_flag=True, help=help_text)


def format_option(choices=OUTPUT_FORMATS, help_text: str = "Output format on stdout."):
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default="table", show_default=True,
        help=help_text,
    )  # fmt: skip


def workers_option():
    return click.option(
        "--workers", "-w", type=click.IntRange(min=0), default=None,
        help="Local Dask worker processes (default: one per CPU); 0 runs in-process.",
    )  # fmt: skip


def scheduler_option():
    return click.option(
        "--scheduler", default=None, metavar="ADDRESS",
        help="Use a running Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of a local "
        "cluster.",
    )  # fmt: skip


def quiet_option(help_text: str = "No progress bar."):
    return click.option("--quiet", "-q", is_flag=True, help=help_text)


def posterior_option(shared_by: str, explicit: str = "--set values"):
    return click.option(
        "--posterior", default=None, metavar="DIR", type=click.Path(file_okay=False),
        help="Draw each replication's parameters from the posterior of `trustsim "
        f"calibrate --out DIR` (the same draw in every {shared_by}; {explicit} win over it).",
    )  # fmt: skip


common_run_options = combine(
    [
        replications_option(
            "Runs per scenario; replication r uses the same random numbers in each."
        ),
        seed_option(),
        steps_option("Horizon in steps (default: the scenario's time.steps)."),
        set_option(
            "Override a scenario value, e.g. --set stages.contract.affordance=0.8 "
            "(repeatable; applied to every scenario)."
        ),
        engine_option(
            "Simulation engine: buyers as arrays, each a Mesa agent (slow), or arrays "
            "with numba-compiled sub-steps (fast, needs numba); the same results."
        ),
        out_option(
            "out_dir", "dir",
            "Write run summaries and time series (Parquet) and resolved scenarios (TOML).",
        ),
        force_option(),
        format_option(),
        posterior_option("scenario"),
    ]
)  # fmt: skip


def simulate_and_save(out_dir, kind, names, force, simulate, tables, show, announce=True):
    """Simulate, write the result to `out_dir` (if given) as one directory, then show it.

    `--out` is checked and staged before the simulation starts, so a bad path costs no
    time; if writing fails afterwards, the table is still shown and the error names what
    was not written (the previous contents of `out_dir` are left as they were).

    Args:
        out_dir: the results directory, or None.
        kind: the command, recorded in run.json.
        names: a function returning the scenario names the result will hold.
        force: replace a directory holding a different result.
        simulate: runs the work; returns what `tables` and `show` take.
        tables: (work) -> (RunResult, extra tables by file name).
        show: prints the work on stdout.
        announce: say where the result was written (on stderr).
    """
    from trustsim.output import StagedResult

    staged = StagedResult(out_dir, kind, names(), force) if out_dir else None
    try:
        work = simulate()
    except BaseException:
        if staged is not None:
            staged.discard()
        raise
    failure = None
    if staged is not None:
        result, extra = tables(work)
        failure = staged.save(lambda folder: result.write_files(folder, kind, extra))
    show(work)
    if failure is not None:
        raise failure
    if out_dir and announce:
        click.echo(f"Results written to {out_dir}", err=True)


def scenario_names(refs, overrides):
    from trustsim.experiments.runner import resolve_scenarios

    return list(resolve_scenarios(refs, overrides))


def progress(total_runs: int, quiet: bool):
    """A rich progress bar on stderr for work likely to take over a second."""
    from trustsim.terminal import progress_bar

    return progress_bar(total_runs, enabled=not quiet and total_runs > 4)


def write_failed(path, exc: OSError) -> None:
    """A path the user gave cannot be written (exit 2), or the machine failed (exit 1)."""
    import errno

    user_path = exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR,
                              errno.EISDIR, errno.EROFS, errno.EEXIST)  # fmt: skip
    fix = "give a path you can write" if user_path else "free space or fix the file system"
    click.echo(f"Error: {path}: cannot write ({exc.strerror or exc}); {fix}.", err=True)
    sys.exit(2 if user_path else 1)


def posterior_draws(posterior_dir, replications: int, seed: int):
    """A calibration's posterior drawn once per replication (said on stderr), or None."""
    if posterior_dir is None:
        return None
    from trustsim.calibration.carry import draw_posterior, posterior_note

    draws = draw_posterior(posterior_dir, replications, seed)
    click.echo(posterior_note(posterior_dir, replications), err=True)
    return draws


def posterior_run(posterior_dir):
    """`trustsim.run` with parameters drawn from a calibration's posterior, or None."""
    if posterior_dir is None:
        return None
    from trustsim.calibration.carry import posterior_note, run_with_posterior

    def run(scenarios, replications, **kwargs):
        click.echo(posterior_note(posterior_dir, replications), err=True)
        return run_with_posterior(scenarios, posterior_dir, replications, **kwargs)

    return run


def posterior_compare(posterior_dir):
    """`trustsim.compare` with parameters drawn from a calibration's posterior, or None."""
    if posterior_dir is None:
        return None
    from trustsim.calibration.carry import compare_with_posterior, posterior_note

    def compare(base, others, replications, **kwargs):
        click.echo(posterior_note(posterior_dir, replications), err=True)
        return compare_with_posterior(base, others, posterior_dir, replications, **kwargs)

    return compare

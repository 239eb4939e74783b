"""The `trustsim` command line: thin wrappers around the public Python functions.

Only click is imported at module level; each command imports what it needs when it runs,
so `trustsim --help` stays instant. Bad input raises `TrustsimInputError`, which the group
turns into one message on stderr and exit code 2.
"""

from __future__ import annotations

import contextlib
import logging
import sys

import click

from trustsim.chart_kinds import KINDS
from trustsim.errors import TrustsimInputError
from trustsim.limits import MAX_SEED, MAX_STEPS

DEMO_SCENARIOS = (
    "real-estate",
    "real-estate-verifiable",
    "real-estate-funnel",
    "real-estate-verifiable-funnel",
    "delivery-trial-funnel",
    "delivery-trial-journey",
)


class TrustsimGroup(click.Group):
    """A click group that reports bad input and failed file operations as one message.

    Bad input exits with code 2. A file operation that failed (read-only target, a path
    through a file, a full disk) is named with the reason and what to do; its exit code
    is 2 when another path would do and 1 when the environment must be fixed.
    """

    def invoke(self, ctx: click.Context):
        from trustsim.output import OutputError, advice, explain_os_error

        try:
            return super().invoke(ctx)
        except TrustsimInputError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except OutputError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader of stdout went away (`| head`): stop quietly, as other tools do.
            sys.stdout = None
            sys.exit(1)
        except OSError as exc:
            reason, code = explain_os_error(exc)
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"Error: {where}{reason}. {advice(code)}", err=True)
            sys.exit(code)


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
# Each option several commands take is declared once here; a command chooses its help
# text, default or range where its meaning differs.
OUTPUT_FORMATS = ("table", "json", "csv")
ENGINES = ("vectorized", "agents", "compiled")
_PATHS = {
    "dir": click.Path(file_okay=False),
    "file": click.Path(dir_okay=False),
    "any": click.Path(),
}


def _apply(options):
    """One decorator from several, applied in the order listed (as in `--help`)."""

    def decorate(func):
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


def _replications_option(help_text: str, default: int = 20, minimum: int = 1, short: str = "-n"):
    return click.option(
        "--replications", short, default=default, show_default=True,
        type=click.IntRange(min=minimum), help=help_text,
    )  # fmt: skip


def _seed_option(help_text: str = "Root seed (0 to 2**63-1)."):
    return click.option(
        "--seed", "-s", default=0, show_default=True, type=click.IntRange(0, MAX_SEED),
        help=help_text,
    )  # fmt: skip


def _steps_option(help_text: str):
    return click.option(
        "--steps", "-t", default=None, type=click.IntRange(1, MAX_STEPS),
        help=f"{help_text} At most {MAX_STEPS:,}.",
    )  # fmt: skip


def _decompose_option():
    return click.option(
        "--no-decompose", "decompose", is_flag=True, flag_value=False, default=True,
        help="Do not split effects on closed deals and revenue into via conversion and via "
        "word of mouth. The split (the default) costs one more run per replication and "
        "alternative: the alternative run on the base's lead arrivals.",
    )  # fmt: skip


def _set_option(help_text: str = "Override a scenario value (repeatable)."):
    return click.option("--set", "overrides", multiple=True, metavar="PATH=VALUE", help=help_text)


def _engine_option(help_text: str, choices=ENGINES):
    return click.option(
        "--engine", type=click.Choice(choices), default="vectorized", show_default=True,
        help=help_text,
    )  # fmt: skip


def _out_option(dest: str, kind: str, help_text: str, **settings):
    """--out into `dest`; `kind` is "dir", "file" or "any"; settings such as required."""
    settings.setdefault("default", None)
    return click.option("--out", dest, type=_PATHS[kind], help=help_text, **settings)


def _force_option(
    help_text: str = "Replace --out even if it holds a different result (a directory is one "
    "result).",
):
    return click.option("--force", is_flag=True, help=help_text)


def _format_option(choices=OUTPUT_FORMATS, help_text: str = "Output format on stdout."):
    return click.option(
        "--format", "fmt", type=click.Choice(choices), default="table", show_default=True,
        help=help_text,
    )  # fmt: skip


def _workers_option():
    return click.option(
        "--workers", "-w", type=click.IntRange(min=0), default=None,
        help="Local Dask worker processes (default: one per CPU); 0 runs in-process.",
    )  # fmt: skip


def _scheduler_option():
    return click.option(
        "--scheduler", default=None, metavar="ADDRESS",
        help="Use a running Dask scheduler (e.g. tcp://10.0.0.5:8786) instead of a local "
        "cluster.",
    )  # fmt: skip


def _quiet_option(help_text: str = "No progress bar."):
    return click.option("--quiet", "-q", is_flag=True, help=help_text)


_common_run_options = _apply(
    [
        _replications_option(
            "Runs per scenario; replication r uses the same random numbers in each."
        ),
        _seed_option(),
        _steps_option("Horizon in steps (default: the scenario's time.steps)."),
        _set_option(
            "Override a scenario value, e.g. --set stages.contract.affordance=0.8 "
            "(repeatable; applied to every scenario)."
        ),
        _engine_option(
            "Simulation engine: buyers as arrays, each a Mesa agent (slow), or arrays "
            "with numba-compiled sub-steps (fast, needs numba); the same results."
        ),
        _out_option(
            "out_dir", "dir",
            "Write run summaries and time series (Parquet) and resolved scenarios (TOML).",
        ),
        _force_option(),
        _format_option(),
        click.option(
            "--posterior", default=None, metavar="DIR", type=click.Path(file_okay=False),
            help="Draw each replication's parameters from the posterior of `trustsim "
            "calibrate --out DIR` (the same draw in every scenario).",
        ),
    ]
)  # fmt: skip


def _simulate_and_save(out_dir, kind, names, force, simulate, tables, show, announce=True):
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


def _scenario_names(refs, overrides):
    from trustsim.experiments.runner import resolve_scenarios

    return list(resolve_scenarios(refs, overrides))


def _progress(total_runs: int, quiet: bool):
    """A rich progress bar on stderr for work likely to take over a second."""
    from trustsim.terminal import progress_bar

    return progress_bar(total_runs, enabled=not quiet and total_runs > 4)


# ------------------------------------------------------------------------ commands
@main.command()
@click.argument("scenarios", nargs=-1, required=True, metavar="SCENARIO...")
@_common_run_options
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

    run_scenarios = _posterior_run(posterior) or trustsim.run

    def simulate():
        with _progress(len(scenarios) * replications, fmt != "table") as advance:
            return run_scenarios(
                scenarios, replications=replications, seed=seed, steps=steps,
                overrides=overrides, engine=engine, progress=advance,
            )  # fmt: skip

    _simulate_and_save(
        out_dir, "run", lambda: _scenario_names(scenarios, overrides), force, simulate,
        lambda result: (result, {}), lambda result: terminal.print_run(result, fmt),
        announce=fmt == "table",
    )  # fmt: skip


@main.command()
@click.argument("base", metavar="BASE")
@click.argument("others", nargs=-1, required=True, metavar="OTHER...")
@_common_run_options
@_decompose_option()
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

    compare_scenarios = _posterior_compare(posterior) or trustsim.compare

    def simulate():
        runs = (1 + len(others) * (2 if decompose else 1)) * replications
        with _progress(runs, fmt != "table") as advance:
            return compare_scenarios(
                base, others, replications=replications, seed=seed, steps=steps,
                overrides=overrides, engine=engine, progress=advance, decompose=decompose,
            )  # fmt: skip

    _simulate_and_save(
        out_dir, "compare", lambda: _scenario_names([base, *others], overrides), force,
        simulate, lambda work: (work[0], {"differences.parquet": work[1]}),
        lambda work: terminal.print_comparison(*work, fmt), announce=False,
    )  # fmt: skip


@main.command()
@_replications_option("Runs per scenario (common random numbers).", minimum=2)
@_seed_option()
@_format_option()
@_out_option("out_dir", "dir", "Write run summaries and time series, as `run --out` does.")
@_force_option()
@_decompose_option()
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
        with _progress(runs, fmt != "table") as advance:
            return trustsim.run(
                DEMO_SCENARIOS, replications=replications, seed=seed, progress=advance,
                decompose=pairs,
            )  # fmt: skip

    _simulate_and_save(
        out_dir, "demo", lambda: list(DEMO_SCENARIOS), force, simulate,
        lambda result: (result, {}), lambda result: terminal.print_demo(result, fmt),
        announce=False,
    )  # fmt: skip


@main.group()
def scenarios() -> None:
    """List, explain, show, create and validate scenarios.

    \b
    Example:
      trustsim scenarios list
      trustsim scenarios explain stages.contract.affordance
      trustsim scenarios show real-estate-verifiable --explain
      trustsim scenarios new my-offer --from real-estate
      trustsim scenarios validate my-offer.toml other.toml
    """


@scenarios.command("list")
def scenarios_list():
    """List the built-in scenarios with their descriptions."""
    from trustsim import terminal
    from trustsim.scenarios import builtin_names, load_scenario

    terminal.print_scenario_list([load_scenario(name) for name in builtin_names()])


@scenarios.command("explain")
@click.argument("field", required=False)
def scenarios_explain(field):
    """Say what a scenario FIELD means: unit, allowed values, default, typical values,
    a business reading and the source. Without FIELD, list every field.

    FIELD is a dotted path as with --set (stages.contract.affordance), a generic one
    (stages.affordance), a table (market) or a field name (affordance).

    \b
    Example:
      trustsim scenarios explain competition
      trustsim scenarios explain segments.investors.risk_aversion.mean
    """
    from trustsim.scenarios import reference

    if field is None:
        click.echo(reference.overview())
        return
    click.echo("\n\n".join(reference.describe(path) for path in reference.lookup(field)))


@scenarios.command("show")
@click.argument("scenario")
@_set_option("Override a value (repeatable).")
@click.option("--explain", is_flag=True, help="Annotate every field with its meaning and range.")
def scenarios_show(scenario, overrides, explain):
    """Print the fully resolved SCENARIO (a name or a file) as TOML.

    \b
    Example:
      trustsim scenarios show real-estate --set market.size=500 > mine.toml
      trustsim scenarios show my-offer.toml --explain
    """
    from trustsim.scenarios import load_scenario, scenario_to_toml

    resolved = load_scenario(scenario, overrides)
    click.echo(scenario_to_toml(resolved, explain=explain), nl=False)


@scenarios.command("new")
@click.argument("name")
@click.option(
    "--from",
    "source",
    default="real-estate",
    show_default=True,
    metavar="SCENARIO",
    help="Built-in name or file whose values the new file starts from.",
)
@_out_option("out_file", "file", "File to write.  [default: NAME.toml]")
@_force_option("Replace the file if it exists.")
def scenarios_new(name, source, out_file, force):
    """Write a new scenario file NAME.toml: every field with its meaning, unit, allowed
    values and default, and the values of --from, ready to edit.

    \b
    Example:
      trustsim scenarios new used-car --from real-estate
      trustsim scenarios validate used-car.toml
    """
    from pathlib import Path

    from trustsim.scenarios.loader import scenario_template

    target = Path(out_file if out_file is not None else f"{name}.toml")
    text = scenario_template(name, source)
    if target.is_dir():
        raise TrustsimInputError(f"--out {target}: is a folder. Give a file name.")
    if target.exists() and not force:
        raise TrustsimInputError(
            f"{target}: already exists. Give --force to replace it, or another --out."
        )
    _write_user_file(target, text)
    click.echo(f"Wrote {target} (from {source}). Check it: trustsim scenarios validate {target}")


def _write_user_file(target, text: str) -> None:
    """Write atomically; a failure is one message: exit 1 if the machine, 2 if the path."""
    import errno

    from trustsim.output import write_text_atomic

    try:
        write_text_atomic(target, text)
    except OSError as exc:
        machine = exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO)
        fix = "Free some space and run it again." if machine else "Choose another --out."
        click.echo(
            f"Error: {target}: cannot write: {exc.strerror}. Nothing was written. {fix}", err=True
        )
        sys.exit(1 if machine else 2)


@scenarios.command("validate")
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
def scenarios_validate(files):
    """Check every scenario FILE: print its resolved journey and personas, or what is
    wrong with it. Exit code 2 if any file failed.

    \b
    Example:
      trustsim scenarios validate my-offer.toml my-offer-funnel.toml
    """
    from trustsim.scenarios import load_scenario

    failed = 0
    for path in files:
        try:
            scenario = load_scenario(path)
        except TrustsimInputError as exc:
            failed += 1
            click.echo(f"Error: {exc}", err=True)
            continue
        click.echo(_resolved_summary(path, scenario))
    if failed:
        click.echo(f"{failed} of {len(files)} files failed.", err=True)
        sys.exit(2)


def _resolved_summary(path: str, scenario) -> str:
    """OK line, then the journey in order (closing stage marked) and the personas."""
    import textwrap

    stages = [f"{s}*" if s == scenario.closing_stage else s for s in scenario.stage_names]
    personas = [f"{name} {seg.share:g}" for name, seg in scenario.segments.items()]
    head = f"{path}: OK ({scenario.display_name}, {len(stages)} stages, {len(personas)} personas)"
    journey = textwrap.fill(
        " > ".join(stages) + "  (* closes the deal)",
        80,
        initial_indent="  journey:  ",
        subsequent_indent=" " * 12,
    )
    buyers = textwrap.fill(
        ", ".join(personas), 80, initial_indent="  personas: ", subsequent_indent=" " * 12
    )
    return "\n".join([head, journey, buyers])


# --- charts, decks and feature value --------------------------------------------------
CHART_KINDS = tuple(KINDS)


@main.command()
@click.argument("results_dir", metavar="RESULTS")
@click.option("--kind", "-k", required=True, type=click.Choice(CHART_KINDS), help="Chart kind.")
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default=None,
    help="File format (default: from --out, else png).",
)  # fmt: skip
@_out_option(
    "out_file",
    "file",
    "Chart file (default: RESULTS/charts/KIND.FORMAT, or KIND-METRIC.FORMAT with --metric).",
)
@click.option(
    "--metric",
    default=None,
    help="Run measure for comparison and difference charts (default: closed_deals).",
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
    from trustsim.output import reporting_failures, staged_outputs

    fmt = fmt or (Path(out_file).suffix.lstrip(".").lower() if out_file else "png")
    if fmt not in ("png", "svg", "pdf"):
        raise TrustsimInputError(f"--out {out_file}: use a .png, .svg or .pdf file name.")
    # Charts of different measures get different default files, so drawing one never
    # silently replaces another.
    stem = f"{kind}-{metric}" if metric else kind
    out = Path(out_file) if out_file else Path(results_dir) / "charts" / f"{stem}.{fmt}"
    replacing = out.exists()
    metric = metric or "closed_deals"
    results = load_results(results_dir)
    # The chart and its numbers are staged before drawing (a bad path costs no work) and
    # replace the old pair together.
    with reporting_failures(out), staged_outputs() as staging:
        image, numbers = staging.file(out), staging.file(out.with_suffix(".csv"))
        drawn = make_chart(results, kind, metric=metric, base=base, scenario=scenario)
        try:
            save_chart(drawn, image, fmt)
            drawn.data.to_csv(numbers, index=False)
        finally:
            plt.close(drawn.figure)
    click.echo(drawn.title)
    verb = "replaced" if replacing else "written to"
    click.echo(f"Chart {verb} {out} (numbers: {out.with_suffix('.csv')})", err=True)


@main.command()
@click.argument("results_dir", metavar="RESULTS")
@_out_option(
    "out_file",
    "file",
    "The deck (.pptx); its numbers go to <name>-data/*.csv and <name>-data.xlsx.",
    default="deck.pptx",
    show_default=True,
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .pptx whose size, slide masters and layouts to use.",
)
@click.option(
    "--pdf", is_flag=True, help="Also write <name>.pdf: the deck rendered by LibreOffice."
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A KPI for the scorecard and evidence, primary first (repeatable; default: "
    "closed_deals, short_closed_deals, satisfaction, nps, revenue where it is money, "
    "contribution and cost_per_deal where the scenarios give their costs).",
)
@click.option("--title", default=None, help="Title of the deck.")
@click.option("--client", default="", help="Client named on the title slide.")
@click.option("--project", default="", help="Project named on the title slide.")
@click.option("--author", default="", help="Author on the title slide and in the file.")
@click.option(
    "--date", default="", help="Date on the title slide (YYYY-MM-DD also dates the file)."
)
def report(results_dir, out_file, template, pdf, metrics, title, client, project, author, date):
    """Write a client deck from RESULTS: summary, scorecard, evidence, recommendation.

    Every claim about a difference comes from a paired test; where none is established the
    deck says so. Each chart slide has its action title, a takeaway and the provenance in
    the notes; bar charts are native PowerPoint charts; every chart's numbers go beside
    the deck (CSVs and one workbook). 16:9, or the size of --template.

    \b
    Example:
      trustsim compare real-estate real-estate-verifiable -n 20 --out res/
      trustsim report res/ --out deck.pptx --client "Acme" --author "J. Doe" --pdf
    """
    from trustsim.charts import load_results
    from trustsim.report import DeckInfo, MissingToolError, build_report, chosen_charts

    info = DeckInfo(client=client, project=project, author=author, date=date)
    if title:
        info.title = title
    try:
        deck = build_report(
            load_results(results_dir),
            out_file,
            template=template,
            pdf=pdf,
            kinds=chosen_charts(results_dir),
            metrics=list(metrics),
            info=info,
        )
    except MissingToolError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    for i, slide_title in enumerate(deck.titles, start=1):
        click.echo(f"{i:2d}. {slide_title}")
    written = ", ".join(str(p) for p in (deck.pptx, deck.pdf, deck.csv_dir) if p)
    click.echo(f"Written: {written}", err=True)


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@_replications_option("Paired runs per variant (common random numbers).", minimum=2)
@_seed_option()
@_steps_option("Horizon in steps.")
@_set_option("Override a scenario value before features are removed (repeatable).")
@_out_option(
    "out_dir", "dir", "Write features.parquet/.csv and the runs (for `trustsim chart/report`)."
)
@_force_option()
@_format_option(("table", "csv", "json"))
@_decompose_option()
def features(scenario, replications, seed, steps, overrides, out_dir, force, fmt, decompose):
    """Usage is not value: remove each delegation feature and verification affordance
    in turn and measure what it costs in closed deals and satisfaction (95% CIs), the
    cost in closed deals split into via conversion and via word of mouth (one more run
    per replication and feature; --no-decompose skips it).

    \b
    Example:
      trustsim features real-estate-verifiable -n 20 --out features/
      trustsim chart features/ --kind usage-value
    """
    from trustsim.experiments.features import feature_value, removable_features
    from trustsim.scenarios import load_scenario
    from trustsim.terminal.features import print_features

    base = load_scenario(scenario, overrides)
    removable = removable_features(base)[0]

    def simulate():
        runs = (len(removable) * (2 if decompose else 1) + 1) * replications
        with _progress(runs, fmt != "table") as advance:
            return feature_value(scenario, replications, seed, steps, overrides, advance, decompose)

    _simulate_and_save(
        out_dir, "features", lambda: [base.name, *(f.variant_name(base.name) for f in removable)],
        force, simulate, lambda value: (value.result, value.tables()),
        lambda value: print_features(value, fmt), announce=fmt == "table",
    )  # fmt: skip


# --- sweeps and sensitivity -----------------------------------------------------------
_sweep_options = _apply(
    [
        _out_option(
            "out_dir", "dir",
            "Results directory (default: sweeps/<experiment name>). "
            "Rerun with the same directory to resume.",
        ),
        _workers_option(),
        _scheduler_option(),
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
        _quiet_option(),
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
@_format_option(("table", "csv", "json"))
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
@_format_option(("table", "csv", "json"))
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


# --- trace ----------------------------------------------------------------------------
@main.command()
@click.argument("scenario", metavar="SCENARIO")
@click.option("--buyer", "-b", required=True, type=int, help="The buyer's number (0 to size-1).")
@_seed_option()
@_steps_option("Horizon in steps.")
@_set_option()
@_engine_option("Simulation engine (both give the same trace).", ("vectorized", "agents"))
@_format_option(("table", "json"))
@_out_option(
    "out_path",
    "any",
    "Also write the trace: FILE.parquet, FILE.csv, or DIR (DIR/trace.parquet); a DIR "
    "holding runs takes only a trace of those runs.",
)
@_force_option()
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


# --- explore --------------------------------------------------------------------------
@main.command()
@click.argument("target", default="real-estate", metavar="[SCENARIO | RESULTS_DIR]")
@click.option(
    "--port", "-p", default=8501, show_default=True, type=click.IntRange(1024, 65535),
    help="Port on 127.0.0.1 to serve the page on.",
)  # fmt: skip
def explore(target, port):
    """A page in the browser: move the sliders, watch the funnel and trust change.

    Serves on http://127.0.0.1:PORT only, with no usage statistics and nothing fetched
    from outside. SCENARIO (a built-in name or a TOML file) gives sliders for its market,
    stages and segments, live results against a comparison, a buyer's journey, "Save
    scenario" and "Add to deck". RESULTS_DIR (from `--out`) opens read-only with its
    charts. Ctrl-C stops the server.

    \b
    Example:
      trustsim explore real-estate --port 8501
      trustsim explore results/
    """
    from pathlib import Path

    if Path(target).is_dir():
        from trustsim.charts import load_results

        load_results(target)
    else:
        from trustsim.scenarios import load_scenario

        load_scenario(target)
    from trustsim.explore import serve

    serve(target, port)


# --- robustness and scenario discovery ------------------------------------------------
@main.command()
@click.argument("base", metavar="BASE")
@click.argument("alternatives", metavar="ALT...", nargs=-1, required=True)
@_sweep_options
@click.option(
    "--samples",
    default=64,
    show_default=True,
    type=click.IntRange(min=2),
    help="Latin-hypercube worlds (draws of the assumed constants).",
)
@_replications_option(
    "Paired replications per world and scenario.", default=10, minimum=2, short="-r"
)
@click.option(
    "--factors",
    "factors_file",
    default=None,
    metavar="FILE",
    help="TOML choosing the factors (default: every assumed or calibrated "
    "constant of the ledger, docs/ODD.md 9.12).",
)
@_set_option("Override a value in every scenario (repeatable), e.g. market.size=500.")
@_seed_option("Root seed (the same replication seeds in every world and scenario).")
def robustness(
    base,
    alternatives,
    out_dir,
    quiet,
    samples,
    replications,
    factors_file,
    overrides,
    seed,
    **options,
):
    """In what share of plausible worlds does each conclusion about ALT vs BASE hold?

    Samples the constants the parameter ledger marks as assumed or calibrated over their
    plausible ranges (Latin hypercube), runs every scenario at every world with common
    random numbers as a resumable sweep in DIR, and writes robustness.csv (share of
    worlds where the sign seen at the defaults holds, Wilson 95% CI, share where the
    paired CI excludes 0), effects.parquet and charts/robustness.png.

    \b
    Example:
      trustsim robustness real-estate real-estate-verifiable --out rob/ --samples 64
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
        base, alternatives, factors, samples, replications, seed, overrides
    )
    click.echo(_describe_plan(experiment, out_dir), err=True)
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


# --- calibration: observe and calibrate -----------------------------------------------
@main.command()
@click.argument("scenario", metavar="SCENARIO")
@_seed_option()
@_steps_option("Observation window in steps (default: the scenario's time.steps).")
@_set_option("Override a scenario value: the 'true' parameters of synthetic data (repeatable).")
@_out_option("out_file", "file", "The funnel data file to write (TOML).", required=True)
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
@_out_option(
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
@_replications_option("Runs per point (common random numbers across points).", default=4, minimum=2)
@click.option(
    "--draws",
    default=250,
    show_default=True,
    type=click.IntRange(min=10),
    help="The least posterior draws run for real in the final check; budget the waves "
    "leave buys more.",
)
@_seed_option()
@_set_option("A value known for this firm, e.g. --set market.size=5000 (repeatable).")
@click.option(
    "--holdout",
    default=None,
    metavar="STATS",
    help="Statistics or stages kept out of the fit and checked afterwards, comma-separated "
    "(e.g. handover,after_sales or conversion[payment]).",
)
@_workers_option()
@_scheduler_option()
@_quiet_option("No line per wave.")
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
    from trustsim.terminal.calibration import print_calibration

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

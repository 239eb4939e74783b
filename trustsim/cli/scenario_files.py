"""The `scenarios` group: list, explain, show, create and validate scenarios."""

from __future__ import annotations

import sys

import click

from trustsim.cli.group import main
from trustsim.cli.shared import (
    force_option,
    out_option,
    set_option,
)
from trustsim.errors import TrustsimInputError


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
@set_option("Override a value (repeatable).")
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
@out_option("out_file", "file", "File to write.  [default: NAME.toml]")
@force_option("Replace the file if it exists.")
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
    lines = [head, journey, buyers]
    first, short, unit = (
        scenario.earliest_close_step(),
        scenario.time.short_horizon,
        scenario.time.step_unit,
    )
    if first > short:
        lines.append(textwrap.fill(
            f"The first deal can close in {unit} {first} at the earliest (stage visits up to "
            f"{scenario.closing_stage}), after the short horizon of {short} {unit}s: the "
            "short-horizon measures will be 0 in every run. Shorten the visits "
            "(stages.<name>.duration) or lengthen time.short_horizon if that is not meant.",
            80, initial_indent="  note:     ", subsequent_indent=" " * 12,
        ))  # fmt: skip
    return "\n".join(lines)

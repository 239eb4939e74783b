"""The `trustsim` command group: one message and an exit code for bad input and failed files."""

from __future__ import annotations

import sys

import click

from trustsim.errors import TrustsimInputError


class TrustsimGroup(click.Group):
    """A click group that reports bad input and failed file operations as one message.

    Bad input exits with code 2. A file operation that failed (read-only target, a path
    through a file, a full disk) is named with the reason and what to do; its exit code
    is 2 when another path would do and 1 when the environment must be fixed. Running out
    of memory is the environment's (exit 1).
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
        except MemoryError as exc:
            # The machine, not the input: exit 1, with what a run's memory grows with.
            detail = f" ({exc})" if str(exc) else ""
            click.echo(
                f"Error: out of memory{detail}. Nothing was written. A run holds about 260 "
                "bytes per potential buyer (market.size), and every local worker holds its "
                "own runs: lower market.size (--set market.size=...) or --workers, or use a "
                "machine with more memory.",
                err=True,
            )
            sys.exit(1)
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

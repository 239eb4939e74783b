"""The `trustsim` command line: thin wrappers around the public Python functions.

Only click is imported at module level; each command imports what it needs when it runs,
so `trustsim --help` stays instant. Bad input raises `TrustsimInputError`, which the group
turns into one message on stderr and exit code 2.

The rooms: `group` (the command group and its error handling), `shared` (options and
helpers several commands take), then one module per kind of work: `runs` (run, compare,
demo, trace), `scenario_files` (the `scenarios` group), `outputs` (chart, report,
features, explore), `sweeps` (sweep, results, sensitivity, robustness, discover) and
`calibration` (observe, calibrate). Importing a module registers its commands.
"""

from trustsim.cli import calibration, outputs, runs, scenario_files, sweeps  # noqa: F401
from trustsim.cli.group import main

__all__ = ["main"]

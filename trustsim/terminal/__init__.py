"""What trustsim prints: tables, sentences and progress, one module per kind of output.

    console      the rich consoles every printer writes to
    progress     progress bars (`progress_bar` for runs, `ProgressDisplay` for sweeps)
    runs         run, compare and `scenarios list` tables
    demo         the demo's table and the sentences that read its effects
    sweeps       a sweep's per-point summary and its sensitivity indices
    features     the feature table (usage is not value)
    trace        a traced buyer's journey
    calibration  a calibration's posterior and checks

Each printer writes a rich table on a terminal, or JSON or CSV when asked; the modules
import the rest of trustsim, never the other way round.
"""

from trustsim.terminal.demo import demo_effects, effect_sentence, print_demo
from trustsim.terminal.progress import ProgressDisplay, progress_bar
from trustsim.terminal.runs import print_comparison, print_run, print_scenario_list

__all__ = [
    "ProgressDisplay",
    "demo_effects",
    "effect_sentence",
    "print_comparison",
    "print_demo",
    "print_run",
    "print_scenario_list",
    "progress_bar",
]

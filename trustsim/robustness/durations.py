"""Stage durations as a factor of a robustness study: one visit length for every stage.

How long a stage visit lasts (`stages.<name>.duration`, days) is an assumption stated in
docs/ODD.md section 9.11: the model was calibrated at a week per real-estate stage and a
day per trial stage, and a visit plausibly lasts 3 to 21 days a real-estate stage, 0.25 to
3 days a trial stage. The assumption is one visit length per market, not one per stage
(no source ranks the stages' lengths), so a study samples one value, `stages.*.duration`,
that every stage of every scenario takes in a world.

A duration must be a whole number of the scenario's steps, so the plausible range
[low, high] is sampled on its whole-step values, uniformly:

    D in {n * d : n = max(1, ceil(low / d)), ..., floor(high / d)},   d = days per step.

At weekly steps real estate takes 7, 14 or 21 days (3 days is below one step: the
shortest visit sampled is a week); at daily steps 3, 4, ..., 21 days. A range holding
fewer than two whole-step values is not sampled, and neither are durations that differ
between stages or scenarios (one shared value would overwrite a scenario's design, e.g.
an alternative that shortens a stage); the study then says why durations were held.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

DURATION_FACTOR = "stages.*.duration"
GENERIC = "stages.<name>.duration"
# The visit length a market's stages were calibrated at (days) -> its plausible range in
# days (docs/ODD.md section 9.11, `stages.<name>.duration`: assumption).
PLAUSIBLE_DAYS: dict[float, tuple[float, float]] = {7.0: (3.0, 21.0), 1.0: (0.25, 3.0)}
# Slack when a range's end is divided into steps (a month is 365.25 / 12 days).
TOLERANCE = 1e-9


@dataclass(frozen=True)
class DurationLevels:
    """The visit lengths a study samples, and what it says about them.

    Attributes:
        values: the durations in days (whole steps, ascending); empty when durations
            are held at the scenarios' values.
        note: one sentence: the sampled values and the range they come from, or why
            durations are held.
    """

    values: tuple[float, ...]
    note: str

    @property
    def sampled(self) -> bool:
        return bool(self.values)


def whole_step_days(low: float, high: float, days_per_step: float) -> list[float]:
    """The durations in [low, high] days that are whole numbers of steps, at least one.

    Example:
        >>> whole_step_days(3.0, 21.0, 7.0)
        [7.0, 14.0, 21.0]
        >>> whole_step_days(0.25, 3.0, 1.0)
        [1.0, 2.0, 3.0]
        >>> whole_step_days(3.0, 21.0, 365.25 / 12)  # a month is longer than the range
        []
    """
    first = max(1, math.ceil(low / days_per_step - TOLERANCE))
    last = math.floor(high / days_per_step + TOLERANCE)
    return [n * days_per_step for n in range(first, last + 1)]


def duration_levels(scenarios: Iterable, overrides: Iterable[str] = ()) -> DurationLevels:
    """The shared visit lengths a study of these scenarios samples, or why none.

    Args:
        scenarios: the study's resolved scenarios (base and alternatives, `set` applied).
        overrides: the study's `PATH=VALUE` settings: one that sets a duration holds them.

    Example:
        >>> from trustsim.scenarios import load_scenario
        >>> duration_levels([load_scenario("real-estate")]).values
        (7.0, 14.0, 21.0)
    """
    from trustsim.scenarios.reference import generic_path

    fixed = [text for text in overrides if generic_path(text.split("=", 1)[0]) == GENERIC]
    if fixed:
        return _held(f"--set {fixed[0]} fixes them")
    scenarios = list(scenarios)
    lengths = {stage.duration for s in scenarios for stage in s.stages.values()}
    if len(lengths) > 1:
        days = ", ".join(f"{v:g}" for v in sorted(lengths))
        return _held(f"they differ between stages or scenarios ({days} days)")
    steps = {(s.time.step_unit, s.time.days_per_step) for s in scenarios}
    if len(steps) > 1:
        return _held(
            f"the scenarios step in different units ({', '.join(sorted(u for u, _ in steps))})"
        )
    length, ((unit, days),) = lengths.pop(), steps
    if length not in PLAUSIBLE_DAYS:
        stated = ", ".join(f"{v:g}" for v in PLAUSIBLE_DAYS)
        return _held(f"docs/ODD.md 9.11 states a plausible range for visits of {stated} days, "
                     f"not of {length:g}")  # fmt: skip
    low, high = PLAUSIBLE_DAYS[length]
    values = whole_step_days(low, high, days)
    source = f"plausible {low:g}-{high:g} days, docs/ODD.md 9.11"
    if len(values) < 2:
        return _held(f"the {source} holds {len(values)} whole {unit}(s) of {days:g} days")
    text = f"{DURATION_FACTOR}: every stage lasts one of {_days_list(values)} days"
    text += f" (whole {unit}s within the {source}"
    if low < days:
        text += f"; {low:g} days is below one {unit}"
    return DurationLevels(tuple(values), text + "; --no-durations holds them).")


def _held(reason: str) -> DurationLevels:
    return DurationLevels((), f"stage durations held at the scenarios' values: {reason}.")


def _days_list(values: list[float]) -> str:
    if len(values) <= 6:
        return ", ".join(f"{v:g}" for v in values)
    return f"{values[0]:g}, {values[1]:g}, ..., {values[-1]:g}"


def durations_note(experiment) -> str:
    """What a study did with stage durations: the note of `duration_levels`, or that they
    were left out although the scenarios allow sampling them."""
    levels = duration_levels(experiment.bases.values(), experiment.spec.set)
    if levels.sampled and DURATION_FACTOR not in experiment.factor_paths:
        return _held("not sampled in this study (--no-durations)").note
    return levels.note

"""A scenario flattened into the numbers and arrays the engines read every step.

Built once per model, so the hot path never touches pydantic objects.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from trustsim.model.state import Traits
from trustsim.scenarios import schema
from trustsim.scenarios.schema import TRAITS, Scenario


@dataclass(frozen=True, slots=True)
class StageTable:
    """Per-stage service parameters as arrays indexed by stage number."""

    names: tuple[str, ...]
    stake: np.ndarray
    reliability: np.ndarray
    weights: np.ndarray  # (3, n_stages)
    can_delegate: np.ndarray  # float 0/1
    can_verify: np.ndarray  # float 0/1: blocked where the step is forced
    affordance: np.ndarray
    pressure: np.ndarray
    forced: np.ndarray  # float 0/1
    competition: np.ndarray
    visit_steps: np.ndarray  # int64: steps a visit lasts, its duration over the step
    closing: int
    count: int

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> StageTable:
        stages = list(scenario.stages.values())

        def column(getter, dtype=np.float64):
            return np.array([getter(s) for s in stages], dtype=dtype)

        return cls(
            names=tuple(scenario.stages),
            stake=column(lambda s: s.stake),
            reliability=column(lambda s: s.reliability),
            weights=np.array([s.weights for s in stages], dtype=np.float64).T.copy(),
            can_delegate=column(lambda s: float(s.delegation)),
            can_verify=column(lambda s: float(not s.forced)),
            # A forced step cannot be checked, so its affordance assures nobody.
            affordance=column(lambda s: 0.0 if s.forced else s.affordance),
            pressure=column(lambda s: s.pressure),
            forced=column(lambda s: float(s.forced)),
            competition=column(lambda s: s.competition),
            visit_steps=np.array(scenario.visit_steps(), dtype=np.int64),
            closing=scenario.closing_index,
            count=len(stages),
        )


def draw_traits(scenario: Scenario, size: int, rng: np.random.Generator):
    """Segment and traits of every potential buyer, drawn once at set-up.

    Returns:
        (segment index per buyer, `Traits` of arrays on [0, 1]).
    """
    segments = list(scenario.segments.values())
    shares = np.array([seg.share for seg in segments])
    cumulative = np.cumsum(shares)
    cumulative[-1] = 1.0
    segment = np.searchsorted(cumulative, rng.random(size), side="right").astype(np.int8)
    traits = {name: np.empty(size) for name in TRAITS}
    for index, seg in enumerate(segments):
        members = np.flatnonzero(segment == index)
        for name in TRAITS:
            traits[name][members] = _sample(getattr(seg, name), len(members), rng)
    return segment, Traits(**traits)


def _sample(dist, n: int, rng: np.random.Generator) -> np.ndarray:
    match dist.dist:
        case "beta":
            a = dist.mean * dist.concentration
            b = (1.0 - dist.mean) * dist.concentration
            return rng.beta(a, b, n)
        case "uniform":
            return rng.uniform(dist.low, dist.high, n)
        case "normal":
            return np.clip(rng.normal(dist.mean, dist.sd, n), 0.0, 1.0)
        case "constant":
            return np.full(n, dist.value)
    raise AssertionError(dist.dist)


def _numbers_of(section: type) -> type:
    """A namedtuple type of a scenario section's float parameters, read by name.

    Module-level types (below), so numba's cache can pickle them by name.
    """
    fields = [name for name, f in section.model_fields.items() if f.annotation is float]
    return namedtuple(section.__name__ + "Numbers", fields)


MarketNumbers = _numbers_of(schema.Market)
ChoiceNumbers = _numbers_of(schema.Choice)
TrustNumbers = _numbers_of(schema.Trust)
OutcomesNumbers = _numbers_of(schema.Outcomes)
ReactanceNumbers = _numbers_of(schema.Reactance)
SatisfactionNumbers = _numbers_of(schema.Satisfaction)
RepeatNumbers = _numbers_of(schema.Repeat)
Numbers = namedtuple("Numbers", "market choice trust outcomes reactance satisfaction repeat")


def numbers(scenario: Scenario) -> Numbers:
    """The rule parameters as plain floats, by section (`p.choice.temperature`).

    The only one stated per unit of time, the repeat-purchase rate (per day), comes as
    a chance per step (`Scenario.repeat_chance_per_step`).
    """

    def section(kind: type, values) -> tuple:
        return kind(*(float(getattr(values, name)) for name in kind._fields))

    repeat = section(RepeatNumbers, scenario.repeat)
    return Numbers(
        section(MarketNumbers, scenario.market),
        section(ChoiceNumbers, scenario.choice),
        section(TrustNumbers, scenario.trust),
        section(OutcomesNumbers, scenario.outcomes),
        section(ReactanceNumbers, scenario.reactance),
        section(SatisfactionNumbers, scenario.satisfaction),
        repeat._replace(rate=scenario.repeat_chance_per_step()),
    )

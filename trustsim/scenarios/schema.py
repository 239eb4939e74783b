"""Typed, validated scenario: every parameter of the model with its default and range.

A scenario is data. The model reads these values and nothing else; no code branches on a
scenario's name. What each field means (unit, typical values, business reading, source)
is written once, in `trustsim.scenarios.reference`; docs/ODD.md's parameter tables and
`trustsim scenarios explain` are generated from it.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

LAYERS = ("environment", "rules", "counterparty")
TRAITS = ("risk_aversion", "control_need", "verification_skill", "reactance", "patience")


SLUG_RULE = "letters a-z, A-Z, digits, '-', '_' and '.', at most 100, not starting with '.'"
LABEL_HINT = "a display name with spaces or other letters goes in `label`"
_SLUG_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")


def is_slug(text: str) -> bool:
    """True if `text` is safe as a file name in any output folder (no path, no hidden file)."""
    return 0 < len(text) <= 100 and not text.startswith(".") and set(text) <= _SLUG_CHARS


def _check_slug(text: str) -> str:
    if not is_slug(text):
        raise ValueError(f"must be a name of {SLUG_RULE}")
    return text


def _check_scenario_name(text: str) -> str:
    if not is_slug(text):
        raise ValueError(f"must be a name of {SLUG_RULE}; {LABEL_HINT}")
    return text


# Scenario and experiment names become file and folder names of outputs.
Slug = Annotated[str, AfterValidator(_check_slug)]
ScenarioName = Annotated[str, AfterValidator(_check_scenario_name)]


class _Strict(BaseModel):
    # inf and nan are rejected like any other out-of-range value, with the same message.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class Distribution(_Strict):
    """Distribution of one buyer trait on [0, 1] within a segment.

    `beta` takes `mean` and `concentration` (a + b); `uniform` takes `low` and `high`;
    `normal` takes `mean` and `sd` and is clipped to [0, 1]; `constant` takes `value`.
    """

    dist: Literal["beta", "uniform", "normal", "constant"] = "beta"
    mean: float | None = Field(default=None, gt=0.0, lt=1.0)
    concentration: float | None = Field(default=None, gt=0.0)
    low: float | None = Field(default=None, ge=0.0, le=1.0)
    high: float | None = Field(default=None, ge=0.0, le=1.0)
    sd: float | None = Field(default=None, gt=0.0)
    value: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _parameters_match_distribution(self) -> Distribution:
        needed = {
            "beta": ("mean", "concentration"),
            "uniform": ("low", "high"),
            "normal": ("mean", "sd"),
            "constant": ("value",),
        }[self.dist]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            raise ValueError(
                f"a {self.dist} distribution needs {', '.join(needed)}; "
                f"missing {', '.join(missing)}"
            )
        extra = [
            name
            for name in ("mean", "concentration", "low", "high", "sd", "value")
            if name not in needed and getattr(self, name) is not None
        ]
        if extra:
            raise ValueError(
                f"a {self.dist} distribution takes only {', '.join(needed)}; "
                f"remove {', '.join(extra)}"
            )
        if self.dist == "uniform" and self.low > self.high:
            raise ValueError(f"uniform needs low <= high, got low={self.low}, high={self.high}")
        if self.dist == "normal" and self.sd > max_sd(self.mean):
            raise ValueError(
                f"sd = {self.sd:g} is more spread than any trait on [0, 1] with mean "
                f"{self.mean:g} can have: at most sqrt(mean * (1 - mean)) = "
                f"{max_sd(self.mean):.3g}"
            )
        return self


def max_sd(mean: float) -> float:
    """Largest standard deviation of a variable on [0, 1] with this mean.

    A variable on [0, 1] has E[X^2] <= E[X], so Var X <= m (1 - m); the bound is reached
    only by the two-point distribution on {0, 1} (a beta as its concentration goes to 0).
    """
    return math.sqrt(mean * (1.0 - mean))


def _beta(mean: float, concentration: float = 10.0) -> Distribution:
    return Distribution(dist="beta", mean=mean, concentration=concentration)


class Segment(_Strict):
    """A named persona: its share of leads and the distribution of each trait."""

    label: str | None = Field(default=None, min_length=1, max_length=200)
    share: float = Field(gt=0.0, le=1.0)
    risk_aversion: Distribution = Field(default_factory=lambda: _beta(0.6))
    control_need: Distribution = Field(default_factory=lambda: _beta(0.5))
    verification_skill: Distribution = Field(default_factory=lambda: _beta(0.5))
    reactance: Distribution = Field(default_factory=lambda: _beta(0.5))
    patience: Distribution = Field(default_factory=lambda: _beta(0.5))


class Stage(_Strict):
    """One step of the journey as the service offers it."""

    label: str | None = Field(default=None, min_length=1, max_length=200)
    stake: float = Field(default=0.5, ge=0.0, le=1.0)
    reliability: float = Field(default=0.95, ge=0.0, le=1.0)
    weights: list[float] = Field(
        default_factory=lambda: [1 / 3, 1 / 3, 1 / 3],
        min_length=3,
        max_length=3,
    )
    delegation: bool = Field(default=True)
    affordance: float = Field(default=0.0, ge=0.0, le=1.0)
    pressure: float = Field(default=0.0, ge=0.0, le=1.0)
    forced: bool = Field(default=False)
    competition: float = Field(default=0.0, ge=0.0, le=5.0)
    # Days a visit to the stage lasts; a whole number of steps (`Scenario.visit_steps`).
    duration: float = Field(default=7.0, gt=0.0, le=3653.0)

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Stage:
        if any(w < 0 for w in self.weights) or abs(sum(self.weights) - 1.0) > 1e-6:
            raise ValueError(f"weights must be >= 0 and sum to 1, got {self.weights}")
        if self.forced and not self.delegation:
            raise ValueError("a forced step is done by the service, so it needs delegation = true")
        return self


# Length of one step in years, by `time.step_unit` (a year of 365.25 days).
YEARS_PER_STEP = {
    "hour": 1 / (24 * 365.25),
    "day": 1 / 365.25,
    "week": 7 / 365.25,
    "month": 1 / 12,
    "quarter": 1 / 4,
    "year": 1.0,
}
# Length of one step in days, by `time.step_unit`.
DAYS_PER_STEP = {
    "hour": 1 / 24,
    "day": 1.0,
    "week": 7.0,
    "month": 365.25 / 12,
    "quarter": 365.25 / 4,
    "year": 365.25,
}


# Relative slack when a stage's duration is divided into steps (365.25 / 12 is inexact).
STEP_TOLERANCE = 1e-9


class TimeSettings(_Strict):
    steps: int = Field(default=104, ge=1, le=100_000)
    short_horizon: int = Field(default=13, ge=1)
    step_unit: Literal["hour", "day", "week", "month", "quarter", "year"] = "week"

    @property
    def years_per_step(self) -> float:
        """Length of one step in years: a rate per year times it is a rate per step."""
        return YEARS_PER_STEP[self.step_unit]

    @property
    def days_per_step(self) -> float:
        """Length of one step in days: a duration in days over it is a number of steps."""
        return DAYS_PER_STEP[self.step_unit]


class Market(_Strict):
    size: int = Field(default=2000, ge=1, le=50_000_000)
    # Per year: converted to per step by `time.step_unit` (the hazard clips at 1).
    outside_influence: float = Field(default=0.03, ge=0.0, le=100.0)
    word_of_mouth: float = Field(default=0.38, ge=0.0, le=100.0)
    bad_news_weight: float = Field(default=2.0, ge=0.0, le=10.0)
    # Years; inf: promoters and detractors never stop talking (the Bass model).
    talk_half_life: float = Field(default=0.5, gt=0.0, allow_inf_nan=True)
    promoter_threshold: float = Field(default=0.8, ge=0.0, le=1.0)
    detractor_threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    reputation_prior: float = Field(default=20.0, gt=0.0)
    deal_value: float = Field(default=1.0, ge=0.0)
    currency: str = Field(default="", max_length=12)
    margin: float | None = Field(default=None, ge=0.0, le=1.0)
    cost_per_lead: float | None = Field(default=None, ge=0.0)

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Market:
        if self.detractor_threshold > self.promoter_threshold:
            raise ValueError("detractor_threshold must not exceed promoter_threshold")
        return self


class Trust(_Strict):
    prior_weight: float = Field(default=2.0, gt=0.0)
    base_rate: list[float] = Field(
        default_factory=lambda: [0.5, 0.5, 0.5],
        min_length=3,
        max_length=3,
    )
    success_evidence: float = Field(default=1.0, ge=0.0)
    verified_evidence: float = Field(default=1.5, ge=0.0)
    failure_evidence: float = Field(default=2.25, ge=0.0)
    caught_failure_scale: float = Field(default=0.4, ge=0.0, le=1.0)
    forgetting: float = Field(default=0.97, gt=0.0, le=1.0)
    reputation_shift: float = Field(default=0.2, ge=0.0, le=1.0)
    affordance_shift: float = Field(default=0.1, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _base_rates_in_unit(self) -> Trust:
        if any(not 0.0 < a < 1.0 for a in self.base_rate):
            raise ValueError(f"base_rate values must lie in (0, 1), got {self.base_rate}")
        return self


class Choice(_Strict):
    temperature: float = Field(default=0.5, gt=0.0, le=10.0)
    proceed_nest: float = Field(default=0.5, gt=0.0, le=1.0)
    trust_weight: float = Field(default=2.0, ge=0.0)
    risk_weight: float = Field(default=3.0, ge=0.0)
    uncertainty_weight: float = Field(default=0.5, ge=0.0)
    structural_assurance: float = Field(default=0.6, ge=0.0, le=1.0)
    detection: float = Field(default=0.9, ge=0.0, le=1.0)
    outside_means: float = Field(default=0.3, ge=0.0, le=1.0)
    verification_cost: float = Field(default=0.6, ge=0.0)
    affordance_cost_relief: float = Field(default=0.6, ge=0.0, le=1.0)
    control_weight: float = Field(default=2.5, ge=0.0)
    verify_trust_share: float = Field(default=0.5, ge=0.0, le=1.0)
    exit_bias: float = Field(default=-1.5, ge=-20.0, le=20.0)
    reactance_weight: float = Field(default=3.0, ge=0.0)
    pressure_push: float = Field(default=1.5, ge=0.0)
    impatience: float = Field(default=0.15, ge=0.0)


class Outcomes(_Strict):
    collapse: float = Field(default=0.3, ge=0.0, le=1.0)
    verification_delay: float = Field(default=0.5, ge=0.0, lt=1.0)


class Reactance(_Strict):
    decay: float = Field(default=0.5, ge=0.0, lt=1.0)
    forced_weight: float = Field(default=0.15, ge=0.0)


class Satisfaction(_Strict):
    initial: float = Field(default=0.7, ge=0.0, le=1.0)
    smoothing: float = Field(default=0.3, gt=0.0, le=1.0)
    baseline: float = Field(default=0.85, ge=0.0, le=1.0)
    surprise_weight: float = Field(default=0.5, ge=0.0)
    loss_aversion: float = Field(default=2.25, ge=1.0)
    caught_outcome: float = Field(default=0.6, ge=0.0, le=1.0)
    incident_loss: float = Field(default=0.3, ge=0.0)
    anxiety_penalty: float = Field(default=0.5, ge=0.0)
    effort_weight: float = Field(default=0.3, ge=0.0)
    pressure_penalty: float = Field(default=0.4, ge=0.0)
    forced_penalty: float = Field(default=1.0, ge=0.0)


class Repeat(_Strict):
    rate: float = Field(default=0.0, ge=0.0, le=1.0)
    threshold: float = Field(default=0.5, ge=0.0, lt=1.0)
    value: float = Field(default=0.0, ge=0.0)


class Scenario(_Strict):
    """A fully resolved scenario: the service, the market and the buyers."""

    name: ScenarioName = "custom"
    label: str | None = Field(default=None, min_length=1, max_length=200)
    description: str = ""
    closing_stage: str
    time: TimeSettings = Field(default_factory=TimeSettings)
    market: Market = Field(default_factory=Market)
    trust: Trust = Field(default_factory=Trust)
    choice: Choice = Field(default_factory=Choice)
    outcomes: Outcomes = Field(default_factory=Outcomes)
    reactance: Reactance = Field(default_factory=Reactance)
    satisfaction: Satisfaction = Field(default_factory=Satisfaction)
    repeat: Repeat = Field(default_factory=Repeat)
    segments: dict[str, Segment] = Field(min_length=1)
    stages: dict[str, Stage] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        total = sum(seg.share for seg in self.segments.values())
        if abs(total - 1.0) > 1e-6:
            shares = ", ".join(f"{k}={v.share}" for k, v in self.segments.items())
            raise ValueError(f"segment shares must sum to 1, got {total:g} ({shares})")
        if self.closing_stage not in self.stages:
            raise ValueError(
                f"closing_stage {self.closing_stage!r} is not a stage; "
                f"stages are {', '.join(self.stages)}"
            )
        if self.time.short_horizon > self.time.steps:
            raise ValueError(
                f"time.short_horizon ({self.time.short_horizon}) must not exceed "
                f"time.steps ({self.time.steps})"
            )
        if len(self.stages) > 100:
            raise ValueError("at most 100 stages")
        self._check_durations()
        self._check_repeat_rate()
        return self

    def _check_durations(self) -> None:
        """Every stage visit lasts a whole number of steps, at least one.

        A step longer than a visit would hold several stages in one step; a visit that
        is not a whole number of steps would end between two steps.
        """
        unit, days = self.time.step_unit, self.time.days_per_step
        for name, stage in self.stages.items():
            steps = stage.duration / days
            if steps < 1.0 - STEP_TOLERANCE:
                raise ValueError(
                    f"stages.{name}.duration = {stage.duration:g} days is shorter than one "
                    f"step (time.step_unit = {unit!r}, {days:g} days): a step may not hold "
                    f"several stages. Use a shorter time.step_unit or a duration of at "
                    f"least {days:g} days"
                )
            if abs(steps - round(steps)) > STEP_TOLERANCE * steps:
                raise ValueError(
                    f"stages.{name}.duration = {stage.duration:g} days is not a whole "
                    f"number of steps of {days:g} days (time.step_unit = {unit!r}). Give "
                    f"a multiple of {days:g} days or a shorter time.step_unit"
                )

    def _check_repeat_rate(self) -> None:
        chance = self.repeat.rate * self.time.days_per_step
        if chance > 1.0:
            raise ValueError(
                f"repeat.rate = {self.repeat.rate:g} per day is {chance:g} purchases per "
                f"step of {self.time.days_per_step:g} days, more than one a step can hold. "
                f"Use a shorter time.step_unit or a repeat.rate of at most "
                f"{1.0 / self.time.days_per_step:.4g} per day"
            )

    def visit_steps(self) -> list[int]:
        """Steps each stage visit lasts: its duration in days over the step's length."""
        days = self.time.days_per_step
        return [round(stage.duration / days) for stage in self.stages.values()]

    def earliest_close_step(self) -> int:
        """The first step in which a deal can close: a lead of step 1 who completes every
        stage up to the closing one at the first visit.

            t_close >= 1 + sum_{k <= closing} n_k,   n_k = D_k / step length

        A short horizon before it counts no deal in any run, whatever the scenario does.
        """
        return 1 + sum(self.visit_steps()[: self.closing_index + 1])

    def repeat_chance_per_step(self) -> float:
        """The repeat-purchase rate per day as a chance per step, r * days per step.

        Linear, not 1 - (1 - r) ** days: the measure is a count of purchases, and r *
        days keeps their expected number per day at any step length (r itself at a day).
        """
        return self.repeat.rate * self.time.days_per_step

    def word_of_mouth_per_step(self) -> tuple[float, float, float]:
        """(p, q, kept): the market's rates per year as rates per step, and the share of
        talk kept from one step to the next, 0.5 ** (step length / half-life)."""
        mk, step = self.market, self.time.years_per_step
        return (
            mk.outside_influence * step,
            mk.word_of_mouth * step,
            0.5 ** (step / mk.talk_half_life),
        )

    @property
    def display_name(self) -> str:
        """The label if the scenario has one, else its name."""
        return self.label or self.name

    def stage_label(self, stage: str) -> str:
        """A stage's display name: its label, else its name in words ("after sales")."""
        return self.stages[stage].label or stage.replace("_", " ")

    def segment_label(self, segment: str) -> str:
        """A segment's display name: its label, else its name in words."""
        return self.segments[segment].label or segment.replace("_", " ")

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages)

    @property
    def closing_index(self) -> int:
        return self.stage_names.index(self.closing_stage)

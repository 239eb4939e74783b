"""Typed, validated scenario: every parameter of the model with its default, unit and range.

A scenario is data. The model reads these values and nothing else; no code branches on a
scenario's name. Defaults and sources are listed in docs/ODD.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LAYERS = ("environment", "rules", "counterparty")
TRAITS = ("risk_aversion", "control_need", "verification_skill", "reactance", "patience")


class _Strict(BaseModel):
    # inf and nan are rejected like any other out-of-range value, with the same message.
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


Unit = Field(ge=0.0, le=1.0)


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
        return self


def _beta(mean: float, concentration: float = 10.0) -> Distribution:
    return Distribution(dist="beta", mean=mean, concentration=concentration)


class Segment(_Strict):
    """A named persona: its share of leads and the distribution of each trait."""

    share: float = Field(gt=0.0, le=1.0, description="share of leads in this segment")
    risk_aversion: Distribution = Field(default_factory=lambda: _beta(0.6))
    control_need: Distribution = Field(default_factory=lambda: _beta(0.5))
    verification_skill: Distribution = Field(default_factory=lambda: _beta(0.5))
    reactance: Distribution = Field(default_factory=lambda: _beta(0.5))
    patience: Distribution = Field(default_factory=lambda: _beta(0.5))


class Stage(_Strict):
    """One step of the journey as the service offers it."""

    stake: float = Field(default=0.5, ge=0.0, le=1.0, description="x_k, what is at risk")
    reliability: float = Field(
        default=0.95, ge=0.0, le=1.0, description="rho_k, chance the service does it right"
    )
    weights: list[float] = Field(
        default_factory=lambda: [1 / 3, 1 / 3, 1 / 3],
        min_length=3,
        max_length=3,
        description="w_kl over (environment, rules, counterparty), summing to 1",
    )
    delegation: bool = Field(default=True, description="a delegation feature exists")
    affordance: float = Field(
        default=0.0, ge=0.0, le=1.0, description="A_k, how well it can be checked"
    )
    pressure: float = Field(default=0.0, ge=0.0, le=1.0, description="phi_k, urgency and nudges")
    forced: bool = Field(default=False, description="the buyer cannot check or skip the step")
    competition: float = Field(
        default=0.0, ge=-5.0, le=5.0, description="pull of outside options at this stage (utility)"
    )

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> Stage:
        if any(w < 0 for w in self.weights) or abs(sum(self.weights) - 1.0) > 1e-6:
            raise ValueError(f"weights must be >= 0 and sum to 1, got {self.weights}")
        if self.forced and not self.delegation:
            raise ValueError("a forced step is done by the service, so it needs delegation = true")
        return self


class TimeSettings(_Strict):
    steps: int = Field(default=104, ge=1, le=100_000, description="horizon in steps")
    short_horizon: int = Field(default=13, ge=1, description="steps counted as the short horizon")
    step_unit: str = Field(default="week", description="what one step is, for labels")


class Market(_Strict):
    size: int = Field(default=2000, ge=1, le=50_000_000, description="M, potential buyers")
    outside_influence: float = Field(default=0.002, ge=0.0, le=1.0, description="p, per step")
    word_of_mouth: float = Field(default=0.3, ge=0.0, le=5.0, description="q, per step")
    bad_news_weight: float = Field(default=2.0, ge=0.0, le=10.0, description="nu > 1")
    promoter_threshold: float = Field(default=0.8, ge=0.0, le=1.0, description="S above: promoter")
    detractor_threshold: float = Field(
        default=0.6, ge=0.0, le=1.0, description="S below: detractor"
    )
    reputation_prior: float = Field(default=20.0, gt=0.0, description="k0 in (P-D)/(P+D+k0)")
    deal_value: float = Field(default=1.0, ge=0.0, description="revenue of one closed deal")

    @model_validator(mode="after")
    def _thresholds_ordered(self) -> Market:
        if self.detractor_threshold > self.promoter_threshold:
            raise ValueError("detractor_threshold must not exceed promoter_threshold")
        return self


class Trust(_Strict):
    prior_weight: float = Field(default=2.0, gt=0.0, description="W, Josang prior weight")
    base_rate: list[float] = Field(
        default_factory=lambda: [0.5, 0.5, 0.5],
        min_length=3,
        max_length=3,
        description="a_l before reputation, per layer",
    )
    success_evidence: float = Field(default=1.0, ge=0.0, description="w_s")
    verified_evidence: float = Field(default=1.5, ge=0.0, description="w_v")
    failure_evidence: float = Field(default=2.25, ge=0.0, description="w_f (loss aversion)")
    caught_failure_scale: float = Field(
        default=0.4, ge=0.0, le=1.0, description="share of w_f a caught failure costs"
    )
    forgetting: float = Field(default=0.97, gt=0.0, le=1.0, description="lambda, per step")
    reputation_shift: float = Field(
        default=0.2, ge=0.0, le=1.0, description="a_l shift by reputation"
    )
    affordance_shift: float = Field(
        default=0.1, ge=0.0, le=1.0, description="a_l shift by mean affordance"
    )

    @model_validator(mode="after")
    def _base_rates_in_unit(self) -> Trust:
        if any(not 0.0 < a < 1.0 for a in self.base_rate):
            raise ValueError(f"base_rate values must lie in (0, 1), got {self.base_rate}")
        return self


class Choice(_Strict):
    temperature: float = Field(default=0.5, gt=0.0, le=10.0, description="tau of the logit")
    trust_weight: float = Field(default=2.0, ge=0.0, description="bT")
    risk_weight: float = Field(default=3.0, ge=0.0, description="bR")
    uncertainty_weight: float = Field(default=0.5, ge=0.0, description="zeta")
    structural_assurance: float = Field(default=0.6, ge=0.0, le=1.0, description="sigma")
    detection: float = Field(default=0.9, ge=0.0, le=1.0, description="q0")
    outside_means: float = Field(
        default=0.3, ge=0.0, le=1.0, description="e_ext, checking without the affordance"
    )
    verification_cost: float = Field(default=0.6, ge=0.0, description="cv")
    affordance_cost_relief: float = Field(default=0.6, ge=0.0, le=1.0, description="theta")
    control_weight: float = Field(default=2.5, ge=0.0, description="bC")
    verify_trust_share: float = Field(
        default=0.5, ge=0.0, le=1.0, description="omega, how far a checker relies on trust"
    )
    exit_bias: float = Field(default=-1.5, ge=-20.0, le=20.0, description="b0")
    reactance_weight: float = Field(default=3.0, ge=0.0, description="g")
    pressure_push: float = Field(default=1.5, ge=0.0, description="pi")
    impatience: float = Field(default=0.15, ge=0.0, description="pull out per step waited")


class Outcomes(_Strict):
    collapse: float = Field(default=0.3, ge=0.0, le=1.0, description="collapse chance at stake 1")
    verification_delay: float = Field(
        default=0.5, ge=0.0, lt=1.0, description="chance a verified step spills into a next step"
    )


class Reactance(_Strict):
    decay: float = Field(default=0.5, ge=0.0, lt=1.0, description="delta, per step")
    forced_weight: float = Field(
        default=0.15, ge=0.0, description="forced-step term x control need"
    )


class Satisfaction(_Strict):
    initial: float = Field(default=0.7, ge=0.0, le=1.0, description="S of a new lead")
    smoothing: float = Field(default=0.3, gt=0.0, le=1.0, description="alpha of the EWMA")
    baseline: float = Field(default=0.85, ge=0.0, le=1.0, description="experience of a plain step")
    surprise_weight: float = Field(
        default=0.5, ge=0.0, description="weight of outcome minus expectation"
    )
    loss_aversion: float = Field(default=2.25, ge=1.0, description="weight of worse-than-expected")
    caught_outcome: float = Field(
        default=0.6, ge=0.0, le=1.0, description="outcome of a caught error"
    )
    incident_loss: float = Field(default=0.3, ge=0.0, description="loss per unit stake")
    anxiety_penalty: float = Field(default=0.5, ge=0.0, description="weight of felt risk")
    effort_weight: float = Field(default=0.3, ge=0.0)
    pressure_penalty: float = Field(default=0.4, ge=0.0)
    forced_penalty: float = Field(default=1.0, ge=0.0)


class Repeat(_Strict):
    rate: float = Field(default=0.0, ge=0.0, le=1.0, description="per-step chance at S = 1")
    threshold: float = Field(default=0.5, ge=0.0, lt=1.0, description="S below which none")
    value: float = Field(default=0.0, ge=0.0, description="revenue of one repeat purchase")


class Scenario(_Strict):
    """A fully resolved scenario: the service, the market and the buyers."""

    name: str = "custom"
    description: str = ""
    closing_stage: str = Field(description="the stage whose completion closes the deal")
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
        return self

    @property
    def stage_names(self) -> list[str]:
        return list(self.stages)

    @property
    def closing_index(self) -> int:
        return self.stage_names.index(self.closing_stage)

"""Priors: the ranges of the parameters a calibration fits, over dotted scenario paths.

A priors file::

    [priors]
    "choice.exit_bias" = { low = -3.0, high = 0.0 }
    "market.word_of_mouth" = { low = 0.05, high = 0.8, dist = "loguniform" }

`uniform` spreads belief evenly over [low, high]; `loguniform` evenly over
[log low, log high] (for a rate whose order of magnitude is unknown). The paths and
both ends of each range are checked against the scenario with the experiment-factor
machinery, so a prior is valid exactly when the same range would be a valid factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trustsim.calibration.data import describe_error, first_error, read_toml
from trustsim.errors import TrustsimInputError
from trustsim.scenarios import Scenario


class PriorRange(BaseModel):
    """One prior as written: `low`, `high` and `dist`."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    low: float
    high: float
    dist: Literal["uniform", "loguniform"] = "uniform"

    @model_validator(mode="after")
    def _ordered(self) -> PriorRange:
        if self.low >= self.high:
            raise ValueError(f"low must be below high, got low={self.low}, high={self.high}")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0, got low={self.low}")
        return self


class PriorsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str = ""
    priors: dict[str, PriorRange] = Field(min_length=1)


PRIOR_KEYS = {"": list(PriorsFile.model_fields), "priors": list(PriorRange.model_fields)}


@dataclass(frozen=True)
class Prior:
    """A validated prior over one scenario value.

    Calibration works on the unit cube: u = (x - low) / (high - low), or the same on
    log x for a log-uniform prior, so every prior is uniform in u.
    """

    path: str
    low: float
    high: float
    dist: Literal["uniform", "loguniform"] = "uniform"

    def _scale(self, x):
        return np.log(x) if self.dist == "loguniform" else np.asarray(x, dtype=float)

    def to_unit(self, x):
        """The unit coordinate of value(s) x.

        Example:
            >>> float(Prior("a", 1.0, 100.0, "loguniform").to_unit(10.0))
            0.5
        """
        lo, hi = self._scale(self.low), self._scale(self.high)
        return (self._scale(x) - lo) / (hi - lo)

    def from_unit(self, u):
        """The value(s) at unit coordinate(s) u (the inverse of `to_unit`)."""
        lo, hi = self._scale(self.low), self._scale(self.high)
        x = lo + np.asarray(u, dtype=float) * (hi - lo)
        return np.exp(x) if self.dist == "loguniform" else x

    @property
    def width(self) -> float:
        return self.high - self.low


def load_priors(
    path: str | Path, scenario_ref: str, base_overrides: list[str] | tuple[str, ...] = ()
) -> list[Prior]:
    """Read and validate a priors file against the scenario `scenario_ref`.

    Args:
        path: the priors TOML file.
        scenario_ref: the scenario (name or path) the priors are ranges of.
        base_overrides: `PATH=VALUE` settings applied before the priors (the window).

    Raises:
        TrustsimInputError: one message naming the file, the prior and the fix.

    Example:
        >>> from trustsim.calibration.data import example_path
        >>> [p.path for p in load_priors(example_path("real-estate-priors"), "real-estate")]
        ['choice.exit_bias', 'market.word_of_mouth']
    """
    raw, _ = read_toml(path, "priors")
    label = str(path)
    try:
        spec = PriorsFile.model_validate(raw)
    except ValidationError as exc:
        raise TrustsimInputError(describe_error(first_error(exc), label, PRIOR_KEYS)) from None
    priors = [Prior(p, r.low, r.high, r.dist) for p, r in spec.priors.items()]
    _check_paths(priors, scenario_ref, list(base_overrides), label)
    return priors


def _check_paths(priors: list[Prior], scenario_ref: str, fixed: list[str], label: str) -> None:
    """Each path must hold a continuous number, and both ends of its range be valid there."""
    from trustsim.experiments.experiment import experiment_from_dict
    from trustsim.scenarios import load_scenario

    base = load_scenario(scenario_ref, fixed)
    for prior in priors:
        _check_continuous(base, prior.path, label)
    factors = {p.path: {"low": p.low, "high": p.high, "dist": p.dist} for p in priors}
    experiment = {
        "name": "priors", "scenarios": [scenario_ref], "set": fixed, "metrics": ["leads"],
        "design": {"method": "lhs", "samples": 1}, "factors": factors,
    }  # fmt: skip
    try:
        experiment_from_dict(experiment, label)
    except TrustsimInputError as exc:
        raise TrustsimInputError(str(exc).replace(": factors.", ": priors.", 1)) from None


def _check_continuous(base: Scenario, path: str, label: str) -> None:
    node = base.model_dump()
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return  # an unknown path: the factor check names what is allowed
        node = node[key]
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise TrustsimInputError(
            f'{label}: priors."{path}": holds {node!r}, not a continuous number. '
            "Calibrate a numeric parameter (e.g. choice.exit_bias)."
        )
    if isinstance(node, int):
        raise TrustsimInputError(
            f'{label}: priors."{path}": a whole number; calibration fits continuous '
            "parameters only. Fix it with --set, or calibrate a rate instead."
        )


def unit_to_overrides(priors: list[Prior], unit_row) -> tuple[str, ...]:
    """`PATH=VALUE` overrides for one point on the unit cube."""
    from trustsim.experiments.experiment import override_text

    return tuple(
        override_text(p.path, float(p.from_unit(u))) for p, u in zip(priors, unit_row, strict=True)
    )

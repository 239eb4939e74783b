"""A firm's funnel data: the TOML format, its validation, and writing it back.

What a firm records over an observation window, every part optional except the leads or
at least one stage::

    source = "CRM export, launch to week 26"

    leads = [12, 15, 31]            # per period (or one total: leads = 58)
    closed_deals = 9

    [window]
    periods = 3                     # calendar periods, one model step each
    unit = "week"                   # must match the scenario's time.step_unit

    [stages.viewing]
    entered = 40                    # buyers who reached the stage
    passed = 22                     # moved on to the next stage
    walked_away = 15                # left the journey here
    verified = 6                    # checks made here (where known)

    [nps]
    promoters = 5
    passives = 2
    detractors = 1

    [satisfaction]                  # a mean on the model's 0-1 scale with its n
    mean = 0.78
    n = 8
    sd = 0.15                       # optional, default 0.2

Counts are validated (non-negative, passed and walked away within entered, stages that
exist in the scenario, no unknown keys); every problem is one `TrustsimInputError`
naming the file and the field.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from trustsim.errors import TrustsimInputError
from trustsim.scenarios import Scenario

DEFAULT_SATISFACTION_SD = 0.2
EXAMPLES_PACKAGE = "trustsim.calibration.examples"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


Count = Field(default=None, ge=0)


class Window(_Strict):
    """The observation window: `periods` calendar periods of one `unit` (one model step)."""

    periods: int = Field(ge=1, le=100_000)
    unit: str = "week"


class StageCounts(_Strict):
    """What was counted at one stage; every count optional."""

    entered: int | None = Count
    passed: int | None = Count
    walked_away: int | None = Count
    verified: int | None = Count

    @model_validator(mode="after")
    def _within_entered(self) -> StageCounts:
        if self.entered is None:
            if self.verified is not None:
                raise ValueError("verified needs entered to give a share")
            if self.passed is not None and self.walked_away is None:
                raise ValueError("passed needs entered or walked_away to give a share")
            return self
        for name in ("passed", "walked_away", "verified"):
            value = getattr(self, name)
            if value is not None and value > self.entered:
                raise ValueError(f"{name} = {value} exceeds entered = {self.entered}")
        moved = (self.passed or 0) + (self.walked_away or 0)
        if moved > self.entered:
            raise ValueError(f"passed + walked_away = {moved} exceeds entered = {self.entered}")
        return self


class NpsCounts(_Strict):
    """Answers to the recommendation question among customers."""

    promoters: int = Field(ge=0)
    passives: int = Field(ge=0)
    detractors: int = Field(ge=0)

    @model_validator(mode="after")
    def _someone_answered(self) -> NpsCounts:
        if self.promoters + self.passives + self.detractors == 0:
            raise ValueError("no answers: promoters + passives + detractors must exceed 0")
        return self

    @property
    def total(self) -> int:
        return self.promoters + self.passives + self.detractors


class SatisfactionMean(_Strict):
    """A mean satisfaction on the model's 0-1 scale, over `n` customers."""

    mean: float = Field(ge=0.0, le=1.0)
    n: int = Field(ge=1)
    sd: float = Field(default=DEFAULT_SATISFACTION_SD, gt=0.0, le=1.0)


class FunnelData(_Strict):
    """A funnel data file as written, validated field by field."""

    source: str = ""
    description: str = ""
    leads: int | list[int] | None = None
    closed_deals: int | None = Count
    window: Window | None = None
    stages: dict[str, StageCounts] = Field(default_factory=dict)
    nps: NpsCounts | None = None
    satisfaction: SatisfactionMean | None = None

    @model_validator(mode="after")
    def _leads_or_a_stage(self) -> FunnelData:
        if self.leads is None and not self.stages:
            raise ValueError("give leads or at least one [stages.NAME] table")
        periods = self.window.periods if self.window is not None else None
        if isinstance(self.leads, list) and periods is not None and len(self.leads) != periods:
            raise ValueError(
                f"leads has {len(self.leads)} periods but window.periods = {periods}; "
                "give one count per period"
            )
        return self

    @field_validator("leads")
    @classmethod
    def _non_negative(cls, leads: int | list[int] | None) -> int | list[int] | None:
        counts = leads if isinstance(leads, list) else [] if leads is None else [leads]
        if isinstance(leads, list) and not leads:
            raise ValueError("give one count per period, or a total")
        if any(n < 0 for n in counts):
            raise ValueError("must be non-negative counts")
        return leads

    @property
    def total_leads(self) -> int | None:
        return sum(self.leads) if isinstance(self.leads, list) else self.leads

    def periods(self, scenario: Scenario) -> int:
        """Steps of the window: window.periods, the leads list's length, or the scenario's."""
        if self.window is not None:
            return self.window.periods
        if isinstance(self.leads, list):
            return len(self.leads)
        return scenario.time.steps


def describe_error(err: Mapping, label: str, allowed: Mapping[str, list[str]]) -> str:
    """One line for a pydantic error: file, field path, value and what to do.

    `allowed` maps the first key of a field path to the keys allowed below it ("" for the
    top level), for unknown-key messages.
    """
    loc = tuple(str(p) for p in err["loc"] if not str(p).startswith(("int", "list")))
    field = ".".join(f'"{p}"' if "." in p else p for p in loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = loc[0] if len(loc) > 1 else ""
        keys = allowed.get(parent, allowed[""])
        return f"{label}: {field}: unknown key. Allowed keys here: {', '.join(keys)}."
    if kind == "missing":
        return f"{label}: {field}: required but missing. Add it."
    message = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if not field:  # a rule over the whole file
        return f"{label}: {message}."
    if isinstance(value, dict) or value is None:
        return f"{label}: {field}: {message}."
    return f"{label}: {field} = {value!r}: {message}."


def first_error(exc: ValidationError) -> Mapping:
    """The error to report: an unknown key (most often a typo) before what it left missing."""
    return min(exc.errors(), key=lambda err: err["type"] != "extra_forbidden")


DATA_KEYS = {
    "": list(FunnelData.model_fields),
    "window": list(Window.model_fields),
    "stages": list(StageCounts.model_fields),
    "nps": list(NpsCounts.model_fields),
    "satisfaction": list(SatisfactionMean.model_fields),
}


def read_toml(path: str | Path, what: str) -> tuple[dict[str, Any], str]:
    """Parse a TOML file; a missing, unreadable or malformed file is one clear message."""
    file = Path(path)
    if not file.is_file():
        raise TrustsimInputError(f"{path}: no such {what} file. Give the path to a .toml file.")
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrustsimInputError(f"{path}: cannot read: {exc}.") from None
    try:
        return tomllib.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        raise TrustsimInputError(f"{path}: not valid TOML: {exc}. Fix the syntax.") from None


def load_data(path: str | Path, scenario: Scenario | None = None) -> FunnelData:
    """Read and validate a funnel data file, against `scenario` if given.

    Raises:
        TrustsimInputError: one message naming the file, the field and the fix.

    Example:
        >>> from trustsim.scenarios import load_scenario
        >>> data = load_data(example_path("real-estate-synthetic"), load_scenario("real-estate"))
        >>> data.window.unit, "viewing" in data.stages
        ('week', True)
    """
    raw, _ = read_toml(path, "funnel data")
    return data_from_dict(raw, str(path), scenario)


def data_from_dict(
    raw: Mapping[str, Any], label: str, scenario: Scenario | None = None
) -> FunnelData:
    """Validate funnel data given as a dict (the parsed TOML)."""
    try:
        data = FunnelData.model_validate(dict(raw))
    except ValidationError as exc:
        raise TrustsimInputError(describe_error(first_error(exc), label, DATA_KEYS)) from None
    if scenario is not None:
        check_against_scenario(data, scenario, label)
    return data


def check_against_scenario(data: FunnelData, scenario: Scenario, label: str) -> None:
    """Stages must exist in the scenario and the window's unit must be its step unit."""
    for name in data.stages:
        if name not in scenario.stages:
            raise TrustsimInputError(
                f"{label}: stages.{name}: scenario {scenario.name!r} has no such stage. "
                f"Its stages are {', '.join(scenario.stages)}."
            )
    unit = scenario.time.step_unit
    if data.window is not None and data.window.unit != unit:
        raise TrustsimInputError(
            f"{label}: window.unit = {data.window.unit!r}: scenario {scenario.name!r} steps "
            f"in {unit}s. Give counts per {unit}, or set time.step_unit in the scenario."
        )


def data_to_toml(data: FunnelData, comment: str = "") -> str:
    """The data as a TOML file in the documented layout (scalars, then tables)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    for key in ("source", "description"):
        value = getattr(data, key)
        if value:
            lines.append(f"{key} = {_literal(value)}")
    if data.leads is not None:
        lines.append(f"leads = {_literal(data.leads)}")
    if data.closed_deals is not None:
        lines.append(f"closed_deals = {data.closed_deals}")
    if data.window is not None:
        lines += ["", "[window]", f"periods = {data.window.periods}"]
        lines.append(f"unit = {_literal(data.window.unit)}")
    for name, counts in data.stages.items():
        lines += ["", f"[stages.{toml_key(name)}]"]
        lines += [f"{k} = {v}" for k, v in counts.model_dump(exclude_none=True).items()]
    for table in ("nps", "satisfaction"):
        value = getattr(data, table)
        if value is not None:
            lines += ["", f"[{table}]"]
            lines += [f"{k} = {_literal(v)}" for k, v in value.model_dump().items()]
    return "\n".join(lines) + "\n"


def toml_key(name: str) -> str:
    if name and all(ch.isalnum() or ch in "-_" for ch in name):
        return name
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _literal(value: Any) -> str:
    from trustsim.experiments.experiment import toml_literal

    return toml_literal(value)


def example_names() -> list[str]:
    """Names of the example data files shipped with trustsim (all synthetic)."""
    from importlib import resources

    files = resources.files(EXAMPLES_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def example_path(name: str) -> Path:
    """Path of a shipped example file, e.g. `example_path("real-estate-synthetic")`."""
    from importlib import resources

    return Path(str(resources.files(EXAMPLES_PACKAGE).joinpath(f"{name}.toml")))

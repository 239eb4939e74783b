"""Experiment files: which scenarios, which factors over which ranges, which design.

An experiment is data (TOML), validated into typed objects like a scenario. Every problem
becomes one `TrustsimInputError` naming the file, the field path, the value and the fix,
so the CLI can print it and exit with code 2.

A minimal experiment file::

    name = "affordance-x-pressure"
    scenarios = ["real-estate"]
    replications = 10
    seed = 1
    metrics = ["closed_deals", "satisfaction"]

    [design]
    method = "grid"

    [factors]
    "stages.contract.affordance" = { values = [0.0, 0.5, 1.0] }
    "stages.contract.pressure" = { low = 0.0, high = 0.6, levels = 4 }
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trustsim.errors import TrustsimInputError
from trustsim.metrics import SWEEP_DEFAULTS
from trustsim.scenarios import Scenario, load_scenario
from trustsim.scenarios.schema import Slug

DESIGNS = ("grid", "lhs", "sobol", "morris")
# Run measures kept when an experiment names none (the metric registry's sweep defaults).
DEFAULT_METRICS = SWEEP_DEFAULTS


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Factor(_Strict):
    """One varied scenario value: a list of `values`, or a range `low`..`high`.

    A range is sampled by `dist`: `uniform` (default), `loguniform` (low > 0) or `normal`
    (`mean`, `sd`, truncated to [low, high]). On an integer field (market.size,
    time.steps) a range gives integers. A grid needs `values`, or `levels` for a range.
    """

    values: list[Any] | None = Field(default=None, min_length=1)
    low: float | None = None
    high: float | None = None
    dist: Literal["uniform", "loguniform", "normal"] = "uniform"
    mean: float | None = None
    sd: float | None = Field(default=None, gt=0.0)
    levels: int | None = Field(default=None, ge=2, le=1000)

    @model_validator(mode="after")
    def _values_or_range(self) -> Factor:
        ranged = self.low is not None or self.high is not None
        if self.values is not None and ranged:
            raise ValueError("give either values = [...] or low and high, not both")
        if self.values is None and not ranged:
            raise ValueError("give values = [...] or a range low = ..., high = ...")
        if self.values is not None:
            for name in ("levels", "mean", "sd"):
                if getattr(self, name) is not None:
                    raise ValueError(f"{name} applies to a range (low, high), not to values")
            if self.dist != "uniform":
                raise ValueError("dist applies to a range (low, high), not to values")
            return self
        return self._check_range()

    def _check_range(self) -> Factor:
        if self.low is None or self.high is None:
            raise ValueError("a range needs both low and high")
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.low >= self.high:
            raise ValueError(f"low must be below high, got low={self.low}, high={self.high}")
        if self.dist == "loguniform" and self.low <= 0:
            raise ValueError(f"loguniform needs low > 0, got low={self.low}")
        normal = self.mean is not None or self.sd is not None
        if self.dist == "normal" and (self.mean is None or self.sd is None):
            raise ValueError("dist = 'normal' needs mean and sd")
        if self.dist != "normal" and normal:
            raise ValueError("mean and sd apply only to dist = 'normal'")
        if self.dist == "normal" and self.levels is not None:
            raise ValueError("a grid cannot take levels of a normal range; use values")
        return self

    @property
    def is_range(self) -> bool:
        return self.values is None


class Design(_Strict):
    """How design points are drawn from the factors.

    `grid` crosses every factor's values; `lhs` draws `samples` Latin-hypercube points;
    `sobol` draws Saltelli's extension of Sobol' sequences with `samples` base points
    (rounded up to a power of two), N * (D + 2) points, or N * (2D + 2) with
    `second_order`; `morris` draws `samples` trajectories on a grid of `morris_levels`.
    """

    method: Literal["grid", "lhs", "sobol", "morris"] = "grid"
    samples: int | None = Field(default=None, ge=1, le=10_000_000)
    second_order: bool = False
    morris_levels: int = Field(default=4, ge=2, le=100)
    seed: int | None = Field(default=None, ge=0, description="default: the experiment's seed")

    @model_validator(mode="after")
    def _samples_where_needed(self) -> Design:
        if self.method == "grid":
            if self.samples is not None:
                raise ValueError("a grid takes no samples; its size is the product of levels")
        elif self.samples is None:
            raise ValueError(f"design {self.method!r} needs samples = N")
        if self.second_order and self.method != "sobol":
            raise ValueError("second_order applies only to method = 'sobol'")
        if self.method == "morris" and self.morris_levels % 2:
            raise ValueError(f"morris_levels must be even, got {self.morris_levels}")
        return self


class ExperimentSpec(_Strict):
    """The experiment file as written, validated field by field."""

    name: Slug = Field(default="", description="default: the file name without .toml")
    description: str = ""
    scenarios: list[str] = Field(min_length=1, description="built-in names or TOML paths")
    set: list[str] = Field(default_factory=list, description="PATH=VALUE for every run")
    steps: int | None = Field(default=None, ge=1, le=100_000, description="horizon")
    replications: int = Field(default=10, ge=1, le=1_000_000)
    seed: int = Field(default=0, ge=0)
    metrics: list[str] = Field(default_factory=lambda: list(DEFAULT_METRICS), min_length=1)
    design: Design = Field(default_factory=Design)
    factors: dict[str, Factor] = Field(min_length=1)


@dataclass(frozen=True)
class FactorInfo:
    """A factor with what the scenario says about its field.

    `kind` is "int" or "float" for a numeric range, "choice" for a list of values.
    """

    path: str
    spec: Factor
    kind: Literal["int", "float", "choice"]


@dataclass
class Experiment:
    """A validated experiment: its spec, the resolved base scenarios and factor kinds.

    Attributes:
        spec: the file's fields.
        source: the file path (or a label for experiments built in code).
        text: the file's text, kept with the results as provenance.
        bases: each base scenario by name, with `set` and `steps` applied.
        factors: factors in file order with their kinds.
    """

    spec: ExperimentSpec
    source: str
    text: str
    bases: dict[str, Scenario]
    factors: list[FactorInfo]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def design_seed(self) -> int:
        return self.spec.design.seed if self.spec.design.seed is not None else self.spec.seed

    @property
    def factor_paths(self) -> list[str]:
        return [f.path for f in self.factors]


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment TOML file.

    Args:
        path: the experiment file (scenario paths in it are relative to its folder), or
            the name of a shipped example (see `example_names()`).

    Returns:
        The validated `Experiment`.

    Raises:
        TrustsimInputError: one message naming the file, the field, the value and the fix.

    Example:
        >>> from trustsim.experiments.experiment import example_path
        >>> exp = load_experiment(example_path("affordance-pressure-grid"))
        >>> exp.spec.design.method
        'grid'
    """
    file = Path(path)
    label = str(path)
    if not file.is_file() and str(path) in example_names():
        file = example_path(str(path))
        label = f"example experiment {str(path)!r}"
    if not file.is_file():
        raise TrustsimInputError(
            f"{label}: no such experiment file. Give the path to a .toml experiment, e.g. "
            f"{example_path('affordance-pressure-grid')}."
        )
    text = _read_text(file, label)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise TrustsimInputError(f"{label}: not valid TOML: {exc}. Fix the syntax.") from None
    raw.setdefault("name", file.stem)
    return experiment_from_dict(raw, label, text=text, relative_to=file.parent)


def experiment_from_dict(
    raw: Mapping[str, Any], label: str, text: str = "", relative_to: Path | None = None
) -> Experiment:
    """Validate an experiment given as a dict (the parsed TOML).

    Example:
        >>> exp = experiment_from_dict(
        ...     {"name": "x", "scenarios": ["real-estate"], "replications": 2,
        ...      "factors": {"stages.contract.affordance": {"values": [0.0, 1.0]}}},
        ...     "inline experiment")
        >>> exp.factors[0].kind
        'choice'
    """
    try:
        spec = ExperimentSpec.model_validate(dict(raw))
    except ValidationError as exc:
        raise TrustsimInputError(_describe_error(exc.errors()[0], label)) from None
    if not spec.name:
        spec.name = "experiment"
    fixed = [*spec.set, *([f"time.steps={spec.steps}"] if spec.steps is not None else [])]
    _check_grid_levels(spec, label)
    _check_factor_paths(spec, label)
    bases = _resolve_bases(spec, fixed, label, relative_to)
    factors = [_factor_info(path, factor, bases, label) for path, factor in spec.factors.items()]
    _check_metrics(spec.metrics, bases, label)
    return Experiment(spec=spec, source=label, text=text, bases=bases, factors=factors)


def _read_text(file: Path, label: str) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TrustsimInputError(
            f"{label}: not UTF-8 text (byte {exc.object[exc.start]:#04x} at position "
            f"{exc.start}). Save the experiment file as UTF-8."
        ) from None
    except OSError as exc:
        raise TrustsimInputError(f"{label}: cannot read ({exc.strerror or exc}).") from None


def _describe_error(err: Mapping, label: str) -> str:
    """One line for a pydantic error, in the style of the scenario loader."""
    loc = tuple(str(p) for p in err["loc"])
    field = ".".join(_quote_path(p) for p in loc) or "(top level)"
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        return f"{label}: {field}: unknown key. Allowed keys here: {', '.join(allowed)}."
    if kind == "missing":
        return f"{label}: {field}: required but missing. Add it."
    message = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if kind == "value_error" or isinstance(value, dict) or value is None:
        return f"{label}: {field}: {message}."
    return f"{label}: {field} = {value!r}: {message}."


def _quote_path(part: str) -> str:
    # Factor names are dotted scenario paths; quote them so the field path stays readable.
    return f'"{part}"' if "." in part else part


def _allowed_keys(loc: tuple[str, ...]) -> list[str]:
    if not loc:
        return list(ExperimentSpec.model_fields)
    if loc[0] == "design":
        return list(Design.model_fields)
    if loc[0] == "factors":
        return list(Factor.model_fields)
    return list(ExperimentSpec.model_fields)


def _check_grid_levels(spec: ExperimentSpec, label: str) -> None:
    if spec.design.method != "grid":
        return
    for path, factor in spec.factors.items():
        if factor.is_range and factor.levels is None:
            raise TrustsimInputError(
                f'{label}: factors."{path}": a range in a grid needs its levels; add '
                'levels = 5 (or give values = [...]), or use design.method = "lhs".'
            )


def _check_factor_paths(spec: ExperimentSpec, label: str) -> None:
    fixed_paths = {text.split("=", 1)[0].strip() for text in spec.set if "=" in text}
    for path in spec.factors:
        if path in fixed_paths:
            raise TrustsimInputError(
                f'{label}: factors."{path}": also fixed in `set`. Remove it from one of them.'
            )
        if path == "time.steps" and spec.steps is not None:
            raise TrustsimInputError(
                f'{label}: factors."time.steps": the horizon is also fixed by steps = '
                f"{spec.steps}. Remove one of them."
            )
        if path in ("name", "description"):
            raise TrustsimInputError(
                f'{label}: factors."{path}": not a model parameter. Vary a numeric or '
                "boolean scenario value, e.g. stages.contract.affordance."
            )


def _resolve_bases(
    spec: ExperimentSpec, fixed: list[str], label: str, relative_to: Path | None
) -> dict[str, Scenario]:
    bases: dict[str, Scenario] = {}
    for index, ref in enumerate(spec.scenarios):
        located = _scenario_ref(ref, relative_to)
        try:
            scenario = load_scenario(located)
        except TrustsimInputError as exc:
            raise TrustsimInputError(f"{label}: scenarios[{index}] = {ref!r}: {exc}") from None
        try:
            scenario = load_scenario(scenario, fixed)
        except TrustsimInputError as exc:
            where = "set" if spec.set else "steps"
            raise TrustsimInputError(
                f"{label}: {where} (applied to scenario {scenario.name!r}): {exc}"
            ) from None
        if scenario.name in bases:
            raise TrustsimInputError(
                f"{label}: scenarios[{index}] = {ref!r}: a second scenario named "
                f"{scenario.name!r}. List each scenario once, or give it another name."
            )
        bases[scenario.name] = scenario
    return bases


def _scenario_ref(ref: str, relative_to: Path | None) -> str:
    """A scenario path relative to the experiment file's folder, or a built-in name."""
    if relative_to is not None and (ref.endswith(".toml") or "/" in ref):
        candidate = relative_to / ref
        if candidate.is_file():
            return str(candidate)
    return ref


def _factor_info(path: str, factor: Factor, bases: dict[str, Scenario], label: str) -> FactorInfo:
    current = [_value_at(base.model_dump(), path) for base in bases.values()]
    field = f'factors."{path}"'
    if factor.is_range:
        kind = _range_kind(current, field, label)
        probes = [factor.low, factor.high] if kind == "float" else _int_bounds(factor)
    else:
        kind = "choice"
        probes = factor.values
    for name, base in bases.items():
        for value in probes:
            _probe(base, path, value, f"{label}: {field}", name)
    return FactorInfo(path=path, spec=factor, kind=kind)


def _range_kind(current: list[Any], field: str, label: str) -> Literal["int", "float"]:
    """Integer fields give integer ranges; booleans and text need values."""
    if any(isinstance(v, bool | str | list | dict) for v in current):
        example = "[true, false]" if isinstance(current[0], bool) else "[...]"
        raise TrustsimInputError(
            f"{label}: {field}: a range needs a numeric field, but this field holds "
            f"{current[0]!r}. Give values = {example} instead."
        )
    if current and all(isinstance(v, int) for v in current):
        return "int"
    return "float"


def _int_bounds(factor: Factor) -> list[int]:
    low, high = math.ceil(factor.low), math.floor(factor.high)
    return [low, high] if low <= high else [low]


def _value_at(data: Any, path: str) -> Any:
    node = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _probe(base: Scenario, path: str, value: Any, where: str, scenario: str) -> None:
    """Check that `path = value` gives a valid scenario; say where and why if not."""
    override = override_text(path, value)
    try:
        load_scenario(base, [override])
    except TrustsimInputError as exc:
        reason = str(exc).removeprefix(f"--set {override}: ").removeprefix(f"--set {override}")
        reason = reason.removeprefix(f"{path} = {value!r}: ").strip()
        if any(text in reason for text in PATH_PROBLEMS):
            raise TrustsimInputError(
                f"{where}: not a value of scenario {scenario!r}: {reason}"
            ) from None
        raise TrustsimInputError(
            f"{where}: value {value!r} is not valid for scenario {scenario!r}: {reason}"
        ) from None


# Loader messages that mean the path itself is wrong, whatever the value.
PATH_PROBLEMS = ("unknown field", "there is no", "not a table", "set a field of")


def override_text(path: str, value: Any) -> str:
    """The `PATH=VALUE` override that sets a scenario value, VALUE written as TOML.

    Example:
        >>> override_text("stages.contract.forced", True)
        'stages.contract.forced=true'
    """
    return f"{path}={toml_literal(value)}"


def toml_literal(value: Any) -> str:
    """A Python value as a TOML literal (floats round-trip exactly via repr)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_literal(v) for v in value) + "]"
    raise TrustsimInputError(f"cannot use {value!r} as a scenario value")


def available_metrics(scenario: Scenario) -> list[str]:
    """Names of the run measures a scenario produces (from a one-step run of one buyer)."""
    from trustsim.experiments.runner import simulate

    tiny = load_scenario(scenario, ["market.size=1"])
    summary, _ = simulate(tiny, 0, steps=1)
    return list(summary)


def _check_metrics(metrics: list[str], bases: dict[str, Scenario], label: str) -> None:
    for name, base in bases.items():
        known = available_metrics(base)
        for index, metric in enumerate(metrics):
            if metric not in known:
                headline = ", ".join(m for m in DEFAULT_METRICS if m in known)
                stage = base.stage_names[-1]
                raise TrustsimInputError(
                    f"{label}: metrics[{index}] = {metric!r}: not a run measure of scenario "
                    f"{name!r}. Use e.g. {headline}, or a stage measure such as "
                    f"delegation_rate[{stage}]."
                )
    if len(set(metrics)) != len(metrics):
        twice = sorted({m for m in metrics if metrics.count(m) > 1})
        raise TrustsimInputError(
            f"{label}: metrics: {', '.join(twice)} listed twice. List each metric once."
        )


EXAMPLES_PACKAGE = "trustsim.experiments.examples"


def example_names() -> list[str]:
    """Names of the example experiments shipped with trustsim, sorted."""
    from importlib import resources

    files = resources.files(EXAMPLES_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def example_path(name: str) -> Path:
    """Path of a shipped example experiment, e.g. `example_path("sobol-trust")`."""
    from importlib import resources

    return Path(str(resources.files(EXAMPLES_PACKAGE).joinpath(f"{name}.toml")))

"""The page's controls, built from the scenario schema, and what the moved ones change.

A control is one number of the scenario: its path (the `--set` path as a tuple), a label
and help text from the field's metadata, bounds from the field's constraints, and the
starting value. Which fields get a control is chosen here (the market, each stage's
affordance, pressure and reliability, each segment's share and trait distributions);
everything else about a control is read from the schema, so a field's range or meaning
changes in one place. Nothing here imports Streamlit: the rules are tested without a page.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError

from trustsim.scenarios.schema import TRAITS, Distribution, Market, Scenario, Segment, Stage

Path_ = tuple[str, ...]

STAGE_FIELDS = ("affordance", "pressure", "reliability")
# The page runs at most this many buyers per scenario so every change answers in ~1-3 s.
PAGE_MAX_BUYERS = 5000
PAGE_MIN_BUYERS = 100
# Widget values are rounded to this many decimals before use, so the page, the saved
# TOML and a later `trustsim run` of that TOML all see exactly the same number.
DECIMALS = 10


@dataclass(frozen=True)
class Control:
    """One number of the scenario as the page shows it.

    Attributes:
        path: the field's path, e.g. ("stages", "contract", "affordance").
        label: what the widget is called.
        help: the field's meaning (from the schema) and its allowed range.
        value: the widget's starting value (the scenario's, kept within the page's range).
        original: the starting scenario's value; a different widget value is a change.
        low, high: the widget's bounds (None where the schema sets none).
        step: the widget's step; also fixes how many decimals are shown.
        integer: an integer field.
    """

    path: Path_
    label: str
    help: str
    value: float
    original: float
    low: float | None
    high: float | None
    step: float
    integer: bool

    @property
    def key(self) -> str:
        """The widget key: the dotted path, as `--set` writes it."""
        return ".".join(self.path)

    @property
    def bounded(self) -> bool:
        """Both bounds known: a slider; otherwise a number box."""
        return self.low is not None and self.high is not None

    @property
    def format(self) -> str:
        """printf format with as many decimals as the step has."""
        if self.integer:
            return "%d"
        return f"%.{max(0, -math.floor(math.log10(self.step)))}f"


@dataclass(frozen=True)
class Group:
    """Controls shown together, e.g. one stage; `path` is the table they belong to."""

    path: Path_
    title: str
    controls: tuple[Control, ...]


def field_bounds(
    model: type[BaseModel], name: str
) -> tuple[float | None, float | None, bool, bool]:
    """(low, high) of a numeric field from its constraints, and whether each is strict.

    A strict bound (gt, lt) is excluded from the field's values; `control_for` moves it
    inward by a step so that a widget offers only values the field accepts.
    """
    low = high = None
    strict_low = strict_high = False
    for constraint in model.model_fields[name].metadata:
        if getattr(constraint, "ge", None) is not None:
            low = constraint.ge
        if getattr(constraint, "gt", None) is not None:
            low, strict_low = constraint.gt, True
        if getattr(constraint, "le", None) is not None:
            high = constraint.le
        if getattr(constraint, "lt", None) is not None:
            high, strict_high = constraint.lt, True
    return low, high, strict_low, strict_high


def field_help(model: type[BaseModel], name: str) -> str:
    """What a field means, from the field reference (meaning, unit, business reading),
    falling back to the schema's own metadata for a field the reference lacks."""
    from trustsim.scenarios.reference import FIELDS

    for path, doc in FIELDS.items():
        if path.rsplit(".", 1)[-1] == name and _owner(path) is model:
            return f"{doc.meaning} ({doc.unit}). {doc.business}"
    info = model.model_fields[name]
    return "; ".join(text for text in (info.title, info.description) if text)


def _owner(path: str) -> type[BaseModel] | None:
    """The schema class that holds the field at a generic reference path."""
    from trustsim.scenarios import schema

    head = path.split(".")[0]
    owners = {
        "time": schema.TimeSettings, "market": schema.Market, "trust": schema.Trust,
        "choice": schema.Choice, "outcomes": schema.Outcomes, "reactance": schema.Reactance,
        "satisfaction": schema.Satisfaction, "repeat": schema.Repeat, "stages": schema.Stage,
        "segments": schema.Segment,
    }  # fmt: skip
    if head == "segments" and path.count(".") == 3:
        return schema.Distribution
    return owners.get(head)


def nice_step(span: float) -> float:
    """A power of ten about a thousandth of `span` (0.001 for [0, 1]).

    Example:
        >>> nice_step(1.0), nice_step(5.0), nice_step(40.0)
        (0.001, 0.001, 0.01)
    """
    return 10.0 ** math.floor(math.log10(span / 1000)) if span > 0 else 0.001


def control_for(model: type[BaseModel], name: str, path: Path_, value: float) -> Control:
    """The control of field `name` of `model` at `path`, starting at `value`."""
    integer = model.model_fields[name].annotation is int
    low, high, strict_low, strict_high = field_bounds(model, name)
    if low is not None and high is not None:
        step = 1 if integer else nice_step(high - low)
    else:
        step = 1 if integer else nice_step(max(abs(value), 1.0))
    # A strict bound moves in by a step, but never past the starting value.
    if strict_low and low is not None:
        low = min(low + step, value)
    if strict_high and high is not None:
        high = max(high - step, value)
    bounds = " to ".join(_plain(b) for b in (low, high) if b is not None)
    allowed = f"allowed: {bounds}" if low is not None and high is not None else ""
    if low is not None and high is None:
        allowed = f"allowed: at least {_plain(low)}"
    text = "; ".join(t for t in (field_help(model, name), allowed) if t)
    label = model.model_fields[name].title or name.replace("_", " ")
    return Control(path, label, text, value, value, low, high, step, integer)


def _plain(value: float) -> str:
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


def market_group(scenario: Scenario) -> Group:
    """Every number of the market, word of mouth included; the size within the page's range."""
    controls = []
    for name, info in Market.model_fields.items():
        if info.annotation not in (int, float):
            continue
        value = getattr(scenario.market, name)
        control = control_for(Market, name, ("market", name), value)
        if name == "size":
            # The page stays live only up to a few thousand buyers.
            control = dataclasses.replace(
                control,
                help=f"{control.help}; the page runs {PAGE_MIN_BUYERS:,} to {PAGE_MAX_BUYERS:,}",
                value=min(max(value, PAGE_MIN_BUYERS), PAGE_MAX_BUYERS),
                low=PAGE_MIN_BUYERS,
                high=PAGE_MAX_BUYERS,
                step=100,
            )
        controls.append(control)
    return Group(("market",), "Market and word of mouth", tuple(controls))


def stage_groups(scenario: Scenario) -> list[Group]:
    """Per stage, in journey order: affordance, pressure and reliability."""
    groups = []
    for stage_name, stage in scenario.stages.items():
        controls = tuple(
            control_for(Stage, name, ("stages", stage_name, name), getattr(stage, name))
            for name in STAGE_FIELDS
        )
        closing = " (closes the deal)" if stage_name == scenario.closing_stage else ""
        groups.append(Group(("stages", stage_name), f"{stage_name}{closing}", controls))
    return groups


def segment_groups(scenario: Scenario) -> list[Group]:
    """Per segment: its share and every parameter of each trait's distribution."""
    groups = []
    for segment_name, segment in scenario.segments.items():
        base = ("segments", segment_name)
        controls = [control_for(Segment, "share", (*base, "share"), segment.share)]
        for trait in TRAITS:
            dist: Distribution = getattr(segment, trait)
            for name in ("mean", "concentration", "low", "high", "sd", "value"):
                value = getattr(dist, name)
                if value is None:
                    continue
                control = control_for(Distribution, name, (*base, trait, name), value)
                label = f"{trait.replace('_', ' ')}: {control.label} ({dist.dist})"
                controls.append(dataclasses.replace(control, label=label))
        groups.append(Group(base, segment_name, tuple(controls)))
    return groups


def all_groups(scenario: Scenario) -> list[Group]:
    """Every group of controls of the page, market first."""
    return [market_group(scenario), *stage_groups(scenario), *segment_groups(scenario)]


def changed_values(groups: list[Group], values: Mapping[str, float]) -> dict[Path_, float]:
    """The controls whose value differs from the starting scenario, rounded (see DECIMALS).

    `values` maps a control's key to the widget's value; a key not given keeps the
    widget's starting value. A market size brought into the page's range is a change:
    the page runs the smaller market, and a saved file says so.
    """
    changes: dict[Path_, float] = {}
    for group in groups:
        for control in group.controls:
            value = values.get(control.key, control.value)
            value = round(value) if control.integer else round(float(value), DECIMALS)
            if value != control.original:
                changes[control.path] = value
    return changes


def resolve(
    start: Scenario, changes: Mapping[Path_, float], name: str
) -> tuple[Scenario | None, dict[Path_, str]]:
    """The starting scenario with the changes applied and renamed, or the errors by field.

    Returns:
        (scenario, {}) when valid; (None, {path of the field or table: message}) otherwise.
    """
    raw = start.model_dump(exclude_none=True)
    for path, value in changes.items():
        node = raw
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    raw["name"] = name
    # The start's display label names the start, not this version (as `extends` drops it).
    raw.pop("label", None)
    try:
        return Scenario.model_validate(raw), {}
    except ValidationError as exc:
        errors: dict[Path_, str] = {}
        for err in exc.errors():
            loc = tuple(str(p) for p in err["loc"])
            message = err["msg"].removeprefix("Value error, ")
            errors[loc] = f"{errors[loc]}; {message}" if loc in errors else message
        return None, errors


def error_home(loc: Path_, homes: list[Path_]) -> Path_:
    """Where an error at `loc` is shown: the longest known path that begins `loc`.

    A field's error sits by its control; a rule over a table (promoter above detractor)
    by the table; a rule over the whole scenario (shares sum to 1) at the top, `()`.

    Example:
        >>> error_home(("market", "size"), [(), ("market",), ("market", "size")])
        ('market', 'size')
        >>> error_home(("market",), [(), ("market",), ("market", "size")])
        ('market',)
    """
    best: Path_ = ()
    for home in homes:
        if loc[: len(home)] == home and len(home) > len(best):
            best = home
    return best


def scenario_toml(
    extends: str, name: str, changes: Mapping[Path_, float], edited: Scenario | None = None
) -> str:
    """A scenario file holding only the changes: `extends` the start, then one table each.

    A trait's distribution replaces the parent's whole (scenario files never merge two
    distributions), so a changed trait parameter is written with the rest of its
    distribution, taken from `edited` (the resolved scenario with the changes).

    Example:
        >>> print(scenario_toml("real-estate", "mine", {("market", "size"): 3000}), end="")
        extends = "real-estate"
        name = "mine"
        <BLANKLINE>
        [market]
        size = 3000
    """
    from trustsim.scenarios.loader import _toml_key, _toml_value

    lines = [f"extends = {_toml_value(extends)}", f"name = {_toml_value(name)}"]
    changes = dict(changes)
    if edited is not None:
        for path in [p for p in changes if p[0] == "segments" and len(p) == 4]:
            _, segment, trait, _ = path
            whole = getattr(edited.segments[segment], trait).model_dump(exclude_none=True)
            for key, value in whole.items():
                changes[("segments", segment, trait, key)] = value
    tables: dict[Path_, list[str]] = {}
    for path, value in changes.items():
        tables.setdefault(path[:-1], []).append(f"{_toml_key(path[-1])} = {_toml_value(value)}")
    for table, entries in tables.items():
        lines += ["", f"[{'.'.join(_toml_key(k) for k in table)}]", *entries]
    return "\n".join(lines) + "\n"


def extends_reference(start_ref: str, saved_to: Path) -> str:
    """How a file saved at `saved_to` names the starting scenario in its `extends`.

    A built-in name stays a name; a file becomes a path relative to the saved file's
    folder (the loader resolves `extends` from there), or absolute across drives.
    """
    from trustsim.scenarios import builtin_names

    if start_ref in builtin_names() and not Path(start_ref).is_file():
        return start_ref
    source = Path(start_ref).resolve()
    folder = saved_to.resolve().parent
    try:
        return Path(os.path.relpath(source, folder)).as_posix()
    except ValueError:
        return source.as_posix()

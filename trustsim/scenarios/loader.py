"""Load scenarios: built-in names or TOML files, `extends` inheritance, `--set` overrides.

Every problem becomes one `TrustsimInputError` naming the file (or the `--set` option),
the field path, the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from trustsim.errors import TrustsimInputError
from trustsim.scenarios.schema import LABEL_HINT, SLUG_RULE, TRAITS, Scenario, is_slug

BUILTIN_PACKAGE = "trustsim.scenarios.builtin"
# Tables whose keys are names chosen by the scenario author (not schema fields).
NAMED_TABLES = ("stages", "segments")
# In place of a stage or segment name in `--set`: every stage (or segment).
EVERY_MEMBER = "*"
# The directive with which a file states a named table as a whole instead of amending it.
RESTATING = {"stages": "journey", "segments": "personas"}
# Top-level keys of an experiment file that a scenario never has.
EXPERIMENT_KEYS = ("factors", "design", "scenarios", "replications", "metrics")


def builtin_names() -> list[str]:
    """Names of the scenarios shipped with trustsim, sorted."""
    files = resources.files(BUILTIN_PACKAGE).iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def builtin_path(name: str) -> Path:
    return Path(str(resources.files(BUILTIN_PACKAGE).joinpath(f"{name}.toml")))


def _locate(ref: str, relative_to: Path | None) -> tuple[Path, str]:
    """Find the file a scenario reference points at: a path, or a built-in name."""
    candidate = Path(ref)
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    if candidate.is_file():
        return candidate.resolve(), str(candidate)
    if ref in builtin_names():
        return builtin_path(ref).resolve(), f"built-in scenario {ref!r}"
    if ref.endswith(".toml") or "/" in ref or "\\" in ref:
        raise TrustsimInputError(
            f"{candidate}: no such file. Give an existing .toml file or a built-in scenario "
            f"({', '.join(builtin_names())})."
        )
    raise TrustsimInputError(
        f"unknown scenario {ref!r}: not a file and not a built-in scenario. "
        f"Built-in: {', '.join(builtin_names())}; or give a path to a .toml file."
    )


def _read_toml(path: Path, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except UnicodeDecodeError as exc:
        raise TrustsimInputError(
            f"{label}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at position "
            f"{exc.start}); a scenario file is TOML saved as UTF-8. Re-save it as UTF-8."
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise TrustsimInputError(f"{label}: not valid TOML: {exc}. Fix the syntax.") from None
    except OSError as exc:
        raise TrustsimInputError(f"{label}: cannot read: {exc.strerror}.") from None


def _merge(base: dict, override: dict, provenance: dict, source: str, prefix=()) -> dict:
    """Deep-merge `override` into a copy of `base`; tables merge, everything else replaces.

    A trait's distribution is one value: a child's replaces the parent's whole, so a
    beta's `concentration` never leaks into a child's normal distribution.
    """
    merged = dict(base)
    for key, value in override.items():
        path = (*prefix, key)
        is_trait = len(path) == 3 and path[0] == "segments" and path[2] in TRAITS
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and not is_trait:
            merged[key] = _merge(merged[key], value, provenance, source, path)
        else:
            merged[key] = copy.deepcopy(value)
            provenance[path] = source
    return merged


def _resolve_raw(
    ref: str, relative_to: Path | None, chain: tuple[Path, ...], provenance: dict
) -> dict:
    """The raw scenario a reference points at, with its `extends` chain applied."""
    path, label = _locate(ref, relative_to)
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise TrustsimInputError(
            f"{label}: `extends` forms a cycle ({cycle}). Remove one of the `extends` lines."
        )
    raw = _read_toml(path, label)
    _refuse_experiment(raw, label)
    parent = raw.pop("extends", None)
    if parent is None:
        base: dict = {}
    else:
        if not isinstance(parent, str):
            raise TrustsimInputError(
                f"{label}: extends = {parent!r}: must be a scenario name or a file path string."
            )
        try:
            base = _resolve_raw(parent, path.parent, (*chain, path), provenance)
        except TrustsimInputError as exc:
            if "extends" in str(exc) or str(exc).startswith(label):
                raise
            raise TrustsimInputError(f"{label}: extends = {parent!r}: {exc}") from None
        # A display name names one file's scenario: a child without one is not its parent.
        base.pop("label", None)
    orders = {}
    for table, directive in RESTATING.items():
        listed = raw.pop(directive, None)
        base = _restate(base, raw, table, listed, label, parent)
        if listed is not None:
            orders[table] = listed
    _default_name(raw, path, label, top=not chain)
    _record(raw, provenance, label)
    merged = _merge(base, raw, {}, label)
    for table, listed in orders.items():
        merged[table] = {name: merged[table][name] for name in listed}
    return merged


def _refuse_experiment(raw: dict, label: str) -> None:
    """An experiment file given where a scenario is expected gets one pointer, not a list."""
    if "stages" not in raw and any(key in raw for key in EXPERIMENT_KEYS):
        path = label.removeprefix("built-in scenario ")
        raise TrustsimInputError(
            f"{label}: this is an experiment file, not a scenario: use "
            f"`trustsim sweep {path} --dry-run` to check it."
        )


def _default_name(raw: dict, path: Path, label: str, *, top: bool) -> None:
    """Name a scenario after its file when it sets no `name` (only the top file's counts)."""
    if "name" in raw:
        return
    if is_slug(path.stem):
        raw["name"] = path.stem
    elif top:
        suggestion = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-.") or "my-scenario"
        raise TrustsimInputError(
            f"{label}: the file sets no `name` and its file name {path.stem!r} is not a valid "
            f'one ({SLUG_RULE}). Add name = "{suggestion}" to the file; {LABEL_HINT}.'
        )


def _restate(
    base: dict, raw: dict, table: str, listed: Any, label: str, parent: str | None
) -> dict:
    """Apply inheritance with intent to `table` ("stages" or "segments").

    Without a list (`journey`, `personas`) a child may only change the parent's stages
    or segments: a name the parent lacks is a typo until shown otherwise. With a list the
    child states the whole table: the parent's entries not listed are dropped, and a
    listed name the parent lacks is new and must have its own table in the child.
    """
    directive = RESTATING[table]
    kind = table.removesuffix("s")
    child = raw.get(table) if isinstance(raw.get(table), dict) else {}
    inherited = base.get(table) if isinstance(base.get(table), dict) else {}
    if listed is None:
        if parent is None:
            return base
        for name in child:
            if name not in inherited:
                raise TrustsimInputError(
                    f"{label}: [{table}.{name}]: {parent!r} has no {kind} {name!r}."
                    f"{_did_you_mean(name, inherited)} To add, drop or reorder {table}, list "
                    f"them all: {directive} = {_toml_list([*inherited, name])}."
                )
        return base
    if (
        not isinstance(listed, list)
        or not listed
        or not all(isinstance(name, str) and name for name in listed)
    ):
        raise TrustsimInputError(
            f"{label}: {directive} = {listed!r}: must be a non-empty list of {kind} names, "
            f"for example {directive} = {_toml_list(list(inherited) or ['first', 'second'])}."
        )
    repeated = sorted({name for name in listed if listed.count(name) > 1})
    if repeated:
        raise TrustsimInputError(
            f"{label}: {directive} lists {', '.join(map(repr, repeated))} more than once. "
            f"Each {kind} appears once."
        )
    for name in listed:
        if name not in inherited and name not in child:
            where = f"neither {parent!r} nor this file" if parent else "this file"
            raise TrustsimInputError(
                f"{label}: {directive} names {name!r}, which {where} defines."
                f"{_did_you_mean(name, [*inherited, *child])} A new {kind} needs its own "
                f"[{table}.{name}] table."
            )
    for name in child:
        if name not in listed:
            raise TrustsimInputError(
                f"{label}: [{table}.{name}] is not in {directive}."
                f"{_did_you_mean(name, listed)} Add it to {directive} or remove the table."
            )
    restated = dict(base)
    restated[table] = {name: inherited[name] for name in listed if name in inherited}
    return restated


def _did_you_mean(name: str, names: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(names), n=1, cutoff=0.6)
    return f" Did you mean {close[0]!r}?" if close else ""


def _toml_list(names: Sequence[str]) -> str:
    return "[" + ", ".join(_toml_value(name) for name in names) + "]"


def _record(raw: dict, provenance: dict, label: str, prefix=()) -> None:
    for key, value in raw.items():
        path = (*prefix, key)
        provenance[path] = label
        if isinstance(value, dict):
            _record(value, provenance, label, path)


def parse_override(text: str) -> tuple[tuple[str, ...], Any]:
    """Parse `path.to.field=VALUE`; the value is read as TOML, else taken as a string."""
    if "=" not in text:
        raise TrustsimInputError(
            f"--set {text!r}: expected PATH=VALUE, for example --set market.size=20000."
        )
    path_text, value_text = text.split("=", 1)
    path = tuple(part.strip() for part in path_text.strip().split("."))
    if not path_text.strip() or any(not part for part in path):
        raise TrustsimInputError(
            f"--set {text!r}: the path {path_text!r} is not a dotted field path, "
            "for example stages.contract.affordance."
        )
    try:
        value = tomllib.loads(f"v = {value_text.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = value_text.strip()
    return path, value


def _schema_child(model: type[BaseModel] | None, key: str):
    """The model class of field `key` in `model`, or None for non-model fields."""
    if model is None:
        return None
    field = model.model_fields.get(key)
    if field is None:
        return None
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    args = getattr(annotation, "__args__", ())
    if len(args) == 2 and isinstance(args[1], type) and issubclass(args[1], BaseModel):
        return args[1]  # dict[str, Model]
    return None


def _allowed_keys(loc: tuple[str, ...]) -> list[str] | None:
    """Field names allowed at `loc` in the scenario schema, or None if `loc` is not a table."""
    model: type[BaseModel] | None = Scenario
    i = 0
    while i < len(loc):
        part = loc[i]
        if model is None or part not in model.model_fields:
            return None
        child = _schema_child(model, part)
        if model is Scenario and part in NAMED_TABLES:
            i += 1  # skip the stage or segment name
        model = child
        i += 1
    return list(model.model_fields) if model is not None else None


def apply_overrides(raw: dict, overrides: Iterable[str], provenance: dict) -> dict:
    """Apply `--set PATH=VALUE` overrides to a raw scenario dict (a copy is returned).

    `*` in place of a stage or segment name sets the field in every one of them:
    `stages.*.duration=14` makes every stage visit last two weeks.
    """
    result = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        for member_path in _every_member(path, result):
            _set_value(result, member_path, value, text)
            provenance[member_path] = f"--set {text}"
    return result


def _every_member(path: tuple[str, ...], raw: dict) -> list[tuple[str, ...]]:
    """The path, or with `*` as the stage or segment name, the path in each of them."""
    if len(path) < 3 or path[0] not in NAMED_TABLES or path[1] != EVERY_MEMBER:
        return [path]
    return [(path[0], name, *path[2:]) for name in raw.get(path[0], {})]


def _set_value(result: dict, path: tuple[str, ...], value: Any, text: str) -> None:
    """Set one field of the raw scenario, refusing paths the schema does not have."""
    node = result
    model: type[BaseModel] | None = Scenario
    for depth, key in enumerate(path[:-1]):
        if depth == 1 and path[0] in NAMED_TABLES:
            if key not in node:
                names = ", ".join(node) or "none"
                raise TrustsimInputError(
                    f"--set {text}: there is no {path[0][:-1]} named {key!r}; "
                    f"the scenario's {path[0]} are {names}.{_did_you_mean(key, node)}"
                )
        elif model is not None and key not in model.model_fields:
            raise TrustsimInputError(
                f"--set {text}: unknown field {'.'.join(path[: depth + 1])!r}; "
                f"allowed here: {', '.join(model.model_fields)}."
            )
        if not (depth == 1 and path[0] in NAMED_TABLES):
            model = _schema_child(model, key) if model is not None else None
        if not isinstance(node.setdefault(key, {}), dict):
            raise TrustsimInputError(
                f"--set {text}: {'.'.join(path[: depth + 1])} is a value, not a table."
            )
        node = node[key]
    leaf = path[-1]
    if model is not None and leaf not in model.model_fields:
        if path[0] in NAMED_TABLES and len(path) == 2:
            raise TrustsimInputError(
                f"--set {text}: set a field of the {path[0][:-1]}, for example "
                f"{path[0]}.{leaf}.<field>=VALUE."
            )
        raise TrustsimInputError(
            f"--set {text}: unknown field {'.'.join(path)!r}; "
            f"allowed here: {', '.join(model.model_fields)}."
        )
    node[leaf] = value


def _describe_error(err: Mapping, provenance: dict, default_label: str) -> str:
    loc = tuple(str(p) for p in err["loc"])
    field = ".".join(loc) or "(top level)"
    source = default_label
    for cut in range(len(loc), 0, -1):
        if loc[:cut] in provenance:
            source = provenance[loc[:cut]]
            break
    kind = err["type"]
    if kind == "extra_forbidden":
        allowed = _allowed_keys(loc[:-1])
        hint = f"allowed keys here: {', '.join(allowed)}" if allowed else "remove it"
        return f"{source}: {field}: unknown key. {hint}."
    if kind == "missing":
        return f"{source}: {field}: required but missing. Add it."
    message = err["msg"].removeprefix("Value error, ")
    value = err.get("input")
    if value is None or isinstance(value, dict):
        return f"{source}: {field}: {message}."
    return f"{source}: {field} = {value!r}: {message}."


def validate_raw(
    raw: dict, provenance: dict, label: str, overrides: Sequence[str] = ()
) -> Scenario:
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        messages = []
        for err in exc.errors():
            message = _describe_error(err, provenance, label)
            if overrides and not err["loc"]:
                # A whole-scenario rule (shares, closing stage) may break only after --set.
                message += f" (after --set {', '.join(overrides)})"
            messages.append(message)
        raise TrustsimInputError("\n".join(messages)) from None
    return scenario


def load_scenario(
    ref: str | Path | Scenario, overrides: Iterable[str] = (), *, name: str | None = None
) -> Scenario:
    """Resolve a scenario from a built-in name, a TOML path, or a Scenario object.

    Args:
        ref: built-in name (see `builtin_names()`), path to a TOML file, or a `Scenario`.
        overrides: `PATH=VALUE` strings applied after inheritance, validated like the file.
        name: optional new name for the resolved scenario.

    Returns:
        The validated `Scenario`.

    Raises:
        TrustsimInputError: with one message naming the file, field, value and the fix.

    Example:
        >>> s = load_scenario("real-estate", ["stages.contract.affordance=0.8"])
        >>> s.stages["contract"].affordance
        0.8
    """
    overrides = list(overrides)
    provenance: dict = {}
    if isinstance(ref, Scenario):
        raw = ref.model_dump()
        label = f"scenario {ref.name!r}"
    else:
        ref = str(ref)
        label = _locate(ref, None)[1]
        raw = _resolve_raw(ref, None, (), provenance)
    if overrides:
        raw = apply_overrides(raw, overrides, provenance)
    if name is not None:
        raw["name"] = name
    return validate_raw(raw, provenance, label, overrides)


def scenario_to_toml(scenario: Scenario, *, explain: bool = False, defaults: bool = False) -> str:
    """The fully resolved scenario as TOML (enough to reproduce a run).

    Args:
        scenario: the scenario to write.
        explain: put each field's meaning, unit and allowed values above its first
            occurrence (from `trustsim.scenarios.reference`), as comments.
        defaults: with `explain`, also say each field's default.
    """
    # Imported here so that `python -m trustsim.scenarios.reference` runs it only once.
    from trustsim.scenarios import reference

    seen: set[str] = set()

    def note(path: tuple[str, ...]) -> list[str]:
        generic = reference.generic_path(".".join(path))
        if not explain or generic in seen:
            return []
        seen.add(generic)
        return reference.comment(generic, with_default=defaults)

    data = scenario.model_dump(exclude_none=True)
    lines: list[str] = []
    if explain:
        lines += _journey_comment(scenario)
    for key in Scenario.model_fields:
        if key in data and not isinstance(data[key], dict):
            lines += [*note((key,)), f"{key} = {_toml_value(data[key])}"]
        elif key not in data and explain:
            lines += [*note((key,)), f'# {key} = "..."']

    def table(path: tuple[str, ...], value: dict) -> None:
        plain = {k: v for k, v in value.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in value.items() if isinstance(v, dict)}
        if plain or not nested:
            lines.extend(["", *note(path), f"[{'.'.join(map(_toml_key, path))}]"])
            for key, item in plain.items():
                lines.extend([*note((*path, key)), f"{_toml_key(key)} = {_toml_value(item)}"])
            if explain:
                # Fields left unset (the parameters of the other kinds of distribution,
                # optional labels and money), once each, as comments.
                for key in [k for k in _allowed_keys(path) or [] if k not in value]:
                    if explained := note((*path, key)):
                        lines.extend([*explained, f"# {key} = ..."])
        elif len(path) == 1 and explain:
            lines.extend(["", *note(path)])  # the named table itself: stages, segments
        for key, item in nested.items():
            table((*path, key), item)

    for key, value in data.items():
        if isinstance(value, dict):
            table((key,), value)
    return "\n".join(lines) + "\n"


def _journey_comment(scenario: Scenario) -> list[str]:
    stages = [
        f"{name} (closes the deal)" if name == scenario.closing_stage else name
        for name in scenario.stages
    ]
    personas = [f"{name} {segment.share:g}" for name, segment in scenario.segments.items()]
    return [
        f"# Journey: {' > '.join(stages)}",
        f"# Personas: {', '.join(personas)}",
        "# `trustsim scenarios explain FIELD` says more about any field.",
        "",
    ]


def scenario_template(name: str, source: str | Path = "real-estate") -> str:
    """A complete, commented scenario file named `name`, with the values of `source`.

    Every field is written with its meaning, unit, allowed values and default, ready to
    edit; `trustsim scenarios validate` accepts the file as it is.

    Raises:
        TrustsimInputError: if `name` is not a valid scenario name or `source` is unknown.
    """
    if not is_slug(name):
        raise TrustsimInputError(f"scenario name {name!r}: a name is {SLUG_RULE}.")
    data = load_scenario(source).model_dump(exclude_none=True)
    data |= {"name": name, "description": f"Started from {source}: say what this one tests."}
    data.pop("label", None)
    scenario = Scenario.model_validate(data)
    header = [
        f"# {name}: a trustsim scenario, written by `trustsim scenarios new` from {source}.",
        "# Every field is listed with its meaning, unit, allowed values and default; the",
        f"# values are {source}'s. Edit what differs, then check the file with",
        "#   trustsim scenarios validate THIS-FILE.toml",
        "# To build on a scenario instead of copying it, keep only what differs and add",
        f'#   extends = "{source}"',
        "# and restate the stages or the segments as a whole, if they differ, with",
        "#   journey = [...]    and    personas = [...]",
        "",
    ]
    return "\n".join(header) + scenario_to_toml(scenario, explain=True, defaults=True)


def _toml_key(key: str) -> str:
    if key and all(ch.isalnum() or ch in "-_" for ch in key):
        return key
    return '"' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{escaped}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")

"""Load scenarios: built-in names or TOML files, `extends` inheritance, `--set` overrides.

Every problem becomes one `TrustsimInputError` naming the file (or the `--set` option),
the field path, the value and what is allowed.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from trustsim.errors import TrustsimInputError
from trustsim.scenarios.schema import Scenario

BUILTIN_PACKAGE = "trustsim.scenarios.builtin"
# Tables whose keys are names chosen by the scenario author (not schema fields).
NAMED_TABLES = ("stages", "segments")


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
    """Deep-merge `override` into a copy of `base`; tables merge, everything else replaces."""
    merged = dict(base)
    for key, value in override.items():
        path = (*prefix, key)
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, provenance, source, path)
        else:
            merged[key] = copy.deepcopy(value)
            provenance[path] = source
    return merged


def _resolve_raw(ref: str, relative_to: Path | None, chain: tuple[Path, ...], provenance: dict):
    path, label = _locate(ref, relative_to)
    if path in chain:
        cycle = " -> ".join(str(p) for p in (*chain, path))
        raise TrustsimInputError(
            f"{label}: `extends` forms a cycle ({cycle}). Remove one of the `extends` lines."
        )
    raw = _read_toml(path, label)
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
    raw.setdefault("name", path.stem)
    _record(raw, provenance, label)
    return _merge(base, raw, {}, label)


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
    """Apply `--set PATH=VALUE` overrides to a raw scenario dict (a copy is returned)."""
    result = copy.deepcopy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node = result
        model: type[BaseModel] | None = Scenario
        for depth, key in enumerate(path[:-1]):
            if depth == 1 and path[0] in NAMED_TABLES:
                if key not in node:
                    names = ", ".join(node) or "none"
                    raise TrustsimInputError(
                        f"--set {text}: there is no {path[0][:-1]} named {key!r}; "
                        f"the scenario's {path[0]} are {names}."
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
        provenance[path] = f"--set {text}"
    return result


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
    if kind in ("value_error", "assertion_error") or err.get("input") is None:
        return f"{source}: {field}: {message}."
    value = err["input"]
    if isinstance(value, dict):
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


def scenario_to_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML (enough to reproduce a run)."""
    data = scenario.model_dump(exclude_none=True)
    lines: list[str] = []
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict)}
    for key, value in scalars.items():
        lines.append(f"{key} = {_toml_value(value)}")

    def table(prefix: str, value: dict) -> None:
        plain = {k: v for k, v in value.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in value.items() if isinstance(v, dict)}
        if plain or not nested:
            lines.append("")
            lines.append(f"[{prefix}]")
            for key, item in plain.items():
                lines.append(f"{_toml_key(key)} = {_toml_value(item)}")
        for key, item in nested.items():
            table(f"{prefix}.{_toml_key(key)}", item)

    for key, value in data.items():
        if isinstance(value, dict):
            table(_toml_key(key), value)
    return "\n".join(lines) + "\n"


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

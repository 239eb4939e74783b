"""docs/ODD.md keeps up with the code: every scenario field and every scheduled sub-step.

Fields are walked recursively from `Scenario` through its sub-models (`Stage`, `Segment`,
`Distribution`, the settings tables). Each must appear in ODD.md as its dotted TOML path
in backticks, as used with `--set`: `choice.temperature`, `stages.<name>.stake`,
`segments.<name>.control_need`; a field of a trait distribution may be written once for
all traits as `segments.<name>.<trait>.mean`. A table field (`market`, `stages`) counts
as documented when its own fields are.
"""

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from trustsim.scenarios.schema import TRAITS, Scenario
from trustsim.sim import TrustModel

ODD = Path(__file__).resolve().parents[1] / "docs" / "ODD.md"
NAME = "<name>"  # a stage or segment name chosen by the scenario author
TRAIT = "<trait>"  # any of the trait fields of a segment


def odd_text() -> str:
    assert ODD.is_file(), f"{ODD} is missing"
    return ODD.read_text(encoding="utf-8")


def code_spans(text: str) -> set[str]:
    """Everything written in single backticks."""
    return set(re.findall(r"`([^`\n]+)`", text))


def submodel(annotation) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside a field's annotation, and whether it sits in a dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        model, _ = submodel(args[1])
        return model, model is not None
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, keyed = submodel(arg)
            if model is not None:
                return model, keyed
    return None, False


def schema_paths(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[str, set[str]]]:
    """(field label, accepted dotted paths) for every field, recursively."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        accepted = {".".join(path)}
        if len(path) >= 2 and path[-2] in TRAITS:
            accepted.add(".".join((*path[:-2], TRAIT, path[-1])))
        yield f"{model.__name__}.{name}", accepted
        child, keyed = submodel(field.annotation)
        if child is not None:
            yield from schema_paths(child, (*path, NAME) if keyed else path)


def documented(accepted: set[str], spans: set[str]) -> bool:
    return any(
        path in spans or any(span.startswith(path + ".") for span in spans) for path in accepted
    )


def test_the_walk_reaches_every_sub_model():
    labels = {label.split(".")[0] for label, _ in schema_paths(Scenario)}
    expected = {"Scenario", "Stage", "Segment", "Distribution", "Market", "Trust", "Choice"}
    assert expected <= labels


def test_every_scenario_field_is_documented():
    spans = code_spans(odd_text())
    missing = sorted(
        {min(accepted) for _, accepted in schema_paths(Scenario) if not documented(accepted, spans)}
    )
    assert not missing, f"docs/ODD.md does not document: {', '.join(missing)}"


def test_every_sub_step_is_documented_in_schedule_order():
    text = odd_text()
    missing = [name for name in TrustModel.STEP_ORDER if f"`{name}`" not in text]
    assert not missing, f"docs/ODD.md does not name the sub-steps: {', '.join(missing)}"

    start = re.search(r"^## 3 ", text, flags=re.MULTILINE)
    end = re.search(r"^## 4 ", text, flags=re.MULTILINE)
    assert start and end, "docs/ODD.md needs sections '## 3 ...' and '## 4 ...'"
    schedule = text[start.start() : end.start()]
    positions = [schedule.find(f"`{name}`") for name in TrustModel.STEP_ORDER]
    assert -1 not in positions, "section 3 must name every sub-step of STEP_ORDER"
    assert positions == sorted(positions), (
        f"section 3 must list the sub-steps in STEP_ORDER: {TrustModel.STEP_ORDER}"
    )


def test_every_measure_is_registered_and_documented():
    from trustsim.metrics import METRICS, UNITS, metric

    model = TrustModel("real-estate", rng=1, steps=3)
    model.run_model()
    unregistered = sorted({c for c in model.summary() if metric(c) is None})
    assert not unregistered, f"trustsim/metrics.py does not register: {unregistered}"
    assert {m.unit for m in METRICS.values()} <= set(UNITS)
    spans = {span.split("[")[0] for span in code_spans(odd_text())}
    undocumented = sorted(name for name in METRICS if name not in spans)
    assert not undocumented, f"docs/ODD.md (7.12) does not define: {', '.join(undocumented)}"

"""The parameter ledger: every behavioural constant has a basis, a range and, if
calibrated, the patterns it was tuned to; held-out facts are never tuning targets."""

import re

import pytest

from trustsim.scenarios import load_scenario
from trustsim.scenarios.ledger import (
    ASSUMED_BASES,
    FACTS,
    assumed_ranges,
    fact_role,
    ledger_fields,
    tuned_to,
    unknown_basis,
)
from trustsim.scenarios.reference import schema_fields

BEHAVIOURAL_TABLES = ("market", "trust", "choice", "outcomes", "reactance", "satisfaction")
SCENARIO_DESIGN = {
    "market.size",
    "market.deal_value",
    "market.currency",
    "market.margin",
    "market.cost_per_lead",
    "repeat.rate",
    "repeat.value",
}


def behavioural_paths() -> list[str]:
    tables = (*BEHAVIOURAL_TABLES, "repeat")
    return [
        f.path
        for f in schema_fields()
        if f.path.split(".")[0] in tables and "." in f.path and f.path not in SCENARIO_DESIGN
    ]


def test_every_behavioural_constant_has_a_basis_from_the_three():
    missing = [p for p in behavioural_paths() if p not in {f.path for f in ledger_fields()}]
    assert not missing, missing
    assert not unknown_basis()


def test_every_assumed_or_calibrated_constant_has_a_plausible_range_around_its_default():
    for field in ledger_fields():
        if field.doc.basis not in ASSUMED_BASES:
            continue
        assert field.doc.plausible is not None, field.path
        low, high = field.doc.plausible
        default = field.info.get_default(call_default_factory=True)
        assert low < high and low <= default <= high, (field.path, low, default, high)


@pytest.mark.parametrize("scenario", ["real-estate", "delivery-trial-journey"])
def test_the_built_in_values_lie_in_their_plausible_ranges(scenario):
    data = load_scenario(scenario).model_dump()
    for path, (low, high) in assumed_ranges().items():
        table, name = path.split(".")
        assert low <= data[table][name] <= high, (scenario, path, data[table][name])


def test_a_plausible_range_stays_within_the_fields_allowed_values():
    import annotated_types

    for path, (low, high) in assumed_ranges().items():
        field = next(f for f in schema_fields() if f.path == path)
        for bound in field.info.metadata:
            if isinstance(bound, annotated_types.Ge):
                assert low >= bound.ge, path
            if isinstance(bound, annotated_types.Gt):
                assert low > bound.gt, path
            if isinstance(bound, annotated_types.Le):
                assert high <= bound.le, path
            if isinstance(bound, annotated_types.Lt):
                assert high < bound.lt, path


def test_calibrated_constants_name_what_they_were_tuned_to_and_others_do_not():
    for field in ledger_fields():
        calibrated = field.doc.basis == "calibrated"
        assert bool(field.doc.calibrated_to) == calibrated, field.path


def test_literature_constants_cite_a_dated_source():
    for field in ledger_fields():
        if field.doc.basis == "literature":
            assert re.search(r"\b(19|20)\d\d\b", field.doc.source), field.path


def test_the_held_out_facts_are_tuned_by_no_constant():
    held_out = {fact.number for fact in FACTS if fact_role(fact.number) == "held out"}
    assert held_out == {3, 5}
    assert all(not tuned_to(n) for n in held_out)
    assert "choice.verify_trust_share" in tuned_to(1)  # fact 1 is a target

"""Scenario files: built-ins, inheritance, overrides, and one clear message per problem."""

import tomllib

import pytest

from trustsim.errors import TrustsimInputError
from trustsim.scenarios import Scenario, builtin_names, load_scenario, scenario_to_toml

BUILTINS = {
    "real-estate",
    "real-estate-verifiable",
    "real-estate-funnel",
    "real-estate-verifiable-funnel",
    "delivery-trial-funnel",
    "delivery-trial-journey",
}


def test_all_builtins_ship_and_validate():
    assert set(builtin_names()) == BUILTINS
    for name in BUILTINS:
        scenario = load_scenario(name)
        assert scenario.name == name
        assert scenario.closing_stage in scenario.stages


def test_real_estate_matches_the_model_description():
    base = load_scenario("real-estate")
    assert len(base.stages) == 8 and base.time.step_unit == "week"
    assert base.stages["contract"].stake == base.stages["payment"].stake == 1.0
    assert all(stage.affordance == 0 for stage in base.stages.values())
    verifiable = load_scenario("real-estate-verifiable")
    assert verifiable.stages["contract"].affordance > 0
    # Inheritance changes only what the child file sets.
    assert verifiable.stages["contract"].stake == base.stages["contract"].stake
    assert verifiable.segments == base.segments
    funnel = load_scenario("real-estate-funnel")
    assert any(stage.forced for stage in funnel.stages.values())
    assert funnel.stages["explore"].pressure > base.stages["explore"].pressure


def test_delivery_pair_differs_in_forced_steps_after_payment():
    funnel = load_scenario("delivery-trial-funnel")
    journey = load_scenario("delivery-trial-journey")
    closing = funnel.closing_index
    after = funnel.stage_names[closing + 1 :]
    assert any(funnel.stages[s].forced for s in after)
    assert not any(journey.stages[s].forced for s in after)
    assert journey.repeat.rate > 0 and journey.time.step_unit == "day"


def test_overrides_are_typed_and_address_stages_by_name():
    scenario = load_scenario(
        "real-estate",
        ["market.size=20000", "stages.contract.affordance=0.8", "trust.base_rate=[0.6, 0.6, 0.7]"],
    )
    assert scenario.market.size == 20000 and isinstance(scenario.market.size, int)
    assert scenario.stages["contract"].affordance == 0.8
    assert scenario.trust.base_rate == [0.6, 0.6, 0.7]


def test_resolved_toml_round_trips(tmp_path):
    scenario = load_scenario("real-estate-verifiable-funnel", ["market.size=123"])
    text = scenario_to_toml(scenario)
    assert Scenario.model_validate(tomllib.loads(text)) == scenario
    path = tmp_path / "resolved.toml"
    path.write_text(text)
    assert load_scenario(path) == scenario


def test_extends_a_path_relative_to_the_file(tmp_path):
    (tmp_path / "base.toml").write_text('extends = "real-estate"\n[market]\nsize = 777\n')
    (tmp_path / "child.toml").write_text(
        'extends = "base.toml"\nname = "child"\n[stages.contract]\naffordance = 0.5\n'
    )
    scenario = load_scenario(tmp_path / "child.toml")
    assert scenario.name == "child"
    assert scenario.market.size == 777
    assert scenario.stages["contract"].affordance == 0.5


def write(tmp_path, text, name="bad.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(ref, overrides=()):
    with pytest.raises(TrustsimInputError) as info:
        load_scenario(ref, overrides)
    return str(info.value)


def test_broken_toml_names_the_file(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[market\nsize = 3\n')
    message = error_of(path)
    assert str(path) in message and "not valid TOML" in message


def test_unknown_key_lists_what_is_allowed(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[market]\nsise = 3\n')
    message = error_of(path)
    assert str(path) in message and "market.sise" in message and "unknown key" in message
    assert "size" in message.split("allowed keys here:")[1]


def test_unknown_key_in_a_named_stage(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[stages.contract]\naffordence = 0.5\n')
    message = error_of(path)
    assert "stages.contract.affordence" in message and "affordance" in message


def test_wrong_type_names_field_and_value(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[market]\nsize = "big"\n')
    message = error_of(path)
    assert str(path) in message and "market.size = 'big'" in message and "integer" in message


def test_value_out_of_range(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[stages.contract]\naffordance = 1.5\n')
    message = error_of(path)
    assert "stages.contract.affordance = 1.5" in message and "less than or equal to 1" in message


def test_shares_must_sum_to_one(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[segments.investors]\nshare = 0.5\n')
    message = error_of(path)
    assert "sum to 1" in message and "investors=0.5" in message


def test_unknown_extends(tmp_path):
    path = write(tmp_path, 'extends = "no-such-scenario"\n')
    message = error_of(path)
    assert str(path) in message and "no-such-scenario" in message and "real-estate" in message


def test_cycle_of_extends(tmp_path):
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    message = error_of(tmp_path / "a.toml")
    assert "cycle" in message and "a.toml" in message and "b.toml" in message


def test_missing_file_and_unknown_name(tmp_path):
    assert "no such file" in error_of(tmp_path / "missing.toml")
    assert "unknown scenario 'nope'" in error_of("nope")


def test_missing_required_field(tmp_path):
    path = write(tmp_path, "[stages.only]\nstake = 0.5\n[segments.all]\nshare = 1.0\n")
    assert "closing_stage: required but missing" in error_of(path)


def test_distribution_parameters_must_match(tmp_path):
    path = write(
        tmp_path,
        'extends = "real-estate"\n[segments.investors]\n'
        'risk_aversion = { dist = "uniform", low = 0.2 }\n',
    )
    message = error_of(path)
    assert "segments.investors.risk_aversion" in message and "high" in message


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("market.size", "expected PATH=VALUE"),
        ("=3", "not a dotted field path"),
        ("market.sise=3", "unknown field 'market.sise'"),
        ("stages.nope.affordance=1", "no stage named 'nope'"),
        ("stages.contract.affordance=abc", "stages.contract.affordance = 'abc'"),
        ("stages.contract.affordance=2", "less than or equal to 1"),
        ("stages.contract=1", "set a field of the stage"),
    ],
)
def test_bad_overrides_name_the_option(override, expected):
    message = error_of("real-estate", [override])
    assert message.startswith(f"--set {override}") or f"--set '{override}'" in message
    assert expected in message

"""Scenario files: built-ins, inheritance, overrides, and one clear message per problem."""

import tomllib
from pathlib import Path

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


# --------------------------------------------------------------- inheritance with intent
def test_a_stage_the_parent_lacks_is_a_typo_with_a_did_you_mean(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[stages.contarct]\naffordance = 0.5\n')
    message = error_of(path)
    assert str(path) in message and "[stages.contarct]" in message
    assert "Did you mean 'contract'?" in message and "journey = [" in message


def test_a_segment_the_parent_lacks_is_a_typo_with_a_did_you_mean(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[segments.invstors]\nshare = 0.2\n')
    message = error_of(path)
    assert "[segments.invstors]" in message and "Did you mean 'investors'?" in message
    assert "personas = [" in message


def test_a_typo_in_a_stage_is_caught_on_the_command_line_too():
    message = error_of("real-estate", ["stages.contarct.affordance=0.5"])
    assert "no stage named 'contarct'" in message and "Did you mean 'contract'?" in message


def test_a_journey_sets_the_order_drops_the_unlisted_and_adds_new_stages(tmp_path):
    path = write(
        tmp_path,
        'extends = "real-estate"\njourney = ["intro", "payment", "contract"]\n'
        "[stages.intro]\nstake = 0.05\n[stages.contract]\naffordance = 0.4\n",
    )
    scenario = load_scenario(path)
    parent = load_scenario("real-estate")
    assert scenario.stage_names == ["intro", "payment", "contract"]
    assert scenario.stages["intro"].stake == 0.05
    assert scenario.stages["intro"].reliability == 0.95  # a new stage starts from defaults
    assert scenario.stages["payment"] == parent.stages["payment"]
    contract = parent.stages["contract"].model_copy(update={"affordance": 0.4})
    assert scenario.stages["contract"] == contract


def test_a_journey_naming_a_stage_nobody_defines_is_an_error(tmp_path):
    path = write(
        tmp_path, 'extends = "real-estate"\njourney = ["explore", "contarct", "payment"]\n'
    )
    message = error_of(path)
    assert "journey names 'contarct'" in message and "Did you mean 'contract'?" in message
    assert "[stages.contarct]" in message


def test_a_stage_table_outside_the_stated_journey_is_an_error(tmp_path):
    path = write(
        tmp_path,
        'extends = "real-estate"\njourney = ["explore", "payment"]\n[stages.contract]\nstake = 1\n',
    )
    assert "[stages.contract] is not in journey" in error_of(path)


@pytest.mark.parametrize(
    ("journey", "expected"),
    [('"explore"', "non-empty list of stage names"), ("[]", "non-empty list"),
     ('["payment", "payment"]', "'payment' more than once")],
)  # fmt: skip
def test_a_journey_is_a_list_of_distinct_names(tmp_path, journey, expected):
    path = write(tmp_path, f'extends = "real-estate"\njourney = {journey}\n')
    assert expected in error_of(path)


def test_personas_replace_the_parents_segments_instead_of_adding_to_them(tmp_path):
    path = write(
        tmp_path,
        'extends = "real-estate"\npersonas = ["investors", "dealers"]\n'
        "[segments.investors]\nshare = 0.6\n[segments.dealers]\nshare = 0.4\n",
    )
    scenario = load_scenario(path)
    parent = load_scenario("real-estate")
    assert list(scenario.segments) == ["investors", "dealers"]
    assert scenario.segments["investors"].control_need == parent.segments["investors"].control_need
    assert sum(segment.share for segment in scenario.segments.values()) == pytest.approx(1.0)


def test_a_childs_trait_distribution_replaces_the_parents_whole(tmp_path):
    path = write(
        tmp_path,
        'extends = "real-estate"\n[segments.investors]\n'
        'risk_aversion = { dist = "normal", mean = 0.4, sd = 0.1 }\n',
    )
    trait = load_scenario(path).segments["investors"].risk_aversion
    assert (trait.dist, trait.mean, trait.sd, trait.concentration) == ("normal", 0.4, 0.1, None)


def test_used_car_example_replaces_journey_and_personas_of_a_builtin():
    example = Path(__file__).resolve().parents[1] / "docs" / "examples" / "used-car.toml"
    text = example.read_text(encoding="utf-8")
    assert 'extends = "real-estate"' in text and len(text.splitlines()) < 80
    scenario = load_scenario(example)
    assert scenario.stage_names == [
        "search", "test_drive", "inspection", "financing",
        "contract", "payment", "handover", "after_sales",
    ]  # fmt: skip
    assert list(scenario.segments) == [
        "bargain_hunters", "families", "first_car_buyers", "enthusiasts",
    ]  # fmt: skip
    assert scenario.closing_stage == "payment" and scenario.display_name == "Used cars: base"
    verifiable = load_scenario(example.with_name("used-car-verifiable.toml"))
    changed = [n for n in scenario.stages if verifiable.stages[n] != scenario.stages[n]]
    assert changed == ["inspection", "financing", "contract"]
    assert verifiable.stages["inspection"].affordance == 0.9
    assert verifiable.segments == scenario.segments


def test_used_car_example_runs_and_verified_listings_convert_more():
    import trustsim

    examples = Path(__file__).resolve().parents[1] / "docs" / "examples"
    result = trustsim.run(
        [examples / "used-car.toml", examples / "used-car-verifiable.toml"],
        replications=4,
        seed=3,
        overrides=["market.size=1500"],
    )
    mean = result.summaries.groupby("scenario")["conversion"].mean()
    assert 0 < mean["used-car"] < mean["used-car-verifiable"] < 1


# --------------------------------------------------------------- names, bounds, pointers
@pytest.mark.parametrize("name", ["../../../escaped", "", ".hidden", "a/b", "a\\\\b", "Мой оффер"])
def test_a_scenario_name_that_is_not_a_slug_is_refused(tmp_path, name):
    path = write(tmp_path, f'extends = "real-estate"\nname = "{name}"\n')
    message = error_of(path)
    assert str(path) in message and "name = " in message and "`label`" in message


def test_a_display_name_in_any_alphabet_goes_in_the_label(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\nname = "ru.offer_2"\nlabel = "Мой оффер"\n')
    scenario = load_scenario(path)
    assert (scenario.name, scenario.display_name) == ("ru.offer_2", "Мой оффер")
    assert load_scenario("delivery-trial-funnel").display_name == "delivery-trial-funnel"
    # A child without a label is not its parent: it shows its own name.
    child = load_scenario(write(tmp_path, 'extends = "real-estate"\nname = "child"\n'))
    assert child.display_name == "child"


def test_a_file_name_that_is_no_valid_name_asks_for_one(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n', name="My offer.toml")
    message = error_of(path)
    assert "'My offer' is not a valid one" in message and 'name = "My-offer"' in message
    renamed = write(tmp_path, 'extends = "real-estate"\nname = "my-offer"\n', "My offer.toml")
    assert load_scenario(renamed).name == "my-offer"


def test_negative_competition_is_refused(tmp_path):
    path = write(tmp_path, 'extends = "real-estate"\n[stages.explore]\ncompetition = -1\n')
    assert "stages.explore.competition = -1" in error_of(path)


@pytest.mark.parametrize(("sd", "valid"), [(0.5, True), (0.51, False), (3.0, False)])
def test_a_normal_traits_sd_is_at_most_what_a_trait_on_the_unit_interval_allows(
    tmp_path, sd, valid
):
    path = write(
        tmp_path,
        'extends = "real-estate"\n[segments.investors]\n'
        f'patience = {{ dist = "normal", mean = 0.5, sd = {sd} }}\n',
    )
    if valid:
        assert load_scenario(path).segments["investors"].patience.sd == sd
    else:
        assert "at most sqrt(mean * (1 - mean)) = 0.5" in error_of(path)


def test_an_experiment_file_points_to_sweep_dry_run():
    from trustsim.experiments.experiment import example_path

    path = example_path("lhs-trust")
    message = error_of(path)
    assert "this is an experiment file" in message
    assert f"trustsim sweep {path} --dry-run" in message and "unknown key" not in message


def test_a_star_for_the_stage_or_segment_name_in_set_sets_the_field_in_every_one():
    scenario = load_scenario(
        "real-estate", ["stages.*.duration=14", "segments.*.risk_aversion.mean=0.4"]
    )
    assert {stage.duration for stage in scenario.stages.values()} == {14.0}
    assert {s.risk_aversion.mean for s in scenario.segments.values()} == {0.4}
    with pytest.raises(TrustsimInputError, match=r"after --set stages\.\*\.duration=10\)"):
        load_scenario("real-estate", ["stages.*.duration=10"])  # not whole weeks

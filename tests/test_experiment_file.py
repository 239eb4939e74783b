"""Experiment files: the shipped examples, every invalid file's message, the designs."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from trustsim.cli import main
from trustsim.errors import TrustsimInputError
from trustsim.experiments.design import (
    build_design,
    design_size,
    grid_levels,
    sobol_base_samples,
    value_from_unit,
)
from trustsim.experiments.experiment import (
    Factor,
    FactorInfo,
    example_names,
    load_experiment,
    override_text,
)

VALID = """
name = "t"
scenarios = ["real-estate"]
replications = 2
seed = 1
metrics = ["closed_deals"]

[design]
method = "grid"

[factors]
"stages.contract.affordance" = { values = [0.0, 1.0] }
"""


def write(tmp_path, text: str, name: str = "exp.toml"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def replace(text: str, old: str, new: str) -> str:
    assert old in text, old
    return text.replace(old, new)


def test_shipped_examples_load_with_the_documented_sizes():
    assert example_names() == ["affordance-pressure-grid", "lhs-trust", "sobol-trust"]
    sizes = {name: design_size(load_experiment(name)) for name in example_names()}
    # 4 x 4 grid; 64 LHS points; Sobol' N = 64 with 4 factors: 64 * (4 + 2).
    assert sizes == {"affordance-pressure-grid": 16, "lhs-trust": 64, "sobol-trust": 384}


# (what is wrong, replacement of VALID or full text, fragments the message must contain)
INVALID = [
    ("toml syntax", ("scenarios = [", "scenarios = [[["), ["not valid TOML", "Fix the syntax"]),
    (
        "unknown key",
        ("seed = 1", "seed = 1\nreplicates = 3"),
        ["replicates", "unknown key", "replications"],
    ),
    (
        "missing scenarios",
        ('scenarios = ["real-estate"]', ""),
        ["scenarios", "required but missing"],
    ),
    (
        "unknown scenario",
        ('["real-estate"]', '["real-estat"]'),
        ["scenarios[0] = 'real-estat'", "Built-in"],
    ),
    (
        "unknown field",
        ("contract.affordance", "contract.afordance"),
        ['factors."stages.contract.afordance"', "unknown field", "allowed here"],
    ),
    (
        "unknown stage",
        ("contract.affordance", "closing.affordance"),
        ['factors."stages.closing.affordance"', "no stage named 'closing'"],
    ),
    (
        "value out of range",
        ("[0.0, 1.0]", "[0.0, 1.5]"),
        ['factors."stages.contract.affordance"', "value 1.5", "less than or equal to 1"],
    ),
    (
        "empty range",
        ("{ values = [0.0, 1.0] }", "{ low = 0.8, high = 0.2, levels = 3 }"),
        ["low must be below high", "low=0.8"],
    ),
    (
        "values and range",
        ("{ values = [0.0, 1.0] }", "{ values = [0.0], low = 0.0, high = 1.0 }"),
        ["either values", "not both"],
    ),
    (
        "grid range without levels",
        ("{ values = [0.0, 1.0] }", "{ low = 0.0, high = 1.0 }"),
        [
            'factors."stages.contract.affordance"',
            "a range in a grid needs its levels",
            "levels = 5",
        ],
    ),
    ("sobol without samples", ('method = "grid"', 'method = "sobol"'), ["design", "needs samples"]),
    (
        "unknown design",
        ('method = "grid"', 'method = "factorial"'),
        ["design.method = 'factorial'", "'grid', 'lhs', 'sobol' or 'morris'"],
    ),
    (
        "unknown metric",
        ('["closed_deals"]', '["closed_deal"]'),
        ["metrics[0] = 'closed_deal'", "not a run measure", "closed_deals"],
    ),
    (
        "factor also in set",
        ("seed = 1", 'seed = 1\nset = ["stages.contract.affordance=0.5"]'),
        ["also fixed in `set`", "Remove it"],
    ),
    (
        "range on a boolean",
        (
            '"stages.contract.affordance" = { values = [0.0, 1.0] }',
            '"stages.contract.forced" = { low = 0.0, high = 1.0, levels = 2 }',
        ),
        ["a range needs a numeric field", "values = [true, false]"],
    ),
    (
        "zero replications",
        ("replications = 2", "replications = 0"),
        ["replications = 0", "greater than or equal to 1"],
    ),
    (
        "loguniform at zero",
        ("{ values = [0.0, 1.0] }", '{ low = 0.0, high = 1.0, levels = 3, dist = "loguniform" }'),
        ["loguniform needs low > 0"],
    ),
    (
        "bad set entry",
        ("seed = 1", 'seed = 1\nset = ["market.sise=10"]'),
        ["set", "market.sise", "unknown field"],
    ),
    (
        "odd morris levels",
        ('method = "grid"', 'method = "morris"\nsamples = 4\nmorris_levels = 3'),
        ["morris_levels must be even"],
    ),
    (
        "second order on lhs",
        ('method = "grid"', 'method = "lhs"\nsamples = 4\nsecond_order = true'),
        ["second_order applies only"],
    ),
    ("negative seed", ("seed = 1", "seed = -1"), ["seed = -1", "greater than or equal to 0"]),
    (
        "metric listed twice",
        ('["closed_deals"]', '["closed_deals", "closed_deals"]'),
        ["closed_deals listed twice"],
    ),
]


@pytest.mark.parametrize(("what", "edit", "fragments"), INVALID, ids=[c[0] for c in INVALID])
def test_invalid_experiment_gives_one_clear_message_and_exit_2(tmp_path, what, edit, fragments):
    path = write(tmp_path, replace(VALID, *edit))
    result = CliRunner().invoke(main, ["sweep", str(path), "--dry-run"])
    assert result.exit_code == 2, result.output
    message = result.output.strip()
    assert message.startswith(f"Error: {path}: "), message
    assert "Traceback" not in message
    assert len(message.splitlines()) == 1, message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_missing_experiment_file_names_an_example(tmp_path):
    result = CliRunner().invoke(main, ["sweep", str(tmp_path / "nope.toml"), "--dry-run"])
    assert result.exit_code == 2
    assert "no such experiment file" in result.output
    assert "affordance-pressure-grid" in result.output


def test_workers_and_scheduler_are_exclusive(tmp_path):
    path = write(tmp_path, VALID)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["sweep", str(path), "--out", str(out), "-w", "2", "--scheduler", "tcp://x:1"]
    )
    assert result.exit_code == 2
    assert "either --workers or --scheduler" in result.output


def test_sensitivity_of_a_grid_experiment_is_refused(tmp_path):
    path = write(tmp_path, VALID)
    result = CliRunner().invoke(main, ["sensitivity", str(path), "-w", "0"])
    assert result.exit_code == 2
    assert 'Use method = "sobol" or "morris"' in result.output


def test_dry_run_shows_the_plan_and_the_sobol_rounding(tmp_path):
    text = replace(VALID, 'method = "grid"', 'method = "sobol"\nsamples = 100')
    text = replace(text, "{ values = [0.0, 1.0] }", "{ low = 0.0, high = 1.0 }")
    path = write(tmp_path, text)
    result = CliRunner().invoke(main, ["sweep", str(path), "--dry-run", "--out", "x"])
    assert result.exit_code == 0, result.output
    # one factor: N * (D + 2) = 128 * 3 points, 2 replications
    assert "384 points x 1 scenario x 2 replications = 768 runs" in result.output
    assert "rounded up to 128" in result.output
    assert not (tmp_path / "x").exists()


def test_scenario_paths_are_relative_to_the_experiment(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", 'extends = "real-estate"\nname = "mine"\n', "mine.toml")
    path = write(tmp_path / "sub", replace(VALID, '"real-estate"', '"mine.toml"'))
    experiment = load_experiment(path)
    assert list(experiment.bases) == ["mine"]


def test_integer_fields_get_integer_ranges_and_steps_sets_the_horizon(tmp_path):
    text = replace(VALID, "seed = 1", "seed = 1\nsteps = 30")
    text = replace(
        text, '"stages.contract.affordance" = { values = [0.0, 1.0] }',
        '"market.size" = { low = 100, high = 400, levels = 4 }',
    )  # fmt: skip
    experiment = load_experiment(write(tmp_path, text))
    assert experiment.factors[0].kind == "int"
    assert grid_levels(experiment.factors[0]) == [100, 200, 300, 400]
    assert experiment.bases["real-estate"].time.steps == 30


def test_lhs_is_reproducible_and_stratified(tmp_path):
    text = replace(VALID, 'method = "grid"', 'method = "lhs"\nsamples = 20')
    text = replace(text, "{ values = [0.0, 1.0] }", "{ low = 0.0, high = 1.0 }")
    text += '"choice.verification_cost" = { low = 0.2, high = 1.2 }\n'
    experiment = load_experiment(write(tmp_path, text))
    first, again = build_design(experiment), build_design(experiment)
    assert first.values == again.values
    for column in first.unit.T:
        # a Latin hypercube puts exactly one point in each of the N equal bins
        assert sorted(np.floor(column * 20).astype(int)) == list(range(20))
    other = load_experiment(write(tmp_path, replace(text, "seed = 1", "seed = 2"), "b.toml"))
    assert build_design(other).values != first.values


def test_sobol_base_samples_are_powers_of_two():
    for requested in (1, 2, 3, 63, 64, 65, 1000):
        n = sobol_base_samples(requested)
        assert n >= requested and n & (n - 1) == 0
        assert n < 2 * max(requested, 2)


@settings(max_examples=200, deadline=None)
@given(
    low=st.integers(-50, 50),
    width=st.integers(0, 50),
    u=st.floats(0.0, 1.0),
    dist=st.sampled_from(["uniform", "loguniform"]),
)
def test_integer_factor_values_stay_in_range(low, width, u, dist):
    if dist == "loguniform":
        low = abs(low) + 1
    factor = Factor(low=low - 0.4, high=low + width + 0.4, dist=dist)
    value = value_from_unit(FactorInfo("market.size", factor, "int"), u)
    assert isinstance(value, int)
    assert low <= value <= low + width


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 9), min_size=1, max_size=6), u=st.floats(0.0, 1.0))
def test_choice_factor_takes_each_value_for_an_equal_share_of_the_unit_interval(values, u):
    info = FactorInfo("x", Factor(values=values), "choice")
    index = min(int(u * len(values)), len(values) - 1)
    assert value_from_unit(info, u) == values[index]


def test_truncated_normal_range_stays_within_bounds():
    info = FactorInfo("x", Factor(low=0.2, high=0.6, dist="normal", mean=0.3, sd=0.2), "float")
    values = [value_from_unit(info, u) for u in np.linspace(0, 1, 11)]
    assert values[0] == pytest.approx(0.2) and values[-1] == pytest.approx(0.6)
    assert values == sorted(values)


def test_override_text_round_trips_floats_exactly():
    from trustsim.scenarios import load_scenario

    value = 0.1 + 0.2  # 0.30000000000000004, not representable in fewer digits
    scenario = load_scenario("real-estate", [override_text("stages.contract.affordance", value)])
    assert scenario.stages["contract"].affordance == value
    assert value != 0.3


def test_error_type_is_the_input_error(tmp_path):
    with pytest.raises(TrustsimInputError, match="replications"):
        load_experiment(write(tmp_path, replace(VALID, "replications = 2", "replications = 'x'")))

"""Funnel data and priors files: what `observe` writes, and every invalid file's message."""

from __future__ import annotations

import itertools
import tomllib

import pytest
from click.testing import CliRunner

from trustsim.calibration import data_to_toml, load_data, observe
from trustsim.calibration.data import example_names, example_path
from trustsim.calibration.priors import load_priors
from trustsim.cli import main
from trustsim.errors import TrustsimInputError
from trustsim.experiments.runner import replication_seed, simulate
from trustsim.scenarios import load_scenario

SMALL = ["market.size=300"]
VALID = """
leads = [3, 4, 5]
closed_deals = 2

[window]
periods = 3
unit = "week"

[stages.explore]
entered = 12
passed = 5
walked_away = 6
verified = 1

[nps]
promoters = 1
passives = 1
detractors = 0

[satisfaction]
mean = 0.8
n = 2
"""
PRIORS = """
[priors]
"choice.exit_bias" = { low = -3.0, high = 0.0 }
"market.word_of_mouth" = { low = 0.05, high = 0.8, dist = "loguniform" }
"""


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def write(tmp_path, text: str, name: str = "data.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_observed_data_are_the_books_of_replication_zero():
    spec = load_scenario("real-estate", [*SMALL, "time.steps=30"])
    summary, _ = simulate(spec, replication_seed(5, 0))
    data = observe("real-estate", SMALL, seed=5, steps=30)
    assert data.total_leads == summary["leads"] and len(data.leads) == 30
    assert data.closed_deals == summary["closed_deals"]
    assert data.stages["explore"].entered == summary["leads"]
    stages = list(data.stages.values())
    for stage, after in itertools.pairwise(stages):
        assert stage.passed == after.entered  # who passed a stage entered the next
        assert stage.passed + stage.walked_away <= stage.entered
    assert data.nps.promoters == summary["promoters"]
    assert "synthetic" in data.source


def test_observe_command_writes_a_file_that_validates_against_its_scenario(tmp_path):
    out = tmp_path / "data.toml"
    result = invoke("observe", "real-estate", "--set", SMALL[0], "-t", "20", "--seed", "2",
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# SYNTHETIC")
    data = load_data(out, load_scenario("real-estate"))
    assert data == observe("real-estate", SMALL, seed=2, steps=20)


def test_observing_a_tiny_market_leaves_out_what_it_did_not_see(tmp_path):
    data = observe("real-estate", ["market.size=50"], seed=0, steps=5)
    assert all(s.verified is None or s.verified <= s.entered for s in data.stages.values())
    assert load_data(write(tmp_path, data_to_toml(data)), load_scenario("real-estate")) == data


def test_observe_to_an_unwritable_path_is_one_line_and_exit_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    result = invoke("observe", "real-estate", "-t", "3", "--set", "market.size=20",
                    "--out", blocker / "data.toml")  # fmt: skip
    assert result.exit_code == 2 and "cannot write" in result.output
    assert result.output.count("\n") == 1


def test_data_written_and_read_back_are_the_same():
    data = observe("delivery-trial-journey", ["market.size=400"], seed=1, steps=15)
    again = tomllib.loads(data_to_toml(data, "a comment"))
    from trustsim.calibration.data import data_from_dict

    assert data_from_dict(again, "round trip") == data


def test_shipped_example_is_labelled_synthetic_and_valid():
    assert "real-estate-synthetic" in example_names()
    path = example_path("real-estate-synthetic")
    assert "SYNTHETIC" in path.read_text().splitlines()[0]
    data = load_data(path, load_scenario("real-estate"))
    assert "synthetic" in data.source and data.window.periods == 104
    priors = load_priors(example_path("real-estate-priors"), "real-estate")
    assert [p.dist for p in priors] == ["uniform", "loguniform"]


def test_leads_alone_or_one_stage_alone_is_enough(tmp_path):
    scenario = load_scenario("real-estate")
    assert load_data(write(tmp_path, "leads = 40\n"), scenario).total_leads == 40
    only_stage = "[stages.viewing]\nentered = 10\npassed = 4\n"
    assert load_data(write(tmp_path, only_stage), scenario).stages["viewing"].passed == 4


BAD_DATA = [
    ("closed_deals = 2", "closed_deals = -2", "closed_deals = -2: Input should be greater"),
    ("passed = 5", "passed = 13", "stages.explore: passed = 13 exceeds entered = 12"),
    ("walked_away = 6", "walked_away = 9", "passed + walked_away = 14 exceeds entered = 12"),
    ("[stages.explore]", "[stages.showroom]", "stages.showroom: scenario 'real-estate' has no"),
    ("verified = 1", "verifyed = 1", "stages.explore.verifyed: unknown key. Allowed keys"),
    ('unit = "week"', 'unit = "month"', "window.unit = 'month': scenario 'real-estate' steps"),
    ("leads = [3, 4, 5]", "leads = [3, 4]", "leads has 2 periods but window.periods = 3"),
    ("leads = [3, 4, 5]", "leads = [3, -4, 5]", "leads = [3, -4, 5]: must be non-negative"),
    ("promoters = 1", "promoters = 1.5", "nps.promoters = 1.5"),
    ("mean = 0.8", "mean = 8", "satisfaction.mean = 8"),
    ("closed_deals = 2", "closed_deals = ", "not valid TOML"),
    ("[nps]", "[score]", "score: unknown key. Allowed keys here: source"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_DATA)
def test_bad_data_gives_one_line_naming_file_and_field(tmp_path, old, new, message):
    assert old in VALID
    path = write(tmp_path, VALID.replace(old, new, 1))
    with pytest.raises(TrustsimInputError) as info:
        load_data(path, load_scenario("real-estate"))
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text


def test_data_without_leads_or_stages_is_refused(tmp_path):
    with pytest.raises(TrustsimInputError, match="give leads or at least one"):
        load_data(write(tmp_path, "closed_deals = 3\n"))


BAD_PRIORS = [
    ('"choice.exit_bias"', '"choice.exit_biass"', 'priors."choice.exit_biass": not a value'),
    ("low = -3.0, high = 0.0", "low = 0.0, high = -3.0", "low must be below high"),
    ("low = -3.0, high = 0.0", "low = -30.0, high = 0.0", "value -30.0 is not valid"),
    ("low = 0.05, high = 0.8, dist", "low = 0.0, high = 0.8, dist", "loguniform needs low > 0"),
    ('dist = "loguniform"', 'dist = "normal"', "dist = 'normal': Input should be"),
    ("high = 0.0 }", "high = 0.0, sd = 1 }", "sd: unknown key. Allowed keys here: low, high"),
    ('"choice.exit_bias"', '"stages.contract.forced"', "not a continuous number"),
    ('"choice.exit_bias"', '"market.size"', "a whole number"),
    ("[priors]", "[prior]", "prior: unknown key. Allowed keys here: description, priors"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD_PRIORS)
def test_bad_priors_give_one_line_naming_file_and_prior(tmp_path, old, new, message):
    assert old in PRIORS
    path = write(tmp_path, PRIORS.replace(old, new, 1), "priors.toml")
    with pytest.raises(TrustsimInputError) as info:
        load_priors(path, "real-estate")
    text = str(info.value)
    assert text.startswith(f"{path}: ") and message in text and "\n" not in text

"""The field reference: one source for what every scenario field means, and the commands
that print it (`scenarios explain`, `show --explain`, `new`) and `scenarios validate`."""

import errno
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from trustsim.cli import main
from trustsim.experiments.experiment import example_path
from trustsim.scenarios import load_scenario, odd, reference
from trustsim.scenarios.schema import Scenario

ODD = Path(__file__).resolve().parents[1] / "docs" / "ODD.md"
EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def cli(*args: str):
    return CliRunner().invoke(main, list(args))


def concrete(path: str) -> str:
    """A generic path as a user would type it, with real stage, segment and trait names."""
    return (
        path.replace("stages.<name>", "stages.contract")
        .replace("segments.<name>", "segments.investors")
        .replace("<trait>", "risk_aversion")
    )


SCHEMA_PATHS = [field.path for field in reference.schema_fields()]


def test_every_schema_field_has_a_reference_entry_and_no_entry_is_stale():
    assert len(SCHEMA_PATHS) == len(set(SCHEMA_PATHS)) > 80
    assert set(SCHEMA_PATHS) == set(reference.FIELDS)


def test_every_field_but_a_table_has_a_display_name_for_charts():
    unnamed = [
        field.path
        for field in reference.schema_fields()
        if not field.doc.label and (field.table is None or field.path.count(".") == 2)
    ]
    assert not unnamed, f"fields without a label in trustsim/scenarios/reference.py: {unnamed}"


@pytest.mark.parametrize(
    "path, expected",
    [
        ("stages.contract.affordance", "verification support at contract"),
        ("stages.after_sales.pressure", "sales pressure at after sales"),
        ("choice.verification_cost", "effort of checking"),
        ("segments.first_time.risk_aversion.mean", "risk aversion (first time, mean)"),
        ("segments.families.share", "share of the market (families)"),
        ("not.a_field", "not a field"),
    ],
)
def test_a_sweep_factor_reads_as_its_display_name_with_its_stage_or_segment(path, expected):
    assert reference.field_label(path) == expected


def test_a_factor_takes_the_stage_name_its_scenario_gives():
    spec = load_scenario("real-estate", ['stages.contract.label="Signing the contract"'])
    assert (
        reference.field_label("stages.contract.pressure", spec)
        == "sales pressure at Signing the contract"
    )
    assert reference.field_label("stages.payment.pressure", spec) == "sales pressure at payment"


def test_the_walk_reaches_every_sub_model_and_every_trait():
    for path in ("stages.<name>.affordance", "segments.<name>.<trait>.sd", "reactance.decay"):
        assert path in SCHEMA_PATHS
    for trait in ("risk_aversion", "control_need", "verification_skill", "reactance", "patience"):
        assert f"segments.<name>.{trait}" in SCHEMA_PATHS


@pytest.mark.parametrize("path", SCHEMA_PATHS)
def test_explain_answers_every_field(path):
    result = cli("scenarios", "explain", concrete(path))
    assert result.exit_code == 0, result.output
    assert result.output.startswith(path)
    doc = reference.FIELDS[path]
    flat = " ".join(result.output.split())
    for label in ("Meaning:", "Unit:", "Allowed:", "Default:", "Typical:", "Reading:", "Source:"):
        assert label in flat
    assert doc.meaning in flat and doc.business in flat
    assert all(text.strip() for text in (doc.meaning, doc.unit, doc.typical, doc.business))


def test_ranges_and_defaults_are_read_from_the_schema():
    def field(path):
        return reference.schema_field(path)

    assert reference.allowed_range(field("stages.<name>.affordance")) == "[0, 1]"
    assert reference.allowed_range(field("stages.<name>.competition")) == "[0, 5]"
    assert reference.allowed_range(field("outcomes.verification_delay")) == "[0, 1)"
    assert reference.allowed_range(field("choice.temperature")) == "(0, 10]"
    assert reference.allowed_range(field("choice.trust_weight")) == ">= 0"
    assert reference.default_text(field("choice.temperature")) == "0.5"
    assert reference.default_text(field("segments.<name>.risk_aversion")) == (
        "beta, mean 0.6, concentration 10"
    )
    assert reference.default_text(field("closing_stage")) == "required"


def test_odd_parameter_tables_are_the_ones_generated_from_the_reference():
    text = ODD.read_text(encoding="utf-8")
    assert text.count(odd.ODD_BEGIN) == 1 and text.count(odd.ODD_END) == 1
    assert odd.odd_with_tables(text) == text, (
        "docs/ODD.md section 9 differs from the field reference; regenerate it with "
        "`uv run python -m trustsim.scenarios.odd --write-odd`"
    )


def test_odd_tables_change_when_the_reference_does(monkeypatch):
    doc = reference.FIELDS["market.size"]
    changed = dict(reference.FIELDS)
    changed["market.size"] = type(doc)(**{**doc.__dict__, "meaning": "something else"})
    monkeypatch.setattr(reference, "FIELDS", changed)
    text = ODD.read_text(encoding="utf-8")
    assert odd.odd_with_tables(text) != text


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("stages.contract.affordance", ["stages.<name>.affordance"]),
        ("stages.affordance", ["stages.<name>.affordance"]),
        ("segments.investors.patience.sd", ["segments.<name>.<trait>.sd"]),
        ("segments.risk_aversion", ["segments.<name>.risk_aversion"]),
        ("competition", ["stages.<name>.competition"]),
        ("journey", ["journey"]),
        ("outcomes", ["outcomes", "outcomes.collapse", "outcomes.verification_delay"]),
    ],
)
def test_explain_reads_concrete_generic_table_and_bare_names(query, expected):
    assert reference.lookup(query) == expected


def test_explain_of_an_unknown_field_suggests_the_closest_and_exits_2():
    result = cli("scenarios", "explain", "choice.temprature")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Did you mean choice.temperature" in result.output


def test_explain_without_a_field_lists_every_field():
    result = cli("scenarios", "explain")
    assert result.exit_code == 0
    for path in [*SCHEMA_PATHS, *reference.DIRECTIVES]:
        assert f"  {path} " in result.output


def test_show_explain_annotates_the_resolved_scenario_and_stays_valid_toml():
    result = cli("scenarios", "show", "real-estate-verifiable", "--explain")
    assert result.exit_code == 0
    assert "# Journey: explore > viewing" in result.output
    assert "# share of the step the buyer can check through the service" in result.output
    assert result.output.count("# what is at risk for the buyer at this step") == 1
    parsed = Scenario.model_validate(tomllib.loads(result.output))
    assert parsed == load_scenario("real-estate-verifiable")


# --------------------------------------------------------------- scenarios new
def test_new_writes_every_field_with_its_meaning_and_the_file_validates(tmp_path):
    target = tmp_path / "used-car.toml"
    result = cli(
        "scenarios", "new", "used-car", "--from", "real-estate-funnel", "--out", str(target)
    )
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    for path in SCHEMA_PATHS:
        doc = reference.FIELDS[path]
        assert " ".join(doc.meaning.split()[:4]) in " ".join(text.split()), path
    assert "default 0.5" in text and 'extends = "real-estate-funnel"' in text
    scenario = load_scenario(target)
    source = load_scenario("real-estate-funnel")
    assert scenario.name == "used-car"
    # A display name belongs to one file's scenario: a new file does not take its source's.
    assert scenario.label is None
    assert scenario.model_dump(exclude={"name", "label", "description"}) == source.model_dump(
        exclude={"name", "label", "description"}
    )
    assert cli("scenarios", "validate", str(target)).exit_code == 0


def test_new_defaults_to_name_dot_toml_in_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli("scenarios", "new", "mine").exit_code == 0
    assert load_scenario(tmp_path / "mine.toml").name == "mine"


def test_new_never_overwrites_a_file_without_force(tmp_path):
    target = tmp_path / "mine.toml"
    target.write_text("# my work\n")
    result = cli("scenarios", "new", "mine", "--out", str(target))
    assert result.exit_code == 2 and "already exists" in result.output
    assert "--force" in result.output and target.read_text() == "# my work\n"
    assert cli("scenarios", "new", "mine", "--out", str(target), "--force").exit_code == 0
    assert load_scenario(target).name == "mine"


@pytest.mark.parametrize(
    ("args", "expected"),
    [(["../evil"], "is not a valid|a name is"), (["ok", "--from", "nope"], "unknown scenario")],
)
def test_new_refuses_bad_input_and_writes_nothing(tmp_path, monkeypatch, args, expected):
    monkeypatch.chdir(tmp_path)
    result = cli("scenarios", "new", *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert any(part in result.output for part in expected.split("|"))
    assert list(tmp_path.iterdir()) == []


def test_new_on_a_full_disk_says_so_exits_1_and_leaves_nothing(tmp_path, monkeypatch):
    def full_disk(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", full_disk)
    result = cli("scenarios", "new", "mine", "--out", str(tmp_path / "mine.toml"))
    assert result.exit_code == 1 and "No space left on device" in result.output
    assert "Traceback" not in result.output and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------- scenarios validate
def test_validate_prints_the_resolved_journey_and_personas():
    result = cli("scenarios", "validate", str(EXAMPLES / "used-car.toml"))
    assert result.exit_code == 0
    assert "OK (Used cars: base, 8 stages, 4 personas)" in result.output
    flat = " ".join(result.output.split())
    assert "search > test_drive > inspection > financing > contract > payment* >" in flat
    assert "bargain_hunters 0.35, families 0.3, first_car_buyers 0.2, enthusiasts 0.15" in flat


def test_validate_reports_every_file_and_exits_2_if_any_failed(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('extends = "real-estate"\n[stages.contarct]\naffordance = 0.5\n')
    experiment = example_path("lhs-trust")
    good = EXAMPLES / "used-car-verifiable.toml"
    result = cli("scenarios", "validate", str(bad), str(experiment), str(good))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "Did you mean 'contract'?" in result.output
    assert f"this is an experiment file, not a scenario: use `trustsim sweep {experiment}" in (
        result.output
    )
    assert f"{good}: OK" in result.output and "2 of 3 files failed." in result.output

"""Scenarios as data: typed schema, built-in TOML files, inheritance and overrides."""

from trustsim.scenarios.loader import (
    builtin_names,
    builtin_path,
    load_scenario,
    parse_override,
    scenario_to_toml,
)
from trustsim.scenarios.schema import LAYERS, TRAITS, Scenario

__all__ = [
    "LAYERS",
    "TRAITS",
    "Scenario",
    "builtin_names",
    "builtin_path",
    "load_scenario",
    "parse_override",
    "scenario_to_toml",
]

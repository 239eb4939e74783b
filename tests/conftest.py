"""Fixtures shared by the test modules: small scenarios and running a model on an engine."""

import pytest

from trustsim.scenarios import load_scenario
from trustsim.sim import TrustModel

# Small and busy: many leads early, so every stage and outcome occurs within 40 steps.
SMALL = ["market.size=300", "time.steps=40", "time.short_horizon=10"]
BUSY = [*SMALL, "market.outside_influence=2.6"]  # per year: 0.05 a week


@pytest.fixture(scope="session")
def small_scenario():
    """`small_scenario(name, busy=False)`: a built-in scenario with 300 buyers, 40 steps.

    `busy=True` raises the outside influence so leads arrive fast.
    """

    def load(name: str, busy: bool = False, extra: tuple[str, ...] = ()):
        return load_scenario(name, [*(BUSY if busy else SMALL), *extra])

    return load


@pytest.fixture(scope="session")
def run_model():
    """`run_model(scenario, engine, seed, record_choices=False)`: a model run to its horizon."""

    def run(scenario, engine: str, seed: int, record_choices: bool = False) -> TrustModel:
        model = TrustModel(scenario, rng=seed, engine=engine, record_choices=record_choices)
        model.run_model()
        return model

    return run

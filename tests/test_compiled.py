"""The compiled engine reproduces the array engine (docs/ENGINES.md, "Compiled engine")."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from trustsim.scenarios import builtin_names, load_scenario
from trustsim.sim import TrustModel

pytest.importorskip("numba")

SMALL = ["market.size=300", "time.steps=40", "time.short_horizon=10"]
BUSY = [*SMALL, "market.outside_influence=0.05"]
# Choice probabilities go through numba's exp (glibc), which differs from numpy's SIMD
# exp in the last bit for a few percent of arguments.
P_TOLERANCE = 1e-14


def run(scenario, engine, seed, record_choices=False) -> TrustModel:
    model = TrustModel(scenario, rng=seed, engine=engine, record_choices=record_choices)
    model.run_model()
    return model


@pytest.mark.parametrize("name", builtin_names())
def test_compiled_engine_gives_the_array_engines_time_series(name):
    for overrides in (SMALL, BUSY):
        scenario = load_scenario(name, overrides)
        for seed in (0, 1, 2):
            arrays = run(scenario, "vectorized", seed).datacollector.get_model_vars_dataframe()
            compiled = run(scenario, "compiled", seed).datacollector.get_model_vars_dataframe()
            assert arrays["leads"].iloc[-1] > 0
            pd.testing.assert_frame_equal(arrays, compiled, check_exact=True)


def test_compiled_choice_log_equal_up_to_the_last_bits_of_exp():
    scenario = load_scenario("real-estate-verifiable-funnel", BUSY)
    arrays = run(scenario, "vectorized", 5, record_choices=True).choice_log()
    compiled = run(scenario, "compiled", 5, record_choices=True).choice_log()
    probabilities = ["p_delegate", "p_verify"]
    pd.testing.assert_frame_equal(
        arrays.drop(columns=probabilities), compiled.drop(columns=probabilities), check_exact=True
    )
    for column in probabilities:
        np.testing.assert_allclose(compiled[column], arrays[column], rtol=P_TOLERANCE, atol=1e-300)


def test_compiled_state_matches_after_a_larger_run():
    scenario = load_scenario("delivery-trial-funnel", ["market.size=5000", "time.steps=30"])
    arrays, compiled = run(scenario, "vectorized", 4), run(scenario, "compiled", 4)
    for name in ("status", "stage", "waited", "satisfaction", "reactance", "good", "bad"):
        np.testing.assert_array_equal(getattr(compiled.engine, name), getattr(arrays.engine, name))


def test_numba_is_imported_only_for_the_compiled_engine():
    code = (
        "import sys; from trustsim.sim import TrustModel; "
        "TrustModel('real-estate', rng=1, steps=2).run_model(); "
        "assert 'numba' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_numba_gives_a_clear_error(monkeypatch):
    import trustsim.engines.compiled as compiled

    monkeypatch.setattr(compiled, "_kernels", None)
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail
    with pytest.raises(ImportError, match="uv add numba"):
        TrustModel("real-estate", rng=1, engine="compiled")

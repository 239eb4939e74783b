"""The compiled engine reproduces the array engine (docs/ENGINES.md, "Compiled engine")."""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from trustsim.scenarios import builtin_names, load_scenario
from trustsim.sim import TrustModel

pytest.importorskip("numba")
# Choice probabilities go through numba's exp (glibc), which differs from numpy's SIMD
# exp in the last bit for a few percent of arguments.
P_TOLERANCE = 1e-14


@pytest.mark.parametrize("name", builtin_names())
def test_compiled_engine_gives_the_array_engines_time_series(name, small_scenario, run_model):
    for busy in (False, True):
        scenario = small_scenario(name, busy)
        for seed in (0, 1, 2):
            arrays = run_model(
                scenario, "vectorized", seed
            ).datacollector.get_model_vars_dataframe()
            compiled = run_model(
                scenario, "compiled", seed
            ).datacollector.get_model_vars_dataframe()
            assert arrays["leads"].iloc[-1] > 0
            pd.testing.assert_frame_equal(arrays, compiled, check_exact=True)


def test_compiled_choice_log_equal_up_to_the_last_bits_of_exp(small_scenario, run_model):
    scenario = small_scenario("real-estate-verifiable-funnel", busy=True)
    arrays = run_model(scenario, "vectorized", 5, record_choices=True).choice_log()
    compiled = run_model(scenario, "compiled", 5, record_choices=True).choice_log()
    probabilities = ["p_delegate", "p_verify"]
    pd.testing.assert_frame_equal(
        arrays.drop(columns=probabilities), compiled.drop(columns=probabilities), check_exact=True
    )
    for column in probabilities:
        np.testing.assert_allclose(compiled[column], arrays[column], rtol=P_TOLERANCE, atol=1e-300)


def test_compiled_state_matches_after_a_larger_run(run_model):
    scenario = load_scenario("delivery-trial-funnel", ["market.size=5000", "time.steps=30"])
    arrays, compiled = run_model(scenario, "vectorized", 4), run_model(scenario, "compiled", 4)
    for name in ("status", "stage", "waited", "satisfaction", "reactance", "good", "bad"):
        np.testing.assert_array_equal(getattr(compiled.engine, name), getattr(arrays.engine, name))


@pytest.mark.slow
def test_numba_is_imported_only_for_the_compiled_engine():
    code = (
        "import sys; from trustsim.sim import TrustModel; "
        "TrustModel('real-estate', rng=1, steps=2, engine='vectorized').run_model(); "
        "assert 'numba' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_default_engine_is_the_compiled_one_where_numba_is_installed(monkeypatch):
    import importlib.util

    assert TrustModel("real-estate", rng=1, steps=1).engine_name == "compiled"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: None if name == "numba" else real_find_spec(name)
    )
    assert TrustModel("real-estate", rng=1, steps=1).engine_name == "vectorized"


@pytest.mark.slow
def test_a_cold_compilation_is_said_once_on_the_terminal(tmp_path):
    code = "from trustsim.sim import TrustModel; TrustModel('real-estate', rng=0, steps=1)"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("NUMBA_CACHE_DIR", None)
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [run.stderr.count("compiling the compiled engine once") for run in runs] == [1, 0]


def test_engines_called_past_numbas_dispatch_match_the_dispatched_kernels(run_model):
    scenario = load_scenario("real-estate", ["market.size=500", "time.steps=30"])
    fast = run_model(scenario, "compiled", 3).datacollector.get_model_vars_dataframe()
    model = TrustModel(scenario, rng=3, engine="compiled")
    assert model.engine._entries  # set-up gathered through the fast path
    model.engine._call = lambda name, kernel, args: kernel(*args)  # numba's own dispatch
    model.run_model()
    slow = model.datacollector.get_model_vars_dataframe()
    pd.testing.assert_frame_equal(fast, slow, check_exact=True)


def test_missing_numba_gives_a_clear_error(monkeypatch):
    import trustsim.engines.compiled as compiled

    monkeypatch.setattr(compiled, "_kernels", None)
    monkeypatch.setitem(sys.modules, "numba", None)  # makes `import numba` fail
    with pytest.raises(ImportError, match="uv add numba"):
        TrustModel("real-estate", rng=1, engine="compiled")


def test_a_run_in_blocks_of_steps_gives_the_step_by_step_summary_and_clock(
    small_scenario, monkeypatch
):
    import trustsim.sim.model as model_module

    scenario = small_scenario("delivery-trial-funnel", busy=True)
    step_by_step = TrustModel(scenario, rng=6, engine="compiled")
    step_by_step.run_model()
    # Three steps per compiled call: the 40 steps run as several calls, split at step 10.
    monkeypatch.setattr(model_module, "LEAP_DRAWS", 5 * scenario.market.size * 3)
    in_blocks = TrustModel(scenario, rng=6, engine="compiled", series=False)
    in_blocks.run_model()
    assert in_blocks.summary() == step_by_step.summary()
    assert (in_blocks.steps, in_blocks.time, in_blocks.running) == (40, 40.0, False)
    in_blocks.step()  # Mesa's clock goes on one step at a time after the leap
    assert (in_blocks.steps, in_blocks.time) == (41, 41.0)


def test_compiled_sums_of_floats_add_in_numpys_order():
    import numba

    from trustsim.engines.compiled import kernels
    from trustsim.model import rules

    kernels()  # registers the compiled forms of the rules' helpers
    compiled_total = numba.njit(lambda values: rules.total(values))
    rng = np.random.default_rng(0)
    for n in [*range(300), 1000, 4097, 8193, 100_001]:
        values = rng.random(n) * rng.random(n) ** 4  # magnitudes apart, so order matters
        assert compiled_total(values) == values.sum()
        assert compiled_total(values[3:]) == values[3:].sum()


def test_a_run_with_its_series_in_one_call_collects_what_stepping_collects(small_scenario):
    scenario = small_scenario("real-estate-verifiable", busy=True)
    stepped = TrustModel(scenario, rng=7, engine="compiled")
    while stepped.running:
        stepped.step()
    at_once = TrustModel(scenario, rng=7, engine="compiled")
    at_once.run_model()
    assert at_once.datacollector._rows[-1].shape[0] == 30  # steps 11-40 in one call
    for model in (stepped, at_once):
        assert model.datacollector._collection_steps == [float(t) for t in range(41)]
    assert pd.Series(at_once.summary()).equals(pd.Series(stepped.summary()))
    one, other = at_once.datacollector, stepped.datacollector
    pd.testing.assert_frame_equal(
        pd.DataFrame(one.model_vars), pd.DataFrame(other.model_vars), check_exact=True
    )
    pd.testing.assert_frame_equal(
        one.get_model_vars_dataframe(), other.get_model_vars_dataframe(), check_exact=True
    )

"""Which constants decide a conclusion: RBD-FAST first-order indices and rank correlations
on the study's Latin-hypercube worlds find planted influences, in the conclusion's sign,
and a study writes them and names them in its sentences."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import qmc

from trustsim.robustness.discover import robustness_summary
from trustsim.robustness.indices import (
    INDEX_COLUMNS,
    conclusion_indices,
    deciding,
    deciding_text,
    first_order,
    harmonics,
    load_indices,
)
from trustsim.robustness.study import run_study

NAMES = [f"x{j}" for j in range(10)]


def worlds(n: int = 256, seed: int = 0) -> np.ndarray:
    return qmc.LatinHypercube(d=len(NAMES), seed=seed).random(n)


def test_rbd_fast_on_an_lhs_finds_the_influential_constants_and_clears_the_inert_ones():
    x = worlds()
    noise = np.random.default_rng(1).normal(0, 0.3, len(x))
    found = first_order(x, 2 * x[:, 0] + np.sin(6 * x[:, 1]) + noise, NAMES)
    assert found["ci_low"][0] > 0 and found["ci_low"][1] > 0
    assert found["S1"][0] > 0.3 and found["S1"][1] > 0.1
    assert (found["ci_low"][2:] <= 0).all()  # Bonferroni over the 10 constants


def test_indices_are_undefined_when_the_effect_does_not_vary_or_worlds_are_too_few():
    assert np.isnan(first_order(worlds(), np.ones(256), NAMES)["S1"]).all()
    assert np.isnan(first_order(worlds(7), np.arange(7.0), NAMES)["S1"]).all()
    assert harmonics(8) == 1 and harmonics(1000) == 10


def effects_frame(sign_at_default: float, seed: int = 0) -> pd.DataFrame:
    """Effects per world of one conclusion whose effect rises with x0 and is flat in the
    rest; the conclusion's sign at the defaults is `sign_at_default`."""
    x = worlds(seed=seed)
    effect = (x[:, 0] - 0.3) + np.random.default_rng(seed).normal(0, 0.05, len(x))
    frame = pd.DataFrame(x, columns=NAMES)
    return frame.assign(scenario="alt", metric="nps", effect=effect)


@pytest.mark.parametrize(("sign", "way", "side"), [(1.0, "strengthens", "low"),
                                                   (-1.0, "weakens", "high")])  # fmt: skip
def test_a_constant_that_pushes_the_effect_against_the_conclusion_makes_it_fail_when_high(
    sign, way, side
):
    table = conclusion_indices(effects_frame(sign), NAMES, {"alt": {"nps": {"diff": sign}}},
                               resamples=20)  # fmt: skip
    assert list(table.columns) == list(INDEX_COLUMNS) and len(table) == len(NAMES)
    top = table.iloc[0]
    assert top["factor"] == "x0" and top["rank"] == 1 and top["decides"]
    assert top["direction"] == way and np.sign(top["rho"]) == sign
    assert table["decides"].sum() <= 2  # at most one inert constant passes by chance
    text = deciding_text(deciding(table, "alt", "nps"))
    assert text.startswith(f"It fails more often when x0 is {side}")


def test_no_deciding_constant_gives_no_sentence():
    rows = pd.DataFrame(columns=list(INDEX_COLUMNS))
    assert deciding_text(deciding(rows, "alt", "nps")) == ""


SMALL = ["market.size=150", "time.steps=20", "time.short_horizon=8"]
FACTORS = {"market.word_of_mouth": (0.01, 0.3), "choice.exit_bias": (-2.5, -0.5)}


def test_a_study_writes_indices_per_conclusion_and_its_sentences_name_deciding_constants(
    tmp_path,
):
    out = tmp_path / "rob"
    run_study(
        "real-estate", ["real-estate-verifiable"], out, factors=FACTORS, samples=12,
        replications=3, overrides=SMALL, durations=False, sweep_options={"workers": 0},
    )  # fmt: skip
    table = load_indices(out)
    assert list(table.columns) == list(INDEX_COLUMNS)
    assert len(table) == 5 * len(FACTORS) and set(table["factor"]) == set(FACTORS)
    conclusions = pd.read_csv(out / "robustness.csv")
    sentences = robustness_summary(out)
    for row, sentence in zip(conclusions.itertuples(), sentences, strict=True):
        assert sentence.startswith(row.conclusion)
        assert deciding_text(deciding(table, row.scenario, row.metric)) in sentence
        ranks = table.loc[(table["scenario"] == row.scenario) & (table["metric"] == row.metric)]
        assert sorted(ranks["rank"]) == [1, 2]

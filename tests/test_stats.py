"""The interval and test arithmetic behind every paired comparison."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from trustsim.experiments.stats import MIN_PAIRS_FOR_TEST, holm, ratio_ci, wilcoxon_p


def paired_counts(rng, n, base_mean, ratio, noise):
    """Paired non-negative outcomes sharing a per-replication factor (common random numbers)."""
    shared = rng.gamma(20.0, 1.0 / 20.0, n)
    base = rng.poisson(base_mean * shared)
    other = rng.poisson(base_mean * ratio * shared * rng.gamma(1 / noise, noise, n))
    return base.astype(float), other.astype(float)


@pytest.mark.parametrize(("base_mean", "ratio"), [(200.0, 1.3), (30.0, 0.2), (8.0, 1.0)])
def test_fieller_interval_covers_the_true_relative_change_95_percent_of_the_time(base_mean, ratio):
    """2,000 simulated paired data sets of 20 replications each: the share of intervals
    containing the true relative change (ratio - 1) is within a two-sided 99% binomial
    acceptance region around 0.95, counting unbounded intervals as covering."""
    rng = np.random.default_rng(5)
    truth = ratio - 1.0
    covered = 0
    trials = 2000
    for _ in range(trials):
        base, other = paired_counts(rng, 20, base_mean, ratio, noise=0.05)
        _, low, high = ratio_ci(base, other)
        covered += bool(math.isnan(low) or low <= truth <= high)
    lo, hi = stats.binom.ppf([0.005, 0.995], trials, 0.95)
    assert lo <= covered <= hi, f"coverage {covered / trials:.3f}"


def test_dividing_the_difference_interval_by_the_base_mean_reports_impossible_losses():
    """Negative control: the old interval (t-interval of the difference / base mean), on a
    feature whose removal costs nearly every deal, often claims a loss beyond -100%;
    ratio_ci on the same data never does."""
    rng = np.random.default_rng(6)
    impossible_old = impossible_new = 0
    for _ in range(500):
        base, other = paired_counts(rng, 10, 20.0, 0.03, noise=0.5)
        d = other - base
        half = stats.t.ppf(0.975, 9) * d.std(ddof=1) / math.sqrt(10)
        impossible_old += (d.mean() - half) / base.mean() < -1.0
        _, low, _ = ratio_ci(base, other)
        impossible_new += bool(low < -1.0)
    assert impossible_old > 100
    assert impossible_new == 0


def test_a_loss_is_never_reported_beyond_minus_100_percent():
    """Non-negative outcomes that almost vanish in the alternative: the point estimate and
    the interval stay at or above -100%."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        base, other = paired_counts(rng, 6, 10.0, 0.02, noise=0.5)
        relative, low, high = ratio_ci(base, other)
        assert relative >= -1.0
        assert math.isnan(low) or -1.0 <= low <= relative <= high


def test_a_base_mean_indistinguishable_from_zero_gives_an_unbounded_interval():
    base = np.array([0.0, 0.0, 3.0, 0.0, 0.0, 0.0])
    other = np.array([1.0, 2.0, 0.0, 1.0, 3.0, 1.0])
    relative, low, high = ratio_ci(base, other)
    assert relative == pytest.approx((8 / 6) / (3 / 6) - 1)
    assert math.isnan(low) and math.isnan(high)


def test_holm_matches_a_worked_example():
    """p = (0.01, 0.04, 0.03, 0.5), m = 4: sorted 0.01, 0.03, 0.04, 0.5 scaled by
    4, 3, 2, 1 -> 0.04, 0.09, 0.08, 0.5, then the running maximum -> 0.04, 0.09, 0.09, 0.5."""
    adjusted = holm([0.01, 0.04, 0.03, math.nan, 0.5])
    np.testing.assert_allclose(adjusted[[0, 1, 2, 4]], [0.04, 0.09, 0.09, 0.5])
    assert math.isnan(adjusted[3])


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values):
    p = np.array(p_values)
    adjusted = holm(p)
    assert np.all(adjusted >= p - 1e-15) and np.all(adjusted <= 1.0)
    order = np.argsort(p, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= -1e-15)


def test_no_wilcoxon_p_below_six_pairs_and_the_extreme_case_at_six_is_significant():
    """With n pairs all positive the exact two-sided p is 2 / 2**n: 0.0625 at 5 (never
    significant, so not reported), 0.03125 at 6."""
    assert MIN_PAIRS_FOR_TEST == 6
    assert math.isnan(wilcoxon_p([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert wilcoxon_p([1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) == pytest.approx(2 / 2**6)


def test_cluster_robust_errors_do_not_shrink_when_a_buyer_repeats_choices():
    """Each buyer's choice copied 10 times: model-based standard errors shrink by about
    sqrt(10) (they count copies as evidence), clustered by buyer they stay close to those
    of the original data."""
    from trustsim.experiments.stats import logistic_regression

    rng = np.random.default_rng(8)
    x = rng.normal(size=(400, 1))
    y = (rng.random(400) < 1 / (1 + np.exp(-(0.3 + 0.8 * x[:, 0])))).astype(float)
    buyer = np.arange(400)
    once = logistic_regression(x, y, ["x"], clusters=buyer)["x"][1]
    copies = np.repeat(x, 10, axis=0), np.repeat(y, 10), np.repeat(buyer, 10)
    naive = logistic_regression(copies[0], copies[1], ["x"])["x"][1]
    clustered = logistic_regression(*copies[:2], ["x"], clusters=copies[2])["x"][1]
    assert naive == pytest.approx(once / math.sqrt(10), rel=0.15)
    assert clustered == pytest.approx(once, rel=0.05)


def test_one_value_has_a_mean_and_no_interval_two_have_one():
    from trustsim.experiments.stats import mean_ci

    mean, low, high = mean_ci([131.0])
    assert mean == 131.0 and math.isnan(low) and math.isnan(high)
    mean, low, high = mean_ci([120.0, 140.0])  # negative control: a t interval
    assert mean == 130.0 and low < 120.0 and high > 140.0


def test_an_interval_is_cut_to_the_values_the_measure_can_take():
    from trustsim.experiments.stats import mean_ci
    from trustsim.metrics import value_range

    deals = [0.0, 0.0, 3.0]  # a t interval reaches below 0 deals
    mean, low, high = mean_ci(deals)
    assert low < 0  # the uncut interval, as a negative control
    cut = mean_ci(deals, within=value_range("closed_deals"))
    assert cut == (mean, 0.0, high)
    share = mean_ci([0.98, 1.0, 0.9], within=value_range("verification_rate[contract]"))
    assert share[2] == 1.0 and mean_ci([0.98, 1.0, 0.9])[2] > 1.0
    assert value_range("nps") == (-100.0, 100.0)
    assert value_range("mean_reactance")[1] == math.inf
    assert value_range("not_a_measure") == (-math.inf, math.inf)

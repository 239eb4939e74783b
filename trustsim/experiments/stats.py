"""Summary statistics over replications: means with t confidence intervals, paired tests.

Paired comparisons report three things: the mean difference with its t-interval, the
relative change with its own Fieller interval (never a t-interval divided by a mean), and
a Wilcoxon signed-rank p-value, Holm-adjusted when several effects are tested together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def mean_ci(
    values, level: float = 0.95, within: tuple[float, float] | None = None
) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean; NaN values are dropped.

    CI = mean +/- t_{(1+level)/2, n-1} * sd / sqrt(n), cut to `within` (the values the
    measure can take, `trustsim.metrics.value_range`): the true mean lies there, so the
    cut interval covers it at least as often, and a count's interval never reaches below
    0. One value has no interval (its bounds are NaN: one run says nothing about its own
    spread); with none, all three are NaN.
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    low, high = within if within is not None else (-math.inf, math.inf)
    return mean, max(mean - half, low), min(mean + half, high)


# The smallest two-sided exact Wilcoxon p with n pairs is 2 / 2**n: 0.0625 at n = 5, so
# below this many pairs no result can be significant at 5% and no p-value is reported.
MIN_PAIRS_FOR_TEST = 6
NO_CI_NOTE = (
    "one replication: no confidence interval, as one run says nothing about its spread "
    "(run 2 or more; 20 is the default)"
)
NO_TEST_NOTE = (
    f"fewer than {MIN_PAIRS_FOR_TEST} paired replications: no test can reach p < 0.05, "
    "so none is reported"
)


def wilcoxon_p(differences) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (NaN pairs dropped).

    Returns 1.0 when every difference is zero (no evidence of an effect) and NaN when
    there are fewer than MIN_PAIRS_FOR_TEST pairs, where even the most extreme outcome
    gives p = 2 / 2**n >= 0.0625 and a p-value beside an interval would mislead.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    if d.size < MIN_PAIRS_FOR_TEST:
        return math.nan
    if np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def ratio_ci(base, other, level: float = 0.95) -> tuple[float, float, float]:
    """Relative change of the mean, mean(other) / mean(base) - 1, with a Fieller interval.

    For paired samples (x = base, y = other, NaN pairs dropped) with means xb, yb and
    covariance matrix of the means v = cov(x, y) / n, the Fieller set for the ratio
    theta = E[y] / E[x] is every theta with

        (yb - theta * xb)^2 <= t^2 * (v_yy - 2 theta v_xy + theta^2 v_xx),

    t = t_{(1+level)/2, n-1}: a quadratic a theta^2 + b theta + c <= 0 with
    a = xb^2 - t^2 v_xx, b = -2 (xb yb - t^2 v_xy), c = yb^2 - t^2 v_yy. When a <= 0 the
    base mean is not distinguishable from zero and the set is unbounded: the interval is
    (NaN, NaN), as no honest finite one exists. When both samples are non-negative the
    ratio cannot be negative, so the interval is intersected with theta >= 0: a loss is
    never reported beyond -100%.

    Returns:
        (relative, ci_low, ci_high) as fractions (0.25 = +25%).
    """
    from scipy import stats

    x = np.asarray(base, dtype=float)
    y = np.asarray(other, dtype=float)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size == 0 or x.mean() == 0:
        return math.nan, math.nan, math.nan
    xb, yb = float(x.mean()), float(y.mean())
    estimate = yb / xb - 1.0
    if x.size < 2:
        return estimate, math.nan, math.nan
    v = np.cov(x, y, ddof=1) / x.size
    t2 = float(stats.t.ppf(0.5 + level / 2, x.size - 1)) ** 2
    a = xb * xb - t2 * v[0, 0]
    b = -2.0 * (xb * yb - t2 * v[0, 1])
    c = yb * yb - t2 * v[1, 1]
    if a <= 0:
        return estimate, math.nan, math.nan
    root = math.sqrt(max(b * b - 4.0 * a * c, 0.0))
    low, high = (-b - root) / (2.0 * a), (-b + root) / (2.0 * a)
    if np.all(x >= 0) and np.all(y >= 0):
        low = max(low, 0.0)
    return float(estimate), float(low - 1.0), float(high - 1.0)


def holm(p_values) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries stay NaN).

    With the m valid p-values sorted, p_(1) <= ... <= p_(m):
    adj_(i) = min(1, max_{j <= i} (m - j + 1) * p_(j)). Rejecting where adj < alpha
    controls the family-wise error rate at alpha under any dependence.
    """
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, math.nan)
    valid = np.flatnonzero(~np.isnan(p))
    if valid.size == 0:
        return adjusted
    order = valid[np.argsort(p[valid], kind="stable")]
    m = order.size
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def logistic_regression(features, outcome, names=None, clusters=None, max_iter: int = 50):
    """Maximum-likelihood logistic regression with Wald tests (Newton-Raphson / IRLS).

    logit P(y = 1) = b0 + sum_j b_j * x_j

    Standard errors are model-based, V = H^-1 with H = X' W X, or, given `clusters`,
    cluster-robust (the sandwich V = H^-1 (sum_g s_g s_g') H^-1 with s_g = sum over the
    cluster's rows of x_i (y_i - p_i), times G / (G - 1)): choices of one buyer are not
    independent, so each buyer is a cluster.

    Args:
        features: (n, p) array of covariates (an intercept is added).
        outcome: (n,) array of 0/1.
        names: optional covariate names.
        clusters: optional (n,) array of cluster labels (e.g. buyer ids).

    Returns:
        dict name -> (coefficient, standard error, two-sided Wald p-value), with the
        intercept under "intercept".
    """
    from scipy import stats

    x = np.column_stack([np.ones(len(outcome)), np.asarray(features, dtype=float)])
    y = np.asarray(outcome, dtype=float)
    beta = np.zeros(x.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-(x @ beta)))
        weight = p * (1.0 - p)
        hessian = x.T @ (x * weight[:, None])
        step = np.linalg.solve(hessian, x.T @ (y - p))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    bread = np.linalg.inv(x.T @ (x * (p * (1.0 - p))[:, None]))
    if clusters is None:
        covariance = bread
    else:
        _, group = np.unique(np.asarray(clusters), return_inverse=True)
        scores = np.zeros((group.max() + 1, x.shape[1]))
        np.add.at(scores, group, x * (y - p)[:, None])
        g = scores.shape[0]
        covariance = bread @ (scores.T @ scores) @ bread * (g / (g - 1))
    se = np.sqrt(np.diag(covariance))
    pvalues = 2.0 * stats.norm.sf(np.abs(beta / se))
    labels = ["intercept", *(names or [f"x{j}" for j in range(x.shape[1] - 1)])]
    return {
        label: (float(b), float(s), float(pv))
        for label, b, s, pv in zip(labels, beta, se, pvalues, strict=True)
    }


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, qs: Sequence[float]) -> list[float]:
    """Quantiles of a weighted sample (the weighted empirical CDF, interpolated).

    Example:
        >>> weighted_quantiles(np.array([1.0, 2.0, 3.0]), np.ones(3) / 3, [0.5])
        [2.0]
    """
    finite = np.isfinite(values) & (weights > 0)
    if not finite.any():
        return [math.nan] * len(qs)
    order = np.argsort(values[finite])
    v, w = values[finite][order], weights[finite][order]
    cdf = (np.cumsum(w) - 0.5 * w) / w.sum()
    return [float(np.interp(q, cdf, v)) for q in qs]

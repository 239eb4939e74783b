"""Summary statistics over replications: means with t confidence intervals, paired tests."""

from __future__ import annotations

import math

import numpy as np


def mean_ci(values, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided t confidence interval of the mean; NaN values are dropped.

    CI = mean +/- t_{(1+level)/2, n-1} * sd / sqrt(n). With one value the interval is
    that value; with none, all three are NaN.
    """
    from scipy import stats

    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if x.size == 1:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))
    return mean, mean - half, mean + half


def wilcoxon_p(differences) -> float:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (NaN pairs dropped).

    Returns 1.0 when every difference is zero (no evidence of an effect) and NaN when
    there are no pairs.
    """
    from scipy import stats

    d = np.asarray(differences, dtype=float)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return math.nan
    if np.all(d == 0):
        return 1.0
    return float(stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided").pvalue)


def logistic_regression(features, outcome, names=None, max_iter: int = 50):
    """Maximum-likelihood logistic regression with Wald tests (Newton-Raphson / IRLS).

    logit P(y = 1) = b0 + sum_j b_j * x_j

    Args:
        features: (n, p) array of covariates (an intercept is added).
        outcome: (n,) array of 0/1.
        names: optional covariate names.

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
    covariance = np.linalg.inv(x.T @ (x * (p * (1.0 - p))[:, None]))
    se = np.sqrt(np.diag(covariance))
    pvalues = 2.0 * stats.norm.sf(np.abs(beta / se))
    labels = ["intercept", *(names or [f"x{j}" for j in range(x.shape[1] - 1)])]
    return {
        label: (float(b), float(s), float(pv))
        for label, b, s, pv in zip(labels, beta, se, pvalues, strict=True)
    }

"""Gaussian-process emulators: the model's statistics as smooth functions of the parameters.

One emulator per statistic, fitted on the unit cube of the priors to the mean of the
replications at each design point (scikit-learn's `GaussianProcessRegressor`):

    f(u) ~ GP(c, s^2 k(u, u')),  k = exp(-sum_i (u_i - u'_i)^2 / (2 l_i^2)) + nugget,

with one length scale l_i per parameter (automatic relevance), the nugget absorbing the
noise of a mean over few replications. A second emulator per statistic fits the log of
the replications' variance (the model variance), corrected for the bias of a log
sample variance with r - 1 degrees of freedom: E[log s^2] = log sigma^2 + psi(k/2) -
log(k/2), k = r - 1.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

# Below this many design points with a defined value, a statistic is not emulated.
MIN_POINTS = 8
VARIANCE_FLOOR = 1e-8


def _regressor(dims: int, seed: int):
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel

    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * RBF(
        length_scale=np.full(dims, 0.3), length_scale_bounds=(1e-2, 1e2)
    ) + WhiteKernel(1e-2, (1e-8, 1e1))
    return GaussianProcessRegressor(
        kernel=kernel, normalize_y=True, n_restarts_optimizer=1, random_state=seed
    )


@dataclass
class Emulator:
    """Mean and model variance of one statistic over the unit cube."""

    name: str
    mean_gp: object
    log_variance_gp: object
    log_bias: float

    def predict(self, unit: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(emulated mean, emulator variance, model variance) at points `unit` (n, d)."""
        mean, sd = self.mean_gp.predict(unit, return_std=True)
        log_var = self.log_variance_gp.predict(unit) - self.log_bias
        model_var = np.maximum(np.exp(log_var), VARIANCE_FLOOR)
        return mean, np.maximum(sd**2, VARIANCE_FLOOR), model_var


def fit_emulator(
    name: str, unit: np.ndarray, means: np.ndarray, variances: np.ndarray, reps: int, seed: int
) -> Emulator | None:
    """Fit the emulators of one statistic; None when too few points define it.

    Args:
        unit: (points, d) design points on the unit cube.
        means, variances: per point, the replications' mean and sample variance.
        reps: replications per point (for the log-variance bias).
    """
    from scipy.special import digamma

    defined = np.isfinite(means) & np.isfinite(variances)
    if defined.sum() < MIN_POINTS:
        return None
    x = unit[defined]
    with warnings.catch_warnings():
        # Length scales at their bounds (a parameter that does not matter) are expected.
        warnings.simplefilter("ignore")
        mean_gp = _regressor(x.shape[1], seed).fit(x, means[defined])
        log_var = np.log(np.maximum(variances[defined], VARIANCE_FLOOR))
        var_gp = _regressor(x.shape[1], seed).fit(x, log_var)
    k = max(reps - 1, 1)
    bias = float(digamma(k / 2) - math.log(k / 2))
    return Emulator(name, mean_gp, var_gp, bias)


def implausibility(
    observed: np.ndarray,
    observation_variance: np.ndarray,
    emulators: list[Emulator | None],
    unit: np.ndarray,
) -> np.ndarray:
    """Largest implausibility over the statistics at each point of `unit`.

        I_j(u) = |z_j - E[f_j(u)]| / sqrt(V_em,j(u) + V_obs,j + V_model,j(u)),
        I(u) = max_j I_j(u)

    The data are one run (variance V_model); V_em is the emulator's predictive variance,
    its nugget included, so it also covers the error of a mean of few replications.
    Statistics without an emulator do not count. Returns an array of length len(unit).
    """
    worst = np.zeros(len(unit))
    for j, emulator in enumerate(emulators):
        if emulator is None:
            continue
        mean, em_var, model_var = emulator.predict(unit)
        total = em_var + observation_variance[j] + model_var
        worst = np.maximum(worst, np.abs(observed[j] - mean) / np.sqrt(total))
    return worst


def emulated_log_likelihood(
    observed: np.ndarray, covariance: np.ndarray, emulators: list[Emulator], unit: np.ndarray
) -> np.ndarray:
    """Gaussian log-likelihood of the data under the emulators (up to a constant):

        log L(u) = -1/2 r' C(u)^-1 r - 1/2 log det C(u),  r = z - E[f(u)],
        C(u) = covariance + diag(V_em(u)),

    `covariance` holding the model and observation variance with the statistics'
    correlations. Used only to propose the final draws, which the real model reweights.
    """
    means, em_vars = [], []
    for emulator in emulators:
        mean, em_var, _ = emulator.predict(unit)
        means.append(mean)
        em_vars.append(em_var)
    residual = observed[None, :] - np.column_stack(means)
    total = covariance[None, :, :] + np.einsum(
        "ij,jk->ijk", np.column_stack(em_vars), np.eye(len(observed))
    )
    solved = np.linalg.solve(total, residual[:, :, None])[:, :, 0]
    _, log_det = np.linalg.slogdet(total)
    return -0.5 * (np.einsum("ij,ij->i", residual, solved) + log_det)

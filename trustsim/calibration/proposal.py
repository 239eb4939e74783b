"""Proposals of the final check's later rounds, and the weights of draws pooled over rounds.

When the first round of final draws leaves too small an effective sample size (the
emulated posterior it was drawn from missed the real one), later rounds draw from a
proposal adapted to the real weights found so far: a Gaussian fitted to the weighted
draws (covariance inflated, truncated to the unit cube), mixed with the first round's
proposal so no region it covered is left out,

    q_k(u) = (1 - a) N_cube(u; m_k, c S_k) / Z_k + a q_1(u),

m_k and S_k the weighted mean and covariance of every draw so far, Z_k the share of that
Gaussian inside the cube. Draws of all rounds are pooled with deterministic-mixture
weights (adaptive multiple importance sampling, Cornuet et al. 2012, Scand J Stat 39:798)

    w_i ∝ L(z | u_i) / sum_k (n_k / N) q_k(u_i),

which are unbiased whichever round a draw came from and reduce to L / q_1 when there is
only the first round.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The Gaussian's covariance is the weighted one times this (wider than the posterior, so
# its tails are not thinner than the target's); plus a ridge so one heavy draw still
# gives a proper density.
INFLATE = 2.0
RIDGE = 0.02**2
# Draws used to estimate the share Z of the Gaussian inside the cube.
SHARE_SAMPLES = 20_000


@dataclass(frozen=True)
class CubeGaussian:
    """A multivariate normal truncated to the unit cube."""

    mean: np.ndarray
    covariance: np.ndarray
    inside_share: float

    def density(self, unit: np.ndarray) -> np.ndarray:
        """N(u; m, S) / Z inside the cube, 0 outside."""
        chol = np.linalg.cholesky(self.covariance)
        solved = np.linalg.solve(chol, (unit - self.mean).T)
        log_pdf = (
            -0.5 * np.sum(solved**2, axis=0)
            - np.sum(np.log(np.diag(chol)))
            - 0.5 * len(self.mean) * np.log(2 * np.pi)
        )
        inside = np.all((unit >= 0.0) & (unit <= 1.0), axis=1)
        return np.where(inside, np.exp(log_pdf) / self.inside_share, 0.0)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """n draws inside the cube (by rejection)."""
        kept: list[np.ndarray] = []
        while sum(len(k) for k in kept) < n:
            batch = rng.multivariate_normal(self.mean, self.covariance, size=max(4 * n, 1000))
            kept.append(batch[np.all((batch >= 0.0) & (batch <= 1.0), axis=1)])
        return np.vstack(kept)[:n]


def fit_cube_gaussian(unit: np.ndarray, weights: np.ndarray, rng: np.random.Generator):
    """The Gaussian of the next round: weighted mean, `INFLATE` x weighted covariance plus
    `RIDGE`, truncated to the cube (its share inside estimated from `SHARE_SAMPLES` draws).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> g = fit_cube_gaussian(rng.random((50, 2)) * 0.1 + 0.45, np.ones(50), rng)
        >>> 0.9 < g.inside_share <= 1.0 and np.allclose(g.mean, 0.5, atol=0.02)
        True
    """
    w = weights / weights.sum()
    mean = w @ unit
    centred = unit - mean
    covariance = INFLATE * (centred.T * w) @ centred + RIDGE * np.eye(unit.shape[1])
    probe = rng.multivariate_normal(mean, covariance, size=SHARE_SAMPLES)
    share = float(np.mean(np.all((probe >= 0.0) & (probe <= 1.0), axis=1)))
    return CubeGaussian(mean, covariance, max(share, 1.0 / SHARE_SAMPLES))


def mixture_weights(
    log_like: np.ndarray, densities: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, float]:
    """Deterministic-mixture weights of draws pooled over rounds, and their ESS.

    Args:
        log_like: (N,) real log-likelihood of every draw.
        densities: (rounds, N) density of each round's proposal at every draw.
        counts: (rounds,) draws made in each round.

    Returns:
        Normalised weights w_i ∝ L_i / sum_k (n_k / N) q_k(u_i), and (sum w)^2 / sum w^2.

    Example:
        >>> w, ess = mixture_weights(np.zeros(2), np.array([[1.0, 1.0], [1.0, 3.0]]),
        ...                          np.array([1, 1]))
        >>> np.round(w, 3).tolist(), round(ess, 2)
        ([0.667, 0.333], 1.8)
    """
    shares = counts / counts.sum()
    mixture = shares @ densities
    with np.errstate(divide="ignore"):
        log_w = log_like - np.log(mixture)
    finite = np.isfinite(log_w)
    if not finite.any():
        return np.zeros_like(log_w), 0.0
    w = np.where(finite, np.exp(log_w - np.max(log_w[finite])), 0.0)
    w /= w.sum()
    return w, float(1.0 / np.sum(w**2))

"""The final check's adapted rounds: truncated Gaussians and deterministic-mixture weights."""

from __future__ import annotations

import numpy as np
import pytest

from trustsim.calibration.proposal import CubeGaussian, fit_cube_gaussian, mixture_weights


def test_a_cube_gaussian_density_integrates_to_one_over_the_cube():
    rng = np.random.default_rng(1)
    gaussian = fit_cube_gaussian(rng.normal(0.9, 0.1, (200, 2)).clip(0, 1), np.ones(200), rng)
    assert gaussian.inside_share < 0.9  # much of it lies beyond the corner
    grid = (np.arange(200) + 0.5) / 200
    u = np.stack(np.meshgrid(grid, grid), axis=-1).reshape(-1, 2)
    assert gaussian.density(u).mean() == pytest.approx(1.0, rel=0.03)
    assert gaussian.density(np.array([[1.2, 0.5]]))[0] == 0.0
    drawn = gaussian.sample(500, rng)
    assert drawn.shape == (500, 2) and ((drawn >= 0) & (drawn <= 1)).all()


def test_pooled_rounds_weighted_by_the_mixture_recover_a_known_posterior():
    # Target on [0, 1]: N(0.3, 0.02), likelihood times a uniform prior. Round 1 is
    # uniform (q1 = 1); round 2 a Gaussian far too wide and off-centre.
    rng = np.random.default_rng(7)

    def log_like(u):
        return -0.5 * ((u[:, 0] - 0.3) / 0.02) ** 2

    first = rng.random((400, 1))
    inside = rng.normal(0.4, 0.15, 100_000)
    share = float(np.mean((inside >= 0) & (inside <= 1)))
    second_component = CubeGaussian(np.array([0.4]), np.array([[0.15**2]]), share)
    second = second_component.sample(1600, rng)
    draws = np.vstack([first, second])
    densities = np.vstack([np.ones(len(draws)), second_component.density(draws)])
    weights, ess = mixture_weights(log_like(draws), densities, np.array([400, 1600]))
    mean = float(weights @ draws[:, 0])
    sd = float(np.sqrt(weights @ (draws[:, 0] - mean) ** 2))
    assert mean == pytest.approx(0.3, abs=0.005)
    assert sd == pytest.approx(0.02, rel=0.15)
    _, ess_alone = mixture_weights(log_like(first), densities[:1, :400], np.array([400]))
    assert ess > 2 * ess_alone

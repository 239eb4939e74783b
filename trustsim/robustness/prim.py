"""PRIM scenario discovery: peeling, pasting, quasi-p values, resampling.

The Patient Rule Induction Method (Friedman & Fisher 1999) finds a box (an interval per
factor) in which the *cases of interest* (here: worlds where a conclusion fails) are
dense, as used for scenario discovery by Bryant & Lempert (2010). For a box B over n
sampled points with k cases of interest in total:

    coverage = k_B / k       (share of the cases of interest inside B)
    density  = k_B / n_B     (share of the points in B that are cases of interest)
    mass     = n_B / n

*Peeling* starts from the whole space and repeatedly cuts off the alpha-quantile slice
(at one end of one factor; the whole end level where a factor takes a few values) whose
removal leaves the highest density, down to a mass of `mass_min`: the peeling trajectory
trades coverage for density. The box chosen on it maximises the harmonic mean of
coverage and density, 2 c d / (c + d). *Pasting* then widens its limits again by
alpha-slices while that raises the density. Each restricted
limit gets a *quasi-p* value (Bryant & Lempert 2010): with the limit removed, the
relaxed box holds n_r points and k_r cases; under the null that the limit adds nothing,
the k_B cases among the n_B points of B are binomial(n_B, k_r / n_r), so

    quasi-p = P(Binomial(n_B, k_r / n_r) >= k_B).

Limits with quasi-p above `P_MAX` are dropped (the factor is left free there), the
least significant first, as Bryant & Lempert recommend for an interpretable box.
*Reproducibility* of a limit is the share of boxes, found the same way on random halves
of the sample, that restrict that factor on the same side.

ema-workbench implements the same method; this module exists because importing it took
over 20 s and a dozen packages for this one algorithm (see the commit adding scikit-learn).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ALPHA = 0.05  # share of a box's points peeled or pasted per step
MASS_MIN = 0.05  # peeling stops at boxes holding this share of all points
P_MAX = 0.05  # limits with a larger quasi-p are dropped
RESAMPLES = 20
SIDES = ("low", "high")


@dataclass
class Box:
    """Limits per factor (inclusive) and the box's statistics on the data it was found on.

    Attributes:
        low, high: arrays of limits, one per factor; an unrestricted side equals the bound.
        coverage, density, mass: as in the module docstring.
        quasi_p: (factor index, side) -> quasi-p of each restricted limit.
    """

    low: np.ndarray
    high: np.ndarray
    coverage: float = math.nan
    density: float = math.nan
    mass: float = math.nan
    quasi_p: dict[tuple[int, str], float] = field(default_factory=dict)

    def contains(self, x: np.ndarray) -> np.ndarray:
        return np.all((x >= self.low) & (x <= self.high), axis=1)

    def restricted(self, bounds: np.ndarray) -> list[tuple[int, str]]:
        """(factor index, side) of every limit inside the bounds."""
        out = []
        for j in range(len(self.low)):
            if self.low[j] > bounds[0, j]:
                out.append((j, "low"))
            if self.high[j] < bounds[1, j]:
                out.append((j, "high"))
        return out


@dataclass
class Discovery:
    """What PRIM found: the trajectory, the chosen box and its reproducibility."""

    trajectory: list[Box]
    chosen: int
    box: Box
    reproducibility: dict[tuple[int, str], float]


def measure(box: Box, x: np.ndarray, y: np.ndarray) -> Box:
    inside = box.contains(x)
    n_in, k_in, k = int(inside.sum()), int(y[inside].sum()), int(y.sum())
    box.mass = n_in / len(y)
    box.coverage = k_in / k if k else math.nan
    box.density = k_in / n_in if n_in else math.nan
    return box


def peel(x: np.ndarray, y: np.ndarray, bounds: np.ndarray, alpha: float = ALPHA,
         mass_min: float = MASS_MIN) -> list[Box]:  # fmt: skip
    """The peeling trajectory from the whole space (`bounds`: 2 x factors) down to mass_min."""
    box = measure(Box(bounds[0].astype(float).copy(), bounds[1].astype(float).copy()), x, y)
    trajectory = [box]
    n = len(y)
    while True:
        inside = box.contains(x)
        best: tuple[tuple[float, int], int, str, float] | None = None
        for j in range(x.shape[1]):
            xj, yj = x[inside, j], y[inside]
            for side in SIDES:
                cut = peel_cut(xj, side, alpha)
                keep = xj >= cut if side == "low" else xj <= cut
                kept = int(keep.sum())
                if kept == len(xj) or kept < mass_min * n or kept == 0:
                    continue
                score = (float(yj[keep].mean()), kept)
                if best is None or score > best[0]:
                    best = (score, j, side, cut)
        if best is None:
            return trajectory
        _, j, side, cut = best
        low, high = box.low.copy(), box.high.copy()
        (low if side == "low" else high)[j] = cut
        box = measure(Box(low, high), x, y)
        trajectory.append(box)


def peel_cut(xj: np.ndarray, side: str, alpha: float = ALPHA) -> float:
    """The new limit when peeling one end of a factor: its alpha-quantile, or, where ties
    at the end hold more than alpha of the points (a factor sampled on a few levels, such
    as stage durations in whole steps), halfway to the next value, so that the whole end
    level is peeled (Friedman & Fisher 1999 peel discrete values level by level).

    Example:
        >>> peel_cut(np.array([7.0, 7.0, 14.0, 21.0]), "low"), peel_cut(np.arange(100.0), "high")
        (10.5, 94.05)
    """
    cut = float(np.quantile(xj, alpha if side == "low" else 1 - alpha))
    end = xj.min() if side == "low" else xj.max()
    if cut != end:
        return cut
    rest = xj[xj > end] if side == "low" else xj[xj < end]
    if rest.size == 0:
        return cut
    return float((end + (rest.min() if side == "low" else rest.max())) / 2)


def choose(trajectory: list[Box]) -> int:
    """Index of the box maximising the harmonic mean of coverage and density."""
    scores = [harmonic_mean(b.coverage, b.density) for b in trajectory]
    return int(np.nanargmax(scores))


def harmonic_mean(coverage: float, density: float) -> float:
    total = coverage + density
    return 2 * coverage * density / total if total > 0 else 0.0


def paste(box: Box, x: np.ndarray, y: np.ndarray, bounds: np.ndarray,
          alpha: float = ALPHA) -> Box:  # fmt: skip
    """Widen limits by alpha-slices of the box's points while that raises the density."""
    while True:
        inside = box.contains(x)
        step = max(1, math.ceil(alpha * inside.sum()))
        best: tuple[float, Box] | None = None
        for j, side in box.restricted(bounds):
            others = np.all(np.delete((x >= box.low) & (x <= box.high), j, axis=1), axis=1)
            outside = x[others & ~inside, j]
            outside = (
                outside[outside < box.low[j]] if side == "low" else outside[outside > box.high[j]]
            )
            if outside.size == 0:
                continue
            nearest = np.sort(outside)[::-1][:step] if side == "low" else np.sort(outside)[:step]
            low, high = box.low.copy(), box.high.copy()
            if side == "low":
                low[j] = bounds[0, j] if nearest.size == outside.size else float(nearest[-1])
            else:
                high[j] = bounds[1, j] if nearest.size == outside.size else float(nearest[-1])
            candidate = measure(Box(low, high), x, y)
            if candidate.density > box.density and (best is None or candidate.density > best[0]):
                best = (candidate.density, candidate)
        if best is None:
            return box
        box = best[1]


def quasi_p(box: Box, x: np.ndarray, y: np.ndarray, bounds: np.ndarray) -> dict:
    """Quasi-p value of each restricted limit (one-sided binomial, see module docstring)."""
    from scipy.stats import binom

    inside = box.contains(x)
    n_box, k_box = int(inside.sum()), int(y[inside].sum())
    out = {}
    for j, side in box.restricted(bounds):
        low, high = box.low.copy(), box.high.copy()
        (low if side == "low" else high)[j] = bounds[0 if side == "low" else 1, j]
        relaxed = Box(low, high).contains(x)
        rate = y[relaxed].mean()
        out[(j, side)] = float(binom.sf(k_box - 1, n_box, rate))
    return out


def prune(box: Box, x: np.ndarray, y: np.ndarray, bounds: np.ndarray,
          p_max: float = P_MAX) -> Box:  # fmt: skip
    """Drop the least significant limit while any has quasi-p above p_max."""
    while True:
        box.quasi_p = quasi_p(box, x, y, bounds)
        if not box.quasi_p:
            return box
        (j, side), p = max(box.quasi_p.items(), key=lambda item: item[1])
        if p <= p_max:
            return box
        low, high = box.low.copy(), box.high.copy()
        (low if side == "low" else high)[j] = bounds[0 if side == "low" else 1, j]
        box = measure(Box(low, high), x, y)


def find_box(x: np.ndarray, y: np.ndarray, bounds: np.ndarray) -> tuple[list[Box], int, Box]:
    """Peel, choose, paste and prune: (trajectory, chosen index, final box)."""
    trajectory = peel(x, y, bounds)
    chosen = choose(trajectory)
    box = paste(trajectory[chosen], x, y, bounds)
    return trajectory, chosen, prune(box, x, y, bounds)


def discover(x, y, bounds, resamples: int = RESAMPLES, seed: int = 0) -> Discovery:
    """PRIM on factors `x` (points x factors) and cases of interest `y` (booleans).

    Args:
        x: factor values.
        y: True where the outcome of interest occurs (e.g. the conclusion fails).
        bounds: 2 x factors array of the sampled ranges (the space PRIM starts from).
        resamples: random halves on which the box is found again for reproducibility.
        seed: seed of the halves.

    Example:
        >>> rng = np.random.default_rng(1)
        >>> x = rng.random((400, 3))
        >>> bounds = np.array([[0.0] * 3, [1.0] * 3])
        >>> found = discover(x, x[:, 0] > 0.7, bounds)
        >>> round(float(found.box.low[0]), 1), found.box.restricted(bounds)
        (0.7, [(0, 'low')])
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=bool)
    trajectory, chosen, box = find_box(x, y, bounds)
    rng = np.random.default_rng(seed)
    counts: dict[tuple[int, str], float] = {}
    for _ in range(resamples):
        half = rng.choice(len(y), size=len(y) // 2, replace=False)
        if not y[half].any():
            continue
        for limit in find_box(x[half], y[half], bounds)[2].restricted(bounds):
            counts[limit] = counts.get(limit, 0) + 1 / resamples
    return Discovery(trajectory, chosen, box, counts)

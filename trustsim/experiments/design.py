"""Design points of an experiment: grid, Latin hypercube, Sobol' (Saltelli) and Morris.

Every design is first drawn on the unit hypercube, one column per factor, then mapped to
factor values: a range by its distribution's inverse CDF, a list of values by cutting
[0, 1] into equal parts. The unit coordinates are kept with the points because Morris'
elementary effects are computed on them.

Sobol' sequences are balanced only at powers of two, so `samples` is rounded up to the
next power of two (SALib and SciPy warn, and the indices converge worse, otherwise).
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from trustsim.experiments.experiment import Experiment, FactorInfo


@dataclass
class DesignTable:
    """The design points of one scenario (every scenario gets the same points).

    Attributes:
        values: one dict per point, factor path -> value for the scenario.
        unit: (points, factors) coordinates on the unit hypercube.
        sobol_base: Saltelli's N for a Sobol' design, else None.
        note: what was adjusted (e.g. samples rounded to a power of two), or "".
    """

    values: list[dict[str, Any]]
    unit: np.ndarray
    sobol_base: int | None = None
    note: str = ""

    def __len__(self) -> int:
        return len(self.values)


def sobol_base_samples(requested: int) -> int:
    """The power of two at or above `requested` (at least 2), Saltelli's N for Sobol'.

    Example:
        >>> sobol_base_samples(100), sobol_base_samples(128), sobol_base_samples(1)
        (128, 128, 2)
    """
    return max(2, 1 << (max(1, requested) - 1).bit_length())


def design_size(experiment: Experiment) -> int:
    """Number of design points per scenario, without drawing them.

    Example:
        >>> from trustsim.experiments.experiment import load_experiment
        >>> design_size(load_experiment("affordance-pressure-grid"))
        16
    """
    design, d = experiment.spec.design, len(experiment.factors)
    if design.method == "grid":
        return math.prod(len(grid_levels(f)) for f in experiment.factors)
    if design.method == "lhs":
        return design.samples
    if design.method == "sobol":
        n = sobol_base_samples(design.samples)
        return n * (2 * d + 2 if design.second_order else d + 2)
    return design.samples * (d + 1)


def build_design(experiment: Experiment) -> DesignTable:
    """Draw the design points of an experiment, reproducibly from its design seed.

    Example:
        >>> from trustsim.experiments.experiment import load_experiment
        >>> table = build_design(load_experiment("affordance-pressure-grid"))
        >>> len(table), sorted(table.values[0])
        (16, ['stages.contract.affordance', 'stages.contract.pressure'])
    """
    method = experiment.spec.design.method
    if method == "grid":
        return _grid(experiment.factors)
    unit, sobol_base, note = _unit_sample(experiment)
    values = [
        {f.path: value_from_unit(f, u) for f, u in zip(experiment.factors, row, strict=True)}
        for row in unit
    ]
    return DesignTable(values=values, unit=unit, sobol_base=sobol_base, note=note)


def salib_problem(paths: list[str]) -> dict:
    """A SALib problem on the unit hypercube (values are mapped afterwards)."""
    return {"num_vars": len(paths), "names": list(paths), "bounds": [[0.0, 1.0]] * len(paths)}


def _unit_sample(experiment: Experiment) -> tuple[np.ndarray, int | None, str]:
    design = experiment.spec.design
    problem = salib_problem(experiment.factor_paths)
    seed = experiment.design_seed
    if design.method == "lhs":
        from SALib.sample import latin

        return latin.sample(problem, design.samples, seed=seed), None, ""
    if design.method == "morris":
        from SALib.sample import morris

        unit = morris.sample(problem, design.samples, num_levels=design.morris_levels, seed=seed)
        return unit, None, ""
    from SALib.sample import sobol

    n = sobol_base_samples(design.samples)
    note = ""
    if n != design.samples:
        note = (
            f"samples = {design.samples} rounded up to {n}: Sobol' sequences are balanced "
            "only at powers of two"
        )
    with warnings.catch_warnings():
        # n is a power of two, so SciPy's balance warning cannot apply; silence the rest.
        warnings.simplefilter("ignore")
        unit = sobol.sample(problem, n, calc_second_order=design.second_order, seed=seed)
    return unit, n, note


def grid_levels(factor: FactorInfo) -> list[Any]:
    """The values a grid takes for a factor: its `values`, or `levels` spread over the range.

    Example:
        >>> from trustsim.experiments.experiment import Factor, FactorInfo
        >>> grid_levels(FactorInfo("x", Factor(low=0.0, high=1.0, levels=3), "float"))
        [0.0, 0.5, 1.0]
    """
    spec = factor.spec
    if not spec.is_range:
        return [_plain(v, factor.kind) for v in spec.values]
    if spec.dist == "loguniform":
        points = np.geomspace(spec.low, spec.high, spec.levels)
    else:
        points = np.linspace(spec.low, spec.high, spec.levels)
    if factor.kind == "int":
        rounded = np.clip(np.round(points), math.ceil(spec.low), math.floor(spec.high))
        return sorted({int(v) for v in rounded})
    # 12 significant digits turn linspace's 0.19999999999999998 into the 0.2 users wrote.
    return [float(f"{v:.12g}") for v in points]


def _grid(factors: list[FactorInfo]) -> DesignTable:
    levels = [grid_levels(f) for f in factors]
    values, unit = [], []
    for combo in itertools.product(*[range(len(lv)) for lv in levels]):
        values.append({f.path: lv[i] for f, lv, i in zip(factors, levels, combo, strict=True)})
        unit.append([i / max(1, len(lv) - 1) for lv, i in zip(levels, combo, strict=True)])
    return DesignTable(values=values, unit=np.asarray(unit, dtype=float))


def value_from_unit(factor: FactorInfo, u: float) -> Any:
    """Map a unit coordinate u in [0, 1] to the factor's value (inverse CDF).

    Example:
        >>> from trustsim.experiments.experiment import Factor, FactorInfo
        >>> value_from_unit(FactorInfo("x", Factor(values=["a", "b"]), "choice"), 0.7)
        'b'
        >>> value_from_unit(FactorInfo("n", Factor(low=100, high=200), "int"), 1.0)
        200
    """
    spec = factor.spec
    u = min(max(float(u), 0.0), 1.0)
    if not spec.is_range:
        index = min(int(u * len(spec.values)), len(spec.values) - 1)
        return _plain(spec.values[index], factor.kind)
    if factor.kind == "int":
        return _int_from_unit(spec, u)
    return _float_from_unit(spec, u)


def _float_from_unit(spec, u: float) -> float:
    if spec.dist == "loguniform":
        return float(math.exp(math.log(spec.low) + u * (math.log(spec.high) - math.log(spec.low))))
    if spec.dist == "normal":
        from scipy.stats import truncnorm

        a, b = (spec.low - spec.mean) / spec.sd, (spec.high - spec.mean) / spec.sd
        return float(truncnorm.ppf(u, a, b, loc=spec.mean, scale=spec.sd))
    return float(spec.low + u * (spec.high - spec.low))


def _int_from_unit(spec, u: float) -> int:
    low, high = math.ceil(spec.low), math.floor(spec.high)
    if spec.dist == "uniform":
        # Equal chance for each integer in [low, high]; u = 1 (Morris' top level) is high.
        return int(min(low + math.floor(u * (high - low + 1)), high))
    value = round(_float_from_unit(spec, u))
    return int(min(max(value, low), high))


def _plain(value: Any, kind: str) -> Any:
    """numpy scalars to Python values, so they print and hash the same everywhere."""
    if isinstance(value, np.generic):
        return value.item()
    return value

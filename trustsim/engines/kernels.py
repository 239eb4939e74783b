"""numba kernels of the compiled engine: the model's sub-steps, compiled, one loop each.

Imported only by `trustsim.engines.compiled` when a model uses `engine="compiled"` (it
needs numba). Every function of `trustsim.model.rules` and `trustsim.model.steps` is
registered with numba as it stands (`register_jitable`), the rules' helpers get their
scalar forms here, and each sub-step becomes one compiled loop over the acting buyers
(`loop_over`) that calls the model's own definition on one buyer at a time.
"""

from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path

import numba
import numpy as np
from numba import types
from numba.extending import overload, register_jitable

from trustsim.model import codes, rules, stages, state, steps, tally


def _cache_dir() -> Path:
    """Where numba caches the kernels: one directory per version of the model and kernels.

    numba's own cache check watches only this file, so an edit to the rules or the
    sub-steps would otherwise reuse stale compiled code.
    """
    sources = [Path(m.__file__) for m in (codes, rules, stages, state, steps, tally)]
    sources += [Path(__file__), Path(__file__).with_name("compiled.py")]
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "trustsim" / f"numba-{digest}"


if not os.environ.get("NUMBA_CACHE_DIR"):  # the user's choice wins
    numba.config.CACHE_DIR = str(_cache_dir())

_SCALAR = (types.Boolean, types.Number)


@overload(rules.where)
def _where_on_scalars(condition, if_true, if_false):
    """The scalar form of `rules.where`: one of two numbers, as np.where picks per element."""
    if isinstance(condition, _SCALAR):
        return lambda condition, if_true, if_false: if_true if condition else if_false
    return None


@overload(rules.negate)
def _negate_one(condition):
    if isinstance(condition, _SCALAR):
        return lambda condition: not condition
    return None


@overload(rules.total)
def _total_of_one(values):
    if isinstance(values, _SCALAR):
        return lambda values: values
    return None


@overload(rules.count_pairs)
def _count_one_pair(table, row, column):
    if isinstance(row, types.Integer):

        def count(table, row, column):
            table[row, column] += 1

        return count
    return None


@overload(rules.layers)
def _layers_of_one(per_layer, index):
    if isinstance(index, types.Integer):
        return lambda per_layer, index: (
            per_layer[0, index], per_layer[1, index], per_layer[2, index],
        )  # fmt: skip
    return None


@overload(rules._exp)
def _exp_on_scalars(x):
    """The scalar form of `rules._exp`: no call where exp is exact (0 -> 1, -inf -> 0)."""
    if isinstance(x, types.Float):

        def exp_skipping_exact(x):
            if x == 0.0:
                return 1.0
            if x == -np.inf:
                return 0.0
            return np.exp(x)

        return exp_skipping_exact
    return None


# Everything else of the rules and the sub-steps compiles as written. Not cached on its
# own: each kernel's cache holds the compiled functions it calls.
_OWN_FORMS = {rules.where, rules.negate, rules.total, rules.count_pairs, rules.layers, rules._exp}
for _module in (rules, steps):
    for _name, _function in inspect.getmembers(_module, inspect.isfunction):
        if _function.__module__ == _module.__name__ and _function not in _OWN_FORMS:
            register_jitable(_nrt=False)(_function)

kernel = numba.njit(cache=True, nogil=True, _nrt=False)


def loop_over(step):
    """A compiled loop running sub-step `step` for every acting buyer, in order."""

    @kernel
    def loop(acting, buyers, record, u, t, stages, p, counters):
        for i in range(acting.size):
            k = np.intp(record.stage[i])
            step(i, acting[i], k, buyers, record, u, t, stages, p, counters)

    return loop


LOOPS = {step.__name__: loop_over(step) for step in steps.ACTING_STEPS}


@kernel
def take(index, buyers, prior, status, stage, satisfaction, reactance, trust):
    """Buyers `index`'s state into the given arrays; trust T_l per layer (3, m)."""
    for i in range(index.size):
        b = index[i]
        status[i], stage[i] = buyers.status[b], buyers.stage[b]
        satisfaction[i], reactance[i] = buyers.satisfaction[b], buyers.reactance[b]
        for layer in range(3):
            trust[layer, i] = steps.layer_trust(buyers, b, layer, prior)

"""numba kernels of the compiled engine: the model's sub-steps, compiled, one loop each.

Imported only by `trustsim.engines.compiled` when a model uses `engine="compiled"` (it
needs numba). Every function of `trustsim.model.rules` and `trustsim.model.steps` is
registered with numba as it stands (`register_jitable`), the rules' helpers get their
scalar forms here, and each sub-step becomes one compiled loop over the acting buyers
(`loop_over`) that calls the model's own definition on one buyer at a time.
"""

from __future__ import annotations

import functools
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
def _total(values):
    """`rules.total` compiled: the value of one buyer; a count of flags; numpy's sum."""
    if isinstance(values, _SCALAR):
        return lambda values: values
    if isinstance(values, types.Array) and isinstance(values.dtype, types.Boolean):
        return lambda values: np.count_nonzero(values)
    if isinstance(values, types.Array) and isinstance(values.dtype, types.Float):
        return lambda values: _pairwise_sum(values, 0, values.size)
    return None


@register_jitable
def _pairwise_block(values, start, n):
    """numpy's sum of a run of at most 128 values: in order under 8, else in eight
    interleaved partial sums, added pairwise."""
    if n < 8:
        result = 0.0
        for i in range(start, start + n):
            result += values[i]
        return result
    partial, end = values[start : start + 8].copy(), start + n - n % 8
    for i in range(start + 8, end, 8):
        partial += values[i : i + 8]
    p = partial
    result = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]))
    for i in range(end, start + n):
        result += values[i]
    return result


@register_jitable
def _pairwise_sum(values, start, n):
    """The sum of values[start:start + n] in numpy's order, so it equals numpy's bit for bit.

    numpy sums runs of up to 128 values as `_pairwise_block` does and longer runs as the
    sum of their two halves (the first a multiple of 8 long), recursively. numba cannot
    load a recursive function from its cache, so the halving is done on a stack here:
    each range is split, then replaced by its halves' sum once both are known.
    """
    if n <= 128:
        return _pairwise_block(values, start, n)
    ranges, split = np.empty((130, 2), np.int64), np.zeros(130, np.bool_)
    sums = np.empty(130)
    ranges[0, 0], ranges[0, 1] = start, n
    top, known = 0, 0
    while top >= 0:
        first, size = ranges[top, 0], ranges[top, 1]
        if size <= 128:
            sums[known], known, top = _pairwise_block(values, first, size), known + 1, top - 1
        elif split[top]:
            sums[known - 2], known, top = sums[known - 2] + sums[known - 1], known - 1, top - 1
        else:
            half = size // 2 - (size // 2) % 8
            split[top], split[top + 1], split[top + 2] = True, False, False
            ranges[top + 1, 0], ranges[top + 1, 1] = first + half, size - half
            ranges[top + 2, 0], ranges[top + 2, 1] = first, half
            top += 2
    return sums[0]


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
# What makes arrays (once per step, not per buyer) is compiled with reference counting.
_OWN_FORMS = {rules.where, rules.negate, rules.total, rules.count_pairs, rules.layers, rules._exp}
_ALLOCATING = {rules.lead_base_rates, steps.lead_flow}
for _module in (rules, steps):
    for _name, _function in inspect.getmembers(_module, inspect.isfunction):
        if _function.__module__ == _module.__name__ and _function not in _OWN_FORMS:
            register_jitable(_nrt=_function in _ALLOCATING)(_function)
register_jitable(tally.settle)

# The buyer loops allocate nothing, so they run without reference counting: the
# namedtuples of arrays passed to each sub-step would otherwise cost an increment and
# decrement per array per buyer.
kernel = numba.njit(cache=True, nogil=True, _nrt=False)


def loop_over(step):
    """A compiled loop running sub-step `step` for every acting buyer, in order."""

    @register_jitable(_nrt=False)
    def loop(acting, buyers, record, u, t, stages, p, counters):
        for i in range(acting.size):
            k = np.intp(record.stage[i])
            step(i, acting[i], k, buyers, record, u, t, stages, p, counters)

    return loop


def one_after_another(first, then):
    """A compiled call of loop `first`, then of loop `then`, over the same acting buyers."""

    @register_jitable(_nrt=False)
    def both(acting, buyers, record, u, t, stages, p, counters):
        first(acting, buyers, record, u, t, stages, p, counters)
        then(acting, buyers, record, u, t, stages, p, counters)

    return both


# Every sub-step of acting buyers, each for all of them before the next (STEP_ORDER).
act = functools.reduce(one_after_another, [loop_over(step) for step in steps.ACTING_STEPS])


@kernel
def buy_again(buyers, u, p, counters):
    """Finished, loyal customers buy again (`steps.repeat_purchases`), in buyer order."""
    for b in range(buyers.status.size):
        if steps.may_buy_again(buyers.status[b], buyers.churned[b]):
            steps.repeat_purchases(b, buyers, u, p, counters)


@kernel
def begin(places, record, buyers, stages, t):
    """The active buyers whose visit ends act this step (`places.acting`, `steps.visit_ends`);
    their stages go into the record."""
    n = 0
    for i in range(places.sizes[0]):
        b = places.active[i]
        if steps.visit_ends(b, buyers, stages, t):
            places.acting[n] = b
            record.stage[n] = buyers.stage[b]
            n += 1
    places.sizes[1] = n
    return n


@kernel
def part_ways(places, buyers):
    """Buyers who finished or walked away (acting ones: the others are mid-visit) move from
    `active` to `scratch`, in order.

    Returns how many left.
    """
    stay = gone = 0
    for i in range(places.sizes[0]):
        b = places.active[i]
        if buyers.status[b] >= codes.FINISHED:
            places.scratch[gone] = b
            gone += 1
        else:
            places.active[stay] = b
            stay += 1
    places.sizes[0] = stay
    return gone


@kernel
def arrive(places, buyers, u, t, hazard, deterred_below, outside, base_rates, p, counters):
    """Potential buyers drawn by the hazard become leads and join `active` (buyer order);
    others hear a detractor and are deterred (`steps.deter`). Returns how many arrived,
    listed in `places.scratch`."""
    new = 0
    for b in range(buyers.status.size):
        if steps.may_arrive(buyers.status[b]):
            if steps.arrive(b, u, hazard, counters):
                steps.become_leads(b, buyers, u, t, outside, base_rates, p, counters)
                places.scratch[new] = b
                new += 1
            elif deterred_below > hazard:
                steps.deter(b, buyers, u, hazard, deterred_below, counters)
    # Merge the two ascending lists from the back, in place.
    i, j = places.sizes[0] - 1, new - 1
    for slot in range(places.sizes[0] + new - 1, -1, -1):
        if j < 0:
            break
        if i >= 0 and places.active[i] > places.scratch[j]:
            places.active[slot], i = places.active[i], i - 1
        else:
            places.active[slot], j = places.scratch[j], j - 1
    places.sizes[0] += new
    return new


@kernel
def take(index, buyers, prior, status, stage, satisfaction, reactance, trust):
    """Buyers `index`'s state into the given arrays; trust T_l per layer (3, m)."""
    for i in range(index.size):
        b = index[i]
        status[i], stage[i] = buyers.status[b], buyers.stage[b]
        satisfaction[i], reactance[i] = buyers.satisfaction[b], buyers.reactance[b]
        for layer in range(3):
            trust[layer, i] = steps.layer_trust(buyers, b, layer, prior)


@numba.njit(cache=True, nogil=True)
def settle_leavers(places, gone, buyers, p, counters, left):
    """The buyers who left this step (`places.scratch[:gone]`) into the tally's totals."""
    status, stage, satisfaction, reactance, trust = left
    take(places.scratch[:gone], buyers, p.trust.prior_weight, status, stage, satisfaction,
         reactance, trust)  # fmt: skip
    trust_sum = (
        rules.total(trust[0, :gone]),
        rules.total(trust[1, :gone]),
        rules.total(trust[2, :gone]),
    )
    tally.settle(
        counters, status[:gone] == codes.FINISHED, satisfaction[:gone], reactance[:gone],
        trust_sum, stage[:gone],
    )  # fmt: skip


@numba.njit(cache=True, nogil=True)
def leap(draws, t0, buyers, record, stages, p, counters, places, left, market, arrived, own):
    """Whole steps t0, t0 + 1, ..., one per (5, buyers) block of `draws`, as `Engine.step`.

    `places` holds the active buyers (`active[:sizes[0]]`), this step's acting buyers
    (`acting[:sizes[1]]`) and room for leavers and arrivals; `left` room for the
    leavers' values; `market` the word of mouth (`talk`, `rates`) and what new leads'
    base rates start from. The buyers who became leads go to `arrived` (the buyers,
    then how many per step); returns how many did in all. Without `own` arrivals the
    steps end before word of mouth and arrivals (the caller brings another run's).
    """
    talk, rates, base_rate, affordance = market
    log, per_step = arrived
    logged = 0
    for j in range(draws.shape[0]):
        u, t = draws[j], t0 + j
        if p.repeat.rate != 0.0:  # nobody buys again: skip the scan of the market
            buy_again(buyers, u, p, counters)
        n = begin(places, record, buyers, stages, t)
        act(places.acting[:n], buyers, record, u, t, stages, p, counters)
        gone = part_ways(places, buyers)
        if gone:
            settle_leavers(places, gone, buyers, p, counters, left)
        if not own:
            per_step[j] = 0
            continue
        promoters = counters.counts[tally.PROMOTERS]
        detractors = counters.counts[tally.DETRACTORS]
        hazard, deterred_below, base_rates = steps.lead_flow(
            talk, promoters, detractors, buyers.status.size, base_rate, affordance, rates, p
        )
        new = arrive(
            places, buyers, u, t, hazard, deterred_below, rates[0], base_rates, p, counters
        )
        log[logged : logged + new] = places.scratch[:new]
        logged += new
        per_step[j] = new
    return logged

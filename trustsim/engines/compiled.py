"""The compiled engine: the array engine's columns, each sub-step one numba-compiled loop.

`CompiledEngine` keeps the array engine's columns, arrivals, repeat purchases and choice
records (it subclasses `ArrayEngine`) and runs each sub-step of acting buyers as a loop
over those buyers (`trustsim.engines.kernels`) that calls the model's one definition of
the sub-step, compiled with numba. A loop keeps one buyer's numbers in registers instead
of streaming ~120 numpy temporaries through memory.

numba is imported only when a compiled engine is built. Compiled code is cached on disk
(`cache=True`), in a directory keyed by the source of the model and the kernels, so an
edit to a rule (which numba's own cache check would miss: it watches only the kernels'
file) compiles afresh.
"""

from __future__ import annotations

import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np

from trustsim.engines.arrays import ArrayEngine
from trustsim.model import series
from trustsim.model.stages import StageTable
from trustsim.model.state import StepRecord, allocate_record
from trustsim.model.tally import BuyerValues

_kernels = None
compile_seconds: float | None = None  # time of the first import and compilation, if any
# What a cold compilation took on the benchmark machine (`benchmarks/run.py`), numba's
# import included: what the terminal is told to expect.
COLD_COMPILE_SECONDS = 15

# What numba is handed instead of the Python objects (module level: its cache pickles
# the types by name).
Stages = namedtuple("Stages", [f for f in StageTable.__slots__ if f != "names"])
Counters = namedtuple("Counters", "counts actions_at left_at sums thresholds")
# The active and acting buyers (`active[:sizes[0]]`, `acting[:sizes[1]]`) and room for a
# step's leavers or arrivals.
Places = namedtuple("Places", "active acting scratch sizes")


def kernels():
    """The kernels module, importing numba on first use (with a clear error without it)."""
    global _kernels
    if _kernels is None:
        try:
            import numba  # noqa: F401
        except ImportError as error:
            raise ImportError(
                'engine="compiled" needs numba, which is not installed: run '
                '`uv add numba` (or `pip install numba`), or use engine="vectorized"'
            ) from error
        from trustsim.engines import kernels as module

        _kernels = module
    return _kernels


def _type_key(value) -> tuple | type:
    """What decides numba's type of an argument, computed ~100 times faster than numba's typeof.

    An array's type is its dtype, dimensions, layout, writability and alignment; a
    (named)tuple's its class and its items' types; a number's its Python or numpy type.
    """
    if isinstance(value, np.ndarray):
        flags = value.flags
        layout = (flags.c_contiguous, flags.f_contiguous, flags.writeable, flags.aligned)
        return (value.dtype, value.ndim, *layout)
    if isinstance(value, tuple):
        return (type(value), *map(_type_key, value))
    return type(value)


_ENTRIES: dict = {}  # (kernel, type key of its arguments) -> compiled entry point


def _entry(kernel, args: tuple):
    """The compiled `kernel` for these arguments' types, callable without dispatch."""
    key = (kernel, _type_key(args))
    if key not in _ENTRIES:
        signature = tuple(kernel.typeof_pyval(a) for a in args)
        if signature not in kernel.overloads:
            kernel.compile(signature)
        _ENTRIES[key] = kernel.overloads[signature].entry_point
    return _ENTRIES[key]


class CompiledEngine(ArrayEngine):
    """Buyers as arrays; whole steps in one compiled call (`kernels.leap`).

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="compiled", steps=5)
        >>> model.run_model()
        >>> model.engine.tally.leads > 0
        True
    """

    def __init__(self, scenario, stages: StageTable, rng: np.random.Generator):
        global compile_seconds
        start = time.perf_counter()
        self.k = kernels()
        super().__init__(scenario, stages, rng)
        self.table = Stages(*(getattr(stages, name) for name in Stages._fields))
        t = self.tally
        self.counters = Counters(t.counts, t.actions_at, t.left_at, t.sums, t.thresholds)
        # Room for every buyer, allocated once: the compiled steps allocate no buyer array.
        self.record = allocate_record(self.size)
        self.places = Places(*(np.zeros(self.size, np.intp) for _ in range(3)), np.zeros(2, int))
        self.left = (
            np.empty(self.size, np.int8), np.empty(self.size, np.int16),
            np.empty(self.size), np.empty(self.size), np.empty((3, self.size)),
        )  # fmt: skip
        self._entries: dict[str, object] = {}
        self.no_rows = np.empty((0, len(series.columns(stages.names))))
        self.days_per_step = float(scenario.time.days_per_step)
        if compile_seconds is None:
            if not self._cached():
                print(
                    f"trustsim: compiling the compiled engine once, about "
                    f"{COLD_COMPILE_SECONDS} s (later runs load it from the cache)",
                    file=sys.stderr,
                    flush=True,
                )
            self.leap(np.zeros((0, 5, self.size), dtype=np.float32), 1)
            self.take(self.active)
            compile_seconds = time.perf_counter() - start

    def _cached(self) -> bool:
        """Whether numba's cache holds the two kernels called from Python."""
        import numba

        cache = Path(numba.config.CACHE_DIR)
        return all(any(cache.rglob(f"kernels.{name}-*.nbi")) for name in ("leap", "take"))

    def leap(
        self, draws: np.ndarray, t0: int, own: bool = True, rows: np.ndarray | None = None
    ) -> list[np.ndarray]:
        """Steps t0, t0 + 1, ... as `Engine.step`, one per (5, buyers) block of `draws`
        (without `own` arrivals: up to them), each step's measures into a row of `rows`
        if given (`trustsim.model.series.measure_row`; one row per step).

        Returns:
            the buyers who became leads, per step.
        """
        market = (self.talk, self.rates, self.base_rate, self.mean_affordance)
        arrived = (np.empty(self.size, np.intp), np.empty(len(draws), np.int64))
        if rows is None:
            rows = self.no_rows
        args = (
            draws, t0, self.buyers, self.record, self.table, self.numbers, self.counters,
            self.places, self.left, market, arrived, own, (rows, self.days_per_step),
        )  # fmt: skip
        self._call("leap", self.k.leap, args)
        active, acting = self.places.sizes
        self.active, self.acting = self.places.active[:active], self.places.acting[:acting]
        log, per_step = arrived
        ends = np.cumsum(per_step).tolist()
        return [log[start:end] for start, end in zip([0, *ends][:-1], ends, strict=True)]

    def step(self, u: np.ndarray, t: int, recorded=None, spared=None) -> np.ndarray:
        """One step, as `Engine.step`; another run's `recorded` arrivals come in through
        the array engine's `arrive_leads` (`steps.arrive_as_recorded` is numpy only)."""
        if recorded is None:
            return self.leap(u[np.newaxis], t)[0]
        self.leap(u[np.newaxis], t, own=False)
        new = self.arrive_leads(u, t, recorded, spared)
        n = len(self.active)
        self.places.active[:n], self.places.sizes[0] = self.active, n
        self.active = self.places.active[:n]
        return new

    def step_record(self) -> StepRecord:
        """This step's record (a copy: the next step writes over the engine's)."""
        return StepRecord(*(column[: len(self.acting)].copy() for column in self.record))

    def _call(self, name: str, kernel, args: tuple):
        """Call `kernel` with `args`, finding its compiled version once per engine.

        numba's dispatcher works out the types of every argument on each call (about 40
        arrays in namedtuples: ~25 µs, more than a small step). The types are fixed for an
        engine's lifetime (each column keeps its dtype; every index and draw is a fresh
        contiguous array), so they are looked up on the first call.
        """
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entries[name] = _entry(kernel, args)
        return entry(*args)

    def take(self, index: np.ndarray) -> BuyerValues:
        """The state of buyers `index` as arrays, gathered in one compiled pass."""
        m = len(index)
        status, stage = np.empty(m, np.int8), np.empty(m, np.int16)
        satisfaction, reactance, trust = np.empty(m), np.empty(m), np.empty((3, m))
        args = (
            np.ascontiguousarray(index, dtype=np.intp), self.buyers,
            self.numbers.trust.prior_weight, status, stage, satisfaction, reactance, trust,
        )  # fmt: skip
        self._call("take", self.k.take, args)
        # numpy sums each layer's contiguous row, as the array engine does: same bits.
        trust_sum = (float(trust[0].sum()), float(trust[1].sum()), float(trust[2].sum()))
        return BuyerValues(status, stage, satisfaction, reactance, trust_sum)

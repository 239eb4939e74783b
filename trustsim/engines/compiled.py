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
from trustsim.model.stages import StageTable
from trustsim.model.tally import BuyerValues

_kernels = None
compile_seconds: float | None = None  # time of the first import and compilation, if any
# What a cold compilation took on the benchmark machine (`benchmarks/run.py`), numba's
# import included: what the terminal is told to expect.
COLD_COMPILE_SECONDS = 5

# What numba is handed instead of the Python objects (module level: its cache pickles
# the types by name).
Stages = namedtuple("Stages", [f for f in StageTable.__slots__ if f != "names"])
Counters = namedtuple("Counters", "counts actions_at")


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
    """Buyers as arrays; each sub-step a compiled loop over the acting buyers.

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
        self.counters = Counters(self.tally.counts, self.tally.actions_at)
        self._entries: dict[str, object] = {}
        if compile_seconds is None:
            if not self._cached():
                print(
                    f"trustsim: compiling the compiled engine once, about "
                    f"{COLD_COMPILE_SECONDS} s (later runs load it from the cache)",
                    file=sys.stderr,
                    flush=True,
                )
            self._warm_up()
            compile_seconds = time.perf_counter() - start

    def _cached(self) -> bool:
        """Whether numba's cache holds every kernel (else this process compiles them)."""
        import numba

        # One compiled file per kernel: the loops' and `take`'s.
        compiled = list(Path(numba.config.CACHE_DIR).rglob("kernels.*.nbc"))
        return len(compiled) > len(self.k.LOOPS)

    def _warm_up(self) -> None:
        """Compile (or load from the cache) every kernel on an empty step, once per process."""
        u = np.zeros((5, 1), dtype=np.float32)
        self.begin_step()
        for name in self.k.LOOPS:
            getattr(self, name)(u, 0)
        self.take(self.acting)

    def each_acting(self, step, u: np.ndarray, t: int) -> None:
        args = (
            self.acting,
            self.buyers,
            self.record,
            u,
            t,
            self.table,
            self.numbers,
            self.counters,
        )
        self._call(step.__name__, self.k.LOOPS[step.__name__], args)

    def _call(self, name: str, kernel, args: tuple) -> None:
        """Call `kernel` with `args`, finding its compiled version once per engine.

        numba's dispatcher works out the types of every argument on each call (about 20
        arrays in namedtuples: ~25 µs, several times the work of a small step). The types
        are fixed for an engine's lifetime (each column keeps its dtype; every index, draw
        and record is a fresh contiguous array), so they are looked up on the first call.
        """
        entry = self._entries.get(name)
        if entry is None:
            entry = self._entries[name] = _entry(kernel, args)
        entry(*args)

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

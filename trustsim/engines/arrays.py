"""The array engine: buyers as a struct of numpy columns, each sub-step run once per block.

Every potential buyer of the market has a slot from the start (status POTENTIAL); a
step works on the index of active buyers, passing whole blocks of them to the sub-steps
of `trustsim.model.steps`, which are elementwise over buyers.
"""

from __future__ import annotations

import numpy as np

from trustsim.engines.base import Engine
from trustsim.model import steps
from trustsim.model.state import StepRecord, Traits, allocate_buyers, allocate_record

# Buyers per block. Sub-steps work block by block so that a block's inputs and
# temporaries stay in the CPU cache instead of streaming arrays of the whole market
# through memory once per operation; blocks change no value (rules are elementwise).
BLOCK = 16_384


class ArrayEngine(Engine):
    """Buyers as numpy columns (`self.buyers`, built from `trustsim.model.state`).

    Draws are read as `u[ROW][index]`: a row view, then a 1-D gather, about twice as fast
    as numpy's mixed indexing `u[ROW, index]`.
    """

    def store(self, traits: Traits) -> None:
        self.buyers = allocate_buyers(self.size, traits)
        self.record: StepRecord | None = None

    def gather(self, name: str, index: np.ndarray | None = None, layer: int | None = None):
        """Column `name` (one `layer` of a per-layer column) of buyers `index` (all: None)."""
        column = getattr(self.buyers, name)
        if layer is not None:
            column = column[layer]
        if index is None:
            return column
        # `take` along the last axis is several times faster than `column[:, index]`,
        # whose result is also F-ordered, which slows every operation on it.
        return column.take(index, axis=-1)

    def begin_step(self, t: int) -> None:
        """The active buyers whose visit ends act; their stages go into a fresh record."""
        self.record = None  # free the last step's record first (peak memory)
        ends = steps.visit_ends(self.active, self.buyers, self.stages, t)
        self.acting = self.active if ends.all() else self.active[ends]
        self.record = allocate_record(len(self.acting))
        self.record.stage[:] = self.buyers.stage[self.acting]

    def each_acting(self, step, u: np.ndarray, t: int) -> None:
        for start in range(0, len(self.acting), BLOCK):
            part = slice(start, start + BLOCK)
            # Stages as intp: indexing the stage tables with intp is faster than with int16.
            b, k = self.acting[part], self.record.stage[part].astype(np.intp)
            step(part, b, k, self.buyers, self.record, u, t, self.stages, self.numbers, self.tally)

    def apply(self, function, index: np.ndarray, u: np.ndarray, *args) -> None:
        function(index, self.buyers, u, *args)

    def step_record(self) -> StepRecord:
        return self.record

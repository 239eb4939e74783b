"""The per-agent engine: every buyer a Mesa agent that runs the sub-steps on its own values.

It is the readable reference for the array engines and gives the same per-step results:
buyers get their traits from the same `draw_traits` call, each `Buyer` holds its own
columns of length one (`trustsim.model.state`), and each of its sub-steps runs the
model's one definition (`trustsim.model.steps`) on them, reading buyer i's column of
each step's uniform draws. Each sub-step runs for every buyer acting this step before
the next starts (synchronous update). The measures read the engine's state as arrays,
gathered from the agents on demand, which is slow but keeps one measure code.
"""

from __future__ import annotations

import mesa
import numpy as np

from trustsim.engines.base import Engine
from trustsim.model import steps
from trustsim.model.codes import STATUSES
from trustsim.model.state import (
    BUYER_STATE,
    STEP_RECORD,
    StepRecord,
    Traits,
    allocate_buyers,
    allocate_record,
)


class Buyer(mesa.Agent):
    """A potential buyer who may become a lead, then trusts, delegates, verifies or leaves.

    Its state is the model's buyer table (`trustsim.model.state.BUYER_STATE`) with one
    slot, `self.state`; every column reads as an attribute (`buyer.satisfaction`). Values
    keep the numpy types of the array engine's columns, so each rule rounds exactly as
    it does over arrays.

    Args:
        model: the Mesa model.
        index: the buyer's slot; it reads column `index` of each step's draws.
        traits: this buyer's traits (`Traits` of length-one arrays).
        engine: the engine whose stages, parameters and tally it uses.

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="agents", steps=3)
        >>> model.engine.buyers[0].status_name
        'potential'
    """

    def __init__(self, model, index: int, traits: Traits, engine: AgentsEngine):
        super().__init__(model)
        self.index = index
        self.engine = engine
        self.state = allocate_buyers(1, traits)
        self.record = allocate_record(1)  # this step's choice and outcome

    @property
    def status_name(self) -> str:
        return STATUSES[self.status]

    def acts(self, t: int) -> bool:
        """In the journey, and its stage visit ends in step `t`."""
        return bool(steps.is_acting(self.status)) and bool(
            steps.visit_ends(0, self.state, self.engine.stages, t)
        )

    def face_stage(self) -> None:
        """Start a step at the current stage."""
        self.record.stage[0] = self.state.stage[0]

    def step(self, draws: np.ndarray, t: int) -> None:
        """All of one step's sub-steps for this buyer, in `STEP_ORDER`.

        Buyers do not affect each other within a step, so running each buyer's whole
        step in turn equals running each sub-step for all buyers (synchronous update),
        which is what the per-agent engine does.

        Args:
            draws: this buyer's column of the step's uniform draws (5 values).
            t: the step number.
        """
        draws = draws.reshape(-1, 1)  # the sub-steps read draws[row][0]
        self.repeat_purchases(draws, t)
        if self.acts(t):
            self.face_stage()
            for step in steps.ACTING_STEPS:
                getattr(self, step.__name__)(draws, t)

    def repeat_purchases(self, draws: np.ndarray, t: int) -> None:
        """A finished, loyal customer buys again (`steps.repeat_purchases`)."""
        e = self.engine
        if steps.may_buy_again(self.status, self.churned):
            steps.repeat_purchases(0, self.state, draws, e.numbers, e.tally)


def _sub_step(step) -> callable:
    """The Buyer method that runs `step` on this buyer (b = i = 0 of its own columns).

    The method takes the buyer's column of the step's draws as shape (5, 1).
    """

    def run(self: Buyer, draws: np.ndarray, t: int) -> None:
        e = self.engine
        k = self.record.stage[0]
        step(0, 0, k, self.state, self.record, draws, t, e.stages, e.numbers, e.tally)

    run.__name__, run.__doc__ = step.__name__, step.__doc__
    return run


def _attribute(name: str, per_layer: bool, description: str) -> property:
    def read(self: Buyer):
        column = getattr(self.state, name)
        return column[:, 0] if per_layer else column[0]

    return property(read, doc=description)


for _step in steps.ACTING_STEPS:
    setattr(Buyer, _step.__name__, _sub_step(_step))
for _column in BUYER_STATE:
    setattr(Buyer, _column.name, _attribute(_column.name, _column.per_layer, _column.description))


class AgentsEngine(Engine):
    """Buyers as `Buyer` agents of `model`; the same interface as the array engine.

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="agents", steps=5)
        >>> model.run_model()
        >>> len(model.engine.buyers) == model.spec.market.size
        True
    """

    def __init__(self, scenario, stages, rng, model):
        self.model = model
        super().__init__(scenario, stages, rng)

    def store(self, traits: Traits) -> None:
        self.buyers = [
            Buyer(self.model, i, Traits(*(trait[i : i + 1].copy() for trait in traits)), self)
            for i in range(self.size)
        ]

    def gather(self, name: str, index: np.ndarray | None = None, layer: int | None = None):
        """Column `name` (one `layer` of a per-layer column) of buyers `index` (all: None)."""
        chosen = self.buyers if index is None else [self.buyers[i] for i in index]
        values = [getattr(buyer.state, name) for buyer in chosen]
        if layer is not None:
            values = [value[layer] for value in values]
        if not values:
            empty = next(c for c in BUYER_STATE if c.name == name).empty(0)
            return empty if layer is None else empty[layer]
        return np.concatenate(values, axis=-1)

    def begin_step(self, t: int) -> None:
        """The active buyers whose stage visit ends act, each at its current stage."""
        self.acting = np.array([i for i in self.active if self.buyers[i].acts(t)], dtype=np.intp)
        for i in self.acting:
            self.buyers[i].face_stage()

    def each_acting(self, step, u: np.ndarray, t: int) -> None:
        for i in self.acting:
            getattr(self.buyers[i], step.__name__)(u[:, i : i + 1], t)

    def apply(self, function, index: np.ndarray, u: np.ndarray, *args) -> None:
        for i in index:
            function(0, self.buyers[i].state, u[:, i : i + 1], *args)

    def step_record(self) -> StepRecord:
        records = [self.buyers[i].record for i in self.acting]
        if not records:
            return allocate_record(0)
        return StepRecord(
            *(np.concatenate([getattr(r, c.name) for r in records]) for c in STEP_RECORD)
        )

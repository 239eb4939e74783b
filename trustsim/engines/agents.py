"""The per-agent engine: every buyer a Mesa agent that owns its state.

Buyers get their traits from the same `draw_traits` call as in the array engine, and
each `Buyer` keeps its own columns of length one (`trustsim.model.state`), which read
as its attributes. A step visits the agents that take part (the acting buyers, the
loyal customers, the potential buyers) as a group: it gathers their columns into
arrays, runs the model's sub-step (`trustsim.model.steps`) once over them, each
sub-step for every acting buyer before the next starts (synchronous update), and hands
every agent its new values back. `Buyer.step` runs one buyer's whole step on its own
columns instead; both give the same results (`tests/test_engines.py`).
"""

from __future__ import annotations

import mesa
import numpy as np

from trustsim.engines.base import Engine
from trustsim.model import steps
from trustsim.model.codes import STATUSES
from trustsim.model.state import (
    BUYER_STATE,
    Buyers,
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
        state: this buyer's own columns (`Buyers` of length one, traits included).

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="agents", steps=3)
        >>> model.engine.buyers[0].status_name
        'potential'
    """

    def __init__(self, model, index: int, state: Buyers):
        super().__init__(model)
        self.index = index
        self.state = state

    @property
    def status_name(self) -> str:
        return STATUSES[self.status]

    def step(self, draws: np.ndarray, t: int) -> None:
        """All of one step's sub-steps for this buyer alone, in `STEP_ORDER` (the acting
        ones if it is in the journey and its stage visit ends in step `t`).

        Buyers do not affect each other within a step, so running each buyer's whole
        step in turn equals running each sub-step for all buyers (synchronous update),
        which is what the engine does.

        Args:
            draws: this buyer's column of the step's uniform draws (5 values).
            t: the step number.
        """
        e, me = self.model.engine, self.state  # the engine's stages, numbers and tally
        draws = draws.reshape(-1, 1)  # the sub-steps read draws[row][0]
        if steps.may_buy_again(self.status, self.churned):
            steps.repeat_purchases(0, me, draws, e.numbers, e.tally)
        if steps.is_acting(self.status) and steps.visit_ends(0, me, e.stages, t):
            record = allocate_record(1)  # this step's choice and outcome
            record.stage[0] = k = self.stage
            for step in steps.ACTING_STEPS:
                step(0, 0, k, me, record, draws, t, e.stages, e.numbers, e.tally)


def _attribute(column) -> property:
    def read(self: Buyer):
        value = getattr(self.state, column.name)
        return value[:, 0] if column.per_layer else value[0]

    return property(read, doc=column.description)


for _column in BUYER_STATE:
    setattr(Buyer, _column.name, _attribute(_column))


class Gathered:
    """Some agents' columns as arrays, each gathered from the agents when first read.

    A sub-step reads and writes it as it does the array engine's columns
    (`buyers.status[b]`, `buyers.traits.reactance[b]`); `hand_back` then writes every
    column read into the agents' own arrays. Traits are fixed at set-up: never written.

    Args:
        states: the agents' own columns (`Buyers` or `Traits` of length one), in order.
        nobody: the same columns for no buyer (what an empty group reads).
    """

    def __init__(self, states: list, nobody: tuple):
        self._states, self._nobody = states, nobody
        self._parts: dict[str, tuple[list, np.ndarray]] = {}

    def __getattr__(self, name: str):  # a column not read yet
        if name.startswith("_"):
            raise AttributeError(name)  # not a column (and `_states` before it is set)
        if name == "traits":
            value = Gathered([state.traits for state in self._states], self._nobody.traits)
        else:
            parts = [getattr(state, name) for state in self._states]
            value = np.concatenate(parts, axis=-1) if parts else getattr(self._nobody, name)
            self._parts[name] = (parts, value)
        setattr(self, name, value)  # later reads find it without __getattr__
        return value

    def hand_back(self) -> None:
        """Each agent takes its values of every gathered column (bit for bit: `tolist`
        gives Python numbers that convert back to the column's dtype unchanged)."""
        for parts, column in self._parts.values():
            if parts:
                for layer, values in enumerate(column.reshape(-1, len(parts))):
                    slot = (layer, 0) if column.ndim == 2 else 0
                    for part, value in zip(parts, values.tolist(), strict=True):
                        part[slot] = value


def _slots(columns: tuple, part: slice) -> tuple:
    """A copy of buyers `part` of `columns` (namedtuples in namedtuples)."""
    return type(columns)(*(
        _slots(c, part) if isinstance(c, tuple) else c[..., part].copy() for c in columns
    ))  # fmt: skip


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
        market = allocate_buyers(self.size, traits)  # each agent takes a copy of its slot
        self.buyers = [
            Buyer(self.model, i, _slots(market, slice(i, i + 1))) for i in range(self.size)
        ]
        self.states = [buyer.state for buyer in self.buyers]
        self.nobody = _slots(market, slice(0, 0))

    def group(self, index: np.ndarray | None) -> Gathered:
        """The columns of buyers `index` (all: None), gathered as a step reads them."""
        states = self.states if index is None else [self.states[i] for i in index.tolist()]
        return Gathered(states, self.nobody)

    def gather(self, name: str, index: np.ndarray | None = None, layer: int | None = None):
        """Column `name` (one `layer` of a per-layer column) of buyers `index` (all: None)."""
        column = getattr(self.group(index), name)
        return column if layer is None else column[layer]

    def begin_step(self, t: int) -> None:
        """The active buyers whose stage visit ends act, each at its current stage."""
        active = self.group(self.active)
        ends = steps.visit_ends(np.arange(len(self.active)), active, self.stages, t)
        every = ends.all()  # the common case: the active buyers' group is the acting one
        self.acting = self.active if every else self.active[ends]
        self.block = active if every else self.group(self.acting)
        self.record = allocate_record(len(self.acting))
        self.record.stage[:] = self.block.stage

    def each_acting(self, step, u: np.ndarray, t: int) -> None:
        rows, k = np.arange(len(self.acting)), self.record.stage.astype(np.intp)
        u = u.take(self.acting, axis=1)
        step(rows, rows, k, self.block, self.record, u, t, self.stages, self.numbers, self.tally)

    def end_acting(self) -> None:
        self.block.hand_back()

    def apply(self, function, index: np.ndarray, u: np.ndarray, *args) -> None:
        group = self.group(index)
        function(np.arange(len(index)), group, u.take(index, axis=1), *args)
        group.hand_back()

    def step_record(self) -> StepRecord:
        return self.record

    def step_in_turn(self, u: np.ndarray, t: int, recorded=None, spared=None) -> np.ndarray:
        """`Engine.step` read agent by agent: each buyer's whole `Buyer.step` in turn.

        The same results as `step` (buyers do not affect each other within a step), at
        the cost of a Python pass through every sub-step per buyer: the per-agent
        reference the benchmarks hold the array engines against.
        """
        self.begin_step(t)  # who acts this step, fixed before anyone moves
        for buyer in self.buyers:
            buyer.step(u[:, buyer.index], t)
        self.settle_leavers()  # those who left go to the tally, as `step` does
        return self.arrive_leads(u, t, recorded, spared)

"""A buyer's state and a step's record, each declared once.

Every engine builds its storage from these tables: the array engines allocate one column
per entry over the whole market (`allocate_buyers(size, ...)`), the per-agent engine gives
each `Buyer` agent its own columns of length one (`allocate_buyers(1, ...)`) and exposes
them as the agent's attributes, and the compiled engine passes the same columns to numba.
The sub-steps (`trustsim.model.steps`) read and write them by name.
"""

from __future__ import annotations

from collections import namedtuple
from dataclasses import dataclass

import numpy as np

from trustsim.model.codes import POTENTIAL
from trustsim.scenarios.schema import TRAITS


@dataclass(frozen=True, slots=True)
class Column:
    """One variable: its name, numpy dtype, initial value and meaning.

    A per-layer column holds one row per trust layer: shape (3, buyers).
    """

    name: str
    dtype: type
    initial: float | int | bool
    description: str
    per_layer: bool = False

    def allocate(self, size: int) -> np.ndarray:
        shape = (3, size) if self.per_layer else (size,)
        return np.full(shape, self.initial, dtype=self.dtype)

    def empty(self, size: int) -> np.ndarray:
        """Room for `size` values, to be written before they are read."""
        return np.empty((3, size) if self.per_layer else size, dtype=self.dtype)


BUYER_STATE = (
    Column("status", np.int8, POTENTIAL, "one of trustsim.model.codes.STATUSES"),
    Column("stage", np.int16, 0, "the stage the buyer faces (the last one once finished)"),
    Column("waited", np.int32, 0, "visits to the current stage that did not complete it"),
    Column("visit_start", np.int32, -1, "step the current stage visit began (-1: no visit)"),
    Column("good", np.float64, 0.0, "r_l, positive evidence per trust layer", per_layer=True),
    Column("bad", np.float64, 0.0, "s_l, negative evidence per trust layer", per_layer=True),
    Column("base_rate", np.float64, 0.0, "a_l, prior per layer, fixed at arrival", per_layer=True),
    Column("satisfaction", np.float64, 0.0, "S, running judgement of the relationship"),
    Column("reactance", np.float64, 0.0, "R, accumulated reactance"),
    Column("arrived", np.int32, -1, "step the buyer became a lead (-1: not yet)"),
    Column("closed", np.int32, -1, "step the deal closed (-1: not closed)"),
    Column("from_word_of_mouth", np.bool_, False, "arrival attributed to word of mouth"),
    Column("churned", np.bool_, False, "left after purchase"),
    Column("repeats", np.int32, 0, "repeat purchases"),
    Column("delegations", np.int16, 0, "steps delegated"),
    Column("verifications", np.int16, 0, "steps verified"),
    Column("incidents", np.int16, 0, "uncaught failures suffered"),
)

# What one step records per acting buyer, for the later sub-steps and the choice log.
STEP_RECORD = (
    Column("stage", np.int16, 0, "the stage faced this step"),
    Column("trust", np.float64, 0.0, "T_k, stage-weighted trust before the step"),
    Column("risk", np.float64, 0.0, "PR, perceived risk"),
    Column("detect", np.float64, 0.0, "q, chance that a check catches an error"),
    Column("effort", np.float64, 0.0, "cost of checking"),
    Column("p_delegate", np.float64, 0.0, "chance to delegate"),
    Column("p_verify", np.float64, 0.0, "chance to verify"),
    Column("action", np.int8, 0, "DELEGATE, VERIFY or ABANDON"),
    Column("success", np.bool_, False, "the service did the step right"),
    Column("caught", np.bool_, False, "the service failed and the buyer's check caught it"),
    Column("incident", np.bool_, False, "the service failed unnoticed"),
    Column("collapsed", np.bool_, False, "the incident ended the deal"),
    Column("completed", np.bool_, False, "the step is done and the buyer moves on"),
)

# Traits keep their scenario names (`segments.<name>.<trait>`); float64, fixed at set-up.
Traits = namedtuple("Traits", TRAITS)
Buyers = namedtuple("Buyers", [c.name for c in BUYER_STATE] + ["traits"])
StepRecord = namedtuple("StepRecord", [c.name for c in STEP_RECORD])


def allocate_buyers(size: int, traits: Traits) -> Buyers:
    """Every buyer variable at its initial value for `size` buyers, with their traits."""
    return Buyers(*(column.allocate(size) for column in BUYER_STATE), traits)


def allocate_record(size: int) -> StepRecord:
    """Room for one step's record of `size` acting buyers (every sub-step fills its part)."""
    return StepRecord(*(column.empty(size) for column in STEP_RECORD))

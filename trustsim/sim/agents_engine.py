"""The per-agent engine: every buyer a Mesa agent, the service and market plain objects.

It is the readable reference for the array engine (`trustsim.sim.vectorized`) and gives
the same per-step results: buyers get their traits from the same `draw_traits` call and
buyer i reads column i of each step's uniform draws. Each sub-step of
`TrustModel.STEP_ORDER` runs for every buyer acting this step before the next sub-step
starts (synchronous update). The measures read the engine's state as arrays; here those
arrays are gathered from the agents on demand, which is slow but keeps one measure code.
"""

from __future__ import annotations

import numpy as np

from trustsim.agents.buyer import Buyer
from trustsim.agents.service import Market, Service
from trustsim.scenarios.schema import LAYERS, Scenario
from trustsim.sim.params import StageTable, draw_traits
from trustsim.sim.tally import BuyerValues, Tally
from trustsim.sim.vectorized import FINISHED


def _gathered(name: str, dtype) -> property:
    """A read-only array of one buyer attribute over all buyers, in the array engine's dtype."""

    def gather(self) -> np.ndarray:
        return np.array([getattr(b, name) for b in self.buyers], dtype=dtype)

    return property(gather, doc=f"`{name}` of every buyer, as an array.")


def _gathered_layers(name: str) -> property:
    """A (3, buyers) array of one per-layer buyer attribute (trust evidence, base rates)."""

    def gather(self) -> np.ndarray:
        return np.stack([getattr(b, name) for b in self.buyers], axis=1)

    return property(gather, doc=f"`{name}` per trust layer of every buyer, shape (3, n).")


class AgentsEngine:
    """Buyers as `Buyer` agents of `model`; the same interface as `VectorizedEngine`.

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="agents", steps=5)
        >>> model.run_model()
        >>> len(model.engine.buyers) == model.spec.market.size
        True
    """

    def __init__(self, scenario: Scenario, stages: StageTable, rng: np.random.Generator, model):
        self.scenario = scenario
        self.stages = stages
        self.size = scenario.market.size
        self.service = Service(scenario, stages)
        self.segment, traits = draw_traits(scenario, self.size, rng)
        self.buyers = [
            Buyer(model, i, {name: values[i] for name, values in traits.items()}, self.service)
            for i in range(self.size)
        ]
        self.market = Market(self.buyers)
        self.acting: list[Buyer] = []

    # ----------------------------------------------------------------- sub-steps
    def _each_acting(self, name: str, u: np.ndarray, t: int) -> None:
        for buyer in self.acting:
            getattr(buyer, name)(u[:, buyer.index], t)

    def feel_pressure(self, u: np.ndarray, t: int) -> None:
        """Fix who acts this step (active and post-purchase buyers), then they feel it."""
        self.acting = [b for b in self.buyers if b.is_acting]
        self._each_acting("feel_pressure", u, t)

    def decide(self, u: np.ndarray, t: int) -> None:
        self._each_acting("decide", u, t)

    def resolve_outcomes(self, u: np.ndarray, t: int) -> None:
        self._each_acting("resolve_outcomes", u, t)

    def update_trust(self, u: np.ndarray, t: int) -> None:
        self._each_acting("update_trust", u, t)

    def update_satisfaction(self, u: np.ndarray, t: int) -> None:
        self._each_acting("update_satisfaction", u, t)

    def advance_journeys(self, u: np.ndarray, t: int) -> None:
        self._each_acting("advance_journeys", u, t)
        self._settle_leavers()

    def _settle_leavers(self) -> None:
        """Add the buyers who left since the last settling to the tally, in buyer order.

        One step's leavers at a time, in the array engine's order, so the frozen sums
        round identically.
        """
        service = self.service
        if service.leavers:
            index = np.array(sorted(b.index for b in service.leavers), dtype=np.intp)
            service.leavers = []
            self.take(index).settle_into(service.tally, FINISHED)

    @property
    def tally(self) -> Tally:
        """The running totals of `trustsim.sim.tally`, with every leaver settled."""
        self._settle_leavers()
        return self.service.tally

    @property
    def active(self) -> np.ndarray:
        """Buyers active or after purchase, ascending (those who act next step)."""
        return np.array([b.index for b in self.buyers if b.is_acting], dtype=np.intp)

    def take(self, index: np.ndarray) -> BuyerValues:
        """The state of buyers `index` as arrays in the array engine's dtypes."""
        chosen = [self.buyers[i] for i in index]

        def column(name, dtype):
            return np.array([getattr(b, name) for b in chosen], dtype=dtype)

        trust = np.array([b.layer_trust() for b in chosen], dtype=np.float64).reshape(-1, 3)
        return BuyerValues(
            column("status", np.int8), column("stage", np.int16),
            column("satisfaction", np.float64), column("reactance", np.float64),
            tuple(float(trust[:, layer].copy().sum()) for layer in range(3)),
        )  # fmt: skip

    def repeat_purchases(self, u: np.ndarray, t: int) -> None:
        for buyer in self.buyers:
            buyer.repeat_purchases(u[:, buyer.index], t)

    def arrive_leads(
        self, u: np.ndarray, t: int, hazard: float, outside: float, base_rates: np.ndarray
    ) -> np.ndarray:
        """Potential buyers become leads with the market's hazard; they act from next step."""
        arrived = [
            b.index for b in self.buyers if b.arrive(u[:, b.index], t, hazard, outside, base_rates)
        ]
        wom = sum(self.buyers[i].from_word_of_mouth for i in arrived)
        self.service.tally.arrive(len(arrived), wom)
        return np.array(arrived, dtype=np.int64)

    def word_of_mouth(self) -> tuple[int, int]:
        mk = self.scenario.market
        return self.market.word_of_mouth(mk.promoter_threshold, mk.detractor_threshold)

    def choice_record(self, t: int) -> dict[str, np.ndarray]:
        """This step's choices and outcomes, one entry per acting buyer (for logs and traces)."""
        acting, n = self.acting, len(self.acting)

        def column(key, dtype):
            return np.array([b.last[key] for b in acting], dtype=dtype).reshape(n)

        stage = column("stage", np.int16)
        record = {
            "step": np.full(n, t, dtype=np.int32),
            "buyer": np.array([b.index for b in acting], dtype=np.int64),
            "stage": stage,
            "stake": self.stages.stake[stage],
            "trust": column("trust", np.float64),
            "perceived_risk": column("risk", np.float64),
            "p_delegate": column("p_delegate", np.float64),
            "p_verify": column("p_verify", np.float64),
            "action": column("action", np.int8),
            "outcome": column("outcome", np.int8),
            "satisfaction": np.array([b.satisfaction for b in acting], dtype=np.float64),
            "reactance": np.array([b.reactance for b in acting], dtype=np.float64),
            "status": np.array([b.status for b in acting], dtype=np.int8),
        }
        per_layer = np.array([b.layer_trust() for b in acting], dtype=np.float64).reshape(n, 3)
        for layer, name in enumerate(LAYERS):
            record[f"trust_{name}"] = per_layer[:, layer]
        return record

    # ------------------------------------------------- state gathered as arrays
    status = _gathered("status", np.int8)
    stage = _gathered("stage", np.int16)
    waited = _gathered("waited", np.int32)
    satisfaction = _gathered("satisfaction", np.float64)
    reactance = _gathered("reactance", np.float64)
    arrived = _gathered("arrived", np.int32)
    closed = _gathered("closed", np.int32)
    from_word_of_mouth = _gathered("from_word_of_mouth", bool)
    churned = _gathered("churned", bool)
    repeats = _gathered("repeats", np.int32)
    delegations = _gathered("delegations", np.int16)
    verifications = _gathered("verifications", np.int16)
    incidents = _gathered("incidents", np.int16)
    good = _gathered_layers("good")
    bad = _gathered_layers("bad")
    base_rate = _gathered_layers("base_rate")

    @property
    def choices_at(self) -> np.ndarray:
        return self.service.choices_at

    @property
    def delegations_at(self) -> np.ndarray:
        return self.service.delegations_at

    @property
    def verifications_at(self) -> np.ndarray:
        return self.service.verifications_at

    @property
    def abandoned_at(self) -> np.ndarray:
        return self.service.abandoned_at

    @property
    def caught_total(self) -> int:
        return self.service.caught_total

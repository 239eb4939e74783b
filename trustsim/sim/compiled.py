"""The compiled engine: the array engine's state, each sub-step one numba-compiled loop.

`CompiledEngine` keeps the array engine's arrays, arrivals, repeat purchases, tallies
and choice records (it subclasses `VectorizedEngine`) and replaces the six sub-steps of
acting buyers by loops over those buyers (`trustsim.sim.kernels`) that call the same
rule functions of `trustsim.agents.rules`, compiled with numba. A loop keeps one buyer's
numbers in registers instead of streaming ~120 numpy temporaries through memory.

numba is imported only when a compiled engine is built. Compiled code is cached on disk
(`cache=True`), in a directory keyed by the source of the rules and kernels, so an edit
to `rules.py` (which numba's own cache check would miss: it watches only the kernels'
file) compiles afresh.
"""

from __future__ import annotations

import time
from collections import namedtuple

import numpy as np

from trustsim.scenarios import schema
from trustsim.scenarios.schema import Scenario
from trustsim.sim.params import StageTable
from trustsim.sim.tally import BuyerValues
from trustsim.sim.vectorized import StepContext, VectorizedEngine

_kernels = None
compile_seconds: float | None = None  # time of the first import and compilation, if any


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
        from trustsim.sim import kernels as module

        _kernels = module
    return _kernels


def _numbers_of(section: type) -> namedtuple:
    """A namedtuple type of a scenario section's float parameters, which kernels read by name.

    Defined at module level (below) so numba's cache can pickle the types by name.
    """
    fields = [name for name, f in section.model_fields.items() if f.annotation is float]
    return namedtuple(section.__name__ + "Numbers", fields)


def _numbers(kind: type, section) -> tuple:
    return kind(*(float(getattr(section, name)) for name in kind._fields))


ChoiceNumbers = _numbers_of(schema.Choice)
TrustNumbers = _numbers_of(schema.Trust)
OutcomesNumbers = _numbers_of(schema.Outcomes)
ReactanceNumbers = _numbers_of(schema.Reactance)
SatisfactionNumbers = _numbers_of(schema.Satisfaction)
_BUYER_FIELDS = (
    "status", "stage", "waited", "good", "bad", "base_rate", "satisfaction", "reactance",
    "arrived", "closed", "churned", "delegations", "verifications", "incidents",
    "risk_aversion", "control_need", "skill", "propensity", "patience",
)  # fmt: skip
Buyers = namedtuple("Buyers", _BUYER_FIELDS)
Stages = namedtuple("Stages", [f for f in StageTable.__slots__ if f not in ("names", "closing")])
Context = namedtuple("Context", [f for f in StepContext.__slots__ if f not in ("acting", "stage")])


class CompiledEngine(VectorizedEngine):
    """Buyers as arrays; each sub-step a compiled loop over the acting buyers.

    Example:
        >>> from trustsim.sim import TrustModel
        >>> model = TrustModel("real-estate", rng=1, engine="compiled", steps=5)
        >>> model.run_model()
        >>> model.engine.tally.leads > 0
        True
    """

    def __init__(self, scenario: Scenario, stages: StageTable, rng: np.random.Generator):
        global compile_seconds
        start = time.perf_counter()
        self.k = kernels()
        super().__init__(scenario, stages, rng)
        self.buyers = Buyers(*(getattr(self, name) for name in _BUYER_FIELDS))
        self.table = Stages(*(getattr(stages, name) for name in Stages._fields))
        p = scenario
        self.choice = _numbers(ChoiceNumbers, p.choice)
        self.trust_params = _numbers(TrustNumbers, p.trust)
        self.outcome_params = _numbers(OutcomesNumbers, p.outcomes)
        self.reactance_params = _numbers(ReactanceNumbers, p.reactance)
        self.satisfaction_params = _numbers(SatisfactionNumbers, p.satisfaction)
        # Stage counts of choices, delegations, verifications and walk-aways, one array.
        self.per_stage = np.zeros((4, stages.count), dtype=np.int64)
        (
            self.choices_at, self.delegations_at, self.verifications_at, self.abandoned_at,
        ) = self.per_stage  # fmt: skip
        if compile_seconds is None:
            self._warm_up()
            compile_seconds = time.perf_counter() - start

    def _warm_up(self) -> None:
        """Compile (or load from the cache) every kernel on an empty step, once per process."""
        acting = np.empty(0, dtype=np.intp)
        saved = self.ctx
        self.ctx = StepContext.empty(acting, acting.astype(np.int16))
        u = np.zeros((5, 1), dtype=np.float32)
        for name in ("decide", "resolve_outcomes", "update_trust", "update_satisfaction"):
            getattr(self, name)(u, 0)
        self._feel(self.ctx)
        self._advance(self.ctx, 0)
        self.take(acting)
        self.per_stage[:] = 0
        self.ctx = saved

    def _context(self) -> Context:
        ctx = self.ctx
        return Context(*(getattr(ctx, name) for name in Context._fields))

    def take(self, index: np.ndarray) -> BuyerValues:
        """The state of buyers `index` as arrays, gathered in one compiled pass."""
        m = len(index)
        status, stage = np.empty(m, np.int8), np.empty(m, np.int16)
        satisfaction, reactance, trust = np.empty(m), np.empty(m), np.empty((3, m))
        self.k.take(
            np.asarray(index, dtype=np.intp), self.buyers,
            float(self.scenario.trust.prior_weight), status, stage, satisfaction, reactance,
            trust,
        )  # fmt: skip
        # numpy sums each layer's contiguous row, as the array engine does: same bits.
        trust_sum = (float(trust[0].sum()), float(trust[1].sum()), float(trust[2].sum()))
        return BuyerValues(status, stage, satisfaction, reactance, trust_sum)

    # ----------------------------------------------------------------- sub-steps
    def feel_pressure(self, u: np.ndarray, t: int) -> None:
        """Every active buyer faces the stage: its pressure and forcing build reactance."""
        self.ctx = None  # free the last step's context first (peak memory)
        self.ctx = StepContext.empty(self.active, self.stage[self.active])
        self._feel(self.ctx)

    def _feel(self, ctx: StepContext) -> None:
        self.k.feel_pressure(ctx.acting, ctx.stage, self.buyers, self.table, self.reactance_params)

    def decide(self, u: np.ndarray, t: int) -> None:
        """Perceived risk, utilities and a logit choice for every active buyer."""
        ctx, prior = self.ctx, float(self.scenario.trust.prior_weight)
        self.k.decide(
            ctx.acting, ctx.stage, self.buyers, self.table, self.choice, prior, u,
            self._context(),
        )  # fmt: skip

    def resolve_outcomes(self, u: np.ndarray, t: int) -> None:
        """The service does the step right or not; checks catch some errors."""
        ctx = self.ctx
        self.k.resolve_outcomes(
            ctx.acting, ctx.stage, self.table, self.outcome_params, u, self._context()
        )

    def update_trust(self, u: np.ndarray, t: int) -> None:
        """Evidence forgets toward the prior, then this step's evidence is added by layer."""
        ctx = self.ctx
        self.k.update_trust(
            ctx.acting, ctx.stage, self.buyers, self.table, self.trust_params, self._context()
        )

    def update_satisfaction(self, u: np.ndarray, t: int) -> None:
        """Each step's experience against expectation enters the running satisfaction."""
        ctx = self.ctx
        self.k.update_satisfaction(
            ctx.acting, ctx.stage, self.buyers, self.table, self.satisfaction_params,
            self._context(),
        )  # fmt: skip

    def advance_journeys(self, u: np.ndarray, t: int) -> None:
        """Move on, close, finish, walk away or collapse; count what happened per stage."""
        self._advance(self.ctx, t)
        self._settle_leavers(self.ctx.acting)

    def _advance(self, ctx: StepContext, t: int) -> None:
        caught, incidents, closes, close_time, churns = self.k.advance_journeys(
            ctx.acting, ctx.stage, self.buyers, self.stages.closing, t, self._context(),
            self.per_stage,
        )  # fmt: skip
        self.caught_total += caught
        tally = self.tally
        tally.incidents += incidents
        tally.closed += closes
        tally.close_time += close_time
        tally.churned += churns

"""`TrustModel`: the Mesa model whose step reads like the schedule in docs/ODD.md."""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np

from trustsim.engines import fastest_engine
from trustsim.engines.arrays import ArrayEngine
from trustsim.model import rules, steps
from trustsim.model.codes import ACTIONS, OUTCOMES, STATUSES, UNIFORM_ROWS
from trustsim.model.stages import StageTable
from trustsim.scenarios import Scenario, load_scenario
from trustsim.sim import measures

ENGINES = ("vectorized", "agents", "compiled")


class TrustModel(mesa.Model):
    """Buyers who trust, delegate, verify or walk away along a purchase journey.

    Args:
        scenario: a built-in scenario name, a path to a TOML file, or a `Scenario`.
        rng: seed or generator for Mesa's `self.rng`; everything random derives from it.
        engine: "vectorized" (buyers as arrays, numpy), "agents" (each buyer a Mesa agent;
            the slow, readable reference that gives the same results) or "compiled" (the
            array engine's sub-steps as numba loops; the same time series, the choice
            log's probabilities up to the last bits of `exp`, see docs/ENGINES.md; needs
            numba). Default: the fastest installed (`trustsim.engines.fastest_engine`).
        steps: horizon override; defaults to the scenario's `time.steps`.
        record_choices: keep every buyer's choice and outcome per step (see `choice_log`);
            off by default because it grows with buyers x steps.
        series: collect every measure at every step in `datacollector` (the time
            series). False computes the measures only when asked (`summary()`), which
            is what a sweep needs: the datacollector then holds only the set-up row.
            The summary is the same either way.
        arrivals: another run's `lead_arrivals`: its new leads arrive at the same steps
            instead of this run's own (`steps.arrive_as_recorded`; docs/ODD.md 7.13).

    Example:
        >>> model = TrustModel(scenario="real-estate", rng=1)
        >>> model.run_model()
        >>> model.datacollector.get_model_vars_dataframe()["closed_deals"].iloc[-1] >= 0
        True
    """

    # The schedule of one step, in order (`trustsim.model.steps`). Each name is a
    # method of the engine.
    STEP_ORDER = steps.STEP_ORDER

    def __init__(
        self,
        scenario: str | Path | Scenario = "real-estate",
        rng=None,
        engine: str | None = None,
        steps: int | None = None,
        record_choices: bool = False,
        series: bool = True,
        arrivals: list[np.ndarray] | None = None,
    ):
        super().__init__(rng=rng)
        engine = fastest_engine() if engine is None else engine
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
        self.spec: Scenario = (
            scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        )
        self.engine_name = engine
        self.horizon = steps if steps is not None else self.spec.time.steps
        self.stages = StageTable.from_scenario(self.spec)
        # Independent streams for set-up and for the steps, so a scenario that changes
        # the segments still sees the same per-step draws (common random numbers).
        setup_rng, self.step_rng = self.rng.spawn(2)
        if engine == "agents":
            from trustsim.engines.agents import AgentsEngine

            self.engine = AgentsEngine(self.spec, self.stages, setup_rng, self)
        elif engine == "compiled":
            from trustsim.engines.compiled import CompiledEngine

            self.engine = CompiledEngine(self.spec, self.stages, setup_rng)
        else:
            self.engine = ArrayEngine(self.spec, self.stages, setup_rng)
        self.promoters = self.detractors = 0  # stocks: every buyer who has left so far
        self.talking = (0.0, 0.0)  # promoters and detractors still talking
        self.outside, self.imitation, self.talk_kept = self.spec.word_of_mouth_per_step()
        self.new_leads = 0
        self.short_horizon_snapshot: dict[str, float] | None = None
        self.record_choices = record_choices
        self.series = series
        self.arrivals = arrivals
        self.lead_arrivals: list[np.ndarray] = []  # the buyers who became leads, per step
        self._choice_records: list[dict] = []
        self.datacollector = measures.MeasureCollector(
            model_reporters=measures.model_reporters(self)
        )
        self.datacollector.collect(self)

    def step(self) -> None:
        """One step: every active buyer acts, then the market brings new leads."""
        u = self.step_rng.random((UNIFORM_ROWS, self.engine.size), dtype=np.float32)
        for name in self.STEP_ORDER:
            getattr(self.engine, name)(u, self.steps)
        if self.record_choices:
            self._choice_records.append(self.engine.choice_record(self.steps))
        self.spread_word_of_mouth()
        self.arrive_leads(u)
        del u  # the draws are used up: free them before the measures (peak memory)
        if self.steps == min(self.spec.time.short_horizon, self.horizon):
            self.short_horizon_snapshot = measures.closing_snapshot(self)
        if self.series:
            self.datacollector.collect(self)
        if self.steps >= self.horizon:
            self.running = False

    def spread_word_of_mouth(self) -> None:
        """Promoters and detractors among buyers who have left the pipeline. Those who left
        this step start talking; each keeps talking with a half-life (a Bass-SIR recovery,
        Fibich 2017): talking <- kept * talking + newly left."""
        left, before = self.engine.word_of_mouth(), (self.promoters, self.detractors)
        self.talking = tuple(
            self.talk_kept * talking + (now - then)
            for talking, now, then in zip(self.talking, left, before, strict=True)
        )
        self.promoters, self.detractors = left

    def arrive_leads(self, u: np.ndarray) -> None:
        """New leads arrive with the Bass hazard, detractors deter others; reputation and
        affordances set the new leads' base rates."""
        (mk, tr), (promoters, detractors) = (self.spec.market, self.spec.trust), self.talking
        hazard = rules.lead_hazard(self.outside, self.imitation, promoters, mk.size)
        deterrence = rules.deterrence_hazard(
            self.imitation, mk.bad_news_weight, detractors, mk.size, hazard
        )
        rep = rules.reputation(promoters, detractors, mk.reputation_prior)
        base_rates = rules.lead_base_rates(
            tr.base_rate, rep, float(self.stages.affordance.mean()),
            tr.reputation_shift, tr.affordance_shift,
        )  # fmt: skip
        t, given = self.steps, self.arrivals
        recorded = given[t - 1] if given is not None and t <= len(given) else None
        new = self.engine.arrive_leads(u, t, hazard, deterrence, self.outside, base_rates, recorded)
        self.new_leads = len(new)
        self.lead_arrivals.append(new)

    def choice_log(self):
        """Every recorded choice as a DataFrame (needs `record_choices=True`).

        Columns: step, buyer, stage (name), stake, trust (stage-weighted, before the step),
        perceived_risk, p_delegate, p_verify, action, outcome, satisfaction and reactance
        after the step, status, and trust per layer after the step.
        """
        import pandas as pd

        if not self.record_choices:
            raise ValueError("create the model with record_choices=True to log choices")
        if not self._choice_records:
            return pd.DataFrame()
        columns = {
            key: np.concatenate([rec[key] for rec in self._choice_records])
            for key in self._choice_records[0]
        }
        frame = pd.DataFrame(columns)
        frame["stage"] = pd.Categorical.from_codes(frame["stage"], self.stages.names)
        frame["action"] = pd.Categorical.from_codes(frame["action"], ACTIONS)
        frame["outcome"] = pd.Categorical.from_codes(frame["outcome"], OUTCOMES)
        frame["status"] = pd.Categorical.from_codes(frame["status"], STATUSES)
        return frame

    def summary(self) -> dict[str, float]:
        """Per-run measures at the current step (see `trustsim.sim.measures`)."""
        return measures.run_summary(self)

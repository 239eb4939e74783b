"""`TrustModel`: the Mesa model whose step reads like the schedule in docs/ODD.md."""

from __future__ import annotations

from pathlib import Path

import mesa
import numpy as np
from mesa.time import EventGenerator, Priority, Schedule

from trustsim.engines import fastest_engine
from trustsim.engines.arrays import ArrayEngine
from trustsim.model import steps
from trustsim.model.codes import ACTIONS, OUTCOMES, STATUSES, UNIFORM_ROWS
from trustsim.model.stages import StageTable
from trustsim.scenarios import Scenario, load_scenario
from trustsim.sim import measures

ENGINES = ("vectorized", "agents", "compiled")
# Uniforms drawn at once when many steps run per call (256 Ki: 1 MB of float32, so a
# block of draws is still in the CPU cache when the compiled steps read it).
LEAP_DRAWS = 1 << 18


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
            The summary is the same either way. (The compiled engine measures inside
            its compiled steps, so the series costs it little.)
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
        self.new_leads = 0
        self.short_horizon_snapshot: dict[str, float] | None = None
        self.record_choices = record_choices
        self.series = series
        self.arrivals = arrivals
        self.spared = np.concatenate(arrivals) if arrivals else None  # all its leads
        self.lead_arrivals: list[np.ndarray] = []  # the buyers who became leads, per step
        self._choice_records: list[dict] = []
        self.datacollector = measures.MeasureCollector(self)
        self.datacollector.collect(self)

    def step(self) -> None:
        """One step: every active buyer acts, then the market brings new leads."""
        u = self.step_rng.random((UNIFORM_ROWS, self.engine.size), dtype=np.float32)
        t, given = self.steps, self.arrivals
        replaying = given is not None and t <= len(given)
        recorded, spared = (given[t - 1], self.spared) if replaying else (None, None)
        self.record_arrivals([self.engine.step(u, t, recorded, spared)])
        del u  # the draws are used up: free them before the measures (peak memory)
        self.end_step()

    def run_model(self) -> None:
        """Run to the horizon.

        An engine that runs many steps per call (the compiled one: `engine.leap`) runs
        them all at once, stopping only at the short horizon for its snapshot: the same
        draws, in the same order, as step by step. With the per-step series it measures
        every step inside that call and the rows go to the DataCollector at the end.
        Step by step instead with the choice log, another run's arrivals, or reporters
        of one's own in the DataCollector.
        """
        leaps = (
            hasattr(self.engine, "leap")
            and self.arrivals is None
            and not self.record_choices
            and (not self.series or self._collects_rows())
        )
        if not leaps:
            super().run_model()
            return
        size = self.engine.size
        # One buffer of draws, refilled for each block: a fresh 1 MB array per block cost
        # the page faults of mapping it, as long again as drawing it in a real-estate run.
        draws = np.empty(
            (max(1, LEAP_DRAWS // (UNIFORM_ROWS * size)), UNIFORM_ROWS, size), np.float32
        )
        for until in (min(self.spec.time.short_horizon, self.horizon), self.horizon):
            if self.running and self.steps < until:
                self._leap(until - self.steps, draws)

    def _leap(self, count: int, draws: np.ndarray) -> None:
        """`count` steps in the engine's loop, drawn a block of `draws` at a time (with the
        series: each step's measures, one row per step, collected at the end)."""
        first_time = self.time + 1.0
        rows = np.empty((count if self.series else 0, len(self.measure_names)))
        for done in range(0, count, len(draws)):
            u = self.step_rng.random(out=draws[: min(len(draws), count - done)], dtype=np.float32)
            t0 = self.steps + done + 1
            self.record_arrivals(self.engine.leap(u, t0, rows=rows[done : done + len(u)]))
        # Mesa calls `step` from a recurring event: stop it, move the clock on, restart it.
        self._default_schedule.stop()
        self.steps += count
        self._advance_time(self.time + count)
        self._default_schedule = EventGenerator(
            self, self._do_step, Schedule(interval=1.0, start=self.time + 1.0), Priority.HIGH
        ).start()
        if self.series:
            self.datacollector.collect_rows(self, rows, first_time)
            self.measured_row, self.measured, self.measured_step = rows[-1], None, self.steps
        self.end_step(collect=False)

    def _collects_rows(self) -> bool:
        """Whether the DataCollector takes the measures as rows (`collect_rows`)."""
        collector = self.datacollector
        return isinstance(collector, measures.MeasureCollector) and collector.measures_only()

    def record_arrivals(self, new_per_step: list[np.ndarray]) -> None:
        """The buyers who became leads in each step just run (`lead_arrivals`)."""
        self.lead_arrivals.extend(new_per_step)
        self.new_leads = len(new_per_step[-1])

    def end_step(self, collect: bool = True) -> None:
        """What follows a step: word of mouth, the choice record, snapshot and measures
        (not `collect`ed: they were collected already)."""
        self.promoters, self.detractors = self.engine.word_of_mouth()
        if self.record_choices:
            self._choice_records.append(self.engine.choice_record(self.steps))
        if self.steps == min(self.spec.time.short_horizon, self.horizon):
            self.short_horizon_snapshot = measures.closing_snapshot(self)
        if self.series and collect:
            self.datacollector.collect(self)
        if self.steps >= self.horizon:
            self.running = False

    def choice_log(self):
        """Every recorded choice as a DataFrame (needs `record_choices=True`).

        Columns: `trustsim.trace_columns.RECORDED` (each column's meaning is in
        `trustsim.trace_columns.RECORD`); stage, action, outcome and status as categories.
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

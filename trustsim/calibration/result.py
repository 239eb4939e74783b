"""What a calibration is given and what it gives: its settings, the problem, the waves and
the result (`trustsim.calibration.calibrate` runs it; `outputs` writes it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trustsim.calibration.data import FunnelData
from trustsim.calibration.emulator import Emulator
from trustsim.calibration.priors import Prior
from trustsim.calibration.statistics import Statistic
from trustsim.calibration.waves import PointRuns
from trustsim.scenarios import Scenario


class CalibrationError(Exception):
    """The calibration ran but cannot give a trustworthy posterior (the message says why)."""


@dataclass(frozen=True)
class Settings:
    """How hard a calibration works.

    Attributes:
        budget: model runs in all, waves and final check together.
        replications: runs per point (common random numbers across points).
        wave_points: points per wave (default: 30 per parameter, at least 60).
        final_draws: the least posterior draws run for real in the final check; the
            budget the waves leave is spent on more.
        cutoff: implausibility above which a point is ruled out.
        max_waves: at most this many waves.
        min_shrink: stop when a wave rules out less than this share of the space left.
        candidates: points drawn per round to find the non-implausible space.
        seed: root seed of the runs (replication r of every point shares its seed) and
            of the designs.
        min_ess: the least effective sample size accepted.
        ess_rounds: at most this many more rounds of `final_draws` draws when the final
            check's ESS is below `min_ess` (runs beyond `budget`, spent only then).
    """

    budget: int = 3000
    replications: int = 4
    wave_points: int | None = None
    final_draws: int = 250
    cutoff: float = 3.0
    max_waves: int = 6
    min_shrink: float = 0.2
    candidates: int = 20_000
    seed: int = 0
    min_ess: float = 50.0
    ess_rounds: int = 3

    def points_per_wave(self, dims: int) -> int:
        return self.wave_points or max(60, 30 * dims)

    @property
    def final_runs(self) -> int:
        return self.final_draws * self.replications


@dataclass
class Wave:
    """One wave: its points, runs, emulators and the space it leaves."""

    number: int
    unit: np.ndarray
    runs: PointRuns
    emulators: list[Emulator | None]
    nroy_fraction: float = 1.0
    box: tuple[np.ndarray, np.ndarray] | None = None  # around the space it leaves
    seconds: float = 0.0


@dataclass
class Problem:
    """What is calibrated: the scenario over the window, the data, the priors."""

    scenario_ref: str
    base: Scenario
    data: FunnelData
    data_path: str
    priors: list[Prior]
    priors_path: str
    statistics: list[Statistic]
    held_out: list[bool]
    overrides: tuple[str, ...] = ()

    @property
    def dims(self) -> int:
        return len(self.priors)

    @property
    def fitted(self) -> np.ndarray:
        return ~np.asarray(self.held_out, dtype=bool)

    def observed(self) -> np.ndarray:
        return np.array([s.observed_fit for s in self.statistics])

    def observation_variance(self) -> np.ndarray:
        return np.array([s.observation_variance for s in self.statistics])


@dataclass
class Calibration:
    """The result: waves, final draws with weights, and where the outputs are."""

    problem: Problem
    settings: Settings
    waves: list[Wave]
    draws: np.ndarray  # (draws, d) unit coordinates
    final: PointRuns
    log_likelihood: np.ndarray
    weights: np.ndarray  # normalised
    ess: float
    seconds: float
    out_dir: Path
    written: list[Path] = field(default_factory=list)
    rounds: list[dict] = field(default_factory=list)  # per round: draws, ESS after it

    @property
    def runs(self) -> int:
        points = sum(w.unit.shape[0] for w in self.waves) + len(self.draws)
        return points * self.settings.replications

"""Carry a calibration's posterior into runs, comparisons, feature values and sweeps
(`--posterior DIR`).

Replication r of every scenario (every design point, every feature variant) runs with
the same posterior draw and the same seed, so comparisons stay paired, and the spread
over replications holds parameter uncertainty as well as the randomness of a run. Draws
are taken from the weighted final draws in DIR/posterior.parquet, by the weights,
reproducibly from the root seed.

A value set explicitly (`--set`, a sweep's factor, a removed feature) wins over the
draw: the draw is applied first and the explicit values after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustsim.errors import TrustsimInputError
from trustsim.experiments.runner import ProgressCallback, ReplicationVariant, RunResult
from trustsim.scenarios import Scenario

# Mixed into the root seed so the draws' stream differs from every run's.
DRAW_STREAM = 0x9057


@dataclass(frozen=True)
class PosteriorDraws:
    """One posterior draw per replication: replication r runs with `values[r]`.

    Attributes:
        directory: the calibration directory the draws come from.
        parameters: the calibrated parameters (dotted scenario paths).
        rows: the row of DIR/posterior.parquet drawn for each replication.
        values: each replication's parameter values, in the order of `parameters`.
        seed: the root seed the rows were drawn with.
        ess: the calibration's effective sample size (None if not recorded).
    """

    directory: str
    parameters: tuple[str, ...]
    rows: tuple[int, ...]
    values: tuple[tuple[float, ...], ...]
    seed: int
    ess: float | None = None

    @property
    def replications(self) -> int:
        return len(self.rows)

    def overrides(self, replication: int) -> tuple[str, ...]:
        """Replication r's draw as `PATH=VALUE` strings."""
        from trustsim.experiments.experiment import override_text

        return tuple(
            override_text(p, v)
            for p, v in zip(self.parameters, self.values[replication], strict=True)
        )

    def key(self, replication: int) -> str:
        """A hash of replication r's draw: part of a sweep run's key, so a run on disk is
        reused only with the same parameter values (the draws of the first replications do
        not change when more replications are drawn)."""
        text = json.dumps([self.parameters, self.values[replication]])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def provenance(self) -> dict:
        """What a result's metadata records: where the draws came from and what they are."""
        draws = [
            {"replication": r, "posterior_row": row} | dict(zip(self.parameters, v, strict=True))
            for r, (row, v) in enumerate(zip(self.rows, self.values, strict=True))
        ]
        return {
            "directory": str(Path(self.directory).resolve()),
            "parameters": list(self.parameters),
            "seed": self.seed,
            "ess": self.ess,
            "draws": draws,
        }

    def apply(self, scenario: Scenario, replication: int, fixed: Sequence[str] = ()) -> Scenario:
        """The scenario with replication r's draw applied, then the explicit `fixed` values.

        Raises:
            TrustsimInputError: a drawn parameter does not fit the scenario.
        """
        from trustsim.scenarios import load_scenario

        try:
            return load_scenario(scenario, [*self.overrides(replication), *fixed])
        except TrustsimInputError as exc:
            raise TrustsimInputError(
                f"--posterior {self.directory}: its parameters do not fit scenario "
                f"{scenario.name!r}: {exc}"
            ) from None

    def variant(self, fixed: Sequence[str] = ()) -> ReplicationVariant:
        """`variant(name, scenario, r)` for `trustsim.run`: the scenario with replication
        r's draw applied (the same draw in every scenario), `fixed` values after it."""
        return lambda name, scenario, replication: self.apply(scenario, replication, fixed)


def draw_posterior(posterior_dir: str | Path, replications: int, seed: int) -> PosteriorDraws:
    """Draw one row of DIR/posterior.parquet per replication, by the posterior weights.

    Raises:
        TrustsimInputError: DIR holds no calibration, or one without weights.

    Example:
        >>> draw_posterior("cal/", 3, seed=0).overrides(0)  # doctest: +SKIP
        ('choice.exit_bias=-0.97', 'market.outside_influence=0.021')
    """
    import pandas as pd

    folder = Path(posterior_dir)
    path, meta_path = folder / "posterior.parquet", folder / "calibration.json"
    if not path.is_file() or not meta_path.is_file():
        raise TrustsimInputError(
            f"--posterior {posterior_dir}: no calibration here (no posterior.parquet and "
            "calibration.json). Give the --out directory of `trustsim calibrate`."
        )
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    parameters = tuple(meta["parameters"])
    draws = pd.read_parquet(path)
    weights = draws["weight"].to_numpy(dtype=float)
    if not np.isfinite(weights).all() or weights.sum() <= 0:
        raise TrustsimInputError(
            f"--posterior {posterior_dir}: posterior.parquet has no positive weights; rerun "
            "`trustsim calibrate` into it."
        )
    rng = np.random.default_rng([seed, DRAW_STREAM])
    chosen = rng.choice(len(draws), size=replications, p=weights / weights.sum())
    values = tuple(tuple(float(draws[p].iloc[i]) for p in parameters) for i in chosen)
    return PosteriorDraws(
        str(posterior_dir), parameters, tuple(int(i) for i in chosen), values, seed,
        meta.get("ess"),
    )  # fmt: skip


def run_with_posterior(
    scenarios: Iterable[str | Path | Scenario],
    posterior_dir: str | Path,
    replications: int = 20,
    seed: int = 0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    engine: str | None = None,
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Like `trustsim.run`, with replication r's parameters drawn from the posterior
    (`overrides` win over the draw); the result's provenance records the draws."""
    from trustsim.experiments.runner import run

    draws = draw_posterior(posterior_dir, replications, seed)
    variant = draws.variant(overrides)
    result = run(scenarios, replications, seed, steps, overrides, engine, progress, variant)
    result.posterior = draws.provenance()
    return result


def compare_with_posterior(
    base, others, posterior_dir, replications=20, seed=0, steps=None, overrides=(),
    engine=None, progress=None, decompose=True,
):  # fmt: skip
    """Like `trustsim.compare`, with replication r's parameters drawn from the posterior
    (the same draw in every scenario, so differences stay paired)."""
    from trustsim.experiments.runner import compare

    draws = draw_posterior(posterior_dir, replications, seed)
    variant = draws.variant(overrides)
    result, differences = compare(
        base, others, replications, seed, steps, overrides, engine, progress, variant, decompose
    )
    result.posterior = draws.provenance()
    return result, differences


def posterior_note(posterior_dir: str | Path, replications: int) -> str:
    """The line that says intervals include parameter uncertainty."""
    return (
        f"Parameters drawn from the posterior in {posterior_dir} ({replications} draws, one per "
        "replication, the same in every scenario): intervals include parameter uncertainty."
    )

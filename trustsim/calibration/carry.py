"""Carry a calibration's posterior into runs and comparisons (`--posterior DIR`).

Replication r of every scenario runs with the same posterior draw and the same seed, so
comparisons stay paired, and the spread over replications holds parameter uncertainty
as well as the randomness of a run. Draws are taken from the weighted final draws in
DIR/posterior.parquet, by the weights, reproducibly from the root seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from trustsim.errors import TrustsimInputError
from trustsim.experiments.runner import ProgressCallback, RunResult
from trustsim.scenarios import Scenario


def posterior_overrides(posterior_dir: str | Path, replications: int, seed: int) -> list[tuple]:
    """One tuple of `PATH=VALUE` overrides per replication, drawn by the posterior weights.

    Raises:
        TrustsimInputError: DIR holds no calibration.

    Example:
        >>> posterior_overrides("cal/", 3, seed=0)  # doctest: +SKIP
        [('choice.exit_bias=-0.97', ...), ...]
    """
    import json

    import pandas as pd

    from trustsim.experiments.experiment import override_text

    folder = Path(posterior_dir)
    path, meta_path = folder / "posterior.parquet", folder / "calibration.json"
    if not path.is_file() or not meta_path.is_file():
        raise TrustsimInputError(
            f"--posterior {posterior_dir}: no calibration here (no posterior.parquet and "
            "calibration.json). Give the --out directory of `trustsim calibrate`."
        )
    parameters = json.loads(meta_path.read_text(encoding="utf-8"))["parameters"]
    draws = pd.read_parquet(path)
    weights = draws["weight"].to_numpy(dtype=float)
    rng = np.random.default_rng([seed, 0x9057])
    chosen = rng.choice(len(draws), size=replications, p=weights / weights.sum())
    return [tuple(override_text(p, float(draws[p].iloc[i])) for p in parameters) for i in chosen]


def posterior_variant(posterior_dir: str | Path, replications: int, seed: int):
    """`variant(name, scenario, r)` for `trustsim.run`: the scenario with replication r's
    posterior draw applied (the same draw in every scenario)."""
    from trustsim.scenarios import load_scenario

    draws = posterior_overrides(posterior_dir, replications, seed)

    def variant(name: str, scenario: Scenario, replication: int) -> Scenario:
        try:
            return load_scenario(scenario, draws[replication])
        except TrustsimInputError as exc:
            raise TrustsimInputError(
                f"--posterior {posterior_dir}: its parameters do not fit scenario {name!r}: {exc}"
            ) from None

    return variant


def run_with_posterior(
    scenarios: Iterable[str | Path | Scenario],
    posterior_dir: str | Path,
    replications: int = 20,
    seed: int = 0,
    steps: int | None = None,
    overrides: Sequence[str] = (),
    engine: str = "vectorized",
    progress: ProgressCallback | None = None,
) -> RunResult:
    """Like `trustsim.run`, with replication r's parameters drawn from the posterior."""
    from trustsim.experiments.runner import run

    variant = posterior_variant(posterior_dir, replications, seed)
    return run(scenarios, replications, seed, steps, overrides, engine, progress, variant)


def compare_with_posterior(
    base, others, posterior_dir, replications=20, seed=0, steps=None, overrides=(),
    engine="vectorized", progress=None, decompose=True,
):  # fmt: skip
    """Like `trustsim.compare`, with replication r's parameters drawn from the posterior
    (the same draw in every scenario, so differences stay paired)."""
    from trustsim.experiments.runner import compare

    variant = posterior_variant(posterior_dir, replications, seed)
    return compare(
        base, others, replications, seed, steps, overrides, engine, progress, variant, decompose
    )


def posterior_note(posterior_dir: str | Path, replications: int) -> str:
    """The line that says intervals include parameter uncertainty."""
    return (
        f"Parameters drawn from the posterior in {posterior_dir} ({replications} draws, one per "
        "replication, the same in every scenario): intervals include parameter uncertainty."
    )

"""`observe`: what a firm would record from one simulated run, as a funnel data file.

It is how a user learns the data format, and how tests and benchmarks make data whose
true parameters are known.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from trustsim.calibration.data import FunnelData
from trustsim.scenarios import Scenario, load_scenario


def window_overrides(scenario: Scenario, periods: int) -> list[str]:
    """Overrides that make the model's horizon the observation window of `periods` steps."""
    short = min(scenario.time.short_horizon, periods)
    return [f"time.steps={periods}", f"time.short_horizon={short}"]


def observe(
    scenario: str | Path | Scenario,
    overrides: Sequence[str] = (),
    seed: int = 0,
    steps: int | None = None,
) -> FunnelData:
    """One run of `scenario` read as a firm's books (replication 0 of `seed`).

    Args:
        scenario: a built-in name, a TOML path or a `Scenario`.
        overrides: `PATH=VALUE` strings, e.g. the true values of a synthetic test.
        seed: root seed; the run is replication 0, as in `trustsim run --seed`.
        steps: the observation window in steps (default: the scenario's time.steps).

    Returns:
        The `FunnelData`, labelled synthetic in its `source`.

    Example:
        >>> data = observe("real-estate", ["market.size=300"], seed=1, steps=20)
        >>> data.window.periods, len(data.leads)
        (20, 20)
    """
    from trustsim.experiments.runner import replication_seed, simulate

    spec = load_scenario(scenario, overrides)
    if steps is not None:
        spec = load_scenario(spec, window_overrides(spec, steps))
    summary, series = simulate(spec, replication_seed(seed, 0))
    # Row 0 is the state before the first step; leads arrive from step 1 on.
    new_leads = series["new_leads"].iloc[1:].astype(int).tolist()
    settings = f", --set {' '.join(overrides)}" if overrides else ""
    source = (
        f"synthetic: one simulated run of scenario {spec.name!r} (seed {seed}{settings}), "
        "not a firm's data"
    )
    from trustsim.calibration.statistics import observed_data

    return observed_data(summary, new_leads, spec, source)

"""Experiments: replicated runs with common random numbers, comparisons, sweeps."""

from trustsim.experiments.runner import (
    RunResult,
    compare,
    paired_differences,
    replication_seed,
    run,
    simulate,
)

__all__ = ["RunResult", "compare", "paired_differences", "replication_seed", "run", "simulate"]

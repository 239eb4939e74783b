"""trustsim: an agent-based simulation of customer trust.

Buyers hold trust that changes with every interaction and, at each stage of a purchase,
delegate the step to the service, verify it themselves, or walk away. The public API
loads lazily so that `trustsim --help` stays instant:

    >>> import trustsim
    >>> result = trustsim.run(["real-estate"], replications=3, seed=1)
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("trustsim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

_LAZY = {
    "TrustModel": "trustsim.sim",
    "Scenario": "trustsim.scenarios",
    "load_scenario": "trustsim.scenarios",
    "run": "trustsim.experiments",
    "compare": "trustsim.experiments",
    "simulate": "trustsim.experiments",
    "RunResult": "trustsim.experiments",
    "TrustsimInputError": "trustsim.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'trustsim' has no attribute {name!r}")

"""The model and the order of a step."""

from trustsim.sim.model import ENGINES, TrustModel

__all__ = ["ENGINES", "TrustModel"]

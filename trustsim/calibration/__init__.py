"""Calibration to a firm's own funnel data: data format, priors, history matching.

`observe` writes what a firm would record from one run; `calibrate` fits the scenario's
uncertain parameters to such data with Gaussian-process emulators, waves of history
matching on the sweep machinery, and a final importance-reweighted check on the model.
"""

from trustsim.calibration.data import FunnelData, data_to_toml, load_data
from trustsim.calibration.observe import observe

__all__ = ["FunnelData", "data_to_toml", "load_data", "observe"]

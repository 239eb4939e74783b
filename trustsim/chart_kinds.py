"""The chart kinds, once: what `trustsim chart --kind` accepts and decks draw.

A leaf module (no imports), so the command line can list the kinds without loading the
charts.
"""

# Chart kinds in deck order, with what each needs from the results.
KINDS = {
    "comparison": "runs of one or more scenarios",
    "difference": "runs of two or more scenarios",
    "funnel": "runs (time series) of one scenario",
    "trust": "runs (time series) of one scenario",
    "horizon": "runs (time series) of two or more scenarios",
    "leads": "runs (time series)",
    "usage-value": "features.parquet from `trustsim features SCENARIO --out DIR`",
    "heatmap": "sweep results with two factors",
    "sensitivity": "Sobol indices or a tornado table from a sweep",
    "story": "trace.parquet or trace.csv from `trustsim trace`",
}

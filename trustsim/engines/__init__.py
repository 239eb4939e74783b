"""The engines: how buyers are stored and how the model's sub-steps run over them.

Each engine runs the sub-steps of `trustsim.model.steps` and nothing else of the model:
`base.Engine` holds what they share (the schedule, arrivals, settling leavers, the
choice record); `arrays` keeps buyers as numpy columns, `compiled` runs the same
sub-steps compiled with numba over those columns, `agents` makes each buyer a Mesa agent.
"""


def fastest_engine() -> str:
    """The fastest engine installed: "compiled" where numba is, else "vectorized".

    Both give the same time series and summaries for the same seed (docs/ENGINES.md).
    """
    import importlib.util

    return "compiled" if importlib.util.find_spec("numba") else "vectorized"

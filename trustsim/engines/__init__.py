"""The engines: how buyers are stored and how the model's sub-steps run over them.

Each engine runs the sub-steps of `trustsim.model.steps` and nothing else of the model:
`base.Engine` holds what they share (the schedule, arrivals, settling leavers, the
choice record); `arrays` keeps buyers as numpy columns, `compiled` runs the same
sub-steps compiled with numba over those columns, `agents` makes each buyer a Mesa agent.
"""

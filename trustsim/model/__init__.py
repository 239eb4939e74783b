"""The model itself, below every engine: its vocabulary, state, rules and sub-steps.

Nothing here knows how buyers are stored. `codes` names statuses, actions, draw rows and
outcomes; `state` declares a buyer's state and a step's record once; `stages` flattens a
scenario into numbers; `rules` holds the formulas; `steps` writes each sub-step of the
schedule once; `tally` keeps the running totals; `metrics` describes every measure.
The engines (`trustsim.engines`) import from here and never the other way round.
"""

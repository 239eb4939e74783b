"""How robust is each conclusion, and where does it flip (exploratory modelling).

`study` samples the assumed constants of the parameter ledger over their plausible
ranges (a Latin hypercube run as a normal resumable sweep) and counts, for each
conclusion "ALT raises/lowers METRIC vs BASE", the share of plausible worlds in which it
holds and in which it is established. `discover` finds, with PRIM (`prim`) and a CART
cross-check, the region of those worlds where a conclusion fails.
"""

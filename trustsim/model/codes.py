"""The model's codes: buyer statuses, actions, rows of the step's draws, step outcomes."""

# A deterred buyer heard a detractor before arriving and left the market for good.
POTENTIAL, ACTIVE, POST_PURCHASE, FINISHED, ABANDONED, DETERRED = range(6)
STATUSES = ("potential", "active", "post_purchase", "finished", "abandoned", "deterred")

DELEGATE, VERIFY, ABANDON = range(3)
ACTIONS = ("delegate", "verify", "abandon")

# Rows of the per-step uniform draws. Row 0 serves three disjoint groups (active buyers
# choose, potential buyers arrive or are deterred, finished customers buy again), so one
# draw per slot.
CHOICE = ARRIVAL = REPEAT = 0
SERVICE, DETECTION, COLLAPSE, DELAY = 1, 2, 3, 4
UNIFORM_ROWS = 5

# Outcome of a step for the choice log; a later code wins where several apply.
OUTCOME_NONE, OUTCOME_SUCCESS, OUTCOME_CAUGHT, OUTCOME_INCIDENT, OUTCOME_COLLAPSE = range(5)
OUTCOMES = ("walked away", "success", "error caught", "incident", "deal collapsed")

# The trust layers, in the order of every per-layer array.
ENVIRONMENT, RULES, COUNTERPARTY = range(3)

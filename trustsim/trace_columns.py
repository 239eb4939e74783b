"""The choice record: one row per acting buyer and step, for choice logs and traces.

The one list of its columns. Every engine's `choice_record` fills the recorded columns
in this order, `TrustModel.choice_log` returns them, a trace (`trustsim trace`) keeps
the columns marked for it, and the trace table, the story-strip chart and the docs take
their headers and meanings from here. A leaf module (no trustsim imports), as
`chart_kinds` is, so the engines below and the terminal above can both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# Where a column appears: "trace" in choice logs and traces (a trace's stable contract,
# which charts build on), "context" in both but after the trace's stable columns, "log"
# in choice logs only, "derived" computed by the trace from recorded columns.
Use = Literal["trace", "context", "log", "derived"]


@dataclass(frozen=True)
class RecordColumn:
    """One column of the choice record.

    Attributes:
        name: the column's name in choice logs, traces and their files.
        header: its short header in the trace table.
        meaning: what it holds, for docstrings and docs.
        use: where it appears (see `Use`).
        number: a number between 0 and 1 shown with two decimals (else shown as text).
    """

    name: str
    header: str
    meaning: str
    use: Use = "trace"
    number: bool = True


RECORD = (
    RecordColumn("step", "Step", "the step the buyer acted in (1 = the first step after "
                 "set-up)", number=False),
    RecordColumn("buyer", "Buyer", "the buyer's slot in the market, 0 to market.size - 1",
                 "log", number=False),
    RecordColumn("stage", "Stage", "the stage the buyer faced (journey order)", number=False),
    RecordColumn("trust_environment", "T env", "expected trust in the environment layer "
                 "after the step's evidence and forgetting"),
    RecordColumn("trust_rules", "T rules", "expected trust in the rules layer after the step"),
    RecordColumn("trust_counterparty", "T cpty", "expected trust in the counterparty layer "
                 "after the step"),
    RecordColumn("trust", "Trust", "stage-weighted trust before the step: the trust the "
                 "choice rested on"),
    RecordColumn("perceived_risk", "Risk", "felt risk of the step, before acting"),
    RecordColumn("p_delegate", "P del", "choice probability of delegating"),
    RecordColumn("p_verify", "P ver", "choice probability of verifying (0 where the stage "
                 "offers no check)"),
    RecordColumn("p_abandon", "P out", "choice probability of walking away, 1 - p_delegate "
                 "- p_verify", "derived"),
    RecordColumn("action", "Choice", '"delegate", "verify" or "abandon"', number=False),
    RecordColumn("outcome", "Outcome", '"success", "error caught", "incident", "deal '
                 'collapsed" or "walked away"', number=False),
    RecordColumn("satisfaction", "Satisf", "satisfaction after the step"),
    RecordColumn("reactance", "React", "accumulated reactance after the step"),
    RecordColumn("moved_on", "Done", "whether the step completed the stage, so the next "
                 "visit is of the next stage (a verified step can spill over into another "
                 "visit of the same stage: a success, not yet done)", "context", number=False),
    RecordColumn("stake", "Stake", "the stage's stake", "context"),
    RecordColumn("status", "Status", "the buyer's status after the step", "context",
                 number=False),
)  # fmt: skip

COLUMNS = {column.name: column for column in RECORD}
# What an engine records per acting buyer and step, in order.
RECORDED = tuple(c.name for c in RECORD if c.use != "derived")
# A trace's stable columns, then its context columns.
TRACE_COLUMNS = tuple(c.name for c in RECORD if c.use in ("trace", "derived"))
CONTEXT_COLUMNS = tuple(c.name for c in RECORD if c.use == "context")
# The trace table: the stable columns, then whether the step completed the stage (a
# verified success can spill over into another visit of the same stage, which the
# outcome alone hides).
TABLE_COLUMNS = (*TRACE_COLUMNS, "moved_on")


def record_table() -> str:
    """The columns as a markdown table, as docs/ODD.md section 4.11 shows them.

    Example:
        >>> record_table().splitlines()[0]
        '| Column | Trace header | Meaning | In |'
    """
    where = {"trace": "log, trace", "context": "log, trace (context)", "log": "log",
             "derived": "trace"}  # fmt: skip
    rows = ["| Column | Trace header | Meaning | In |", "|---|---|---|---|"]
    rows += [f"| `{c.name}` | {c.header} | {c.meaning} | {where[c.use]} |" for c in RECORD]
    return "\n".join(rows)

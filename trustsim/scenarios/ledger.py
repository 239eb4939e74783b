"""The parameter ledger: what each behavioural constant rests on, and which facts tuned it.

Calibration is kept apart from validation (pattern-oriented modelling, Grimm et al. 2005):
every behavioural constant of the field reference (`trustsim.scenarios.reference`) says
whether its value is taken from the literature, is a stated assumption, or was
calibrated by hand so that named patterns emerge, with the range of values a referee
could not rule out. A stylized fact that any constant was tuned to is a *calibration
target*; its test shows the calibration succeeded, not that the model is right. A fact
no constant was tuned to is *held out*: it is evidence. The tables of docs/ODD.md
sections 9.12 and 9.13 are generated from here, and `trustsim robustness` samples the
assumed constants over their plausible ranges.

Everything is read from the `FieldDoc` entries, so restating a constant (e.g. a rate in
calendar units) means editing its entry only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from trustsim.scenarios.reference import FIELDS, SchemaField, schema_fields

BASES = ("literature", "assumption", "calibrated")
# Calibrated values here were tuned by hand to qualitative patterns, not fitted to data,
# so they are as uncertain as stated assumptions and are sampled with them.
ASSUMED_BASES = ("assumption", "calibrated")


@dataclass(frozen=True)
class Fact:
    """A stylized fact of docs/ODD.md section 1.2 and the tests that check it."""

    number: int
    name: str
    tests: str
    note: str = ""


FACTS = (
    Fact(
        1,
        "Trust, but verify",
        "test_fact1_*",
        "at the literature's word of mouth the trust coefficient in real estate misses "
        "p < 0.01 (p = 0.014, fewer leads; strict xfail); holds with affordances",
    ),
    Fact(2, "Trust infrastructure", "test_fact2_*"),
    Fact(
        3,
        "The client's hypothesis fails at high stakes",
        "test_fact3_*",
        "its negative control does not fail (strict xfail): the test does not isolate "
        "the stake (section 1.2); at the literature's word of mouth the campaign raises "
        "closed deals more than affordances do (strict xfail)",
    ),
    Fact(
        4,
        "Funnel vs. journey",
        "test_fact4_*",
        "at the literature's word of mouth the delivery funnel no longer loses closed "
        "deals or revenue within 90 days (strict xfail); real estate still does",
    ),
    Fact(
        5,
        "Trust dynamics",
        "test_fact5_*",
        "no constant was tuned to it, but its emergent test needs failure evidence above "
        "success evidence, an assumption (`trust.failure_evidence`)",
    ),
    Fact(
        6,
        "Diffusion",
        "test_fact6_*",
        "no S-curve of leads within 200 weeks at the literature's word of mouth (strict "
        "xfail); detractors still slow growth",
    ),
)


def ledger_fields() -> list[SchemaField]:
    """The behavioural constants: every schema field whose reference entry has a basis."""
    return [field for field in schema_fields() if field.doc.basis]


def assumed_ranges() -> dict[str, tuple[float, float]]:
    """Path -> plausible (low, high) of every assumed or calibrated constant with a range.

    These are the factors `trustsim robustness` samples by default.

    Example:
        >>> ranges = assumed_ranges()
        >>> ranges["choice.verify_trust_share"]
        (0.25, 0.75)
        >>> "satisfaction.loss_aversion" in ranges  # from the literature: held fixed
        False
    """
    return {
        field.path: field.doc.plausible
        for field in ledger_fields()
        if field.doc.basis in ASSUMED_BASES and field.doc.plausible is not None
    }


def _fact_numbers(patterns: tuple[str, ...]) -> list[int]:
    return [int(m.group(1)) for p in patterns if (m := re.fullmatch(r"fact (\d+)", p))]


def tuned_to(number: int) -> list[str]:
    """Paths of the constants calibrated to stylized fact `number`."""
    return [
        field.path for field in ledger_fields() if number in _fact_numbers(field.doc.calibrated_to)
    ]


def fact_role(number: int) -> str:
    """ "calibration target" if any constant was tuned to the fact, else "held out"."""
    return "calibration target" if tuned_to(number) else "held out"


def _range_text(field: SchemaField) -> str:
    low_high = field.doc.plausible
    if low_high is None:
        return "—"
    low, high = (f"{v:g}" for v in low_high)
    return f"{low} to {high} ({field.doc.unit})"


def ledger_table() -> str:
    """docs/ODD.md section 9.12: one row per behavioural constant."""
    from trustsim.scenarios.reference import default_text

    out = [
        "| TOML | Default | Basis | Plausible range | Calibrated to | Source; range from |",
        "|---|---|---|---|---|---|",
    ]
    for field in ledger_fields():
        doc = field.doc
        source = doc.source + (f"; range: {doc.range_note}" if doc.range_note else "")
        out.append(
            f"| `{field.path}` | {default_text(field)} | {doc.basis} | {_range_text(field)} | "
            f"{', '.join(doc.calibrated_to) or '—'} | {source} |"
        )
    counts = {basis: sum(f.doc.basis == basis for f in ledger_fields()) for basis in BASES}
    summary = ", ".join(f"{n} {basis}" for basis, n in counts.items())
    return "\n".join([*out, "", f"{len(ledger_fields())} behavioural constants: {summary}."])


def facts_table() -> str:
    """docs/ODD.md section 9.13: each stylized fact, calibration target or held out."""
    out = ["| # | Fact | Role | Constants tuned to it | Tests | Note |"]
    out.append("|---|---|---|---|---|---|")
    for fact in FACTS:
        tuned = ", ".join(f"`{p}`" for p in tuned_to(fact.number)) or "none"
        out.append(
            f"| {fact.number} | {fact.name} | {fact_role(fact.number)} | {tuned} | "
            f"`{fact.tests}` | {fact.note or '—'} |"
        )
    return "\n".join(out)


def odd_ledger() -> str:
    """The two generated ledger sections of docs/ODD.md."""
    return "\n".join(
        [
            "### 9.12 Ledger: what each behavioural constant rests on",
            "",
            ledger_table(),
            "",
            "### 9.13 Stylized facts: calibration targets and held out",
            "",
            facts_table(),
            "",
        ]
    )


def unknown_basis() -> list[str]:
    """Entries whose basis is not one of `BASES` (a test keeps this empty)."""
    return [path for path, doc in FIELDS.items() if doc.basis and doc.basis not in BASES]

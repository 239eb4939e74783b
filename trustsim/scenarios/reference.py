"""The field reference: what every scenario field means, written once.

The schema (`trustsim.scenarios.schema`) holds each field's type, default and bounds; this
module holds its prose: symbol, meaning, unit, typical values, a business reading and the
source of its default. Ranges and defaults are read from the schema, never copied, so
they cannot drift. Everything that explains a field is generated from here:
`trustsim scenarios explain`, `scenarios show --explain`, `scenarios new`, and the
parameter tables of docs/ODD.md (section 9; `python -m trustsim.scenarios.reference
--write-odd` rewrites them, and a test fails when they differ).

Fields are addressed by generic dotted paths, as with `--set`, where a stage or segment
name is written `<name>` and the parameters shared by all five traits `<trait>`:
`stages.<name>.affordance`, `segments.<name>.<trait>.mean`.
"""

from __future__ import annotations

import difflib
import functools
import textwrap
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from trustsim.errors import TrustsimInputError
from trustsim.scenarios.schema import TRAITS, Distribution, Scenario, Segment, Stage

NAME = "<name>"  # a stage or segment name chosen by the scenario author
TRAIT = "<trait>"  # any of the five trait fields of a segment
NAMED_TABLES = ("stages", "segments")
WIDTH = 80  # of explanations printed to a terminal


@dataclass(frozen=True)
class FieldDoc:
    """The prose of one field.

    Attributes:
        meaning: what the field is, in the model's terms.
        unit: what one unit of it is ("share of the deal", "per step", "utility").
        typical: values seen in the built-in scenarios or in practice.
        business: how to read a value in a client's terms.
        source: where the default comes from (docs/ODD.md section 9's Source column).
        symbol: the symbol in the equations of docs/ODD.md section 7.
        rule: a constraint beyond the bounds (a sum, an order between fields).
        default: the default as written, where the schema's value would read badly.
        basis: for a behavioural constant, what its value rests on (the ledger of
            docs/ODD.md section 9.12): "literature" (taken from the cited source),
            "assumption" (a stated modelling choice) or "calibrated" (set by hand so that
            the patterns in `calibrated_to` emerge; not fitted to data). Empty for
            scenario design (market size, stages, personas).
        plausible: (low, high) in the field's unit: the values a referee could not rule
            out; `trustsim robustness` samples assumed constants over it.
        calibrated_to: the patterns a calibrated value was tuned to ("fact 4" names a
            stylized fact of docs/ODD.md section 1.2).
        range_note: where the plausible range comes from, when not a stated judgement.
        label: the field's display name in a chart or sentence, lower case ("sales
            pressure"); `field_label` adds the stage or segment it belongs to.
    """

    meaning: str
    unit: str
    typical: str
    business: str
    source: str = "—"
    symbol: str = ""
    rule: str = ""
    default: str = ""
    basis: str = ""
    plausible: tuple[float, float] | None = None
    calibrated_to: tuple[str, ...] = ()
    range_note: str = ""
    label: str = ""


# Keys a scenario file may hold that are not fields of the resolved scenario: they say
# how the file is built from its parent and are consumed by the loader.
DIRECTIVES: dict[str, FieldDoc] = {
    "extends": FieldDoc(
        meaning="the parent scenario: every value not set in this file is inherited from it",
        unit="a built-in scenario name, or a path relative to this file",
        typical='"real-estate", "my-base.toml"',
        business="start from a scenario that works and change only what differs",
        default="none (a complete file)",
    ),
    "journey": FieldDoc(
        meaning=(
            "the stages as a whole, in order: parent stages not listed are dropped; a "
            "stage the parent lacks is added and needs its own [stages.NAME] table"
        ),
        unit="list of stage names",
        typical='["search", "test_drive", "inspection", "contract", "payment"]',
        business="redraw the client's journey while keeping the parent's market and buyers",
        default="the parent's stages, in the parent's order",
    ),
    "personas": FieldDoc(
        meaning=(
            "the segments as a whole: parent segments not listed are dropped; a segment "
            "the parent lacks is added and needs its own [segments.NAME] table"
        ),
        unit="list of segment names",
        typical='["bargain_hunters", "families", "dealers"]',
        business="replace the parent's buyers with the client's personas",
        default="the parent's segments",
    ),
}

FIELDS: dict[str, FieldDoc] = {
    # ------------------------------------------------------------------ top level
    "name": FieldDoc(
        label="scenario name",
        meaning="identifier of the scenario in tables, charts and output file names",
        unit="slug",
        typical='"real-estate-verifiable", "used-car.countdown"',
        business="the short code that names the variant in every result",
        default="the file name without .toml",
    ),
    "label": FieldDoc(
        label="display name",
        meaning="display name shown instead of `name` where scenarios are listed",
        unit="text, any alphabet, up to 200 characters",
        typical='"Used cars: verified listings"',
        business="what the client reads on a slide",
        default="none (the name is shown)",
    ),
    "description": FieldDoc(
        label="description",
        meaning="free text: what the variant is and what it tests",
        unit="text",
        typical='"Apartment bought through a developer\'s online service"',
        business="the one sentence a reader needs to tell variants apart",
    ),
    "closing_stage": FieldDoc(
        label="closing stage",
        meaning=(
            "the stage whose completion closes the deal; later stages are after the "
            "purchase (a buyer who leaves there churns, the deal stays closed)"
        ),
        unit="a stage name",
        typical='"payment", "contract"',
        rule="one of the scenario's stages",
        business="where the sale is booked as revenue",
        source="scenario design",
    ),
    "time": FieldDoc("time settings", "table", "—", "horizon and step unit"),
    "market": FieldDoc("market settings", "table", "—", "market size, arrivals, word of mouth"),
    "trust": FieldDoc("trust settings", "table", "—", "how experience builds and erodes trust"),
    "choice": FieldDoc("choice settings", "table", "—", "how buyers weigh trust, risk, effort"),
    "outcomes": FieldDoc("outcome settings", "table", "—", "what a failure or a check costs"),
    "reactance": FieldDoc("reactance settings", "table", "—", "how pressure backfires"),
    "satisfaction": FieldDoc("satisfaction settings", "table", "—", "how experience is judged"),
    "repeat": FieldDoc("repeat-purchase settings", "table", "—", "reorders by happy customers"),
    "segments": FieldDoc(
        meaning="personas by name: share of the market and the distribution of each trait",
        unit="table of segments",
        typical="2 to 5 personas",
        business="who the buyers are",
        rule="at least one; shares sum to 1",
    ),
    "stages": FieldDoc(
        meaning="the journey: stages by name, in file order (or the order of `journey`)",
        unit="table of stages",
        typical="5 to 10 stages",
        business="the steps the service offers, from first contact to after-sales",
        rule="1 to 100 stages",
    ),
    # ------------------------------------------------------------------ time
    "time.steps": FieldDoc(
        label="horizon",
        meaning="horizon: number of steps simulated",
        unit="steps",
        typical="104 weeks (two years) for real estate; 90 days for a trial",
        business="long enough for word of mouth to play out, short enough to matter",
        source="scenario design (two years of weeks)",
        symbol="T_h",
    ),
    "time.short_horizon": FieldDoc(
        label="short horizon",
        meaning="steps counted as the short horizon (short_closed_deals, short_conversion)",
        unit="steps",
        typical="13 weeks (a quarter); 14 days",
        business="the horizon of a quarterly target: what a funnel optimises for",
        source="scenario design (a quarter)",
        symbol="T_s",
        rule="<= `time.steps`",
    ),
    "time.step_unit": FieldDoc(
        label="step unit",
        meaning=(
            "what one step is: hour, day, week, month, quarter or year; a numerical "
            "resolution only. Rates per year (market.outside_influence, "
            "market.word_of_mouth), the talk half-life, the repeat-purchase rate per day "
            "and the stage durations (days) are converted by its length"
        ),
        unit="a length of time",
        typical='"week" for real estate, "day" for a trial; finer runs the same calendar',
        business=(
            "a finer step gives the same results within sampling error at more steps (set "
            "time.steps and time.short_horizon to the same calendar); it may not be longer "
            "than the shortest stage, and every stage must last whole steps"
        ),
        source="scenario design",
        rule="at most the shortest `stages.<name>.duration`, which it must divide",
    ),
    # ------------------------------------------------------------------ market
    "market.size": FieldDoc(
        label="market size",
        meaning="potential buyers in the market (one simulated buyer each)",
        unit="buyers",
        typical="2,000 to 10,000; up to millions for large runs",
        business="the addressable market; counts scale with it, rates and shares do not",
        source="scenario design",
        symbol="M",
    ),
    "market.outside_influence": FieldDoc(
        label="advertising pull",
        meaning="rate at which a potential buyer becomes a lead by outside influence",
        unit="per year",
        typical="0.03 (the meta-analytic mean); 0.156 in real estate, 0.73 in the trial",
        business=(
            "0.156 a year (0.003 a week): about 15% of the market arrives in a year from "
            "advertising alone"
        ),
        source=(
            "Sultan, Farley & Lehmann 1990 (meta-analysis of Bass models: mean p = 0.03 "
            "per year); form: Bass 1969; the built-in scenarios set their own advertising"
        ),
        symbol="p",
        basis="literature",
        plausible=(0.003, 0.15),
        range_note=(
            "a judgement around the meta-analytic mean: single-product estimates (the "
            "compilation by C. Van den Bulte reproduced in DecisionPro's Bass forecasting "
            "tutorial) run from near 0 to about 0.14; a firm's lead pool, already looking "
            "to buy, can lie above a product category's"
        ),
    ),
    "market.word_of_mouth": FieldDoc(
        label="word-of-mouth strength",
        meaning=(
            "imitation: lead rate added per share of the market that promoters still "
            "talking make up"
        ),
        unit="per year",
        typical="0.38 (the meta-analytic mean)",
        business=(
            "0.38: with 10% of the market promoters still talking, 3.8% of the remaining "
            "buyers become leads in a year through them"
        ),
        source=(
            "Sultan, Farley & Lehmann 1990 (meta-analysis of Bass models: mean q = 0.38 "
            "per year); form: Bass 1969"
        ),
        symbol="q",
        basis="literature",
        plausible=(0.1, 0.8),
        range_note=(
            "Sultan et al. 1990: mean 0.38 per year; most single-product estimates in the "
            "same compilation lie between 0.1 and 0.8. In Bass's model every adopter "
            "talks; here only promoters, a subset, and only for a while "
            "(market.talk_half_life)"
        ),
    ),
    "market.bad_news_weight": FieldDoc(
        label="weight of bad news",
        meaning=(
            "potential buyers a detractor still talking deters, per buyer a promoter still "
            "talking brings (deterrence rate q * nu * D / M)"
        ),
        unit="deterred per promoter's lead",
        typical="2 (meant > 1)",
        business="2: each unhappy buyer's warnings keep two buyers away for each one a fan brings",
        source=(
            "form: negative word of mouth removes potential buyers (Mahajan, Muller & Kerin "
            "1984; Goldenberg, Libai, Moldovan & Muller 2007); direction: Anderson 1998 "
            "(dissatisfied customers talk more, by less than folklore holds); value carried "
            "over from an earlier form (detractors subtracting from the lead rate) where it "
            "was set for fact 6, not set again"
        ),
        symbol="nu",
        basis="assumption",
        plausible=(1.0, 3.0),
        range_note=(
            "Anderson 1998: dissatisfied customers talk more than satisfied ones, by less "
            "than folklore's 2-10"
        ),
    ),
    "market.talk_half_life": FieldDoc(
        label="how long promoters keep talking",
        meaning=(
            "how long promoters and detractors keep talking: half of those who left the "
            "pipeline at one time have stopped after this long"
        ),
        unit="years",
        typical="0.5; inf for Bass's adopters who talk forever",
        business="0.5: a buyer's recommendation carries weight mostly in the half year after",
        source=(
            "form: adopters who stop influencing others (the Bass-SIR model, Fibich 2017); "
            "value assumed, not from a source"
        ),
        symbol="H",
        rule="or inf (talk never fades)",
        basis="assumption",
        plausible=(0.1, 2.0),
        range_note="a judgement: from weeks of buzz after a purchase to two years of advice",
    ),
    "market.promoter_threshold": FieldDoc(
        label="promoter threshold",
        meaning="satisfaction at or above which a finished customer recommends the service",
        unit="satisfaction S",
        typical="0.8",
        business="like a 9 or 10 of 10 in an NPS survey",
        source=(
            "categories: Reichheld 2003; value calibrated so that typical journey customers "
            "are promoters and typical funnel customers are not (facts 4, 6)"
        ),
        symbol="theta_P",
        basis="calibrated",
        plausible=(0.7, 0.9),
        calibrated_to=("fact 4", "fact 6"),
    ),
    "market.detractor_threshold": FieldDoc(
        label="detractor threshold",
        meaning="satisfaction at or below which a buyer who left warns others",
        unit="satisfaction S",
        typical="0.6",
        business="like a 0 to 6 of 10 in an NPS survey",
        source=(
            "categories: Reichheld 2003 (detractors rate 0–6 of 10); value calibrated (facts 4, 6)"
        ),
        symbol="theta_D",
        rule="<= `market.promoter_threshold`",
        basis="calibrated",
        plausible=(0.5, 0.7),
        calibrated_to=("fact 4", "fact 6"),
    ),
    "market.reputation_prior": FieldDoc(
        label="reputation inertia",
        meaning="shrinks reputation (P - D) / (P + D + k0) toward 0 while few have spoken",
        unit="buyers",
        typical="20",
        business="20: reputation moves halfway to the buyers' verdict once 20 have spoken",
        source="design choice",
        symbol="k0",
        basis="assumption",
        plausible=(5.0, 50.0),
    ),
    "market.deal_value": FieldDoc(
        label="deal value",
        meaning="revenue of one closed deal",
        unit="revenue units",
        typical="1 (the unit of account)",
        business="set it to the margin of a deal to read revenue in money",
        source="scenario design (unit of account)",
    ),
    "market.currency": FieldDoc(
        label="currency",
        meaning="currency of deal_value, written with revenue in reports",
        unit="a symbol or code (€, USD)",
        typical="empty (revenue counted in deal units), €, USD",
        business="set it with deal_value to read revenue as money (€1.2M)",
        source="scenario design (unit of account)",
    ),
    "market.margin": FieldDoc(
        label="margin per deal",
        meaning="share of revenue kept after the cost of delivering a deal",
        unit="share 0-1",
        typical="0.2 (a developer's gross margin)",
        business=(
            "with cost_per_lead, decks show the contribution: revenue x margin minus "
            "what the leads cost"
        ),
        default="none (no profit line is shown)",
        source="the client's accounts",
    ),
    "market.cost_per_lead": FieldDoc(
        label="cost per lead",
        meaning="what acquiring one lead costs, in deal_value's currency",
        unit="currency per lead",
        typical="150",
        business="decks show the cost per closed deal (CAC): leads x cost_per_lead / deals",
        default="none (no acquisition cost is shown)",
        source="the client's marketing spend / leads",
    ),
    # ------------------------------------------------------------------ trust
    "trust.prior_weight": FieldDoc(
        label="weight of first impressions",
        meaning="weight of the prior in subjective-logic trust",
        unit="observations",
        typical="2",
        business="2: a new buyer's trust moves halfway to the evidence after two observations",
        source="Jøsang 2016 (W = 2, non-informative prior)",
        symbol="W",
        basis="literature",
        plausible=(1.0, 4.0),
        range_note=(
            "Jøsang 2016 uses W = 2; 1 to 4 spans the priors used in beta reputation systems"
        ),
    ),
    "trust.base_rate": FieldDoc(
        label="starting trust",
        meaning=(
            "trust a new lead brings per layer (environment, rules, counterparty), before "
            "the shifts by reputation and affordance"
        ),
        unit="trust per layer",
        typical="[0.5, 0.5, 0.5]",
        business="[0.7, 0.7, 0.7]: a brand the market already trusts, as after a campaign",
        source="Jøsang 2016 (default base rate 1/2 for a binary frame)",
        symbol="a0_l",
        rule="three values, each in (0, 1)",
        basis="literature",
    ),
    "trust.success_evidence": FieldDoc(
        label="trust gained per smooth step",
        meaning="good evidence from a step that went right unchecked (split by the weights)",
        unit="observations",
        typical="1",
        business="one smooth step counts as one good observation",
        source="Jøsang 2016 (one observation = one unit of evidence)",
        symbol="w_s",
        basis="literature",
    ),
    "trust.verified_evidence": FieldDoc(
        label="trust gained per checked step",
        meaning="good evidence from a step the buyer checked and found right",
        unit="observations",
        typical="1.5",
        business="a passed check counts one and a half smooth steps",
        source="MODEL.md design choice; not from a source",
        symbol="w_v",
        basis="assumption",
        plausible=(1.0, 2.5),
    ),
    "trust.failure_evidence": FieldDoc(
        label="trust lost per incident",
        meaning="bad evidence from a failure that slipped through",
        unit="observations",
        typical="2.25",
        business="one failure outweighs 2.25 smooth steps",
        source=(
            "loss aversion 2.25, Tversky & Kahneman 1992 (applied to evidence as a "
            "negativity bias: a modelling assumption)"
        ),
        symbol="w_f",
        basis="assumption",
        plausible=(1.5, 3.0),
        range_note=(
            "loss aversion 1.3-2.5 (meta-analyses above) read as a negativity bias of "
            "evidence, widened to 3"
        ),
    ),
    "trust.caught_failure_scale": FieldDoc(
        label="trust lost per caught error",
        meaning="share of the failure evidence that a caught error costs",
        unit="share",
        typical="0.4",
        business="an error caught in time hurts trust 40% as much as one that slipped through",
        source="design choice, calibrated",
        symbol="s_c",
        basis="calibrated",
        plausible=(0.2, 0.7),
        calibrated_to=("pattern not recorded",),
    ),
    "trust.forgetting": FieldDoc(
        label="memory of past visits",
        meaning="share of evidence kept from one stage visit to the next (as the buyer acts)",
        unit="per stage visit",
        typical="0.97 per visit (a week in real estate, a day in the trial)",
        business="0.97 per visit: experience loses half its weight in about 23 visits",
        source=(
            "form: forgetting factor of the beta reputation system (Jøsang & Ismail 2002); "
            "value: MODEL.md design choice"
        ),
        symbol="lambda",
        basis="assumption",
        plausible=(0.9, 0.995),
        range_note="evidence half-lives of about 7 to 140 visits (weeks in real estate)",
    ),
    "trust.reputation_shift": FieldDoc(
        label="pull of reputation on new leads",
        meaning="shift of new leads' base rates per unit of reputation",
        unit="trust per unit of reputation (-1 to 1)",
        typical="0.2",
        business="a spotless reputation lifts a newcomer's starting trust by 0.2",
        source="calibrated",
        symbol="s_rep",
        basis="calibrated",
        plausible=(0.05, 0.4),
        calibrated_to=("pattern not recorded",),
    ),
    "trust.affordance_shift": FieldDoc(
        label="pull of verification support on new leads",
        meaning="shift of new leads' base rates per unit of mean affordance over all stages",
        unit="trust per unit of affordance",
        typical="0.1",
        business="an offer where every step can be checked lifts starting trust by 0.1",
        source=(
            "direction: institution-based trust (McKnight et al. 1998; Pavlou & Gefen 2004); "
            "value calibrated"
        ),
        symbol="s_aff",
        basis="calibrated",
        plausible=(0.0, 0.2),
        calibrated_to=("pattern not recorded",),
    ),
    # ------------------------------------------------------------------ choice
    "choice.temperature": FieldDoc(
        label="noise in choices",
        meaning="noise of choices (logit temperature)",
        unit="utility",
        typical="0.5",
        business="0.5: an option better by 1 utility is chosen e^2 = 7 times as often",
        source="calibrated",
        symbol="tau",
        basis="calibrated",
        plausible=(0.25, 1.0),
        calibrated_to=("pattern not recorded",),
    ),
    "choice.proceed_nest": FieldDoc(
        label="closeness of delegating and checking",
        meaning=(
            "nest parameter of going on (delegate or verify) against walking away: 1 is a "
            "flat logit, lower values make the two ways to go on closer substitutes"
        ),
        unit="share of the logit temperature",
        typical="0.5",
        business=(
            "0.5: a buyer denied one way to go on mostly takes the other; at 1 the denied "
            "share splits between the other way and walking away as their shares stand"
        ),
        source=(
            "form: nested logit (Train 2009, Discrete Choice Methods with Simulation, ch. 4; "
            "lambda in (0, 1] for consistency with utility maximisation); value assumed"
        ),
        symbol="lambda",
        basis="assumption",
        plausible=(0.3, 1.0),
        range_note=(
            "Train 2009 ch. 4: lambda in (0, 1]; estimated nest parameters for alternatives "
            "that share a purpose typically lie between 0.3 and 0.8"
        ),
    ),
    "choice.trust_weight": FieldDoc(
        label="weight of trust in choices",
        meaning="weight of trust in the utility of handing a step to the service",
        unit="utility per unit of trust",
        typical="2",
        business="0.1 more trust at a stage adds 0.2 utility to delegating it",
        source="calibrated",
        symbol="bT",
        basis="calibrated",
        plausible=(1.0, 3.0),
        calibrated_to=("pattern not recorded",),
    ),
    "choice.risk_weight": FieldDoc(
        label="weight of risk in choices",
        meaning="weight of perceived risk in the utilities of delegating and checking",
        unit="utility per unit of perceived risk",
        typical="3",
        business="felt risk counts one and a half times as much as trust",
        source="calibrated",
        symbol="bR",
        basis="calibrated",
        plausible=(2.0, 4.0),
        calibrated_to=("pattern not recorded",),
    ),
    "choice.uncertainty_weight": FieldDoc(
        label="aversion to uncertainty",
        meaning="how much uncertainty (too little evidence) adds to perceived risk",
        unit="risk per unit of uncertainty",
        typical="0.5",
        business="a newcomer's not-knowing counts half as much as distrust",
        source="calibrated",
        symbol="zeta",
        basis="calibrated",
        plausible=(0.0, 1.0),
        calibrated_to=("pattern not recorded",),
    ),
    "choice.structural_assurance": FieldDoc(
        label="reassurance from verification support",
        meaning="share of perceived risk removed by a full affordance, used or not",
        unit="share",
        typical="0.6",
        business="with a full affordance buyers feel 60% less risk even if they never check",
        source=(
            "form: Castelfranchi & Falcone 2000; McKnight et al. 1998; Pavlou & Gefen 2004; "
            "value calibrated (fact 2)"
        ),
        symbol="sigma",
        basis="calibrated",
        plausible=(0.3, 0.8),
        calibrated_to=("fact 2",),
    ),
    "choice.detection": FieldDoc(
        label="chance a check catches an error",
        meaning="chance that a skilled buyer's check with a full affordance catches an error",
        unit="probability",
        typical="0.9",
        business="an independent inspection catches 9 defects in 10",
        source="design choice",
        symbol="q0",
        basis="assumption",
        plausible=(0.7, 0.99),
    ),
    "choice.outside_means": FieldDoc(
        label="checks without the service",
        meaning="effectiveness of a check without the service's affordance (outside means)",
        unit="share of a full check",
        typical="0.3",
        business="checking on one's own (calling the bank, asking a friend) is 30% as good",
        source="design choice",
        symbol="e_ext",
        basis="assumption",
        plausible=(0.1, 0.5),
    ),
    "choice.verification_cost": FieldDoc(
        label="effort of checking",
        meaning="effort of checking a step, before skill and affordance",
        unit="utility",
        typical="0.6",
        business="an average checker without help pays 0.6 utility: as much as 0.3 of trust",
        source="calibrated",
        symbol="cv",
        basis="calibrated",
        plausible=(0.3, 1.0),
        calibrated_to=("pattern not recorded",),
    ),
    "choice.affordance_cost_relief": FieldDoc(
        label="effort saved by verification support",
        meaning="share of the effort of checking that a full affordance removes",
        unit="share",
        typical="0.6",
        business="a full affordance makes checking 60% cheaper",
        source="calibrated",
        symbol="theta",
        basis="calibrated",
        plausible=(0.3, 0.8),
        calibrated_to=("pattern not recorded",),
    ),
    "choice.control_weight": FieldDoc(
        label="weight of control need",
        meaning="weight of control need times stake in the utility of checking",
        unit="utility",
        typical="2.5",
        business="why buyers who trust still check a high-stakes step themselves",
        source=(
            "form: trust and control (Castelfranchi & Falcone 2000), direction: Hoesterey & "
            "Onnasch 2022; value calibrated for fact 1 (high-trust buyers mostly verify at "
            "full stake)"
        ),
        symbol="bC",
        basis="calibrated",
        plausible=(1.5, 3.5),
        calibrated_to=("fact 1",),
    ),
    "choice.verify_trust_share": FieldDoc(
        label="trust kept when checking",
        meaning="how far a buyer who checks still relies on trust",
        unit="share",
        typical="0.5",
        business="a checker counts half of its trust; the check covers the rest",
        source="calibrated for fact 1 (negative trust effect on verifying), see section 8 item 2",
        symbol="omega",
        basis="calibrated",
        plausible=(0.25, 0.75),
        calibrated_to=("fact 1",),
    ),
    "choice.exit_bias": FieldDoc(
        label="pull of walking away",
        meaning="base utility of walking away, before competition, reactance and waiting",
        unit="utility",
        typical="-1.5",
        business="more negative: a more loyal pipeline; with competition it sets the base churn",
        source="calibrated (conversion levels)",
        symbol="b0",
        basis="calibrated",
        plausible=(-2.5, -0.5),
        calibrated_to=("conversion levels",),
    ),
    "choice.reactance_weight": FieldDoc(
        label="push out by reactance",
        meaning="how strongly accumulated reactance pushes a buyer out",
        unit="utility per unit of reactance",
        typical="3",
        business="how much irritation at pushing turns into leaving",
        source=(
            "form: Brehm 1966; value calibrated so that aggressive pressure lowers "
            "short-horizon conversion (fact 4)"
        ),
        symbol="g",
        basis="calibrated",
        plausible=(1.5, 4.5),
        calibrated_to=("fact 4",),
    ),
    "choice.pressure_push": FieldDoc(
        label="hold of pressure on leaving",
        meaning="how strongly pressure at a stage holds buyers back from leaving now",
        unit="utility per unit of pressure",
        typical="1.5",
        business="pressure 0.5 lowers the pull to leave by 0.75 utility at that step",
        source=(
            "direction: Luguri & Strahilevitz 2021 (dark patterns raise immediate "
            "acceptance); value calibrated so that funnel pressure raises short-horizon "
            "conversion (fact 4)"
        ),
        symbol="pi",
        basis="calibrated",
        plausible=(0.75, 2.25),
        calibrated_to=("fact 4",),
    ),
    "choice.impatience": FieldDoc(
        label="impatience when waiting",
        meaning="pull out per visit to a stage that did not complete it, times 1 - patience",
        unit="utility per visit waited",
        typical="0.15",
        business="a buyer of patience 0.5 on a 5th visit feels 0.3 utility more pull to leave",
        source="calibrated",
        symbol="eta",
        basis="calibrated",
        plausible=(0.05, 0.3),
        calibrated_to=("pattern not recorded",),
    ),
    # ------------------------------------------------------------------ outcomes
    "outcomes.collapse": FieldDoc(
        label="chance an incident ends the deal",
        meaning="chance that a failure which slipped through ends the deal, at stake 1",
        unit="probability at stake 1 (linear in stake)",
        typical="0.3",
        business="a failed contract step kills 3 deals in 10; at stake 0.1, 3 in 100",
        source="design choice",
        symbol="c_max",
        basis="assumption",
        plausible=(0.1, 0.5),
    ),
    "outcomes.verification_delay": FieldDoc(
        label="delay caused by checking",
        meaning="chance that a checked step takes another step, times 1 - affordance",
        unit="probability",
        typical="0.5",
        business="checking without help delays every second step; a full affordance, none",
        source="design choice",
        symbol="d",
        basis="assumption",
        plausible=(0.2, 0.8),
    ),
    # ------------------------------------------------------------------ reactance
    "reactance.decay": FieldDoc(
        label="persistence of reactance",
        meaning="share of reactance carried over to the next stage visit",
        unit="per stage visit",
        typical="0.5",
        business="irritation at being pushed halves from one visit to the next",
        source="form: Brehm 1966; value calibrated",
        symbol="delta",
        basis="calibrated",
        plausible=(0.3, 0.8),
        calibrated_to=("pattern not recorded",),
    ),
    "reactance.forced_weight": FieldDoc(
        label="reactance from forced steps",
        meaning="reactance from a forced step, times control need",
        unit="reactance",
        typical="0.15",
        business="how much a sign-up wall irritates those who like to be in control",
        source="calibrated (fact 4, forced steps in the funnels)",
        symbol="f",
        basis="calibrated",
        plausible=(0.05, 0.3),
        calibrated_to=("fact 4",),
    ),
    # ------------------------------------------------------------------ satisfaction
    "satisfaction.initial": FieldDoc(
        label="starting satisfaction",
        meaning="satisfaction of a new lead",
        unit="satisfaction S",
        typical="0.7",
        business="the goodwill a newcomer starts with",
        source="design choice",
        symbol="S0",
        basis="assumption",
        plausible=(0.6, 0.8),
    ),
    "satisfaction.smoothing": FieldDoc(
        label="weight of the latest experience",
        meaning="weight of the newest experience in the running judgement",
        unit="share",
        typical="0.3",
        business="the last step counts 30%, the one before 21%, and so on",
        source="design choice",
        symbol="alpha",
        basis="assumption",
        plausible=(0.15, 0.5),
    ),
    "satisfaction.baseline": FieldDoc(
        label="experience of a plain step",
        meaning="experience of a plain step that goes as expected",
        unit="experience",
        typical="0.85",
        business="a smooth, unremarkable step",
        source="calibrated, together with the NPS cut-offs 0.8/0.6 (facts 4, 6)",
        symbol="E0",
        basis="calibrated",
        plausible=(0.8, 0.9),
        calibrated_to=("fact 4", "fact 6"),
    ),
    "satisfaction.surprise_weight": FieldDoc(
        label="weight of surprises",
        meaning="weight of outcome minus expectation in the experience",
        unit="experience per unit of surprise",
        typical="0.5",
        business="how much beating or missing expectations matters",
        source=(
            "form: Oliver 1980; value calibrated so a trust campaign does not lower "
            "satisfaction merely by raising expectations (section 8 item 4)"
        ),
        symbol="g_s",
        basis="calibrated",
        plausible=(0.25, 1.0),
        calibrated_to=("a trust campaign does not lower satisfaction (section 8 item 4)",),
    ),
    "satisfaction.loss_aversion": FieldDoc(
        label="loss aversion",
        meaning="weight of worse-than-expected against better-than-expected",
        unit="ratio",
        typical="2.25",
        business="a disappointment weighs 2.25 times an equal pleasant surprise",
        source="Tversky & Kahneman 1992",
        symbol="L",
        basis="literature",
        plausible=(1.3, 2.5),
        range_note=(
            "meta-analyses: 1.31 (Walasek, Mullett & Stewart 2024) to 1.955, 95% CI "
            "1.82-2.10 (Brown, Imai, Vieider & Camerer 2024); 2.25 (Tversky & Kahneman "
            "1992) at the top"
        ),
    ),
    "satisfaction.caught_outcome": FieldDoc(
        label="experience of a caught error",
        meaning="outcome of an error the buyer caught (success 1, failure 0)",
        unit="outcome",
        typical="0.6",
        business="a caught error feels 60% as good as a step that went right",
        source="design choice",
        symbol="o_c",
        basis="assumption",
        plausible=(0.4, 0.8),
    ),
    "satisfaction.incident_loss": FieldDoc(
        label="experience lost per incident",
        meaning="experience lost to a failure that slipped through, per unit of stake",
        unit="experience per unit of stake",
        typical="0.3",
        business="a failure at the contract (stake 1) costs 0.3 of that step's experience",
        source="design choice",
        symbol="l_w",
        basis="assumption",
        plausible=(0.1, 0.5),
    ),
    "satisfaction.anxiety_penalty": FieldDoc(
        label="cost of anxiety",
        meaning="weight of perceived risk in the experience",
        unit="experience per unit of risk",
        typical="0.5",
        business="worry spoils a step even when it goes right",
        source=(
            "form: structural assurance (McKnight et al. 1998; Pavlou & Gefen 2004); value "
            "calibrated (fact 2)"
        ),
        symbol="a_w",
        basis="calibrated",
        plausible=(0.25, 0.75),
        calibrated_to=("fact 2",),
    ),
    "satisfaction.effort_weight": FieldDoc(
        label="cost of checking effort",
        meaning="weight of checking effort in the experience, times 1 - control need",
        unit="experience per unit of effort",
        typical="0.3",
        business="checking is a chore mainly for those who would rather not",
        source="design choice",
        symbol="e_w",
        basis="assumption",
        plausible=(0.1, 0.5),
    ),
    "satisfaction.pressure_penalty": FieldDoc(
        label="cost of pressure",
        meaning="weight of reactance propensity times pressure squared in the experience",
        unit="experience",
        typical="0.4",
        business="aggressive pushing spoils the step for those who resist it",
        source=(
            "direction: Zboja et al. 2016 (aggressive pressure lowers satisfaction and "
            "trust); value calibrated (fact 4)"
        ),
        symbol="p_w",
        basis="calibrated",
        plausible=(0.2, 0.6),
        calibrated_to=("fact 4",),
    ),
    "satisfaction.forced_penalty": FieldDoc(
        label="cost of forced steps",
        meaning="weight of control need at a forced step in the experience",
        unit="experience",
        typical="1.0",
        business="a buyer with control need 0.6 loses 0.6 of experience at a forced step",
        source="calibrated (fact 4, delivery trial: forced registration and account, essay 001)",
        symbol="f_w",
        basis="calibrated",
        plausible=(0.5, 1.5),
        calibrated_to=("fact 4",),
    ),
    # ------------------------------------------------------------------ repeat
    "repeat.rate": FieldDoc(
        label="repeat-purchase rate",
        meaning=(
            "repeat purchases per day by a customer of satisfaction 1; r * days per step "
            "is the chance per step (at most 1)"
        ),
        unit="per day",
        typical="0 (none); 0.08 per day for the delivery trial",
        business="0.08 per day: a delighted customer reorders about every 12 days",
        source="scenario design (delivery trial: 0.08 per day)",
        rule="times the step's length in days at most 1",
        symbol="r_max",
    ),
    "repeat.threshold": FieldDoc(
        label="satisfaction needed to buy again",
        meaning="satisfaction below which a customer never buys again",
        unit="satisfaction S",
        typical="0.5",
        business="below this the customer is lost for repeat business",
        source="design choice",
        symbol="s0",
        basis="assumption",
        plausible=(0.3, 0.7),
    ),
    "repeat.value": FieldDoc(
        label="value of a repeat purchase",
        meaning="revenue of one repeat purchase",
        unit="revenue units",
        typical="0 (none); 0.5 for the delivery trial",
        business="0.5: a reorder is worth half a first deal",
        source="scenario design (delivery trial: 0.5)",
    ),
    # ------------------------------------------------------------------ segments
    f"segments.{NAME}.label": FieldDoc(
        label="persona display name",
        meaning="display name of the segment in charts and decks",
        unit="text, any alphabet, up to 200 characters",
        typical='"First-time buyers", "Покупатели первой квартиры"',
        business="the persona's name as the client says it",
        default="none (the table name, underscores as spaces)",
    ),
    f"segments.{NAME}.share": FieldDoc(
        label="share of the market",
        meaning="share of potential buyers in this segment",
        unit="share of the market",
        typical="0.2 to 0.6",
        business="0.2: one buyer in five is like this persona",
        source="scenario design",
        rule="shares of all segments sum to 1",
    ),
    f"segments.{NAME}.risk_aversion": FieldDoc(
        label="risk aversion",
        meaning="how strongly the stake at risk is felt",
        unit="trait",
        typical="0.4 (investors) to 0.7 (first-time buyers)",
        business="high: afraid of losing the money or the home",
        source="scenario design (personas)",
        symbol="ra",
    ),
    f"segments.{NAME}.control_need": FieldDoc(
        label="need for control",
        meaning="wish to keep control of a step (do or check it oneself)",
        unit="trait",
        typical="0.4 to 0.7",
        business="high: wants to see the documents before signing, whatever the trust",
        source="scenario design",
        symbol="c",
    ),
    f"segments.{NAME}.verification_skill": FieldDoc(
        label="checking skill",
        meaning="ability to check a step: detection chance and effort",
        unit="trait",
        typical="0.35 (first-time buyers) to 0.75 (investors)",
        business="high: knows what to look for (a mechanic, a lawyer, a seasoned investor)",
        source="scenario design",
        symbol="C",
    ),
    f"segments.{NAME}.reactance": FieldDoc(
        label="reactance to pressure",
        meaning="reactance propensity: sensitivity to pressure",
        unit="trait",
        typical="0.5 to 0.6",
        business="high: pushes back when pushed ('offer ends tonight' drives them away)",
        source="scenario design",
        symbol="k",
    ),
    f"segments.{NAME}.patience": FieldDoc(
        label="patience",
        meaning="tolerance of steps spent waiting at a stage",
        unit="trait",
        typical="0.3 to 0.6",
        business="low: leaves when a step drags on",
        source="scenario design",
    ),
    f"segments.{NAME}.{TRAIT}.dist": FieldDoc(
        label="distribution",
        meaning="kind of distribution of the trait among the segment's buyers (ODD 7.11)",
        unit="name",
        typical='"beta"',
        business="beta by mean and concentration fits most personas",
    ),
    f"segments.{NAME}.{TRAIT}.mean": FieldDoc(
        label="mean",
        meaning="mean of the trait in the segment (beta, normal)",
        unit="trait",
        typical="0.3 to 0.75",
        business="the typical member of the persona",
    ),
    f"segments.{NAME}.{TRAIT}.concentration": FieldDoc(
        label="concentration",
        meaning="a + b of the beta: how alike the segment's buyers are",
        unit="pseudo-observations",
        typical="10 (sd 0.15 at mean 0.5)",
        business="higher: a tighter persona; at 10 most members lie within 0.3 of the mean",
    ),
    f"segments.{NAME}.{TRAIT}.low": FieldDoc(
        label="lowest value",
        meaning="lower bound of a uniform trait",
        unit="trait",
        typical="0.2",
        business="the least of the trait anyone in the persona has",
    ),
    f"segments.{NAME}.{TRAIT}.high": FieldDoc(
        label="highest value",
        meaning="upper bound of a uniform trait",
        unit="trait",
        typical="0.8",
        business="the most of the trait anyone in the persona has",
        rule=">= low",
    ),
    f"segments.{NAME}.{TRAIT}.sd": FieldDoc(
        label="spread",
        meaning="standard deviation of a normal trait (draws clipped to [0, 1])",
        unit="trait",
        typical="0.1 to 0.2",
        business="how much the persona's members differ",
        rule="<= sqrt(mean * (1 - mean)), the most any trait on [0, 1] can spread",
    ),
    f"segments.{NAME}.{TRAIT}.value": FieldDoc(
        label="value",
        meaning="the trait of every buyer in the segment (constant)",
        unit="trait",
        typical="0.5",
        business="a persona whose members are all alike in this trait",
    ),
    # ------------------------------------------------------------------ stages
    f"stages.{NAME}.label": FieldDoc(
        label="stage display name",
        meaning="display name of the stage in charts and decks",
        unit="text, any alphabet, up to 200 characters",
        typical='"Contract signing", "Подписание договора"',
        business="the step as the client's customers know it",
        default="none (the table name, underscores as spaces)",
    ),
    f"stages.{NAME}.stake": FieldDoc(
        label="stake",
        meaning="what is at risk for the buyer at this step",
        unit="share of what the buyer can lose",
        typical="0.05 (a menu) to 1 (contract, payment)",
        business="1: the buyer's money or home is on the line",
        source="scenario design",
        symbol="x_k",
    ),
    f"stages.{NAME}.reliability": FieldDoc(
        label="service reliability",
        meaning="chance that the service does the step right",
        unit="probability",
        typical="0.9 to 0.99",
        business="0.93: 7 steps in 100 have an error (a wrong document, a late car)",
        source="scenario design",
        symbol="rho_k",
    ),
    f"stages.{NAME}.weights": FieldDoc(
        label="trust layers tested",
        meaning=(
            "how much the step tests trust in the environment (platform, technology), the "
            "rules (contracts, law, guarantees) and the counterparty (seller, agent)"
        ),
        unit="shares [environment, rules, counterparty]",
        typical="[0.6, 0.2, 0.2] at search; [0.1, 0.5, 0.4] at a contract",
        business="a handover tests the seller: [0.1, 0.2, 0.7]",
        source="scenario design (seed 000: three levels a buyer tests)",
        symbol="w_kl",
        rule="three values >= 0 summing to 1",
        default="[1/3, 1/3, 1/3]",
    ),
    f"stages.{NAME}.delegation": FieldDoc(
        label="delegation offered",
        meaning="the service offers to do the step for the buyer (delegating is possible)",
        unit="switch",
        typical="true",
        business="false: the buyer must check the step to go on, or leave",
        source="scenario design",
    ),
    f"stages.{NAME}.affordance": FieldDoc(
        label="verification support",
        meaning="share of the step the buyer can check through the service",
        unit="share of the step",
        typical="0 (nothing to check) to 0.9",
        business="0.9: an independent inspection report on every listing; 0.5: photos, reviews",
        source="scenario design",
        symbol="A_k",
    ),
    f"stages.{NAME}.pressure": FieldDoc(
        label="sales pressure",
        meaning="urgency, time-limited offers and nudges at the step",
        unit="intensity",
        typical="0.1 (mild) to 0.5 (a funnel)",
        business="0.5: 'two others are looking at this car, offer ends tonight' on every page",
        source="scenario design",
        symbol="phi_k",
    ),
    f"stages.{NAME}.forced": FieldDoc(
        label="forced step",
        meaning="the buyer cannot check or skip the step: the service does it",
        unit="switch",
        typical="false",
        business="true: a sign-up wall, electronic-only signing, payment only in the app",
        source="scenario design",
        rule="needs `delegation = true`",
    ),
    f"stages.{NAME}.competition": FieldDoc(
        label="competition",
        meaning="pull of outside options at this stage, added to the utility of leaving",
        unit="utility",
        typical="3 at search, 0.5 at a viewing, 0 once committed",
        business=(
            "in real-estate, 1 / 3 / 5 at the first stage make about 3% / 68% / 99% of the "
            "choices there a walk-away (other marketplaces a click away: 3)"
        ),
        source="scenario design; the built-in values are calibrated (browsing at the first stages)",
        symbol="kappa_k",
    ),
    f"stages.{NAME}.duration": FieldDoc(
        label="visit length",
        meaning=(
            "how long one visit to the stage lasts; the buyer acts (chooses, the stage "
            "resolves, it moves on, retries or leaves) once per visit, as the visit ends"
        ),
        unit="days",
        typical="7 (real estate: a week a stage); 1 (the delivery trial)",
        business="a viewing or a contract takes about a week; a trial's menu or payment a day",
        # The ranges are `trustsim.robustness.durations.PLAUSIBLE_DAYS` (a test keeps
        # them equal); a study samples one length for every stage, in whole steps.
        source=(
            "assumption: the step length the model was calibrated at (a week per "
            "real-estate stage, a day per trial stage); plausibly 3 to 21 days a "
            "real-estate stage, 0.25 to 3 days a trial stage (sampled by "
            "`trustsim robustness`, section 9.12)"
        ),
        symbol="D_k",
        rule="a whole number of steps, at least one (`time.step_unit`)",
    ),
}

SECTIONS = (
    ("", "9.1 Scenario (top level)"),
    ("time", "9.2 Time"),
    ("market", "9.3 Market"),
    ("trust", "9.4 Trust"),
    ("choice", "9.5 Choice"),
    ("outcomes", "9.6 Outcomes"),
    ("reactance", "9.7 Reactance"),
    ("satisfaction", "9.8 Satisfaction"),
    ("repeat", "9.9 Repeat purchase"),
    ("segments", "9.10 Segments and traits"),
    ("stages", "9.11 Stages"),
)


# ---------------------------------------------------------------------- the schema walk
@dataclass(frozen=True)
class SchemaField:
    """One field of the scenario schema at its generic path."""

    path: str
    info: FieldInfo
    table: type[BaseModel] | None  # the model of a table field, else None

    @property
    def doc(self) -> FieldDoc:
        return FIELDS[self.path]


def _submodel(annotation) -> tuple[type[BaseModel] | None, bool]:
    """The pydantic model inside an annotation, and whether it is the value of a dict."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is dict and len(args) == 2:
        return _submodel(args[1])[0], True
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            model, keyed = _submodel(arg)
            if model is not None:
                return model, keyed
    return None, False


def schema_fields(model: type[BaseModel] = Scenario, prefix: str = "") -> Iterator[SchemaField]:
    """Every field of the schema, depth first, at its generic path.

    The parameters of the five trait distributions are the same fields, so they are
    walked once, under `segments.<name>.<trait>`, after the traits.
    """
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        table, keyed = _submodel(info.annotation)
        yield SchemaField(path, info, table)
        if keyed:
            yield from schema_fields(table, f"{path}.{NAME}.")
        elif table is not None and model is not Segment:
            yield from schema_fields(table, f"{path}.")
    if model is Segment:
        yield from schema_fields(Distribution, f"{prefix}{TRAIT}.")


@functools.cache
def _by_path() -> dict[str, SchemaField]:
    return {field.path: field for field in schema_fields()}


def schema_field(path: str) -> SchemaField:
    """The schema field at a generic path (KeyError if there is none)."""
    return _by_path()[path]


# ---------------------------------------------------------------------- range and default
def _number(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) >= 10_000:
            return f"{int(value):,}"
        return f"{value:g}"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_number(v) for v in value) + "]"
    if isinstance(value, Distribution):
        params = value.model_dump(exclude_none=True, exclude={"dist"})
        return ", ".join([value.dist, *(f"{k} {_number(v)}" for k, v in params.items())])
    return str(value)


def allowed_range(field: SchemaField) -> str:
    """The allowed values, read from the schema's bounds, plus the field's extra rule.

    Empty for free text and for a table without a rule of its own.
    """
    annotation = field.info.annotation
    low = high = None
    for item in field.info.metadata:
        if isinstance(item, annotated_types.Ge):
            low = f"[{_number(item.ge)}"
        elif isinstance(item, annotated_types.Gt):
            low = f"({_number(item.gt)}"
        elif isinstance(item, annotated_types.Le):
            high = f"{_number(item.le)}]"
        elif isinstance(item, annotated_types.Lt):
            high = f"{_number(item.lt)})"
    if typing.get_origin(annotation) is typing.Literal:
        text = "one of " + ", ".join(typing.get_args(annotation))
    elif field.path == "name":
        text = "letters, digits, -, _, . (not first); at most 100"
    elif field.table is Distribution:
        text = "a distribution on [0, 1]: { dist = ..., and its parameters }"
    elif annotation is bool:
        text = "true or false"
    elif low and high:
        text = f"{low}, {high}"
    elif low:
        text = (">= " if low[0] == "[" else "> ") + low[1:]
    elif high:
        text = ("<= " if high[-1] == "]" else "< ") + high[:-1]
    else:
        text = ""
    return "; ".join(part for part in (text, field.doc.rule) if part)


def unit_and_range(field: SchemaField) -> str:
    """Unit, then allowed values: the "Unit / range" of docs/ODD.md."""
    return "; ".join(part for part in (field.doc.unit, allowed_range(field)) if part)


def default_text(field: SchemaField) -> str:
    """The default as read from the schema (or as the reference writes it)."""
    if field.doc.default:
        return field.doc.default
    if field.info.is_required():
        return "required"
    if field.table is not None and field.table is not Distribution:
        return "table"
    value = field.info.get_default(call_default_factory=True)
    return "none" if value is None else _number(value)


# ---------------------------------------------------------------------- lookup
def generic_path(text: str) -> str:
    """The generic path of a concrete one: `stages.contract.stake` -> `stages.<name>.stake`.

    A path without the name (`stages.stake`, `segments.risk_aversion.mean`) is read as
    the field of any stage or segment.
    """
    parts = text.strip().split(".")
    if parts[0] not in NAMED_TABLES or len(parts) == 1:
        return ".".join(parts)
    member = Stage if parts[0] == "stages" else Segment
    without_name = (len(parts) == 2 and parts[1] in member.model_fields) or (
        len(parts) == 3 and parts[0] == "segments" and parts[1] in TRAITS
    )
    if without_name:
        parts.insert(1, NAME)
    else:
        parts[1] = NAME
    if parts[0] == "segments" and len(parts) == 4 and parts[2] in TRAITS:
        parts[2] = TRAIT
    return ".".join(parts)


def lookup(query: str) -> list[str]:
    """The generic paths a query names: a field, a table (with all its fields) or a leaf.

    Raises:
        TrustsimInputError: for a query that names no field, with the closest paths.
    """
    known = [*DIRECTIVES, *(field.path for field in schema_fields())]
    path = generic_path(query)
    within = [p for p in known if p == path or p.startswith(path + ".")]
    if within:
        return within
    leaf = query.strip().rsplit(".", 1)[-1]
    same_leaf = [p for p in known if p.rsplit(".", 1)[-1] == leaf]
    if same_leaf and "." not in query.strip():
        return same_leaf
    leaves = {p.rsplit(".", 1)[-1] for p in known}
    close = difflib.get_close_matches(path, known, n=2, cutoff=0.7)
    if not close:
        for match in difflib.get_close_matches(leaf, leaves, n=2):
            close += [p for p in known if p.rsplit(".", 1)[-1] == match]
    hint = f" Did you mean {', '.join(list(dict.fromkeys(close))[:4])}?" if close else ""
    raise TrustsimInputError(
        f"explain {query!r}: no such scenario field.{hint} "
        "`trustsim scenarios explain` lists every field."
    )


def field_symbol_unit(path: str) -> tuple[str, str]:
    """(symbol, unit) of the field at a concrete path; ("", "") where the reference lacks it.

    Example:
        >>> field_symbol_unit("choice.reactance_weight")[0]
        'g'
    """
    doc = FIELDS.get(generic_path(path))
    return (doc.symbol, doc.unit) if doc else ("", "")


def field_label(path: str, scenario: Scenario | None = None) -> str:
    """A field's display name at a concrete path, for chart axes and sentences.

    The field's `label` in the reference, with the stage or segment it belongs to (by
    its display name in `scenario`, where given and it has one); a path the reference
    does not know reads as its words.

    Example:
        >>> field_label("stages.contract.affordance"), field_label("choice.verification_cost")
        ('verification support at contract', 'effort of checking')
        >>> field_label("segments.first_time.risk_aversion.mean")
        'risk aversion (first time, mean)'
        >>> field_label("stages.*.duration")  # `*`: every stage, as in `--set`
        'visit length at every stage'
    """
    parts = path.strip().split(".")
    doc = FIELDS.get(generic_path(path))
    if doc is None or not doc.label:
        named = parts[1:] if parts[0] in NAMED_TABLES and len(parts) > 2 else parts
        return " ".join(named).replace("_", " ")
    if parts[0] == "stages" and len(parts) == 3:
        known = scenario is not None and parts[1] in scenario.stages
        stage = scenario.stage_label(parts[1]) if known else parts[1].replace("_", " ")
        return f"{doc.label} at {'every stage' if parts[1] == '*' else stage}"
    if parts[0] == "segments" and len(parts) >= 3:
        known = scenario is not None and parts[1] in scenario.segments
        segment = scenario.segment_label(parts[1]) if known else parts[1].replace("_", " ")
        if len(parts) == 4:
            trait = FIELDS[f"segments.{NAME}.{parts[2]}"].label
            return f"{trait} ({segment}, {doc.label})"
        return f"{doc.label} ({segment})"
    return doc.label


# ---------------------------------------------------------------------- rendering
def describe(path: str) -> str:
    """Everything the reference says about one field, as an indented block."""
    if path in DIRECTIVES:
        doc, allowed, default = DIRECTIVES[path], DIRECTIVES[path].unit, DIRECTIVES[path].default
        kind = "file directive (not a field of the resolved scenario)"
    else:
        field = schema_field(path)
        doc, allowed, default = field.doc, allowed_range(field) or "any", default_text(field)
        kind = f"symbol {doc.symbol}" if doc.symbol else ""
    rows = [
        ("Meaning", doc.meaning),
        ("Unit", doc.unit),
        ("Allowed", allowed),
        ("Default", default),
        ("Typical", doc.typical),
        ("Reading", doc.business),
        ("Source", doc.source),
    ]
    head = f"{path}" + (f"  ({kind})" if kind else "")
    body = [_wrap(text, f"  {label + ':':<9} ", " " * 12) for label, text in rows]
    return "\n".join([head, *body])


def _wrap(text: str, first: str, rest: str) -> str:
    return textwrap.fill(text, WIDTH, initial_indent=first, subsequent_indent=rest)


def overview() -> str:
    """One line per field: path, default, allowed values and meaning, by section."""

    def entry(path: str, meaning: str) -> str:
        return _wrap(meaning, f"  {path:<32} ", " " * 35)

    lines = ["File directives"]
    lines += [entry(path, doc.meaning) for path, doc in DIRECTIVES.items()]
    for prefix, title in SECTIONS:
        lines += ["", title.split(" ", 1)[1]]
        lines += [entry(field.path, field.doc.meaning) for field in section_fields(prefix)]
    lines += ["", "`trustsim scenarios explain FIELD` adds unit, range, typical values, reading."]
    return "\n".join(lines)


def comment(path: str, *, with_default: bool = False) -> list[str]:
    """Comment lines for a field in a TOML file: meaning, then (unit; allowed values).

    A table gets its meaning only; a path that is no field (a stage's own table) nothing.
    """
    if path in DIRECTIVES:
        doc = DIRECTIVES[path]
        text = f"{doc.meaning} ({doc.unit})"
    elif (field := _by_path().get(path)) is None:
        return []
    elif field.table is not None and field.table is not Distribution:
        text = field.doc.meaning
    else:
        extra = f"; default {default_text(field)}" if with_default else ""
        text = f"{field.doc.meaning} ({unit_and_range(field)}{extra})"
    return textwrap.wrap(text, 88, initial_indent="# ", subsequent_indent="#   ")


def section_fields(prefix: str) -> list[SchemaField]:
    def in_section(path: str) -> bool:
        head = path.split(".")[0]
        if not prefix:
            return "." not in path
        return head == prefix and path != prefix

    return [field for field in schema_fields() if in_section(field.path)]

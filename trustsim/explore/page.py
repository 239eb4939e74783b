"""The `trustsim explore` page: controls on the left, live results on the right.

Run by Streamlit from `trustsim/explore/app.py`; every change of a control reruns this
script top to bottom. The runs are cached by scenario, so only a change that alters a
scenario simulates again. Every problem becomes a message on the page: a bad value next
to its control, anything unexpected as one line at the top (its traceback goes to the
server's console, not to the page).
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from trustsim.errors import TrustsimInputError
from trustsim.explore import controls as ctl
from trustsim.explore import views
from trustsim.metrics import METRICS
from trustsim.scenarios import Scenario

log = logging.getLogger("trustsim.explore")
NO_COMPARISON = ""
FIRST_OPEN = ("market",)
HEADLINE_METRICS = ("closed_deals", "nps", "conversion", "wom_leads")


def main(args: list[str]) -> None:
    """Draw the page for `args` = [SCENARIO or RESULTS_DIR]; never show a traceback."""
    st.set_page_config(page_title="trustsim explore", layout="wide")
    try:
        target = args[0] if args else "real-estate"
        if Path(target).is_dir():
            results_page(target)
        else:
            scenario_page(target)
    except TrustsimInputError as exc:
        st.error(str(exc))
    except Exception as exc:  # the page never shows a traceback; the console gets it
        log.exception("trustsim explore failed")
        st.error(
            f"Something went wrong: {type(exc).__name__}: {exc}. The details are in the "
            "terminal running `trustsim explore`; change a value or reload the page."
        )


# ---------------------------------------------------------------- the scenario page
def scenario_page(start_ref: str) -> None:
    """Controls for `start_ref`, the runs of the edited scenario, and what to keep."""
    from trustsim.scenarios import load_scenario

    start = load_scenario(start_ref)
    st.title("trustsim explore")
    st.caption(
        f"Starting from **{start.name}**: {start.description} Move a control; the numbers "
        "and charts follow. Every run uses common random numbers, so the difference to the "
        "comparison is the effect of what you changed."
    )
    groups = ctl.all_groups(start)
    with st.sidebar:
        name, comparison_ref, replications, seed, slots = _sidebar(start, start_ref, groups)
    values = {c.key: st.session_state.get(c.key, c.value) for g in groups for c in g.controls}
    changes = ctl.changed_values(groups, values)
    edited, errors = ctl.resolve(start, changes, name)
    for loc, message in errors.items():
        slots[ctl.error_home(loc, list(slots))].error(message)
    if edited is None:
        st.warning("A value is refused; its message is shown next to it. Fix it to run again.")
        return
    comparison = _comparison(comparison_ref, start_ref)
    key = (
        edited.model_dump_json(),
        comparison.model_dump_json() if comparison is not None else None,
        replications,
        seed,
    )
    try:
        view = _cached_view(*key)
    except TrustsimInputError as exc:
        slots[("name",)].error(str(exc))
        st.warning("The page cannot run this; see the message in the side bar.")
        return
    _results(view, key)
    _journey(edited, seed)
    _keep(start_ref, changes, view, replications, seed)


def _sidebar(start, start_ref: str, groups: list[ctl.Group]):
    """The run settings and every group of controls, each followed by a slot for errors."""
    from trustsim.scenarios import builtin_names

    slots = {(): st.empty()}
    name = st.text_input(
        "Name of your version",
        value=f"{start.name}-explored",
        key="name",
        help="The name of the edited scenario in tables, saved files and the deck.",
    )
    slots[("name",)] = st.empty()
    options = [start_ref, *(n for n in builtin_names() if n != start_ref), NO_COMPARISON]
    comparison_ref = st.selectbox(
        "Compare with",
        options,
        key="compare",
        format_func=lambda ref: _comparison_label(ref, start_ref),
        help="Runs beside yours on the same random numbers; differences are paired.",
    )
    replications = st.slider(
        "Replications", 2, 20, 8, key="replications",
        help="Runs per scenario; 5-10 keep the page answering within a few seconds.",
    )  # fmt: skip
    seed = int(st.number_input("Seed", min_value=0, value=0, step=1, key="seed"))
    for group in groups:
        with st.expander(group.title, expanded=group.path == FIRST_OPEN):
            slots[group.path] = st.empty()
            for control in group.controls:
                _widget(control)
                slots[control.path] = st.empty()
    return name, comparison_ref, replications, seed, slots


def _comparison_label(ref: str, start_ref: str) -> str:
    if ref == NO_COMPARISON:
        return "nothing (this scenario alone)"
    return f"{ref} (as it started)" if ref == start_ref else ref


def _widget(control: ctl.Control) -> None:
    """A slider for a bounded field, a number box otherwise; the value lands in session state."""
    common = {"key": control.key, "help": control.help or None, "format": control.format}
    number = int if control.integer else float
    if control.bounded:
        st.slider(
            control.label, number(control.low), number(control.high), number(control.value),
            number(control.step), **common,
        )  # fmt: skip
    else:
        st.number_input(
            control.label, min_value=None if control.low is None else number(control.low),
            value=number(control.value), step=number(control.step), **common,
        )  # fmt: skip


def _comparison(ref: str, start_ref: str):
    """The comparison scenario, with a market the page can run (see PAGE_MAX_BUYERS)."""
    from trustsim.scenarios import load_scenario

    if ref == NO_COMPARISON:
        return None
    scenario = load_scenario(ref)
    if scenario.market.size > ctl.PAGE_MAX_BUYERS:
        scenario = load_scenario(scenario, [f"market.size={ctl.PAGE_MAX_BUYERS}"])
    return scenario


@st.cache_data(max_entries=32, show_spinner="Simulating…")
def _cached_view(edited_json: str, comparison_json: str | None, replications: int, seed: int):
    edited = Scenario.model_validate_json(edited_json)
    comparison = Scenario.model_validate_json(comparison_json) if comparison_json else None
    return views.run_view(edited, comparison, replications, seed, _cached_run)


@st.cache_data(max_entries=64, show_spinner=False, hash_funcs={Scenario: Scenario.model_dump_json})
def _cached_run(scenario: Scenario, replications: int, seed: int):
    return views.run_scenario(scenario, replications, seed)


def _results(view: views.View, key: tuple) -> None:
    """Headline numbers, the table behind them, and the charts."""
    run = view.result
    size = run.scenarios[view.edited].market.size
    st.caption(
        f"{len(run.names)} scenario(s) x {run.replications} replications of {size:,} buyers "
        f"over {run.scenarios[view.edited].time.steps} steps, seed {run.seed}: "
        f"{view.seconds:.1f} s."
    )
    columns = st.columns(len(HEADLINE_METRICS))
    for column, metric in zip(columns, HEADLINE_METRICS, strict=True):
        label = METRICS[metric].label
        mean, low, high, diff = views.headline(view, metric)
        column.metric(
            label, _text(metric, mean), delta=None if diff is None else _signed(metric, diff),
            help=f"Mean of {run.replications} runs; 95% CI {_text(metric, low)} to "
            f"{_text(metric, high)}. The change is the paired difference to the comparison.",
        )  # fmt: skip
    st.dataframe(views.headline_table(view), hide_index=True)
    _show(_cached_charts(*key))


@st.cache_data(max_entries=32, show_spinner="Drawing…")
def _cached_charts(edited_json: str, comparison_json: str | None, replications: int, seed: int):
    """The page's charts as (title, PNG) pairs, drawn once per view."""
    return views.chart_images(_cached_view(edited_json, comparison_json, replications, seed))


def _show(images: list[tuple[str, bytes]]) -> None:
    """Charts two a row (each figure carries its action title)."""
    for i in range(0, len(images), 2):
        for column, (_, png) in zip(st.columns(2), images[i : i + 2], strict=False):
            column.image(png, width="stretch")


def _text(metric: str, value: float) -> str:
    from trustsim.metrics import fmt_value

    return fmt_value(metric, value)


def _signed(metric: str, value: float) -> str:
    from trustsim.metrics import fmt_signed

    return fmt_signed(metric, value)


# ---------------------------------------------------------------- a buyer's journey
def _journey(edited, seed: int) -> None:
    """One buyer's trace on demand, as the story chart, a sentence and the table."""
    st.subheader("One buyer's journey")
    if not st.toggle("Show a buyer's journey", key="trace_on"):
        return
    buyer = int(
        st.number_input(
            "Buyer", min_value=0, max_value=edited.market.size - 1, value=0, step=1, key="buyer",
            help="Slot in the market, as `trustsim trace --buyer`; replication 0, this seed.",
        )
    )  # fmt: skip
    from trustsim.experiments.trace import BuyerNotTraced

    try:
        journey = _cached_trace(edited.model_dump_json(), buyer, seed)
    except BuyerNotTraced as exc:
        st.info(str(exc).replace("--buyer", "buyer"))
        return
    from trustsim.experiments.trace import journey_summary

    st.write(journey_summary(journey, buyer))
    _show(views.story_image(journey, edited.time.step_unit))
    st.dataframe(journey, hide_index=True)
    st.session_state["journey"] = journey


@st.cache_data(max_entries=16, show_spinner="Tracing…")
def _cached_trace(edited_json: str, buyer: int, seed: int):
    from trustsim.experiments.trace import trace_buyer
    from trustsim.scenarios import Scenario

    return trace_buyer(Scenario.model_validate_json(edited_json), buyer, seed=seed)


# ---------------------------------------------------------------- save and deck
def _keep(start_ref: str, changes: dict, view: views.View, replications: int, seed: int) -> None:
    """Save the edited scenario as a file; add the view to a deck folder."""
    st.subheader("Keep this")
    left, right = st.columns(2)
    with left:
        path = Path(st.text_input("Scenario file", value=f"{view.edited}.toml", key="save_path"))
        text = ctl.scenario_toml(
            ctl.extends_reference(start_ref, path),
            view.edited,
            changes,
            view.result.scenarios[view.edited],
        )
        if st.button("Save scenario", key="save"):
            try:
                saved = views.save_scenario(path, text)
            except TrustsimInputError as exc:
                st.error(str(exc))
            else:
                st.success(f"Saved {saved}. Check it with `trustsim scenarios validate {saved}`.")
        st.code(text, language="toml")
    with right:
        deck = st.text_input("Deck folder", value="explore-deck", key="deck_path")
        default = ["funnel", "trust"] + (["difference"] if view.comparison else [])
        charts = st.multiselect(
            "Charts for the deck", list(views.DECK_CHARTS), default=default, key="deck_charts",
            format_func=lambda kind: f"{kind}: {views.DECK_CHARTS[kind]}",
        )  # fmt: skip
        if st.button("Add to deck", key="add_to_deck"):
            record = {
                "extends": start_ref,
                "scenario": view.edited,
                "overrides": [f"{'.'.join(p)}={v}" for p, v in changes.items()],
                "comparison": view.comparison,
                "replications": replications,
                "seed": seed,
            }
            trace = st.session_state.get("journey") if st.session_state.get("trace_on") else None
            try:
                folder = views.add_to_deck(deck, view, charts, record, changes, trace)
            except TrustsimInputError as exc:
                st.error(str(exc))
            else:
                st.success(
                    f"Added {folder}. Make slides with `trustsim report {folder} --out deck.pptx`."
                )


# ---------------------------------------------------------------- a results folder
def results_page(directory: str) -> None:
    """A results folder, read-only: its runs' headline numbers and every chart it supports."""
    from trustsim.charts import available_kinds, load_results, make_chart

    results = load_results(directory)
    st.title(f"trustsim results: {directory}")
    meta = results.provenance
    st.caption(
        f"Read-only. Scenarios {', '.join(meta.get('scenarios', []))}; "
        f"{meta.get('replications', '?')} replications, seed {meta.get('seed', '?')}; "
        f"written by `{meta.get('command', '')}`. To change values, run "
        f"`trustsim explore SCENARIO`."
    )
    if not results.is_sweep:
        st.dataframe(views.interval_table(results.run, views.TABLE_METRICS), hide_index=True)
    _show(views.images([make_chart(results, kind) for kind in available_kinds(results)]))

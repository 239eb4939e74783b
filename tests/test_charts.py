"""Every chart kind: deck size, type size, no legends, titles that agree with the data,
identical bytes for identical input, and the user's matplotlib settings left alone."""

from __future__ import annotations

import warnings

import matplotlib as mpl

mpl.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from matplotlib.text import Text

import trustsim
from trustsim.charts import load_results, make_chart, save_chart
from trustsim.charts.base import number, percent
from trustsim.charts.claims import Effect, change_text, claim_words_in, in_sentence, money
from trustsim.charts.funnel import funnel_data, reached_per_run
from trustsim.charts.sensitivity import (
    factor_directions,
    sensitivity_chart,
    sensitivity_sentences,
    sweep_sentences,
)
from trustsim.charts.story import TRACE_COLUMNS, story_chart
from trustsim.charts.style import FIGSIZE, MIN_FONT_PT, chart_style, wrap_title
from trustsim.charts.sweep import BINS, heatmap_chart, heatmap_data
from trustsim.charts.usage import usage_chart, usage_data
from trustsim.cli import main
from trustsim.experiments.features import feature_value

SMALL = dict(replications=3, seed=0, steps=30, overrides=["market.size=300"])
SCENARIOS = ["real-estate", "real-estate-verifiable", "real-estate-funnel"]
RUN_KINDS = ["comparison", "difference", "funnel", "trust", "horizon", "leads"]


@pytest.fixture(scope="module")
def results_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("results")
    trustsim.run(SCENARIOS, **SMALL).write(out)
    return out


@pytest.fixture(scope="module")
def results(results_dir):
    return load_results(results_dir)


@pytest.fixture(scope="module")
def features_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("features")
    feature_value("real-estate-verifiable", **SMALL).write(out)
    return out


def visible_texts(fig):
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def assert_deck_ready(chart):
    """16:9 at the placed size, no text under 14 pt, the action title on top, no legend."""
    fig = chart.figure
    width, height = fig.get_size_inches()
    assert (width, height) == pytest.approx(FIGSIZE)
    assert width / height == pytest.approx(16 / 9, rel=1e-3)
    small = [
        (t.get_text(), t.get_fontsize())
        for t in visible_texts(fig)
        if t.get_fontsize() < MIN_FONT_PT
    ]
    assert not small, f"text below {MIN_FONT_PT} pt: {small}"
    assert fig._suptitle is not None and fig._suptitle.get_text() == wrap_title(chart.title)
    assert not fig.legends and all(ax.get_legend() is None for ax in fig.axes)
    assert chart.uncertainty and chart.takeaway
    fig.canvas.draw()  # lays out without errors
    plt.close(fig)


@pytest.mark.parametrize("kind", RUN_KINDS)
def test_run_chart_kinds_are_deck_ready(results, kind):
    assert_deck_ready(make_chart(results, kind))


def base_label(results):
    """The base's display name as it reads mid-sentence."""
    return in_sentence(results.run.scenarios[results.names[0]].display_name)


def test_comparison_title_compares_with_the_base_and_claims_nothing_without_a_test(results):
    # Three paired runs admit no test, so no difference may be called established.
    chart = make_chart(results, "comparison", metric="closed_deals")
    assert f"vs {base_label(results)}" in chart.title
    assert "not established" in chart.title and not claim_words_in(chart.title)
    assert "overlap" not in chart.takeaway.replace("not the overlap", "")
    plt.close(chart.figure)


def test_difference_title_is_the_paired_mean_difference(results):
    chart = make_chart(results, "difference", base="real-estate")
    wide = results.run.summaries.pivot(
        index="replication", columns="scenario", values="closed_deals"
    )
    labels = {results.run.scenarios[s].display_name: s for s in SCENARIOS}
    lead = next(e for e in chart.effects if chart.title.startswith(e.scenario))
    diff = (wide[labels[lead.scenario]] - wide["real-estate"]).mean()
    assert lead.diff == pytest.approx(diff)
    assert change_text("closed_deals", diff) in chart.title
    assert "%" not in chart.title.replace("95% CI", "")  # relative changes: own phrase
    plt.close(chart.figure)


def test_funnel_starts_at_leads_and_reaches_closing_with_the_closed_deals(results):
    data = funnel_data(results.run, "real-estate-verifiable")
    runs = results.run.summaries.query("scenario == 'real-estate-verifiable'")
    assert data["reached"].iloc[0] == pytest.approx(runs["leads"].mean())
    after_closing = data.index[data["closing"]][0] + 1
    assert data["reached"].iloc[after_closing] == pytest.approx(runs["closed_deals"].mean())
    assert (np.diff(data["reached"]) <= 1e-9).all()
    chart = make_chart(results, "funnel", scenario="real-estate-verifiable")
    worst = data.loc[data["left_share"].idxmax()]
    assert chart.title.startswith(
        f"{worst.stage.capitalize()} loses {percent(worst.left_share)} of the buyers"
    )
    assert "lever" not in chart.takeaway
    # The funnel's measure is buyers lost at a stage, named and defined as in the registry.
    from trustsim.metrics import METRICS

    labels = [t.get_text() for t in chart.figure.axes[0].texts]
    assert any(f"{percent(worst.left_share)} lost" in t for t in labels)
    assert not any("leave" in t for t in labels)
    definition = METRICS["left_share"].description
    assert definition in chart.figure.axes[0].get_title(loc="left").replace("\n", " ")
    assert f"{number(runs['closed_deals'].mean())} close a deal" in chart.takeaway
    plt.close(chart.figure)


def test_funnel_rebuilt_from_stage_counts_matches_the_engine():
    from trustsim.model.codes import POTENTIAL
    from trustsim.scenarios import load_scenario
    from trustsim.sim import TrustModel

    spec = load_scenario("real-estate", ["market.size=400"])
    model = TrustModel(scenario=spec, rng=7, steps=40)
    model.run_model()
    series = model.datacollector.get_model_vars_dataframe()
    series.insert(0, "step", np.arange(len(series)))
    engine = model.engine
    lead = engine.status != POTENTIAL
    exact = [np.count_nonzero(lead & (engine.stage >= k)) for k in range(len(spec.stages))]
    summary = pd.Series(model.summary())
    # Rebuild as for results written before runs recorded reached[stage].
    summary = summary.drop([c for c in summary.index if c.startswith("reached[")])
    rebuilt = reached_per_run(summary, series, spec)
    # Only collapsed deals are shared out by expectation; everything else is exact.
    np.testing.assert_allclose(rebuilt, exact, atol=2 + 0.05 * max(exact))


def test_trust_title_reports_the_final_means(results):
    chart = make_chart(results, "trust", scenario="real-estate")
    ts = results.run.timeseries.query("scenario == 'real-estate'")
    last = ts[ts["step"] == ts["step"].max()]
    means = {
        layer: last[f"trust_{layer}"].mean() for layer in ("environment", "rules", "counterparty")
    }
    low, high = min(means.values()), max(means.values())
    if high - low < 0.03:
        assert chart.title.startswith("Trust moves together")
    else:
        assert f"{low:.2f}" in chart.title and f"{high:.2f}" in chart.title
    plt.close(chart.figure)


@pytest.mark.parametrize("kind, metric", [("horizon", "closed_deals"), ("leads", "leads")])
def test_horizon_and_leads_titles_state_the_paired_difference_at_the_end(results, kind, metric):
    chart = make_chart(results, kind)
    steps = int(results.run.timeseries["step"].max())
    assert chart.title.startswith(f"By week {steps}: ")
    wide = results.run.summaries.pivot(index="replication", columns="scenario", values=metric)
    end = [e for e in chart.effects if e.metric == metric]
    assert len(end) == len(SCENARIOS) - 1
    for effect, name in zip(end, SCENARIOS[1:], strict=True):
        assert effect.diff == pytest.approx((wide[name] - wide["real-estate"]).mean())
    assert not claim_words_in(chart.title + chart.takeaway)  # three runs: nothing tested
    plt.close(chart.figure)


def test_usage_value_chart_from_features_output(features_dir):
    results = load_results(features_dir)
    chart = make_chart(results, "usage-value")
    assert_deck_ready(chart)
    named = chart.data["feature"].str.replace("_", " ").str.capitalize()
    picked = chart.data.loc[named == chart.title.split(" is used")[0]].iloc[0]
    assert f"used in {percent(picked.usage)} of choices" in chart.title


def test_a_chart_that_leaves_features_out_says_so_in_its_footnote(features_dir):
    from trustsim.charts.usage import MAX_ROWS

    results = load_results(features_dir)
    chart = make_chart(results, "usage-value")
    footnote = chart.figure._supxlabel.get_text().replace("\n", " ")
    total = len(results.features)
    assert len(chart.data) == min(total, MAX_ROWS)
    if total > MAX_ROWS:
        hidden = f"{total - MAX_ROWS} more features with smaller effects not shown"
        assert f"{hidden}; all in features.csv" in footnote
    else:
        assert "not shown" not in footnote
    few = results.features.head(2)
    with chart_style():
        small = usage_chart(usage_data(few))
    assert "not shown" not in small.figure._supxlabel.get_text()
    plt.close(chart.figure)
    plt.close(small.figure)


def grid_runs():
    """One row per run over a 2 x 2 grid of --set overrides (a stand-in for a sweep)."""
    frames = []
    for affordance in (0.0, 0.8):
        for pressure in (0.0, 0.5):
            sets = [
                f"stages.contract.affordance={affordance}",
                f"stages.contract.pressure={pressure}",
            ]
            run = trustsim.run(["real-estate"], **{**SMALL, "overrides": SMALL["overrides"] + sets})
            frames.append(run.summaries.assign(affordance=affordance, pressure=pressure))
    return pd.concat(frames, ignore_index=True)


def ishigami_indices():
    """Sobol' indices of the Ishigami function, as `trustsim sensitivity` would chart them."""
    from SALib.analyze import sobol
    from SALib.sample import sobol as sobol_sample
    from SALib.test_functions import Ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    x = sobol_sample.sample(problem, 256, seed=1)
    indices = sobol.analyze(problem, Ishigami.evaluate(x), seed=1)
    return indices.to_df()[0].join(indices.to_df()[1]).rename_axis("parameter").reset_index()


def test_sensitivity_chart_sobol_and_tornado():
    sobol_df = ishigami_indices()
    with chart_style():
        chart = sensitivity_chart(sobol_df, metric="y")
    assert_deck_ready(chart)
    assert chart.title.startswith(sobol_df.loc[sobol_df["ST"].idxmax(), "parameter"].upper())

    runs = grid_runs()
    means = runs.groupby(["affordance", "pressure"])["closed_deals"].mean()
    tornado = pd.DataFrame(
        {
            "parameter": ["stages.contract.affordance", "stages.contract.pressure"],
            "low": [means[(0.0, 0.0)], means[(0.0, 0.0)]],
            "high": [means[(0.8, 0.0)], means[(0.0, 0.5)]],
            "base": means[(0.0, 0.0)],
        }
    )
    with chart_style():
        chart = sensitivity_chart(tornado)
    assert_deck_ready(chart)
    swing = (tornado["high"] - tornado["low"]).abs()
    top = {0: "Verification support at contract", 1: "Sales pressure at contract"}
    assert chart.title.startswith(top[int(swing.idxmax())])


def sampled_sweep(points=240, replications=2, seed=5):
    """Runs of a sampled design (one value per point, as Latin hypercube or Sobol' give):
    deals rise with contract affordance, fall with contract pressure, and do not depend
    on the cost of checking."""
    rng = np.random.default_rng(seed)
    design = pd.DataFrame(
        {
            "point": np.arange(points),
            "stages.contract.affordance": rng.uniform(0, 1, points),
            "stages.contract.pressure": rng.uniform(0, 0.8, points),
            "choice.verification_cost": rng.uniform(0.2, 1.2, points),
        }
    )
    runs = design.loc[design.index.repeat(replications)].reset_index(drop=True)
    runs["closed_deals"] = (
        200
        + 80 * runs["stages.contract.affordance"]
        - 40 * runs["stages.contract.pressure"]
        + rng.normal(0, 10, len(runs))
    )
    return runs


FACTORS = ["stages.contract.affordance", "stages.contract.pressure", "choice.verification_cost"]


def test_a_sampled_design_is_binned_into_a_readable_grid_and_the_chart_says_so():
    runs = sampled_sweep()
    data = heatmap_data(runs, FACTORS[0], FACTORS[1], "closed_deals", FACTORS)
    assert len(data) <= BINS * BINS and data["x_binned"].all() and data["y_binned"].all()
    assert data["n"].sum() == len(runs)  # every run is in exactly one cell
    # Each cell is the mean of the runs whose factor values fall in its bins.
    low, high = (float(v) for v in str(data["x"].iloc[0]).split("–"))
    top = data[data["x_pos"] == 0]
    inside = runs[(runs[FACTORS[0]] >= low) & (runs[FACTORS[0]] < high)]
    assert top["n"].sum() == len(inside)
    with chart_style():
        chart = heatmap_chart(data)
    assert_deck_ready(chart)
    ax = chart.figure.axes[0]
    assert len(ax.texts) == len(data)  # one printed cell each, no overprinting
    assert "bins of about equal numbers of runs" in ax.get_title(loc="left").replace("\n", " ")
    assert "the other 1 factor varies within each cell" in ax.get_title(loc="left").replace(
        "\n", " "
    )
    assert ax.get_xlabel() == "Verification support at contract"


def test_a_grid_keeps_its_levels_and_names_factors_by_their_display_names():
    runs = grid_runs()
    data = heatmap_data(runs, "affordance", "pressure", "closed_deals")
    assert not data["x_binned"].any() and sorted(data["x"].unique()) == [0.0, 0.8]


def test_heatmap_prints_every_cell_and_titles_the_peak():
    runs = grid_runs()
    data = heatmap_data(runs, "affordance", "pressure", "closed_deals")
    with chart_style():
        chart = heatmap_chart(data)
    assert_deck_ready(chart)
    cell_texts = [t.get_text() for t in chart.figure.axes[0].texts]
    assert all(any(t.startswith(number(m)) for t in cell_texts) for m in data["mean"])
    means = runs.groupby(["affordance", "pressure"])["closed_deals"].mean()
    assert number(means.max()) in chart.title and number(means.min()) in chart.title


def test_directions_recover_which_way_each_factor_pushes_the_result():
    ways = factor_directions(sampled_sweep(), FACTORS, "closed_deals").set_index("parameter")
    assert ways.loc[FACTORS[0], "rho_low"] > 0  # affordance raises deals
    assert ways.loc[FACTORS[1], "rho_high"] < 0  # pressure lowers them
    assert ways.loc[FACTORS[2], "rho_low"] < 0 < ways.loc[FACTORS[2], "rho_high"]
    assert (ways["points"] == 240).all()  # replications are averaged per design point


def test_sentences_state_a_direction_only_where_its_interval_excludes_zero():
    ways = factor_directions(sampled_sweep(), FACTORS, "closed_deals")
    sentences = sensitivity_sentences("closed_deals", directions=ways)
    assert sentences[0].startswith("Higher verification support at contract raises closed deals")
    assert sentences[1].startswith("Higher sales pressure at contract lowers closed deals")
    assert sentences[2].startswith("Effort of checking has no established direction")
    assert not claim_words_in(sentences[2])
    assert all("." not in s.split(" (")[0] for s in sentences)  # display names, no paths


def sweep_results(path, scenarios=("real-estate",)):
    """A loaded sweep directory of `sampled_sweep` runs with Sobol' indices per scenario."""
    from trustsim.charts.results import Results
    from trustsim.experiments.runner import RunResult

    runs = pd.concat([sampled_sweep().assign(scenario=s, status="ok") for s in scenarios])
    long = pd.DataFrame(
        [
            {"method": "sobol", "scenario": s, "metric": "closed_deals",
             "factor": f, "index": i, "value": v, "ci_low": v - 0.05, "ci_high": v + 0.05}
            for s in scenarios
            for f, s1, st in zip(FACTORS, (0.7, 0.2, -0.02), (0.75, 0.25, 0.01), strict=True)
            for i, v in (("S1", s1), ("ST", st))
        ]
    )  # fmt: skip
    empty = RunResult(pd.DataFrame(), pd.DataFrame(), {}, 0, 2, None, "vectorized", "")
    extra = {"sweep_runs": runs.reset_index(drop=True), "factors": FACTORS,
             "metrics": ["closed_deals"], "sensitivity": long, "heatmap": True}  # fmt: skip
    return Results(path, empty, {"scenarios": []}, extra=extra)


def test_sweep_charts_of_one_scenario_of_several_say_so(tmp_path):
    results = sweep_results(tmp_path, ("real-estate", "real-estate-funnel"))
    for kind in ("heatmap", "sensitivity"):
        chart = make_chart(results, kind, scenario="real-estate-funnel")
        title = chart.figure.axes[0].get_title(loc="left")
        assert "only, 1 of 2 scenarios" in title.replace("\n", " ")
        assert "real-estate-funnel" in title.replace("\n", "")  # may wrap at a hyphen
        plt.close(chart.figure)
    single = make_chart(sweep_results(tmp_path), "heatmap")
    assert "scenarios" not in single.figure.axes[0].get_title(loc="left")


def test_sweep_sentences_read_a_sweep_directory_with_its_sobol_indices(tmp_path):
    results = sweep_results(tmp_path)
    sentences = sweep_sentences(results, "closed_deals")
    assert "it accounts for 75% of the variance (95% CI 70%–80%)" in sentences[0]
    assert "(95% CI 0%–6%)" in sentences[2]  # a CI reaching below zero is clipped
    chart = make_chart(results, "sensitivity")
    assert_deck_ready(chart)
    ax = chart.figure.axes[0]
    assert ax.spines["bottom"].get_bounds() == (0, 1)
    assert max(ax.get_xticks()) == 1.0  # a share of variance ends at 100%
    assert "below 0 (sampling noise) drawn at 0" in ax.get_title(loc="left").replace("\n", " ")
    assert [t.get_text().replace("\n", " ") for t in ax.get_yticklabels()] == [
        "Verification support at contract", "Sales pressure at contract", "Effort of checking"
    ]  # fmt: skip
    assert chart.title.startswith("Verification support at contract drives closed deals most")
    assert "higher values raise closed deals" in chart.title
    labels = [t.get_text() for t in ax.texts]
    assert labels[0].endswith("raises") and labels[1].endswith("lowers")
    heat = make_chart(results, "heatmap")  # the two factors that matter most
    assert heat.data["x_name"].iloc[0] == FACTORS[0] and heat.data["y_name"].iloc[0] == FACTORS[1]


def first_traced_buyer(trace_buyer):
    """The journey of a buyer who acted in a small run (which one depends on the model's
    defaults, so the tracer's own suggestion is taken when buyer 0 never acted)."""
    from trustsim.experiments.trace import BuyerNotTraced

    kwargs = dict(seed=0, steps=30, overrides=["market.size=300"])
    try:
        return trace_buyer("real-estate-verifiable", buyer=0, **kwargs)
    except BuyerNotTraced as exc:
        assert exc.suggestion is not None, "no buyer acted in the run"
        return trace_buyer("real-estate-verifiable", buyer=exc.suggestion, **kwargs)


def test_story_strip_from_trustsim_trace(results_dir, tmp_path):
    from trustsim.experiments.trace import trace_buyer

    trace = first_traced_buyer(trace_buyer)
    folder = tmp_path / "with-trace"
    trustsim.run(["real-estate-verifiable"], **SMALL).write(folder)
    trace.to_csv(folder / "trace.csv", index=False)
    chart = make_chart(load_results(folder), "story")
    assert_deck_ready(chart)
    verified = int((trace["action"].astype(str) == "verify").sum())
    assert chart.title.startswith(f"This buyer verified {verified} of {len(trace)} steps")


def journey():
    """A buyer's journey in the trace columns (the input format of the story strip)."""
    stages = ["explore", "explore", "viewing", "reservation", "mortgage", "mortgage", "contract"]
    actions = ["verify", "delegate", "delegate", "verify", "verify", "verify", "abandon"]
    n = len(stages)
    ramp = np.linspace(0.5, 0.7, n)
    return pd.DataFrame(
        {
            "step": np.arange(1, n + 1),
            "stage": stages,
            "trust_environment": ramp,
            "trust_rules": ramp - 0.05,
            "trust_counterparty": ramp - 0.1,
            "perceived_risk": np.linspace(0.1, 0.5, n),
            "action": actions,
            "outcome": ["success"] * 4 + ["incident", "success", "abandoned"],
            "satisfaction": np.linspace(0.6, 0.5, n),
            "reactance": np.zeros(n),
        }
    )


def test_story_strip_from_a_trace():
    trace = journey()
    assert list(trace.columns) == list(TRACE_COLUMNS)
    with chart_style():
        chart = story_chart(trace, unit="week")
    assert_deck_ready(chart)
    assert chart.title.startswith("This buyer verified 4 of 7 steps and walked away at contract")


def overlapping(texts, renderer):
    """Pairs of texts whose drawn boxes overlap (a label's own box, without its leader:
    `leaders_cross_labels` checks those)."""
    boxes = [(t.get_text(), Text.get_window_extent(t, renderer)) for t in texts]
    return [
        (a, b) for i, (a, box) in enumerate(boxes) for b, other in boxes[i + 1 :]
        if box.overlaps(other)
    ]  # fmt: skip


def test_story_labels_do_not_collide_with_one_step_stages_and_lines_ending_together():
    trace = journey().assign(
        stage=["explore", "viewing", "reservation", "mortgage", "contract", "payment",
               "after_sales"],
        satisfaction=np.linspace(0.6, 0.8, 7),
        trust_environment=np.full(7, 0.8),
        trust_rules=np.full(7, 0.8),
        trust_counterparty=np.full(7, 0.81),
    )  # fmt: skip
    with chart_style():
        chart = story_chart(trace, unit="week")
    fig = chart.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax, strip = fig.axes
    names = [t for t in strip.texts if len(t.get_text()) > 1]
    assert len(names) == 7 and not overlapping(names, renderer)
    assert not overlapping(ax.texts, renderer)  # line-end labels: 0.80 and 0.80
    assert all(t.get_text().rstrip("…") for t in names)
    plt.close(fig)


def test_cli_story_from_a_trace_alone_as_the_help_shows(tmp_path, monkeypatch):
    """`trustsim trace ... --out tr/ && trustsim chart tr/ -k story` works."""
    from trustsim.experiments.trace import BuyerNotTraced, trace_buyer

    monkeypatch.chdir(tmp_path)
    try:
        trace_buyer("real-estate", buyer=12, seed=0, steps=30, overrides=["market.size=300"])
        buyer = 12
    except BuyerNotTraced as exc:
        buyer = exc.suggestion
    args = ["real-estate", "--buyer", str(buyer), "--seed", "0", "--steps", "30",
            "--set", "market.size=300", "--out", "tr/"]  # fmt: skip
    res = CliRunner().invoke(main, ["trace", *args])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["chart", "tr/", "-k", "story"])
    assert res.exit_code == 0, res.output
    assert res.stdout.startswith("This buyer ")
    assert (tmp_path / "tr" / "charts" / "story.png").is_file()
    assert load_results(tmp_path / "tr").trace.shape[0] > 0
    res = CliRunner().invoke(main, ["chart", "tr/", "-k", "funnel"])
    assert res.exit_code == 2 and "holds only a buyer trace: use --kind story" in res.output


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_same_input_gives_the_same_bytes(results, tmp_path, fmt):
    paths = []
    for i in range(2):
        chart = make_chart(results, "horizon")
        paths.append(save_chart(chart, tmp_path / f"c{i}.{fmt}"))
        plt.close(chart.figure)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_user_rcparams_are_left_alone(results):
    before = dict(mpl.rcParams)
    chart = make_chart(results, "comparison")
    plt.close(chart.figure)
    assert dict(mpl.rcParams) == before


def test_cli_chart_writes_the_file_and_its_numbers(results_dir, tmp_path):
    out = tmp_path / "funnel.svg"
    res = CliRunner().invoke(
        main, ["chart", str(results_dir), "--kind", "funnel", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert out.read_bytes().startswith(b"<?xml")
    assert len(pd.read_csv(out.with_suffix(".csv"))) == 8  # one row per stage
    assert "of the buyers who reach it" in res.output


def test_cli_charts_of_two_measures_go_to_two_files_and_a_redraw_says_it_replaces(
    results_dir, tmp_path
):
    import shutil

    copy = tmp_path / "results"
    shutil.copytree(results_dir, copy)

    def draw(*metric):
        args = ["chart", str(copy), "--kind", "comparison", *metric]
        res = CliRunner().invoke(main, args)
        assert res.exit_code == 0, res.output
        return res.stderr

    first = draw("--metric", "nps")
    draw("--metric", "satisfaction")
    draw()
    charts = copy / "charts"
    assert {p.name for p in charts.glob("*.png")} == {
        "comparison-nps.png", "comparison-satisfaction.png", "comparison.png"
    }  # fmt: skip
    assert "Chart written to" in first
    assert "Chart replaced" in draw("--metric", "nps")


@pytest.mark.parametrize(
    "args, message",
    [
        (["chart", "{missing}", "--kind", "funnel"], "no such directory"),
        (["chart", "{empty}", "--kind", "funnel"], "not a trustsim results directory"),
        (["chart", "{results}", "--kind", "usage-value"], "no features.parquet"),
        (["chart", "{results}", "--kind", "story"], "no trace.parquet"),
        (["chart", "{results}", "--kind", "comparison", "--metric", "nope"], "not a run measure"),
        (["chart", "{results}", "--kind", "funnel", "--scenario", "x"], "not in these results"),
        (["chart", "{results}", "--kind", "trust", "--out", "{tmp}/c.gif"], "use a .png"),
    ],
)
def test_cli_chart_bad_input_exits_2_with_one_message(results_dir, tmp_path, args, message):
    (tmp_path / "empty").mkdir()
    fill = {
        "missing": str(tmp_path / "missing"),
        "empty": str(tmp_path / "empty"),
        "results": str(results_dir),
        "tmp": str(tmp_path),
    }
    res = CliRunner().invoke(main, [a.format(**fill) for a in args])
    assert res.exit_code == 2
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:") and message in lines[0]


def effect(diff, low, high, p_holm, metric="closed_deals"):
    return Effect("B", "A", metric, diff, low, high, 0.1, 0.05, 0.15, p_holm, 100.0, 110.0)


@pytest.mark.parametrize(
    "diff, low, high, p_holm, established",
    [
        (1.4, -0.1, 2.9, 0.04, False),  # the CI includes zero
        (5.0, 2.0, 8.0, 0.2, False),  # the Holm-adjusted test does not agree
        (5.0, 2.0, 8.0, float("nan"), False),  # too few runs for a test
        (5.0, 2.0, 8.0, 0.01, True),
        (-5.0, -8.0, -2.0, 0.01, True),
    ],
)
def test_a_difference_is_established_only_by_its_paired_ci_and_holm_test(
    diff, low, high, p_holm, established
):
    e = effect(diff, low, high, p_holm)
    assert e.established is established
    sentence = e.sentence()
    assert bool(claim_words_in(sentence)) is established
    assert ("not established" in sentence) is not established


def test_lower_is_better_metrics_read_the_right_way():
    assert effect(-2.0, -3.0, -1.0, 0.01, "time_to_close").better
    assert not effect(-2.0, -3.0, -1.0, 0.01, "nps").better


def test_money_is_written_for_executives():
    assert money(1_234_567, "€") == "€1.2M"
    assert money(-12_300, "USD") == "−12.3k USD"
    assert money(950) == "950"


def test_line_end_labels_of_lines_ending_together_at_the_top_stay_inside_the_axes():
    import matplotlib.pyplot as plt

    from trustsim.charts.base import label_line_ends

    fig, ax = plt.subplots(figsize=(6, 3))
    for end in (99.0, 99.5, 100.0, 100.5):
        ax.plot([0, 10], [0, end])
    ax.set_ylim(0, 101)
    names = ["Buyers can check\neach step", "Online service as\ntoday", "Funnel", "Other"]
    label_line_ends(ax, 10, [99.0, 99.5, 100.0, 100.5], names, ["k"] * 4)
    low, high = ax.get_ylim()
    heights = [t.xy[1] for t in ax.texts]
    assert len(heights) == 4 and all(low <= y <= high for y in heights)
    assert sorted(heights) == heights  # order of the line ends kept
    plt.close(fig)


# ------------------------------------------------------------ results of two markets
# The demo's two families: real estate (2,000 buyers, weekly) and the delivery trial
# (10,000 buyers, daily), cut to 20 steps each.
REAL_ESTATE = ["real-estate", "real-estate-verifiable"]
DELIVERY = ["delivery-trial-funnel", "delivery-trial-journey"]
TWO_MARKETS = {"2,000 buyers, 20 weeks": REAL_ESTATE, "10,000 buyers, 20 days": DELIVERY}
MIXED = dict(replications=3, seed=0, steps=20)


@pytest.fixture(scope="module")
def two_markets_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("two-markets")
    trustsim.run(REAL_ESTATE + DELIVERY, **MIXED).write(out)
    return out


@pytest.fixture(scope="module")
def two_markets(two_markets_dir):
    return load_results(two_markets_dir)


def display_names(results, names):
    return [results.run.scenarios[n].display_name for n in names]


def axis_names(ax, kind):
    """The scenario names an axis shows: its y tick labels (comparison) or its line-end
    labels (leads), unwrapped."""
    texts = ax.get_yticklabels() if kind == "comparison" else ax.texts
    return [t.get_text().replace("-\n", "-").replace("\n", " ") for t in texts]


@pytest.mark.parametrize("kind", ["comparison", "leads"])
def test_a_chart_of_two_markets_draws_one_panel_per_market_titled_with_the_market(
    two_markets, kind
):
    chart = make_chart(two_markets, kind)
    axes = chart.figure.axes
    assert len(axes) == len(TWO_MARKETS)
    for ax, (market, names) in zip(axes, TWO_MARKETS.items(), strict=True):
        assert ax.get_title(loc="left") == market
        # No axis holds scenarios of two markets: each shows exactly its market's.
        assert sorted(axis_names(ax, kind)) == sorted(display_names(two_markets, names))
    scenarios = chart.data.drop_duplicates("scenario").set_index("scenario")["market"]
    assert scenarios.to_dict() == {n: m for m, names in TWO_MARKETS.items() for n in names}
    assert "not comparable" in chart.takeaway
    fig = chart.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for ax in axes for t in [*ax.texts, *ax.get_yticklabels()]]
    assert all(fig.bbox.contains(*t.get_window_extent(renderer).p1) for t in labels)
    assert not overlapping(labels, renderer)  # one panel's numbers off the next one's names
    assert_deck_ready(chart)


def test_each_market_panel_runs_on_its_own_time_and_scale(two_markets):
    chart = make_chart(two_markets, "leads")
    weeks, days = chart.figure.axes
    assert weeks.get_xlabel() == "Weeks since launch" and days.get_xlabel() == "Days since launch"
    for ax, names in zip((weeks, days), TWO_MARKETS.values(), strict=True):
        runs = two_markets.run.summaries[two_markets.run.summaries["scenario"].isin(names)]
        top = runs.groupby("scenario")["leads"].mean().max()
        assert top <= ax.get_ylim()[1] < 1.5 * top  # the other market's counts are not on it
        assert ax.spines["bottom"].get_bounds() == (0, MIXED["steps"])
    plt.close(chart.figure)


@pytest.mark.parametrize("kind, metric", [("comparison", "closed_deals"), ("leads", "leads")])
def test_two_markets_are_each_compared_with_their_own_base(two_markets, kind, metric):
    chart = make_chart(two_markets, kind)
    wide = two_markets.run.summaries.pivot(index="replication", columns="scenario", values=metric)
    effects = {e.scenario: e for e in chart.effects}
    assert len(effects) == len(TWO_MARKETS)  # one alternative per market, none across
    for base, other in (REAL_ESTATE, DELIVERY):
        effect = effects[two_markets.run.scenarios[other].display_name]
        assert effect.base == two_markets.run.scenarios[base].display_name
        assert effect.diff == pytest.approx((wide[other] - wide[base]).mean())
    plt.close(chart.figure)


def test_a_market_panel_shows_what_that_market_alone_would(two_markets):
    from trustsim.charts.comparison import comparison_data

    alone = trustsim.run(DELIVERY, **MIXED)
    panel = comparison_data(two_markets.run).query("scenario in @DELIVERY")
    expected = comparison_data(alone)
    shown = panel.drop(columns=["market", "color"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(shown, expected.drop(columns="color"), check_like=True)


def test_one_scenario_in_each_market_is_titled_per_market_without_a_comparison(two_markets):
    from dataclasses import replace

    from trustsim.charts.comparison import comparison_chart, comparison_data
    from trustsim.charts.timeseries import leads_chart, leads_data
    from trustsim.experiments.runner import subset

    names = [REAL_ESTATE[0], DELIVERY[0]]
    run = subset(two_markets.run, names)
    run = replace(run, timeseries=two_markets.run.timeseries.query("scenario in @names"))
    with chart_style():
        charts = [comparison_chart(comparison_data(run)), leads_chart(leads_data(run))]
    for chart in charts:
        assert len(chart.figure.axes) == 2 and not chart.effects
        assert " vs " not in chart.title and not claim_words_in(chart.title)
        for name in display_names(two_markets, names):
            assert name in chart.title
        plt.close(chart.figure)
    assert "by week 20" in charts[1].title and "by day 20" in charts[1].title


def test_one_market_keeps_one_axis_with_its_note_and_no_market_column(results):
    for kind in ("comparison", "leads"):
        chart = make_chart(results, kind)
        (ax,) = chart.figure.axes
        assert ax.get_title(loc="left").startswith(("Dot: mean of 3 runs", "Line: mean over 3"))
        assert "market" not in chart.data.columns and "markets" not in chart.takeaway
        assert sorted(axis_names(ax, kind)) == sorted(display_names(results, SCENARIOS))
        plt.close(chart.figure)


def test_results_of_two_markets_offer_no_chart_that_weighs_them_against_one_base(two_markets):
    from trustsim.charts import available_kinds

    kinds = available_kinds(two_markets)
    assert "comparison" in kinds and "leads" in kinds
    assert "difference" not in kinds and "horizon" not in kinds
    for kind in ("difference", "horizon"):
        with pytest.raises(trustsim.errors.TrustsimInputError, match="one results directory"):
            make_chart(two_markets, kind)


def test_cli_chart_of_two_markets_writes_the_market_of_each_row(two_markets_dir, tmp_path):
    out = tmp_path / "leads.png"
    res = CliRunner().invoke(
        main, ["chart", str(two_markets_dir), "-k", "leads", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    numbers = pd.read_csv(out.with_suffix(".csv"))
    per_scenario = numbers.groupby("scenario")["market"].unique()
    assert all(len(markets) == 1 for markets in per_scenario)
    assert set(numbers["market"]) == set(TWO_MARKETS)
    assert out.read_bytes().startswith(b"\x89PNG")


def test_labels_pushed_off_their_lines_end_are_tied_to_it_by_leaders_left_of_every_label():
    from trustsim.charts.base import label_line_ends

    fig, ax = plt.subplots(figsize=(8, 4.5))
    ends = [10.0, 10.0, 10.0, 80.0]  # three lines end together, one far from them
    for end in ends:
        ax.plot([0, 1], [0, end])
    ax.set_ylim(0, 100)
    label_line_ends(ax, 1.0, ends, ["low", "middle", "high", "far"], ["black"] * 4)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = {note.get_text(): note for note in ax.texts}
    assert labels["low"].arrow_patch is not None and labels["high"].arrow_patch is not None
    assert labels["far"].arrow_patch is None  # at its line's end: no leader
    assert all(note.xy == (1.0, end) for note, end in zip(ax.texts, ends, strict=True))
    first_letter = min(Text.get_window_extent(note, renderer).x0 for note in ax.texts)
    leaders = [n.arrow_patch.get_window_extent(renderer) for n in ax.texts if n.arrow_patch]
    assert all(box.x1 <= first_letter + 0.5 for box in leaders)
    assert not overlapping(list(ax.texts), renderer)
    plt.close(fig)


def _labelled_figure(label: str):
    from trustsim.charts.style import chart_style

    with chart_style():
        fig, ax = plt.subplots()
        ax.set_title(label)
    return fig


def test_a_label_no_font_draws_is_said_once_with_its_characters(tmp_path, monkeypatch):
    from trustsim.charts import style

    monkeypatch.setattr(style, "SCRIPT_FONTS", ())  # as on a machine without such fonts
    monkeypatch.setattr(style, "_add_script_fonts", lambda: False)
    fig = _labelled_figure("検証できる住宅 offer")
    with pytest.warns(UserWarning) as said:
        style.save_figure(fig, tmp_path / "c.png")
    plt.close(fig)
    messages = [str(w.message) for w in said]
    assert len(messages) == 1, messages  # not one per character
    assert "'検証できる住宅'" in messages[0] and "fonts-noto-cjk" in messages[0]
    assert (tmp_path / "c.png").stat().st_size > 0 and list(tmp_path.iterdir()) == [
        tmp_path / "c.png"
    ]


def test_a_latin_chart_never_looks_for_other_fonts(tmp_path, monkeypatch, recwarn):
    from trustsim.charts import style

    def looked():
        raise AssertionError("looked for fonts of other scripts")

    monkeypatch.setattr(style, "_add_script_fonts", looked)
    fig = _labelled_figure("Buyers can check each step: Ünïcode – déjà vu ✓")
    style.save_figure(fig, tmp_path / "c.png")
    plt.close(fig)
    assert not [w for w in recwarn if "font" in str(w.message)]


def test_a_label_in_another_script_is_drawn_with_an_installed_font_for_it(tmp_path):
    from matplotlib import font_manager

    from trustsim.charts import style

    fonts = {font_manager.get_font(f).family_name for f in font_manager.findSystemFonts()}
    if not fonts & set(style.SCRIPT_FONTS):
        pytest.skip("no font for Japanese among the machine's fonts")
    fig = _labelled_figure("検証できる住宅")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a box drawn, or any warning, fails
        style.save_figure(fig, tmp_path / "c.png")
    assert set(fig.axes[0].title.get_fontfamily()) & set(style.SCRIPT_FONTS)
    plt.close(fig)


def test_line_end_labels_are_spaced_by_their_own_heights_and_never_overlap():
    from trustsim.charts.base import label_line_ends

    def gap_between_first_two(texts):
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.set_ylim(0, 100)
        label_line_ends(ax, 1.0, [50.0, 50.0, 90.0], texts, ["black"] * 3)
        fig.canvas.draw()
        renderer = fig.canvas.get_renderer()
        assert not overlapping(list(ax.texts), renderer)
        a, b = (Text.get_window_extent(t, renderer) for t in ax.texts[:2])
        plt.close(fig)
        return abs((a.y0 + a.y1) / 2 - (b.y0 + b.y1) / 2)  # between their centres

    one_line = gap_between_first_two(["one", "two", "far"])
    tall_neighbour = gap_between_first_two(["one", "two\nlines\nmore", "far"])
    tall_elsewhere = gap_between_first_two(["one", "two", "far\nlines\nmore"])
    assert tall_neighbour > 1.5 * one_line  # a tall label needs more room
    assert tall_elsewhere == pytest.approx(one_line, abs=1.0)  # not spaced by another's height

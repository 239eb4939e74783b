"""Every chart kind: deck size, type size, no legends, titles that agree with the data,
identical bytes for identical input, and the user's matplotlib settings left alone."""

from __future__ import annotations

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
from trustsim.charts.story import TRACE_COLUMNS, story_chart
from trustsim.charts.style import FIGSIZE, MIN_FONT_PT, chart_style, wrap_title
from trustsim.charts.sweep import heatmap_chart, heatmap_data, sensitivity_chart
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
    picked = chart.data.loc[chart.data["feature"] == chart.title.split(" is used")[0]].iloc[0]
    assert f"used in {percent(picked.usage)} of choices" in chart.title


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


def test_sensitivity_chart_sobol_and_tornado():
    from SALib.analyze import sobol
    from SALib.sample import sobol as sobol_sample
    from SALib.test_functions import Ishigami

    problem = {"num_vars": 3, "names": ["x1", "x2", "x3"], "bounds": [[-np.pi, np.pi]] * 3}
    x = sobol_sample.sample(problem, 256, seed=1)
    indices = sobol.analyze(problem, Ishigami.evaluate(x), seed=1)
    sobol_df = indices.to_df()[0].join(indices.to_df()[1]).rename_axis("parameter")
    sobol_df = sobol_df.reset_index()
    with chart_style():
        chart = sensitivity_chart(sobol_df, metric="y")
    assert_deck_ready(chart)
    assert chart.title.startswith(sobol_df.loc[sobol_df["ST"].idxmax(), "parameter"])

    runs = grid_runs()
    means = runs.groupby(["affordance", "pressure"])["closed_deals"].mean()
    tornado = pd.DataFrame(
        {
            "parameter": ["contract affordance", "contract pressure"],
            "low": [means[(0.0, 0.0)], means[(0.0, 0.0)]],
            "high": [means[(0.8, 0.0)], means[(0.0, 0.5)]],
            "base": means[(0.0, 0.0)],
        }
    )
    with chart_style():
        chart = sensitivity_chart(tornado)
    assert_deck_ready(chart)
    swing = (tornado["high"] - tornado["low"]).abs()
    assert chart.title.startswith(tornado.loc[swing.idxmax(), "parameter"])


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

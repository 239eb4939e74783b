"""What goes in front of a client: charts, decks, feature value and the explorer."""

from __future__ import annotations

import sys

import click

from trustsim.chart_kinds import KINDS
from trustsim.cli.group import main
from trustsim.cli.shared import (
    decompose_option,
    force_option,
    format_option,
    out_option,
    posterior_draws,
    posterior_option,
    progress,
    replications_option,
    seed_option,
    set_option,
    simulate_and_save,
    steps_option,
)
from trustsim.errors import TrustsimInputError

CHART_KINDS = tuple(KINDS)


@main.command()
@click.argument("results_dir", metavar="RESULTS")
@click.option("--kind", "-k", required=True, type=click.Choice(CHART_KINDS), help="Chart kind.")
@click.option(
    "--format", "fmt", type=click.Choice(["png", "svg", "pdf"]), default=None,
    help="File format (default: from --out, else png).",
)  # fmt: skip
@out_option(
    "out_file",
    "file",
    "Chart file (default: RESULTS/charts/KIND.FORMAT, or KIND-METRIC.FORMAT with --metric).",
)
@click.option(
    "--metric",
    default=None,
    help="Run measure for comparison and difference charts (default: closed_deals).",
)
@click.option("--base", default=None, help="Baseline scenario of the difference chart.")
@click.option("--scenario", default=None, help="Scenario of the funnel and trust charts.")
def chart(results_dir, kind, fmt, out_file, metric, base, scenario):
    """Draw one deck-ready chart (16:9, action title from the data) from RESULTS.

    RESULTS is a directory written by `trustsim run/compare/features/sweep --out DIR`,
    or a buyer trace from `trustsim trace --out DIR` (the story chart). The numbers
    behind the chart are written beside it as CSV.

    \b
    Example:
      trustsim compare real-estate real-estate-verifiable --out results/
      trustsim chart results/ --kind difference --format svg --out verifiable.svg
      trustsim trace real-estate --buyer 12 --out tr/ && trustsim chart tr/ -k story
    """
    from pathlib import Path

    import matplotlib.pyplot as plt

    from trustsim.charts import load_results, make_chart, save_chart
    from trustsim.output import reporting_failures, staged_outputs

    fmt = fmt or (Path(out_file).suffix.lstrip(".").lower() if out_file else "png")
    if fmt not in ("png", "svg", "pdf"):
        raise TrustsimInputError(f"--out {out_file}: use a .png, .svg or .pdf file name.")
    # Charts of different measures get different default files, so drawing one never
    # silently replaces another.
    stem = f"{kind}-{metric}" if metric else kind
    # A trace file given alone gets its charts beside it.
    folder = Path(results_dir).parent if Path(results_dir).is_file() else Path(results_dir)
    out = Path(out_file) if out_file else folder / "charts" / f"{stem}.{fmt}"
    replacing = out.exists()
    metric = metric or "closed_deals"
    results = load_results(results_dir)
    # The chart and its numbers are staged before drawing (a bad path costs no work) and
    # replace the old pair together.
    with reporting_failures(out), staged_outputs() as staging:
        image, numbers = staging.file(out), staging.file(out.with_suffix(".csv"))
        drawn = make_chart(results, kind, metric=metric, base=base, scenario=scenario)
        try:
            save_chart(drawn, image, fmt)
            drawn.data.to_csv(numbers, index=False)
        finally:
            plt.close(drawn.figure)
    click.echo(drawn.title)
    verb = "replaced" if replacing else "written to"
    click.echo(f"Chart {verb} {out} (numbers: {out.with_suffix('.csv')})", err=True)


@main.command()
@click.argument("results_dir", metavar="RESULTS")
@out_option(
    "out_file",
    "file",
    "The deck (.pptx); its numbers go to <name>-data/*.csv and <name>-data.xlsx.",
    default="deck.pptx",
    show_default=True,
)
@click.option(
    "--template",
    type=click.Path(dir_okay=False),
    default=None,
    help="A .pptx whose size, slide masters and layouts to use.",
)
@click.option(
    "--pdf", is_flag=True, help="Also write <name>.pdf: the deck rendered by LibreOffice."
)
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    help="A KPI for the scorecard and evidence, primary first (repeatable; default: "
    "closed_deals, short_closed_deals, satisfaction, nps, revenue where it is money, "
    "contribution and cost_per_deal where the scenarios give their costs).",
)
@click.option("--title", default=None, help="Title of the deck.")
@click.option("--client", default="", help="Client named on the title slide.")
@click.option("--project", default="", help="Project named on the title slide.")
@click.option("--author", default="", help="Author on the title slide and in the file.")
@click.option(
    "--date", default="", help="Date on the title slide (YYYY-MM-DD also dates the file)."
)
@click.option(
    "--calibration", default=None, metavar="DIR", type=click.Path(file_okay=False),
    help="Add the slide 'Is it your market?' for this `trustsim calibrate --out DIR` "
    "(default: the calibration RESULTS were run with by --posterior, if any).",
)  # fmt: skip
@click.option(
    "--robustness", "robustness_dir", default=None, metavar="DIR",
    type=click.Path(file_okay=False),
    help="A `trustsim robustness` study: adds a slide on how robust the headline is.",
)  # fmt: skip
def report(
    results_dir, out_file, template, pdf, metrics, title, client, project, author, date,
    calibration, robustness_dir,
):  # fmt: skip
    """Write a client deck from RESULTS: summary, scorecard, evidence, recommendation.

    Every claim about a difference comes from a paired test; where none is established the
    deck says so. Each chart slide has its action title, a takeaway and the provenance in
    the notes; bar charts are native PowerPoint charts; every chart's numbers go beside
    the deck (CSVs and one workbook). 16:9, or the size of --template.

    \b
    Example:
      trustsim compare real-estate real-estate-verifiable -n 20 --out res/
      trustsim report res/ --out deck.pptx --client "Acme" --author "J. Doe" --pdf
    """
    from trustsim.charts import load_results
    from trustsim.report import DeckInfo, MissingToolError, build_report, chosen_charts

    info = DeckInfo(client=client, project=project, author=author, date=date)
    if title:
        info.title = title
    results = load_results(results_dir)
    if calibration is not None:
        from trustsim.report.market_fit import with_calibration

        results = with_calibration(results, calibration)
    try:
        deck = build_report(
            results,
            out_file,
            template=template,
            pdf=pdf,
            kinds=chosen_charts(results_dir),
            metrics=list(metrics),
            info=info,
            robustness=robustness_dir,
        )
    except MissingToolError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(1)
    for i, slide_title in enumerate(deck.titles, start=1):
        click.echo(f"{i:2d}. {slide_title}")
    written = ", ".join(str(p) for p in (deck.pptx, deck.pdf, deck.csv_dir) if p)
    click.echo(f"Written: {written}", err=True)


@main.command()
@click.argument("scenario", metavar="SCENARIO")
@replications_option("Paired runs per variant (common random numbers).", minimum=2)
@seed_option()
@steps_option("Horizon in steps.")
@set_option("Override a scenario value before features are removed (repeatable).")
@out_option(
    "out_dir", "dir", "Write features.parquet/.csv and the runs (for `trustsim chart/report`)."
)
@force_option()
@format_option(("table", "csv", "json"))
@decompose_option()
@posterior_option("variant")
def features(
    scenario, replications, seed, steps, overrides, out_dir, force, fmt, decompose, posterior
):  # fmt: skip
    """Usage is not value: remove each delegation feature and verification affordance
    in turn and measure what it costs in closed deals and satisfaction (95% CIs), the
    cost in closed deals split into via conversion and via word of mouth (one more run
    per replication and feature; --no-decompose skips it).

    \b
    Example:
      trustsim features real-estate-verifiable -n 20 --out features/
      trustsim chart features/ --kind usage-value
    """
    from trustsim.experiments.features import feature_value, removable_features
    from trustsim.scenarios import load_scenario
    from trustsim.terminal.features import print_features

    base = load_scenario(scenario, overrides)
    removable = removable_features(base)[0]
    draws = posterior_draws(posterior, replications, seed)

    def simulate():
        runs = (len(removable) * (2 if decompose else 1) + 1) * replications
        with progress(runs, fmt != "table") as advance:
            return feature_value(
                scenario, replications, seed, steps, overrides, advance, decompose, draws
            )

    simulate_and_save(
        out_dir, "features", lambda: [base.name, *(f.variant_name(base.name) for f in removable)],
        force, simulate, lambda value: (value.result, value.tables()),
        lambda value: print_features(value, fmt), announce=fmt == "table",
    )  # fmt: skip


@main.command()
@click.argument("target", default="real-estate", metavar="[SCENARIO | RESULTS_DIR]")
@click.option(
    "--port", "-p", default=8501, show_default=True, type=click.IntRange(1024, 65535),
    help="Port on 127.0.0.1 to serve the page on.",
)  # fmt: skip
def explore(target, port):
    """A page in the browser: move the sliders, watch the funnel and trust change.

    Serves on http://127.0.0.1:PORT only, with no usage statistics and nothing fetched
    from outside. SCENARIO (a built-in name or a TOML file) gives sliders for its market,
    stages and segments, live results against a comparison, a buyer's journey, "Save
    scenario" and "Add to deck". RESULTS_DIR (from `--out`) opens read-only with its
    charts. Ctrl-C stops the server.

    \b
    Example:
      trustsim explore real-estate --port 8501
      trustsim explore results/
    """
    from pathlib import Path

    if Path(target).is_dir():
        from trustsim.charts import load_results

        load_results(target)
    else:
        from trustsim.scenarios import load_scenario

        load_scenario(target)
    from trustsim.explore import serve

    serve(target, port)

"""Charts drawn as native PowerPoint charts (python-pptx), editable in the deck.

A chart is native where a PowerPoint bar chart carries everything its picture shows:
the comparison (mean and 95% CI per scenario), the paired difference (mean difference,
95% CI, filled where established and hollow where not) and the funnel (buyers reaching
each stage, 95% CI, the worst step in the alert colour). The interval is a custom error
bar, which python-pptx has no API for, so it is written into the chart XML (`c:errBars`
with literal plus and minus values, as PowerPoint stores a typed-in custom error bar).

Charts over time keep their picture: their interval is a band between two lines, and a
band needs an area and a line plot in one chart, which python-pptx cannot build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trustsim.charts.style import ALERT, DECK_FONT, LIGHT_GREY, TEXT

if TYPE_CHECKING:
    from trustsim.charts.base import Chart

NATIVE_KINDS = ("comparison", "difference", "funnel")
FONT_PT = 14


@dataclass(frozen=True)
class Bars:
    """What a native bar chart draws: one bar per category, top to bottom.

    Attributes:
        categories: the category labels.
        values: bar lengths.
        low, high: the interval of each bar (drawn as whiskers).
        fills: colour of each bar, or None for a hollow bar.
        lines: outline colour of each bar.
        labels: each bar's numbers, written under its category name (at the bar's end
            the whisker would run over them).
        axis_title: what the value axis measures.
        note: what the marks mean (above the chart).
    """

    categories: list[str]
    values: list[float]
    low: list[float]
    high: list[float]
    fills: list[str | None]
    lines: list[str]
    labels: list[str]
    axis_title: str
    note: str


def bars_for(chart: Chart) -> Bars | None:
    """The native bars of a chart, or None where its kind stays a picture."""
    builder = {"comparison": _comparison, "difference": _difference, "funnel": _funnel}
    make = builder.get(chart.kind)
    return make(chart) if make else None


def _comparison(chart: Chart) -> Bars:
    from trustsim.charts.base import number
    from trustsim.metrics import label

    rows = chart.data.reset_index(drop=True)
    metric = str(rows["metric"].iloc[0])
    texts = [
        f"{number(r['mean'])}  ({number(r.ci_low)}–{number(r.ci_high)})" for _, r in rows.iterrows()
    ]
    return Bars(
        categories=[str(x) for x in rows["label"]],
        values=rows["mean"].tolist(),
        low=rows["ci_low"].tolist(),
        high=rows["ci_high"].tolist(),
        fills=rows["color"].tolist(),
        lines=rows["color"].tolist(),
        labels=texts,
        axis_title=label(metric),
        note=f"Bar: mean of {int(rows['n'].max())} runs; whisker: 95% CI of the mean",
    )


def _difference(chart: Chart) -> Bars:
    from trustsim.charts.claims import change_text, in_sentence, metric_words

    rows = chart.data.reset_index(drop=True)
    metric = str(rows["metric"].iloc[0])
    established = [e.established for e in chart.effects]
    base = in_sentence(str(rows["base_label"].iloc[0]))
    return Bars(
        categories=[str(x) for x in rows["label"]],
        values=rows["diff"].tolist(),
        low=rows["ci_low"].tolist(),
        high=rows["ci_high"].tolist(),
        fills=[c if sure else None for c, sure in zip(rows["color"], established, strict=True)],
        lines=rows["color"].tolist(),
        labels=[change_text(metric, d, chart.effects[0].currency) for d in rows["diff"]],
        axis_title=f"Difference in {metric_words(metric).label} vs {base}",
        note=(
            f"Bar: mean paired difference over {int(rows['n'].max())} runs; whisker: 95% CI; "
            "hollow: not established"
        ),
    )


def _funnel(chart: Chart) -> Bars:
    from trustsim.charts.base import number, percent

    rows = chart.data.reset_index(drop=True)
    worst = int(rows["left_share"].fillna(-1).idxmax())
    names = rows["stage_label"] if "stage_label" in rows.columns else rows["stage"]
    texts = []
    for _, row in rows.iterrows():
        text = number(row.reached)
        if not math.isnan(row.left_share):
            text += f" · {percent(row.left_share)} leave"
        texts.append(text)
    derived = " (rebuilt from stage counts)" if bool(rows["derived"].iloc[0]) else ""
    colours = [ALERT if i == worst else LIGHT_GREY for i in range(len(rows))]
    return Bars(
        categories=[
            f"{s} (closes)" if c else str(s) for s, c in zip(names, rows["closing"], strict=True)
        ],
        values=rows["reached"].tolist(),
        low=rows["ci_low"].tolist(),
        high=rows["ci_high"].tolist(),
        fills=colours,
        lines=colours,
        labels=texts,
        axis_title=f"Buyers reaching the stage ({rows['label'].iloc[0]})",
        note=f"Bar: mean of {int(rows['n'].max())} runs{derived}; whisker: 95% CI",
    )


# ------------------------------------------------------------------ drawing
def add_bar_chart(slide, bars: Bars, box: tuple[float, float, float, float], name: str):
    """Draw `bars` as a native horizontal bar chart in `box` (left, top, width, height in
    inches) with a one-line note above it; returns the chart's graphic frame."""
    from pptx.chart.data import CategoryChartData
    from pptx.enum.chart import XL_CHART_TYPE
    from pptx.util import Inches, Pt

    left, top, width, height = box
    _note(slide, bars.note, left, top, width)
    data = CategoryChartData(number_format="General")
    data.categories = [f"{c}\n{t}" for c, t in zip(bars.categories, bars.labels, strict=True)]
    # A measure undefined in some scenario (NaN) is a blank point, not a crash in the
    # chart's embedded workbook.
    data.add_series(bars.axis_title, [v if math.isfinite(v) else None for v in bars.values])
    frame = slide.shapes.add_chart(
        XL_CHART_TYPE.BAR_CLUSTERED,
        Inches(left),
        Inches(top + 0.4),
        Inches(width),
        Inches(height - 0.4),
        data,
    )
    frame.name = name
    chart = frame.chart
    chart.has_legend = False
    chart.has_title = False
    chart.font.name, chart.font.size = DECK_FONT, Pt(FONT_PT)
    chart.font.color.rgb = _rgb(TEXT)
    plot = chart.plots[0]
    plot.gap_width = 60
    plot.vary_by_categories = False
    series = plot.series[0]
    series.invert_if_negative = False
    for i, (fill, line) in enumerate(zip(bars.fills, bars.lines, strict=True)):
        point = series.points[i]
        if fill is None:
            point.format.fill.background()
        else:
            point.format.fill.solid()
            point.format.fill.fore_color.rgb = _rgb(fill)
        point.format.line.color.rgb = _rgb(line)
        point.format.line.width = Pt(2.25)
    _error_bars(series, bars)
    _axes(chart, bars)
    return frame


def _axes(chart, bars: Bars) -> None:
    from pptx.enum.chart import XL_TICK_LABEL_POSITION
    from pptx.oxml.ns import qn
    from pptx.util import Pt

    categories = chart.category_axis
    categories.reverse_order = True  # the first category on top, as in the picture
    categories.has_major_gridlines = False
    categories.format.line.color.rgb = _rgb("#888888")
    values = chart.value_axis
    # The value axis crosses the reversed categories at the last one: at the bottom.
    values._element.find(qn("c:crosses")).set("val", "max")
    values.has_major_gridlines = True
    values.major_gridlines.format.line.color.rgb = _rgb("#E6E6E6")
    values.format.line.fill.background()
    values.has_title = True
    values.axis_title.text_frame.text = bars.axis_title
    title_run = values.axis_title.text_frame.paragraphs[0].runs[0]
    title_run.font.size, title_run.font.bold = Pt(FONT_PT), False
    title_run.font.name = DECK_FONT
    low = min([0.0, *(v for v in bars.low if math.isfinite(v))])
    high = max([0.0, *(v for v in bars.high if math.isfinite(v))])
    step = nice_step(high - low)
    values.major_unit = step
    values.minimum_scale = math.floor(low / step) * step
    values.maximum_scale = math.ceil(high / step) * step
    values.tick_labels.font.size = Pt(FONT_PT)
    values.tick_labels.number_format = "#,##0.##"
    values.tick_labels.number_format_is_linked = False
    if low < 0:
        # Category names stay left of the plot when bars run to the left of zero.
        categories.tick_label_position = XL_TICK_LABEL_POSITION.LOW


def nice_step(span: float, ticks: int = 5) -> float:
    """A round tick step (1, 2 or 5 times a power of ten) giving about `ticks` ticks.

    Example:
        >>> nice_step(800), nice_step(0.07), nice_step(0)
        (200.0, 0.02, 1.0)
    """
    if span <= 0:
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m for m in (1, 2, 5, 10) if m * power >= raw) * power
    return float(f"{step:.12g}")


def _error_bars(series, bars: Bars) -> None:
    """Whiskers from each bar's `low` to its `high`: a custom error bar with literal
    plus and minus values, placed where the schema wants it (before `c:cat`)."""
    from lxml import etree
    from pptx.oxml.ns import qn

    plus = [h - v for h, v in zip(bars.high, bars.values, strict=True)]
    minus = [v - lo for v, lo in zip(bars.values, bars.low, strict=True)]
    err = etree.SubElement(series._element, qn("c:errBars"))
    etree.SubElement(err, qn("c:errBarType")).set("val", "both")
    etree.SubElement(err, qn("c:errValType")).set("val", "cust")
    etree.SubElement(err, qn("c:noEndCap")).set("val", "0")
    for tag, values in (("c:plus", plus), ("c:minus", minus)):
        literal = etree.SubElement(etree.SubElement(err, qn(tag)), qn("c:numLit"))
        etree.SubElement(literal, qn("c:formatCode")).text = "General"
        etree.SubElement(literal, qn("c:ptCount")).set("val", str(len(values)))
        for i, value in enumerate(values):
            if not math.isfinite(value):
                continue  # no whisker where the bar or its interval is undefined
            point = etree.SubElement(literal, qn("c:pt"))
            point.set("idx", str(i))
            etree.SubElement(point, qn("c:v")).text = repr(max(float(value), 0.0))
    line = etree.SubElement(etree.SubElement(err, qn("c:spPr")), qn("a:ln"))
    line.set("w", "19050")
    fill = etree.SubElement(line, qn("a:solidFill"))
    etree.SubElement(fill, qn("a:srgbClr")).set("val", TEXT.lstrip("#").upper())
    series._element.find(qn("c:cat")).addprevious(err)


def _note(slide, text: str, left: float, top: float, width: float) -> None:
    from pptx.util import Inches, Pt

    box = slide.shapes.add_textbox(Inches(left), Inches(top), Inches(width), Inches(0.4))
    box.name = "Chart note"
    box.text_frame.text = text
    run = box.text_frame.paragraphs[0].runs[0]
    run.font.size, run.font.name = Pt(FONT_PT), DECK_FONT
    run.font.color.rgb = _rgb("#666666")


def _rgb(colour: str):
    from pptx.dml.color import RGBColor

    return RGBColor.from_string(colour.lstrip("#").upper())

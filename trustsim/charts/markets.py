"""Markets in a result: the scenarios that share a market size, a step and a horizon.

Results may hold several (the demo's hold the real-estate family, 2,000 buyers over
104 weeks, and the delivery trial, 10,000 buyers over 90 days). Counts of one market
read against counts of another mean nothing, so a chart of several scenarios draws one
panel per market, each on its own axes and compared with its own market's base, and
the chart data carries a `market` column; charts that weigh every scenario against one
base refuse several markets (`trustsim.charts.results.check_one_market`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.experiments.runner import RunResult


@dataclass(frozen=True)
class Market:
    """What makes counts comparable: the same buyers over the same time.

    Attributes:
        size: buyers in the market.
        steps: the horizon in steps.
        step_unit: what one step is ("week", "day").
    """

    size: int
    steps: int
    step_unit: str

    @property
    def label(self) -> str:
        """The market in words, as a panel title and in messages.

        Example:
            >>> Market(2000, 104, "week").label
            '2,000 buyers, 104 weeks'
        """
        return f"{self.size:,} buyers, {self.steps:,} {self.step_unit}s"


def markets_of(run: RunResult) -> dict[Market, list[str]]:
    """The scenario names of each market, markets and names in the order of the results.

    The horizon is the run's `steps` where the runs were cut short for all scenarios,
    else each scenario's own.
    """
    markets: dict[Market, list[str]] = {}
    for name, spec in run.scenarios.items():
        market = Market(spec.market.size, run.steps or spec.time.steps, spec.time.step_unit)
        markets.setdefault(market, []).append(name)
    return markets


def by_market(run: RunResult) -> list[tuple[Market, RunResult]]:
    """The runs split per market: each part holds its scenarios' summaries, time series
    and replays, so paired differences are taken against the market's own base (its
    first scenario) and Holm-adjusted over its own alternatives.

    A result of one market comes back whole, as the same object.
    """
    from trustsim.experiments.runner import subset

    markets = markets_of(run)
    if len(markets) < 2:
        return [(market, run) for market in markets]
    parts = []
    for market, names in markets.items():
        part = subset(run, names)
        series = run.timeseries[run.timeseries["scenario"].isin(names)]
        parts.append((market, replace(part, timeseries=series)))
    return parts


def market_panels(data: pd.DataFrame) -> list[tuple[str | None, pd.DataFrame]]:
    """The rows of chart data per panel: (market label, rows) for data of several
    markets, else one panel without a label holding all rows."""
    if "market" not in data.columns or data["market"].nunique() < 2:
        return [(None, data)]
    return [(str(label), rows) for label, rows in data.groupby("market", sort=False)]


def panel_title(ax, market: str) -> None:
    """Name the market a panel shows above it (where a one-market chart has its note)."""
    ax.set_title(market, loc="left", fontsize=15, fontweight="bold")


def markets_sentence(labels: list[str]) -> str:
    """What a chart of several markets says about them (its takeaway ends with it).

    Example:
        >>> markets_sentence(["2,000 buyers, 104 weeks", "10,000 buyers, 90 days"])[:68]
        'The results hold 2 markets (2,000 buyers, 104 weeks; 10,000 buyers, '
    """
    return (
        f"The results hold {len(labels)} markets ({'; '.join(labels)}): one panel each, on "
        "its own scale, each scenario compared with its own market's base; counts of "
        "different markets are not comparable."
    )

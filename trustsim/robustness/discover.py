"""`trustsim discover`: where in the plausible worlds does a conclusion fail?

The cases of interest are the worlds of a robustness study where ALT's effect on METRIC
is not established in the direction seen at the defaults (it has the other sign, or its
paired 95% CI includes 0). PRIM (`trustsim.robustness.prim`) finds the box of assumed
constants where they concentrate; a classification tree (CART, Breiman et al. 1984;
scikit-learn) fitted to the same labels is the cross-check: its purest large leaf should
describe the same region. Outputs go to DIR/discover/ALT.METRIC/: `boxes.csv` (one row
per method and factor: limits in the field's unit, quasi-p and reproducibility per limit,
coverage, density, mass), `peeling.csv` (the trajectory), `reading.txt` (one sentence)
and `discovery.png` with its CSV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustsim.errors import TrustsimInputError
from trustsim.scenarios.reference import field_symbol_unit

BOX_COLUMNS = (
    "method", "factor", "symbol", "unit", "low", "high", "range_low", "range_high",
    "restricted", "quasi_p_low", "quasi_p_high", "reproducibility_low",
    "reproducibility_high", "coverage", "density", "mass",
)  # fmt: skip


@dataclass
class Finding:
    """What `discover` found for one conclusion."""

    scenario: str
    metric: str
    reading: str
    boxes: Any  # DataFrame with BOX_COLUMNS (empty when nothing fails, or everything)
    trajectory: Any  # DataFrame: step, coverage, density, mass, restricted, chosen
    cases: int
    worlds: int


def output_dir(directory: str | Path, scenario: str, metric: str) -> Path:
    return Path(directory) / "discover" / f"{scenario}.{metric}"


def discover(directory: str | Path, scenario: str, metric: str, *, resamples: int = 20,
             seed: int = 0) -> Finding:  # fmt: skip
    """Find the region of plausible worlds where ALT's conclusion on METRIC fails.

    Raises:
        TrustsimInputError: DIR is not a robustness study, or ALT or METRIC is not in it.
    """
    import numpy as np
    import pandas as pd

    from trustsim.robustness import prim
    from trustsim.robustness.study import load_study

    spec, table, effects = load_study(directory)
    _check_choice(directory, "--scenario", scenario, spec["alternatives"])
    _check_choice(directory, "--metric", metric, spec["metrics"])
    rows = effects[(effects["scenario"] == scenario) & (effects["metric"] == metric)]
    rows = rows[rows["effect"].notna()]
    factors = list(spec["factors"])
    conclusion = table.loc[
        (table["scenario"] == scenario) & (table["metric"] == metric), "conclusion"
    ].iloc[0]
    failing = ~rows["established"].to_numpy(dtype=bool)
    empty = pd.DataFrame(columns=list(BOX_COLUMNS))
    if not failing.any() or failing.all():
        where = "every" if failing.all() else "no"
        reading = (
            f"'{conclusion}' fails (other sign or not established) in {where} world "
            f"sampled ({len(rows)}): there is no region to find."
        )
        return Finding(scenario, metric, reading, empty, pd.DataFrame(), int(failing.sum()),
                       len(rows))  # fmt: skip
    bounds = np.array([[spec["factors"][f][0] for f in factors],
                       [spec["factors"][f][1] for f in factors]], dtype=float)  # fmt: skip
    x = rows[factors].to_numpy(dtype=float)
    found = prim.discover(x, failing, bounds, resamples=resamples, seed=seed)
    boxes = pd.concat([_prim_rows(found, factors, bounds), _cart_rows(x, failing, factors, bounds)])
    trajectory = pd.DataFrame([
        {"step": i, "coverage": b.coverage, "density": b.density, "mass": b.mass,
         "restricted": len(b.restricted(bounds)), "chosen": i == found.chosen}
        for i, b in enumerate(found.trajectory)
    ])  # fmt: skip
    reading = _reading(conclusion, found.box, factors, bounds, int(failing.sum()), len(rows))
    return Finding(scenario, metric, reading, boxes.reset_index(drop=True), trajectory,
                   int(failing.sum()), len(rows))  # fmt: skip


def _check_choice(directory, option: str, value: str, allowed: list[str]) -> None:
    if value not in allowed:
        raise TrustsimInputError(
            f"{option} {value}: not in the robustness study {directory}. "
            f"Choose one of: {', '.join(allowed)}."
        )


def _prim_rows(found, factors: list[str], bounds) -> Any:
    import pandas as pd

    box = found.box
    rows = []
    for j, path in enumerate(factors):
        symbol, unit = field_symbol_unit(path)
        restricted = box.low[j] > bounds[0, j] or box.high[j] < bounds[1, j]
        rows.append({
            "method": "prim", "factor": path, "symbol": symbol, "unit": unit,
            "low": box.low[j], "high": box.high[j], "range_low": bounds[0, j],
            "range_high": bounds[1, j], "restricted": restricted,
            "quasi_p_low": box.quasi_p.get((j, "low"), math.nan),
            "quasi_p_high": box.quasi_p.get((j, "high"), math.nan),
            "reproducibility_low": found.reproducibility.get((j, "low"), 0.0),
            "reproducibility_high": found.reproducibility.get((j, "high"), 0.0),
            "coverage": box.coverage, "density": box.density, "mass": box.mass,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(BOX_COLUMNS))


def cart_leaf(x, y, bounds, seed: int = 0):
    """The leaf of a depth-3 classification tree (leaves of at least 5% of the points)
    with the best harmonic mean of coverage and density, as a `prim.Box`."""
    import numpy as np
    from sklearn.tree import DecisionTreeClassifier

    from trustsim.robustness import prim

    tree = DecisionTreeClassifier(
        max_depth=3, min_samples_leaf=max(5, math.ceil(0.05 * len(y))), random_state=seed
    ).fit(x, y)
    t = tree.tree_
    best: tuple[float, prim.Box] | None = None
    stack = [(0, bounds[0].copy(), bounds[1].copy())]
    while stack:
        node, low, high = stack.pop()
        if t.children_left[node] == -1:
            box = prim.measure(prim.Box(low, high), x, y)
            score = prim.harmonic_mean(box.coverage, box.density)
            if best is None or score > best[0]:
                best = (score, box)
            continue
        j, cut = t.feature[node], t.threshold[node]
        left_high, right_low = high.copy(), low.copy()
        left_high[j] = min(high[j], cut)
        right_low[j] = max(low[j], np.nextafter(cut, np.inf))
        stack += [
            (t.children_left[node], low, left_high),
            (t.children_right[node], right_low, high),
        ]
    return best[1]


def _cart_rows(x, y, factors: list[str], bounds) -> Any:
    import pandas as pd

    leaf = cart_leaf(x, y, bounds)
    rows = []
    for j, path in enumerate(factors):
        symbol, unit = field_symbol_unit(path)
        rows.append({
            "method": "cart", "factor": path, "symbol": symbol, "unit": unit,
            "low": leaf.low[j], "high": leaf.high[j], "range_low": bounds[0, j],
            "range_high": bounds[1, j],
            "restricted": bool(leaf.low[j] > bounds[0, j] or leaf.high[j] < bounds[1, j]),
            "quasi_p_low": math.nan, "quasi_p_high": math.nan,
            "reproducibility_low": math.nan, "reproducibility_high": math.nan,
            "coverage": leaf.coverage, "density": leaf.density, "mass": leaf.mass,
        })  # fmt: skip
    return pd.DataFrame(rows, columns=list(BOX_COLUMNS))


def _limit_text(path: str, j: int, box, bounds) -> str:
    symbol, unit = field_symbol_unit(path)
    name = f"{path} ({symbol})" if symbol else path
    parts = []
    if box.low[j] > bounds[0, j]:
        parts.append(f"> {box.low[j]:.3g}")
    if box.high[j] < bounds[1, j]:
        parts.append(f"< {box.high[j]:.3g}")
    return f"{name} {' and '.join(parts)}" + (f" {unit}" if unit else "")


def _reading(conclusion: str, box, factors: list[str], bounds, cases: int, worlds: int) -> str:
    limits = [
        _limit_text(path, j, box, bounds)
        for j, path in enumerate(factors)
        if box.low[j] > bounds[0, j] or box.high[j] < bounds[1, j]
    ]
    if not limits:
        return (
            f"'{conclusion}' fails in {cases} of {worlds} worlds sampled; PRIM finds no limit "
            "on a constant with quasi-p <= 0.05 (more worlds, or fewer factors, may)."
        )
    return (
        f"'{conclusion}' fails (other sign or not established) mainly when "
        f"{'; '.join(limits)} (the box covers {box.coverage:.0%} of such worlds; "
        f"{box.density:.0%} of the worlds in it are such)."
    )


def write_finding(directory: str | Path, finding: Finding) -> Path:
    """boxes.csv, peeling.csv, reading.txt and the chart, atomically, in one directory."""
    import matplotlib.pyplot as plt

    from trustsim.charts import save_chart
    from trustsim.experiments.store import storage_errors
    from trustsim.output import write_text_atomic
    from trustsim.robustness.charts import discovery_chart

    out = output_dir(directory, finding.scenario, finding.metric)
    with storage_errors("write the discovery", "Free space (or fix the disk) and rerun.", out):
        write_text_atomic(out / "boxes.csv", finding.boxes.to_csv(index=False))
        write_text_atomic(out / "peeling.csv", finding.trajectory.to_csv(index=False))
        write_text_atomic(out / "reading.txt", finding.reading + "\n")
        if len(finding.boxes):
            prim_rows = finding.boxes[finding.boxes["method"] == "prim"]
            chart = discovery_chart(finding.trajectory, prim_rows, finding.reading)
            try:
                save_chart(chart, out / "discovery.png", "png")
                write_text_atomic(out / "discovery.csv", chart.data.to_csv(index=False))
            finally:
                plt.close(chart.figure)
    return out


def reading_for(directory: str | Path, scenario: str, metric: str) -> str | None:
    """The sentence `trustsim discover` wrote for a conclusion, if it was run."""
    file = output_dir(directory, scenario, metric) / "reading.txt"
    return file.read_text(encoding="utf-8").strip() if file.is_file() else None


REPRODUCIBLE = 0.5  # share of half-samples restricting a limit for a region to be claimed


def region_found(directory: str | Path, scenario: str, metric: str) -> bool | None:
    """Whether `trustsim discover` found a region to claim for a conclusion: PRIM kept
    limits (each with quasi-p <= 0.05) and every one of them is reproduced in at least
    half of the random half-samples. None if discover was not run.
    """
    import pandas as pd

    file = output_dir(directory, scenario, metric) / "boxes.csv"
    if not file.is_file():
        return None
    boxes = pd.read_csv(file)
    limits = []
    for row in boxes[(boxes["method"] == "prim") & boxes["restricted"].astype(bool)].itertuples():
        if row.low > row.range_low:
            limits.append(row.reproducibility_low)
        if row.high < row.range_high:
            limits.append(row.reproducibility_high)
    return bool(limits) and min(limits) >= REPRODUCIBLE


def robustness_summary(directory: str | Path) -> list[str]:
    """One sentence per conclusion, for a deck: how often it holds, which constants
    decide it (`indices.csv`), and (where `trustsim discover` was run for it) where it
    fails.

    Example:
        >>> robustness_summary("rob/")[0]  # doctest: +SKIP
        'real-estate-verifiable raises closed deals vs real-estate in 87% of plausible
         worlds (95% CI 80%-92%); established in 61%. It fails more often when
         choice.reactance_weight is high (S1 0.31).'
    """
    from trustsim.robustness.indices import deciding, deciding_text, load_indices
    from trustsim.robustness.study import load_study

    _, table, _ = load_study(directory)
    indices = load_indices(directory)
    sentences = []
    for row in table.itertuples():
        parts = [
            f"{row.conclusion} in {row.share_holding:.0%} of plausible worlds (95% CI "
            f"{row.ci_low:.0%}-{row.ci_high:.0%}); established in {row.share_established:.0%}."
        ]
        if indices is not None:
            parts.append(deciding_text(deciding(indices, row.scenario, row.metric)))
        parts.append(reading_for(directory, row.scenario, row.metric) or "")
        sentences.append(" ".join(part for part in parts if part))
    return sentences

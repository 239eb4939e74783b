"""Which assumed constants decide a conclusion: first-order indices from the study's LHS.

A study samples its worlds by Latin hypercube, so the indices are estimated on those very
worlds, with no extra runs, by RBD-FAST (Tarantola, Gatelli & Mara 2006; Plischke 2010;
SALib's `rbd_fast`, documented for Latin-hypercube samples). The output at world i is the
paired effect of the alternative, signed so that positive means "the conclusion holds":

    y_i = s * mean_r (metric(ALT, i, r) - metric(BASE, i, r)),   s = sign at the defaults.

For constant X_j, RBD-FAST orders the worlds along X_j (up the odd ranks, down the even
ones, which makes y periodic in X_j), and reads off the share of the variance of y in the
first M harmonics of its periodogram P:

    S1_j = sum_{k=1..M} P_k / sum_{k>=1} P_k,   unbiased as  S1 - (2M/n) / (1 - 2M/n) (1 - S1)

(Tissot & Prieur 2012), i.e. Var(E[y | X_j]) / Var(y): the share of the spread of the effect
across plausible worlds that X_j alone accounts for, monotonic or not. Its interval is z
times the standard deviation of S1 over bootstrap half-samples (SALib; conservative, being
the spread at n/2). Beside it, Spearman's rank correlation rho_j of X_j and y (the classic
LHS measure of a monotonic influence, Helton & Davis 2003) gives the *direction*: "weakens"
means the conclusion fails more often as X_j rises. With 40-odd constants some would pass
an ordinary 5% test by chance, so both tests are Bonferroni-corrected (level 0.05 over the
constants of one conclusion): a constant *decides* a conclusion when the lower end of its
S1 interval is above 0 or its rho is significant, and has a direction only in the latter case.

Why not Morris or Sobol' indices: both need their own designs (trajectories, or Saltelli's
n (k + 2) points), i.e. a second, larger sweep of every scenario, while the LHS worlds are
already run; and why not SALib's moment-independent `delta`, also valid on an LHS: its
kernel density estimates took over a minute per conclusion for 4 constants on this machine.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

INDEX_FILE = "indices.csv"
INDEX_COLUMNS = (
    "scenario", "metric", "factor", "symbol", "unit", "S1", "ci_low", "ci_high", "rho",
    "rho_p", "direction", "decides", "rank",
)  # fmt: skip
HARMONICS = 10  # M: SALib's default interference parameter
MIN_WORLDS = 8  # harmonics() needs n // 8 >= 1
RESAMPLES = 50
FAMILY_ALPHA = 0.05  # error rate over all the constants of one conclusion
TOP = 3  # constants named in a sentence


def harmonics(worlds: int) -> int:
    """M for n worlds: SALib's 10, fewer when n is small so that the bootstrap's half
    samples keep 2M < n / 2 (the bias correction divides by 1 - 2M / n).

    Example:
        >>> harmonics(256), harmonics(40), harmonics(12)
        (10, 5, 1)
    """
    return max(1, min(HARMONICS, worlds // 8))


def first_order(x, y, names: list[str], seed: int = 0, resamples: int = RESAMPLES) -> dict:
    """RBD-FAST S1 of each column of `x` on `y`, with Bonferroni intervals.

    Args:
        x: worlds x constants (in any units: only their order matters).
        y: the signed effect per world.
        names: the constants' names.
        seed: seed of the bootstrap.
        resamples: bootstrap half-samples.

    Returns:
        {"S1", "ci_low", "ci_high"}: arrays, one entry per constant; NaN when y does
        not vary or there are fewer than MIN_WORLDS worlds.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).random((256, 3))
        >>> s = first_order(x, 3 * x[:, 0] + 0.1 * x[:, 1], ["a", "b", "c"])
        >>> [round(float(v), 1) + 0.0 for v in s["S1"]]  # + 0.0: no "-0.0"
        [1.0, 0.0, 0.0]
    """
    import warnings

    import numpy as np
    from SALib.analyze import rbd_fast

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    k = len(names)
    nan = np.full(k, np.nan)
    if len(y) < MIN_WORLDS or np.ptp(y) == 0:
        return {"S1": nan, "ci_low": nan, "ci_high": nan}
    problem = {"num_vars": k, "names": names, "bounds": [[0.0, 1.0]] * k}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a constant half-sample divides by zero variance
        result = rbd_fast.analyze(
            problem, x, y, M=harmonics(len(y)), num_resamples=resamples,
            conf_level=1 - FAMILY_ALPHA / k, seed=seed + 1,
        )  # fmt: skip
    s1 = np.asarray(result["S1"], dtype=float)
    half = np.asarray(result["S1_conf"], dtype=float)
    return {"S1": s1, "ci_low": s1 - half, "ci_high": s1 + half}


def direction(x, y, constants: int = 1) -> tuple[float, float, str]:
    """(Spearman's rho of x and the signed effect y, its p-value, and "strengthens" or
    "weakens" when p < 0.05 / constants, else "").

    Example:
        >>> direction([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1])[::2]
        (-1.0, 'weakens')
    """
    import numpy as np
    from scipy.stats import spearmanr

    constant = (np.ptp(np.asarray(v, dtype=float)) == 0 for v in (x, y))
    if len(y) < 3 or any(constant):  # no rank correlation is defined
        return math.nan, math.nan, ""
    rho, p = (float(v) for v in spearmanr(x, y))
    if math.isnan(rho) or not p < FAMILY_ALPHA / constants:
        return rho, p, ""
    return rho, p, "strengthens" if rho > 0 else "weakens"


def conclusion_indices(effects, factors: list[str], defaults: Mapping, seed: int = 0,
                       resamples: int = RESAMPLES):  # fmt: skip
    """indices.csv: one row per (alternative, metric, constant), ranked by S1.

    Args:
        effects: the study's effects per world (`study.world_effects`).
        factors: the sampled constants (columns of `effects`).
        defaults: {alt: {metric: {"diff": ...}}}, the effects at the defaults (their sign
            is the conclusion).
        seed: seed of the bootstraps.
        resamples: bootstrap half-samples per index.
    """
    import numpy as np
    import pandas as pd

    from trustsim.scenarios.reference import field_symbol_unit

    rows = []
    for (alt, metric), group in effects.groupby(["scenario", "metric"], sort=False):
        group = group[group["effect"].notna()]
        diff = defaults.get(alt, {}).get(metric, {}).get("diff")
        sign = 1.0 if diff is None or diff >= 0 else -1.0
        x, y = group[factors].to_numpy(dtype=float), sign * group["effect"].to_numpy(float)
        found = first_order(x, y, factors, seed, resamples)
        order = np.argsort(-np.nan_to_num(found["S1"], nan=-np.inf), kind="stable")
        rank = np.empty(len(factors), dtype=int)
        rank[order] = np.arange(1, len(factors) + 1)
        for j, factor in enumerate(factors):
            rho, p, way = direction(x[:, j], y, len(factors))
            symbol, unit = field_symbol_unit(factor)
            rows.append({
                "scenario": alt, "metric": metric, "factor": factor, "symbol": symbol,
                "unit": unit, "S1": found["S1"][j], "ci_low": found["ci_low"][j],
                "ci_high": found["ci_high"][j], "rho": rho, "rho_p": p, "direction": way,
                "decides": bool(found["ci_low"][j] > 0 or way), "rank": int(rank[j]),
            })  # fmt: skip
    table = pd.DataFrame(rows, columns=list(INDEX_COLUMNS))
    return table.sort_values(["scenario", "metric", "rank"], kind="stable").reset_index(drop=True)


def deciding(indices, scenario: str, metric: str, top: int = TOP):
    """The rows of the constants that decide a conclusion: those with a direction first,
    by the strength of their rank correlation, then the others by S1."""
    rows = indices[(indices["scenario"] == scenario) & (indices["metric"] == metric)]
    rows = rows[rows["decides"].astype(bool)].assign(
        monotonic=lambda r: r["direction"].astype(bool), strength=lambda r: r["rho"].abs()
    )
    rows = rows.sort_values(["monotonic", "strength", "S1"], ascending=False, kind="stable")
    return rows.drop(columns=["monotonic", "strength"]).head(top)


def deciding_text(rows) -> str:
    """A sentence naming the deciding constants, or "" when none decides.

    Example:
        >>> import pandas as pd
        >>> deciding_text(pd.DataFrame([{"factor": "choice.reactance_weight", "S1": 0.31,
        ...     "rho": -0.45, "direction": "weakens"}, {"factor": "choice.pressure_push",
        ...     "S1": 0.12, "rho": 0.02, "direction": ""}]))  # doctest: +NORMALIZE_WHITESPACE
        'It fails more often when push out by reactance (choice.reactance_weight) is high
         (rank correlation with the effect -0.45); its effect also depends on hold of
         pressure on leaving (choice.pressure_push) (S1 0.12).'
    """
    from trustsim.scenarios.reference import field_label

    if len(rows) == 0:
        return ""
    fails, other = [], []
    for row in rows.itertuples():
        # The display name for the reader, the path for whoever reruns the study.
        label = field_label(row.factor)
        named = label if label == row.factor else f"{label} ({row.factor})"
        if row.direction:
            side = "high" if row.direction == "weakens" else "low"
            fails.append((named, side, row.rho))
        else:
            other.append(f"{named} (S1 {row.S1:.2f})")
    parts = []
    if fails:
        clauses = [f"{factor} is {side}" for factor, side, _ in fails]
        rhos = ", ".join(f"{rho:+.2f}" for _, _, rho in fails)
        what = "rank correlation" if len(fails) == 1 else "rank correlations"
        parts.append(
            f"It fails more often when {' or '.join(clauses)} ({what} with the effect {rhos})"
        )
    if other:
        lead = "its effect also depends on" if fails else "Its effect depends most on"
        parts.append(f"{lead} {', '.join(other)}")
    return "; ".join(parts) + "."


def load_indices(directory: str | Path) -> Any | None:
    """The study's indices.csv, or None for a study written before there were indices."""
    import pandas as pd

    file = Path(directory) / INDEX_FILE
    if not file.is_file():
        return None
    # Read as text: a column of only empty directions would otherwise be read as floats.
    return pd.read_csv(file, dtype={"direction": object}).fillna({"direction": ""})

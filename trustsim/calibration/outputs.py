"""What a calibration leaves in its directory.

    DIR/posterior.parquet          the final draws: parameter values, weight, log-likelihood,
                                   the round of the final check that drew them
    DIR/posterior-summary.csv      parameter, prior_low, prior_high, median, q05, q95, ess
    DIR/calibrated.toml            a scenario that `extends` the original, posterior medians
    DIR/waves.csv                  per wave: points, runs, share of the prior not ruled out
    DIR/posterior-predictive.csv   each statistic: observed against its predicted 90% band
    DIR/calibration.json           provenance, ESS (after each round), runs, time, the
                                   hold-out verdict
    DIR/charts/*.png, *.csv        posterior predictive, prior against posterior
    DIR/waves/wave-N/block-NN/     the sweeps of the waves' runs (resumable)
    DIR/final-*/block-NN/          the sweeps of the final check

Every file is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trustsim.experiments.stats import weighted_quantiles

if TYPE_CHECKING:
    import pandas as pd

    from trustsim.calibration.result import Calibration

BAND = (0.05, 0.5, 0.95)


def posterior_frame(result: Calibration) -> pd.DataFrame:
    """One row per final draw: its parameter values, unit coordinates, weight, likelihood."""
    import pandas as pd

    frame = pd.DataFrame({"draw": np.arange(len(result.draws))})
    for j, prior in enumerate(result.problem.priors):
        frame[prior.path] = prior.from_unit(result.draws[:, j])
    for j, prior in enumerate(result.problem.priors):
        frame[f"unit:{prior.path}"] = result.draws[:, j]
    frame["weight"] = result.weights
    frame["log_likelihood"] = result.log_likelihood
    rounds = result.rounds or [{"round": 1, "draws": len(result.draws)}]
    frame["round"] = np.repeat([r["round"] for r in rounds], [r["draws"] for r in rounds])
    return frame


def posterior_summary(result: Calibration) -> pd.DataFrame:
    """Per parameter: prior range, posterior median and 90% interval, and the ESS."""
    import pandas as pd

    rows = []
    for j, prior in enumerate(result.problem.priors):
        values = prior.from_unit(result.draws[:, j])
        q05, median, q95 = weighted_quantiles(values, result.weights, BAND)
        rows.append(
            {"parameter": prior.path, "prior_low": prior.low, "prior_high": prior.high,
             "median": median, "q05": q05, "q95": q95, "ess": result.ess}
        )  # fmt: skip
    return pd.DataFrame(rows)


def predictive_table(result: Calibration) -> pd.DataFrame:
    """Each statistic observed against the posterior predictive 90% band of one run.

    Every replication of draw i carries weight w_i / (its defined replications), so the
    band mixes parameter uncertainty and the randomness of a run.
    """
    import pandas as pd

    natural = result.final.natural  # (draws, reps, stats)
    rows = []
    for j, stat in enumerate(result.problem.statistics):
        values = natural[:, :, j]
        defined = np.isfinite(values)
        per_draw = np.where(
            defined.sum(axis=1) > 0, result.weights / defined.sum(axis=1).clip(1), 0
        )
        weights = np.where(defined, per_draw[:, None], 0.0)
        q05, median, q95 = weighted_quantiles(values.ravel(), weights.ravel(), BAND)
        rows.append(
            {"statistic": stat.name, "kind": stat.kind, "observed": stat.observed,
             "predicted_q05": q05, "predicted_median": median, "predicted_q95": q95,
             "inside": bool(q05 <= stat.observed <= q95),
             "held_out": bool(result.problem.held_out[j])}
        )  # fmt: skip
    return pd.DataFrame(rows)


def waves_table(result: Calibration) -> pd.DataFrame:
    import pandas as pd

    reps = result.settings.replications
    return pd.DataFrame(
        [
            {"wave": w.number, "points": len(w.unit), "replications": reps,
             "runs": len(w.unit) * reps, "nroy_fraction": w.nroy_fraction,
             "emulated_statistics": sum(e is not None for e in w.emulators),
             "seconds": round(w.seconds, 2)}
            for w in result.waves
        ]
    )  # fmt: skip


def calibrated_toml(result: Calibration, summary: pd.DataFrame) -> str:
    """A scenario that extends the original with the posterior medians and the window."""
    from trustsim.experiments.experiment import toml_literal
    from trustsim.scenarios import parse_override

    problem = result.problem
    ref = problem.scenario_ref
    if Path(ref).is_file():
        ref = str(Path(ref).resolve())
    base = problem.base
    data_name = Path(problem.data_path).name
    lines = [
        f"# Calibrated by `trustsim calibrate` to {problem.data_path}: posterior medians",
        f"# (90% intervals and ESS {result.ess:.0f} in posterior-summary.csv).",
        f"extends = {toml_literal(ref)}",
        f"name = {toml_literal(base.name + '-calibrated')}",
        f"description = {toml_literal(f'{base.name} calibrated to {data_name}')}",
    ]
    for text in problem.overrides:
        path, value = parse_override(text)
        lines.append(f"{_dotted('.'.join(path))} = {toml_literal(value)}")
    lines += [
        f"time.steps = {base.time.steps}",
        f"time.short_horizon = {base.time.short_horizon}",
    ]
    for row in summary.itertuples():
        lines.append(f"{_dotted(row.parameter)} = {toml_literal(float(row.median))}")
    return "\n".join(lines) + "\n"


def _dotted(path: str) -> str:
    from trustsim.calibration.data import toml_key

    return ".".join(toml_key(part) for part in path.split("."))


def provenance(result: Calibration, predictive: pd.DataFrame) -> dict:
    from dataclasses import asdict

    import trustsim

    problem = result.problem
    held = predictive[predictive["held_out"]]
    return {
        "trustsim_version": trustsim.__version__,
        "scenario": problem.scenario_ref,
        "data": problem.data_path,
        "priors": problem.priors_path,
        "parameters": [p.path for p in problem.priors],
        "statistics": [s.name for s in problem.statistics],
        "held_out": list(held["statistic"]),
        "held_out_inside_band": int(held["inside"].sum()),
        "settings": asdict(result.settings),
        "waves": len(result.waves),
        "runs": result.runs,
        "ess": result.ess,
        "final_rounds": result.rounds,
        "seconds": round(result.seconds, 1),
    }


def write_outputs(result: Calibration) -> list[Path]:
    """Write every output file into the calibration directory; return their paths."""
    from trustsim.output import write_parquet_atomic, write_text_atomic

    out = result.out_dir
    summary = posterior_summary(result)
    predictive = predictive_table(result)
    files = {
        "posterior.parquet": posterior_frame(result),
        "posterior-summary.csv": summary,
        "waves.csv": waves_table(result),
        "posterior-predictive.csv": predictive,
    }
    written = []
    for name, frame in files.items():
        path = out / name
        if name.endswith(".parquet"):
            write_parquet_atomic(frame, path)
        else:
            write_text_atomic(path, frame.to_csv(index=False))
        written.append(path)
    write_text_atomic(out / "calibrated.toml", calibrated_toml(result, summary))
    meta = provenance(result, predictive)
    write_text_atomic(out / "calibration.json", json.dumps(meta, indent=2) + "\n")
    from trustsim.calibration.charts import write_charts

    charts = write_charts(out, predictive, summary, result.problem.priors)
    return [*written, out / "calibrated.toml", out / "calibration.json", *charts]

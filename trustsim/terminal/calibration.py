"""A calibration's posterior, predictive check and hold-out verdict on stdout."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trustsim.calibration.outputs import posterior_summary, predictive_table

if TYPE_CHECKING:
    from trustsim.calibration.result import Calibration


def print_calibration(result: Calibration) -> None:
    """The posterior, the predictive check and the hold-out verdict, on stdout."""
    import click

    summary = posterior_summary(result)
    predictive = predictive_table(result)
    click.echo(
        f"Posterior of {len(summary)} parameters: ESS {result.ess:.0f}, {result.runs} runs, "
        f"{len(result.waves)} waves, {result.seconds:.0f} s"
    )
    if len(result.rounds) > 1:
        steps = ", ".join(f"{r['ess']:.0f}" for r in result.rounds)
        click.echo(
            f"The final check took {len(result.rounds)} rounds of draws to reach its ESS "
            f"(ESS after each: {steps})."
        )
    width = max(len(p) for p in summary["parameter"])
    click.echo(f"  {'parameter':<{width}}  {'prior':>17}  {'median':>9}  90% interval")
    for row in summary.itertuples():
        prior = f"[{row.prior_low:.3g}, {row.prior_high:.3g}]"
        click.echo(
            f"  {row.parameter:<{width}}  {prior:>17}  {row.median:>9.4g}  "
            f"[{row.q05:.4g}, {row.q95:.4g}]"
        )
    fitted = predictive[~predictive["held_out"]]
    click.echo(
        f"Posterior predictive: {int(fitted['inside'].sum())} of {len(fitted)} fitted "
        "statistics inside their 90% band."
    )
    for row in predictive[predictive["held_out"]].itertuples():
        verdict = "predicted" if row.inside else "NOT predicted"
        click.echo(
            f"Held out {row.statistic}: observed {row.observed:.4g}, 90% band "
            f"[{row.predicted_q05:.4g}, {row.predicted_q95:.4g}]: {verdict}."
        )
    names = ", ".join(str(p.relative_to(result.out_dir)) for p in result.written)
    click.echo(f"Written to {result.out_dir}: {names}")

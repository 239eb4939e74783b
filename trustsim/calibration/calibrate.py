"""History matching with emulators, then a reweighted check on the real model.

1. Wave 1 runs a Latin hypercube over the priors (several replications per point,
   common random numbers); one Gaussian-process emulator per statistic is fitted.
2. A point is implausible when some statistic's emulated mean lies more than `cutoff`
   standard deviations from the data, counting emulator, observation and model variance
   (`emulator.implausibility`). The next wave's points are drawn inside the space no
   wave has ruled out, and its emulators fitted on the points there.
3. Waves stop when the non-implausible space stops shrinking (a wave removes less than
   `min_shrink` of it), at `max_waves`, or when the budget left is needed for step 4.
4. Final check: draws from the emulated posterior (mixed with the whole
   non-implausible space, so no region is left out) are run for real, and each draw is
   weighted by its real likelihood over its proposal density,

       w_i = L(z | theta_i) / q(theta_i),
       L = N(z; mean of the draw's replications r, S (1 + 1/r) + diag(V_obs)),

   S the replications' covariance pooled over the draws. The effective sample size
   ESS = (sum w)^2 / sum w^2 says how many independent draws the posterior is worth.
5. While the ESS is below `min_ess` and `ess_rounds` are left, another round of
   `final_draws` draws comes from a proposal adapted to the real weights so far, and
   every round's draws are pooled with deterministic-mixture weights
   (`trustsim.calibration.proposal`); below `min_ess` after the last round the
   calibration fails loudly.

Points run in blocks, each block with its own seeds and common random numbers within
(`run_design`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trustsim.calibration.data import load_data
from trustsim.calibration.emulator import (
    Emulator,
    emulated_log_likelihood,
    fit_emulator,
    implausibility,
)
from trustsim.calibration.observe import window_overrides
from trustsim.calibration.priors import load_priors
from trustsim.calibration.result import Calibration, CalibrationError, Problem, Settings, Wave
from trustsim.calibration.statistics import Statistic, data_statistics, summary_metrics
from trustsim.calibration.waves import PointRuns, point_experiment, read_point_runs
from trustsim.errors import TrustsimInputError
from trustsim.scenarios import load_scenario

POINTS_FILE = "calibration-points.parquet"
# Settings a rerun into the same directory may change (see `fingerprint`).
RERUN_SETTINGS = ("budget", "final_draws", "min_ess", "ess_rounds")
# The proposal of the final draws: emulated likelihood to this power, and this share
# spread uniformly over the non-implausible space (so no region is left out).
TEMPER = 0.5
DEFENSIVE = 0.3
# Points per block of common random numbers (see `run_design`).
BLOCK = 10
INPUTS_FILE = "calibration-inputs.json"


Runner = Callable[[object, Path], object]


def load_problem(
    scenario_ref: str,
    data_path: str,
    priors_path: str,
    holdout: Sequence[str] = (),
    overrides: Sequence[str] = (),
) -> Problem:
    """Load and cross-check scenario, data, priors and hold-out names; nothing is written.

    Args:
        scenario_ref: the scenario (name or TOML path) whose parameters are calibrated.
        data_path: the funnel data file.
        priors_path: the priors file.
        holdout: statistic or stage names kept out of the fit.
        overrides: `PATH=VALUE` settings known for this firm (e.g. market.size).
    """
    scenario = load_scenario(scenario_ref, overrides)
    data = load_data(data_path, scenario)
    fixed = [*overrides, *window_overrides(scenario, data.periods(scenario))]
    base = load_scenario(scenario_ref, fixed)
    priors = load_priors(priors_path, scenario_ref, fixed)
    stats = data_statistics(data)
    held = held_out_flags(stats, holdout, list(scenario.stages))
    if all(held):
        raise TrustsimInputError(
            f"--holdout {','.join(holdout)}: holds out every statistic of {data_path}; "
            "keep at least one to fit."
        )
    return Problem(
        str(scenario_ref), base, data, str(data_path), priors, str(priors_path), stats, held,
        tuple(overrides),
    )  # fmt: skip


def held_out_flags(stats: list[Statistic], holdout: Sequence[str], stages: list[str]) -> list[bool]:
    """Which statistics `--holdout` keeps out: by statistic name or by stage name.

    Example:
        >>> from trustsim.calibration.statistics import Statistic
        >>> stats = [Statistic("leads", "count", 1.0, 1.0, 0.0),
        ...          Statistic("conversion[payment]", "share", .5, 0., .1, "payment")]
        >>> held_out_flags(stats, ["payment"], ["payment"])
        [False, True]
    """
    flags = [False] * len(stats)
    names = [s.name for s in stats]
    for item in holdout:
        item = item.strip()
        matched = [i for i, s in enumerate(stats) if s.name == item or s.stage == item]
        if not matched:
            known = ", ".join(names)
            hint = " (a stage with no statistic in the data)" if item in stages else ""
            raise TrustsimInputError(
                f"--holdout {item}: not a statistic of the data{hint}. Give statistic or "
                f"stage names; the data's statistics are {known}."
            )
        for i in matched:
            flags[i] = True
    return flags


def check_budget(problem: Problem, settings: Settings) -> None:
    """The budget must pay for one wave and the final check."""
    needed = settings.points_per_wave(problem.dims) * settings.replications + settings.final_runs
    if settings.budget < needed:
        raise TrustsimInputError(
            f"--budget {settings.budget}: too small for {problem.dims} parameters; one wave "
            f"and the final check need {needed} runs. Give --budget {needed} or more."
        )


def calibrate(
    problem: Problem,
    out_dir: str | Path,
    settings: Settings = Settings(),
    runner: Runner | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> Calibration:
    """Calibrate `problem`'s priors to its data; write every output into `out_dir`.

    Args:
        problem: from `load_problem`.
        out_dir: the calibration directory; each wave is a sweep directory in it, so a
            rerun of the same calibration resumes.
        settings: budget, replications, cut-off (see `Settings`).
        runner: runs an experiment's sweep into a directory (default: in-process).
        log: receives one line per wave and for the final check.

    Raises:
        TrustsimInputError: a budget too small, or `out_dir` holding another calibration.
        CalibrationError: nothing in the priors matches the data, or the ESS is too low.
    """
    from threadpoolctl import threadpool_limits

    start = time.monotonic()
    out = Path(out_dir)
    check_budget(problem, settings)
    claim_directory(out, problem, settings)
    runner = runner or in_process_runner
    # The emulators' matrices are small: one BLAS thread is many times faster than
    # threads that spin waiting for each other on a busy machine.
    with threadpool_limits(limits=1):
        waves = history_match(problem, settings, out, runner, log)
        check = final_check(problem, settings, waves, out, runner, log)
    result = Calibration(
        problem, settings, waves, check.draws, check.runs, check.log_likelihood,
        check.weights, check.ess, time.monotonic() - start, out, rounds=check.rounds,
    )  # fmt: skip
    from trustsim.calibration.outputs import write_outputs

    result.written = write_outputs(result)
    if check.ess < settings.min_ess:
        raise CalibrationError(
            f"effective sample size {check.ess:.1f} is below {settings.min_ess:.0f} after "
            f"{len(check.rounds)} round(s) of final draws: the posterior rests on too few "
            f"draws (diagnostics in {out}). Rerun with more --draws (now "
            f"{settings.final_draws}) or --ess-rounds and the same --out to keep the waves, "
            "or check that the data and the scenario fit each other."
        )
    return result


def in_process_runner(experiment, out_dir: Path) -> object:
    from trustsim.experiments.sweep import sweep

    return sweep(experiment, out_dir, workers=0)


@contextlib.contextmanager
def sweep_runner(
    workers: int | None = None, scheduler: str | None = None, batch_size: int | None = None
) -> Iterator[Runner]:
    """A runner for `calibrate`: in-process (workers = 0), or one Dask client for every
    wave (a local cluster of `workers` processes, or the scheduler at `scheduler`).

    `batch_size` runs make one Dask task; a block of points is too small a sweep for the
    sweep to learn a good size, so give the replications of one point.
    """
    if workers == 0 and scheduler is None:
        yield in_process_runner
        return
    from trustsim.experiments.sweep import open_client, sweep

    client, cluster = open_client(workers, scheduler)
    try:
        yield lambda experiment, out_dir: sweep(
            experiment, out_dir, client=client, batch_size=batch_size
        )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def claim_directory(out: Path, problem: Problem, settings: Settings) -> None:
    """Record the inputs in `out`; refuse a directory holding another calibration."""
    from trustsim.output import write_text_atomic

    inputs = fingerprint(problem, settings)
    path = out / INPUTS_FILE
    if path.is_file():
        old = json.loads(path.read_text(encoding="utf-8"))
        changed = [key for key in inputs if old.get(key) != inputs[key]]
        if changed:
            raise TrustsimInputError(
                f"{out}: holds a calibration of other inputs ({', '.join(changed)} differ). "
                "Give another --out directory, or remove this one."
            )
        return
    if out.exists() and any(out.iterdir()):
        raise TrustsimInputError(
            f"{out}: exists and is not a calibration directory. Give a new or empty --out."
        )
    write_text_atomic(path, json.dumps(inputs, indent=2) + "\n")


def fingerprint(problem: Problem, settings: Settings) -> dict:
    """What decides a calibration's waves: scenario, data, priors, hold-out and settings.

    The budget and the final draws are left out: a rerun with more of either keeps the
    waves on disk (its final check gets a directory of its own).
    """
    from dataclasses import asdict

    from trustsim.experiments.sweep import params_hash

    def digest(path: str) -> str:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]

    return {
        "scenario": params_hash(problem.base),
        "data": digest(problem.data_path),
        "priors": digest(problem.priors_path),
        "held_out": held_out_names(problem),
        "settings": {k: v for k, v in asdict(settings).items() if k not in RERUN_SETTINGS},
    }


def held_out_names(problem: Problem) -> list[str]:
    return [s.name for s, held in zip(problem.statistics, problem.held_out, strict=True) if held]


# ----------------------------------------------------------------------- waves
def history_match(
    problem: Problem, settings: Settings, out: Path, runner: Runner, log
) -> list[Wave]:
    """Run waves until the non-implausible space stops shrinking or the budget is spent."""
    rng = np.random.default_rng([settings.seed, 1])
    n = settings.points_per_wave(problem.dims)
    wave_runs = n * settings.replications
    spent = 0
    waves: list[Wave] = []
    while True:
        number = len(waves) + 1
        started = time.monotonic()
        if number == 1:
            unit = latin_hypercube(n, problem.dims, rng)
        else:
            unit = sample_nroy(problem, settings, waves, waves[-1].box, n, rng)[0][:n]
        where = out / "waves" / f"wave-{number}"
        unit = fix_points(where, [f"unit:{p.path}" for p in problem.priors], unit)
        runs = run_design(problem, settings, unit, where, runner, number)
        spent += len(unit) * settings.replications
        wave = Wave(number, unit, runs, [])
        wave.emulators = fit_wave(problem, settings, [*waves, wave])
        waves.append(wave)
        inside, wave.box, fraction = sample_nroy(problem, settings, waves, None, None, rng)
        wave.nroy_fraction = fraction
        wave.seconds = time.monotonic() - started
        log(
            f"wave {number}: {len(unit)} points x {settings.replications} runs; "
            f"{fraction:.1%} of the prior space is not implausible"
        )
        if len(inside) == 0:
            raise CalibrationError(
                f"after wave {number} no parameter values within the priors reproduce the "
                f"data ({problem.data_path}): widen the priors, or check the data and the "
                "scenario (its stages, window and market size)."
            )
        previous = waves[-2].nroy_fraction if len(waves) > 1 else 1.0
        stalled = fraction > (1.0 - settings.min_shrink) * previous
        budget_left = settings.budget - spent - settings.final_runs
        if stalled or number >= settings.max_waves or budget_left < wave_runs:
            return waves


def latin_hypercube(n: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    """n points on the unit cube, one in each of n slices of every axis."""
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=dims, seed=rng).random(n)


def fix_points(where: Path, columns: list[str], table: np.ndarray) -> np.ndarray:
    """The design of a wave (or the final draws) as first written in `where`.

    A rerun reads the stored table instead of drawing again, so a resumed calibration
    runs exactly the points whose runs are on disk.
    """
    import pandas as pd

    from trustsim.output import write_parquet_atomic

    path = where / POINTS_FILE
    if path.is_file():
        return pd.read_parquet(path)[columns].to_numpy(dtype=float)
    write_parquet_atomic(pd.DataFrame(table, columns=columns), path)
    return table


def block_seed(settings: Settings, stage: int, block: int, *more: int) -> int:
    """The root seed of one block of points: stage 0 is the final check, n > 0 wave n;
    `more` tells apart the final check's later rounds."""
    entropy = [settings.seed, stage, block, *more]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def run_design(
    problem: Problem,
    settings: Settings,
    unit: np.ndarray,
    where: Path,
    runner: Runner,
    stage: int,
    final_round: int = 1,
) -> PointRuns:
    """Run the points `unit` in blocks of `BLOCK`, each block a resumable sweep in
    `where/block-NN` with its own root seed, and read their statistics.

    `stage` 0 is the final check (its `final_round`-th round), n > 0 wave n.

    Within a block the points share their random numbers (common random numbers keep
    the differences between nearby points smooth); across blocks the numbers differ, so
    the replications' spread estimates the model variance with many degrees of freedom
    rather than with the few of one shared set of seeds, and the emulators see the
    blocks' common errors as noise instead of as a systematic shift.
    """
    metrics = summary_metrics(problem.base.stage_names)
    shape = (len(unit), settings.replications, len(problem.statistics))
    natural, fit = np.full(shape, np.nan), np.full(shape, np.nan)
    for block, start in enumerate(range(0, len(unit), BLOCK)):
        members = slice(start, start + BLOCK)
        name = f"{'final' if stage == 0 else f'wave-{stage}'}-block-{block + 1:02d}"
        seed = block_seed(settings, stage, block)
        if final_round > 1:
            name = f"final-round-{final_round}-block-{block + 1:02d}"
            seed = block_seed(settings, stage, block, final_round)
        experiment = point_experiment(
            name, problem.base, problem.priors, unit[members], settings.replications,
            seed, metrics,
        )  # fmt: skip
        folder = where / f"block-{block + 1:02d}"
        runner(experiment, folder)
        runs = read_point_runs(
            folder, experiment, unit[members], problem.statistics, problem.base.stage_names
        )
        natural[members], fit[members] = runs.natural, runs.fit
    return PointRuns(unit=unit, natural=natural, fit=fit)


def fit_wave(problem: Problem, settings: Settings, waves: list[Wave]) -> list[Emulator | None]:
    """Emulators of the newest wave, fitted on every point run so far that no earlier
    wave ruled out (the newest wave's points always qualify)."""
    earlier = waves[:-1]
    units, means, variances = [], [], []
    for wave in waves:
        keep = np.ones(len(wave.unit), dtype=bool)
        if earlier and wave is not waves[-1]:
            keep = non_implausible(problem, settings, earlier, wave.unit)
        units.append(wave.unit[keep])
        means.append(wave.runs.means()[keep])
        variances.append(wave.runs.variances()[keep])
    unit, mean, var = np.vstack(units), np.vstack(means), np.vstack(variances)
    emulators: list[Emulator | None] = []
    for j, stat in enumerate(problem.statistics):
        if problem.held_out[j]:
            emulators.append(None)
            continue
        emulators.append(
            fit_emulator(stat.name, unit, mean[:, j], var[:, j], settings.replications,
                         settings.seed)
        )  # fmt: skip
    return emulators


def non_implausible(
    problem: Problem, settings: Settings, waves: list[Wave], unit: np.ndarray
) -> np.ndarray:
    """True where no wave's emulators rule the point out (checked wave by wave)."""
    keep = np.ones(len(unit), dtype=bool)
    observed, variance = problem.observed(), problem.observation_variance()
    for wave in waves:
        index = np.flatnonzero(keep)
        if len(index) == 0:
            break
        worst = implausibility(observed, variance, wave.emulators, unit[index])
        keep[index[worst > settings.cutoff]] = False
    return keep


def sample_nroy(
    problem: Problem,
    settings: Settings,
    waves: list[Wave],
    box: tuple[np.ndarray, np.ndarray] | None,
    wanted: int | None,
    rng: np.random.Generator,
    rounds: int = 5,
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray], float]:
    """Points of the non-implausible space, the box around them, and its share of the prior.

    Candidates are drawn uniformly in `box` (the whole cube if None), in up to `rounds`
    rounds until `wanted` survive. The share is (surviving share) x (box volume).

    Returns:
        (surviving points in random order, the box enlarged by a margin, share).
    """
    dims = problem.dims
    lo, hi = box if box is not None else (np.zeros(dims), np.ones(dims))
    kept, tried = [], 0
    for _ in range(rounds):
        candidates = lo + rng.random((settings.candidates, dims)) * (hi - lo)
        kept.append(candidates[non_implausible(problem, settings, waves, candidates)])
        tried += settings.candidates
        if wanted is None or sum(len(k) for k in kept) >= wanted:
            break
    inside = np.vstack(kept)
    fraction = len(inside) / tried * float(np.prod(hi - lo))
    if len(inside) == 0:
        return inside, (lo, hi), 0.0
    margin = 0.1 * (inside.max(axis=0) - inside.min(axis=0)) + 0.02
    new_box = (
        np.clip(inside.min(axis=0) - margin, 0.0, 1.0),
        np.clip(inside.max(axis=0) + margin, 0.0, 1.0),
    )
    return inside, new_box, fraction


# ------------------------------------------------------------------ final check
def final_draw_count(settings: Settings, waves: list[Wave]) -> int:
    """`final_draws`, or more if the waves left more of the budget."""
    spent = sum(len(wave.unit) for wave in waves) * settings.replications
    return max(settings.final_draws, (settings.budget - spent) // settings.replications)


@dataclass
class EmulatedProposal:
    """The first round's proposal: a pool of non-implausible points and their density.

    Attributes:
        pool: points drawn uniformly in the non-implausible space.
        pool_density: the density (up to the factor 1 / volume) at each pool point.
        volume: the non-implausible share of the unit cube (estimated with the pool).
        score: the density up to 1 / volume at any points, 0 where implausible.
    """

    pool: np.ndarray
    pool_density: np.ndarray
    volume: float
    score: Callable[[np.ndarray], np.ndarray]

    def density(self, unit: np.ndarray) -> np.ndarray:
        """The proposal's density per unit volume of the cube.

        The pool's density averages 1 by construction, so it is normalised by the
        volume of the space the pool is spread over."""
        return self.score(unit) / self.volume

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        chosen = rng.choice(len(self.pool), size=n, p=self.pool_density / self.pool_density.sum())
        return self.pool[chosen]


def propose_draws(
    problem: Problem, settings: Settings, waves: list[Wave], count: int
) -> tuple[np.ndarray, np.ndarray, EmulatedProposal]:
    """Draws for the final check, their proposal density (up to a constant), and the
    proposal.

    The proposal mixes the emulated posterior, tempered (log-likelihood times
    `TEMPER`, so it is wider than the real one), with the uniform non-implausible space:
    q(u) = (1 - a) L_em(u)^t / mean L_em^t + a, a = `DEFENSIVE`. The emulated likelihood
    has the form of the real one, with the last wave's pooled covariance.
    """
    rng = np.random.default_rng([settings.seed, 2])
    wanted = 20 * count
    pool, _, volume = sample_nroy(problem, settings, waves, waves[-1].box, wanted, rng)
    fitted = problem.fitted
    last = waves[-1]
    emulators = [e for e, f in zip(last.emulators, fitted, strict=True) if f]
    if any(e is None for e in emulators):
        # A fitted statistic the last wave could not emulate: propose the space uniformly.
        def raw(unit: np.ndarray) -> np.ndarray:
            return np.ones(len(unit))
    else:
        inside = non_implausible(problem, settings, waves, last.unit)
        covariance = likelihood_covariance(problem, last.runs.fit[inside])
        observed = problem.observed()[fitted]
        log_like = emulated_log_likelihood(observed, covariance, emulators, pool)
        top, mean = log_like.max(), np.exp(TEMPER * (log_like - log_like.max())).mean()

        def raw(unit: np.ndarray) -> np.ndarray:
            at = emulated_log_likelihood(observed, covariance, emulators, unit)
            return (1.0 - DEFENSIVE) * np.exp(TEMPER * (at - top)) / mean + DEFENSIVE

    def score(unit: np.ndarray) -> np.ndarray:
        density = np.zeros(len(unit))
        keep = non_implausible(problem, settings, waves, unit)
        if keep.any():
            density[keep] = raw(unit[keep])
        return density

    density = raw(pool)
    proposal = EmulatedProposal(pool, density, max(volume, 1e-12), score)
    chosen = rng.choice(len(pool), size=count, p=density / density.sum())
    return pool[chosen], density[chosen], proposal


@dataclass
class FinalCheck:
    """The final draws of every round, their runs, real likelihoods and pooled weights."""

    draws: np.ndarray
    runs: PointRuns
    log_likelihood: np.ndarray
    weights: np.ndarray
    ess: float
    rounds: list[dict]


def final_check(
    problem: Problem, settings: Settings, waves: list[Wave], out: Path, runner: Runner, log
) -> FinalCheck:
    """Run draws from the emulated posterior for real and weight them; while the ESS is
    below `min_ess`, add rounds from a proposal adapted to the weights so far.

    Round 1 has `final_draw_count` draws; each later round `final_draws`, at most
    `ess_rounds` of them. Every round is stored (its points and its sweeps) under the
    round-1 directory, so a rerun resumes it.
    """
    from trustsim.calibration.proposal import fit_cube_gaussian, mixture_weights

    count = final_draw_count(settings, waves)
    draws, density, proposal = propose_draws(problem, settings, waves, count)
    columns = [f"unit:{p.path}" for p in problem.priors]
    # A rerun with a larger budget (more waves) or more draws is a new final check.
    where = out / f"final-{len(waves)}-waves-{count}-draws"
    stored = fix_points(where, [*columns, "proposal"], np.column_stack([draws, density]))
    draws, density = stored[:, :-1], stored[:, -1]
    runs = run_design(problem, settings, draws, where, runner, 0)
    log_like = real_log_likelihood(problem, runs)
    weights, ess = importance_weights(log_like, density)
    rounds = [{"round": 1, "draws": len(draws), "ess": ess}]
    log(f"final check: {len(draws)} draws x {settings.replications} runs; ESS = {ess:.0f}")
    first_density = density / proposal.volume  # q_1 at round 1's draws
    components: list = []  # each later round's Gaussian
    counts = [len(draws)]
    while ess < settings.min_ess and len(rounds) <= settings.ess_rounds and ess > 0:
        number = len(rounds) + 1
        rng = np.random.default_rng([settings.seed, 3, number])
        gaussian = fit_cube_gaussian(draws, weights, rng)
        n = settings.final_draws
        first = rng.random(n) < DEFENSIVE
        new = np.empty((n, problem.dims))
        new[first] = proposal.sample(int(first.sum()), rng)
        new[~first] = gaussian.sample(int((~first).sum()), rng)
        folder = where / f"round-{number}"
        new = fix_points(folder, columns, new)
        new_runs = run_design(problem, settings, new, folder, runner, 0, number)
        components.append(gaussian)
        counts.append(len(new))
        draws = np.vstack([draws, new])
        runs = PointRuns(
            unit=draws,
            natural=np.concatenate([runs.natural, new_runs.natural]),
            fit=np.concatenate([runs.fit, new_runs.fit]),
        )
        # The covariance S is pooled over every round's draws, so every likelihood is
        # recomputed with it.
        log_like = real_log_likelihood(problem, runs)
        first_density = np.concatenate([first_density, proposal.density(new)])
        densities = [first_density] + [
            (1.0 - DEFENSIVE) * g.density(draws) + DEFENSIVE * first_density for g in components
        ]
        weights, ess = mixture_weights(log_like, np.vstack(densities), np.array(counts))
        rounds.append({"round": number, "draws": len(new), "ess": ess})
        log(
            f"final check round {number}: {len(new)} more draws from a proposal adapted to "
            f"the weights; ESS = {ess:.0f}"
        )
    return FinalCheck(draws, runs, log_like, weights, ess, rounds)


def real_log_likelihood(problem: Problem, final: PointRuns) -> np.ndarray:
    """log N(z; mean of each draw's replications, S (1 + 1/r) + diag(V_obs)) per draw.

    S is the covariance of the statistics between replications, pooled over the draws
    (the model variance, with the statistics' correlations); S / r is the variance of
    the mean of r runs, so the covariance is that of the data around that mean. The
    mean's error is shared within a block and differs between blocks, so the weights
    also average over it: the posterior errs on the wide side. A draw whose runs leave a
    fitted statistic undefined (e.g. no customers, so no NPS) has likelihood 0.
    """
    fitted = problem.fitted
    observed = problem.observed()[fitted]
    means = final.means()[:, fitted]
    inverse = np.linalg.inv(likelihood_covariance(problem, final.fit))
    residual = observed - means
    quad = np.einsum("ij,jk,ik->i", residual, inverse, residual)
    log_like = -0.5 * quad
    log_like[~np.isfinite(log_like)] = -np.inf
    return log_like


def likelihood_covariance(problem: Problem, values: np.ndarray) -> np.ndarray:
    """S (1 + 1/r) + diag(V_obs) over the fitted statistics, S pooled from runs `values`
    (points, replications, statistics): the variance of the data (one run) around the
    mean of r runs at the same parameters."""
    fitted = problem.fitted
    reps = values.shape[1]
    covariance = pooled_covariance(values[:, :, fitted]) * (1.0 + 1.0 / reps)
    covariance += np.diag(problem.observation_variance()[fitted])
    # A statistic constant over every run would make S singular.
    return covariance + np.eye(len(covariance)) * 1e-9 * max(1.0, float(np.trace(covariance)))


def pooled_covariance(values: np.ndarray) -> np.ndarray:
    """Within-draw covariance of the statistics, pooled over draws with complete runs.

    values: (draws, replications, statistics).
    """
    complete = np.isfinite(values).all(axis=2)
    residuals, dof = [], 0
    for draw, mask in zip(values, complete, strict=True):
        if mask.sum() >= 2:
            runs = draw[mask]
            residuals.append(runs - runs.mean(axis=0))
            dof += mask.sum() - 1
    if dof == 0:
        raise CalibrationError(
            "no posterior draw had two complete runs, so the model variance is unknown; "
            "check that the data's statistics are defined in the scenario's runs."
        )
    stacked = np.vstack(residuals)
    return stacked.T @ stacked / dof


def importance_weights(log_like: np.ndarray, proposal: np.ndarray) -> tuple[np.ndarray, float]:
    """Normalised weights w_i ∝ L_i / q_i and the effective sample size (sum w)^2 / sum w^2.

    Example:
        >>> w, ess = importance_weights(np.zeros(4), np.ones(4))
        >>> w.tolist(), ess
        ([0.25, 0.25, 0.25, 0.25], 4.0)
    """
    log_w = log_like - np.log(proposal)
    if not np.isfinite(log_w).any():
        return np.zeros_like(log_w), 0.0
    w = np.exp(log_w - np.max(log_w[np.isfinite(log_w)]))
    w[~np.isfinite(w)] = 0.0
    w /= w.sum()
    return w, float(1.0 / np.sum(w**2))

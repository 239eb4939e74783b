"""How many worlds does PRIM need? Its power on a planted box, as in a robustness study.

Each trial draws n worlds by Latin hypercube over as many constants as the ledger has
(every assumed or calibrated constant: what `trustsim robustness` samples by default),
plants a box where the conclusion fails (constant 0 above 0.5 and constant 1 below 0.5:
a quarter of the worlds), and labels each world failing with probability `inside` in the
box and `outside` elsewhere (label noise: a world's "established" flag depends on its
replications too). PRIM (`trustsim.robustness.prim.find_box`: peel, paste, prune to
quasi-p <= 0.05) then has *found* the box when it restricts both true limits; a *false*
limit is one it keeps on any other constant. Prints the table and writes it as JSON.

    uv run python benchmarks/bench_prim_power.py [--trials 30] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

WORLDS = (64, 128, 192, 256, 512)
SHARPNESS = ((0.95, 0.05), (0.9, 0.1), (0.8, 0.2))  # P(fails) inside, outside the box


def trial(n: int, constants: int, inside: float, outside: float, seed: int) -> tuple[bool, int]:
    """(both true limits found, number of false limits) for one planted box."""
    import numpy as np
    from scipy.stats import qmc

    from trustsim.robustness import prim

    x = qmc.LatinHypercube(d=constants, seed=seed).random(n)
    box = (x[:, 0] > 0.5) & (x[:, 1] < 0.5)
    y = np.random.default_rng(seed).random(n) < np.where(box, inside, outside)
    bounds = np.array([[0.0] * constants, [1.0] * constants])
    limits = set(prim.find_box(x, y, bounds)[2].restricted(bounds))
    found = {(0, "low"), (1, "high")} <= limits
    return found, sum(1 for j, _ in limits if j >= 2)


def main() -> None:
    from trustsim.scenarios.ledger import assumed_ranges

    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--out", default="benchmarks/results/prim-power.json")
    args = parser.parse_args()
    constants = len(assumed_ranges())
    rows = []
    start = time.monotonic()
    print(f"{constants} constants, {args.trials} trials per cell")
    print("worlds  P(fail) in/out  found both limits  trials with a false limit")
    for n in WORLDS:
        for inside, outside in SHARPNESS:
            results = [trial(n, constants, inside, outside, s) for s in range(args.trials)]
            found = sum(f for f, _ in results) / args.trials
            false = sum(k > 0 for _, k in results) / args.trials
            rows.append({"worlds": n, "inside": inside, "outside": outside,
                         "found": found, "false_limit": false})  # fmt: skip
            print(f"{n:6d}  {inside:.2f} / {outside:.2f}     {found:6.0%}             {false:6.0%}")
    seconds = time.monotonic() - start
    print(f"{seconds:.0f} s")
    record = {"constants": constants, "trials": args.trials, "box_mass": 0.25, "rows": rows}
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

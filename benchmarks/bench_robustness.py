"""Full-size robustness studies: the real-estate 2 x 2 and the delivery pair.

Runs `trustsim robustness` with its defaults (256 worlds over every assumed or calibrated
constant of the ledger, 5 replications, the scenarios' own market and horizon) on a
local Dask cluster, then `trustsim discover` on each conclusion that fails somewhere,
and prints a table: conclusion, share holding (95% CI), share established, and PRIM's
reading. Usage:

    uv run python benchmarks/bench_robustness.py [OUT_DIR] [--samples N] [--replications R]
                                                 [--only real-estate|delivery]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

STUDIES = {
    "real-estate": (
        "real-estate",
        ["real-estate-verifiable", "real-estate-funnel", "real-estate-verifiable-funnel"],
    ),
    "delivery": ("delivery-trial-journey", ["delivery-trial-funnel"]),
}


def main() -> None:
    from trustsim.robustness.discover import discover, robustness_summary, write_finding
    from trustsim.robustness.study import REPLICATIONS, SAMPLES, run_study

    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default="benchmarks/results/robustness")
    parser.add_argument("--samples", type=int, default=SAMPLES)
    parser.add_argument("--replications", type=int, default=REPLICATIONS)
    parser.add_argument("--only", choices=sorted(STUDIES), default=None)
    args = parser.parse_args()
    for name, (base, alternatives) in STUDIES.items():
        if args.only and name != args.only:
            continue
        out = Path(args.out) / name
        start = time.monotonic()
        study = run_study(base, alternatives, out, samples=args.samples,
                          replications=args.replications)  # fmt: skip
        swept = time.monotonic() - start
        print(f"\n{name}: {study.runs} runs, study {swept:.0f} s")
        start = time.monotonic()
        for row in study.table.itertuples():
            if row.share_established < 1:
                write_finding(out, discover(out, row.scenario, row.metric))
        print(
            f"discover on every conclusion that fails somewhere: {time.monotonic() - start:.0f} s"
        )
        for sentence in robustness_summary(out):
            print(f"- {sentence}")


if __name__ == "__main__":
    main()

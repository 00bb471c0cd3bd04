"""Measure the effect of every policy on a small system: the table quoted in ``docs/policies.md``.

Run it from the repository root (or with the package installed)::

    python scripts/measure_effects.py                      # about 11 minutes on 2 cores (calibrated base)
    python scripts/measure_effects.py --csv effects.csv --replicates 40 --jobs 4

It prints the Markdown table of :func:`scenarios.measure.measure_effects`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from scenarios.base import DEFAULT_BASE  # noqa: E402
from scenarios.measure import markdown_table, measure_effects  # noqa: E402
from sim.core.io import atomic_write_csv  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python scripts/measure_effects.py",
                                 description="Measure the effect of every policy (the table of docs/policies.md).")
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--params", default=DEFAULT_BASE, help=f"base model: defaults or calibrated (default {DEFAULT_BASE}) or a JSON file")
    ap.add_argument("--csv", help="also write the table to this CSV file")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    t = measure_effects(replicates=a.replicates, scale=a.scale, years=a.years, seed=a.seed, n_jobs=a.jobs,
                        base=a.params)
    if a.csv:
        atomic_write_csv(a.csv, t, index=False)
    print(f"Policy effects ({a.params} base model): {a.replicates} paired replicates (common random numbers), "
          f"seed {a.seed}, 38 clusters at scale {a.scale}, {a.years:g} years, policies active from year 0 on "
          f"every cluster (growth pole: the medical-device clusters); effect = mean over targeted clusters "
          f"(sums for firms, employment and totals) of policy minus baseline at the end. "
          f"{time.perf_counter() - t0:.0f}s.\n")
    print(markdown_table(t))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Employment at rest: for each of seeds 1-5, the median (and the mean) over the 38 clusters of each cluster's
employment after 10 and 30 years relative to its start, on the parameter defaults at scale 0.05 without a policy or a shock (the
numbers of ``docs/odd.md`` 7.7).

Run from the repository root (about a minute on one core)::

    python scripts/rest_employment.py [name=value ...]

``name=value`` pairs override parameters, as ``--set`` does on the command line.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the model of this checkout, not of an installed copy
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sim.engine.runner import simulate  # noqa: E402
from sim.model.params import ParameterError, parse_override  # noqa: E402

SEEDS = tuple(range(1, 6))
YEARS = (10, 30)


def rest_employment(params: dict, seeds=SEEDS, years=YEARS) -> tuple[np.ndarray, np.ndarray]:
    """Arrays (seeds, years): the median and the mean over the clusters of each cluster's employment after each of
    ``years`` over its start."""
    med, mean = [], []
    for seed in seeds:
        df = simulate({"scale": 0.05, **params}, seed, years=max(years))
        emp = df[df.indicator == "employment"].pivot_table(index="step", columns="cluster", values="value")
        ratio = [emp.loc[4 * y] / emp.loc[0] for y in years]
        med.append([float(np.median(r)) for r in ratio])
        mean.append([float(np.mean(r)) for r in ratio])
    return np.array(med), np.array(mean)


def main(argv: list[str]) -> int:
    params = {}
    for arg in argv:
        try:
            name, value = parse_override(arg, "rest_employment.py")
        except ParameterError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
        params[name] = value
    med, mean = rest_employment(params)
    for j, y in enumerate(YEARS):
        print(f"after {y} years: median cluster employment x{med[:, j].mean():.2f} (mean of seeds "
              f"{SEEDS[0]}-{SEEDS[-1]}; x{med[:, j].min():.2f} to x{med[:, j].max():.2f}); mean over the clusters "
              f"x{mean[:, j].mean():.2f} (x{mean[:, j].min():.2f} to x{mean[:, j].max():.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Employment at rest: for each of seeds 1-5, the median (and the mean) over the 38 clusters of each cluster's
employment after 10 and 30 years relative to its start, on the parameter defaults at scale 0.05 without a policy
or a shock, and the number of anchors over 20 years (seed 1): the numbers of ``docs/odd.md`` 7.2 and 7.7.

Run from the repository root (about 20 s of CPU)::

    python scripts/rest_employment.py [name=value ...]

``name=value`` pairs override parameters, read as ``--set`` values are (sim.face.options.overrides).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the model of this checkout, not of an installed copy
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from sim.engine.runner import simulate  # noqa: E402
from sim.face.options import overrides  # noqa: E402
from sim.model.params import ParameterError  # noqa: E402
from sim.model.population import ANCHOR  # noqa: E402
from sim.model.system import ClusterSystem  # noqa: E402

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


def anchors_at_rest(params: dict, seed: int = 1, years: int = 20) -> list[int]:
    """The number of anchors in the clusters at the start and at the end of each year (scale 0.05)."""
    m = ClusterSystem(params={"scale": 0.05, **params}, rng=seed)
    pop = m.pop

    def count() -> int:
        return int((pop.alive & (pop.role == ANCHOR) & (pop.cluster >= 0)).sum())
    out = [count()]
    for _ in range(years):
        for _ in range(4):
            m.step()
        out.append(count())
    return out


def main(argv: list[str]) -> int:
    try:
        params = overrides(argv)
    except ParameterError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    med, mean = rest_employment(params)
    for j, y in enumerate(YEARS):
        print(f"after {y} years: median cluster employment x{med[:, j].mean():.2f} (mean of seeds "
              f"{SEEDS[0]}-{SEEDS[-1]}; x{med[:, j].min():.2f} to x{med[:, j].max():.2f}); mean over the clusters "
              f"x{mean[:, j].mean():.2f} (x{mean[:, j].min():.2f} to x{mean[:, j].max():.2f})")
    a = anchors_at_rest(params)
    print(f"anchors in the clusters (seed 1): {a[0]} at the start, {min(a[1:])}-{max(a[1:])} at the ends of years "
          f"1-{len(a) - 1}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

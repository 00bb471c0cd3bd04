"""Rebuild ``sim/indices/reference_scale.json``: the default-run reference of the score indices.

The reference is the mean and standard deviation of each score index over the 38 clusters
and all quarterly steps of default-parameter runs (used by
:meth:`sim.indices.scores.Labeller.default`). Run
it from the repository root when the model changes on purpose::

    python scripts/build_reference_scale.py [--check]

``--check`` rebuilds it in memory and exits 1 if the shipped file differs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sim.engine.runner import simulate
from sim.indices.scores import SCORE_INDICES

PATH = Path(__file__).resolve().parents[1] / "sim" / "indices" / "reference_scale.json"


def build_reference(seeds=(1, 2, 3), years: int = 10, scale: float = 0.05) -> dict:
    """Mean and sd of every score index over the 38 clusters and all steps of default runs."""
    ks = SCORE_INDICES
    df = pd.concat([simulate({"scale": scale}, s, years=years) for s in seeds])
    loc, sc = {}, {}
    for k in ks:
        v = df.loc[df.indicator == k, "value"].to_numpy(float)
        v = v[np.isfinite(v)]
        loc[k] = round(float(v.mean()), 6)
        sc[k] = round(float(v.std(ddof=1)), 6)
    return {"loc": loc, "scale": sc, "weights": {k: 1.0 for k in ks},
            "thresholds": [0.0, 0.0],
            "source": f"default parameters, scale={scale}, seeds={list(seeds)}, {years} years, all 38 clusters, "
                      "all quarterly steps pooled; rebuilt by `python scripts/build_reference_scale.py`"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the shipped file instead of writing it")
    a = ap.parse_args(argv)
    text = json.dumps(build_reference(), indent=2) + "\n"
    if a.check:
        same = PATH.read_text() == text
        print(f"{PATH}: {'up to date' if same else 'differs from the current model'}")
        return 0 if same else 1
    PATH.write_text(text)
    print(f"wrote {PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

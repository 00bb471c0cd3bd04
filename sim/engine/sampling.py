"""Quasi-random point sets for experimental designs: Latin hypercube and scrambled Sobol.

Both come from :mod:`scipy.stats.qmc`, seeded, so the same call returns the same points.
They live apart from :mod:`sim.engine.design` because importing :mod:`scipy.stats` takes
about a second: a command that only runs the model (``clustersim run``) does not load them.

References
----------
.. [1] McKay, M. D., Beckman, R. J. & Conover, W. J. (1979). A comparison of three methods for
       selecting values of input variables in the analysis of output from a computer code.
       *Technometrics*, 21(2), 239-245. https://doi.org/10.2307/1268522
.. [2] Owen, A. B. (1998). Scrambling Sobol' and Niederreiter-Xing points. *Journal of
       Complexity*, 14(4), 466-489. https://doi.org/10.1006/jcom.1998.0487
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import qmc

from sim.engine.design import Uncertainty, design_from_columns

__all__ = ["latin_hypercube", "sobol_points"]


def latin_hypercube(uncertainties: Sequence[Uncertainty], n: int, seed: int | None = 0) -> pd.DataFrame:
    """Latin hypercube sample of ``n`` points over the uncertainties.

    Uses :class:`scipy.stats.qmc.LatinHypercube` seeded with ``seed``, so the
    same call returns the same design. Integer uncertainties take each value in
    ``low..high`` with equal probability.

    Parameters
    ----------
    uncertainties : sequence of Uncertainty
    n : int
        Number of experiments.
    seed : int or None, default 0

    Returns
    -------
    pandas.DataFrame
        Columns ``experiment`` and one per uncertainty.
    """

    uncertainties = list(uncertainties)
    if n < 1:
        raise ValueError("n must be >= 1")
    unit = qmc.LatinHypercube(d=len(uncertainties), rng=np.random.default_rng(seed)).random(n)
    columns = []
    for j, u in enumerate(uncertainties):
        if u.kind == "int":
            lo, hi = int(u.low), int(u.high)
            columns.append(np.minimum(lo + np.floor(unit[:, j] * (hi - lo + 1)), hi).astype(np.int64))
        else:
            columns.append(u.low + unit[:, j] * (u.high - u.low))
    return design_from_columns([u.name for u in uncertainties], columns)


def sobol_points(n: int, d: int, seed: int) -> np.ndarray:
    r"""The first ``n`` points of a scrambled Sobol sequence in ``[0, 1)^d`` (Owen scrambling, seeded).

    Draws the next power of two, :math:`2^{\lceil \log_2 \max(n, 2) \rceil}` points (where
    the sequence is balanced), and returns the first ``n``.
    """
    m = int(np.ceil(np.log2(max(n, 2))))
    return qmc.Sobol(d, scramble=True, seed=seed).random_base2(m)[:n]

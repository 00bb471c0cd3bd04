"""Parameter recovery: simulate from known parameter values, re-estimate them, compare.

The identifiability check of the estimator (``clustersim recover``): synthetic "published"
values are made by the model itself at known values and put through a known affine map, then
the whole estimator (:mod:`calibration.estimator`) runs on them as on the real data.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from calibration.config import QUICK, Config
from calibration.estimator import Problem, bootstrap, estimate
from calibration.files import write_csv
from calibration.loss import SIZE, TARGETS_2010, TARGETS_2020, resolve_fit_clusters
from calibration.predict import ensemble, split_theta
from calibration.states import build_initial_states
from sim.data.observed import load_all

__all__ = ["parameter_recovery"]


def parameter_recovery(cfg: Config = QUICK, out: str | os.PathLike | None = None, *, truth: Mapping | None = None,
                       n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None, resume: bool = False,
                       progress: bool = True, data=None) -> pd.DataFrame:
    """Simulate from known parameters, re-estimate them, compare (identifiability check).

    The synthetic "published" values are the ensemble means (``final_replicates`` replicates,
    seeds disjoint from the estimator's) of a run at ``truth`` (default: the centre of every
    estimated parameter's range), put through a known affine map per index and year
    (published = 0.3 + 2 * raw / sd) so that the estimator also has to absorb an unknown
    scale. Returns one row per parameter: truth, estimate, bootstrap interval, error as a
    share of the prior range, and whether the truth lies inside the interval.
    """
    data = data or load_all()
    fit_ids = resolve_fit_clusters(data)
    bounds = cfg.bounds()
    truth = dict(truth or {k: 0.5 * (lo + hi) for k, (lo, hi) in bounds.items()})
    out_p = None if out is None else Path(out)
    store = None if out_p is None else out_p / "store"
    states, _ = build_initial_states(cfg, data, store, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                                     resume=resume, progress=progress)
    model_t, run_t = split_theta(list(truth), list(truth.values()))
    tb = ensemble({**cfg.base_params(), **model_t}, run_t, states, cfg.years, cfg.spinup, cfg.final_replicates,
                  cfg.seed + 5000, None if store is None else store / "truth", n_jobs=n_jobs, backend=backend,
                  scheduler=scheduler, resume=resume, progress=progress)
    synth = {}
    for y, when, targets in ((2010, 0, TARGETS_2010), (2020, 1, TARGETS_2020)):
        raw = tb.frame(0, when)[list(targets)]
        sd = raw.std().replace(0, 1.0)
        synth[y] = 0.3 + 2.0 * raw / sd
    synth[2020][SIZE] = tb.frame(0, 1)[SIZE]
    problem = Problem(states, cfg, tuple(cfg.estimate), bounds)
    est = estimate(problem, synth, fit_ids, store, n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume,
                   progress=progress)
    boot = bootstrap(est, synth, fit_ids, cfg.bootstrap, cfg.seed + 5) if cfg.bootstrap > 0 else None
    th = problem.to_theta(est.u_hat[None, :])[0]
    tbt = problem.to_theta(boot) if boot is not None else None
    rows = []
    for j, k in enumerate(est.names):
        lo, hi = bounds[k]
        q05, q95 = (np.quantile(tbt[:, j], [0.05, 0.95]) if tbt is not None else (np.nan, np.nan))
        rows.append({"parameter": k, "truth": truth[k], "estimate": th[j], "q05": q05, "q95": q95,
                     "abs_error_share_of_prior": abs(th[j] - truth[k]) / (hi - lo),
                     "covered": bool(q05 <= truth[k] <= q95) if tbt is not None else None,
                     "interval_share_of_prior": (q95 - q05) / (hi - lo)})
    res = pd.DataFrame(rows)
    if out_p is not None:
        write_csv(res, out_p / "recovery.csv")
    return res

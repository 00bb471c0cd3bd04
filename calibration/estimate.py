r"""Calibration of the model on the observed 2010 -> 2020 cluster indices.

Pipeline (``clustersim calibrate``; method and reasons in ``docs/calibration.md``):

1. **Initial states** (:mod:`calibration.initial`): per-cluster set-up values chosen so that
   the simulated 2010 indices match the published 2010 values through the 2010 measurement
   map; the model is spun up for ``spinup`` years before 2010.
2. **Measurement model** (:mod:`calibration.measurement`): per index and year an increasing
   affine map from raw simulated indices to the published scale, refitted for every candidate
   parameter vector; the discrepancy of an index is ``1 - max(0, corr)^2`` between the
   simulated ensemble means and the published values over the fitted clusters.
3. **Estimator**: simulated minimum distance (method of simulated moments with the
   per-index discrepancies as moments, equal weights) minimised with a Gaussian-process
   surrogate (:mod:`calibration.surrogate`): a Sobol design, then rounds of batches placed by
   the GP's lower confidence bound, every point simulated with ``replicates`` common-random-
   number replicates through the resumable experiment store (joblib). The estimate is the
   minimiser of the GP mean. **Uncertainty**: a cluster bootstrap (resample the fitted
   clusters, recompute every evaluated point's loss, refit the GP with the same
   hyper-parameters, re-minimise), which says how much the estimate depends on which clusters
   are observed; a parameter whose 90 % bootstrap interval covers most of its prior range is
   reported as weakly identified.
4. **Final ensemble** at the estimate (fresh seeds): the measurement maps on the fitted
   clusters, ``fit.csv``, the typology of every simulated cluster (through the map into the
   published scale and :func:`calibration.typology.load_fitted`), figures.

Outputs of :func:`calibrate` in ``out``: ``params.json``, ``fit.csv``, ``typology.csv``,
``initial_fit.csv``, ``evaluations.csv``, ``fit.png``, ``arrows.png`` and ``store/`` (the
experiment stores: one per stage, reused by ``--resume``).

Modules, in the order of the pipeline: :mod:`calibration.config` (settings and presets),
:mod:`calibration.loss` (targets, moments), :mod:`calibration.states` (fitting the 2010 set-up),
:mod:`calibration.estimator` (the estimator and the bootstrap), :mod:`calibration.predict`
(ensembles, published-scale frames, typology, ``predict``), :mod:`calibration.report`
(``params.json`` and the tables), :mod:`calibration.recovery` (parameter recovery). This
module runs them (:func:`calibrate`) and re-exports their public names.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from calibration.config import FULL, QUICK, Config, log
from calibration.estimator import Problem, bootstrap, estimate
from calibration.loss import (
    TARGETS_2010,
    TARGETS_2020,
    loss_matrix,
    observed_targets,
    resolve_fit_clusters,
)
from calibration.predict import ensemble, predict, split_theta
from calibration.recovery import parameter_recovery
from calibration.report import summarize, write_outputs
from calibration.shipped import load_calibrated, load_params, scenario_base
from calibration.states import build_initial_states, final_setup
from sim.data.observed import load_all
from sim.model.params import validate

__all__ = [
    "Config", "QUICK", "FULL", "TARGETS_2010", "TARGETS_2020", "observed_targets", "resolve_fit_clusters",
    "build_initial_states", "loss_matrix", "estimate", "calibrate", "load_params", "load_calibrated",
    "scenario_base", "predict", "parameter_recovery",
]


def calibrate(cfg: Config = FULL, out: str | os.PathLike | None = None, *, clusters: Sequence[str] | None = None,
              exclude: Sequence[str] | None = None, n_jobs: int = 1, backend: str = "loky",
              scheduler: str | None = None, resume: bool = False, progress: bool = True, figures: bool = True,
              data=None, obs: Mapping[int, pd.DataFrame] | None = None,
              command: str | None = None) -> dict:
    """Run the whole calibration and (with ``out``) write its outputs; returns the ``params.json`` dict.

    Parameters
    ----------
    cfg : Config
        ``QUICK`` or ``FULL`` (or a variant made with ``dataclasses.replace``).
    out : path, optional
        Output folder (see the module docstring). Without it nothing is stored (no resume).
    clusters, exclude : sequence of str, optional
        Clusters of the fit (default: all clusters with published 2020 values) and clusters
        left out of it. All 38 clusters are always simulated.
    n_jobs, backend : parallel workers and joblib backend.
    scheduler : address of a running dask scheduler or Ray cluster (``dask`` or ``ray`` backend).
    resume : bool
        Reuse the finished runs in ``out/store``.
    obs : mapping, optional
        Targets replacing the published data (parameter recovery uses synthetic targets).
    """
    t0 = time.perf_counter()
    data = data or load_all()
    fit_ids = resolve_fit_clusters(data, clusters, exclude)
    obs = obs or observed_targets(data, cfg)
    cfg.bounds()
    cfg.base_params()
    out_p = None if out is None else Path(out)
    store = None if out_p is None else out_p / "store"
    if out_p is not None and not resume and store.exists() and any(store.rglob("*.parquet")):
        raise FileExistsError(f"{out_p} already holds a calibration's runs; pass --resume to continue it "
                              f"or choose a new --out folder")
    states, setup_hist = build_initial_states(cfg, data, store, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                                              resume=resume, progress=progress)
    problem = Problem(states, cfg, tuple(cfg.estimate), cfg.bounds())
    est = estimate(problem, obs, fit_ids, store, n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume,
                   progress=progress)
    log(progress, f"bootstrap: {cfg.bootstrap} cluster resamples")
    boot = (bootstrap(est, obs, fit_ids, cfg.bootstrap, cfg.seed + 5) if cfg.bootstrap > 0
            else np.empty((0, len(est.names))))
    theta_hat = problem.to_theta(est.u_hat[None, :])[0]
    theta_boot = problem.to_theta(boot) if len(boot) else np.empty((0, len(est.names)))
    model_hat, run_hat = split_theta(est.names, theta_hat)
    params_hat = validate({**cfg.base_params(), **model_hat}, source="calibrated values")
    states, setup_hist = final_setup(cfg, data, store, states, setup_hist, model_hat, n_jobs=n_jobs,
                                     backend=backend, scheduler=scheduler, resume=resume, progress=progress)
    log(progress, f"final ensemble: {cfg.final_replicates} replicates at the estimate")
    fb = ensemble({**cfg.base_params(), **model_hat}, run_hat, states, cfg.years, cfg.spinup, cfg.final_replicates,
                  cfg.seed + 1000, None if store is None else store / "final", n_jobs=n_jobs, backend=backend,
                  scheduler=scheduler, resume=resume, progress=progress)
    result = summarize(cfg, data, obs, fit_ids, states, setup_hist, problem, est, theta_hat, theta_boot,
                       params_hat, model_hat, run_hat, fb, exclude=exclude, command=command, wall=time.perf_counter() - t0)
    if out_p is not None:
        write_outputs(result, out_p, figures=figures)
        log(progress, f"wrote {out_p / 'params.json'}, {out_p / 'fit.csv'} in {time.perf_counter() - t0:.0f}s")
    return result["params"]

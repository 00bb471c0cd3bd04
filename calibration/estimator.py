"""The estimator: surrogate-based simulated minimum distance and its cluster bootstrap.

A :class:`Problem` is what one calibration simulates (the 2010 set-up, fixed and estimated
parameters, their prior ranges). :func:`estimate` minimises the sum of the moment
discrepancies (:func:`calibration.loss.loss_matrix`, equal weights) with a Gaussian-process
surrogate (:mod:`calibration.surrogate`): a Sobol design, then ``rounds`` batches placed by
the GP's lower confidence bound, every point simulated with ``replicates`` common-random-
number replicates through the resumable experiment store; the estimate is the minimiser of
the GP mean. :func:`bootstrap` resamples the fitted clusters, recomputes every evaluated
point's loss, refits the GP with the same hyper-parameters and re-minimises.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from calibration import engine
from calibration import initial as ini
from calibration.config import Config, log
from calibration.loss import loss_matrix
from calibration.surrogate import GP, propose_batch
from sim.engine.sampling import sobol_points
from sim.model.params import SCHEMA

__all__ = ["Problem", "Estimate", "estimate", "bootstrap"]


# ----------------------------------------------------------------------------- problem
@dataclass
class Problem:
    """What one calibration simulates: the set-up, the fixed and estimated parameters."""

    states: ini.InitialStates
    config: Config
    names: tuple[str, ...]
    bounds: dict[str, tuple[float, float]]

    def run_json(self) -> str:
        return engine.encode_run(self.states.model_table(), self.config.years, spinup=self.config.spinup,
                                 relax=ini.relax_groups(self.states.knobs))

    def to_theta(self, U: np.ndarray) -> np.ndarray:
        lo = np.array([self.bounds[k][0] for k in self.names])
        hi = np.array([self.bounds[k][1] for k in self.names])
        th = lo + np.clip(U, 0, 1) * (hi - lo)
        for j, k in enumerate(self.names):
            if k in SCHEMA and SCHEMA[k].kind == "int":
                th[:, j] = np.round(th[:, j])
        return th

    def to_unit(self, theta: np.ndarray) -> np.ndarray:
        lo = np.array([self.bounds[k][0] for k in self.names])
        hi = np.array([self.bounds[k][1] for k in self.names])
        return (np.asarray(theta, float) - lo) / (hi - lo)

    def design(self, U: np.ndarray) -> pd.DataFrame:
        th = self.to_theta(U)
        return pd.DataFrame({k: np.round(th[:, j], 8) for j, k in enumerate(self.names)})

    def constants(self) -> dict:
        return {**self.config.base_params(), engine.RUN_KEY: self.run_json()}


# ----------------------------------------------------------------------------- estimator
@dataclass
class Estimate:
    """Evaluated points, their losses and the surrogate's estimate."""

    names: tuple[str, ...]
    U: np.ndarray                      # evaluated points in [0, 1]^d
    means: np.ndarray                  # (points, 2, clusters, outputs) ensemble means
    clusters: list[str]
    outputs: tuple[str, ...]
    L: np.ndarray                      # (points, moments)
    moments: list[tuple[int, str]]
    gp: Any
    u_hat: np.ndarray
    pool: np.ndarray
    rounds: list[int] = field(default_factory=list)

    @property
    def J(self) -> np.ndarray:
        return self.L.sum(1)


def _pool(problem: Problem, U: np.ndarray, J: np.ndarray, seed: int, n_global: int = 2048) -> np.ndarray:
    d = U.shape[1]
    rng = np.random.default_rng(seed)
    parts = [sobol_points(n_global, d, seed + 7)]
    top = U[np.argsort(J)[:4]]
    for t in top:
        for sd in (0.1, 0.04):
            parts.append(np.clip(t + rng.normal(0, sd, (128, d)), 0, 1))
    return np.vstack(parts)


def _argmin_mean(gp, pool: np.ndarray, U: np.ndarray) -> np.ndarray:
    cand = np.vstack([pool, U])
    mu = gp.predict(cand, return_sd=False)
    return cand[int(np.argmin(mu))]


def estimate(problem: Problem, obs: Mapping[int, pd.DataFrame], fit_ids: Sequence[str], store: Path | None, *,
             n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None, resume: bool = False,
             progress: bool = False, shared_initial: Path | None = None) -> Estimate:
    """Surrogate-based simulated minimum distance (see the module docstring).

    ``shared_initial``: store of the initial Sobol design (shared by the folds of a
    cross-validation: the design does not depend on the data).
    """

    cfg = problem.config
    d = len(problem.names)
    consts = problem.constants()
    U = sobol_points(cfg.n_initial, d, cfg.seed + 11)
    st0 = shared_initial if shared_initial is not None else (None if store is None else store / "round-00")
    log(progress, f"estimator: initial design of {len(U)} points x {cfg.replicates} replicates "
                  f"({', '.join(problem.names)})")
    # a shared initial design (cross-validation folds) is computed once and then reused
    b = engine.run_batch(problem.design(U), replicates=cfg.replicates, seed=cfg.seed + 1, store=st0,
                         constants=consts, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                         resume=resume or shared_initial is not None, progress=progress)
    means = b.mean()
    clusters, outputs = b.clusters, b.outputs
    L, moments = loss_matrix(means, clusters, outputs, obs, fit_ids)
    rounds = [0] * len(U)
    gp = GP().fit(U, L.sum(1))
    log(progress, f"  round 0: best loss {L.sum(1).min():.3f}")
    for r in range(1, cfg.rounds + 1):
        pool = _pool(problem, U, L.sum(1), cfg.seed + r)
        new = propose_batch(gp, U, L.sum(1), pool, cfg.batch, kappa=cfg.kappa)
        b = engine.run_batch(problem.design(new), replicates=cfg.replicates, seed=cfg.seed + 1,
                             store=None if store is None else store / f"round-{r:02d}", constants=consts,
                             n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume, progress=progress)
        m = b.mean()
        Ln, _ = loss_matrix(m, clusters, outputs, obs, fit_ids)
        U = np.vstack([U, new])
        means = np.concatenate([means, m])
        L = np.vstack([L, Ln])
        rounds += [r] * len(new)
        gp = GP().fit(U, L.sum(1))
        log(progress, f"  round {r}: batch best {Ln.sum(1).min():.3f}, overall best {L.sum(1).min():.3f}")
    pool = _pool(problem, U, L.sum(1), cfg.seed + 99)
    u_hat = _argmin_mean(gp, pool, U)
    return Estimate(problem.names, U, means, clusters, outputs, L, moments, gp, u_hat, pool, rounds)


def bootstrap(est: Estimate, obs: Mapping[int, pd.DataFrame], fit_ids: Sequence[str], n: int,
              seed: int) -> np.ndarray:
    """Cluster bootstrap of the estimate: (n, d) array of re-estimated points in [0, 1]^d."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        w = np.bincount(rng.integers(0, len(fit_ids), len(fit_ids)), minlength=len(fit_ids)).astype(float)
        L, _ = loss_matrix(est.means, est.clusters, est.outputs, obs, fit_ids, weights=w)
        g = est.gp.refit_same(est.U, L.sum(1))
        out.append(_argmin_mean(g, est.pool, est.U))
    return np.array(out)

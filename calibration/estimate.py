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
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import qmc

from calibration import engine
from calibration import initial as ini
from calibration.measurement import MeasurementMap, rmse, spearman
from calibration.shipped import (
    FORMAT,
    check_fingerprint,
    current_baseline,
    load_calibrated,
    load_params,
    scenario_base,
)
from calibration.surrogate import GP, propose_batch
from calibration.typology import load_fitted
from sim.data.observed import INDEX_COLUMNS, load_all
from sim.model.params import SCHEMA, ParameterError, validate

__all__ = [
    "Config", "QUICK", "FULL", "TARGETS_2010", "TARGETS_2020", "observed_targets", "resolve_fit_clusters",
    "build_initial_states", "loss_matrix", "estimate", "calibrate", "load_params", "load_calibrated",
    "scenario_base", "predict", "parameter_recovery",
]

TARGETS_2010: tuple[str, ...] = tuple(INDEX_COLUMNS)
TARGETS_2020: tuple[str, ...] = tuple(INDEX_COLUMNS) + ("inclusiveness",)


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class Config:
    """Settings of a calibration (``QUICK`` and ``FULL`` are the two presets).

    Set-up: ``scale`` (fraction of real firm counts), ``min_firms``, ``backcast``,
    ``nascent_share`` (see :mod:`calibration.initial`), ``spinup`` (years simulated before
    2010), ``years`` (2010 -> 2020). Initial states: ``setup_runs`` design runs,
    ``setup_checks`` correction rounds of ``setup_replicates`` replicates. Estimator:
    ``estimate`` (names; model parameters or run parameters such as ``network_persistence``), ``n_initial`` Sobol
    points, ``rounds`` x ``batch`` surrogate-guided points, ``replicates`` per point,
    ``final_replicates`` at the estimate, ``bootstrap`` cluster-bootstrap samples, ``kappa``
    (exploration of the lower confidence bound), ``seed``. ``refit_setup``: refit the 2010
    set-up at the estimate before the final ensemble (the set-up of the estimation is fitted
    at the default parameter values; the spin-up depends on them).
    """

    mode: str = "full"
    scale: float = 0.05
    min_firms: int = 30
    backcast: float = 1.0
    nascent_share: float = 0.25
    spinup: float = 5.0
    years: float = 10.0
    setup_runs: int = 32
    setup_checks: int = 3
    setup_replicates: int = 3
    setup_local: int = 6
    estimate: tuple[str, ...] = ("sector_persistence", "network_persistence", "decay_rate", "startup_rate",
                                 "exit_rate", "external_learning", "beta_tri", "beta_inst")
    n_initial: int = 32
    rounds: int = 3
    batch: int = 12
    replicates: int = 3
    final_replicates: int = 8
    bootstrap: int = 200
    kappa: float = 1.0
    seed: int = 1
    fixed: tuple[tuple[str, float], ...] = ()
    refit_setup: bool = True

    def bounds(self, source: str = "calibration settings") -> dict[str, tuple[float, float]]:
        out = {}
        if isinstance(self.estimate, str) or not len(self.estimate):
            raise ParameterError(f"{source}: 'estimate' must be a non-empty list of parameter names")
        for k in self.estimate:
            if k in engine.RUN_PARAMS:
                _, lo, hi, _ = engine.RUN_PARAMS[k]
                out[k] = (float(lo), float(hi))
            elif k in ini.KNOBS:
                raise ParameterError(f"{source}: {k!r} is set cluster by cluster in the 2010 initial states "
                                     f"(a knob of calibration.initial), so a global value would act on no "
                                     f"cluster; estimate another parameter (knobs: {', '.join(ini.KNOBS)})")
            elif k in SCHEMA and SCHEMA[k].kind != "bool" and SCHEMA[k].group != "setup":
                out[k] = SCHEMA[k].sa_bounds
            else:
                raise ParameterError(f"{source}: cannot estimate unknown parameter {k!r} (model parameters outside "
                                     f"the set-up group: 'clustersim params'; run parameters: "
                                     f"{', '.join(engine.RUN_PARAMS)})")
        if len(set(self.estimate)) != len(self.estimate):
            raise ParameterError(f"{source}: 'estimate' lists a parameter twice")
        return out

    def base_params(self, source: str = "calibration settings") -> dict:
        """Model parameters held fixed (scale and ``fixed``), validated."""
        over = {"scale": self.scale, **dict(self.fixed)}
        clash = sorted(set(dict(self.fixed)) & set(self.estimate))
        if clash:
            raise ParameterError(f"{source}: {', '.join(clash)} cannot be both fixed and estimated")
        validate(over, source=source)
        return over

    def to_dict(self) -> dict:
        d = asdict(self)
        d["estimate"] = list(self.estimate)
        d["fixed"] = dict(self.fixed)
        return d

    def updated(self, overrides: Mapping[str, Any], source: str = "settings") -> "Config":
        """A copy with ``overrides`` (field -> value) applied and checked; errors name ``source``."""
        fields = set(asdict(self))
        bad = sorted(map(str, set(overrides) - fields))
        if bad:
            raise ParameterError(f"{source}: unknown calibration setting(s) {', '.join(map(repr, bad))}; "
                                 f"allowed: {', '.join(sorted(fields))}")
        kw = {}
        for k, v in overrides.items():
            cur = getattr(self, k)
            try:
                if k == "estimate":
                    if isinstance(v, str) or not isinstance(v, (list, tuple)) or not all(isinstance(x, str) for x in v):
                        raise TypeError
                    v = tuple(v)
                elif k == "fixed":
                    if not isinstance(v, Mapping):
                        raise TypeError
                    validate(dict(v), source=f"{source}: fixed")
                    v = tuple(sorted(dict(v).items()))
                elif isinstance(cur, bool):
                    if not isinstance(v, bool):
                        raise TypeError
                elif isinstance(cur, int):
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or int(v) != v:
                        raise TypeError
                    v = int(v)
                    lo, hi = _INT_LIMITS.get(k, (0, 10_000))
                    if not lo <= v <= hi:
                        raise ValueError(f"must be a whole number in [{lo}, {hi}]")
                elif isinstance(cur, float):
                    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v):
                        raise TypeError
                    v = float(v)
                    lo, hi, open_lo = _FLOAT_LIMITS.get(k, (0.0, 1e6, False))
                    if v > hi or v < lo or (open_lo and v == lo):
                        raise ValueError(f"must be in {'(' if open_lo else '['}{lo:g}, {hi:g}]")
                elif isinstance(cur, str) and not isinstance(v, str):
                    raise TypeError
            except ParameterError:
                raise
            except (TypeError, OverflowError):
                raise ParameterError(f"{source}: setting {k!r} has an invalid value {_short(v)} "
                                     f"(expected {type(cur).__name__}, like the default {cur!r})") from None
            except ValueError as exc:
                raise ParameterError(f"{source}: setting {k!r} = {_short(v)} {exc}") from None
            kw[k] = v
        cfg = replace(self, **kw)
        cfg.bounds(source)
        cfg.base_params(source)
        return cfg


def _short(v: Any, n: int = 60) -> str:
    try:
        t = repr(v)
    except Exception:  # noqa: BLE001 - e.g. an int with too many digits to print
        t = f"<{type(v).__name__}>"
    return t if len(t) <= n else t[: n - 3] + "..."


#: Ranges of the integer settings (inclusive).
_INT_LIMITS: dict[str, tuple[int, int]] = {
    "min_firms": (1, 100_000), "setup_runs": (1, 10_000), "setup_checks": (0, 100), "setup_replicates": (1, 10_000),
    "setup_local": (0, 10_000), "n_initial": (1, 10_000), "rounds": (0, 1_000), "batch": (1, 10_000),
    "replicates": (1, 10_000), "final_replicates": (1, 10_000), "bootstrap": (0, 100_000), "seed": (0, 2 ** 63 - 1),
}
#: Ranges of the float settings: (low, high, low is open).
_FLOAT_LIMITS: dict[str, tuple[float, float, bool]] = {
    "scale": (0.0, 1.0, True), "backcast": (0.0, 10.0, True), "nascent_share": (0.0, 1.0, True),
    "spinup": (0.0, 200.0, False), "years": (0.0, 200.0, True), "kappa": (0.0, 100.0, False),
}


QUICK = Config(mode="quick", scale=0.03, setup_runs=12, setup_checks=1, setup_replicates=3, setup_local=4,
               estimate=("sector_persistence", "network_persistence", "decay_rate", "startup_rate", "exit_rate"),
               n_initial=10, rounds=2, batch=5, replicates=2, final_replicates=4, bootstrap=50)
FULL = Config()


def _log(progress: bool, msg: str) -> None:
    if progress:
        print(f"[calibrate] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- observed data
def observed_targets(data, cfg: "Config | None" = None) -> dict[int, pd.DataFrame]:
    """Targets by year: 2010 (six published indices) and 2020 (six indices, inclusiveness and, with
    ``cfg``, the 2020 firm count in simulated units, ``SIZE`` column: max(min_firms, firms x scale))."""
    o10 = data.indices_for_year(2010)[list(TARGETS_2010)]
    o20 = data.indices_for_year(2020)[list(INDEX_COLUMNS)].copy()
    inc = data.indices.loc[data.indices["year"] == 2020, ["id", "inclusiveness"]].set_index("id")["inclusiveness"]
    o20["inclusiveness"] = inc.reindex(o20.index).astype(float)
    if cfg is not None:
        firms = data.economics.set_index("id")["firms"].reindex(o20.index).astype(float)
        o20[SIZE] = np.maximum(cfg.min_firms, np.round(firms * cfg.scale))
    return {2010: o10, 2020: o20}


#: Name of the size moment: the simulated 2020 firm count against the observed one (table 3-3).
SIZE = "firms"


def _size_loss(M: np.ndarray, target: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted mean squared log ratio of simulated to observed 2020 firm counts, capped at 1."""
    ok = np.isfinite(target) & (target > 0) & (w > 0)
    M, t, w = M[:, ok], target[ok], w[ok]
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.log(np.maximum(M, 0.5) / t[None, :]) ** 2
    d = np.where(np.isfinite(d), d, 1.0)
    return np.minimum(1.0, (d * w[None, :]).sum(1) / max(w.sum(), 1e-12))


def resolve_fit_clusters(data, clusters: Sequence[str] | None = None,
                         exclude: Sequence[str] | None = None) -> list[str]:
    """The clusters the fit uses: ``clusters`` (default every cluster with published 2020 values) minus ``exclude``.

    Raises :class:`~sim.model.params.ParameterError` for an unknown id, for a withheld cluster
    named in ``clusters`` (its 2020 values are not published), and for fewer than 5 clusters.
    """
    known = data.cluster_ids()
    withheld = set(data.withheld_ids())
    for what, ids in (("--clusters", clusters), ("--exclude", exclude)):
        bad = [c for c in (ids or []) if c not in known]
        if bad:
            raise ParameterError(f"{what}: unknown cluster id(s) {', '.join(bad)} "
                                 f"(run 'clustersim clusters' to list the {len(known)} known ids)")
    if clusters:
        w = [c for c in clusters if c in withheld]
        if w:
            raise ParameterError(f"--clusters: {', '.join(w)} ha{'s' if len(w) == 1 else 've'} no published 2020 "
                                 f"values (withheld for the out-of-sample test) and cannot be fitted")
        fit = [c for c in known if c in set(clusters)]
    else:
        fit = [c for c in known if c not in withheld]
    fit = [c for c in fit if c not in set(exclude or [])]
    if len(fit) < 5:
        raise ParameterError(f"the fit needs at least 5 clusters with published 2020 values, got {len(fit)}")
    return fit


# ----------------------------------------------------------------------------- losses
def _weighted_loss(M: np.ndarray, o: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``1 - max(0, corr_w)^2`` of each row of ``M`` (points x clusters) with ``o``; NaN-safe."""
    ok = np.isfinite(o) & (w > 0)
    M = M[:, ok]
    o = o[ok]
    w = w[ok]
    good = np.isfinite(M)
    W = np.where(good, w[None, :], 0.0)
    Mz = np.where(good, M, 0.0)
    sw = W.sum(1)
    sw = np.where(sw > 0, sw, np.nan)
    mx = (W * Mz).sum(1) / sw
    my = (W * o[None, :]).sum(1) / sw
    dx = np.where(good, Mz - mx[:, None], 0.0)
    dy = np.where(good, o[None, :] - my[:, None], 0.0)
    sxy = (W * dx * dy).sum(1)
    sxx = (W * dx ** 2).sum(1)
    syy = (W * dy ** 2).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where((sxy > 0) & (sxx > 0) & (syy > 0), sxy ** 2 / (sxx * syy), 0.0)
    loss = 1.0 - r2
    return np.where(good.sum(1) >= 3, loss, 1.0)


def loss_matrix(means: np.ndarray, clusters: Sequence[str], outputs: Sequence[str],
                obs: Mapping[int, pd.DataFrame], fit_ids: Sequence[str],
                weights: np.ndarray | None = None) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """Per-point, per-moment discrepancies.

    Parameters
    ----------
    means : ndarray (points, 2, clusters, outputs)
        Ensemble means (axis 1: 0 = 2010 snapshot, 1 = 2020 snapshot).
    clusters, outputs : names of the axes.
    obs : published targets by year (:func:`observed_targets`).
    fit_ids : clusters in the fit.
    weights : ndarray (len(fit_ids),), optional
        Multiplicity of each fitted cluster (the cluster bootstrap); default 1.

    Returns
    -------
    L : ndarray (points, moments)
    moments : list of (year, index)
    """
    cpos = {c: i for i, c in enumerate(clusters)}
    opos = {k: i for i, k in enumerate(outputs)}
    cols = np.array([cpos[c] for c in fit_ids])
    w = np.ones(len(fit_ids)) if weights is None else np.asarray(weights, float)
    out, moments = [], []
    for y, when, targets in ((2010, 0, TARGETS_2010), (2020, 1, TARGETS_2020)):
        o_df = obs[y].reindex(fit_ids)
        for k in targets:
            o = o_df[k].to_numpy(float)
            M = means[:, when, cols, opos[k]]
            out.append(_weighted_loss(M, o, w))
            moments.append((y, k))
    if SIZE in obs[2020].columns:
        M = means[:, 1, cols, opos[SIZE]]
        out.append(_size_loss(M, obs[2020][SIZE].reindex(fit_ids).to_numpy(float), w))
        moments.append((2020, SIZE))
    return np.column_stack(out), moments


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


def _sobol(n: int, d: int, seed: int) -> np.ndarray:

    m = int(np.ceil(np.log2(max(n, 2))))
    return qmc.Sobol(d, scramble=True, seed=seed).random_base2(m)[:n]


# ----------------------------------------------------------------------------- initial states
def build_initial_states(cfg: Config, data, store: Path | None, *, n_jobs: int = 1, backend: str = "loky",
                         resume: bool = False, progress: bool = False,
                         base_params: Mapping | None = None) -> tuple[ini.InitialStates, pd.DataFrame]:
    """Fit the 2010 set-up (:mod:`calibration.initial`) with ``setup_checks`` rounds of sequential design.

    Every round simulates the current set-up (``setup_replicates`` replicates, spin-up only)
    and measures the achieved 2010 fit; those runs and ``setup_local`` runs with jittered
    knobs are added to the emulator's training data, which is refitted and inverted again
    (the emulator learns the model where the solution is, including system-wide effects such
    as the national sector shares behind the location quotient). The round with the smallest
    achieved loss is kept. Returns the states and the per-round achieved losses.
    """
    names = ini.knobs()
    base = ini.base_table(data, scale=cfg.scale, min_firms=cfg.min_firms, backcast=cfg.backcast,
                          nascent_share=cfg.nascent_share)
    params = dict(base_params if base_params is not None else cfg.base_params())
    designs = ini.design_tables(base, cfg.setup_runs, names, seed=cfg.seed)
    d = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(t, 0.0, spinup=cfg.spinup) for t in designs]})
    _log(progress, f"initial states: {cfg.setup_runs} design runs (knobs: {', '.join(names)})")
    b = engine.run_batch(d, replicates=1, seed=cfg.seed, store=None if store is None else store / "setup-design",
                         constants=params, n_jobs=n_jobs, backend=backend, resume=resume, progress=False)
    obs10 = data.indices_for_year(2010)
    fit10 = list(base.loc[base["has_2010"], "id"])
    all_tables = list(designs)
    all_raw = [b.values[:, 0, 0]]
    states = ini.fit_initial_states(base, all_tables, np.concatenate(all_raw), b.outputs, obs10, names,
                                    seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed + 31)
    history = []
    best = None
    for r in range(cfg.setup_checks + 1):
        table = states.model_table()
        dd = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(table, 0.0, spinup=cfg.spinup)]})
        bc = engine.run_batch(dd, replicates=cfg.setup_replicates, seed=cfg.seed + 100 + r,
                              store=None if store is None else store / f"setup-check-{r}", constants=params,
                              n_jobs=n_jobs, backend=backend, resume=resume, progress=False)
        sim = bc.frame(0, 0)
        mm = MeasurementMap.fit({2010: sim}, {2010: obs10}, fit10, TARGETS_2010)
        losses = {k: mm.fits[2010][k].loss for k in TARGETS_2010}
        tot = float(np.nansum(list(losses.values())))
        history.append({"round": r, "total": tot, **losses})
        _log(progress, f"  set-up round {r}: achieved 2010 loss {tot:.3f} "
                       + " ".join(f"{k[:5]}={v:.2f}" for k, v in losses.items()))
        if best is None or tot < best[0] - 1e-12:
            best = (tot, states)
        if r == cfg.setup_checks:
            break
        # sequential design: the check runs and jittered neighbours train the emulator further
        local = []
        for _ in range(cfg.setup_local):
            t = table.copy()
            u = ini.scale_knobs(t, names) + rng.normal(0, 0.08, (len(t), len(names)))
            t[list(names)] = np.round(ini.unscale_knobs(u, names), 6)
            local.append(t)
        dl = pd.DataFrame({engine.RUN_KEY: [engine.encode_run(t, 0.0, spinup=cfg.spinup) for t in local]})
        bl = engine.run_batch(dl, replicates=1, seed=cfg.seed + 200 + r,
                              store=None if store is None else store / f"setup-local-{r}", constants=params,
                              n_jobs=n_jobs, backend=backend, resume=resume, progress=False)
        all_tables += [table] * cfg.setup_replicates + local
        all_raw += [bc.values[0, :, 0], bl.values[:, 0, 0]]
        states = ini.fit_initial_states(base, all_tables, np.concatenate(all_raw), b.outputs, obs10, names,
                                        seed=cfg.seed)
    states = best[1]
    states.settings = {"scale": cfg.scale, "min_firms": cfg.min_firms, "backcast": cfg.backcast,
                       "nascent_share": cfg.nascent_share, "spinup": cfg.spinup, "setup_runs": cfg.setup_runs,
                       "setup_checks": cfg.setup_checks, "selected_round": int(np.argmin([h["total"] for h in history]))}
    return states, pd.DataFrame(history)


def final_setup(cfg: Config, data, store: Path | None, states, history, model_params: Mapping, **kw):
    """Refit the 2010 set-up at the estimated model parameters (if ``cfg.refit_setup``)."""
    if not cfg.refit_setup:
        return states, history
    _log(kw.get("progress", False), "initial states refitted at the estimate")
    return build_initial_states(cfg, data, None if store is None else store / "final-setup",
                                base_params={**cfg.base_params(), **dict(model_params)}, **kw)


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
    parts = [_sobol(n_global, d, seed + 7)]
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
             n_jobs: int = 1, backend: str = "loky", resume: bool = False, progress: bool = False,
             shared_initial: Path | None = None) -> Estimate:
    """Surrogate-based simulated minimum distance (see the module docstring).

    ``shared_initial``: store of the initial Sobol design (shared by the folds of a
    cross-validation: the design does not depend on the data).
    """

    cfg = problem.config
    d = len(problem.names)
    consts = problem.constants()
    U = _sobol(cfg.n_initial, d, cfg.seed + 11)
    st0 = shared_initial if shared_initial is not None else (None if store is None else store / "round-00")
    _log(progress, f"estimator: initial design of {len(U)} points x {cfg.replicates} replicates "
                   f"({', '.join(problem.names)})")
    # a shared initial design (cross-validation folds) is computed once and then reused
    b = engine.run_batch(problem.design(U), replicates=cfg.replicates, seed=cfg.seed + 1, store=st0,
                         constants=consts, n_jobs=n_jobs, backend=backend,
                         resume=resume or shared_initial is not None, progress=progress)
    means = b.mean()
    clusters, outputs = b.clusters, b.outputs
    L, moments = loss_matrix(means, clusters, outputs, obs, fit_ids)
    rounds = [0] * len(U)
    gp = GP().fit(U, L.sum(1))
    _log(progress, f"  round 0: best loss {L.sum(1).min():.3f}")
    for r in range(1, cfg.rounds + 1):
        pool = _pool(problem, U, L.sum(1), cfg.seed + r)
        new = propose_batch(gp, U, L.sum(1), pool, cfg.batch, kappa=cfg.kappa)
        b = engine.run_batch(problem.design(new), replicates=cfg.replicates, seed=cfg.seed + 1,
                             store=None if store is None else store / f"round-{r:02d}", constants=consts,
                             n_jobs=n_jobs, backend=backend, resume=resume, progress=progress)
        m = b.mean()
        Ln, _ = loss_matrix(m, clusters, outputs, obs, fit_ids)
        U = np.vstack([U, new])
        means = np.concatenate([means, m])
        L = np.vstack([L, Ln])
        rounds += [r] * len(new)
        gp = GP().fit(U, L.sum(1))
        _log(progress, f"  round {r}: batch best {Ln.sum(1).min():.3f}, overall best {L.sum(1).min():.3f}")
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


# ----------------------------------------------------------------------------- final ensemble
def split_theta(names: Sequence[str], theta: Sequence[float]) -> tuple[dict, dict]:
    """Estimated values split into model parameters and run parameters."""
    model, run = {}, {}
    for k, v in zip(names, theta):
        if k in engine.RUN_PARAMS:
            run[k] = float(v)
        else:
            model[k] = int(round(v)) if SCHEMA[k].kind == "int" else float(v)
    return model, run


def ensemble(params: Mapping, run_params: Mapping, states: ini.InitialStates, cfg_years: float, spinup: float,
             replicates: int, seed: int, store: Path | None, *, n_jobs: int = 1, backend: str = "loky",
             resume: bool = False, progress: bool = False) -> engine.Batch:
    """Replicates of the calibrated model from the 2010 set-up (one design row)."""
    run = engine.encode_run(states.model_table(), cfg_years, spinup=spinup, relax=ini.relax_groups(states.knobs))
    rp = {k: float(run_params.get(k, v[0])) for k, v in engine.RUN_PARAMS.items()}
    design = pd.DataFrame([rp])
    consts = {**dict(params), engine.RUN_KEY: run}
    return engine.run_batch(design, replicates=replicates, seed=seed, store=store, constants=consts,
                            n_jobs=n_jobs, backend=backend, resume=resume, progress=progress)


def published_frames(batch: engine.Batch, mm: MeasurementMap, when: int, year: int) -> list[pd.DataFrame]:
    """Each replicate's indices in the published scale: list of (clusters x indices) frames."""
    out = []
    for r in range(batch.values.shape[1]):
        raw = pd.DataFrame(batch.values[0, r, when], index=pd.Index(batch.clusters, name="id"),
                           columns=list(batch.outputs))
        out.append(mm.apply(raw, year))
    return out


def modal_typology(frames: Sequence[pd.DataFrame], classifier=None) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Most frequent typology per cluster over replicates, its share, and all replicate labels."""

    clf = classifier or load_fitted()
    labs = pd.DataFrame({r: clf.predict(f[list(INDEX_COLUMNS)]) for r, f in enumerate(frames)})
    mode = labs.apply(lambda row: row.dropna().value_counts().idxmax() if row.notna().any() else None, axis=1)
    share = labs.apply(lambda row: (row == mode[row.name]).mean() if row.notna().any() else np.nan, axis=1)
    return mode, share, labs


# ----------------------------------------------------------------------------- I/O helpers
def atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def atomic_write_csv(df: pd.DataFrame, path: Path) -> None:
    atomic_write_text(path, df.to_csv(index=False, float_format="%.6g", lineterminator="\n"))


def atomic_savefig(fig, path: Path) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    os.replace(tmp, path)


def _json_default(o):
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.bool_,)):
        return bool(o)
    raise TypeError(type(o).__name__)


def _clean(obj):
    if isinstance(obj, float):
        return None if not np.isfinite(obj) else obj
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def dumps(obj) -> str:
    return json.dumps(_clean(json.loads(json.dumps(obj, default=_json_default))), indent=2, sort_keys=False) + "\n"


# ----------------------------------------------------------------------------- calibrate
def calibrate(cfg: Config = FULL, out: str | os.PathLike | None = None, *, clusters: Sequence[str] | None = None,
              exclude: Sequence[str] | None = None, n_jobs: int = 1, backend: str = "loky", resume: bool = False,
              progress: bool = True, figures: bool = True, data=None, obs: Mapping[int, pd.DataFrame] | None = None,
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
    resume : bool
        Reuse the finished runs in ``out/store``.
    obs : mapping, optional
        Targets replacing the published data (parameter recovery uses synthetic targets).
    """
    t0 = time.time()
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
    states, setup_hist = build_initial_states(cfg, data, store, n_jobs=n_jobs, backend=backend, resume=resume,
                                              progress=progress)
    problem = Problem(states, cfg, tuple(cfg.estimate), cfg.bounds())
    est = estimate(problem, obs, fit_ids, store, n_jobs=n_jobs, backend=backend, resume=resume, progress=progress)
    _log(progress, f"bootstrap: {cfg.bootstrap} cluster resamples")
    boot = bootstrap(est, obs, fit_ids, cfg.bootstrap, cfg.seed + 5) if cfg.bootstrap > 0 else np.empty((0, len(est.names)))
    theta_hat = problem.to_theta(est.u_hat[None, :])[0]
    theta_boot = problem.to_theta(boot) if len(boot) else np.empty((0, len(est.names)))
    model_hat, run_hat = split_theta(est.names, theta_hat)
    params_hat = validate({**cfg.base_params(), **model_hat}, source="calibrated values")
    states, setup_hist = final_setup(cfg, data, store, states, setup_hist, model_hat, n_jobs=n_jobs,
                                     backend=backend, resume=resume, progress=progress)
    _log(progress, f"final ensemble: {cfg.final_replicates} replicates at the estimate")
    fb = ensemble({**cfg.base_params(), **model_hat}, run_hat, states, cfg.years, cfg.spinup, cfg.final_replicates,
                  cfg.seed + 1000, None if store is None else store / "final", n_jobs=n_jobs, backend=backend,
                  resume=resume, progress=progress)
    result = summarize(cfg, data, obs, fit_ids, states, setup_hist, problem, est, theta_hat, theta_boot,
                       params_hat, model_hat, run_hat, fb, exclude=exclude, command=command, wall=time.time() - t0)
    if out_p is not None:
        write_outputs(result, out_p, figures=figures)
        _log(progress, f"wrote {out_p / 'params.json'}, {out_p / 'fit.csv'} in {time.time() - t0:.0f}s")
    return result["params"]


def summarize(cfg, data, obs, fit_ids, states, setup_hist, problem, est, theta_hat, theta_boot, params_hat,
              model_hat, run_hat, fb: engine.Batch, *, exclude=None, command=None, wall=0.0) -> dict:
    """Assemble ``params.json`` and the tables of a calibration."""
    means = {2010: fb.frame(0, 0), 2020: fb.frame(0, 1)}
    sds = {2010: fb.frame(0, 0, "sd"), 2020: fb.frame(0, 1, "sd")}
    mm = MeasurementMap.fit(means, obs, fit_ids, TARGETS_2020)
    # the 2010 map on every cluster with 2010 values (no 2020 information is used)
    has10 = [c for c in obs[2010].dropna(how="all").index if c in means[2010].index]
    mm10 = MeasurementMap.fit({2010: means[2010]}, {2010: obs[2010]}, has10, TARGETS_2010)
    mm.fits[2010] = mm10.fits[2010]
    rows = []
    for y in (2010, 2020):
        pub = mm.apply(means[y], y)
        for c in means[y].index:
            for k in (TARGETS_2010 if y == 2010 else TARGETS_2020):
                f = mm.fits[y][k]
                o = obs[y][k].get(c, np.nan) if c in obs[y].index else np.nan
                rows.append({"cluster": c, "year": y, "index": k, "observed": o,
                             "simulated_mean": pub.loc[c, k], "simulated_sd": f.b * sds[y].loc[c, k],
                             "raw_mean": means[y].loc[c, k], "in_fit": c in (has10 if y == 2010 else fit_ids)})
    if SIZE in obs[2020].columns:  # the size moment: raw simulated firm counts against the observed ones
        for c in means[2020].index:
            rows.append({"cluster": c, "year": 2020, "index": SIZE, "observed": obs[2020][SIZE].get(c, np.nan),
                         "simulated_mean": means[2020].loc[c, SIZE], "simulated_sd": sds[2020].loc[c, SIZE],
                         "raw_mean": means[2020].loc[c, SIZE], "in_fit": c in fit_ids})
    fit = pd.DataFrame(rows)
    size_loss = (float(_size_loss(means[2020][SIZE].reindex(fit_ids).to_numpy(float)[None, :],
                                  obs[2020][SIZE].reindex(fit_ids).to_numpy(float), np.ones(len(fit_ids)))[0])
                 if SIZE in obs[2020].columns else None)
    # typology of the simulated 2020 clusters
    frames = published_frames(fb, mm, 1, 2020)
    mode, share, _ = modal_typology(frames)
    pub_typ = data.clusters.set_index("id")["typology_2020"]
    typ = pd.DataFrame({"cluster": mode.index, "published": pub_typ.reindex(mode.index).to_numpy(),
                        "simulated": mode.to_numpy(), "share": share.to_numpy(),
                        "in_fit": [c in fit_ids for c in mode.index]})
    infit = typ[typ["in_fit"] & typ["published"].notna()]
    # initial-state fit (achieved, final ensemble, 2010 snapshot)
    f10 = fit[(fit["year"] == 2010) & fit["in_fit"]]
    init_fit = pd.DataFrame([{"index": k, "loss": mm.fits[2010][k].loss,
                              "r2": 1 - mm.fits[2010][k].loss,
                              "rmse_published": rmse(g["simulated_mean"], g["observed"]),
                              "sd_published": float(np.nanstd(g["observed"])),
                              "spearman": spearman(g["simulated_mean"], g["observed"]),
                              "n": int(g["observed"].notna().sum())}
                             for k, g in f10.groupby("index", sort=False)])
    f20 = fit[(fit["year"] == 2020) & fit["in_fit"] & fit["index"].isin(TARGETS_2020)]
    fit_2020 = pd.DataFrame([{"index": k, "loss": mm.fits[2020][k].loss,
                              "rmse_published": rmse(g["simulated_mean"], g["observed"]),
                              "spearman": spearman(g["simulated_mean"], g["observed"]),
                              "n": int(g["observed"].notna().sum())}
                             for k, g in f20.groupby("index", sort=False)])
    estimates = {}
    for j, k in enumerate(est.names):
        lo, hi = problem.bounds[k]
        tb = theta_boot[:, j] if len(theta_boot) else np.array([])
        q05, q95 = (np.quantile(tb, [0.05, 0.95]) if len(tb) else (np.nan, np.nan))
        width = (q95 - q05) / (hi - lo) if len(tb) else np.nan
        estimates[k] = {"value": float(theta_hat[j]), "bootstrap_mean": float(tb.mean()) if len(tb) else None,
                        "bootstrap_sd": float(tb.std(ddof=1)) if len(tb) > 1 else None,
                        "q05": float(q05), "q95": float(q95), "prior": [lo, hi],
                        "interval_share_of_prior": float(width),
                        "identified": bool(width < 0.6) if np.isfinite(width) else None}
    evals = pd.DataFrame(problem.to_theta(est.U), columns=list(est.names))
    evals.insert(0, "round", est.rounds)
    evals["loss"] = est.J
    for j, (y, k) in enumerate(est.moments):
        evals[f"L_{y}_{k}"] = est.L[:, j]

    clf = load_fitted()
    relax = ini.relax_groups(states.knobs)
    params_json = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "mode": cfg.mode,
        "wall_time_s": round(wall, 1),
        "baseline": current_baseline(),
        "config": cfg.to_dict(),
        "params": {k: params_hat[k] for k in sorted({"scale", *model_hat, *dict(cfg.fixed)})},
        "run_params": {**{k: v[0] for k, v in engine.RUN_PARAMS.items()}, **run_hat},
        "estimates": estimates,
        "fit_clusters": list(fit_ids),
        "excluded": list(exclude or []),
        "loss": {"total_at_estimate": float(mm.total_loss()) + (size_loss or 0.0),
                 "per_moment": {**{f"{y}:{k}": f.loss for y, d in mm.fits.items() for k, f in d.items()},
                                **({f"2020:{SIZE}": size_loss} if size_loss is not None else {})},
                 "best_evaluated": float(est.J.min()), "evaluations": int(len(est.J))},
        "measurement_map": mm.to_dict(),
        "setup": {**states.to_dict(), "spinup": cfg.spinup, "years": cfg.years, "relax": relax,
                  "achieved_rounds": setup_hist.to_dict(orient="list")},
        "initial_state_fit": init_fit.to_dict(orient="records"),
        "fit_2020": fit_2020.to_dict(orient="records"),
        "typology": {"classifier": "calibration/typology_fit.json (calibration.typology.load_fitted)",
                     "rule": clf.rule, "thresholds": list(clf.thresholds_),
                     "published_accuracy": {"in_sample": "18/30", "leave_one_out": "14/30",
                                            "source": "calibration.typology module docstring"},
                     "simulated_vs_published_in_fit": f"{int((infit['simulated'] == infit['published']).sum())}/{len(infit)}"},
    }
    return {"params": params_json, "fit": fit, "typology": typ, "initial_fit": init_fit, "evaluations": evals,
            "mm": mm, "batch": fb}


def write_outputs(result: dict, out: Path, figures: bool = True) -> None:
    out.mkdir(parents=True, exist_ok=True)
    fit = result["fit"].copy()
    atomic_write_csv(fit, out / "fit.csv")
    atomic_write_csv(result["typology"], out / "typology.csv")
    atomic_write_csv(result["initial_fit"], out / "initial_fit.csv")
    atomic_write_csv(result["evaluations"], out / "evaluations.csv")
    if figures:
        plot_fit(fit, out / "fit.png")
        plot_arrows(fit, out / "arrows.png")
    atomic_write_text(out / "params.json", dumps(result["params"]))


# ----------------------------------------------------------------------------- figures
def plot_fit(fit: pd.DataFrame, path: Path) -> None:
    """Observed vs simulated (published scale), 2020, one panel per index; open = not in the fit."""

    matplotlib.use("Agg")

    ks = list(TARGETS_2020)
    fig, axes = plt.subplots(2, 4, figsize=(14, 6.5))
    for ax, k in zip(axes.ravel(), ks):
        g = fit[(fit["year"] == 2020) & (fit["index"] == k) & fit["observed"].notna()]
        for infit, mk in ((True, "o"), (False, "s")):
            h = g[g["in_fit"] == infit]
            ax.errorbar(h["observed"], h["simulated_mean"], yerr=h["simulated_sd"], fmt=mk,
                        mfc="C0" if infit else "none", mec="C0", ecolor="0.7", ms=4, lw=0.8)
        lim = [np.nanmin([g["observed"].min(), g["simulated_mean"].min()]),
               np.nanmax([g["observed"].max(), g["simulated_mean"].max()])]
        ax.plot(lim, lim, "k--", lw=0.6)
        rho = spearman(g["simulated_mean"], g["observed"])
        ax.set_title(f"{k} (rho={rho:.2f})", fontsize=9)
        ax.set_xlabel("published 2020", fontsize=8)
        ax.set_ylabel("simulated (mapped)", fontsize=8)
    ax = axes.ravel()[-1]
    g = fit[(fit["year"] == 2020) & (fit["index"] == SIZE) & fit["observed"].notna()]
    if len(g):
        ax.loglog(g["observed"], g["simulated_mean"], "o", ms=4)
        lim = [min(g["observed"].min(), g["simulated_mean"].min()), max(g["observed"].max(), g["simulated_mean"].max())]
        ax.plot(lim, lim, "k--", lw=0.6)
        ax.set_title("firms 2020 (simulated units)", fontsize=9)
        ax.set_xlabel("observed x scale", fontsize=8)
        ax.set_ylabel("simulated", fontsize=8)
    else:
        ax.axis("off")
    fig.suptitle("Observed vs simulated 2020 indices in the published scale (mean ± sd over replicates)")
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)


def _scores(fit: pd.DataFrame, year: int, col: str) -> pd.DataFrame:

    clf = load_fitted()
    g = fit[fit["year"] == year].pivot(index="cluster", columns="index", values=col)
    g = g.reindex(columns=list(INDEX_COLUMNS))
    ok = g.notna().any(axis=1)
    return clf.scores(g[ok])


def plot_arrows(fit: pd.DataFrame, path: Path) -> None:
    """2010 -> 2020 arrows per cluster in the centripetal-centrifugal plane: published and simulated."""

    matplotlib.use("Agg")


    clf = load_fitted()
    fig, axes = plt.subplots(1, 2, figsize=(13, 6), sharex=True, sharey=True)
    for ax, col, title in ((axes[0], "observed", "published"), (axes[1], "simulated_mean", "simulated (mapped)")):
        s10, s20 = _scores(fit, 2010, col), _scores(fit, 2020, col)
        for c in s20.index:
            x1, y1 = s20.loc[c].to_numpy()
            if c in s10.index:
                x0, y0 = s10.loc[c].to_numpy()
                ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                            arrowprops=dict(arrowstyle="->", color="C0", lw=0.8, alpha=0.8))
                ax.plot(x0, y0, ".", ms=3, color="C0", alpha=0.6)  # the tail (annotate sets no axis limits)
            ax.plot(x1, y1, "o", ms=3, color="C1")
            ax.text(x1, y1, "_".join(c.split("_")[:2]), fontsize=6, alpha=0.7)
        tc, tf = clf.thresholds_
        ax.axvline(tc, color="0.5", lw=0.6, ls=":")
        ax.axhline(tf, color="0.5", lw=0.6, ls=":")
        ax.set_title(f"{title}: 2010 -> 2020", fontsize=10)
        ax.set_xlabel("centripetal score")
    axes[0].set_ylabel("centrifugal score")
    fig.suptitle("Clusters in the centripetal-centrifugal plane (typology factor scores; dotted: quadrant thresholds)")
    fig.tight_layout()
    atomic_savefig(fig, path)
    plt.close(fig)


# ----------------------------------------------------------------------------- predict
def predict(params: str | os.PathLike | dict | None, clusters: Sequence[str] | None = None, *,
            year_from: int = 2010, year_to: int = 2020, replicates: int = 8, seed: int = 1,
            out: str | os.PathLike | None = None, n_jobs: int = 1, backend: str = "loky", resume: bool = False,
            progress: bool = False, data=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ensemble prediction of the published indices and typology of ``clusters`` at ``year_to``.

    Returns ``(predicted, replicates)``: one row per cluster (ensemble means in the published
    scale and the most frequent typology) and one row per cluster and replicate. With ``out``
    writes ``predicted.csv`` and ``predicted_replicates.csv`` (runs in ``out/store``).
    """
    d = params if isinstance(params, dict) else load_params(params)
    check_fingerprint(d, None if isinstance(params, dict) else params)
    data = data or load_all()
    known = data.cluster_ids()
    clusters = list(clusters) if clusters else known
    bad = [c for c in clusters if c not in known]
    if bad:
        raise ParameterError(f"unknown cluster id(s) {', '.join(bad)} "
                             f"(run 'clustersim clusters' to list the {len(known)} known ids)")
    if int(year_from) != 2010:
        raise ParameterError(f"--from {year_from}: initial states exist for 2010 only (the observed start year)")
    if not 2010 < int(year_to) <= 2100:
        raise ParameterError(f"--to {year_to}: must be a year after 2010 and at most 2100")
    if replicates < 1:
        raise ParameterError(f"replicates must be at least 1, got {replicates}")
    states = ini.InitialStates.from_dict(d["setup"])
    mm = MeasurementMap.from_dict(d["measurement_map"])
    store = None if out is None else Path(out) / "store"
    if out is not None and not resume and store.exists() and any(store.rglob("*.parquet")):
        raise FileExistsError(f"{out} already holds prediction runs; pass --resume or choose a new --out folder")
    fb = ensemble(d["params"], d.get("run_params", {}), states, float(int(year_to) - 2010),
                  float(d["setup"].get("spinup", 0.0)), replicates, seed, store, n_jobs=n_jobs, backend=backend,
                  resume=resume, progress=progress)
    frames = published_frames(fb, mm, 1, int(year_to))
    mode, share, labs = modal_typology(frames)
    cols = list(INDEX_COLUMNS)
    reps = []
    for r, f in enumerate(frames):
        g = f.loc[clusters, cols].copy()
        g.insert(0, "replicate", r)
        g.insert(0, "id", g.index)
        g["typology"] = labs.loc[clusters, r].to_numpy()
        reps.append(g.reset_index(drop=True))
    rep = pd.concat(reps, ignore_index=True)
    mean = rep.groupby("id", sort=False)[cols].mean().reindex(clusters)
    pred = mean.reset_index().rename(columns={"index": "id"})
    pred["typology"] = mode.reindex(clusters).to_numpy()
    pred["typology_share"] = share.reindex(clusters).to_numpy()
    if out is not None:
        o = Path(out)
        atomic_write_csv(rep, o / "predicted_replicates.csv")
        atomic_write_csv(pred, o / "predicted.csv")
    return pred, rep


# ----------------------------------------------------------------------------- parameter recovery
def parameter_recovery(cfg: Config = QUICK, out: str | os.PathLike | None = None, *, truth: Mapping | None = None,
                       n_jobs: int = 1, backend: str = "loky", resume: bool = False, progress: bool = True,
                       data=None) -> pd.DataFrame:
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
    states, _ = build_initial_states(cfg, data, store, n_jobs=n_jobs, backend=backend, resume=resume,
                                     progress=progress)
    model_t, run_t = split_theta(list(truth), list(truth.values()))
    tb = ensemble({**cfg.base_params(), **model_t}, run_t, states, cfg.years, cfg.spinup, cfg.final_replicates,
                  cfg.seed + 5000, None if store is None else store / "truth", n_jobs=n_jobs, backend=backend,
                  resume=resume, progress=progress)
    synth = {}
    for y, when, targets in ((2010, 0, TARGETS_2010), (2020, 1, TARGETS_2020)):
        raw = tb.frame(0, when)[list(targets)]
        sd = raw.std().replace(0, 1.0)
        synth[y] = 0.3 + 2.0 * raw / sd
    synth[2020][SIZE] = tb.frame(0, 1)[SIZE]
    problem = Problem(states, cfg, tuple(cfg.estimate), bounds)
    est = estimate(problem, synth, fit_ids, store, n_jobs=n_jobs, backend=backend, resume=resume, progress=progress)
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
        atomic_write_csv(res, out_p / "recovery.csv")
    return res

r"""2010 initial states: a synthetic population and network per cluster matching its 2010 indices.

The model builds each cluster's 2010 state from a few *set-up values* (columns of the
``cluster_table`` of :class:`sim.model.model.ClusterModel`) and a burn-in of link formation. For each
cluster we choose its own set-up values (the *knobs*) so that the simulated 2010 indices,
through the 2010 measurement map (:mod:`calibration.measurement`), are as close as the model
allows to the published 2010 values.

Knobs (:data:`KNOBS`): ``init_home_share`` (share of firms in the home sector: drives the
location quotient), ``convergence_rate`` and ``recombination_rate`` (specialisation and
related variety), ``beta_local`` and ``external_cost`` (utility of a local partner, cost of
an external one: internal cohesion and external linkage), ``search_rate`` (tie formation:
density, inclusiveness), ``tie_budget`` (ties per firm of the cluster's mean size: with the
size distribution it sets how far the largest firms stand out, the hierarchy) and
``beta_status`` (status homophily: heterophily). (Model v1 used ``beta_pop``, preferential
attachment, for the hierarchy; under v2's tie budgets it moves no index: in designs of national
runs at scale 0.05 in which every cluster had its own random values, its correlation with the
raw 2010 hierarchy was -0.02, against 0.70 for ``tie_budget``.) Every knob is in :data:`sim.model.params.PER_CLUSTER`, the
parameters the model honours cluster by cluster.

Method (an emulator inversion, cheap enough for the quick mode):

1. *Design*: ``n_runs`` burn-in-only simulations of the national system in which every
   cluster gets its own knob values from a scrambled Sobol sequence, so each run gives 38
   (knobs -> raw 2010 indices) samples.
2. *Emulator*: per index, a ridge-regularised quadratic regression of the raw index on the
   scaled knobs and the log initial firm count, plus home-sector dummies (the LQ depends on
   the national share of the home sector). Its residual SD is the noise floor of a single run.
3. *Inversion*, alternating until the loss stops falling: (a) given the knobs, fit the 2010
   map (sign-constrained least squares per index, as in :mod:`calibration.measurement`);
   (b) given the map, choose each cluster's knobs to minimise
   :math:`\sum_k (o_{kc} - a_k - b_k f_k(u_c))^2 / \mathrm{var}(o_k) + \lambda \lVert u_c - u_0 \rVert^2`
   (L-BFGS-B from several starts; the small ridge :math:`\lambda` keeps knobs that no index
   responds to at their default).

Clusters with 2010 values are fitted on them (the 8 withheld clusters included: their 2010
values are observed). The three clusters without 2010 values (not identified as clusters in
2010) start as *nascent agglomerations*: ``nascent_share`` of their size, the median knobs of
their sector family.

Firm counts. 2010 counts are not in the data. ``firms0 = max(min_firms, round(backcast *
firms_2020 * scale))`` for established clusters: the 2020 establishment count (table 3-3)
scaled, with a floor so that the network indices of the smallest clusters are defined (the
indices of a 10-firm network are mostly noise), and ``backcast`` (default 1: sizes roughly
stationary over 2010-2020; the calibrated entry and exit rates then decide growth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from calibration.initial_states import InitialStates
from calibration.measurement import MeasurementMap, fit_affine
from sim.data.clusters import cluster_table
from sim.data.observed import INDEX_COLUMNS
from sim.engine.sampling import sobol_points
from sim.model.params import SCHEMA

__all__ = ["KNOBS", "KNOB_BOUNDS", "knobs", "base_table",
           "design_tables", "Emulator", "InitialStates", "fit_initial_states"]

KNOBS: tuple[str, ...] = ("init_home_share", "convergence_rate", "recombination_rate", "beta_local",
                           "external_cost", "search_rate", "tie_budget", "beta_status")
#: Knobs that act during the simulation, by the run parameter that relaxes them after 2010.
DYNAMIC_KNOBS: dict[str, tuple[str, ...]] = {
    "sector_persistence": ("convergence_rate", "recombination_rate"),
    "network_persistence": ("beta_local", "external_cost", "search_rate", "tie_budget", "beta_status"),
}


def relax_groups(names) -> dict[str, list[str]]:
    """The relaxed knob groups among ``names`` (for :func:`calibration.engine.encode_run`)."""
    return {g: [k for k in ks if k in names] for g, ks in DYNAMIC_KNOBS.items()}
#: Range searched for each knob (inside the parameter schema's bounds).
KNOB_BOUNDS: dict[str, tuple[float, float]] = {
    "init_home_share": (0.08, 0.92),
    "convergence_rate": (0.0, 0.25),
    "recombination_rate": (0.0, 0.4),
    "beta_local": (-1.0, 3.5),
    "external_cost": (0.0, 5.0),
    "search_rate": (0.03, 0.5),
    "tie_budget": (0.5, 4.0),
    "beta_status": (-2.0, 2.0),
}
SETUP_COLUMNS = ["id", "name_en", "sector_family", "firms", "employees_per_firm"]


def knobs() -> tuple[str, ...]:
    """The per-cluster set-up values chosen for each cluster (:data:`KNOBS`)."""
    return KNOBS


#: Information sets of a set-up: ``with_2020_size`` (each cluster's 2020 establishment count and
#: mean firm size set its simulated size: a 2020 covariate) and ``2010_only`` (no cluster's own
#: 2020 count or mean size: every cluster gets the median of all clusters' values).
INFORMATION_SETS: tuple[str, ...] = ("with_2020_size", "2010_only")


def base_table(data, *, scale: float, min_firms: int = 30, backcast: float = 1.0,
               nascent_share: float = 0.25, nascent_min: int = 10,
               information: str = "with_2020_size") -> pd.DataFrame:
    """Per-cluster set-up table without knobs: ids, sector, sizes and ``firms0``; ``has_2010`` flag.

    Parameters
    ----------
    data : sim.data.observed.ObservedData
    scale : float
        Fraction of the real firm counts simulated.
    min_firms, backcast, nascent_share, nascent_min
        See the module docstring.
    information : {"with_2020_size", "2010_only"}
        With ``2010_only`` every cluster starts from the median 2020 establishment count and
        has the median mean firm size of all 38 clusters, so no forecast uses a cluster's own
        2020 size; the model's own growth decides its 2020 size (the median is over every
        cluster, held-out ones included: one cluster moves it by at most one rank).
    """

    if information not in INFORMATION_SETS:
        raise ValueError(f"information must be one of {', '.join(INFORMATION_SETS)}, got {information!r}")
    tab = cluster_table()
    i10 = data.indices_for_year(2010)
    has = i10.reindex(tab["id"])[list(INDEX_COLUMNS)].notna().any(axis=1).to_numpy()
    n = tab["firms"].to_numpy(float) * scale
    if information == "2010_only":
        n = np.full(len(tab), float(np.median(n)))
        tab["employees_per_firm"] = float(np.nanmedian(tab["employees_per_firm"].to_numpy(float)))
    est = np.maximum(min_firms, np.round(backcast * n))
    nas = np.maximum(nascent_min, np.round(nascent_share * n))
    tab["firms0"] = np.where(has, est, nas).astype(float)
    tab["has_2010"] = has
    return tab


def scale_knobs(values: pd.DataFrame, names: Sequence[str]) -> np.ndarray:
    lo = np.array([KNOB_BOUNDS[k][0] for k in names])
    hi = np.array([KNOB_BOUNDS[k][1] for k in names])
    return (values[list(names)].to_numpy(float) - lo) / (hi - lo)


def unscale_knobs(u: np.ndarray, names: Sequence[str]) -> np.ndarray:
    lo = np.array([KNOB_BOUNDS[k][0] for k in names])
    hi = np.array([KNOB_BOUNDS[k][1] for k in names])
    return lo + np.clip(u, 0, 1) * (hi - lo)


def design_tables(base: pd.DataFrame, n_runs: int, names: Sequence[str], seed: int) -> list[pd.DataFrame]:
    """``n_runs`` set-up tables in which every cluster gets its own Sobol-sampled knob values."""
    C = len(base)
    u = sobol_points(n_runs * C, len(names), seed)
    rng = np.random.default_rng(seed)
    u = u[rng.permutation(len(u))]
    vals = unscale_knobs(u, names)
    out = []
    for r in range(n_runs):
        t = base.drop(columns=["has_2010"], errors="ignore").copy()
        for j, k in enumerate(names):
            t[k] = np.round(vals[r * C:(r + 1) * C, j], 6)
        out.append(t)
    return out


# ----------------------------------------------------------------------------- emulator
@dataclass
class Emulator:
    """Ridge quadratic regression of each raw 2010 index on (scaled knobs, log firms0) + sector dummies."""

    names: tuple[str, ...]
    outputs: tuple[str, ...]
    coef: dict[str, np.ndarray]
    resid_sd: dict[str, float]
    r2: dict[str, float]
    lmean: float
    lsd: float
    sectors: tuple[str, ...]

    def features(self, u: np.ndarray, firms0: np.ndarray, sector: Sequence[str]) -> np.ndarray:
        u = np.atleast_2d(u)
        z = (np.log(np.asarray(firms0, float)) - self.lmean) / self.lsd
        X = np.column_stack([u, np.broadcast_to(z, (u.shape[0],)) if np.ndim(z) == 0 else z])
        d = X.shape[1]
        cols = [np.ones(len(X))] + [X[:, i] for i in range(d)]
        cols += [X[:, i] * X[:, j] for i in range(d) for j in range(i, d)]
        sec = np.asarray(sector, dtype=object)
        if sec.ndim == 0:
            sec = np.repeat(sec, len(X))
        cols += [(sec == s).astype(float) for s in self.sectors[1:]]
        return np.column_stack(cols)

    def predict(self, u: np.ndarray, firms0, sector) -> dict[str, np.ndarray]:
        F = self.features(u, firms0, sector)
        return {k: F @ self.coef[k] for k in self.outputs}

    @classmethod
    def fit(cls, u: np.ndarray, firms0: np.ndarray, sector: np.ndarray, y: Mapping[str, np.ndarray],
            names: Sequence[str], ridge: float = 1e-3) -> "Emulator":
        lf = np.log(np.asarray(firms0, float))
        sectors = tuple(sorted(set(sector)))
        em = cls(tuple(names), tuple(y), {}, {}, {}, float(lf.mean()), float(lf.std() or 1.0), sectors)
        F = em.features(u, firms0, sector)
        P = F.shape[1]
        for k, v in y.items():
            ok = np.isfinite(v)
            A = F[ok]
            pen = ridge * len(A) * np.eye(P)
            pen[0, 0] = 0.0
            c = np.linalg.solve(A.T @ A + pen, A.T @ v[ok])
            res = v[ok] - A @ c
            em.coef[k] = c
            em.resid_sd[k] = float(res.std())
            em.r2[k] = float(1 - res.var() / v[ok].var()) if v[ok].var() > 0 else np.nan
        return em


# ----------------------------------------------------------------------------- result
def fit_initial_states(base: pd.DataFrame, designs: Sequence[pd.DataFrame], raw2010: np.ndarray,
                       outputs: Sequence[str], obs2010: pd.DataFrame, names: Sequence[str], *,
                       ridge_u: float = 0.02, iterations: int = 10, n_candidates: int = 2048,
                       seed: int = 0, emulator: "Emulator | None" = None) -> InitialStates:
    """Choose each cluster's knobs (see the module docstring).

    Parameters
    ----------
    base : DataFrame
        :func:`base_table` (order of the clusters in the runs).
    designs : list of DataFrame
        The set-up tables of the design runs (:func:`design_tables`).
    raw2010 : ndarray, shape (runs, clusters, outputs)
        Raw indices after the burn-in (replicate mean) of each design run.
    outputs : sequence of str
        Names of the last axis of ``raw2010``.
    obs2010 : DataFrame
        Published 2010 scores (index id, columns :data:`INDEX_COLUMNS`).
    names : sequence of str
        Knob names.
    ridge_u : float
        Penalty on the squared distance of the scaled knobs from their defaults.
    iterations : int
        Map / knob alternations (stops early when the loss no longer falls).
    n_candidates : int
        Sobol candidates per cluster in the knob search (then refined locally).
    emulator : Emulator, optional
        Reuse a fitted emulator (``designs`` and ``raw2010`` are then ignored).
    """
    names = tuple(names)
    idx = [k for k in INDEX_COLUMNS if k in outputs]
    if emulator is None:
        opos = {k: i for i, k in enumerate(outputs)}
        R, C = raw2010.shape[0], raw2010.shape[1]
        U = np.concatenate([scale_knobs(d, names) for d in designs])
        F0 = np.concatenate([d["firms0"].to_numpy(float) for d in designs])
        S = np.concatenate([d["sector_family"].to_numpy(object) for d in designs])
        Y = {k: raw2010[:, :, opos[k]].reshape(R * C) for k in idx}
        emulator = Emulator.fit(U, F0, S, Y, names)
        spread = {k: float(np.nanstd(Y[k])) for k in idx}
        centre = {k: float(np.nanmean(Y[k])) for k in idx}
    else:
        spread = {k: emulator.resid_sd[k] / max(np.sqrt(max(1 - emulator.r2[k], 1e-6)), 1e-12) for k in idx}
        centre = {k: 0.0 for k in idx}
    em = emulator
    ids = list(base["id"])
    C = len(ids)
    has = base["has_2010"].to_numpy(bool)
    obs = obs2010.reindex(ids)[idx]
    O = obs.to_numpy(float)                                                # (C, K)
    var = np.nanvar(O[has], axis=0)
    u0 = scale_knobs(pd.DataFrame({k: [_default(k)] for k in names}), names)[0]
    fit_rows = np.flatnonzero(has)
    firms0 = base["firms0"].to_numpy(float)
    sector = base["sector_family"].to_numpy(object)
    off = np.zeros((C, len(idx)))

    rng = np.random.default_rng(seed)
    cand = np.vstack([u0[None, :], sobol_points(n_candidates, len(names), seed + 1)])
    # emulated raw indices of every candidate for every cluster: (C, n_cand, K)
    pred_c = np.empty((C, len(cand), len(idx)))
    for c in range(C):
        p = em.predict(cand, firms0[c], sector[c])
        pred_c[c] = np.column_stack([p[k] for k in idx]) + off[c]
    pen = ridge_u * ((cand - u0) ** 2).sum(1)

    def choose(a, b, prev):
        uu = prev.copy()
        tot = 0.0
        for c in fit_rows:
            ok = np.isfinite(O[c])
            e = ((O[c, ok] - a[ok] - b[ok] * pred_c[c][:, ok]) ** 2 / var[ok]).sum(1) + pen
            j = int(np.argmin(e))
            best_u, best_e = cand[j], e[j]
            # local refinement: Gaussian perturbations of shrinking size around the best candidate
            for sd in (0.08, 0.03, 0.01):
                loc = np.clip(best_u + rng.normal(0, sd, (128, len(names))), 0, 1)
                p = em.predict(loc, firms0[c], sector[c])
                P = np.column_stack([p[k] for k in idx]) + off[c]
                el = ((O[c, ok] - a[ok] - b[ok] * P[:, ok]) ** 2 / var[ok]).sum(1) + ridge_u * ((loc - u0) ** 2).sum(1)
                jl = int(np.argmin(el))
                if el[jl] < best_e:
                    best_u, best_e = loc[jl], el[jl]
            uu[c] = best_u
            tot += best_e
        return uu, tot

    # initial map: the published spread over the emulated spread across the design
    a = np.array([np.nanmean(O[has, j]) - np.nanstd(O[has, j]) / max(spread[k], 1e-12) * centre[k]
                  for j, k in enumerate(idx)])
    b = np.array([np.nanstd(O[has, j]) / max(spread[k], 1e-12) for j, k in enumerate(idx)])
    u = np.tile(u0, (C, 1))
    best_total = np.inf
    for _ in range(iterations):
        u_new, total = choose(a, b, u)
        if total > best_total - 1e-6:
            break
        u, best_total = u_new, total
        pred = em.predict(u, firms0, sector)
        for j, k in enumerate(idx):
            f = fit_affine(pred[k][fit_rows] + off[fit_rows, j], O[fit_rows, j])
            # a flat fit (b = 0) would make every knob irrelevant: keep half the previous slope
            a[j], b[j] = (f.a, f.b) if f.b > 0 else (f.a, 0.5 * b[j])

    # nascent clusters: median knobs of their sector family (else of all fitted clusters)
    med_all = np.median(u[fit_rows], axis=0)
    for c in np.flatnonzero(~has):
        fam = [r for r in fit_rows if sector[r] == sector[c]]
        u[c] = np.median(u[fam], axis=0) if fam else med_all

    vals = unscale_knobs(u, names)
    table = base.copy()
    for j, k in enumerate(names):
        table[k] = np.round(vals[:, j], 6)

    pred = em.predict(u, firms0, sector)
    sim = pd.DataFrame({k: pred[k] + off[:, j] for j, k in enumerate(idx)}, index=pd.Index(ids, name="id"))
    mm = MeasurementMap.fit({2010: sim}, {2010: obs}, [ids[r] for r in fit_rows], idx)
    diag = pd.DataFrame({
        "emulator_r2": [em.r2[k] for k in idx],
        "noise_sd_raw": [em.resid_sd[k] for k in idx],
        "emulated_loss_2010": [mm.fits[2010][k].loss for k in idx],
    }, index=pd.Index(idx, name="index"))
    st = InitialStates(table=table, knobs=names, map2010=mm, emulator_fit=diag)
    st.emulator = em  # type: ignore[attr-defined]
    st.emulated = sim  # type: ignore[attr-defined]
    return st


def _default(name: str) -> float:

    lo, hi = KNOB_BOUNDS[name]
    return float(np.clip(SCHEMA[name].default, lo, hi))

"""The targets of the fit and the estimator's moments: per-index discrepancies of simulated and published values.

Targets (:func:`observed_targets`): the six published indices in 2010 and in 2020, the two
2020 indices published in raw units (inclusiveness and intra-cluster links per establishment,
table 3-2) and the 2020 firm count in simulated units (the size moment, :data:`SIZE`).
The discrepancy of a published index is ``1 - max(0, corr)^2`` between the simulated ensemble
means and the published values over the fitted clusters (weighted by cluster multiplicity in
the cluster bootstrap); that of a raw-unit index is ``e / (1 + e)`` with ``e`` the normalised
mean squared error in raw units (:func:`calibration.measurement.raw_fit`: no map, levels
count); that of the size moment is the mean squared log ratio, capped at 1.
:func:`loss_matrix` gives one row of discrepancies per evaluated point.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from calibration.config import Config
from calibration.measurement import RAW_TARGETS, raw_loss
from sim.data.observed import INDEX_COLUMNS
from sim.model.params import ParameterError

__all__ = ["TARGETS_2010", "TARGETS_2020", "SIZE", "observed_targets", "size_loss", "resolve_fit_clusters",
           "loss_matrix"]

TARGETS_2010: tuple[str, ...] = tuple(INDEX_COLUMNS)
TARGETS_2020: tuple[str, ...] = tuple(INDEX_COLUMNS) + RAW_TARGETS
#: Name of the size moment: the simulated 2020 firm count against the observed one (table 3-3).
SIZE = "firms"


def observed_targets(data, cfg: Config | None = None) -> dict[int, pd.DataFrame]:
    """Targets by year: 2010 (six published indices) and 2020 (six indices, inclusiveness, links per
    establishment = table 3-2 links / table 3-3 establishments and, with ``cfg``, the 2020 firm
    count in simulated units, ``SIZE`` column: max(min_firms, firms x scale))."""
    o10 = data.indices_for_year(2010)[list(TARGETS_2010)]
    o20 = data.indices_for_year(2020)[list(INDEX_COLUMNS)].copy()
    raw = data.indices.loc[data.indices["year"] == 2020, ["id", "inclusiveness", "links"]].set_index("id")
    o20["inclusiveness"] = raw["inclusiveness"].reindex(o20.index).astype(float)
    firms = data.economics.set_index("id")["firms"].reindex(o20.index).astype(float)
    o20["links_per_firm"] = raw["links"].reindex(o20.index).astype(float) / firms
    if cfg is not None:
        o20[SIZE] = np.maximum(cfg.min_firms, np.round(firms * cfg.scale))
    return {2010: o10, 2020: o20}


def size_loss(M: np.ndarray, target: np.ndarray, w: np.ndarray) -> np.ndarray:
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
            out.append(raw_loss(M, o, w) if k in RAW_TARGETS else _weighted_loss(M, o, w))
            moments.append((y, k))
    if SIZE in obs[2020].columns:
        M = means[:, 1, cols, opos[SIZE]]
        out.append(size_loss(M, obs[2020][SIZE].reindex(fit_ids).to_numpy(float), w))
        moments.append((2020, SIZE))
    return np.column_stack(out), moments

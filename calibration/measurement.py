r"""Measurement model: how simulated raw indices are compared with the published scores.

The published values of tables 3-6 to 3-8 (report 004) are not raw indices: they are scores
standardised against a reference set the report does not give (see the data README). Each
published index ``k`` in year ``y`` is therefore modelled as an unknown increasing affine
function of the raw index the model computes (:mod:`sim.indices`)::

    published[k, c, y] = a[k, y] + b[k, y] * raw[k, c, y] + error,     b[k, y] >= 0

one map per index and year (the report may have standardised each year against its own
reference set: the per-year means and SDs of the published columns differ, and nothing says
they share a reference). ``a`` and ``b`` are nuisance parameters, fitted by sign-constrained
least squares jointly with the model parameters: for every candidate parameter vector the map
is refitted (closed form), so the discrepancy of index ``k`` is the share of the published
cross-cluster variance the best increasing affine map of the simulated means leaves
unexplained::

    L[k, y] = min_{a, b >= 0} sum_c (o_c - a - b m_c)^2 / sum_c (o_c - mean(o))^2
            = 1 - max(0, corr(m, o))^2                                  (in [0, 1])

Properties (tested in ``tests/test_calibration.py``):

* ``L`` is **invariant to any increasing affine change of the published scale** (and of the
  raw scale), so the unknown standardisation cannot influence the estimate;
* the fitted map **recovers a known affine map** from synthetic data (exactly without noise);
* ``b >= 0`` keeps the meaning of every index (higher published score = higher raw index);
  a simulation that orders the clusters the wrong way gets ``b = 0`` and ``L = 1``.

Predictions are made *in the published scale* through the map fitted on the training
clusters only (``apply``). Rank agreement (Spearman) is reported next to the RMSE as a
scale-free check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.data.observed import INDEX_COLUMNS

__all__ = [
    "TARGETS",
    "AffineFit",
    "fit_affine",
    "affine_loss",
    "RAW_TARGETS",
    "raw_fit",
    "raw_loss",
    "MeasurementMap",
    "spearman",
    "rmse",
]

#: Indices compared with the published data: the six scores and (2020 only) inclusiveness.
TARGETS: tuple[str, ...] = tuple(INDEX_COLUMNS)

#: Targets published in raw units (table 3-2, 2020 only): compared with the simulated values
#: directly, through the identity map (no nuisance parameters), with :func:`raw_loss`.
RAW_TARGETS: tuple[str, ...] = ("inclusiveness", "links_per_firm")


@dataclass(frozen=True)
class AffineFit:
    """``published = a + b * raw`` for one index and year, with its fit on the training clusters."""

    a: float
    b: float
    loss: float      # 1 - R^2 of the sign-constrained fit, in [0, 1] (nan if n < 3)
    n: int           # clusters used

    def apply(self, raw):
        return self.a + self.b * np.asarray(raw, dtype=float)

    def to_dict(self) -> dict:
        return {"a": float(self.a), "b": float(self.b), "loss": float(self.loss), "n": int(self.n)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "AffineFit":
        return cls(float(d["a"]), float(d["b"]), float(d.get("loss", np.nan)), int(d.get("n", 0)))


def _usable_pairs(sim, obs, weights=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The finite (simulated, observed, weight > 0) triples of one index over the clusters."""
    x = np.asarray(sim, dtype=float).ravel()
    y = np.asarray(obs, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"sim and obs have different lengths ({x.size} vs {y.size})")
    w = np.ones_like(x) if weights is None else np.asarray(weights, dtype=float).ravel()
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(w) & (w > 0)
    return x[ok], y[ok], w[ok]


def fit_affine(sim, obs, weights=None) -> AffineFit:
    """Sign-constrained (b >= 0) least-squares fit of ``obs = a + b * sim`` over finite pairs.

    Parameters
    ----------
    sim, obs : array-like
        Simulated raw values (e.g. ensemble means) and published scores, one per cluster.
    weights : array-like, optional
        Non-negative weights per cluster (default equal).

    Returns
    -------
    AffineFit
        ``loss`` is the weighted residual sum of squares over the weighted total sum of
        squares of ``obs`` (``1 - R^2``; 1 when the best increasing map is flat). With fewer
        than 3 usable clusters or a constant ``obs`` the loss is NaN.
    """
    x, y, w = _usable_pairs(sim, obs, weights)
    n = len(x)
    if n == 0:
        return AffineFit(np.nan, np.nan, np.nan, 0)
    sw = w.sum()
    my = (w * y).sum() / sw
    syy = (w * (y - my) ** 2).sum()
    mx = (w * x).sum() / sw
    sxx = (w * (x - mx) ** 2).sum()
    sxy = (w * (x - mx) * (y - my)).sum()
    if sxx > 1e-300 * max(1.0, abs(mx)) and sxy > 0:
        b = sxy / sxx
    else:
        b = 0.0
    a = my - b * mx
    if n < 3 or syy <= 0:
        return AffineFit(float(a), float(b), np.nan, n)
    rss = (w * (y - a - b * x) ** 2).sum()
    return AffineFit(float(a), float(b), float(min(1.0, max(0.0, rss / syy))), n)


def raw_fit(sim, obs, weights=None) -> AffineFit:
    r"""The identity map ``published = raw`` with the raw-unit discrepancy of ``sim`` and ``obs``.

    For an index published in raw units the simulated values are compared with the observed
    ones directly.  With the weighted normalised mean squared error

    .. math:: e = \sum_c w_c (m_c - o_c)^2 \Big/ \sum_c w_c (o_c - \bar o)^2

    the discrepancy is :math:`L = e / (1 + e)` in [0, 1): 0 for a perfect fit, 1/2 for a
    forecast as good as the observed mean, approaching 1 as the level error grows (bounded
    like the affine discrepancies, with a slope everywhere for the estimator's surrogate).
    Unlike the affine discrepancy it penalises a wrong level, not only a wrong order.
    NaN with fewer than 3 usable clusters or a constant ``obs``.
    """
    x, y, w = _usable_pairs(sim, obs, weights)
    n = len(x)
    if n < 3:
        return AffineFit(0.0, 1.0, np.nan, n)
    my = (w * y).sum() / w.sum()
    syy = (w * (y - my) ** 2).sum()
    if syy <= 0:
        return AffineFit(0.0, 1.0, np.nan, n)
    e = (w * (x - y) ** 2).sum() / syy
    return AffineFit(0.0, 1.0, float(e / (1.0 + e)), n)


def raw_loss(M: np.ndarray, o: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:func:`raw_fit`'s discrepancy for each row of ``M`` (points x clusters); 1 where undefined."""
    M = np.atleast_2d(np.asarray(M, dtype=float))
    o = np.asarray(o, dtype=float)
    w = np.asarray(w, dtype=float)
    ok = np.isfinite(o) & (w > 0)
    M, o, w = M[:, ok], o[ok], w[ok]
    good = np.isfinite(M)
    W = np.where(good, w[None, :], 0.0)
    my = (W * o[None, :]).sum(1) / np.where(W.sum(1) > 0, W.sum(1), np.nan)
    syy = (W * (o[None, :] - my[:, None]) ** 2).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        e = (W * np.where(good, M - o[None, :], 0.0) ** 2).sum(1) / syy
        L = e / (1.0 + e)
    return np.where((good.sum(1) >= 3) & (syy > 0) & np.isfinite(L), L, 1.0)


def affine_loss(sim, obs, weights=None) -> float:
    """The discrepancy ``1 - max(0, corr)^2`` of :func:`fit_affine` (see the module docstring)."""
    return fit_affine(sim, obs, weights).loss


@dataclass
class MeasurementMap:
    """Per-index, per-year affine maps from raw simulated indices to the published scale.

    Attributes
    ----------
    fits : dict
        ``{year: {index: AffineFit}}``.
    fitted_on : list of str
        Cluster ids whose published values were used.
    """

    fits: dict[int, dict[str, AffineFit]] = field(default_factory=dict)
    fitted_on: list[str] = field(default_factory=list)

    @classmethod
    def fit(cls, sim: Mapping[int, pd.DataFrame], obs: Mapping[int, pd.DataFrame],
            clusters: Sequence[str], indices: Iterable[str] = TARGETS) -> "MeasurementMap":
        """Fit every map on ``clusters``.

        Parameters
        ----------
        sim, obs : mapping year -> DataFrame
            Index = cluster id, columns = index names; ``sim`` holds simulated (ensemble
            mean) raw values, ``obs`` the published scores.
        clusters : sequence of str
            Clusters used for the fit (e.g. the training fold).
        """
        clusters = list(clusters)
        fits: dict[int, dict[str, AffineFit]] = {}
        for year in sorted(set(sim) & set(obs)):
            s, o = sim[year], obs[year]
            fits[year] = {}
            for k in indices:
                if k not in s.columns or k not in o.columns:
                    continue
                fit = raw_fit if k in RAW_TARGETS else fit_affine
                fits[year][k] = fit(s[k].reindex(clusters).to_numpy(float), o[k].reindex(clusters).to_numpy(float))
        return cls(fits=fits, fitted_on=clusters)

    def losses(self) -> dict[int, dict[str, float]]:
        return {y: {k: f.loss for k, f in d.items()} for y, d in self.fits.items()}

    def total_loss(self, weights: Mapping[int, float] | None = None) -> float:
        """Weighted sum over years and indices of the per-index losses (NaN losses skipped)."""
        tot = 0.0
        for y, d in self.fits.items():
            wy = 1.0 if weights is None else float(weights.get(y, 1.0))
            tot += wy * sum(f.loss for f in d.values() if np.isfinite(f.loss))
        return float(tot)

    def nearest_year(self, year: float) -> int:
        years = sorted(self.fits)
        if not years:
            raise ValueError("the measurement map is empty")
        return min(years, key=lambda y: (abs(y - year), -y))

    def apply(self, raw: pd.DataFrame, year: float) -> pd.DataFrame:
        """Raw indices (columns) -> published scale with the map of ``year`` (or the nearest fitted year)."""
        y = self.nearest_year(year)
        out = pd.DataFrame(index=raw.index)
        for k, f in self.fits[y].items():
            if k in raw.columns:
                out[k] = f.apply(raw[k].to_numpy(float))
        return out

    def to_dict(self) -> dict:
        return {"model": "published[k, y] = a + b * raw[k, y], b >= 0 (sign-constrained least squares); "
                         "identity (a = 0, b = 1) for the raw-unit targets " + ", ".join(RAW_TARGETS),
                "fitted_on": list(self.fitted_on),
                "years": {str(y): {k: f.to_dict() for k, f in d.items()} for y, d in self.fits.items()}}

    @classmethod
    def from_dict(cls, d: Mapping) -> "MeasurementMap":
        fits = {int(y): {k: AffineFit.from_dict(v) for k, v in dd.items()} for y, dd in d["years"].items()}
        return cls(fits=fits, fitted_on=list(d.get("fitted_on", [])))


def spearman(x, y) -> float:
    """Spearman rank correlation over finite pairs (NaN with fewer than 3 pairs)."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3:
        return np.nan
    rx = pd.Series(x[ok]).rank().to_numpy()
    ry = pd.Series(y[ok]).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return np.nan
    return float(np.corrcoef(rx, ry)[0, 1])


def rmse(pred, obs) -> float:
    """Root mean squared error over finite pairs."""
    p = np.asarray(pred, dtype=float)
    o = np.asarray(obs, dtype=float)
    ok = np.isfinite(p) & np.isfinite(o)
    return float(np.sqrt(np.mean((p[ok] - o[ok]) ** 2))) if ok.any() else np.nan

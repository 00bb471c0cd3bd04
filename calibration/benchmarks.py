r"""Statistical benchmarks for the out-of-sample forecasts of ``clustersim validate`` (no model runs).

Plain data in and out: published-scale values as pandas frames (clusters by index) and the long
prediction table of :func:`calibration.validate.cross_validate` (``id, fold, index, forecast,
value, observed_2010, observed_2020, model_2010``).

Baselines, each fitted on a fold's training clusters only (:func:`baseline_forecasts`), for
index ``k`` and held-out cluster ``c``::

    persistence         y20[c] = y10[c]
    training_mean       y20[c] = mean_{t in train} y20[t]
    family_mean         y20[c] = mean_{t in train, family(t) = family(c)} y20[t]   (training mean if none)
    linear_persistence  y20[c] = a + b y10[c]                     (OLS on the training clusters)
    size_regression     y20[c] = a + b y10[c] + g log(firms20[c]) (OLS on the training clusters)

The size-augmented regression uses a 2020 covariate, the cluster's 2020 firm count (the model's
2010 -> 2020 runs are given it too).

Comparison, per index, pooled over folds on the clusters where every forecast is defined
(:func:`benchmark_table`): RMSE and Spearman rank correlation of every forecast, the best
baseline ``B*`` (lowest RMSE among the statistical baselines), the model's skill score::

    skill = 1 - MSE(model) / MSE(B*)

(> 0: the model beats the best baseline; 0: as good; < 0: worse) and the paired cluster-bootstrap
percentile interval of ``RMSE(model) - RMSE(B*)`` (:func:`paired_bootstrap`). Choosing ``B*`` on
the same clusters the comparison is made on favours the baseline slightly: the comparison is
conservative for the model.

Changes, not only levels (:func:`change_correlation`): the published scores of 2010 and 2020 are
standardised against different, unknown reference sets, so a 2010 -> 2020 change is only
meaningful *within year*: every year's values are z-scored among the held-out clusters, and the
change of a cluster is ``z2020 - z2010``. ``rho_change`` is the Spearman correlation of the
model's changes with the observed ones; it is invariant to any increasing affine change of either
year's scale.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from calibration.measurement import rmse, spearman

__all__ = [
    "BASELINES",
    "LABELS",
    "ols",
    "baseline_forecasts",
    "within_year_z",
    "change_correlation",
    "paired_bootstrap",
    "skill_score",
    "benchmark_table",
]

#: The statistical baselines, in the order they are reported.
BASELINES: tuple[str, ...] = ("persistence", "training_mean", "family_mean", "linear_persistence",
                              "size_regression")

#: How each forecast is named in the reports.
LABELS: dict[str, str] = {
    "model": "calibrated model",
    "persistence": "persistence (2020 = 2010)",
    "training_mean": "training mean",
    "family_mean": "family mean",
    "linear_persistence": "linear persistence (OLS on 2010)",
    "size_regression": "size-augmented regression (uses the 2020 firm count)",
}


def ols(X, y) -> np.ndarray:
    r"""Least-squares coefficients of ``y = X beta`` over the rows where ``X`` and ``y`` are finite.

    Parameters
    ----------
    X : array (n, p)
        Regressors (include a column of ones for an intercept).
    y : array (n,)
        Response.

    Returns
    -------
    beta : array (p,)
        ``argmin_beta sum_i (y_i - X_i beta)^2``; all NaN when fewer than ``p + 1`` finite rows
        remain (at least one residual degree of freedom).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    ok = np.isfinite(X).all(axis=1) & np.isfinite(y)
    if ok.sum() < X.shape[1] + 1:
        return np.full(X.shape[1], np.nan)
    return np.linalg.lstsq(X[ok], y[ok], rcond=None)[0]


def _design(x10: pd.Series, log_size: pd.Series | None, with_2010: bool = True) -> np.ndarray:
    """Columns ``[1, y10]`` or ``[1, y10, log firms20]`` of the regressions (``[1, log firms20]``
    without ``with_2010``: for an index not published in 2010)."""
    cols = [np.ones(len(x10))] + ([x10.to_numpy(float)] if with_2010 else [])
    if log_size is not None:
        cols.append(log_size.reindex(x10.index).to_numpy(float))
    return np.column_stack(cols)


def baseline_forecasts(o10: pd.DataFrame, o20: pd.DataFrame, family: pd.Series, train: Sequence[str],
                       test: Sequence[str], log_size: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    r"""The statistical baselines' forecasts of the ``test`` clusters' 2020 values (module docstring).

    Parameters
    ----------
    o10, o20 : DataFrame
        Published values in 2010 and 2020, indexed by cluster id, one column per index.
    family : Series
        Sector family by cluster id.
    train, test : sequence of str
        Training clusters (the only ones whose 2020 values are used) and clusters forecast.
    log_size : Series, optional
        ``log(firms_2020)`` by cluster id. Without it the ``size_regression`` forecast is NaN.

    Returns
    -------
    dict
        Forecast name (:data:`BASELINES`) -> DataFrame indexed by the ``test`` ids, columns of ``o20``.
        Regressions need at least one residual degree of freedom on the training clusters
        (``n >= 3`` for linear persistence, ``n >= 4`` for the size regression), NaN otherwise.
    """
    cols = list(o20.columns)
    test = pd.Index(list(test), name="id")
    tr20 = o20.reindex(list(train))
    x10 = o10.reindex(columns=cols)
    pers = x10.reindex(test)
    mean = pd.DataFrame(np.tile(tr20.mean().to_numpy(float), (len(test), 1)), index=test, columns=cols)
    fam_tr = family.reindex(tr20.index)
    fam_te = family.reindex(test)
    by_family = tr20.groupby(fam_tr).mean().reindex(fam_te.to_numpy()).to_numpy(float)
    has = fam_te.isin(fam_tr.dropna()).to_numpy()
    fam = pd.DataFrame(np.where(has[:, None], by_family, mean.to_numpy()), index=test, columns=cols)
    lin = pd.DataFrame(np.nan, index=test, columns=cols)
    size = lin.copy()
    for k in cols:
        xk_tr, xk_te = x10[k].reindex(tr20.index), x10[k].reindex(test)
        lin[k] = _design(xk_te, None) @ ols(_design(xk_tr, None), tr20[k])
        if log_size is not None:
            w = not x10[k].isna().all()  # an index published in 2020 only: log size alone
            size[k] = _design(xk_te, log_size, w) @ ols(_design(xk_tr, log_size, w), tr20[k])
    return {"persistence": pers, "training_mean": mean, "family_mean": fam, "linear_persistence": lin,
            "size_regression": size}


def within_year_z(values) -> pd.Series | pd.DataFrame:
    r"""Within-year z-scores, column by column over the finite values: ``z = (x - mean(x)) / sd(x)``.

    ``sd`` is the population standard deviation (``ddof=0``). A z-score is invariant to any
    increasing affine change ``x -> a + b x`` (``b > 0``) of the scale.
    """
    x = values.astype(float)
    return (x - x.mean()) / x.std(ddof=0)


def change_correlation(model_2010, model_2020, obs_2010, obs_2020) -> float:
    r"""Spearman correlation of simulated and observed 2010 -> 2020 changes within year.

    On the clusters where the four values are finite, each is z-scored within its year and
    source (:func:`within_year_z`) and::

        d_model = z(model_2020) - z(model_2010),   d_obs = z(obs_2020) - z(obs_2010)
        rho_change = spearman(d_model, d_obs)

    Invariant to any increasing affine change of either year's scale (published or simulated).
    NaN with fewer than 3 clusters.
    """
    df = pd.DataFrame({"m10": np.asarray(model_2010, float), "m20": np.asarray(model_2020, float),
                       "o10": np.asarray(obs_2010, float), "o20": np.asarray(obs_2020, float)})
    z = within_year_z(df[np.isfinite(df).all(axis=1)])
    return spearman(z["m20"] - z["m10"], z["o20"] - z["o10"])


def paired_bootstrap(model, base, obs, B: int = 2000, seed: int = 1, level: float = 0.90) -> tuple[float, float]:
    r"""Paired cluster-bootstrap percentile interval of ``RMSE(model) - RMSE(base)``.

    Clusters are resampled with replacement, ``n`` out of ``n``, ``B`` times; the same resample
    ``I_b`` serves both forecasts (a paired comparison)::

        D_b = sqrt(mean_{i in I_b} (model_i - obs_i)^2) - sqrt(mean_{i in I_b} (base_i - obs_i)^2)

    and the interval is the ``(1 - level)/2`` and ``(1 + level)/2`` quantiles of ``D_1..D_B``.
    An interval below 0 says the model is reliably more accurate than the baseline.

    Parameters
    ----------
    model, base, obs : array (n,)
        Forecasts and observed values on the same clusters (pairs with a non-finite value dropped).
    B : int
        Bootstrap replicates.
    seed : int
        Seed of the :class:`numpy.random.Generator`.
    level : float
        Coverage of the interval.

    Returns
    -------
    (lo, hi) : tuple of float
        NaN with fewer than 2 clusters.
    """
    m, b, o = (np.asarray(v, dtype=float) for v in (model, base, obs))
    ok = np.isfinite(m) & np.isfinite(b) & np.isfinite(o)
    if ok.sum() < 2:
        return np.nan, np.nan
    em2, eb2 = (m[ok] - o[ok]) ** 2, (b[ok] - o[ok]) ** 2
    idx = np.random.default_rng(seed).integers(0, ok.sum(), size=(B, ok.sum()))
    d = np.sqrt(em2[idx].mean(axis=1)) - np.sqrt(eb2[idx].mean(axis=1))
    lo, hi = np.quantile(d, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def skill_score(model, base, obs) -> float:
    r"""Skill score of ``model`` against ``base``: ``1 - MSE(model) / MSE(base)`` over finite triples.

    1 is a perfect forecast, 0 as good as the baseline, negative worse. NaN when the baseline is
    itself perfect.
    """
    m, b, o = (np.asarray(v, dtype=float) for v in (model, base, obs))
    ok = np.isfinite(m) & np.isfinite(b) & np.isfinite(o)
    mse_b = np.mean((b[ok] - o[ok]) ** 2) if ok.any() else np.nan
    return float(1 - np.mean((m[ok] - o[ok]) ** 2) / mse_b) if mse_b > 0 else np.nan


def benchmark_table(pred: pd.DataFrame, obs20: pd.DataFrame | None = None, baselines: Sequence[str] = BASELINES,
                    B: int = 2000, seed: int = 1, level: float = 0.90) -> pd.DataFrame:
    r"""Per index: every forecast's accuracy, the best baseline, the model's skill and its interval.

    Parameters
    ----------
    pred : DataFrame
        Long prediction table: ``id, index, forecast, value, observed_2020`` and, for
        ``rho_change``, ``observed_2010, model_2010`` (a ``fold`` column is ignored: the
        forecasts are pooled over folds).
    obs20 : DataFrame, optional
        Published 2020 values by cluster id; default the ``observed_2020`` column of ``pred``.
    baselines : sequence of str
        The statistical baselines the best one is chosen from (those present in ``pred``).
    B, seed, level
        Of the bootstrap (:func:`paired_bootstrap`; the same seed for every index).

    Returns
    -------
    DataFrame
        One row per index: ``index, n``; ``rmse_<f>`` and ``rho_<f>`` for every forecast ``f``
        of ``pred`` (the model first, then :data:`BASELINES` order) on the ``n`` clusters where
        the published 2020 value and every forecast are defined (a forecast undefined on every
        cluster is left out of that requirement and reported as NaN); ``best_baseline`` (lowest
        RMSE among ``baselines``), ``rmse_best``, ``skill = 1 - MSE(model)/MSE(best)``,
        ``diff_rmse = RMSE(model) - RMSE(best)`` with its interval ``diff_lo, diff_hi``;
        ``n_change`` and ``rho_change`` (:func:`change_correlation` of the model on those
        clusters); ``mae_model``, the model's mean absolute error (for the raw-unit targets). Choosing the best baseline on the clusters it is compared on is slightly
        optimistic for the baseline, i.e. conservative for the model.
    """
    wide = pred.drop_duplicates(["index", "id", "forecast"]).set_index(["index", "id", "forecast"])["value"]
    wide = wide.unstack("forecast")
    known = ["model", *BASELINES]
    forecasts = [f for f in known if f in wide.columns] + sorted(set(wide.columns) - set(known))
    extra = pred.drop_duplicates(["index", "id"]).set_index(["index", "id"])
    rows = []
    for k in dict.fromkeys(pred["index"]):
        g = wide.loc[k, forecasts]
        o = (obs20[k].reindex(g.index) if obs20 is not None else extra.loc[k, "observed_2020"].reindex(g.index))
        defined = [f for f in forecasts if g[f].notna().any()]
        ok = o.notna() & g[defined].notna().all(axis=1)
        g, o = g[ok], o[ok].to_numpy(float)
        r = {"index": k, "n": int(ok.sum())}
        for f in forecasts:
            r[f"rmse_{f}"] = rmse(g[f], o) if f in defined else np.nan
            r[f"rho_{f}"] = spearman(g[f], o) if f in defined else np.nan
        r["mae_model"] = float(np.mean(np.abs(g["model"].to_numpy(float) - o))) if "model" in defined and len(o) else np.nan
        cand = {f: r[f"rmse_{f}"] for f in baselines if f in defined and np.isfinite(r[f"rmse_{f}"])}
        best = min(cand, key=cand.get) if cand and "model" in defined else None
        lo, hi = paired_bootstrap(g["model"], g[best], o, B, seed, level) if best else (np.nan, np.nan)
        r.update(best_baseline=best, rmse_best=cand.get(best, np.nan),
                 skill=skill_score(g["model"], g[best], o) if best else np.nan,
                 diff_rmse=r["rmse_model"] - cand[best] if best else np.nan, diff_lo=lo, diff_hi=hi)
        if "model" in defined and {"observed_2010", "model_2010"} <= set(extra.columns):
            e = extra.loc[k].reindex(g.index)
            r["n_change"] = int(np.isfinite(e[["model_2010", "observed_2010"]].to_numpy(float)).all(axis=1).sum())
            r["rho_change"] = change_correlation(e["model_2010"], g["model"], e["observed_2010"], o)
        rows.append(r)
    return pd.DataFrame(rows)

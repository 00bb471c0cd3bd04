r"""The 2020 cluster typology of the report (table 3-11) from two factor scores.

The report ([KRIHS-2020], end of chapter 3) classifies its clusters as
``path_locked`` (경로 고착된), ``resilient`` (회복력을 가진), ``centrifugal_dominant``
(원심력이 지배적인) or ``other`` (기타) from a *centripetal* score (구심력: specialization,
hierarchy, internal cohesion) and a *centrifugal* score (원심력: related variety,
heterophily, external linkage), each obtained by "principal component / factor analysis" of
its three indices. Neither the scores nor the classification rule are printed. This module
rebuilds both as pure functions of an indices frame (numpy and pandas only): the factor
scores, the classifier and its plain-dict form (:func:`load_classifier`). Fitting the shipped
classifier and measuring how well the rebuilt rules reproduce the published labels is
research code, in :mod:`calibration.typology` and ``scripts/fit_typology.py``; the measured
accuracy is in docs/calibration.md §Typology.

Factor scores
-------------
For each family :math:`F` of three indices, fitted on a reference sample (by default the
clusters the classifier is fitted on):

1. Standardise with the reference mean and sample SD,
   :math:`z_{ij} = (x_{ij} - \mu_j)/\sigma_j`.
2. :math:`R` = correlation matrix of the :math:`z` (pairwise-complete observations).
3. One-factor extraction (``method``):

   * ``"pca"`` (default): leading eigenpair :math:`R v = \lambda_1 v`, loadings
     :math:`\ell = \sqrt{\lambda_1}\, v` (Jolliffe 2002, ch. 2; Jolliffe & Cadima 2016).
   * ``"paf"``: principal-axis factoring (Harman 1976, ch. 8): start from squared multiple
     correlations :math:`h_j = 1 - 1/(R^{-1})_{jj}`, iterate
     :math:`R_h = R - \mathrm{diag}(1-h)`, :math:`\ell = \sqrt{\lambda_1(R_h)}\, v_1(R_h)`,
     :math:`h = \ell^2` (capped at 0.999, a Heywood case) until
     :math:`\max|\Delta h| < 10^{-9}`.

4. Orientation (``orientation``), since an eigenvector's sign is arbitrary:

   * ``"majority"`` (default): flip so that :math:`\sum_j \ell_j > 0`, i.e. a higher score
     means that most of the family's indices are higher ("more centripetal" /
     "more centrifugal"). With all three loadings of one sign, as for the centripetal family,
     this is the same as "positively correlated with specialization".
   * ``"anchor"``: flip so that the loading of the anchor index is positive
     (``specialization`` for the centripetal, ``related_variety`` for the centrifugal family).

5. Scores by the regression (Thurstone) method, :math:`w = R^{-1}\ell`, then re-centred and
   scaled to mean 0 and SD 1 over the reference:
   :math:`f_i = (z_i^\top w - m)/s`. For PCA :math:`w = v/\sqrt{\lambda_1}` (DiStefano,
   Zhu & Mîndrilă 2009). A score of 0 is therefore the reference average.

Why PCA. With three indicators a one-factor common-factor model is just-identified (three
loadings + three uniquenesses for three correlations), so principal-axis factoring reproduces
the correlations exactly, has no test of fit, and in a sample of 30 easily produces Heywood
cases (a communality at 1) and unstable loadings. The first principal component of the
correlation matrix is closed-form, always defined and deterministic, and principal-component
extraction is the default of the SPSS "factor analysis" routine behind most reports of this
kind; for a composite score (not a latent-variable model) it is the usual choice (Fabrigar
et al. 1999 discuss the distinction). ``"paf"`` is kept as a sensitivity check.

Missing values. One published 2020 value is missing (heterophily of ``jeonbuk_food``). A
missing standardised index is imputed by its conditional mean given the family's observed
indices under the reference correlations (regression imputation; Buck 1960; Little & Rubin
2019, sec. 4.2), :math:`\hat z_M = R_{MO} R_{OO}^{-1} z_O`; with uncorrelated indices this is
the reference mean. A row with all three indices of a family missing gets a NaN score.

Classification rules (``rule``)
-------------------------------
With :math:`c` = centripetal and :math:`f` = centrifugal score:

* ``"sign_quadrant"``: :math:`c > 0, f > 0` → resilient; :math:`c > 0, f \le 0` →
  path_locked; :math:`c \le 0, f > 0` → centrifugal_dominant; both :math:`\le 0` → other.
  No parameter is fitted besides the factor model ("high" = above the reference average).
* ``"fitted_quadrant"``: the same quadrants with thresholds :math:`(t_c, t_f)` chosen on a
  grid of midpoints between consecutive observed scores to maximise the in-sample accuracy;
  ties go to the pair with the smallest :math:`|t_c| + |t_f|` (closest to the sign rule).
* ``"nearest_centroid"``: the class whose mean score vector is nearest (Euclidean) in the
  (c, f) plane (Tibshirani et al. 2002 without shrinkage; Hastie et al. 2009, sec. 12.7).

References
----------
Buck, S. F. (1960). A method of estimation of missing values in multivariate data suitable
for use with an electronic computer. *JRSS B* 22(2), 302-306.
DiStefano, C., Zhu, M. & Mîndrilă, D. (2009). Understanding and using factor scores.
*Practical Assessment, Research & Evaluation* 14(20).
Fabrigar, L. R., Wegener, D. T., MacCallum, R. C. & Strahan, E. J. (1999). Evaluating the
use of exploratory factor analysis in psychological research. *Psychological Methods* 4(3),
272-299.
Harman, H. H. (1976). *Modern Factor Analysis*, 3rd ed. University of Chicago Press.
Hastie, T., Tibshirani, R. & Friedman, J. (2009). *The Elements of Statistical Learning*,
2nd ed. Springer.
Jolliffe, I. T. (2002). *Principal Component Analysis*, 2nd ed. Springer.
Jolliffe, I. T. & Cadima, J. (2016). Principal component analysis: a review and recent
developments. *Phil. Trans. R. Soc. A* 374, 20150202.
Little, R. J. A. & Rubin, D. B. (2019). *Statistical Analysis with Missing Data*, 3rd ed.
Wiley.
Thurstone, L. L. (1935). *The Vectors of Mind*. University of Chicago Press.
Tibshirani, R., Hastie, T., Narasimhan, B. & Chu, G. (2002). Diagnosis of multiple cancer
types by shrunken centroids of gene expression. *PNAS* 99(10), 6567-6572.
[KRIHS-2020] Cho, S., Jang, Y., Jang, E. & Kim, S. (2020). 지역산업 클러스터의 경쟁력 진단과
발전방안 연구 (regional industrial clusters: diagnosis and development). KRIHS. Tables 3-6 to
3-8 and 3-11 (docs/sources.md).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from importlib import resources
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from sim.core.io import MB, read_small_json
from sim.data.observed import CENTRIFUGAL, CENTRIPETAL, TYPOLOGIES

__all__ = [
    "FAMILIES",
    "ANCHORS",
    "METHODS",
    "ORIENTATIONS",
    "RULES",
    "RULE_PARAMS",
    "FORMAT",
    "FamilyFactor",
    "FactorModel",
    "one_factor",
    "fit_family",
    "fit_factor_model",
    "factor_scores",
    "TypologyClassifier",
    "load_classifier",
]

#: The two families of indices, in the order of the score columns.
FAMILIES: dict[str, tuple[str, ...]] = {"centripetal": CENTRIPETAL, "centrifugal": CENTRIFUGAL}
#: Index whose loading is made positive under ``orientation="anchor"``.
ANCHORS: dict[str, str] = {"centripetal": "specialization", "centrifugal": "related_variety"}
METHODS = ("pca", "paf")
ORIENTATIONS = ("majority", "anchor")
#: Classification rules, simplest first (number of fitted rule parameters 0, 2, 8).
RULES = ("sign_quadrant", "fitted_quadrant", "nearest_centroid")
#: Number of fitted parameters of each rule (the tie-break of the rule selection).
RULE_PARAMS: dict[str, int] = {"sign_quadrant": 0, "fitted_quadrant": 2, "nearest_centroid": 8}
#: Format tag of :meth:`TypologyClassifier.to_dict`.
FORMAT = "clustersim.typology/1"
#: The shipped classifier fitted on the published 2020 typology (written by ``scripts/fit_typology.py``).
FIT_FILE = "typology_fit.json"


# --------------------------------------------------------------------------------------
# One-factor extraction
# --------------------------------------------------------------------------------------


def one_factor(
    corr: np.ndarray, method: str = "pca", *, max_iter: int = 1000, tol: float = 1e-9
) -> tuple[np.ndarray, float, bool]:
    r"""Loadings of a single factor extracted from a correlation matrix (sign not fixed).

    Parameters
    ----------
    corr : ndarray, shape (p, p)
        Correlation matrix (symmetric, unit diagonal).
    method : {"pca", "paf"}
        ``"pca"``: first principal component, :math:`\ell = \sqrt{\lambda_1} v_1` with
        :math:`R v_1 = \lambda_1 v_1` (Jolliffe 2002). ``"paf"``: iterated principal-axis
        factoring (Harman 1976): :math:`\ell = \sqrt{\lambda_1(R_h)} v_1(R_h)` with
        :math:`R_h = R - \mathrm{diag}(1-h)` and communalities :math:`h = \ell^2`, started
        from the squared multiple correlations.
    max_iter, tol : int, float
        Iteration limit and convergence tolerance of ``"paf"`` (max change of h).

    Returns
    -------
    loadings : ndarray, shape (p,)
        Correlations of the indicators with the factor (sign arbitrary; see
        :func:`fit_family` for the orientation).
    eigenvalue : float
        :math:`\lambda_1` of :math:`R` (``"pca"``; explained share :math:`\lambda_1/p`) or
        of the reduced matrix :math:`R_h` (``"paf"``; the common variance explained).
    heywood : bool
        True if a ``"paf"`` communality hit the 0.999 cap (a Heywood case).
    """
    R = np.asarray(corr, dtype=float)
    if R.ndim != 2 or R.shape[0] != R.shape[1]:
        raise ValueError("corr must be a square matrix")
    if not np.all(np.isfinite(R)):
        raise ValueError("corr has non-finite entries")
    if method == "pca":
        w, v = np.linalg.eigh(R)
        return v[:, -1] * np.sqrt(max(w[-1], 0.0)), float(w[-1]), False
    if method != "paf":
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    cap = 0.999
    try:
        h = 1.0 - 1.0 / np.diag(np.linalg.inv(R))
    except np.linalg.LinAlgError:
        h = np.max(np.abs(R - np.eye(len(R))), axis=0)
    h = np.clip(h, 0.0, cap)
    heywood = False
    for _ in range(max_iter):
        Rh = R.copy()
        np.fill_diagonal(Rh, h)
        w, v = np.linalg.eigh(Rh)
        loadings = v[:, -1] * np.sqrt(max(w[-1], 0.0))
        h_new = loadings**2
        heywood = bool(np.any(h_new >= cap))
        h_new = np.minimum(h_new, cap)
        if np.max(np.abs(h_new - h)) < tol:
            h = h_new
            break
        h = h_new
    return loadings, float(w[-1]), heywood


# --------------------------------------------------------------------------------------
# Factor model of one family and of both families
# --------------------------------------------------------------------------------------


@dataclass
class FamilyFactor:
    r"""A fitted one-factor score for one family of indices.

    Attributes
    ----------
    name : str
        ``"centripetal"`` or ``"centrifugal"``.
    columns : tuple of str
        The family's indices.
    mean, sd : ndarray
        Reference mean and sample SD (ddof = 1) of each index.
    corr : ndarray
        Reference correlation matrix of the standardised indices.
    loadings : ndarray
        Oriented loadings :math:`\ell`.
    weights : ndarray
        Score coefficients :math:`w = R^{-1}\ell` (regression method).
    score_mean, score_sd : float
        Mean and SD of :math:`z^\top w` over the reference, used to scale the score.
    eigenvalue : float
        See :func:`one_factor`.
    method, orientation : str
    heywood : bool
    n_ref : int
        Number of reference rows.
    """

    name: str
    columns: tuple[str, ...]
    mean: np.ndarray
    sd: np.ndarray
    corr: np.ndarray
    loadings: np.ndarray
    weights: np.ndarray
    score_mean: float
    score_sd: float
    eigenvalue: float
    method: str = "pca"
    orientation: str = "majority"
    heywood: bool = False
    n_ref: int = 0

    def standardize(self, df: pd.DataFrame) -> np.ndarray:
        """Standardised indices :math:`z = (x-\\mu)/\\sigma`, missing values imputed."""
        return self.standardize_array(_columns(df, self.columns))

    def standardize_array(self, X: np.ndarray) -> np.ndarray:
        """:meth:`standardize` of a plain array whose columns are :attr:`columns`, in that order."""
        Z = (X - self.mean) / self.sd
        return _impute(Z, self.corr)

    def raw_score(self, df: pd.DataFrame) -> np.ndarray:
        """Unscaled regression score :math:`z^\\top w` (NaN if the whole family is missing)."""
        return self.standardize(df) @ self.weights

    def score(self, df: pd.DataFrame) -> pd.Series:
        """Score :math:`f = (z^\\top w - m)/s`, indexed like ``df``."""
        return pd.Series(self.score_array(_columns(df, self.columns)), index=df.index, name=self.name)

    def score_array(self, X: np.ndarray) -> np.ndarray:
        """:meth:`score` of a plain array whose columns are :attr:`columns` (no pandas: the per-step path)."""
        return (self.standardize_array(X) @ self.weights - self.score_mean) / self.score_sd

    def explained_share(self) -> float:
        """Share of the family's total standardised variance explained, :math:`\\sum \\ell^2 / p`."""
        return float(np.sum(self.loadings**2) / len(self.columns))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "columns": list(self.columns),
            "mean": self.mean.tolist(),
            "sd": self.sd.tolist(),
            "corr": self.corr.tolist(),
            "loadings": self.loadings.tolist(),
            "weights": self.weights.tolist(),
            "score_mean": float(self.score_mean),
            "score_sd": float(self.score_sd),
            "eigenvalue": float(self.eigenvalue),
            "method": self.method,
            "orientation": self.orientation,
            "heywood": bool(self.heywood),
            "n_ref": int(self.n_ref),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FamilyFactor":
        return cls(
            name=d["name"],
            columns=tuple(d["columns"]),
            mean=np.asarray(d["mean"], dtype=float),
            sd=np.asarray(d["sd"], dtype=float),
            corr=np.asarray(d["corr"], dtype=float),
            loadings=np.asarray(d["loadings"], dtype=float),
            weights=np.asarray(d["weights"], dtype=float),
            score_mean=float(d["score_mean"]),
            score_sd=float(d["score_sd"]),
            eigenvalue=float(d["eigenvalue"]),
            method=d.get("method", "pca"),
            orientation=d.get("orientation", "majority"),
            heywood=bool(d.get("heywood", False)),
            n_ref=int(d.get("n_ref", 0)),
        )


def _columns(df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise KeyError(f"indices frame lacks column(s) {missing}; it needs {list(columns)}")
    return df[list(columns)].to_numpy(dtype=float, na_value=np.nan)


def _stack(columns: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """Columns ``names`` of a name -> array mapping as an ``(n, p)`` float array, laid out as
    :func:`_columns` lays out a frame's (column-major), so that both give the same rounding."""
    missing = [c for c in names if c not in columns]
    if missing:
        raise KeyError(f"indices lack column(s) {missing}; they need {list(names)}")
    return np.vstack([np.asarray(columns[c], dtype=float) for c in names]).T


def _impute(Z: np.ndarray, R: np.ndarray) -> np.ndarray:
    r"""Conditional-mean imputation :math:`\hat z_M = R_{MO} R_{OO}^{-1} z_O` row by row."""
    Z = np.array(Z, dtype=float, copy=True)
    for i in np.flatnonzero(np.isnan(Z).any(axis=1)):
        m = np.isnan(Z[i])
        o = ~m
        if not o.any():
            continue  # whole family missing: score stays NaN
        Z[i, m] = R[np.ix_(m, o)] @ np.linalg.solve(R[np.ix_(o, o)], Z[i, o])
    return Z


def fit_family(
    df: pd.DataFrame,
    columns: Sequence[str],
    name: str,
    *,
    method: str = "pca",
    orientation: str = "majority",
    anchor: str | None = None,
) -> FamilyFactor:
    """Fit the one-factor score of one family on a reference frame.

    Parameters
    ----------
    df : pandas.DataFrame
        Reference rows; must hold ``columns`` (NaN allowed, see the module docstring).
    columns : sequence of str
        The family's indices.
    name : str
        Family name (the score's column name).
    method : {"pca", "paf"}
        Extraction method, see :func:`one_factor`.
    orientation : {"majority", "anchor"}
        Sign convention, see the module docstring.
    anchor : str, optional
        Index whose loading is made positive for ``orientation="anchor"`` (default
        :data:`ANCHORS` [name], else the first column).

    Returns
    -------
    FamilyFactor
    """
    if orientation not in ORIENTATIONS:
        raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
    columns = tuple(columns)
    X = _columns(df, columns)
    ok = ~np.isnan(X).all(axis=1)
    X = X[ok]
    if len(X) < len(columns) + 1:
        raise ValueError(f"{name}: need at least {len(columns) + 1} reference rows, got {len(X)}")
    mean = np.nanmean(X, axis=0)
    sd = np.nanstd(X, axis=0, ddof=1)
    if np.any(~(sd > 0)):
        bad = [c for c, s in zip(columns, sd) if not s > 0]
        raise ValueError(f"{name}: index(es) {bad} are constant in the reference sample")
    Z = (X - mean) / sd
    R = pd.DataFrame(Z).corr(min_periods=3).to_numpy()
    if not np.all(np.isfinite(R)):
        raise ValueError(f"{name}: correlation matrix undefined (too few complete pairs)")
    loadings, eigenvalue, heywood = one_factor(R, method)
    if orientation == "majority" and abs(loadings.sum()) > 1e-12:
        sign = np.sign(loadings.sum())
    else:
        a = anchor or ANCHORS.get(name, columns[0])
        sign = np.sign(loadings[columns.index(a)]) or 1.0
    loadings = loadings * sign
    weights = np.linalg.solve(R, loadings)
    raw = _impute(Z, R) @ weights
    return FamilyFactor(
        name=name,
        columns=columns,
        mean=mean,
        sd=sd,
        corr=R,
        loadings=loadings,
        weights=weights,
        score_mean=float(np.mean(raw)),
        score_sd=float(np.std(raw, ddof=1)),
        eigenvalue=eigenvalue,
        method=method,
        orientation=orientation,
        heywood=heywood,
        n_ref=int(len(X)),
    )


@dataclass
class FactorModel:
    """The centripetal and centrifugal :class:`FamilyFactor` of one reference sample."""

    centripetal: FamilyFactor
    centrifugal: FamilyFactor

    def scores(self, df: pd.DataFrame) -> pd.DataFrame:
        """Scores ``[centripetal, centrifugal]``, indexed like ``df``."""
        return pd.concat([self.centripetal.score(df), self.centrifugal.score(df)], axis=1)

    def score_arrays(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """Scores ``[centripetal, centrifugal]`` as an ``(n, 2)`` array from plain index columns by name."""
        return np.column_stack([fam.score_array(_stack(columns, fam.columns))
                                for fam in (self.centripetal, self.centrifugal)])

    def to_dict(self) -> dict[str, Any]:
        return {"centripetal": self.centripetal.to_dict(), "centrifugal": self.centrifugal.to_dict()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FactorModel":
        return cls(FamilyFactor.from_dict(d["centripetal"]), FamilyFactor.from_dict(d["centrifugal"]))


def fit_factor_model(df: pd.DataFrame, *, method: str = "pca", orientation: str = "majority") -> FactorModel:
    """Fit both family scores on the reference frame ``df`` (see :func:`fit_family`)."""
    return FactorModel(
        *(fit_family(df, cols, name, method=method, orientation=orientation) for name, cols in FAMILIES.items())
    )


def factor_scores(
    df: pd.DataFrame,
    loadings: FactorModel | Mapping[str, Any] | None = None,
    *,
    method: str = "pca",
    orientation: str = "majority",
) -> pd.DataFrame:
    """Centripetal and centrifugal factor scores.

    Parameters
    ----------
    df : pandas.DataFrame
        Rows to score; needs the six index columns (NaN allowed).
    loadings : FactorModel or dict, optional
        A fitted model (or its :meth:`FactorModel.to_dict`). ``None`` fits the model on
        ``df`` itself (``df`` is then the reference: scores have mean 0 and SD 1 over it).
    method, orientation : str
        Used only when ``loadings`` is None, see :func:`fit_family`.

    Returns
    -------
    pandas.DataFrame
        Columns ``centripetal`` and ``centrifugal``, indexed like ``df``.
    """
    if loadings is None:
        model = fit_factor_model(df, method=method, orientation=orientation)
    elif isinstance(loadings, FactorModel):
        model = loadings
    else:
        model = FactorModel.from_dict(loadings)
    return model.scores(df)


# --------------------------------------------------------------------------------------
# Classifier
# --------------------------------------------------------------------------------------


def _quadrant(S: np.ndarray, tc: float, tf: float) -> np.ndarray:
    out = np.full(len(S), None, dtype=object)
    ok = ~np.isnan(S).any(axis=1)
    c_hi = S[:, 0] > tc
    f_hi = S[:, 1] > tf
    lab = np.where(c_hi & f_hi, "resilient", np.where(c_hi, "path_locked", np.where(f_hi, "centrifugal_dominant", "other")))
    out[ok] = lab[ok]
    return out


def _midpoints(x: np.ndarray) -> np.ndarray:
    u = np.unique(x)
    return (u[:-1] + u[1:]) / 2.0


def _fit_thresholds(S: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Grid search of (t_c, t_f) over midpoints, max accuracy, ties to min |t_c|+|t_f|."""
    best_key, best = None, (0.0, 0.0)
    for tc in _midpoints(S[:, 0]):
        for tf in _midpoints(S[:, 1]):
            acc = int(np.sum(_quadrant(S, tc, tf) == y))
            key = (acc, -(abs(tc) + abs(tf)), -tc, -tf)
            if best_key is None or key > best_key:
                best_key, best = key, (float(tc), float(tf))
    return best


class TypologyClassifier:
    """Classify clusters into :data:`TYPOLOGIES` from centripetal / centrifugal factor scores.

    Parameters
    ----------
    rule : {"sign_quadrant", "fitted_quadrant", "nearest_centroid"}
        Classification rule on the two scores (see the module docstring). The default is the
        rule chosen by leave-one-out accuracy on the 30 published clusters.
    method : {"pca", "paf"}
        Factor extraction.
    orientation : {"majority", "anchor"}
        Sign convention of the scores.

    Attributes
    ----------
    factor_model_ : FactorModel
        Set by :meth:`fit` (or :meth:`from_dict`).
    thresholds_ : tuple of float
        (t_c, t_f) of the quadrant rules ((0, 0) for ``sign_quadrant``).
    centroids_ : dict
        Class -> [c, f] mean scores (all rules; used by ``nearest_centroid``).
    fitted_ids_ : list
        Index labels of the rows used in the fit (rows with a label only).

    Examples
    --------
    >>> from calibration.typology import published_2020  # the 30 published 2020 clusters
    >>> X, y = published_2020()
    >>> clf = TypologyClassifier().fit(X, y)
    >>> int((clf.predict(X) == y).sum())
    18
    """

    def __init__(self, rule: str = "fitted_quadrant", method: str = "pca", orientation: str = "majority"):
        if rule not in RULES:
            raise ValueError(f"rule must be one of {RULES}, got {rule!r}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        if orientation not in ORIENTATIONS:
            raise ValueError(f"orientation must be one of {ORIENTATIONS}, got {orientation!r}")
        self.rule = rule
        self.method = method
        self.orientation = orientation
        self.factor_model_: FactorModel | None = None
        self.thresholds_: tuple[float, float] = (0.0, 0.0)
        self.centroids_: dict[str, list[float]] = {}
        self.fitted_ids_: list = []

    # -- fitting ---------------------------------------------------------------------
    def fit(self, indices_df: pd.DataFrame, labels: pd.Series | Sequence | np.ndarray) -> "TypologyClassifier":
        """Fit the factor model and the rule on the rows that have a label.

        Parameters
        ----------
        indices_df : pandas.DataFrame
            One row per cluster with the six index columns (e.g. from
            :func:`sim.data.observed.indices_for_year`).
        labels : pandas.Series or array-like
            Typology per row. A Series is aligned on ``indices_df.index``; an array must have
            the same length. Rows whose label is missing (NaN / None / "") are excluded from
            *every* part of the fit, including the standardisation reference, so withheld
            clusters never influence the classifier.

        Returns
        -------
        TypologyClassifier
            ``self``.
        """
        if isinstance(labels, pd.Series):
            y = labels.reindex(indices_df.index)
        else:
            y = pd.Series(list(labels), index=indices_df.index)
            if len(y) != len(indices_df):
                raise ValueError("labels and indices_df have different lengths")
        y = y.where(y.notna() & (y.astype(str) != ""), None)
        keep = y.notna().to_numpy()
        bad = sorted(set(y[keep]) - set(TYPOLOGIES))
        if bad:
            raise ValueError(f"unknown typology label(s) {bad}; allowed: {TYPOLOGIES}")
        X = indices_df.loc[keep]
        yv = y[keep].astype(str).to_numpy()
        self.factor_model_ = fit_factor_model(X, method=self.method, orientation=self.orientation)
        S = self.factor_model_.scores(X).to_numpy()
        ok = ~np.isnan(S).any(axis=1)
        S, yv = S[ok], yv[ok]
        self.fitted_ids_ = list(X.index[ok])
        self.centroids_ = {k: S[yv == k].mean(axis=0).tolist() for k in TYPOLOGIES if np.any(yv == k)}
        if self.rule == "fitted_quadrant":
            self.thresholds_ = _fit_thresholds(S, yv)
        else:
            self.thresholds_ = (0.0, 0.0)
        return self

    def _check(self) -> FactorModel:
        if self.factor_model_ is None:
            raise RuntimeError("TypologyClassifier is not fitted; call fit() or from_dict() first")
        return self.factor_model_

    # -- prediction ------------------------------------------------------------------
    def scores(self, indices_df: pd.DataFrame) -> pd.DataFrame:
        """Factor scores ``[centripetal, centrifugal]`` on the fitted reference scale."""
        return self._check().scores(indices_df)

    def score_arrays(self, columns: Mapping[str, np.ndarray]) -> np.ndarray:
        """:meth:`scores` as an ``(n, 2)`` array from plain index columns by name (no pandas)."""
        return self._check().score_arrays(columns)

    def predict(self, indices_df: pd.DataFrame) -> pd.Series:
        """Predicted typology per row (None where a family's indices are all missing)."""
        lab = self.classify(self.scores(indices_df).to_numpy())
        return pd.Series(lab, index=indices_df.index, name="typology", dtype=object)

    def classify(self, S: np.ndarray) -> np.ndarray:
        """Typology labels (object array, None where undefined) of score rows ``[centripetal, centrifugal]``."""
        if self.rule in ("sign_quadrant", "fitted_quadrant"):
            return _quadrant(S, *self.thresholds_)
        keys = list(self.centroids_)
        M = np.array([self.centroids_[k] for k in keys])
        lab = np.full(len(S), None, dtype=object)
        for i, s in enumerate(S):
            if not np.isnan(s).any():
                lab[i] = keys[int(np.argmin(((M - s) ** 2).sum(axis=1)))]
        return lab

    # -- persistence -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (round-trips exactly through :meth:`from_dict`)."""
        model = self._check()
        return {
            "format": FORMAT,
            "rule": self.rule,
            "method": self.method,
            "orientation": self.orientation,
            "thresholds": [float(t) for t in self.thresholds_],
            "centroids": {k: [float(x) for x in v] for k, v in self.centroids_.items()},
            "fitted_ids": [str(i) for i in self.fitted_ids_],
            "factor_model": model.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TypologyClassifier":
        """Rebuild a fitted classifier from :meth:`to_dict` output."""
        if d.get("format", FORMAT) != FORMAT:
            raise ValueError(f"unsupported classifier format {d.get('format')!r} (expected {FORMAT})")
        clf = cls(rule=d["rule"], method=d.get("method", "pca"), orientation=d.get("orientation", "majority"))
        clf.factor_model_ = FactorModel.from_dict(d["factor_model"])
        clf.thresholds_ = tuple(float(t) for t in d.get("thresholds", (0.0, 0.0)))  # type: ignore[assignment]
        clf.centroids_ = {k: [float(x) for x in v] for k, v in d.get("centroids", {}).items()}
        clf.fitted_ids_ = list(d.get("fitted_ids", []))
        return clf

    def __repr__(self) -> str:
        state = f"fitted on {len(self.fitted_ids_)}" if self.factor_model_ else "unfitted"
        return f"TypologyClassifier(rule={self.rule!r}, method={self.method!r}, orientation={self.orientation!r}; {state})"


def load_classifier(source: Mapping[str, Any] | str | os.PathLike) -> TypologyClassifier:
    """A fitted classifier from a plain dict or a JSON file.

    ``source`` is :meth:`TypologyClassifier.to_dict` output, or a fit file that holds it under
    ``"classifier"`` (as ``sim/indices/typology_fit.json`` does), or the path of such a JSON file.
    """
    if isinstance(source, Mapping):
        d = source
    else:
        d = read_small_json(source, limit=16 * MB, what="classifier file")
    return TypologyClassifier.from_dict(d["classifier"] if "classifier" in d else d)


def shipped_classifier() -> TypologyClassifier:
    """The classifier fitted on the 30 published 2020 clusters (``sim/indices/typology_fit.json``)."""
    return load_classifier(json.loads(resources.files("sim.indices").joinpath(FIT_FILE).read_text(encoding="utf-8")))

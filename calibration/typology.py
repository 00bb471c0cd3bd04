"""Fitting the 2020 typology classifier to the published labels: candidates, leave-one-out, selection.

The classifier itself (factor scores, rules, its plain-dict form) is the pure
:mod:`sim.indices.typology`. This module evaluates its candidate configurations on the 30
published 2020 clusters (the 8 withheld clusters are never used), selects the shipped rule
(highest leave-one-out accuracy, ties to fewer fitted rule parameters) and loads the shipped
fit, ``sim/indices/typology_fit.json`` (:func:`load_fitted`), which ``scripts/fit_typology.py``
writes. Measured accuracy and what it means: see docs/calibration.md §Typology.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.data.observed import TYPOLOGIES, ObservedData, indices_for_year, load_all
from sim.indices.typology import (
    ANCHORS,
    FAMILIES,
    FIT_FILE,
    METHODS,
    ORIENTATIONS,
    RULE_PARAMS,
    RULES,
    FactorModel,
    FamilyFactor,
    TypologyClassifier,
    factor_scores,
    fit_factor_model,
    fit_family,
    load_classifier,
    one_factor,
    shipped_classifier,
)

__all__ = [
    "published_2020",
    "leave_one_out",
    "evaluate",
    "candidate_table",
    "select_rule",
    "load_fitted",
    "FIT_FILE",
    "CANDIDATES",
    "SENSITIVITY",
    # the classifier, from sim.indices.typology (importable from here as before)
    "FAMILIES",
    "ANCHORS",
    "METHODS",
    "ORIENTATIONS",
    "RULES",
    "FamilyFactor",
    "FactorModel",
    "one_factor",
    "fit_family",
    "fit_factor_model",
    "factor_scores",
    "TypologyClassifier",
]



def published_2020(data: ObservedData | None = None) -> tuple[pd.DataFrame, pd.Series]:
    """The 30 published (non-withheld) 2020 clusters: indices and typology labels.

    Parameters
    ----------
    data : ObservedData, optional
        Defaults to :func:`sim.data.observed.load_all`.

    Returns
    -------
    X : pandas.DataFrame
        2020 indices indexed by id (file order), only clusters with a published typology.
    y : pandas.Series
        Their ``typology_2020``.
    """
    data = data or load_all()
    labels = data.clusters.set_index("id")["typology_2020"]
    labels = labels[labels.notna()]
    X = indices_for_year(data.indices, 2020).loc[labels.index]
    withheld = set(data.withheld_ids())
    assert not withheld & set(X.index)
    return X, labels.astype(str).rename("typology_2020")


def leave_one_out(X: pd.DataFrame, y: pd.Series, **kwargs) -> pd.Series:
    """Leave-one-out predictions: refit everything on n-1 rows, predict the left-out row.

    Parameters
    ----------
    X, y :
        As for :meth:`TypologyClassifier.fit` (rows without a label are ignored).
    **kwargs :
        Passed to :class:`TypologyClassifier`.

    Returns
    -------
    pandas.Series
        LOO prediction per labelled row.
    """
    y = y.reindex(X.index)
    idx = list(X.index[y.notna()])
    out = {}
    for i in idx:
        train = [j for j in idx if j != i]
        clf = TypologyClassifier(**kwargs).fit(X.loc[train], y.loc[train])
        out[i] = clf.predict(X.loc[[i]]).iloc[0]
    return pd.Series(out, name="loo_prediction", dtype=object)


def evaluate(X: pd.DataFrame, y: pd.Series, **kwargs) -> dict[str, Any]:
    """In-sample and LOO correct counts of one classifier configuration.

    Returns
    -------
    dict
        ``n``, ``in_sample`` (correct count), ``loo`` (correct count), and the
        predictions ``in_sample_pred``, ``loo_pred`` (Series).
    """
    y = y.reindex(X.index).dropna()
    Xl = X.loc[y.index]
    clf = TypologyClassifier(**kwargs).fit(Xl, y)
    pin = clf.predict(Xl)
    ploo = leave_one_out(Xl, y, **kwargs)
    return {
        "n": int(len(y)),
        "in_sample": int((pin == y).sum()),
        "loo": int((ploo.reindex(y.index) == y).sum()),
        "in_sample_pred": pin,
        "loo_pred": ploo,
    }


def _majority_baseline(y: pd.Series) -> tuple[int, int]:
    """Correct counts of predicting the most frequent class (ties: TYPOLOGIES order)."""
    def mode(v: pd.Series) -> str:
        counts = v.value_counts()
        top = counts.max()
        return next(k for k in TYPOLOGIES if counts.get(k, 0) == top)

    ins = int((y == mode(y)).sum())
    loo = sum(int(y.iloc[i] == mode(y.drop(y.index[i]))) for i in range(len(y)))
    return ins, loo


#: The selection candidates (method and orientation fixed a priori) and sensitivity rows.
CANDIDATES: tuple[dict[str, str], ...] = tuple(
    {"rule": r, "method": "pca", "orientation": "majority", "role": "candidate"} for r in RULES
)
SENSITIVITY: tuple[dict[str, str], ...] = tuple(
    {"rule": r, "method": m, "orientation": o, "role": "sensitivity"}
    for m, o in (("pca", "anchor"), ("paf", "majority"))
    for r in RULES
)


def candidate_table(X: pd.DataFrame | None = None, y: pd.Series | None = None) -> pd.DataFrame:
    """Accuracy of every candidate and sensitivity configuration, plus a majority baseline.

    Parameters
    ----------
    X, y : optional
        Defaults to :func:`published_2020`.

    Returns
    -------
    pandas.DataFrame
        Columns ``rule, method, orientation, role, n, in_sample, loo``.
    """
    if X is None or y is None:
        X, y = published_2020()
    rows = []
    for cfg in CANDIDATES + SENSITIVITY:
        kw = {k: cfg[k] for k in ("rule", "method", "orientation")}
        ev = evaluate(X, y, **kw)
        rows.append({**cfg, "n": ev["n"], "in_sample": ev["in_sample"], "loo": ev["loo"]})
    yl = y.reindex(X.index).dropna()
    ins, loo = _majority_baseline(yl)
    rows.append({"rule": "majority_class", "method": "-", "orientation": "-", "role": "baseline",
                 "n": len(yl), "in_sample": ins, "loo": loo})
    return pd.DataFrame(rows)


def select_rule(table: pd.DataFrame) -> dict[str, str]:
    """Pick the candidate with the highest LOO accuracy; ties go to fewer rule parameters."""
    cand = table[table["role"] == "candidate"].copy()
    cand["n_params"] = cand["rule"].map(RULE_PARAMS)
    best = cand.sort_values(["loo", "n_params"], ascending=[False, True]).iloc[0]
    return {"rule": best["rule"], "method": best["method"], "orientation": best["orientation"]}



def load_fitted(path: str | Path | None = None) -> TypologyClassifier:
    """Load the shipped fitted classifier (``sim/indices/typology_fit.json``) or ``path``."""
    if path is None:
        return shipped_classifier()
    return load_classifier(path)

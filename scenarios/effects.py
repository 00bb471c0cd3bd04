"""Scenario-vs-baseline tables of a projection: paired effects, typology transitions, cluster outcomes.

Every table is computed from the tidy indicator table of :func:`scenarios.projection.project`
(columns ``scenario, cluster, replicate, step, year, indicator, value``): :func:`effects_table`
gives the mean paired difference per replicate (common random numbers) with a t interval
(:func:`paired_stats`); :func:`transition_table` and :func:`cluster_outcomes` the probability
of ending in each typology.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from sim.indices.scores import TYPOLOGIES

__all__ = ["EFFECT_INDICATORS", "SIGNED", "paired_stats", "effects_table", "transition_table",
           "cluster_outcomes"]

#: Indicators of the effect table, in order.
EFFECT_INDICATORS = ("centripetal", "centrifugal", "firms", "employment", "specialization", "hierarchy",
                     "internal_cohesion", "related_variety", "heterophily", "external_linkage",
                     "inclusiveness")

#: Indicators whose baseline is centred near 0 (no relative effect is reported).
SIGNED = {"centripetal", "centrifugal", "heterophily"}


def _final(df: pd.DataFrame) -> pd.DataFrame:
    return df[df["step"] == df["step"].max()]


def _tcrit(n: int, level: float) -> float:

    return float(stats.t.ppf(0.5 + level / 2, n - 1)) if n > 1 else float("nan")


def paired_stats(d: np.ndarray, a: np.ndarray, b: np.ndarray, level: float = 0.95) -> dict:
    """Mean paired difference ``d = a - b`` with a t confidence interval and the CRN variance ratio."""

    ok = np.isfinite(d)
    d, a, b = d[ok], a[ok], b[ok]
    n = len(d)
    mean = float(d.mean()) if n else float("nan")
    sd = float(d.std(ddof=1)) if n > 1 else float("nan")
    se = sd / math.sqrt(n) if n > 1 else float("nan")
    half = _tcrit(n, level) * se if n > 1 else float("nan")
    if n > 1 and sd > 0:
        p = float(2 * stats.t.sf(abs(mean) / se, n - 1))
    elif n > 1:
        p = 0.0 if mean != 0 else 1.0
    else:
        p = float("nan")
    va, vb = (float(a.var(ddof=1)), float(b.var(ddof=1))) if n > 1 else (float("nan"),) * 2
    ratio = sd ** 2 / (va + vb) if n > 1 and (va + vb) > 0 else float("nan")
    bm = float(b.mean()) if n else float("nan")
    return {"n": n, "baseline_mean": bm, "scenario_mean": float(a.mean()) if n else float("nan"),
            "diff": mean, "ci_low": mean - half, "ci_high": mean + half, "se": se, "p_value": p,
            "rel_pct": 100.0 * mean / abs(bm) if n and bm not in (0.0,) and np.isfinite(bm) else float("nan"),
            "crn_variance_ratio": ratio}


def effects_table(df: pd.DataFrame, baseline: str, targeted: Mapping[str, Sequence[str]] | None = None,
                  indicators: Sequence[str] = EFFECT_INDICATORS, level: float = 0.95,
                  per_cluster_max: int = 12) -> pd.DataFrame:
    """Scenario-vs-baseline effects at the end of the horizon (paired by replicate).

    For every scenario other than ``baseline`` and every indicator: the value at
    the last recorded step, for each targeted cluster (when at most
    ``per_cluster_max`` are targeted), for the mean over the targeted clusters
    (``"(targeted)"``), and for the mean over the other simulated clusters
    (``"(others)"``, spill-overs), minus the baseline's value in the same
    replicate.  Columns: ``scenario, cluster, indicator, n, baseline_mean,
    scenario_mean, diff, ci_low, ci_high, se, p_value, rel_pct,
    crn_variance_ratio`` (the variance of the paired difference over the sum of
    the two variances: below 1 when common random numbers help).
    """
    fin = _final(df)
    fin = fin[fin["indicator"].isin(indicators)]
    wide = fin.pivot_table(index=["scenario", "replicate", "cluster"], columns="indicator", values="value",
                           dropna=False)
    all_cl = list(dict.fromkeys(df["cluster"]))
    rows = []
    if baseline not in set(df["scenario"]):
        raise ValueError(f"baseline {baseline!r} is not in the table")
    b = wide.loc[baseline]
    for s in dict.fromkeys(df["scenario"]):
        if s == baseline:
            continue
        a = wide.loc[s]
        tg = list((targeted or {}).get(s) or [])
        groups: list[tuple[str, list[str]]] = []
        if tg and len(tg) <= per_cluster_max:
            groups += [(c, [c]) for c in tg]
        if tg:
            groups.append(("(targeted)", tg))
        others = [c for c in all_cl if c not in tg]
        if others and len(others) < len(all_cl):
            groups.append(("(others)", others))
        if not tg:
            groups.append(("(all)", all_cl))
        for label, cl in groups:
            for ind in indicators:
                if ind not in a.columns:
                    continue
                av = a.loc[(slice(None), cl), ind].groupby(level="replicate").mean()
                bv = b.loc[(slice(None), cl), ind].groupby(level="replicate").mean()
                reps = av.index.intersection(bv.index)
                av, bv = av.loc[reps].to_numpy(float), bv.loc[reps].to_numpy(float)
                st = paired_stats(av - bv, av, bv, level)
                if ind in SIGNED:
                    st["rel_pct"] = float("nan")
                rows.append({"scenario": s, "cluster": label, "indicator": ind, **st})
    cols = ["scenario", "cluster", "indicator", "n", "baseline_mean", "scenario_mean", "diff", "ci_low",
            "ci_high", "se", "p_value", "rel_pct", "crn_variance_ratio"]
    return pd.DataFrame(rows, columns=cols)


def _typ_codes(df: pd.DataFrame) -> pd.DataFrame:
    t = df[df["indicator"] == "typology"]
    first, last = t["step"].min(), t["step"].max()
    s = t[t["step"] == first].set_index(["scenario", "cluster", "replicate"])["value"].rename("start")
    e = t[t["step"] == last].set_index(["scenario", "cluster", "replicate"])["value"].rename("end")
    return pd.concat([s, e], axis=1).reset_index()


def _label(code) -> str:
    c = int(code) if np.isfinite(code) else -1
    return TYPOLOGIES[c] if 0 <= c < len(TYPOLOGIES) else "undefined"


def transition_table(df: pd.DataFrame) -> pd.DataFrame:
    """Probability of ending in each typology, from each start typology, per scenario.

    Over all (cluster, replicate) pairs: ``scenario, start_typology, n,
    p_path_locked, p_resilient, p_centrifugal_dominant, p_other``
    (``p_undefined`` too when a cluster has no defined typology).
    """
    tc = _typ_codes(df)
    tc["start_typology"] = tc["start"].map(_label)
    tc["end_typology"] = tc["end"].map(_label)
    labels = list(TYPOLOGIES) + (["undefined"] if (tc["end_typology"] == "undefined").any() else [])
    rows = []
    for (s, st), g in tc.groupby(["scenario", "start_typology"], sort=False):
        n = len(g)
        row = {"scenario": s, "start_typology": st, "n": n}
        for lab in labels:
            row[f"p_{lab}"] = float((g["end_typology"] == lab).mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    order = {s: i for i, s in enumerate(dict.fromkeys(df["scenario"]))}
    tord = {t: i for i, t in enumerate(list(TYPOLOGIES) + ["undefined"])}
    return out.sort_values(["scenario", "start_typology"], key=lambda c: c.map(order if c.name == "scenario"
                                                                             else tord)).reset_index(drop=True)


def cluster_outcomes(df: pd.DataFrame, baseline: str | None = None) -> pd.DataFrame:
    """Per scenario and cluster: the start typology (modal over replicates) and P(end typology).

    With ``baseline``, the columns ``d_<typology>`` give the change in probability
    against the baseline (same replicates).
    """
    tc = _typ_codes(df)
    tc["start_typology"] = tc["start"].map(_label)
    tc["end_typology"] = tc["end"].map(_label)
    rows = []
    for (s, c), g in tc.groupby(["scenario", "cluster"], sort=False):
        row = {"scenario": s, "cluster": c, "n": len(g),
               "start_typology": g["start_typology"].mode().iloc[0]}
        for lab in TYPOLOGIES:
            row[f"p_{lab}"] = float((g["end_typology"] == lab).mean())
        rows.append(row)
    out = pd.DataFrame(rows)
    if baseline is not None and baseline in set(out["scenario"]):
        b = out[out["scenario"] == baseline].set_index("cluster")
        for lab in TYPOLOGIES:
            out[f"d_{lab}"] = out[f"p_{lab}"].to_numpy() - b.loc[out["cluster"], f"p_{lab}"].to_numpy()
    return out

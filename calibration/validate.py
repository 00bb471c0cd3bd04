"""Out-of-sample validation: k-fold cross-validation over clusters against naive forecasts.

For each fold the estimator (:mod:`calibration.estimator`) is refitted on the other folds'
clusters only: their published 2020 values enter the loss, the 2020 measurement map and the
typology classifier (refitted on the training clusters' published 2020 indices and labels).
The held-out clusters are then predicted from their 2010 state (the set-up fitted on 2010
values only) and their observable characteristics (sector family, 2020 firm count): the
calibrated model is run 2010 -> 2020 and the simulated raw indices are put through the
training map into the published scale.

Forecasts compared, per index, in the published scale (pooled over folds):

* ``model``: the calibrated model as above (ensemble mean);
* ``persistence``: 2020 = 2010 (defined where the cluster has 2010 values);
* ``family_mean``: 2020 = mean 2020 value of the training clusters of the same sector family
  (the training mean when the family has no training cluster);
* ``linear_persistence``: 2020 = alpha + beta * 2010, OLS on the training clusters (a more
  demanding statistical benchmark: it learns the shift and the regression to the mean that
  the model's measurement map also absorbs).

Metrics: RMSE and Spearman rank correlation against the published 2020 values, on the
clusters where every forecast is defined (clusters with 2010 values), plus the typology
hit rate. The initial Sobol design is shared by the folds (it does not depend on the data);
every adaptive round and the estimate are fold-specific. The eight withheld clusters are never
used.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from calibration.config import QUICK, Config, log
from calibration.estimator import Problem, estimate
from calibration.files import json_text, write_csv, write_text
from calibration.loss import TARGETS_2020, observed_targets, resolve_fit_clusters
from calibration.measurement import MeasurementMap, rmse, spearman
from calibration.predict import ensemble, modal_typology, published_frames, split_theta
from calibration.states import build_initial_states, final_setup
from sim.data.observed import INDEX_COLUMNS, load_all
from sim.indices.typology import TypologyClassifier
from sim.model.params import ParameterError

__all__ = ["cross_validate", "baselines", "metrics_table", "case_facts", "FORECASTS"]

FORECASTS = ("model", "persistence", "family_mean", "linear_persistence")


def folds_of(ids: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """Random partition of ``ids`` into ``k`` folds (seeded, file order inside each fold)."""
    if not 2 <= k <= len(ids):
        raise ParameterError(f"--folds must be between 2 and the number of clusters ({len(ids)}), got {k}")
    rng = np.random.default_rng(seed)
    perm = list(np.array(ids, dtype=object)[rng.permutation(len(ids))])
    parts = [sorted(p, key=list(ids).index) for p in np.array_split(np.array(perm, dtype=object), k)]
    return [list(p) for p in parts]


def baselines(obs: Mapping[int, pd.DataFrame], family: pd.Series, train: Sequence[str],
              test: Sequence[str]) -> dict[str, pd.DataFrame]:
    """Naive forecasts of ``test`` clusters' 2020 values from ``train`` clusters (published scale)."""
    cols = list(INDEX_COLUMNS)
    o10, o20 = obs[2010][cols], obs[2020][cols]
    pers = o10.reindex(test).copy()
    fam = pd.DataFrame(index=pd.Index(test, name="id"), columns=cols, dtype=float)
    tr20 = o20.reindex(train)
    for c in test:
        same = [t for t in train if family.get(t) == family.get(c)]
        fam.loc[c] = (tr20.loc[same].mean() if same else tr20.mean()).to_numpy(float)
    lin = pd.DataFrame(index=pd.Index(test, name="id"), columns=cols, dtype=float)
    for k in cols:
        x = o10[k].reindex(train)
        y = o20[k].reindex(train)
        ok = x.notna() & y.notna()
        if ok.sum() >= 3:
            b, a = np.polyfit(x[ok].to_numpy(float), y[ok].to_numpy(float), 1)
            lin[k] = a + b * o10[k].reindex(test).to_numpy(float)
    return {"persistence": pers, "family_mean": fam, "linear_persistence": lin}


def metrics_table(pred: pd.DataFrame, obs20: pd.DataFrame, common: bool = True) -> pd.DataFrame:
    """RMSE and Spearman per index and forecast; ``pred`` long: id, index, forecast, value."""
    rows = []
    wide = pred.pivot_table(index=["id", "index"], columns="forecast", values="value", aggfunc="first")
    for k in INDEX_COLUMNS:
        g = wide.xs(k, level="index") if k in wide.index.get_level_values("index") else None
        if g is None:
            continue
        o = obs20[k].reindex(g.index)
        ok = o.notna()
        if common:
            ok &= g[[f for f in FORECASTS if f in g.columns]].notna().all(axis=1)
        r = {"index": k, "n": int(ok.sum())}
        for f in FORECASTS:
            if f in g.columns:
                r[f"rmse_{f}"] = rmse(g.loc[ok, f], o[ok])
                r[f"rho_{f}"] = spearman(g.loc[ok, f], o[ok])
        rows.append(r)
    return pd.DataFrame(rows)


def cross_validate(cfg: Config = QUICK, out: str | os.PathLike | None = None, *, folds: int = 5,
                   n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None, resume: bool = False,
                   progress: bool = True, data=None, clusters: Sequence[str] | None = None,
                   exclude: Sequence[str] | None = None) -> dict:
    """k-fold cross-validation over the clusters with published 2020 values (see the module docstring).

    Writes (with ``out``): ``cv_predictions.csv`` (long: id, fold, index, forecast, value,
    observed_2010, observed_2020), ``cv_metrics.csv``, ``cv_metrics_all.csv`` (the model on
    every held-out cluster, including those without 2010 values), ``cv_typology.csv``,
    ``case_facts.csv``, ``validation.json``. Returns a summary dict.
    """
    t0 = time.time()
    data = data or load_all()
    ids = resolve_fit_clusters(data, clusters, exclude)
    obs = observed_targets(data, cfg)
    fam = data.clusters.set_index("id")["sector_family"]
    labels = data.clusters.set_index("id")["typology_2020"]
    parts = folds_of(ids, folds, cfg.seed)
    out_p = None if out is None else Path(out)
    store = None if out_p is None else out_p / "store"
    if out_p is not None and not resume and store.exists() and any(store.rglob("*.parquet")):
        raise FileExistsError(f"{out_p} already holds validation runs; pass --resume or choose a new --out folder")
    states, _ = build_initial_states(cfg, data, store, n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                                     resume=resume, progress=progress)
    problem = Problem(states, cfg, tuple(cfg.estimate), cfg.bounds())
    shared = None if store is None else store / "round-00"
    long_rows, typ_rows, est_rows = [], [], []
    sim_firms = {}
    for f, test in enumerate(parts):
        est_row, t_rows, l_rows, firms = _run_fold(f, len(parts), test, ids, cfg, data, problem, states, obs, fam,
                                                   labels, store, shared, n_jobs=n_jobs, backend=backend,
                                                   scheduler=scheduler, resume=resume, progress=progress)
        est_rows.append(est_row)
        typ_rows += t_rows
        long_rows += l_rows
        sim_firms.update(firms)
    pred = pd.DataFrame(long_rows)
    met = metrics_table(pred, obs[2020], common=True)
    met_all = metrics_table(pred[pred["forecast"] == "model"], obs[2020], common=False)
    typ = pd.DataFrame(typ_rows)
    facts = case_facts(pred, typ, sim_firms, obs)
    summary = {
        "mode": cfg.mode, "folds": [list(p) for p in parts], "config": cfg.to_dict(),
        "fold_estimates": est_rows,
        "beats": {f: int((met["rmse_model"] < met[f"rmse_{f}"]).sum()) for f in FORECASTS[1:]},
        "typology_hits": {c: f"{int((typ[c] == typ['published']).sum())}/{int(typ[c].notna().sum())}"
                          for c in ("model", "persistence", "family_mode")},
        "case_facts": facts.to_dict(orient="records"),
        "wall_time_s": round(time.time() - t0, 1),
    }
    if out_p is not None:
        out_p.mkdir(parents=True, exist_ok=True)
        write_csv(pred, out_p / "cv_predictions.csv")
        write_csv(met, out_p / "cv_metrics.csv")
        write_csv(met_all, out_p / "cv_metrics_all.csv")
        write_csv(typ, out_p / "cv_typology.csv")
        write_csv(facts, out_p / "case_facts.csv")
        write_csv(pd.DataFrame(est_rows), out_p / "cv_estimates.csv")
        write_text(out_p / "validation.json", json_text(summary))
        log(progress, f"wrote {out_p / 'cv_metrics.csv'} and friends in {time.time() - t0:.0f}s")
    summary["metrics"] = met
    summary["typology"] = typ
    summary["predictions"] = pred
    summary["facts"] = facts
    return summary


def _run_fold(f: int, n_folds: int, test: Sequence[str], ids: Sequence[str], cfg: Config, data, problem: Problem,
              states, obs: Mapping[int, pd.DataFrame], fam: pd.Series, labels: pd.Series, store: Path | None,
              shared: Path | None, *, n_jobs: int, backend: str, scheduler: str | None, resume: bool,
              progress: bool) -> tuple[dict, list[dict], list[dict], dict]:
    """Fit fold ``f`` on the clusters outside ``test``, predict ``test``.

    Returns the fold's estimate row, its typology rows, its forecast rows (long) and the
    simulated 2010 and 2020 firm counts of the held-out clusters.
    """
    train = [c for c in ids if c not in set(test)]
    log(progress, f"fold {f + 1}/{n_folds}: fit on {len(train)} clusters, predict {len(test)}")
    fst = None if store is None else store / f"fold-{f}"
    est = estimate(problem, obs, train, fst, n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume,
                   progress=progress, shared_initial=shared)
    theta = problem.to_theta(est.u_hat[None, :])[0]
    model_p, run_p = split_theta(est.names, theta)
    est_row = {"fold": f, **dict(zip(est.names, theta)),
               "loss": float(est.gp.predict(est.u_hat[None, :], return_sd=False)[0])}
    fstates, _ = final_setup(cfg, data, fst, states, None, model_p, n_jobs=n_jobs, backend=backend,
                             scheduler=scheduler, resume=resume, progress=progress)
    fb = ensemble({**cfg.base_params(), **model_p}, run_p, fstates, cfg.years, cfg.spinup,
                  cfg.final_replicates, cfg.seed + 1000, None if fst is None else fst / "final",
                  n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume, progress=progress)
    means = {2010: fb.frame(0, 0), 2020: fb.frame(0, 1)}
    mm = MeasurementMap.fit(means, obs, train, TARGETS_2020)
    firms = {c: (float(means[2010].loc[c, "firms"]), float(means[2020].loc[c, "firms"])) for c in test}
    typ_rows = _fold_typology(f, fb, mm, obs, fam, labels, train, test)
    long_rows = _fold_forecasts(f, mm, means, obs, fam, train, test)
    return est_row, typ_rows, long_rows, firms


def _fold_typology(f: int, fb, mm: MeasurementMap, obs: Mapping[int, pd.DataFrame], fam: pd.Series,
                   labels: pd.Series, train: Sequence[str], test: Sequence[str]) -> list[dict]:
    """Typology of the held-out clusters: the model (classifier refitted on ``train``), persistence, family mode."""
    clf = TypologyClassifier().fit(obs[2020].loc[train, list(INDEX_COLUMNS)], labels.loc[train])
    frames = published_frames(fb, mm, 1, 2020)
    mode, share, _ = modal_typology(frames, classifier=clf)
    pers_typ = clf.predict(obs[2010].reindex(test)[list(INDEX_COLUMNS)])
    fam_mode = {}
    for c in test:
        same = labels.loc[[t for t in train if fam[t] == fam[c]]].dropna()
        fam_mode[c] = (same.value_counts().idxmax() if len(same) else labels.loc[train].value_counts().idxmax())
    return [{"id": c, "fold": f, "published": labels.get(c), "model": mode.get(c), "model_share": share.get(c),
             "persistence": pers_typ.get(c) if obs[2010].loc[c].notna().any() else None,
             "family_mode": fam_mode[c]} for c in test]


def _fold_forecasts(f: int, mm: MeasurementMap, means: Mapping[int, pd.DataFrame], obs: Mapping[int, pd.DataFrame],
                    fam: pd.Series, train: Sequence[str], test: Sequence[str]) -> list[dict]:
    """Forecast rows (long) of the held-out clusters: the model and the naive :func:`baselines`."""
    pub = mm.apply(means[2020], 2020)
    pub10 = mm.apply(means[2010], 2010)
    base = baselines(obs, fam, train, test)
    rows = []
    for c in test:
        for k in INDEX_COLUMNS:
            o10 = obs[2010][k].get(c, np.nan)
            o20 = obs[2020][k].get(c, np.nan)
            vals = {"model": pub.loc[c, k], **{n: base[n].loc[c, k] for n in base}}
            for fc, v in vals.items():
                rows.append({"id": c, "fold": f, "index": k, "forecast": fc, "value": float(v),
                             "observed_2010": o10, "observed_2020": o20, "model_2010": float(pub10.loc[c, k])})
    return rows


def case_facts(pred: pd.DataFrame, typ: pd.DataFrame, sim_firms: Mapping[str, tuple[float, float]],
               obs: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Selected case facts ([KRIHS-2020] validation facts S4V, docs/sources.md) checked on out-of-fold
    model predictions."""
    m = pred[pred["forecast"] == "model"].pivot_table(index="id", columns="index", values="value", aggfunc="first")
    rows = []

    def add(fid, fact, ok, detail):
        rows.append({"fact": fid, "statement": fact, "reproduced": None if ok is None else bool(ok), "detail": detail})

    def rank_top(c, k, top):
        if c not in m.index:
            return None, "not predicted"
        r = int(m[k].rank(ascending=False)[c])
        return r <= top, f"predicted rank {r} of {len(m)}"

    def typ_of(c):
        t = typ.set_index("id")
        return t.loc[c, "model"] if c in t.index else None

    w = "wonju_medical_devices"
    ok, det = rank_top(w, "specialization", 5)
    add("S4V-6", "Wonju (from a nascent 2010 start) has one of the highest specialisation scores in 2020 (top 5)", ok, det)
    ok, det = rank_top(w, "internal_cohesion", 10)
    add("S4V-1/5", "Wonju's internal cohesion is high in 2020 (top 10)", ok, det)
    t = typ_of(w)
    add("S4V-6", "Wonju is path-locked in 2020", None if t is None else t == "path_locked", f"model typology: {t}")
    j = "jeonju_machinery"
    if j in m.index:
        o10 = obs[2010].loc[j]
        add("S4V-7", "Jeonju's related variety rises 2010 -> 2020 (0.596 -> 0.743)",
            m.loc[j, "related_variety"] > o10["related_variety"],
            f"predicted {m.loc[j, 'related_variety']:.3f} vs 2010 {o10['related_variety']:.3f}")
        add("S4V-7", "Jeonju's external linkage falls (-0.886 -> -3.156)",
            m.loc[j, "external_linkage"] < o10["external_linkage"],
            f"predicted {m.loc[j, 'external_linkage']:.3f} vs 2010 {o10['external_linkage']:.3f}")
        add("S4V-7", "Jeonju's hierarchy rises (0.750 -> 1.674)", m.loc[j, "hierarchy"] > o10["hierarchy"],
            f"predicted {m.loc[j, 'hierarchy']:.3f} vs 2010 {o10['hierarchy']:.3f}")
        t = typ_of(j)
        add("table 3-11", "Jeonju is resilient in 2020", None if t is None else t == "resilient", f"model typology: {t}")
    e = "euljiro_urban_manufacturing"
    if e in m.index:
        o10 = obs[2010].loc[e]
        f0, f1 = sim_firms.get(e, (np.nan, np.nan))
        add("S4V-3", "Euljiro shrinks 2010 -> 2020 (firm count falls)", f1 < f0, f"simulated firms {f0:.0f} -> {f1:.0f}")
        add("S4V-9", "Euljiro's heterophily falls (0.802 -> 0.369)", m.loc[e, "heterophily"] < o10["heterophily"],
            f"predicted {m.loc[e, 'heterophily']:.3f} vs 2010 {o10['heterophily']:.3f}")
        add("S4V-9", "Euljiro's related variety falls (0.370 -> 0.120)",
            m.loc[e, "related_variety"] < o10["related_variety"],
            f"predicted {m.loc[e, 'related_variety']:.3f} vs 2010 {o10['related_variety']:.3f}")
        t = typ_of(e)
        add("table 3-11", "Euljiro is resilient in 2020", None if t is None else t == "resilient", f"model typology: {t}")
    return pd.DataFrame(rows)


def markdown_report(out: str | os.PathLike) -> str:
    """The validation tables of a ``clustersim validate`` folder as markdown (used in docs/calibration.md)."""
    out = Path(out)
    met = pd.read_csv(out / "cv_metrics.csv")
    allm = pd.read_csv(out / "cv_metrics_all.csv")
    typ = pd.read_csv(out / "cv_typology.csv")
    facts = pd.read_csv(out / "case_facts.csv")
    lines = ["| index | n | RMSE model | RMSE persistence | RMSE family mean | RMSE linear persistence | "
             "ρ model | ρ persistence | ρ family mean | ρ linear persistence |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in met.itertuples():
        rm = [getattr(r, f"rmse_{f}") for f in FORECASTS]
        best = int(np.nanargmin(rm))
        cells = [f"**{v:.2f}**" if i == best else f"{v:.2f}" for i, v in enumerate(rm)]
        rho = [f"{getattr(r, f'rho_{f}'):.2f}" for f in FORECASTS]
        lines.append(f"| {r.index} | {r.n} | " + " | ".join(cells) + " | " + " | ".join(rho) + " |")
    lines += ["", "Model on every held-out cluster (including the three without 2010 values):", "",
              "| index | n | RMSE model | ρ model |", "|---|---|---|---|"]
    for r in allm.itertuples():
        lines.append(f"| {r.index} | {r.n} | {r.rmse_model:.2f} | {r.rho_model:.2f} |")
    lines += ["", "| typology forecast | correct | of |", "|---|---|---|"]
    for c, name in (("model", "calibrated model (most frequent over replicates)"),
                    ("persistence", "classifier applied to the 2010 published values"),
                    ("family_mode", "most frequent typology of the training clusters of the family")):
        ok = typ[c].notna()
        lines.append(f"| {name} | {int((typ.loc[ok, c] == typ.loc[ok, 'published']).sum())} | {int(ok.sum())} |")
    lines += ["", "| fact | statement | reproduced | detail |", "|---|---|---|---|"]
    for r in facts.itertuples():
        rep = {True: "yes", False: "no"}.get(r.reproduced, "n/a") if isinstance(r.reproduced, (bool, np.bool_)) \
            else ("yes" if str(r.reproduced) == "True" else "no" if str(r.reproduced) == "False" else "n/a")
        lines.append(f"| {r.fact} | {r.statement} | {rep} | {r.detail} |")
    return "\n".join(lines) + "\n"

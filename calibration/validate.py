"""Out-of-sample validation: k-fold cross-validation over clusters against statistical baselines.

For each fold the estimator (:mod:`calibration.estimator`) is refitted on the other folds'
clusters only: their published 2020 values enter the loss, the 2020 measurement map and the
typology classifier (refitted on the training clusters' published 2020 indices and labels).
The held-out clusters are then predicted from their 2010 state (the set-up fitted on 2010
values only) and their observable characteristics (sector family, 2020 firm count): the
calibrated model is run 2010 -> 2020 and the simulated raw indices are put through the
training map into the published scale.

Forecasts compared, per index, in the published scale (pooled over folds): ``model``, the
calibrated model as above (ensemble mean), and the statistical baselines of
:mod:`calibration.benchmarks`, each fitted on the fold's training clusters only:

* ``persistence``: 2020 = 2010 (defined where the cluster has 2010 values);
* ``training_mean``: the mean 2020 value of the training clusters;
* ``family_mean``: the mean 2020 value of the training clusters of the same sector family
  (the training mean when the family has no training cluster);
* ``linear_persistence``: 2020 = a + b * 2010, OLS on the training clusters (it learns the
  shift and the regression to the mean that the model's measurement map also absorbs);
* ``size_regression``: 2020 = a + b * 2010 + c * log(firms 2020), OLS on the training clusters
  (it uses the 2020 firm count, as the model does).

Metrics (:func:`calibration.benchmarks.benchmark_table`), on the clusters where every forecast is
defined (clusters with 2010 values): RMSE and Spearman rank correlation against the published
2020 values; the best baseline (lowest RMSE), the model's skill score
``1 - MSE(model) / MSE(best)`` and the paired cluster-bootstrap 90 % interval of
``RMSE(model) - RMSE(best)``; the Spearman correlation of simulated and observed 2010 -> 2020
changes of within-year z-scores (``rho_change``). Also the typology hit rate and selected case
facts, changes judged within year. The initial Sobol design is shared by the folds (it does not
depend on the data); every adaptive round and the estimate are fold-specific. The eight withheld
clusters are never used.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from calibration.benchmarks import BASELINES, LABELS, baseline_forecasts, benchmark_table, within_year_z
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

__all__ = ["cross_validate", "baselines", "metrics_table", "case_facts", "markdown_report", "FORECASTS"]

FORECASTS = ("model", *BASELINES)


def folds_of(ids: Sequence[str], k: int, seed: int) -> list[list[str]]:
    """Random partition of ``ids`` into ``k`` folds (seeded, file order inside each fold)."""
    if not 2 <= k <= len(ids):
        raise ParameterError(f"--folds must be between 2 and the number of clusters ({len(ids)}), got {k}")
    rng = np.random.default_rng(seed)
    perm = list(np.array(ids, dtype=object)[rng.permutation(len(ids))])
    parts = [sorted(p, key=list(ids).index) for p in np.array_split(np.array(perm, dtype=object), k)]
    return [list(p) for p in parts]


def baselines(obs: Mapping[int, pd.DataFrame], family: pd.Series, train: Sequence[str],
              test: Sequence[str], log_size: pd.Series | None = None) -> dict[str, pd.DataFrame]:
    """Statistical forecasts of ``test`` clusters' 2020 values from ``train`` clusters (published scale).

    See :func:`calibration.benchmarks.baseline_forecasts`; ``log_size`` is ``log(firms_2020)`` by
    cluster id (without it the ``size_regression`` forecast is NaN).
    """
    cols = [k for k in TARGETS_2020 if k in obs[2020].columns]  # the six indices and the raw-unit targets
    return baseline_forecasts(obs[2010].reindex(columns=cols), obs[2020][cols], family, train, test, log_size)


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
    observed_2010, observed_2020, model_2010), ``cv_metrics.csv`` (the benchmark table of
    :func:`calibration.benchmarks.benchmark_table`), ``cv_metrics_all.csv`` (the model on every
    held-out cluster, including those without 2010 values), ``cv_typology.csv``,
    ``case_facts.csv``, ``validation.json`` ("beats": per index the best baseline, the model's
    skill score and the bootstrap interval of the RMSE difference). Returns a summary dict.
    """
    t0 = time.perf_counter()
    data = data or load_all()
    ids = resolve_fit_clusters(data, clusters, exclude)
    obs = observed_targets(data, cfg)
    fam = data.clusters.set_index("id")["sector_family"]
    labels = data.clusters.set_index("id")["typology_2020"]
    log_size = np.log(data.economics.set_index("id")["firms"].astype(float))
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
                                                   labels, log_size, store, shared, n_jobs=n_jobs, backend=backend,
                                                   scheduler=scheduler, resume=resume, progress=progress)
        est_rows.append(est_row)
        typ_rows += t_rows
        long_rows += l_rows
        sim_firms.update(firms)
    pred = pd.DataFrame(long_rows)
    met = benchmark_table(pred, obs[2020], BASELINES, seed=cfg.seed)
    met_all = metrics_table(pred[pred["forecast"] == "model"], obs[2020], common=False)
    typ = pd.DataFrame(typ_rows)
    facts = case_facts(pred, typ, sim_firms, obs)
    summary = {
        "mode": cfg.mode, "folds": [list(p) for p in parts], "config": cfg.to_dict(),
        "fold_estimates": est_rows,
        "beats": beats_summary(met),
        "typology_hits": {c: f"{int((typ[c] == typ['published']).sum())}/{int(typ[c].notna().sum())}"
                          for c in ("model", "persistence", "family_mode")},
        "case_facts": facts.to_dict(orient="records"),
        "wall_time_s": round(time.perf_counter() - t0, 1),
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
        log(progress, f"wrote {out_p / 'cv_metrics.csv'} and friends in {time.perf_counter() - t0:.0f}s")
    summary["metrics"] = met
    summary["typology"] = typ
    summary["predictions"] = pred
    summary["facts"] = facts
    return summary


def _run_fold(f: int, n_folds: int, test: Sequence[str], ids: Sequence[str], cfg: Config, data, problem: Problem,
              states, obs: Mapping[int, pd.DataFrame], fam: pd.Series, labels: pd.Series, log_size: pd.Series,
              store: Path | None,
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
    long_rows = _fold_forecasts(f, mm, means, obs, fam, train, test, log_size)
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
                    fam: pd.Series, train: Sequence[str], test: Sequence[str],
                    log_size: pd.Series | None = None) -> list[dict]:
    """Forecast rows (long) of the held-out clusters: the model and the statistical :func:`baselines`."""
    frames = {"model": mm.apply(means[2020], 2020), **baselines(obs, fam, train, test, log_size)}
    return forecast_rows(f, frames, obs, mm.apply(means[2010], 2010), test).to_dict(orient="records")


def forecast_rows(f: int, frames: Mapping[str, pd.DataFrame], obs: Mapping[int, pd.DataFrame],
                  model_2010: pd.DataFrame, test: Sequence[str]) -> pd.DataFrame:
    """The long prediction table of fold ``f``: ``id, fold, index, forecast, value, observed_2010,
    observed_2020, model_2010`` (cluster, then index, then forecast in the order of ``frames``); the
    six published indices, then the raw-unit targets (2020 only: no 2010 value)."""
    cols = list(TARGETS_2020)
    test = pd.Index(list(test), name="id")

    def long(frame: pd.DataFrame, name: str) -> pd.DataFrame:
        wide = frame.reindex(index=test, columns=cols).astype(float).rename_axis(index="id", columns=None)
        return wide.reset_index().melt(id_vars="id", var_name="index", value_name=name)

    key = ["id", "index"]
    out = pd.concat([long(fr, "value").assign(forecast=n) for n, fr in frames.items()], ignore_index=True)
    for name, frame in (("observed_2010", obs[2010]), ("observed_2020", obs[2020]), ("model_2010", model_2010)):
        out = out.merge(long(frame, name), on=key, how="left")
    out["fold"] = f
    order = {"id": {c: i for i, c in enumerate(test)}, "index": {k: i for i, k in enumerate(cols)},
             "forecast": {n: i for i, n in enumerate(frames)}}
    out = out.sort_values(["id", "index", "forecast"], key=lambda c: c.map(order[c.name]), kind="stable")
    return out[["id", "fold", "index", "forecast", "value", "observed_2010", "observed_2020", "model_2010"]] \
        .reset_index(drop=True)


#: Case facts about a 2010 -> 2020 change: (item, cluster, short name, index, direction +1 rises / -1 falls).
CHANGE_FACTS: tuple[tuple[str, str, str, str, int], ...] = (
    ("S4V-7", "jeonju_machinery", "Jeonju", "related_variety", +1),
    ("S4V-7", "jeonju_machinery", "Jeonju", "external_linkage", -1),
    ("S4V-7", "jeonju_machinery", "Jeonju", "hierarchy", +1),
    ("S4V-9", "euljiro_urban_manufacturing", "Euljiro", "heterophily", -1),
    ("S4V-9", "euljiro_urban_manufacturing", "Euljiro", "related_variety", -1),
)


def change_z(pred: pd.DataFrame, obs: Mapping[int, pd.DataFrame], k: str) -> pd.DataFrame:
    """Within-year z-scores of index ``k`` among the predicted clusters with all four values.

    Columns ``obs_2010, obs_2020`` (published values) and ``model_2010, model_2020`` (the model's
    out-of-fold 2010 fit and 2020 forecast, published scale), each z-scored separately
    (:func:`calibration.benchmarks.within_year_z`) on the clusters where the four are finite.
    """
    m = pred[(pred["forecast"] == "model") & (pred["index"] == k)].drop_duplicates("id").set_index("id")
    df = pd.DataFrame({"obs_2010": obs[2010][k].reindex(m.index), "obs_2020": obs[2020][k].reindex(m.index),
                       "model_2010": m["model_2010"], "model_2020": m["value"]}).astype(float)
    return within_year_z(df[np.isfinite(df).all(axis=1)])


def _change_fact(fid: str, c: str, name: str, k: str, sign: int, pred: pd.DataFrame,
                 obs: Mapping[int, pd.DataFrame]) -> dict:
    """A change fact judged on within-year z-scores: does the observed change, and the model's, go ``sign``'s way?"""
    verb = "rises" if sign > 0 else "falls"
    o10, o20 = obs[2010][k].get(c, np.nan), obs[2020][k].get(c, np.nan)
    fact = (f"{name}'s within-year z-score of {k.replace('_', ' ')} {verb} from 2010 to 2020 "
            f"(published {o10:.3f} -> {o20:.3f})")
    z = change_z(pred, obs, k)
    if c not in z.index:
        return {"fact": fid, "statement": fact, "observed_within_year": None, "reproduced": None,
                "detail": "not predicted"}
    zc = z.loc[c]
    d_obs, d_mod = zc["obs_2020"] - zc["obs_2010"], zc["model_2020"] - zc["model_2010"]
    detail = (f"observed z {zc['obs_2010']:+.2f} -> {zc['obs_2020']:+.2f} ({d_obs:+.2f}); "
              f"model z {zc['model_2010']:+.2f} -> {zc['model_2020']:+.2f} ({d_mod:+.2f}); n = {len(z)}")
    return {"fact": fid, "statement": fact, "observed_within_year": bool(sign * d_obs > 0),
            "reproduced": bool(sign * d_mod > 0), "detail": detail}


def case_facts(pred: pd.DataFrame, typ: pd.DataFrame, sim_firms: Mapping[str, tuple[float, float]],
               obs: Mapping[int, pd.DataFrame]) -> pd.DataFrame:
    """Selected case facts ([KRIHS-2020] validation facts S4V, docs/sources.md) checked on out-of-fold
    model predictions.

    Rank and typology facts are judged on the 2020 predictions. Facts about a 2010 -> 2020 change
    of an index (S4V-7, S4V-9) are judged within year, since the two years' published scores are
    standardised against different references: on z-scores among the predicted clusters
    (:func:`change_z`), for the observed values (column ``observed_within_year``: does the
    published fact hold within year?) and for the model's out-of-fold 2010 fit and 2020
    forecast (``reproduced``). Firm counts are compared as counts.
    """
    m = pred[pred["forecast"] == "model"].pivot_table(index="id", columns="index", values="value", aggfunc="first")
    rows = []

    def add(fid, fact, ok, detail):
        rows.append({"fact": fid, "statement": fact, "observed_within_year": None,
                     "reproduced": None if ok is None else bool(ok), "detail": detail})

    def rank_top(c, k, top):
        if c not in m.index:
            return None, "not predicted"
        r = int(m[k].rank(ascending=False)[c])
        return r <= top, f"predicted rank {r} of {len(m)}"

    def typ_of(c):
        t = typ.set_index("id")
        return t.loc[c, "model"] if c in t.index else None

    def changes(c):
        rows.extend(_change_fact(*spec, pred, obs) for spec in CHANGE_FACTS if spec[1] == c)

    w = "wonju_medical_devices"
    ok, det = rank_top(w, "specialization", 5)
    add("S4V-6", "Wonju (from a nascent 2010 start) has one of the highest specialisation scores in 2020 (top 5)", ok, det)
    ok, det = rank_top(w, "internal_cohesion", 10)
    add("S4V-1/5", "Wonju's internal cohesion is high in 2020 (top 10)", ok, det)
    t = typ_of(w)
    add("S4V-6", "Wonju is path-locked in 2020", None if t is None else t == "path_locked", f"model typology: {t}")
    j = "jeonju_machinery"
    if j in m.index:
        changes(j)
        t = typ_of(j)
        add("table 3-11", "Jeonju is resilient in 2020", None if t is None else t == "resilient", f"model typology: {t}")
    e = "euljiro_urban_manufacturing"
    if e in m.index:
        f0, f1 = sim_firms.get(e, (np.nan, np.nan))
        add("S4V-3", "Euljiro shrinks 2010 -> 2020 (firm count falls)", f1 < f0, f"simulated firms {f0:.0f} -> {f1:.0f}")
        changes(e)
        t = typ_of(e)
        add("table 3-11", "Euljiro is resilient in 2020", None if t is None else t == "resilient", f"model typology: {t}")
    return pd.DataFrame(rows)


def beats_summary(met: pd.DataFrame) -> dict:
    """Per index, the model against the best baseline (``validation.json`` "beats"): the baseline, the skill
    score ``1 - MSE(model)/MSE(best)``, ``RMSE(model) - RMSE(best)`` and its bootstrap interval."""
    return {r["index"]: {"best_baseline": r["best_baseline"], "skill": r["skill"], "diff_rmse": r["diff_rmse"],
                         "interval_90": [r["diff_lo"], r["diff_hi"]]} for r in met.to_dict(orient="records")}


def markdown_report(out: str | os.PathLike) -> str:
    """The validation tables of a ``clustersim validate`` folder as markdown (used in docs/calibration.md)."""
    out = Path(out)
    met = pd.read_csv(out / "cv_metrics.csv")
    allm = pd.read_csv(out / "cv_metrics_all.csv")
    typ = pd.read_csv(out / "cv_typology.csv")
    facts = pd.read_csv(out / "case_facts.csv")
    lines = levels_lines(met)
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
    held = facts["observed_within_year"] if "observed_within_year" in facts else pd.Series(None, index=facts.index)
    lines += ["", "| fact | statement | observed within year | model reproduces | detail |", "|---|---|---|---|---|"]
    for r, h in zip(facts.itertuples(), held):
        lines.append(f"| {r.fact} | {r.statement} | {_yes_no(h)} | {_yes_no(r.reproduced)} | {r.detail} |")
    return "\n".join(lines) + "\n"


def _yes_no(v) -> str:
    """``yes``, ``no`` or ``n/a`` for a boolean read back from a CSV (True, False, "True", NaN, None)."""
    return {"True": "yes", "False": "no"}.get(str(v), "n/a")


def _num(v, spec: str = ".2f") -> str:
    """A table cell: the number, or "–" when it is missing or undefined (no 2010 value, a constant forecast)."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return "–"
    return format(v, spec) if np.isfinite(v) else "–"


def levels_lines(met: pd.DataFrame, scope: str = "pooled over folds", resamples: int = 2000) -> list[str]:
    """The levels table (markdown) of :func:`calibration.benchmarks.benchmark_table`'s output.

    Per index: n, RMSE (ρ) of every forecast (the lowest RMSE in bold), the best baseline, the
    skill score, the 90 % interval of RMSE(model) - RMSE(best baseline), ρ of the within-year
    changes. ``scope`` says which clusters the table is over and ``resamples`` how many
    bootstrap resamples made the intervals (the note under the table).
    """
    fc = [f for f in FORECASTS if f"rmse_{f}" in met.columns]
    lines = ["| index | n | " + " | ".join(LABELS[f] for f in fc) + " | best baseline | skill | "
             "RMSE(model) − RMSE(best), 90 % interval | ρ of changes (model) |",
             "|---|---|" + "---|" * (len(fc) + 4)]
    for r in met.to_dict(orient="records"):
        rm = np.array([r[f"rmse_{f}"] for f in fc], dtype=float)
        best = int(np.nanargmin(rm)) if np.isfinite(rm).any() else -1
        cells = [("–" if not np.isfinite(v) else f"**{v:.2f}**" if i == best else f"{v:.2f}")
                 + ("" if not np.isfinite(v) else f" ({_num(r[f'rho_{f}'])})")
                 for i, (f, v) in enumerate(zip(fc, rm))]
        bb = r.get("best_baseline")
        lines.append(f"| {r['index']} | {r['n']} | " + " | ".join(cells) + f" | {LABELS.get(bb, 'n/a')} | "
                     f"{_num(r.get('skill'))} | {_num(r.get('diff_rmse'), '+.2f')} "
                     f"[{_num(r.get('diff_lo'), '+.2f')}, {_num(r.get('diff_hi'), '+.2f')}] | "
                     f"{_num(r.get('rho_change'))} |")
    lines += ["", (f"Cells: RMSE (Spearman ρ) against the published 2020 values, {scope}, on the clusters "
                   "where every forecast is defined; the lowest RMSE in bold. Skill = 1 − MSE(model) / MSE(best "
                   "baseline), the best baseline chosen on the same clusters (conservative for the model). Interval: "
                   f"paired cluster bootstrap, {resamples} resamples. ρ of changes: Spearman correlation of simulated and "
                   "observed 2010 → 2020 changes of within-year z-scores among the held-out clusters. –: undefined (an "
                   "index published in 2020 only has no 2010 value; a constant forecast has no rank correlation).")]
    return lines

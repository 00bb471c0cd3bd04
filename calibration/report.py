"""The outputs of a calibration: ``params.json`` and the tables of fit, typology and evaluations.

:func:`summarize` turns the final ensemble at the estimate into the measurement maps (the
2020 map on the fitted clusters, the 2010 map on every cluster with 2010 values), the
observed-vs-simulated table ``fit.csv``, the simulated typology ``typology.csv``, the
achieved initial-state fit, the bootstrap intervals of the estimates and the ``params.json``
dict; :func:`write_outputs` writes them (and the figures of :mod:`sim.plots.calibration`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from calibration import engine
from calibration import initial as ini
from calibration.files import json_text, write_csv, write_text
from calibration.loss import SIZE, TARGETS_2010, TARGETS_2020, size_loss
from calibration.measurement import MeasurementMap, rmse, spearman
from calibration.predict import modal_typology, published_frames
from calibration.shipped import FORMAT, current_baseline
from calibration.typology import load_fitted
from sim.core.io import atomic_savefig
from sim.plots.calibration import plot_arrows, plot_fit

__all__ = ["summarize", "write_outputs"]


def summarize(cfg, data, obs, fit_ids, states, setup_hist, problem, est, theta_hat, theta_boot, params_hat,
              model_hat, run_hat, fb: engine.Batch, *, exclude=None, command=None, wall=0.0) -> dict:
    """Assemble ``params.json`` and the tables of a calibration."""
    means = {2010: fb.frame(0, 0), 2020: fb.frame(0, 1)}
    sds = {2010: fb.frame(0, 0, "sd"), 2020: fb.frame(0, 1, "sd")}
    mm, has10 = _measurement_maps(means, obs, fit_ids)
    fit = _fit_table(means, sds, mm, obs, fit_ids, has10)
    size_loss_ = (float(size_loss(means[2020][SIZE].reindex(fit_ids).to_numpy(float)[None, :],
                                  obs[2020][SIZE].reindex(fit_ids).to_numpy(float), np.ones(len(fit_ids)))[0])
                  if SIZE in obs[2020].columns else None)
    typ = _typology_table(fb, mm, data, fit_ids)
    infit = typ[typ["in_fit"] & typ["published"].notna()]
    hits = f"{int((infit['simulated'] == infit['published']).sum())}/{len(infit)}"
    init_fit, fit_2020 = _fit_summaries(fit, mm)
    estimates = _estimates(est.names, problem.bounds, theta_hat, theta_boot)
    evals = _evaluations(problem, est)

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
        "run_params": {**{k: v.default for k, v in engine.RUN_PARAMS.items()}, **run_hat},
        "estimates": estimates,
        "fit_clusters": list(fit_ids),
        "excluded": list(exclude or []),
        "loss": {"total_at_estimate": float(mm.total_loss()) + (size_loss_ or 0.0),
                 "per_moment": {**{f"{y}:{k}": f.loss for y, d in mm.fits.items() for k, f in d.items()},
                                **({f"2020:{SIZE}": size_loss_} if size_loss_ is not None else {})},
                 "best_evaluated": float(est.J.min()), "evaluations": int(len(est.J))},
        "measurement_map": mm.to_dict(),
        "setup": {**states.to_dict(), "spinup": cfg.spinup, "years": cfg.years, "relax": relax,
                  "achieved_rounds": setup_hist.to_dict(orient="list")},
        "initial_state_fit": init_fit.to_dict(orient="records"),
        "fit_2020": fit_2020.to_dict(orient="records"),
        "typology": {"classifier": "sim/indices/typology_fit.json (sim.indices.typology.shipped_classifier)",
                     "rule": clf.rule, "thresholds": list(clf.thresholds_),
                     "published_accuracy": {"in_sample": "18/30", "leave_one_out": "14/30",
                                            "source": "docs/calibration.md, Typology"},
                     "simulated_vs_published_in_fit": hits,
                     "fit": clf.to_dict()},
    }
    return {"params": params_json, "fit": fit, "typology": typ, "initial_fit": init_fit, "evaluations": evals,
            "mm": mm, "batch": fb}


def _measurement_maps(means: Mapping[int, pd.DataFrame], obs: Mapping[int, pd.DataFrame],
                      fit_ids: Sequence[str]) -> tuple[MeasurementMap, list[str]]:
    """The maps of the final ensemble: 2020 on ``fit_ids``, 2010 on every cluster with 2010 values (and those)."""
    mm = MeasurementMap.fit(means, obs, fit_ids, TARGETS_2020)
    # the 2010 map on every cluster with 2010 values (no 2020 information is used)
    has10 = [c for c in obs[2010].dropna(how="all").index if c in means[2010].index]
    mm10 = MeasurementMap.fit({2010: means[2010]}, {2010: obs[2010]}, has10, TARGETS_2010)
    mm.fits[2010] = mm10.fits[2010]
    return mm, has10


def _fit_table(means, sds, mm: MeasurementMap, obs, fit_ids, has10) -> pd.DataFrame:
    """``fit.csv``: observed and simulated (published scale and raw) per cluster, year and index."""
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
    return pd.DataFrame(rows)


def _typology_table(fb: engine.Batch, mm: MeasurementMap, data, fit_ids) -> pd.DataFrame:
    """``typology.csv``: the typology of the simulated 2020 clusters against the published one."""
    frames = published_frames(fb, mm, 1, 2020)
    mode, share, _ = modal_typology(frames)
    pub_typ = data.clusters.set_index("id")["typology_2020"]
    return pd.DataFrame({"cluster": mode.index, "published": pub_typ.reindex(mode.index).to_numpy(),
                         "simulated": mode.to_numpy(), "share": share.to_numpy(),
                         "in_fit": [c in fit_ids for c in mode.index]})


def _fit_summaries(fit: pd.DataFrame, mm: MeasurementMap) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-index fit on the fitted clusters: 2010 (the achieved initial states) and 2020."""
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
    return init_fit, fit_2020


def _estimates(names: Sequence[str], bounds: Mapping[str, tuple[float, float]], theta_hat: np.ndarray,
               theta_boot: np.ndarray) -> dict:
    """Each estimate with its bootstrap mean, sd, 90 % interval and whether it is identified."""
    estimates = {}
    for j, k in enumerate(names):
        lo, hi = bounds[k]
        tb = theta_boot[:, j] if len(theta_boot) else np.array([])
        q05, q95 = (np.quantile(tb, [0.05, 0.95]) if len(tb) else (np.nan, np.nan))
        width = (q95 - q05) / (hi - lo) if len(tb) else np.nan
        estimates[k] = {"value": float(theta_hat[j]), "bootstrap_mean": float(tb.mean()) if len(tb) else None,
                        "bootstrap_sd": float(tb.std(ddof=1)) if len(tb) > 1 else None,
                        "q05": float(q05), "q95": float(q95), "prior": [lo, hi],
                        "interval_share_of_prior": float(width),
                        "identified": bool(width < 0.6) if np.isfinite(width) else None}
    return estimates


def _evaluations(problem, est) -> pd.DataFrame:
    """``evaluations.csv``: every evaluated point, its round, total loss and per-moment losses."""
    evals = pd.DataFrame(problem.to_theta(est.U), columns=list(est.names))
    evals.insert(0, "round", est.rounds)
    evals["loss"] = est.J
    for j, (y, k) in enumerate(est.moments):
        evals[f"L_{y}_{k}"] = est.L[:, j]
    return evals


def write_outputs(result: dict, out: Path, figures: bool = True) -> None:
    """Write the tables, the figures (``fit.png``, ``arrows.png``) and ``params.json`` of :func:`summarize`."""
    out.mkdir(parents=True, exist_ok=True)
    fit = result["fit"].copy()
    write_csv(fit, out / "fit.csv")
    write_csv(result["typology"], out / "typology.csv")
    write_csv(result["initial_fit"], out / "initial_fit.csv")
    write_csv(result["evaluations"], out / "evaluations.csv")
    if figures:
        matplotlib.use("Agg")
        _save(plot_fit(fit, TARGETS_2020, SIZE, rho=_rho_2020(fit)), out / "fit.png")
        _save(plot_arrows(fit, load_fitted()), out / "arrows.png")
    write_text(out / "params.json", json_text(result["params"]))


def _rho_2020(fit: pd.DataFrame) -> dict[str, float]:
    """Spearman correlation of simulated and published 2020 values per index (the panels of ``fit.png``)."""
    g = fit[(fit["year"] == 2020) & fit["observed"].notna()]
    return {k: spearman(g.loc[g["index"] == k, "simulated_mean"], g.loc[g["index"] == k, "observed"])
            for k in TARGETS_2020}


def _save(fig, path: Path) -> None:
    atomic_savefig(path, fig, dpi=120, bbox_inches="tight")
    plt.close(fig)

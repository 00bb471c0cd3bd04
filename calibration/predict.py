"""Prediction with a calibration: ensembles from the 2010 set-up, published-scale indices, modal typology.

:func:`ensemble` runs replicates of the model from the 2010 initial states with given
parameter values; :func:`published_frames` puts each replicate's raw indices through the
measurement map into the published scale, and :func:`modal_typology` classifies them with the
shipped typology classifier and keeps the most frequent label per cluster. :func:`predict`
does all three for a calibration file (``clustersim predict``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from calibration import engine
from calibration import initial as ini
from calibration.files import write_csv
from calibration.measurement import MeasurementMap
from calibration.shipped import calibration_classifier, check_baseline, load_params
from calibration.typology import load_fitted
from sim.data.clusters import check_ids
from sim.data.observed import INDEX_COLUMNS, load_all
from sim.model.params import SCHEMA, ParameterError

__all__ = ["split_theta", "ensemble", "published_frames", "modal_typology", "predict"]


def split_theta(names: Sequence[str], theta: Sequence[float]) -> tuple[dict, dict]:
    """Estimated values split into model parameters and run parameters."""
    model, run = {}, {}
    for k, v in zip(names, theta):
        if k in engine.RUN_PARAMS:
            run[k] = float(v)
        else:
            model[k] = int(round(v)) if SCHEMA[k].kind == "int" else float(v)
    return model, run


def ensemble(params: Mapping, run_params: Mapping, states: ini.InitialStates, cfg_years: float, spinup: float,
             replicates: int, seed: int, store: Path | None, *, n_jobs: int = 1, backend: str = "loky",
             scheduler: str | None = None, resume: bool = False, progress: bool = False) -> engine.Batch:
    """Replicates of the calibrated model from the 2010 set-up (one design row)."""
    run = engine.encode_run(states.model_table(), cfg_years, spinup=spinup, relax=ini.relax_groups(states.knobs))
    rp = {k: v.check(run_params.get(k, v.default), "run parameters") for k, v in engine.RUN_PARAMS.items()}
    design = pd.DataFrame([rp])
    consts = {**dict(params), engine.RUN_KEY: run}
    return engine.run_batch(design, replicates=replicates, seed=seed, store=store, constants=consts,
                            n_jobs=n_jobs, backend=backend, scheduler=scheduler, resume=resume, progress=progress)


def published_frames(batch: engine.Batch, mm: MeasurementMap, when: int, year: int) -> list[pd.DataFrame]:
    """Each replicate's indices in the published scale: list of (clusters x indices) frames."""
    out = []
    for r in range(batch.values.shape[1]):
        raw = pd.DataFrame(batch.values[0, r, when], index=pd.Index(batch.clusters, name="id"),
                           columns=list(batch.outputs))
        out.append(mm.apply(raw, year))
    return out


def modal_typology(frames: Sequence[pd.DataFrame], classifier=None) -> tuple[pd.Series, pd.Series, pd.DataFrame]:
    """Most frequent typology per cluster over replicates, its share, and all replicate labels."""
    clf = classifier or load_fitted()
    labs = pd.DataFrame({r: clf.predict(f[list(INDEX_COLUMNS)]) for r, f in enumerate(frames)})
    mode = labs.apply(lambda row: row.dropna().value_counts().idxmax() if row.notna().any() else None, axis=1)
    share = labs.apply(lambda row: (row == mode[row.name]).mean() if row.notna().any() else np.nan, axis=1)
    return mode, share, labs


def predict(params: str | os.PathLike | dict | None, clusters: Sequence[str] | None = None, *,
            year_from: int = 2010, year_to: int = 2020, replicates: int = 8, seed: int = 1,
            out: str | os.PathLike | None = None, n_jobs: int = 1, backend: str = "loky",
            scheduler: str | None = None, resume: bool = False, progress: bool = False,
            data=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Ensemble prediction of the published indices and typology of ``clusters`` at ``year_to``.

    Returns ``(predicted, replicates)``: one row per cluster (ensemble means in the published
    scale and the most frequent typology) and one row per cluster and replicate. With ``out``
    writes ``predicted.csv`` and ``predicted_replicates.csv`` (runs in ``out/store``).
    """
    d = params if isinstance(params, dict) else load_params(params)
    check_baseline(d, None if isinstance(params, dict) else params)
    data = data or load_all()
    clusters = _check_request(data.cluster_ids(), clusters, year_from, year_to, replicates)
    states = ini.InitialStates.from_dict(d["setup"])
    mm = MeasurementMap.from_dict(d["measurement_map"])
    store = None if out is None else Path(out) / "store"
    if out is not None and not resume and store.exists() and any(store.rglob("*.parquet")):
        raise FileExistsError(f"{out} already holds prediction runs; pass --resume or choose a new --out folder")
    fb = ensemble(d["params"], d.get("run_params", {}), states, float(int(year_to) - 2010),
                  float(d["setup"].get("spinup", 0.0)), replicates, seed, store, n_jobs=n_jobs, backend=backend,
                  scheduler=scheduler, resume=resume, progress=progress)
    pred, rep = _prediction_tables(published_frames(fb, mm, 1, int(year_to)), clusters, calibration_classifier(d))
    if out is not None:
        o = Path(out)
        write_csv(rep, o / "predicted_replicates.csv")
        write_csv(pred, o / "predicted.csv")
    return pred, rep


def _check_request(known: list[str], clusters: Sequence[str] | None, year_from: int, year_to: int,
                   replicates: int) -> list[str]:
    """The clusters of a prediction (default: all ``known``), after checking the request."""
    clusters = check_ids(clusters, pd.DataFrame({"id": known})) if clusters else known
    if int(year_from) != 2010:
        raise ParameterError(f"--from {year_from}: initial states exist for 2010 only (the observed start year)")
    if not 2010 < int(year_to) <= 2100:
        raise ParameterError(f"--to {year_to}: must be a year after 2010 and at most 2100")
    if replicates < 1:
        raise ParameterError(f"replicates must be at least 1, got {replicates}")
    return clusters


def _prediction_tables(frames: Sequence[pd.DataFrame], clusters: Sequence[str],
                       classifier) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per cluster: mean indices and modal typology, one row per cluster and replicate)."""
    mode, share, labs = modal_typology(frames, classifier)
    cols = list(INDEX_COLUMNS)
    reps = []
    for r, f in enumerate(frames):
        g = f.loc[clusters, cols].copy()
        g.insert(0, "replicate", r)
        g.insert(0, "id", g.index)
        g["typology"] = labs.loc[clusters, r].to_numpy()
        reps.append(g.reset_index(drop=True))
    rep = pd.concat(reps, ignore_index=True)
    mean = rep.groupby("id", sort=False)[cols].mean().reindex(clusters)
    pred = mean.reset_index().rename(columns={"index": "id"})
    pred["typology"] = mode.reindex(clusters).to_numpy()
    pred["typology_share"] = share.reindex(clusters).to_numpy()
    return pred, rep

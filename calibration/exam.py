"""The frozen final exam: clusters kept out of every fit and every development decision.

:data:`EXAM_CLUSTERS` are six of the 27 clusters with published 2010 *and* 2020 values, drawn
once (2026-12-02, ``numpy.random.default_rng(20261202).choice(..., 6, replace=False)`` over
those 27 in the data's order) and frozen here as literal ids: they are never drawn again.
``clustersim calibrate --exam`` and ``clustersim validate --exam`` leave them out, so the
cross-validation folds (where development decisions are made) never see them, and
:func:`final_exam` predicts them with a calibration that was not fitted on them and writes one
scorecard: ``scorecard.md`` and ``scorecard.csv`` (the benchmark table of
:func:`calibration.benchmarks.benchmark_table`), ``scorecard_predictions.csv`` and
``scorecard_typology.csv``.

Six clusters make a small exam: the bootstrap intervals are wide, and the scorecard says so.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from calibration import initial as ini
from calibration.benchmarks import benchmark_table
from calibration.files import json_text, write_csv, write_text
from calibration.loss import observed_targets
from calibration.measurement import MeasurementMap
from calibration.predict import ensemble, modal_typology, published_frames
from calibration.shipped import (
    CALIBRATED_FILE,
    calibration_classifier,
    check_baseline,
    load_params,
)
from calibration.validate import FORECASTS, baselines, forecast_rows, levels_lines
from sim.core.provenance import provenance
from sim.data.observed import load_all
from sim.model.params import ParameterError

__all__ = ["EXAM_CLUSTERS", "exam_clusters", "exam_exclusions", "final_exam", "scorecard_markdown"]

#: The frozen exam (see the module docstring). Never change this list.
EXAM_CLUSTERS: tuple[str, ...] = (
    "busan_ulsan_gyeongnam_shipbuilding_auto",
    "daegu_electronics",
    "daegu_gumi_chemicals",
    "daejeon_it_services",
    "gyeonggi_north_textiles",
    "suwon_hwaseong_yongin_electronics",
)


def exam_clusters(d: dict, data) -> list[str]:
    """The clusters a calibration ``d`` can be examined on: those it was not fitted on that have
    published 2020 values (the frozen :data:`EXAM_CLUSTERS` when it was fitted with ``--exam``)."""
    fitted = set(d.get("fit_clusters", []))
    withheld = set(data.withheld_ids())
    out = [c for c in data.cluster_ids() if c not in fitted and c not in withheld]
    if not out:
        raise ParameterError("this calibration was fitted on every cluster with published 2020 values, so no "
                             "cluster is left to examine it on; calibrate with 'clustersim calibrate --exam' "
                             "(it leaves the frozen exam clusters of calibration/exam.py out)")
    return out


def final_exam(params: str | os.PathLike | None, out: str | os.PathLike, *, replicates: int = 8, seed: int = 1,
               n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None, resume: bool = False,
               progress: bool = False, data=None, B: int = 2000) -> dict:
    """Predict the clusters a calibration was not fitted on and write the scorecard.

    The model forecast is the ensemble mean (``replicates`` runs from the 2010 set-up of the
    calibration, published scale through its 2020 measurement map); the baselines
    (:data:`calibration.benchmarks.BASELINES`) are fitted on the calibration's fit clusters.
    Returns ``{"table", "predictions", "typology", "clusters", "meta"}``.
    """
    t0 = time.perf_counter()
    d = load_params(params)
    check_baseline(d, params)
    if params is None:
        name, raw = f"calibration/{CALIBRATED_FILE}", resources.files("calibration").joinpath(CALIBRATED_FILE).read_bytes()
    else:
        name, raw = str(params), Path(params).read_bytes()
    data = data or load_all()
    test = exam_clusters(d, data)
    train = [c for c in d.get("fit_clusters", []) if c not in set(test)]
    obs = observed_targets(data)
    fam = data.clusters.set_index("id")["sector_family"]
    log_size = np.log(data.economics.set_index("id")["firms"].astype(float))
    states = ini.InitialStates.from_dict(d["setup"])
    mm = MeasurementMap.from_dict(d["measurement_map"])
    out = Path(out)
    fb = ensemble(d["params"], d.get("run_params", {}), states, 10.0, float(d["setup"].get("spinup", 0.0)),
                  replicates, seed, out / "store", n_jobs=n_jobs, backend=backend, scheduler=scheduler,
                  resume=resume, progress=progress)
    # the model's forecast as in the cross-validation: the ensemble mean through the measurement map
    frames = {"model": mm.apply(fb.frame(0, 1), 2020), **baselines(obs, fam, train, test, log_size=log_size)}
    pred = forecast_rows(0, {k: frames[k] for k in FORECASTS if k in frames}, obs, mm.apply(fb.frame(0, 0), 2010),
                         test)
    f20 = published_frames(fb, mm, 1, 2020)
    table = benchmark_table(pred, obs[2020], B=B, seed=seed)
    mode, share, _ = modal_typology(f20, classifier=calibration_classifier(d))
    labels = data.clusters.set_index("id")["typology_2020"]
    typ = pd.DataFrame({"id": test, "published": labels.reindex(test).to_numpy(),
                        "model": mode.reindex(test).to_numpy(), "model_share": share.reindex(test).to_numpy()})
    meta = {"calibration": name, "calibration_sha256": hashlib.sha256(raw).hexdigest(),
            "calibration_baseline": d.get("baseline"), "calibration_mode": d.get("mode"),
            "fit_clusters": len(train), "exam_clusters": test, "replicates": replicates, "seed": seed,
            "bootstrap": B, "wall_time_s": round(time.perf_counter() - t0, 1), **provenance()}
    out.mkdir(parents=True, exist_ok=True)
    write_csv(table, out / "scorecard.csv")
    write_csv(pred, out / "scorecard_predictions.csv")
    write_csv(typ, out / "scorecard_typology.csv")
    write_text(out / "scorecard.json", json_text(meta))
    write_text(out / "scorecard.md", scorecard_markdown(table, typ, meta))
    return {"table": table, "predictions": pred, "typology": typ, "clusters": test, "meta": meta}


def scorecard_markdown(table: pd.DataFrame, typ: pd.DataFrame, meta: dict) -> str:
    """The scorecard as markdown: what was examined, the benchmark table, the typology hits."""
    fmt = lambda v: "" if v is None or (isinstance(v, float) and not np.isfinite(v)) else f"{v:.2f}"
    lines = ["# Final exam scorecard", "",
             f"Calibration `{meta['calibration']}` (sha256 `{meta['calibration_sha256'][:12]}…`, mode "
             f"{meta['calibration_mode']}, model baseline run `{str(meta['calibration_baseline'])[:12]}…`), "
             f"fitted on {meta['fit_clusters']} clusters; examined on the {len(meta['exam_clusters'])} it was not "
             f"fitted on: {', '.join(meta['exam_clusters'])}. {meta['replicates']} replicates, seed "
             f"{meta['seed']}, commit `{str(meta.get('git_commit', ''))[:10]}`. With so few clusters every "
             "interval is wide.", "",
             *levels_lines(table, scope="over the exam clusters", resamples=meta["bootstrap"])]
    hits = int((typ["model"] == typ["published"]).sum())
    lines += ["", f"Typology (most frequent over replicates): {hits} of {len(typ)} correct.", "",
              "| cluster | published | model | share |", "|---|---|---|---|"]
    for r in typ.to_dict(orient="records"):
        lines.append(f"| {r['id']} | {r['published']} | {r['model']} | {fmt(r['model_share'])} |")
    return "\n".join(lines) + "\n"


def exam_exclusions(exclude: Sequence[str] | None) -> list[str]:
    """``exclude`` plus the frozen exam clusters (``--exam``), without repeats."""
    return list(dict.fromkeys([*(exclude or []), *EXAM_CLUSTERS]))

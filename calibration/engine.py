"""Simulation runs of the calibration: the picklable task, batches through the experiment store.

Every simulation of the calibration is one *national system* (all 38 clusters and the outside
world) started from the 2010 initial states of :mod:`calibration.initial` and run for
``years`` (default 10: 2010 -> 2020). Runs go through :func:`sim.engine.experiments.run_experiments`,
so each finished run is on disk at once (``<store>/runs/*.parquet``) and an interrupted
calibration resumes without redoing it; parallel evaluation uses joblib (``n_jobs``,
``backend``).

A run returns only what the calibration compares (:data:`OUTPUTS`) at two snapshots, the
observation start (2010, after an optional dynamic spin-up) and the end (2020), in long form
``cluster, step, indicator, value``.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from sim.core.calendar import STEPS_PER_YEAR
from sim.core.schema import Param
from sim.data.clusters import in_canonical_order
from sim.engine.experiments import run_experiments
from sim.engine.runner import release_model
from sim.engine.settings import RunSettings
from sim.model.system import ClusterSystem

__all__ = ["OUTPUTS", "RUN_PARAMS", "run_task", "encode_run", "relax_traits", "Batch", "run_batch"]

#: Raw indicators kept from every run (the six published indices, inclusiveness, links per
#: firm, size and links).
OUTPUTS: tuple[str, ...] = ("specialization", "related_variety", "hierarchy", "heterophily",
                            "internal_cohesion", "external_linkage", "inclusiveness", "links_per_firm",
                            "firms", "links")

#: Key of the per-run configuration (a :class:`~sim.engine.settings.RunSettings` cell) in a run's parameter dict.
RUN_KEY = "_run"


def encode_run(table: pd.DataFrame, years: float, *, spinup: float = 0.0, start_year: float = 2010.0,
               relax: Mapping[str, Sequence[str]] | None = None) -> str:
    """The run configuration: a :class:`~sim.engine.settings.RunSettings` cell.

    ``years`` and ``start_year`` are its fields; ``spinup``, ``relax`` and ``table`` (the
    set-up table in pandas' ``split`` orientation, floats rounded to 12 decimals) its extra
    members.

    Parameters
    ----------
    table : DataFrame
        Per-cluster set-up table: ``id, name_en, sector_family, firms, employees_per_firm,
        firms0`` and per-cluster parameter columns (:class:`sim.model.system.ClusterSystem`
        ``cluster_table``).
    years : float
        Years simulated after the observation start (2010 -> 2020: 10).
    spinup : float
        Years simulated *before* the observation start to build the initial state
        (the model starts at ``start_year - spinup``).
    start_year : float
        Calendar year of the first observation (the "2010" snapshot).
    relax : mapping run parameter -> column names
        Per-cluster columns relaxed towards their cross-cluster median after the first
        snapshot, each group by its run parameter of :data:`RUN_PARAMS` (see :func:`run_task`).
    """
    tab = table.copy()
    for c in tab.columns:
        if tab[c].dtype.kind == "f":
            tab[c] = tab[c].astype(float).round(12)
    return RunSettings(years=float(years), start_year=float(start_year),
                       extra={"spinup": float(spinup), "relax": {k: list(v) for k, v in (relax or {}).items()},
                              "table": json.loads(tab.to_json(orient="split", index=False,
                                                              double_precision=15))}).to_cell()


def decode_table(run: RunSettings) -> pd.DataFrame:
    """The set-up table of a run configuration (:func:`encode_run`)."""
    t = run.extra["table"]
    return pd.DataFrame(t["data"], columns=t["columns"])


#: Calibration-level run parameters (not model parameters), declared like every parameter.
RUN_PARAMS: dict[str, Param] = {p.name: p for p in (
    Param(name="sector_persistence", default=1.0, low=0.0, high=1.0, kind="float", group="calibration",
          doc="share of each cluster's own deviation from the cross-cluster median of its learning set-up "
              "(convergence_rate, recombination_rate) kept after 2010: 1 = the cluster keeps its 2010 "
              "character, 0 = it behaves like the median cluster"),
    Param(name="network_persistence", default=1.0, low=0.0, high=1.0, kind="float", group="calibration",
          doc="the same for the tie-formation set-up (beta_local, external_cost, search_rate, tie_budget, "
              "beta_status)"),
)}


def relax_traits(model, names: Sequence[str], persistence: float) -> None:
    """Move per-cluster parameter values towards their cross-cluster median: v <- m + p (v - m).

    Acts on ``model.cpar`` (per-cluster arrays whose last entry is the outside world, left
    unchanged); values stay inside the schema bounds (a convex combination of valid values).
    """
    C = model.n_clusters
    for k in names:
        arr = model.cpar[k]
        med = float(np.median(arr[:C]))
        arr[:C] = med + float(persistence) * (arr[:C] - med)


def run_task(params: dict, seed: int) -> pd.DataFrame:
    """One national-system run (the model function of :func:`sim.engine.experiments.run_experiments`).

    ``params`` holds model parameter values, the run configuration under ``"_run"``
    (:func:`encode_run`) and optionally the run parameters of :data:`RUN_PARAMS`. The model
    starts ``spinup`` years before ``start_year`` (burn-in, then the full schedule), the first
    snapshot is taken at ``start_year`` (the 2010 state); each group of per-cluster columns in
    ``relax`` is then relaxed by its persistence parameter and the model runs ``years`` more
    years to the second snapshot. Returns ``cluster, step, indicator, value`` for
    :data:`OUTPUTS` at both snapshots.
    """

    params = dict(params)
    run = RunSettings.from_cell(params.pop(RUN_KEY))
    params.pop("experiment", None)
    persist = {k: v.check(params.pop(k, v.default), "run parameters") for k, v in RUN_PARAMS.items()}
    table = in_canonical_order(decode_table(run))  # listing order never changes the numbers
    s0 = int(round(float(run.extra.get("spinup", 0.0)) * STEPS_PER_YEAR))
    s1 = int(round(float(run.years) * STEPS_PER_YEAR))
    model = ClusterSystem(params=params, cluster_table=table, rng=int(seed),
                          start_year=float(run.start_year) - s0 / STEPS_PER_YEAR, record_every=10 ** 9)
    ids = np.array(model.cluster_ids, dtype=object)
    frames = []

    def snap(step: int) -> None:
        ind = dict(model.indices())
        with np.errstate(invalid="ignore", divide="ignore"):
            ind["links_per_firm"] = np.where(np.asarray(ind["firms"], float) > 0,
                                             np.asarray(ind["links"], float) / np.asarray(ind["firms"], float), np.nan)
        for k in OUTPUTS:
            frames.append(pd.DataFrame({"cluster": ids, "step": np.int64(step), "indicator": k,
                                        "value": np.asarray(ind[k], dtype=float)}))

    try:
        for _ in range(s0):
            model.step()
        snap(s0)
        if s1 > 0:
            for name, cols in run.extra.get("relax", {}).items():
                relax_traits(model, cols, persist[name])
            for _ in range(s1):
                model.step()
            snap(s0 + s1)
    finally:
        release_model(model)  # a calibration worker runs thousands of models: let each one go
    return pd.concat(frames, ignore_index=True)


@dataclass
class Batch:
    """Raw outputs of a batch of runs as an array.

    Attributes
    ----------
    values : ndarray, shape (experiments, replicates, 2, clusters, outputs)
        Axis 2: 0 = first step (2010 state), 1 = last step.
    clusters : list of str
    outputs : tuple of str
    design : DataFrame
    """

    values: np.ndarray
    clusters: list[str]
    outputs: tuple[str, ...]
    design: pd.DataFrame

    def mean(self) -> np.ndarray:
        """Ensemble mean over replicates: (experiments, 2, clusters, outputs), NaN-aware."""
        with np.errstate(invalid="ignore"):

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanmean(self.values, axis=1)

    def frame(self, experiment: int, when: int, stat: str = "mean") -> pd.DataFrame:
        """Clusters x outputs table of one experiment at ``when`` (0 first, 1 last step)."""

        v = self.values[experiment, :, when]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            arr = np.nanmean(v, axis=0) if stat == "mean" else np.nanstd(v, axis=0, ddof=1 if v.shape[0] > 1 else 0)
        return pd.DataFrame(arr, index=pd.Index(self.clusters, name="id"), columns=list(self.outputs))


def _to_array(outcomes: pd.DataFrame, n_exp: int, n_rep: int) -> tuple[np.ndarray, list[str]]:
    clusters = list(dict.fromkeys(outcomes["cluster"].tolist()))
    cpos = {c: i for i, c in enumerate(clusters)}
    opos = {k: i for i, k in enumerate(OUTPUTS)}
    vals = np.full((n_exp, n_rep, 2, len(clusters), len(OUTPUTS)), np.nan)
    df = outcomes[outcomes["indicator"].isin(OUTPUTS)]
    last = df.groupby("experiment")["step"].transform("max").to_numpy()
    first_step = df.groupby("experiment")["step"].transform("min").to_numpy()
    step = df["step"].to_numpy()
    first = step == first_step
    when = step == last
    e = df["experiment"].to_numpy(np.int64)
    r = df["replicate"].to_numpy(np.int64)
    c = df["cluster"].map(cpos).to_numpy(np.int64)
    k = df["indicator"].map(opos).to_numpy(np.int64)
    v = df["value"].to_numpy(float)
    vals[e[first], r[first], 0, c[first], k[first]] = v[first]
    vals[e[when], r[when], 1, c[when], k[when]] = v[when]   # a run of 0 years: last = first snapshot
    return vals, clusters


def run_batch(design: pd.DataFrame, *, replicates: int, seed: int, store: str | os.PathLike | None,
              constants: Mapping | None = None, n_jobs: int = 1, backend: str = "loky",
              scheduler: str | None = None, resume: bool = False, progress: bool = False) -> Batch:
    """Run every row of ``design`` for ``replicates`` seeds through the resumable experiment store.

    ``design`` columns are model parameters (and optionally ``_run``); ``constants`` are fixed
    parameters (and optionally ``_run``). With ``store`` given, finished runs are written to
    ``store/runs`` and reused on ``resume``; a store that already holds a *complete* batch is
    reused whether or not ``resume`` is set only when ``resume`` is True.
    """

    design = design.reset_index(drop=True)
    if "experiment" not in design.columns:
        design = design.copy()
        design.insert(0, "experiment", np.arange(len(design), dtype=np.int64))
    backend_eff = backend if (n_jobs or 1) > 1 else "sequential"
    res = run_experiments(run_task, design, replicates=replicates, seed=seed,
                          out_dir=None if store is None else Path(store), backend=backend_eff,
                          n_jobs=n_jobs, scheduler=scheduler, resume=resume, progress=progress,
                          constants=dict(constants or {}))
    vals, clusters = _to_array(res.outcomes, len(design), replicates)
    return Batch(values=vals, clusters=clusters, outputs=OUTPUTS, design=design)

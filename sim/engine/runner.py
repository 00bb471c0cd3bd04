"""Running the model: one replicate, ensembles, and the output folder.

:func:`simulate` is the pure, picklable unit of work: parameters and a seed in,
a tidy indicator table out.  :func:`run` runs an ensemble of replicates through
the experiment engine (:mod:`sim.engine.experiments`, joblib backends), so every
finished replicate is on disk at once and an interrupted run resumes; it
returns the tidy table and, with ``out``, writes

* ``out/indicators.parquet`` with columns
  ``cluster, replicate, step, year, indicator, value, label``;
* ``out/manifest.json``: seed, parameters, clusters, versions, git commit, wall time;
* ``out/store/``: one Parquet file per finished replicate (the resumable store of
  :mod:`sim.engine.experiments`; a resume with a different configuration is refused).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import sys
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.core.io import atomic_write_parquet, atomic_write_text, remove_stale_tmp
from sim.core.provenance import provenance
from sim.data.clusters import check_ids, cluster_table, in_canonical_order
from sim.data.clusters import cluster_table as default_cluster_table
from sim.engine.experiments import run_experiments
from sim.engine.settings import RunSettings
from sim.indices.scores import Labeller
from sim.model.params import ParameterError, validate
from sim.model.system import ClusterSystem

INDICATOR_COLUMNS = ["cluster", "replicate", "step", "year", "indicator", "value", "label"]

#: Constant holding a run's settings (:meth:`sim.engine.settings.RunSettings.to_cell`) for the resume check.
CONFIG_KEY = "_config"


@dataclass(frozen=True)
class BaseModel:
    """A resolved base model: what every run starts from before its own parameter values.

    Built by :func:`scenarios.base.resolve_base` (``"calibrated"``, ``"defaults"`` or a file);
    the engine only applies it.

    Attributes
    ----------
    params : mapping
        Global parameter values over the schema defaults.
    columns : DataFrame or None
        ``id`` and one column per per-cluster parameter (merged into the cluster table).
    record : dict or None
        Provenance for the manifest (``base_model``): source, sha256, values used.
    labeller : Labeller or None
        The scores and typology that go with the base (a calibration's measurement maps and
        classifier); None: :meth:`sim.indices.scores.Labeller.default`.
    """

    params: Mapping = field(default_factory=dict)
    columns: pd.DataFrame | None = None
    record: dict | None = None
    labeller: Labeller | None = None

    def cluster_table(self, explicit=()) -> pd.DataFrame | None:
        """The default cluster table with the per-cluster columns not named in ``explicit``."""
        return base_cluster_table(self.columns, explicit)


def labeller_digest(labeller: Labeller | None) -> str | None:
    """sha256 of a labeller's plain-data form (None for the default labeller)."""
    if labeller is None:
        return None
    return hashlib.sha256(json.dumps(labeller.to_dict(), sort_keys=True).encode()).hexdigest()


def column_records(columns: pd.DataFrame | None, explicit=()) -> list[dict] | None:
    """A base model's per-cluster ``columns`` as JSON records, without the parameters named in
    ``explicit`` (set explicitly, they hold for every cluster); ``None`` if nothing is left."""
    if columns is None:
        return None
    keep = ["id"] + [c for c in columns.columns if c != "id" and c not in set(explicit)]
    return json.loads(columns[keep].to_json(orient="records", double_precision=15)) if len(keep) > 1 else None


def records_table(records) -> pd.DataFrame | None:
    """The default cluster table with per-cluster parameter columns (records) merged in."""
    if not records:
        return None
    return cluster_table().merge(pd.DataFrame(records), on="id", how="left")


def base_cluster_table(columns: pd.DataFrame | None, explicit=()) -> pd.DataFrame | None:
    """The default cluster table with a base model's per-cluster ``columns`` merged in.

    Columns named in ``explicit`` (parameters the user set explicitly, which then hold for
    every cluster) are left out; ``None`` if nothing is left.
    """
    return records_table(column_records(columns, explicit))


def simulate(params: Mapping, seed: int, *, years: float = 10, clusters: Sequence[str] | None = None,
             policies: Sequence = (), start_year: float = 2020.0, record_every: int = 1,
             cluster_table: pd.DataFrame | None = None, labeller=None, progress: bool = False,
             handles: bool = False) -> pd.DataFrame:
    """Run one replicate and return its tidy indicator table.

    Parameters
    ----------
    params : mapping
        Parameter values (validated against :mod:`sim.model.params`).
    seed : int
        Seed of this replicate.
    years : float
        Simulated years (:data:`sim.core.calendar.STEPS_PER_YEAR` steps per year).
    clusters, cluster_table, start_year, record_every, labeller
        Passed to the model (:class:`sim.model.system.ClusterSystem`), the clusters in the order of their ids
        (:func:`sim.data.clusters.in_canonical_order`): the order in which they are listed does
        not change the numbers.
    policies : sequence of Policy
        Built policy plug-ins (objects with the model's policy hooks, e.g. from
        :func:`scenarios.policies.build_policies`); each replicate gets its own copy.
    progress : bool
        Print the simulated year to stderr as the run goes.
    handles : bool
        Run the Mesa model, :class:`sim.model.model.ClusterModel`, with its agent handles
        (same dynamics, slower; imports Mesa), instead of ``ClusterSystem``.

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster, step, year, indicator, value, label``.
    """
    # clusters in the order of their ids, whatever order they were listed in
    table = in_canonical_order(cluster_table if cluster_table is not None else default_cluster_table())
    kind = ClusterSystem
    if handles:
        # on demand: Mesa is imported only for a run with agent handles
        from sim.model.model import ClusterModel

        kind = ClusterModel
    model = kind(params=params, clusters=None if clusters is None else sorted(clusters),
                 cluster_table=table, policies=copy.deepcopy(list(policies)), rng=int(seed), start_year=start_year,
                 record_every=record_every, labeller=labeller)
    try:
        steps = steps_in(years)
        t0 = time.perf_counter()
        for s in range(steps):
            model.step()
            if progress and (s + 1) % STEPS_PER_YEAR == 0:
                el = time.perf_counter() - t0
                eta = el / (s + 1) * (steps - s - 1)
                print(f"\r  year {model.year:.0f}: step {s + 1}/{steps}, {el:.1f}s elapsed, ~{eta:.0f}s left",
                      end="", file=sys.stderr, flush=True)
        if progress and steps:
            print(file=sys.stderr)
        return model.indicators_frame()
    finally:
        release_model(model)


def release_model(model) -> None:
    """Let a model that is no longer needed be freed: drop Mesa's class-level reference to it.

    Mesa 3.3 numbers agents per model in a class attribute, ``mesa.Agent._ids``, a
    ``defaultdict`` keyed by the model object itself, so every model that ever created an
    agent (a :class:`~sim.model.model.ClusterModel` always creates its outside-world agent)
    stays referenced, with all its arrays, for the life of the process.  A worker that runs
    many replicates then grows by a whole model per run until joblib's loky executor takes it
    for a memory leak (300 MB over its size after the first run), replaces the worker and
    warns "A worker stopped while some jobs were given to the executor ...".  Call this when a
    model is finished with (:func:`simulate` does); the model must not create agents afterwards.
    Without Mesa imported (a :class:`~sim.model.system.ClusterSystem` run) there is nothing to drop.
    """
    mesa = sys.modules.get("mesa")
    ids = getattr(getattr(mesa, "Agent", None), "_ids", None)
    if isinstance(ids, MutableMapping):
        ids.pop(model, None)


#: Member of a :class:`~sim.engine.settings.RunSettings` ``extra`` holding a base model's labeller
#: (:meth:`sim.indices.scores.Labeller.to_dict`); absent: the default labeller.
LABELLER_KEY = "labeller"


def simulate_settings(settings: RunSettings, seed: int, policies: Sequence = ()) -> pd.DataFrame:
    """One replicate of ``settings`` (:class:`sim.engine.settings.RunSettings`: its ``params``,
    years, clusters, start year, recording interval, per-cluster columns and, under
    :data:`LABELLER_KEY` of ``extra``, the base model's labeller) with ``policies`` built from
    its specifications by the caller (e.g. :func:`scenarios.policies.build_policies`)."""
    lab = settings.extra.get(LABELLER_KEY)
    return simulate(settings.params or {}, seed, policies=policies,
                    cluster_table=records_table(settings.cluster_columns),
                    labeller=None if lab is None else Labeller.from_dict(lab), **settings.simulate_kwargs())


def labeller_extra(labeller: Labeller | None) -> dict:
    """The ``extra`` member of run settings that carries ``labeller`` (empty for the default one)."""
    return {} if labeller is None else {LABELLER_KEY: labeller.to_dict()}


def _simulate_task(params: dict, seed: int, **kw) -> pd.DataFrame:
    params = dict(params)
    params.pop("scenario", None)   # the design's label column, not a model parameter
    params.pop(CONFIG_KEY, None)   # run settings (a RunSettings cell), recorded so that a resume can check it
    return simulate(params, seed, **kw)


def resolve_setup(params: Mapping, *, base: BaseModel | None = None, base_params: Mapping | None = None,
                  cluster_table: pd.DataFrame | None = None, labeller=None) -> tuple:
    """The validated parameters, cluster table and labeller of a run on a base model, as :func:`run` builds them.

    ``base`` (a resolved base model) goes under ``base_params``, which go under ``params``; a
    per-cluster value of the base is dropped where ``base_params`` or ``params`` set that
    parameter.  Returns ``(params, cluster_table, labeller, base_record)`` (``base_record``:
    the base's file and sha256 for the manifest, None without a base).
    """
    base_record = None
    if base is not None:
        if not isinstance(base, BaseModel):
            raise ParameterError(f"base= takes a resolved base model (scenarios.base.resolve_base({base!r})), "
                                 f"got {type(base).__name__}")
        if cluster_table is not None:
            raise ParameterError("give either base= or cluster_table=, not both (a base model brings its own "
                                 "per-cluster values)")
        explicit = set(base_params or {}) | set(params)
        base_params = {**dict(base.params), **dict(base_params or {})}
        cluster_table = base.cluster_table(explicit)
        base_record = base.record
        labeller = labeller or base.labeller
    under = validate(base_params or {}, source="base parameters") if base_params else None
    return validate(params, source="parameters", base=under), cluster_table, labeller, base_record


def run(years: float = 10, seed: int = 1, replicates: int = 1, *, clusters: Sequence[str] | None = None,
        scale: float | None = None, params: Mapping | None = None, policies: Sequence = (),
        out: str | os.PathLike | None = None, resume: bool = False, n_jobs: int = 1, backend: str = "loky",
        scheduler: str | None = None, start_year: float = 2020.0, record_every: int = 1,
        cluster_table: pd.DataFrame | None = None, progress: bool = True, base_params: Mapping | None = None,
        labeller=None, command: str | None = None, base: BaseModel | None = None) -> pd.DataFrame:
    """Run an ensemble of replicates and return the tidy indicator table.

    Replicate seeds are ``numpy.random.SeedSequence(seed).spawn(replicates)``
    (one stream per replicate, the same streams for every scenario: common
    random numbers), so the result is identical on one core or many and in any
    backend.

    Parameters
    ----------
    years : float
        Simulated years.
    seed : int
        Root seed.
    replicates : int
        Number of replicates.
    clusters : sequence of str, optional
        Cluster ids (default all 38).
    scale : float, optional
        Shortcut for ``params["scale"]``.
    params : mapping, optional
        Parameter overrides (unknown names and out-of-range values raise
        :class:`~sim.model.params.ParameterError`).
    base_params : mapping, optional
        Values overriding the defaults before ``params`` (e.g. calibrated values).
    base : BaseModel, optional
        A resolved base model (:func:`scenarios.base.resolve_base`: ``"calibrated"`` takes the
        shipped calibration's global values and each cluster's own calibrated values, as
        ``clustersim run`` does by default; ``"defaults"``: the schema defaults). Applied
        under ``base_params`` and ``params``; a per-cluster value is dropped where ``params``
        sets that parameter explicitly. Cannot be combined with ``cluster_table``. Recorded in
        the manifest (``base_model``: file and sha256).
    policies : sequence of Policy
        Built policy plug-ins (see :func:`simulate`).
    out : path, optional
        Output folder (see the module docstring).
    resume : bool
        Reuse finished replicates in ``out/runs`` and compute only the missing ones.
    n_jobs, backend : int, str
        Parallel workers and joblib backend (``loky``, ``sequential``, ``dask``, ``ray``); with
        ``n_jobs`` 1 the replicates run one after the other in this process, whatever the backend.
    scheduler : str, optional
        Address of a running dask scheduler (``"tcp://host:8786"``) or Ray cluster for the
        ``dask`` or ``ray`` backend (see :func:`sim.engine.experiments.run_experiments`).

    Returns
    -------
    pandas.DataFrame
        Columns ``cluster, replicate, step, year, indicator, value, label``.
    """

    if replicates < 1:
        raise ParameterError(f"replicates must be at least 1, got {replicates}")
    if not (np.isfinite(years) and 0.25 <= years <= 1000):
        raise ParameterError(f"years must be a number from 0.25 (one quarter) to 1000, got {years}")
    if abs(years * STEPS_PER_YEAR - steps_in(years)) > 1e-9:
        raise ParameterError(f"years must be a whole number of quarters (the model steps by a quarter), got {years}")
    if not 1 <= record_every <= steps_in(years):
        raise ParameterError(f"record_every must be from 1 to the {steps_in(years)} steps of the run, got "
                             f"{record_every} (longer than the run, only the start would be recorded)")
    over = dict(params or {})
    if scale is not None:
        over["scale"] = scale
    full, cluster_table, labeller, base_model = resolve_setup(over, base=base, base_params=base_params,
                                                              cluster_table=cluster_table, labeller=labeller)
    kw = dict(years=years, clusters=list(clusters) if clusters else None, policies=list(policies),
              start_year=start_year, record_every=record_every, cluster_table=cluster_table,
              labeller=labeller)
    # validate the set-up (cluster ids, policies) before any work is started
    _check_setup(full, kw)
    single = replicates == 1 and n_jobs in (1, None)
    func = partial(_simulate_task, progress=progress and single, **kw)
    design = pd.DataFrame([{"scenario": "run"}])
    config = RunSettings(years=years, clusters=kw["clusters"], start_year=start_year, record_every=record_every,
                         policies=[p if isinstance(p, dict) else repr(p) for p in kw["policies"]],
                         extra={"cluster_table": None if cluster_table is None
                                else pd.util.hash_pandas_object(cluster_table, index=False).sum().item(),
                                "labeller": labeller_digest(labeller)}).to_cell(lenient=True)
    t0 = time.perf_counter()
    res = run_experiments(func, design, replicates=replicates, seed=seed,
                          out_dir=None if out is None else Path(out) / "store",
                          backend=backend if n_jobs not in (1, None) else "sequential",
                          n_jobs=n_jobs, scheduler=scheduler, resume=resume, progress=progress and not single,
                          constants={**full, CONFIG_KEY: config})
    df = res.outcomes
    df = df[INDICATOR_COLUMNS].sort_values(["replicate", "step", "indicator", "cluster"], kind="stable")
    df = df.reset_index(drop=True)
    wall = time.perf_counter() - t0
    if out is not None:
        write_outputs(df, out, manifest=manifest(seed=seed, replicates=replicates, params=full, years=years,
                                                 clusters=kw["clusters"], policies=policies,
                                                 start_year=start_year, wall_time=wall,
                                                 seeds=res.seeds, base_model=base_model,
                                                 labeller={"source": (labeller or Labeller.default()).source,
                                                           "sha256": labeller_digest(labeller)},
                                                 command=command))
    return df


def _check_setup(params: dict, kw: dict) -> None:
    if kw["clusters"] is not None:
        check_ids(kw["clusters"], kw["cluster_table"])


def write_outputs(df: pd.DataFrame, out: str | os.PathLike, manifest: dict) -> None:
    """Write ``indicators.parquet`` and ``manifest.json`` atomically (:mod:`sim.core.io`),
    first removing what an interrupted earlier write left behind."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    remove_stale_tmp(out)
    atomic_write_parquet(out / "indicators.parquet", df, index=False)
    atomic_write_text(out / "manifest.json", json.dumps(manifest, indent=2, default=str) + "\n")


def manifest(**kw) -> dict:
    """Provenance record of a run (:func:`sim.core.provenance.provenance`): ``created``, the
    run's fields, ``policies``, ``versions``, ``git_commit``, ``machine``."""
    pol = kw.pop("policies", ())
    prov = provenance()
    return {
        "created": prov["created"],
        **kw,
        "policies": [p if isinstance(p, dict) else repr(p) for p in pol],
        "versions": prov["versions"],
        "git_commit": prov["git_commit"],
        "machine": prov["machine"],
    }

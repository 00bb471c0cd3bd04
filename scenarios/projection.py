"""Scenario projections: ensembles of policy scenarios with common random numbers.

:func:`project` runs every scenario as an ensemble from the 2020 state through the
experiment engine (:func:`sim.engine.experiments.run_experiments`: one design row per
scenario, the same replicate seeds for every row), so replicate ``r`` of every
scenario starts from the same initial population and network and shares its
random stream until the policies act: differences between scenarios are *paired*
differences (common random numbers, CRN).  It writes to ``out``:

* ``indicators.parquet`` -- ``scenario, cluster, replicate, seed, step, year,
  indicator, value, label`` (the tidy table of :func:`sim.engine.runner.simulate` with a
  ``scenario`` column);
* ``effects.csv`` -- scenario-vs-baseline effects at the end of the horizon, the
  mean paired difference per replicate with a t confidence interval
  (:func:`scenarios.effects.effects_table`);
* ``transitions.csv`` -- probability of ending in each typology from each start
  typology, per scenario (:func:`scenarios.effects.transition_table`), and
  ``cluster_outcomes.csv`` -- the same per cluster (:func:`scenarios.effects.cluster_outcomes`);
* ``figures/`` -- fan charts of the centripetal and centrifugal paths per
  cluster, the centripetal-centrifugal plane with trajectories, and a forest
  plot of the effects;
* ``manifest.json`` -- scenarios (file, sha256, policies, parameters), settings,
  seeds, the parameter file, versions, git commit, command and wall time;
  ``scenarios/`` -- copies of the scenario files; ``store/`` -- the resumable
  per-replicate result store of the experiment engine.

``clustersim report DIR`` turns such a folder into one self-contained HTML file
(:mod:`sim.face.report`).

The pieces live in their own modules: :mod:`scenarios.base` (the base model),
:mod:`scenarios.settings` (scenarios, baseline, common settings), :mod:`scenarios.effects`
(the tables), :mod:`scenarios.figures` and :mod:`sim.plots.projection` (the figures);
``python scripts/measure_effects.py`` (:mod:`scenarios.measure`) measures the effect of
every policy on a small system and prints the table quoted in ``docs/policies.md``.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from scenarios.base import (
    CALIBRATED,
    DEFAULT_BASE,
    DEFAULTS,
    column_records,
    load_params_file,
    resolve_base,
)
from scenarios.effects import (
    EFFECT_INDICATORS,
    cluster_outcomes,
    effects_table,
    transition_table,
)
from scenarios.figures import (
    figure_clusters,
    plot_effects,
    plot_fan,
    plot_planes,
    write_figures,
)
from scenarios.policies import build_policies
from scenarios.scenario import SCENARIO_LIMIT, Scenario, ScenarioError, loads
from scenarios.settings import (
    QUICK,
    check_targets,
    load_all,
    resolve_settings,
    with_baseline,
)
from sim.core.io import (
    MB,
    InputFileError,
    atomic_write_csv,
    atomic_write_parquet,
    atomic_write_text,
    read_small_json,
    read_small_text,
    remove_stale_tmp,
)
from sim.core.provenance import provenance
from sim.data.clusters import cluster_ids
from sim.engine.experiments import run_experiments
from sim.engine.runner import labeller_extra, simulate_settings
from sim.engine.settings import RunSettings
from sim.indices.scores import Labeller
from sim.model.params import validate

__all__ = [
    "OUTPUT_COLUMNS", "FORMAT", "Projection", "project", "write_projection", "load_projection", "check_manifest",
    # re-exported from the modules the projection was split into
    "CALIBRATED", "DEFAULTS", "EFFECT_INDICATORS", "QUICK", "load_params_file", "resolve_base", "resolve_settings",
    "effects_table", "transition_table", "cluster_outcomes", "figure_clusters", "plot_fan", "plot_planes",
    "plot_effects",
]

OUTPUT_COLUMNS = ["scenario", "cluster", "replicate", "seed", "step", "year", "indicator", "value", "label"]
FORMAT = "clustersim.projection/1"


@dataclass
class Projection:
    """Result of :func:`project` (or :func:`load_projection`)."""

    indicators: pd.DataFrame
    scenarios: list
    baseline: str
    settings: dict
    manifest: dict = field(default_factory=dict)
    out: Path | None = None

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.scenarios]

    def targeted(self) -> dict[str, list[str]]:
        """Targeted clusters of every scenario (among the simulated ones)."""
        sim_ids = self.simulated_clusters
        return {s.name: s.targeted_clusters(sim_ids) for s in self.scenarios}

    @property
    def simulated_clusters(self) -> list[str]:
        return list(dict.fromkeys(self.indicators["cluster"]))

    def effects(self, **kw) -> pd.DataFrame:
        return effects_table(self.indicators, self.baseline, self.targeted(), **kw)

    def transitions(self) -> pd.DataFrame:
        return transition_table(self.indicators)

    def cluster_outcomes(self) -> pd.DataFrame:
        return cluster_outcomes(self.indicators, self.baseline)


def _scenario_task(params: dict, seed: int) -> pd.DataFrame:
    """One replicate of one scenario (the engine's model function; picklable)."""
    settings = RunSettings.from_cell(params["spec"])
    return simulate_settings(settings, seed, build_policies(settings.policies))


def project(scenarios, out: str | os.PathLike | None = None, *, replicates: int | None = None,
            seed: int | None = None, clusters: Sequence[str] | None = None, scale: float | None = None,
            quick: bool = False, params: Mapping | None = None, params_file: str | os.PathLike | None = DEFAULT_BASE,
            baseline: str | None = None, n_jobs: int = 1, backend: str = "loky", scheduler: str | None = None,
            resume: bool = False,
            progress: bool = True, figures: bool = True, command: str | None = None) -> Projection:
    """Project scenarios as ensembles with common random numbers.

    Parameters
    ----------
    scenarios : sequence of str, path or scenarios.Scenario
        Scenario files, built-in names or loaded scenarios.  A baseline is the
        scenario named by ``baseline``, else one named ``baseline``, else one
        without policies, else the built-in baseline is added (with the
        scenarios' common ``[params]``).
    out : path, optional
        Output folder (see the module docstring); ``None`` keeps everything in memory.
    replicates, seed, clusters : optional
        Override the scenarios' settings (which must otherwise agree).
    scale : float, optional
        Override the ``scale`` parameter in every scenario.
    quick : bool
        Small fast run: scale 0.02 and 3 replicates unless given.
    params : mapping, optional
        Parameter values under every scenario's ``[params]`` and over ``params_file``.
    params_file : {"calibrated", "defaults"} or path
        The base model (:func:`scenarios.base.resolve_base`): by default the shipped calibration,
        with each cluster's own calibrated values; a scenario's ``[params]`` (or
        ``params``) naming a per-cluster parameter sets it for every cluster.
    n_jobs, backend : int, str
        Parallel workers and joblib backend (with ``n_jobs`` 1 the runs go one after the other in
        this process).
    scheduler : str, optional
        Address of a running dask scheduler or Ray cluster for the ``dask`` or ``ray`` backend.
    resume : bool
        Reuse finished replicates in ``out/store``.
    progress : bool
        Progress on stderr: the run counter, then one line per figure.
    figures : bool
        Write the figures (needs ``out``).

    Returns
    -------
    Projection
    """

    t0 = time.perf_counter()
    scen, base_name, added = with_baseline(load_all(scenarios), baseline)
    st = resolve_settings(scen, replicates=replicates, seed=seed, clusters=clusters, scale=scale, quick=quick)
    b = resolve_base(params_file)
    base = dict(b.params)
    if params:
        validate(params, source="params")
        base.update(params)
    design, full_params = _design(scen, st, base, b.columns, params, b.labeller)
    n_workers = n_jobs if n_jobs not in (None, 0) else 1
    res = run_experiments(_scenario_task, design, replicates=st["replicates"], seed=st["seed"],
                          out_dir=None if out is None else Path(out) / "store",
                          backend=backend if n_workers != 1 else "sequential",
                          n_jobs=n_workers, scheduler=scheduler, resume=resume, progress=progress)
    df = _indicators(res, scen)
    st["seeds"] = list(res.seeds)
    prov = provenance()
    manifest = {
        "format": FORMAT,
        "created": prov["created"],
        "command": command,
        "baseline": base_name,
        "baseline_added": added,
        "settings": st,
        "scenarios": [{"name": s.name, "description": s.description, "path": s.path, "sha256": s.sha256,
                       "policies": s.policies, "params": s.params, "full_params": full_params[s.name],
                       "targeted": s.targeted_clusters(st["clusters"] or cluster_ids())} for s in scen],
        "params_file": b.record,
        "base_params": base,
        "typology_thresholds": _thresholds(b.labeller),
        "versions": prov["versions"],
        "git_commit": prov["git_commit"],
        "machine": prov["machine"],
        "engine": {"store": "store/", "function": res.manifest.get("function"),
                   "design_hash": res.manifest.get("design_hash"), "counts": res.manifest.get("counts")},
    }
    proj = Projection(indicators=df, scenarios=scen, baseline=base_name, settings=st, manifest=manifest,
                      out=None if out is None else Path(out))
    if out is not None:
        manifest["wall_time_s"] = round(time.perf_counter() - t0, 2)
        write_projection(proj, figures=figures, progress=progress)
    return proj


def _thresholds(labeller) -> list[float] | None:
    """The quadrant thresholds (centripetal, centrifugal) of the labeller the runs use."""
    th = (labeller or Labeller.default()).thresholds
    return None if th is None else [float(x) for x in th]


def _design(scen: list, st: dict, base: dict, columns, params: Mapping | None,
            labeller=None) -> tuple[pd.DataFrame, dict]:
    """The engine's design (one row per scenario, its run settings as a
    :class:`~sim.engine.settings.RunSettings` cell) and each
    scenario's full parameter values; validates every scenario before any work starts."""
    rows, full_params = [], {}
    for s in scen:
        over = {**base, **s.params}
        if st["scale"] is not None:
            over["scale"] = st["scale"]
        full = validate(over, source=f"scenario {s.name}")
        full_params[s.name] = full
        check_targets(s, st["clusters"])
        records = column_records(columns, {**(params or {}), **s.params})  # explicit values hold everywhere
        spec = RunSettings(params=full, policies=s.policies, clusters=st["clusters"], years=st["years"],
                           start_year=st["start_year"], record_every=st["record_every"], cluster_columns=records,
                           extra=labeller_extra(labeller))
        s.policy_objects()  # validate before any work starts
        rows.append({"scenario": s.name, "spec": spec.to_cell()})
    return pd.DataFrame(rows), full_params


def _indicators(res, scen: list) -> pd.DataFrame:
    """The engine's outcomes as the projection's tidy table, in scenario order."""
    df = res.outcomes
    names = {int(e): n for e, n in zip(res.design["experiment"], res.design["scenario"])}
    df.insert(0, "scenario", df["experiment"].map(names))
    order = {s.name: i for i, s in enumerate(scen)}
    df = df.assign(_o=df["scenario"].map(order)).sort_values(
        ["_o", "replicate", "step", "indicator", "cluster"], kind="stable")
    return df[OUTPUT_COLUMNS].reset_index(drop=True)


def write_projection(proj: Projection, figures: bool = True, progress: bool = False) -> None:
    """Write the tables, figures, scenario copies and manifest of a projection to ``proj.out``.

    Every file is written atomically (:mod:`sim.core.io`), after removing the temporary
    files an interrupted earlier write left behind; the manifest comes last.  With
    ``progress``, one line per figure on stderr.
    """
    out = proj.out
    out.mkdir(parents=True, exist_ok=True)
    for folder in (out, out / "scenarios", out / "figures"):
        remove_stale_tmp(folder)
    atomic_write_parquet(out / "indicators.parquet", proj.indicators, index=False)
    for name, table in (("effects.csv", proj.effects()), ("transitions.csv", proj.transitions()),
                        ("cluster_outcomes.csv", proj.cluster_outcomes())):
        atomic_write_csv(out / name, table, index=False)
    sdir = out / "scenarios"
    sdir.mkdir(exist_ok=True)
    for s in proj.scenarios:
        atomic_write_text(sdir / f"{s.name}.toml", s.text or f"# {s.name}: no file\n")
    if figures:
        proj.manifest["figures"] = write_figures(proj, out / "figures", progress=progress)
    atomic_write_text(out / "manifest.json", json.dumps(proj.manifest, indent=2, default=str) + "\n")


#: The largest projection manifest read (a 15-scenario projection writes about 100 KB).
MANIFEST_LIMIT = 32 * MB
#: A scenario name as :func:`scenarios.scenario.loads` accepts it (letters, digits, ``_`` and ``-``).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,200}$")


def _bad(mf, what: str, p) -> ScenarioError:
    return ScenarioError(f"{mf}: {what}; the projection folder is damaged: run 'clustersim project ... --out {p}' "
                         f"again")


def check_manifest(manifest, mf, p) -> dict:
    """The projection manifest ``manifest`` (read from ``mf`` in folder ``p``) if the members
    :func:`load_projection` and the report use have the right types; a one-line
    :class:`ScenarioError` otherwise.  Scenario names must be names (letters, digits, ``_``, ``-``):
    they become file names inside the folder."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        got = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ScenarioError(f"{mf}: not a projection manifest (format {str(got)[:60]!r}, expected {FORMAT!r})")
    scen = manifest.get("scenarios")
    if not isinstance(scen, list) or not scen or not all(isinstance(d, dict) for d in scen):
        raise _bad(mf, "'scenarios' must be a non-empty list of objects", p)
    names = []
    for i, d in enumerate(scen):
        name = d.get("name")
        if not isinstance(name, str) or not _NAME.match(name):
            raise _bad(mf, f"scenario {i + 1} has the invalid name {str(name)[:60]!r} (letters, digits, _ and - only)",
                       p)
        if not isinstance(d.get("policies"), list) or not all(isinstance(x, dict) and isinstance(x.get("policy"), str)
                                                               for x in d["policies"]):
            raise _bad(mf, f"scenario {name}: 'policies' must be a list of policy objects", p)
        for key in ("params", "full_params"):
            if not isinstance(d.get(key, {}), dict):
                raise _bad(mf, f"scenario {name}: {key!r} must be an object", p)
        for key in ("path", "description", "sha256"):
            if d.get(key) is not None and not isinstance(d.get(key), str):
                raise _bad(mf, f"scenario {name}: {key!r} must be a string", p)
        if not isinstance(d.get("targeted", []), list):
            raise _bad(mf, f"scenario {name}: 'targeted' must be a list", p)
        names.append(name)
    if len(set(names)) != len(names):
        raise _bad(mf, "a scenario name appears twice", p)
    if manifest.get("baseline") not in names:
        raise _bad(mf, f"the baseline {str(manifest.get('baseline'))[:60]!r} is not one of the scenarios", p)
    st = manifest.get("settings")
    if not isinstance(st, dict):
        raise _bad(mf, "'settings' must be an object", p)
    for key in ("start_year", "end_year", "replicates", "seed", "record_every", "years"):
        v = st.get(key)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not abs(v) < 1e12 or v != v:
            raise _bad(mf, f"settings.{key} must be a number, got {str(v)[:40]!r}", p)
    cl = st.get("clusters")
    if cl is not None and (not isinstance(cl, list) or not all(isinstance(c, str) for c in cl)):
        raise _bad(mf, "settings.clusters must be null or a list of cluster ids", p)
    if not isinstance(st.get("seeds", []), list):
        raise _bad(mf, "settings.seeds must be a list", p)
    for key in ("params_file", "base_params", "engine", "machine", "versions"):
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            raise _bad(mf, f"{key!r} must be an object", p)
    pf = manifest.get("params_file")
    if pf is not None and not (isinstance(pf.get("path"), str) and isinstance(pf.get("sha256"), str)):
        raise _bad(mf, "'params_file' must hold a path and a sha256", p)
    return manifest


def load_projection(path: str | os.PathLike) -> Projection:
    """Read a projection folder written by :func:`project` (manifest checked, files read safely)."""

    p = Path(path)
    mf, ind = p / "manifest.json", p / "indicators.parquet"
    if not p.is_dir() or not mf.exists() or not ind.is_file():
        raise ScenarioError(f"{p} is not a projection folder (no manifest.json / indicators.parquet); "
                            f"run 'clustersim project SCENARIO... --out {p}' first")
    try:
        manifest = check_manifest(read_small_json(mf, limit=MANIFEST_LIMIT, what="projection manifest"), mf, p)
    except InputFileError as exc:
        raise ScenarioError(str(exc)) from None
    try:
        df = pd.read_parquet(ind)
    except Exception as exc:  # noqa: BLE001 - any unreadable table is a damaged folder
        raise _bad(ind, f"cannot read the table ({type(exc).__name__})", p) from None
    missing = [c for c in OUTPUT_COLUMNS if c not in df.columns]
    if missing:
        raise _bad(ind, f"the table lacks column(s) {', '.join(missing)}", p)

    scen = []
    sdir = (p / "scenarios").resolve()
    for d in manifest["scenarios"]:
        copy = p / "scenarios" / f"{d['name']}.toml"
        if copy.resolve().parent != sdir:  # a link pointing out of the folder
            raise _bad(mf, f"the scenario copy {copy} points outside {p / 'scenarios'}", p)
        try:
            text = read_small_text(copy, limit=SCENARIO_LIMIT, what="scenario copy") if copy.exists() else ""
        except InputFileError as exc:
            raise ScenarioError(str(exc)) from None
        try:
            s = loads(text, source=str(copy), default_name=d["name"])
        except ScenarioError:
            s = Scenario(name=d["name"], text=text)
        # the manifest is the record of what ran (an added baseline's copy keeps its file's settings)
        s.name, s.path, s.description = d["name"], d.get("path"), d.get("description", s.description)
        s.policies, s.params = d["policies"], d.get("params", {})
        scen.append(s)
    return Projection(indicators=df, scenarios=scen, baseline=manifest["baseline"],
                      settings=manifest["settings"], manifest=manifest, out=p)

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
  (:func:`effects_table`);
* ``transitions.csv`` -- probability of ending in each typology from each start
  typology, per scenario (:func:`transition_table`), and
  ``cluster_outcomes.csv`` -- the same per cluster (:func:`cluster_outcomes`);
* ``figures/`` -- fan charts of the centripetal and centrifugal paths per
  cluster, the centripetal-centrifugal plane with trajectories, and a forest
  plot of the effects;
* ``manifest.json`` -- scenarios (file, sha256, policies, parameters), settings,
  seeds, the parameter file, versions, git commit, command and wall time;
  ``scenarios/`` -- copies of the scenario files; ``store/`` -- the resumable
  per-replicate result store of the experiment engine.

``clustersim report DIR`` turns such a folder into one self-contained HTML file
(:mod:`sim.face.report`).

``python -m scenarios.projection --measure-effects`` measures the effect of every
policy on a small system and prints the table quoted in ``docs/policies.md``.
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import json
import math
import os
import platform
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

from calibration.shipped import CALIBRATED_FILE, scenario_base
from calibration.shipped import FORMAT as CAL_FORMAT
from scenarios.scenario import Scenario, ScenarioError, load, loads
from sim.data.clusters import check_ids, cluster_ids, cluster_table
from sim.engine.experiments import run_experiments
from sim.engine.runner import git_commit, package_versions, simulate
from sim.indices.scores import TYPOLOGIES
from sim.model.params import SCHEMA, ParameterError, validate
from sim.plots.scores import _pick_clusters

__all__ = [
    "EFFECT_INDICATORS", "Projection", "project", "load_params_file", "resolve_base", "base_cluster_table",
    "resolve_settings",
    "effects_table", "transition_table", "cluster_outcomes", "plot_fan", "plot_planes",
    "plot_effects", "load_projection", "figure_clusters", "measure_effects",
]

#: Indicators of the effect table, in order.
EFFECT_INDICATORS = ("centripetal", "centrifugal", "firms", "employment", "specialization", "hierarchy",
                     "internal_cohesion", "related_variety", "heterophily", "external_linkage",
                     "inclusiveness")
OUTPUT_COLUMNS = ["scenario", "cluster", "replicate", "seed", "step", "year", "indicator", "value", "label"]
QUICK = {"scale": 0.02, "replicates": 3}
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


# ----------------------------------------------------------------------------- inputs
def load_params_file(path: str | os.PathLike) -> dict:
    """Parameter values from a JSON file, validated against :mod:`sim.model.params`.

    The file holds a JSON object ``{"name": value, ...}``, or an object whose
    ``"params"`` member is such an object (other members, e.g. metadata of a
    calibration, are then ignored).  Returns only the values given.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ParameterError(f"{p}: cannot read the parameter file ({exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParameterError(f"{p}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (ValueError, RecursionError) as exc:  # integers of > 4300 digits, very deep nesting
        what = "nesting too deep" if isinstance(exc, RecursionError) else str(exc).splitlines()[0]
        raise ParameterError(f"{p}: not valid JSON: {what}") from None
    if isinstance(obj, dict) and isinstance(obj.get("params"), dict):
        obj = obj["params"]
    if not isinstance(obj, dict):
        raise ParameterError(f"{p}: must hold a JSON object of parameter values, e.g. {{\"startup_rate\": 0.04}}")


    out = {}
    for k, v in obj.items():
        if k not in SCHEMA:
            close = difflib.get_close_matches(k, list(SCHEMA), n=2)
            hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ParameterError(f"{p}: unknown parameter {k!r}{hint} (run 'clustersim params' to list "
                                 f"all {len(SCHEMA)} parameters)")
        try:
            out[k] = SCHEMA[k].check(v, str(p))
        except OverflowError:
            raise ParameterError(f"{p}: parameter {k!r} is beyond the range of numbers") from None
    return out


#: ``params_file`` values that name a base instead of a file.
CALIBRATED, DEFAULTS = "calibrated", "defaults"


def resolve_base(source: str | os.PathLike | None = CALIBRATED) -> tuple[dict, "pd.DataFrame | None", dict | None]:
    """The base model under every scenario: global values, per-cluster values, provenance.

    Parameters
    ----------
    source : {"calibrated", "defaults"} or path
        ``"calibrated"`` (the default): the shipped calibration
        (``calibration/calibrated.json``, :func:`calibration.scenario_base`): the fitted
        global values and each cluster's own calibrated set-up values.
        ``"defaults"`` or ``None``: the parameter schema's defaults, the same for every
        cluster. A path: a calibration's ``params.json`` (read as the shipped one) or a
        JSON object of parameter values (:func:`load_params_file`).

    Returns
    -------
    params : dict
    columns : DataFrame or None
        ``id`` and one column per per-cluster parameter (see :data:`sim.model.params.PER_CLUSTER`).
    provenance : dict or None
        For the manifest: the source, its sha256 and the values used.
    """

    if source is None or str(source) == DEFAULTS:
        return {}, None, None
    if str(source) == CALIBRATED:


        text = resources.files("calibration").joinpath(CALIBRATED_FILE).read_bytes()
        params, cols = scenario_base()
        where = f"calibration/{CALIBRATED_FILE} (shipped)"
    else:
        p = Path(source)
        if not p.is_file():
            raise ParameterError(f"--params {source}: no such file (use 'calibrated', 'defaults' or a JSON file)")
        text = p.read_bytes()
        try:
            fmt = json.loads(text).get("format")
        except (ValueError, AttributeError, RecursionError):
            fmt = None

        if fmt == CAL_FORMAT:

            params, cols = scenario_base(p)
        else:
            params, cols = load_params_file(p), None
        where = str(source)
    prov = {"path": where, "sha256": hashlib.sha256(text).hexdigest(), "values": dict(params),
            "per_cluster": None if cols is None else sorted(c for c in cols.columns if c != "id")}
    return dict(params), cols, prov


def _column_records(columns: "pd.DataFrame | None", explicit=()) -> list[dict] | None:
    """The base model's per-cluster ``columns`` as JSON records, without the parameters named in
    ``explicit`` (set explicitly, they hold for every cluster); ``None`` if nothing is left."""
    if columns is None:
        return None
    keep = ["id"] + [c for c in columns.columns if c != "id" and c not in set(explicit)]
    return json.loads(columns[keep].to_json(orient="records", double_precision=15)) if len(keep) > 1 else None


def base_cluster_table(columns: "pd.DataFrame | None", explicit=()) -> "pd.DataFrame | None":
    """The default cluster table with the base model's per-cluster ``columns`` merged in.

    Columns named in ``explicit`` (parameters the user set explicitly, which then hold for
    every cluster) are left out; ``None`` if nothing is left.
    """
    return _cluster_table(_column_records(columns, explicit))


def _cluster_table(columns) -> "pd.DataFrame | None":
    """The default cluster table with per-cluster parameter columns (records) merged in."""
    if not columns:
        return None

    return cluster_table().merge(pd.DataFrame(columns), on="id", how="left")


def _load_all(scenarios) -> list:

    out = []
    for s in scenarios:
        out.append(s if isinstance(s, Scenario) else load(s))
    if not out:
        raise ScenarioError("no scenario given")
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ScenarioError(f"scenario name(s) {', '.join(dup)} given more than once (names must be unique)")
    return out


def _common(scen: list, attr: str, label: str, flag: str):

    vals = {s.name: getattr(s, attr) for s in scen}
    uniq = []
    for v in vals.values():
        if v not in uniq:
            uniq.append(v)
    if len(uniq) > 1:
        desc = ", ".join(f"{n}: {'all' if v is None else v}" for n, v in vals.items())
        hint = f"; pass {flag} to run them on one setting" if flag else ""
        raise ScenarioError(f"scenarios disagree on {label} ({desc}){hint}")
    return uniq[0]


def resolve_settings(scen: list, *, replicates: int | None = None, seed: int | None = None,
                     clusters: Sequence[str] | None = None, scale: float | None = None,
                     quick: bool = False) -> dict:
    """Common settings of a projection: command-line values win, else the scenarios must agree."""

    start = _common(scen, "start_year", "start_year", "")
    end = _common(scen, "end_year", "end_year", "")
    if replicates is None:
        replicates = QUICK["replicates"] if quick else _common(scen, "replicates", "replicates", "--replicates")
    if seed is None:
        seed = _common(scen, "seed", "seed", "--seed")
    if clusters is None:
        clusters = _common(scen, "clusters", "clusters", "--clusters")
    else:

        clusters = check_ids(clusters)
    if scale is None and quick:
        scale = QUICK["scale"]
    if scale is not None:

        scale = SCHEMA["scale"].check(scale, "--scale")
    if int(replicates) < 1:
        raise ScenarioError(f"--replicates must be at least 1, got {replicates}")
    if not 0 <= int(seed) < 2 ** 63:
        raise ScenarioError(f"--seed must be a whole number in [0, 2^63), got {seed}")
    record_every = min(s.record_every for s in scen)
    return {"start_year": int(start), "end_year": int(end), "years": int(end) - int(start),
            "replicates": int(replicates), "seed": int(seed), "clusters": clusters, "scale": scale,
            "record_every": int(record_every), "quick": bool(quick)}


def _with_baseline(scen: list, baseline: str | None) -> tuple[list, str, bool]:
    """The scenarios plus a baseline (the named one, one called 'baseline', one without policies, or added)."""

    names = [s.name for s in scen]
    if baseline is not None:
        if baseline not in names:
            raise ScenarioError(f"--baseline {baseline!r} is not one of the scenarios given ({', '.join(names)})")
        return scen, baseline, False
    if "baseline" in names:
        return scen, "baseline", False
    for s in scen:
        if not s.policies:
            return scen, s.name, False
    b = load("baseline")
    first = scen[0]
    params = [s.params for s in scen]
    b.params = dict(params[0]) if all(p == params[0] for p in params) else {}
    b.start_year, b.end_year, b.replicates, b.seed = first.start_year, first.end_year, first.replicates, first.seed
    b.clusters, b.record_every = first.clusters, first.record_every
    b.path = None
    b.description = f"No policy (added automatically; settings and [params] as {first.name})."
    b.text = (f"# Added automatically by clustersim project: the built-in baseline with the horizon, replicates,\n"
              f"# seed and clusters of scenario {first.name!r} and the scenarios' common [params] {b.params}.\n"
              + b.text)
    return [b, *scen], "baseline", True


# ----------------------------------------------------------------------------- running
def _scenario_task(params: dict, seed: int) -> pd.DataFrame:
    """One replicate of one scenario (the engine's model function; picklable)."""

    spec = json.loads(params["spec"])
    return simulate(spec["params"], seed, years=spec["years"], clusters=spec["clusters"],
                    policies=spec["policies"], start_year=spec["start_year"],
                    record_every=spec["record_every"], cluster_table=_cluster_table(spec.get("cluster_columns")))


def project(scenarios, out: str | os.PathLike | None = None, *, replicates: int | None = None,
            seed: int | None = None, clusters: Sequence[str] | None = None, scale: float | None = None,
            quick: bool = False, params: Mapping | None = None, params_file: str | os.PathLike | None = CALIBRATED,
            baseline: str | None = None, n_jobs: int = 1, backend: str = "loky", resume: bool = False,
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
        The base model (:func:`resolve_base`): by default the shipped calibration,
        with each cluster's own calibrated values; a scenario's ``[params]`` (or
        ``params``) naming a per-cluster parameter sets it for every cluster.
    n_jobs, backend : int, str
        Parallel workers and joblib backend.
    resume : bool
        Reuse finished replicates in ``out/store``.
    figures : bool
        Write the figures (needs ``out``).

    Returns
    -------
    Projection
    """

    t0 = time.time()
    scen = _load_all(scenarios)
    scen, base_name, added = _with_baseline(scen, baseline)
    st = resolve_settings(scen, replicates=replicates, seed=seed, clusters=clusters, scale=scale, quick=quick)
    base, columns, pfile = resolve_base(params_file)
    if params:
        validate(params, source="params")
        base.update(params)
    design_rows = []
    full_params = {}
    for s in scen:
        over = {**base, **s.params}
        if st["scale"] is not None:
            over["scale"] = st["scale"]
        full = validate(over, source=f"scenario {s.name}")
        full_params[s.name] = full
        _check_targets(s, st["clusters"])
        spec = {"params": full, "policies": s.policies, "clusters": st["clusters"], "years": st["years"],
                "start_year": st["start_year"], "record_every": st["record_every"]}
        records = _column_records(columns, {**(params or {}), **s.params})  # explicit values hold everywhere
        if records is not None:
            spec["cluster_columns"] = records
        s.policy_objects()  # validate before any work starts
        design_rows.append({"scenario": s.name, "spec": json.dumps(spec, sort_keys=True)})
    design = pd.DataFrame(design_rows)
    store = None if out is None else Path(out) / "store"
    n_workers = n_jobs if n_jobs not in (None, 0) else 1
    res = run_experiments(_scenario_task, design, replicates=st["replicates"], seed=st["seed"],
                          out_dir=store, backend=backend if n_workers != 1 else "sequential",
                          n_jobs=n_workers, resume=resume, progress=progress)
    df = res.outcomes
    names = {int(e): n for e, n in zip(res.design["experiment"], res.design["scenario"])}
    df.insert(0, "scenario", df["experiment"].map(names))
    order = {s.name: i for i, s in enumerate(scen)}
    df = df.assign(_o=df["scenario"].map(order)).sort_values(
        ["_o", "replicate", "step", "indicator", "cluster"], kind="stable")
    df = df[OUTPUT_COLUMNS].reset_index(drop=True)
    st["seeds"] = list(res.seeds)
    manifest = {
        "format": FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": command,
        "baseline": base_name,
        "baseline_added": added,
        "settings": st,
        "scenarios": [{"name": s.name, "description": s.description, "path": s.path, "sha256": s.sha256,
                       "policies": s.policies, "params": s.params, "full_params": full_params[s.name],
                       "targeted": s.targeted_clusters(st["clusters"] or _all_ids())} for s in scen],
        "params_file": pfile,
        "base_params": base,
        "versions": _versions(),
        "git_commit": _git(),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "engine": {"store": "store/", "function": res.manifest.get("function"),
                   "design_hash": res.manifest.get("design_hash"), "counts": res.manifest.get("counts")},
    }
    proj = Projection(indicators=df, scenarios=scen, baseline=base_name, settings=st, manifest=manifest,
                      out=None if out is None else Path(out))
    if out is not None:
        manifest["wall_time_s"] = round(time.time() - t0, 2)
        write_projection(proj, figures=figures)
    return proj


def _all_ids() -> list[str]:

    return cluster_ids()


def _check_targets(s, clusters: list[str] | None) -> None:

    if clusters is None:
        return

    tab = cluster_table()
    fam = dict(zip(tab["id"], tab["sector_family"]))
    for i, spec in enumerate(s.policies):
        t = spec.get("target", "all")
        if t == "all":
            continue
        if isinstance(t, str) and t.startswith("family:"):
            if not any(fam[c] == t.split(":", 1)[1] for c in clusters):
                raise ScenarioError(f"{s.path or s.name}: policy #{i + 1} ({spec['policy']}).target: {t!r} "
                                    f"matches none of the simulated clusters")
            continue
        ids = [t] if isinstance(t, str) else t
        off = [c for c in ids if c not in clusters]
        if off:
            raise ScenarioError(f"{s.path or s.name}: policy #{i + 1} ({spec['policy']}).target: cluster(s) "
                                f"{', '.join(off)} are not simulated (add them to --clusters)")


def _versions() -> dict:

    return package_versions()


def _git() -> str | None:

    return git_commit()


def _atomic(path: Path, write) -> None:
    """Write a file through ``write(tmp_path)`` and rename it into place (never left truncated)."""
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def write_projection(proj: Projection, figures: bool = True) -> None:
    """Write the tables, figures, scenario copies and manifest of a projection to ``proj.out``.

    Every file is written to a temporary name and renamed into place; the manifest
    comes last.
    """
    out = proj.out
    out.mkdir(parents=True, exist_ok=True)
    _atomic(out / "indicators.parquet", lambda t: proj.indicators.to_parquet(t, index=False))
    for name, table in (("effects.csv", proj.effects()), ("transitions.csv", proj.transitions()),
                        ("cluster_outcomes.csv", proj.cluster_outcomes())):
        _atomic(out / name, lambda t, table=table: table.to_csv(t, index=False))
    sdir = out / "scenarios"
    sdir.mkdir(exist_ok=True)
    for s in proj.scenarios:
        text = s.text or f"# {s.name}: no file\n"
        _atomic(sdir / f"{s.name}.toml", lambda t, text=text: t.write_text(text, encoding="utf-8"))
    if figures:

        matplotlib.use("Agg")

        fdir = out / "figures"
        fdir.mkdir(exist_ok=True)
        files = []

        def save(fig, name):
            _atomic(fdir / name, lambda t: fig.savefig(t, format="png", dpi=110, bbox_inches="tight"))
            plt.close(fig)
            files.append(f"figures/{name}")

        for c in figure_clusters(proj):
            save(plot_fan(proj, c), f"fan_{c}.png")
        save(plot_planes(proj), "plane.png")
        save(plot_effects(proj), "effects.png")
        proj.manifest["figures"] = files
    text = json.dumps(proj.manifest, indent=2, default=str) + "\n"
    _atomic(out / "manifest.json", lambda t: t.write_text(text))


def load_projection(path: str | os.PathLike) -> Projection:
    """Read a projection folder written by :func:`project`."""

    p = Path(path)
    mf, ind = p / "manifest.json", p / "indicators.parquet"
    if not mf.is_file() or not ind.is_file():
        raise ScenarioError(f"{p} is not a projection folder (no manifest.json / indicators.parquet); "
                            f"run 'clustersim project SCENARIO... --out {p}' first")
    try:
        manifest = json.loads(mf.read_text())
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"{mf}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    if manifest.get("format") != FORMAT:
        raise ScenarioError(f"{mf}: not a projection manifest (format {manifest.get('format')!r}, "
                            f"expected {FORMAT!r})")
    df = pd.read_parquet(ind)

    scen = []
    for d in manifest["scenarios"]:
        copy = p / "scenarios" / f"{d['name']}.toml"
        text = copy.read_text(encoding="utf-8") if copy.is_file() else ""
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


# ----------------------------------------------------------------------------- tables
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


# ----------------------------------------------------------------------------- figures
def figure_clusters(proj: Projection, limit: int = 12) -> list[str]:
    """Clusters drawn in the figures: those named by policies (not 'all'), else a spread of six."""

    sim_ids = proj.simulated_clusters
    tab = cluster_table()
    fam = dict(zip(tab["id"], tab["sector_family"]))
    named: list[str] = []
    for s in proj.scenarios:
        for spec in s.policies:
            t = spec.get("target", "all")
            if t == "all":
                continue
            if isinstance(t, str) and t.startswith("family:"):
                ids = [c for c in sim_ids if fam.get(c) == t.split(":", 1)[1]]
            else:
                ids = [t] if isinstance(t, str) else list(t)
            named += [c for c in ids if c in sim_ids and c not in named]
    if not named:

        named = _pick_clusters(proj.indicators[proj.indicators["scenario"] == proj.baseline], None, 6)
    return named[:limit]


def _relevant(proj: Projection, cluster: str) -> list[str]:
    tg = proj.targeted()
    return [proj.baseline] + [s for s in proj.names if s != proj.baseline and cluster in tg.get(s, [])]


def _colors(proj: Projection) -> dict:

    cmap = plt.get_cmap("tab10")
    out, i = {}, 0
    for s in proj.names:
        if s == proj.baseline:
            out[s] = "0.35"
        else:
            out[s] = cmap(i % 10)
            i += 1
    return out


def _policy_years(proj: Projection, scen: str) -> list[float]:
    s = next(x for x in proj.scenarios if x.name == scen)
    return sorted({proj.settings["start_year"] + p.get("start", 0.0) for p in s.policies})


def plot_fan(proj: Projection, cluster: str, scenarios: Sequence[str] | None = None):
    """Fan chart of one cluster's centripetal and centrifugal scores.

    The baseline is drawn as a grey fan (median, 25-75 % and 5-95 % of the
    replicates); each scenario as its median with its 25-75 % band.  Dashed
    verticals mark the years policies start.
    """

    df = proj.indicators
    scen = list(scenarios) if scenarios else _relevant(proj, cluster)
    colors = _colors(proj)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    d = df[(df["cluster"] == cluster) & df["indicator"].isin(["centripetal", "centrifugal"])]
    for ax, ind in zip(axes, ("centripetal", "centrifugal")):
        for s in scen:
            w = d[(d["scenario"] == s) & (d["indicator"] == ind)].pivot_table(index="year", columns="replicate",
                                                                                values="value")
            if w.empty:
                continue
            yrs = w.index.to_numpy(float)
            v = w.to_numpy(float)
            q = np.nanpercentile(v, [5, 25, 50, 75, 95], axis=1)
            if s == proj.baseline:
                ax.fill_between(yrs, q[0], q[4], color="0.85", lw=0, label="baseline 5-95 %")
                ax.fill_between(yrs, q[1], q[3], color="0.7", lw=0, label="baseline 25-75 %")
                ax.plot(yrs, q[2], color="0.2", lw=1.8, label="baseline median")
            else:
                ax.fill_between(yrs, q[1], q[3], color=colors[s], alpha=0.18, lw=0)
                ax.plot(yrs, q[2], color=colors[s], lw=1.8, label=s)
                for y in _policy_years(proj, s):
                    ax.axvline(y, color=colors[s], ls="--", lw=0.8)
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_title(f"{ind} score")
        ax.set_xlabel("year")
    axes[0].set_ylabel("score")
    axes[0].legend(fontsize=7, loc="best")
    fig.suptitle(f"{cluster}: {proj.settings.get('replicates', '?')} replicates per scenario", fontsize=10)
    fig.tight_layout()
    return fig


def plot_planes(proj: Projection, clusters: Sequence[str] | None = None, smooth: int = 3):
    """The centripetal-centrifugal plane: ensemble-mean trajectories of every relevant scenario, per cluster.

    The trajectory is the mean over replicates at each recorded year, smoothed by a
    centred moving average over ``smooth`` recorded points (1 = raw); the dot is
    the (unsmoothed) start.
    """

    cl = list(clusters) if clusters else figure_clusters(proj)
    n = len(cl)
    ncol = min(3, n)
    nrow = int(math.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.8 * nrow), squeeze=False)
    colors = _colors(proj)
    df = proj.indicators
    d = df[df["indicator"].isin(["centripetal", "centrifugal"])]
    for k, c in enumerate(cl):
        ax = axes[k // ncol][k % ncol]
        for s in _relevant(proj, c):
            m = d[(d["cluster"] == c) & (d["scenario"] == s)].groupby(["year", "indicator"])["value"].mean().unstack()
            if m.empty:
                continue
            x0, y0 = m["centripetal"].iloc[0], m["centrifugal"].iloc[0]
            if smooth > 1:
                m = m.rolling(smooth, center=True, min_periods=1).mean()
            x, y = m["centripetal"].to_numpy(), m["centrifugal"].to_numpy()
            ax.plot(x, y, color=colors[s], lw=1.5, label=s)
            ax.plot(x0, y0, "o", color=colors[s], ms=3)
            if len(x) > 1:
                ax.annotate("", xy=(x[-1], y[-1]), xytext=(x[-2], y[-2]),
                            arrowprops=dict(arrowstyle="->", color=colors[s]))
        ax.axhline(0, color="0.6", lw=0.7)
        ax.axvline(0, color="0.6", lw=0.7)
        ax.set_title(c, fontsize=9)
        ax.set_xlabel("centripetal")
        ax.set_ylabel("centrifugal")
        for (xq, yq, lab) in ((0.98, 0.02, "path-locked"), (0.98, 0.98, "resilient"),
                              (0.02, 0.98, "centrifugal-dom."), (0.02, 0.02, "other")):
            ax.text(xq, yq, lab, transform=ax.transAxes, ha="right" if xq > 0.5 else "left",
                    va="top" if yq > 0.5 else "bottom", fontsize=7, color="0.5", style="italic")
        ax.legend(fontsize=6, loc="best")
    for k in range(n, nrow * ncol):
        axes[k // ncol][k % ncol].axis("off")
    fig.tight_layout()
    return fig


def plot_effects(proj: Projection, indicators: Sequence[str] = ("centripetal", "centrifugal")):
    """Forest plot: paired effect on the targeted clusters (mean) with 95 % intervals, per scenario."""

    eff = proj.effects()
    eff = eff[eff["cluster"].isin(["(targeted)", "(all)"])]
    scen = [s for s in proj.names if s != proj.baseline]
    fig, axes = plt.subplots(1, len(indicators), figsize=(5 * len(indicators), 0.45 * len(scen) + 1.4),
                             sharey=True, squeeze=False)
    for ax, ind in zip(axes[0], indicators):
        e = eff[eff["indicator"] == ind].set_index("scenario").reindex(scen)
        y = np.arange(len(scen))[::-1]
        ax.errorbar(e["diff"], y, xerr=[e["diff"] - e["ci_low"], e["ci_high"] - e["diff"]], fmt="o",
                    color="C0", ecolor="C0", capsize=3)
        ax.axvline(0, color="0.5", lw=0.8)
        ax.set_yticks(y)
        ax.set_yticklabels(scen, fontsize=8)
        ax.set_title(f"{ind}: scenario - baseline", fontsize=9)
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- measuring policy effects
#: The experiments behind the table of ``docs/policies.md``: (label, policy specs, hypothesis checks).
#: Each check is (indicator, expected sign).  Targets are set by :func:`measure_effects`.
MEASURE_SPECS: list[tuple[str, list[dict], list[tuple[str, int]]]] = [
    ("hub_institution", [{"policy": "hub_institution"}],
     [("inclusiveness", 1), ("internal_cohesion", 1), ("heterophily", 1), ("centrifugal", 1)]),
    ("hub_institution (no founding ties, no outreach)",
     [{"policy": "hub_institution", "initial_ties": 0, "outreach": 0.0}],
     [("inclusiveness", 1), ("internal_cohesion", 1)]),
    ("startup_inflow (x3)", [{"policy": "startup_inflow", "intensity": 3.0}],
     [("firms", 1), ("related_variety", 1), ("specialization", -1), ("inclusiveness", 1)]),
    ("startup_inflow (x3, incubator_link=0.8)",
     [{"policy": "startup_inflow", "intensity": 3.0, "incubator_link": 0.8}],
     [("firms", 1), ("related_variety", 1), ("inclusiveness", 1), ("heterophily", 1)]),
    ("external_linkage", [{"policy": "external_linkage", "intensity": 0.5, "gatekeepers": 1.0}],
     [("external_linkage", 1), ("internal_cohesion", -1), ("centrifugal", 1), ("centripetal", -1)]),
    ("living_lab", [{"policy": "living_lab"}],
     [("heterophily", 1), ("inclusiveness", 1), ("related_variety", 1), ("centrifugal", 1)]),
    ("living_lab (no member recruitment)", [{"policy": "living_lab", "members": 0.0}],
     [("heterophily", 1), ("inclusiveness", 1), ("related_variety", 1), ("centrifugal", 1)]),
    ("anchor_attraction", [{"policy": "anchor_attraction", "intensity": 5.0}],
     [("hierarchy", 1), ("employment", 1), ("internal_cohesion", 1), ("centripetal", 1)]),
    ("anchor_exit", [{"policy": "anchor_exit", "intensity": 1.0, "hazard": 0.2}],
     [("hierarchy", -1), ("employment", -1), ("firms", -1)]),
    ("technology_shock", [{"policy": "technology_shock", "intensity": 2.0}],
     [("firms", -1), ("employment", -1)]),
    ("technology_shock after external_linkage + living_lab",
     [{"policy": "external_linkage", "intensity": 0.5}, {"policy": "living_lab"},
      {"policy": "technology_shock", "intensity": 2.0, "start": 3.0}],
     [("firms", -1)]),
    ("technology_shock at year 3", [{"policy": "technology_shock", "intensity": 2.0, "start": 3.0}],
     [("firms", -1)]),
    ("intercluster_linkage", [{"policy": "intercluster_linkage", "intensity": 5.0}],
     [("external_linkage", 1), ("internal_cohesion", -1), ("related_variety", 1)]),
    ("intercluster_linkage (ended at year 5)", [{"policy": "intercluster_linkage", "intensity": 5.0, "end": 5.0}],
     [("external_linkage", 1)]),
    ("growth_pole (concentrated: 1 pole)", [{"policy": "growth_pole", "intensity": 2.0, "poles": 1}],
     [("firms", 1), ("specialization", 1)]),
    ("growth_pole (dispersed: all)", [{"policy": "growth_pole", "intensity": 2.0, "poles": 0}],
     [("firms", 1), ("specialization", 1)]),
]

#: Contrasts between two measured policies (paired by replicate): (hypothesis, A, B, indicator, expected
#: sign of A - B).
CONTRASTS: list[tuple[str, str, str, str, int]] = [
    ("S3-H7: a hub placed without prior networking brings less", "hub_institution",
     "hub_institution (no founding ties, no outreach)", "inclusiveness", 1),
    ("S4P-M17: startups matter for the network only if linked to incumbents",
     "startup_inflow (x3, incubator_link=0.8)", "startup_inflow (x3)", "inclusiveness", 1),
    ("S4E-M6: brokers must bring the two groups to the table (members) to mix old and new firms",
     "living_lab", "living_lab (no member recruitment)", "heterophily", 1),
    ("S3-H11: concentrated support yields more firms than dispersed support",
     "growth_pole (concentrated: 1 pole)", "growth_pole (dispersed: all)", "firms", 1),
    ("S3-H5: programme ties decay once the programme ends", "intercluster_linkage (ended at year 5)",
     "intercluster_linkage", "external_linkage", -1),
    ("S4P-M10: centrifugal preparation cushions a technology shock",
     "technology_shock after external_linkage + living_lab", "technology_shock at year 3", "firms", 1),
]

#: Indicators whose baseline is centred near 0 (no relative effect is reported).
SIGNED = {"centripetal", "centrifugal", "heterophily"}


def _measure_task(params: dict, seed: int) -> pd.DataFrame:
    """One measuring run: the end state (and flow totals) of every cluster."""

    spec = json.loads(params["spec"])
    df = simulate(spec["params"], seed, years=spec["years"], clusters=spec["clusters"],
                  policies=spec["policies"], record_every=1,
                  cluster_table=_cluster_table(spec.get("cluster_columns")))
    last = df[df["step"] == df["step"].max()][["cluster", "indicator", "value"]]
    flows = df[df["indicator"].isin(["startups", "spinoffs", "exits", "anchor_exits"]) & (df["step"] > 0)]
    tot = flows.groupby(["cluster", "indicator"], as_index=False)["value"].sum()
    tot["indicator"] = "total_" + tot["indicator"]
    return pd.concat([last, tot], ignore_index=True)


def measure_effects(replicates: int = 20, scale: float = 0.1, years: float = 10.0, seed: int = 4,
                    clusters: Sequence[str] | None = None, n_jobs: int = 2, progress: bool = True,
                    base: str | os.PathLike | None = CALIBRATED) -> pd.DataFrame:
    """Measure every policy's effect (paired by replicate, CRN) on a small system.

    ``base`` is the base model (:func:`resolve_base`; default: the shipped calibration).

    Each policy in :data:`MEASURE_SPECS` targets every simulated cluster from year 0
    for ``years`` years (default: the 38 clusters at scale 0.1); the growth-pole
    runs target the four medical-device clusters (one pole vs all four).  Returns
    one row per (policy, indicator) with the mean over the targeted clusters of
    the end-of-run difference to the baseline, its 95 % interval, the relative
    effect, the expected sign and whether the model supports it (interval
    excluding 0 with the expected sign), contradicts it (interval excluding 0
    with the other sign) or is inconclusive.
    """

    medical = [c for c in (clusters or _all_ids()) if c in
               ("wonju_medical_devices", "osong_ochang_medical_devices", "daegu_medical_devices")]
    bparams, columns, _ = resolve_base(base)
    full = validate({**bparams, "scale": scale})
    cols = _column_records(columns)
    rows = [{"scenario": "baseline", "spec": json.dumps({"params": full, "cluster_columns": cols,
                                                          "policies": [], "clusters": clusters, "years": years})}]
    for label, pols, _ in MEASURE_SPECS:
        pols = [dict(p) for p in pols]
        if pols[0]["policy"] == "growth_pole" and medical:
            for p in pols:
                p["target"] = medical
        rows.append({"scenario": label, "spec": json.dumps({"params": full, "cluster_columns": cols,
                                                            "policies": pols, "clusters": clusters,
                                                            "years": years})})
    design = pd.DataFrame(rows)
    res = run_experiments(_measure_task, design, replicates=replicates, seed=seed,
                          backend="loky" if n_jobs > 1 else "sequential", n_jobs=n_jobs, progress=progress)
    df = res.outcomes
    df["scenario"] = df["experiment"].map(dict(zip(res.design["experiment"], res.design["scenario"])))
    wide = df.pivot_table(index=["scenario", "replicate", "cluster"], columns="indicator", values="value")
    all_cl = list(dict.fromkeys(df["cluster"]))
    targets = {label: (medical if pols[0]["policy"] == "growth_pole" and medical else all_cl)
               for label, pols, _ in MEASURE_SPECS}

    def values(label: str, ind: str, tgt: list[str]) -> pd.Series:
        v = wide.loc[label].loc[(slice(None), tgt), ind]
        g = v.groupby(level="replicate")
        return g.sum() if ind in ("firms", "employment") or ind.startswith("total_") else g.mean()

    def verdict(st: dict, exp: int | None) -> str:
        if exp is None:
            return ""
        if st["ci_low"] > 0:
            return "supported" if exp > 0 else "contradicted"
        if st["ci_high"] < 0:
            return "supported" if exp < 0 else "contradicted"
        return "inconclusive"

    out = []
    for label, pols, checks in MEASURE_SPECS:
        tgt = targets[label]
        inds = [c for c, _ in checks] + [i for i in ("centripetal", "centrifugal", "specialization",
                                                         "internal_cohesion", "external_linkage", "firms",
                                                         "total_startups", "total_spinoffs", "total_exits")
                                         if i not in dict(checks)]
        for ind in inds:
            av, bv = values(label, ind, tgt), values("baseline", ind, tgt)
            st = paired_stats((av - bv).to_numpy(float), av.to_numpy(float), bv.to_numpy(float))
            exp = dict(checks).get(ind)
            out.append({"policy": label, "indicator": ind, "expected": {1: "+", -1: "-", None: ""}[exp],
                        "baseline": st["baseline_mean"], "diff": st["diff"], "ci_low": st["ci_low"],
                        "ci_high": st["ci_high"], "rel_pct": float("nan") if ind in SIGNED else st["rel_pct"],
                        "verdict": verdict(st, exp), "crn_variance_ratio": st["crn_variance_ratio"]})
    for hyp, a, b, ind, exp in CONTRASTS:
        tgt = targets[a]
        av, bv = values(a, ind, tgt), values(b, ind, tgt)
        st = paired_stats((av - bv).to_numpy(float), av.to_numpy(float), bv.to_numpy(float))
        out.append({"policy": f"{hyp} [{a} minus {b}]", "indicator": ind, "expected": "+" if exp > 0 else "-",
                    "baseline": st["baseline_mean"], "diff": st["diff"], "ci_low": st["ci_low"],
                    "ci_high": st["ci_high"], "rel_pct": float("nan") if ind in SIGNED else st["rel_pct"],
                    "verdict": verdict(st, exp), "crn_variance_ratio": st["crn_variance_ratio"]})
    return pd.DataFrame(out)


def _markdown(t: pd.DataFrame) -> str:
    lines = ["| policy | indicator | expected | baseline | effect (95 % CI) | relative | verdict |",
             "|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        lines.append(f"| {r['policy']} | {r['indicator']} | {r['expected']} | {r['baseline']:.3g} | "
                     f"{r['diff']:+.3g} ({r['ci_low']:+.3g}, {r['ci_high']:+.3g}) | "
                     f"{'' if not np.isfinite(r['rel_pct']) else format(r['rel_pct'], '+.1f') + ' %'} | "
                     f"{r['verdict']} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - maintenance command

    ap = argparse.ArgumentParser(prog="python -m scenarios.projection",
                                 description="Measure the effect of every policy (the table of docs/policies.md).")
    ap.add_argument("--measure-effects", action="store_true", required=True)
    ap.add_argument("--replicates", type=int, default=20)
    ap.add_argument("--scale", type=float, default=0.1)
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--seed", type=int, default=4)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--params", default=CALIBRATED, help="base model: calibrated (default), defaults or a JSON file")
    ap.add_argument("--csv", help="also write the table to this CSV file")
    a = ap.parse_args(argv)
    t0 = time.time()
    t = measure_effects(replicates=a.replicates, scale=a.scale, years=a.years, seed=a.seed, n_jobs=a.jobs,
                        base=a.params)
    if a.csv:
        t.to_csv(a.csv, index=False)
    print(f"Policy effects ({a.params} base model): {a.replicates} paired replicates (common random numbers), seed {a.seed}, "
          f"38 clusters at scale {a.scale}, {a.years:g} years, policies active from year 0 on every cluster "
          f"(growth pole: the medical-device clusters); effect = mean over targeted clusters (sums for "
          f"firms, employment and totals) of policy minus baseline at the end. {time.time() - t0:.0f}s.\n")
    print(_markdown(t))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

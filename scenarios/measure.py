"""Measuring every policy's effect on a small system: the table quoted in ``docs/policies.md``.

:func:`measure_effects` runs the baseline and every experiment of :data:`MEASURE_SPECS` with
common random numbers and tests each expected sign (and the contrasts of :data:`CONTRASTS`)
with a paired t interval; :func:`markdown_table` formats the result. The command is
``python scripts/measure_effects.py``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from scenarios.base import DEFAULT_BASE, column_records, resolve_base
from scenarios.effects import SIGNED, paired_stats
from scenarios.policies import build_policies
from sim.data.clusters import cluster_ids
from sim.engine.experiments import run_experiments
from sim.engine.runner import labeller_extra, simulate_settings
from sim.engine.settings import RunSettings
from sim.model.params import validate

__all__ = ["MEASURE_SPECS", "CONTRASTS", "measure_effects", "markdown_table"]

#: Clusters the growth-pole experiments target (one pole against all of them).
MEDICAL = ("wonju_medical_devices", "osong_ochang_medical_devices", "daegu_medical_devices")

#: Indicators reported for every experiment besides its checks.
REPORTED = ("centripetal", "centrifugal", "specialization", "hierarchy", "internal_cohesion", "related_variety",
            "heterophily", "external_linkage", "inclusiveness", "firms", "total_startups", "total_spinoffs",
            "total_exits")

#: The experiments behind the table of ``docs/policies.md``: (label, policy specs, hypothesis checks).
#: Each check is (indicator, expected sign).  Targets are set by :func:`measure_effects`.
MEASURE_SPECS: list[tuple[str, list[dict], list[tuple[str, int]]]] = [
    ("hub_institution", [{"policy": "hub_institution"}],
     [("inclusiveness", 1), ("internal_cohesion", 1), ("heterophily", 1), ("external_linkage", 1),
      ("related_variety", 1), ("centrifugal", 1), ("firms", 1)]),
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
    ("estate (space for 200 firms, showcase 0.5)", [{"policy": "estate", "intensity": 200.0, "showcase": 0.5}],
     [("firms", 1), ("total_startups", 1)]),
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


def _measure_task(params: dict, seed: int) -> pd.DataFrame:
    """One measuring run: the end state (and flow totals) of every cluster."""
    settings = RunSettings.from_cell(params["spec"])
    df = simulate_settings(settings, seed, build_policies(settings.policies))
    last = df[df["step"] == df["step"].max()][["cluster", "indicator", "value"]]
    flows = df[df["indicator"].isin(["startups", "spinoffs", "exits", "anchor_exits"]) & (df["step"] > 0)]
    tot = flows.groupby(["cluster", "indicator"], as_index=False)["value"].sum()
    tot["indicator"] = "total_" + tot["indicator"]
    return pd.concat([last, tot], ignore_index=True)


def _design(medical: list[str], full: dict, cols, clusters, years: float, labeller=None) -> pd.DataFrame:
    """One design row for the baseline and one per experiment of :data:`MEASURE_SPECS` (column
    ``spec``: the run's :class:`~sim.engine.settings.RunSettings` cell)."""
    def cell(pols: list[dict]) -> str:
        return RunSettings(params=full, cluster_columns=cols, policies=pols, clusters=clusters, years=years,
                           record_every=1, extra=labeller_extra(labeller)).to_cell()

    rows = [{"scenario": "baseline", "spec": cell([])}]
    for label, pols, _ in MEASURE_SPECS:
        pols = [dict(p) for p in pols]
        if pols[0]["policy"] == "growth_pole" and medical:
            for p in pols:
                p["target"] = medical
        rows.append({"scenario": label, "spec": cell(pols)})
    return pd.DataFrame(rows)


def _verdict(st: dict, exp: int | None) -> str:
    if exp is None:
        return ""
    if st["ci_low"] > 0:
        return "supported" if exp > 0 else "contradicted"
    if st["ci_high"] < 0:
        return "supported" if exp < 0 else "contradicted"
    return "inconclusive"


def _row(policy: str, ind: str, exp: int | None, av: pd.Series, bv: pd.Series) -> dict:
    st = paired_stats((av - bv).to_numpy(float), av.to_numpy(float), bv.to_numpy(float))
    return {"policy": policy, "indicator": ind, "expected": {1: "+", -1: "-", None: ""}[exp],
            "baseline": st["baseline_mean"], "diff": st["diff"], "ci_low": st["ci_low"],
            "ci_high": st["ci_high"], "rel_pct": float("nan") if ind in SIGNED else st["rel_pct"],
            "verdict": _verdict(st, exp), "crn_variance_ratio": st["crn_variance_ratio"]}


def measure_effects(replicates: int = 20, scale: float = 0.1, years: float = 10.0, seed: int = 4,
                    clusters: Sequence[str] | None = None, n_jobs: int = 2, progress: bool = True,
                    base: str | os.PathLike | None = DEFAULT_BASE) -> pd.DataFrame:
    """Measure every policy's effect (paired by replicate, CRN) on a small system.

    ``base`` is the base model (:func:`scenarios.base.resolve_base`; default:
    :data:`scenarios.base.DEFAULT_BASE`).

    Each policy in :data:`MEASURE_SPECS` targets every simulated cluster from year 0
    for ``years`` years (default: the 38 clusters at scale 0.1); the growth-pole
    runs target the three medical-device clusters (one pole vs all three).  Returns
    one row per (policy, indicator) with the mean over the targeted clusters of
    the end-of-run difference to the baseline, its 95 % interval, the relative
    effect, the expected sign and whether the model supports it (interval
    excluding 0 with the expected sign), contradicts it (interval excluding 0
    with the other sign) or is inconclusive.
    """
    medical = [c for c in (clusters or cluster_ids()) if c in MEDICAL]
    b = resolve_base(base)
    full = validate({**b.params, "scale": scale})
    design = _design(medical, full, column_records(b.columns), clusters, years, b.labeller)
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

    out = []
    for label, _, checks in MEASURE_SPECS:
        tgt = targets[label]
        inds = [c for c, _ in checks] + [i for i in REPORTED if i not in dict(checks)]
        for ind in inds:
            out.append(_row(label, ind, dict(checks).get(ind), values(label, ind, tgt),
                            values("baseline", ind, tgt)))
    for hyp, a, b_, ind, exp in CONTRASTS:
        tgt = targets[a]
        out.append(_row(f"{hyp} [{a} minus {b_}]", ind, exp, values(a, ind, tgt), values(b_, ind, tgt)))
    return pd.DataFrame(out)


def markdown_table(t: pd.DataFrame) -> str:
    """The table of :func:`measure_effects` as Markdown (as quoted in ``docs/policies.md``)."""
    lines = ["| policy | indicator | expected | baseline | effect (95 % CI) | relative | verdict |",
             "|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        lines.append(f"| {r['policy']} | {r['indicator']} | {r['expected']} | {r['baseline']:.3g} | "
                     f"{r['diff']:+.3g} ({r['ci_low']:+.3g}, {r['ci_high']:+.3g}) | "
                     f"{'' if not np.isfinite(r['rel_pct']) else format(r['rel_pct'], '+.1f') + ' %'} | "
                     f"{r['verdict']} |")
    return "\n".join(lines)

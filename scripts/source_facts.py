"""The source facts of [KRIHS-2020] (S4V-1 to S4V-23): which of them the model's mechanisms reproduce.

Run it from the repository root (about 40 minutes of CPU on one core; 74 minutes of wall time beside other jobs)::

    python scripts/source_facts.py            # runs the experiments, rewrites the table of docs/facts.md
    python scripts/source_facts.py --print    # prints the table instead of writing it

Each fact of the report's case chapter ([KRIHS-2020], validation facts S4V; ``docs/sources.md``)
is either judged by a small seeded experiment of the model at its parameter defaults
(pattern-oriented: can the mechanisms produce the pattern?), or stated as not testable with the
reason, or left to the calibration when it asks the calibrated model to predict an observed
cluster's 2020 values (``clustersim validate``).  Facts about index levels are judged **within
year**: by the rank or z-score of a cluster among the simulated clusters of the same year, or by
paired comparisons with a control run of the same seed (common random numbers), never across two
years' scales.

Every experiment returns the numbers it measured and a list of checks (a statistic against a
threshold).  The verdict follows from the checks: all pass -> *reproduced* (or *partly* when part
of the fact is outside the model), some pass -> *partly*, none -> *not reproduced*.
``tests/test_source_facts.py`` runs the same experiments with the same seeds and asserts the checks
the table reports as passed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import functools
import inspect
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without installing

from scenarios.archetypes import (  # noqa: E402
    WONJU_CLUSTERS,
    WONJU_ESTATE,
    WONJU_FULL_YEAR,
    WONJU_PARAMS,
    WONJU_SHOWCASE_YEAR,
    wonju_setup,
)
from scenarios.policies import build_policies  # noqa: E402
from sim.data.clusters import cluster_table  # noqa: E402
from sim.indices.scores import TYPOLOGIES  # noqa: E402
from sim.model.model import ClusterModel  # noqa: E402
from sim.model.params import SCHEMA  # noqa: E402
from sim.model.population import ANCHOR, SPINOFF, STARTUP  # noqa: E402
from sim.model.processes import tenants, vacancies, young  # noqa: E402

DOC = ROOT / "docs" / "facts.md"
START, END = "<!-- facts:start -->", "<!-- facts:end -->"
COMMAND = "python scripts/source_facts.py"
MECHANISM_TEST = "tests/test_mechanisms.py::test_wonju_can_happen_and_needs_university_and_space"

SEEDS = tuple(range(1, 9))          # seeds of the small experiments
#: seeds of the 38-cluster experiments: a treated cluster's rank among 38 moves by a few places from seed to
#: seed, and with 12 seeds S4V-5's betweenness check passed on seeds 1-12 (t = 2.1) but not on 13-24 (1.8) or
#: 25-36 (1.1), so 36
NATIONAL_SEEDS = tuple(range(1, 37))
#: seeds of S4V-5: its betweenness check passed on seeds 1-36 (t = 3.0) but only narrowly on 37-72 (t = 2.0;
#: 3.2 and 0.7 on the two halves, a helper's measurement), so its arm and the control run on 72
CLOSED_SEEDS = tuple(range(1, 73))
#: seeds of the anchor-loss experiment (S4V-14): the two arms diverge after the exit, so the per-pair ratios
#: spread widely (sd about 8 %); with 8 pairs its tie check passed in only 3 of 10 blocks of 8 seeds
ANCHOR_LOSS_SEEDS = tuple(range(1, 25))
#: seeds of the estate experiments (S4V-12, S4V-18): how full the waiting list is when new units open varies
#: from seed to seed, so the share of S4V-18's 12 units let within a year was 0.74 to 1.08 on blocks of 8 seeds
#: (2 of 12 blocks under 0.8) and 0.86, 0.86 and 0.98 on seeds 1-32, 33-64 and 65-96 (standard error about 0.06
#: on 32; a referee asked for more): 64
ESTATE_SEEDS = tuple(range(1, 65))
#: other years for the Wonju-like showcase, within the source's "early 2000s" before the 2004 applications
#: (S4V-12 reports them)
SHOWCASE_YEARS = (2, 3, 4)
#: years of the Wonju-like runs: 1998 to 2020 (S4V-12)
WONJU_YEARS = 22
FULL_YEAR = WONJU_FULL_YEAR  # the Wonju-like estate full (S4V-12); S4V-15 and S4V-18 start here
#: years of the Wonju-like runs that match the observations of S4V-1 (ch. 3's 2010 and 2020 networks; year 0 is 1998)
YEAR_2010, YEAR_2020 = 12, WONJU_YEARS
#: the Wonju Medical Industry Techno Valley, founded in 2004 (year 6): an intermediary whose staff support firms
#: region-wide (S4W-M8 and the Wonju timeline of [KRIHS-2020] ch. 4); placed with the policy's default outreach
TECHNO_VALLEY = {"policy": "hub_institution", "kind": "intermediary", "intensity": 1, "start": 6.0,
                 "target": WONJU_CLUSTERS[0]}
#: Jeonju's startup hub relative to its cluster (S4V-18): 64 units for the 861 firms of 2020 (table 3-4,
#: ``data/economics_2020.csv``), the same share of the Wonju-like room (estate plus the premises of 11
#: founding firms): 12 units
HUB_UNITS = round(64 / 861 * (WONJU_ESTATE + 11 * SCHEMA["space_headroom"].default))
NATIONAL_SCALE = 0.1                # the 38 clusters at a tenth of their size
NATIONAL_YEARS = 10


# ----------------------------------------------------------------------------- statistics and checks
def t_stat(d) -> float:
    """One-sample t statistic of ``d`` (mean over standard error); +-inf when all values are equal and non-zero."""
    d = np.asarray(d, float)
    sd = d.std(ddof=1)
    if sd == 0:
        return 0.0 if d.mean() == 0 else float(np.sign(d.mean()) * np.inf)
    return float(d.mean() / (sd / np.sqrt(len(d))))


def rank_desc(x: np.ndarray, c: int) -> float:
    """Rank of entry ``c`` of ``x`` from the top (1 = highest; ties share the mean rank; NaN counts as lowest)."""
    x = np.where(np.isfinite(x), x, -np.inf)
    return float((x > x[c]).sum() + ((x == x[c]).sum() + 1) / 2.0)


def zscore(x: np.ndarray, c: int) -> float:
    """z-score of entry ``c`` among the clusters of the same year."""
    x = np.asarray(x, float)
    return float((x[c] - np.nanmean(x)) / np.nanstd(x))


def fmt(x, nd=2) -> str:
    return f"{x:.{nd}f}" if np.isfinite(x) else ("+inf" if x > 0 else "-inf" if x < 0 else "nan")


@dataclass
class Check:
    name: str
    passed: bool
    detail: str


@dataclass
class Outcome:
    measured: str
    checks: list[Check]
    notes: str = ""

    @property
    def passed(self) -> dict[str, bool]:
        return {c.name: c.passed for c in self.checks}


# ----------------------------------------------------------------------------- running the model
@dataclass
class Run:
    model: ClusterModel
    flows: dict[str, np.ndarray]      # name -> (years, clusters) sums per year
    probes: dict[int, dict] = field(default_factory=dict)  # year -> what the probe returned
    applicants: np.ndarray | None = None  # (years, clusters): the national pool's applicants per year
    waiting: np.ndarray | None = None     # (years, clusters): waiting lists for estate units at each year's end


def run_cache(fn):
    """``functools.cache`` keyed by the call with its defaults filled in, so that ``wonju(1)`` and
    ``wonju(1, wait_years=None)`` are one run.  ``cached.call_key(*args, **kwargs)`` is that key and
    ``cached.uncached`` the function itself (tests/test_source_facts.py shares runs between processes by them)."""
    signature = inspect.signature(fn)

    def call_key(*args, **kwargs) -> tuple:
        call = signature.bind(*args, **kwargs)
        call.apply_defaults()
        return (fn.__name__, tuple(call.arguments.items()))

    @functools.cache
    def by_key(key):
        return fn(**dict(key[1]))

    @functools.wraps(fn)
    def cached(*args, **kwargs):
        return by_key(call_key(*args, **kwargs))

    cached.call_key, cached.uncached = call_key, fn
    return cached


def simulate(params: dict, seed: int, years: float, table: pd.DataFrame | None = None, policies=(),
             probe: Callable[[ClusterModel, int], dict] | None = None, probe_years=()) -> Run:
    """One run: indicators recorded every year, flows summed per year, ``probe(model, year)`` at ``probe_years``."""
    m = ClusterModel(params=params, cluster_table=table, rng=seed, handles=False, record_every=4,
                     policies=build_policies(policies))
    ny = round(years)
    flows = {k: np.zeros((ny, m.n_clusters)) for k in m.flows}
    probes = {0: probe(m, 0)} if probe is not None and 0 in probe_years else {}
    applied = np.zeros((ny + 1, m.n_clusters))
    waiting = np.zeros((ny, m.n_clusters))
    for t in range(ny * 4):
        m.step()
        for k, acc in flows.items():
            acc[t // 4] += m.flows[k]
        if (t + 1) % 4 == 0:
            applied[(t + 1) // 4] = m.applicants
            waiting[t // 4] = np.bincount(m.waiting["cluster"], minlength=m.n_clusters)
        if (t + 1) % 4 == 0 and probe is not None and (t + 1) // 4 in probe_years:
            probes[(t + 1) // 4] = probe(m, (t + 1) // 4)
    return Run(m, flows, probes, np.diff(applied, axis=0), waiting)


def centrality_top(m: ClusterModel, cluster) -> dict:
    """Who is at the centre of a cluster's network (transaction ties plus institutions' affiliations)."""
    G = m.network(cluster)
    G.remove_nodes_from([n for n, d in G.degree() if d == 0])
    if G.number_of_nodes() == 0:
        return {"btw_inst": False, "deg_inst": False, "largest_firm_top": False}
    bt = nx.betweenness_centrality(G)
    role = nx.get_node_attributes(G, "role")
    inst = {"university", "research_institute", "intermediary", "gatekeeper"}
    top_b = max(bt, key=bt.get)
    top_d = max(dict(G.degree()), key=dict(G.degree()).get)
    firms = [n for n in G if role[n] not in inst]
    largest = max(firms, key=lambda n: m.pop.size[n]) if firms else None
    return {"btw_inst": role[top_b] in inst, "deg_inst": role[top_d] in inst,
            "largest_firm_top": largest is not None and largest in (top_b, top_d),
            "top_role": role[top_b]}


def lineage(m: ClusterModel, c: int) -> dict:
    """Genealogy of a cluster's firms born during the run: share of them descended from the most prolific
    single parent (a firm or an institution), following parents back to the first generation."""
    pop = m.pop
    pos = m.uid_positions()
    firms = np.flatnonzero(pop.alive & (pop.role <= SPINOFF) & (pop.cluster == c) & (pop.birth > 0))
    roots = []
    for f in firms:
        i = f
        while pop.parent[i] >= 0 and pos[pop.parent[i]] >= 0:
            i = pos[pop.parent[i]]
        roots.append(pop.uid[i] if i != f else -1)
    roots = np.array(roots, dtype=np.int64)
    has = roots >= 0
    if not len(firms):
        return {"n": 0, "descended": 0.0, "top_parent": 0.0}
    top = np.unique(roots[has], return_counts=True)[1].max() / len(firms) if has.any() else 0.0
    return {"n": len(firms), "descended": float(has.mean()), "top_parent": float(top)}


# ----------------------------------------------------------------------------- the Wonju-like set-up (S4V-12)
MEDICAL = WONJU_CLUSTERS


def _wonju_probe(m, year):
    if year == FULL_YEAR + 1:  # the estate's free units a year after new ones open (S4V-18)
        return {"free": int(vacancies(m, tenants(m))[0])}
    return {"centre": centrality_top(m, 0), "lineage": lineage(m, 0)}


@run_cache
def wonju(seed: int, years: int = WONJU_YEARS, variant: str = "base", wait_years: float | None = None) -> dict:
    """The S4V-12 set-up, plus a variant: ``second_estate`` (a second estate with a showcase at
    :data:`FULL_YEAR`: the 2009 national project Wonju lost), ``hub`` (:data:`HUB_UNITS` units of space, no
    showcase, at :data:`FULL_YEAR`), ``hub64`` (64 units), ``spinoff_max`` (spin-off parameters at the top of
    their sensitivity ranges), ``techno_valley`` (:data:`TECHNO_VALLEY` from 2004), ``techno_valley_outreach<X>`` (it
    recruiting ``X`` of the cluster's firms a year), ``techno_valley_dedicated`` (and the estate let only to
    medical-device firms, like Wonju's incubator, rental factories and 2004 complex), ``no_university``,
    ``showcase<Y>`` (the showcase from year ``Y``) or ``no_university_showcase<Y>``; ``wait_years`` other than the
    default if given."""
    tab, pols = wonju_setup(university=not variant.startswith("no_university"))
    moved = re.fullmatch(r"(?:no_university_)?showcase(\d+)", variant)
    if moved:  # the showcase from another year
        next(q for q in pols if q.get("showcase"))["start"] = float(moved.group(1))
    params = dict(WONJU_PARAMS)
    if wait_years is not None:
        params["wait_years"] = wait_years
    if variant == "second_estate":
        pols.append({"policy": "estate", "intensity": 200.0, "showcase": 1.0, "start": FULL_YEAR, "target": MEDICAL[0]})
    elif variant in ("hub", "hub64"):
        units = float(HUB_UNITS) if variant == "hub" else 64.0
        pols.append({"policy": "estate", "intensity": units, "showcase": 0.0, "start": FULL_YEAR, "target": MEDICAL[0]})
    elif variant == "spinoff_max":
        params.update(spinoff_rate=0.04, spinoff_quality=2.0)
    elif variant.startswith("techno_valley"):
        tv = re.fullmatch(r"techno_valley(_dedicated)?(?:_outreach([0-9.]+))?", variant)
        if tv is None:
            raise ValueError(variant)
        pols.append({**TECHNO_VALLEY, **({"outreach": float(tv.group(2))} if tv.group(2) else {})})
        pols[0]["dedicated"] = bool(tv.group(1))
    elif variant not in ("base", "no_university") and not moved:
        raise ValueError(variant)
    r = simulate(params, seed, years, tab, pols, probe=_wonju_probe, probe_years=(10, FULL_YEAR + 1))
    hist = [r.model.history(c) for c in range(3)]
    f = r.flows
    return {"firms": hist[0]["firms"], "incl": np.array([h["inclusiveness"] for h in hist]),
            "applicants": r.applicants[:, 0], "waiting": r.waiting[:, 0],
            "entries": (f["startups"] + f["relocations"] + f["spinoffs"])[:, 0], "exits": f["exits"][:, 0],
            "probe10": r.probes.get(10), "free": r.probes.get(FULL_YEAR + 1, {}).get("free")}


# ----------------------------------------------------------------------------- the national system (38 clusters)
J, E, K = "jeonju_machinery", "euljiro_urban_manufacturing", "cheonan_asan_electronics"
#: Wonju-type closure: specialised, locked in, costly external ties, a local preference (values inside the
#: sensitivity ranges; the path-locked archetype of scenarios/archetypes.py).
CLOSED_TYPE = {"init_home_share": 0.8, "convergence_rate": 0.3, "lock_in": 4.0, "external_cost": 4.0, "beta_local": 2.5}
SHOCK = {"policy": "technology_shock", "mode": "sustained", "intensity": 2.0, "target": E}
ARMS: dict[str, tuple[dict, list]] = {
    "control": ({}, []),
    # S4V-2, S4V-11: Jeonju's hub, the CAMTIC-Jeonbuk TP partnership (S4V-11): two intermediary platforms
    # (brokerage offices with members, introductions x3, trust x2) ...
    "jeonju_platform": ({}, [{"policy": "living_lab", "target": J, "brokers": 2}]),
    # ... and one platform alone (S4V-2 reports it: the partnership's part)
    "jeonju_one_platform": ({}, [{"policy": "living_lab", "target": J}]),
    # S4V-7, S4V-17: the institutes of Jeonju (an intermediary and a research institute, recruiting members)
    "jeonju_institutes": ({}, [{"policy": "hub_institution", "kind": ["intermediary", "research"], "intensity": 1,
                                "outreach": 0.3, "target": J}]),
    # S4V-3: an external shock held for the decade, alone and with the start of renewal (more startups)
    "euljiro_shock": ({}, [SHOCK]),
    "euljiro_shock_renewal": ({}, [SHOCK, {"policy": "startup_inflow", "intensity": 1.5, "target": E}]),
    # S4V-4: a diverse urban-manufacturing node with a brokerage office
    "euljiro_broker": ({E: {"init_home_share": 0.1}},
                       [{"policy": "hub_institution", "kind": "intermediary", "intensity": 2, "outreach": 0.3,
                         "target": E}]),
    # S4V-5, S4V-6: a Wonju-type closed cluster, and the same with fast growth (a dedicated estate, like Wonju's
    # 2004 medical-device complex, and a showcase)
    "closed_type": ({K: CLOSED_TYPE}, []),
    "closed_growing": ({K: CLOSED_TYPE}, [{"policy": "estate", "intensity": 2000.0, "showcase": 1.5, "dedicated": True,
                                           "target": K}]),
    # ... and with a general estate instead (S4V-6 reports it: the dedicated estate's part)
    "closed_growing_general": ({K: CLOSED_TYPE}, [{"policy": "estate", "intensity": 2000.0, "showcase": 1.5,
                                                   "target": K}]),
}


def intercluster(m: ClusterModel) -> dict:
    """The inter-cluster network of [KRIHS-2020] table 3-9: clusters as nodes, joined by their firms' ties;
    weighted degree (ties), connected clusters and (unweighted) betweenness."""
    pop, Ed = m.pop, m.edges
    ok = pop.alive[Ed.u] & pop.alive[Ed.v] & pop.is_firm[Ed.u] & pop.is_firm[Ed.v]
    cu, cv = pop.cluster[Ed.u[ok]].astype(int), pop.cluster[Ed.v[ok]].astype(int)
    k = (cu >= 0) & (cv >= 0) & (cu != cv)
    C = m.n_clusters
    W = np.zeros((C, C))
    np.add.at(W, (cu[k], cv[k]), 1.0)
    W = W + W.T
    G = nx.Graph()
    G.add_nodes_from(range(C))
    G.add_edges_from(zip(*np.nonzero(np.triu(W))))
    bt = nx.betweenness_centrality(G, normalized=False)
    return {"wdeg": W.sum(1), "ncl": (W > 0).sum(1), "btw": np.array([bt[i] for i in range(C)])}


@run_cache
def national(arm: str, seed: int) -> dict:
    """One run of the 38 clusters (scale ``NATIONAL_SCALE``, ``NATIONAL_YEARS`` years) under an arm of ``ARMS``;
    the indicators of every cluster at the start and the end, flows, and the measures some facts need."""
    cols, pols = ARMS[arm]
    tab = cluster_table()
    for cid, values in cols.items():
        for k, v in values.items():
            if k not in tab.columns:
                tab[k] = np.nan
            tab.loc[tab["id"] == cid, k] = v
    def sme_employment(m, year):
        pop = m.pop
        f = pop.alive & (pop.role <= SPINOFF) & (pop.role != ANCHOR) & (pop.cluster >= 0)
        return np.bincount(pop.cluster[f].astype(np.int64), weights=pop.size[f], minlength=m.n_clusters)

    r = simulate({"scale": NATIONAL_SCALE}, seed, NATIONAL_YEARS, tab, pols, probe=sme_employment,
                 probe_years=(0, NATIONAL_YEARS))
    m = r.model
    first, last = m._records[0][1], m._records[-1][1]
    out = {"ids": list(m.cluster_ids), "y0": {k: np.asarray(v, float) for k, v in first.items()},
           "y1": {k: np.asarray(v, float) for k, v in last.items()},
           "flows": {k: v.sum(0) for k, v in r.flows.items()},
           "sme_emp": (r.probes[0], r.probes[NATIONAL_YEARS])}  # employment of the non-anchor firms
    out["inter"] = intercluster(m)
    pop = m.pop
    new_anchor = pop.alive & (pop.role == ANCHOR) & (pop.birth > 0) & (pop.cluster >= 0)
    out["anchor_entries"] = np.bincount(pop.cluster[new_anchor].astype(np.int64), minlength=m.n_clusters)
    if arm.startswith("jeonju"):
        out["jeonju_centre"] = centrality_top(m, J)
    return out


def _pair(arm: str, fn, control: str = "control", seeds=NATIONAL_SEEDS):
    """Values of ``fn(run)`` under ``arm`` and under ``control``, seed by seed."""
    a = np.array([fn(national(arm, s)) for s in seeds], float)
    b = np.array([fn(national(control, s)) for s in seeds], float)
    return a, b


def _c(run, cid):
    return run["ids"].index(cid)


# ----------------------------------------------------------------------------- experiments, one per testable fact
def _largest_rise(inc: np.ndarray, y0: int, y1: int) -> float:
    """Share of seeds in which the first cluster's inclusiveness ``inc`` (seeds, clusters, years) rises most."""
    return float(np.mean((inc[:, :, y1] - inc[:, :, y0]).argmax(1) == 0))


def _highest(inc: np.ndarray, y: int) -> float:
    """Share of seeds in which the first cluster's inclusiveness is the highest at year ``y``."""
    return float(np.mean(inc[:, 0, y] > inc[:, 1:, y].max(1)))


def _s4v_1_text(inc: np.ndarray, y0: int, y1: int) -> str:
    return (f"{fmt(inc[:, 0, y0].mean())} -> {fmt(inc[:, 0, y1].mean())} (the two established clusters "
            f"{fmt(inc[:, 1:, y0].mean())} -> {fmt(inc[:, 1:, y1].mean())}), the largest rise of the three in "
            f"{_largest_rise(inc, y0, y1):.0%} of seeds, highest at year {y1} in {_highest(inc, y1):.0%}")


def s4v_1(seeds=ESTATE_SEEDS, sensitivity: bool = True) -> Outcome:
    """University- and intermediary-led start: the S4V-12 set-up with the Techno Valley from 2004; inclusiveness of
    the three medical clusters from 2010 to 2020 (years 12 to 22), as observed.  With ``sensitivity``, the share of
    seeds with the largest rise on the next 64 seeds and with the Techno Valley's outreach halved and doubled."""
    y0, y1 = YEAR_2010, YEAR_2020
    inc = np.array([wonju(s, variant="techno_valley")["incl"] for s in seeds])  # (seeds, 3 clusters, years+1)
    rise = inc[:, :, y1] - inc[:, :, y0]
    largest = _largest_rise(inc, y0, y1)
    last0 = np.mean(inc[:, 0, y0] < inc[:, 1:, y0].min(1))
    top1 = _highest(inc, y1)
    plain = np.array([wonju(s)["incl"] for s in seeds])
    ded = np.array([wonju(s, variant="techno_valley_dedicated")["incl"] for s in seeds])
    measured = (f"with the Techno Valley from year 6 (2004), Wonju-like inclusiveness from year {y0} (2010) to {y1} "
                f"(2020) {_s4v_1_text(inc, y0, y1)} (rise t = {fmt(t_stat(rise[:, 0]), 1)}); lowest of the three at "
                f"year {y0} in {last0:.0%}. Without the Techno Valley (the S4V-12 set-up): {_s4v_1_text(plain, y0, y1)}; "
                f"over years 0-10 {_s4v_1_text(plain, 0, 10)}. With the Techno Valley and the estate let only to "
                f"medical-device firms (as Wonju's incubator, rental factories and 2004 complex were): "
                f"{_s4v_1_text(ded, y0, y1)}")
    if sensitivity:  # the largest-rise share is near its threshold: how it moves with the seeds and the outreach
        def share(variant, block):
            return f"{_largest_rise(np.array([wonju(s, variant=variant)['incl'] for s in block]), y0, y1):.0%}"
        more = tuple(s + len(seeds) for s in seeds)
        measured += (f". The largest-rise share is near its threshold: {share('techno_valley', more)} on seeds "
                     f"{more[0]}-{more[-1]}, {share('techno_valley_outreach0.1', seeds)} and "
                     f"{share('techno_valley_outreach0.4', seeds)} with the Techno Valley's outreach halved and doubled")
    return Outcome(measured, [
        Check("fast rise", rise[:, 0].mean() >= 0.1 and t_stat(rise[:, 0]) > 3,
              f"inclusiveness rises by >= 0.1 from year {y0} to {y1}, t > 3"),
        Check("largest rise", largest >= 0.75, f"largest rise of the clusters in >= 75% of seeds ({largest:.0%})"),
        Check("from last to first", last0 >= 0.75 and top1 >= 0.5,
              f"lowest of the year's clusters at year {y0} (>= 75% of seeds) and highest at year {y1} (>= 50%)"),
    ])


def s4v_2(seeds=NATIONAL_SEEDS, sensitivity: bool = True) -> Outcome:
    """Jeonju's rise with its two intermediary platforms; with ``sensitivity``, the rank on the next seeds and with
    one platform."""
    rank = lambda r: rank_desc(r["y1"]["inclusiveness"], _c(r, J))
    a, b = _pair("jeonju_platform", rank, seeds=seeds)
    r0 = np.array([rank_desc(national("control", s)["y0"]["inclusiveness"], _c(national("control", s), J))
                   for s in seeds])
    top1, top3 = np.mean(a == 1), np.mean(a <= 3)
    measured = (f"Jeonju's inclusiveness rank of 38: {fmt(r0.mean(), 1)} at the start; at year 10 "
                f"{fmt(a.mean(), 1)} with the two platforms (rank 1 in {top1:.0%} of seeds, top 3 in {top3:.0%}) "
                f"against {fmt(b.mean(), 1)} without (paired t = {fmt(t_stat(b - a), 1)})")
    if sensitivity:
        more = tuple(s + len(seeds) for s in seeds)
        a2 = np.array([rank(national("jeonju_platform", s)) for s in more])
        a1 = np.array([rank(national("jeonju_one_platform", s)) for s in seeds])
        measured += (f"; on seeds {more[0]}-{more[-1]} rank 1 in {np.mean(a2 == 1):.0%} (median {fmt(np.median(a2), 1)}), "
                     f"top 3 in {np.mean(a2 <= 3):.0%}; with one platform {fmt(a1.mean(), 1)} (rank 1 in "
                     f"{np.mean(a1 == 1):.0%}, median {fmt(np.median(a1), 1)}, top 3 in {np.mean(a1 <= 3):.0%})")
    return Outcome(measured, [
        Check("highest", np.median(a) <= 1.5 and top3 >= 0.75,
              "median rank 1 at year 10 and top 3 in >= 75% of seeds"),
        Check("because of the brokerage", t_stat(b - a) > 3, "rank better than the paired control, t > 3"),
    ])


def s4v_3(seeds=NATIONAL_SEEDS) -> Outcome:
    c = _c(national("control", 1), E)
    firms = lambda arm: np.array([national(arm, s)["y1"]["firms"][c] / national(arm, s)["y0"]["firms"][c] for s in seeds])
    emp = lambda arm: np.array([national(arm, s)["sme_emp"][1][c] / national(arm, s)["sme_emp"][0][c] for s in seeds])
    st = lambda arm: np.array([national(arm, s)["flows"]["startups"][c] for s in seeds])
    rk = lambda arm, y: np.array([rank_desc(national(arm, s)[y]["inclusiveness"], c) for s in seeds])
    fr, fc = firms("euljiro_shock_renewal"), firms("control")
    er, ec = emp("euljiro_shock_renewal"), emp("control")
    sr, ss = st("euljiro_shock_renewal"), st("euljiro_shock")
    k0, k1 = rk("euljiro_shock_renewal", "y0"), rk("euljiro_shock_renewal", "y1")
    measured = (f"Euljiro under a lasting shock with renewal: firms x{fmt(fr.mean())} in 10 years (control "
                f"x{fmt(fc.mean())}, paired t = {fmt(t_stat(fr - fc), 1)}), employment of its non-anchor firms x{fmt(er.mean())} (control "
                f"x{fmt(ec.mean())}, paired t = {fmt(t_stat(er - ec), 1)}); startups {fmt(sr.mean(), 0)} against {fmt(ss.mean(), 0)} under the shock "
                f"alone (t = {fmt(t_stat(sr - ss), 1)}); inclusiveness rank {fmt(k0.mean(), 1)} -> {fmt(k1.mean(), 1)}")
    return Outcome(measured, [
        Check("shrinks", fr.mean() < 1.0 and t_stat(fr - fc) < -3, "firm count falls and ends below the paired control, t < -3"),
        Check("employment falls", er.mean() < 1.0 and t_stat(er - ec) < -3,
              "employment of non-anchor firms falls more than in the paired control, t < -3"),
        Check("while renewal starts", t_stat(sr - ss) > 3, "more startups than under the shock alone, t > 3"),
        Check("inclusiveness rank falls", k1.mean() > k0.mean(), "mean rank at year 10 below the start"),
    ])


def s4v_4(seeds=NATIONAL_SEEDS) -> Outcome:
    def gap(r):
        c, i = _c(r, E), r["inter"]
        return rank_desc(i["wdeg"], c) - rank_desc(i["btw"], c)
    a, b = _pair("euljiro_broker", gap, seeds=seeds)
    btw_rank = np.array([rank_desc(national("euljiro_broker", s)["inter"]["btw"], _c(national("control", s), E))
                         for s in seeds])
    ncl = np.array([national("euljiro_broker", s)["inter"]["ncl"][_c(national("control", s), E)] for s in seeds])
    measured = (f"diverse Euljiro with a brokerage office: betweenness rank {fmt(btw_rank.mean(), 1)} of 38, "
                f"{fmt(ncl.mean(), 1)} partner clusters; weighted-degree rank minus betweenness rank "
                f"{fmt(a.mean(), 1)} (control {fmt(b.mean(), 1)}, paired t = {fmt(t_stat(a - b), 1)}; observed 30 - 5 = 25)")
    return Outcome(measured, [
        Check("broker position", a.mean() >= 5, "betweenness rank at least 5 places above the weighted-degree rank"),
        Check("from diversity and brokerage", t_stat(a - b) > 3, "gap larger than in the paired control, t > 3"),
    ])


def s4v_5(seeds=CLOSED_SEEDS) -> Outcome:
    def ranks(r):
        c = _c(r, K)
        return (rank_desc(r["y1"]["external_linkage"], c), rank_desc(r["inter"]["btw"], c),
                rank_desc(r["y1"]["internal_cohesion"], c))
    a = np.array([ranks(national("closed_type", s)) for s in seeds])
    b = np.array([ranks(national("control", s)) for s in seeds])
    measured = (f"Wonju-type {K}: external-linkage rank {fmt(a[:, 0].mean(), 1)}, betweenness rank "
                f"{fmt(a[:, 1].mean(), 1)}, internal-cohesion rank {fmt(a[:, 2].mean(), 1)} of 38 at year 10 "
                f"(control {fmt(b[:, 0].mean(), 1)}, {fmt(b[:, 1].mean(), 1)}, {fmt(b[:, 2].mean(), 1)}; paired t "
                f"{fmt(t_stat(a[:, 0] - b[:, 0]), 1)}, {fmt(t_stat(a[:, 1] - b[:, 1]), 1)}); observed Wonju 25th and 36th")
    return Outcome(measured, [
        Check("low external ties", np.median(a[:, 0]) >= 29 and t_stat(a[:, 0] - b[:, 0]) > 3,
              "external-linkage rank in the bottom 10 (median) and below the paired control, t > 3"),
        Check("low betweenness", np.median(a[:, 1]) >= 29 and t_stat(a[:, 1] - b[:, 1]) > 2,
              "betweenness rank in the bottom 10 (median) and below the paired control, t > 2"),
        Check("cohesive", np.median(a[:, 2]) <= 5, "internal-cohesion rank in the top 5 (median)"),
    ])


def s4v_6(seeds=NATIONAL_SEEDS) -> Outcome:
    def m(r):
        c = _c(r, K)
        g = np.log(r["y1"]["firms"] / r["y0"]["firms"])
        return (rank_desc(g, c), g[c], rank_desc(r["y1"]["centripetal"], c), rank_desc(r["y1"]["centrifugal"], c),
                r["y1"]["typology"][c])
    a = np.array([m(national("closed_growing", s)) for s in seeds])
    g = np.array([m(national("closed_growing_general", s)) for s in seeds])
    typ = pd.Series([TYPOLOGIES[int(x)] if x >= 0 else "none" for x in a[:, 4]]).value_counts().to_dict()
    corner = np.mean((a[:, 2] <= 5) & (a[:, 3] >= 34))
    measured = (f"closed {K} with a dedicated estate and a showcase: firms x{fmt(np.exp(a[:, 1]).mean())} in 10 years, "
                f"growth rank {fmt(a[:, 0].mean(), 1)} of 38; centripetal rank {fmt(a[:, 2].mean(), 1)}, centrifugal rank "
                f"{fmt(a[:, 3].mean(), 1)}; path-locked corner of the year (centripetal top 5, centrifugal bottom 5) "
                f"in {corner:.0%} of seeds; default labeller's absolute typology {typ}. With a general estate instead "
                f"(newcomers of every sector): firms x{fmt(np.exp(g[:, 1]).mean())}, centripetal rank "
                f"{fmt(g[:, 2].mean(), 1)}, centrifugal rank {fmt(g[:, 3].mean(), 1)}, path-locked corner in "
                f"{np.mean((g[:, 2] <= 5) & (g[:, 3] >= 34)):.0%} of seeds")
    return Outcome(measured, [
        Check("high performance", np.mean(a[:, 0] == 1) >= 0.75, "fastest firm growth of the 38 in >= 75% of seeds"),
        Check("scores as locked within year", corner >= 0.75,
              "centripetal score in the year's top 5 and centrifugal in its bottom 5 in >= 75% of seeds"),
    ])


def s4v_7(seeds=NATIONAL_SEEDS) -> Outcome:
    def zs(r):
        c = _c(r, J)
        return [zscore(r["y1"][k], c) for k in ("related_variety", "external_linkage", "hierarchy")]
    a, b = _pair("jeonju_institutes", zs, seeds=seeds)
    d = a - b
    measured = (f"Jeonju with an intermediary and a research institute, z-scores among the 38 at year 10 minus the "
                f"paired control: related variety {fmt(d[:, 0].mean())} (t = {fmt(t_stat(d[:, 0]), 1)}), external "
                f"linkage {fmt(d[:, 1].mean())} (t = {fmt(t_stat(d[:, 1]), 1)}), hierarchy {fmt(d[:, 2].mean())} "
                f"(t = {fmt(t_stat(d[:, 2]), 1)})")
    return Outcome(measured, [
        Check("related variety rises", t_stat(d[:, 0]) > 3, "related-variety z above the paired control, t > 3"),
        Check("external linkage falls", t_stat(d[:, 1]) < -3, "external-linkage z below the paired control, t < -3"),
        Check("hierarchy rises", t_stat(d[:, 2]) > 3, "hierarchy z above the paired control, t > 3"),
    ])


def s4v_10(seeds=SEEDS) -> Outcome:
    p = [wonju(s, variant="techno_valley")["probe10"]["centre"] for s in seeds]
    b = np.mean([x["btw_inst"] for x in p])
    d = np.mean([x["deg_inst"] for x in p])
    lf = np.mean([x["largest_firm_top"] for x in p])
    uni = np.mean([x["top_role"] == "university" for x in p])
    tv = np.mean([x["top_role"] == "intermediary" for x in p])
    measured = (f"Wonju-like cluster with the Techno Valley at year 10 (transaction ties plus affiliations): highest "
                f"betweenness held by an institution in {b:.0%} of seeds (the university in {uni:.0%}, the Techno Valley "
                f"in {tv:.0%}), highest degree in {d:.0%}; the largest firm on top in {lf:.0%}")
    return Outcome(measured, [
        Check("institution at the centre", b >= 0.75 and d >= 0.75,
              "an institution has the highest betweenness and the highest degree in >= 75% of seeds"),
        Check("not a large firm", lf <= 0.25, "the largest firm is the most central node in <= 25% of seeds"),
    ])


def s4v_11(seeds=NATIONAL_SEEDS) -> Outcome:
    p = [national("jeonju_platform", s)["jeonju_centre"] for s in seeds]
    b = np.mean([x["btw_inst"] for x in p])
    d = np.mean([x["deg_inst"] for x in p])
    lf = np.mean([x["largest_firm_top"] for x in p])
    measured = (f"Jeonju with the two intermediary platforms at year 10: highest betweenness held by an institution in "
                f"{b:.0%} of seeds, highest degree in {d:.0%}; the largest firm on top in {lf:.0%}")
    return Outcome(measured, [
        Check("intermediary at the centre", b >= 0.75 and d >= 0.75,
              "an institution has the highest betweenness and the highest degree in >= 75% of seeds"),
        Check("no anchor on top", lf <= 0.25, "the largest firm is the most central node in <= 25% of seeds"),
    ])


def s4v_12(seeds=ESTATE_SEEDS, sensitivity: bool = True) -> Outcome:
    """The Wonju-like estate; with ``sensitivity``, the runs without the university and with the showcase from other
    years (for the measured column only: the checks use the base runs)."""
    w = [wonju(s) for s in seeds]
    f = np.array([x["firms"] for x in w])
    room = WONJU_ESTATE + 11 * SCHEMA["space_headroom"].default
    app6 = np.array([x["applicants"][5] for x in w])
    queue = np.array([x["waiting"][:FULL_YEAR].max() for x in w])
    measured = (f"same set-up as {MECHANISM_TEST.split('::')[0]} (an estate of {WONJU_ESTATE:.0f} units, the "
                f"showcase from year {WONJU_SHOWCASE_YEAR:g}): firms 11 -> {fmt(np.median(f[:, 6]), 0)} at year 6 -> "
                f"{fmt(np.median(f[:, 11]), 0)} at year 11 -> {fmt(np.median(f[:, FULL_YEAR]), 0)} at year {FULL_YEAR} -> "
                f"{fmt(np.median(f[:, WONJU_YEARS]), 0)} at year {WONJU_YEARS} (medians; observed 11 in 1998, 159 in "
                f"2020); {fmt(np.median(app6), 0)} applicants in year 6 (range {app6.min():.0f}-{app6.max():.0f}; "
                f"observed: 66 competed in 2004); a waiting list by the end of year {FULL_YEAR} in {np.mean(queue > 0):.0%} of "
                f"seeds (longest {fmt(np.median(queue), 0)}, median)")
    if sensitivity:
        measured += "; " + _wonju_without_university(seeds)
    return Outcome(measured, [
        Check("fills its estate", np.median(f[:, WONJU_YEARS]) >= 0.9 * room,
              f"median firm count at year {WONJU_YEARS} at least 90% of the room (estate and premises)"),
        Check("firms compete for the estate", np.mean(queue > 0) >= 0.75,
              f"applicants outnumber the free units (a waiting list forms) by the end of year {FULL_YEAR}, when "
              "S4V-15 and S4V-18 start, in >= 75% of seeds"),
    ], notes=f"judged by {MECHANISM_TEST} (with and without university and space)")


def _wonju_without_university(seeds) -> str:
    """S4V-12's measured column: the runs without the university, and with the showcase from other years."""
    nu = np.array([wonju(s, variant="no_university")["firms"] for s in seeds])
    nu0 = np.array([wonju(s, variant="no_university_showcase0")["firms"] for s in seeds])
    sens = []  # the showcase year, within the source's 'early 2000s' (years 2-5)
    for y in SHOWCASE_YEARS:
        u = [wonju(s, variant=f"showcase{y}") for s in seeds[:32]]
        n = np.array([wonju(s, variant=f"no_university_showcase{y}")["firms"][18] for s in seeds[:32]])
        sens.append(f"year {y}: {np.mean(n >= 100):.0%} and "
                    f"{np.mean([x['waiting'][FULL_YEAR - 1] > 0 for x in u]):.0%}")
    return (f"without the university {fmt(np.median(nu[:, 18]), 0)} firms at year 18 and "
            f"{fmt(np.median(nu[:, WONJU_YEARS]), 0)} at year {WONJU_YEARS} (medians; {np.mean(nu[:, 18] >= 100):.0%} "
            f"of seeds reach 100 by year 18; {np.mean(nu0[:, 18] >= 100):.0%} with the showcase from year 0). With the "
            f"showcase from another year of the early 2000s, the share of seeds reaching 100 by year 18 without the "
            f"university and the share with a waiting list at year {FULL_YEAR} with it (seeds 1-32): "
            + "; ".join(sens))


def s4v_13(seeds=SEEDS) -> Outcome:
    base = [wonju(s)["probe10"]["lineage"] for s in seeds]
    hi = [wonju(s, variant="spinoff_max")["probe10"]["lineage"] for s in seeds]
    top = np.array([x["top_parent"] for x in base])
    top_hi = np.array([x["top_parent"] for x in hi])
    measured = (f"Wonju-like firms born in 10 years: {np.mean([x['descended'] for x in base]):.0%} descend from a "
                f"parent (a firm or the university), the most prolific single parent accounts for {top.mean():.0%} (max {top.max():.0%}); "
                f"with spin-off rate and quality elasticity at the top of their ranges: "
                f"{np.mean([x['descended'] for x in hi]):.0%} and {top_hi.mean():.0%} (max {top_hi.max():.0%})")
    return Outcome(measured, [
        Check("one parent", np.mean(np.maximum(top, top_hi) >= 0.5) >= 0.5,
              "the most prolific parent accounts for >= 50% of the cohort in >= half the seeds (either setting)"),
    ])


def _anchor_loss(seed: int, exit_: bool, **params) -> dict:
    """The S4V-14 cluster (300 medical-device firms, 3% anchors), every anchor leaving at year 1 if ``exit_``: local
    ties at years 2 and 6 and the employment of the non-anchor firms."""
    tab = pd.DataFrame([{"id": "demo_cluster", "name_en": "Demo", "sector_family": "medical_devices",
                         "firms": 300, "employees_per_firm": 5.0, "firms0": 300}])
    pols = [{"policy": "anchor_exit", "intensity": 1.0, "start": 1}] if exit_ else []

    def probe(m, year):
        pop, Ed = m.pop, m.edges
        f = pop.alive & (pop.role <= SPINOFF) & (pop.cluster == 0)
        return {"ties": int((f[Ed.u] & f[Ed.v]).sum()), "emp": float(pop.size[f & (pop.role != ANCHOR)].sum())}
    r = simulate({"scale": 1.0, "outside_ratio": 3.0, "anchor_share": 0.03, **params}, seed, 6, tab, pols, probe=probe,
                 probe_years=(2, 6))
    return r.probes


def _remaining(seeds, **params) -> np.ndarray:
    """Per seed, employment of the remaining (non-anchor) firms five years after the anchors left, over the paired
    control's."""
    return np.array([_anchor_loss(s, True, **params)[6]["emp"] / _anchor_loss(s, False, **params)[6]["emp"]
                     for s in seeds])


def s4v_14(seeds=ANCHOR_LOSS_SEEDS, sensitivity: bool = True) -> Outcome:
    """Anchor loss; with ``sensitivity``, the employment check on the next seeds and at the low end of each of the
    skilled-labour pool's parameters."""
    res = [(_anchor_loss(s, True), _anchor_loss(s, False)) for s in seeds]
    ties2 = np.array([a[2]["ties"] / b[2]["ties"] for a, b in res])
    ties6 = np.array([a[6]["ties"] / b[6]["ties"] for a, b in res])
    emp6 = np.array([a[6]["emp"] / b[6]["emp"] for a, b in res])
    measured = (f"anchors (3% of 300 firms) leave at year 1: local ties x{fmt(ties2.mean())} of the paired control one "
                f"year later (t = {fmt(t_stat(ties2 - 1), 1)}), x{fmt(ties6.mean())} five years later; employment of the "
                f"remaining firms x{fmt(emp6.mean(), 3)} five years later (t = {fmt(t_stat(emp6 - 1), 1)})")
    if sensitivity:  # how the employment check moves with the seeds and the pool's parameters
        def line(x):
            return f"x{fmt(x.mean(), 3)} (t = {fmt(t_stat(x - 1), 1)})"
        more = tuple(s + len(seeds) for s in seeds)
        lows = [(name, SCHEMA[name].sa_bounds[0]) for name in ("pool_elasticity", "pool_matching", "pool_memory")]
        measured += (f"; the remaining firms' employment {line(_remaining(more))} on seeds {more[0]}-{more[-1]}, "
                     + ", ".join(f"{line(_remaining(seeds, **{n: v}))} with {n} {v:g}" for n, v in lows)
                     + " (the bottoms of their ranges), and "
                     f"{line(_remaining(seeds, pool_elasticity=0.0, pool_matching=0.0))} without the pool")
    return Outcome(measured, [
        Check("mentoring ties lost", ties2.mean() < 0.95 and t_stat(ties2 - 1) < -3,
              "local ties one year after at least 5% below the paired control, t < -3"),
        Check("skilled pool shrinks", emp6.mean() < 0.98 and t_stat(emp6 - 1) < -3,
              "employment of the remaining firms five years after at least 2% below the control, t < -3"),
    ])


def s4v_15(seeds=SEEDS) -> Outcome:
    a = [wonju(s) for s in seeds]
    b = [wonju(s, variant="second_estate") for s in seeds]
    T, Y = FULL_YEAR, WONJU_YEARS
    ent_a = np.array([x["entries"][T:Y].mean() for x in a])
    ent_b = np.array([x["entries"][T:Y].mean() for x in b])
    f = np.array([x["firms"] for x in a])
    early = (f[:, T] - f[:, T - 6]) / 6
    late = (f[:, Y] - f[:, T]) / (Y - T)
    measured = (f"Wonju-like cluster without new space after year {T}: {fmt(ent_a.mean(), 1)} entrants a year in years "
                f"{T + 1}-{Y} against {fmt(ent_b.mean(), 1)} with a second estate and showcase (paired t = "
                f"{fmt(t_stat(ent_b - ent_a), 1)}); net growth {fmt(late.mean(), 1)} firms a year against "
                f"{fmt(early.mean(), 1)} in the six years before")
    return Outcome(measured, [
        Check("entry suppressed", ent_a.mean() <= ent_b.mean() / 3 and t_stat(ent_b - ent_a) > 3,
              "entrants a year at most a third of the paired run with new space, t > 3"),
        Check("growth stops", late.mean() <= early.mean() / 3,
              "net growth a year at most a third of the six years before's"),
    ])


def s4v_17(seeds=NATIONAL_SEEDS) -> Outcome:
    a, b = _pair("jeonju_institutes", lambda r: r["anchor_entries"][_c(r, J)], seeds=seeds)
    t = t_stat(a - b)
    measured = (f"branch plants of large firms (anchors) still in Jeonju after 10 years, {len(a)} paired runs: "
                f"{a.mean():.1f} with its research institute, {b.mean():.1f} without (paired t = {t:.1f})")
    return Outcome(measured, [Check("large-firm entry", a.sum() > 0, "anchors arrive without an anchor policy"),
                              Check("drawn by the institute", t > 2, "more of them with the institute (paired t > 2)")])


def _let(seeds, wait_years=None, variant="hub"):
    """Share of the units of ``variant`` (``hub``: :data:`HUB_UNITS`; ``hub64``: 64) added at :data:`FULL_YEAR`
    that are let a year later, in each seed: one minus the estate's extra free units then, against the paired run
    without them, as a share of the new units.  Both runs have the free units of the last quarter's exits (let
    the next quarter), so a seed's share is noisy (it can exceed 1); the mean over seeds is the estimate."""
    units = HUB_UNITS if variant == "hub" else 64
    free = np.array([wonju(s, variant=variant, wait_years=wait_years)["free"] for s in seeds], float)
    free0 = np.array([wonju(s, wait_years=wait_years)["free"] for s in seeds], float)
    return 1.0 - (free - free0) / units


def s4v_18(seeds=ESTATE_SEEDS, sensitivity: bool = True) -> Outcome:
    """The check, and (if ``sensitivity``) the share of 64 units let, and that at the bottom of wait_years' range
    and without a list."""
    queue = np.array([wonju(s)["waiting"][FULL_YEAR - 1] for s in seeds])
    up = _let(seeds)
    measured = (f"{HUB_UNITS} units of new space (no showcase; Jeonju's 64 units for 861 firms, scaled to the "
                f"Wonju-like cluster) at year {FULL_YEAR}, its estate full (waiting list {fmt(np.median(queue), 0)}, "
                f"median): {up.mean():.0%} let one year later (paired free units; standard error "
                f"{up.std(ddof=1) / np.sqrt(len(up)):.0%}); {up[queue > 0].mean():.0%} in the {int((queue > 0).sum())} "
                f"seeds with applicants waiting then")
    if sensitivity:
        low = SCHEMA["wait_years"].sa_bounds[0]
        measured += (f"; 64 units (two-fifths of the cluster) {_let(seeds, variant='hub64').mean():.0%}, and "
                     f"{_let(seeds, low, 'hub64').mean():.0%} with wait_years {low:g} (the bottom of its range), "
                     f"{_let(seeds, 0.0, 'hub64').mean():.0%} without a waiting list")
    return Outcome(measured, [Check("fully let", up.mean() >= 0.8, "at least 80% of the new units occupied within a year")])


def _euljiro_like(seed: int, arm: str) -> dict:
    """A synthetic urban-manufacturing cluster of 300 firms; renewal from year 1: ``broker`` (the Sewoon living lab:
    a brokerage office recruiting young and old members, trust among them built twice as fast), ``makers`` (policy-funded
    startups, 2% of the firms a year, an incubator introducing half of them to an incumbent) or ``renewal`` (both, as in
    Sewoon since 2010: makers and the intermediaries that bring them together with the craftsmen)."""
    tab = pd.DataFrame([{"id": "demo_cluster", "name_en": "Demo", "sector_family": "urban_manufacturing",
                         "firms": 300, "employees_per_firm": 3.79, "firms0": 300}])
    lab = {"policy": "living_lab", "start": 1.0}
    makers = {"policy": "startup_inflow", "intensity": 1.0, "extra_rate": 0.02, "incubator_link": 0.5, "start": 1.0}
    # the office first: a policy's random stream follows its place in the list, so the renewal's office draws as the
    # office alone does (common random numbers for the makers' part)
    pols = {"none": [], "broker": [lab], "makers": [makers], "renewal": [lab, makers]}[arm]
    m = ClusterModel(params={"scale": 1.0, "outside_ratio": 3.0}, cluster_table=tab, rng=seed, handles=False,
                     record_every=4, policies=build_policies(pols))
    rows, sect = [], {}
    for t in range(32):
        m.step()
        pop, Ed = m.pop, m.edges
        f = pop.alive & (pop.role <= SPINOFF) & (pop.cluster == 0)
        if t + 1 == 4:
            sect = {int(i): int(pop.fine[i]) for i in np.flatnonzero(f)}
            mix = np.bincount(pop.fine[f], minlength=m.phi.shape[0]).astype(float)
            density = (mix / mix.sum()) @ m.phi  # relatedness of each sector to the incumbents' mix
        loc = f[Ed.u] & f[Ed.v]
        u, v, tr = Ed.u[loc], Ed.v[loc], Ed.trust[loc]
        yu, yv = young(m, u), young(m, v)
        trusted = (yu != yv) & (tr >= 0.5)
        inc = np.flatnonzero(f & ~young(m, np.arange(pop.n)))
        part = np.zeros(pop.n, bool)
        part[np.where(yu, v, u)[trusted]] = True
        rows.append((trusted.sum(), part[inc].mean() if len(inc) else 0.0))
    pop = m.pop
    f = pop.alive & (pop.role <= SPINOFF) & (pop.cluster == 0)
    new = np.flatnonzero(f & (pop.role == STARTUP) & (pop.birth > 4))
    still = [i for i in sect if pop.alive[i]]
    moved = np.mean([pop.fine[i] != sect[i] for i in still]) if still else 0.0
    return {"trusted": np.array([r[0] for r in rows], float), "part": np.array([r[1] for r in rows]),
            "new_share": len(new) / max(int(f.sum()), 1),
            "related": float(density[pop.fine[new]].mean() / density.mean()) if len(new) else np.nan,
            "moved": float(moved)}


_euljiro_cache = functools.cache(_euljiro_like)


def s4v_20(seeds=SEEDS) -> Outcome:
    """Sewoon's renewal (makers and the brokerage office) against no renewal, the office alone and the makers alone."""
    runs = {arm: [_euljiro_cache(s, arm) for s in seeds] for arm in ("renewal", "none", "broker", "makers")}

    def diff(key, a, b="none"):
        return np.array([x[key] - y[key] for x, y in zip(runs[a], runs[b])])

    def moved_in(arm):
        return np.mean([x["moved"] for x in runs[arm]])

    share = diff("new_share", "renewal")
    related = np.array([x["related"] for x in runs["renewal"]])
    moved, own = diff("moved", "renewal"), diff("moved", "renewal", "broker")
    base, office = moved_in("none"), moved_in("broker")
    measured = (f"Sewoon-like renewal in an urban-manufacturing cluster (policy-funded makers and a brokerage office), years "
                f"1-8: the new startups' relatedness to the incumbents' sector mix is {fmt(related.mean())} times that of a "
                f"sector drawn at random; the renewal adds {share.mean():.1%} of the firms; incumbents that changed sector "
                f"{fmt(base + moved.mean(), 3)} against {fmt(base, 3)} without renewal (paired t = {fmt(t_stat(moved), 1)}), "
                f"{fmt(office, 3)} with the brokerage office alone (the renewal's excess over it {fmt(own.mean(), 3)}, "
                f"paired t = {fmt(t_stat(own), 1)}) and "
                f"{fmt(moved_in('makers'), 3)} with the makers alone (paired t = "
                f"{fmt(t_stat(diff('moved', 'makers')), 1)})")
    return Outcome(measured, [
        Check("related", related.mean() >= 1.5,
              "new startups' mean relatedness to the incumbents' mix >= 1.5 times a random sector's"),
        Check("marginal share", share.mean() <= 0.2, "the renewal adds at most 20% of the firms"),
        Check("large effect", moved.mean() >= 0.25 * max(base, 1e-9) and t_stat(moved) > 3,
              "incumbents leaving their sector at least 25% more often than without renewal (paired), t > 3"),
        Check("the startups' own effect", own.mean() >= 0.25 * max(office, 1e-9) and t_stat(own) > 3,
              "S4E-M11, a marginal share of startups moves the incumbents: incumbents leaving their sector at least 25% "
              "more often with the makers and the office than with the office alone (paired), t > 3"),
    ])


def s4v_21(seeds=SEEDS) -> Outcome:
    a = [_euljiro_cache(s, "broker") for s in seeds]
    b = [_euljiro_cache(s, "none") for s in seeds]
    gain = np.mean([x["trusted"] - y["trusted"] for x, y in zip(a, b)], axis=0)  # by quarter
    plateau = gain[-8:].mean()
    # quarters of the lab's activity until half the plateau (row 3 is the quarter it opens, the end of year 1)
    half = int(np.argmax(gain[3:] >= 0.5 * plateau)) + 1 if plateau > 0 else 0
    part = np.mean([x["part"][-4:].mean() for x in a])
    measured = (f"living lab (brokerage office) from year 1 in an urban-manufacturing cluster: +{fmt(plateau, 1)} trusted "
                f"(trust >= 0.5) young-incumbent ties at the plateau; half reached after {half} quarters; incumbents "
                f"holding such a tie: {part:.1%}")
    return Outcome(measured, [
        Check("slow", plateau > 0 and half >= 4,
              "a gain in trusted cross-group ties, half of which takes at least a year"),
        Check("few participants", part <= 0.1, "at most 10% of incumbents hold a trusted tie to a young firm"),
    ])


# ----------------------------------------------------------------------------- the 23 facts
@dataclass(frozen=True)
class Fact:
    id: str
    fact: str
    must: str
    judged: str
    run: Callable[[], Outcome] | None = None
    static: str = ""       # verdict when not run: "not testable here: ..." or "calibration ..."
    partial: str = ""      # aspect outside the model (makes a fully passing fact "partly")
    why_not: str = ""      # the mechanism that prevents what fails (traced in the code)
    test: str = ""         # where the test lives when it is not tests/test_source_facts.py
    note: str = ""         # anything else the reader should know


CALIBRATION = "calibration (judged by `clustersim validate`)"
_N, _S = len(NATIONAL_SEEDS), len(SEEDS)


def _nat(n: int = _N) -> str:
    """The national set-up, for the table: scale, ``n`` seeds, years."""
    return f"38 clusters at scale {NATIONAL_SCALE:g}, {n} seeds, {NATIONAL_YEARS} years"


_NAT = _nat()
FACTS: tuple[Fact, ...] = (
    Fact("S4V-1", "Wonju: not a cluster in 2010 (inclusiveness rank 96), rank 6 in 2020 (0.738); the largest rise of the 38.",
         "A university/intermediary-led, anchor-less start can raise local connectedness fast within about 10 years.",
         f"S4V-12 set-up (11 firms in 1998 + university + estate) with the Techno Valley (an intermediary, from 2004) beside "
         f"the two other medical clusters, {len(ESTATE_SEEDS)} seeds, from year {YEAR_2010} to {YEAR_2020} (2010 -> 2020, "
         "the observed years): rise of inclusiveness (>= 0.1, t > 3); largest rise of the clusters (>= 75% of seeds); from "
         "lowest to highest of the year's clusters (>= 75% / >= 50% of seeds).", s4v_1,
         why_not="Every cluster's firms share one tie budget, search rate and decay (processes.budgets, "
                 "link_formation, link_decay), so the share of linked firms converges to a common level (about 0.45-0.5 at "
                 "the defaults) and the Wonju-like cluster, full from year 15, rises by less than 0.1 in 2010-2020. Nor is it "
                 "without a network in 2010: its newcomers search for partners from arrival at the common rate, so its share "
                 "of linked firms lags its entry only briefly. What lifts its level above the others' in the model is a "
                 "dedicated estate (the last sentence of the result), mostly because almost all its firms then share one "
                 "sector family, so the barrier between families (processes.cross_group, accepts) no longer stops their "
                 "local ties; but that lift comes with the firms, before 2010, so the 2010-2020 rise is no larger. The "
                 "largest-rise check, near its threshold before, fails since the skilled-labour pool (it passed with "
                 "78% of seeds 1-64 before): the pool changes firm sizes, which act on the network through the "
                 "size-scaled tie budgets (processes.budgets), and the share is near 75% either way (the measured "
                 "column gives it on seeds 65-128 and with the Techno Valley's outreach halved and doubled).",
         note=f"the runs are dated by the calendar (year 0 is 1998), while S4V-15 and S4V-18 start when the model's "
              f"estate is full (year {WONJU_FULL_YEAR}; Wonju's was by 2009, year 11): the model's Wonju grows about four "
              "years late, so its 2010 is an earlier stage of its growth than Wonju's"),
    Fact("S4V-2", "Jeonju: inclusiveness rank 13 (2010) -> 1 (2020), 0.808, 694 links.",
         "An intermediary-brokered cluster should reach the highest local connectedness.",
         f"{_NAT}; Jeonju with its hub, the CAMTIC-Jeonbuk TP partnership (S4V-11), as two intermediary platforms "
         "(living_lab policy, brokers 2) against the paired control: median inclusiveness rank 1 and top 3 in >= 75% of "
         "seeds; rank better than control (t > 3).",
         s4v_2,
         note="the rank-1 share is near its threshold (the measured column gives it on the next seeds), and with one "
              "platform the cluster reaches the top 3 but is not first in most seeds: the partnership's second "
              "intermediary recruits members and introduces firms as the first does (processes.brokered_introductions), "
              "so together they lift more of Jeonju's firms into local ties"),
    Fact("S4V-3", "Euljiro: inclusiveness rank 19 -> 21, fewer firms and falling employment (-7.7% / -0.9%).",
         "An ageing craftsmen cluster under external shocks shrinks even while renewal starts.",
         f"{_NAT}; Euljiro under a technology shock held for the decade (technology_shock, sustained, 2) plus more "
         "startups (startup_inflow x1.5): firms and employment below the paired control (t < -3) and falling; startups above the "
         "shock alone (t > 3); inclusiveness rank falls.", s4v_3,
         note="the calibrated prediction for Euljiro's firm count (2010 -> 2020) is judged by `clustersim validate`"),
    Fact("S4V-4", "Euljiro: inter-cluster betweenness 5th of 38 (26.8), links to 34 clusters, weighted degree only 30th.",
         "A diverse urban-manufacturing node should become an inter-cluster broker (betweenness high relative to degree).",
         f"{_NAT}; Euljiro diverse (init_home_share 0.1) with two brokerage intermediaries: "
         "betweenness rank >= 5 places above its weighted-degree rank; gap above the paired control (t > 3).", s4v_4,
         why_not="Nothing steers a cluster's outside ties towards clusters that are otherwise unlinked: each external "
                 "candidate or brokered outside partner is a uniform draw from the national firm pool, whatever the "
                 "cluster's other ties (processes.link_formation and brokered_introductions, `ext_pool[rng.integers(...)]`), "
                 "so nearly every outside tie reaches another cluster, and a cluster's partner clusters and betweenness "
                 "grow with its number of outside ties, which is small for Euljiro: betweenness follows degree."),
    Fact("S4V-5", "Wonju is among the most isolated: 11 partner clusters, betweenness 36th of 38, external linkage 25th.",
         "A Wonju-type (cohesive, specialised, closed) cluster shows low external ties and low betweenness.",
         f"{_nat(len(CLOSED_SEEDS))}; {K} given Wonju-type closure (specialised, lock-in, costly external "
         "ties, local preference) against the paired control: external-linkage and betweenness ranks in the bottom 10 "
         "and below control; internal cohesion in the top 5.", s4v_5,
         note="the closure is set through per-cluster parameters; what is tested is that the indices respond as "
              "the report's do (low external linkage and low betweenness, high cohesion)"),
    Fact("S4V-6", "Wonju: top specialisation, patents and ISO per firm, 2nd fastest employment growth, yet path-locked.",
         "Separate performance from resilience: a high-growth, high-innovation cluster can still score as locked.",
         f"{_NAT}; the Wonju-type {K} with a dedicated estate (units let only to its home sector family, like "
         "Wonju's 2004 medical-device complex, S4V-12) and a showcase: fastest growth of the 38 and, within the year, "
         "centripetal score top 5 and centrifugal bottom 5 (>= 75% of seeds).", s4v_6,
         partial="innovation figures are not modelled; the default labeller's absolute typology is reported, the "
                 "judgement is within year; Wonju's calibrated 2020 typology is judged by `clustersim validate`"),
    Fact("S4V-7", "Jeonju: related variety up (0.596 -> 0.743) while external linkage collapsed and hierarchy rose.",
         "Related diversification can proceed with few external ties when institutes drive recombination.",
         f"{_NAT}; Jeonju with an intermediary and a research institute (hub_institution, "
         "outreach 0.3) against the paired control, z-scores among the 38 at year 10: related variety up, external "
         "linkage down, hierarchy up (|t| > 3 each).", s4v_7,
         why_not="Institutes act on related variety through their affiliates' doubled branching attempts (the "
                 "absorptive boost), the entrants they pull into their field (inst_attraction) and academic spin-offs in "
                 "related sectors (processes.technology, entry, _spinoffs), but in Jeonju this does not lift its related "
                 "variety measurably above the paired control (the z-score above). Before the skilled-labour pool the "
                 "check passed on these seeds (z +0.22, t = 3.7), but that gain was not robust: in a diagnostic run on "
                 "seeds 1-12 (not part of this table) it was absent with the pool, and also without the pool when tie "
                 "budgets do not scale with firm size (tie_size_elasticity 0). Firm size acts on the network only "
                 "through those budgets (processes.budgets), so the pool, which changes sizes, perturbs exactly that "
                 "channel. Nothing in the model closes an institute-led cluster or concentrates its network: the "
                 "intermediary of the hub also introduces local firms to outside partners (brokered_introductions), so "
                 "external linkage does not fall and hierarchy does not rise."),
    Fact("S4V-8", "Jeonju: small firms (3.36 employees), low sales per firm, but patents per firm 3rd and high productivity.",
         "An anchor-less root-industry SME cluster with strong intermediaries can show high patents per firm.",
         "-", static="not testable here: the model has no patents, sales or labour productivity, and employees per firm "
                     "is an input of the cluster table"),
    Fact("S4V-9", "Euljiro: heterogeneous combination 0.802 -> 0.369 and related variety 0.370 -> 0.120 fell.",
         "Counter-check: simulated renewal should stay small in aggregate transaction indices by 2020.",
         "`clustersim validate` checks that the calibrated model predicts both falls for Euljiro (out of fold).",
         static=CALIBRATION),
    Fact("S4V-10", "Wonju's network centre is the university and the Techno Valley, not a large firm.",
         "A centrality ranking in a Wonju-like run puts hub institutions on top.",
         f"S4V-12 set-up with the Techno Valley from 2004 (S4V-1) at year 10, {_S} seeds; the cluster's graph of "
         "transaction ties and affiliations: an institution "
         "has the highest betweenness and degree (>= 75% of seeds); the largest firm is on top in <= 25%. Institutions "
         "are not nodes of the transaction network (by design): they are central through their affiliates.", s4v_10,
         note="it follows from the affiliations: an institution keeps a tenth of its cluster's firms as affiliates "
              "(affiliation_share) while a firm's tie budget is a few ties"),
    Fact("S4V-11", "Jeonju's hub is the CAMTIC-Jeonbuk TP partnership; no anchor firm.",
         "An intermediary-led run puts the intermediaries on top.",
         "The S4V-2 runs (Jeonju with the partnership's two platforms), year 10: an institution has the highest betweenness and degree in "
         "Jeonju's graph of ties and affiliations (>= 75% of seeds); the largest firm on top in <= 25%.", s4v_11,
         note="as for S4V-10, it follows from the affiliations"),
    Fact("S4V-12", "Wonju: 11 incubator tenants (1998), 66 firms competing for its estate (2004), 159 firms (2020).",
         "A growth trajectory for firm counts (three points).",
         f"11 firms + university + an estate of {WONJU_ESTATE:.0f} units (room for about the 159 firms of 2020: an "
         f"input), a showcase from year {WONJU_SHOWCASE_YEAR:g}, {len(ESTATE_SEEDS)} seeds, {WONJU_YEARS} years (1998-2020): "
         f"the cluster fills its estate (median firm count at year {WONJU_YEARS} >= 90% of the room); applicants "
         f"outnumber the free units (a waiting list forms) by the end of year {FULL_YEAR} in >= 75% of seeds; "
         "without the university or the space it does not happen (the mechanism test: without the university the "
         "median stays below 100 firms, paired t > 3).", s4v_12,
         test=f"tests/test_source_facts.py::test_s4v_12` and `{MECHANISM_TEST}",
         partial="the final count is the estate's room, an input, so the finding is that demand fills it (and does "
                 "not without the university); the model has one estate from year 0 where Wonju had several in "
                 "turn, and fewer firms apply in year 6 than the 66 of 2004"),
    Fact("S4V-13", "Medison-origin firms: 13 listed and 70+ unlisted; Wonju's core firms are Medison spin-offs.",
         "Spin-off genealogy: the founding cohort should descend mostly from one (external) parent.",
         f"S4V-12 set-up, firms born in years 0-10, {_S} seeds, at the defaults and with spinoff_rate 0.04 and "
         "spinoff_quality 2 (tops of their ranges): the most prolific single parent accounts for >= 50% of them.", s4v_13,
         why_not="Most newcomers come from the national pool, drawn by the estate and the showcase (processes.entry): "
                 "only the share above descends from a parent, so even one parent behind every spin-off would not reach "
                 "half of the cohort. Besides, a spin-off always settles in its parent's cluster (processes._spinoffs, "
                 "`cl = pop.cluster[spawn]`), so an external parent cannot seed a cluster, and a parent's spin-off rate "
                 "depends on its quality, not on its size or anchor role."),
    Fact("S4V-14", "After Samsung acquired Medison, its base moved to the capital region and talent left.",
         "An anchor-loss shock should reduce the skilled pool and mentoring.",
         "A 300-firm medical-device cluster with anchors (3%); all anchors leave at year 1 (anchor_exit) against the "
         f"paired control, {len(ANCHOR_LOSS_SEEDS)} seeds: local ties one year later >= 5% lower (t < -3); employment of the remaining firms "
         "five years later >= 2% lower (t < -3).", s4v_14,
         note="the remaining firms hire from the cluster's skilled-labour pool (processes.labour_pool: employment "
              "against its moving average of pool_memory years), which the anchors' workers leave with them: the pool "
              "index falls by about the anchors' share of employment, which lowers the firms' target employment "
              "(x r^pool_elasticity) and slows the hiring of those below it (x r^pool_matching) until the average "
              "catches up. The check is not robust to every parameter value inside its range (the measured column "
              "gives it on the next seeds and at the bottom of each of the pool's ranges)."),
    Fact("S4V-15", "After losing the 2009 bid, Wonju had about ten years without new estates or national projects; entry stopped.",
         "Absence of space and projects should suppress entry.",
         f"S4V-12 set-up, {_S} seeds, {WONJU_YEARS} years, against the paired run with a second estate and showcase at year "
         f"{FULL_YEAR} (when the estate is full, see S4V-12; Wonju lost its bid in 2009, year 11): entrants a year in "
         f"years {FULL_YEAR + 1}-{WONJU_YEARS} at most a third (t > 3); net growth at most a third of the six years "
         "before.", s4v_15,
         note="once the estate is full only the units that exits free are let, so the stop is built into the "
              "estate's room; what the experiment adds is that demand fills the estate first"),
    Fact("S4V-16", "Jeonju's first-generation startups became ODM/OBM makers (NIB about 15 bn KRW, Anjeon Precision 13 bn KRW of sales).",
         "Size of successful graduates; type distribution (OEM vs ODM/OBM).",
         "-", static="not testable here: the model has no sales and no production modes (OEM, ODM, OBM); firm size is "
                     "employment only"),
    Fact("S4V-17", "Jeonju's 2011 T700 carbon-fibre breakthrough was followed by Hyosung's 1 trillion KRW investment and a national designation.",
         "An institute breakthrough can trigger large-firm entry and designation.",
         "The S4V-7 runs (Jeonju with a research institute and an intermediary) against the same runs without them, "
         f"{len(NATIONAL_SEEDS)} paired seeds: anchors that entered Jeonju and are still there after 10 years (> 0; more "
         "with the institute, paired t > 2).", s4v_17,
         partial="there is no breakthrough event, no large-firm investment decision and no designation: what is "
                 "tested is whether an institute draws large firms, which enter as a fixed share of relocating firms "
                 "(anchor_entry_share, processes.entry) and choose clusters by related base (to which a research "
                 "institute adds inst_attraction firm equivalents of its field), attractiveness and free space",
         why_not="Large firms enter as a fixed share of relocating firms (anchor_entry_share, processes.entry), which "
                 "choose clusters by related base, attractiveness and free space; an institute adds only "
                 "inst_attraction firm equivalents to its field's base, so it draws a few more of them at most. Before "
                 "the skilled-labour pool these runs held more anchors with the institute (0.7 against 0.2, t = 3.2), "
                 "a difference of a fraction of a firm that did not survive the pool's reshuffling of ties (see "
                 "S4V-7)."),
    Fact("S4V-18", "Jeonju Innovation Startup Hub: all 64 units let on completion (Sep 2020).",
         "Demand for stage-appropriate space in a functioning cluster is high.",
         f"S4V-12 set-up, its estate full at year {FULL_YEAR} (see S4V-12 and S4V-15), {len(ESTATE_SEEDS)} seeds: "
         f"{HUB_UNITS} units (Jeonju's hub, 64 units for its 861 firms of 2020, as a share of the Wonju-like room) added "
         f"at year {FULL_YEAR} without a showcase; share let one year later (the estate's free units then; >= 80%).", s4v_18,
         note="the units are let to the applicants who wait for the full estate (processes.entry: applicants who "
              "find an estate full wait up to wait_years for a unit) and to the year's new applicants. The check "
              "scales the hub to its cluster: 64 units, Jeonju's absolute number but two-fifths of the Wonju-like "
              "cluster, fail it (the measured column gives the share), the more so with a short wait or none "
              "(wait_years is an assumption)",
         why_not="New units are let only from the estate's waiting list and the pool's flow (processes.entry); too "
                 "few applicants wait when the units open."),
    Fact("S4V-19", "Sewoon: 1987 Yongsan (sector exit), 2006 redevelopment and demolition (core exit), makers from 2010.",
         "A shock and renewal timeline.", "-",
         static="not testable here: a dated sequence of events is a scenario input, not an outcome; its consequence "
                "(shrinking while renewal starts) is judged in S4V-3"),
    Fact("S4V-20", "Sewoon's renewal is related, embedded diversification (design fused with existing making); startups stay marginal.",
         "Renewal stays close to existing craft capabilities, small in share but large in effect.",
         "A 300-firm urban-manufacturing cluster with Sewoon's renewal from year 1 (policy-funded makers, 2% of firms a "
         "year, half introduced to an incumbent, and the brokerage office of S4V-21 bringing makers and craftsmen "
         f"together), {_S} seeds, to year 8: new startups' relatedness to the incumbents' mix >= 1.5 times a random "
         "sector's; the renewal adds <= 20% of firms; incumbents leave their sector >= 25% more often than in the paired "
         "run without renewal (t > 3); and >= 25% more often than with the office alone (the startups' own effect, "
         "S4E-M11; t > 3).", s4v_20,
         why_not="The large effect passes because of the brokerage office, not the makers: the office raises "
                 "branching and lowers the coordination threshold for every firm of the cluster and gives its members "
                 "a mission (levers recombination_mult, coordination_mult, processes.technology), whether makers come "
                 "or not. The makers add little to it (S4E-M11 expects even a marginal share of startups to move the "
                 "incumbents): policy-funded startups draw their sectors from the cluster's own relatedness density "
                 "(processes.entry), so they bring sectors the incumbents already hold; half of them are offered an "
                 "introduction to one incumbent each; and a young-incumbent tie teaches only in proportion to its "
                 "trust, which builds slowly (processes._branch), so few incumbents learn from a maker at all."),
    Fact("S4V-21", "Trust between Euljiro's craftsmen and startups took a long time even with brokers; about 10 craftsmen serve as Meisters.",
         "Cross-type tie formation is slow; the participating craftsman fraction is small.",
         f"A 300-firm urban-manufacturing cluster with a living lab from year 1 against the paired control, {_S} seeds: half "
         "the gain in trusted (>= 0.5) young-incumbent ties takes >= 1 year; <= 10% of incumbents hold such a tie.",
         s4v_21, note="the living lab speeds up trust only among the members of the cluster's intermediaries "
                      "(processes.trust_lift; S4P-M14/M15); without that speed-up it adds almost no trusted "
                      "young-incumbent ties. A tie between members needs four quarters to reach trust 0.5 (trust_years "
                      "3, the lab's trust 2), others eight, but the time to half the gain is set mostly by the pace at "
                      "which the platform recruits members (its 'members' share a year): with trust 8 (one quarter a "
                      "tie) it is as slow, with members at 1 a year faster (6-8 quarters), with members at 0.05 slower "
                      "(17-19; measured by a referee on seeds 1-8 and 300-307)"),
    Fact("S4V-22", "Craftsman-startup crowdfunding reached 537% and 173% of targets; a platform linked 3,000 fabric makers to designers in 52 countries.",
         "Magnitudes for the payoff of cross-type ties and a platform's reach.", "-",
         static="not testable here: the model has no product-level payoffs, crowdfunding or foreign designers; a tie's "
                "value is the same network return for every pair"),
    Fact("S4V-23", "Wonju copied Tuttlingen (structure) and later Dresden (personnel exchange).",
         "Benchmarks for comparable European clusters.", "-",
         static="not testable here: no European cluster and no benchmark data are in the model"),
)


# ----------------------------------------------------------------------------- verdicts and the table
def verdict(f: Fact, out: Outcome | None) -> str:
    if out is None:
        return f.static
    ok = [c.passed for c in out.checks]
    if all(ok):
        return "partly" if f.partial else "reproduced"
    return "partly" if any(ok) else "not reproduced"


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def table(results: dict[str, Outcome | None]) -> list[str]:
    lines = ["| fact | the fact | what the model must do | how it is judged | result measured | verdict |",
             "|---|---|---|---|---|---|"]
    for f in FACTS:
        out = results.get(f.id)
        v = verdict(f, out)
        if out is None:
            measured = "-"
        else:
            checks = "; ".join(f"{c.name}: {'yes' if c.passed else 'no'} ({c.detail})" for c in out.checks)
            measured = f"{out.measured}. Checks: {checks}."
            if out.notes:
                measured += f" Note: {out.notes}."
        if out is None:
            verdict_text = v
        else:
            parts = [f"**{v}**"]
            if v in ("partly", "not reproduced") and f.why_not and not all(c.passed for c in out.checks):
                parts.append(f"Why: {f.why_not}")
            if f.partial:
                parts.append(f"Outside this test: {f.partial}")
            if f.note:
                parts.append(f"Note: {f.note}")
            if f.test:
                parts.append(f"Test: `{f.test}`")
            elif v in ("reproduced", "partly"):
                parts.append(f"Test: `tests/test_source_facts.py::test_{f.id.lower().replace('-', '_')}`")
            verdict_text = ". ".join(p_.rstrip(".") for p_ in parts) + "."
        lines.append(f"| [KRIHS-2020] {f.id} | {_cell(f.fact)} | {_cell(f.must)} | {_cell(f.judged)} | "
                     f"{_cell(measured)} | {_cell(verdict_text)} |")
    return lines


def summary(results: dict[str, Outcome | None]) -> str:
    counts: dict[str, int] = {}
    for f in FACTS:
        v = verdict(f, results.get(f.id))
        key = v.split(":")[0].split(" (")[0]
        counts[key] = counts.get(key, 0) + 1
    order = ["reproduced", "partly", "not reproduced", "not testable here", "calibration"]
    return ", ".join(f"{k} {counts[k]}" for k in order if k in counts)


def git_version() -> str:
    def git(*a):
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True, check=False).stdout.strip()
    h = git("rev-parse", "--short", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--", "sim", "scenarios", "calibration")
    return h + (" with uncommitted changes to the model" if dirty else "")


def run_all(verbose: bool = True) -> dict[str, Outcome | None]:
    results: dict[str, Outcome | None] = {}
    for f in FACTS:
        if f.run is None:
            results[f.id] = None
            continue
        t0 = time.perf_counter()
        results[f.id] = f.run()
        if verbose:
            print(f"{f.id:<7} {verdict(f, results[f.id]):<15} {time.perf_counter() - t0:5.1f}s  {results[f.id].measured}",
                  file=sys.stderr)
    return results


def block(results: dict[str, Outcome | None], seconds: float) -> str:
    stamp = (f"Regenerated by `{COMMAND}` on {_dt.date.today().isoformat()}, model version (git commit) "
             f"{git_version()}, parameter defaults, {seconds:.0f} s of wall time in one process.")
    lines = [START, "", stamp, "",
             f"**Verdicts:** {summary(results)} (of {len(FACTS)} facts).", ""]
    lines += table(results)
    lines += ["", END]
    return "\n".join(lines)


def write_doc(text: str, path: Path = DOC) -> None:
    doc = path.read_text(encoding="utf-8")
    if START not in doc or END not in doc:
        raise SystemExit(f"{path}: markers {START} ... {END} not found")
    head, rest = doc.split(START, 1)
    tail = rest.split(END, 1)[1]
    path.write_text(head + text + tail, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog=COMMAND, description="Run the source-fact experiments and write docs/facts.md.")
    ap.add_argument("--print", action="store_true", help="print the table instead of writing docs/facts.md")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    results = run_all()
    text = block(results, time.perf_counter() - t0)
    if a.print:
        print(text)
    else:
        write_doc(text)
        print(f"wrote {DOC.relative_to(ROOT)}: {summary(results)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

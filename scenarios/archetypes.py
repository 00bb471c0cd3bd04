"""Development types grown from mechanisms: one small documented set-up per type.

Each archetype is one synthetic cluster (home sector machinery) in a small national
system (the outside world is ten times the cluster), with a few parameters changed
from the defaults, every value inside its sensitivity range (``Param.sa_bounds``).  Each
names the **mechanism** that produces its type and the parameter values that switch that
mechanism **off**; ``tests/test_archetypes.py`` checks that the type arises with the
mechanism on and disappears with it off (several seeds).  Stages are read off the
trajectory by :func:`sim.indices.scores.stage` ([KRIHS-2020] table 2-1):

=========== =========================================================== ==========================
type        mechanism that produces it                                   switched off by
=========== =========================================================== ==========================
nascent     the cross-group barrier: firms of many families, few local   ``cross_accept`` = 1
            pairs accept, so no local network forms
growing     attractiveness above critical mass with free space: the      ``critical_mass_gain`` = 0
            national pool chooses the cluster
featureless a firm mix as dispersed as the country's, kept apart by the  ``cross_accept`` = 1
            barrier between families (lock-in cannot pull firms together;
            lifting the barrier removes the type only slowly)
path_locked closure: costly external ties and a local preference keep     ``external_cost`` = 0.5,
            ties inside, where lock-in pulls firms together               ``n_external`` = 4,
                                                                          ``beta_local`` = 0
resilient   renewal after a shock: hurt firms branch into related        ``recombination_rate`` = 0,
            sectors, entrants shun the devalued technology and refill     ``startup_rate`` = 0
            the vacated space
declining   a technology shift on a locked-in cluster with no escape      ``shock_size`` = 0
=========== =========================================================== ==========================

``python -m scenarios.archetypes`` runs each one, on and off, and prints the stages reached;
``python -m scenarios.archetypes --shock`` compares the resilient and the path-locked set-ups
(and variants of the latter) under the same standard shock (:func:`shock_comparison`), on seeds
1-10 or ``--seeds FIRST-LAST``; with ``--no-variants`` it compares the two set-ups only and adds
their differences with standard errors (:func:`shock_gaps`).
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from sim.core.calendar import STEPS_PER_YEAR
from sim.data.clusters import cluster_table as observed_cluster_table
from sim.engine.baseline import run_portably
from sim.engine.runner import simulate
from sim.indices.scores import STAGES


@dataclass(frozen=True)
class Archetype:
    """A development type: set-up, the mechanism that produces it, and how to switch it off."""

    name: str
    firms0: int
    years: float
    params: dict = field(default_factory=dict)
    mechanism: str = ""
    off: dict = field(default_factory=dict)
    family: str = "machinery"


_COMMON = {"scale": 1.0, "outside_ratio": 10.0, "institutions_per_1000": 10.0}
#: The standard technology shock of the resilience measure: in year 1, penalty 1.5, persistence 0.9.
STANDARD_SHOCK = {"shock_year": 1.0, "shock_size": 1.5, "shock_persistence": 0.9}

_LOCKED = {"init_home_share": 0.8, "convergence_rate": 0.3, "lock_in": 4.0, "recombination_rate": 0.15,
           "external_learning": 0.0, "external_cost": 4.0, "n_external": 0, "beta_local": 2.5,
           "broker_intros": 0.0, "critical_mass": 50.0}
ARCHETYPES: dict[str, Archetype] = {a.name: a for a in (
    Archetype("nascent", 100, 3, {"init_home_share": 0.2, "cross_accept": 0.05, "young_years": 8.0,
                                  "beta_local": 0.0, "external_cost": 0.5, "n_external": 4},
              "the cross-group barrier keeps firms of different families and ages apart: no local network forms",
              {"cross_accept": 1.0}),
    Archetype("growing", 80, 4, {"init_home_share": 0.7, "critical_mass": 30.0, "critical_mass_gain": 1.5,
                                 "space_headroom": 2.0},
              "above critical mass, the national pool prefers the cluster while it has free space",
              {"critical_mass_gain": 0.0}),
    Archetype("featureless", 150, 6, {"init_home_share": 0.1, "cross_accept": 0.05, "convergence_rate": 0.3,
                                      "critical_mass": 1000.0},
              "a firm mix as dispersed as the country's, kept apart by the barrier between sector families: "
              "lock-in cannot pull firms of different families together",
              {"cross_accept": 1.0}),
    Archetype("path_locked", 300, 6, {**_LOCKED, "init_home_share": 0.5},
              "closure: costly external ties and a local preference keep every tie inside the cluster, where "
              "cognitive lock-in pulls firms together; centripetal forces dominate and the gap does not close",
              {"external_cost": 0.5, "n_external": 4, "beta_local": 0.0}),
    Archetype("resilient", 300, 7, {"init_home_share": 0.4, "recombination_rate": 0.2, "external_cost": 0.5,
                                    "n_external": 4, "startup_rate": 0.1,
                                    "critical_mass": 50.0, **STANDARD_SHOCK},
              "renewal after the standard shock: hurt firms branch into related sectors and entrants, shunning "
              "the devalued technology, refill the vacated space: firms recover and the mix moves away from "
              "the shocked sector",
              {"recombination_rate": 0.0, "startup_rate": 0.0}),
    Archetype("declining", 300, 4, {**_LOCKED, "shock_year": 1.0, "shock_size": 3.0,
                                    "shock_persistence": 0.98, "exit_sensitivity": 1.5},
              "a lasting technology shift hits a locked-in cluster whose firms cannot branch away",
              {"shock_size": 0.0}),
)}


#: The Wonju-like emergence ([KRIHS-2020] S4V-1, S4V-12): the three medical-device clusters, Wonju first.
WONJU_CLUSTERS = ["wonju_medical_devices", "osong_ochang_medical_devices", "daegu_medical_devices"]
#: Its parameters: real size, an outside world three times the clusters, no institution but the policy's.
WONJU_PARAMS = {"scale": 1.0, "outside_ratio": 3.0, "institutions_per_1000": 0.0}
#: Units of its estate: room for about the 159 firms Wonju had in 2020 (S4V-12), beside the headroom of its 11
#: founding firms.  An input: a cluster that fills its estate ends at the estate's size.
WONJU_ESTATE = 150.0
#: Year of the demonstration success: the early successes of the university's incubator tenants were publicised
#: in the early 2000s, before 66 firms applied for the 2004 estate ([KRIHS-2020] S4W-M7, Wonju timeline of
#: chapter 4); from it the cluster's log-attractiveness is raised by :data:`WONJU_SHOWCASE`.
WONJU_SHOWCASE_YEAR = 5.0
#: The showcase's log-attractiveness (lever ``reputation``): an assumption (the source gives no size).
WONJU_SHOWCASE = 1.0
#: The year by which the Wonju-like estate is full, with applicants waiting, in most seeds (measured:
#: ``docs/facts.md``, S4V-12).  Wonju's own estates were full by 2009 (year 11), when it lost the bid
#: ([KRIHS-2020] S4V-15); the model's single estate, drawing applicants from the showcase of year 5, fills
#: about four years later.  The experiments of S4V-15 (no new space from then on) and S4V-18 (new units
#: then) start here.
WONJU_FULL_YEAR = 15


def wonju_setup(university: bool = True, space: float = WONJU_ESTATE) -> tuple[pd.DataFrame, list[dict]]:
    """A Wonju-like start: ``(cluster table, policies)`` to run with :data:`WONJU_PARAMS`.

    11 firms with no institution beside the two other medical-device clusters at real size; an
    estate of ``space`` units from year 0 (entrants who find it full wait for a unit); if
    ``university``, a university placed by policy at year 0; a showcase (the demonstration success)
    from :data:`WONJU_SHOWCASE_YEAR`.  The success follows the university's incubation in Wonju's
    history, but it is placed in both runs, so that the comparison isolates the university's own
    pull.  Used by ``tests/test_mechanisms.py`` and ``scripts/source_facts.py``.
    """
    tab = observed_cluster_table().set_index("id").loc[WONJU_CLUSTERS].reset_index()
    tab["firms0"] = tab["firms"].astype(float)
    tab.loc[0, "firms0"] = 11.0
    pols = [{"policy": "estate", "intensity": space, "target": WONJU_CLUSTERS[0]},
            {"policy": "estate", "intensity": 0.0, "showcase": WONJU_SHOWCASE, "start": WONJU_SHOWCASE_YEAR,
             "target": WONJU_CLUSTERS[0]}]
    if university:
        pols.append({"policy": "hub_institution", "kind": "university", "intensity": 1, "initial_ties": 3,
                     "outreach": 0.0, "target": WONJU_CLUSTERS[0]})
    return tab, pols


def cluster_table(firms0: int, family: str = "machinery") -> pd.DataFrame:
    """One synthetic cluster of ``firms0`` firms in sector family ``family``."""
    return pd.DataFrame([{"id": "demo_cluster", "name_en": "Demo cluster", "sector_family": family,
                          "firms": firms0, "employees_per_firm": 5.0, "firms0": firms0}])


def run_archetype(name: str, seed: int = 1, off: bool = False, params: dict | None = None,
                  **kw) -> pd.DataFrame:
    """Run one archetype (with its mechanism switched off if ``off``); returns the tidy indicator table."""

    a = ARCHETYPES[name]
    p = {**_COMMON, **a.params, **(a.off if off else {}), **(params or {})}
    return simulate(p, seed, years=a.years, cluster_table=cluster_table(a.firms0, a.family), **kw)


def final_stage(df: pd.DataFrame, last_steps: int = STEPS_PER_YEAR) -> str:
    """The most frequent stage over the last ``last_steps`` recorded steps (default: one year)."""
    s = df[df.indicator == "stage"].sort_values("step")["value"].to_numpy()[-last_steps:]
    return STAGES[int(Counter(s.astype(int)).most_common(1)[0][0])]


def recovery(df: pd.DataFrame, shock_year: float = STANDARD_SHOCK["shock_year"], after: float = 5.0) -> dict:
    """Measured response to a shock: firm count and related variety ``after`` years on, relative to just before.

    Returns ``{"firms": ratio, "related_variety": difference}``.
    """
    pre = shock_year - 1.0 / STEPS_PER_YEAR
    return {"firms": _value_at(df, "firms", shock_year + after) / max(_value_at(df, "firms", pre), 1.0),
            "related_variety": (_value_at(df, "related_variety", shock_year + after)
                                - _value_at(df, "related_variety", pre))}


def _value_at(df: pd.DataFrame, name: str, year: float) -> float:
    """Indicator ``name`` of a single-cluster run at ``year``."""
    d = df[df.indicator == name]
    return float(d.loc[d.step == int(round(year * STEPS_PER_YEAR)), "value"].iloc[0])


def measured_resilience(df: pd.DataFrame, year: float | None = None) -> int:
    """The model's measured shock response at ``year`` (default: the last step): 1 recovered, 0 not, -1 untested."""
    if year is not None:
        return int(_value_at(df, "resilience", year))
    return int(df[df.indicator == "resilience"].sort_values("step")["value"].iloc[-1])


#: Variants of the path-locked set-up under the standard shock, each lifting one part of it
#: (:func:`shock_comparison`): the resilient set-up's initial mix, its entry (startup rate),
#: openness, no strong lock-in.
PATH_LOCKED_VARIANTS: dict[str, dict] = {
    "path_locked with the resilient set-up's initial mix (init_home_share 0.4)": {"init_home_share": 0.4},
    "path_locked with the resilient set-up's entry": {"startup_rate": 0.1},
    "path_locked opened (its closure switched off)": dict(ARCHETYPES["path_locked"].off),
    "path_locked without strong lock-in (lock_in 2, convergence_rate 0.1)": {"lock_in": 2.0,
                                                                            "convergence_rate": 0.1},
}
#: The resilient set-up at the default critical mass (150 home-sector firms, near its own 120): the
#: set-up choice that the comparison depends on (docs/odd.md section 1).
RESILIENT_VARIANTS: dict[str, dict] = {
    "resilient at the default critical mass (150)": {"critical_mass": 150.0},
}
#: Years after the shock at which both set-ups are compared (the model's ``RECOVERY_YEARS``).
AFTER = 5.0


def shock_comparison(seeds=range(1, 11), jobs: int = 1, variants: bool = True) -> pd.DataFrame:
    """The resilient and the path-locked set-ups (and variants of the latter) under the same standard shock.

    One row per set-up and seed, all read :data:`AFTER` years after the shock: ``firms`` (firm
    count over the count just before the shock), ``cost`` (firm count over that of the same
    set-up and seed without the shock, ``shock_size`` 0: what the shock itself took, net of the
    growth the set-up has anyway), ``extra_exits`` and ``extra_entrants`` (exits and entrants from
    the shock on, minus the twin's), ``related_variety`` (its change since just before the shock)
    and ``recovered`` (the model's measured resilience: firm count back to ``RECOVERY_SHARE`` of
    the pre-shock count and the shocked sector's share down by ``REORIENTATION``).
    """
    setups = [("resilient", "resilient", {}), ("path_locked", "path_locked", {})]
    if variants:
        setups += [(label, "resilient", v) for label, v in RESILIENT_VARIANTS.items()]
        setups += [(label, "path_locked", v) for label, v in PATH_LOCKED_VARIANTS.items()]
    year = STANDARD_SHOCK["shock_year"] + AFTER

    def one(label, name, extra, seed):
        df = run_archetype(name, seed, params={**STANDARD_SHOCK, **extra})
        twin = run_archetype(name, seed, params={**STANDARD_SHOCK, **extra, "shock_size": 0.0})
        r = recovery(df, after=AFTER)
        (x1, e1), (x0, e0) = _exits_entrants(df, year), _exits_entrants(twin, year)
        return {"setup": label, "seed": seed, "firms": r["firms"],
                "cost": _value_at(df, "firms", year) / max(_value_at(twin, "firms", year), 1.0),
                "extra_exits": x1 - x0, "extra_entrants": e1 - e0,
                "related_variety": r["related_variety"], "recovered": measured_resilience(df, year) == 1}

    rows = Parallel(n_jobs=jobs)(delayed(one)(lab, nm, ex, s) for lab, nm, ex in setups for s in seeds)
    return pd.DataFrame(rows)


def _exits_entrants(df: pd.DataFrame, year: float) -> tuple[float, float]:
    """Exits and entrants (startups, relocations, spin-offs) from the shock to ``year``."""
    first, last = int(round(STANDARD_SHOCK["shock_year"] * STEPS_PER_YEAR)), int(round(year * STEPS_PER_YEAR))
    d = df[(df.step >= first) & (df.step <= last)].groupby("indicator")["value"].sum()
    return float(d.get("exits", 0.0)), float(sum(d.get(k, 0.0) for k in ("startups", "relocations", "spinoffs")))


def shock_table(df: pd.DataFrame) -> str:
    """Markdown summary of :func:`shock_comparison` (means, with min-max of the firm ratio)."""
    lines = [f"| set-up under the standard shock, {AFTER:g} years on | firms / before the shock (mean, min-max) | "
             "firms / unshocked twin (mean) | exits, entrants more than the twin (mean) | "
             "related variety change (mean) | measured as recovered |",
             "|---|---|---|---|---|---|"]
    for label, g in df.groupby("setup", sort=False):
        lines.append(f"| {label} | {g.firms.mean():.2f} ({g.firms.min():.2f}-{g.firms.max():.2f}) | "
                     f"{g.cost.mean():.2f} | {g.extra_exits.mean():+.1f}, {g.extra_entrants.mean():+.1f} | "
                     f"{g.related_variety.mean():+.2f} | {int(g.recovered.sum())} of {len(g)} seeds |")
    return "\n".join(lines)


def setup_gap(df: pd.DataFrame, col: str) -> tuple[float, float]:
    r"""Resilient minus path-locked mean of ``col`` in :func:`shock_comparison`, and its Welch standard error.

    The two set-ups are paired by nothing but the shock, so the standard error is that of two independent
    means, :math:`\sqrt{s_a^2 / n_a + s_b^2 / n_b}` (Welch 1947).
    """
    a = df.loc[df.setup == "resilient", col].to_numpy(float)
    b = df.loc[df.setup == "path_locked", col].to_numpy(float)
    return float(a.mean() - b.mean()), float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b)))


def shock_gaps(df: pd.DataFrame) -> str:
    """Resilient minus path-locked in :func:`shock_comparison` (the two set-ups, paired by nothing but the shock):
    mean differences with Welch standard errors, and the shares measured as recovered."""
    res, pl = df[df.setup == "resilient"], df[df.setup == "path_locked"]

    def gap(col: str, digits: int) -> str:
        d, se = setup_gap(df, col)
        return f"{d:+.{digits}f} (standard error {se:.{digits}f})"
    return (f"resilient minus path_locked over {len(res)} seeds: firms / unshocked twin {gap('cost', 3)}; extra exits "
            f"{gap('extra_exits', 1)}; measured as recovered {res.recovered.mean():.0%} against {pl.recovered.mean():.0%}")


def _seeds_option(argv: list[str]) -> range:
    """``--seeds FIRST-LAST`` (default 1-10); a malformed value is a one-line error with exit status 2."""
    if "--seeds" not in argv:
        return range(1, 11)
    i = argv.index("--seeds")
    m = re.fullmatch(r"(\d+)-(\d+)", argv[i + 1] if i + 1 < len(argv) else "")
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)) <= 10_000:
        print("error: --seeds takes FIRST-LAST, whole numbers from 1 to 10000 (e.g. --seeds 1-100)", file=sys.stderr)
        raise SystemExit(2)
    return range(int(m.group(1)), int(m.group(2)) + 1)


if __name__ == "__main__":  # pragma: no cover
    if "--shock" in sys.argv:
        seeds = _seeds_option(sys.argv)
        run_portably(["-m", "scenarios.archetypes", *sys.argv[1:]])  # docs/odd.md's table, checked portably
        variants = "--no-variants" not in sys.argv
        table = shock_comparison(seeds=seeds, jobs=2, variants=variants)
        print(shock_table(table))
        if not variants:
            print()
            print(shock_gaps(table))
        raise SystemExit(0)
    for nm in ARCHETYPES:
        on = [final_stage(run_archetype(nm, s)) for s in range(1, 6)]
        off = [final_stage(run_archetype(nm, s, off=True)) for s in range(1, 6)]
        print(f"{nm:<12} on -> {Counter(on).most_common()}   off -> {Counter(off).most_common()}")

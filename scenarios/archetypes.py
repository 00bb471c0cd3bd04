"""Small documented parameter sets that produce each development type of table 2-1 of [KRIHS-2020].

Each archetype is one synthetic cluster (home sector machinery) in a small
national system (the outside world is three times the cluster), with a handful
of parameters changed from the defaults.  They show that the mechanisms can
produce every stage of table 2-1 of [KRIHS-2020] (its development types; docs/sources.md):

========== ================================================================
nascent     a dozen firms, little entry: no network has formed yet
growing     above critical mass with strong agglomeration feedback: fast entry
featureless no home-sector concentration and no critical mass: no specialisation
path_locked closed and convergent: local ties only, no recombination, costly outside
resilient   open and recombining: cheap external ties, recombination, brokers
declining   a path-locked cluster hit by a technology shift in year 1
========== ================================================================

``python -m scenarios.archetypes`` runs each one and prints the stage it reaches.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from sim.core.calendar import STEPS_PER_YEAR
from sim.engine.runner import simulate
from sim.indices.scores import STAGES


@dataclass(frozen=True)
class Archetype:
    name: str
    firms0: int
    years: float
    params: dict = field(default_factory=dict)
    doc: str = ""


_COMMON = {"scale": 1.0, "outside_ratio": 3.0, "institutions_per_1000": 10.0}
_LOCKED = {"init_home_share": 0.8, "convergence_rate": 0.3, "recombination_rate": 0.0,
           "external_learning": 0.0, "external_cost": 6.0, "n_external": 0, "beta_local": 3.0,
           "beta_pop": 2.0, "broker_intros": 0.0, "beta_cog": 0.0, "startup_rate": 0.05,
           "tech_noise": 0.0, "critical_mass": 50.0, "crowding": 0.5}

ARCHETYPES: dict[str, Archetype] = {a.name: a for a in (
    Archetype("nascent", 12, 2, {"startup_rate": 0.0, "relocation_rate": 0.0, "spinoff_rate": 0.0,
                                 "inst_spinoff_rate": 0.0, "critical_mass": 500.0},
              "a dozen firms, no entry: below the size of a cluster, no network yet"),
    Archetype("growing", 80, 4, {"init_home_share": 0.7, "critical_mass": 20.0, "critical_mass_gain": 4.0,
                                 "startup_rate": 0.08, "relocation_rate": 0.05, "crowding": 0.2},
              "above critical mass with strong feedback: entry far exceeds exit"),
    Archetype("featureless", 150, 4, {"init_home_share": 0.05, "critical_mass": 5000.0, "convergence_rate": 0.0},
              "no home-sector concentration, no critical mass, no shared standards: LQ stays below 1"),
    Archetype("path_locked", 300, 6, dict(_LOCKED),
              "closed and convergent: technologies converge, ties stay local"),
    Archetype("resilient", 300, 6, {"init_home_share": 0.6, "external_cost": 0.0, "n_external": 4,
                                    "beta_local": 0.0, "recombination_rate": 0.3, "external_learning": 0.1,
                                    "convergence_rate": 0.02, "broker_intros": 6.0, "beta_status": -1.0},
              "open and recombining: external ties, recombination and brokers balance convergence"),
    Archetype("declining", 300, 4, {**_LOCKED, "shock_year": 1.0, "shock_size": 4.0,
                                    "shock_persistence": 0.97, "exit_sensitivity": 1.5},
              "a path-locked cluster hit by a technology shift that devalues its dominant technology"),
)}


def cluster_table(firms0: int) -> pd.DataFrame:
    """One synthetic cluster of ``firms0`` firms, home sector machinery."""
    return pd.DataFrame([{"id": "demo_cluster", "name_en": "Demo cluster", "sector_family": "machinery",
                          "firms": firms0, "employees_per_firm": 5.0, "firms0": firms0}])


def run_archetype(name: str, seed: int = 1, **kw) -> pd.DataFrame:
    """Run one archetype; returns the tidy indicator table."""

    a = ARCHETYPES[name]
    return simulate({**_COMMON, **a.params}, seed, years=a.years, cluster_table=cluster_table(a.firms0), **kw)


def final_stage(df: pd.DataFrame, last_steps: int = STEPS_PER_YEAR) -> str:
    """The most frequent stage over the last ``last_steps`` recorded steps (default: one year)."""
    s = df[df.indicator == "stage"].sort_values("step")["value"].to_numpy()[-last_steps:]
    return STAGES[int(Counter(s.astype(int)).most_common(1)[0][0])]


if __name__ == "__main__":  # pragma: no cover
    for nm in ARCHETYPES:
        stages = [final_stage(run_archetype(nm, s)) for s in range(1, 6)]
        print(f"{nm:<12} -> {Counter(stages).most_common()}")

"""Model invariants on random parameter sets (hypothesis over the schema's sensitivity ranges).

For every random parameter set (each parameter drawn from ``Param.sa_bounds``; a technology
shift placed inside the run), a few random clusters at small scale, a few quarters -- checked
after *every* step, not only at the end:

* no negative (or non-finite) sizes, positions or performances;
* every link joins two distinct living agents, is stored once, with ``u < v``;
* every index lies within its mathematical range (``sim.indices.structure.INDEX_RANGES``), flows are
  non-negative whole numbers, typology and stage codes are valid;
* the ``firms`` index equals the number of living firms in the population arrays, and firm
  counts obey the accounting identity
  ``firms[t] = firms[t-1] + startups + spinoffs + relocations - exits``;
* switching every process off after set-up leaves the population and the network unchanged.

``tests/test_model.py`` checks the same identities for one fixed parameter set; this file
checks them across the parameter space.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from robustness_helpers import examples

from sim.data.clusters import cluster_table
from sim.indices.scores import STAGES, TYPOLOGIES
from sim.indices.structure import INDEX_RANGES
from sim.model.model import FLOWS, ClusterModel
from sim.model.params import SCHEMA
from sim.model.population import SPINOFF

ALL_IDS = list(cluster_table().sort_values("firms")["id"])
SMALLEST = ALL_IDS[:12]  # the twelve smallest clusters (159 to 976 firms at scale 1)
STEPS = 8


def _param(name: str):
    p = SCHEMA[name]
    if name == "shock_year":  # -1 (no shift) or a shift inside the run
        return st.one_of(st.just(-1.0), st.floats(0.0, STEPS / 4 - 0.25))
    lo, hi = p.sa_bounds
    if p.kind == "int":
        return st.integers(int(lo), int(hi))
    if p.kind == "bool":
        return st.booleans()
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


PARAMS = st.fixed_dictionaries({name: _param(name) for name in SCHEMA})
CLUSTERS = st.one_of(st.lists(st.sampled_from(SMALLEST), min_size=1, max_size=3, unique=True),
                     st.lists(st.sampled_from(ALL_IDS), min_size=1, max_size=2, unique=True))
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _smaller(params: dict, clusters: list[str]) -> dict:
    """Keep runs fast: at most ~1,500 firms whatever the clusters."""
    firms = cluster_table().set_index("id").loc[clusters, "firms"].sum()
    params = dict(params)
    params["scale"] = float(min(params["scale"], max(SCHEMA["scale"].low, 1500.0 / firms)))
    return params


def check_state(m: ClusterModel) -> None:
    pop, E = m.pop, m.edges
    alive = pop.alive
    # sizes, positions and performances
    assert np.isfinite(pop.size[alive]).all() and (pop.size[alive] > 0).all(), "non-positive or non-finite size"
    firms = alive & (pop.role <= SPINOFF) & (pop.cluster >= 0)
    assert (pop.size[firms] >= 1.0).all()
    assert ((pop.fine[alive] >= 0) & (pop.fine[alive] < 50)).all(), "fine sector out of range"
    assert ((pop.cap2[alive] >= -1) & (pop.cap2[alive] < 50)).all(), "secondary capability out of range"
    assert np.isfinite(pop.perf[alive]).all(), "non-finite performance"
    assert (pop.age[alive] >= 0).all()
    # links
    assert len(E.u) == len(E.v) == len(E.age) == len(E.trust) == len(E.brokered)
    assert ((E.trust >= 0) & (E.trust <= 1)).all(), "trust outside [0, 1]"
    inst = pop.is_institution
    assert not inst[E.u].any() and not inst[E.v].any(), "an institution in the transaction network"
    if len(E):
        assert (E.u < E.v).all(), "edge not stored as u < v (or a self-loop)"
        assert E.v.max() < pop.n and E.u.min() >= 0
        assert alive[E.u].all() and alive[E.v].all(), "a link touches an exited agent"
        keys = E.u.astype(np.int64) * (1 << 32) + E.v
        assert len(np.unique(keys)) == len(keys), "duplicate link"
        assert (E.age >= 0).all()
    # the firms index agrees with the arrays
    counts = np.bincount(pop.cluster[firms].astype(np.int64), minlength=m.n_clusters)
    t, ind = m._records[-1]
    if t == m.t:
        np.testing.assert_array_equal(ind["firms"], counts)


def check_indicators(m: ClusterModel) -> None:
    df = m.indicators_frame()
    w = df.pivot_table(index=["cluster", "step"], columns="indicator", values="value", dropna=False)
    for k, (lo, hi) in INDEX_RANGES.items():
        v = w[k].dropna()
        assert ((v >= lo - 1e-9) & (v <= hi + 1e-9)).all(), (k, v[(v < lo - 1e-9) | (v > hi + 1e-9)])
    assert w["firms"].notna().all()
    for f in FLOWS:
        v = w[f]
        assert (v >= 0).all() and (v == np.round(v)).all(), f
    typ = w["typology"].dropna()
    assert typ.isin(list(range(-1, len(TYPOLOGIES)))).all()
    stg = w["stage"].dropna()
    assert stg.isin(list(range(-1, len(STAGES)))).all()
    for k in ("centripetal", "centrifugal"):
        assert not np.isinf(w[k]).any(), k
    # accounting identity, cluster by cluster and step by step
    for c in m.cluster_ids:
        x = w.loc[c].sort_index()
        change = x["firms"].diff().to_numpy()[1:]
        flows = (x["startups"] + x["spinoffs"] + x["relocations"] - x["exits"]).to_numpy()[1:]
        np.testing.assert_array_equal(change, flows, err_msg=f"accounting identity fails for {c}")


@settings(max_examples=examples(20), **SETTINGS)
@given(params=PARAMS, clusters=CLUSTERS, seed=st.integers(0, 2 ** 32 - 1), handles=st.booleans())
def test_invariants_on_random_parameter_sets(params, clusters, seed, handles):
    m = ClusterModel(params=_smaller(params, clusters), clusters=clusters, rng=seed, handles=handles)
    check_state(m)
    for _ in range(STEPS):
        m.step()
        check_state(m)
    check_indicators(m)
    if handles:
        from sim.model.agents import Firm

        alive_firms = np.flatnonzero(m.pop.alive & (m.pop.role <= SPINOFF))
        assert sorted(a.idx for a in m.agents_by_type[Firm]) == alive_firms.tolist()


#: Every parameter that drives a process (entry, links, decay, learning, growth, shocks, exit).
PROCESS_RATES = ("startup_rate", "spinoff_rate", "inst_spinoff_rate", "search_rate",
                 "broker_intros", "decay_rate", "convergence_rate", "recombination_rate",
                 "size_growth", "maturation_rate", "shock_size", "exit_rate", "anchor_exit_rate")
STATE = ("alive", "role", "cluster", "fine", "cap2", "coarse", "size", "target", "quality", "parent", "birth", "uid")


@settings(max_examples=examples(15), **SETTINGS)
@given(params=PARAMS, clusters=CLUSTERS, seed=st.integers(0, 2 ** 32 - 1))
def test_no_processes_no_change(params, clusters, seed):
    """Built with random parameters (so with a real network), then every process switched off."""
    m = ClusterModel(params=_smaller(params, clusters), clusters=clusters, rng=seed, handles=False)
    for _ in range(2):  # some history first, processes on
        m.step()
    for name in PROCESS_RATES:
        m.p[name] = 0.0 if SCHEMA[name].kind == "float" else 0
        m.cpar[name][:] = 0.0
    m.shock[:] = 0.0
    before = {k: getattr(m.pop, k).copy() for k in STATE}
    n, u, v = m.pop.n, m.edges.u.copy(), m.edges.v.copy()
    # (with some valid parameter sets, e.g. a prohibitive link threshold, no tie has formed yet: the state
    # must stay unchanged all the same)
    for _ in range(4):
        m.step()
    assert m.pop.n == n
    for k in STATE:
        np.testing.assert_array_equal(getattr(m.pop, k), before[k], err_msg=k)
    np.testing.assert_array_equal(m.edges.u, u)
    np.testing.assert_array_equal(m.edges.v, v)
    df = m.indicators_frame()
    last = df[df.step > 2]
    for f in FLOWS:
        assert (last.loc[last.indicator == f, "value"] == 0).all(), f


@pytest.mark.parametrize("extreme", ["low", "high"])
def test_invariants_at_the_corners_of_the_full_range(extreme):
    """Every parameter at its schema bound (not the narrower sensitivity range)."""
    params = {}
    for name, p in SCHEMA.items():
        if name in ("scale", "shock_year", "burn_in"):
            continue
        params[name] = p.low if extreme == "low" else p.high
    params.update(scale=0.05, shock_year=1.0, burn_in=4)
    m = ClusterModel(params=params, clusters=SMALLEST[:2], rng=1, handles=False)
    for _ in range(STEPS):
        m.step()
        check_state(m)
    check_indicators(m)

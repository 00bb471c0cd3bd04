"""Tests of sim.indices against a plain networkx / pure-python reference."""

from __future__ import annotations

import math
from collections import Counter

import networkx as nx
import numpy as np
import pytest

from sim.indices.structure import (
    INDEX_NAMES,
    INDEX_RANGES,
    cluster_indices,
    indices_frame,
)

TOL = 1e-9


# --------------------------------------------------------------------------- #
# straightforward reference implementation (one cluster at a time)
# --------------------------------------------------------------------------- #
def networkx_reference(cluster, coarse, fine, is_firm, alive, size, eu, ev, home,
                       n_clusters, log_base=2.0):
    N = len(cluster)
    fa = [bool(is_firm[i]) and bool(alive[i]) for i in range(N)]
    net = nx.Graph()
    net.add_nodes_from(i for i in range(N) if fa[i])
    net.add_edges_from((int(a), int(b)) for a, b in zip(eu, ev) if fa[a] and fa[b])
    n_alive = sum(fa)
    nat = Counter(int(coarse[i]) for i in range(N) if fa[i])
    lg = lambda z: math.log(z) / math.log(log_base)  # noqa: E731

    out = {name: np.full(n_clusters, np.nan) for name in INDEX_NAMES}
    for c in range(n_clusters):
        mem = [i for i in range(N) if fa[i] and cluster[i] == c]
        n = len(mem)
        Gc = net.subgraph(mem)
        out["firms"][c] = n
        out["employment"][c] = float(sum(size[i] for i in mem))
        out["links"][c] = Gc.number_of_edges()
        if n == 0:
            continue
        out["density"][c] = nx.density(Gc) if n >= 2 else 0.0
        linked = [h for h in mem if Gc.degree(h) >= 1]
        out["inclusiveness"][c] = len(linked) / n
        out["clustering"][c] = nx.average_clustering(Gc)

        # hierarchy
        m = len(linked)
        degs = sorted((Gc.degree(h) for h in linked), reverse=True)
        if m >= 3 and len(set(degs)) > 1:
            slope = np.polyfit(np.log(np.arange(1, m + 1)), np.log(degs), 1)[0]
            out["hierarchy"][c] = -slope
        else:
            out["hierarchy"][c] = 0.0

        # heterophily
        knn = nx.average_neighbor_degree(Gc)
        kk = np.array([Gc.degree(h) for h in linked], dtype=float)
        kn = np.array([knn[h] for h in linked], dtype=float)
        if m >= 3 and np.ptp(kk) > 0 and np.ptp(kn) > 0:
            out["heterophily"][c] = -np.corrcoef(kk, kn)[0, 1]
        else:
            out["heterophily"][c] = 0.0

        # internal / external reach
        ks = [(net.degree(h), Gc.degree(h)) for h in mem if net.degree(h) >= 1]
        if ks:
            out["internal_cohesion"][c] = np.mean([ki / k for k, ki in ks])
            out["external_linkage"][c] = 100.0 * np.mean([k - ki >= 1 for k, ki in ks])

        # location quotient
        hc = int(home[c])
        if nat[hc] > 0:
            n_home = sum(1 for h in mem if coarse[h] == hc)
            out["specialization"][c] = (n_home / n) / (nat[hc] / n_alive)

        # related / unrelated variety
        pf = Counter(int(fine[h]) for h in mem)
        pg = Counter(int(coarse[h]) for h in mem)
        f2g = {int(fine[h]): int(coarse[h]) for h in mem}
        rv = 0.0
        for g, ng in pg.items():
            Pg = ng / n
            Hg = sum((pf[i] / ng) * lg(ng / pf[i]) for i in pf if f2g[i] == g)
            rv += Pg * Hg
        out["related_variety"][c] = rv
        out["unrelated_variety"][c] = sum((ng / n) * lg(n / ng) for ng in pg.values())
    return out


def assert_same(got, ref, tol=TOL):
    assert set(got) == set(INDEX_NAMES)
    for name in INDEX_NAMES:
        g, r = np.asarray(got[name]), np.asarray(ref[name])
        assert g.shape == r.shape, name
        np.testing.assert_allclose(g, r, rtol=tol, atol=tol, equal_nan=True,
                                   err_msg=f"index {name!r}")


# --------------------------------------------------------------------------- #
# random instances
# --------------------------------------------------------------------------- #
def random_instance(rng, N=None, C=None):
    N = int(rng.integers(5, 120)) if N is None else N
    C = int(rng.integers(1, 7)) if C is None else C
    cluster = rng.integers(-1, C, size=N)
    if rng.random() < 0.5 and C > 1:          # leave one cluster empty sometimes
        cluster[cluster == C - 1] = -1
    G = int(rng.integers(1, 5))
    coarse = rng.integers(0, G, size=N)
    fine = coarse * 1000 + 7 + rng.integers(0, 4, size=N)   # globally unique per coarse
    is_firm = rng.random(N) < 0.9
    alive = rng.random(N) < 0.85
    size = rng.gamma(2.0, 10.0, size=N)
    # mixture of dense intra-cluster edges and random global edges, plus stars
    p_in, p_all = rng.uniform(0.05, 0.6), rng.uniform(0.0, 0.05)
    iu, ju = np.triu_indices(N, 1)
    same = (cluster[iu] == cluster[ju]) & (cluster[iu] >= 0)
    keep = rng.random(len(iu)) < np.where(same, p_in, p_all)
    hub = int(rng.integers(N))
    keep |= ((iu == hub) | (ju == hub)) & (rng.random(len(iu)) < 0.5)
    eu, ev = iu[keep], ju[keep]
    flip = rng.random(len(eu)) < 0.5              # edge direction must not matter
    eu, ev = np.where(flip, ev, eu), np.where(flip, eu, ev)
    perm = rng.permutation(len(eu))
    home = rng.integers(0, G + 1, size=C)         # sometimes a sector with no firm
    return dict(cluster=cluster, coarse=coarse, fine=fine, is_firm=is_firm,
                alive=alive, size=size, eu=eu[perm], ev=ev[perm], home=home,
                n_clusters=C)


@pytest.mark.parametrize("seed", range(40))
def test_random_matches_networkx(seed):
    rng = np.random.default_rng(seed)
    inst = random_instance(rng)
    assert_same(cluster_indices(**inst), networkx_reference(**inst))


@pytest.mark.parametrize("seed", range(5))
def test_random_larger_and_log_base(seed):
    rng = np.random.default_rng(1000 + seed)
    inst = random_instance(rng, N=300, C=8)
    lb = float(np.e) if seed % 2 else 10.0
    assert_same(cluster_indices(**inst, log_base=lb),
                networkx_reference(**inst, log_base=lb))


def test_node_relabelling_invariance():
    rng = np.random.default_rng(7)
    inst = random_instance(rng, N=80, C=4)
    perm = rng.permutation(80)           # new id of old node i is inv[i]
    inv = np.argsort(perm)
    moved = dict(inst)
    for key in ("cluster", "coarse", "fine", "is_firm", "alive", "size"):
        moved[key] = inst[key][perm]
    moved["eu"], moved["ev"] = inv[inst["eu"]], inv[inst["ev"]]
    assert_same(cluster_indices(**moved), cluster_indices(**inst))


# --------------------------------------------------------------------------- #
# hand-computed tiny graph
# --------------------------------------------------------------------------- #
def _ols_neg_slope(degs):
    x = np.log(np.arange(1, len(degs) + 1))
    y = np.log(np.asarray(degs, dtype=float))
    return -np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2)


def tiny():
    """Cluster 0: star (centre 0, leaves 1-4); cluster 1: path 5-6-7-8;
    cluster 2: triangle 9-10-11; cluster 3: two isolated members 12, 13 plus a
    dead member 14 and an institution 15; cluster 4: empty.
    Outside world: 16, 17 (alive firms), 18 (dead firm), 19 (institution).
    Cross edges: 0-16, 0-17, 0-9 (cluster 0 <-> cluster 2), 0-18 (dead, ignored),
    0-19 (institution, ignored), 12-14 (dead, ignored), 13-15 (institution, ignored),
    14-15 (both ignored), 5-16 (path end to outside).
    """
    N = 20
    cluster = np.array([0] * 5 + [1] * 4 + [2] * 3 + [3] * 4 + [-1] * 4)
    alive = np.ones(N, bool)
    alive[[14, 18]] = False
    is_firm = np.ones(N, bool)
    is_firm[[15, 19]] = False
    edges = [(0, 1), (0, 2), (0, 3), (0, 4),
             (5, 6), (6, 7), (7, 8),
             (9, 10), (10, 11), (9, 11),
             (0, 16), (0, 17), (9, 0), (0, 18), (19, 0), (12, 14), (13, 15), (14, 15),
             (5, 16)]
    eu = np.array([a for a, _ in edges])
    ev = np.array([b for _, b in edges])
    # sectors: coarse 0 with fine 100/101, coarse 1 with fine 200, coarse 2 with 300..
    coarse = np.array([0, 0, 0, 0, 0,   1, 1, 2, 2,   0, 1, 2,   1, 2, 0, 0,   0, 1, 0, 1])
    fine = np.array([100, 100, 101, 101, 101,  200, 200, 300, 301,  100, 200, 300,
                     200, 300, 100, 100,  100, 200, 100, 200])
    size = np.arange(N, dtype=float) + 1.0
    home = np.array([0, 1, 2, 1, 0])
    return dict(cluster=cluster, coarse=coarse, fine=fine, is_firm=is_firm, alive=alive,
                size=size, eu=eu, ev=ev, home=home, n_clusters=5)


def test_tiny_hand_computed():
    inst = tiny()
    r = cluster_indices(**inst)
    nan = np.nan
    # alive firms: all except 14, 15, 18, 19 -> N = 16
    # coarse counts over alive firms: 0: {0,1,2,3,4,9,16} = 7; 1: {5,6,10,12,17} = 5;
    # 2: {7,8,11,13} = 4
    expected = {
        "firms": [5, 4, 3, 2, 0],
        "employment": [1 + 2 + 3 + 4 + 5, 6 + 7 + 8 + 9, 10 + 11 + 12, 13 + 14, 0],
        "links": [4, 3, 3, 0, 0],
        "density": [8 / 20, 6 / 12, 1.0, 0.0, nan],
        "inclusiveness": [1.0, 1.0, 1.0, 0.0, nan],
        "clustering": [0.0, 0.0, 1.0, 0.0, nan],
        "hierarchy": [_ols_neg_slope([4, 1, 1, 1, 1]), _ols_neg_slope([2, 2, 1, 1]),
                      0.0, 0.0, nan],
        "heterophily": [1.0, 1.0, 0.0, 0.0, nan],
        # star centre k=7 (4 leaves, 16, 17, 9), k_int=4; leaves 1; path end 5 has
        # k=2, k_int=1; node 9 has k=3, k_int=2; cluster 3 members have k=0.
        "internal_cohesion": [(4 / 7 + 4) / 5, (0.5 + 3) / 4, (2 / 3 + 2) / 3, nan, nan],
        "external_linkage": [20.0, 25.0, 100 / 3, nan, nan],
        # cluster 0: 5/5 in coarse 0 vs 7/16; cluster 1: 2/4 in coarse 1 vs 5/16;
        # cluster 2: 1/3 in coarse 2 vs 4/16; cluster 3: 1/2 in coarse 1 vs 5/16
        "specialization": [1 / (7 / 16), 0.5 / (5 / 16), (1 / 3) / (4 / 16),
                           0.5 / (5 / 16), nan],
        # cluster 0: one coarse sector, fine 2/5, 3/5 -> RV = H(0.4, 0.6)
        # cluster 1: coarse 1 (200, 200), coarse 2 (300, 301) -> RV = 0.5*0 + 0.5*1
        # cluster 2: three coarse sectors with one fine each -> RV 0, UV log2 3
        # cluster 3: two coarse sectors -> RV 0, UV 1
        "related_variety": [-(0.4 * math.log2(0.4) + 0.6 * math.log2(0.6)), 0.5, 0.0,
                            0.0, nan],
        "unrelated_variety": [0.0, 1.0, math.log2(3), 1.0, nan],
    }
    for name in INDEX_NAMES:
        np.testing.assert_allclose(r[name], np.array(expected[name], float), rtol=1e-12,
                                   atol=1e-12, equal_nan=True, err_msg=name)
    # star / path hierarchy values by hand: positive and star steeper than path
    assert r["hierarchy"][0] > r["hierarchy"][1] > 0
    assert_same(r, networkx_reference(**inst))


def test_star_known_values():
    n_leaves = 6
    N = n_leaves + 1
    inst = dict(cluster=np.zeros(N, int), coarse=np.zeros(N, int), fine=np.zeros(N, int),
                is_firm=np.ones(N, bool), alive=np.ones(N, bool), size=np.ones(N),
                eu=np.zeros(n_leaves, int), ev=np.arange(1, N), home=np.array([0]),
                n_clusters=1)
    r = cluster_indices(**inst)
    assert r["heterophily"][0] == pytest.approx(1.0, abs=1e-12)
    assert r["inclusiveness"][0] == 1.0
    assert r["clustering"][0] == 0.0
    assert r["density"][0] == pytest.approx(2 / N)
    assert r["internal_cohesion"][0] == 1.0
    assert r["external_linkage"][0] == 0.0
    assert r["specialization"][0] == 1.0
    assert r["related_variety"][0] == 0.0 and r["unrelated_variety"][0] == 0.0
    # log k = log(6) at R=1, 0 elsewhere
    x = np.log(np.arange(1, N + 1))
    # hierarchy = -Sxy/Sxx with Sxy = (x[0] - mean(x)) * log(6) and x[0] = log 1 = 0
    expected_h = math.log(n_leaves) * x.mean() / np.sum((x - x.mean()) ** 2)
    assert r["hierarchy"][0] == pytest.approx(expected_h, rel=1e-12)
    assert r["hierarchy"][0] > 0


def test_complete_graph_and_equal_degrees():
    # cluster 0: K5 (all degrees 4); cluster 1: cycle of 6 (all degrees 2);
    # cluster 2: perfect matching of 6 nodes (all degrees 1)
    edges = [(i, j) for i in range(5) for j in range(i + 1, 5)]
    edges += [(5 + i, 5 + (i + 1) % 6) for i in range(6)]
    edges += [(11, 12), (13, 14), (15, 16)]
    N = 17
    inst = dict(cluster=np.array([0] * 5 + [1] * 6 + [2] * 6), coarse=np.zeros(N, int),
                fine=np.zeros(N, int), is_firm=np.ones(N, bool), alive=np.ones(N, bool),
                size=np.ones(N), eu=np.array([a for a, _ in edges]),
                ev=np.array([b for _, b in edges]), home=np.zeros(3, int), n_clusters=3)
    r = cluster_indices(**inst)
    np.testing.assert_array_equal(r["hierarchy"], [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(r["heterophily"], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(r["clustering"], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(r["density"], [1.0, 6 / 15, 3 / 15])
    assert_same(r, networkx_reference(**inst))


def test_constant_knn_with_varying_degrees():
    # spider: centre 0 with three legs of length 2. Degrees 3,2,2,2,1,1,1 vary but
    # every node's neighbours have mean degree 2 -> zero variance of knn -> 0.0
    edges = [(0, 1), (1, 2), (0, 3), (3, 6), (0, 4), (4, 5)]
    N = 7
    inst = dict(cluster=np.zeros(N, int), coarse=np.zeros(N, int), fine=np.zeros(N, int),
                is_firm=np.ones(N, bool), alive=np.ones(N, bool), size=np.ones(N),
                eu=np.array([a for a, _ in edges]), ev=np.array([b for _, b in edges]),
                home=np.zeros(1, int), n_clusters=1)
    r = cluster_indices(**inst)
    assert r["heterophily"][0] == 0.0
    assert r["hierarchy"][0] == pytest.approx(_ols_neg_slope([3, 2, 2, 2, 1, 1, 1]), rel=1e-12)
    assert_same(r, networkx_reference(**inst))


def test_no_edges_and_empty_clusters():
    N = 6
    inst = dict(cluster=np.array([0, 0, 0, 1, -1, -1]), coarse=np.array([0, 1, 1, 0, 0, 1]),
                fine=np.array([5, 6, 6, 5, 5, 6]), is_firm=np.ones(N, bool),
                alive=np.array([1, 1, 1, 0, 1, 1], bool), size=np.ones(N),
                eu=np.array([], int), ev=np.array([], int), home=np.array([1, 0, 0]),
                n_clusters=3)
    r = cluster_indices(**inst)
    # cluster 0: 3 isolated firms; cluster 1: only a dead firm -> empty; 2: empty
    np.testing.assert_array_equal(r["firms"], [3, 0, 0])
    np.testing.assert_array_equal(r["employment"], [3, 0, 0])
    np.testing.assert_array_equal(r["links"], [0, 0, 0])
    for name in ("density", "inclusiveness", "clustering", "hierarchy", "heterophily"):
        assert r[name][0] == 0.0, name
    for name in INDEX_NAMES[3:]:
        assert np.isnan(r[name][1]) and np.isnan(r[name][2]), name
    assert np.isnan(r["internal_cohesion"][0]) and np.isnan(r["external_linkage"][0])
    # 2 of 3 in coarse 1 vs 3 of the 5 alive firms nationally (node 3 is dead)
    assert r["specialization"][0] == pytest.approx((2 / 3) / (3 / 5), rel=1e-12)
    assert_same(r, networkx_reference(**inst))


def test_single_member_and_two_linked_members():
    # cluster 0: a single firm linked outside; cluster 1: a pair (m = 2 < 3)
    inst = dict(cluster=np.array([0, 1, 1, -1]), coarse=np.zeros(4, int),
                fine=np.zeros(4, int), is_firm=np.ones(4, bool), alive=np.ones(4, bool),
                size=np.ones(4), eu=np.array([0, 1]), ev=np.array([3, 2]),
                home=np.zeros(2, int), n_clusters=2)
    r = cluster_indices(**inst)
    np.testing.assert_array_equal(r["density"], [0.0, 1.0])
    np.testing.assert_array_equal(r["hierarchy"], [0.0, 0.0])
    np.testing.assert_array_equal(r["heterophily"], [0.0, 0.0])
    np.testing.assert_array_equal(r["internal_cohesion"], [0.0, 1.0])
    np.testing.assert_array_equal(r["external_linkage"], [100.0, 0.0])
    assert_same(r, networkx_reference(**inst))


def test_no_alive_firms_at_all():
    inst = dict(cluster=np.array([0, 1]), coarse=np.zeros(2, int), fine=np.zeros(2, int),
                is_firm=np.array([True, False]), alive=np.array([False, True]),
                size=np.ones(2), eu=np.array([0]), ev=np.array([1]),
                home=np.zeros(2, int), n_clusters=2)
    r = cluster_indices(**inst)
    np.testing.assert_array_equal(r["firms"], [0, 0])
    assert np.isnan(r["specialization"]).all()
    assert_same(r, networkx_reference(**inst))


# --------------------------------------------------------------------------- #
# API
# --------------------------------------------------------------------------- #
def test_ranges_and_frame():
    rng = np.random.default_rng(99)
    inst = random_instance(rng, N=200, C=6)
    r = cluster_indices(**inst)
    assert tuple(r) == INDEX_NAMES
    assert set(INDEX_RANGES) == set(INDEX_NAMES)
    for name in INDEX_NAMES:
        lo, hi = INDEX_RANGES[name]
        vals = r[name][~np.isnan(r[name])]
        assert r[name].dtype == float and r[name].shape == (6,)
        assert np.all(vals >= lo - 1e-12) and np.all(vals <= hi + 1e-12), name
    df = indices_frame(**inst)
    assert list(df.columns) == list(INDEX_NAMES)
    assert list(df.index) == list(range(6))
    for name in INDEX_NAMES:
        np.testing.assert_array_equal(df[name].to_numpy(), r[name])


def test_module_does_not_import_networkx():
    import subprocess
    import sys

    code = ("import sys, sim.indices; "
            "assert 'networkx' not in sys.modules; assert 'pandas' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bad_input_raises():
    inst = tiny()
    with pytest.raises(ValueError):
        cluster_indices(**{**inst, "n_clusters": 3})       # cluster id 3, 4 out of range
    with pytest.raises(ValueError):
        cluster_indices(**{**inst, "size": np.ones(3)})

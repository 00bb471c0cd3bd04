"""Index computation benchmark: :func:`sim.indices.structure.cluster_indices` against networkx.

:func:`index_instance` builds a reproducible test network of a given number of
nodes, shaped like the model's: 38 clusters sized in proportion to the observed
2020 firm counts hold two thirds of the nodes, the outside world the rest;
inside each cluster a Barabasi-Albert graph (m = 3, mean internal degree about
6, denser than the model's networks, so triangles cost more), plus 0.3 random
external ties per node; 2 % of the nodes are exited firms and 0.2 %
institutions, whose ties must be ignored.  Sectors: a cluster's firms are in
its home sector with probability 0.45, otherwise in a random one.
"""

from __future__ import annotations

import time

import networkx as nx
import numpy as np

from benchmarks.nx_indices import graph_from_arrays, nx_cluster_indices
from sim.indices.structure import INDEX_NAMES, cluster_indices

N_COARSE, FINE_PER_COARSE = 10, 5


def index_instance(n_nodes: int, seed: int = 0) -> dict:
    """Keyword arguments of :func:`sim.indices.structure.cluster_indices` for a test network of ``n_nodes`` nodes."""
    from sim.data.clusters import cluster_table

    rng = np.random.default_rng(seed)
    tab = cluster_table()
    C = len(tab)
    w = tab["firms"].to_numpy(float)
    n_in = int(round(n_nodes * 2 / 3))
    sizes = np.maximum(np.floor(w / w.sum() * n_in).astype(int), 5)
    sizes[np.argmax(sizes)] += n_in - sizes.sum()
    cluster = np.concatenate([np.full(s, c) for c, s in enumerate(sizes)] + [np.full(n_nodes - sizes.sum(), -1)])
    N = len(cluster)
    home = rng.integers(0, N_COARSE, C)
    in_home = (cluster >= 0) & (rng.random(N) < 0.45)
    coarse = np.where(in_home, home[np.maximum(cluster, 0)], rng.integers(0, N_COARSE, N))
    fine = coarse * FINE_PER_COARSE + rng.integers(0, FINE_PER_COARSE, N)
    eu, ev = [], []
    start = 0
    for c, s in enumerate(sizes):
        g = nx.barabasi_albert_graph(int(s), min(3, int(s) - 1), seed=int(rng.integers(2**31)))
        e = np.array(g.edges(), dtype=np.int64).reshape(-1, 2) + start
        eu.append(e[:, 0]); ev.append(e[:, 1])
        start += s
    n_ext = int(0.3 * N)
    a = rng.integers(0, sizes.sum(), n_ext)
    b = rng.integers(0, N, n_ext)
    eu.append(a); ev.append(b)
    eu, ev = np.concatenate(eu), np.concatenate(ev)
    ok = eu != ev
    lo, hi = np.minimum(eu[ok], ev[ok]), np.maximum(eu[ok], ev[ok])
    key = np.unique(lo * N + hi)
    eu, ev = key // N, key % N
    perm = rng.permutation(len(eu))
    is_firm = rng.random(N) >= 0.002
    alive = rng.random(N) >= 0.02
    size = np.maximum(1.0, rng.lognormal(1.5, 1.0, N))
    return dict(cluster=cluster, coarse=coarse, fine=fine, is_firm=is_firm, alive=alive, size=size,
                eu=eu[perm], ev=ev[perm], home=home, n_clusters=C)


def _best(fn, repeats: int) -> tuple[float, float, object]:
    """Best CPU and wall time of ``repeats`` calls, and the last result."""
    cpu = wall = np.inf
    out = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        cpu = min(cpu, time.process_time() - c0)
        wall = min(wall, time.perf_counter() - w0)
    return cpu, wall, out


def bench_indices(n_nodes: int, seed: int = 0, repeats: int = 5, nx_repeats: int = 1) -> dict:
    """Time ours and networkx on the same network; check that they agree."""
    inst = index_instance(n_nodes, seed)
    ours_cpu, ours_wall, ours = _best(lambda: cluster_indices(**inst), repeats)
    keys = ("cluster", "coarse", "fine", "is_firm", "alive", "size", "eu", "ev")
    build_cpu, build_wall, (G, firms) = _best(lambda: graph_from_arrays(*(inst[k] for k in keys)), 1)
    nx_cpu, nx_wall, ref = _best(lambda: nx_cluster_indices(G, firms, inst["n_clusters"], inst["home"]),
                                 nx_repeats)
    diff = max(float(np.nanmax(np.abs(ours[k] - ref[k]) / np.maximum(1.0, np.abs(ref[k])), initial=0.0))
               for k in INDEX_NAMES)
    same_nan = all(np.array_equal(np.isnan(ours[k]), np.isnan(ref[k])) for k in INDEX_NAMES)
    return {"nodes": int(len(inst["cluster"])), "edges": int(len(inst["eu"])),
            "ours_cpu": ours_cpu, "ours_wall": ours_wall,
            "nx_cpu": nx_cpu, "nx_wall": nx_wall, "nx_build_cpu": build_cpu,
            "max_rel_diff": diff, "agree": bool(diff < 1e-9 and same_nan)}

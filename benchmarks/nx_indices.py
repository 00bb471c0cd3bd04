"""The cluster indices of :mod:`sim.indices`, computed the plain networkx way.

This is the graph-native counterpart of ``networkx_reference`` in
``tests/test_indices.py``: the same definitions (see the docstring of
:func:`sim.indices.structure.cluster_indices`), computed cluster by cluster with
networkx (``density``, ``average_clustering``, ``average_neighbor_degree``) and
pure Python, but taking a networkx graph instead of node arrays, with the
cluster members grouped once (the test version scans all nodes once per
cluster, which is fine for its small instances).  The reference model
(:mod:`benchmarks.reference_model`) computes its indicators with it, and the
index benchmark times it against :func:`sim.indices.structure.cluster_indices` on the
same graphs.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import networkx as nx
import numpy as np

from sim.indices.structure import INDEX_NAMES

__all__ = ["nx_cluster_indices", "graph_from_arrays"]


def graph_from_arrays(cluster, coarse, fine, is_firm, alive, size, eu, ev):
    """The transaction network as a networkx graph plus the firm attribute table.

    Returns ``(G, firms)``: ``G`` has one node per alive firm (ids = array
    positions) and the edges between alive firms; ``firms`` maps node ->
    ``(cluster, coarse, fine, size)``.
    """
    fa = np.asarray(is_firm, bool) & np.asarray(alive, bool)
    nodes = np.flatnonzero(fa)
    firms = dict(zip(nodes.tolist(), zip(np.asarray(cluster)[nodes].tolist(),
                                         np.asarray(coarse)[nodes].tolist(),
                                         np.asarray(fine)[nodes].tolist(),
                                         np.asarray(size, float)[nodes].tolist())))
    eu, ev = np.asarray(eu), np.asarray(ev)
    keep = fa[eu] & fa[ev]
    G = nx.Graph()
    G.add_nodes_from(firms)
    G.add_edges_from(zip(eu[keep].tolist(), ev[keep].tolist()))
    return G, firms


def nx_cluster_indices(G, firms, n_clusters: int, home, log_base: float = 2.0) -> dict[str, np.ndarray]:
    """Indices of every cluster (same keys and conventions as :func:`sim.indices.structure.cluster_indices`).

    Parameters
    ----------
    G : networkx.Graph
        The network; nodes that are not keys of ``firms`` (institutions, exited
        firms) and their edges are ignored.
    firms : mapping node -> (cluster, coarse, fine, size)
        Every alive firm; cluster ``-1`` is the outside world.
    n_clusters : int
    home : sequence of int
        Home coarse sector of each cluster.
    """
    C = int(n_clusters)
    net = G.subgraph(firms) if len(firms) != G.number_of_nodes() else G
    lg = math.log(log_base)
    members: dict[int, list] = defaultdict(list)
    nat: Counter = Counter()
    for node, (c, g, _, _) in firms.items():
        nat[g] += 1
        if c >= 0:
            members[c].append(node)
    n_alive = len(firms)
    out = {name: np.full(C, np.nan) for name in INDEX_NAMES}
    for c in range(C):
        mem = members.get(c, [])
        n = len(mem)
        Gc = net.subgraph(mem)
        out["firms"][c] = n
        out["employment"][c] = float(sum(firms[h][3] for h in mem))
        out["links"][c] = Gc.number_of_edges()
        if n == 0:
            continue
        out["density"][c] = nx.density(Gc) if n >= 2 else 0.0
        kint = dict(Gc.degree())
        linked = [h for h in mem if kint[h] >= 1]
        m = len(linked)
        out["inclusiveness"][c] = m / n
        out["clustering"][c] = nx.average_clustering(Gc)
        degs = sorted((kint[h] for h in linked), reverse=True)
        if m >= 3 and degs[0] != degs[-1]:
            out["hierarchy"][c] = -np.polyfit(np.log(np.arange(1, m + 1)), np.log(degs), 1)[0]
        else:
            out["hierarchy"][c] = 0.0
        knn = nx.average_neighbor_degree(Gc, nodes=linked)
        kk = np.array([kint[h] for h in linked], float)
        kn = np.array([knn[h] for h in linked], float)
        if m >= 3 and np.ptp(kk) > 0 and np.ptp(kn) > 0:
            out["heterophily"][c] = -np.corrcoef(kk, kn)[0, 1]
        else:
            out["heterophily"][c] = 0.0
        ks = [(net.degree(h), kint[h]) for h in mem]
        ks = [(k, ki) for k, ki in ks if k >= 1]
        if ks:
            out["internal_cohesion"][c] = sum(ki / k for k, ki in ks) / len(ks)
            out["external_linkage"][c] = 100.0 * sum(k - ki >= 1 for k, ki in ks) / len(ks)
        hc = int(home[c])
        if nat[hc] > 0:
            n_home = sum(1 for h in mem if firms[h][1] == hc)
            out["specialization"][c] = (n_home / n) / (nat[hc] / n_alive)
        pf = Counter((firms[h][1], firms[h][2]) for h in mem)
        pg = Counter(firms[h][1] for h in mem)
        rv = 0.0
        for (g, _), nf in pf.items():
            rv += (pg[g] / n) * (nf / pg[g]) * math.log(pg[g] / nf) / lg
        out["related_variety"][c] = rv
        out["unrelated_variety"][c] = sum((ng / n) * math.log(n / ng) / lg for ng in pg.values())
    return out

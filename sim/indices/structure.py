"""Per-cluster structural indices of the firm-to-firm transaction network.

This module is the reference definition of the cluster diagnostics used by
the model (the indices of the Korean regional-cluster report, section 3-1-3,
rebuilt from the works it cites). Every index is computed for all clusters at
once with numpy grouped operations; there is no Python loop over
nodes or clusters.

Network and membership
----------------------
Nodes are the positions ``0..N-1`` of the node arrays. The transaction network
is the undirected graph on **alive firms**: an edge ``(u, v)`` is kept only if
both ``u`` and ``v`` are firms (``is_firm``) and alive (``alive``). Edges that
touch an institution or a dead node are ignored, and institutions are not
nodes of the network at all.

* The *members* of cluster ``c`` are the alive firms with ``cluster == c``.
  Alive firms with ``cluster == -1`` form the "outside world": they are not
  members of any cluster, but they count as link partners (for ``k``) and in
  the national totals of the location quotient.
* An *internal* edge joins two members of the same cluster. The internal graph
  ``G_c`` is the subgraph induced by the members of ``c`` (isolated members
  included).
* For a member ``h``: ``k(h)`` = number of its edges to alive firms anywhere,
  ``k_int(h)`` = number of its internal edges (its degree in ``G_c``),
  ``k_ext(h) = k(h) - k_int(h)``.

Undefined values
----------------
A cluster with no members gets ``firms = employment = links = 0`` and NaN for
every other index. For non-empty clusters the per-index conventions are given
in :func:`cluster_indices` (e.g. hierarchy and heterophily are 0.0 when fewer
than three members are linked internally).

References
----------
* Crespo, J., Suire, R. & Vicente, J. (2014). Lock-in or lock-out? How
  structural properties of knowledge networks affect regional resilience.
  Journal of Economic Geography 14(1), 199-219. doi:10.1093/jeg/lbt006
* Crespo, J., Vicente, J. & Amblard, F. (2016). Micro-behaviors and structural
  properties of knowledge networks: toward a 'one size fits one' cluster
  policy. Economics of Innovation and New Technology 25(6), 533-552.
  doi:10.1080/10438599.2015.1076199
* Newman, M. E. J. (2002). Assortative mixing in networks. Physical Review
  Letters 89, 208701. doi:10.1103/PhysRevLett.89.208701
* Frenken, K., Van Oort, F. & Verburg, T. (2007; cited as "2010" in
  [KRIHS-2020]). Related variety, unrelated
  variety and regional economic growth. Regional Studies 41(5), 685-697.
  doi:10.1080/00343400601120296
* Watts, D. J. & Strogatz, S. H. (1998). Collective dynamics of 'small-world'
  networks. Nature 393, 440-442. doi:10.1038/30918
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["INDEX_NAMES", "INDEX_RANGES", "cluster_indices", "indices_frame"]

#: Keys of the dict returned by :func:`cluster_indices`, in column order.
INDEX_NAMES: tuple[str, ...] = (
    "firms",
    "employment",
    "links",
    "density",
    "inclusiveness",
    "clustering",
    "hierarchy",
    "heterophily",
    "internal_cohesion",
    "external_linkage",
    "specialization",
    "related_variety",
    "unrelated_variety",
)

#: Mathematical range ``(low, high)`` of each index (closed where attained).
#: ``hierarchy`` is >= 0 by construction (log-degree is non-increasing in
#: log-rank, so the OLS slope is <= 0). ``related_variety`` and
#: ``unrelated_variety`` are bounded above by ``log_b(firms)``.
INDEX_RANGES: dict[str, tuple[float, float]] = {
    "firms": (0.0, np.inf),
    "employment": (0.0, np.inf),
    "links": (0.0, np.inf),
    "density": (0.0, 1.0),
    "inclusiveness": (0.0, 1.0),
    "clustering": (0.0, 1.0),
    "hierarchy": (0.0, np.inf),
    "heterophily": (-1.0, 1.0),
    "internal_cohesion": (0.0, 1.0),
    "external_linkage": (0.0, 100.0),
    "specialization": (0.0, np.inf),
    "related_variety": (0.0, np.inf),
    "unrelated_variety": (0.0, np.inf),
}


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #
def _div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Element-wise ``num / den`` with NaN where ``den == 0``."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _grouped_centered(g: np.ndarray, x: np.ndarray, y: np.ndarray, cnt: np.ndarray, n_groups: int,
                      with_syy: bool = True):
    """Grouped centred second moments ``(Sxx, Syy, Sxy)`` (``Syy`` is None unless ``with_syy``).

    Two-pass (means first, then sums of centred products) for numerical
    accuracy; ``g`` holds group ids in ``0..n_groups-1`` and ``cnt`` the group
    sizes.
    """
    mx = _div(np.bincount(g, weights=x, minlength=n_groups), cnt)
    my = _div(np.bincount(g, weights=y, minlength=n_groups), cnt)
    dx = x - mx[g]
    dy = y - my[g]
    sxx = np.bincount(g, weights=dx * dx, minlength=n_groups)
    syy = np.bincount(g, weights=dy * dy, minlength=n_groups) if with_syy else None
    sxy = np.bincount(g, weights=dx * dy, minlength=n_groups)
    return sxx, syy, sxy


def _grouped_ptp_positive(sorted_vals: np.ndarray, cnt: np.ndarray) -> np.ndarray:
    """For values sorted by group (group sizes ``cnt``), True where max > min."""
    out = np.zeros(len(cnt), dtype=bool)
    nz = cnt > 0
    if not nz.any():
        return out
    starts = (np.cumsum(cnt) - cnt)[nz]
    mx = np.maximum.reduceat(sorted_vals, starts)
    mn = np.minimum.reduceat(sorted_vals, starts)
    out[nz] = mx > mn
    return out


#: Ranges of sector ids that :func:`_dense_codes` uses as codes directly.
_SMALL_RANGE = 256


def _dense_codes(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Codes of ``x`` that keep its order, and their number: ``x - min`` when the range is at most
    :data:`_SMALL_RANGE` (codes of absent values are unused), else the dense codes of
    ``np.unique(x, return_inverse=True)``, without sorting when the range is small."""
    if len(x) == 0:
        return np.zeros(0, dtype=np.int64), 0
    lo, hi = int(x.min()), int(x.max())
    if hi - lo < _SMALL_RANGE:
        return x - lo, hi - lo + 1
    if hi - lo > 4 * len(x) + 4096:
        u, inv = np.unique(x, return_inverse=True)
        return inv.ravel(), len(u)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[x - lo] = True
    code = np.cumsum(present) - 1
    return code[x - lo], int(code[-1]) + 1


#: Upper bound on the wedges :func:`_triangles` holds in memory at once.
_WEDGE_CHUNK = 1 << 22


def _triangles(a: np.ndarray, b: np.ndarray, deg: np.ndarray, n: int) -> np.ndarray:
    """Number of triangles through each node of an undirected simple graph.

    Edges ``(a[i], b[i])`` over nodes ``0..n-1``; ``deg`` are the degrees. Each
    edge is oriented from the lower to the higher node in the order
    (degree, id), giving a DAG whose out-degrees are <= sqrt(2E), so the number
    of wedges ``x->y, x->z`` (out-neighbour pairs) is at most O(E^1.5) even
    around hubs. Every triangle ``x < y < z`` is exactly one such wedge closed
    by the arc ``y->z`` (or ``z->y``); the closed wedges credit ``x``, ``y`` and
    ``z``. Arcs are looked up by binary search in the sorted arc keys; wedges
    are enumerated in chunks of at most ``_WEDGE_CHUNK``.

    The result equals the diagonal of ``A^3 / 2`` (= ``((A@A).multiply(A)).sum(1)/2``).
    """
    tri = np.zeros(n, dtype=np.int64)
    if len(a) == 0:
        return tri
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    deg = np.asarray(deg, dtype=np.int64)
    swap = (deg[a] > deg[b]) | ((deg[a] == deg[b]) & (a > b))
    key = np.where(swap, b, a) * n + np.where(swap, a, b)
    key.sort()                                   # arcs grouped by tail, heads ascending
    src = key // n
    dst = key - src * n
    outdeg = np.bincount(src, minlength=n)
    first = np.cumsum(outdeg) - outdeg           # position of each tail's first arc
    pos = np.arange(len(key))
    cnt = outdeg[src] - (pos - first[src]) - 1   # later arcs of the same tail: wedges opened by each arc
    cum = np.cumsum(cnt)
    total = int(cum[-1])
    if total == 0:
        return tri
    cuts = [0, *np.searchsorted(cum, np.arange(_WEDGE_CHUNK, total, _WEDGE_CHUNK), side="right").tolist(), len(key)]
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        if hi <= lo:
            continue
        c = cnt[lo:hi]
        w = int(c.sum())
        if w == 0:
            continue
        e1 = np.repeat(pos[lo:hi], c)
        # second arc of each wedge: e1 + 1, e1 + 2, ..., e1 + cnt[e1]
        e2 = e1 + 1 + (np.arange(w) - np.repeat(np.cumsum(c) - c, c))
        y, z = dst[e1], dst[e2]
        sw = (deg[y] > deg[z]) | ((deg[y] == deg[z]) & (y > z))
        q = np.where(sw, z, y) * n + np.where(sw, y, z)
        at = np.searchsorted(key, q)
        at[at == len(key)] = 0
        closed = key[at] == q
        tri += np.bincount(src[e1[closed]], minlength=n)
        tri += np.bincount(y[closed], minlength=n)
        tri += np.bincount(z[closed], minlength=n)
    return tri


# --------------------------------------------------------------------------- #
# main entry point
# --------------------------------------------------------------------------- #
def cluster_indices(
    cluster,
    coarse,
    fine,
    is_firm,
    alive,
    size,
    eu,
    ev,
    home,
    n_clusters: int,
    log_base: float = 2.0,
) -> dict[str, np.ndarray]:
    r"""Structural indices of every cluster, computed in one vectorised pass.

    Parameters
    ----------
    cluster : (N,) int array
        Cluster id ``0..n_clusters-1`` of each node, or ``-1`` for the outside
        world (nodes in no cluster).
    coarse : (N,) int array
        Coarse sector (e.g. KSIC 2-digit division), ``0..G-1``.
    fine : (N,) int array
        Fine sector (e.g. KSIC 5-digit industry); any ints, globally unique
        across coarse sectors.
    is_firm : (N,) bool array
        False for institutions (universities, agencies...), which are not
        nodes of the transaction network.
    alive : (N,) bool array
        False for exited firms.
    size : (N,) float array
        Employees of each node.
    eu, ev : (E,) int arrays
        Undirected edges ``eu[i] -- ev[i]`` (simple graph: no self loops, no
        duplicates). Edges with an endpoint that is dead or not a firm are
        ignored.
    home : (n_clusters,) int array
        Home coarse sector of each cluster (the sector of its specialisation).
    n_clusters : int
        Number of clusters ``C``.
    log_base : float, default 2.0
        Base of the logarithm of the entropy indices (Frenken et al. use 2).

    Returns
    -------
    dict[str, numpy.ndarray]
        One float array of length ``C`` per key of :data:`INDEX_NAMES`.
        Notation: ``M_c`` = members of cluster ``c``, ``n = |M_c|``;
        ``k, k_int, k_ext`` as in the module docstring;
        ``L_c = {h in M_c : k_int(h) >= 1}``, ``m = |L_c|``;
        ``K_c = {h in M_c : k(h) >= 1}``.
        An empty cluster (``n = 0``) has ``firms = employment = links = 0``
        and NaN elsewhere.

        firms
            :math:`n`.
        employment
            :math:`\sum_{h \in M_c} size_h`.
        links
            Number of internal edges :math:`l` (edges of ``G_c``).
        density
            :math:`2l / (n(n-1))`; 0 if ``n == 1``.
        inclusiveness
            Share of members that are not isolated in ``G_c``:
            :math:`m / n` (report: ``(N - N_isolated) / N``).
        clustering
            Average local clustering coefficient of ``G_c`` over **all**
            members (Watts & Strogatz 1998, doi:10.1038/30918):
            :math:`\frac1n \sum_h \frac{2 T_h}{k_{int}(h)(k_{int}(h)-1)}`,
            where :math:`T_h` = triangles of ``G_c`` through ``h``; nodes with
            ``k_int < 2`` contribute 0 (= ``networkx.average_clustering``).
        hierarchy
            Crespo, Suire & Vicente (2014), doi:10.1093/jeg/lbt006. Sort the
            internal degrees of ``L_c`` in descending order, give them ranks
            :math:`R = 1..m` (ties broken arbitrarily; the fit does not depend
            on it) and fit by OLS :math:`\log k_{int} = b + s \log R`.
            Hierarchy :math:`= -s \ge 0` (higher = more hierarchical). 0.0 if
            ``m < 3`` or all internal degrees in ``L_c`` are equal.
        heterophily
            Crespo, Vicente & Amblard (2016), doi:10.1080/10438599.2015.1076199;
            Newman (2002), doi:10.1103/PhysRevLett.89.208701. For
            :math:`h \in L_c`, :math:`k_{nn}(h)` = mean internal degree of
            :math:`h`'s neighbours in ``G_c``; :math:`b` = Pearson correlation
            of :math:`k_{int}(h)` and :math:`k_{nn}(h)` over ``L_c``.
            Heterophily :math:`= -b` in [-1, 1] (+1 = perfectly
            disassortative hub-and-spoke, e.g. a star; the sign of the
            report's tables). 0.0 if ``m < 3`` or either variable has zero
            variance.
        internal_cohesion
            Internal reach (Crespo et al. 2016):
            :math:`\frac{1}{|K_c|}\sum_{h \in K_c} k_{int}(h)/k(h)` in [0, 1].
            NaN if ``K_c`` is empty.
        external_linkage
            External reach on the report's 0-100 scale:
            :math:`100 \cdot |\{h \in K_c : k_{ext}(h) \ge 1\}| / |K_c|`.
            NaN if ``K_c`` is empty.
        specialization
            Location quotient of the home sector ``g* = home[c]``, counted in
            alive firms: :math:`LQ = (n_{c,g^*}/n) / (N_{g^*}/N)`, with
            :math:`N, N_{g^*}` over all alive firms (all clusters and the
            outside world). NaN if ``n == 0`` or :math:`N_{g^*} = 0`.
        related_variety
            Frenken, Van Oort & Verburg (2007), doi:10.1080/00343400601120296.
            With :math:`p_i` the share of members in fine sector ``i`` and
            :math:`P_g = \sum_{i \in S_g} p_i` the share in coarse sector
            ``g``: :math:`RV = \sum_g P_g H_g`,
            :math:`H_g = \sum_{i \in S_g} \frac{p_i}{P_g}\log_b\frac{P_g}{p_i}`.
        unrelated_variety
            Same reference: :math:`UV = \sum_g P_g \log_b (1/P_g)`.
            (``RV + UV`` = entropy of the fine-sector distribution.)

    Notes
    -----
    Cost is O(N + E) plus the triangle count, O(E^1.5) in the worst case
    (degree-ordered orientation). Fine sectors are grouped by their
    ``(coarse, fine)`` pair, so the formula stays well defined even if a fine
    id were (wrongly) used under two coarse sectors.
    """
    C = int(n_clusters)
    cluster = np.asarray(cluster, dtype=np.int64)
    N = cluster.shape[0]
    coarse = np.asarray(coarse, dtype=np.int64)
    fine = np.asarray(fine, dtype=np.int64)
    is_firm = np.asarray(is_firm, dtype=bool)
    alive = np.asarray(alive, dtype=bool)
    size = np.asarray(size, dtype=float)
    eu = np.asarray(eu, dtype=np.int64).ravel()
    ev = np.asarray(ev, dtype=np.int64).ravel()
    home = np.asarray(home, dtype=np.int64).ravel()
    for name, arr in (("coarse", coarse), ("fine", fine), ("is_firm", is_firm),
                      ("alive", alive), ("size", size)):
        if arr.shape != (N,):
            raise ValueError(f"{name} has shape {arr.shape}, expected ({N},)")
    if eu.shape != ev.shape:
        raise ValueError("eu and ev must have the same length")
    if home.shape != (C,):
        raise ValueError(f"home has shape {home.shape}, expected ({C},)")
    if N and (cluster.max() >= C or cluster.min() < -1):
        raise ValueError("cluster ids must be in -1..n_clusters-1")
    if len(eu) and (min(eu.min(), ev.min()) < 0 or max(eu.max(), ev.max()) >= N):
        raise ValueError("edge endpoints must be node ids in 0..N-1")

    fa = is_firm & alive                      # nodes of the transaction network
    member = fa & (cluster >= 0)
    mem = np.flatnonzero(member)
    cm = cluster[mem]                         # cluster of each member

    # ---- edges ------------------------------------------------------------
    keep = fa[eu] & fa[ev]
    u, v = eu[keep], ev[keep]
    k = np.bincount(u, minlength=N) + np.bincount(v, minlength=N)
    cu = cluster[u]
    internal = (cu >= 0) & (cu == cluster[v])
    iu, iv = u[internal], v[internal]
    k_int = np.bincount(iu, minlength=N) + np.bincount(iv, minlength=N)

    # ---- sizes, links, density -------------------------------------------
    n = np.bincount(cm, minlength=C).astype(float)
    empty = n == 0
    employment = np.bincount(cm, weights=size[mem], minlength=C)
    links = np.bincount(cluster[iu], minlength=C).astype(float)
    density = _div(2.0 * links, n * (n - 1.0))
    density[n == 1] = 0.0

    # ---- inclusiveness ----------------------------------------------------
    kint_m = k_int[mem]
    linked_m = kint_m >= 1
    inclusiveness = _div(np.bincount(cm, weights=linked_m, minlength=C), n)

    # ---- clustering (triangles on the internal graph) ---------------------
    touched = np.flatnonzero(k_int > 0)
    local = np.zeros(N)
    if len(touched):
        pos = np.full(N, -1, dtype=np.int64)
        pos[touched] = np.arange(len(touched))
        deg_t = k_int[touched]
        tri = _triangles(pos[iu], pos[iv], deg_t, len(touched))
        pairs = deg_t * (deg_t - 1)
        local[touched] = _div(2.0 * tri, pairs)
        local[touched[pairs == 0]] = 0.0
    clustering = _div(np.bincount(cm, weights=local[mem], minlength=C), n)

    # ---- hierarchy and heterophily over L_c -------------------------------
    hs = mem[linked_m]
    khs = k_int[hs]
    kmax = int(khs.max(initial=0))
    okey = cluster[hs] * (kmax + 1) + (kmax - khs)  # by cluster, then degree descending
    if C * (kmax + 1) <= np.iinfo(np.uint16).max:
        okey = okey.astype(np.uint16)               # radix sort
    hs = hs[np.argsort(okey, kind="stable")]        # ties in id order (as np.lexsort)
    gs = cluster[hs]
    ks = k_int[hs].astype(float)
    m = np.bincount(gs, minlength=C)
    start = np.cumsum(m) - m
    rank = np.arange(len(hs)) - start[gs] + 1.0
    deg_varies = _grouped_ptp_positive(ks, m)

    x = np.log(rank)
    y = np.log(ks)
    sxx, _, sxy = _grouped_centered(gs, x, y, m, C, with_syy=False)
    ok = (m >= 3) & deg_varies
    hierarchy = np.zeros(C)
    hierarchy[ok] = -sxy[ok] / sxx[ok]

    nbr_sum = (np.bincount(iu, weights=k_int[iv], minlength=N)
               + np.bincount(iv, weights=k_int[iu], minlength=N))
    knn = nbr_sum[hs] / ks
    knn_varies = _grouped_ptp_positive(knn, m)
    skk, snn, skn = _grouped_centered(gs, ks, knn, m, C)
    ok = (m >= 3) & deg_varies & knn_varies
    heterophily = np.zeros(C)
    heterophily[ok] = -np.clip(skn[ok] / np.sqrt(skk[ok] * snn[ok]), -1.0, 1.0)

    # ---- internal / external reach over K_c -------------------------------
    km = k[mem]
    has = km >= 1
    ck = cm[has]
    n_k = np.bincount(ck, minlength=C)
    internal_cohesion = _div(np.bincount(ck, weights=kint_m[has] / km[has], minlength=C), n_k)
    external_linkage = 100.0 * _div(
        np.bincount(ck, weights=(km[has] - kint_m[has]) >= 1, minlength=C), n_k)

    # ---- specialization (firm-count location quotient) --------------------
    coarse_fa = coarse[fa]
    if coarse_fa.size and coarse_fa.min() < 0:
        raise ValueError("coarse sectors of alive firms must be >= 0")
    if C and home.min() < 0:
        raise ValueError("home sectors must be >= 0")
    G = int(max(coarse_fa.max(initial=-1), home.max(initial=-1))) + 1
    N_g = np.bincount(coarse_fa, minlength=G).astype(float)
    N_home = N_g[home] if C else np.zeros(0)
    in_home = coarse[mem] == home[cm]
    n_home = np.bincount(cm, weights=in_home, minlength=C)
    specialization = _div(_div(n_home, n), _div(N_home, float(fa.sum())))
    specialization[empty | (N_home == 0)] = np.nan

    # ---- related / unrelated variety --------------------------------------
    related_variety = np.full(C, np.nan)
    unrelated_variety = np.full(C, np.nan)
    if len(mem):
        lb = np.log(log_base)
        gi, Gm = _dense_codes(coarse[mem])
        fi, Fm = _dense_codes(fine[mem])
        key = (cm * Gm + gi) * Fm + fi                 # (cluster, coarse, fine)
        if C * Gm * Fm <= max(8 * len(key), 1 << 20):
            counts = np.bincount(key, minlength=C * Gm * Fm)
            ukey = np.flatnonzero(counts)
            n_ci = counts[ukey]
        else:
            ukey, n_ci = np.unique(key, return_counts=True)
        ucg = ukey // Fm                               # (cluster, coarse) of each pair, sorted
        first = np.empty(len(ucg), dtype=bool)
        first[:1] = True
        first[1:] = ucg[1:] != ucg[:-1]
        cg_keys = ucg[first]
        cg_inv = np.cumsum(first) - 1
        n_cg = np.bincount(cg_inv, weights=n_ci)
        pair_cl = ukey // (Gm * Fm)
        cg_cl = cg_keys // Gm
        p_i = n_ci / n[pair_cl]
        rv_terms = p_i * np.log(n_cg[cg_inv] / n_ci) / lb
        P_g = n_cg / n[cg_cl]
        uv_terms = -P_g * np.log(P_g) / lb
        related_variety = np.bincount(pair_cl, weights=rv_terms, minlength=C)
        unrelated_variety = np.bincount(cg_cl, weights=uv_terms, minlength=C)
        related_variety[empty] = np.nan
        unrelated_variety[empty] = np.nan

    out = {
        "firms": n,
        "employment": employment,
        "links": links,
        "density": density,
        "inclusiveness": inclusiveness,
        "clustering": clustering,
        "hierarchy": hierarchy,
        "heterophily": heterophily,
        "internal_cohesion": internal_cohesion,
        "external_linkage": external_linkage,
        "specialization": specialization,
        "related_variety": related_variety,
        "unrelated_variety": unrelated_variety,
    }
    for name in ("density", "inclusiveness", "clustering", "hierarchy", "heterophily"):
        out[name][empty] = np.nan
    return {name: np.asarray(out[name], dtype=float) for name in INDEX_NAMES}


def indices_frame(
    cluster,
    coarse,
    fine,
    is_firm,
    alive,
    size,
    eu,
    ev,
    home,
    n_clusters: int,
    log_base: float = 2.0,
):
    """Indices of :func:`cluster_indices` as a pandas DataFrame.

    Same parameters as :func:`cluster_indices`. Returns a DataFrame indexed by
    cluster id ``0..n_clusters-1`` (index name ``"cluster"``) with one float
    column per name in :data:`INDEX_NAMES`, in that order.
    """

    res = cluster_indices(cluster, coarse, fine, is_firm, alive, size, eu, ev,
                          home, n_clusters, log_base=log_base)
    idx = pd.RangeIndex(int(n_clusters), name="cluster")
    return pd.DataFrame({name: res[name] for name in INDEX_NAMES}, index=idx)

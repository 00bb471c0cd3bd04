"""The model's processes (ODD submodels), each acting on the whole population at once.

Each function takes the model (:class:`~sim.model.system.ClusterSystem`) and updates
``model.pop`` (node arrays) and ``model.edges`` (the firm-to-firm tie list) with
vectorised numpy operations.  Per-cluster parameter values are ``model.cpar[name]``:
arrays of length ``n_clusters + 1`` whose last entry belongs to the outside world, so
``model.cpar[name][pop.cluster]`` gives every node its cluster's value (the outside
world's cluster number is -1).  Policy levers are ``model.levers`` (same layout),
reset to neutral at the start of every step.  ``model.phi`` is the relatedness matrix
of :mod:`sim.model.technology`.

The order in which :meth:`ClusterModel.step` calls them is the model's schedule
(see ``docs/odd.md``):

1. policy hooks          (:mod:`scenarios.policies`)
2. :func:`entry`         the national pool by attractiveness and space; spin-offs; anchors
3. :func:`affiliations`  institutions renew their affiliated firms
4. :func:`link_formation` search within a tie budget, the cross-group barrier; broker introductions
5. :func:`link_decay`    trust grows; ties dissolve (less so when related, old and trusted)
6. :func:`technology`    cognitive lock-in, branching by relatedness density, collective coordination
7. :func:`performance`   performance, growth and technology shocks
8. :func:`exit_`         exit of weak firms and anchor exit
9. indicators            (:mod:`sim.indices`, :mod:`sim.indices.scores`)

Structural choices that are not parameters (each explained in ``docs/odd.md``):
quality is normal with sd :data:`QUALITY_SD` for every new firm (spin-offs add that noise
to their inherited share); a firm is affiliated with at most one institution; an
institution recruits a quarter of its missing affiliates per quarter
(:data:`RECRUIT_SHARE`); a platform's mission counts as one more unit of relatedness
density at its sector.
"""

from __future__ import annotations

import numpy as np

from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.model import technology as tech
from sim.model.population import (
    ANCHOR,
    GATEKEEPER,
    INTERMEDIARY,
    OUTSIDE,
    RESEARCH,
    SME,
    SPINOFF,
    STARTUP,
    UNIVERSITY,
    adjacent,
    stable_argsort_ids,
    unique_inverse,
)

Q = float(STEPS_PER_YEAR)  # steps per year
QUALITY_SD = 0.5           # sd of a new firm's quality (initial firms, entrants, spin-off noise)
RECRUIT_SHARE = 0.25       # share of its missing affiliates an institution recruits per quarter
REPUTATION_WINDOW = 4 * STEPS_PER_YEAR  # steps over which recent growth (reputation) is measured
INITIAL_AGE_QUARTERS = 80  # ages of established firms (at set-up, relocating) are uniform over 0-20 years
MIN_HEADROOM = 0.1         # smallest free-space denominator, as a share of the initial firms
TRIES = 3                  # random draws a broker or incubator makes to find a partner with spare tie budget
UNLIMITED = np.iinfo(np.int64).max // 4  # vacancies of a cluster without estate units (no hard limit)


# ----------------------------------------------------------------------------- helpers
def members_by_cluster(model, firms_only: bool = True):
    """Alive cluster members grouped by cluster: ``(order, start, count)``.

    ``order[start[c]:start[c]+count[c]]`` are the ids of cluster ``c``'s members.  The arrays are
    read-only: they are kept until the membership changes (a node enters or leaves,
    :meth:`~sim.model.system.ClusterSystem.membership_changed`), as several phases of a step ask.
    """
    pop = model.pop
    hit = model.members_cache.get(firms_only)
    if hit is not None and hit[0] == pop.n:
        return hit[1]
    mask = pop.alive & (pop.cluster >= 0)
    if firms_only:
        mask &= pop.role <= SPINOFF
    ids = np.flatnonzero(mask)
    cl = pop.cluster[ids]
    o = stable_argsort_ids(cl, model.n_clusters)  # np.argsort(cl, kind="stable"), as a radix sort
    order = ids[o]
    count = np.bincount(cl, minlength=model.n_clusters)
    start = np.zeros(model.n_clusters, dtype=np.int64)
    start[1:] = np.cumsum(count)[:-1]
    for a in (order, start, count):
        a.flags.writeable = False
    model.members_cache[firms_only] = (pop.n, (order, start, count))
    return order, start, count


def pick_in_segments(rng, values, lo, cnt) -> np.ndarray:
    """A uniformly random element of each segment ``values[lo:lo + cnt]`` (-1 where a segment is empty).

    One uniform per segment, drawn for empty segments too; an empty segment's position is clipped
    into range and its pick replaced by -1."""
    off = (rng.random(len(lo)) * np.maximum(cnt, 1)).astype(np.int64)
    if len(values) == 0:
        return np.full(len(lo), -1, dtype=np.int64)
    return np.where(cnt > 0, values[np.minimum(lo + off, len(values) - 1)], -1)


def pick_members(rng, order, start, count, clusters):
    """One uniformly random member of each given cluster (-1 where the cluster is empty)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    return pick_in_segments(rng, order, start[clusters], count[clusters])


def random_neighbour(rng, indptr, indices, nodes):
    """A uniformly random neighbour of each node (-1 for nodes without one)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    lo = indptr[nodes]
    return pick_in_segments(rng, indices, lo, indptr[nodes + 1] - lo)


def gumbel(rng, size) -> np.ndarray:
    """Standard Gumbel draws: the values of ``rng.gumbel(size=size)``, from the same stream, in fewer passes.

    numpy draws each value as ``0 - log(-log(U))`` with ``U = 1 - u`` for a uniform ``u`` of
    ``rng.random()``, drawing again where ``U == 1``; here the logs run over the whole array.
    In the rare case of a redraw (probability 2**-53 per value) the stream is rewound and numpy
    draws, so the generator's state after the call is always numpy's.  The values are numpy's
    bit for bit where numpy's vectorised ``log`` is the C library's, as in the portable arithmetic
    of :mod:`sim.engine.baseline`; on CPUs with AVX-512 numpy's own ``log`` may differ from it in
    the last bit (as every ``log`` of the model does there), and so may the draws.
    """
    state = rng.bit_generator.state
    U = 1.0 - rng.random(size)
    if (U == 1.0).any():
        rng.bit_generator.state = state
        return rng.gumbel(size=size)
    return 0.0 - np.log(-np.log(U))


def cluster_firms(pop) -> np.ndarray:
    """Mask of alive firms that belong to a cluster."""
    return pop.alive & (pop.role <= SPINOFF) & (pop.cluster >= 0)


def young(model, ids: np.ndarray) -> np.ndarray:
    """Whether each firm belongs to the young (new) group of the barrier (age under ``young_years``)."""
    return model.pop.age[ids] < model.p["young_years"] * Q


def cross_group(model, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether the pairs ``(a, b)`` come from different groups: young vs incumbent, or other sector family."""
    pop = model.pop
    return (young(model, a) != young(model, b)) | (pop.coarse[a] != pop.coarse[b])


def institution_of(model, ids: np.ndarray) -> np.ndarray:
    """Population position of each firm's institution (-1: none or no longer alive)."""
    pop = model.pop
    pos = model.uid_positions()[pop.affil[ids]]  # affil -1 (none) reads the table's last entry, -1
    return np.where((pos >= 0) & pop.alive[pos], pos, -1)  # pos -1 reads some alive flag, masked out


def budgets(model) -> np.ndarray:
    r"""Tie budget of every node: :math:`b_i = \max(1, \lfloor b_c (s_i / \bar s_c)^{e} + 1/2 \rfloor)`.

    ``b_c`` is the cluster's ``tie_budget``, ``s_i`` the firm's employees, :math:`\bar s_c`
    its cluster's observed mean firm size (``employees_per_firm`` of the cluster table, a fixed
    reference) and ``e`` the ``tie_size_elasticity``.  Outside-world firms
    stand for many firms and have no budget (infinite); institutions have none (0).
    """
    pop = model.pop
    key = (model.t, pop.n)
    if model.budget_key == key:
        return model.budget_cache
    out = np.zeros(pop.n)
    out[pop.role == OUTSIDE] = np.inf
    m = cluster_firms(pop)
    ids = np.flatnonzero(m)
    if len(ids):
        c = pop.cluster[ids].astype(np.int64)
        rel = pop.size[ids] / model.mean_size[c]
        b = model.cpar["tie_budget"][c] * rel ** model.p["tie_size_elasticity"]
        out[ids] = np.maximum(1.0, np.floor(b + 0.5))
    model.budget_key, model.budget_cache = key, out
    return out


def sector_counts(model, order=None):
    """Firms per cluster and fine sector, ``(C, N_FINE)``, and the outside world's, ``(N_FINE,)``."""
    pop = model.pop
    F = tech.N_FINE
    if order is None:
        order = np.flatnonzero(cluster_firms(pop))
    key = pop.cluster[order].astype(np.int64) * F + pop.fine[order]
    cnt = np.bincount(key, minlength=model.n_clusters * F).reshape(model.n_clusters, F).astype(float)
    out = np.flatnonzero(pop.alive & (pop.role == OUTSIDE))
    out_f = np.bincount(pop.fine[out], minlength=F).astype(float)
    return cnt, out_f


def tenants(model) -> np.ndarray:
    """Firms of each cluster that occupy an estate unit (zeros while no cluster has estate units)."""
    C = model.n_clusters
    if not (model.space_extra > 0).any():
        return np.zeros(C)
    pop = model.pop
    t = pop.alive & pop.tenant & (pop.cluster >= 0)
    return np.bincount(pop.cluster[t].astype(np.int64), minlength=C).astype(float)


def free_space(model, count: np.ndarray, tenant: np.ndarray | None = None) -> np.ndarray:
    r"""Free-space factor of each cluster's premises, :math:`\max(0, (K^0_c - (n_c - e_c)) / H_c)`.

    :math:`K^0_c` is the capacity of the premises (``space_headroom`` x initial firms), :math:`n_c`
    the cluster's firms, :math:`e_c` those in estate units (``tenant``; none by default),
    :math:`n^0_c` the initial firm count and :math:`H_c = \max(K^0_c - n^0_c, ` :data:`MIN_HEADROOM`
    :math:`n^0_c, 1)` (with no headroom a vacancy must not be a huge pull).  With headroom it is 1 at
    the initial occupancy, falls to 0 as the premises fill (S4V-15) and rises above 1 when firms leave
    (vacant premises draw entrants back): a restoring force toward the occupancy at which entry
    balances exit.  Estate units (``space_extra``) are a market of their own: :func:`newcomer_factor`,
    :func:`vacancies`.
    """
    occupied = count if tenant is None else count - tenant
    return np.maximum((model.capacity - occupied) / headroom(model), 0.0)


def headroom(model) -> np.ndarray:
    r"""The room each cluster's premises offer at set-up, :math:`H_c = \max(K^0_c - n^0_c,`
    :data:`MIN_HEADROOM` :math:`n^0_c, 1)`: the denominator of :func:`free_space`."""
    base = model.n0.astype(float)
    return np.maximum(model.capacity - base, np.maximum(MIN_HEADROOM * base, 1.0))


def estate_share(model) -> np.ndarray:
    r"""The estate units' share of each cluster's room for newcomers, :math:`\omega_c = E_c / (E_c + H_c)`.

    :math:`E_c` is the cluster's estate units (``space_extra``: from an ``estate`` policy or a ``space``
    column above the premises' capacity) and :math:`H_c` the room the premises offer at set-up
    (:func:`headroom`).  0 without estate units."""
    E = model.space_extra
    return E / (E + headroom(model))


def estate_accepts(model) -> np.ndarray | None:
    r"""Which fine sectors each cluster's estate units are let to, :math:`a_{cs}` (``(C, F)``, 0 or 1):
    every sector, but only the home sector family's in a cluster whose estate is dedicated
    (``space_dedicated``: an ``estate`` policy with ``dedicated``).  ``None`` while no estate is
    dedicated (every :math:`a_{cs} = 1`)."""
    ded = model.space_dedicated
    if not ded.any():
        return None
    acc = np.ones((model.n_clusters, tech.N_FINE))
    acc[ded] = (tech.FINE_TO_COARSE[None, :] == model.home[ded, None]).astype(float)
    return acc


def newcomer_factor(model, count: np.ndarray, tenant: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Space factor of each cluster for newcomers who choose it, :math:`F_c = (1 - \omega_c)\,f_c +
    \omega_c`, and the share of them who seek an estate unit, :math:`\omega_c / F_c`.

    The premises (:func:`free_space` :math:`f_c`, on the firms not in estate units ``tenant``) and the
    estate (:func:`estate_share` :math:`\omega_c`) are two markets: the premises are priced and draw
    less as they fill; estate units are let by application, so an estate draws applicants whether it
    is full or not (they wait for a unit).  Without estate units :math:`F_c = f_c` exactly.  Where an
    estate is dedicated (:func:`estate_accepts` :math:`a_{cs}`) the factor is one per cluster and fine
    sector, :math:`F_{cs} = (1 - \omega_c) f_c + \omega_c a_{cs}`, and so is the share seeking a unit,
    :math:`\omega_c a_{cs} / F_{cs}`: both are ``(C, F)`` arrays then, ``(C,)`` otherwise."""
    f = free_space(model, count, tenant)
    w = estate_share(model)
    acc = estate_accepts(model)
    if acc is None:
        F = (1.0 - w) * f + w
        open_ = w
    else:
        F = ((1.0 - w) * f)[:, None] + w[:, None] * acc
        open_ = w[:, None] * acc
    with np.errstate(divide="ignore", invalid="ignore"):
        seek = np.where(F > 0, open_ / F, 0.0)
    return F, seek


def factor_for(free: np.ndarray, cl: np.ndarray, fs: np.ndarray) -> np.ndarray:
    """Entries of a per-cluster array, ``(C,)``, or of a per-cluster-and-sector one, ``(C, F)`` (where an
    estate is dedicated: :func:`newcomer_factor`), for newcomers to clusters ``cl`` in fine sectors ``fs``."""
    return free[cl] if free.ndim == 1 else free[cl, fs]


def vacancies(model, tenant: np.ndarray) -> np.ndarray:
    r"""Estate units free in each cluster, :math:`\max(0, \lfloor E_c - e_c \rfloor)` (``tenant``
    :math:`e_c`: firms in units); :data:`UNLIMITED` without estate units."""
    E = model.space_extra
    return np.where(E > 0, np.maximum(np.floor(E - tenant), 0.0), float(UNLIMITED)).astype(np.int64)


def take_units(vac: np.ndarray, cl: np.ndarray) -> np.ndarray:
    """Which of the entrants to clusters ``cl`` (in order of arrival) find a unit: the first
    ``vac[c]`` of each cluster ``c``.  ``vac`` is reduced by the units taken."""
    cl = np.asarray(cl, dtype=np.int64)
    if len(cl) == 0:
        return np.zeros(0, dtype=bool)
    o = np.argsort(cl, kind="stable")
    sc = cl[o]
    rank = np.empty(len(cl), dtype=np.int64)
    rank[o] = np.arange(len(cl)) - np.searchsorted(sc, sc, side="left")
    ok = rank < vac[cl]
    vac -= np.bincount(cl[ok], minlength=len(vac))
    return ok


def empty_waiting() -> dict[str, np.ndarray]:
    """An empty waiting list: each applicant's cluster, fine sector, kind (``STARTUP`` or ``SME``)
    and quarter of application, oldest first."""
    return {"cluster": np.empty(0, dtype=np.int64), "fine": np.empty(0, dtype=np.int64),
            "kind": np.empty(0, dtype=np.int8), "since": np.empty(0, dtype=np.int64)}


def attractiveness(model, count: np.ndarray, home_count: np.ndarray) -> np.ndarray:
    r"""Log-attractiveness of each cluster for the national pool, apart from its related base.

    :math:`a_c = g_{cm}\,\lambda^{agg}_c\,\sigma((h_c - m^*)/(m^*/4)) + w_{rep}\,r_c + \rho_c`

    with ``h_c`` the home-sector firms, ``m* = critical_mass * scale`` (S4P-M1), ``r_c``
    the recent growth (log firms per year over four years, clipped to +-0.5; S4W-M7
    reputation) and :math:`\rho_c` the reputation a policy adds (a demonstration success).
    """
    m = model.critical_mass()
    z = np.clip((home_count - m) / (0.25 * m), -50, 50)
    lv = model.levers
    cm = model.p["critical_mass_gain"] * lv["agglomeration_mult"][:-1] / (1.0 + np.exp(-z))
    hist = model.count_hist
    past = hist[0] if len(hist) > 1 else count
    span = max(len(hist) - 1, 1) / Q
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.where((past > 0) & (count > 0), np.log(np.maximum(count, 1e-9) / np.maximum(past, 1e-9)) / span, 0.0)
    rep = model.p["reputation_weight"] * np.clip(g, -0.5, 0.5)
    return cm + rep + lv["reputation"][:-1]


def _new_firms(model, cluster, fine, role, target, quality, parent=-1, affil=-1, age=0.0, start=1.0, tenant=False):
    """Add firms of employment target ``target`` starting at ``start`` times it (at least 1 employee);
    ``tenant``: those that occupy an estate unit."""
    n = len(cluster)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    fine = np.asarray(fine, dtype=np.int64)
    ids = model.pop.add(n, cluster=cluster, fine=fine, coarse=tech.FINE_TO_COARSE[fine], role=role,
                        size=np.maximum(1.0, target * start), target=target, quality=quality, parent=parent, birth=model.t, age=age, perf=0.0,
                        affil=affil, tenant=tenant)
    model.register_firms(ids)
    return ids


def _related_sector(model, fine: np.ndarray, rng) -> np.ndarray:
    """A different fine sector for each given one, drawn with probability proportional to relatedness."""
    w = model.phi[np.asarray(fine, dtype=np.int64)].copy()
    w[np.arange(len(w)), fine] = 0.0
    out = tech.draw_from(w, rng)
    return np.where(out < 0, fine, out)


def accepts(model, a: np.ndarray, b: np.ndarray, rng, brokered: bool) -> np.ndarray:
    """Whether each chosen pair ``a - b`` forms: the barrier between groups.

    A same-group pair forms; a natural cross-group pair with ``cross_accept`` (of the first
    firm's cluster), a brokered one with ``cross_accept + broker_lift (1 - cross_accept)``
    (S4E-M5, S4E-M6).
    """
    ca = model.cpar["cross_accept"][model.pop.cluster[a]]
    if brokered:
        ca = ca + model.p["broker_lift"] * (1.0 - ca)
    return rng.random(len(a)) < np.where(cross_group(model, a, b), ca, 1.0)


def first_with_room(draws: list[np.ndarray], deg: np.ndarray, bud: np.ndarray, want=None) -> np.ndarray:
    """Per row, the first of several candidate draws with spare tie budget (``deg < bud``) and, if
    ``want`` is given, for which ``want(candidates)`` holds; the last draw where none does (-1: none)."""
    out = draws[-1].copy()
    for d in reversed(draws[:-1]):
        dz = np.maximum(d, 0)
        ok = (d >= 0) & (deg[dz] < bud[dz])
        if want is not None:
            ok &= want(dz)
        out = np.where(ok, d, out)
    return out


def introduce(model, a: np.ndarray, b: np.ndarray, rng, deg: np.ndarray, bud: np.ndarray) -> int:
    """Brokered ties ``a - b`` (an intermediary's or an incubator's introduction) through the barrier.

    Pairs already tied, or where either firm has no spare tie budget (``deg``, ``bud``: degrees
    and :func:`budgets` now), are dropped; the others form as :func:`accepts` says, with the
    broker's lift.
    """
    if len(a) == 0:
        return 0
    E = model.edges
    ok = (a != b) & (deg[a] < bud[a]) & (deg[b] < bud[b]) & ~E.has(a, b)
    a, b = a[ok], b[ok]
    acc = accepts(model, a, b, rng, brokered=True)
    return E.add(a[acc], b[acc], brokered=True)


# ----------------------------------------------------------------------------- 2. entry
def entry(model) -> None:
    r"""The national pool, spin-offs and anchors.

    **National pool** (S4P-M4).  Each quarter Poisson(``startup_rate``/4 x N) firms enter the
    country, N being all firms (clusters and outside world); a share ``pool_startup_share``
    are new firms, the rest established firms that relocate.  An entrant's fine sector s is
    drawn from the national sector mix; it then chooses a cluster c, or the rest of the
    country, with probability proportional to

    .. math:: W_c(s) = \Big(\sum_f n_{cf}\,k_{fs} + \kappa\,\mathrm{scale}\sum_{u \in U_c}k_{f_u s}\Big)
              \, e^{a_c}\, \lambda_c\, \mathrm{free}_c

    with the entry kernel :math:`k = I + \eta(\varphi - I)` (``entry_relatedness`` :math:`\eta`)
    (its related base, plus ``inst_attraction`` :math:`\kappa` for each university or research
    institute ``u``; :func:`attractiveness` :math:`a_c`; the policy lever :math:`\lambda_c`,
    ``entry_mult`` for new firms and ``relocation_mult`` for relocations; :func:`free_space`),
    times :math:`\exp(-\sigma_c \varphi_{h_c s})` after a technology shift of level :math:`\sigma_c` on the
    sector :math:`h_c` it devalued (:meth:`~sim.model.system.ClusterSystem.devalued_sector`: the cluster's
    dominant sector when the shift came) (entrants shun a devalued technology as incumbents suffer
    from it; see :func:`performance`); the rest of the country weighs :math:`\sum_f n^{out}_f k_{fs}` and, like every
    cluster at set-up, has free space 1.  Entrants to the rest of the country leave the model.

    **Estate units** (S4V-12, S4V-18).  A cluster's premises are priced: :func:`free_space`.  Its
    estate units (space from an ``estate`` policy or a ``space`` column: ``space_extra``) are let by
    application, so an estate draws newcomers whether it is full or not: every newcomer weight here
    uses :func:`newcomer_factor` :math:`F_c = (1 - \omega_c) f_c + \omega_c` (:math:`\omega_c` the
    estate's share of the cluster's room, :func:`estate_share`) where it says free space, and a
    newcomer seeks a unit with probability :math:`\omega_c / F_c` (one a policy places there
    :math:`\omega_c`); a dedicated estate (:func:`estate_accepts`) draws and takes only the home
    sector family's newcomers.  Each quarter at most
    :func:`vacancies` units are let, in order of arrival (:func:`take_units`): the waiting list
    first (oldest first), then the pool's applicants, policy-funded startups, spin-offs, academic
    spin-offs and policy anchors (spin-offs in random order).  A pool applicant who finds no unit
    joins the waiting list and gives up (leaves the model) after ``wait_years``; other newcomers who
    find none are not created.  Without estate units :math:`F_c = f_c` and no random number is
    drawn for this.

    Policies may add startups (lever ``startup_extra``, startups per year, sectors from the
    cluster's own relatedness density), and an incubator (lever ``startup_link``) introduces a
    startup to an incumbent through the barrier (:func:`introduce`, brokered; S4P-M17).

    **Spin-offs** (Klepper 2007): a firm spawns with probability ``spinoff_rate``/4 x
    exp(``spinoff_quality`` x quality) x free space; the child inherits ``spinoff_heredity`` of
    its parent's quality, its sector (or with ``spinoff_branch`` a related one) and a tie to it.
    Universities and research institutes spawn ``inst_spinoff_rate`` academic spin-offs per
    year, into sectors related to but different from their field, affiliated with them.

    **Anchors.** A share ``anchor_entry_share`` of relocating firms are branch plants of large
    firms: anchors.  The lever ``anchor_inflow`` adds anchors of the home sector.  An anchor's
    employment is :meth:`~sim.model.system.ClusterSystem.anchor_draw` (``anchor_size`` times a size
    from the top ``anchor_share`` of the size distribution, as at set-up).

    **Employment.** Every firm draws a target employment at birth
    (:meth:`~sim.model.system.ClusterSystem.size_draw`, lognormal around its cluster's observed mean
    firm size); new firms and spin-offs start at ``startup_size`` times it and grow toward it
    (:func:`performance`), relocating firms arrive at it.
    """
    pop, rng, lv, p = model.pop, model.rng, model.levers, model.p
    C, F = model.n_clusters, tech.N_FINE
    order, start, count = members_by_cluster(model)
    home = model.home
    cnt, out_f = sector_counts(model, order)
    hc = cnt.reshape(C, tech.N_COARSE, tech.FINE_PER_COARSE).sum(2)[np.arange(C), home]
    # premises are priced (a smooth factor); estate units are let by application (a room and a waiting list)
    held = tenants(model)
    free, seek = newcomer_factor(model, count, held)
    room = _Room(model, vacancies(model, held), seek, estate_share(model), estate_accepts(model))
    a = attractiveness(model, count.astype(float), hc)
    kernel = np.eye(F) + p["entry_relatedness"] * (model.phi - np.eye(F))
    base = cnt @ kernel
    inst = np.flatnonzero(pop.alive & ((pop.role == UNIVERSITY) | (pop.role == RESEARCH)) & (pop.cluster >= 0))
    if len(inst):
        ikey = pop.cluster[inst].astype(np.int64) * F + pop.fine[inst]
        icnt = np.bincount(ikey, minlength=C * F).reshape(C, F).astype(float)
        base = base + p["inst_attraction"] * p["scale"] * (icnt @ kernel)
    w_out = out_f @ kernel
    # a technology shift devalues the cluster's dominant technology for entrants as for incumbents
    devalued = np.exp(-model.shock[:, None] * model.phi[model.devalued_sector()])
    nat = cnt.sum(0) + out_f
    N = nat.sum()
    patience = int(round(p["wait_years"] * Q))
    waiting = [_admit_waiting(model, room.vac, patience, order, start, count)]
    if N > 0:
        share = nat / N
        for kind, frac, lever in ((STARTUP, p["pool_startup_share"], "entry_mult"),
                                  (SME, 1.0 - p["pool_startup_share"], "relocation_mult")):
            k = rng.poisson(p["startup_rate"] / Q * N * frac)
            if k == 0:
                continue
            s = tech.draw_from(np.broadcast_to(share, (k, F)), rng)
            if free.ndim == 1:
                wc = base * (np.exp(a) * lv[lever][:-1] * free)[:, None] * devalued
            else:  # a dedicated estate: the factor depends on the sector
                wc = base * (np.exp(a) * lv[lever][:-1])[:, None] * free * devalued
            W = np.concatenate([wc, w_out[None, :]], axis=0)  # (C+1, F)
            dest = tech.draw_from(W[:, s].T, rng)
            ok = (dest >= 0) & (dest < C)
            cl, fs = dest[ok], s[ok]
            if len(cl) == 0:
                continue
            model.applicants += np.bincount(cl, minlength=C)
            got, unit = room.find(cl, fs)
            if not got.all():  # estate applicants who find it full join its waiting list
                if patience > 0:
                    n = int((~got).sum())
                    waiting.append({"cluster": cl[~got], "fine": fs[~got], "kind": np.full(n, kind, dtype=np.int8),
                                    "since": np.full(n, model.t, dtype=np.int64)})
                cl, fs, unit = cl[got], fs[got], unit[got]
                if len(cl) == 0:
                    continue
            _settle(model, kind, cl, fs, order, start, count, unit)
    wl = {k: np.concatenate([w[k] for w in waiting]) for k in waiting[0]}
    # who has waited patience quarters has had a last chance
    model.waiting = {k: v[model.t - wl["since"] < patience] for k, v in wl.items()}

    # policy-funded startups, in sectors of the cluster's own relatedness density
    k = rng.poisson(np.maximum(lv["startup_extra"][:-1] / Q, 0))
    cl = np.repeat(np.arange(C), k)
    if len(cl):
        fs = tech.draw_from(base[cl], rng)
        fs = np.where(fs < 0, home[cl] * tech.FINE_PER_COARSE, fs)
        got, unit = room.find(cl, fs, placed=True)
        cl, fs = cl[got], fs[got]
        ids = _new_firms(model, cl, fs, STARTUP, model.size_draw(cl), rng.normal(0.0, QUALITY_SD, len(cl)),
                         start=p["startup_size"], tenant=unit[got])
        flows = model.flows
        flows["startups"] += np.bincount(cl, minlength=C)
        _incubate(model, ids, order, start, count, rng)

    _spinoffs(model, order, inst, free, room)

    # anchor attraction (policy lever): large firms of the home sector
    k = rng.poisson(np.maximum(lv["anchor_inflow"][:-1] / Q, 0))
    cl = np.repeat(np.arange(C), k)
    if len(cl):
        fine = home[cl] * tech.FINE_PER_COARSE + rng.integers(0, tech.FINE_PER_COARSE, len(cl))
        got, unit = room.find(cl, fine, placed=True)
        cl, fine = cl[got], fine[got]
        _new_firms(model, cl, fine, ANCHOR, model.anchor_draw(cl), rng.normal(0.0, QUALITY_SD, len(cl)),
                   age=rng.uniform(0, INITIAL_AGE_QUARTERS, len(cl)), tenant=unit[got])  # established, not young
        model.flows["relocations"] += np.bincount(cl, minlength=C)


class _Room:
    """Where this quarter's newcomers settle: the premises, or the estate's free units ``vac``.

    A newcomer to a cluster with estate units seeks a unit with probability ``seek[c]``
    (:func:`newcomer_factor`: for newcomers who chose the cluster or were spawned with its space
    factor; ``seek[c, s]`` for sector ``s`` where an estate is dedicated) or ``share[c]``
    (:func:`estate_share`: for newcomers a policy places there, who did not face the factor; times
    ``accepts[c, s]``, :func:`estate_accepts`, where an estate is dedicated) and settles only if one is free (:func:`take_units`, in
    order of arrival); the others settle in the premises.  Without estate units anywhere no random
    number is drawn."""

    def __init__(self, model, vac: np.ndarray, seek: np.ndarray, share: np.ndarray,
                 accepts: np.ndarray | None = None):
        self.rng, self.vac, self.seek = model.rng, vac, seek
        self.placed = share if accepts is None else share[:, None] * accepts
        self.any = bool((share > 0).any())

    def order(self, ids: np.ndarray) -> np.ndarray:
        """``ids`` in a random order of arrival (when estate units exist; else as given)."""
        return self.rng.permutation(ids) if self.any and len(ids) > 1 else ids

    def find(self, cl: np.ndarray, fs: np.ndarray, placed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Which newcomers to clusters ``cl`` in fine sectors ``fs`` find room, and which of them in an
        estate unit (``placed``: placed by a policy, not drawn with the space factor)."""
        got = np.ones(len(cl), dtype=bool)
        unit = np.zeros(len(cl), dtype=bool)
        if self.any and len(cl):
            cl, fs = np.asarray(cl, dtype=np.int64), np.asarray(fs, dtype=np.int64)
            unit = self.rng.random(len(cl)) < factor_for(self.placed if placed else self.seek, cl, fs)
            got[unit] = take_units(self.vac, cl[unit])
        return got, unit


def _admit_waiting(model, vac, patience, order, start, count) -> dict[str, np.ndarray]:
    """Settle the waiting list's applicants, oldest first, in the units ``vac`` free; those who have
    waited more than ``patience`` quarters give up (they leave the model).  Returns the rest."""
    wl = model.waiting
    if len(wl["cluster"]) == 0:
        return wl
    wl = {k: v[model.t - wl["since"] <= patience] for k, v in wl.items()}
    got = take_units(vac, wl["cluster"])
    for kind in (STARTUP, SME):
        sel = got & (wl["kind"] == kind)
        if sel.any():
            _settle(model, kind, wl["cluster"][sel], wl["fine"][sel], order, start, count, True)
    return {k: v[~got] for k, v in wl.items()}


def _settle(model, kind, cl, fs, order, start, count, unit=False) -> None:
    """Pool entrants of ``kind`` (``STARTUP`` or ``SME``) settle in clusters ``cl``, fine sectors ``fs``
    (``unit``: those in an estate unit).

    New firms start small and may be introduced to an incumbent by an incubator; relocating firms
    are established (ages as at set-up, at their size), and a share ``anchor_entry_share`` of them
    are branch plants of large firms: anchors.
    """
    rng, p = model.rng, model.p
    if kind == STARTUP:
        ids = _new_firms(model, cl, fs, STARTUP, model.size_draw(cl), rng.normal(0.0, QUALITY_SD, len(cl)),
                         start=p["startup_size"], tenant=unit)
    else:
        big = rng.random(len(cl)) < p["anchor_entry_share"]
        target = model.size_draw(cl)
        if big.any():
            target[big] = model.anchor_draw(cl[big])
        ids = _new_firms(model, cl, fs, np.where(big, ANCHOR, SME).astype(np.int8), target,
                         rng.normal(0.0, QUALITY_SD, len(cl)), age=rng.uniform(0, INITIAL_AGE_QUARTERS, len(cl)),
                         tenant=unit)
    model.flows["startups" if kind == STARTUP else "relocations"] += np.bincount(cl, minlength=model.n_clusters)
    if kind == STARTUP:
        _incubate(model, ids, order, start, count, rng)


def _incubate(model, ids, order, start, count, rng) -> None:
    """Incubator programmes introduce a share of new startups to an incumbent of their cluster.

    The incumbent is the first of :data:`TRIES` random firms of the cluster with spare tie budget.
    """
    lv = model.levers
    if len(ids) == 0:
        return
    pop = model.pop
    cl = pop.cluster[ids].astype(np.int64)
    linked = rng.random(len(ids)) < lv["startup_link"][cl]
    if not linked.any():
        return
    bud = budgets(model)
    deg = model.edges.degree(pop.n)
    partner = first_with_room([pick_members(rng, order, start, count, cl[linked]) for _ in range(TRIES)], deg, bud)
    ok = partner >= 0
    introduce(model, ids[linked][ok], partner[ok], rng, deg, bud)


def _spinoffs(model, par, inst, free, room) -> None:
    """Spin-offs of the firms ``par`` and academic spin-offs of the universities and research institutes
    ``inst`` (see :func:`entry`), with the space factor ``free`` (of the parent's sector, where an estate
    is dedicated) where :class:`_Room` ``room`` finds room for their sectors."""
    pop, rng, cp, lv, p = model.pop, model.rng, model.cpar, model.levers, model.p
    C = model.n_clusters
    if len(par):
        c_par = pop.cluster[par]
        rate = ((cp["spinoff_rate"] / Q * lv["spinoff_mult"])[c_par]
                * factor_for(free, c_par.astype(np.int64), pop.fine[par].astype(np.int64))
                * np.exp(np.clip(cp["spinoff_quality"][c_par] * pop.quality[par], -10, 5)))
        spawn = par[rng.random(len(par)) < np.minimum(rate, 1.0)]
        spawn = room.order(spawn)
    else:
        spawn = par
    if len(spawn):
        cl = pop.cluster[spawn].astype(np.int64)
        fine = pop.fine[spawn].astype(np.int64)
        branch = rng.random(len(spawn)) < p["spinoff_branch"]
        fine = np.where(branch, _related_sector(model, fine, rng), fine)
        got, unit = room.find(cl, fine)
        spawn, cl, fine, unit = spawn[got], cl[got], fine[got], unit[got]
        n = len(spawn)
        q = p["spinoff_heredity"] * pop.quality[spawn] + rng.normal(0.0, QUALITY_SD, n)
        ids = _new_firms(model, cl, fine, SPINOFF, model.size_draw(cl), q, parent=pop.uid[spawn],
                         affil=pop.affil[spawn], start=p["startup_size"], tenant=unit)
        model.edges.add(ids, spawn)  # the spin-off keeps its tie to the parent (kinship crosses the barrier)
        model.flows["spinoffs"] += np.bincount(cl, minlength=C)
    if len(inst):
        ci = pop.cluster[inst]
        ki = rng.poisson(cp["inst_spinoff_rate"][ci] / Q * lv["spinoff_mult"][ci]
                         * factor_for(free, ci.astype(np.int64), pop.fine[inst].astype(np.int64)))
        src = np.repeat(inst, ki)
        src = room.order(src)
        if len(src):
            cl = pop.cluster[src].astype(np.int64)
            fine = _related_sector(model, pop.fine[src].astype(np.int64), rng)
            got, unit = room.find(cl, fine)
            src, cl, fine, unit = src[got], cl[got], fine[got], unit[got]
            _new_firms(model, cl, fine, SPINOFF, model.size_draw(cl), rng.normal(0.0, QUALITY_SD, len(src)),
                       parent=pop.uid[src], affil=pop.uid[src], start=p["startup_size"], tenant=unit)
            model.flows["spinoffs"] += np.bincount(cl, minlength=C)


# ----------------------------------------------------------------------------- 3. affiliations
def affiliations(model, share: float = RECRUIT_SHARE) -> None:
    """Institutions renew their affiliated firms.

    Each alive institution of a cluster keeps ``affiliation_share`` x the cluster's firms as
    affiliates (members, tenants, clients); each quarter it recruits ``share`` of the missing
    ones among random firms of its cluster that have no institution (a firm has at most one).
    Affiliations to institutions that closed lapse.
    """
    pop, rng = model.pop, model.rng
    firms = np.flatnonzero(cluster_firms(pop))
    if len(firms) == 0:
        return
    pos = institution_of(model, firms)
    lapsed = (pop.affil[firms] >= 0) & (pos < 0)
    pop.affil[firms[lapsed]] = -1
    inst = np.flatnonzero(pop.alive & pop.is_institution & (pop.cluster >= 0))
    if len(inst) == 0:
        return
    have = np.bincount(pos[pos >= 0], minlength=pop.n)[inst]
    order, start, count = members_by_cluster(model)
    ci = pop.cluster[inst].astype(np.int64)
    want = np.floor(model.p["affiliation_share"] * count[ci] + 0.5)
    k = rng.binomial(np.maximum(want - have, 0).astype(np.int64), share)
    src = np.repeat(inst, k)
    if len(src) == 0:
        return
    cand = pick_members(rng, order, start, count, pop.cluster[src])
    ok = (cand >= 0) & (pop.affil[np.maximum(cand, 0)] < 0)
    pop.affil[cand[ok]] = pop.uid[src[ok]]


# ----------------------------------------------------------------------------- 4. link formation
def cognitive_fit(d: np.ndarray, d_opt: float) -> np.ndarray:
    """Inverted-U value of cognitive distance, ``g(d) = (d/d*) exp(1 - d/d*)`` (max 1 at d = d*)."""
    r = d / d_opt
    return r * np.exp(1.0 - r)


def link_formation(model) -> None:
    """Search within a tie budget, logit partner choice, the barrier, and broker introductions.

    A cluster firm with spare tie budget (:func:`budgets`) searches with probability
    ``search_rate`` x lever ``search_mult`` per quarter.  Its candidates: ``n_local`` random
    firms of its cluster, ``n_fof`` friends of friends and ``n_external`` random firms of other
    clusters or the outside world; current partners and firms without spare budget are
    excluded.  Utility of candidate j:

    ``U = beta_pop log(1+k_j) + beta_tri [friend of friend] + beta_cog g(d_ij)
    + beta_local [same cluster] - external_cost' [other cluster] + beta_inst [same institution]
    - beta_status |log(1+k_i) - log(1+k_j)| + Gumbel``

    with ``d_ij`` the cognitive distance (1 - relatedness), ``k`` firm-to-firm degrees (an
    institution is never a candidate and never counts in a degree) and ``external_cost'`` the
    external cost plus the lever ``external_cost_shift``, reduced by ``gatekeeper_discount`` for
    a gatekeeper's affiliates.  The best candidate is chosen if it beats the outside option
    ``link_threshold + Gumbel``; a pair from different groups then forms only with the
    barrier's probability (:func:`accepts`).  Then intermediaries introduce pairs
    (:func:`brokered_introductions`).
    """
    pop, rng, cp, lv, E = model.pop, model.rng, model.cpar, model.levers, model.edges
    n = pop.n
    deg = E.degree(n)
    bud = budgets(model)
    indptr, indices = E.csr(n)
    order, start, count = members_by_cluster(model)
    if len(order) == 0:
        return
    burst = 4.0 if model.t == 0 else 1.0  # burn-in builds the initial network at four times the search rate
    c_act = pop.cluster[order]
    sr = np.minimum(1.0, burst * cp["search_rate"][c_act] * lv["search_mult"][c_act])
    room = deg[order] < bud[order]
    S = order[room & (rng.random(len(order)) < sr)]
    if len(S):
        cs = pop.cluster[S].astype(np.int64)
        cands, kinds = [], []
        for _ in range(int(model.p["n_local"])):
            cands.append(pick_members(rng, order, start, count, cs)); kinds.append(0)
        for _ in range(int(model.p["n_fof"])):
            mid = random_neighbour(rng, indptr, indices, S)
            fof = random_neighbour(rng, indptr, indices, np.maximum(mid, 0))
            fof[mid < 0] = -1
            cands.append(fof); kinds.append(1)
        ext_pool = model.firm_pool()
        for _ in range(int(model.p["n_external"])):
            pick = ext_pool[rng.integers(0, len(ext_pool), len(S))] if len(ext_pool) else np.full(len(S), -1)
            pick = np.where(pop.cluster[np.maximum(pick, 0)] == cs, -1, pick)  # not from the own cluster
            cands.append(pick); kinds.append(2)
        Cm = np.column_stack(cands) if cands else np.empty((len(S), 0), dtype=np.int64)
        kind = np.array(kinds)
        # candidates that can take a tie: alive, spare budget, not the searcher, not a current partner
        open_ = pop.alive & (deg < bud)
        valid = (Cm >= 0) & open_[np.maximum(Cm, 0)] & (Cm != S[:, None])
        r, k = np.nonzero(valid)
        j = Cm[r, k]
        i = S[r]
        free = ~adjacent(indptr, indices, i, j)
        r, k, i, j = r[free], k[free], i[free], j[free]
        cr = cs[r]
        kj = deg[j]
        d = tech.distance(model.phi, pop.fine[i], pop.cap2[i], pop.fine[j], pop.cap2[j])
        inst_s = institution_of(model, S)
        gk = (inst_s >= 0) & (pop.role[np.maximum(inst_s, 0)] == GATEKEEPER)
        ext_cost = np.maximum(cp["external_cost"][cs] + lv["external_cost_shift"][cs], 0.0)
        ext_cost = np.where(gk, ext_cost * (1.0 - model.p["gatekeeper_discount"]), ext_cost)
        ai = pop.affil[i]
        noise = gumbel(rng, Cm.shape)
        # utilities of the valid candidates only (the others cannot be chosen)
        u = (cp["beta_pop"][cr] * np.log1p(kj)
             + cp["beta_tri"][cr] * (kind[k] == 1)
             + cp["beta_cog"][cr] * cognitive_fit(d, model.p["cog_optimum"])
             + np.where(pop.cluster[j] == cr, cp["beta_local"][cr], -ext_cost[r])
             + cp["beta_inst"][cr] * ((ai >= 0) & (pop.affil[j] == ai))
             - cp["beta_status"][cr] * np.abs(np.log1p(deg[i]) - np.log1p(kj))
             + noise[r, k])
        if Cm.shape[1]:
            U = np.full(Cm.shape, -np.inf)
            U[r, k] = u
            best = np.argmax(U, axis=1)
            u_best = U[np.arange(len(S)), best]
            u0 = cp["link_threshold"][cs] + gumbel(rng, len(S))
            ok = u_best > u0
            a, b = S[ok], Cm[np.arange(len(S)), best][ok]
            acc = accepts(model, a, b, rng, brokered=False)
            E.add(a[acc], b[acc])

    brokered_introductions(model)


def brokered_introductions(model) -> None:
    """Intermediaries introduce their affiliates to firms they would not meet (S4E-M6, S3-H7).

    Each intermediary makes Poisson(``broker_intros`` x lever ``broker_mult``) introductions per
    quarter: a random affiliate meets, with probability ``broker_external_share``, a random
    firm of another cluster or the outside world, otherwise the first of three random firms of
    its cluster that belongs to a different group (young vs incumbent, other sector family)
    and has spare tie budget (the last of :data:`TRIES` draws if none does); the affiliate, too,
    is the first of :data:`TRIES` with spare budget.  The pair forms through the barrier with the
    broker's lift (:func:`introduce`).
    """
    pop, rng, lv = model.pop, model.rng, model.levers
    brokers = np.flatnonzero(pop.alive & (pop.role == INTERMEDIARY) & (pop.cluster >= 0))
    if len(brokers) == 0:
        return
    firms = np.flatnonzero(cluster_firms(pop))
    pos = institution_of(model, firms)
    inst = np.flatnonzero(pop.is_institution)
    code = np.full(pop.n, -1, dtype=np.int64)  # institutions numbered in position order
    code[inst] = np.arange(len(inst))
    aff = firms[pos >= 0]
    acode = code[pos[pos >= 0]]
    aff = aff[stable_argsort_ids(acode, len(inst))]  # affiliates grouped by institution, in id order
    acount = np.bincount(acode, minlength=len(inst))
    astart = np.cumsum(acount) - acount
    cb = pop.cluster[brokers]
    k = rng.poisson(model.p["broker_intros"] * lv["broker_mult"][cb])
    b = np.repeat(brokers, k)
    if len(b) == 0:
        return
    bud = budgets(model)
    deg = model.edges.degree(pop.n)
    a1 = first_with_room([pick_members(rng, aff, astart, acount, code[b]) for _ in range(TRIES)], deg, bud)
    ok = a1 >= 0
    b, a1 = b[ok], a1[ok]
    if len(b) == 0:
        return
    order, start, count = members_by_cluster(model)
    cl = pop.cluster[a1].astype(np.int64)
    a2 = first_with_room([pick_members(rng, order, start, count, cl) for _ in range(TRIES)], deg, bud,
                         want=lambda d: cross_group(model, a1, d))
    ext_pool = model.firm_pool()
    ext = rng.random(len(a1)) < model.p["broker_external_share"]
    if len(ext_pool):
        pick = ext_pool[rng.integers(0, len(ext_pool), len(a1))]
        other = pop.cluster[pick] != cl
        a2 = np.where(ext & other, pick, a2)
    ok = a2 >= 0
    introduce(model, a1[ok], a2[ok], rng, deg, bud)


# ----------------------------------------------------------------------------- 5. link decay and trust
def trust_lift(model, u: np.ndarray, v: np.ndarray):
    r"""Multiplier of the speed of trust in each tie ``u - v``.

    It is the lever ``trust_mult`` of the cluster when ``u`` and ``v`` are members (affiliates) of
    the same intermediary of that cluster, a brokerage platform (a living lab's, or one already
    there): co-membership raises the growth of trust among members ([KRIHS-2020] S4P-M14,
    S4P-M15; S4E-M7: trust grows with repeated good contact), and 1 for every other tie, those
    an introduction made between a member and a non-member included (one meeting is not shared
    membership).  Returns an array, or the scalar 1.0 while no cluster's lever differs from 1.
    """
    lever = model.levers["trust_mult"]
    if np.all(lever == 1.0):
        return 1.0
    pop = model.pop
    platform = np.full(pop.n, -1, dtype=np.int64)
    firms = np.flatnonzero(cluster_firms(pop))
    pos = institution_of(model, firms)
    member = pos >= 0
    member[member] = pop.role[pos[member]] == INTERMEDIARY
    platform[firms[member]] = pos[member]
    same = (platform[u] >= 0) & (platform[u] == platform[v])
    return np.where(same, lever[pop.cluster[np.maximum(platform[u], 0)].astype(np.int64)], 1.0)


def link_decay(model) -> None:
    r"""Trust grows; ties dissolve.

    Trust in each tie grows toward 1 at ``1/trust_years`` per year (S4E-M7), times the lever
    ``trust_mult`` of a platform's cluster in the ties between its members (:func:`trust_lift`).
    A tie dissolves with hazard

    .. math:: h = \delta\,\exp(-\delta_{cog}\,\varphi_{ij} - \delta_{age}\,\mathrm{age}_{years})
              \,(1 + \delta_{cross}\,(1 - \tau_{ij})\,[\text{cross-group}])

    (``decay_rate``, ``decay_cog``, ``decay_age``, ``cross_decay``): related, old and trusted
    ties last (Juhasz & Lengyel 2018, doi:10.1093/jeg/lbx030); a cross-group tie is fragile
    until trust is built.
    """
    E, pop, rng, p = model.edges, model.pop, model.rng, model.p
    if len(E) == 0:
        return
    rate = trust_lift(model, E.u, E.v) / (p["trust_years"] * Q)
    E.trust += (1.0 - E.trust) * np.minimum(rate, 1.0)
    rel = 1.0 - tech.distance(model.phi, pop.fine[E.u], pop.cap2[E.u], pop.fine[E.v], pop.cap2[E.v])
    cross = cross_group(model, E.u, E.v)
    h = p["decay_rate"] * np.exp(-p["decay_cog"] * rel - p["decay_age"] * E.age / Q)
    h = h * (1.0 + p["cross_decay"] * (1.0 - E.trust) * cross)
    if model.t == 0:  # burn-in runs at four times the pace (see link_formation)
        h = 1.0 - (1.0 - np.minimum(h, 1.0)) ** 4
    keep = rng.random(len(E)) >= h
    model.edges.keep(keep)
    model.edges.age += 1.0


# ----------------------------------------------------------------------------- 6. technology
def _partner_table(model, firms_mask):
    """Directed partner pairs for cluster firms ``i``: arrays ``(i, j, trust of the tie)`` (both directions)."""
    E = model.edges
    src = np.concatenate([E.u, E.v])
    dst = np.concatenate([E.v, E.u])
    tr = np.concatenate([E.trust, E.trust])
    keep = firms_mask[src]
    return src[keep], dst[keep], tr[keep]


def _first_max_per_group(group: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Per run of equal ``group`` values (``group`` sorted), the position of its largest ``w``, the first on a tie.

    The same positions as ``np.lexsort((-w, group))`` followed by the first of each group,
    in one pass over the groups instead of a sort.
    """
    if len(group) == 0:
        return np.empty(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], group[1:] != group[:-1]]))
    gid = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(group))))
    hit = np.flatnonzero(w == np.maximum.reduceat(w, starts)[gid])
    return hit[np.concatenate([[True], gid[hit][1:] != gid[hit][:-1]])]


def technology(model) -> None:
    r"""Cognitive lock-in, branching by relatedness density, and collective coordination.

    **Lock-in** (S4P-M20).  For firm i, :math:`L_i` is the trust-weighted share of its
    local partners in its own fine sector and :math:`s^*_i` the sector holding the largest
    trust-weighted share :math:`\ell_i` of them.  If :math:`s^*_i \ne f_i` the firm converts to
    :math:`s^*_i` with probability ``convergence_rate``/4 x :math:`\ell_i` (keeping its old
    sector as a secondary capability): the centripetal force, a discrete transition.

    **Branching** (Hidalgo et al. 2007; Neffke et al. 2011).  A firm attempts a move with
    probability ``recombination_rate``/4 x lever ``recombination_mult`` x (1 + ``absorptive_boost``
    if affiliated with a university or research institute) x (1 + max(-perf, 0)) x
    exp(-``lock_in`` :math:`L_i`).  Its relatedness density over fine sectors is

    .. math:: D_i = (1 - w_p - w_c)\,\max(\varphi_{f_i}, \varphi_{g_i}) + w_p\,P_i + w_c\,\bar\varphi_c

    with :math:`\bar\varphi_c` the cluster's sector shares times :math:`\varphi` and
    :math:`P_i = \sum_j \omega_{ij} \varphi_{f_j} / \sum_j \omega_{ij}` over partners, weights
    :math:`\omega_{ij} = g(d_{ij})` (the inverted U: partners at intermediate cognitive distance
    teach most) x ``external_learning`` for a partner outside the cluster x trust for a
    cross-group partner (an untrusted cross-group tie is not yet productive; S4E-M7).  A
    research institute's or gatekeeper's affiliate also counts the national sector mix as one
    external partner (knowledge from outside).  Without partners, :math:`w_p` goes to the own
    term.  A platform's mission sector gets one more unit.  The target s ≠ f_i is drawn in
    proportion to :math:`D_i(s)\,(1 - \pi_c(s))`, with :math:`\pi_c(s)` the share of the
    cluster's firms in s (a crowded field offers a newcomer less: firms branch into related
    white space), and the move succeeds with probability :math:`\min(1, D_i(s))`;
    the old sector stays as the secondary capability.  Unrelated jumps therefore need a partner
    that holds the sector.

    **Collective coordination** (S4P-M9).  A branching move into sector s of cluster c pays off
    only if, after the moves, at least :math:`\max(2, \text{coordination\_share} \times
    \lambda^{coord}_c \times n_c)` firms of c hold s; otherwise it is undone.  Platforms lower
    the threshold (lever ``coordination_mult``).
    """
    pop, rng, cp, lv, p = model.pop, model.rng, model.cpar, model.levers, model.p
    F = tech.N_FINE
    fm = cluster_firms(pop)
    firms = np.flatnonzero(fm)
    if len(firms) == 0:
        return
    n = pop.n
    src, dst, tr = _partner_table(model, fm)
    local = pop.cluster[dst] == pop.cluster[src]
    # ---- lock-in: trust-weighted local partner shares by fine sector
    ls, ld, lt = src[local], dst[local], tr[local]
    tot = np.bincount(ls, weights=lt, minlength=n)
    same = np.bincount(ls, weights=lt * (pop.fine[ld] == pop.fine[ls]), minlength=n)
    L = np.where(tot > 0, same / np.maximum(tot, 1e-12), 0.0)
    if len(ls):
        key = ls * F + pop.fine[ld]
        uk, inv = unique_inverse(key, n * F)  # np.unique(key, return_inverse=True), by radix sort
        wsum = np.bincount(inv, weights=lt)
        who = uk // F
        sec = uk % F
        top = _first_max_per_group(who, wsum)  # per firm, its heaviest sector (the lowest on a tie)
        i_top, s_top = who[top], sec[top]
        share = wsum[top] / np.maximum(tot[i_top], 1e-12)
        move = (s_top != pop.fine[i_top]) & (pop.role[i_top] <= SPINOFF)
        prob = cp["convergence_rate"][pop.cluster[i_top]] / Q * share
        conv = move & (rng.random(len(i_top)) < prob)
        ic, sc = i_top[conv], s_top[conv]
        pop.cap2[ic] = pop.fine[ic]
        pop.fine[ic] = sc
        pop.coarse[ic] = tech.FINE_TO_COARSE[sc]
    # ---- branching
    c = pop.cluster[firms].astype(np.int64)
    ipos = institution_of(model, firms)
    irole = np.where(ipos >= 0, pop.role[np.maximum(ipos, 0)], -1)
    talent = (irole == UNIVERSITY) | (irole == RESEARCH)
    pr = ((cp["recombination_rate"] / Q * lv["recombination_mult"])[c]
          * (1.0 + p["absorptive_boost"] * talent)
          * (1.0 + np.maximum(-pop.perf[firms], 0.0))
          * np.exp(-cp["lock_in"][c] * L[firms]))
    att = rng.random(len(firms)) < np.minimum(pr, 1.0)
    M = firms[att]
    if len(M):
        _branch(model, M, c[att], irole[att], ipos[att], src, dst, tr, local)
    pop.coarse[firms] = tech.FINE_TO_COARSE[pop.fine[firms]]


def _branch(model, M, cM, irole, ipos, src, dst, tr, local) -> None:
    pop, rng, cp, lv, p = model.pop, model.rng, model.cpar, model.levers, model.p
    C, F = model.n_clusters, tech.N_FINE
    phi = model.phi
    m = len(M)
    row = np.full(pop.n, -1, dtype=np.int64)
    row[M] = np.arange(m)
    f = pop.fine[M].astype(np.int64)
    g = pop.cap2[M].astype(np.int64)
    # own relatedness max(phi[f], phi[g]) per mover, gathered from the table of every (f, g) pair
    own = np.maximum(phi[:, None, :], phi[None, :, :]).reshape(F * F, F)[f * F + tech.secondary(f, g)]
    # partners of the movers
    sel = row[src] >= 0
    s_, d_, t_, l_ = src[sel], dst[sel], tr[sel], local[sel]
    dist = tech.distance(phi, pop.fine[s_], pop.cap2[s_], pop.fine[d_], pop.cap2[d_])
    w = cognitive_fit(dist, p["cog_optimum"])
    w = w * np.where(l_, 1.0, cp["external_learning"][pop.cluster[s_]])
    w = w * np.where(cross_group(model, s_, d_), t_, 1.0)
    P = np.zeros((m, F))
    np.add.at(P, (row[s_], pop.fine[d_].astype(np.int64)), w)
    wsum = P.sum(1)
    relay = (irole == RESEARCH) | (irole == GATEKEEPER)
    cnt, out_f = sector_counts(model)
    nat = cnt.sum(0) + out_f
    nat = nat / max(nat.sum(), 1.0)
    if relay.any():
        P[relay] += cp["external_learning"][cM[relay]][:, None] * nat[None, :]
        wsum = wsum + relay * cp["external_learning"][cM]
    P /= np.maximum(wsum, 1e-12)[:, None]  # a row without partners is all zeros, and so is its P @ phi
    shares = cnt / np.maximum(cnt.sum(1, keepdims=True), 1.0)
    wp = np.where(wsum > 0, p["density_partners"], 0.0)
    wc = p["density_cluster"]
    # D = (1 - wp - wc)+ own + wp P phi + wc shares phi, built in place (m x F arrays are the cost here)
    D = own
    D *= np.clip(1.0 - wp - wc, 0.0, None)[:, None]
    Pphi = P @ phi
    Pphi *= wp[:, None]
    D += Pphi
    D += (wc * (shares @ phi))[cM]
    mis = pop.mission[np.maximum(ipos, 0)]
    has_m = (ipos >= 0) & (mis >= 0)
    D[np.flatnonzero(has_m), mis[has_m]] += 1.0
    D[np.arange(m), f] = 0.0
    T = D * (1.0 - shares)[cM]  # a crowded field offers a newcomer less: white space attracts
    s = tech.draw_from(T, rng)
    ok = (s >= 0) & (rng.random(m) < np.minimum(D[np.arange(m), np.maximum(s, 0)], 1.0))
    mv, new, cm = M[ok], s[ok], cM[ok]
    if len(mv) == 0:
        return
    old = pop.fine[mv].copy()
    pop.fine[mv] = new
    # collective coordination: the move pays off only if enough of the cluster holds the new sector
    after = cnt.copy()  # the counts after the moves (counts are whole numbers: exact)
    np.subtract.at(after, (cm, old.astype(np.int64)), 1.0)
    np.add.at(after, (cm, new), 1.0)
    holders = after.ravel()
    n_c = after.sum(1)
    need = np.maximum(2.0, cp["coordination_share"][cm] * lv["coordination_mult"][cm] * n_c[cm])
    fail = holders[cm * F + new] < need
    pop.fine[mv[fail]] = old[fail]
    won = mv[~fail]
    pop.cap2[won] = old[~fail]
    model.flows["recombinations"] += np.bincount(pop.cluster[won], minlength=C)


# ----------------------------------------------------------------------------- 7. performance and shocks
def performance(model) -> None:
    r"""Firm performance, employment growth and the technology shift.

    :math:`\pi_i = q_i + \rho \log(1 + k_i) - \sigma_c \min(\varphi_{h_c f_i}, \varphi_{h_c g_i}) + \epsilon_i`

    with quality ``q``, ``network_return`` :math:`\rho`, firm-to-firm degree ``k``, the
    cluster's shock level :math:`\sigma_c`, the sector :math:`h_c` the shift devalued
    (:meth:`~sim.model.system.ClusterSystem.devalued_sector`: the dominant fine sector when the
    level last rose) and :math:`\epsilon \sim N(0, \text{perf\_noise})`.  A technology shift
    (``shock_year`` or the technology-shock policy lever) adds ``shock_size`` (the lever's value)
    to :math:`\sigma_c`, so shifts accumulate; the level fades by ``shock_persistence`` per
    quarter.  Firms on the devalued technology lose most, related sectors lose :math:`\varphi`
    times as much and a secondary capability away from it is an escape (S4P-M10).  Employment
    :math:`s_i` moves toward the firm's target :math:`T_i` (drawn at birth, see :func:`entry`)
    and with performance, per quarter

    :math:`\log s_i \leftarrow \log s_i + \frac{m}{4} (\log T_i - \log s_i) + g (\pi_i - \bar\pi)`

    with ``maturation_rate`` :math:`m` (per year), ``size_growth`` :math:`g` and the market's
    reference :math:`\bar\pi`, the mean over all cluster firms of the performance without the
    shift (:math:`\pi_i + \sigma_c \min(\ldots)`; ``model.perf_ref``, also the reference of
    :func:`exit_`): a shift is a loss against the market, not only against the other firms of
    the system (a shift on every cluster, ``shock_year``, shrinks the whole system).  At least
    one employee; new firms grow into their size and a cluster's employment stays put at rest;
    every node ages one quarter.
    """
    pop, rng, cp, lv = model.pop, model.rng, model.cpar, model.levers
    C = model.n_clusters
    n = pop.n
    firms = np.flatnonzero(cluster_firms(pop))
    deg = model.edges.degree(n)
    c = pop.cluster[firms].astype(np.int64)
    f = pop.fine[firms].astype(np.int64)
    g = pop.cap2[firms].astype(np.int64)
    nf = np.bincount(c * tech.N_FINE + f, minlength=C * tech.N_FINE)
    dom = np.argmax(nf.reshape(C, tech.N_FINE), axis=1)
    model.dominant_fine = dom
    before = model.shock.copy()
    # a shift scheduled in the first quarter (shock_year < 1/8) happens in the first step
    if model.p["shock_year"] >= 0 and model.t == max(1, steps_in(model.p["shock_year"])):
        model.shock += model.p["shock_size"]
        model.shock_level_events.append(model.t)
    model.shock[:] += lv["tech_shock"][:-1]
    model.note_shock(model.shock > before + 1e-12)
    hit = model.devalued_sector()[c]
    exposure = np.minimum(model.phi[hit, f], model.phi[hit, tech.secondary(f, g)])
    loss = model.shock[c] * exposure
    perf = (pop.quality[firms]
            + cp["network_return"][c] * np.log1p(deg[firms])
            - loss
            + rng.normal(0.0, model.p["perf_noise"], len(firms)))
    pop.perf[firms] = perf
    # the market's reference: the mean performance the firms would have without the technology shift
    model.perf_ref = float((perf + loss).mean()) if len(perf) else 0.0
    if len(perf):
        size = pop.size[firms]
        pool = labour_pool(model, c, size)  # per cluster: its powers are taken once per cluster
        gap = np.log(pop.target[firms] * (pool ** model.p["pool_elasticity"])[c] / size)
        rate = model.p["maturation_rate"] * np.where(gap > 0, (pool ** model.p["pool_matching"])[c], 1.0)
        # a quarter closes at most the whole log gap: a thick pool cannot hire past the target
        d = np.minimum(rate / Q, 1.0) * gap + model.p["size_growth"] * (perf - model.perf_ref)
        pop.size[firms] = np.maximum(1.0, size * np.exp(d))
    age = pop.age
    age += pop.alive  # every alive node ages a quarter (adding 0.0 leaves the others as they are)
    model.shock *= model.p["shock_persistence"]


def labour_pool(model, c: np.ndarray, size: np.ndarray) -> np.ndarray:
    r"""Each cluster's skilled-labour pool index, and one quarter's update of its reference.

    The pool of cluster :math:`c` is its firms' employment :math:`P_c` judged against its own moving
    average :math:`\bar P_c`, which follows it with time constant ``pool_memory`` :math:`\tau` (years):

    :math:`r_c = P_c / \bar P_c`, then :math:`\bar P_c \leftarrow \bar P_c + (1 - e^{-1/(4\tau)})(P_c - \bar P_c)`

    (:math:`\bar P_c = P_c` at the first step, so :math:`r_c = 1` there and at rest).  A cluster that
    loses employment fast (its anchors leave, S4W-M6) has a thinner pool than its firms are used to
    (:math:`r_c < 1`) until the average catches up; a fast-growing one a thicker pool.  Marshall's labour
    pool (A-M2) scales a firm's target employment by :math:`r_c^{\epsilon}` (``pool_elasticity``) and the
    matching of workers to jobs (S4P-M1) its hiring toward that target by :math:`r_c^{\eta}`
    (``pool_matching``; :func:`performance`).  Reference: Rosenthal & Strange (2004) for the size of
    agglomeration elasticities; Petrongolo & Pissarides (2001) for the matching function.

    ``c`` and ``size`` are the cluster and employment of every cluster firm.
    """
    P = np.bincount(c, weights=size, minlength=model.n_clusters)
    avg = model.pool_avg
    avg[:] = np.where(np.isfinite(avg), avg, P)
    r = np.divide(P, avg, out=np.ones_like(P), where=avg > 0)
    avg += (1.0 - np.exp(-1.0 / (Q * model.p["pool_memory"]))) * (P - avg)
    return r


# ----------------------------------------------------------------------------- 8. exit
def exit_(model) -> None:
    """Exit of weak firms and of anchors.

    A firm exits with probability ``exit_rate/4 * exp(-exit_sensitivity * (perf - reference))``
    per quarter (capped at 1), the reference being the market's of :func:`performance` (the mean
    performance of all cluster firms without the technology shift: at rest, performance
    redistributes exit without changing its average level; a shift raises it); anchors additionally leave with
    ``anchor_exit_rate`` per year.  Exiting nodes lose all their ties and their Mesa handle.
    """
    pop, rng, cp, lv = model.pop, model.rng, model.cpar, model.levers
    firms = np.flatnonzero(cluster_firms(pop))
    c = pop.cluster[firms]
    perf = pop.perf[firms]
    rel = perf - model.perf_ref
    base = (cp["exit_rate"] / Q * lv["exit_mult"])[c]  # per-cluster factors, then per firm
    h = base * np.exp(np.clip(-cp["exit_sensitivity"][c] * rel, -20, 20))
    anchor = pop.role[firms] == ANCHOR
    h = h + anchor * ((cp["anchor_exit_rate"] + lv["anchor_exit"]) / Q)[c]
    out = firms[rng.random(len(firms)) < np.minimum(h, 1.0)]
    remove_nodes(model, out)
    model.flows["exits"] += np.bincount(pop.cluster[out], minlength=model.n_clusters)
    model.flows["anchor_exits"] += np.bincount(pop.cluster[out[pop.role[out] == ANCHOR]],
                                               minlength=model.n_clusters)


def remove_nodes(model, ids: np.ndarray) -> None:
    """Mark nodes dead, drop their ties and remove their Mesa handles."""
    if len(ids) == 0:
        return
    model.pop.alive[ids] = False
    model.edges.drop_nodes(model.pop.alive)
    model.unregister(ids)

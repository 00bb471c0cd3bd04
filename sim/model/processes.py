"""The model's processes (ODD submodels), each acting on the whole population at once.

Each function takes the :class:`~sim.model.model.ClusterModel` and updates
``model.pop`` (node arrays) and ``model.edges`` (the tie list) with vectorised
numpy operations.  Per-cluster parameter values are ``model.cpar[name]``: arrays
of length ``n_clusters + 1`` whose last entry belongs to the outside world, so
``model.cpar[name][pop.cluster]`` gives every node its cluster's value (the
outside world's cluster number is -1).  Policy levers are ``model.levers``
(same layout), reset to neutral at the start of every step.

The order in which :meth:`ClusterModel.step` calls them is the model's schedule
(see ``docs/odd.md``):

1. policy hooks          (:mod:`scenarios.policies`)
2. :func:`entry`         startups, spin-offs, relocation with critical-mass feedback
3. :func:`link_formation` candidate search and logit partner choice; brokered introductions
4. :func:`link_decay`    tie dissolution
5. :func:`learning`      convergence to partners, external knowledge, recombination
6. :func:`performance`   performance, growth and technology shocks
7. :func:`exit_`         exit of weak firms and anchor exit
8. indicators            (:mod:`sim.indices`, :mod:`sim.indices.scores`)
"""

from __future__ import annotations

import numpy as np

from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.model import technology as tech
from sim.model.population import (
    ANCHOR,
    GATEKEEPER,
    INTERMEDIARY,
    RESEARCH,
    SME,
    SPINOFF,
    STARTUP,
    UNIVERSITY,
)

Q = float(STEPS_PER_YEAR)  # steps per year


# ----------------------------------------------------------------------------- helpers
def members_by_cluster(model, firms_only: bool = True):
    """Alive cluster members grouped by cluster: ``(order, start, count)``.

    ``order[start[c]:start[c]+count[c]]`` are the ids of cluster ``c``'s members.
    """
    pop = model.pop
    mask = pop.alive & (pop.cluster >= 0)
    if firms_only:
        mask &= pop.role <= SPINOFF
    ids = np.flatnonzero(mask)
    cl = pop.cluster[ids]
    o = np.argsort(cl, kind="stable")
    order = ids[o]
    count = np.bincount(cl, minlength=model.n_clusters)
    start = np.zeros(model.n_clusters, dtype=np.int64)
    start[1:] = np.cumsum(count)[:-1]
    return order, start, count


def pick_members(rng, order, start, count, clusters):
    """One uniformly random member of each given cluster (-1 where the cluster is empty)."""
    clusters = np.asarray(clusters, dtype=np.int64)
    cnt = count[clusters]
    off = (rng.random(len(clusters)) * np.maximum(cnt, 1)).astype(np.int64)
    out = np.full(len(clusters), -1, dtype=np.int64)
    ok = cnt > 0
    out[ok] = order[start[clusters[ok]] + off[ok]]
    return out


def random_neighbour(rng, indptr, indices, nodes):
    """A uniformly random neighbour of each node (-1 for nodes without one)."""
    nodes = np.asarray(nodes, dtype=np.int64)
    deg = indptr[nodes + 1] - indptr[nodes]
    off = (rng.random(len(nodes)) * np.maximum(deg, 1)).astype(np.int64)
    out = np.full(len(nodes), -1, dtype=np.int64)
    ok = deg > 0
    out[ok] = indices[indptr[nodes[ok]] + off[ok]]
    return out


def critical_mass_factor(model, home_count: np.ndarray) -> np.ndarray:
    """Agglomeration feedback on entry, ``1 + gain * logistic((h - m*) / (m*/4))``.

    ``h`` is a cluster's number of home-sector firms and ``m* = critical_mass * scale``.
    Below critical mass entry stays at its base rate; well above it, it is
    multiplied by ``1 + critical_mass_gain`` (positive lock-in by market feedback;
    BRIEF section 2, first branch point).
    """
    m = model.critical_mass()
    z = np.clip((home_count - m) / (0.25 * m), -50, 50)
    return 1.0 + model.cpar["critical_mass_gain"][:-1] * model.levers["agglomeration_mult"][:-1] / (1.0 + np.exp(-z))


def _new_firms(model, cluster, fine, role, size, quality, parent=-1, spread=0.04):
    rng = model.rng
    n = len(cluster)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    x = tech.position_in(fine, rng, spread)
    fine2 = tech.assign_fine(x)
    ids = model.pop.add(
        n, cluster=cluster, x=x, fine=fine2, coarse=tech.FINE_TO_COARSE[fine2], role=role,
        size=size, quality=quality, parent=parent, birth=model.t, age=0.0, perf=0.0,
    )
    model.register_firms(ids)
    return ids


# ----------------------------------------------------------------------------- 2. entry
def entry(model) -> None:
    """Startups, spin-offs (from firms and institutions) and relocation into clusters.

    * Startups per cluster ~ Poisson(startup_rate/4 * n_c * A_c * lever), where
      ``A_c`` is the critical-mass factor.  A startup copies the fine sector of a
      random local firm (entrepreneurial contagion, Zhang 2003), moves to a related
      fine sector with probability 0.4 and to a random sector with probability 0.1.
    * Spin-offs: each firm spawns with probability
      ``spinoff_rate/4 * exp(spinoff_quality * quality)`` (Klepper 2007 heredity):
      the child sits next to its parent in technology space, inherits half its
      quality advantage (plus noise) and keeps a tie to it.  Universities and research institutes
      spawn academic spin-offs at ``inst_spinoff_rate`` per year.
    * Relocation per cluster ~ Poisson(relocation_rate/4 * n_c * A_c): established
      firms of the home sector drawn in by agglomeration.
    """
    pop, rng, cp, lv = model.pop, model.rng, model.cpar, model.levers
    C = model.n_clusters
    order, start, count = members_by_cluster(model)
    home = model.home
    hc = np.bincount(pop.cluster[order], weights=(pop.coarse[order] == home[pop.cluster[order]]),
                     minlength=C)
    A = critical_mass_factor(model, hc)
    flows = model.flows

    # startups
    lam = cp["startup_rate"][:-1] / Q * count * A * lv["entry_mult"][:-1] + lv["startup_extra"][:-1] / Q
    k = rng.poisson(np.maximum(lam, 0))
    cl = np.repeat(np.arange(C), k)
    if len(cl):
        tmpl = pick_members(rng, order, start, count, cl)
        fine = np.where(tmpl >= 0, pop.fine[np.maximum(tmpl, 0)],
                        home[cl] * tech.FINE_PER_COARSE + rng.integers(0, tech.FINE_PER_COARSE, len(cl)))
        u = rng.random(len(cl))
        rel = u < 0.4
        fine = np.where(rel, tech.related_fine(fine, rng), fine)
        rnd = u > 0.9
        fine = np.where(rnd, rng.integers(0, tech.N_FINE, len(cl)), fine)
        size = 1.0 + rng.exponential(1.5, len(cl))
        q = rng.normal(-0.2, 0.5, len(cl))
        ids = _new_firms(model, cl, fine, STARTUP, size, q)
        # incubator programmes link a share of startups to an incumbent of their cluster
        p_link = lv["startup_link"][cl]
        linked = rng.random(len(cl)) < p_link
        if linked.any():
            partner = pick_members(rng, order, start, count, cl[linked])
            ok = partner >= 0
            model.edges.add(ids[linked][ok], partner[ok])
        flows["startups"] += np.bincount(cl, minlength=C)

    # spin-offs from firms
    par = order
    if len(par):
        c_par = pop.cluster[par]
        rate = (cp["spinoff_rate"][c_par] / Q * lv["spinoff_mult"][c_par]
                * np.exp(np.clip(cp["spinoff_quality"][c_par] * pop.quality[par], -10, 5)))
        spawn = par[rng.random(len(par)) < np.minimum(rate, 1.0)]
    else:
        spawn = par
    # academic spin-offs from universities and research institutes
    inst = np.flatnonzero(pop.alive & ((pop.role == UNIVERSITY) | (pop.role == RESEARCH)) & (pop.cluster >= 0))
    if len(inst):
        ci = pop.cluster[inst]
        ki = rng.poisson(cp["inst_spinoff_rate"][ci] / Q * lv["spinoff_mult"][ci])
        spawn = np.concatenate([spawn, np.repeat(inst, ki)])
    if len(spawn):
        cl = pop.cluster[spawn].astype(np.int64)
        n = len(spawn)
        x = pop.x[spawn] + rng.normal(0, 0.05, size=(n, 2))
        fine = tech.assign_fine(x)
        is_inst = pop.role[spawn] >= UNIVERSITY
        # bounded heredity: a spin-off inherits half its parent's quality advantage (an unbounded
        # inheritance ratchets quality up along the best lineages: runaway growth in long runs)
        q = np.where(is_inst, 0.3, 0.5 * pop.quality[spawn]) + rng.normal(0, 0.3, n)
        ids = model.pop.add(n, cluster=cl, x=x, fine=fine, coarse=tech.FINE_TO_COARSE[fine], role=SPINOFF,
                            size=1.0 + rng.exponential(2.0, n), quality=q, parent=pop.uid[spawn], birth=model.t)
        model.register_firms(ids)
        model.edges.add(ids, spawn)
        flows["spinoffs"] += np.bincount(cl, minlength=C)

    # relocation drawn by agglomeration
    lam = cp["relocation_rate"][:-1] / Q * count * A * lv["relocation_mult"][:-1]
    k = rng.poisson(np.maximum(lam, 0))
    cl = np.repeat(np.arange(C), k)
    if len(cl):
        fine = home[cl] * tech.FINE_PER_COARSE + rng.integers(0, tech.FINE_PER_COARSE, len(cl))
        size = model.size_draw(cl)
        _new_firms(model, cl, fine, SME, size, rng.normal(0.2, 0.5, len(cl)))
        flows["relocations"] += np.bincount(cl, minlength=C)

    # anchor attraction (policy lever): large, high-quality firms of the home sector
    k = rng.poisson(np.maximum(lv["anchor_inflow"][:-1] / Q, 0))
    cl = np.repeat(np.arange(C), k)
    if len(cl):
        fine = home[cl] * tech.FINE_PER_COARSE + rng.integers(0, tech.FINE_PER_COARSE, len(cl))
        size = model.size_draw(cl) * 20.0
        _new_firms(model, cl, fine, ANCHOR, size, rng.normal(1.0, 0.3, len(cl)))
        flows["relocations"] += np.bincount(cl, minlength=C)


# ----------------------------------------------------------------------------- 3. link formation
def cognitive_fit(d: np.ndarray, d_opt: float) -> np.ndarray:
    """Inverted-U value of cognitive distance, ``g(d) = (d/d*) exp(1 - d/d*)`` (max 1 at d = d*)."""
    r = d / d_opt
    return r * np.exp(1.0 - r)


def link_formation(model) -> None:
    """Candidate search and logit partner choice (Jackson-Rogers search, SAOM-style utility).

    Each alive cluster node searches with probability ``search_rate`` (anchors and
    gatekeepers four times as often).  Its candidate set holds ``n_local`` random
    members of its cluster, ``n_fof`` friends of friends and ``n_external``
    random firms of other clusters or the outside world.  Utility of candidate j:

    ``U = beta_pop log(1+k_j) + beta_tri [friend of friend] + beta_broker [met via an institution]
    + beta_cog g(d_ij) + beta_local [same cluster] - external_cost [other cluster]
    + beta_inst [j is an institution] - beta_status |log(1+k_i) - log(1+k_j)| + Gumbel``

    against an outside option ``link_threshold + Gumbel``; the best alternative is
    chosen (a multinomial logit).  Gatekeepers pay no external cost.  Then every
    intermediary introduces ``broker_intros`` pairs of its partners per quarter
    (partners as they were at the start of the phase), preferring pairs from
    different groups (old/new firms or different sectors).
    """
    pop, rng, cp, lv, E = model.pop, model.rng, model.cpar, model.levers, model.edges
    n = pop.n
    deg = E.degree(n)
    indptr, indices = E.csr(n)
    order, start, count = members_by_cluster(model, firms_only=False)
    active = order  # alive nodes of clusters (firms and institutions)
    if len(active) == 0:
        return
    burst = 4.0 if model.t == 0 else 1.0  # burn-in builds the initial network at four times the search rate
    role = pop.role
    c_act = pop.cluster[active]
    sr = np.minimum(1.0, burst * cp["search_rate"][c_act] * lv["search_mult"][c_act])
    sr = np.where((role[active] == ANCHOR) | (role[active] == GATEKEEPER), np.minimum(1.0, 4 * sr), sr)
    S = active[rng.random(len(active)) < sr]
    if len(S):
        cs = pop.cluster[S].astype(np.int64)
        cands, kinds, via = [], [], []
        for _ in range(int(model.p["n_local"])):
            cands.append(pick_members(rng, order, start, count, cs)); kinds.append(0); via.append(None)
        for _ in range(int(model.p["n_fof"])):
            mid = random_neighbour(rng, indptr, indices, S)
            fof = random_neighbour(rng, indptr, indices, np.maximum(mid, 0))
            fof[mid < 0] = -1
            cands.append(fof); kinds.append(1); via.append(mid)
        n_ext = int(model.p["n_external"])
        ext_pool = model.firm_pool()
        gk = role[S] == GATEKEEPER
        for j in range(n_ext + 2):
            pick = ext_pool[rng.integers(0, len(ext_pool), len(S))] if len(ext_pool) else np.full(len(S), -1)
            if j >= n_ext:  # gatekeepers search the outside twice as hard
                pick = np.where(gk, pick, -1)
            cands.append(pick); kinds.append(2); via.append(None)
        C = np.column_stack(cands)  # (|S|, m)
        kind = np.array(kinds)
        valid = (C >= 0) & (C != S[:, None])
        Cz = np.maximum(C, 0)
        valid &= pop.alive[Cz]
        kj = deg[Cz]
        ki = deg[S][:, None]
        same = pop.cluster[Cz] == cs[:, None]
        dx = pop.x[Cz, 0] - pop.x[S, 0][:, None]
        dy = pop.x[Cz, 1] - pop.x[S, 1][:, None]
        d = np.sqrt(dx * dx + dy * dy)  # = np.linalg.norm(x[Cz] - x[S][:, None], axis=2), faster
        ext_cost = (cp["external_cost"][cs] + lv["external_cost_shift"][cs])[:, None]
        ext_cost = np.where(gk[:, None], 0.0, np.maximum(ext_cost, 0.0))
        is_inst = (pop.role[Cz] >= UNIVERSITY) & (pop.role[Cz] <= GATEKEEPER)
        broker = np.zeros_like(valid)
        for col, (kd, m) in enumerate(zip(kinds, via)):
            if kd == 1:
                mz = np.maximum(m, 0)
                broker[:, col] = (m >= 0) & (pop.role[mz] >= UNIVERSITY) & (pop.role[mz] <= GATEKEEPER)
        U = (cp["beta_pop"][cs][:, None] * np.log1p(kj)
             + cp["beta_tri"][cs][:, None] * (kind[None, :] == 1)
             + cp["beta_broker"][cs][:, None] * lv["broker_mult"][cs][:, None] * broker
             + cp["beta_cog"][cs][:, None] * cognitive_fit(d, model.p["cog_optimum"])
             + np.where(same, cp["beta_local"][cs][:, None], -ext_cost)
             + cp["beta_inst"][cs][:, None] * is_inst
             - cp["beta_status"][cs][:, None] * np.abs(np.log1p(ki) - np.log1p(kj))
             + rng.gumbel(size=C.shape))
        U = np.where(valid, U, -np.inf)
        best = np.argmax(U, axis=1)
        u_best = U[np.arange(len(S)), best]
        u0 = cp["link_threshold"][cs] + rng.gumbel(size=len(S))
        ok = u_best > u0
        model.edges.add(S[ok], C[np.arange(len(S)), best][ok])

    _brokered_introductions(model, indptr, indices)


def _brokered_introductions(model, indptr, indices) -> None:
    """Intermediaries introduce pairs of their partners, preferring different groups."""
    pop, rng, lv = model.pop, model.rng, model.levers
    brokers = np.flatnonzero(pop.alive & (pop.role == INTERMEDIARY) & (pop.cluster >= 0))
    if len(brokers) == 0:
        return
    cb = pop.cluster[brokers]
    k = rng.poisson(model.p["broker_intros"] * lv["broker_mult"][cb])
    b = np.repeat(brokers, k)
    if len(b) == 0:
        return
    a1 = random_neighbour(rng, indptr, indices, b)
    a2 = random_neighbour(rng, indptr, indices, b)
    ok = (a1 >= 0) & (a2 >= 0) & (a1 != a2)
    a1, a2 = a1[ok], a2[ok]
    firm = (pop.role[a1] <= SPINOFF) & (pop.role[a2] <= SPINOFF)
    young1 = pop.age[a1] < 20
    young2 = pop.age[a2] < 20
    differ = (young1 != young2) | (pop.coarse[a1] != pop.coarse[a2]) | (pop.fine[a1] != pop.fine[a2])
    accept = firm & (differ | (rng.random(len(a1)) < 0.3))
    model.edges.add(a1[accept], a2[accept])


# ----------------------------------------------------------------------------- 4. link decay
def link_decay(model) -> None:
    """Ties dissolve with hazard ``decay_rate * exp(-decay_cog (1 - d/2) - decay_age * age)``.

    Cognitive proximity and tie age (trust) make ties persist (Juhasz & Lengyel
    2018, doi:10.1093/jeg/lbx030); ``d`` is the distance in technology space
    (capped at 2, the diameter of the sector circle).
    """
    E, pop, rng = model.edges, model.pop, model.rng
    if len(E) == 0:
        return
    x = pop.x
    dx, dy = x[E.u, 0] - x[E.v, 0], x[E.u, 1] - x[E.v, 1]
    d = np.minimum(np.sqrt(dx * dx + dy * dy), 2.0)  # = np.linalg.norm(x[u] - x[v], axis=1), faster
    h = model.p["decay_rate"] * np.exp(-model.p["decay_cog"] * (1.0 - d / 2.0)
                                      - model.p["decay_age"] * E.age / Q)
    if model.t == 0:  # burn-in runs at four times the pace (see link_formation)
        h = 1.0 - (1.0 - np.minimum(h, 1.0)) ** 4
    keep = rng.random(len(E)) >= h
    model.edges.keep(keep)
    model.edges.age += 1.0


# ----------------------------------------------------------------------------- 5. learning
def learning(model) -> None:
    """Technology positions move: convergence, external knowledge, recombination, drift.

    For every alive cluster node i with local partners L(i) and external partners X(i):

    ``x_i <- x_i + mu (mean_{L(i)} x - x_i) + mu_ext (mean_{X(i)} x - x_i) + N(0, tech_noise)``

    (Vaccario et al. 2018, doi:10.1007/s00191-018-0570-x: partners converge in
    knowledge space; Menzel & Fornahl 2010: external ties import variety).  With
    probability ``recombination_rate/4``, raised for poorly performing firms, a
    firm recombines into a related fine sector (branching; Frenken & Boschma
    2007, doi:10.1093/jeg/lbm018).  Universities stay put (knowledge anchors).
    Ties to intermediaries carry no learning (brokers pass on contacts, not
    technology); gatekeepers do relay external knowledge (Vermeulen & Pyka).
    Sector labels are then re-derived from positions.
    """
    pop, rng, cp, lv, E = model.pop, model.rng, model.cpar, model.levers, model.edges
    n = pop.n
    ids = np.flatnonzero(pop.alive & (pop.cluster >= 0) & (pop.role != UNIVERSITY))  # movers
    x = pop.x
    xi = x[ids]
    step = np.zeros((len(ids), 2))
    if len(E):
        # partners' mean positions over local and over external ties, for the movers only
        u, v = E.u, E.v
        same = pop.cluster[u] == pop.cluster[v]
        # intermediaries pass on contacts, not technology: their ties carry no learning
        teach = (pop.role[u] != INTERMEDIARY) & (pop.role[v] != INTERMEDIARY)
        src = np.concatenate([u, v]); dst = np.concatenate([v, u])
        tt = np.concatenate([teach, teach]); sm = np.concatenate([same, same])
        c = pop.cluster[ids]
        lm = lv["learning_mult"][c]
        for sel, rate in ((sm & tt, cp["convergence_rate"]), (~sm & tt, cp["external_learning"])):
            s_, d_ = src[sel], dst[sel]
            cnt = np.bincount(s_, minlength=n)[ids]
            tot = np.column_stack([np.bincount(s_, weights=x[d_, k], minlength=n)[ids] for k in (0, 1)])
            step += (rate[c] * lm)[:, None] * np.where(cnt[:, None] > 0, tot / np.maximum(cnt, 1)[:, None] - xi, 0.0)
    x[ids] = xi + (step + rng.normal(0.0, model.p["tech_noise"], size=(len(ids), 2)))
    # recombination into a related fine sector
    firms = ids[pop.role[ids] <= SPINOFF]
    c = pop.cluster[firms]
    p = cp["recombination_rate"][c] / Q * lv["recombination_mult"][c] * (1.0 + np.maximum(-pop.perf[firms], 0))
    jump = firms[rng.random(len(firms)) < np.minimum(p, 1.0)]
    if len(jump):
        x[jump] = tech.position_in(tech.related_fine(pop.fine[jump], rng), rng)
        model.flows["recombinations"] += np.bincount(pop.cluster[jump], minlength=model.n_clusters)
    pop.fine[ids] = tech.assign_fine(x[ids])
    pop.coarse[ids] = tech.FINE_TO_COARSE[pop.fine[ids]]


# ----------------------------------------------------------------------------- 6. performance and shocks
def performance(model) -> None:
    """Firm performance, employment growth and the technology shift.

    ``perf_i = quality_i + network_return log(1 + k_i) - crowding log(1 + n_{c,f(i)} / cap_c)
    - shock_c exp(-|x_i - x_dom(c)|^2 / (2 * 0.15^2)) + N(0, perf_noise)``

    where ``n_{c,f}`` is the number of firms of cluster c in fine sector f (local
    competition), ``cap_c = max(n0_c, 2 m*) / 5`` the local market capacity of a fine
    sector (``n0_c`` the initial firm count, ``m*`` the scaled critical mass; it
    gives every cluster a carrying capacity near its initial size, which entry
    above critical mass and policies can shift) and ``x_dom(c)`` the centre of the
    cluster's dominant fine sector.  A technology shift (``shock_year`` or the
    technology-shock policy) sets ``shock_c`` to ``shock_size``; it then fades by
    ``shock_persistence`` per quarter.  Firms close to the dominant technology
    lose most (cognitive lock-in); diversified firms escape.  Employment grows by
    ``exp(size_growth * (perf - mean perf))`` per quarter (mean over all cluster
    firms of the system); every node ages one quarter.
    """
    pop, rng, cp, lv = model.pop, model.rng, model.cpar, model.levers
    C = model.n_clusters
    n = pop.n
    if model.p["shock_year"] >= 0 and model.t == steps_in(model.p["shock_year"]):
        model.shock += model.p["shock_size"]
        model.shock_level_events.append(model.t)
    model.shock[:] += lv["tech_shock"][:-1]
    firms = np.flatnonzero(pop.alive & (pop.role <= SPINOFF) & (pop.cluster >= 0))
    deg = model.edges.degree(n)
    c = pop.cluster[firms].astype(np.int64)
    key = c * tech.N_FINE + pop.fine[firms]
    nf = np.bincount(key, minlength=C * tech.N_FINE)
    dom = np.argmax(nf.reshape(C, tech.N_FINE), axis=1)
    model.dominant_fine = dom
    ctr = tech.FINE_CENTRES[dom[c]]
    dx, dy = pop.x[firms, 0] - ctr[:, 0], pop.x[firms, 1] - ctr[:, 1]
    d2 = dx * dx + dy * dy  # = ((x - ctr) ** 2).sum(1), faster
    pen = model.shock[c] * np.exp(-d2 / (2 * 0.15 ** 2))
    perf = (pop.quality[firms]
            + cp["network_return"][c] * np.log1p(deg[firms])
            - cp["crowding"][c] * np.log1p(nf[key] / model.capacity[c])
            - pen
            + rng.normal(0.0, model.p["perf_noise"], len(firms)))
    pop.perf[firms] = perf
    g = np.clip(model.p["size_growth"] * (perf - perf.mean()) if len(perf) else perf, -0.5, 0.5)
    pop.size[firms] = np.maximum(1.0, pop.size[firms] * np.exp(g))
    pop.age[pop.alive] += 1.0
    model.shock *= model.p["shock_persistence"]


# ----------------------------------------------------------------------------- 7. exit
def exit_(model) -> None:
    """Exit of weak firms and of anchors.

    A firm exits with probability ``exit_rate/4 * exp(-exit_sensitivity * perf)``
    per quarter (capped at 1); anchors additionally leave with ``anchor_exit_rate``
    per year.  Exiting nodes lose all their ties and their Mesa handle is removed.
    """
    pop, rng, cp, lv = model.pop, model.rng, model.cpar, model.levers
    firms = np.flatnonzero(pop.alive & (pop.role <= SPINOFF) & (pop.cluster >= 0))
    c = pop.cluster[firms]
    h = cp["exit_rate"][c] / Q * lv["exit_mult"][c] * np.exp(np.clip(-cp["exit_sensitivity"][c] * pop.perf[firms], -20, 20))
    anchor = pop.role[firms] == ANCHOR
    h = np.where(anchor, np.minimum(h, 0.25 * cp["exit_rate"][c] / Q)
                 + (cp["anchor_exit_rate"][c] + lv["anchor_exit"][c]) / Q, h)
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

"""Reference implementation of the model, written the way a Mesa tutorial would.

One :class:`mesa.Agent` object per firm, institution and outside-world firm,
with its state in plain Python attributes; the transaction network is a
:mod:`networkx` graph whose nodes are the firm agents (institutions are agents
but not nodes: they act through their affiliated firms), with the age, trust and
``brokered`` flag of each tie as edge data; every process is a loop over agents
(``AgentSet.do`` / ``shuffle_do``) or ties drawing its random numbers one at a
time from the model's ``random`` (the standard library generator) or ``rng``
(numpy, for Poisson counts and Dirichlet weights); the indicators are computed
with networkx (:mod:`benchmarks.nx_indices`) at every step.

It implements the rules of model v2 (:mod:`sim.model.processes`,
:meth:`sim.model.model.ClusterModel._populate` and ``_burn_in``), with the same
parameters (:func:`sim.model.params.validate`) and in the same order
(:data:`sim.model.model.SCHEDULE`): set-up (firms, institutions, initial
affiliations, the outside world) and burn-in, then per quarter entry (the
national pool choosing clusters by attractiveness and free space, spin-offs,
academic spin-offs), affiliations, link formation (search within the tie budget
and the cross-group barrier, then broker introductions), link decay and trust,
technology (cognitive lock-in, branching by relatedness density, collective
coordination), performance, exit and indicators.  It follows the engine's current
rules: tie budgets relative to the cluster's observed mean firm size
(``employees_per_firm``); external search candidates from other clusters or the
outside world only; brokers take the first of ``TRIES`` draws with spare tie budget
(for the affiliate, and for its local partner of another group); branching targets
drawn by relatedness density times the cluster's white space in the sector;
reputation as growth over the span the count history covers; a free-space factor
that rises above 1 when firms leave, and estate units let by application, with a waiting list; entrants shunning a technology devalued by a
shock (the sector dominant when the shift came); growth and exit measured against the
mean performance without the shift; a converting firm's sector family updated at once; relocating firms with
established ages; families on the value-chain ring (through
:func:`sim.model.technology.relatedness`).

Where the fast engine updates synchronously (everyone decides on the state at
the start of a phase), the reference does what Mesa's staged activation does:
agents first decide (``step``-like methods that only record a decision), then
the decisions are applied (``advance``-like).  The stages follow the engine's:

* entry decides on the counts at the start of the phase (the new firms of the
  quarter do not spawn, and do not change where the others go);
* recruits are checked for an existing affiliation before any recruit of the
  quarter is applied;
* searches decide on degrees, budgets and ties at the start of link formation
  (a popular partner can be chosen by several searchers and go over its budget);
  the broker introductions then decide on the network after the searches;
* lock-in decides on the partners' sectors before any firm converts; branching
  attempts use the lock-in share from before the conversions but the sectors
  after them (the sector family, which the barrier reads, of a converting firm is
  updated at once, that of a branching firm at the end of the phase, as in the
  engine); every branching move is made before the
  coordination threshold is checked, and the moves that fail it are undone
  together.

That is the only concession to the engine; it keeps the dynamics the same, so
that ``tests/test_reference_agreement.py`` can check that both produce the same
distribution of indices.

Not covered (the fast engine has them): policies and levers (all neutral here,
so no incubator links, policy startups, anchor inflow or platform missions),
per-cluster parameter columns of the cluster table, flows, scores, typology,
stage, measured resilience (the shock bookkeeping) and the per-step budget cache.  Random streams differ from the engine's, so runs agree in distribution,
not draw for draw.

Example
-------
>>> from benchmarks.reference_model import ReferenceModel
>>> m = ReferenceModel(params={"scale": 0.02}, rng=1)
>>> for _ in range(4):
...     m.step()
>>> m.records[-1]["links"]  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict, deque
from collections.abc import Mapping, Sequence
from statistics import NormalDist

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from benchmarks.nx_indices import nx_cluster_indices
from sim.core.calendar import STEPS_PER_YEAR, steps_in
from sim.data.clusters import cluster_table as default_cluster_table
from sim.model import technology as tech
from sim.model.model import DEFAULT_FIRM_SIZE
from sim.model.params import validate
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
)
from sim.model.processes import (
    INITIAL_AGE_QUARTERS,
    MIN_HEADROOM,
    QUALITY_SD,
    RECRUIT_SHARE,
    REPUTATION_WINDOW,
    TRIES,
)

Q = float(STEPS_PER_YEAR)  # steps per year
K = tech.FINE_PER_COARSE
F = tech.N_FINE
SECTORS = range(F)


class Node(mesa.Agent):
    """A firm, an institution or an outside-world firm.

    ``fine`` is the primary fine sector (an institution's field), ``cap2`` the secondary
    capability (-1: none), ``institution`` the institution agent a firm is affiliated with.
    """

    def __init__(self, model: ReferenceModel, cluster: int, role: int, fine: int, size: float,
                 quality: float = 0.0, age: float = 0.0, parent: int | None = None,
                 institution: Node | None = None, start: float = 1.0):
        super().__init__(model)
        self.cluster = cluster
        self.role = role
        self.fine = fine
        self.cap2 = -1
        self.coarse = fine // K
        self.target = size                 # the employment it grows toward
        self.size = max(1.0, size * start)  # new firms start at a share of it
        self.quality = quality
        self.age = age
        self.perf = 0.0
        self.loss = 0.0  # performance lost to a technology shift this quarter
        self.parent = parent
        self.birth = model.t
        self.institution = institution
        self.alive = True
        self.tenant = False  # occupies a unit of its cluster's estate
        self.lock = 0.0     # trust-weighted share of local partners in the own sector
        self.choice = None  # a staged decision
        if self.is_firm:
            model.G.add_node(self)

    # kinds ---------------------------------------------------------------------
    @property
    def is_firm(self) -> bool:
        return self.role <= SPINOFF or self.role == OUTSIDE

    @property
    def is_cluster_firm(self) -> bool:
        return self.role <= SPINOFF and self.cluster >= 0

    @property
    def is_institution(self) -> bool:
        return UNIVERSITY <= self.role <= GATEKEEPER

    @property
    def young(self) -> bool:
        return self.age < self.model.p["young_years"] * Q

    @property
    def second(self) -> int:
        """Secondary capability (the primary sector if there is none)."""
        return self.cap2 if self.cap2 >= 0 else self.fine

    def my_institution(self) -> Node | None:
        inst = self.institution
        return inst if inst is not None and inst.alive else None

    def leave(self) -> None:
        self.alive = False
        if self.is_firm:
            self.model.G.remove_node(self)
        self.remove()

    # entry ---------------------------------------------------------------------------
    def maybe_spin_off(self, free: list) -> None:
        m, p, r = self.model, self.model.p, self.random
        c = self.cluster
        rate = (p["spinoff_rate"] / Q * free[c]
                * math.exp(min(max(p["spinoff_quality"] * self.quality, -10.0), 5.0)))
        where = m.room(c) if r.random() < min(rate, 1.0) else 0
        if where:
            fine = self.fine
            if r.random() < p["spinoff_branch"]:
                fine = m.related_sector(fine)
            q = p["spinoff_heredity"] * self.quality + r.gauss(0.0, QUALITY_SD)
            child = m.node_class(m, c, SPINOFF, fine, m.size_draw(c), q,
                                 parent=self.unique_id, institution=self.institution, start=p["startup_size"])
            child.tenant = where == 2
            m.tie(child, self)  # kinship: no barrier, no budget

    def academic_spin_offs(self, free: list) -> None:
        m, p = self.model, self.model.p
        c = self.cluster
        for _ in range(int(m.rng.poisson(p["inst_spinoff_rate"] / Q * free[c]))):
            where = m.room(c)
            if not where:
                continue
            fine = m.related_sector(self.fine)
            child = m.node_class(m, c, SPINOFF, fine, m.size_draw(c),
                                 self.random.gauss(0.0, QUALITY_SD), parent=self.unique_id, institution=self,
                                 start=p["startup_size"])
            child.tenant = where == 2

    # affiliations (institutions) --------------------------------------------------------
    def recruit(self, members: dict, have: Counter, share: float) -> None:
        """Decide (staged): draw recruits among the cluster's firms; keep those without an institution."""
        m, r = self.model, self.random
        mem = members.get(self.cluster, [])
        want = math.floor(m.p["affiliation_share"] * len(mem) + 0.5)
        for _ in range(max(want - have[self], 0)):
            if r.random() < share and mem:
                f = r.choice(mem)
                if f.institution is None:
                    m.new_affiliations.append((f, self))

    # link formation --------------------------------------------------------------------
    def candidates(self, members: dict, pool: list) -> list[tuple[Node, int]]:
        """Candidate partners ``(candidate, kind)``: kind 0 local, 1 friend of a friend, 2 external."""
        p, r, G = self.model.p, self.random, self.model.G
        cands = []
        local = members[self.cluster]
        for _ in range(int(p["n_local"])):
            cands.append((r.choice(local), 0))
        nbrs = list(G[self])
        for _ in range(int(p["n_fof"])):
            if nbrs:
                mid = r.choice(nbrs)
                cands.append((r.choice(list(G[mid])), 1))
        for _ in range(int(p["n_external"])):
            pick = r.choice(pool)
            if pick.cluster != self.cluster:  # not from the own cluster
                cands.append((pick, 2))
        return cands

    def search(self, members: dict, pool: list, deg: dict, bud: dict, burst: float) -> None:
        """Decide (staged): with spare budget, search; pick the best candidate by random utility
        against the outside option; it forms through the barrier (:meth:`ReferenceModel.accepts`)."""
        m, p, r = self.model, self.model.p, self.random
        self.choice = None
        if deg[self] >= bud[self]:
            return
        if r.random() >= min(1.0, burst * p["search_rate"]):
            return
        ki = math.log1p(deg[self])
        inst = self.my_institution()
        ext_cost = max(p["external_cost"], 0.0)
        if inst is not None and inst.role == GATEKEEPER:
            ext_cost *= 1.0 - p["gatekeeper_discount"]
        mine = self.institution
        best, u_best = None, -math.inf
        for cand, kind in self.candidates(members, pool):
            if cand is self or deg[cand] >= bud[cand] or m.G.has_edge(self, cand):
                continue
            kj = math.log1p(deg[cand])
            u = (p["beta_pop"] * kj
                 + (p["beta_tri"] if kind == 1 else 0.0)
                 + p["beta_cog"] * m.fit(1.0 - m.relatedness(self, cand))
                 + (p["beta_local"] if cand.cluster == self.cluster else -ext_cost)
                 + (p["beta_inst"] if mine is not None and cand.institution is mine else 0.0)
                 - p["beta_status"] * abs(ki - kj)
                 + m.gumbel())
            if u > u_best:
                best, u_best = cand, u
        if best is None or u_best <= p["link_threshold"] + m.gumbel():
            return
        if m.accepts(self, best):
            self.choice = best

    def introduce(self, affiliates: dict, members: dict, pool: list, deg: dict, bud: dict) -> None:
        """Decide (staged): an intermediary introduces its affiliates to firms of another group
        or of other clusters, through the barrier lowered by ``broker_lift``.

        The affiliate is the first of ``TRIES`` random affiliates with spare tie budget (else the
        last drawn); its local partner the first of ``TRIES`` random firms of its cluster that has
        spare budget and belongs to another group (else the last drawn)."""
        m, p, r = self.model, self.model.p, self.random

        def first_with_room(draws, want=None):
            for d in draws[:-1]:
                if deg[d] < bud[d] and (want is None or want(d)):
                    return d
            return draws[-1]

        mine = affiliates.get(self, [])
        for _ in range(int(m.rng.poisson(p["broker_intros"]))):
            if not mine:
                continue
            a = first_with_room([r.choice(mine) for _ in range(TRIES)])
            local = members.get(a.cluster, [])
            b = None
            if local:
                b = first_with_room([r.choice(local) for _ in range(TRIES)],
                                    want=lambda c, a=a: m.cross_group(a, c))
            if r.random() < p["broker_external_share"]:
                pick = r.choice(pool)
                if pick.cluster != a.cluster:
                    b = pick
            if b is None or b is a or deg[a] >= bud[a] or deg[b] >= bud[b] or m.G.has_edge(a, b):
                continue
            if m.accepts(a, b, brokered=True):
                m.new_ties.append((a, b))

    # technology -------------------------------------------------------------------------
    def lock_in(self) -> None:
        """Decide (staged): the trust-weighted sector mix of local partners; maybe convert to its top sector."""
        m, p = self.model, self.model.p
        tot = same = 0.0
        by: dict[int, float] = defaultdict(float)
        for nb, data in m.G[self].items():
            if nb.cluster != self.cluster:
                continue
            t = data["trust"]
            tot += t
            by[nb.fine] += t
            if nb.fine == self.fine:
                same += t
        self.lock = same / tot if tot > 0 else 0.0
        self.choice = None
        if by:
            top = min(by, key=lambda s: (-by[s], s))  # heaviest sector, the lowest number on a tie
            share = by[top] / tot if tot > 0 else 0.0
            if top != self.fine and self.random.random() < p["convergence_rate"] / Q * share:
                self.choice = top

    def branch(self, nat: list, cluster_density, cluster_share) -> None:
        """Decide (staged): maybe attempt a move into a sector drawn by relatedness density times
        the white space (1 - the cluster's share of firms in it); it succeeds with probability
        min(1, density)."""
        m, p, r = self.model, self.model.p, self.random
        inst = self.my_institution()
        irole = inst.role if inst is not None else None
        talent = irole in (UNIVERSITY, RESEARCH)
        pr = (p["recombination_rate"] / Q * (1.0 + p["absorptive_boost"] * talent)
              * (1.0 + max(-self.perf, 0.0)) * math.exp(-p["lock_in"] * self.lock))
        if r.random() >= min(pr, 1.0):
            return
        phi = m.phi
        P: dict[int, float] = defaultdict(float)
        wsum = 0.0
        for nb, data in m.G[self].items():
            w = m.fit(1.0 - m.relatedness(self, nb))
            if nb.cluster != self.cluster:
                w *= p["external_learning"]
            if m.cross_group(self, nb):
                w *= data["trust"]
            P[nb.fine] += w
            wsum += w
        if irole in (RESEARCH, GATEKEEPER):  # knowledge from outside: the national sector mix
            for s in SECTORS:
                P[s] += p["external_learning"] * nat[s]
            wsum += p["external_learning"]
        wp = p["density_partners"] if wsum > 0 else 0.0
        wc = p["density_cluster"]
        wo = max(1.0 - wp - wc, 0.0)
        own_f, own_g = phi[self.fine], phi[self.second]
        clus = cluster_density(self.cluster)
        D = [wo * max(own_f[s], own_g[s]) + wc * clus[s] for s in SECTORS]
        if wsum > 0:
            for fj, wj in P.items():
                if wj:
                    k, row = wp * wj / wsum, phi[fj]
                    for s in SECTORS:
                        D[s] += k * row[s]
        D[self.fine] = 0.0
        share = cluster_share(self.cluster)
        T = [D[s] * (1.0 - share[s]) for s in SECTORS]  # a crowded field offers a newcomer less
        if sum(T) <= 0:
            return
        s = r.choices(SECTORS, weights=T)[0]
        if r.random() < min(D[s], 1.0):
            self.choice = s

    # performance and exit --------------------------------------------------------------
    def perform(self, dom: list) -> None:
        m, p = self.model, self.model.p
        c = self.cluster
        row = m.phi[dom[c]]
        exposure = min(row[self.fine], row[self.second])
        self.loss = m.shock[c] * exposure
        self.perf = (self.quality + p["network_return"] * math.log1p(m.G.degree(self))
                     - self.loss + self.random.gauss(0.0, p["perf_noise"]))

    def grow(self, mean_perf: float) -> None:
        m, p = self.model, self.model.p
        pool = m.pool[self.cluster]  # the cluster's skilled-labour pool index (ReferenceModel.performance)
        gap = math.log(self.target * pool ** p["pool_elasticity"] / self.size)
        rate = p["maturation_rate"] * (pool ** p["pool_matching"] if gap > 0 else 1.0)
        # a quarter closes at most the whole log gap (processes.performance)
        self.size = max(1.0, self.size * math.exp(min(rate / Q, 1.0) * gap
                                                  + p["size_growth"] * (self.perf - mean_perf)))

    def maybe_exit(self, mean_perf: float) -> None:
        p = self.model.p
        h = p["exit_rate"] / Q * math.exp(min(max(-p["exit_sensitivity"] * (self.perf - mean_perf), -20.0), 20.0))
        if self.role == ANCHOR:
            h += p["anchor_exit_rate"] / Q
        if self.random.random() < min(h, 1.0):
            self.leave()


class ReferenceModel(mesa.Model):
    """Per-agent reference implementation of :class:`sim.model.model.ClusterModel` (no policies).

    Parameters
    ----------
    params : mapping, optional
        Parameter overrides (:mod:`sim.model.params`; scalar values only).
    clusters : sequence of str, optional
        Cluster ids (default: all 38).
    cluster_table : pandas.DataFrame, optional
        Columns ``id, sector_family, firms, employees_per_firm`` and optionally ``firms0``
        and ``space``.
    rng : int
        Seed.
    record : bool
        Compute the indices with networkx at every step (default), as the engine does.
    """

    node_class = Node  # agent class of every node (subclass it to change an agent rule)

    def __init__(self, params: Mapping | None = None, clusters: Sequence[str] | None = None,
                 cluster_table: pd.DataFrame | None = None, rng: int | None = None, record: bool = True):
        super().__init__(rng=rng)
        self.p = p = validate(params or {})
        tab = default_cluster_table() if cluster_table is None else cluster_table.copy()
        if clusters is not None:
            tab = tab.set_index("id").loc[list(clusters)].reset_index()
        self.table = tab.reset_index(drop=True)
        self.cluster_ids = list(self.table["id"])
        self.n_clusters = len(self.cluster_ids)
        self.home = [tech.sector_index(s) for s in self.table["sector_family"]]
        self.mean_size = []  # observed mean employees per firm (DEFAULT_FIRM_SIZE where unknown)
        for v in self.table["employees_per_firm"]:
            v = float(v)
            self.mean_size.append(v if math.isfinite(v) and v > 0 else DEFAULT_FIRM_SIZE)
        self.phi = tech.relatedness(p["phi_family"], p["phi_neighbour"]).tolist()
        eta = p["entry_relatedness"]  # entry kernel I + eta (phi - I)
        self.kernel = [[1.0 if a == b else eta * self.phi[a][b] for b in SECTORS] for a in SECTORS]
        self.t = 0
        self.waiting: list[tuple[int, int, int, int]] = []  # (cluster, role, sector, quarter applied), oldest first
        self.vacant = [0] * self.n_clusters  # free estate units this quarter
        self.seek = [0.0] * self.n_clusters  # share of newcomers seeking an estate unit
        self.applicants = [0] * self.n_clusters  # the national pool's applicants to each cluster so far
        self.shock = [0.0] * self.n_clusters
        self.dominant = [h * K for h in self.home]  # dominant fine sector of each cluster (set by performance)
        self.devalued = list(self.dominant)  # the sector a technology shift devalues (set when the level rises)
        self.perf_ref = 0.0  # mean performance without the shift: the reference of growth and exit
        self.pool_avg: list[float | None] = [None] * self.n_clusters  # moving average of each cluster's employment
        self.pool = [1.0] * self.n_clusters  # skilled-labour pool index: employment against that average
        self.count_hist: deque[list[int]] = deque(maxlen=REPUTATION_WINDOW + 1)
        self.G = nx.Graph()
        self.new_ties: list = []
        self.new_affiliations: list = []
        self.do_record = record
        self.records: list[dict[str, np.ndarray]] = []
        self._populate()
        for _ in range(int(p["burn_in"])):
            self.link_formation()
            self.link_decay()
        for _, _, data in self.G.edges(data=True):
            data["age"] = self.random.uniform(0, 40)
            data["trust"] = 1.0 - math.exp(-data["age"] / (p["trust_years"] * Q))
        self.record()

    # helpers -----------------------------------------------------------------------------
    def gumbel(self) -> float:
        u = self.random.random()
        while u == 0.0:
            u = self.random.random()
        return -math.log(-math.log(u))

    def fit(self, d: float) -> float:
        """Cognitive fit, the inverted U ``(d/d*) exp(1 - d/d*)``."""
        x = d / self.p["cog_optimum"]
        return x * math.exp(1.0 - x)

    def relatedness(self, a: Node, b: Node) -> float:
        """Largest relatedness between the capabilities of two firms (1 - cognitive distance)."""
        phi = self.phi
        fa, ga, fb, gb = a.fine, a.second, b.fine, b.second
        return max(phi[fa][fb], phi[fa][gb], phi[ga][fb], phi[ga][gb])

    def cross_group(self, a: Node, b: Node) -> bool:
        """Young firm and incumbent, or firms of different sector families."""
        return a.young != b.young or a.coarse != b.coarse

    def accepts(self, a: Node, b: Node, brokered: bool = False) -> bool:
        """The barrier: a pair of one group forms; a cross-group pair with ``cross_accept``, raised by
        ``broker_lift`` of the rest for a broker's introduction."""
        if not self.cross_group(a, b):
            return True
        ca = self.p["cross_accept"]
        if brokered:
            ca += self.p["broker_lift"] * (1.0 - ca)
        return self.random.random() < ca

    def related_sector(self, fine: int) -> int:
        """Another fine sector, drawn in proportion to its relatedness to ``fine``."""
        w = list(self.phi[fine])
        w[fine] = 0.0
        return self.random.choices(SECTORS, weights=w)[0] if sum(w) > 0 else fine

    def size_draw(self, c: int) -> float:
        """Employees of a new firm: lognormal (log-sd 1) with the cluster's observed mean firm size."""
        return max(1.0, self.random.lognormvariate(math.log(self.mean_size[c]) - 0.5, 1.0))

    def anchor_draw(self, c: int) -> float:
        """Employees of an anchor: ``anchor_size`` times a size from the top ``anchor_share`` of the lognormal."""
        a = min(max(self.p["anchor_share"], 1e-3), 1.0)
        z = NormalDist().inv_cdf(min(max(self.random.uniform(1.0 - a, 1.0), 1e-12), 1.0 - 1e-12))
        return max(1.0, math.exp(math.log(self.mean_size[c]) - 0.5 + z)) * self.p["anchor_size"]

    def cluster_firms(self):
        return self.agents.select(lambda a: a.is_cluster_firm)

    def members(self, firms) -> dict[int, list]:
        return firms.groupby("cluster", result_type="list").groups

    def tie(self, a: Node, b: Node, brokered: bool = False) -> None:
        if a is not b and not self.G.has_edge(a, b):
            self.G.add_edge(a, b, age=0.0, trust=0.0, brokered=brokered)

    def budgets(self) -> dict[Node, float]:
        """Tie budget of every firm: ``max(1, round(tie_budget (size / observed mean size) ** e))``,
        the observed mean being the cluster's ``employees_per_firm``; outside-world firms have none
        (infinite)."""
        p = self.p
        bud = {a: math.inf for a in self.G if a.role == OUTSIDE}
        for f in self.cluster_firms():
            rel = f.size / self.mean_size[f.cluster]
            bud[f] = max(1.0, math.floor(p["tie_budget"] * rel ** p["tie_size_elasticity"] + 0.5))
        return bud

    # set-up ---------------------------------------------------------------------------------
    def _populate(self) -> None:
        p, r = self.p, self.random
        if "firms0" in self.table.columns:
            n0 = self.table["firms0"].to_numpy(float)
        else:
            n0 = self.table["firms"].to_numpy(float) * p["scale"]
        self.n0 = n0 = [max(round(v), 5) for v in n0]
        self.capacity = [n * p["space_headroom"] for n in n0]
        space = (self.table["space"].to_numpy(float) if "space" in self.table.columns
                 else [math.nan] * self.n_clusters)
        self.space_extra = [max(s * p["scale"] - cap, 0.0) if math.isfinite(s) else 0.0
                            for s, cap in zip(space, self.capacity)]
        for c, n in enumerate(n0):
            w = self.rng.dirichlet(np.ones(K)).tolist()  # the home family's fine sectors
            firms = []
            for _ in range(n):
                if r.random() < p["init_home_share"]:
                    fine = self.home[c] * K + r.choices(range(K), weights=w)[0]
                else:
                    g = (self.home[c] + r.randrange(1, tech.N_COARSE)) % tech.N_COARSE
                    fine = g * K + r.randrange(K)
                firms.append(self.node_class(self, c, SME, fine, self.size_draw(c), r.gauss(0.0, QUALITY_SD),
                                             r.uniform(0, INITIAL_AGE_QUARTERS)))
            n_anchor = math.floor(n * p["anchor_share"] + r.random())
            for f in sorted(firms, key=lambda a: -a.size)[:n_anchor]:
                f.role = ANCHOR
                f.size = f.target = self.anchor_draw(c)
        rot = (INTERMEDIARY, UNIVERSITY, RESEARCH, GATEKEEPER)
        for c, n in enumerate(n0):
            k = 0 if p["institutions_per_1000"] == 0 else max(1, round(n * p["institutions_per_1000"] / 1000.0))
            for i in range(k):
                self.node_class(self, c, rot[i % 4], self.home[c] * K + r.randrange(K), 50.0, 1.0)
        self.affiliations(share=1.0)
        for _ in range(round(p["outside_ratio"] * sum(n0))):
            self.node_class(self, -1, OUTSIDE, r.randrange(F), max(1.0, r.lognormvariate(1.2, 1.0)), 0.0,
                            r.uniform(0, INITIAL_AGE_QUARTERS))

    # schedule -------------------------------------------------------------------------------
    def step(self) -> None:
        """One quarter: entry, affiliations, link formation, link decay, technology, performance, exit,
        indicators."""
        self.t += 1
        counts = Counter(f.cluster for f in self.cluster_firms())
        self.count_hist.append([counts[c] for c in range(self.n_clusters)])
        self.entry()
        self.affiliations()
        self.link_formation()
        self.link_decay()
        self.technology()
        self.performance()
        self.exit()
        if self.do_record:
            self.record()

    # entry -------------------------------------------------------------------------------------
    def free_space(self, count: list, held: list) -> list[float]:
        """Space factor for newcomers: the free space of the premises (on the firms not in estate units,
        ``held``), and the estate's share of the room (its units are let by application, so it draws
        newcomers full or not); sets ``self.seek``, the share of each cluster's newcomers who seek a unit."""
        out, self.seek = [], []
        for c, n in enumerate(count):
            h = max(self.capacity[c] - self.n0[c], MIN_HEADROOM * self.n0[c], 1.0)
            f = max((self.capacity[c] - (n - held[c])) / h, 0.0)  # above 1 when firms left
            e = self.space_extra[c]
            w = e / (e + h)
            F = (1.0 - w) * f + w
            out.append(F)
            self.seek.append(w / F if F > 0 else 0.0)
        return out

    def room(self, c: int) -> int:
        """Where a newcomer to cluster ``c`` settles: 1 the premises, 2 (with probability ``seek[c]``) a
        free estate unit, 0 nowhere (it sought a unit and none was free)."""
        if self.seek[c] == 0.0 or self.random.random() >= self.seek[c]:
            return 1
        return 2 if self.unit(c) else 0

    def unit(self, c: int) -> bool:
        """Let a free estate unit of cluster ``c``, if there is one."""
        if self.vacant[c] > 0:
            self.vacant[c] -= 1
            return True
        return False

    def settle(self, c: int, role: int, s: int, unit: bool) -> None:
        """A pool entrant settles (``unit``: in an estate unit): a new firm, or an established relocating firm
        (a share are branch plants)."""
        p, r = self.p, self.random
        if role == STARTUP:
            firm = self.node_class(self, c, STARTUP, s, self.size_draw(c), r.gauss(0.0, QUALITY_SD),
                                   start=p["startup_size"])
        else:
            big = r.random() < p["anchor_entry_share"]
            size = self.anchor_draw(c) if big else self.size_draw(c)
            firm = self.node_class(self, c, ANCHOR if big else SME, s, size, r.gauss(0.0, QUALITY_SD))
            firm.age = r.uniform(0, INITIAL_AGE_QUARTERS)
        firm.tenant = unit

    def attractiveness(self, count: list, home_count: list) -> list[float]:
        """Log-attractiveness: critical mass, plus reputation from recent growth."""
        p = self.p
        m = max(p["critical_mass"] * p["scale"], 1.0)
        hist = self.count_hist
        past = hist[0] if len(hist) > 1 else count
        span = max(len(hist) - 1, 1) / Q  # hist[-1] is the count at the start of this step
        out = []
        for c in range(self.n_clusters):
            z = min(max((home_count[c] - m) / (0.25 * m), -50.0), 50.0)
            cm = p["critical_mass_gain"] / (1.0 + math.exp(-z))
            g = math.log(count[c] / past[c]) / span if past[c] > 0 and count[c] > 0 else 0.0
            out.append(cm + p["reputation_weight"] * min(max(g, -0.5), 0.5))
        return out

    def entry(self) -> None:
        p, r, C = self.p, self.random, self.n_clusters
        parents = self.cluster_firms()
        cnt = [[0] * F for _ in range(C)]
        out_f = [0] * F
        for a in self.agents:
            if a.is_cluster_firm:
                cnt[a.cluster][a.fine] += 1
            elif a.role == OUTSIDE:
                out_f[a.fine] += 1
        count = [sum(row) for row in cnt]
        hc = [sum(cnt[c][self.home[c] * K:(self.home[c] + 1) * K]) for c in range(C)]
        held = [0] * C  # firms in estate units
        for f in parents:
            if f.tenant:
                held[f.cluster] += 1
        free = self.free_space(count, held)
        self.vacant = [max(math.floor(self.space_extra[c] - held[c]), 0) for c in range(C)]
        patience = round(p["wait_years"] * Q)
        still = []
        for c, role, s, since in self.waiting:  # the waiting list first, oldest first
            if self.t - since > patience:
                continue  # gives up
            if self.unit(c):
                self.settle(c, role, s, True)
            else:
                still.append((c, role, s, since))
        self.waiting = still
        att = self.attractiveness(count, hc)
        # the related base of each cluster for each sector: its firms, and its universities and
        # research institutes at inst_attraction firm equivalents
        holders: list[list[tuple[int, float]]] = [[(f, float(n)) for f, n in enumerate(row) if n] for row in cnt]
        inst_w = p["inst_attraction"] * p["scale"]
        for a in self.agents:
            if a.cluster >= 0 and a.role in (UNIVERSITY, RESEARCH):
                holders[a.cluster].append((a.fine, inst_w))
        base = []
        for c in range(C):
            row = [0.0] * F
            for f, n in holders[c]:
                kf = self.kernel[f]
                for s in SECTORS:
                    row[s] += n * kf[s]
            base.append(row)
        w_out = [sum(out_f[f] * self.kernel[f][s] for f in SECTORS if out_f[f]) for s in SECTORS]
        pull = [math.exp(att[c]) * free[c] for c in range(C)]
        nat = [sum(cnt[c][f] for c in range(C)) + out_f[f] for f in SECTORS]
        N = sum(nat)
        if N > 0:  # the national pool: startups, then relocating firms
            for role, frac in ((STARTUP, p["pool_startup_share"]), (SME, 1.0 - p["pool_startup_share"])):
                for _ in range(int(self.rng.poisson(p["startup_rate"] / Q * N * frac))):
                    s = r.choices(SECTORS, weights=nat)[0]
                    # a technology shift devalues the dominant technology for entrants too
                    w = ([base[c][s] * pull[c] * math.exp(-self.shock[c] * self.phi[self.devalued[c]][s])
                          for c in range(C)] + [w_out[s]])
                    if sum(w) <= 0:
                        continue
                    dest = r.choices(range(C + 1), weights=w)[0]
                    if dest == C:  # the rest of the country: leaves the model
                        continue
                    self.applicants[dest] += 1
                    where = self.room(dest)
                    if where:
                        self.settle(dest, role, s, where == 2)
                    elif patience > 0:  # a full estate: wait for a unit
                        self.waiting.append((dest, role, s, self.t))
        self.waiting = [w for w in self.waiting if self.t - w[3] < patience]  # a last chance was had
        parents.shuffle_do("maybe_spin_off", free)
        self.agents.select(lambda a: a.cluster >= 0 and a.role in (UNIVERSITY, RESEARCH)).shuffle_do(
            "academic_spin_offs", free)

    # affiliations ----------------------------------------------------------------------------
    def affiliations(self, share: float = RECRUIT_SHARE) -> None:
        firms = self.cluster_firms()
        if not len(firms):
            return
        for f in firms:
            if f.institution is not None and not f.institution.alive:
                f.institution = None
        insts = self.agents.select(lambda a: a.is_institution and a.cluster >= 0)
        if not len(insts):
            return
        have = Counter(f.institution for f in firms if f.institution is not None)
        self.new_affiliations = []
        insts.do("recruit", self.members(firms), have, share)          # decide ...
        for f, inst in self.new_affiliations:                            # ... then apply
            f.institution = inst
        self.new_affiliations = []

    # link formation and decay --------------------------------------------------------------------
    def link_formation(self) -> None:
        burst = 4.0 if self.t == 0 else 1.0
        firms = self.cluster_firms()
        if not len(firms):
            return
        members = self.members(firms)
        pool = [a for a in self.agents if a.is_firm]
        bud = self.budgets()
        firms.shuffle_do("search", members, pool, dict(self.G.degree()), bud, burst)  # decide ...
        for a in firms:                                                               # ... then apply
            if a.choice is not None:
                self.tie(a, a.choice)
                a.choice = None
        # broker introductions, on the network after the searches
        brokers = self.agents.select(lambda a: a.role == INTERMEDIARY and a.cluster >= 0)
        if not len(brokers):
            return
        affiliates = defaultdict(list)
        for f in firms:
            inst = f.my_institution()
            if inst is not None:
                affiliates[inst].append(f)
        self.new_ties = []
        brokers.do("introduce", affiliates, members, pool, dict(self.G.degree()), bud)
        for a, b in self.new_ties:
            self.tie(a, b, brokered=True)
        self.new_ties = []

    def decay_hazard(self, a: Node, b: Node, age: float, trust: float) -> float:
        """Hazard per quarter that the tie a-b dissolves (less when related, old and trusted)."""
        p = self.p
        h = p["decay_rate"] * math.exp(-p["decay_cog"] * self.relatedness(a, b) - p["decay_age"] * age / Q)
        if self.cross_group(a, b):
            h *= 1.0 + p["cross_decay"] * (1.0 - trust)
        return h

    def link_decay(self) -> None:
        r = self.random
        grow = min(1.0 / (self.p["trust_years"] * Q), 1.0)
        drop = []
        for a, b, data in self.G.edges(data=True):
            data["trust"] += (1.0 - data["trust"]) * grow
            h = self.decay_hazard(a, b, data["age"], data["trust"])
            if self.t == 0:  # the burn-in runs at four times the pace
                h = 1.0 - (1.0 - min(h, 1.0)) ** 4
            if r.random() < h:
                drop.append((a, b))
            else:
                data["age"] += 1.0
        self.G.remove_edges_from(drop)

    # technology ----------------------------------------------------------------------------------
    def technology(self) -> None:
        p, C = self.p, self.n_clusters
        firms = self.cluster_firms()
        if not len(firms):
            return
        firms.do("lock_in")                                    # decide ...
        for f in firms:                                        # ... then convert
            if f.choice is not None:
                f.cap2, f.fine = f.fine, f.choice
                f.coarse = f.fine // K
                f.choice = None
        # sector mix after the conversions: the nation's, and each cluster's (times phi)
        cnt = [[0] * F for _ in range(C)]
        for f in firms:
            cnt[f.cluster][f.fine] += 1
        nat = [sum(cnt[c][s] for c in range(C)) for s in SECTORS]
        for a in self.agents:
            if a.role == OUTSIDE:
                nat[a.fine] += 1
        tot = max(sum(nat), 1)
        nat = [x / tot for x in nat]
        rows: dict[int, list[float]] = {}

        def cluster_share(c: int) -> list[float]:
            n = max(sum(cnt[c]), 1)
            return [k / n for k in cnt[c]]

        def cluster_density(c: int) -> list[float]:
            if c not in rows:
                n = max(sum(cnt[c]), 1)
                row = [0.0] * F
                for f, k in enumerate(cnt[c]):
                    if k:
                        ph = self.phi[f]
                        for s in SECTORS:
                            row[s] += k / n * ph[s]
                rows[c] = row
            return rows[c]

        firms.shuffle_do("branch", nat, cluster_density, cluster_share)  # decide ...
        moves = []
        for f in firms:                                        # ... then move, all at once
            if f.choice is not None:
                moves.append((f, f.fine))
                f.fine, f.choice = f.choice, None
        if moves:  # collective coordination: enough of the cluster must hold the new sector
            holders = Counter((f.cluster, f.fine) for f in firms)
            size = Counter(f.cluster for f in firms)
            for f, old in moves:
                need = max(2.0, p["coordination_share"] * size[f.cluster])
                if holders[f.cluster, f.fine] < need:
                    f.fine = old
                else:
                    f.cap2 = old
        for f in firms:
            f.coarse = f.fine // K

    # performance and exit --------------------------------------------------------------------------
    def performance(self) -> None:
        p, C = self.p, self.n_clusters
        firms = self.cluster_firms()
        nf = Counter((f.cluster, f.fine) for f in firms)
        dom = [max(SECTORS, key=lambda s: (nf[c, s], -s)) for c in range(C)]  # the lowest on a tie
        self.dominant = dom
        if p["shock_year"] >= 0 and self.t == max(1, steps_in(p["shock_year"])):
            self.shock = [s + p["shock_size"] for s in self.shock]
            self.devalued = list(dom)  # the shift devalues the sector dominant now, and stays on it
        firms.shuffle_do("perform", self.devalued)
        # the market's reference: the mean performance without the shift
        self.perf_ref = sum(f.perf + f.loss for f in firms) / len(firms) if len(firms) else 0.0
        if len(firms):
            self.labour_pool(firms)
            firms.do("grow", self.perf_ref)
        for a in self.agents:
            a.age += 1.0
        self.shock = [s * p["shock_persistence"] for s in self.shock]

    def labour_pool(self, firms) -> None:
        """Each cluster's employment against its own moving average (time constant pool_memory years)."""
        emp = [0.0] * self.n_clusters
        for f in firms:
            emp[f.cluster] += f.size
        keep = math.exp(-1.0 / (Q * self.p["pool_memory"]))
        for c in range(self.n_clusters):
            avg = emp[c] if self.pool_avg[c] is None else self.pool_avg[c]
            self.pool[c] = emp[c] / avg if avg > 0 else 1.0
            self.pool_avg[c] = avg + (1.0 - keep) * (emp[c] - avg)

    def exit(self) -> None:
        firms = self.cluster_firms()
        firms.shuffle_do("maybe_exit", self.perf_ref)

    # indicators -------------------------------------------------------------------------------
    def indices(self) -> dict[str, np.ndarray]:
        firms = {a: (a.cluster, a.coarse, a.fine, a.size) for a in self.agents if a.is_firm}
        return nx_cluster_indices(self.G, firms, self.n_clusters, self.home)

    def record(self) -> dict[str, np.ndarray]:
        ind = self.indices()
        self.records.append(ind)
        return ind

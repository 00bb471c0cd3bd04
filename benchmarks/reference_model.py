"""Reference implementation of the model, written the way a Mesa tutorial would.

One :class:`mesa.Agent` object per firm, institution and outside-world firm,
with its state in plain Python attributes; the network is a :mod:`networkx`
graph whose nodes are the agents; every process is a loop over agents
(``AgentSet.do`` / ``shuffle_do``) drawing its random numbers one at a time from
the model's ``random`` (the standard library generator) or ``rng`` (numpy, for
Poisson counts and Dirichlet weights); the indicators are computed with
networkx (:mod:`benchmarks.nx_indices`) at every step.

It implements the same rules as the fast engine (:mod:`sim.model.processes`,
:meth:`sim.model.model.ClusterModel._populate`), with the same parameters
(:mod:`sim.model.params`) and in the same order: set-up and burn-in, then per quarter
entry, link formation, link decay, learning, performance, exit and indicators.
Where the fast engine updates synchronously (everyone decides on the state at
the start of a phase), the reference does what Mesa's staged activation does:
agents first decide (``step``-like methods that only record a decision), then
the decisions are applied (``advance``-like).  That is the only concession to
the engine; it keeps the dynamics the same, so that
``tests/test_reference_agreement.py`` can check that both produce the same
distribution of indices.

Not covered (the fast engine has them): policies and levers (all neutral
here), per-cluster parameter columns of the cluster table, flows, scores,
typology and stage.  Random streams differ from the engine's, so runs agree in
distribution, not draw for draw.

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
from collections import Counter
from collections.abc import Mapping, Sequence

import mesa
import networkx as nx
import numpy as np
import pandas as pd

from benchmarks.nx_indices import nx_cluster_indices
from sim.data.clusters import cluster_table as default_cluster_table
from sim.model import technology as tech
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

Q = 4.0  # steps per year
_FX = tech.FINE_CENTRES[:, 0].copy()
_FY = tech.FINE_CENTRES[:, 1].copy()
_CENTRES = [tuple(c) for c in tech.FINE_CENTRES.tolist()]


def nearest_fine(x: float, y: float) -> int:
    """Fine sector of a position: the nearest fine-sector centre."""
    return int(np.argmin((_FX - x) ** 2 + (_FY - y) ** 2))


class Node(mesa.Agent):
    """A firm, an institution or an outside-world firm."""

    def __init__(self, model: "ReferenceModel", cluster: int, role: int, x: float, y: float,
                 size: float, quality: float = 0.0, age: float = 0.0, parent: int | None = None):
        super().__init__(model)
        self.cluster = cluster
        self.role = role
        self.x, self.y = x, y
        self.fine = nearest_fine(x, y)
        self.coarse = self.fine // tech.FINE_PER_COARSE
        self.size = size
        self.quality = quality
        self.age = age
        self.perf = 0.0
        self.parent = parent
        self.birth = model.t
        self.choice = None
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

    def leave(self) -> None:
        self.model.G.remove_node(self)
        self.remove()

    # entry -------------------------------------------------------------------------
    def maybe_spin_off(self) -> None:
        p, r = self.model.p, self.random
        rate = p["spinoff_rate"] / Q * math.exp(min(max(p["spinoff_quality"] * self.quality, -10.0), 5.0))
        if r.random() < min(rate, 1.0):
            self.model.spin_off(self)

    def academic_spin_offs(self) -> None:
        for _ in range(int(self.model.rng.poisson(self.model.p["inst_spinoff_rate"] / Q))):
            self.model.spin_off(self)

    # link formation --------------------------------------------------------------------
    def candidates(self, members: dict[int, list], pool: list) -> list[tuple["Node", int, "Node | None"]]:
        """Candidate partners ``(candidate, kind, introduced via)``: kind 0 local, 1 friend of a friend, 2 external."""
        p, r, G = self.model.p, self.random, self.model.G
        cands = []
        local = members[self.cluster]
        for _ in range(int(p["n_local"])):
            cands.append((r.choice(local), 0, None))
        nbrs = list(G[self])
        for _ in range(int(p["n_fof"])):
            if nbrs:
                mid = r.choice(nbrs)
                cands.append((r.choice(list(G[mid])), 1, mid))
        n_ext = int(p["n_external"])
        for j in range(n_ext + 2):  # gatekeepers search the outside twice as hard
            if j < n_ext or self.role == GATEKEEPER:
                cands.append((r.choice(pool), 2, None))
        return cands

    def search(self, members: dict[int, list], pool: list, deg: dict, burst: float) -> None:
        """Decide (staged): draw candidates, pick the best by random utility against the outside option."""
        m, p, r = self.model, self.model.p, self.random
        self.choice = None
        sr = min(1.0, burst * p["search_rate"])
        if self.role in (ANCHOR, GATEKEEPER):
            sr = min(1.0, 4 * sr)
        if r.random() >= sr:
            return
        cands = self.candidates(members, pool)
        gk = self.role == GATEKEEPER
        ki = math.log1p(deg[self])
        ext_cost = 0.0 if gk else max(p["external_cost"], 0.0)
        best, u_best = None, -math.inf
        for cand, kind, via in cands:
            if cand is self:
                continue
            kj = math.log1p(deg[cand])
            d = math.hypot(cand.x - self.x, cand.y - self.y) / p["cog_optimum"]
            u = (p["beta_pop"] * kj
                 + (p["beta_tri"] if kind == 1 else 0.0)
                 + (p["beta_broker"] if via is not None and via.is_institution else 0.0)
                 + p["beta_cog"] * d * math.exp(1.0 - d)
                 + (p["beta_local"] if cand.cluster == self.cluster else -ext_cost)
                 + (p["beta_inst"] if cand.is_institution else 0.0)
                 - p["beta_status"] * abs(ki - kj)
                 + m.gumbel())
            if u > u_best:
                best, u_best = cand, u
        if best is not None and u_best > p["link_threshold"] + m.gumbel():
            self.choice = best

    def introduce(self) -> None:
        """An intermediary introduces pairs of its partners, preferring different groups."""
        m, r = self.model, self.random
        nbrs = list(m.G[self])
        for _ in range(int(m.rng.poisson(m.p["broker_intros"]))):
            if not nbrs:
                continue
            a, b = r.choice(nbrs), r.choice(nbrs)
            if a is b or a.role > SPINOFF or b.role > SPINOFF:
                continue
            differ = (a.age < 20) != (b.age < 20) or a.coarse != b.coarse or a.fine != b.fine
            if differ or r.random() < 0.3:
                m.new_ties.append((a, b))

    # learning ------------------------------------------------------------------------------
    def learn(self) -> None:
        """Decide (staged): move towards local and external partners, plus noise.

        Ties to intermediaries carry no learning (they pass on contacts, not technology).
        """
        p, r = self.model.p, self.random
        lx = ly = ex = ey = 0.0
        nl = ne = 0
        for nb in self.model.G[self] if self.role != INTERMEDIARY else ():
            if nb.role == INTERMEDIARY:
                continue
            if nb.cluster == self.cluster:
                lx += nb.x; ly += nb.y; nl += 1
            else:
                ex += nb.x; ey += nb.y; ne += 1
        dx = dy = 0.0
        if nl:
            dx += p["convergence_rate"] * (lx / nl - self.x)
            dy += p["convergence_rate"] * (ly / nl - self.y)
        if ne:
            dx += p["external_learning"] * (ex / ne - self.x)
            dy += p["external_learning"] * (ey / ne - self.y)
        self.choice = (self.x + dx + r.gauss(0.0, p["tech_noise"]),
                       self.y + dy + r.gauss(0.0, p["tech_noise"]))

    def advance_learning(self) -> None:
        p, r = self.model.p, self.random
        self.x, self.y = self.choice
        self.choice = None
        if self.role <= SPINOFF:  # recombination into a related fine sector
            prob = p["recombination_rate"] / Q * (1.0 + max(-self.perf, 0.0))
            if r.random() < min(prob, 1.0):
                f = self.model.related_fine(self.fine)
                self.x, self.y = self.model.around(f, 0.04)
        self.fine = nearest_fine(self.x, self.y)
        self.coarse = self.fine // tech.FINE_PER_COARSE

    # performance and exit --------------------------------------------------------------
    def perform(self, nf: Counter, dom: list) -> None:
        m, p = self.model, self.model.p
        c = self.cluster
        cx, cy = _CENTRES[dom[c]]
        d2 = (self.x - cx) ** 2 + (self.y - cy) ** 2
        pen = m.shock[c] * math.exp(-d2 / (2 * 0.15 ** 2))
        self.perf = (self.quality + p["network_return"] * math.log1p(m.G.degree(self))
                     - p["crowding"] * math.log1p(nf[c, self.fine] / m.capacity[c])
                     - pen + self.random.gauss(0.0, p["perf_noise"]))

    def grow(self, mean_perf: float) -> None:
        g = min(max(self.model.p["size_growth"] * (self.perf - mean_perf), -0.5), 0.5)
        self.size = max(1.0, self.size * math.exp(g))

    def maybe_exit(self) -> None:
        p = self.model.p
        h = p["exit_rate"] / Q * math.exp(min(max(-p["exit_sensitivity"] * self.perf, -20.0), 20.0))
        if self.role == ANCHOR:
            h = min(h, 0.25 * p["exit_rate"] / Q) + p["anchor_exit_rate"] / Q
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
        Columns ``id, sector_family, firms, employees_per_firm`` and optionally ``firms0``.
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
        self.t = 0
        self.shock = [0.0] * self.n_clusters
        self.G = nx.Graph()
        self.new_ties: list = []
        self.do_record = record
        self.records: list[dict[str, np.ndarray]] = []
        self._populate()
        for _ in range(int(p["burn_in"])):
            self.link_formation()
            self.link_decay()
        for _, _, data in self.G.edges(data=True):
            data["age"] = self.random.uniform(0, 40)
        self.record()

    # helpers -----------------------------------------------------------------------------
    def gumbel(self) -> float:
        u = self.random.random()
        while u == 0.0:
            u = self.random.random()
        return -math.log(-math.log(u))

    def around(self, fine: int, spread: float) -> tuple[float, float]:
        cx, cy = _CENTRES[fine]
        return cx + self.random.gauss(0.0, spread), cy + self.random.gauss(0.0, spread)

    def related_fine(self, fine: int) -> int:
        k = tech.FINE_PER_COARSE
        return (fine // k) * k + (fine % k + self.random.randrange(1, k)) % k

    def size_draw(self, c: int) -> float:
        mean = float(self.table["employees_per_firm"].iloc[c])
        if not (math.isfinite(mean) and mean > 0):
            mean = 5.0
        return max(1.0, self.random.lognormvariate(math.log(mean) - 0.5, 1.0))

    def cluster_firms(self):
        return self.agents.select(lambda a: a.is_cluster_firm)

    def tie(self, a: Node, b: Node) -> None:
        if a is not b and not self.G.has_edge(a, b):
            self.G.add_edge(a, b, age=0.0)

    # set-up ---------------------------------------------------------------------------------
    def _populate(self) -> None:
        p, r, K = self.p, self.random, tech.FINE_PER_COARSE
        if "firms0" in self.table.columns:
            n0 = self.table["firms0"].to_numpy(float)
        else:
            n0 = self.table["firms"].to_numpy(float) * p["scale"]
        n0 = [max(int(round(v)), 5) for v in n0]
        m_star = max(p["critical_mass"] * p["scale"], 1.0)
        self.capacity = [max(n, 2 * m_star) / K for n in n0]
        for c, n in enumerate(n0):
            cw = np.cumsum(self.rng.dirichlet(np.full(K, 2.0))).tolist()
            firms = []
            for _ in range(n):
                if r.random() < p["init_home_share"]:
                    u = r.random()
                    off = min(sum(u > w for w in cw), K - 1)
                    g = self.home[c]
                else:
                    g = (self.home[c] + r.randrange(1, tech.N_COARSE)) % tech.N_COARSE
                    off = r.randrange(K)
                x, y = self.around(g * K + off, 0.04)
                firms.append(self.node_class(self, c, SME, x, y, self.size_draw(c), r.gauss(0.0, 0.5),
                                             r.uniform(0, 80)))
            n_anchor = int(math.floor(n * p["anchor_share"] + r.random()))
            for f in sorted(firms, key=lambda a: -a.size)[:n_anchor]:
                f.role, f.size, f.quality = ANCHOR, f.size * 20.0, f.quality + 1.0
        rot = (INTERMEDIARY, UNIVERSITY, RESEARCH, GATEKEEPER)
        for c, n in enumerate(n0):
            k = 0 if p["institutions_per_1000"] == 0 else max(1, int(round(n * p["institutions_per_1000"] / 1000.0)))
            for i in range(k):
                x, y = self.around(self.home[c] * K + r.randrange(K), 0.02)
                self.node_class(self, c, rot[i % 4], x, y, 50.0, 1.0)
        for _ in range(int(round(p["outside_ratio"] * sum(n0)))):
            x, y = self.around(r.randrange(tech.N_FINE), 0.04)
            self.node_class(self, -1, OUTSIDE, x, y, max(1.0, r.lognormvariate(1.2, 1.0)), 0.0, r.uniform(0, 80))

    # schedule -------------------------------------------------------------------------------
    def step(self) -> None:
        """One quarter: entry, link formation, link decay, learning, performance, exit, indicators."""
        self.t += 1
        self.entry()
        self.link_formation()
        self.link_decay()
        self.learning()
        self.performance()
        self.exit()
        if self.do_record:
            self.record()

    def new_firm(self, c: int, fine: int, role: int, size: float, quality: float) -> Node:
        x, y = self.around(fine, 0.04)
        return self.node_class(self, c, role, x, y, size, quality)

    def spin_off(self, parent: Node) -> None:
        r = self.random
        q = (0.3 if parent.role >= UNIVERSITY else parent.quality) + r.gauss(0.0, 0.3)
        child = self.node_class(self, parent.cluster, SPINOFF, parent.x + r.gauss(0.0, 0.05),
                                parent.y + r.gauss(0.0, 0.05), 1.0 + r.expovariate(1 / 2.0), q,
                                parent=parent.unique_id)
        self.tie(child, parent)

    def entry(self) -> None:
        p, r, K = self.p, self.random, tech.FINE_PER_COARSE
        parents = self.cluster_firms()
        members = parents.groupby("cluster", result_type="list").groups
        m_star = max(p["critical_mass"] * p["scale"], 1.0)
        A, count = [], []
        for c in range(self.n_clusters):
            mem = members.get(c, ())
            hc = sum(1 for f in mem if f.coarse == self.home[c])
            z = min(max((hc - m_star) / (0.25 * m_star), -50.0), 50.0)
            A.append(1.0 + p["critical_mass_gain"] / (1.0 + math.exp(-z)))
            count.append(len(mem))
        for c in range(self.n_clusters):  # startups copy a local firm's sector
            mem = members.get(c, [])
            for _ in range(int(self.rng.poisson(p["startup_rate"] / Q * count[c] * A[c]))):
                fine = r.choice(mem).fine if mem else self.home[c] * K + r.randrange(K)
                u = r.random()
                if u < 0.4:
                    fine = self.related_fine(fine)
                elif u > 0.9:
                    fine = r.randrange(tech.N_FINE)
                self.new_firm(c, fine, STARTUP, 1.0 + r.expovariate(1 / 1.5), r.gauss(-0.2, 0.5))
        parents.shuffle_do("maybe_spin_off")
        self.agents.select(lambda a: a.cluster >= 0 and a.role in (UNIVERSITY, RESEARCH)).do("academic_spin_offs")
        for c in range(self.n_clusters):  # relocation drawn by agglomeration
            for _ in range(int(self.rng.poisson(p["relocation_rate"] / Q * count[c] * A[c]))):
                fine = self.home[c] * K + r.randrange(K)
                self.new_firm(c, fine, SME, self.size_draw(c), r.gauss(0.2, 0.5))

    def link_formation(self) -> None:
        burst = 4.0 if self.t == 0 else 1.0
        nodes = self.agents.select(lambda a: a.cluster >= 0)
        members = nodes.groupby("cluster", result_type="list").groups
        pool = list(self.agents.select(lambda a: a.is_firm))
        deg = dict(self.G.degree())
        self.new_ties = []
        nodes.shuffle_do("search", members, pool, deg, burst)       # decide ...
        nodes.select(lambda a: a.role == INTERMEDIARY).do("introduce")
        for a in nodes:                                              # ... then apply
            if a.choice is not None:
                self.tie(a, a.choice)
                a.choice = None
        for a, b in self.new_ties:
            self.tie(a, b)
        self.new_ties = []

    def decay_hazard(self, a: Node, b: Node, age: float) -> float:
        """Hazard per quarter that the tie a-b dissolves (less when cognitively close and old)."""
        p = self.p
        d = min(math.hypot(a.x - b.x, a.y - b.y), 2.0)
        return p["decay_rate"] * math.exp(-p["decay_cog"] * (1.0 - d / 2.0) - p["decay_age"] * age / Q)

    def link_decay(self) -> None:
        r = self.random
        drop = []
        for a, b, data in self.G.edges(data=True):
            h = self.decay_hazard(a, b, data["age"])
            if self.t == 0:
                h = 1.0 - (1.0 - min(h, 1.0)) ** 4
            if r.random() < h:
                drop.append((a, b))
            else:
                data["age"] += 1.0
        self.G.remove_edges_from(drop)

    def learning(self) -> None:
        movers = self.agents.select(lambda a: a.cluster >= 0 and a.role != UNIVERSITY)
        movers.shuffle_do("learn")
        movers.do("advance_learning")

    def performance(self) -> None:
        p = self.p
        if p["shock_year"] >= 0 and self.t == int(round(p["shock_year"] * Q)):
            self.shock = [s + p["shock_size"] for s in self.shock]
        firms = self.cluster_firms()
        nf = Counter((f.cluster, f.fine) for f in firms)
        dom = []
        for c in range(self.n_clusters):
            counts = [nf.get((c, f), 0) for f in range(tech.N_FINE)]
            dom.append(counts.index(max(counts)))
        firms.shuffle_do("perform", nf, dom)
        if len(firms):
            firms.do("grow", sum(f.perf for f in firms) / len(firms))
        for a in self.agents:
            a.age += 1.0
        self.shock = [s * p["shock_persistence"] for s in self.shock]

    def exit(self) -> None:
        self.cluster_firms().shuffle_do("maybe_exit")

    # indicators -------------------------------------------------------------------------------
    def indices(self) -> dict[str, np.ndarray]:
        firms = {a: (a.cluster, a.coarse, a.fine, a.size) for a in self.agents if a.is_firm}
        return nx_cluster_indices(self.G, firms, self.n_clusters, self.home)

    def record(self) -> dict[str, np.ndarray]:
        ind = self.indices()
        self.records.append(ind)
        return ind

"""ClusterSystem: the national system of regional clusters and an outside world, without Mesa.

The whole model lives here: set-up, the schedule of one step, the indicators and the
live read-outs, on the whole-population arrays of :mod:`sim.model.population`.
:class:`sim.model.model.ClusterModel` is the same model as a Mesa ``Model`` with agent
handles and a ``DataCollector``; both draw the same random numbers and give the same
run.  The experiment engine (:func:`sim.engine.runner.simulate`) runs this class, so a
run and the workers of an experiment do not import Mesa.

One step is one quarter.  The schedule is fixed and declared once, in
:data:`SCHEDULE` (policies, entry, affiliations, link formation, link decay and
trust, technology, performance and shocks, exit, indicators); ``docs/odd.md``
repeats it word for word (a test checks), and :mod:`sim.model.processes`
documents each submodel.

Parameters can be given as keywords (Mesa style) or as a ``params`` mapping.

Example
-------
>>> from sim.model.system import ClusterSystem
>>> m = ClusterSystem(scale=0.02, rng=1)
>>> for _ in range(8):
...     m.step()
>>> df = m.indicators_frame()
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special

from sim.core.calendar import STEPS_PER_YEAR, years_of
from sim.data.clusters import check_ids
from sim.data.clusters import cluster_table as default_cluster_table
from sim.indices.scores import STAGES, TYPOLOGIES, Labeller, stage
from sim.indices.structure import cluster_indices
from sim.model import processes as proc
from sim.model import technology as tech
from sim.model.params import PER_CLUSTER, SCHEMA, ParameterError, validate
from sim.model.population import (
    ANCHOR,
    GATEKEEPER,
    INSTITUTION_ROLES,
    INTERMEDIARY,
    OUTSIDE,
    RESEARCH,
    ROLE_NAMES,
    SME,
    SPINOFF,
    UNIVERSITY,
    EdgeList,
    Population,
)

LEVERS: dict[str, float] = {
    # name: neutral value.  Policies set these each quarter (scenarios.policies).
    "entry_mult": 1.0, "startup_extra": 0.0, "startup_link": 0.0, "spinoff_mult": 1.0,
    "relocation_mult": 1.0, "agglomeration_mult": 1.0, "reputation": 0.0, "anchor_inflow": 0.0,
    "search_mult": 1.0, "external_cost_shift": 0.0, "broker_mult": 1.0, "trust_mult": 1.0,
    "recombination_mult": 1.0, "coordination_mult": 1.0,
    "tech_shock": 0.0, "exit_mult": 1.0, "anchor_exit": 0.0,
}
SCHEDULE: tuple[tuple[str, str], ...] = (
    ("policies", "active policy plug-ins set this quarter's levers or change the population"),
    ("entry", "the national pool chooses clusters by attractiveness and free space; spin-offs; anchors"),
    ("affiliations", "institutions renew their affiliated firms"),
    ("link formation", "search within a tie budget, logit partner choice and the cross-group barrier; broker introductions"),
    ("link decay", "trust grows; ties dissolve, less so when related, old and trusted"),
    ("technology", "cognitive lock-in, branching by relatedness density, collective coordination"),
    ("performance and shocks", "performance, the skilled-labour pool, employment growth and the technology shift"),
    ("exit", "weak firms exit; anchors leave"),
    ("indicators", "indices, flows, scores, typology and development stage of every cluster"),
)
"""The fixed order of one step (one quarter); ``docs/odd.md`` repeats it word for word."""

FLOWS = ("startups", "spinoffs", "relocations", "exits", "anchor_exits", "recombinations")
STAGE_WINDOW = 4 * STEPS_PER_YEAR  # steps (four years) over which the stage's growth trend is measured
DEFAULT_FIRM_SIZE = 5.0  # employees per firm of a cluster whose table gives none
SIZE_LOG_SD = 1.0        # log-sd of the lognormal firm sizes (size_draw, anchor_draw): a structural choice
RECOVERY_YEARS = 5      # years after a technology shock at which the recovery is measured
RECOVERY_SHARE = 0.95   # share of the pre-shock firm count a recovered cluster has regained
REORIENTATION = 0.2     # relative fall of the shocked sector's share that counts as diversifying away


class OutsidePool:
    """The rest of the country and abroad: the positions of the outside firm pool (``members``).

    :class:`sim.model.model.ClusterModel` keeps it as a Mesa agent
    (:class:`sim.model.agents.OutsideWorld`) with the same ``members``.
    """

    def __init__(self, members: np.ndarray):
        self.members = np.asarray(members)

    @property
    def size(self) -> int:
        return int(len(self.members))


class ClusterSystem:
    """Agent-based model of industrial cluster evolution, on whole-population arrays (no Mesa).

    Parameters
    ----------
    params : mapping, optional
        Parameter overrides; see :mod:`sim.model.params` (unknown names are errors).
    clusters : sequence of str, optional
        Ids of the clusters to simulate (default: all 38 observed clusters).
    cluster_table : pandas.DataFrame, optional
        Per-cluster set-up; default :func:`sim.data.clusters.cluster_table`.  Columns:
        ``id, sector_family, firms, employees_per_firm`` and optionally ``firms0``
        (initial firm count, overriding ``firms * scale``) and any parameter name
        (a per-cluster value of that parameter).
    policies : iterable of scenarios.policies.Policy
        Policy plug-ins, applied in order at the start of each step.
    rng : int or numpy.random.SeedSequence or None
        Seed of the model's random streams (as Mesa's ``rng=`` argument; see :meth:`_init_streams`).
    start_year : float
        Calendar year of step 0.
    labeller : sim.indices.scores.Labeller, optional
        Turns raw indices into the centripetal and centrifugal scores and the typology
        (default: :meth:`Labeller.default`, the uncalibrated reference).
    record_every : int
        Record indicators every this many steps (and always at step 0).
    """

    def __init__(self, params: Mapping | None = None, clusters: Sequence[str] | None = None,
                 cluster_table: pd.DataFrame | None = None, policies: Iterable = (),
                 rng=None, start_year: float = 2020.0, labeller: Labeller | None = None,
                 record_every: int = 1, **kwargs):
        if isinstance(rng, np.random.SeedSequence):
            rng = np.random.default_rng(rng)
        seed = kwargs.pop("seed", None)
        if seed is not None and rng is None:  # mesa.batch_run passes seed=
            rng = seed
        self._init_streams(rng)
        both = sorted(set(kwargs) & set(params or {}))
        if both:
            raise ParameterError(f"parameter(s) {', '.join(both)} given both as keywords and in params=; give each once")
        self.p = validate({**dict(params or {}), **kwargs}, source=type(self).__name__)
        tab = default_cluster_table() if cluster_table is None else cluster_table.copy()
        if clusters is not None:
            clusters = check_ids(clusters, tab)
            if not clusters:
                raise ParameterError("no clusters selected")
            tab = tab.set_index("id").loc[clusters].reset_index()
        self.table = tab.reset_index(drop=True)
        self.cluster_ids = list(self.table["id"])
        self.n_clusters = C = len(self.cluster_ids)
        self.home = np.array([tech.sector_index(s) for s in self.table["sector_family"]], dtype=np.int64)
        mean = self.table["employees_per_firm"].to_numpy(float)
        #: Observed mean employees per firm of each cluster (``employees_per_firm``; 5 where unknown).
        self.mean_size = np.where(np.isfinite(mean) & (mean > 0), mean, DEFAULT_FIRM_SIZE)
        self.start_year = float(start_year)
        self.labeller = labeller or Labeller.default()
        self.record_every = max(1, int(record_every))
        self.t = 0
        # per-cluster parameter arrays (last entry: outside world)
        self.cpar: dict[str, np.ndarray] = {}
        system_wide = sorted(set(self.table.columns) & (set(SCHEMA) - PER_CLUSTER))
        if system_wide:
            raise ParameterError(
                f"cluster table column(s) {', '.join(system_wide)} name system-wide parameters, which "
                f"cannot differ by cluster; set them with params= (or --set) instead, or drop the "
                f"column(s). Per-cluster parameters: {', '.join(sorted(PER_CLUSTER))}")
        for name in SCHEMA:
            arr = np.full(C + 1, float(self.p[name]))
            if name in self.table.columns:
                vals = self.table[name].to_numpy(float)
                for c, v in enumerate(vals):
                    if np.isfinite(v):
                        arr[c] = SCHEMA[name].check(v, f"cluster table, cluster {self.cluster_ids[c]}")
            self.cpar[name] = arr
        self.levers = {k: np.full(C + 1, v) for k, v in LEVERS.items()}
        self.flows = {k: np.zeros(C, dtype=np.int64) for k in FLOWS}
        # the waiting list of clusters with estate units (processes.entry), oldest first, and the
        # pool's applicants to each cluster so far (admitted or not)
        self.waiting = proc.empty_waiting()
        self.applicants = np.zeros(C, dtype=np.int64)
        self.shock = np.zeros(C)
        self.perf_ref = 0.0  # mean performance without the technology shift (processes.performance)
        # each cluster's employment as a moving average: the reference of its skilled-labour pool
        # (processes.labour_pool; set at the first step)
        self.pool_avg = np.full(C, np.nan)
        self.shock_t = np.full(C, -1)
        self.shock_firms = np.zeros(C)
        self.shock_sector = np.full(C, -1)
        self.shock_share = np.zeros(C)
        self.shock_level_events: list[int] = []
        self.dominant_fine = self.home * tech.FINE_PER_COARSE
        self.phi = tech.relatedness(self.p["phi_family"], self.p["phi_neighbour"])
        self.count_hist: deque[np.ndarray] = deque(maxlen=proc.REPUTATION_WINDOW + 1)
        self.budget_cache = np.zeros(0)
        self.budget_key: tuple | None = None
        self._uid_table: np.ndarray | None = None
        self.policies = list(policies)
        self.pop = Population(capacity=1024)
        self.edges = EdgeList()
        self._records: list[tuple[int, dict[str, np.ndarray]]] = []
        self._firm_hist: dict[int, np.ndarray] = {}
        self._firm_pool_cache: tuple[int, np.ndarray] | None = None
        self.members_cache: dict = {}  # processes.members_by_cluster's arrays, until the membership changes
        self._phases = {
            "policies": self._apply_policies,
            "entry": lambda: proc.entry(self),
            "affiliations": lambda: proc.affiliations(self),
            "link formation": lambda: proc.link_formation(self),
            "link decay": lambda: proc.link_decay(self),
            "technology": lambda: proc.technology(self),
            "performance and shocks": lambda: proc.performance(self),
            "exit": self._exit_phase,
            "indicators": self._record_if_due,
        }
        self._populate()
        for pol in self.policies:
            pol.initialize(self)
        self._burn_in()
        self._start_records()

    def _init_streams(self, rng) -> None:
        """The random streams, made as Mesa 3.3's ``Model`` makes them, so that this class and
        :class:`~sim.model.model.ClusterModel` draw the same numbers: ``rng``, a numpy
        ``Generator`` from ``rng``; ``random``, a stdlib generator seeded with ``rng`` or, when
        that is not a stdlib seed (a ``Generator``, a numpy integer), with one draw from ``rng``."""
        self.rng = np.random.default_rng(rng)
        try:
            self.random = random.Random(rng)
        except TypeError:
            self.random = random.Random(int(self.rng.integers(np.iinfo(np.int32).max)))

    def _start_records(self) -> None:
        """Record the indicators of step 0 (the end of the set-up)."""
        self.record()

    # ------------------------------------------------------------------ set-up
    def size_draw(self, cl: np.ndarray) -> np.ndarray:
        """Employees of new established firms: lognormal (log-sd :data:`SIZE_LOG_SD`) with the cluster's mean firm size."""
        mean = self.mean_size[cl]
        sigma = SIZE_LOG_SD
        return np.maximum(1.0, np.exp(self.rng.normal(np.log(mean) - sigma ** 2 / 2, sigma)))

    def anchor_draw(self, cl: np.ndarray) -> np.ndarray:
        """Employees of an anchor: ``anchor_size`` times a size from the top ``anchor_share`` of the lognormal.

        The tail is that of :meth:`size_draw` above its ``1 - anchor_share`` quantile (at least
        the top 0.1 %), drawn by inverting the normal distribution function, so an anchor that
        enters later is as large as the anchors of the initial population.
        """
        a = min(max(float(self.p["anchor_share"]), 1e-3), 1.0)
        u = self.rng.uniform(1.0 - a, 1.0, len(cl))
        z = special.ndtri(np.clip(u, 1e-12, 1.0 - 1e-12))
        mean = self.mean_size[cl]
        sigma = SIZE_LOG_SD
        return np.maximum(1.0, np.exp(np.log(mean) - sigma ** 2 / 2 + sigma * z)) * self.p["anchor_size"]

    def _populate(self) -> None:
        """Initial firms, institutions and the outside world (see ``docs/odd.md``, initialisation)."""
        rng, p, C = self.rng, self.p, self.n_clusters
        if "firms0" in self.table.columns:
            n0 = self.table["firms0"].to_numpy(float)
        else:
            n0 = self.table["firms"].to_numpy(float) * p["scale"]
        n0 = np.maximum(np.round(n0), 5).astype(np.int64)
        self.n0 = n0
        self.capacity = n0 * self.cpar["space_headroom"][:-1]
        space = self.table["space"].to_numpy(float) if "space" in self.table.columns else np.full(C, np.nan)
        self.space_extra = np.where(np.isfinite(space), np.maximum(space * p["scale"] - self.capacity, 0.0), 0.0)
        self.space_dedicated = np.zeros(C, dtype=bool)  # estate units let only to the home sector family
        cl = np.repeat(np.arange(C), n0)
        N = len(cl)
        share = self.cpar["init_home_share"][cl]
        is_home = rng.random(N) < share
        # home firms spread over the home family's fine sectors by weights from a flat Dirichlet
        w = rng.dirichlet(np.ones(tech.FINE_PER_COARSE), size=C)
        fine_home = tech.draw_from(w[cl], rng)
        other = (self.home[cl] + rng.integers(1, tech.N_COARSE, N)) % tech.N_COARSE
        coarse = np.where(is_home, self.home[cl], other)
        fine_off = np.where(is_home, fine_home, rng.integers(0, tech.FINE_PER_COARSE, N))
        fine = coarse * tech.FINE_PER_COARSE + fine_off
        size = self.size_draw(cl)
        quality = rng.normal(0.0, proc.QUALITY_SD, N)
        role = np.full(N, SME, dtype=np.int8)
        # the largest firms of each cluster are its anchors
        n_anchor = np.floor(n0 * p["anchor_share"] + rng.random(C)).astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(n0)[:-1]])
        for c in np.flatnonzero(n_anchor):
            idx = starts[c] + np.argsort(-size[starts[c]:starts[c] + n0[c]], kind="stable")[:n_anchor[c]]
            role[idx] = ANCHOR
            size[idx] = self.anchor_draw(cl[idx])
        ids = self.pop.add(N, cluster=cl, fine=fine, coarse=tech.FINE_TO_COARSE[fine], size=size,
                           quality=quality, role=role, age=rng.uniform(0, proc.INITIAL_AGE_QUARTERS, N), birth=0)
        self.register_firms(ids)
        # institutions: at least one per cluster; types in rotation, the first an intermediary
        n_inst = np.maximum(1, np.round(n0 * p["institutions_per_1000"] / 1000.0)).astype(np.int64)
        if p["institutions_per_1000"] == 0:
            n_inst[:] = 0
        rot = np.array([INTERMEDIARY, UNIVERSITY, RESEARCH, GATEKEEPER], dtype=np.int8)
        icl = np.repeat(np.arange(C), n_inst)
        irole = np.concatenate([rot[np.arange(k) % 4] for k in n_inst]) if len(icl) else np.empty(0, np.int8)
        self.add_institutions(icl, irole)
        proc.affiliations(self, share=1.0)
        # the outside world: a passive pool of firms with a uniform national sector mix
        n_out = int(round(p["outside_ratio"] * N))
        if n_out:
            fo = rng.integers(0, tech.N_FINE, n_out)
            oid = self.pop.add(n_out, cluster=-1, fine=fo, coarse=tech.FINE_TO_COARSE[fo],
                               role=OUTSIDE, size=np.maximum(1.0, rng.lognormal(1.2, 1.0, n_out)),
                               age=rng.uniform(0, proc.INITIAL_AGE_QUARTERS, n_out))
            self.outside = self._outside_world(oid)
        else:
            self.outside = None

    def add_institutions(self, clusters: np.ndarray, roles: np.ndarray) -> np.ndarray:
        """Place institutions of the given roles in the given clusters; their field is a home-family fine sector.

        Institutions are not nodes of the transaction network: they act through the firms
        affiliated with them (:func:`sim.model.processes.affiliations`, :meth:`affiliate`).
        """
        clusters = np.asarray(clusters, dtype=np.int64)
        if len(clusters) == 0:
            return np.empty(0, dtype=np.int64)
        fine = self.home[clusters] * tech.FINE_PER_COARSE + self.rng.integers(0, tech.FINE_PER_COARSE, len(clusters))
        ids = self.pop.add(len(clusters), cluster=clusters, fine=fine, coarse=tech.FINE_TO_COARSE[fine],
                           role=roles, size=50.0, quality=1.0, birth=self.t)
        self._new_handles("institution", ids)
        self.membership_changed()
        return ids

    def affiliate(self, institutions: np.ndarray, firms: np.ndarray) -> int:
        """Affiliate each firm with the institution beside it (a firm has at most one; it switches).

        Parameters
        ----------
        institutions, firms : numpy.ndarray
            Population positions, pairwise.

        Returns
        -------
        int
            The number of firms whose affiliation changed.
        """
        institutions = np.asarray(institutions, dtype=np.int64)
        firms = np.asarray(firms, dtype=np.int64)
        new = self.pop.uid[institutions]
        changed = int((self.pop.affil[firms] != new).sum())
        self.pop.affil[firms] = new
        return changed

    def membership_changed(self) -> None:
        """Forget what was derived from who is alive where (the firm pool, the members by cluster)."""
        self._firm_pool_cache = None
        self.members_cache.clear()

    def register_firms(self, ids: np.ndarray) -> None:
        """Note new firms (population rows ``ids``)."""
        self.membership_changed()
        self._new_handles("firm", ids)

    def unregister(self, ids: np.ndarray) -> None:
        """Note nodes that left."""
        self.membership_changed()
        self._drop_handles(ids)

    # Agent handles: none here; ClusterModel overrides these three and _outside_world.
    def _new_handles(self, kind: str, ids: np.ndarray) -> None:
        """Handles for new nodes of ``kind`` (``"firm"`` or ``"institution"``)."""

    def _drop_handles(self, ids: np.ndarray) -> None:
        """Drop the handles of nodes that left."""

    def _renumber_handles(self, new: np.ndarray) -> None:
        """Move handles to their nodes' new positions after :meth:`compact` (``new[old]``)."""

    def _outside_world(self, members: np.ndarray):
        """The outside world standing for the outside firm pool ``members``."""
        return OutsidePool(members)

    def uid_positions(self) -> np.ndarray:
        """Table from permanent ``uid`` to current population position (-1: never used or compacted away).

        It has one more entry than there are uids, a last -1, so that indexing it with -1 (no
        affiliation) gives -1."""
        t = self._uid_table
        if t is None or len(t) != self.pop.next_uid + 1:
            t = np.full(self.pop.next_uid + 1, -1, dtype=np.int64)
            t[self.pop.uid] = np.arange(self.pop.n)
            self._uid_table = t
        return t

    def firm_pool(self) -> np.ndarray:
        """Ids of all alive firms (clusters and outside world): the external search pool."""
        if self._firm_pool_cache is None or self._firm_pool_cache[0] != self.pop.n:
            pop = self.pop
            self._firm_pool_cache = (pop.n, np.flatnonzero(pop.alive & pop.is_firm))
        return self._firm_pool_cache[1]

    def _burn_in(self) -> None:
        for _ in range(int(self.p["burn_in"])):
            proc.link_formation(self)
            proc.link_decay(self)
        self.edges.age[:] = self.rng.uniform(0, 40, len(self.edges))
        self.edges.trust[:] = 1.0 - np.exp(-self.edges.age / (self.p["trust_years"] * STEPS_PER_YEAR))

    # ------------------------------------------------------------------ schedule
    def step(self) -> None:
        """Advance one quarter: policies, entry, links, decay, learning, performance, exit, indicators."""
        self.t += 1
        for k, v in LEVERS.items():
            self.levers[k].fill(v)
        for f in self.flows.values():
            f.fill(0)
        self.count_hist.append(self._firm_counts())
        for name, _ in SCHEDULE:
            self._phases[name]()

    def _firm_counts(self) -> np.ndarray:
        pop = self.pop
        m = proc.cluster_firms(pop)
        return np.bincount(pop.cluster[m].astype(np.int64), minlength=self.n_clusters).astype(float)

    def _apply_policies(self) -> None:
        for pol in self.policies:
            if pol.active(self):
                pol.apply(self)

    def _exit_phase(self) -> None:
        proc.exit_(self)
        dead = self.pop.n - int(self.pop.alive.sum())
        if dead > max(20000, self.pop.n // 2):
            self.compact()

    def compact(self) -> None:
        """Drop exited nodes from the arrays (memory housekeeping; no effect on the dynamics).

        Positions are renumbered monotonically, so the order of nodes, and hence
        every random draw, is unchanged; handles and the tie list follow.
        """
        new = self.pop.compact()
        self.edges.renumber(new)
        self._renumber_handles(new)
        self._uid_table = None
        self.budget_key = None
        if self.outside is not None:
            self.outside.members = new[self.outside.members]
        self.membership_changed()

    def _record_if_due(self) -> None:
        if self.t % self.record_every == 0:
            self.record()

    @property
    def year(self) -> float:
        return self.start_year + years_of(self.t)

    # ------------------------------------------------------------------ indicators
    def indices(self) -> dict[str, np.ndarray]:
        """Raw structural indices of every cluster now (see :mod:`sim.indices`)."""
        pop, E = self.pop, self.edges
        return cluster_indices(pop.cluster, pop.coarse, pop.fine, pop.is_firm, pop.alive, pop.size,
                               E.u, E.v, self.home, self.n_clusters)

    def record(self) -> dict[str, np.ndarray]:
        """Compute and store every indicator of every cluster for the current step."""
        ind = {k: np.asarray(v, float) for k, v in self.indices().items()}
        for k, f in self.flows.items():
            ind[k] = f.astype(float)
        cp, cf, code = self.labeller.label(ind)
        ind["centripetal"], ind["centrifugal"] = cp, cf
        ind["typology"] = code.astype(float)
        self._firm_hist[self.t] = (ind["firms"], cp - cf)
        past_t = max(0, self.t - STAGE_WINDOW)
        if past_t not in self._firm_hist:
            past_t = min(self._firm_hist)
        past, gap_past = self._firm_hist[past_t]
        years = years_of(self.t - past_t)
        ind["resilience"] = self._resilience(ind).astype(float)
        ind["stage"] = stage(ind["firms"], past, years, ind["inclusiveness"], ind["specialization"], cp, cf,
                             gap_past=gap_past if self.t > past_t else None,
                             resilience=ind["resilience"]).astype(float)
        self._records.append((self.t, ind))
        for old in [k for k in self._firm_hist if k < self.t - STAGE_WINDOW]:
            del self._firm_hist[old]
        return ind

    def note_shock(self, rising: np.ndarray) -> None:
        """Remember the state of clusters whose technology-shock level rises now (for :meth:`_resilience`)."""
        rising = np.asarray(rising, bool)
        if not rising.any():
            return
        self.shock_t[rising] = self.t
        self.shock_firms[rising] = self._firm_counts()[rising]
        self.shock_sector[rising] = self.dominant_fine[rising]
        self.shock_share[rising] = self._sector_share(self.dominant_fine)[rising]

    def devalued_sector(self) -> np.ndarray:
        """Per cluster, the fine sector a technology shift devalues: the one dominant at the shift's latest rise.

        Before any shift, the current dominant sector (the level is then 0).  The devalued
        technology does not move on to whichever sector dominates once firms have left it.
        """
        return np.where(self.shock_t >= 0, self.shock_sector, self.dominant_fine)

    def _sector_share(self, fine: np.ndarray) -> np.ndarray:
        """Share of each cluster's firms whose primary sector is ``fine[c]``."""
        pop = self.pop
        m = proc.cluster_firms(pop)
        c = pop.cluster[m].astype(np.int64)
        hit = np.bincount(c, weights=(pop.fine[m] == np.asarray(fine)[c]), minlength=self.n_clusters)
        return hit / np.maximum(np.bincount(c, minlength=self.n_clusters), 1)

    def _resilience(self, ind: Mapping[str, np.ndarray]) -> np.ndarray:
        """Measured shock response per cluster: 1 recovered, 0 not, -1 untested or still recovering.

        ``RECOVERY_YEARS`` after its last shock, a cluster has recovered if it has at least
        ``RECOVERY_SHARE`` of its pre-shock firm count and has diversified away from the shocked
        technology: the share of its firms in the sector that dominated at the shock fell by at
        least ``REORIENTATION`` (S4P-M10: production structures rebuilt in other fields).
        """
        out = np.full(self.n_clusters, -1)
        done = (self.shock_t >= 0) & (self.t - self.shock_t >= RECOVERY_YEARS * STEPS_PER_YEAR)
        if not done.any():
            return out
        share = self._sector_share(np.maximum(self.shock_sector, 0))
        ok = (ind["firms"] >= RECOVERY_SHARE * self.shock_firms) & \
            (share <= (1.0 - REORIENTATION) * self.shock_share)
        out[done] = ok[done].astype(int)
        return out

    def indicators_frame(self) -> pd.DataFrame:
        """Tidy table of all recorded indicators.

        Columns: ``cluster, step, year, indicator, value, label``; ``label`` holds
        the typology or stage name on those rows (their ``value`` is the code).
        """
        frames = []
        C = self.n_clusters
        ids = np.array(self.cluster_ids, dtype=object)
        for t, ind in self._records:
            names = list(ind)
            vals = np.concatenate([ind[k] for k in names])
            frames.append(pd.DataFrame({
                "cluster": np.tile(ids, len(names)),
                "step": t,
                "year": self.start_year + years_of(t),
                "indicator": np.repeat(np.array(names, dtype=object), C),
                "value": vals,
            }))
        df = pd.concat(frames, ignore_index=True)
        lab = np.full(len(df), None, dtype=object)
        for name, table in (("typology", TYPOLOGIES), ("stage", STAGES)):
            m = (df["indicator"] == name).to_numpy()
            codes = df.loc[m, "value"].to_numpy()
            lab[m] = [table[int(c)] if c >= 0 else None for c in codes]
        df["label"] = lab
        return df

    def network(self, cluster: str | int | None = None):
        """The firm and institution network as a networkx graph (all nodes, or one cluster's).

        Edges carry ``kind``: ``"transaction"`` (firm-to-firm ties, the network of the
        indices) or ``"affiliation"`` (an institution and one of its firms).
        """

        pop, E = self.pop, self.edges
        alive = pop.alive.copy()
        if cluster is not None:
            alive &= pop.cluster == self.cluster_index(cluster)
        nodes = np.flatnonzero(alive)
        import networkx as nx  # here only: a run does not need networkx

        G = nx.Graph()
        G.add_nodes_from((int(i), {"cluster": int(pop.cluster[i]), "role": ROLE_NAMES[pop.role[i]],
                                   "sector": int(pop.coarse[i]), "fine": int(pop.fine[i])}) for i in nodes)
        m = alive[E.u] & alive[E.v]
        G.add_edges_from(zip(E.u[m].tolist(), E.v[m].tolist()), kind="transaction")
        firms = nodes[pop.role[nodes] <= SPINOFF]
        inst = proc.institution_of(self, firms)
        has = (inst >= 0) & alive[np.maximum(inst, 0)]
        G.add_edges_from(zip(inst[has].tolist(), firms[has].tolist()), kind="affiliation")
        return G

    # ------------------------------------------------------------------ public read-outs and live changes
    def cluster_index(self, cluster: str | int) -> int:
        """Position of ``cluster`` in :attr:`cluster_ids`.

        Parameters
        ----------
        cluster : str or int
            A cluster id, or already a position.

        Returns
        -------
        int
            The position (the index into per-cluster arrays).

        Raises
        ------
        ParameterError
            If the id is not simulated or the position is out of range.
        """
        if isinstance(cluster, str):
            if cluster not in self.cluster_ids:
                raise ParameterError(f"cluster {cluster!r} is not simulated; simulated: {', '.join(self.cluster_ids)}")
            return self.cluster_ids.index(cluster)
        c = int(cluster)
        if not 0 <= c < self.n_clusters:
            raise ParameterError(f"cluster position {c} out of range (the model has {self.n_clusters} clusters)")
        return c

    def param(self, name: str) -> float | int | bool:
        """Current system-wide value of parameter ``name``.

        Parameters
        ----------
        name : str
            A parameter of :data:`sim.model.params.SCHEMA`.

        Returns
        -------
        float, int or bool
            The value in :attr:`p` (per-cluster overrides from the cluster table are not shown).
        """
        if name not in SCHEMA:
            validate({name: None})  # raises the schema's own message
        return self.p[name]

    def set_param(self, name: str, value, source: str = "set_param") -> float | int | bool:
        """Change a parameter of the running model, from the next phase that reads it on.

        The value is validated through the schema and replaces the system-wide
        value and every cluster's value (per-cluster values from the cluster table
        and the outside world's are overwritten too).

        Parameters
        ----------
        name : str
            A parameter of :data:`sim.model.params.SCHEMA` outside the ``setup`` group
            (set-up parameters act only when a model is built).
        value : float, int or bool
            The new value, checked against the parameter's kind and bounds.
        source : str
            Named in the error message if the value is refused.

        Returns
        -------
        float, int or bool
            The previous system-wide value.

        Raises
        ------
        ParameterError
            Unknown parameter, a value out of range, or a set-up parameter.
        """
        if name not in SCHEMA:
            validate({name: value})  # raises the schema's own message
        v = SCHEMA[name].check(value, source)
        if SCHEMA[name].group == "setup":
            raise ParameterError(f"parameter '{name}' is a set-up parameter; it acts only when a model is built")
        old = self.p[name]
        self.p[name] = v
        self.cpar[name][:] = float(v)
        return old

    def critical_mass(self) -> float:
        """Home-sector firms above which agglomeration feeds back on entry.

        Returns
        -------
        float
            ``max(critical_mass * scale, 1)``, the same for every cluster (see
            :func:`sim.model.processes.attractiveness`).
        """
        return max(self.p["critical_mass"] * self.p["scale"], 1.0)

    def home_firms(self, cluster: str | int = 0) -> int:
        """Number of alive firms of ``cluster`` in its home sector now (institutions not counted).

        Parameters
        ----------
        cluster : str or int
            Cluster id or position (default: the first cluster).

        Returns
        -------
        int
        """
        c = self.cluster_index(cluster)
        pop = self.pop
        mask = pop.alive & (pop.cluster == c) & (pop.role <= SPINOFF) & (pop.coarse == self.home[c])
        return int(mask.sum())

    def latest(self, cluster: str | int = 0) -> dict[str, float]:
        """The indicators of ``cluster`` at the last recorded step.

        Parameters
        ----------
        cluster : str or int
            Cluster id or position (default: the first cluster).

        Returns
        -------
        dict of str to float
            Indicator name to value (``stage`` and ``typology`` are codes into
            :data:`sim.indices.scores.STAGES` and :data:`sim.indices.scores.TYPOLOGIES`; -1: undefined).
        """
        c = self.cluster_index(cluster)
        return {name: v[c] for name, v in self._records[-1][1].items()}

    def history(self, cluster: str | int = 0) -> dict[str, np.ndarray]:
        """Recorded indicator series of ``cluster``.

        Parameters
        ----------
        cluster : str or int
            Cluster id or position (default: the first cluster).

        Returns
        -------
        dict of str to numpy.ndarray
            ``t`` (the recorded steps, as floats) and one float array per indicator,
            aligned with ``t``.
        """
        c = self.cluster_index(cluster)
        recs = self._records
        out = {"t": np.array([t for t, _ in recs], dtype=float)}
        for name in recs[-1][1]:
            out[name] = np.array([ind[name][c] for _, ind in recs], dtype=float)
        return out

    def cluster_network(self, cluster: str | int = 0) -> dict[str, np.ndarray]:
        """The network of one cluster now, as arrays for drawing.

        Parameters
        ----------
        cluster : str or int
            Cluster id or position (default: the first cluster).

        Returns
        -------
        dict of str to numpy.ndarray
            One entry per alive node of the cluster, in population order:
            ``uid`` (permanent node id), ``role`` (code into
            :data:`sim.model.population.ROLE_NAMES`), ``coarse`` (sector),
            ``is_inst`` (institution), ``degree`` (partners inside the cluster),
            ``external`` (ties to other clusters or the outside world); and the
            ties inside the cluster as node positions ``i`` and ``j``, followed by the
            institutions' affiliations (``affiliation`` is true on those; ``degree`` counts both
            kinds of tie, so an institution's degree is its number of affiliates).
        """
        c = self.cluster_index(cluster)
        pop, E = self.pop, self.edges
        in_set = pop.alive & (pop.cluster == c)
        nodes = np.flatnonzero(in_set)
        local = np.full(pop.n, -1, dtype=np.int64)
        local[nodes] = np.arange(len(nodes))
        u, v = E.u, E.v
        internal = in_set[u] & in_set[v]
        i, j = local[u[internal]], local[v[internal]]
        deg = np.bincount(i, minlength=len(nodes)) + np.bincount(j, minlength=len(nodes))
        cross = (in_set[u] ^ in_set[v]) & pop.alive[u] & pop.alive[v]
        ends = np.concatenate([u[cross & in_set[u]], v[cross & in_set[v]]])
        ext = np.bincount(local[ends], minlength=len(nodes)) if len(ends) else np.zeros(len(nodes), np.int64)
        # affiliations: institution - firm pairs, drawn as ties of the picture (not transaction ties)
        firms = nodes[pop.role[nodes] <= SPINOFF]
        ipos = proc.institution_of(self, firms)
        has = ipos >= 0
        ai, aj = local[ipos[has]], local[firms[has]]
        aff = np.concatenate([np.zeros(len(i), bool), np.ones(len(ai), bool)])
        deg = deg + np.bincount(ai, minlength=len(nodes)) + np.bincount(aj, minlength=len(nodes))
        i, j = np.concatenate([i, ai]), np.concatenate([j, aj])
        role = pop.role[nodes].astype(np.int64)
        return {"uid": pop.uid[nodes].copy(), "role": role, "coarse": pop.coarse[nodes].astype(np.int64),
                "is_inst": np.isin(role, INSTITUTION_ROLES), "degree": deg, "external": ext, "i": i, "j": j,
                "affiliation": aff}

"""Mesa agents: firms, institutions and the outside world.

The agents are thin handles onto the whole-population arrays of
:class:`sim.model.population.Population`: ``firm.size`` reads
``model.pop.size[firm.idx]``.  The processes of :mod:`sim.model.processes` act on the
arrays for all agents at once; the handles give Mesa users the familiar API
(``model.agents``, ``model.agents_by_type[Firm]``, ``agent.remove()``,
``AgentSet.select`` / ``get`` / ``shuffle_do``) and keep Mesa's agent registry in
step with entry and exit.
"""

from __future__ import annotations

import mesa
from mesa.agent import AgentSet
import numpy as np

from sim.core.calendar import years_of
from sim.model.population import ROLE_NAMES
from sim.model.system import OutsidePool
from sim.model.technology import SECTOR_FAMILIES


class _Handle(mesa.Agent):
    """Common part of every node handle: an index into the population arrays."""

    def __init__(self, model, idx: int):
        super().__init__(model)
        self.idx = int(idx)

    @classmethod
    def create_many(cls, model, ids, unique_ids=None) -> list:
        """Handles for population rows ``ids``, registered with Mesa in bulk.

        The same handles as ``[cls(model, i) for i in ids]`` (``unique_id`` from Mesa's per-model
        counter, ``pos`` None, in ``model.agents`` and ``model.agents_by_type[cls]``), made
        without one registry call, debug-log line and two set insertions per agent: entry
        creates hundreds a quarter.  ``unique_ids``, if given, are ids taken from that counter
        earlier (:meth:`sim.model.model.ClusterModel._new_handles` reserves them).  Uses Mesa 3.3's
        registries (``Model._agents``, ``_agents_by_type``, ``_all_agents``; the project pins
        ``mesa<3.4``).
        """
        uids = mesa.Agent._ids[model] if unique_ids is None else iter(unique_ids.tolist())
        out = []
        for i in ids.tolist() if isinstance(ids, np.ndarray) else ids:
            h = cls.__new__(cls)
            h.model, h.unique_id, h.pos, h.idx = model, next(uids), None, int(i)
            out.append(h)
        if out:
            d = dict.fromkeys(out)
            model._agents.update(d)
            registry_of(model, cls)._agents.update(d)
            model._all_agents._agents.update(d)
        return out

    def _get(self, field):
        return getattr(self.model.pop, field)[self.idx]

    @property
    def uid(self) -> int:
        """Permanent node id (``idx`` is the current row in the arrays and may change)."""
        return int(self._get("uid"))

    @property
    def alive(self) -> bool:
        return bool(self._get("alive"))

    @property
    def role(self) -> str:
        return ROLE_NAMES[int(self._get("role"))]

    @property
    def cluster(self) -> int:
        """Cluster number (index into ``model.cluster_ids``); -1 for the outside world."""
        return int(self._get("cluster"))

    @property
    def cluster_id(self) -> str:
        c = self.cluster
        return "outside" if c < 0 else self.model.cluster_ids[c]

    @property
    def capabilities(self) -> tuple[int, ...]:
        """Fine sectors the node holds: its primary sector, then its secondary capability if any."""
        f, g = int(self._get("fine")), int(self._get("cap2"))
        return (f,) if g < 0 or g == f else (f, g)

    @property
    def affiliation(self) -> int | None:
        """Permanent ``uid`` of the institution the firm is affiliated with, else ``None``."""
        a = int(self._get("affil"))
        return None if a < 0 else a

    @property
    def fine_sector(self) -> int:
        return int(self._get("fine"))

    @property
    def sector(self) -> str:
        return SECTOR_FAMILIES[int(self._get("coarse"))]

    @property
    def partners(self) -> list[int]:
        """Ids (population indices) of current partners."""
        e = self.model.edges
        return sorted(np.concatenate([e.v[e.u == self.idx], e.u[e.v == self.idx]]).tolist())

    @property
    def degree(self) -> int:
        e = self.model.edges
        return int((e.u == self.idx).sum() + (e.v == self.idx).sum())

    def step(self):
        """Agents have no individual step: the model's processes act on all of them at once."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.unique_id} idx={self.idx} {self.role} in {self.cluster_id}>"


class Firm(_Handle):
    """A firm: sector (coarse and fine), capabilities, size, age, role, parent, affiliation."""

    @property
    def size(self) -> float:
        """Employees."""
        return float(self._get("size"))

    @property
    def age(self) -> float:
        """Age in years."""
        return years_of(float(self._get("age")))

    @property
    def quality(self) -> float:
        return float(self._get("quality"))

    @property
    def performance(self) -> float:
        return float(self._get("perf"))

    @property
    def parent(self) -> int | None:
        """Permanent ``uid`` of the parent of a spin-off (firm or institution), else ``None``."""
        p = int(self._get("parent"))
        return None if p < 0 else p


class Institution(_Handle):
    """A university, research institute, intermediary (cluster agency) or gatekeeper.

    Institutions are not nodes of the transaction network: they act through their
    affiliated firms (:attr:`affiliates`).
    """

    @property
    def affiliates(self) -> list[int]:
        """Population indices of the alive firms affiliated with this institution."""
        pop = self.model.pop
        return np.flatnonzero(pop.alive & (pop.affil == pop.uid[self.idx])).tolist()

    @property
    def mission(self) -> int | None:
        """Fine sector that the institution's platform targets (living labs), else ``None``."""
        m = int(self._get("mission"))
        return None if m < 0 else m


class OutsideWorld(OutsidePool, mesa.Agent):
    """The rest of the country and abroad: one agent standing for the outside firm pool
    (:class:`~sim.model.system.OutsidePool` as a Mesa agent)."""

    def __init__(self, model, idx: np.ndarray):
        mesa.Agent.__init__(self, model)
        OutsidePool.__init__(self, idx)

    @classmethod
    def unregistered(cls, model, idx: np.ndarray, unique_id: int) -> OutsideWorld:
        """The agent as ``OutsideWorld(model, idx)`` makes it, with an id taken earlier, not yet
        registered with Mesa (``model.register_agent`` does that)."""
        w = cls.__new__(cls)
        OutsidePool.__init__(w, idx)
        w.model, w.unique_id, w.pos = model, int(unique_id), None
        return w

    def step(self):
        """The outside world is passive: it is a pool of partners for external ties."""


def registry_of(model, cls) -> AgentSet:
    """``model.agents_by_type[cls]``, made empty (as Mesa makes it for a type's first agent) if missing."""
    kinds = model._agents_by_type
    if cls not in kinds:
        kinds[cls] = AgentSet([], random=model.random)
    return kinds[cls]


def remove_many(model, handles) -> None:
    """``h.remove()`` for each handle, in bulk: drop them from Mesa 3.3's registries (see :meth:`_Handle.create_many`)."""
    agents, kinds, every = model._agents, model._agents_by_type, model._all_agents._agents
    for h in handles:
        if agents.pop(h, False) is None:  # registered (values are None); False: already removed
            kinds[type(h)]._agents.pop(h, None)
            every.pop(h, None)
